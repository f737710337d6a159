"""Screenshots of every window of the desktop application, taken from the real thing under Xvfb.

Run from the repository root::

    python docs/screenshots.py                 # writes docs/screenshots/*.png
    python docs/screenshots.py --out /tmp/shots
    python docs/screenshots.py --dark          # the desktop in dark mode: *-dark.png
    python docs/screenshots.py --lang de       # in German: *-de.png
    python docs/screenshots.py --scale 2 --out /tmp/4k   # a 3840 × 2160 screen at 200 %

Nothing is staged: the script starts its own X server (``Xvfb :N``), a
private Kamailio on loopback (``tests/kamailio_server.Kamailio``), PulseAudio
virtual devices when PulseAudio is installed (``tests/pulse_server``, so the
audio settings list real devices), and three headless phones (Bob, Carol,
Dave), each a ``UserAgent`` on its own core thread. The application
(:class:`softphone.gui.app.Softphone`, in this process, on the X server) is
Alice's phone, registered on that Kamailio with passwords in an in-memory
keyring. The peers publish their presence, Dave calls and gives up (a
missed call), Bob writes and Alice answers in the chat window, Alice calls
Bob and talks for a few seconds (the quality panel fills) while the SIP trace
window records the call's ladder. Each window is captured with
``QWidget.grab()``. Everything started is stopped at the end, by PID.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import keyring  # noqa: E402

from tests.child_process import dies_with_parent  # noqa: E402
from tests.keyring_memory import MemoryKeyring  # noqa: E402


def start_xvfb(screen: str = "1280x800x24") -> tuple[subprocess.Popen[bytes], str]:
    for number in range(90, 200):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        display = f":{number}"
        proc = subprocess.Popen(
            dies_with_parent(["Xvfb", display, "-screen", "0", screen, "-nolisten", "tcp"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Xvfb {display} did not start (apt-get install xvfb)")
            time.sleep(0.02)
        return proc, display
    raise RuntimeError("no free X display number")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Shooter:
    """Waits with the Qt event loop running, and saves widgets as PNG files."""

    def __init__(self, out: Path, suffix: str = "") -> None:
        self.out = out
        self.suffix = suffix
        self.taken: list[Path] = []

    def wait(self, condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
        from PySide6.QtCore import QEventLoop
        from PySide6.QtWidgets import QApplication

        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)

    def settle(self, seconds: float = 0.4) -> None:
        end = time.monotonic() + seconds
        self.wait(lambda: time.monotonic() >= end, "the screen to settle", seconds + 5)

    def shoot(self, widget: Any, name: str) -> Path:
        widget.repaint()
        self.settle()
        path = self.out / f"{name}{self.suffix}.png"
        if not widget.grab().save(str(path)):
            raise RuntimeError(f"cannot save {path}")
        self.taken.append(path)
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return path


class Peer:
    """A headless phone on its own core thread, registered on the server."""

    def __init__(self, account: Any) -> None:
        from softphone.gui.bridge import UaBridge
        from softphone.ua import UserAgent, silence_media

        self.account = account
        self.ua = UserAgent([account], listen=[("UDP", "127.0.0.1", 0), ("TCP", "127.0.0.1", 0)], media=silence_media())
        self.bridge = UaBridge()
        self.events: list[Any] = []
        self.bridge.event.connect(self.events.append)
        self.bridge.start(self.ua)

    def registered(self) -> bool:
        from softphone.ua import RegistrationEvent

        return any(isinstance(e, RegistrationEvent) and e.state == "registered" for e in self.events)

    def incoming(self) -> Any:
        from softphone.ua import IncomingCallEvent

        return next((e for e in reversed(self.events) if isinstance(e, IncomingCallEvent)), None)

    def call_state(self, state: str) -> bool:
        from softphone.ua import CallEvent

        return any(isinstance(e, CallEvent) and e.state == state for e in self.events)

    def stop(self) -> None:
        self.bridge.stop()


def dark_palette() -> Any:
    """A dark desktop palette, as a dark theme gives one to every Qt application."""
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colours = {
        role.Window: "#2b2d31",
        role.WindowText: "#e6e6e6",
        role.Base: "#1e1f22",
        role.AlternateBase: "#34363b",
        role.ToolTipBase: "#34363b",
        role.ToolTipText: "#e6e6e6",
        role.PlaceholderText: "#8c8f96",
        role.Text: "#e6e6e6",
        role.Button: "#3a3c42",
        role.ButtonText: "#e6e6e6",
        role.BrightText: "#ff6b6b",
        role.Light: "#4a4d54",
        role.Midlight: "#404249",
        role.Mid: "#5a5d65",
        role.Dark: "#1a1b1e",
        role.Shadow: "#000000",
        role.Highlight: "#3d8fd6",
        role.HighlightedText: "#ffffff",
        role.Link: "#6cb4ff",
        role.LinkVisited: "#b39ddb",
    }
    for name, colour in colours.items():
        palette.setColor(name, QColor(colour))
    for name in (role.Text, role.WindowText, role.ButtonText):
        palette.setColor(group.Disabled, name, QColor("#7a7d84"))
    return palette


def take_screenshots(
    out: Path, work: Path, pulse: Any = None, *, dark: bool = False, language: str | None = None
) -> list[Path]:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QScrollArea

    from softphone.gui.accounts import AccountWizard
    from softphone.gui.app import Softphone
    from softphone.gui.icons import app_icon
    from softphone.gui.settings_dialog import SettingsDialog
    from softphone.gui.trace import TraceWindow
    from softphone.store import AccountSettings, Contact, Settings, Store, save_settings
    from softphone.ua import Account, CallEvent, PresenceEvent, UserAgent, password_to_keyring, silence_media
    from tests.kamailio_server import Kamailio

    app = QApplication.instance() or QApplication(["softphone"])
    assert isinstance(app, QApplication)
    app.setApplicationName("softphone")
    app.setApplicationDisplayName("Softphone")
    app.setWindowIcon(app_icon())
    if dark:
        # What a desktop in dark mode hands Qt (a platform theme's palette, as Breeze Dark or Adwaita-dark
        # do); the phone draws with whatever palette it is given.
        app.setPalette(dark_palette())
    if language:
        from PySide6.QtCore import QLocale

        from softphone.gui.i18n import install_translators

        install_translators(app, QLocale(language))
    shots = Shooter(out, ("-dark" if dark else "") + (f"-{language}" if language else ""))

    def pulse_tone() -> subprocess.Popen[bytes] | None:
        """A few seconds of a tone into the virtual microphone (when PulseAudio runs)."""
        if pulse is None:
            return None
        from tests.pulse_server import tone

        proc: subprocess.Popen[bytes] = pulse.pacat_play("micfeed", tone(440.0, 4.0, 0.3))
        return proc

    names = ("alice", "bob", "carol", "dave")
    users = {name: secrets.token_hex(6) for name in names}
    server = Kamailio(users=users, debug=1)
    peers: list[Peer] = []
    phone: Softphone | None = None
    try:
        server.start()

        def account(name: str, display: str) -> Account:
            return Account(server.aor(name), users[name], registrar=server.proxy_uri("udp"), display_name=display)

        bob = Peer(account("bob", "Bob Builder"))
        carol = Peer(account("carol", "Carol Jones"))
        dave = Peer(account("dave", "Dave Lister"))
        peers += [bob, carol, dave]
        shots.wait(lambda: all(p.registered() for p in peers), "the peers to register")
        bob.bridge.call(bob.ua.presence.set_status, "open", None, "At my desk")
        carol.bridge.call(carol.ua.presence.set_status, "open", "busy", "In a meeting until 3")
        dave.bridge.call(dave.ua.presence.set_status, "open", "away", "Lunch")

        # Alice's settings, contacts and password, as a user would have them after the wizard.
        settings_path = work / "settings.json"
        alice_aor = server.aor("alice")
        save_settings(
            Settings(
                accounts=[AccountSettings(alice_aor, display_name="Alice Liddell", registrar=server.proxy_uri("udp"))],
                presence_note="Writing the docs",
            ),
            settings_path,
        )
        password_to_keyring(alice_aor, users["alice"])
        db_path = work / "alice.db"
        store = Store(db_path)
        try:
            for name, display, phones in (
                ("bob", "Bob Builder", ["+44 20 7946 0001"]),
                ("carol", "Carol Jones", []),
                ("dave", "Dave Lister", []),
            ):
                store.contacts.add(Contact(display, uris=[server.aor(name)], phones=phones, subscribe_presence=True))
            store.contacts.add(Contact("Erin Brockovich", uris=[server.aor("erin")], subscribe_presence=True))
            store.contacts.add(Contact("Front desk", phones=["+44 20 7946 0100"], groups=["Office"]))
        finally:
            store.close()

        def make_ua(accounts: list[Account], store: Store) -> UserAgent:
            return UserAgent(
                accounts, listen=[("UDP", "127.0.0.1", 0), ("TCP", "127.0.0.1", 0)], store=store, media=silence_media()
            )

        phone = Softphone(
            settings_path=settings_path,
            db_path=db_path,
            instance_name=f"softphone-screenshots-{os.getpid()}",
            use_tray=False,
            notifications=False,
            ring=False,
            run_wizard=False,
            ua_factory=make_ua,
        )
        window = phone.window
        window.resize(420, 640)
        window.show()
        gui_events: list[Any] = []
        phone.bridge.event.connect(gui_events.append)
        row = window.account_rows[alice_aor]
        shots.wait(lambda: row.state == "registered", "Alice to register")

        def presence_of(uri: str) -> bool:
            return any(isinstance(e, PresenceEvent) and e.uri == uri and e.basic == "open" for e in gui_events)

        shots.wait(lambda: all(presence_of(server.aor(n)) for n in ("bob", "carol", "dave")), "presence")

        # A missed call: Dave calls and gives up.
        dave.bridge.run(lambda: dave.ua.call(alice_aor))
        shots.wait(lambda: len(window.incoming) == 1, "the incoming call window")
        incoming = next(iter(window.incoming.values()))
        shots.wait(incoming.isVisible, "the incoming call window to show")
        shots.shoot(incoming, "incoming-call")
        dave.bridge.run(lambda: dave.ua.hangup(None))
        shots.wait(lambda: not window.incoming, "the missed call")

        # Chat: Bob writes, Alice answers from the chat window, Bob answers back.
        bob.bridge.run(
            lambda: bob.ua.messaging.send(alice_aor, "Hi Alice, have you got a minute for the release notes?")
        )
        chat = window.chat_window
        shots.wait(lambda: chat.conversation(server.aor("bob")) is not None or chat.total_unread() > 0, "Bob's message")
        conversation = chat.open_conversation(server.aor("bob"))
        shots.wait(lambda: len(conversation.message_texts()) >= 1, "the conversation")
        conversation.input.insertPlainText("Sure \u2014 call me in a moment.")  # QTest types ASCII only
        QTest.keyClick(conversation.input, Qt.Key.Key_Return)
        shots.wait(lambda: len(conversation.message_texts()) >= 2, "Alice's reply")
        shots.settle(1.0)
        bob.bridge.run(lambda: bob.ua.messaging.send(alice_aor, "Calling you now."))
        shots.wait(lambda: len(conversation.message_texts()) >= 3, "Bob's answer")
        chat.resize(520, 420)
        shots.shoot(chat, "chat")

        # The SIP trace window follows a real call: Alice calls Bob, they talk for a few seconds.
        trace = TraceWindow(phone.bridge)
        trace.resize(1060, 640)
        trace.show()
        shots.wait(lambda: trace.attached and not trace._loading, "the trace to start")
        mark = len(bob.events)
        window.dial(server.aor("bob"))
        shots.wait(lambda: any(e.__class__.__name__ == "IncomingCallEvent" for e in bob.events[mark:]), "Bob ringing")
        shots.settle(1.0)
        incoming_call = bob.incoming()
        bob.bridge.run(lambda: bob.ua.answer(incoming_call.call_id))
        call_window = phone.window.call_window
        shots.wait(lambda: call_window.isVisible() and call_window.rows, "the call window")
        call_row = next(iter(call_window.rows.values()))
        shots.wait(lambda: len(call_row.graph.values) >= 6, "six seconds of call quality", 40)
        # As tall as its one row needs: the scroll area's own size hint does not follow the rows.
        call_window.resize(560, 320)
        QApplication.processEvents()
        spare = call_window.findChild(QScrollArea).viewport().height() - call_row.parentWidget().sizeHint().height()
        call_window.resize(560, 320 - max(0, spare))
        shots.shoot(call_window, "call-window")
        phone.bridge.run(lambda: phone.ua.hangup(None))
        shots.wait(
            lambda: any(isinstance(e, CallEvent) and e.state == "ended" for e in gui_events[-50:]), "the hang-up"
        )
        shots.wait(lambda: "BYE" in trace.ladder.labels() and trace.ladder.labels()[-1].startswith("200"), "the BYE")
        ladder = trace.ladder
        invite_ok = next((i for i, r in enumerate(ladder.records) if r.status_code == 200 and r.method == "INVITE"), 0)
        QTest.mouseClick(
            ladder, Qt.MouseButton.LeftButton, pos=QPoint(int(ladder.column_x(0)) + 30, int(ladder.row_y(invite_ok)))
        )
        shots.shoot(trace, "sip-trace")
        trace.close()
        call_window.close()

        # The main window: presence of the buddies, the account registered, the history.
        window.raise_()
        shots.shoot(window, "main-window")
        window.tabs.setCurrentIndex(window.history_index)
        shots.shoot(window, "main-window-history")
        window.tabs.setCurrentIndex(0)
        about = window.open_about()
        shots.shoot(about, "about")
        about.close()

        # Settings: the main tabs.
        dialog = SettingsDialog(phone.settings, None, phone.bridge, window)
        dialog.show()
        shots.wait(lambda: dialog.audio_page.devices is not None, "the audio devices")
        pages = {
            "accounts": dialog.accounts_page,
            "audio": dialog.audio_page,
            "codecs": dialog.codecs_page,
            "calls": dialog.calls_page,
            "general": dialog.general_page,
        }
        for name, page in pages.items():
            dialog.tabs.setCurrentWidget(page)
            if name == "audio":
                speaking = pulse_tone()  # something for the microphone meter to show
                shots.settle(1.5)
                shots.shoot(dialog, f"settings-{name}")
                if speaking is not None:
                    stop_process(speaking)
                continue
            shots.shoot(dialog, f"settings-{name}")
        dialog.tabs.setCurrentIndex(0)
        editor = dialog.accounts_page.edit_account()
        if editor is not None:
            editor.test_connection()
            shots.wait(lambda: not editor.testing, "the connection test")
            shots.shoot(editor, "settings-account")
            editor.reject()
        dialog.reject()

        # The first-start wizard.
        wizard = AccountWizard()
        wizard.show()
        wizard.aor.setText("sip:alice@example.com")
        wizard.display_name.setText("Alice Liddell")
        shots.shoot(wizard, "first-start-wizard")
        wizard.close()
        return shots.taken
    finally:
        if phone is not None:
            phone.close()
        for peer in peers:
            with contextlib.suppress(Exception):
                peer.stop()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go")
    parser.add_argument("--no-pulse", action="store_true", help="don't start PulseAudio virtual devices")
    parser.add_argument("--dark", action="store_true", help="the desktop in dark mode (files end in -dark)")
    parser.add_argument("--lang", metavar="LANG", help="the interface in this language (files end in -LANG)")
    parser.add_argument("--scale", type=float, default=1.0, help="QT_SCALE_FACTOR; 2 uses a 3840x2160 screen")
    args = parser.parse_args(argv)
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    keyring.set_keyring(MemoryKeyring())
    xvfb: subprocess.Popen[bytes] | None = None
    pulse: Any = None
    with tempfile.TemporaryDirectory(prefix="softphone-shots-") as tmp:
        work = Path(tmp)
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            os.environ[name] = str(work / name.lower())
        try:
            xvfb, display = start_xvfb("3840x2160x24" if args.scale >= 2 else "1280x800x24")
            os.environ["DISPLAY"] = display
            os.environ["QT_QPA_PLATFORM"] = "xcb"
            if not args.no_pulse:
                try:
                    from tests.pulse_server import PulseAudio

                    pulse = PulseAudio(settle=0.5)
                    pulse.start()
                    # PulseAudio points XDG_CONFIG_HOME at its own directory (for ALSA device names);
                    # the settings dialog should show the usual ~/.config/autostart (it only reads it here).
                    os.environ.pop("XDG_CONFIG_HOME", None)
                except Exception as exc:  # no PulseAudio: the audio tab says there are no devices
                    print(f"PulseAudio not started ({exc}); the audio settings will show no devices")
                    pulse = None
            print(f"Xvfb {display}; writing to {out}")
            taken = take_screenshots(out, work, pulse, dark=args.dark, language=args.lang)
            print(f"{len(taken)} screenshots")
        finally:
            if pulse is not None:
                with contextlib.suppress(Exception):
                    pulse.stop()
            stop_process(xvfb)
    return 0


if __name__ == "__main__":
    sys.exit(main())

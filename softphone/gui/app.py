"""The desktop application's entry point: ``softphone [URI]``.

``softphone sip:bob@example.com`` (also ``sips:``, ``tel:``, ``callto:``)
dials in the instance already running for this user — the link goes over a
local socket and this process exits 0 — or starts the application and dials.
Settings come from the platform's config directory (``--config FILE``
overrides), the database from the user data directory (``--db FILE``), the
passwords from the OS keyring or a password file the user chose. On a first
start without an account a short wizard asks for one; the single instance is
claimed before it opens, so a link clicked meanwhile reaches this process and
is called once there is an account.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from softphone import __version__

if TYPE_CHECKING:
    from softphone.gui.single_instance import SingleInstance

log = logging.getLogger("softphone.gui")


def _no_display() -> bool:
    """True on a Linux machine with no X11/Wayland display and no Qt platform chosen."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="softphone", description="Desktop SIP softphone.")
    parser.add_argument("uri", nargs="?", help="call this (sip:, sips:, tel: or callto: link, or a number)")
    parser.add_argument("--version", action="version", version=f"softphone {__version__}")
    parser.add_argument("--config", metavar="FILE", help="settings file (default: settings.json in the config dir)")
    parser.add_argument("--db", metavar="FILE", help="database file (default: softphone.db in the data dir)")
    parser.add_argument(
        "--instance-name",
        metavar="NAME",
        help="name of the single-instance socket (default: per user; or $SOFTPHONE_INSTANCE)",
    )
    parser.add_argument(
        "--listen", metavar="HOST", help="local address for SIP over UDP and TCP (default: every IPv4 address)"
    )
    parser.add_argument("--no-tray", action="store_true", help="no system tray icon")
    parser.add_argument("--no-notifications", action="store_true", help="no desktop notifications")
    parser.add_argument("--no-ring", action="store_true", help="don't play a ringtone")
    parser.add_argument("--debug", action="store_true", help="log to standard error")
    desktop = parser.add_mutually_exclusive_group()
    desktop.add_argument(
        "--install-desktop-files",
        action="store_true",
        help="put the softphone in this user's applications menu, as a handler of sip:, sips:, tel: and callto: "
        "links (files under $XDG_DATA_HOME, for a pipx install), then exit",
    )
    desktop.add_argument(
        "--uninstall-desktop-files", action="store_true", help="remove what --install-desktop-files wrote, then exit"
    )
    return parser


class Softphone:
    """The running application without the ``QApplication``: settings, store, UA on its core thread,
    the main window and the single-instance server. :meth:`close` ends everything it started."""

    def __init__(
        self,
        *,
        settings_path: Path | None = None,
        db_path: Path | None = None,
        instance_name: str | None = None,
        use_tray: bool = True,
        notifications: bool = True,
        ring: bool = True,
        run_wizard: bool = True,
        ua_factory: Callable[..., object] | None = None,
        listen: str | None = None,
        instance: SingleInstance | None = None,
    ) -> None:
        import dataclasses

        import platformdirs

        from softphone.gui.accounts import AccountWizard, accounts_from_settings
        from softphone.gui.bridge import UaBridge
        from softphone.gui.main_window import MainWindow
        from softphone.gui.passwords import keep_password
        from softphone.gui.ringer import Ringer
        from softphone.gui.settings_audio import processing_from
        from softphone.gui.settings_video import video_settings
        from softphone.gui.single_instance import SingleInstance, server_name
        from softphone.store import Store, default_settings_path, load_settings, save_settings
        from softphone.ua import UserAgent, device_media

        # The single instance first, before anything modal: a link clicked while the wizard is open is handed
        # to this process (and called once there is an account) instead of starting a second one.
        self.instance = instance if instance is not None else SingleInstance(server_name(instance_name))
        self._early_links: list[str] = []
        self.wizard: AccountWizard | None = None
        self.instance.dial.connect(self._early_dial)
        self.instance.activate.connect(self._raise_wizard)
        if not self.instance.listening and not self.instance.listen():
            log.warning("another start of the softphone will not find this one (%s)", self.instance.name)

        self.settings_path = settings_path if settings_path is not None else default_settings_path()
        self.settings = load_settings(self.settings_path)
        self.store = Store(db_path)
        data_dir = db_path.parent if db_path is not None else platformdirs.user_data_path("softphone", appauthor=False)
        self.recordings_dir = data_dir / "recordings"
        problems: list[str] = []
        session_passwords: dict[str, str] = {}
        if not self.settings.accounts and run_wizard:
            self.wizard = AccountWizard()
            if self.wizard.exec() and self.wizard.result_value is not None:
                result = self.wizard.result_value
                self.settings.accounts.append(result.settings)
                if result.password:
                    session_passwords[result.settings.aor] = result.password
                    note = keep_password(result.settings, result.password, result.storage)
                    if note is not None:
                        problems.append(note)
                save_settings(self.settings, self.settings_path)
            self.wizard = None
        accounts, bad = accounts_from_settings(self.settings.accounts, session_passwords)
        problems += bad
        if ua_factory is None:
            audio = self.settings.audio
            sockets = None if listen is None else [("UDP", listen, 0), ("TCP", listen, 0)]
            # The UA gets copies: the GUI's accounts are read on the GUI thread only.
            ua = UserAgent(
                [dataclasses.replace(account) for account in accounts],
                listen=sockets,
                store=self.store,
                media=device_media(audio.input_device, audio.output_device, processing_from(audio)),
                video=video_settings(self.settings.video),
            )
        else:
            made = ua_factory([dataclasses.replace(account) for account in accounts], self.store)
            if not isinstance(made, UserAgent):
                raise TypeError(f"ua_factory gave {type(made).__name__}, not a UserAgent")
            ua = made
        self.ua = ua
        from softphone.gui.settings_calls import apply_to_ua

        apply_to_ua(self.settings, ua, only_set=True)  # do-not-disturb, auto-answer, forwarding, codec order
        self.ringer = Ringer(
            self.settings.audio.ringing_device or self.settings.audio.output_device,
            enabled=ring,
            tone=self.settings.audio.ringtone,
        )
        self.bridge = UaBridge()
        self.window = MainWindow(
            self.bridge,
            self.store,
            self.settings,
            accounts=accounts,
            settings_path=self.settings_path,
            recordings_dir=self.recordings_dir,
            ringer=self.ringer,
            use_tray=use_tray,
            desktop_notifications=notifications,
            problems=problems,
        )
        self.window.session_passwords.update(session_passwords)
        self.bridge.start(ua)
        self.instance.dial.disconnect(self._early_dial)
        self.instance.activate.disconnect(self._raise_wizard)
        self.instance.dial.connect(self.window.dial)
        self.instance.activate.connect(self.window.show_and_raise)
        for uri in self._early_links:
            self.window.dial(uri)
        self._early_links.clear()
        self._closed = False

    def _early_dial(self, uri: str) -> None:
        self._early_links.append(uri)

    def _raise_wizard(self) -> None:
        if self.wizard is not None and self.wizard.isVisible():
            self.wizard.raise_()
            self.wizard.activateWindow()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.instance.close()
        self.window.quitting = True
        self.window.close()
        self.window.call_window.close()
        self.bridge.stop()
        self.ringer.close()
        self.store.close()


def _manage_collector(phone: Softphone) -> None:
    """The UA's collector policy, installed on the core loop once the UA has started."""
    from softphone.ua import manage_collector

    ua = phone.bridge.ua

    async def install() -> None:
        if ua is not None:
            manage_collector(ua)

    phone.bridge.run(install)


def _quit_on_signals(app: object) -> None:
    """SIGTERM and SIGINT end the application cleanly (unregister, hang up) instead of killing it."""
    import signal

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    assert isinstance(app, QApplication)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: app.quit())
    # Python runs signal handlers between bytecodes: wake the interpreter now and then.
    timer = QTimer(app)
    timer.setInterval(250)
    timer.timeout.connect(lambda: None)
    timer.start()


def _report_for_benchmarks(app: object, window: object) -> None:
    """With ``$SOFTPHONE_REPORT`` set (benchmarks/gui.py), print ``shown <unix time>`` once the main window
    is exposed; with ``SOFTPHONE_REPORT=stalls`` also, every second, ``stall <ms>``: the longest gap
    between ticks of a 10 ms GUI-thread timer in that second. Otherwise nothing."""
    mode = os.environ.get("SOFTPHONE_REPORT")
    if not mode:
        return
    import time

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QWidget

    assert isinstance(window, QWidget)

    def shown() -> None:
        handle = window.windowHandle()
        if handle is None or not handle.isExposed():
            QTimer.singleShot(5, shown)
            return
        print(f"shown {time.time():.6f}", flush=True)

    QTimer.singleShot(0, shown)
    if mode != "stalls":
        return
    import gc

    beat = {"last": time.monotonic(), "worst": 0.0, "since": time.monotonic()}
    # The longest collection of each generation in that second, from any thread: ``gc <ms> <ms> <ms>``.
    started = [0.0]
    longest = [0.0, 0.0, 0.0]

    def collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            generation = info["generation"]
            longest[generation] = max(longest[generation], time.perf_counter() - started[0])

    gc.callbacks.append(collection)

    def tick() -> None:
        now = time.monotonic()
        beat["worst"], beat["last"] = max(beat["worst"], now - beat["last"]), now
        if now - beat["since"] >= 1.0:
            print(f"stall {beat['worst'] * 1000:.1f}", flush=True)
            print("gc " + " ".join(f"{ms * 1000:.1f}" for ms in longest), flush=True)
            beat["worst"], beat["since"] = 0.0, now
            longest[:] = [0.0, 0.0, 0.0]

    timer = QTimer(window)
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the application; ``argv`` are the arguments after the program name."""
    args, qt_args = build_parser().parse_known_args(list(argv) if argv is not None else sys.argv[1:])
    if args.install_desktop_files or args.uninstall_desktop_files:
        from softphone import desktop_files

        return desktop_files.main(remove=args.uninstall_desktop_files)
    if _no_display():
        print(
            "softphone: no display found (DISPLAY and WAYLAND_DISPLAY are unset). "
            "Start it from a desktop session, or use softphone-cli for headless use.",
            file=sys.stderr,
        )
        return 1
    if args.debug:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from PySide6.QtWidgets import QApplication

    from softphone.gui.i18n import install_translators
    from softphone.gui.icons import app_icon
    from softphone.gui.single_instance import SingleInstance, send_to_running, server_name

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "softphone", *qt_args])
    assert isinstance(app, QApplication)
    install_translators(app)  # the desktop's language (LANGUAGE, LC_ALL, LC_MESSAGES, LANG) when we have it
    app.setApplicationName("softphone")
    app.setApplicationDisplayName("Softphone")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("softphone")
    app.setWindowIcon(app_icon())

    name = server_name(args.instance_name)
    message = f"DIAL {args.uri}" if args.uri else "SHOW"
    if send_to_running(name, message):
        return 0
    instance = SingleInstance(name)
    if not instance.listen() and send_to_running(name, message):
        return 0  # another start claimed it between our look and our claim: it takes the link

    phone = Softphone(
        settings_path=Path(args.config) if args.config else None,
        db_path=Path(args.db) if args.db else None,
        instance_name=name,
        use_tray=not args.no_tray,
        notifications=not args.no_notifications,
        ring=not args.no_ring,
        listen=args.listen,
        instance=instance,
    )
    # Full collections hold the interpreter lock, and so the GUI thread: run them when the phone is
    # quiet, not in a presence burst (softphone.ua.collector; README, Performance).
    phone.bridge.started.connect(lambda: _manage_collector(phone))
    if phone.window.tray is not None:
        app.setQuitOnLastWindowClosed(False)
    phone.window.quit_requested.connect(app.quit)
    _quit_on_signals(app)
    try:
        phone.window.show()
        _report_for_benchmarks(app, phone.window)
        if args.uri:
            phone.window.dial(args.uri)
        return app.exec()
    finally:
        phone.close()


if __name__ == "__main__":
    raise SystemExit(main())

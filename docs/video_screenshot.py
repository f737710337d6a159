"""A video call in the desktop application, from a real call: ``docs/screenshots/video-*.png``.

Run from the repository root::

    python docs/video_screenshot.py                 # writes docs/screenshots/video-*.png
    python docs/video_screenshot.py --out /tmp/shots

Nothing is staged: as ``docs/screenshots.py`` does, the script starts its own X server (``Xvfb :N``) and a
private Kamailio on loopback. Bob is a headless phone sending the test pattern; Alice's phone is the real
main window on that X server, also sending the pattern (so her self view shows). Bob calls Alice with
video (``incoming-video-call``), Alice answers with video, and once pictures and a few seconds of video
figures have come, the video window (``video-call``), the call window's row with its video figures
(``video-call-window``) and the settings' Video page (``settings-video``) are grabbed with
``QWidget.grab()``. Everything started is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from docs.screenshots import Peer, Shooter, start_xvfb, stop_process  # noqa: E402


def take(out: Path, work: Path) -> list[Path]:
    from PySide6.QtWidgets import QApplication

    from softphone.gui.bridge import UaBridge
    from softphone.gui.icons import app_icon
    from softphone.gui.main_window import MainWindow
    from softphone.gui.settings_dialog import SettingsDialog
    from softphone.store import Settings, Store
    from softphone.ua import Account, UserAgent, VideoQualityEvent, VideoSettings, silence_media
    from tests.kamailio_server import Kamailio

    app = QApplication.instance() or QApplication(["softphone"])
    assert isinstance(app, QApplication)
    app.setApplicationName("softphone")
    app.setApplicationDisplayName("Softphone")
    app.setWindowIcon(app_icon())
    shots = Shooter(out)
    users = {name: secrets.token_hex(6) for name in ("alice", "bob")}
    server = Kamailio(users=users, debug=1)
    bob: Peer | None = None
    bridge: UaBridge | None = None
    window: MainWindow | None = None
    store: Store | None = None
    try:
        server.start()

        def account(name: str, display: str) -> Account:
            return Account(
                server.aor(name), users[name], registrar=server.proxy_uri("udp"), display_name=display, srtp="off"
            )

        bob = Peer(account("bob", "Bob Builder"))
        bob.bridge.call(setattr, bob.ua, "video", VideoSettings(source="pattern"))
        alice = account("alice", "Alice Liddell")
        store = Store(work / "alice.db")
        ua = UserAgent(
            [alice],
            listen=[("UDP", "127.0.0.1", 0), ("TCP", "127.0.0.1", 0)],
            store=store,
            media=silence_media(),
            video=VideoSettings(source="pattern"),
        )
        bridge = UaBridge()
        gui_events: list[object] = []
        bridge.event.connect(gui_events.append)
        settings = Settings()
        settings.video.source = "pattern"
        settings.video.enabled = True
        window = MainWindow(
            bridge,
            store,
            settings,
            accounts=[alice],
            settings_path=work / "settings.json",
            recordings_dir=work / "recordings",
            use_tray=False,
        )
        bridge.start(ua)
        window.resize(420, 640)
        window.show()
        row = window.account_rows[alice.aor]
        shots.wait(lambda: row.state == "registered" and bob is not None and bob.registered(), "registration")

        bob.bridge.run(lambda: bob.ua.call(alice.aor))
        shots.wait(lambda: len(window.incoming) == 1, "the incoming call window")
        incoming = next(iter(window.incoming.values()))
        shots.wait(incoming.isVisible, "the incoming call window to show")
        shots.shoot(incoming, "incoming-video-call")
        incoming.answer()

        videos = window.call_window.videos
        shots.wait(lambda: videos.windows and next(iter(videos.windows.values())).isVisible(), "the video window")
        video = next(iter(videos.windows.values()))
        video.resize(660, 580)
        shots.wait(lambda: video.view.remote_frames >= 30 and video.view.local_frames >= 30, "pictures")
        shots.wait(lambda: sum(isinstance(e, VideoQualityEvent) for e in gui_events) >= 4, "video figures", 30)
        shots.shoot(video, "video-call")
        call_window = window.call_window
        call_window.resize(640, 300)
        shots.shoot(call_window, "video-call-window")
        # The Video page of the settings, with what this machine has for cameras.
        dialog = SettingsDialog(settings, None, bridge, window, audio=False)
        dialog.tabs.setCurrentWidget(dialog.video_page)
        dialog.show()
        shots.wait(lambda: dialog.video_page.cameras is not None, "the cameras to be listed")
        shots.shoot(dialog, "settings-video")
        dialog.reject()
        return shots.taken
    finally:
        if window is not None:
            window.quitting = True
            window.incoming_calls.close_all()
            window.call_window.videos.close_all()
            window.call_window.close()
            window.close()
        if bridge is not None:
            bridge.stop()
        if bob is not None:
            with contextlib.suppress(Exception):
                bob.stop()
        if store is not None:
            store.close()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    xvfb = None
    with tempfile.TemporaryDirectory(prefix="softphone-video-shots-") as tmp:
        work = Path(tmp)
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            os.environ[name] = str(work / name.lower())
        try:
            xvfb, display = start_xvfb("1280x800x24")
            os.environ["DISPLAY"] = display
            os.environ["QT_QPA_PLATFORM"] = "xcb"
            print(f"Xvfb {display}; writing to {out}")
            taken = take(out, work)
            print(f"{len(taken)} screenshots")
        finally:
            stop_process(xvfb)
    return 0


if __name__ == "__main__":
    sys.exit(main())

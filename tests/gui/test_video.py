"""Video calls in the desktop application: real widgets offscreen, two user agents through the real Kamailio,
both sending the test pattern; the window must show decoded pictures whose frame counter moves on."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from softphone.gui.incoming import IncomingCallWindow
from softphone.gui.video_window import VideoWindow
from softphone.media.video_sources import read_counter
from softphone.ua import (
    CallEvent,
    IncomingCallEvent,
    QualityEvent,
    VideoEvent,
    VideoPicture,
    VideoQualityEvent,
    VideoSettings,
    silence_media,
)
from tests.gui.harness import GuiPhone, Peer, new_account
from tests.kamailio_server import Kamailio
from tests.media import test_video_screen
from tests.media.test_video_screen import COUNTER as SCREEN_COUNTER
from tests.ua import make_ua

PATTERN = VideoSettings(source="pattern")
# A fixture: an X server of its own (Xvfb) showing pattern frame SCREEN_COUNTER.
x_screen = test_video_screen.screen


@pytest.fixture
def started(qtbot: QtBot) -> Iterator[list[object]]:
    things: list[object] = []
    yield things
    for thing in reversed(things):
        thing.close() if isinstance(thing, GuiPhone) else thing.stop()  # type: ignore[attr-defined]


def video_gui(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, started: list[object]) -> GuiPhone:
    account = new_account(kamailio, srtp="off")
    ua = make_ua(account, media=silence_media(), video=PATTERN)
    phone = GuiPhone(qtbot, account, tmp_path, ua=ua)
    phone.window.call_window.video_source = "pattern"
    phone.window.settings.video.enabled = True  # calls we make offer video (off by default)
    started.append(phone)
    phone.wait_registered()
    return phone


def video_peer(qtbot: QtBot, kamailio: Kamailio, started: list[object]) -> Peer:
    other = Peer(qtbot, new_account(kamailio, srtp="off"), video=PATTERN)
    started.append(other)
    other.wait_registered()
    return other


def counter(picture: VideoPicture) -> int | None:
    """The pattern's frame number read back from an RGB picture (BT.601 luma, as the encoder saw it)."""
    rgb = np.frombuffer(picture.rgb, dtype=np.uint8).reshape(picture.height, picture.width, 3).astype(np.float32)
    luma = 16 + 0.257 * rgb[..., 0] + 0.504 * rgb[..., 1] + 0.098 * rgb[..., 2]
    return read_counter(np.clip(luma, 0, 255).astype(np.uint8))


def video_window(gui: GuiPhone) -> VideoWindow:
    videos = gui.window.call_window.videos
    gui.wait(lambda: len(videos.windows) == 1 and next(iter(videos.windows.values())).isVisible())
    return next(iter(videos.windows.values()))


def test_video_call_shows_the_peers_pattern_and_the_self_view_and_the_buttons_work(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, started: list[object]
) -> None:
    gui = video_gui(qtbot, kamailio, tmp_path, started)
    bob = video_peer(qtbot, kamailio, started)
    mark = bob.mark()
    qtbot.keyClicks(gui.window.dial_field, bob.aor)
    qtbot.keyClick(gui.window.dial_field, Qt.Key.Key_Return)
    incoming = bob.wait_incoming(mark)
    assert incoming.video
    bob.run(lambda: bob.ua.answer(incoming.call_id))
    window = video_window(gui)
    view = window.view
    # Decoded pictures arrive, the pattern's counter in them moves on, and the self view is drawn.
    gui.wait(lambda: view.remote_frames >= 10 and view.local_frames >= 5)
    assert view.remote is not None
    first = counter(view.remote[0])
    assert first is not None
    gui.wait(lambda: view.remote is not None and (counter(view.remote[0]) or 0) > first + 5)
    assert (view.remote[0].width, view.remote[0].height) == (320, 240)
    shot = view.grab().toImage()
    centre = shot.pixelColor(shot.width() // 2, shot.height() // 2)
    assert centre.lightness() > 0, "the window's centre is black: no picture drawn"
    # The peer's picture fits the view with its aspect kept; ours sits inside it, in the corner.
    fitted = view.remote_rect()
    assert abs(fitted.width() / fitted.height() - 320 / 240) < 0.02
    assert view.rect().contains(view.local_rect()) and view.local_rect().width() < view.width() / 2
    # The quality panel shows the video figures.
    row = next(iter(gui.window.call_window.rows.values()))
    gui.wait(lambda: row.video.quality_label.isVisible() and "320×240" in row.video.quality_label.text())

    # Camera off: a re-INVITE makes our video line recvonly (RFC 3264 8.4); we send nothing (the peer's frame
    # rate drops to 0), the self view goes, the stream stays and we keep receiving.
    assert window.camera_button.isChecked()
    qtbot.mouseClick(window.camera_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: not window.sending and view.local is None and not window.camera_button.isChecked())
    offered: list[str] = []
    bob.bridge.call(lambda: str(bob.ua.find_call().machine.remote_sdp), on_done=offered.append)
    gui.wait(lambda: offered)
    video_line = offered[0].split("m=video", 1)[1]
    assert "a=recvonly" in video_line and " 0 RTP" not in video_line[:8]
    quiet = bob.mark()
    bob.wait(lambda e: isinstance(e, VideoQualityEvent) and e.fps == 0, quiet)
    frames = view.remote_frames
    gui.wait(lambda: view.remote_frames > frames + 5)  # theirs still comes
    qtbot.mouseClick(window.camera_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: window.sending and window.camera_button.isChecked())
    again = bob.mark()
    bob.wait(lambda e: isinstance(e, VideoQualityEvent) and e.fps > 5, again)
    gui.wait(lambda: view.local is not None)

    # Stop video: a re-INVITE declines the stream, both sides stop their video; the audio call goes on.
    mark = bob.mark()
    qtbot.mouseClick(window.video_button, Qt.MouseButton.LeftButton)
    bob.wait(lambda e: isinstance(e, VideoEvent) and not e.active, mark)
    gui.wait(lambda: not window.active and view.remote is None)
    assert row.call_event.state == "confirmed"
    # Start video again from the window: the stream comes back.
    frames = view.remote_frames
    gui.wait(window.video_button.isEnabled)  # the re-INVITE that stopped it has completed
    qtbot.mouseClick(window.video_button, Qt.MouseButton.LeftButton)
    try:
        gui.wait(lambda: window.active)
    except Exception as exc:
        video = [e for e in gui.events if isinstance(e, VideoEvent)]
        raise AssertionError(f"video not back: {window.status_label.text()!r}, {video}") from exc
    gui.wait(lambda: view.remote_frames > frames + 5)

    # Full screen hides the controls and back.
    window.toggle_full_screen()
    assert not window.controls.isVisible() and window.full_button.isChecked()
    window.leave_full_screen()
    assert window.controls.isVisible()
    end = bob.mark()
    qtbot.mouseClick(row.hangup_button, Qt.MouseButton.LeftButton)
    bob.wait(lambda e: isinstance(e, CallEvent) and e.state == "ended", end)
    gui.wait(lambda: not gui.window.call_window.videos.windows)


def test_incoming_video_call_is_marked_and_answered_without_video(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, started: list[object]
) -> None:
    gui = video_gui(qtbot, kamailio, tmp_path, started)
    bob = video_peer(qtbot, kamailio, started)
    bob.run(lambda: bob.ua.call(gui.account.aor))
    windows = gui.window.incoming_calls.windows
    gui.wait(lambda: len(windows) == 1)
    window = next(iter(windows.values()))
    assert isinstance(window, IncomingCallWindow)
    assert window.video and window.audio_button.isVisibleTo(window)
    assert "video" in window.status.text() and "video" in window.answer_button.text()
    qtbot.mouseClick(window.audio_button, Qt.MouseButton.LeftButton)
    answered = bob.wait_state("confirmed")
    # A second of audio figures on both sides, and no video on either.
    gui.wait(lambda: any(isinstance(e, QualityEvent) for e in gui.events))
    bob.wait(lambda e: isinstance(e, QualityEvent) and e.call_id == answered.call_id)
    for events in (gui.events, bob.events):
        assert not any(isinstance(e, VideoEvent | VideoQualityEvent) for e in events)
    assert not gui.window.call_window.videos.windows


def test_incoming_audio_call_has_no_video_mark(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, started: list[object]
) -> None:
    gui = video_gui(qtbot, kamailio, tmp_path, started)
    plain = Peer(qtbot, new_account(kamailio, srtp="off"))
    started.append(plain)
    plain.wait_registered()
    plain.run(lambda: plain.ua.call(gui.account.aor))
    windows = gui.window.incoming_calls.windows
    gui.wait(lambda: len(windows) == 1)
    window = next(iter(windows.values()))
    incoming = [e for e in gui.events if isinstance(e, IncomingCallEvent)]
    assert incoming and not incoming[-1].video
    assert not window.audio_button.isVisibleTo(window) and "video" not in window.status.text()
    window.decline()
    plain.wait_state("ended")


def test_settings_video_page_says_no_camera_found_and_saves(qtbot: QtBot, tmp_path: Path) -> None:
    from softphone.gui.settings_dialog import SettingsDialog
    from softphone.store import Settings
    from softphone.store.settings import load_settings
    from softphone.ua import video_cameras

    path = tmp_path / f"settings-{secrets.token_hex(3)}.json"
    dialog = SettingsDialog(Settings(), path, audio=False)
    qtbot.addWidget(dialog)
    page = dialog.video_page
    qtbot.waitUntil(lambda: page.cameras is not None, timeout=20000)
    cameras, problem = video_cameras()
    if not cameras:
        # This machine has no camera: the page says so in words.
        assert page.cameras_label.text() == "No camera found"
    else:
        assert all(page.source.findData(c.source) >= 0 for c in cameras)
    # Calls start audio only until the user says otherwise; what they send is the camera.
    assert not page.enabled.isChecked() and page.source.currentData() == "camera"
    page.enabled.setChecked(True)
    page.source.setCurrentIndex(page.source.findData("pattern"))
    page.codecs.setCurrentIndex(1)
    assert dialog.apply()
    saved = load_settings(path).video
    assert (saved.enabled, saved.source, saved.codecs) == (True, "pattern", ["H264", "VP8"])
    assert problem is None or cameras or problem == "no camera found"


def test_a_call_made_without_video_by_default_gets_it_from_the_rows_video_button(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, started: list[object]
) -> None:
    gui = video_gui(qtbot, kamailio, tmp_path, started)
    gui.window.settings.video.enabled = False
    bob = video_peer(qtbot, kamailio, started)
    mark = bob.mark()
    gui.window.dial(bob.aor)
    incoming = bob.wait_incoming(mark)
    assert not incoming.video  # no video line offered
    bob.run(lambda: bob.ua.answer(incoming.call_id))
    gui.wait(lambda: gui.window.call_window.rows and next(iter(gui.window.call_window.rows.values())).established)
    row = next(iter(gui.window.call_window.rows.values()))
    assert not gui.window.call_window.videos.windows
    qtbot.mouseClick(row.video.button, Qt.MouseButton.LeftButton)
    window = video_window(gui)
    gui.wait(lambda: window.view.remote_frames >= 5)
    assert window.active and window.source == "pattern"


def test_share_screen_sends_the_x_screen_and_back_to_the_camera(
    qtbot: QtBot,
    kamailio: Kamailio,
    tmp_path: Path,
    started: list[object],
    x_screen: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The X server of the fixture shows pattern frame SCREEN_COUNTER: what bob receives once we share it.
    monkeypatch.setenv("DISPLAY", x_screen)
    gui = video_gui(qtbot, kamailio, tmp_path, started)
    bob = video_peer(qtbot, kamailio, started)
    seen: list[int | None] = []

    def bob_picture(call_id: str, kind: str) -> None:
        picture = bob.bridge.take_picture(call_id, "remote" if kind == "remote" else "local")
        if picture is not None and picture.kind == "remote":
            seen.append(counter(picture))

    bob.bridge.video_picture.connect(bob_picture)
    mark = bob.mark()
    gui.window.dial(bob.aor)
    incoming = bob.wait_incoming(mark)
    bob.run(lambda: bob.ua.answer(incoming.call_id))
    window = video_window(gui)
    gui.wait(lambda: len(seen) >= 5)
    qtbot.mouseClick(window.screen_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: window.source == "screen" and window.screen_button.isChecked())
    shared = len(seen)
    gui.wait(lambda: SCREEN_COUNTER in seen[shared:])
    qtbot.mouseClick(window.screen_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: window.source == "pattern" and not window.screen_button.isChecked())
    back = len(seen)
    gui.wait(lambda: any(c is not None and c != SCREEN_COUNTER for c in seen[back + 3 :]))

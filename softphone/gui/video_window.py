"""The video of calls: a window per call with the peer's picture and our self view, and the call row's video parts.

Pictures come decoded and converted to RGB by the call's video thread; the
bridge says when a call's picture slot filled (``video_picture``, a queued
signal) and :class:`VideoView` takes the newest picture then, so the GUI
thread never decodes and never falls behind: pictures it had no time to draw
were replaced in the slot. The peer's picture is scaled to fit with its
aspect kept; ours is drawn small in a corner (picture in picture).

Every command goes through the UA facade on the core loop: video on/off is a
re-INVITE (``set_video``), camera off, share screen and change camera change
what the call sends (``set_video_source``) without touching the SDP.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QMouseEvent, QPainter, QPaintEvent, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from softphone.gui.bridge import UaBridge
from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate
from softphone.gui.icons import app_icon
from softphone.gui.text import plain_label
from softphone.gui.workers import GuiRelay, run_in_thread
from softphone.ua import VideoCamera, VideoEvent, VideoPicture, VideoQualityEvent, cannot, video_cameras

# The self view's width as a share of the view's, and its margin from the corner.
PIP_SHARE = 0.25
PIP_MARGIN = 8
# What a call sends, in words (sources other than these are files, shown by name).
SOURCE_NAMES = {
    "pattern": QT_TRANSLATE_NOOP("VideoWindow", "Test pattern"),
    "screen": QT_TRANSLATE_NOOP("VideoWindow", "Screen"),
    "camera": QT_TRANSLATE_NOOP("VideoWindow", "Camera"),
}


def source_name(source: str | None) -> str:
    if source is None:
        return translate("VideoWindow", "Nothing (camera off)")
    if source in SOURCE_NAMES:
        return translate("VideoWindow", SOURCE_NAMES[source])
    if source.startswith("camera:"):
        return translate("VideoWindow", "Camera {device}").format(device=source.partition(":")[2])
    if source.startswith("screen:"):
        return translate("VideoWindow", "Screen {display}").format(display=source.partition(":")[2])
    return source


def image_of(picture: VideoPicture) -> QImage:
    """A QImage over the picture's bytes (the picture must outlive it)."""
    return QImage(picture.rgb, picture.width, picture.height, 3 * picture.width, QImage.Format.Format_RGB888)


def fitted(size: QSize, area: QRect) -> QRect:
    """``size`` scaled to fit ``area`` with its aspect kept, centred."""
    if size.isEmpty():
        return QRect()
    scaled = size.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
    return QRect(
        area.x() + (area.width() - scaled.width()) // 2,
        area.y() + (area.height() - scaled.height()) // 2,
        scaled.width(),
        scaled.height(),
    )


class VideoView(QWidget):
    """The peer's picture scaled to fit, ours in the bottom right corner; double-click toggles full screen."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.remote: tuple[VideoPicture, QImage] | None = None
        self.local: tuple[VideoPicture, QImage] | None = None
        self.remote_frames = 0
        self.local_frames = 0
        self.note = ""
        self.on_double_click: Callable[[], None] | None = None
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName(self.tr("Video"))
        self.setAutoFillBackground(False)

    def show_picture(self, picture: VideoPicture) -> None:
        if picture.kind == "remote":
            self.remote = (picture, image_of(picture))
            self.remote_frames += 1
        else:
            self.local = (picture, image_of(picture))
            self.local_frames += 1
        self.update()

    def clear_local(self) -> None:
        self.local = None
        self.update()

    def clear(self) -> None:
        self.remote = self.local = None
        self.update()

    def remote_rect(self) -> QRect:
        return fitted(self.remote[1].size(), self.rect()) if self.remote is not None else QRect()

    def local_rect(self) -> QRect:
        if self.local is None:
            return QRect()
        width = max(64, int(self.width() * PIP_SHARE))
        size = self.local[1].size().scaled(QSize(width, width), Qt.AspectRatioMode.KeepAspectRatio)
        return QRect(
            self.width() - size.width() - PIP_MARGIN,
            self.height() - size.height() - PIP_MARGIN,
            size.width(),
            size.height(),
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self.remote is not None:
            painter.drawImage(self.remote_rect(), self.remote[1])
        else:
            painter.setPen(QColor(220, 220, 220))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.note or self.tr("Waiting for video …"))
        if self.local is not None:
            frame = self.local_rect()
            painter.drawImage(frame, self.local[1])
            painter.setPen(QColor(255, 255, 255))
            painter.drawRect(frame.adjusted(0, 0, -1, -1))
        painter.end()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.on_double_click is not None:
            self.on_double_click()


def _tool(text: str, tip: str, *, checkable: bool = False) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setAccessibleName(text)
    button.setToolTip(tip)
    button.setCheckable(checkable)
    return button


class VideoWindow(QWidget):
    """One call's video: the view, the buttons, and the video figures of the last second."""

    def __init__(self, bridge: UaBridge, call_id: str, title: str, default_source: str | None) -> None:
        super().__init__(None, Qt.WindowType.Window)
        self.bridge = bridge
        self.call_id = call_id
        self.active = False
        # Our camera on (the video line sends) or off (recvonly: we only receive).
        self.sending = True
        # What the call sends now, and what camera on or screen sharing off go back to.
        self.source: str | None = default_source
        self.camera_source: str | None = default_source if default_source not in (None, "screen") else "camera"
        self.cameras: list[VideoCamera] = []
        self.camera_problem: str | None = None
        self.setWindowTitle(self.tr("Video with {remote}").format(remote=title))
        self.setWindowIcon(app_icon())
        self.setAccessibleName(self.tr("Video call"))
        self.resize(640, 520)
        self.view = VideoView()
        self.view.on_double_click = self.toggle_full_screen
        self.camera_button = _tool(
            self.tr("Camera"), self.tr("Send my picture, or stop sending it (the video stays)"), checkable=True
        )
        self.screen_button = _tool(
            self.tr("Share screen"), self.tr("Send the screen instead of the camera"), checkable=True
        )
        self.source_button = _tool(self.tr("Source"), self.tr("Choose what the call sends"))
        self.source_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.source_menu = QMenu(self.source_button)
        self.source_menu.aboutToShow.connect(self.list_sources)
        self.source_button.setMenu(self.source_menu)
        self.video_button = _tool(self.tr("Stop video"), self.tr("Drop the video from the call (the audio goes on)"))
        self.full_button = _tool(self.tr("Full screen"), self.tr("Full screen (F11, Esc leaves)"), checkable=True)
        self.camera_button.clicked.connect(self.toggle_camera)
        self.screen_button.clicked.connect(self.toggle_screen)
        self.video_button.clicked.connect(self.toggle_video)
        self.full_button.clicked.connect(self.toggle_full_screen)
        QShortcut(QKeySequence("F11"), self, self.toggle_full_screen)
        QShortcut(QKeySequence("Esc"), self, self.leave_full_screen)
        self.quality_label = plain_label(self.tr("Video: waiting for pictures …"))
        self.quality_label.setAccessibleName(self.tr("Video quality"))
        self.status_label = plain_label()
        self.status_label.setAccessibleName(self.tr("Video status"))
        self.status_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.camera_button, self.screen_button, self.source_button, self.video_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.full_button)
        self.controls = QWidget()
        controls = QVBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addLayout(buttons)
        controls.addWidget(self.quality_label)
        controls.addWidget(self.status_label)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.controls)
        self._relay = GuiRelay(self)
        self._show_source()

    # --- pictures and events --------------------------------------------------------------

    def take(self, kind: str) -> None:
        """The bridge says a picture waits: draw the newest (the others were dropped already)."""
        picture = self.bridge.take_picture(self.call_id, "remote" if kind == "remote" else "local")
        if picture is not None and self.active:
            self.view.show_picture(picture)

    def on_video(self, event: VideoEvent) -> None:
        self.active = event.active
        self.sending = event.sending
        if event.active:
            self.source = event.source
            self.view.note = ""
            self.take("remote")
            self.take("local")
        else:
            self.view.clear()
            self.view.note = self.tr("The call has no video now.")
        if event.source is None or not event.sending:
            self.view.clear_local()
        self._show_source()

    def on_quality(self, event: VideoQualityEvent) -> None:
        self.quality_label.setText(video_quality_text(event))

    def ended(self) -> None:
        self.active = False
        self.view.clear()
        self.view.note = self.tr("The call has ended.")
        for button in (self.camera_button, self.screen_button, self.source_button, self.video_button):
            button.setEnabled(False)

    def _show_source(self) -> None:
        self.camera_button.setChecked(self.sending)
        self.camera_button.setText(self.tr("Camera off") if self.camera_button.isChecked() else self.tr("Camera on"))
        self.camera_button.setAccessibleName(self.camera_button.text())
        self.screen_button.setChecked(self.source == "screen" or str(self.source).startswith("screen:"))
        self.video_button.setText(self.tr("Stop video") if self.active else self.tr("Start video"))
        self.video_button.setAccessibleName(self.video_button.text())
        for button in (self.camera_button, self.screen_button, self.source_button):
            button.setEnabled(self.active)
        if self.sending:
            self.status_label.setText(self.tr("Sending: {source}").format(source=source_name(self.source)))
        else:
            self.status_label.setText(self.tr("Camera off: the other side gets nothing from us."))

    # --- commands -------------------------------------------------------------------------------

    def _fail(self, what: str) -> Callable[[BaseException], None]:
        def report(exc: BaseException) -> None:
            self._show_source()  # the buttons as they were: nothing changed
            self.status_label.setText(cannot(what, str(exc) or type(exc).__name__))

        return report

    def send_from(self, source: str | None) -> None:
        """Have the call send from ``source`` (None: nothing); the UA's VideoEvent confirms it."""
        ua = self.bridge.ua
        if ua is None:
            return
        if source is not None and source != "screen" and not source.startswith("screen:"):
            self.camera_source = source
        self.bridge.run(lambda: ua.set_video_source(self.call_id, source), on_error=self._fail("change the video"))

    def toggle_camera(self) -> None:
        """Camera off or on by re-INVITE: our video line says recvonly or sendrecv (RFC 3264 8.4)."""
        ua = self.bridge.ua
        if ua is None:
            return
        on = not self.sending
        self.bridge.run(
            lambda: ua.set_camera(self.call_id, on),
            on_error=self._fail("turn the camera on" if on else "turn the camera off"),
        )

    def toggle_screen(self) -> None:
        sharing = self.source == "screen" or str(self.source).startswith("screen:")
        self.send_from(self.camera_source if sharing else "screen")

    def toggle_video(self) -> None:
        ua = self.bridge.ua
        if ua is None:
            return
        on = not self.active
        self.video_button.setEnabled(False)

        def done(_: object) -> None:
            self.video_button.setEnabled(True)

        def failed(exc: BaseException) -> None:
            self.video_button.setEnabled(True)
            self._fail("start the video" if on else "stop the video")(exc)

        self.bridge.run(lambda: ua.set_video(self.call_id, on), on_done=done, on_error=failed)

    def list_sources(self) -> None:
        """The menu of sources: the test pattern, the screen, and the cameras found (listed off the GUI thread)."""
        self.source_menu.clear()
        for source in ("pattern", "screen"):
            self._add_source(source, source_name(source))
        if self.cameras:
            for camera in self.cameras:
                self._add_source(camera.source, camera.name)
        waiting = QAction(self.camera_problem or self.tr("Looking for cameras …"), self.source_menu)
        waiting.setEnabled(False)
        if self.camera_problem is not None or not self.cameras:
            self.source_menu.addAction(waiting)
        run_in_thread(self._relay, video_cameras, on_done=self._cameras_found, name="softphone-cameras")

    def _add_source(self, source: str, text: str) -> None:
        action = QAction(text, self.source_menu)
        action.setCheckable(True)
        action.setChecked(source == self.source)
        action.triggered.connect(lambda _=False, s=source: self.send_from(s))
        self.source_menu.addAction(action)

    def _cameras_found(self, found: tuple[list[VideoCamera], str | None]) -> None:
        self.cameras, problem = found
        self.camera_problem = camera_problem_text(problem)
        if self.source_menu.isVisible():
            self.source_menu.hide()
            self.list_sources()
            self.source_menu.popup(self.source_button.mapToGlobal(self.source_button.rect().bottomLeft()))

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.leave_full_screen()
        else:
            self.controls.setVisible(False)
            self.showFullScreen()
            self.full_button.setChecked(True)

    def leave_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        self.controls.setVisible(True)
        self.full_button.setChecked(False)


def camera_problem_text(problem: str | None) -> str | None:
    """Why no camera can be used, in the user's language."""
    if problem is None:
        return None
    if problem == "no camera found":
        return translate("VideoWindow", "No camera found")
    return translate("VideoWindow", "Cameras cannot be used: {why}").format(why=problem)


def video_quality_text(event: VideoQualityEvent) -> str:
    return translate(
        "VideoWindow",
        "Video {codec} {width}×{height} · {fps:.0f} fps · {kbps:.0f} kbit/s · loss {loss:.1f} % · freezes {freezes}",
    ).format(
        codec=event.codec,
        width=event.width,
        height=event.height,
        fps=event.fps,
        kbps=event.bitrate_kbps,
        loss=event.loss_percent,
        freezes=event.freezes,
    )


class RowVideo:
    """A call row's video parts: the Video button (open the window, or add video) and the video figures."""

    def __init__(self, videos: CallVideos, call_id: str) -> None:
        self.videos = videos
        self.call_id = call_id
        self.button = QToolButton()
        self.button.setText(translate("VideoWindow", "Video"))
        self.button.setAccessibleName(translate("VideoWindow", "Video"))
        self.button.setToolTip(translate("VideoWindow", "Show the video, or add video to the call"))
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        self.button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.button.clicked.connect(lambda: videos.open_or_add(call_id))
        self.quality_label: QLabel = plain_label()
        self.quality_label.setAccessibleName(translate("VideoWindow", "Video quality"))
        self.quality_label.setVisible(False)

    def on_quality(self, event: VideoQualityEvent) -> None:
        self.quality_label.setText(video_quality_text(event))
        self.quality_label.setVisible(True)


class CallVideos:
    """The video windows of the calls, opened when a call's video starts, fed by the bridge."""

    def __init__(self, bridge: UaBridge, title: Callable[[str], str], default_source: Callable[[], str | None]) -> None:
        self.bridge = bridge
        self.windows: dict[str, VideoWindow] = {}
        self.rows: dict[str, RowVideo] = {}
        self._title = title
        self._default_source = default_source
        self.show_error: Callable[[str], None] = lambda _: None
        bridge.video_picture.connect(self.on_picture)

    def row(self, call_id: str) -> RowVideo:
        row = self.rows.get(call_id)
        if row is None:
            row = self.rows[call_id] = RowVideo(self, call_id)
        return row

    def window(self, call_id: str) -> VideoWindow:
        window = self.windows.get(call_id)
        if window is None:
            window = VideoWindow(self.bridge, call_id, self._title(call_id), self._default_source())
            self.windows[call_id] = window
        return window

    def on_picture(self, call_id: str, kind: str) -> None:
        window = self.windows.get(call_id)
        if window is not None:
            window.take(kind)
        else:
            self.bridge.take_picture(call_id, "remote" if kind == "remote" else "local")  # no window: dropped

    def on_video(self, event: VideoEvent) -> None:
        window = self.window(event.call_id)
        was_active = window.active
        window.on_video(event)
        if event.active and not was_active:
            window.show()
            window.raise_()

    def on_quality(self, event: VideoQualityEvent) -> None:
        row = self.rows.get(event.call_id)
        if row is not None:
            row.on_quality(event)
        window = self.windows.get(event.call_id)
        if window is not None:
            window.on_quality(event)

    def open_or_add(self, call_id: str) -> None:
        """Show the call's video window; a call without video gets it added (a re-INVITE)."""
        window = self.windows.get(call_id)
        if window is not None and window.active:
            window.show()
            window.raise_()
            return
        ua = self.bridge.ua
        if ua is None:
            return
        self.bridge.run(
            lambda: ua.set_video(call_id, True),
            on_error=lambda exc: self.show_error(cannot("start the video", str(exc) or type(exc).__name__)),
        )

    def ended(self, call_id: str) -> None:
        window = self.windows.pop(call_id, None)
        self.rows.pop(call_id, None)
        if window is not None:
            window.ended()
            window.close()
            window.deleteLater()

    def close_all(self) -> None:
        for call_id in list(self.windows):
            self.ended(call_id)

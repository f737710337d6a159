"""The settings dialog's Video page: video in calls by default, what calls send, the codec order.

The cameras are listed on a worker thread (listing loads FFmpeg); until then,
and when there is none, the page says so. ``video_settings`` turns the saved
preferences into the UA's :class:`~softphone.ua.VideoSettings`.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate
from softphone.gui.video_window import camera_problem_text
from softphone.gui.workers import GuiRelay, run_in_thread
from softphone.store import Settings, VideoPreferences
from softphone.ua import VideoCamera, VideoSettings, video_cameras

# The sources every phone has, then the cameras found; "none" sends nothing (receive only).
SOURCES = (
    ("camera", QT_TRANSLATE_NOOP("VideoPage", "Camera (the first one found)")),
    ("pattern", QT_TRANSLATE_NOOP("VideoPage", "Test pattern")),
    ("screen", QT_TRANSLATE_NOOP("VideoPage", "Screen")),
    ("none", QT_TRANSLATE_NOOP("VideoPage", "Nothing (receive only)")),
)
CODEC_ORDERS = (
    (["VP8", "H264"], QT_TRANSLATE_NOOP("VideoPage", "VP8, then H.264")),
    (["H264", "VP8"], QT_TRANSLATE_NOOP("VideoPage", "H.264, then VP8")),
    (["VP8"], QT_TRANSLATE_NOOP("VideoPage", "VP8 only")),
    (["H264"], QT_TRANSLATE_NOOP("VideoPage", "H.264 only")),
)


def video_settings(preferences: VideoPreferences) -> VideoSettings:
    """What the UA's video calls send and accept, from the saved preferences."""
    source = None if preferences.source == "none" else preferences.source
    codecs = tuple(c for c in preferences.codecs if c in ("VP8", "H264")) or ("VP8", "H264")
    return VideoSettings(source=source, codecs=codecs)


class VideoPage(QWidget):
    """Video on by default, the source and the codec order; the cameras found, or why there is none."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        video = settings.video
        self.enabled = QCheckBox(self.tr("&Offer video in the calls I make"))
        self.enabled.setAccessibleName(self.tr("Offer video in calls"))
        self.enabled.setChecked(video.enabled)
        self.source = QComboBox()
        self.source.setAccessibleName(self.tr("Video source"))
        for value, text in SOURCES:
            self.source.addItem(translate("VideoPage", text), value)
        self._select(video.source)
        self.codecs = QComboBox()
        self.codecs.setAccessibleName(self.tr("Video codecs"))
        for order, text in CODEC_ORDERS:
            self.codecs.addItem(translate("VideoPage", text), order)
        index = next((i for i, (order, _t) in enumerate(CODEC_ORDERS) if order == video.codecs), 0)
        self.codecs.setCurrentIndex(index)
        self.cameras_label = QLabel(self.tr("Looking for cameras …"))
        self.cameras_label.setAccessibleName(self.tr("Cameras"))
        self.cameras_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow(self.tr("&Send:"), self.source)
        form.addRow(self.tr("Cameras:"), self.cameras_label)
        form.addRow(self.tr("C&odecs:"), self.codecs)
        hint = QLabel(
            self.tr(
                "Video is encrypted as the call's sound is (the account's media encryption). "
                "A call offering video can always be answered without it."
            )
        )
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.enabled)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addStretch(1)
        self.cameras: list[VideoCamera] | None = None
        self._relay = GuiRelay(self)
        run_in_thread(self._relay, video_cameras, on_done=self._found, name="softphone-cameras")

    def _select(self, value: str) -> None:
        index = self.source.findData(value)
        if index < 0:
            self.source.addItem(value, value)  # a file or a camera chosen before
            index = self.source.count() - 1
        self.source.setCurrentIndex(index)

    def _found(self, found: tuple[list[VideoCamera], str | None]) -> None:
        cameras, problem = found
        self.cameras = cameras
        chosen = self.source.currentData()
        for camera in cameras:
            if self.source.findData(camera.source) < 0:
                self.source.addItem(camera.name, camera.source)
        self._select(chosen)
        names = ", ".join(camera.name for camera in cameras)
        text = camera_problem_text(problem)
        self.cameras_label.setText(f"{names} — {text}" if names and text else text or names)

    def collect_into(self, settings: Settings) -> None:
        settings.video.enabled = self.enabled.isChecked()
        settings.video.source = str(self.source.currentData())
        settings.video.codecs = list(self.codecs.currentData())

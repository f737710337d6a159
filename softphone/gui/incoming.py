"""The incoming-call window: who calls (name, number, photo) with Answer, Decline and Busy.

The photo is the caller's Call-Info icon when it is a ``file:`` or
``http(s):`` URL (fetched on a worker thread, with a short timeout; a
placeholder until then), else the contact's photo from the store, else the
application icon. The window works without the main window being shown.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Callable
from urllib.parse import unquote, urlparse

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from softphone.gui.buddy_model import avatar
from softphone.gui.i18n import translate
from softphone.gui.icons import app_icon, icon
from softphone.gui.style import ACCEPT, REFUSE, accent
from softphone.gui.text import plain_label
from softphone.gui.workers import GuiRelay, run_in_thread
from softphone.store import Contact
from softphone.ua import IncomingCallEvent

log = logging.getLogger("softphone.gui.incoming")

PHOTO_SIZE = 96
PHOTO_TIMEOUT = 5.0
MAX_PHOTO_BYTES = 2_000_000


def caller_number(uri: str) -> str:
    """The user part (number or name) of a SIP URI, or a tel: number."""
    text = uri
    if text.lower().startswith("tel:"):
        return text[4:].split(";", 1)[0]
    if ":" in text:
        text = text.split(":", 1)[1]
    return text.split(";", 1)[0]


def fetch_photo(url: str) -> bytes | None:
    """The picture at an http(s) ``url`` (blocking, with a short timeout); None when it is too large."""
    with urllib.request.urlopen(url, timeout=PHOTO_TIMEOUT) as response:
        data: bytes = response.read(MAX_PHOTO_BYTES + 1)
    return data if len(data) <= MAX_PHOTO_BYTES else None


class IncomingCallWindow(QWidget):
    """One ringing call. ``answer``, ``decline`` (603) and ``busy`` (486) call the functions given."""

    def __init__(
        self,
        event: IncomingCallEvent,
        *,
        contact: Contact | None,
        on_answer: Callable[[str], None],
        on_decline: Callable[[str, int], None],
        on_answer_audio: Callable[[str], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window | Qt.WindowType.WindowStaysOnTopHint)
        self.call_id = event.call_id
        self.call_event = event
        self._on_answer = on_answer
        self._on_decline = on_decline
        self._on_answer_audio = on_answer_audio
        # The caller offers video we could take: say so, and offer to answer with the audio only.
        self.video = event.video
        self.decided = False
        name = event.remote_display_name or (contact.name if contact is not None else None)
        number = caller_number(event.remote_uri)
        self.setWindowTitle(self.tr("Incoming call from {who}").format(who=name or number))
        self.setWindowIcon(app_icon())
        self.setAccessibleName(self.tr("Incoming call"))

        self.photo = QLabel()
        self.photo.setFixedSize(PHOTO_SIZE, PHOTO_SIZE)
        self.photo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.photo.setAccessibleName(self.tr("Caller photo"))
        self.photo.setPixmap(avatar(Contact(name or number), self.palette(), PHOTO_SIZE))
        self.name_label = plain_label(name or number)
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.name_label.setFont(font)
        self.name_label.setAccessibleName(self.tr("Caller name"))
        self.number_label = plain_label(event.remote_uri)
        self.number_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.number_label.setAccessibleName(self.tr("Caller address"))
        identity = plain_label(
            self.tr("Identity: {asserted_identity}").format(asserted_identity=event.asserted_identity)
            if event.asserted_identity
            else ""
        )
        identity.setAccessibleName(self.tr("Asserted identity"))
        identity.setVisible(bool(event.asserted_identity))
        self.status = plain_label(self.tr("is calling you with video") if event.video else self.tr("is calling you"))
        self.status.setAccessibleName(self.tr("Call status"))
        self.waiting_label = QLabel()
        self.waiting_label.setAccessibleName(self.tr("Calls waiting"))
        self.waiting_label.setVisible(False)

        self.answer_button = QPushButton(icon("phone"), self.tr("&Answer"))
        self.answer_button.setAccessibleName(self.tr("Answer"))
        self.answer_button.setToolTip(self.tr("Answer (Ctrl+Return)"))
        self.decline_button = QPushButton(icon("hangup"), self.tr("&Decline"))
        self.decline_button.setAccessibleName(self.tr("Decline"))
        self.decline_button.setToolTip(self.tr("Decline (Ctrl+D)"))
        self.busy_button = QPushButton(self.tr("&Busy"))
        self.audio_button = QPushButton(icon("phone"), self.tr("Answer &without video"))
        self.audio_button.setAccessibleName(self.tr("Answer without video"))
        self.audio_button.setToolTip(self.tr("Answer with audio only; the video is declined (Ctrl+Shift+Return)"))
        self.audio_button.setVisible(event.video and on_answer_audio is not None)
        self.audio_button.clicked.connect(self.answer_audio)
        if event.video:
            self.answer_button.setText(self.tr("&Answer with video"))
            self.answer_button.setAccessibleName(self.tr("Answer with video"))
        accent(self.answer_button, ACCEPT, padding="8px 18px")
        accent(self.decline_button, REFUSE, padding="8px 18px")
        self.busy_button.setMinimumHeight(self.answer_button.sizeHint().height())
        self.busy_button.setAccessibleName(self.tr("Busy"))
        self.busy_button.setToolTip(self.tr("Reply busy (Ctrl+B)"))
        self.answer_button.clicked.connect(self.answer)
        self.decline_button.clicked.connect(self.decline)
        self.busy_button.clicked.connect(self.busy)
        for keys, slot in (
            ("Ctrl+Return", self.answer),
            ("Ctrl+Shift+Return", self.answer_audio),
            ("Ctrl+D", self.decline),
            ("Ctrl+B", self.busy),
        ):
            QShortcut(QKeySequence(keys), self, slot)

        text = QVBoxLayout()
        text.addWidget(self.name_label)
        text.addWidget(self.number_label)
        text.addWidget(identity)
        text.addWidget(self.status)
        text.addWidget(self.waiting_label)
        top = QHBoxLayout()
        top.addWidget(self.photo)
        top.addLayout(text, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.answer_button)
        buttons.addWidget(self.audio_button)
        buttons.addWidget(self.decline_button)
        buttons.addWidget(self.busy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 14)
        layout.setSpacing(14)
        top.setSpacing(16)
        buttons.setSpacing(8)
        layout.addLayout(top)
        layout.addLayout(buttons)
        self.setMinimumWidth(380)
        self.answer_button.setDefault(True)

        self._relay = GuiRelay(self)
        self._load_photo(event.photo_url, contact)

    # --- photo ------------------------------------------------------------------------------

    def _load_photo(self, url: str | None, contact: Contact | None) -> None:
        if url:
            parsed = urlparse(url)
            if parsed.scheme == "file":
                pixmap = QPixmap(unquote(parsed.path))
                if not pixmap.isNull():
                    self._set_pixmap(pixmap)
                    return
            elif parsed.scheme in ("http", "https"):
                if contact is not None and contact.photo:
                    self._set_photo_bytes(contact.photo)  # shown until the caller's own arrives
                run_in_thread(
                    self._relay,
                    lambda: fetch_photo(url),
                    on_done=self._photo_fetched,
                    on_error=lambda exc: log.info("the caller's photo could not be fetched: %s", exc),
                    name="softphone-photo",
                )
                return
        if contact is not None and contact.photo:
            self._set_photo_bytes(contact.photo)

    def _photo_fetched(self, data: bytes | None) -> None:
        if data is not None:
            self._set_photo_bytes(data)

    def _set_photo_bytes(self, data: bytes) -> None:
        pixmap = QPixmap()
        if pixmap.loadFromData(data):
            self._set_pixmap(pixmap)

    def _set_pixmap(self, pixmap: QPixmap) -> None:
        self.photo.setPixmap(
            pixmap.scaled(
                PHOTO_SIZE,
                PHOTO_SIZE,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    # --- actions ------------------------------------------------------------------------------

    def set_waiting(self, count: int) -> None:
        """How many more calls ring behind this one."""
        self.waiting_label.setText(
            translate("IncomingCallWindow", "%n more call(s) waiting", "", count) if count else ""
        )
        self.waiting_label.setVisible(count > 0)

    def answer(self) -> None:
        if self.decided:
            return
        self.decided = True
        self.status.setText(self.tr("answering …"))
        self._on_answer(self.call_id)

    def answer_audio(self) -> None:
        """Answer with the audio only (the offered video declined); as Answer without a video offer."""
        if not self.video or self._on_answer_audio is None:
            self.answer()
            return
        if self.decided:
            return
        self.decided = True
        self.status.setText(self.tr("answering without video …"))
        self._on_answer_audio(self.call_id)

    def decline(self) -> None:
        self._decline(603, self.tr("declining …"))

    def busy(self) -> None:
        self._decline(486, self.tr("replying busy …"))

    def _decline(self, code: int, text: str) -> None:
        if self.decided:
            return
        self.decided = True
        self.status.setText(text)
        self._on_decline(self.call_id, code)

    def failed(self, message: str) -> None:
        """The command did not go through: let the user try again."""
        self.decided = False
        self.status.setText(message)

"""The call window: one row per call in progress, with every call action and a live quality panel.

Each :class:`CallRow` shows the remote party, the state and a timer, and
offers mute, hold/resume, a DTMF pad, blind transfer (typed address or a
contact), attended transfer to another call, recording and hang-up. Its
quality panel is fed by ``QualityEvent`` (loss, jitter, RTT, MOS, and a small
MOS graph drawn with ``QPainter``) and shows ``MediaWarningEvent`` warnings
such as one-way audio. Keyboard shortcuts of the window act on the current
call (the focused row, else the newest); every control has an accessible name.

All UA commands go through :class:`~softphone.gui.bridge.UaBridge` and never
block: the buttons reflect what the UA reports back.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QKeySequence, QPainter, QPainterPath, QPaintEvent, QPalette, QPen, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.bridge import UaBridge
from softphone.gui.dial_pad import DialPad
from softphone.gui.dialing import dial_target
from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate
from softphone.gui.icons import app_icon, icon
from softphone.gui.style import REFUSE, accent
from softphone.gui.text import plain_label, plain_tooltip
from softphone.gui.video_window import CallVideos
from softphone.store import Store
from softphone.ua import (
    CallEvent,
    ConferenceEvent,
    Encryption,
    MediaWarningEvent,
    QualityEvent,
    RecordingEvent,
    TransferEvent,
    UserAgent,
    VideoEvent,
    VideoQualityEvent,
    cannot,
    why,
)

# Mute is a facade command of newer UAs; without it the button stays disabled.
MUTE_SUPPORTED = hasattr(UserAgent, "set_mute")
GRAPH_POINTS = 60
MOS_MIN, MOS_MAX = 1.0, 5.0  # the scale; the E-model's best is 4.5, drawn below the top edge
STATE_TEXT = {
    "calling": QT_TRANSLATE_NOOP("CallRow", "calling …"),
    "ringing": QT_TRANSLATE_NOOP("CallRow", "ringing …"),
    "early": QT_TRANSLATE_NOOP("CallRow", "ringing (early media) …"),
    "confirmed": QT_TRANSLATE_NOOP("CallRow", "connected"),
    "held": QT_TRANSLATE_NOOP("CallRow", "on hold"),
    "ended": QT_TRANSLATE_NOOP("CallRow", "ended"),
}
METER_POLL_MS = 100  # audio levels are asked for through the bridge this often
METER_FLOOR_DB = -60.0  # an empty meter; full scale is 0 dBFS
MERGE_SHORTCUT = "Ctrl+Shift+M"

# Window shortcuts: (key sequence, row method, what it does)
SHORTCUTS: tuple[tuple[str, str, str], ...] = (
    ("Ctrl+M", "toggle_mute", "mute / unmute"),
    ("Ctrl+H", "toggle_hold", "hold / resume"),
    ("Ctrl+K", "toggle_dialpad", "DTMF pad"),
    ("Ctrl+T", "open_transfer", "blind transfer"),
    ("Ctrl+Shift+T", "open_attended_transfer", "attended transfer"),
    ("Ctrl+R", "toggle_record", "record / stop recording"),
    ("Ctrl+E", "hangup", "hang up"),
)


def _tool(text: str, name: str, icon_name: str | None, tip: str, *, checkable: bool = False) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setAccessibleName(name)
    button.setToolTip(tip)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
    if icon_name is not None:
        button.setIcon(icon(icon_name))
    button.setCheckable(checkable)
    button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return button


class QualityGraph(QWidget):
    """MOS over the last minute, drawn with the palette's colours (follows the light/dark theme)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: deque[float] = deque(maxlen=GRAPH_POINTS)
        self.setMinimumSize(180, 56)
        self.setAccessibleName(self.tr("Call quality graph"))
        self.setToolTip(self.tr("MOS over the last minute (1 bad … 4.5 excellent)"))

    def add(self, mos: float) -> None:
        self.values.append(max(MOS_MIN, min(MOS_MAX, mos)))
        self.setAccessibleDescription(self.tr("MOS {mos:.1f}").format(mos=mos))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        painter.fillRect(rect, palette.color(QPalette.ColorRole.Base))
        grid = QPen(palette.color(QPalette.ColorRole.Mid))
        grid.setStyle(Qt.PenStyle.DotLine)
        painter.setPen(grid)
        for level in (2.0, 3.0, 4.0):
            y = self._y(level, rect)
            painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid)))
        painter.drawRect(rect)
        if len(self.values) >= 1:
            step = rect.width() / max(1, GRAPH_POINTS - 1)
            start = rect.right() - step * (len(self.values) - 1)
            path = QPainterPath()
            for i, value in enumerate(self.values):
                point = QPointF(start + i * step, self._y(value, rect))
                if i == 0:
                    path.moveTo(point)
                else:
                    path.lineTo(point)
            pen = QPen(palette.color(QPalette.ColorRole.Highlight))
            pen.setWidthF(2.0)
            painter.setPen(pen)
            painter.drawPath(path)
        painter.end()

    @staticmethod
    def _y(value: float, rect: QRectF) -> float:
        return rect.bottom() - (value - MOS_MIN) / (MOS_MAX - MOS_MIN) * rect.height()


class TransferDialog(QDialog):
    """Blind transfer: type an address or pick a contact."""

    def __init__(self, remote: str, store: Store | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Transfer {remote}").format(remote=remote))
        self.setAccessibleName(self.tr("Blind transfer"))
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.target = QLineEdit()
        self.target.setPlaceholderText(self.tr("sip:carol@example.com or a number"))
        self.target.setAccessibleName(self.tr("Transfer target"))
        form.addRow(self.tr("&To:"), self.target)
        layout.addLayout(form)
        self.contacts = QListWidget()
        self.contacts.setAccessibleName(self.tr("Contacts to transfer to"))
        if store is not None:
            names: list[str] = []
            for contact in store.contacts.list():
                for address in [*contact.uris, *contact.phones]:
                    item = QListWidgetItem(f"{contact.name} — {address}")
                    item.setData(Qt.ItemDataRole.UserRole, address)
                    self.contacts.addItem(item)
                    names.append(address)
            self.target.setCompleter(QCompleter(names, self))
        self.contacts.currentItemChanged.connect(self._picked)
        self.contacts.itemDoubleClicked.connect(lambda _item: self.accept())
        layout.addWidget(self.contacts)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(self.tr("&Transfer"))
        ok.setAccessibleName(self.tr("Transfer now"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName(self.tr("Cancel transfer"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def _picked(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.target.setText(str(item.data(Qt.ItemDataRole.UserRole)))


class AttendedTransferDialog(QDialog):
    """Attended transfer: connect this call's peer with the peer of another of our calls."""

    def __init__(self, remote: str, others: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Connect {remote} with …").format(remote=remote))
        self.setAccessibleName(self.tr("Attended transfer"))
        layout = QVBoxLayout(self)
        self.other = QComboBox()
        self.other.setAccessibleName(self.tr("Call to connect with"))
        for call_id, text in others:
            self.other.addItem(text, call_id)
        layout.addWidget(QLabel(self.tr("Connect with the call:")))
        layout.addWidget(self.other)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(self.tr("&Connect"))
        ok.setAccessibleName(self.tr("Connect the calls"))
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName(self.tr("Cancel attended transfer"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def chosen(self) -> str | None:
        data = self.other.currentData()
        return str(data) if data is not None else None


class CallRow(QFrame):
    """One call and its actions."""

    def __init__(self, window: CallWindow, event: CallEvent) -> None:
        super().__init__(window)
        self.window_ = window
        self.bridge = window.bridge
        self.call_id = event.call_id
        self.call_event = event
        self.answered_at: float | None = None
        self.local_hold = False
        self.muted = False
        self.recording_path: str | None = None
        self._locked: bool | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName(self.tr("Call with {remote_text}").format(remote_text=self.remote_text))

        # The contact's (or the caller's) name, large; the address under it, small.
        self.remote_label = plain_label(self.remote_name or self.call_event.remote_uri)
        font = self.remote_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.remote_label.setFont(font)
        self.remote_label.setAccessibleName(self.tr("Remote party"))
        self.address_label = plain_label(self.call_event.remote_uri)
        self.address_label.setAccessibleName(self.tr("Remote address"))
        self.address_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.address_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.address_label.setVisible(self.remote_name is not None)
        self.state_label = plain_label()
        self.state_label.setAccessibleName(self.tr("Call state"))
        self.timer_label = plain_label(self.tr("0:00"))
        self.timer_label.setAccessibleName(self.tr("Call duration"))
        header = QHBoxLayout()
        header.addWidget(self.remote_label, 1)
        header.addWidget(self.state_label)
        header.addWidget(self.timer_label)

        # Media encryption: a closed lock with the suite and key exchange, or an open one with the reason.
        self.lock_icon = QLabel()
        self.lock_icon.setAccessibleName(self.tr("Encryption icon"))
        self.lock_icon.setFixedSize(16, 16)
        self.security_label = plain_label()
        self.security_label.setAccessibleName(self.tr("Encryption"))
        self.security_label.setWordWrap(True)
        security = QHBoxLayout()
        security.addWidget(self.lock_icon)
        security.addWidget(self.security_label, 1)
        self.lock_icon.setVisible(False)
        self.security_label.setVisible(False)

        mute_supported = MUTE_SUPPORTED
        self.mute_button = _tool(
            self.tr("Mute"), self.tr("Mute"), "mute", self.tr("Mute the microphone (Ctrl+M)"), checkable=True
        )
        self.mute_button.setEnabled(mute_supported)
        self.hold_button = _tool(
            self.tr("Hold"), self.tr("Hold"), "hold", self.tr("Hold / resume (Ctrl+H)"), checkable=True
        )
        self.dtmf_button = _tool(
            self.tr("Keypad"), self.tr("DTMF keypad"), "dialpad", self.tr("DTMF keypad (Ctrl+K)"), checkable=True
        )
        self.transfer_button = _tool(
            self.tr("Transfer"), self.tr("Blind transfer"), "transfer", self.tr("Blind transfer (Ctrl+T)")
        )
        self.attended_button = _tool(
            self.tr("Connect"),
            self.tr("Attended transfer"),
            "transfer",
            self.tr("Attended transfer to another call (Ctrl+Shift+T)"),
        )
        self.record_button = _tool(
            self.tr("Record"), self.tr("Record"), "record", self.tr("Record the call (Ctrl+R)"), checkable=True
        )
        self.hangup_button = _tool(self.tr("Hang up"), self.tr("Hang up"), "hangup", self.tr("Hang up (Ctrl+E)"))
        accent(self.hangup_button, REFUSE, padding="2px 10px", radius=4)
        self.split_button = _tool(
            self.tr("Split"),
            self.tr("Split from the conference"),
            "phone",
            self.tr("Take this call out of the conference"),
        )
        self.split_button.setVisible(False)
        self.split_button.clicked.connect(self.split)
        self.video = window.videos.row(self.call_id)
        self.in_conference = False
        self.levels_pending = False
        self.level_polls = 0  # answers received, for tests and diagnostics
        self.mic_meter = self._meter(
            self.tr("Microphone level as sent"), self.tr("after echo cancellation, noise suppression and gain")
        )
        self.speaker_meter = self._meter(self.tr("Speaker level"), "spk")
        self.mute_button.clicked.connect(self.toggle_mute)
        self.hold_button.clicked.connect(self.toggle_hold)
        self.dtmf_button.clicked.connect(self.toggle_dialpad)
        self.transfer_button.clicked.connect(self.open_transfer)
        self.attended_button.clicked.connect(self.open_attended_transfer)
        self.record_button.clicked.connect(self.toggle_record)
        self.hangup_button.clicked.connect(self.hangup)
        actions = QHBoxLayout()
        for button in (
            self.mute_button,
            self.hold_button,
            self.dtmf_button,
            self.transfer_button,
            self.attended_button,
            self.record_button,
            self.video.button,
            self.split_button,
            self.hangup_button,
        ):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.mic_meter)
        actions.addWidget(self.speaker_meter)

        self.dialpad = DialPad(self.send_dtmf, self.tr("DTMF keypad"))
        self.dialpad.setVisible(False)

        self.quality_label = plain_label(self.tr("Quality: waiting for media …"))
        self.quality_label.setAccessibleName(self.tr("Call quality"))
        self.graph = QualityGraph()
        self.warning_label = plain_label()
        self.warning_label.setAccessibleName(self.tr("Media warning"))
        self.warning_label.setWordWrap(True)
        self.warning_label.setVisible(False)
        self.transfer_label = plain_label()
        self.transfer_label.setAccessibleName(self.tr("Transfer status"))
        self.transfer_label.setVisible(False)
        quality = QHBoxLayout()
        quality.addWidget(self.quality_label, 1)
        quality.addWidget(self.graph)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.address_label)
        layout.addLayout(security)
        layout.addLayout(actions)
        layout.addWidget(self.dialpad)
        layout.addLayout(quality)
        layout.addWidget(self.video.quality_label)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.transfer_label)
        self.transfer_dialog: TransferDialog | None = None
        self.attended_dialog: AttendedTransferDialog | None = None
        self.update_event(event)

    @staticmethod
    def _meter(name: str, label: str) -> QProgressBar:
        meter = QProgressBar()
        meter.setRange(0, 100)
        meter.setValue(0)
        meter.setOrientation(Qt.Orientation.Vertical)
        meter.setTextVisible(False)
        meter.setFixedSize(10, 40)
        meter.setAccessibleName(name)
        meter.setToolTip(plain_tooltip(f"{name} ({label})"))
        meter.setVisible(False)  # shown once the UA reports levels (only with sound devices)
        return meter

    # --- state --------------------------------------------------------------------------------

    @property
    def remote_name(self) -> str | None:
        """Who the call is with, by name: the contact's name for the address, else the name the call
        gave (a caller's display name), else None."""
        return self._contact_name() or self.call_event.remote_display_name or None

    @property
    def remote_text(self) -> str:
        name = self.remote_name
        return f"{name} <{self.call_event.remote_uri}>" if name else self.call_event.remote_uri

    def _contact_name(self) -> str | None:
        """The contact's name for the remote URI, looked up once per call."""
        if not hasattr(self, "_contact_name_cache"):
            store = self.window_.store
            contact = None
            if store is not None:
                try:
                    contact = store.contacts.find_by_uri(self.call_event.remote_uri)
                except Exception:
                    contact = None
            self._contact_name_cache = contact.name if contact is not None else None
        return self._contact_name_cache

    @property
    def established(self) -> bool:
        return self.call_event.state in ("confirmed", "held")

    def update_event(self, event: CallEvent) -> None:
        self.call_event = event
        if event.state in ("confirmed", "held") and self.answered_at is None:
            self.answered_at = time.monotonic()
        text = translate("CallRow", STATE_TEXT[event.state]) if event.state in STATE_TEXT else event.state
        if event.state == "held" and not self.local_hold:
            text = self.tr("held by the other party")
        if event.state == "ended" and (event.code or event.reason):
            text = self.tr("ended: {why}").format(why=why(event.code, event.reason))
        if self.in_conference and event.state == "confirmed":
            text = self.tr("conference")
        self.state_label.setText(text)
        self.remote_label.setText(self.remote_name or event.remote_uri)
        self.address_label.setText(event.remote_uri)
        self.address_label.setVisible(self.remote_name is not None)
        self.show_encryption(event.encryption)
        if event.state == "ended":
            self.stop_meters()
        self._enable()
        self.tick()

    @property
    def encrypted(self) -> bool | None:
        """True for a closed lock, False for an open one, None while nothing is known."""
        return self._locked

    def show_encryption(self, encryption: Encryption | None) -> None:
        """Closed lock: ``SRTP AES-GCM-256, keys by DTLS, fingerprint verified``; open lock: why not."""
        if encryption is None:
            return
        self._locked = encryption.encrypted
        name = "lock" if encryption.encrypted else "lock-open"
        self.lock_icon.setPixmap(icon(name).pixmap(16, 16))
        self.lock_icon.setToolTip(
            plain_tooltip(self.tr("Encrypted") if encryption.encrypted else self.tr("Not encrypted"))
        )
        self.security_label.setText(encryption.describe())
        self.lock_icon.setVisible(True)
        self.security_label.setVisible(True)

    def _enable(self) -> None:
        up = self.established
        for button in (self.hold_button, self.dtmf_button, self.transfer_button, self.record_button, self.video.button):
            button.setEnabled(up)
        self.mute_button.setEnabled(up and MUTE_SUPPORTED)
        self.attended_button.setEnabled(up and len(self.window_.other_calls(self.call_id)) > 0)
        self.hangup_button.setEnabled(self.call_event.state != "ended")
        self.split_button.setVisible(self.in_conference)
        self.split_button.setEnabled(up and self.in_conference)
        self.hold_button.setChecked(self.local_hold)
        self.hold_button.setText(self.tr("Resume") if self.local_hold else self.tr("Hold"))
        self.hold_button.setAccessibleName(self.tr("Resume") if self.local_hold else self.tr("Hold"))

    def tick(self) -> None:
        if self.answered_at is None:
            return
        seconds = int(time.monotonic() - self.answered_at)
        hours, rest = divmod(seconds, 3600)
        text = f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
        self.timer_label.setText(text)

    def on_quality(self, event: QualityEvent) -> None:
        if event.encryption is not None:
            self.show_encryption(event.encryption)
        rtt = f"{event.rtt_ms:.0f} ms" if event.rtt_ms is not None else "–"
        text = self.tr("MOS {mos:.1f} · loss {loss_percent:.1f} % · jitter {jitter_ms:.0f} ms · RTT {rtt}").format(
            mos=event.mos, loss_percent=event.loss_percent, jitter_ms=event.jitter_ms, rtt=rtt
        )
        path = self.path_words(event.path)
        self.quality_label.setText(f"{text} · {path}" if path else text)
        if event.path_local and event.path_remote:
            self.quality_label.setToolTip(
                self.tr("Media path: {local} → {remote}").format(local=event.path_local, remote=event.path_remote)
            )
        self.graph.add(event.mos)

    def path_words(self, path: str | None) -> str:
        """The way the media takes, in words: ICE's choice, or how it goes without ICE."""
        if path == "host":
            return self.tr("direct")
        if path == "srflx":
            return self.tr("through the NAT")
        if path == "relay":
            return self.tr("relayed (TURN)")
        if path == "direct":
            return self.tr("to the SDP address")
        if path == "checking":
            return self.tr("finding a path")
        if path == "failed":
            return self.tr("no path")
        return ""

    def on_warning(self, event: MediaWarningEvent) -> None:
        if event.warning == "one_way_audio" and not event.active:
            self.warning_label.setVisible(False)
            self.warning_label.setText("")
            return
        prefix = "⚠ " + self.tr("One-way audio:") + " " if event.warning == "one_way_audio" else "⚠ "
        self.warning_label.setText(prefix + event.message)
        self.warning_label.setVisible(True)

    def on_recording(self, event: RecordingEvent) -> None:
        if event.active:
            self.recording_path = event.path
            self.record_button.setChecked(True)
            self.record_button.setText(self.tr("Stop rec."))
            self.record_button.setAccessibleName(self.tr("Stop recording"))
        else:
            self.recording_path = None
            self.record_button.setChecked(False)
            self.record_button.setText(self.tr("Record"))
            self.record_button.setAccessibleName(self.tr("Record"))
            note = self.tr("Recording saved: {path} ({seconds:.0f} s)").format(path=event.path, seconds=event.seconds)
            if event.error:
                note += " — " + self.tr("incomplete: {error}").format(error=event.error)
            self.transfer_label.setText(note)
            self.transfer_label.setVisible(True)

    def set_conference(self, member: bool) -> None:
        self.in_conference = member
        if member:
            self.local_hold = False  # the UA resumed it
        self.update_event(self.call_event)

    def on_levels(self, levels: tuple[float, float] | None) -> None:
        """Microphone and speaker RMS levels from the UA (None: no sound devices, no meters)."""
        self.levels_pending = False
        self.level_polls += 1
        if self.window_.rows.get(self.call_id) is not self:
            return  # the row was removed meanwhile
        if levels is None or self.call_event.state == "ended":
            self.mic_meter.setVisible(False)
            self.speaker_meter.setVisible(False)
            return
        for meter, level in zip((self.mic_meter, self.speaker_meter), levels, strict=True):
            db = 20.0 * math.log10(level) if level > 0 else METER_FLOOR_DB
            meter.setValue(round(100 * max(0.0, min(1.0, 1.0 - db / METER_FLOOR_DB))))
            meter.setVisible(True)

    def stop_meters(self) -> None:
        """The call ended: its meters go empty and away (the window stops asking for levels)."""
        for meter in (self.mic_meter, self.speaker_meter):
            meter.setValue(0)
            meter.setVisible(False)

    def on_transfer(self, event: TransferEvent) -> None:
        code = f" ({event.code})" if event.code is not None else ""
        self.transfer_label.setText(
            self.tr("Transfer to {target}: {state}{code}").format(target=event.target, state=event.state, code=code)
        )
        self.transfer_label.setVisible(True)

    # --- actions (every one goes through the bridge and returns at once) ----------------------

    def _fail(self, what: str) -> Callable[[BaseException], None]:
        def report(exc: BaseException) -> None:
            self.window_.show_error(cannot(what, str(exc) or type(exc).__name__))
            self._enable()

        return report

    def toggle_mute(self) -> None:
        if not self.mute_button.isEnabled():
            return
        muted = not self.muted

        def done(_: object) -> None:
            self.muted = muted
            self.mute_button.setChecked(muted)
            self.mute_button.setText(self.tr("Unmute") if muted else self.tr("Mute"))
            self.mute_button.setAccessibleName(self.tr("Unmute") if muted else self.tr("Mute"))

        ua = self.window_.bridge.ua
        if ua is None or not hasattr(ua, "set_mute"):
            return
        self.bridge.call(ua.set_mute, self.call_id, muted, on_done=done, on_error=self._fail("mute the call"))
        self.mute_button.setChecked(muted)

    def toggle_hold(self) -> None:
        ua = self.bridge.ua
        if ua is None or not self.established:
            self.hold_button.setChecked(self.local_hold)
            return
        want = not self.local_hold

        def done(_: object) -> None:
            self.local_hold = want
            self.update_event(self.call_event)

        if want:
            self.bridge.run(lambda: ua.hold(self.call_id), on_done=done, on_error=self._fail("hold the call"))
        else:
            self.bridge.run(lambda: ua.resume(self.call_id), on_done=done, on_error=self._fail("resume the call"))
        self.hold_button.setChecked(want)

    def toggle_dialpad(self) -> None:
        visible = not self.dialpad.isVisible()
        self.dialpad.setVisible(visible)
        self.dtmf_button.setChecked(visible)
        if visible:
            self.dialpad.setFocus()

    def send_dtmf(self, digits: str) -> None:
        ua = self.bridge.ua
        if ua is None or not self.established:
            return
        self.bridge.run(lambda: ua.send_dtmf(self.call_id, digits), on_error=self._fail("send the digits"))

    def open_transfer(self) -> None:
        if not self.established:
            return
        dialog = TransferDialog(self.remote_text, self.window_.store, self)
        dialog.accepted.connect(lambda: self.transfer_to(dialog.target.text()))
        self.transfer_dialog = dialog
        dialog.open()

    def transfer_to(self, text: str) -> None:
        ua = self.bridge.ua
        if ua is None:
            return
        try:
            target = dial_target(text)
        except ValueError as exc:
            self.window_.show_error(str(exc))
            return
        self.transfer_label.setText(self.tr("Transferring to {target} …").format(target=target))
        self.transfer_label.setVisible(True)
        self.bridge.run(lambda: ua.transfer(self.call_id, target), on_error=self._fail("transfer the call"))

    def open_attended_transfer(self) -> None:
        others = self.window_.other_calls(self.call_id)
        if not self.established or not others:
            return
        dialog = AttendedTransferDialog(self.remote_text, others, self)
        dialog.accepted.connect(lambda: self.attended_transfer(dialog.chosen()))
        self.attended_dialog = dialog
        dialog.open()

    def attended_transfer(self, other_call_id: str | None) -> None:
        ua = self.bridge.ua
        if ua is None or other_call_id is None:
            return
        self.transfer_label.setText(self.tr("Connecting the calls …"))
        self.transfer_label.setVisible(True)
        self.bridge.run(
            lambda: ua.attended_transfer(self.call_id, other_call_id), on_error=self._fail("transfer the call")
        )

    def toggle_record(self) -> None:
        ua = self.bridge.ua
        if ua is None or not self.established:
            self.record_button.setChecked(self.recording_path is not None)
            return
        if self.recording_path is None:
            path = self.window_.recording_path(self.call_id)
            self.bridge.run(lambda: ua.record(self.call_id, path), on_error=self._fail("record the call"))
        else:
            self.bridge.run(lambda: ua.stop_recording(self.call_id), on_error=self._fail("stop the recording"))
        self.record_button.setChecked(self.recording_path is None)

    def split(self) -> None:
        ua = self.bridge.ua
        if ua is None or not self.in_conference:
            return
        self.bridge.run(lambda: ua.split(self.call_id), on_error=self._fail("take the call out of the conference"))

    def hangup(self) -> None:
        ua = self.bridge.ua
        if ua is None or self.call_event.state == "ended":
            return
        self.state_label.setText(self.tr("hanging up …"))
        self.bridge.run(lambda: ua.hangup(self.call_id), on_error=self._fail("hang up"))


class CallWindow(QWidget):
    """The calls in progress, one :class:`CallRow` each; hides itself when the last call ended."""

    ENDED_LINGER_MS = 2500

    def __init__(self, bridge: UaBridge, store: Store | None, recordings_dir: Path, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.bridge = bridge
        self.store = store
        self.recordings_dir = recordings_dir
        self.rows: dict[str, CallRow] = {}
        # What a call's video sends until the user picks something else (the settings' video source).
        self.video_source: str | None = "camera"
        self.videos = CallVideos(
            bridge,
            lambda call_id: self.rows[call_id].remote_text if call_id in self.rows else call_id,
            lambda: self.video_source,
        )
        self.videos.show_error = self.show_error
        self.setWindowTitle(self.tr("Calls — Softphone"))
        self.setWindowIcon(app_icon())
        self.setAccessibleName(self.tr("Calls"))
        self.resize(560, 320)
        self.error_label = plain_label()
        self.error_label.setAccessibleName(self.tr("Call error"))
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        self.conference: list[str] = []
        self.merge_button = QPushButton(self.tr("&Merge calls"))
        self.merge_button.setAccessibleName(self.tr("Merge calls into a conference"))
        self.merge_button.setToolTip(
            self.tr("Merge the established calls into a conference ({keys})").format(keys=MERGE_SHORTCUT)
        )
        self.merge_button.setEnabled(False)
        self.merge_button.clicked.connect(self.merge)
        self.merge_shortcut = QShortcut(QKeySequence(MERGE_SHORTCUT), self)
        self.merge_shortcut.activated.connect(self.merge)
        self._meter_timer = QTimer(self)
        self._meter_timer.setInterval(METER_POLL_MS)
        self._meter_timer.timeout.connect(self._poll_levels)
        self._rows_box = QWidget()
        self._rows_layout = QVBoxLayout(self._rows_box)
        self._rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._rows_box)
        layout = QVBoxLayout(self)
        layout.addWidget(self.error_label)
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.merge_button)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self.shortcuts: dict[str, QShortcut] = {}
        for keys, method, _what in SHORTCUTS:
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(lambda m=method: self._on_current(m))
            self.shortcuts[method] = shortcut

    # --- rows -----------------------------------------------------------------------------------

    def current(self) -> CallRow | None:
        """The row with the focus, else the newest call that has not ended."""
        focus: QWidget | None = self.focusWidget()
        while focus is not None and not isinstance(focus, CallRow):
            focus = focus.parentWidget()
        if isinstance(focus, CallRow) and focus.call_event.state != "ended":
            return focus
        live = [row for row in self.rows.values() if row.call_event.state != "ended"]
        return live[-1] if live else None

    def _on_current(self, method: str) -> None:
        row = self.current()
        if row is not None:
            getattr(row, method)()

    def other_calls(self, call_id: str) -> list[tuple[str, str]]:
        return [
            (other.call_id, other.remote_text)
            for other in self.rows.values()
            if other.call_id != call_id and other.established
        ]

    def established_calls(self) -> list[str]:
        return [row.call_id for row in self.rows.values() if row.established]

    def _update_merge(self) -> None:
        established = self.established_calls()
        self.merge_button.setEnabled(len(established) >= 2 and not set(established) <= set(self.conference))
        self.merge_button.setVisible(len(self.rows) >= 2)  # nothing to merge with one call: no button
        if established and not self._meter_timer.isActive():
            self._meter_timer.start()
        elif not established:
            self._meter_timer.stop()

    def merge(self) -> None:
        """Merge every established call into one conference (through the bridge; returns at once)."""
        ua = self.bridge.ua
        calls = self.established_calls()
        if ua is None or len(calls) < 2 or not self.merge_button.isEnabled():
            return
        self.merge_button.setEnabled(False)

        def failed(exc: BaseException) -> None:
            self.show_error(cannot("merge the calls", str(exc) or type(exc).__name__))
            self._update_merge()

        self.bridge.run(lambda: ua.conference(calls), on_error=failed)

    def on_conference(self, event: ConferenceEvent) -> None:
        self.conference = list(event.call_ids) if event.active else []
        for row in self.rows.values():
            row.set_conference(row.call_id in self.conference)
        self._update_merge()

    def _poll_levels(self) -> None:
        """Ask the UA for each established call's audio levels; never waits (one request per row in flight)."""
        ua = self.bridge.ua
        if ua is None:
            return
        for row in self.rows.values():
            if not row.established or row.levels_pending:
                continue
            row.levels_pending = True

            def failed(_exc: BaseException, row: CallRow = row) -> None:
                row.levels_pending = False

            if self.bridge.call(ua.audio_levels, row.call_id, on_done=row.on_levels, on_error=failed) is None:
                row.levels_pending = False

    def recording_path(self, call_id: str) -> Path:
        """A new WAV file for a call's recording under the recordings directory (created if needed)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        try:
            self.recordings_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.show_error(
                self.tr("Cannot create {folder}: {error}").format(folder=self.recordings_dir, error=exc.strerror or exc)
            )
        return self.recordings_dir / f"call-{stamp}-{call_id}.wav"

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(True)

    # --- events ---------------------------------------------------------------------------------

    def on_call(self, event: CallEvent) -> None:
        row = self.rows.get(event.call_id)
        if row is None:
            if event.state == "ended":
                return
            if event.direction == "incoming" and event.state in ("ringing", "early", "calling"):
                return  # the incoming-call window has it until it is answered
            row = CallRow(self, event)
            self.rows[event.call_id] = row
            self._rows_layout.insertWidget(self._rows_layout.count() - 1, row)
            self.error_label.setVisible(False)
            if not self._timer.isActive():
                self._timer.start()
            self.show()
            self.raise_()
        else:
            row.update_event(event)
        for other in self.rows.values():
            other._enable()
        self._update_merge()
        if event.state == "ended":
            self.videos.ended(event.call_id)
            QTimer.singleShot(self.ENDED_LINGER_MS, lambda: self._remove(event.call_id))

    def _remove(self, call_id: str) -> None:
        row = self.rows.get(call_id)
        if row is None or row.call_event.state != "ended":
            return
        del self.rows[call_id]
        row.setParent(None)
        row.deleteLater()
        for other in self.rows.values():
            other._enable()
        self._update_merge()
        if not self.rows:
            self._timer.stop()
            self.hide()

    def on_event(self, event: object) -> None:
        if isinstance(event, CallEvent):
            self.on_call(event)
            return
        if isinstance(event, ConferenceEvent):
            self.on_conference(event)
            return
        if isinstance(event, VideoEvent):
            self.videos.on_video(event)
            return
        if isinstance(event, VideoQualityEvent):
            self.videos.on_quality(event)
            return
        call_id = getattr(event, "call_id", None)
        row = self.rows.get(call_id) if isinstance(call_id, str) else None
        if row is None:
            return
        if isinstance(event, QualityEvent):
            row.on_quality(event)
        elif isinstance(event, MediaWarningEvent):
            row.on_warning(event)
        elif isinstance(event, RecordingEvent):
            row.on_recording(event)
        elif isinstance(event, TransferEvent):
            row.on_transfer(event)

    def _tick(self) -> None:
        for row in self.rows.values():
            row.tick()

"""The SIP trace window: the dialogs the phone took part in and a live ladder diagram of each.

While :class:`TraceWindow` is shown it keeps the UA's ``trace``
(:class:`softphone.ua.trace.SipTrace`) enabled. Enabling, disabling and
reading the records already kept happen on the core loop through the
bridge; the trace's listener runs on the loop thread too and only posts the
record to a :class:`~softphone.gui.workers.GuiRelay`, so each new message
reaches the GUI thread as an object and is drawn there (redrawn at most ten
times a second, however fast messages come).

:class:`LadderView` draws one vertical line per party (this phone and each
peer address) and one arrow per message, labelled ``INVITE``, ``180 Ringing``
…, with its time on the left. Colour says what kind of message it is
(request, provisional, success, redirection, error) but the label always says
it too. Clicking an arrow (or moving with the arrow keys) shows the message's
text, with credentials already redacted by the trace. "Export pcap…" saves
the selected dialog, or everything, with :func:`softphone.ua.trace.write_pcap`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QHideEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPolygonF,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate
from softphone.gui.icons import app_icon
from softphone.gui.text import plain_label, plain_tooltip
from softphone.gui.workers import GuiRelay
from softphone.ua.trace import TraceRecord, write_pcap

if TYPE_CHECKING:
    from softphone.gui.bridge import UaBridge
    from softphone.gui.main_window import MainWindow

log = logging.getLogger("softphone.gui.trace")

MAX_RECORDS = 5000
REFRESH_MS = 100
TIME_WIDTH = 96
HEADER_HEIGHT = 46
ROW_HEIGHT = 30
COLUMN_WIDTH = 230
MARGIN = 16

# Hues per kind; lightness is picked against the palette's base colour so both themes read well.
KIND_HUES = {"request": 215, "provisional": 40, "success": 130, "redirect": 280, "error": 0}
KIND_NAMES = {
    "request": QT_TRANSLATE_NOOP("TraceWindow", "request"),
    "provisional": QT_TRANSLATE_NOOP("TraceWindow", "provisional response"),
    "success": QT_TRANSLATE_NOOP("TraceWindow", "success response"),
    "redirect": QT_TRANSLATE_NOOP("TraceWindow", "redirection"),
    "error": QT_TRANSLATE_NOOP("TraceWindow", "error response"),
}


def message_kind(record: TraceRecord) -> str:
    code = record.status_code
    if code is None:
        return "request"
    if code < 200:
        return "provisional"
    if code < 300:
        return "success"
    if code < 400:
        return "redirect"
    return "error"


def kind_colour(kind: str, palette: QPalette) -> QColor:
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    hue = KIND_HUES.get(kind, 0)
    if kind == "provisional":
        return QColor.fromHsl(hue, 40, 170 if dark else 110)
    return QColor.fromHsl(hue, 200, 170 if dark else 95)


def clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int((t % 1) * 1000):03d}"


def party_of(record: TraceRecord) -> str:
    host = f"[{record.peer_host}]" if ":" in record.peer_host else record.peer_host
    return f"{host}:{record.peer_port}"


class LadderView(QWidget):
    """The ladder diagram of one dialog's messages; see the module documentation."""

    selected = Signal(object)  # TraceRecord | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.records: list[TraceRecord] = []
        self.parties: list[str] = []
        self.local_label = self.tr("This phone")
        self.current = -1
        self.setAccessibleName(self.tr("Ladder diagram"))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.small = QFont(self.font())
        self.small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.9))
        self.mono = mono

    # --- content ------------------------------------------------------------------------

    def set_records(self, records: Sequence[TraceRecord]) -> None:
        self.records = list(records)
        self.parties = []
        for record in self.records:
            self._add_party(record)
        self.current = -1
        self._relayout()
        self.selected.emit(None)

    def append(self, record: TraceRecord) -> None:
        self.records.append(record)
        self._add_party(record)
        self._relayout()

    def _add_party(self, record: TraceRecord) -> None:
        party = party_of(record)
        if party not in self.parties:
            self.parties.append(party)
            if len(self.parties) == 1 and record.local_port:
                self.local_label = self.tr("This phone") + f"\n{record.local_host}:{record.local_port}"

    def empty_text(self) -> str:
        """What the empty ladder says (drawn alone, centred: no party lines behind it)."""
        return self.tr("Choose a dialog on the left; its messages appear here as they come.")

    def labels(self) -> list[str]:
        """What the arrows say, in order (for tests and screen readers)."""
        return [r.label for r in self.records]

    def _relayout(self) -> None:
        self.setMinimumSize(self.sizeHint())
        self.updateGeometry()
        self.update()
        count = len(self.records)
        self.setAccessibleDescription(
            translate("LadderView", "%n message(s) between this phone and {parties}", "", count).format(
                parties=", ".join(self.parties) or self.tr("nobody yet")
            )
        )

    def sizeHint(self) -> QSize:
        columns = 1 + max(1, len(self.parties))
        width = TIME_WIDTH + MARGIN + (columns - 1) * COLUMN_WIDTH + 2 * MARGIN + 60
        height = HEADER_HEIGHT + ROW_HEIGHT * (len(self.records) + 1)
        return QSize(width, height)

    def column_width(self) -> float:
        """The distance between two parties' lines: the width there is, shared out, but no less than
        :data:`COLUMN_WIDTH`."""
        free = self.width() - (TIME_WIDTH + MARGIN + 50) - COLUMN_WIDTH / 2
        return max(float(COLUMN_WIDTH), free / max(1, len(self.parties)))

    def column_x(self, index: int) -> float:
        """x of party ``index``: 0 is this phone, 1… the peers."""
        return TIME_WIDTH + MARGIN + 50 + index * self.column_width()

    def row_y(self, row: int) -> float:
        return HEADER_HEIGHT + ROW_HEIGHT * row + ROW_HEIGHT * 0.75

    def arrow(self, row: int) -> tuple[QPointF, QPointF]:
        record = self.records[row]
        peer = 1 + self.parties.index(party_of(record))
        y = self.row_y(row)
        ours, theirs = QPointF(self.column_x(0), y), QPointF(self.column_x(peer), y)
        return (ours, theirs) if record.direction == "sent" else (theirs, ours)

    # --- selection ---------------------------------------------------------------------------

    def select(self, row: int) -> None:
        if not self.records:
            return
        row = max(0, min(row, len(self.records) - 1))
        self.current = row
        self.update()
        record = self.records[row]
        self.setAccessibleDescription(
            self.tr("{direction} {label} ({party}), {time}").format(
                direction=record.direction, label=record.label, party=party_of(record), time=clock(record.time)
            )
        )
        self.selected.emit(record)
        parent = self.parentWidget()
        area = parent.parentWidget() if parent is not None else None
        if isinstance(area, QScrollArea):
            area.ensureVisible(int(self.column_x(0)), int(self.row_y(row)), 50, ROW_HEIGHT)

    def row_at(self, y: float) -> int | None:
        row = int((y - HEADER_HEIGHT) // ROW_HEIGHT)
        return row if 0 <= row < len(self.records) else None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        row = self.row_at(event.position().y())
        if row is not None:
            self.setFocus()
            self.select(row)
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Down:
            self.select(self.current + 1)
        elif key == Qt.Key.Key_Up:
            self.select(max(self.current - 1, 0))
        elif key == Qt.Key.Key_Home:
            self.select(0)
        elif key == Qt.Key.Key_End:
            self.select(len(self.records) - 1)
        else:
            super().keyPressEvent(event)

    # --- drawing -----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        mid = palette.color(QPalette.ColorRole.Mid)
        painter.fillRect(event.rect(), palette.color(QPalette.ColorRole.Base))
        bottom = self.height()
        if not self.records:
            # Nothing to draw yet: only the hint, centred in the whole view, no lines under it.
            painter.setPen(QPen(palette.color(QPalette.ColorRole.PlaceholderText)))
            painter.drawText(
                QRectF(self.rect()).adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.empty_text(),
            )
            painter.end()
            return
        # Parties: a heading and a vertical line each.
        names = [self.local_label, *self.parties]
        painter.setFont(self.small)
        for index, name in enumerate(names):
            x = self.column_x(index)
            painter.setPen(QPen(text))
            box = QRectF(x - COLUMN_WIDTH / 2 + 4, 4, COLUMN_WIDTH - 8, HEADER_HEIGHT - 8)
            painter.drawText(box, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, name)
            painter.setPen(QPen(mid, 2))
            painter.drawLine(QPointF(x, HEADER_HEIGHT), QPointF(x, bottom))
        painter.setPen(QPen(mid))
        painter.drawLine(QPointF(0, HEADER_HEIGHT - 1), QPointF(self.width(), HEADER_HEIGHT - 1))
        first = max(0, int((event.rect().top() - HEADER_HEIGHT) // ROW_HEIGHT) - 1)
        last = min(len(self.records), int((event.rect().bottom() - HEADER_HEIGHT) // ROW_HEIGHT) + 2)
        for row in range(first, last):
            self._draw_row(painter, row, palette)
        painter.end()

    def _draw_row(self, painter: QPainter, row: int, palette: QPalette) -> None:
        record = self.records[row]
        top = HEADER_HEIGHT + ROW_HEIGHT * row
        if row == self.current:
            painter.fillRect(
                QRectF(0, top, self.width(), ROW_HEIGHT), palette.color(QPalette.ColorRole.Highlight).lighter(100)
            )
        selected = row == self.current
        text = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        painter.setFont(self.small)
        painter.setPen(QPen(text))
        painter.drawText(
            QRectF(4, top, TIME_WIDTH, ROW_HEIGHT),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            clock(record.time),
        )
        start, end = self.arrow(row)
        colour = text if selected else kind_colour(message_kind(record), palette)
        pen = QPen(colour, 2)
        painter.setPen(pen)
        painter.drawLine(start, end)
        direction = 1.0 if end.x() > start.x() else -1.0
        head = QPolygonF(
            [
                end,
                QPointF(end.x() - direction * 9, end.y() - 4.5),
                QPointF(end.x() - direction * 9, end.y() + 4.5),
            ]
        )
        painter.setBrush(colour)
        painter.drawPolygon(head)
        label = record.label
        if record.cseq and record.status_code is not None and record.method and record.method != "INVITE":
            label = f"{label} ({record.method})"
        left, right = min(start.x(), end.x()), max(start.x(), end.x())
        font = QFont(self.font())
        font.setBold(record.status_code is None)
        painter.setFont(font)
        painter.setPen(QPen(text))
        room = int(right - left - 16)
        shown = QFontMetrics(font).elidedText(label, Qt.TextElideMode.ElideRight, room)
        painter.drawText(
            QRectF(left + 8, top, room, ROW_HEIGHT * 0.75 - 2),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
            shown,
        )


class TraceWindow(QWidget):
    """Dialogs, a ladder of the selected one and a message's text; enables the trace while shown."""

    def __init__(self, bridge: UaBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.bridge = bridge
        self.setWindowTitle(self.tr("SIP trace"))
        self.setWindowIcon(app_icon())
        self.setAccessibleName(self.tr("SIP trace"))
        self.resize(1000, 620)
        self.records: list[TraceRecord] = []
        self.dialogs: dict[str, QTreeWidgetItem] = {}
        self.counts: dict[str, int] = {}
        self._response_first: set[str] = set()
        self.current_call_id: str | None = None
        self.attached = False
        self._early: list[TraceRecord] = []
        self._loading = False
        self._fresh: list[TraceRecord] = []
        self._relay = GuiRelay(self)
        self._listener: Callable[[TraceRecord], None] = self._from_loop
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(REFRESH_MS)
        self._refresh.timeout.connect(self._flush)

        layout = QVBoxLayout(self)
        self.state_label = plain_label(self.tr("The trace starts when this window opens."))
        self.state_label.setAccessibleName(self.tr("Trace state"))
        layout.addWidget(self.state_label)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.dialog_list = QTreeWidget()
        self.dialog_list.setAccessibleName(self.tr("Dialogs"))
        self.dialog_list.setHeaderLabels(
            [self.tr("Time"), self.tr("First request"), self.tr("Msgs"), self.tr("Call-ID")]
        )
        self.dialog_list.setRootIsDecorated(False)
        self.dialog_list.setUniformRowHeights(True)
        self.dialog_list.currentItemChanged.connect(lambda item, _prev: self._choose(item))
        self.dialog_list.setColumnWidth(0, 96)
        self.dialog_list.setColumnWidth(1, 210)
        self.dialog_list.setColumnWidth(2, 44)
        splitter.addWidget(self.dialog_list)

        right = QSplitter(Qt.Orientation.Vertical)
        self.ladder = LadderView()
        self.ladder.selected.connect(self._show_message)
        self.ladder_area = QScrollArea()
        self.ladder_area.setWidget(self.ladder)
        self.ladder_area.setWidgetResizable(True)
        self.ladder_area.setAccessibleName(self.tr("Ladder diagram, scrollable"))
        right.addWidget(self.ladder_area)
        self.message_text = QPlainTextEdit()
        self.message_text.setReadOnly(True)
        self.message_text.setAccessibleName(self.tr("Message text"))
        self.message_text.setPlaceholderText(self.tr("Click an arrow to see the whole message."))
        self.message_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.message_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        right.addWidget(self.message_text)
        right.setSizes([380, 200])
        splitter.addWidget(right)
        splitter.setSizes([400, 660])
        layout.addWidget(splitter, 1)

        buttons = QHBoxLayout()
        self.export_button = QPushButton(self.tr("&Export pcap…"))
        self.export_button.setAccessibleName(self.tr("Export the selected dialog as pcap"))
        self.export_button.setToolTip(self.tr("Save the selected dialog's messages as a pcap file (Wireshark, sngrep)"))
        self.export_button.clicked.connect(lambda: self.export_dialog(all_records=False))
        self.export_all_button = QPushButton(self.tr("Export &all…"))
        self.export_all_button.setAccessibleName(self.tr("Export every traced message as pcap"))
        self.export_all_button.clicked.connect(lambda: self.export_dialog(all_records=True))
        self.clear_button = QPushButton(self.tr("&Clear"))
        self.clear_button.setAccessibleName(self.tr("Clear the trace"))
        self.clear_button.clicked.connect(self.clear)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.export_all_button)
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        layout.addLayout(buttons)
        self._update_buttons()

    # --- trace on and off (on the loop thread) -------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.attach()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.detach()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.detach()
        super().closeEvent(event)

    def attach(self) -> None:
        ua = self.bridge.ua
        if self.attached or ua is None or self.bridge.loop is None:
            if ua is None:
                self.state_label.setText(self.tr("The phone core is not running: nothing to trace."))
            return
        self.attached = True
        self._loading = True
        self._early = []
        listener = self._listener

        def enable() -> list[TraceRecord]:
            trace = ua.trace
            trace.enable()
            if listener not in trace.listeners:
                trace.listeners.append(listener)
            return list(trace.records)

        self.bridge.call(enable, on_done=self._loaded, on_error=self._failed)
        self.state_label.setText(self.tr("Tracing: every SIP message this phone sends or receives is shown."))

    def detach(self) -> None:
        ua = self.bridge.ua
        if not self.attached or ua is None:
            return
        self.attached = False
        listener = self._listener

        def disable() -> None:
            trace = ua.trace
            if listener in trace.listeners:
                trace.listeners.remove(listener)
            if not trace.listeners:
                trace.disable()

        if self.bridge.loop is not None:
            self.bridge.call(disable)
        self.state_label.setText(self.tr("The trace is off while this window is closed."))

    def _failed(self, exc: BaseException) -> None:
        self._loading = False
        self.attached = False
        self.state_label.setText(self.tr("The trace could not be started: {exc}").format(exc=exc))

    def _loaded(self, records: object) -> None:
        self._loading = False
        known = {id(r) for r in self.records}
        snapshot = [r for r in records if isinstance(r, TraceRecord)] if isinstance(records, list) else []
        seen = {id(r) for r in snapshot}
        fresh = [r for r in snapshot if id(r) not in known] + [r for r in self._early if id(r) not in seen]
        self._early = []
        for record in fresh:
            self._take(record)
        self._flush()

    # --- records (GUI thread) ------------------------------------------------------------------

    def _from_loop(self, record: TraceRecord) -> None:
        # The trace's listener, on the loop thread: only hands the record over.
        self._relay.post(lambda: self._on_record(record))

    def _on_record(self, record: object) -> None:
        if not isinstance(record, TraceRecord):
            return
        if self._loading:
            self._early.append(record)
            return
        self._take(record)
        if not self._refresh.isActive():
            self._refresh.start()

    def _take(self, record: TraceRecord) -> None:
        self.records.append(record)
        self._fresh.append(record)
        if len(self.records) > MAX_RECORDS:
            del self.records[: len(self.records) - MAX_RECORDS]

    def _flush(self) -> None:
        fresh, self._fresh = self._fresh, []
        ladder_dirty = False
        for record in fresh:
            call_id = record.call_id
            if not call_id:
                continue
            self.counts[call_id] = self.counts.get(call_id, 0) + 1
            item = self.dialogs.get(call_id)
            if item is None:
                item = QTreeWidgetItem([clock(record.time), self._first_label(record), "1", call_id])
                item.setData(0, Qt.ItemDataRole.UserRole, call_id)
                item.setToolTip(3, plain_tooltip(call_id))
                self.dialogs[call_id] = item
                if record.status_code is not None:
                    self._response_first.add(call_id)
                self.dialog_list.addTopLevelItem(item)
            else:
                item.setText(2, str(self.counts[call_id]))
                if record.status_code is None and call_id in self._response_first:
                    self._response_first.discard(call_id)  # the trace began mid-dialog: name it by a request
                    item.setText(1, self._first_label(record))
            if call_id == self.current_call_id:
                self.ladder.append(record)
                ladder_dirty = True
        if self.current_call_id is None and self.dialogs:
            # Nothing chosen yet: follow the newest call (an INVITE dialog) if there is one.
            self._follow_newest()
        if ladder_dirty:
            self.ladder_area.ensureVisible(0, self.ladder.height(), 0, 0)
        self._update_buttons()

    @staticmethod
    def _first_label(record: TraceRecord) -> str:
        """``INVITE sip:bob@example.com`` for a request; ``INVITE (180 Ringing)`` when the first seen is a response."""
        if record.status_code is None:
            line = record.first_line
            return line[: -len(" SIP/2.0")] if line.endswith(" SIP/2.0") else (record.method or record.label)
        return f"{record.method or '?'} ({record.label})"

    def _follow_newest(self) -> None:
        for item in reversed(list(self.dialogs.values())):
            if item.text(1).startswith("INVITE"):
                self.dialog_list.setCurrentItem(item)
                return

    def _choose(self, item: QTreeWidgetItem | None) -> None:
        call_id = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        self.current_call_id = str(call_id) if call_id else None
        records = [r for r in self.records if r.call_id == self.current_call_id] if call_id else []
        self.ladder.set_records(records)
        self._update_buttons()

    def select_dialog(self, call_id: str) -> bool:
        item = self.dialogs.get(call_id)
        if item is None:
            return False
        self.dialog_list.setCurrentItem(item)
        return True

    def _show_message(self, record: object) -> None:
        if isinstance(record, TraceRecord):
            arrow = "→" if record.direction == "sent" else "←"
            head = (
                f"{clock(record.time)}  {record.direction} {arrow} {record.transport} "
                f"{party_of(record)}  ({self.tr(KIND_NAMES[message_kind(record)])})\n\n"
            )
            self.message_text.setPlainText(head + record.text.replace("\r\n", "\n"))
        else:
            self.message_text.clear()

    def _update_buttons(self) -> None:
        self.export_button.setEnabled(self.current_call_id is not None)
        self.export_all_button.setEnabled(bool(self.records))

    def clear(self) -> None:
        self.records.clear()
        self._fresh.clear()
        self.dialogs.clear()
        self.counts.clear()
        self._response_first.clear()
        self.dialog_list.clear()
        self.current_call_id = None
        self.ladder.set_records([])
        ua = self.bridge.ua
        if ua is not None and self.bridge.loop is not None:
            self.bridge.call(ua.trace.clear)
        self._update_buttons()

    # --- export --------------------------------------------------------------------------------

    def records_for_export(self, all_records: bool) -> list[TraceRecord]:
        if all_records:
            return list(self.records)
        return [r for r in self.records if r.call_id == self.current_call_id]

    def export_pcap(self, path: str | Path, all_records: bool = False) -> int:
        """Write the selected dialog's records (or all) to ``path``; returns how many."""
        count = write_pcap(path, self.records_for_export(all_records))
        self.state_label.setText(
            translate("TraceWindow", "Saved %n message(s) to {path}.", "", count).format(path=path)
        )
        return count

    def export_dialog(self, all_records: bool = False) -> None:
        if not self.records_for_export(all_records):
            self.state_label.setText(self.tr("Nothing to export yet."))
            return
        name = "sip-trace.pcap" if all_records else f"sip-{(self.current_call_id or 'dialog')[:16]}.pcap"
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        path, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Export pcap"), str(Path.home() / name), "pcap files (*.pcap);;All files (*)"
        )
        if not path:
            return
        try:
            self.export_pcap(path, all_records)
        except OSError as exc:
            self.state_label.setText(self.tr("Cannot save {path}: {exc}").format(path=path, exc=exc))


def show_trace(window: MainWindow) -> TraceWindow:
    """Open (or raise) the main window's SIP trace window."""
    existing = window._trace_window
    if existing is not None:
        existing.show()
        existing.raise_()
        existing.activateWindow()
        return existing
    trace = TraceWindow(window.bridge, window)
    window._trace_window = trace
    window.places.watch(trace, "trace")
    trace.show()
    return trace

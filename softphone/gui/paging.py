"""Multicast paging in the GUI: the settings dialog's Paging page and the main window's Page button.

:class:`PagingPage` edits :class:`~softphone.store.PagingSettings` (groups heard with their priority and
allowed senders, groups the Page button offers, TTL, codec, interface, hold or mix during a call).
:func:`apply_paging` hands them to the running UA (``ua.paging.start`` on the core loop; a group that is
not valid is left out with a note). :class:`PageButton` pages one of the configured groups with the
microphone until it is clicked again, and shows pages heard in the status bar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.i18n import QT_TRANSLATE_NOOP
from softphone.store import PageGroupSettings, PagingSettings, Settings
from softphone.ua import PageEndedEvent, PageStartedEvent, cannot
from softphone.ua.paging import config_from

if TYPE_CHECKING:
    from softphone.gui.bridge import UaBridge

PAGE_CODECS = (
    ("g722", QT_TRANSLATE_NOOP("PagingPage", "G.722 (wideband)")),
    ("opus", QT_TRANSLATE_NOOP("PagingPage", "Opus")),
    ("pcmu", QT_TRANSLATE_NOOP("PagingPage", "G.711 µ-law (PCMU)")),
    ("pcma", QT_TRANSLATE_NOOP("PagingPage", "G.711 A-law (PCMA)")),
)
DURING_CALL = (
    ("hold", QT_TRANSLATE_NOOP("PagingPage", "Hold the call while the page plays")),
    ("mix", QT_TRANSLATE_NOOP("PagingPage", "Play the page along with the call")),
)


def apply_paging(bridge: UaBridge, settings: PagingSettings, notify: Callable[[str], None]) -> list[str]:
    """Listen on the groups of ``settings`` in the running UA; returns the entries left out, in words."""
    config, problems = config_from(settings)
    ua = bridge.ua
    if ua is not None and bridge.loop is not None:
        bridge.run(
            lambda: ua.paging.start(config),
            on_error=lambda exc: notify(cannot("listen for pages", str(exc))),
        )
    return problems


class PagingPage(QWidget):
    """The paging settings; see the module documentation."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        paging = settings.paging
        layout = QVBoxLayout(self)
        heard = QGroupBox(self.tr("Pages heard"))
        heard_layout = QVBoxLayout(heard)
        self.groups = QTableWidget(0, 4)
        self.groups.setHorizontalHeaderLabels(
            [
                self.tr("Group (address:port)"),
                self.tr("Priority"),
                self.tr("Only from (addresses)"),
                self.tr("Codecs (empty: all)"),
            ]
        )
        self.groups.setAccessibleName(self.tr("Paging groups heard"))
        self.groups.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.groups.horizontalHeader().setStretchLastSection(True)
        self.groups.setCornerButtonEnabled(False)
        for corner in self.groups.findChildren(QAbstractButton):
            corner.setAccessibleName(self.tr("Select all groups"))
        for entry in paging.listen:
            self._add_row(entry.group, entry.priority, ", ".join(entry.sources), ", ".join(entry.codecs))
        heard_layout.addWidget(self.groups)
        row = QHBoxLayout()
        self.add_button = QPushButton(self.tr("&Add group"))
        self.add_button.setAccessibleName(self.tr("Add paging group"))
        self.add_button.clicked.connect(lambda: self._add_row("239.0.1.20:5004", 10, "", ""))
        self.remove_button = QPushButton(self.tr("&Remove group"))
        self.remove_button.setAccessibleName(self.tr("Remove paging group"))
        self.remove_button.clicked.connect(self._remove_row)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        heard_layout.addLayout(row)
        hint = QLabel(
            self.tr("A page of higher priority interrupts one of lower priority. Do not disturb hears no pages.")
        )
        hint.setWordWrap(True)
        heard_layout.addWidget(hint)
        layout.addWidget(heard)

        form = QFormLayout()
        self.during_call = QComboBox()
        self.during_call.setAccessibleName(self.tr("A page during a call"))
        for value, text in DURING_CALL:
            self.during_call.addItem(self.tr(text), value)
        self.during_call.setCurrentIndex(max(0, self.during_call.findData(paging.during_call)))
        form.addRow(self.tr("During a call:"), self.during_call)
        self.send_groups = QLineEdit(", ".join(paging.send_groups))
        self.send_groups.setPlaceholderText(self.tr("239.0.1.20:5004, [ff05::1:20]:5004"))
        self.send_groups.setAccessibleName(self.tr("Groups the Page button sends to"))
        form.addRow(self.tr("Page button sends to:"), self.send_groups)
        self.codec = QComboBox()
        self.codec.setAccessibleName(self.tr("Codec of pages sent"))
        for value, text in PAGE_CODECS:
            self.codec.addItem(self.tr(text), value)
        self.codec.setCurrentIndex(max(0, self.codec.findData(paging.codec.lower())))
        form.addRow(self.tr("Codec:"), self.codec)
        self.ttl = QSpinBox()
        self.ttl.setRange(0, 255)
        self.ttl.setValue(paging.ttl if 0 <= paging.ttl <= 255 else 1)
        self.ttl.setAccessibleName(self.tr("Time to live of pages sent"))
        form.addRow(self.tr("TTL (hops):"), self.ttl)
        self.interface = QLineEdit(paging.interface or "")
        self.interface.setPlaceholderText(self.tr("chosen by route"))
        self.interface.setAccessibleName(self.tr("Network interface for pages"))
        form.addRow(self.tr("Network interface:"), self.interface)
        layout.addLayout(form)
        layout.addStretch(1)

    def _add_row(self, group: str, priority: int, sources: str, codecs: str) -> None:
        row = self.groups.rowCount()
        self.groups.insertRow(row)
        self.groups.setItem(row, 0, QTableWidgetItem(group))
        spin = QSpinBox()
        spin.setRange(1, 255)
        spin.setValue(priority if 1 <= priority <= 255 else 10)
        spin.setAccessibleName(self.tr("Priority"))
        self.groups.setCellWidget(row, 1, spin)
        self.groups.setItem(row, 2, QTableWidgetItem(sources))
        self.groups.setItem(row, 3, QTableWidgetItem(codecs))

    def _remove_row(self) -> None:
        row = self.groups.currentRow()
        if row >= 0:
            self.groups.removeRow(row)

    def collect_into(self, settings: Settings) -> None:
        listen = []
        for row in range(self.groups.rowCount()):
            group_item, sources_item = self.groups.item(row, 0), self.groups.item(row, 2)
            group = group_item.text().strip() if group_item is not None else ""
            if not group:
                continue
            spin = self.groups.cellWidget(row, 1)
            priority = spin.value() if isinstance(spin, QSpinBox) else 10
            sources = _words(sources_item)
            listen.append(PageGroupSettings(group, priority, sources, _words(self.groups.item(row, 3))))
        paging = settings.paging
        paging.listen = listen
        paging.send_groups = [g.strip() for g in self.send_groups.text().split(",") if g.strip()]
        paging.during_call = str(self.during_call.currentData())
        paging.codec = str(self.codec.currentData())
        paging.ttl = self.ttl.value()
        paging.interface = self.interface.text().strip() or None


def _words(item: QTableWidgetItem | None) -> list[str]:
    text = item.text() if item is not None else ""
    return [w.strip() for w in text.replace(";", ",").split(",") if w.strip()]


class PageButton(QToolButton):
    """Page: a menu of the configured groups; while our page is sent, clicking ends it."""

    def __init__(
        self, bridge: UaBridge, settings: Settings, notify: Callable[[str], None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.settings = settings
        self.notify = notify
        self.sending: str | None = None
        self.setText(self.tr("Page"))
        self.setAccessibleName(self.tr("Page"))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.menu_of_groups = QMenu(self)
        self.menu_of_groups.aboutToShow.connect(self._fill_menu)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setMenu(self.menu_of_groups)
        self.clicked.connect(self._clicked)
        self._show_state()

    def _fill_menu(self) -> None:
        self.menu_of_groups.clear()
        groups = self.settings.paging.send_groups
        for group in groups:
            action = self.menu_of_groups.addAction(self.tr("Page {group}").format(group=group))
            action.triggered.connect(lambda _checked=False, g=group: self.page(g))
        if not groups:
            self.menu_of_groups.addAction(self.tr("No paging groups: add them in Settings → Paging")).setEnabled(False)

    def _show_state(self) -> None:
        if self.sending is None:
            self.setToolTip(self.tr("Send a page (a one-way announcement) to a group of phones"))
            self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            self.setMenu(self.menu_of_groups)
            self.setText(self.tr("Page"))
        else:
            self.setToolTip(self.tr("End the page"))
            self.setMenu(None)  # type: ignore[arg-type]
            self.setText(self.tr("End page"))

    def page(self, group: str) -> None:
        ua = self.bridge.ua
        if ua is None:
            return
        codec = self.settings.paging.codec
        self.bridge.run(
            lambda: ua.paging.page(group, codec),
            on_error=lambda exc: self.notify(cannot(f"page {group}", str(exc))),
        )

    def _clicked(self) -> None:
        ua = self.bridge.ua
        if self.sending is not None and ua is not None:
            self.bridge.run(ua.paging.end_page)

    def on_event(self, event: PageStartedEvent | PageEndedEvent) -> None:
        if event.direction == "outgoing":
            self.sending = event.page_id if isinstance(event, PageStartedEvent) else None
            self._show_state()
        elif isinstance(event, PageStartedEvent):
            self.notify(self.tr("Page from {source} on {group}").format(source=event.source, group=event.group))

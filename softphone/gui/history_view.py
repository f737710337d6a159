"""The History tab's rows (who, when, how the call went and, when it did not happen, why), drawn by
:class:`HistoryDelegate` as two lines with the contact's name, and the dial field's completions from
contacts and history."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QListWidget, QListWidgetItem, QStyle, QStyleOptionViewItem

from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate
from softphone.gui.icons import icon
from softphone.gui.incoming import caller_number
from softphone.gui.text import PlainToolTips, plain_tooltip
from softphone.store import CallOutcome, CallRecord, Store, normalise_uri
from softphone.ua import call_problem, why

log = logging.getLogger("softphone.gui")

# Item data: UserRole is the peer's address, UserRole + 1 the outcome.
RECORD_ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the store's id of the call (for Delete)
PEER_NAME_ROLE = Qt.ItemDataRole.UserRole + 3  # the peer's name as the call had it
WHO_ROLE = Qt.ItemDataRole.UserRole + 4  # the first line: the contact's name, else the call's, else the number
DETAIL_ROLE = Qt.ItemDataRole.UserRole + 5  # the second line: direction, outcome (and why), length
WHEN_ROLE = Qt.ItemDataRole.UserRole + 6  # the time, at the right
MISSED_ROLE = Qt.ItemDataRole.UserRole + 7
ICON_SIZE = 28

OUTCOME_WORDS = {
    CallOutcome.ANSWERED: QT_TRANSLATE_NOOP("HistoryView", "answered"),
    CallOutcome.MISSED: QT_TRANSLATE_NOOP("HistoryView", "missed"),
    CallOutcome.DECLINED: QT_TRANSLATE_NOOP("HistoryView", "declined"),
    CallOutcome.BUSY: QT_TRANSLATE_NOOP("HistoryView", "busy"),
    CallOutcome.FAILED: QT_TRANSLATE_NOOP("HistoryView", "failed"),
    CallOutcome.CANCELLED: QT_TRANSLATE_NOOP("HistoryView", "cancelled"),
    CallOutcome.FORWARDED: QT_TRANSLATE_NOOP("HistoryView", "forwarded"),
    CallOutcome.ANSWERED_ELSEWHERE: QT_TRANSLATE_NOOP("HistoryView", "answered-elsewhere"),
}

# Outcomes whose reason the history shows: the call did not happen and the user may want to know why.
WHY_OUTCOMES = frozenset({CallOutcome.FAILED, CallOutcome.BUSY, CallOutcome.DECLINED})


def contact_names(store: Store | None) -> dict[str, str]:
    """Contacts' names by normalised address and by number, for naming History rows in one pass."""
    names: dict[str, str] = {}
    if store is None:
        return names
    try:
        for contact in store.contacts.list():
            for address in contact.uris:
                names.setdefault(normalise_uri(address), contact.name)
            for number in contact.phones:
                names.setdefault("".join(c for c in number if c.isdigit() or c == "+"), contact.name)
    except Exception as exc:
        log.info("contacts for the history could not be read: %s", exc)
    return names


def _contact_name(record: CallRecord, names: Mapping[str, str]) -> str | None:
    try:
        key = normalise_uri(record.peer)
    except Exception:
        key = record.peer
    found = names.get(key)
    if found is None:
        number = "".join(c for c in caller_number(record.peer) if c.isdigit() or c == "+")
        found = names.get(number) if len(number) >= 3 else None
    return found


def history_item(record: CallRecord, names: Mapping[str, str] | None = None) -> QListWidgetItem:
    """One call as a row: ``→ Bob  12 Mar 10:00  failed — there is no such user (404)``; missed calls bold.
    ``names`` (from :func:`contact_names`) names the peer as the user's contacts do."""
    contact = _contact_name(record, names) if names else None
    who = contact or record.peer_name or caller_number(record.peer)
    when = time.strftime("%d %b %H:%M", time.localtime(record.started))
    arrow = "→" if record.direction == "out" else "←"
    outcome = str(record.outcome)
    shown_outcome = translate("HistoryView", OUTCOME_WORDS.get(record.outcome, outcome))
    status = shown_outcome
    tip = f"{record.peer}: {outcome}."
    if record.outcome in WHY_OUTCOMES and (record.sip_code is not None or record.reason):
        # Why the call did not happen stays here, not only in the call window's few seconds.
        words = why(record.sip_code, record.reason or "")
        status = words if words.startswith(outcome) else f"{shown_outcome} — {words}"
        if record.direction == "out":
            tip = call_problem(record.peer, record.sip_code, record.reason or "")
    if record.outcome == CallOutcome.MISSED:
        text = "✗ " + translate("HistoryView", "Missed") + f"  {arrow} {who}  {when}"
    else:
        duration = record.duration
        length = f"  {int(duration) // 60}:{int(duration) % 60:02d}" if duration is not None else ""
        text = f"{arrow} {who}  {when}  {status}{length}"
    item = QListWidgetItem(text)
    item.setData(Qt.ItemDataRole.UserRole, record.peer)
    item.setData(Qt.ItemDataRole.UserRole + 1, outcome)
    item.setData(RECORD_ID_ROLE, record.id)
    item.setData(PEER_NAME_ROLE, record.peer_name or "")
    item.setToolTip(plain_tooltip(f"{tip} " + translate("HistoryView", "Double-click to call back.")))
    if record.outcome == CallOutcome.MISSED:
        item.setIcon(icon("hangup"))
        font = item.font()
        font.setBold(True)
        item.setFont(font)
    else:
        item.setIcon(icon("phone"))
    way = translate("HistoryView", "Outgoing") if record.direction == "out" else translate("HistoryView", "Incoming")
    detail = f"{arrow} {way} · {status}"
    if record.outcome != CallOutcome.MISSED and record.duration is not None:
        detail += f" · {int(record.duration) // 60}:{int(record.duration) % 60:02d}"
    item.setData(WHO_ROLE, who)
    item.setData(DETAIL_ROLE, detail)
    item.setData(WHEN_ROLE, when)
    item.setData(MISSED_ROLE, record.outcome == CallOutcome.MISSED)
    return item


class HistoryDelegate(PlainToolTips):
    """A History row as a person reads it: an icon, the name on the first line (red when missed), how
    the call went under it, and the time at the right. The item's text stays the one-line summary
    (screen readers, tests, copy)."""

    def __init__(self, view: QListWidget) -> None:
        super().__init__(view)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        lines = option.fontMetrics.lineSpacing() * 2 + 12
        return QSize(200, max(ICON_SIZE + 12, lines))

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        who = index.data(WHO_ROLE)
        if who is None:
            super().paint(painter, option, index)
            return
        style_option = QStyleOptionViewItem(option)
        self.initStyleOption(style_option, index)
        style_option.text = ""
        style_option.icon = QIcon()
        widget = style_option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, style_option, painter, widget)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        missed = bool(index.data(MISSED_ROLE))
        dim = QColor(text)
        dim.setAlphaF(0.7)
        rect = option.rect.adjusted(8, 6, -10, -6)
        painter.save()
        picture = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(picture, QIcon):
            picture.paint(
                painter, QRect(rect.left(), rect.top() + (rect.height() - ICON_SIZE) // 2, ICON_SIZE, ICON_SIZE)
            )
        left = rect.left() + ICON_SIZE + 10
        line = option.fontMetrics.lineSpacing()
        small = QFont(option.font)
        if small.pointSizeF() > 0:
            small.setPointSizeF(small.pointSizeF() * 0.9)
        when = str(index.data(WHEN_ROLE) or "")
        when_width = QFontMetrics(small).horizontalAdvance(when) + 4
        painter.setFont(small)
        painter.setPen(dim)
        painter.drawText(
            QRect(rect.right() - when_width, rect.top(), when_width, line),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            when,
        )
        name_font = QFont(option.font)
        name_font.setBold(True)
        painter.setFont(name_font)
        painter.setPen(QColor("#d93a3a") if missed and not selected else text)
        first = QRect(left, rect.top(), rect.right() - when_width - 8 - left, line)
        painter.drawText(
            first,
            Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(name_font).elidedText(str(who), Qt.TextElideMode.ElideRight, first.width()),
        )
        painter.setFont(small)
        painter.setPen(dim)
        second = QRect(left, rect.top() + line + 2, rect.right() - left, line)
        detail = str(index.data(DETAIL_ROLE) or "")
        painter.drawText(
            second,
            Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(small).elidedText(detail, Qt.TextElideMode.ElideRight, second.width()),
        )
        painter.restore()


def completions(store: Store, text: str, limit: int = 10) -> list[str]:
    """What the dial field offers for ``text``: contacts' addresses and numbers, then recent peers."""
    prefix = text.strip()
    if not prefix:
        return []
    found: list[str] = []
    try:
        for contact in store.contacts.search(prefix, limit=limit):
            for address in [*contact.uris, *contact.phones]:
                found.append(f"{contact.name} <{address}>")
        for peer in store.history.recent_peers(prefix, limit=limit):
            found.append(f"{peer.display_name} <{peer.uri}>" if peer.display_name else peer.uri)
    except Exception as exc:
        log.warning("completion failed: %s", exc)
    return list(dict.fromkeys(found))

"""The History tab's rows (who, when, how the call went and, when it did not happen, why) and the dial
field's completions from contacts and history."""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidgetItem

from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate
from softphone.gui.icons import icon
from softphone.gui.incoming import caller_number
from softphone.gui.text import plain_tooltip
from softphone.store import CallOutcome, CallRecord, Store
from softphone.ua import call_problem, why

log = logging.getLogger("softphone.gui")

# Item data: UserRole is the peer's address, UserRole + 1 the outcome.
RECORD_ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the store's id of the call (for Delete)
PEER_NAME_ROLE = Qt.ItemDataRole.UserRole + 3  # the peer's name as the call had it

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


def history_item(record: CallRecord) -> QListWidgetItem:
    """One call as a row: ``→ Bob  12 Mar 10:00  failed — there is no such user (404)``; missed calls bold."""
    who = record.peer_name or caller_number(record.peer)
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
    return item


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

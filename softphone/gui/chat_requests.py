"""The chat window's "Message requests": conversations from senders who are not verified contacts.

A message whose sender the UA could not verify as a contact (``MessageEvent.from_stranger``)
never opens a conversation tab, never shows under a contact's name and never counts as unread
there: it lands in :class:`RequestsPanel`, listed by the sender's address as it arrived, with
the messages shown as plain text. The user accepts (the messages join the conversations and
later ones from that verified sender are ordinary), adds the sender as a contact (which accepts
too), or deletes them. Every UA command goes through the bridge; nothing here waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from softphone.gui.chat_rows import MessageDelegate, ShownMessage
from softphone.gui.text import plain_label
from softphone.store import Conversation as StoredConversation
from softphone.store import Message, normalise_uri
from softphone.ua import MessageEvent

if TYPE_CHECKING:
    from softphone.gui.chat import ChatWindow

log = logging.getLogger("softphone.gui.chat")

PREVIEW = 80
REQUEST_PAGE = 50
# Opens the contact dialog for an address; returns something with an ``accepted`` signal (a QDialog).
AddContact = Callable[[str], Any]


@dataclass(slots=True)
class Request:
    """One sender's waiting messages as the panel lists them."""

    peer: str
    account: str | None
    count: int
    last: str
    time: float


def _preview(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW else line[: PREVIEW - 1] + "…"


class RequestsPanel(QFrame):
    """The message requests of a :class:`~softphone.gui.chat.ChatWindow`; hidden while there are none."""

    def __init__(self, chat: ChatWindow, on_add_contact: AddContact | None = None) -> None:
        super().__init__()
        self.chat = chat
        self.on_add_contact = on_add_contact
        self.requests: dict[str, Request] = {}
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(self.tr("Message requests"))
        self.title = plain_label()
        self.title.setAccessibleName(self.tr("Message requests"))
        self.title.setWordWrap(True)
        self.senders = QListWidget()
        self.senders.setAccessibleName(self.tr("Senders of message requests"))
        self.senders.setMaximumHeight(90)
        self.senders.currentItemChanged.connect(lambda item, _old: self._selected(item))
        self.messages = QListWidget()
        self.messages.setAccessibleName(self.tr("Messages of the selected request"))
        self.messages.setWordWrap(True)
        self.messages.setMaximumHeight(160)
        self.messages.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.messages.setItemDelegate(MessageDelegate(self.messages))
        self.accept_button = QPushButton(self.tr("Accept"))
        self.accept_button.setAccessibleName(self.tr("Accept the message request"))
        self.accept_button.clicked.connect(self.accept_selected)
        self.add_button = QPushButton(self.tr("Add contact…"))
        self.add_button.setAccessibleName(self.tr("Add the sender as a contact"))
        self.add_button.clicked.connect(self.add_selected)
        self.add_button.setVisible(on_add_contact is not None)
        self.delete_button = QPushButton(self.tr("Delete"))
        self.delete_button.setAccessibleName(self.tr("Delete the message request"))
        self.delete_button.clicked.connect(self.delete_selected)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.accept_button, self.add_button, self.delete_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.senders)
        layout.addWidget(self.messages)
        layout.addLayout(buttons)
        self._update()

    # --- what is listed ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Load the waiting requests of every account from the UA."""
        messaging = getattr(self.chat.bridge.ua, "messaging", None)
        if messaging is None:
            return
        accounts: list[str | None] = [a.aor for a in self.chat.accounts] or [None]

        def collect() -> list[tuple[str | None, StoredConversation]]:
            return [(aor, c) for aor in accounts for c in messaging.requests(aor)]

        self.chat.bridge.call(collect, on_done=self._loaded, on_error=lambda exc: log.info("requests: %s", exc))

    def _loaded(self, found: Sequence[tuple[str | None, StoredConversation]]) -> None:
        self.requests = {}
        for account, conversation in found:
            self.requests[conversation.peer] = Request(
                conversation.peer, account, conversation.unread, conversation.last.text, conversation.time
            )
        self._fill()

    def on_message(self, event: MessageEvent) -> None:
        peer = normalise_uri(event.sender)
        request = self.requests.get(peer)
        if request is None:
            request = self.requests[peer] = Request(peer, event.account or None, 0, "", event.time)
        request.count += 1
        request.last, request.time = event.text, event.time
        selected = self.selected_peer()
        self._fill()
        if selected == peer:
            self._show_message(event.text, event.time)

    def _fill(self) -> None:
        selected = self.selected_peer()
        self.senders.blockSignals(True)
        self.senders.clear()
        for request in sorted(self.requests.values(), key=lambda r: -r.time):
            count = self.tr("{count} new").format(count=request.count) + " · " if request.count else ""
            text = self.tr("{peer} — not a verified contact").format(peer=request.peer)
            item = QListWidgetItem(f"{text} · {count}{_preview(request.last)}")
            item.setData(Qt.ItemDataRole.UserRole, request.peer)
            item.setData(
                Qt.ItemDataRole.AccessibleTextRole, self.tr("Message request from {peer}").format(peer=request.peer)
            )
            self.senders.addItem(item)
            if request.peer == selected:
                self.senders.setCurrentItem(item)
        self.senders.blockSignals(False)
        if self.senders.currentItem() is None and self.senders.count():
            self.senders.setCurrentRow(0)
        self._update()

    def _update(self) -> None:
        count = len(self.requests)
        self.title.setText(
            self.tr(
                "Message requests ({count}): from senders who are not verified contacts. "
                "Nothing is shown in your conversations until you accept."
            ).format(count=count)
        )
        self.setVisible(count > 0)
        has = self.selected_peer() is not None
        for button in (self.accept_button, self.add_button, self.delete_button):
            button.setEnabled(has)

    def selected_peer(self) -> str | None:
        item = self.senders.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def _selected(self, item: QListWidgetItem | None) -> None:
        self.messages.clear()
        self._update()
        messaging = getattr(self.chat.bridge.ua, "messaging", None)
        if item is None or messaging is None:
            return
        peer = str(item.data(Qt.ItemDataRole.UserRole))
        request = self.requests.get(peer)
        account = request.account if request is not None else None

        def page() -> list[Message]:
            result: list[Message] = messaging.history(peer, None, REQUEST_PAGE, account, requests=True)
            return result

        def shown(messages: Sequence[Message]) -> None:
            if self.selected_peer() != peer:
                return
            self.messages.clear()
            for message in messages:
                self._show_message(message.text, message.time)

        self.chat.bridge.call(page, on_done=shown, on_error=lambda exc: log.info("requests: %s", exc))

    def _show_message(self, text: str, when: float) -> None:
        clock = time.strftime("%H:%M", time.localtime(when))
        item = QListWidgetItem(f"{clock}\n{text}")
        item.setData(Qt.ItemDataRole.UserRole, ShownMessage(None, False, text, when, "received"))
        self.messages.addItem(item)
        self.messages.scrollToBottom()

    # --- the user's answers -----------------------------------------------------------------

    def accept_selected(self) -> None:
        peer = self.selected_peer()
        if peer is not None:
            self.accept(peer)

    def accept(self, peer: str) -> None:
        """The messages of ``peer`` join the conversations; its tab opens."""
        messaging = getattr(self.chat.bridge.ua, "messaging", None)
        request = self.requests.get(peer)
        if messaging is None or request is None:
            return
        account = request.account

        def accepted(_count: int) -> None:
            self._drop(peer)
            self.chat.open_conversation(peer, account)

        self.chat.bridge.call(
            messaging.accept, peer, account, on_done=accepted, on_error=lambda e: self.chat.show_status(str(e))
        )

    def add_selected(self) -> None:
        peer = self.selected_peer()
        if peer is None or self.on_add_contact is None:
            return
        dialog = self.on_add_contact(peer)
        accepted = getattr(dialog, "accepted", None)
        if accepted is not None:
            accepted.connect(lambda: self.accept(peer))

    def delete_selected(self) -> None:
        peer = self.selected_peer()
        messaging = getattr(self.chat.bridge.ua, "messaging", None)
        request = self.requests.get(peer) if peer is not None else None
        if peer is None or messaging is None or request is None:
            return
        self.chat.bridge.call(
            messaging.decline,
            peer,
            request.account,
            on_done=lambda _n: self._drop(peer),
            on_error=lambda e: self.chat.show_status(str(e)),
        )

    def _drop(self, peer: str) -> None:
        self.requests.pop(peer, None)
        if self.selected_peer() == peer:
            self.messages.clear()
        self._fill()


__all__ = ["RequestsPanel"]

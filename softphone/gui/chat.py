"""The chat window: one tab per conversation, paged history, delivery states, is-composing, unread badges.

:class:`ChatWindow` is a top-level window the main window owns. Every UA
command (``ua.messaging.send``, ``composing``, ``history``,
``unread_counts``, ``mark_read``) goes through
:meth:`~softphone.gui.bridge.UaBridge.call` and its answer comes back on the
GUI thread; nothing here waits for the UA.

A conversation (:class:`Conversation`) shows the newest page of its history
(:data:`PAGE` messages) and loads the page before it when scrolled to the
top. Each of our messages shows its delivery state (queued, sending, sent,
failed with the reason) as :class:`~softphone.ua.events.MessageStatusEvent` s
arrive; a message typed here shows at once and takes its id when ``send``
returns (states that arrived before are kept until then). Enter sends,
Shift+Enter starts a new line; typing tells the peer we are composing
(RFC 3994), and the peer's composing state shows under the conversation.

Messages from senders who are not verified contacts (message requests) go to
the :class:`~softphone.gui.chat_requests.RequestsPanel` above the tabs, never
into a conversation, until the user accepts them. Everything from the network
is shown as plain text (:mod:`softphone.gui.text`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QIcon,
    QKeyEvent,
    QKeySequence,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QTabBar,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.bridge import UaBridge
from softphone.gui.chat_requests import AddContact, RequestsPanel
from softphone.gui.chat_rows import MessageDelegate, ShownMessage
from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate
from softphone.gui.icons import icon
from softphone.gui.text import plain_label, plain_tooltip
from softphone.store import Message, Store, StoreError, normalise_uri
from softphone.store.messages import Direction
from softphone.ua import Account, ComposingEvent, MessageEvent, MessageStatusEvent, message_problem

log = logging.getLogger("softphone.gui.chat")

PAGE = 50
"""Messages loaded at a time (the newest page first, older pages when scrolled to the top)."""
COMPOSING_REPEAT = 5.0
"""While typing, "composing" goes to the UA at most this often (the UA paces what goes on the wire)."""
MAX_EARLY_STATES = 500

ID_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_ROLE = Qt.ItemDataRole.UserRole + 2
REASON_ROLE = Qt.ItemDataRole.UserRole + 3

STATE_WORDS = {
    "queued": QT_TRANSLATE_NOOP("ChatWindow", "⏳ Queued"),
    "sending": QT_TRANSLATE_NOOP("ChatWindow", "… Sending"),
    "sent": QT_TRANSLATE_NOOP("ChatWindow", "✓ Sent"),
    "failed": QT_TRANSLATE_NOOP("ChatWindow", "✗ Failed"),
    "received": "",
}
_STATE_RANK = {"queued": 0, "sending": 1, "sent": 2, "failed": 2}


def state_text(state: str, reason: str | None = None) -> str:
    """The words for a delivery state: ``✓ Sent``, ``✗ Failed: 404 Not Found`` …"""
    words = STATE_WORDS.get(state, state)
    words = translate("ChatWindow", words) if words else words
    if state == "failed" and reason:
        words += f": {reason}"
    return words


def peer_key(uri: str, domain: str | None = None) -> str:
    """The conversation key of an address: ``bob@host`` and ``sip:bob@host`` are one peer; ``bob`` is
    completed with ``domain`` like the messaging service does."""
    text = uri.strip().strip("<>")
    if ":" not in text.split("@")[0]:
        if "@" not in text and domain:
            text = f"{text}@{domain}"
        text = f"sip:{text}"
    return normalise_uri(text)


class MessageInput(QPlainTextEdit):
    """The text being written: Enter sends (``send_requested``), Shift+Enter is a new line."""

    send_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            event.accept()
            self.send_requested.emit()
            return
        super().keyPressEvent(event)


class Conversation(QWidget):
    """One peer's conversation: header (name, address, call button), messages, composing line, input."""

    def __init__(self, window: ChatWindow, peer: str, uri: str, name: str, account: str | None) -> None:
        super().__init__()
        self.chat = window
        self.peer = peer
        self.uri = uri
        self.name = name
        self.account = account
        self.items: dict[int, QListWidgetItem] = {}
        self.oldest_id: int | None = None
        self.exhausted = False
        self.loading = False
        self.loaded = False
        self.unread = 0
        self.peer_typing = False
        self._composing_sent = 0.0
        self._composing = False
        self.setAccessibleName(self.tr("Conversation with {name}").format(name=name))

        header = QHBoxLayout()
        self.title = plain_label(name)
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.title.setAccessibleName(self.tr("Conversation with {name}").format(name=name))
        self.address = plain_label(peer)
        self.address.setAccessibleName(self.tr("Address"))
        self.address.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.call_button = QPushButton(icon("phone"), self.tr("Call"))
        self.call_button.setAccessibleName(self.tr("Call {name}").format(name=name))
        self.call_button.setToolTip(plain_tooltip(f"Call {peer}"))
        self.call_button.clicked.connect(lambda: self.chat.call(self.uri))
        header.addWidget(self.title)
        header.addWidget(self.address, 1)
        header.addWidget(self.call_button)

        self.messages = QListWidget()
        self.messages.setAccessibleName(self.tr("Messages with {name}").format(name=name))
        self.messages.setWordWrap(True)
        self.messages.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.messages.setResizeMode(QListView.ResizeMode.Adjust)
        self.messages.setUniformItemSizes(False)
        self.messages.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.messages.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.messages.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.messages.setSpacing(2)
        self.messages.setItemDelegate(MessageDelegate(self.messages))
        self.messages.verticalScrollBar().valueChanged.connect(self._scrolled)

        self.composing_label = plain_label("")
        self.composing_label.setAccessibleName(self.tr("Typing"))
        self.composing_label.setVisible(False)

        self.input = MessageInput()
        self.input.setAccessibleName(self.tr("Message to {name}").format(name=name))
        self.input.setPlaceholderText(self.tr("Write a message (Enter sends, Shift+Enter for a new line)"))
        self.input.setFixedHeight(70)
        self.input.send_requested.connect(self.send)
        self.input.textChanged.connect(self._typing)
        self.send_button = QPushButton(self.tr("Send"))
        self.send_button.setAccessibleName(self.tr("Send message"))
        self.send_button.clicked.connect(self.send)
        bottom = QHBoxLayout()
        bottom.addWidget(self.input, 1)
        bottom.addWidget(self.send_button)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.messages, 1)
        layout.addWidget(self.composing_label)
        layout.addLayout(bottom)

    # --- rows ----------------------------------------------------------------------------------

    def _row_text(self, shown: ShownMessage) -> str:
        when = time.strftime("%H:%M", time.localtime(shown.time))
        who = self.tr("You") if shown.outgoing else self.name
        head = f"{who} · {when}"
        if shown.outgoing:
            head += f" · {state_text(shown.state, shown.reason)}"
        return f"{head}\n{shown.text}"

    def _item(self, shown: ShownMessage) -> QListWidgetItem:
        item = QListWidgetItem(self._row_text(shown))
        self._fill(item, shown)
        return item

    def _fill(self, item: QListWidgetItem, shown: ShownMessage) -> None:
        item.setText(self._row_text(shown))
        item.setData(ID_ROLE, shown.id)
        item.setData(STATE_ROLE, shown.state)
        item.setData(REASON_ROLE, shown.reason)
        item.setData(Qt.ItemDataRole.UserRole, shown)
        when = time.strftime("%A %d %B %Y, %H:%M:%S", time.localtime(shown.time))
        item.setToolTip(
            self.tr("{problem}\n{when}").format(problem=failure_sentence(self.uri, shown.reason), when=when)
            if shown.state == "failed"
            else when
        )
        palette = self.messages.palette()
        if shown.state == "failed":
            item.setForeground(palette.placeholderText())

    def message_texts(self) -> list[str]:
        return [self.messages.item(i).text() for i in range(self.messages.count())]

    def state_of(self, message_id: int) -> str | None:
        item = self.items.get(message_id)
        return None if item is None else str(item.data(STATE_ROLE))

    def at_bottom(self) -> bool:
        bar = self.messages.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def append(self, shown: ShownMessage, *, scroll: bool | None = None) -> QListWidgetItem | None:
        if shown.id is not None and shown.id in self.items:
            return None
        follow = self.at_bottom() if scroll is None else scroll
        item = self._item(shown)
        self.messages.addItem(item)
        if shown.id is not None:
            self.items[shown.id] = item
        if follow:
            self.messages.scrollToBottom()
        return item

    def set_state(self, message_id: int, state: str, reason: str | None) -> bool:
        item = self.items.get(message_id)
        if item is None:
            return False
        shown = item.data(Qt.ItemDataRole.UserRole)
        if not isinstance(shown, ShownMessage):
            return False
        if shown.state in ("sent", "failed") and _STATE_RANK.get(state, 0) < 2:
            return True  # a late "sending" after the final answer changes nothing
        shown.state, shown.reason = state, reason
        self._fill(item, shown)
        return True

    # --- history -------------------------------------------------------------------------------

    def load_older(self) -> bool:
        """Ask for the page before the oldest message shown; False when there is nothing more to load."""
        if self.loading or self.exhausted:
            return False
        ua = self.chat.bridge.ua
        messaging = getattr(ua, "messaging", None)
        if messaging is None:
            self.exhausted = True
            return False
        self.loading = True
        self.chat.bridge.call(
            messaging.history,
            self.uri,
            self.oldest_id,
            PAGE,
            self.account,
            on_done=self._page_loaded,
            on_error=self._page_failed,
        )
        return True

    def _page_loaded(self, page: Sequence[Message]) -> None:
        self.loading = False
        first = not self.loaded
        self.loaded = True
        if len(page) < PAGE:
            self.exhausted = True
        if not page:
            return
        self.oldest_id = page[0].id if self.oldest_id is None else min(self.oldest_id, page[0].id)
        bar = self.messages.verticalScrollBar()
        from_bottom = bar.maximum() - bar.value()
        row = 0
        for message in page:
            if message.id in self.items:
                continue
            item = self._item(_shown(message))
            self.messages.insertItem(row, item)
            self.items[message.id] = item
            row += 1
        self.messages.doItemsLayout()
        if first:
            self.messages.scrollToBottom()
        else:
            bar.setValue(bar.maximum() - from_bottom)  # keep the message that was on screen there

    def _page_failed(self, exc: BaseException) -> None:
        self.loading = False
        self.loaded = True
        self.chat.show_status(self.tr("Cannot load the history: {exc}").format(exc=exc))

    def _scrolled(self, value: int) -> None:
        if self.loaded and value <= self.messages.verticalScrollBar().minimum():
            self.load_older()

    # --- sending -------------------------------------------------------------------------------

    def send(self) -> None:
        text = self.input.toPlainText().strip("\n").rstrip()
        if not text.strip():
            return
        self.input.blockSignals(True)
        self.input.clear()
        self.input.blockSignals(False)
        self._composing = False
        self.chat.send(self, text)

    def _typing(self) -> None:
        empty = not self.input.toPlainText().strip()
        now = time.monotonic()
        if not empty and (not self._composing or now - self._composing_sent >= COMPOSING_REPEAT):
            self._composing = True
            self._composing_sent = now
            self.chat.composing(self, True)
        elif empty and self._composing:
            self._composing = False
            self.chat.composing(self, False)

    def show_peer_typing(self, active: bool) -> None:
        self.peer_typing = active
        self.composing_label.setText(self.tr("{name} is typing…").format(name=self.name) if active else "")
        self.composing_label.setAccessibleName(
            self.tr("{name} is typing").format(name=self.name) if active else self.tr("Typing")
        )
        self.composing_label.setVisible(active)


def _shown(message: Message) -> ShownMessage:
    outgoing = message.direction == Direction.OUT
    return ShownMessage(
        message.id, outgoing, message.text, message.time, str(message.state), message.reason if outgoing else None
    )


class ChatWindow(QWidget):
    """Conversations in tabs. ``on_call(uri)`` dials; ``notify(title, text)`` shows a desktop notification
    and returns whether it could (without one, a message arriving while the window is hidden shows it)."""

    unread_changed = Signal(int)

    def __init__(
        self,
        bridge: UaBridge,
        store: Store | None,
        *,
        on_call: Callable[[str], None] | None = None,
        notify: Callable[[str, str], bool] | None = None,
        on_add_contact: AddContact | None = None,
        accounts: Sequence[Account] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.bridge = bridge
        self.store = store
        self.on_call = on_call
        self.notify = notify
        self.accounts: list[Account] = []
        self.domain: str | None = None
        self.set_accounts(accounts)
        self.conversations: dict[str, Conversation] = {}
        self.unread: dict[str, int] = {}
        self._early: dict[int, MessageStatusEvent] = {}
        self.setWindowTitle(self.tr("Chat"))
        self.setAccessibleName(self.tr("Chat window"))
        self.resize(520, 560)

        top = QHBoxLayout()
        self.address = QLineEdit()
        self.address.setPlaceholderText(self.tr("Write to: name, number or sip: address"))
        self.address.setAccessibleName(self.tr("Address to write to"))
        self.address.returnPressed.connect(self.start_from_field)
        self.start_button = QPushButton(icon("chat"), self.tr("New chat"))
        self.start_button.setAccessibleName(self.tr("Start a conversation"))
        self.start_button.clicked.connect(self.start_from_field)
        top.addWidget(self.address, 1)
        top.addWidget(self.start_button)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName(self.tr("Conversations"))
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.setDocumentMode(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.tabs.currentChanged.connect(lambda _i: self._current_changed())
        self.status = plain_label()
        self.status.setAccessibleName(self.tr("Chat status"))
        self.status.setWordWrap(True)
        self.status.setVisible(False)
        self.requests = RequestsPanel(self, on_add_contact)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.requests)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        QShortcut(QKeySequence("Ctrl+W"), self, lambda: self.close_tab(self.tabs.currentIndex()))
        QShortcut(QKeySequence("Ctrl+PgDown"), self, lambda: self._step_tab(1))
        QShortcut(QKeySequence("Ctrl+PgUp"), self, lambda: self._step_tab(-1))

        bridge.event.connect(self.on_event)
        bridge.started.connect(self.refresh_unread)
        bridge.started.connect(self.requests.refresh)
        if bridge.is_started:
            self.refresh_unread()
            self.requests.refresh()

    def set_accounts(self, accounts: Sequence[Account]) -> None:
        """The accounts conversations go through (the first one's domain completes a bare name)."""
        self.accounts = list(accounts)
        self.domain = accounts[0].domain if accounts else None

    # --- opening ---------------------------------------------------------------------------------

    def _name(self, peer: str) -> str:
        if self.store is not None:
            try:
                contact = self.store.contacts.find_by_uri(peer)
            except StoreError:
                contact = None
            if contact is not None:
                return contact.name
        user = peer.split(":", 1)[-1]
        return user.split("@", 1)[0] or peer

    def conversation(self, uri: str) -> Conversation | None:
        return self.conversations.get(peer_key(uri, self.domain))

    def open_conversation(
        self, uri: str, account: str | None = None, *, activate: bool = True, show: bool = True
    ) -> Conversation:
        """The conversation with ``uri`` (opened, with its history, if new); shown and in front by default."""
        key = peer_key(uri, self.domain)
        conversation = self.conversations.get(key)
        if conversation is None:
            name = self._name(key)
            conversation = Conversation(self, key, key, name, account)
            self.conversations[key] = conversation
            index = self.tabs.addTab(conversation, name)
            self.tabs.setTabToolTip(index, plain_tooltip(key))
            close = self.tabs.tabBar().tabButton(index, QTabBar.ButtonPosition.RightSide)
            if close is not None:
                close.setAccessibleName(self.tr("Close the conversation with {name}").format(name=name))
            self._update_tab(conversation)
            conversation.load_older()
        if activate:
            self.tabs.setCurrentWidget(conversation)
        if show:
            self.show_and_raise()
            conversation.input.setFocus()
        if activate and show:
            self._mark_read(conversation)
        return conversation

    def start_from_field(self) -> None:
        text = self.address.text().strip()
        if "<" in text and text.endswith(">"):
            text = text[text.rindex("<") + 1 : -1]
        if not text or " " in text:
            self.show_status(self.tr("Write an address: a name, a number or sip:user@host"))
            return
        self.address.clear()
        self.open_conversation(text)

    def show_window(self) -> None:
        """Show the window (the main window's Chat entry): with the unread conversations, else the latest."""
        if not self.conversations:
            peers = [peer for peer, count in self.unread.items() if count > 0]
            for peer in peers:
                self.open_conversation(peer, activate=False, show=False)
            if not peers:
                self._open_latest()
        self.show_and_raise()
        current = self.tabs.currentWidget()
        if isinstance(current, Conversation):
            self._mark_read(current)
            current.input.setFocus()
        else:
            self.address.setFocus()

    def _open_latest(self) -> None:
        messaging = getattr(self.bridge.ua, "messaging", None)
        if messaging is None or not self.bridge.is_started:
            return

        def opened(conversations: Sequence[object]) -> None:
            if self.conversations or not conversations:
                return
            peer = getattr(conversations[0], "peer", None)
            if isinstance(peer, str):
                self.open_conversation(peer, show=self.isVisible())

        self.bridge.call(messaging.conversations, on_done=opened, on_error=lambda exc: log.info("%s", exc))

    def show_and_raise(self) -> None:
        self.show()
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.raise_()
        self.activateWindow()

    def close_tab(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if not isinstance(widget, Conversation):
            return
        if widget._composing:
            self.composing(widget, False)
        self.tabs.removeTab(index)
        self.conversations.pop(widget.peer, None)
        widget.deleteLater()

    def _step_tab(self, step: int) -> None:
        if self.tabs.count():
            self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % self.tabs.count())

    # --- unread ----------------------------------------------------------------------------------

    def refresh_unread(self) -> None:
        messaging = getattr(self.bridge.ua, "messaging", None)
        if messaging is None:
            return

        def counted(counts: dict[str, int]) -> None:
            self.unread = {peer: n for peer, n in counts.items() if n > 0}
            for conversation in self.conversations.values():
                conversation.unread = self.unread.get(conversation.peer, 0)
                self._update_tab(conversation)
            self._current_changed()
            self.unread_changed.emit(self.total_unread())

        self.bridge.call(messaging.unread_counts, on_done=counted, on_error=lambda exc: log.info("%s", exc))

    def total_unread(self) -> int:
        return sum(self.unread.values())

    def _update_tab(self, conversation: Conversation) -> None:
        index = self.tabs.indexOf(conversation)
        if index < 0:
            return
        count = conversation.unread
        label = conversation.name + (f" ({count})" if count else "")
        if conversation.peer_typing:
            label += " ✎"
        self.tabs.setTabText(index, label)
        self.tabs.setTabIcon(index, icon("chat") if count else QIcon())
        spoken = self.tr("Conversation with {name}").format(name=conversation.name)
        if count:
            spoken += ", " + self.tr("{count} unread").format(count=count)
        self.tabs.tabBar().setAccessibleTabName(index, spoken)
        self.setWindowTitle(self._title())

    def _title(self) -> str:
        total = self.total_unread()
        current = self.tabs.currentWidget()
        name = current.name if isinstance(current, Conversation) else ""
        title = self.tr("Chat — {name}").format(name=name) if name else self.tr("Chat")
        return self.tr("{title} ({count} unread)").format(title=title, count=total) if total else title

    def _current_changed(self) -> None:
        current = self.tabs.currentWidget()
        if isinstance(current, Conversation) and self.isVisible():
            self._mark_read(current)
        self.setWindowTitle(self._title())

    def _mark_read(self, conversation: Conversation) -> None:
        had = self.unread.pop(conversation.peer, 0) or conversation.unread
        conversation.unread = 0
        self._update_tab(conversation)
        messaging = getattr(self.bridge.ua, "messaging", None)
        if had and messaging is not None:
            self.bridge.call(
                messaging.mark_read,
                conversation.uri,
                conversation.account,
                on_error=lambda exc: log.info("mark read: %s", exc),
            )
        self.unread_changed.emit(self.total_unread())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._current_changed)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self._current_changed()

    def closeEvent(self, event: QCloseEvent) -> None:
        for conversation in self.conversations.values():
            if conversation._composing:
                conversation._composing = False
                self.composing(conversation, False)
        super().closeEvent(event)

    # --- commands --------------------------------------------------------------------------------

    def call(self, uri: str) -> None:
        if self.on_call is not None:
            self.on_call(uri)

    def send(self, conversation: Conversation, text: str) -> None:
        shown = ShownMessage(None, True, text, time.time(), "queued")
        item = conversation.append(shown, scroll=True)
        messaging = getattr(self.bridge.ua, "messaging", None)
        if messaging is None or item is None:
            shown.state, shown.reason = "failed", "messaging is not available"
            if item is not None:
                conversation._fill(item, shown)
            return

        def sent(message_id: int) -> None:
            shown.id = message_id
            if message_id in conversation.items:
                # The history page got there first: keep the row with the id, drop this one.
                conversation.messages.takeItem(conversation.messages.row(item))
                return
            conversation.items[message_id] = item
            conversation._fill(item, shown)
            early = self._early.pop(message_id, None)
            if early is not None:
                conversation.set_state(message_id, early.status, _reason(early))

        def failed(exc: BaseException) -> None:
            shown.state, shown.reason = "failed", str(exc) or type(exc).__name__
            conversation._fill(item, shown)

        self.bridge.call(messaging.send, conversation.uri, text, conversation.account, on_done=sent, on_error=failed)

    def composing(self, conversation: Conversation, active: bool) -> None:
        messaging = getattr(self.bridge.ua, "messaging", None)
        if messaging is None or not self.bridge.is_started:
            return
        self.bridge.call(
            messaging.composing,
            conversation.uri,
            active,
            conversation.account,
            on_error=lambda exc: log.info("composing: %s", exc),
        )

    def show_status(self, text: str) -> None:
        log.info("%s", text)
        self.status.setText(text)
        self.status.setVisible(bool(text))

    # --- events ----------------------------------------------------------------------------------

    def on_event(self, event: object) -> None:
        if isinstance(event, MessageEvent):
            self.on_message(event)
        elif isinstance(event, MessageStatusEvent):
            self.on_status(event)
        elif isinstance(event, ComposingEvent):
            conversation = self.conversations.get(normalise_uri(event.uri))
            if conversation is not None:
                conversation.show_peer_typing(event.active)
                self._update_tab(conversation)

    def on_message(self, event: MessageEvent) -> None:
        if event.from_stranger:
            self.on_request(event)
            return
        key = normalise_uri(event.sender)
        conversation = self.conversations.get(key)
        new_tab = conversation is None
        if conversation is None:
            # A new tab loads the history, which holds this message already (stored before the event).
            conversation = self.open_conversation(
                key, event.account or None, activate=self.tabs.count() == 0, show=False
            )
        if not new_tab or event.message_id is None:  # without a store there is no history to load
            conversation.append(ShownMessage(event.message_id, False, event.text, event.time, "received"))
        conversation.show_peer_typing(False)
        looking = self.isVisible() and not self.isMinimized() and self.tabs.currentWidget() is conversation
        if looking:
            self._mark_read(conversation)
        else:
            conversation.unread += 1
            self.unread[key] = self.unread.get(key, 0) + 1
            self._update_tab(conversation)
            self.unread_changed.emit(self.total_unread())
        if not self.isVisible() or self.isMinimized():
            shown = self.notify is not None and self.notify(
                self.tr("Message from {name}").format(name=conversation.name), event.text[:200]
            )
            if not shown:
                self.show()  # no desktop notification: the window itself says a message came

    def on_request(self, event: MessageEvent) -> None:
        """A message request: into the requests panel, announced without its text or any contact's name."""
        self.requests.on_message(event)
        if not self.isVisible() or self.isMinimized():
            shown = self.notify is not None and self.notify(
                self.tr("Message request"),
                self.tr("from {sender} (not a verified contact)").format(sender=event.sender),
            )
            if not shown:
                self.show()

    def on_status(self, event: MessageStatusEvent) -> None:
        conversation = self.conversations.get(normalise_uri(event.to))
        if conversation is not None and conversation.set_state(event.message_id, event.status, _reason(event)):
            return
        # Not shown (yet): ``send`` has not returned its id. Keep the most advanced state for it.
        earlier = self._early.get(event.message_id)
        if earlier is None or _STATE_RANK.get(event.status, 0) >= _STATE_RANK.get(earlier.status, 0):
            self._early[event.message_id] = event
        while len(self._early) > MAX_EARLY_STATES:
            self._early.pop(next(iter(self._early)))


def failure_sentence(peer: str, reason: str | None) -> str:
    """Why a message was not delivered, said like every other problem; ``reason`` as the store keeps it
    (``404 Not Found``, or the UA's own words)."""
    code_text, _, phrase = (reason or "").partition(" ")
    if len(code_text) == 3 and code_text.isdigit():
        return message_problem(peer, int(code_text), phrase)
    return message_problem(peer, None, reason or "")


def _reason(event: MessageStatusEvent) -> str | None:
    if event.status != "failed":
        return None
    if event.code is not None:
        return f"{event.code} {event.reason or ''}".strip()
    return event.reason


__all__ = [
    "PAGE",
    "ChatWindow",
    "Conversation",
    "MessageInput",
    "ShownMessage",
    "failure_sentence",
    "peer_key",
    "state_text",
]

"""The chat window: messages both ways through Kamailio, delivery states, a failure with its reason,
is-composing both ways, unread badges, Enter / Shift+Enter, paged history and wrapping."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from softphone.gui.bridge import UaBridge
from softphone.gui.chat import PAGE, ChatWindow, Conversation, peer_key, state_text
from softphone.store import Contact, MessageState, Store
from softphone.ua import Account, ComposingEvent, MessageEvent
from tests.gui.harness import WAIT_MS, GuiPhone, Peer, new_account, unnamed_controls
from tests.kamailio_server import Kamailio
from tests.ua import make_ua

UTF8 = "Grüße 👋 日本 — ünïcödé"


@pytest.fixture
def started() -> Iterator[list[object]]:
    things: list[object] = []
    yield things
    for thing in reversed(things):
        thing.close() if isinstance(thing, GuiPhone) else thing.stop()  # type: ignore[attr-defined]


def texts(conversation: Conversation) -> list[str]:
    return conversation.message_texts()


def wait_text(qtbot: QtBot, conversation: Conversation, words: str) -> str:
    def found() -> bool:
        return any(words in text for text in texts(conversation))

    try:
        qtbot.waitUntil(found, timeout=WAIT_MS)
    except Exception:
        raise AssertionError(f"{words!r} never shown; rows: {texts(conversation)}") from None
    return next(text for text in texts(conversation) if words in text)


def type_and_send(qtbot: QtBot, conversation: Conversation, ascii_part: str, rest: str = "") -> None:
    """Type like a user: keys for the ASCII part, the rest inserted (emoji are not keys), then Enter."""
    conversation.input.setFocus()
    qtbot.keyClicks(conversation.input, ascii_part)
    if rest:
        conversation.input.insertPlainText(rest)
    qtbot.keyClick(conversation.input, Qt.Key.Key_Return)


def last_state(conversation: Conversation) -> str:
    item = conversation.messages.item(conversation.messages.count() - 1)
    from softphone.gui.chat import STATE_ROLE

    return str(item.data(STATE_ROLE))


def test_state_words_and_peer_keys() -> None:
    assert state_text("sent") == "✓ Sent"
    assert state_text("failed", "404 Not Found") == "✗ Failed: 404 Not Found"
    assert peer_key("bob@example.com") == peer_key("sip:bob@example.com") == "sip:bob@example.com"
    assert peer_key("bob", "example.com") == "sip:bob@example.com"
    assert peer_key("<sip:Bob@EXAMPLE.com;transport=udp>") == "sip:Bob@example.com"


def test_chat_both_ways_through_kamailio(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, started: list[object]
) -> None:
    bob = Peer(qtbot, new_account(kamailio))
    started.append(bob)
    carol = Peer(qtbot, new_account(kamailio))
    started.append(carol)
    phone = GuiPhone(qtbot, new_account(kamailio), tmp_path)
    started.append(phone)
    # Bob and Carol are contacts: their messages open conversations (a stranger's would be a message request).
    phone.store.contacts.add(Contact("Bob", uris=[bob.aor]))
    phone.store.contacts.add(Contact("Carol", uris=[carol.aor]))
    for peer in (bob, carol):
        peer.wait_registered()
    phone.wait_registered()
    chat: ChatWindow = phone.window.chat_window
    assert not chat.isVisible()

    # Bob writes first: a tab appears with his text (the window shows itself: there is no tray offscreen).
    bob.bridge.call(bob.ua.messaging.send, phone.account.aor, f"hello from bob {UTF8}")
    qtbot.waitUntil(lambda: chat.conversation(bob.aor) is not None, timeout=WAIT_MS)
    from_bob = chat.conversation(bob.aor)
    assert from_bob is not None
    shown = wait_text(qtbot, from_bob, f"hello from bob {UTF8}")
    assert shown.startswith(from_bob.name)
    qtbot.waitUntil(chat.isVisible, timeout=WAIT_MS)
    assert chat.tabs.currentWidget() is from_bob

    # The reply, typed in the chat window: Enter sends, Shift+Enter is a new line.
    from_bob.input.setFocus()
    qtbot.keyClicks(from_bob.input, "first line")
    qtbot.keyClick(from_bob.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert from_bob.input.toPlainText() == "first line\n"
    mark = bob.mark()
    qtbot.keyClicks(from_bob.input, "second ")
    from_bob.input.insertPlainText("✓ 🎉")
    qtbot.keyClick(from_bob.input, Qt.Key.Key_Return)
    assert from_bob.input.toPlainText() == ""
    received = bob.wait(lambda e: isinstance(e, MessageEvent) and "second" in e.text, after=mark)
    assert isinstance(received, MessageEvent)
    assert received.text == "first line\nsecond ✓ 🎉" and received.sender == phone.account.aor
    qtbot.waitUntil(lambda: last_state(from_bob) == "sent", timeout=WAIT_MS)
    row = texts(from_bob)[-1]
    assert row.startswith("You ·") and "✓ Sent" in row and row.endswith("first line\nsecond ✓ 🎉")
    assert phone.store.messages.page(phone.account.aor, bob.aor)[-1].state == "sent"

    # Is-composing both ways.
    mark = bob.mark()
    qtbot.keyClicks(from_bob.input, "typing")
    bob.wait(lambda e: isinstance(e, ComposingEvent) and e.active and e.uri == phone.account.aor, after=mark)
    from_bob.input.clear()
    bob.wait(lambda e: isinstance(e, ComposingEvent) and not e.active, after=mark)
    bob.bridge.call(bob.ua.messaging.composing, phone.account.aor, True)
    qtbot.waitUntil(lambda: from_bob.composing_label.isVisibleTo(from_bob), timeout=WAIT_MS)
    assert from_bob.composing_label.text() == f"{from_bob.name} is typing…"
    assert "✎" in chat.tabs.tabText(chat.tabs.indexOf(from_bob))
    bob.bridge.call(bob.ua.messaging.composing, phone.account.aor, False)
    qtbot.waitUntil(lambda: not from_bob.composing_label.isVisibleTo(from_bob), timeout=WAIT_MS)

    # Carol writes while Bob's tab is in front: her tab gets an unread badge, cleared when shown.
    carol.bridge.call(carol.ua.messaging.send, phone.account.aor, "are you there?")
    qtbot.waitUntil(lambda: chat.conversation(carol.aor) is not None, timeout=WAIT_MS)
    from_carol = chat.conversation(carol.aor)
    assert from_carol is not None
    wait_text(qtbot, from_carol, "are you there?")
    index = chat.tabs.indexOf(from_carol)
    qtbot.waitUntil(lambda: chat.tabs.tabText(index).endswith("(1)"), timeout=WAIT_MS)
    assert chat.tabs.currentWidget() is from_bob and chat.total_unread() == 1
    assert phone.window.chat_button.text() == "Chat (1)"
    assert phone.store.messages.unread_counts(phone.account.aor) == {carol.aor: 1}
    chat.tabs.setCurrentWidget(from_carol)
    assert chat.tabs.tabText(index) == from_carol.name and chat.total_unread() == 0
    qtbot.waitUntil(lambda: phone.store.messages.unread_counts(phone.account.aor) == {}, timeout=WAIT_MS)
    assert phone.window.chat_button.text() == "Chat"

    # The call button dials through the main window.
    dialled: list[str] = []
    chat.on_call = dialled.append
    qtbot.mouseClick(from_carol.call_button, Qt.MouseButton.LeftButton)
    assert dialled == [carol.aor]
    assert unnamed_controls(chat) == []

    # Closed and hidden, then opened again from the main window's Chat button: the latest conversation.
    while chat.tabs.count():
        chat.close_tab(0)
    chat.hide()
    qtbot.mouseClick(phone.window.chat_button, Qt.MouseButton.LeftButton)
    assert chat.isVisible()
    qtbot.waitUntil(lambda: chat.conversation(carol.aor) is not None, timeout=WAIT_MS)
    reopened = chat.conversation(carol.aor)
    assert reopened is not None
    wait_text(qtbot, reopened, "are you there?")


def test_a_message_to_an_offline_user_shows_failed_with_the_reason(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, started: list[object]
) -> None:
    phone = GuiPhone(qtbot, new_account(kamailio), tmp_path)
    started.append(phone)
    phone.wait_registered()
    offline = new_account(kamailio)  # a user of the server that never registers
    chat = phone.window.chat_window
    conversation = chat.open_conversation(offline.aor)
    assert chat.isVisible() and chat.tabs.currentWidget() is conversation
    type_and_send(qtbot, conversation, "are you there? ", "🙂")
    qtbot.waitUntil(lambda: last_state(conversation) == "failed", timeout=WAIT_MS)
    row = texts(conversation)[-1]
    assert "✗ Failed: 404 Not Found" in row and row.endswith("are you there? 🙂")
    stored = phone.store.messages.page(phone.account.aor, offline.aor)[-1]
    assert (stored.state, stored.reason) == ("failed", "404 Not Found")


@pytest.fixture
def lan_chat(qtbot: QtBot, tmp_path: Path) -> Iterator[tuple[ChatWindow, Store, str]]:
    """A chat window over a LAN-only UA whose store already holds a long conversation."""
    store = Store(tmp_path / f"chat-{secrets.token_hex(3)}.db")
    aor, peer = "sip:me@127.0.0.1", "sip:pen.pal@127.0.0.1"
    base = time.time() - 10_000
    for i in range(120):
        if i % 3 == 0:
            sent = store.messages.add_outgoing(aor, peer, f"message {i:03d}", time=base + i)
            store.messages.set_state(sent.id, MessageState.SENT)
        else:
            store.messages.add_incoming(aor, peer, f"message {i:03d}", call_id=f"c{i}", cseq=1, time=base + i)
    account = Account(aor, register=False)
    bridge = UaBridge()
    bridge.start(make_ua(account, store=store))
    qtbot.waitUntil(lambda: bridge.is_started, timeout=WAIT_MS)
    chat = ChatWindow(bridge, store, accounts=[account])
    qtbot.addWidget(chat)
    yield chat, store, peer
    chat.close()
    bridge.stop()
    store.close()


def test_history_is_paged_from_the_newest_when_scrolled_to_the_top(
    qtbot: QtBot, lan_chat: tuple[ChatWindow, Store, str]
) -> None:
    chat, _store, peer = lan_chat
    qtbot.waitUntil(lambda: chat.total_unread() == 80, timeout=WAIT_MS)  # unread_counts at start
    conversation = chat.open_conversation(peer)
    qtbot.waitUntil(lambda: conversation.messages.count() == PAGE, timeout=WAIT_MS)
    assert texts(conversation)[0].endswith("message 070") and texts(conversation)[-1].endswith("message 119")
    assert texts(conversation)[-3].startswith("You ·") and "✓ Sent" in texts(conversation)[-3]  # 117: ours
    assert texts(conversation)[-1].startswith("pen.pal ·")
    assert chat.total_unread() == 0  # shown: marked read
    bar = conversation.messages.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=WAIT_MS)
    bar.setValue(bar.minimum())
    qtbot.waitUntil(lambda: conversation.messages.count() == 2 * PAGE, timeout=WAIT_MS)
    assert texts(conversation)[0].endswith("message 020")
    assert bar.value() > bar.minimum()  # the message that was on screen stays there
    conversation.messages.scrollToTop()
    bar.setValue(bar.minimum())
    qtbot.waitUntil(lambda: conversation.messages.count() == 120, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: conversation.exhausted and not conversation.loading, timeout=WAIT_MS)
    numbers = [int(t.rsplit(" ", 1)[1]) for t in texts(conversation)]
    assert numbers == list(range(120))
    assert not conversation.load_older()  # nothing more


def test_long_text_wraps_and_every_control_is_named(qtbot: QtBot, lan_chat: tuple[ChatWindow, Store, str]) -> None:
    chat, _store, peer = lan_chat
    conversation = chat.open_conversation(peer)
    qtbot.waitUntil(lambda: conversation.loaded, timeout=WAIT_MS)
    chat.resize(400, 500)
    short = conversation.append(conversation_message("short"))
    long = conversation.append(conversation_message("word " * 200 + "🙂" * 50 + "x" * 400))
    assert short is not None and long is not None
    conversation.messages.doItemsLayout()
    short_rect = conversation.messages.visualItemRect(short)
    long_rect = conversation.messages.visualItemRect(long)
    assert long_rect.height() > 4 * short_rect.height()
    assert long_rect.width() <= conversation.messages.viewport().width()
    assert conversation.messages.wordWrap()
    assert unnamed_controls(chat) == []


def conversation_message(text: str):  # type: ignore[no-untyped-def]
    from softphone.gui.chat import ShownMessage

    return ShownMessage(None, False, text, time.time(), "received")

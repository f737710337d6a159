"""The GUI shows what strangers send as plain text, and their messages as requests, never as a contact's.

A peer-to-peer phone with the real main window (offscreen). The attacker, a raw UDP socket,
writes as Alice (a contact on another machine) with HTML in the text, and calls with HTML in its
display name. The message waits under "Message requests" with the address it came with, not in
Alice's conversation; accepted, it joins it. No label anywhere renders the markup, and tooltips
show it escaped.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QLabel, QListWidget, QListWidgetItem, QToolTip, QWidget
from pytestqt.qtbot import QtBot

from softphone.gui.text import PlainToolTips, notification_text, plain_tooltip
from softphone.sip.message import Response
from softphone.sip.parser import parse_message
from softphone.store import Contact
from softphone.ua import Account, IncomingCallEvent, MessageEvent
from tests.gui.harness import WAIT_MS, GuiPhone
from tests.security.attacker import sip_request

HTML_TEXT = "<b>bold</b> <a href='http://203.0.113.9/'>click</a> <img src='http://203.0.113.9/x.png'>"
HTML_NAME = "<b>Your Bank</b><img src=x>"
ALICE = "sip:alice@192.0.2.10"


class Socket:
    """A blocking UDP socket on loopback that asks and waits (bounded) for the final answer."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])

    def ask(self, data: bytes, port: int, method: str, timeout: float = 15.0) -> Response:
        deadline = time.monotonic() + timeout
        call_id = parse_message(data).call_id
        while time.monotonic() < deadline:
            self.sock.sendto(data, ("127.0.0.1", port))
            try:
                while True:
                    message = parse_message(self.sock.recv(65535))
                    if (
                        isinstance(message, Response)
                        and message.call_id == call_id
                        and message.cseq.method == method
                        and message.status_code >= 200
                    ):
                        return message
            except TimeoutError:
                continue
        raise AssertionError(f"no final answer to {method} within {timeout} s")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def phone(qtbot: QtBot, tmp_path: Path) -> Iterator[GuiPhone]:
    gui = GuiPhone(qtbot, Account("sip:bob@127.0.0.1", register=False), tmp_path)
    gui.store.contacts.add(Contact("Alice", uris=[ALICE]))
    qtbot.waitUntil(lambda: gui.bridge.is_started, timeout=WAIT_MS)
    yield gui
    gui.close()


def labels_showing(text: str) -> list[QLabel]:
    return [w for w in QApplication.allWidgets() if isinstance(w, QLabel) and text in w.text()]


def test_a_strangers_html_is_text_and_its_message_a_request(qtbot: QtBot, phone: GuiPhone) -> None:
    port = phone.ua.stack.transport.local_address("UDP")[1]
    mallory = Socket()
    chat = phone.window.chat_window
    try:
        message = sip_request(
            "MESSAGE",
            port,
            from_uri=ALICE,
            local_port=mallory.port,
            body=HTML_TEXT.encode(),
            content_type="text/plain;charset=UTF-8",
        )
        assert mallory.ask(message, port, "MESSAGE").status_code == 200
        phone.wait(lambda: any(isinstance(e, MessageEvent) for e in phone.events))
        panel = chat.requests
        qtbot.waitUntil(lambda: panel.senders.count() == 1 and panel.messages.count() == 1, timeout=WAIT_MS)
        assert panel.isVisibleTo(chat)
        row = panel.senders.item(0).text()
        assert row.startswith(ALICE) and "not a verified contact" in row and "Alice" not in row.replace(ALICE, "")
        assert HTML_TEXT in panel.messages.item(0).text()
        # Not in Alice's conversation: no tab, no unread badge under her name.
        assert chat.conversation(ALICE) is None and chat.total_unread() == 0

        # A call with markup in the display name: the incoming-call window shows it as typed.
        branch, call_id, tag = f"z9hG4bK{secrets.token_hex(8)}", secrets.token_hex(10), secrets.token_hex(4)
        fields = {"from_uri": "sip:mallory@127.0.0.1", "local_port": mallory.port, "call_id": call_id}
        invite = sip_request("INVITE", port, display_name=HTML_NAME, branch=branch, from_tag=tag, **fields)
        mallory.sock.sendto(invite, ("127.0.0.1", port))
        phone.wait(lambda: any(isinstance(e, IncomingCallEvent) for e in phone.events))
        qtbot.waitUntil(lambda: bool(labels_showing(HTML_NAME)), timeout=WAIT_MS)

        for shown in (HTML_NAME, "<b>bold</b>"):
            for label in labels_showing(shown):
                assert label.textFormat() == Qt.TextFormat.PlainText, (label.accessibleName(), label.text())
        cancel = sip_request("CANCEL", port, display_name=HTML_NAME, branch=branch, from_tag=tag, **fields)
        assert mallory.ask(cancel, port, "CANCEL").status_code == 200

        # Accepted: the message joins Alice's conversation (the user decided it is hers).
        panel.accept(ALICE)
        qtbot.waitUntil(lambda: chat.conversation(ALICE) is not None, timeout=WAIT_MS)
        conversation = chat.conversation(ALICE)
        assert conversation is not None
        qtbot.waitUntil(lambda: any(HTML_TEXT in text for text in conversation.message_texts()), timeout=WAIT_MS)
        assert not panel.isVisibleTo(chat) and phone.store.messages.request_count() == 0
        assert conversation.title.textFormat() == Qt.TextFormat.PlainText
    finally:
        mallory.close()


def test_every_label_that_can_show_network_text_is_plain(qtbot: QtBot, phone: GuiPhone) -> None:
    """The windows' labels that carry names, addresses, reasons or states are plain text from the start."""
    window = phone.window
    chat = window.chat_window
    conversation = chat.open_conversation("sip:carol@127.0.0.1", show=False)
    plain = [
        conversation.title,
        conversation.address,
        conversation.composing_label,
        chat.status,
        chat.requests.title,
        window.buddy_list.watcher_bar.title,
        window.buddy_list.status,
        window.call_window.error_label,
    ]
    widgets: list[QWidget] = plain
    assert all(isinstance(w, QLabel) and w.textFormat() == Qt.TextFormat.PlainText for w in widgets)


def test_item_tooltips_and_notifications_show_markup_as_text(qtbot: QtBot, phone: GuiPhone) -> None:
    """A buddy's presence note or a contact's details in a tooltip, a name in a notification: as text."""
    view = QListWidget()
    qtbot.addWidget(view)
    view.setItemDelegate(PlainToolTips(view))
    item = QListWidgetItem("Alice")
    item.setToolTip(HTML_NAME)
    view.addItem(item)
    view.show()
    qtbot.waitExposed(view)
    where = view.visualItemRect(item).center()
    event = QHelpEvent(QEvent.Type.ToolTip, where, view.viewport().mapToGlobal(where))
    QApplication.sendEvent(view.viewport(), event)
    qtbot.waitUntil(lambda: QToolTip.text() != "", timeout=WAIT_MS)
    assert QToolTip.text() == plain_tooltip(HTML_NAME) and "&lt;b&gt;" in QToolTip.text()
    QToolTip.hideText()
    # The buddy list and the chat draw their rows with such delegates.
    buddies = phone.window.buddy_list.view
    assert isinstance(buddies.itemDelegate(), PlainToolTips)
    assert isinstance(buddies.itemDelegateForColumn(0), PlainToolTips)
    assert notification_text(HTML_NAME) == "&lt;b&gt;Your Bank&lt;/b&gt;&lt;img src=x&gt;"

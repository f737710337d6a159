"""The incoming-call window's picture: from the caller's http(s) Call-Info, fetched off the GUI thread."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtGui import QPixmap
from pytestqt.qtbot import QtBot

from softphone.gui.incoming import IncomingCallWindow, caller_number
from softphone.store import Contact
from softphone.ua import IncomingCallEvent


def png(color: Qt.GlobalColor) -> bytes:
    picture = QPixmap(20, 20)
    picture.fill(color)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    picture.save(buffer, "PNG")
    return bytes(buffer.data().data())


@pytest.fixture
def photo_server(qtbot: QtBot) -> Iterator[str]:
    body = png(Qt.GlobalColor.red)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="photo-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/caller.png"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def centre(window: IncomingCallWindow) -> tuple[int, int, int]:
    image = window.photo.pixmap().toImage()
    color = image.pixelColor(image.width() // 2, image.height() // 2)
    return color.red(), color.green(), color.blue()


def test_http_photo_replaces_the_contacts_until_it_arrives(qtbot: QtBot, photo_server: str, tmp_path: Path) -> None:
    contact = Contact("Bob", uris=["sip:bob@127.0.0.1"], photo=png(Qt.GlobalColor.blue), photo_type="image/png")
    answered: list[str] = []
    declined: list[tuple[str, int]] = []
    event = IncomingCallEvent("c1", "sip:bob@127.0.0.1", None, photo_url=photo_server)
    window = IncomingCallWindow(
        event, contact=contact, on_answer=answered.append, on_decline=lambda c, code: declined.append((c, code))
    )
    qtbot.addWidget(window)
    window.show()
    assert window.name_label.text() == "Bob"  # the contact's name when the caller sends none
    qtbot.waitUntil(lambda: centre(window)[0] > 200, timeout=10000)  # red: the caller's own picture
    qtbot.mouseClick(window.decline_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.answer_button, Qt.MouseButton.LeftButton)  # decided already: no second command
    assert declined == [("c1", 603)] and answered == []
    window.failed("Cannot decline: gone")
    assert window.status.text() == "Cannot decline: gone"


def test_caller_number() -> None:
    assert caller_number("sip:+4420794600@example.com;user=phone") == "+4420794600@example.com"
    assert caller_number("tel:+1-555-0100;ext=1") == "+1-555-0100"

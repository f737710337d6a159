"""The SIP trace window: a real call through Kamailio drawn as a ladder, message text, pcap export."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from softphone.gui.trace import TraceWindow, message_kind
from tests.gui.harness import GuiPhone, Peer, Watchdog, new_account, unnamed_controls
from tests.kamailio_server import Kamailio

CALL_FLOW = ["INVITE", "100", "180", "200", "ACK", "BYE", "200"]  # methods, and status codes of responses


def is_subsequence(wanted: list[str], labels: list[str]) -> bool:
    it = iter(label.split(" ", 1)[0] for label in labels)
    return all(any(label == want for label in it) for want in wanted)


@pytest.fixture
def phones(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path) -> Iterator[tuple[GuiPhone, Peer]]:
    gui = GuiPhone(qtbot, new_account(kamailio), tmp_path)
    bob = Peer(qtbot, new_account(kamailio))
    try:
        gui.wait_registered()
        bob.wait_registered()
        yield gui, bob
    finally:
        bob.stop()
        gui.close()


def test_a_real_call_appears_as_a_ladder_and_exports_as_pcap(
    qtbot: QtBot, tmp_path: Path, phones: tuple[GuiPhone, Peer]
) -> None:
    gui, bob = phones
    trace = TraceWindow(gui.bridge)
    qtbot.addWidget(trace)
    trace.show()
    ua = gui.ua
    gui.wait(lambda: ua.trace.enabled and not trace._loading)
    assert unnamed_controls(trace) == []
    watchdog = Watchdog()

    mark = bob.mark()
    gui.window.dial(bob.aor)
    incoming = bob.wait_incoming(mark)
    bob.run(lambda: bob.ua.answer(incoming.call_id))
    bob.wait_state("confirmed", after=mark)
    gui.wait(lambda: trace.current_call_id is not None)  # the window follows the new call by itself
    call_id = trace.current_call_id
    assert call_id is not None
    gui.wait(lambda: is_subsequence(CALL_FLOW[:5], trace.ladder.labels()))
    rows = gui.window.call_window.rows
    gui.wait(lambda: len(rows) == 1)
    gui.bridge.run(lambda: ua.hangup(None))
    bob.wait_state("ended", after=mark)
    gui.wait(lambda: is_subsequence(CALL_FLOW, trace.ladder.labels()))
    assert watchdog.stop() < 1.0, "the GUI thread was blocked"

    labels = trace.ladder.labels()
    assert labels[0] == "INVITE" and labels[-1] == "200 OK"
    records = trace.ladder.records
    assert {r.call_id for r in records} == {call_id}
    assert records[0].direction == "sent" and records[-1].direction == "received"
    # Two parties: this phone and Kamailio (everything goes through the proxy).
    assert len(trace.ladder.parties) == 1 and trace.ladder.parties[0].startswith("127.0.0.1:")
    item = trace.dialogs[call_id]
    assert item.text(1) == f"INVITE {bob.aor}" and int(item.text(2)) == len(records)
    assert message_kind(records[0]) == "request"
    assert {message_kind(r) for r in records} >= {"request", "provisional", "success"}

    # Clicking an arrow shows that message's text; the keyboard moves along the ladder.
    ladder = trace.ladder
    x = int(ladder.column_x(0) + 20)
    qtbot.mouseClick(ladder, Qt.MouseButton.LeftButton, pos=QPoint(x, int(ladder.row_y(0))))
    assert ladder.current == 0
    text = trace.message_text.toPlainText()
    assert "INVITE sip:" in text and f"Call-ID: {call_id}" in text
    qtbot.keyClick(ladder, Qt.Key.Key_End)
    assert ladder.current == len(records) - 1 and "SIP/2.0 200 OK" in trace.message_text.toPlainText()
    assert "200 OK" in ladder.accessibleDescription()
    assert not ladder.grab().isNull()

    # The dialog's messages as pcap: IPv4/UDP packets carrying the SIP text.
    path = tmp_path / "call.pcap"
    assert trace.export_pcap(path) == len(records)
    data = path.read_bytes()
    magic, major, minor, _zone, _sig, _snap, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 101)
    offset, packets = 24, []
    while offset < len(data):
        _s, _us, caplen, length = struct.unpack("<IIII", data[offset : offset + 16])
        assert caplen == length
        packets.append(data[offset + 16 : offset + 16 + caplen])
        offset += 16 + caplen
    assert offset == len(data) and len(packets) == len(records)
    for packet in packets:
        assert packet[0] >> 4 == 4 and packet[9] == 17  # IPv4, UDP
    assert packets[0][28:].startswith(b"INVITE sip:")
    assert trace.export_pcap(tmp_path / "all.pcap", all_records=True) >= len(records)

    # Closing the window switches the trace off again.
    trace.close()
    gui.wait(lambda: not ua.trace.enabled)


def test_trace_window_shows_what_happened_before_it_opened_and_clears(
    qtbot: QtBot, phones: tuple[GuiPhone, Peer]
) -> None:
    gui, _bob = phones
    ua = gui.ua
    gui.bridge.call(ua.trace.enable)
    gui.wait(lambda: ua.trace.enabled)
    gui.bridge.run(lambda: ua.register())  # a REGISTER (and its challenge) while no window is open
    gui.wait(lambda: any(r.method == "REGISTER" for r in list(ua.trace.records)))
    trace = TraceWindow(gui.bridge)
    qtbot.addWidget(trace)
    trace.show()
    gui.wait(lambda: any(item.text(1).startswith("REGISTER") for item in trace.dialogs.values()))
    register_id = next(cid for cid, item in trace.dialogs.items() if item.text(1).startswith("REGISTER"))
    assert trace.select_dialog(register_id)
    assert trace.ladder.labels()[0] == "REGISTER"
    qtbot.mouseClick(trace.clear_button, Qt.MouseButton.LeftButton)
    assert trace.dialog_list.topLevelItemCount() == 0 and trace.ladder.records == []
    trace.close()

"""A flood of incoming calls: one incoming-call window at a time, the others waiting in order."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from softphone.gui.incoming import IncomingCallWindow
from softphone.ua import Account, CallEvent, IncomingCallEvent
from tests.gui.harness import GuiPhone


def windows() -> list[IncomingCallWindow]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, IncomingCallWindow) and w.isVisible()]


def test_two_thousand_calls_open_one_window(qtbot: QtBot, tmp_path: Path) -> None:
    phone = GuiPhone(qtbot, Account("sip:alice@127.0.0.1", register=False), tmp_path)
    try:
        main = phone.window
        for index in range(2000):
            uri = f"sip:caller{index}@203.0.113.{index % 250}"
            main.on_event(IncomingCallEvent(f"c{index}", uri, None))
            main.on_event(CallEvent(f"c{index}", "incoming", uri, None, "ringing"))
        shown = windows()
        assert len(shown) == 1 and shown[0].call_id == "c0"
        assert shown[0].waiting_label.text() == "1999 more calls waiting"
        # Half of the waiting callers give up: they leave the queue, and no window ever shows them.
        for index in range(1, 2000, 2):
            main.on_event(CallEvent(f"c{index}", "incoming", f"sip:caller{index}@x", None, "ended", 487))
        assert shown[0].waiting_label.text() == "999 more calls waiting"
        # The first call ends: the next waiting one, in order, takes the window.
        main.on_event(CallEvent("c0", "incoming", "sip:caller0@x", None, "ended", 487))
        qtbot.waitUntil(lambda: [w.call_id for w in windows()] == ["c2"], timeout=5000)
        assert windows()[0].waiting_label.text() == "998 more calls waiting"
    finally:
        phone.close()

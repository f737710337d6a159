"""Run in a namespace of the LAN lab: the main window's Page button, offscreen, pages a group with a tone.

``python -m tests.gui.page_button_driver GROUP TONE.wav`` prints ``paging`` once the button shows that our
page is out, then ``ended`` after it was clicked again 1.5 s later; anything else is a failure.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from softphone.gui.bridge import UaBridge
from softphone.gui.paging import PageButton
from softphone.store import Settings
from softphone.ua import PageEndedEvent, PageStartedEvent, UserAgent, wav_media


def wait(app: QApplication, condition: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.01)


def main(group: str, tone: str) -> int:
    app = QApplication([])
    settings = Settings()
    settings.paging.send_groups = [group]
    settings.paging.codec = "pcma"
    notes: list[str] = []
    bridge = UaBridge()
    button = PageButton(bridge, settings, notes.append)
    bridge.event.connect(
        lambda event: button.on_event(event) if isinstance(event, PageStartedEvent | PageEndedEvent) else None
    )
    ua = UserAgent([], listen=[("UDP", "127.0.0.1", 0)], media=wav_media(tone))
    bridge.start(ua, register=False)
    wait(app, lambda: bridge.is_started)
    button.menu_of_groups.aboutToShow.emit()
    actions = button.menu_of_groups.actions()
    assert [a.text() for a in actions] == [f"Page {group}"], [a.text() for a in actions]
    actions[0].trigger()
    wait(app, lambda: button.text() == "End page")
    print("paging", flush=True)
    deadline = time.monotonic() + 1.5
    wait(app, lambda: time.monotonic() > deadline)
    button.click()
    wait(app, lambda: button.text() == "Page")
    print("ended", flush=True)
    bridge.stop()
    assert not notes, notes
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))

"""The call window as a user reads it: who the call is with, by name, and meters that stop with the call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from softphone.gui.call_window import CallRow
from softphone.media.engine import NullSink, SilenceSource
from softphone.store import Contact
from softphone.ua import CallAudio
from tests.gui.harness import GuiPhone, Peer, new_account
from tests.kamailio_server import Kamailio
from tests.ua import make_ua


@pytest.fixture
def phones() -> Iterator[list[object]]:
    started: list[object] = []
    yield started
    for thing in reversed(started):
        thing.close() if isinstance(thing, GuiPhone) else thing.stop()  # type: ignore[attr-defined]


def loud(call_id: str, warn: Callable[[str], None]) -> CallAudio:
    """A call whose sound devices always report the same levels (as a call with a headset does)."""
    return CallAudio(SilenceSource(), NullSink(), levels=lambda: (0.5, 0.25))


def only_row(gui: GuiPhone) -> CallRow:
    gui.wait(lambda: len(gui.window.call_window.rows) == 1)
    return next(iter(gui.window.call_window.rows.values()))


def test_the_call_window_names_the_contact_and_shows_the_address_under_it(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    gui = GuiPhone(qtbot, new_account(kamailio), tmp_path)
    phones.append(gui)
    bob = Peer(qtbot, new_account(kamailio, auto_answer=0.1))
    phones.append(bob)
    gui.store.contacts.add(Contact("Bob Builder", uris=[bob.aor]))
    gui.wait_registered()
    bob.wait_registered()
    gui.window.dial(bob.aor)
    row = only_row(gui)
    gui.wait(lambda: row.call_event.state == "confirmed")
    assert row.remote_label.text() == "Bob Builder"
    assert row.address_label.isVisible() and row.address_label.text() == bob.aor
    assert row.accessibleName() == f"Call with Bob Builder <{bob.aor}>"
    # Someone who is not a contact is shown by the address alone.
    carol = Peer(qtbot, new_account(kamailio, auto_answer=0.1))
    phones.append(carol)
    carol.wait_registered()
    gui.window.dial(carol.aor)
    gui.wait(lambda: len(gui.window.call_window.rows) == 2)
    other = next(r for r in gui.window.call_window.rows.values() if r is not row)
    assert other.remote_label.text() == carol.aor and not other.address_label.isVisible()


def test_level_meters_stop_when_the_call_ends(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    account = new_account(kamailio)
    gui = GuiPhone(qtbot, account, tmp_path, ua=make_ua(account, media=loud))
    phones.append(gui)
    bob = Peer(qtbot, new_account(kamailio, auto_answer=0.1))
    phones.append(bob)
    gui.wait_registered()
    bob.wait_registered()
    gui.window.dial(bob.aor)
    row = only_row(gui)
    gui.wait(lambda: row.mic_meter.isVisible() and row.mic_meter.value() > 0)
    window = gui.window.call_window
    bob.run(lambda: bob.ua.hangup(None))
    gui.wait(lambda: row.call_event.state == "ended")
    # The row stays a moment to say how the call ended; its meters are empty and gone at once.
    assert row in window.rows.values()
    assert not row.mic_meter.isVisible() and not row.speaker_meter.isVisible()
    assert row.mic_meter.value() == 0 and row.speaker_meter.value() == 0
    assert not window._meter_timer.isActive()

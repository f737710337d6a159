"""Merging two calls into a local conference from the call window, and the per-call level meters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from softphone.gui.call_window import MERGE_SHORTCUT, CallRow
from softphone.media.engine import NullSink, SilenceSource
from softphone.ua import CallAudio, CallEvent, ConferenceEvent, QualityEvent
from tests.gui.harness import GuiPhone, Peer, Watchdog, new_account, unnamed_controls
from tests.kamailio_server import Kamailio
from tests.ua import make_ua


@pytest.fixture
def phones(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path) -> Iterator[list[object]]:
    started: list[object] = []
    yield started
    for thing in reversed(started):
        thing.close() if isinstance(thing, GuiPhone) else thing.stop()  # type: ignore[attr-defined]


def received(peer: Peer, after: int) -> int:
    """Packets the peer received, as its newest QualityEvent since ``after`` says (0 without one)."""
    events = [e for e in peer.events[after:] if isinstance(e, QualityEvent)]
    return events[-1].packets_received if events else 0


def test_merge_two_calls_split_and_meters_hidden_without_devices(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    gui = GuiPhone(qtbot, new_account(kamailio), tmp_path)
    phones.append(gui)
    gui.wait_registered()
    bob = Peer(qtbot, new_account(kamailio, auto_answer=0.1))
    carol = Peer(qtbot, new_account(kamailio, auto_answer=0.1))
    phones.extend([bob, carol])
    bob.wait_registered()
    carol.wait_registered()
    window = gui.window.call_window
    assert not window.merge_button.isEnabled()
    watchdog = Watchdog()

    gui.window.dial(bob.aor)
    gui.wait(lambda: any(r.call_event.state == "confirmed" for r in window.rows.values()))
    assert not window.merge_button.isEnabled()  # one call: nothing to merge
    gui.window.dial(carol.aor)
    gui.wait(lambda: len(window.rows) == 2 and all(r.established for r in window.rows.values()))
    gui.wait(window.merge_button.isEnabled)
    assert window.merge_button.accessibleName() and window.merge_shortcut.key().toString() == MERGE_SHORTCUT
    assert unnamed_controls(window) == []
    rows: list[CallRow] = list(window.rows.values())
    to_bob = next(r for r in rows if bob.account.user in r.call_event.remote_uri)
    to_carol = next(r for r in rows if carol.account.user in r.call_event.remote_uri)

    # carol's call on hold first: merging resumes it
    qtbot.mouseClick(to_carol.hold_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: to_carol.local_hold and to_carol.call_event.state == "held")
    bob_mark, carol_mark = bob.mark(), carol.mark()
    qtbot.mouseClick(window.merge_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: any(isinstance(e, ConferenceEvent) and e.active for e in gui.events))
    event = next(e for e in gui.events if isinstance(e, ConferenceEvent))
    assert sorted(event.call_ids) == sorted([to_bob.call_id, to_carol.call_id])
    gui.wait(lambda: all(r.state_label.text() == "conference" for r in rows))
    assert not window.merge_button.isEnabled()  # everything is merged already
    assert all(r.split_button.isVisible() and r.split_button.isEnabled() for r in rows)
    # the peers' figures go on: media keeps flowing to both of them
    bob.wait(lambda e: isinstance(e, QualityEvent) and e.packets_received > 0, after=bob_mark)
    carol.wait(lambda e: isinstance(e, QualityEvent) and e.packets_received > 0, after=carol_mark)
    first = received(carol, carol_mark)
    carol.wait(lambda e: isinstance(e, QualityEvent) and e.packets_received > first, after=carol_mark)
    carol.wait_state("confirmed", after=carol_mark)  # resumed by the merge

    # no sound devices here: the level polls answer None and the meters stay hidden
    polls = to_bob.level_polls
    gui.wait(lambda: to_bob.level_polls >= polls + 2 and to_carol.level_polls >= 2)
    assert not to_bob.mic_meter.isVisible() and not to_bob.speaker_meter.isVisible()

    # split: the conference of two ends, both rows are plain calls again
    qtbot.mouseClick(to_carol.split_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: any(isinstance(e, ConferenceEvent) and not e.active for e in gui.events))
    gui.wait(lambda: all(r.state_label.text() == "connected" for r in rows))
    gui.wait(window.merge_button.isEnabled)
    assert not to_carol.split_button.isVisible()

    # merge again with the shortcut, then bob hangs up: carol stays connected
    window.merge_shortcut.activated.emit()
    gui.wait(lambda: all(r.state_label.text() == "conference" for r in rows))
    mark = len(gui.events)
    bob.run(lambda: bob.ua.hangup())
    gui.wait(lambda: to_bob.call_event.state == "ended")
    gui.wait(lambda: any(isinstance(e, ConferenceEvent) and not e.active for e in gui.events[mark:]))
    gui.wait(lambda: to_carol.state_label.text() == "connected")
    assert not any(isinstance(e, CallEvent) and e.state == "ended" for e in carol.events[carol_mark:])
    assert watchdog.stop() < 1.0, "the GUI thread was blocked"


class MovingLevels:
    """Stands in for a sound device's meters: each reading is louder than the last, up to full scale."""

    def __init__(self) -> None:
        self.readings = 0

    def __call__(self) -> tuple[float, float]:
        self.readings += 1
        level = min(1.0, 0.001 * 1.5**self.readings)
        return level, level / 2


def test_meters_show_and_move_when_the_ua_reports_levels(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    levels = MovingLevels()

    def media(call_id: str, warn: Callable[[str], None]) -> CallAudio:
        return CallAudio(SilenceSource(), NullSink(), levels=levels)

    account = new_account(kamailio)
    gui = GuiPhone(qtbot, account, tmp_path, ua=make_ua(account, media=media))
    phones.append(gui)
    gui.wait_registered()
    bob = Peer(qtbot, new_account(kamailio, auto_answer=0.1))
    phones.append(bob)
    bob.wait_registered()
    watchdog = Watchdog()
    gui.window.dial(bob.aor)
    window = gui.window.call_window
    gui.wait(lambda: len(window.rows) == 1)
    row = next(iter(window.rows.values()))
    assert not row.mic_meter.isVisible()  # nothing reported yet
    gui.wait(lambda: row.mic_meter.isVisible() and row.speaker_meter.isVisible())
    first = row.mic_meter.value()
    gui.wait(lambda: row.mic_meter.value() > first)  # polled again: louder now
    gui.wait(lambda: row.mic_meter.value() == 100)
    assert 0 < row.speaker_meter.value() < 100  # half the level: 6 dB below, on a 60 dB scale
    assert watchdog.stop() < 1.0, "the GUI thread was blocked"

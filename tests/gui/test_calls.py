"""Call flows through the real widgets, against real user agents registered on Kamailio."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from pytestqt.qtbot import QtBot

from softphone.gui.call_window import CallRow
from softphone.gui.incoming import PHOTO_SIZE
from softphone.gui.ringer import Ringer
from softphone.ua import (
    CallEvent,
    DtmfEvent,
    MediaWarningEvent,
    MwiEvent,
    QualityEvent,
    SubscriptionEvent,
    TransferEvent,
)
from tests.gui.harness import GuiPhone, Peer, Watchdog, new_account, unnamed_controls
from tests.kamailio_server import Kamailio


@pytest.fixture
def phones(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path) -> Iterator[list[object]]:
    """Things to close at the end of a test, newest first."""
    started: list[object] = []
    yield started
    for thing in reversed(started):
        thing.close() if isinstance(thing, GuiPhone) else thing.stop()  # type: ignore[attr-defined]


def gui_phone(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, started: list[object], **options: object) -> GuiPhone:
    phone = GuiPhone(qtbot, new_account(kamailio, **options), tmp_path)  # type: ignore[arg-type]
    started.append(phone)
    phone.wait_registered()
    return phone


def peer(qtbot: QtBot, kamailio: Kamailio, started: list[object], **options: object) -> Peer:
    other = Peer(qtbot, new_account(kamailio, **options))  # type: ignore[arg-type]
    started.append(other)
    other.wait_registered()
    return other


def only_row(gui: GuiPhone) -> CallRow:
    gui.wait(lambda: len(gui.window.call_window.rows) == 1)
    return next(iter(gui.window.call_window.rows.values()))


def establish(qtbot: QtBot, gui: GuiPhone, bob: Peer) -> CallRow:
    """The GUI calls bob by typing his address in the dial field; bob answers."""
    mark = bob.mark()
    qtbot.keyClicks(gui.window.dial_field, bob.aor)
    qtbot.keyClick(gui.window.dial_field, Qt.Key.Key_Return)
    incoming = bob.wait_incoming(mark)
    assert incoming.remote_uri == gui.account.aor
    bob.run(lambda: bob.ua.answer(incoming.call_id))
    row = only_row(gui)
    gui.wait(lambda: row.call_event.state == "confirmed")
    return row


def test_dial_from_the_dial_field_peer_answers_quality_shows_and_hangup(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    bob = peer(qtbot, kamailio, phones)
    watchdog = Watchdog()
    row = establish(qtbot, gui, bob)
    assert gui.window.call_window.isVisible()
    assert row.state_label.text() == "connected"
    assert unnamed_controls(gui.window.call_window) == []
    assert bob.aor in row.remote_label.text()
    # Media flows (silence both ways): the quality panel fills from QualityEvents.
    gui.wait(lambda: len(row.graph.values) >= 2)
    assert row.quality_label.text().startswith("MOS ")
    # Without ICE the media goes to the address the peer's SDP gave; the tooltip names both ends.
    assert row.quality_label.text().endswith("to the SDP address")
    assert "127.0.0.1:" in row.quality_label.toolTip() and "→" in row.quality_label.toolTip()
    assert any(isinstance(e, QualityEvent) for e in gui.events)
    qtbot.mouseClick(row.hangup_button, Qt.MouseButton.LeftButton)
    bob.wait_state("ended")
    gui.wait(lambda: row.call_event.state == "ended")
    # The call is in the history list; double-clicking it would call back.
    gui.wait(lambda: gui.window.history_list.count() == 1)
    item = gui.window.history_list.item(0)
    assert item.data(Qt.ItemDataRole.UserRole) == bob.aor
    assert watchdog.stop() < 1.0, "the GUI thread was blocked"


def test_dial_field_completes_from_contacts_and_history(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    from softphone.store import Contact

    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    gui.store.contacts.add(Contact("Carol Jones", uris=["sip:carol@example.com"], phones=["+44 20 7946 0000"]))
    gui.window.refresh_contacts()
    assert len(gui.window.buddy_list.contact_ids()) == 1  # one row per contact, whatever its addresses
    qtbot.keyClicks(gui.window.dial_field, "car")
    assert "Carol Jones <sip:carol@example.com>" in gui.window.completion_model.stringList()


def test_answer_from_the_incoming_window_and_from_the_notification_path(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    photo = tmp_path / "bob.png"
    picture = QPixmap(40, 30)
    picture.fill(Qt.GlobalColor.blue)
    assert picture.save(str(photo))
    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    gui.window.ringer = Ringer(enabled=True)  # no sound device here: ringing must fail quietly
    gui.window.hide()  # the phone rings with its main window hidden (in the tray)
    bob = peer(qtbot, kamailio, phones, display_name="Bob Builder", photo_url=photo.as_uri())
    watchdog = Watchdog()
    bob.run(lambda: bob.ua.call(gui.account.aor))
    gui.wait(lambda: len(gui.window.incoming) == 1)
    window = next(iter(gui.window.incoming.values()))
    gui.wait(window.isVisible)
    assert not gui.window.isVisible()
    assert gui.window.ringer.ringing
    assert window.name_label.text() == "Bob Builder"
    shown = window.photo.pixmap()
    assert shown.width() == PHOTO_SIZE and shown.toImage().pixelColor(48, 48).blue() > 200  # the caller's picture
    assert bob.account.user in window.number_label.text()
    assert unnamed_controls(window) == []
    qtbot.mouseClick(window.answer_button, Qt.MouseButton.LeftButton)
    bob.wait_state("confirmed")
    row = only_row(gui)
    gui.wait(lambda: row.call_event.state == "confirmed")
    assert not gui.window.incoming and not gui.window.ringer.ringing
    assert watchdog.stop() < 1.0, "the GUI thread was blocked (ringing must not block it)"
    qtbot.mouseClick(row.hangup_button, Qt.MouseButton.LeftButton)
    bob.wait_state("ended")
    gui.wait(lambda: not gui.window.call_window.rows)

    # The desktop notification's click goes to answer_from_notification (no tray offscreen: call it).
    mark = bob.mark()
    bob.run(lambda: bob.ua.call(gui.account.aor))
    gui.wait(lambda: len(gui.window.incoming) == 1)
    gui.window.answer_from_notification()
    bob.wait_state("confirmed", after=mark)
    gui.wait(lambda: any(r.call_event.state == "confirmed" for r in gui.window.call_window.rows.values()))


def test_busy_button_answers_486(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]) -> None:
    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    bob = peer(qtbot, kamailio, phones)
    bob.run(lambda: bob.ua.call(gui.account.aor))
    gui.wait(lambda: len(gui.window.incoming) == 1)
    window = next(iter(gui.window.incoming.values()))
    qtbot.mouseClick(window.busy_button, Qt.MouseButton.LeftButton)
    ended = bob.wait_state("ended")
    assert ended.code == 486
    gui.wait(lambda: not gui.window.incoming)


def test_hold_and_resume(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]) -> None:
    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    bob = peer(qtbot, kamailio, phones)
    row = establish(qtbot, gui, bob)
    mark = bob.mark()
    qtbot.mouseClick(row.hold_button, Qt.MouseButton.LeftButton)
    bob.wait_state("held", after=mark)
    gui.wait(lambda: row.local_hold and row.state_label.text() == "on hold")
    assert row.hold_button.text() == "Resume" and row.hold_button.accessibleName() == "Resume"
    mark = bob.mark()
    # The keyboard shortcut of the call window does the same as the button.
    row.window_.shortcuts["toggle_hold"].activated.emit()
    bob.wait_state("confirmed", after=mark)
    gui.wait(lambda: not row.local_hold and row.state_label.text() == "connected")


def test_mute_toggles_when_the_facade_has_it(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    from softphone.gui.call_window import MUTE_SUPPORTED

    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    bob = peer(qtbot, kamailio, phones)
    row = establish(qtbot, gui, bob)
    if not MUTE_SUPPORTED:
        assert not row.mute_button.isEnabled()
        return
    qtbot.mouseClick(row.mute_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: row.muted and row.mute_button.accessibleName() == "Unmute")
    qtbot.mouseClick(row.mute_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: not row.muted)


def test_blind_transfer_to_a_third_party(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    bob = peer(qtbot, kamailio, phones)
    carol = peer(qtbot, kamailio, phones, auto_answer=0.1)
    row = establish(qtbot, gui, bob)
    qtbot.mouseClick(row.transfer_button, Qt.MouseButton.LeftButton)
    dialog = row.transfer_dialog
    assert dialog is not None
    gui.wait(dialog.isVisible)
    qtbot.keyClicks(dialog.target, carol.aor)
    dialog.buttons.accepted.emit()
    carol.wait_incoming()
    carol.wait_state("confirmed")
    gui.wait(lambda: any(isinstance(e, TransferEvent) and e.state == "succeeded" for e in gui.events))
    gui.wait(lambda: row.call_event.state == "ended")
    assert "succeeded" in row.transfer_label.text() or "Recording" in row.transfer_label.text()
    # bob now talks to carol.
    connected = bob.wait(
        lambda e: isinstance(e, CallEvent) and e.state == "confirmed" and carol.account.user in e.remote_uri
    )
    assert isinstance(connected, CallEvent)


def test_a_wrong_password_shows_in_the_account_row_with_the_reason(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    gui = GuiPhone(qtbot, new_account(kamailio, password="not-the-password"), tmp_path)
    phones.append(gui)
    row = gui.window.account_rows[gui.account.aor]
    gui.wait(lambda: row.state == "failed")
    assert row.reason, "the failure reason is shown"
    assert row.text().startswith(f"{gui.account.aor} — failed: ")
    assert row.reason.split()[0] in ("401", "403", "407")
    assert "failed" in row.accessibleName()
    # A click asks the UA to register again: the row says so at once.
    qtbot.mouseClick(row, Qt.MouseButton.LeftButton)
    gui.wait(lambda: row.state in ("registering", "failed"))


def test_message_waiting_indicator_calls_the_voicemail(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    voicemail = peer(qtbot, kamailio, phones)
    # The UA's own message-summary subscription settles first (its NOTIFY carries no summary here).
    gui.wait(
        lambda: (
            any(
                isinstance(e, SubscriptionEvent) and e.event == "message-summary" and e.state != "pending"
                for e in gui.events
            )
            or not hasattr(gui.ua, "mwi")
        )
    )
    event = MwiEvent(gui.account.aor, new=2, old=1, waiting=True, voicemail_uri=voicemail.aor)
    ua = gui.ua
    gui.bridge.call(ua.emit, event)  # as the UA's message-summary service would, on the loop
    gui.wait(gui.window.mwi_button.isVisible)
    assert gui.window.mwi_button.text() == "2 new voice messages (1 old)"
    qtbot.mouseClick(gui.window.mwi_button, Qt.MouseButton.LeftButton)
    incoming = voicemail.wait_incoming()
    assert incoming.remote_uri == gui.account.aor


def test_record_toggle_writes_a_wav_under_the_recordings_dir(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    bob = peer(qtbot, kamailio, phones)
    row = establish(qtbot, gui, bob)
    qtbot.mouseClick(row.record_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: row.recording_path is not None)
    path = Path(str(row.recording_path))
    assert path.parent == tmp_path / "recordings"
    assert row.record_button.accessibleName() == "Stop recording"
    gui.wait(lambda: len(row.graph.values) >= 1)  # media flows into the recording for a moment
    row.window_.shortcuts["toggle_record"].activated.emit()
    gui.wait(lambda: row.recording_path is None and "Recording saved" in row.transfer_label.text())
    assert path.is_file() and path.stat().st_size > 44


def test_attended_transfer_connects_two_calls(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    bob = peer(qtbot, kamailio, phones, auto_answer=0.1)
    carol = peer(qtbot, kamailio, phones, auto_answer=0.1)
    gui.window.dial(bob.aor)
    gui.wait(lambda: any(r.call_event.state == "confirmed" for r in gui.window.call_window.rows.values()))
    gui.window.dial(carol.aor)
    gui.wait(
        lambda: (
            len(gui.window.call_window.rows) == 2
            and all(r.call_event.state == "confirmed" for r in gui.window.call_window.rows.values())
        )
    )
    to_bob = next(r for r in gui.window.call_window.rows.values() if bob.account.user in r.call_event.remote_uri)
    qtbot.mouseClick(to_bob.hold_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: to_bob.local_hold)
    assert to_bob.attended_button.isEnabled()
    qtbot.mouseClick(to_bob.attended_button, Qt.MouseButton.LeftButton)
    dialog = to_bob.attended_dialog
    assert dialog is not None and dialog.other.count() == 1 and carol.account.user in dialog.other.currentText()
    dialog.accept()
    gui.wait(lambda: all(r.call_event.state == "ended" for r in gui.window.call_window.rows.values()))
    bob.wait(lambda e: isinstance(e, CallEvent) and e.state == "confirmed" and carol.account.user in e.remote_uri)


def test_dial_pads_send_dtmf_during_a_call_and_history_calls_back(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    bob = peer(qtbot, kamailio, phones)
    row = establish(qtbot, gui, bob)
    # The main window's pad sends DTMF during a call (instead of typing into the dial field) ...
    gui.window.toggle_dialpad()
    typed = gui.window.dial_field.text()
    qtbot.mouseClick(gui.window.dialpad.buttons["5"], Qt.MouseButton.LeftButton)
    bob.wait(lambda e: isinstance(e, DtmfEvent) and e.digit == "5")
    assert gui.window.dial_field.text() == typed
    # ... and so does the call's own keypad, clicked or typed.
    qtbot.mouseClick(row.dtmf_button, Qt.MouseButton.LeftButton)
    assert row.dialpad.isVisible()
    qtbot.keyClick(row.dialpad, "#")
    bob.wait(lambda e: isinstance(e, DtmfEvent) and e.digit == "#")
    # A one-way-audio warning shows in the row, and goes when audio is back.
    ua = gui.ua
    gui.bridge.call(ua.emit, MediaWarningEvent(row.call_id, "one_way_audio", "no audio received for 3.0 s"))
    gui.wait(lambda: "One-way audio" in row.warning_label.text() and not row.warning_label.isHidden())
    gui.bridge.call(ua.emit, MediaWarningEvent(row.call_id, "one_way_audio", "audio is received again", False))
    gui.wait(row.warning_label.isHidden)
    qtbot.mouseClick(row.hangup_button, Qt.MouseButton.LeftButton)
    bob.wait_state("ended")
    gui.wait(lambda: gui.window.history_list.count() == 1 and not gui.window.call_window.rows)
    # Double-click (activate) on the history entry calls back.
    mark = bob.mark()
    item = gui.window.history_list.item(0)
    gui.window.history_list.itemActivated.emit(item)
    bob.wait_incoming(mark)


def test_optional_to_a_plain_only_peer_connects_with_the_open_lock(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    gui = gui_phone(qtbot, kamailio, tmp_path, phones)  # a UDP account: SRTP optional
    bob = peer(qtbot, kamailio, phones, srtp="off")
    row = establish(qtbot, gui, bob)
    gui.wait(lambda: row.encrypted is not None)
    assert row.encrypted is False
    assert row.lock_icon.isVisible() and not row.lock_icon.pixmap().isNull()
    assert row.security_label.text() == "Not encrypted: the peer answered without encryption"
    row.grab().save(str(tmp_path / "open-lock.png"))
    qtbot.mouseClick(row.hangup_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: not gui.window.call_window.rows)


def test_encrypted_call_shows_the_lock_with_suite_and_key_exchange(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]
) -> None:
    gui = gui_phone(qtbot, kamailio, tmp_path, phones)
    bob = peer(qtbot, kamailio, phones)
    row = establish(qtbot, gui, bob)
    gui.wait(lambda: row.encrypted is True)
    assert row.security_label.text() == "SRTP AES-GCM-256, keys by DTLS, fingerprint verified"
    row.grab().save(str(tmp_path / "lock.png"))
    qtbot.mouseClick(row.hangup_button, Qt.MouseButton.LeftButton)
    gui.wait(lambda: not gui.window.call_window.rows)

"""The desktop application: main window, bridge, wizard, dialling rules and start-up without a display."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QTabWidget
from pytestqt.qtbot import QtBot

from softphone import __version__
from softphone.gui.accounts import AccountWizard, accounts_from_settings
from softphone.gui.bridge import UaBridge
from softphone.gui.call_window import SHORTCUTS, CallWindow
from softphone.gui.dialing import dial_target, is_call_uri
from softphone.gui.icons import PRESENCE_STATES, app_icon, icon, presence_icon
from softphone.gui.main_window import MainWindow
from softphone.store import AccountSettings, CallOutcome, CallRecord, Contact, Direction, Settings, Store
from softphone.ua import Account, ErrorEvent, NetworkChangeEvent
from tests.ua import make_ua


@pytest.fixture
def bare_window(qtbot: QtBot, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A main window over a started UA with one LAN-only account (nothing registers)."""
    store = Store(tmp_path / "app.db")
    account = Account("sip:alice@127.0.0.1", register=False)
    bridge = UaBridge()
    window = MainWindow(
        bridge, store, Settings(), accounts=[account], settings_path=tmp_path / "s.json", use_tray=False
    )
    bridge.start(make_ua(account))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bridge.is_started, timeout=10000)
    yield window
    window.quitting = True
    window.close()
    bridge.stop()
    store.close()


def test_main_window_shows_its_title_version_and_tabs(qtbot: QtBot, bare_window: MainWindow) -> None:
    window = bare_window
    assert window.windowTitle() == "Softphone"
    assert __version__ in window.version_label.text()
    assert isinstance(window.tabs, QTabWidget)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Contacts", "History"]
    row = window.account_rows["sip:alice@127.0.0.1"]
    assert "LAN only" in row.text()
    assert not window.grab().isNull()


def test_every_control_has_an_accessible_name(qtbot: QtBot, bare_window: MainWindow) -> None:
    from tests.gui.harness import unnamed_controls

    bare_window.toggle_dialpad()
    assert unnamed_controls(bare_window) == []
    assert unnamed_controls(bare_window.call_window) == []


def test_history_marks_missed_calls_with_a_badge_and_double_click_calls_back(
    qtbot: QtBot, bare_window: MainWindow
) -> None:
    window = bare_window
    assert window.store is not None
    window.store.history.add_call(
        CallRecord("sip:alice@127.0.0.1", Direction.IN, "sip:bob@127.0.0.1", 1000.0, CallOutcome.MISSED, "Bob")
    )
    window.store.history.add_call(
        CallRecord("sip:alice@127.0.0.1", Direction.OUT, "sip:carol@127.0.0.1", 2000.0, CallOutcome.ANSWERED)
    )
    window.refresh_history()
    assert window.history_list.count() == 2
    missed = window.history_list.item(1)
    assert missed.text().startswith("✗ Missed") and missed.font().bold()
    assert window.tabs.tabText(window.history_index) == "History (1)"
    assert "1 missed" in window.windowTitle()
    window.tabs.setCurrentIndex(window.history_index)  # looking at the history clears the badge
    assert window.tabs.tabText(window.history_index) == "History"
    assert window.settings_path is not None and window.settings_path.exists()


def test_contacts_tab_lists_contacts(qtbot: QtBot, bare_window: MainWindow) -> None:
    window = bare_window
    assert window.store is not None
    window.store.contacts.add(Contact("Dora", uris=["sip:dora@127.0.0.1"]))
    window.refresh_contacts()
    (contact_id,) = window.buddy_list.contact_ids()
    assert "Dora" in window.buddy_list.row_text(contact_id)


def test_errors_from_the_ua_reach_the_status_bar(qtbot: QtBot, bare_window: MainWindow) -> None:
    ua = bare_window.bridge.ua
    assert ua is not None
    bare_window.bridge.call(ua.emit, ErrorEvent("something broke"))
    qtbot.waitUntil(lambda: bare_window.statusBar().currentMessage() == "something broke", timeout=10000)
    bare_window.dial("not a number at all")
    assert "no spaces" in bare_window.statusBar().currentMessage()


def test_a_network_change_is_told_in_the_status_bar(qtbot: QtBot, bare_window: MainWindow) -> None:
    ua = bare_window.bridge.ua
    assert ua is not None
    event = NetworkChangeEvent("sip:alice@example.com", "the registrar sees us at 203.0.113.11:5060 now", ("c1",))
    bare_window.bridge.call(ua.emit, event)
    qtbot.waitUntil(lambda: "network changed" in bare_window.statusBar().currentMessage(), timeout=10000)
    assert "moving 1 call" in bare_window.statusBar().currentMessage()


def test_presence_selector_publishes_through_the_presence_service(qtbot: QtBot, bare_window: MainWindow) -> None:
    from softphone.ua import PresenceEvent

    events: list[object] = []
    bare_window.bridge.event.connect(events.append)
    ua = bare_window.bridge.ua
    assert ua is not None
    bare_window.presence_note.setText("in a meeting")
    bare_window.presence_combo.setCurrentIndex(2)  # Busy
    bare_window.apply_presence()
    if not hasattr(ua, "presence"):
        assert "not available" in bare_window.statusBar().currentMessage()
        return

    def published() -> bool:
        return any(
            isinstance(e, PresenceEvent) and e.activity == "busy" and e.note == "in a meeting" and e.basic == "open"
            for e in events
        )

    qtbot.waitUntil(published, timeout=10000)
    assert bare_window.settings.presence_note == "in a meeting"
    bare_window.presence_combo.setCurrentIndex(3)  # Offline
    bare_window.apply_presence()
    qtbot.waitUntil(lambda: any(isinstance(e, PresenceEvent) and e.basic == "closed" for e in events), timeout=10000)


def test_bridge_never_blocks_the_gui_thread_and_reports_errors(qtbot: QtBot) -> None:
    from tests.gui.harness import Watchdog

    bridge = UaBridge()
    bridge.start(make_ua(), register=False)
    try:
        qtbot.waitUntil(lambda: bridge.is_started, timeout=10000)
        results: list[object] = []
        errors: list[str] = []
        bridge.error.connect(errors.append)
        threads: list[str] = []

        async def slow() -> str:
            threads.append(threading.current_thread().name)
            await asyncio.sleep(1.5)  # a slow server, a DNS lookup that takes its time ...
            return "done"

        async def broken() -> None:
            raise RuntimeError("no route to the moon")

        watchdog = Watchdog()
        future = bridge.run(slow, on_done=lambda r: results.append((r, threading.current_thread().name)))
        assert future is not None and not future.done()  # run() returned at once
        bridge.run(broken)
        qtbot.waitUntil(lambda: bool(results) and bool(errors), timeout=10000)
        assert watchdog.stop() < 0.5
        assert results == [("done", threading.main_thread().name)]  # on_done ran on the GUI thread
        assert threads == ["softphone-core"]
        assert errors == ["no route to the moon"]
    finally:
        bridge.stop()
    assert not bridge.running
    bridge.stop()  # idempotent


def test_wizard_makes_a_lan_only_account_or_a_registering_one(qtbot: QtBot) -> None:
    wizard = AccountWizard()
    qtbot.addWidget(wizard)
    wizard.lan_only.setChecked(True)
    assert not wizard.password.isEnabled()
    wizard.aor.setText("alice@192.168.1.20")
    result = wizard.build()
    assert result.settings.aor == "sip:alice@192.168.1.20" and not result.settings.register
    assert result.password == ""
    wizard.with_server.setChecked(True)
    wizard.aor.setText("sip:bob@example.com")
    wizard.password.setText("secret")
    wizard.registrar.setText("sip:127.0.0.1:5060")
    wizard.transport.setCurrentText("tcp")
    result = wizard.build()
    assert result.settings.register and result.settings.transport == "tcp" and result.password == "secret"
    assert "secret" not in repr(result.settings)  # the password is not a setting
    wizard.aor.setText("")
    wizard.accept()
    assert wizard.problem.text() == "Cannot save the account: the address is missing."


def test_accounts_from_settings_take_session_passwords_and_report_bad_entries() -> None:
    accounts, problems = accounts_from_settings(
        [AccountSettings("sip:a@127.0.0.1"), AccountSettings("nonsense"), AccountSettings("sip:c@x", enabled=False)],
        {"sip:a@127.0.0.1": "pw"},
    )
    assert [a.aor for a in accounts] == ["sip:a@127.0.0.1"] and accounts[0].password == "pw"
    assert len(problems) == 1 and problems[0].startswith("nonsense")


@pytest.mark.parametrize(
    ("typed", "target"),
    [
        ("sip:bob@example.com", "sip:bob@example.com"),
        ("SIPS:bob@example.com", "sips:bob@example.com"),
        ("tel:+1 (555) 010-0000", "tel:+1555010-0000"),
        ("callto://bob@example.com", "bob@example.com"),
        ("callto:+4420%207946", "+4420 7946".replace(" ", "")),
        (" +44 20 7946-0000 ", "+442079460000"),
        ("bob", "bob"),
    ],
)
def test_dial_targets(typed: str, target: str) -> None:
    assert dial_target(typed) == target


def test_dial_target_refuses_nothing_and_names_with_spaces() -> None:
    for bad in ("", "  ", "sip:", "Bob Smith"):
        with pytest.raises(ValueError):
            dial_target(bad)
    assert is_call_uri("callto:bob") and is_call_uri("tel:123") and not is_call_uri("bob")


def test_icons_load_and_presence_has_a_shape_per_state(qtbot: QtBot) -> None:
    assert not app_icon().isNull()
    for name in ("phone", "hangup", "mute", "hold"):
        assert not icon(name).isNull(), name
    images = {state: presence_icon(state).pixmap(32, 32).toImage() for state in PRESENCE_STATES}
    assert all(not image.isNull() for image in images.values())
    assert len({bytes(image.constBits()) for image in images.values()}) == len(PRESENCE_STATES)


def test_call_window_has_a_shortcut_for_every_call_action(qtbot: QtBot, tmp_path: Path) -> None:
    bridge = UaBridge()
    window = CallWindow(bridge, None, tmp_path)
    qtbot.addWidget(window)
    keys = {shortcut.key().toString() for shortcut in window.shortcuts.values()}
    assert keys == {k for k, _m, _w in SHORTCUTS}
    assert {m for _k, m, _w in SHORTCUTS} >= {"toggle_mute", "toggle_hold", "open_transfer", "hangup", "toggle_record"}


def test_without_a_display_the_app_says_so_instead_of_crashing() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run(
        [sys.executable, "-m", "softphone.gui.app"], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 1
    assert "no display found" in out.stderr and "softphone-cli" in out.stderr


def test_main_window_label_is_not_the_old_placeholder(qtbot: QtBot, bare_window: MainWindow) -> None:
    assert not isinstance(bare_window.centralWidget(), QLabel)


def test_tray_state_and_badge(qtbot: QtBot, bare_window: MainWindow) -> None:
    from softphone.gui.icons import badge_icon

    assert bare_window.phone_state() == ("available", "ready")  # LAN only: nothing to wait for
    badged = badge_icon(app_icon(), 3, state="busy")
    assert not badged.isNull()
    assert badged.pixmap(64, 64).toImage() != app_icon().pixmap(64, 64).toImage()


def test_first_start_wizard_saves_the_account_without_its_password(qtbot: QtBot, tmp_path: Path) -> None:
    import json

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from softphone.gui.app import Softphone

    def fill_in() -> None:
        wizard = QApplication.activeModalWidget()
        if not isinstance(wizard, AccountWizard):
            QTimer.singleShot(50, fill_in)
            return
        wizard.aor.setText("sip:erin@127.0.0.1")
        wizard.password.setText("s3cret-pw")
        wizard.registrar.setText("sip:127.0.0.1:9")
        wizard.accept()

    QTimer.singleShot(0, fill_in)
    settings_path = tmp_path / "settings.json"
    phone = Softphone(
        settings_path=settings_path,
        db_path=tmp_path / "w.db",
        instance_name=f"softphone-test-wizard-{os.getpid()}",
        use_tray=False,
        ring=False,
        ua_factory=lambda accounts, store: make_ua(*accounts, store=store),
    )
    try:
        assert [a.aor for a in phone.ua.accounts] == ["sip:erin@127.0.0.1"]
        assert phone.ua.accounts[0].password == "s3cret-pw"
        text = settings_path.read_text()
        assert "sip:erin@127.0.0.1" in text and "s3cret-pw" not in text
        assert json.loads(text)["accounts"][0]["registrar"] == "sip:127.0.0.1:9"
    finally:
        phone.close()

"""The settings dialog: accounts (passwords in the keyring only), connection test, call settings, autostart."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QDialogButtonBox
from pytestqt.qtbot import QtBot

from softphone.gui.accounts import account_changes, account_from_settings
from softphone.gui.bridge import UaBridge
from softphone.gui.settings_accounts import AccountEditor
from softphone.gui.settings_calls import apply_to_ua, forwarding_for
from softphone.gui.settings_dialog import SettingsDialog
from softphone.gui.settings_general import autostart_path
from softphone.store import AccountSettings, ForwardingRule, Settings, load_settings
from softphone.ua import Account, AccountError, UserAgent
from tests.gui.harness import WAIT_MS, Watchdog, new_account, unnamed_controls
from tests.kamailio_server import Kamailio, make_self_signed_certificate
from tests.keyring_memory import MemoryKeyring
from tests.pulse_server import PulseAudio, from_s16le, tone
from tests.ua import make_ua


@pytest.fixture
def xdg_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config-home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def loopback_ua(account: Account) -> UserAgent:
    return make_ua(account)


def make_dialog(qtbot: QtBot, settings: Settings, path: Path, bridge: UaBridge | None = None) -> SettingsDialog:
    dialog = SettingsDialog(settings, path, bridge, ua_factory=loopback_ua, audio=False)
    qtbot.addWidget(dialog)
    return dialog


def click_ok(qtbot: QtBot, editor: AccountEditor) -> None:
    box = editor.findChild(QDialogButtonBox)
    assert box is not None
    qtbot.mouseClick(box.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)


def test_accounts_are_saved_without_password_and_the_password_goes_to_the_keyring(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    path = tmp_path / "settings.json"
    settings = Settings()
    dialog = make_dialog(qtbot, settings, path)
    dialog.show()
    editor = dialog.accounts_page.edit_account(new=True)
    assert editor is not None
    qtbot.keyClicks(editor.aor, "alice@127.0.0.1")
    qtbot.keyClicks(editor.display_name, "Alice A.")
    qtbot.keyClicks(editor.auth_user, "alice-auth")
    qtbot.keyClicks(editor.password, "first-S3cret")
    editor.registrar.setText("sip:127.0.0.1:5060")
    editor.proxy.setText("sip:127.0.0.1:5060;lr")
    editor.transport.setCurrentText("tcp")
    click_ok(qtbot, editor)
    assert dialog.accounts_page.account_list.count() == 1
    assert "alice@127.0.0.1" in dialog.accounts_page.account_list.item(0).text()
    assert memory_keyring.passwords == {}  # nothing kept before OK/Apply
    qtbot.mouseClick(
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Apply), Qt.MouseButton.LeftButton
    )

    text = path.read_text()
    assert "first-S3cret" not in text
    saved = json.loads(text)["accounts"][0]
    assert saved["aor"] == "sip:alice@127.0.0.1" and saved["auth_user"] == "alice-auth"
    assert saved["transport"] == "tcp" and saved["outbound_proxy"] == "sip:127.0.0.1:5060;lr"
    assert memory_keyring.passwords == {("softphone", "sip:alice@127.0.0.1"): "first-S3cret"}
    assert settings.accounts[0].display_name == "Alice A."  # the caller's Settings object is updated in place

    # Edit: a new display name and password; an empty password field keeps the stored one.
    dialog.accounts_page.account_list.setCurrentRow(0)
    editor = dialog.accounts_page.edit_account()
    assert editor is not None
    assert "keyring" in editor.password.placeholderText()
    editor.display_name.setText("Alice B.")
    editor.register.setChecked(False)
    click_ok(qtbot, editor)
    dialog.apply()
    assert memory_keyring.passwords[("softphone", "sip:alice@127.0.0.1")] == "first-S3cret"
    editor = dialog.accounts_page.edit_account()
    assert editor is not None
    editor.password.setText("second-S3cret")
    click_ok(qtbot, editor)
    dialog.accept()
    reloaded = load_settings(path)
    assert reloaded.accounts == [
        AccountSettings(
            "sip:alice@127.0.0.1",
            display_name="Alice B.",
            auth_user="alice-auth",
            registrar="sip:127.0.0.1:5060",
            outbound_proxy="sip:127.0.0.1:5060;lr",
            transport="tcp",
            register=False,
        )
    ]
    assert "S3cret" not in path.read_text()
    assert memory_keyring.passwords[("softphone", "sip:alice@127.0.0.1")] == "second-S3cret"


def test_remove_account_and_a_bad_address_is_refused(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    settings = Settings(accounts=[AccountSettings("sip:a@127.0.0.1"), AccountSettings("sip:b@127.0.0.1")])
    dialog = make_dialog(qtbot, settings, tmp_path / "s.json")
    editor = dialog.accounts_page.edit_account(new=True)
    assert editor is not None
    editor.aor.setText("sip:@")
    click_ok(qtbot, editor)
    assert editor.isVisible() and editor.problem.text()
    editor.reject()
    dialog.accounts_page.account_list.setCurrentRow(0)
    qtbot.mouseClick(dialog.accounts_page.remove_button, Qt.MouseButton.LeftButton)
    dialog.apply()
    assert [a.aor for a in load_settings(tmp_path / "s.json").accounts] == ["sip:b@127.0.0.1"]


def test_connection_test_registers_through_the_core_loop_without_blocking(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    account = new_account(kamailio)
    bridge = UaBridge()
    bridge.start(make_ua(Account("sip:me@127.0.0.1", register=False)))
    try:
        qtbot.waitUntil(lambda: bridge.is_started, timeout=WAIT_MS)
        dialog = make_dialog(qtbot, Settings(), tmp_path / "s.json", bridge)
        editor = dialog.accounts_page.edit_account(new=True)
        assert editor is not None
        editor.aor.setText(account.aor)
        editor.password.setText(account.password)
        editor.registrar.setText(account.registrar or "")
        watchdog = Watchdog()
        qtbot.mouseClick(editor.test_button, Qt.MouseButton.LeftButton)
        assert editor.test_result.text() == "testing …" and not editor.test_button.isEnabled()
        qtbot.waitUntil(lambda: not editor.testing, timeout=WAIT_MS)
        assert editor.test_result.text() == "registered"
        assert editor.test_result.accessibleName() == "Connection test result: registered"
        assert watchdog.stop() < 1.0, "the GUI thread was blocked"
        assert editor.test_button.isEnabled()
        editor.reject()
    finally:
        bridge.stop()


def test_connection_test_with_a_wrong_password_says_failed_401(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    account = new_account(kamailio)
    dialog = make_dialog(qtbot, Settings(), tmp_path / "s.json")  # no core running: a thread of its own
    editor = dialog.accounts_page.edit_account(new=True)
    assert editor is not None
    editor.aor.setText(account.aor)
    editor.password.setText("not-the-password")
    editor.registrar.setText(account.registrar or "")
    threads: list[str] = []
    tested = editor._tested

    def on_gui_thread(text: str) -> None:
        threads.append(threading.current_thread().name)
        tested(text)

    editor._tested = on_gui_thread  # type: ignore[method-assign]
    watchdog = Watchdog()
    editor.test_connection()
    qtbot.waitUntil(lambda: not editor.testing, timeout=WAIT_MS)
    assert threads == [threading.main_thread().name]
    assert editor.test_result.text() == (
        f"Cannot register {account.aor.removeprefix('sip:')}: the password was not accepted (401)."
    ), editor.test_result.text()
    assert watchdog.stop() < 1.0
    dialog.tester.join()


def test_start_at_login_writes_and_removes_the_autostart_entry(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    entry = xdg_config / "autostart" / "softphone.desktop"
    assert autostart_path() == entry
    dialog = make_dialog(qtbot, Settings(), tmp_path / "s.json")
    assert not dialog.general_page.autostart.isChecked()
    dialog.general_page.autostart.setChecked(True)
    dialog.apply()
    text = entry.read_text()
    assert text.startswith("[Desktop Entry]") and "Type=Application" in text and "\nExec=" in text
    again = make_dialog(qtbot, Settings(), tmp_path / "s.json")
    assert again.general_page.autostart.isChecked()
    again.general_page.autostart.setChecked(False)
    again.apply()
    assert not entry.exists()


def test_call_settings_are_saved_and_reach_the_running_ua(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    ua = make_ua(Account("sip:me@127.0.0.1", register=False))
    bridge = UaBridge()
    bridge.start(ua, register=False)
    try:
        qtbot.waitUntil(lambda: bridge.is_started, timeout=WAIT_MS)
        path = tmp_path / "s.json"
        dialog = make_dialog(qtbot, Settings(), path, bridge)
        dialog.show()
        assert unnamed_controls(dialog) == []
        dialog.calls_page.dnd.setChecked(True)
        dialog.calls_page.auto_answer.setChecked(True)
        dialog.calls_page.auto_answer_delay.setValue(2.5)
        dialog.calls_page.forward_checks["busy"].setChecked(True)
        dialog.calls_page.forward_targets["busy"].setText("sip:voicemail@127.0.0.1")
        dialog.calls_page.forward_checks["no_answer"].setChecked(True)
        dialog.calls_page.forward_targets["no_answer"].setText("sip:voicemail@127.0.0.1")
        dialog.calls_page.no_answer_delay.setValue(15)
        assert dialog.codecs_page.codec_order() == ["opus", "G722", "PCMU", "PCMA"]
        dialog.codecs_page.codec_list.setCurrentRow(3)  # PCMA to the top
        for _ in range(3):
            qtbot.mouseClick(dialog.codecs_page.codec_up, Qt.MouseButton.LeftButton)
        assert dialog.codecs_page.codec_order() == ["PCMA", "opus", "G722", "PCMU"]
        dialog.settings.audio.input_device = "headset"  # as if picked in the Audio tab (no devices here)
        assert ua.media is None
        dialog.apply()
        saved = load_settings(path)
        assert saved.do_not_disturb and saved.auto_answer == 2.5
        assert saved.codecs == ["PCMA", "opus", "G722", "PCMU", "telephone-event"]
        rules = {(r.busy, r.no_answer, r.target) for r in saved.forwarding}
        assert rules == {(True, None, "sip:voicemail@127.0.0.1"), (False, 15.0, "sip:voicemail@127.0.0.1")}
        qtbot.waitUntil(lambda: ua.busy, timeout=WAIT_MS)
        account = ua.accounts[0]
        qtbot.waitUntil(lambda: account.forwarding is not None, timeout=WAIT_MS)
        assert account.auto_answer == 2.5
        assert account.forwarding is not None
        assert (account.forwarding.target, account.forwarding.busy, account.forwarding.no_answer) == (
            "sip:voicemail@127.0.0.1",
            True,
            15.0,
        )
        assert [c.name.lower() for c in ua.audio.codecs] == ["pcma", "opus", "g722", "pcmu"]
        qtbot.waitUntil(lambda: ua.media is not None, timeout=WAIT_MS)  # the next call opens the chosen devices
        dialog.close()
    finally:
        bridge.stop()


def test_forwarding_rules_merge_into_what_the_ua_can_do() -> None:
    settings = Settings(
        forwarding=[
            ForwardingRule("sip:a@x", busy=True),
            ForwardingRule("sip:b@x", no_answer=10.0),
        ]
    )
    forwarding, note = forwarding_for(settings, "sip:me@x")
    assert forwarding is not None and forwarding.target == "sip:a@x" and forwarding.busy
    assert forwarding.no_answer == 10.0 and note is not None and "one address" in note
    settings.forwarding.append(ForwardingRule("sip:c@x", always=True))
    forwarding, note = forwarding_for(settings, "sip:me@x")
    assert forwarding is not None and forwarding.always and forwarding.target == "sip:c@x" and note is None
    settings.forwarding = [ForwardingRule("sip:c@x", always=True, enabled=False)]
    assert forwarding_for(settings, "sip:me@x") == (None, None)
    ua = make_ua(Account("sip:me@127.0.0.1", register=False))
    assert apply_to_ua(Settings(do_not_disturb=True, codecs=["PCMU", "opus"]), ua) == []
    assert ua.busy and [c.name for c in ua.audio.codecs][:2] == ["PCMU", "opus"]
    # Saved before G.722 came: it joins after Opus, ahead of the G.711 the user put after it.
    apply_to_ua(Settings(codecs=["opus", "PCMA", "PCMU", "telephone-event"]), ua)
    assert [c.name for c in ua.audio.codecs] == ["opus", "G722", "PCMA", "PCMU"]


def test_audio_tab_without_sound_devices_is_guarded(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    dialog = SettingsDialog(Settings(), tmp_path / "s.json", None, audio=True)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.audio_page.devices is not None, timeout=WAIT_MS)
    outputs = [d for d in dialog.audio_page.devices or [] if d.max_output_channels > 0]
    assert dialog.audio_page.tone_button.isEnabled() == bool(outputs)
    if not outputs:
        dialog.audio_page.play_test_tone()
        assert "No speaker" in dialog.audio_page.audio_status.text()
    for spin in dialog.findChildren(QAbstractSpinBox):
        assert spin.accessibleName()
    dialog.reject()
    if dialog.audio_page.closer is not None:
        dialog.audio_page.closer.join(10.0)


def test_microphone_meter_and_test_tone_on_virtual_sound_devices(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path, request: pytest.FixtureRequest
) -> None:
    """PulseAudio virtual devices: a tone fed to the microphone moves the meter; Test plays on the speaker."""
    sound: PulseAudio = request.getfixturevalue("pulse")
    feeding = sound.pacat_play("micfeed", tone(440.0, 30.0, 0.5))
    recorder = sound.parec_start("speaker.monitor")
    heard = bytearray()

    def record() -> None:
        assert recorder.stdout is not None
        while chunk := recorder.stdout.read(9600):
            heard.extend(chunk)

    reader = threading.Thread(target=record, daemon=True)
    reader.start()
    dialog = SettingsDialog(Settings(), tmp_path / "s.json", None, audio=True)
    qtbot.addWidget(dialog)
    try:
        dialog.show()
        qtbot.waitUntil(lambda: dialog.audio_page.devices is not None, timeout=WAIT_MS)
        assert dialog.audio_page.input_combo.isEnabled() and dialog.audio_page.tone_button.isEnabled(), (
            dialog.audio_page.audio_status.text()
        )
        # A -6 dBFS tone on a -60..0 dBFS scale: about 90 %.
        qtbot.waitUntil(lambda: dialog.audio_page.meter.value() >= 75, timeout=WAIT_MS)
        watchdog = Watchdog()
        qtbot.mouseClick(dialog.audio_page.tone_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.audio_page.audio_status.text().startswith("Test tone played"), timeout=WAIT_MS)
        assert watchdog.stop() < 1.0, "the GUI thread was blocked"
        dialog.reject()
        assert dialog.audio_page.closer is not None
        dialog.audio_page.closer.join(10.0)
        assert dialog.audio_page.audio.level() is None  # the meter's stream is closed with the dialog
    finally:
        sound.end(feeding)
        sound.end(recorder)
        reader.join(10.0)
    samples = from_s16le(bytes(heard[: len(heard) // 2 * 2]))
    assert len(samples) and float(abs(samples).max()) > 0.1, "the test tone did not reach the speaker"


def test_main_window_opens_settings_and_the_trace_from_its_tools_menu(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    from softphone.gui.main_window import MainWindow
    from softphone.gui.settings_dialog import show_settings
    from softphone.gui.trace import TraceWindow
    from softphone.store import Store

    store = Store(tmp_path / "m.db")
    bridge = UaBridge()
    window = MainWindow(
        bridge,
        store,
        Settings(),
        accounts=[Account("sip:me@127.0.0.1", register=False)],
        settings_path=tmp_path / "m.json",
        use_tray=False,
    )
    bridge.start(make_ua(Account("sip:me@127.0.0.1", register=False)), register=False)
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: bridge.is_started, timeout=WAIT_MS)
        menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Tools")
        actions = {a.text(): a for a in menu.actions()}
        assert set(actions) >= {"&Settings…", "SIP &trace"}
        actions["&Settings…"].trigger()
        dialog = window._settings_dialog  # type: ignore[attr-defined]
        assert isinstance(dialog, SettingsDialog) and dialog.isVisible()
        dialog.audio_page.ringing_combo.setCurrentIndex(0)
        dialog.reject()
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
        again = show_settings(window)  # the closed one is gone: a new dialog
        assert again.isVisible()
        again.accept()
        actions["SIP &trace"].trigger()
        trace = window._trace_window  # type: ignore[attr-defined]
        assert isinstance(trace, TraceWindow) and trace.isVisible()
        qtbot.waitUntil(lambda: trace.attached and not trace._loading, timeout=WAIT_MS)
        trace.close()
    finally:
        window.quitting = True
        window.close()
        bridge.stop()
        store.close()


def test_media_encryption_is_chosen_per_account_and_reaches_the_user_agent(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    path = tmp_path / "settings.json"
    settings = Settings(accounts=[AccountSettings("sip:alice@127.0.0.1", transport="tls")])
    dialog = make_dialog(qtbot, settings, path)
    dialog.show()
    dialog.accounts_page.account_list.setCurrentRow(0)
    editor = dialog.accounts_page.edit_account()
    assert editor is not None
    # An account saved before there was a choice shows the default, which follows the transport.
    assert editor.srtp.currentData() is None and editor.srtp_keys.currentData() == "any"
    editor.srtp.setCurrentIndex(editor.srtp.findData("mandatory"))
    editor.srtp_keys.setCurrentIndex(editor.srtp_keys.findData("dtls"))
    click_ok(qtbot, editor)
    dialog.accept()
    saved = json.loads(path.read_text())["accounts"][0]
    assert (saved["srtp"], saved["srtp_keys"]) == ("mandatory", "dtls")
    entry = load_settings(path).accounts[0]
    account = account_from_settings(entry, "pw")
    assert (account.srtp_policy, account.srtp_keys) == ("mandatory", "dtls")
    # A change of encryption is a change of the account: the running UA gets the new one.
    before = account_from_settings(dataclasses.replace(entry, srtp=None, srtp_keys="any"), "pw")
    changes = account_changes([entry], [before], {entry.aor: "pw"})
    assert [(old, new.srtp) for old, new in changes.replaced] == [("sip:alice@127.0.0.1", "mandatory")]
    # Off greys out the choice of keys; a word the phone does not know is refused in words.
    editor = dialog.accounts_page.edit_account()
    assert editor is not None
    editor.srtp.setCurrentIndex(editor.srtp.findData("off"))
    assert not editor.srtp_keys.isEnabled()
    editor.reject()
    with pytest.raises(AccountError, match="srtp must be one of"):
        account_from_settings(dataclasses.replace(entry, srtp="always"), "pw")


def test_a_client_certificate_is_set_per_account_and_a_missing_file_is_refused(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    certificate, key = tmp_path / "alice.pem", tmp_path / "alice-key.pem"
    make_self_signed_certificate(certificate, key)
    certificate.write_text(certificate.read_text() + key.read_text())  # one PEM file with both
    path = tmp_path / "settings.json"
    settings = Settings(accounts=[AccountSettings("sip:alice@127.0.0.1", transport="tls")])
    dialog = make_dialog(qtbot, settings, path)
    dialog.show()
    dialog.accounts_page.account_list.setCurrentRow(0)
    editor = dialog.accounts_page.edit_account()
    assert editor is not None
    editor.client_certificate.setText(str(tmp_path / "missing.pem"))
    click_ok(qtbot, editor)
    assert editor.isVisible() and "does not exist" in editor.problem.text()
    editor.client_certificate.setText(str(certificate))
    click_ok(qtbot, editor)
    assert not editor.isVisible()
    dialog.accept()
    entry = load_settings(path).accounts[0]
    assert entry.tls_certificate == str(certificate)
    assert account_from_settings(entry, "pw").server_names == ("127.0.0.1",)


def test_the_stun_server_is_saved_checked_and_reaches_the_account(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    from softphone.gui.accounts import account_from_settings

    path = tmp_path / "settings.json"
    dialog = make_dialog(qtbot, Settings(), path)
    editor = dialog.accounts_page.edit_account(new=True)
    assert editor is not None
    qtbot.keyClicks(editor.aor, "alice@127.0.0.1")
    assert editor.stun.accessibleName() == "STUN server"
    editor.stun.setText("stun.example.com:99999")
    click_ok(qtbot, editor)
    assert editor.isVisible() and "port" in editor.problem.text()
    editor.stun.setText(" 203.0.113.1:3478 ")
    click_ok(qtbot, editor)
    dialog.accept()
    entry = load_settings(path).accounts[0]
    assert entry.stun_server == "203.0.113.1:3478"
    assert account_from_settings(entry, "").stun_server == "203.0.113.1:3478"
    assert load_settings(path).accounts[0] == AccountSettings("sip:alice@127.0.0.1", stun_server="203.0.113.1:3478")


def test_the_turn_server_user_and_password_are_kept_and_reach_the_account(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    """The TURN server and user go into the settings, the password into the keyring, never the settings file."""
    from softphone.gui.accounts import account_from_settings
    from softphone.gui.passwords import TURN_KEYRING_SERVICE

    path = tmp_path / "settings.json"
    dialog = make_dialog(qtbot, Settings(), path)
    editor = dialog.accounts_page.edit_account(new=True)
    assert editor is not None
    qtbot.keyClicks(editor.aor, "alice@127.0.0.1")
    assert editor.turn.accessibleName() == "TURN server"
    editor.turn.setText("203.0.113.3")
    click_ok(qtbot, editor)
    assert editor.isVisible() and "needs a user name" in editor.problem.text()
    editor.turn_user.setText("alice")
    click_ok(qtbot, editor)
    assert editor.isVisible() and "needs a password" in editor.problem.text()
    editor.turn_password.setText("relay secret")
    click_ok(qtbot, editor)
    assert not editor.isVisible()
    dialog.accept()
    entry = load_settings(path).accounts[0]
    assert (entry.turn_server, entry.turn_user) == ("203.0.113.3", "alice")
    assert "relay secret" not in path.read_text()
    assert memory_keyring.get_password(TURN_KEYRING_SERVICE, "sip:alice@127.0.0.1") == "relay secret"
    account = account_from_settings(entry, "")
    assert (account.turn_server, account.turn_user, account.turn_password) == ("203.0.113.3", "alice", "relay secret")
    memory_keyring.delete_password(TURN_KEYRING_SERVICE, "sip:alice@127.0.0.1")
    assert account_from_settings(entry, "").turn_server is None  # no password: the account works without a relay


def test_the_turn_transport_is_chosen_next_to_the_turn_server_and_reaches_the_account(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    """UDP by default; TCP or TLS picked in the combo box is saved and given to the account, and shown again."""
    from softphone.gui.accounts import account_from_settings

    path = tmp_path / "settings.json"
    dialog = make_dialog(qtbot, Settings(), path)
    editor = dialog.accounts_page.edit_account(new=True)
    assert editor is not None
    assert editor.turn_transport.accessibleName() == "TURN transport"
    assert editor.turn_transport.currentData() == "udp"
    choices = [editor.turn_transport.itemData(i) for i in range(editor.turn_transport.count())]
    assert choices == ["udp", "tcp", "tls"]
    qtbot.keyClicks(editor.aor, "alice@127.0.0.1")
    editor.turn.setText("203.0.113.3")
    editor.turn_user.setText("alice")
    editor.turn_password.setText("relay secret")
    editor.turn_transport.setCurrentIndex(editor.turn_transport.findData("tls"))
    click_ok(qtbot, editor)
    assert not editor.isVisible()
    dialog.accept()
    entry = load_settings(path).accounts[0]
    assert entry.turn_transport == "tls"
    assert account_from_settings(entry, "").turn_transport == "tls"
    reopened = make_dialog(qtbot, load_settings(path), path)
    reopened.accounts_page.account_list.setCurrentRow(0)
    again = reopened.accounts_page.edit_account()
    assert again is not None and again.turn_transport.currentData() == "tls"


def test_ice_is_on_with_a_stun_server_unless_the_user_turns_it_off(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path
) -> None:
    from softphone.gui.accounts import account_from_settings

    path = tmp_path / "settings.json"
    dialog = make_dialog(qtbot, Settings(), path)
    editor = dialog.accounts_page.edit_account(new=True)
    assert editor is not None
    qtbot.keyClicks(editor.aor, "alice@127.0.0.1")
    editor.stun.setText("203.0.113.1")
    assert editor.ice.isChecked() and editor.ice.accessibleName() == "Use ICE"
    click_ok(qtbot, editor)
    entry = load_settings(path).accounts[0] if path.exists() else dialog.settings.accounts[0]
    assert entry.ice is None and account_from_settings(entry, "").ice_enabled
    editor = dialog.accounts_page.edit_account()
    assert editor is not None and editor.ice.isChecked()
    editor.ice.setChecked(False)
    click_ok(qtbot, editor)
    dialog.accept()
    entry = load_settings(path).accounts[0]
    assert entry.ice is False
    assert not account_from_settings(entry, "").ice_enabled


@pytest.fixture
def loopback_stun(tmp_path: Path) -> Iterator[str]:
    """coturn answering STUN on 127.0.0.1 (no NAT in between): its HOST:PORT."""
    import shutil
    import subprocess
    import time

    from tests.baresip_peer import free_port, udp_bound

    if shutil.which("turnserver") is None:
        pytest.fail("coturn is missing: apt-get install -y coturn", pytrace=False)
    port = free_port()
    argv = [
        "turnserver", "-n", "--stun-only", "--no-tls", "--no-dtls", "--no-tcp", "--no-cli",
        "--listening-ip=127.0.0.1", f"--listening-port={port}", f"--pidfile={tmp_path / 'turn.pid'}",
        "--log-file=stdout", "--no-stdout-log",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15  # a bound on start-up, not a measurement
        while not udp_bound(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"coturn did not start on 127.0.0.1:{port}", pytrace=False)
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_the_network_test_asks_the_stun_server_and_says_what_it_found(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, xdg_config: Path, loopback_stun: str
) -> None:
    dialog = make_dialog(qtbot, Settings(), tmp_path / "s.json")
    editor = dialog.accounts_page.edit_account(new=True)
    assert editor is not None
    qtbot.mouseClick(editor.network_button, Qt.MouseButton.LeftButton)
    assert "needs a STUN server" in editor.test_result.text()
    editor.stun.setText(loopback_stun)
    watchdog = Watchdog()
    qtbot.mouseClick(editor.network_button, Qt.MouseButton.LeftButton)
    assert not editor.network_button.isEnabled()
    qtbot.waitUntil(lambda: not editor.testing, timeout=WAIT_MS)
    text = editor.test_result.text()
    assert "mapped address: 127.0.0.1:" in text and "mapping behaviour: no NAT" in text, text
    assert watchdog.stop() < 1.0, "the GUI thread was blocked"
    # A STUN server that does not answer: said in words, after the test's bounded wait.
    from tests.baresip_peer import free_port

    editor.stun.setText(f"127.0.0.1:{free_port()}")
    qtbot.mouseClick(editor.network_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not editor.testing, timeout=WAIT_MS * 3)
    assert "mapped address: none" in editor.test_result.text(), editor.test_result.text()
    assert editor.network_button.isEnabled()
    editor.reject()
    editor.tester.join()

"""Accounts added, edited, disabled and removed in Settings take effect at once, calls going on; addresses
are taken as people type them (host, host:port). The real widgets against the Kamailio fixture."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from softphone.gui.app import Softphone
from softphone.gui.settings_accounts import AccountEditor
from softphone.gui.settings_dialog import SettingsDialog, show_settings
from softphone.store import AccountSettings, Settings, Store, load_settings, save_settings
from softphone.ua import Account, CallEvent, IncomingCallEvent, RegistrationEvent, UserAgent, silence_media
from tests.gui.harness import WAIT_MS, GuiPhone, Peer, new_account
from tests.kamailio_server import Kamailio
from tests.keyring_memory import MemoryKeyring
from tests.ua import make_ua


def subscriber(server: Kamailio, keyring: MemoryKeyring) -> tuple[str, str]:
    """A new user on the server, its password in the keyring as Settings would keep it."""
    user, password = "c" + secrets.token_hex(4), secrets.token_hex(6)
    server.add_user(user, password)
    keyring.passwords[("softphone", server.aor(user))] = password
    return server.aor(user), password


@pytest.fixture
def phone(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, memory_keyring: MemoryKeyring) -> Iterator[Softphone]:
    """The application with one registered account (alice) and an event log of its UA."""
    aor, _password = subscriber(kamailio, memory_keyring)
    path = tmp_path / "settings.json"
    save_settings(Settings(accounts=[AccountSettings(aor, registrar=kamailio.proxy_uri("udp"))]), path)

    def ua_factory(accounts: list[Account], store: Store) -> UserAgent:
        return make_ua(*accounts, media=silence_media(), store=store)

    app = Softphone(
        settings_path=path,
        db_path=tmp_path / "phone.db",
        instance_name=f"softphone-test-changes-{secrets.token_hex(4)}",
        use_tray=False,
        ring=False,
        run_wizard=False,
        ua_factory=ua_factory,
    )
    events: list[object] = []
    app.bridge.event.connect(events.append)
    app.events = events
    app.window.show()
    try:
        qtbot.waitUntil(lambda: app.window.account_rows[aor].state == "registered", timeout=WAIT_MS)
        yield app
    finally:
        app.close()


def registration(events: list[object], aor: str, state: str, after: int = 0) -> bool:
    return any(isinstance(e, RegistrationEvent) and e.account == aor and e.state == state for e in events[after:])


def edit(dialog: SettingsDialog, aor: str) -> AccountEditor:
    page = dialog.accounts_page
    index = next(i for i, entry in enumerate(page.settings.accounts) if entry.aor == aor)
    page.account_list.setCurrentRow(index)
    editor = page.edit_account()
    assert editor is not None
    return editor


def test_accounts_added_edited_disabled_and_removed_apply_without_a_restart(
    qtbot: QtBot, kamailio: Kamailio, memory_keyring: MemoryKeyring, phone: Softphone
) -> None:
    window = phone.window
    events: list[object] = phone.events
    ua = phone.ua
    alice = window.accounts[0].aor
    bob = Peer(qtbot, new_account(kamailio))
    bob.wait_registered()
    try:
        # Added: registers at once, and a call reaches it.
        user, carol_password = "d" + secrets.token_hex(4), secrets.token_hex(6)
        kamailio.add_user(user, carol_password)
        carol = kamailio.aor(user)
        dialog = show_settings(window)
        editor = dialog.accounts_page.edit_account(new=True)
        assert editor is not None
        editor.aor.setText(carol)
        editor.password.setText(carol_password)
        editor.registrar.setText(kamailio.proxy_uri("udp"))
        editor.accept()
        assert dialog.apply(), dialog.status.text()
        qtbot.waitUntil(lambda: carol in window.account_rows, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.account_rows[carol].state == "registered", timeout=WAIT_MS)
        assert memory_keyring.passwords[("softphone", carol)] == carol_password
        mark = len(events)
        bob.run(lambda: bob.ua.call(carol))
        qtbot.waitUntil(lambda: any(isinstance(e, IncomingCallEvent) for e in events[mark:]), timeout=WAIT_MS)
        incoming = next(e for e in events[mark:] if isinstance(e, IncomingCallEvent))
        phone.bridge.call(ua.answer, incoming.call_id)
        bob.wait_state("confirmed")

        # Alice edited (a new display name, the registrar as host:port): re-registered at once; the call on
        # carol's account is not touched.
        mark = len(events)
        editor = edit(dialog, alice)
        editor.display_name.setText("Alice Edited")
        editor.registrar.setText(f"{kamailio.host}:{kamailio.udp_port}")
        editor.accept()
        assert dialog.apply(), dialog.status.text()
        qtbot.waitUntil(lambda: registration(events, alice, "unregistered", mark), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: registration(events, alice, "registered", mark), timeout=WAIT_MS)
        assert load_settings(dialog.settings_path).accounts[0].registrar == f"sip:{kamailio.host}:{kamailio.udp_port}"
        assert window.accounts[0].display_name == "Alice Edited"

        # Carol edited while her call goes on: she registers anew, the call keeps going until it is hung up.
        mark = len(events)
        editor = edit(dialog, carol)
        editor.display_name.setText("Carol")
        editor.accept()
        assert dialog.apply()
        qtbot.waitUntil(lambda: registration(events, carol, "registered", mark), timeout=WAIT_MS)
        assert not any(isinstance(e, CallEvent) and e.state == "ended" for e in events[mark:])
        assert not any(isinstance(e, CallEvent) and e.state == "ended" for e in bob.events)
        bob.run(lambda: bob.ua.hangup())
        qtbot.waitUntil(lambda: any(isinstance(e, CallEvent) and e.state == "ended" for e in events), timeout=WAIT_MS)

        # Disabled: unregistered, gone from the window, and unreachable.
        mark = len(events)
        page = dialog.accounts_page
        editor = edit(dialog, carol)
        editor.enabled.setChecked(False)
        editor.accept()
        assert "(disabled)" in page.account_list.item(1).text()
        assert dialog.apply()
        qtbot.waitUntil(lambda: registration(events, carol, "unregistered", mark), timeout=WAIT_MS)
        assert carol not in window.account_rows
        bob_mark = bob.mark()
        bob.run(lambda: bob.ua.call(carol))
        ended = bob.wait_state("ended", after=bob_mark)
        assert ended.code in (404, 480)

        # Removed: alice too; the window says there is no account.
        mark = len(events)
        page.account_list.setCurrentRow(0)
        page.remove_account()
        assert [entry.aor for entry in page.settings.accounts] == [carol]
        assert dialog.apply()
        qtbot.waitUntil(lambda: registration(events, alice, "unregistered", mark), timeout=WAIT_MS)
        assert window.account_rows == {} and window.no_account_label.isVisible()
        qtbot.waitUntil(lambda: ua.accounts == [], timeout=WAIT_MS)
        dialog.close()
    finally:
        bob.stop()


def test_a_registrar_and_proxy_typed_as_host_and_port_are_taken(
    qtbot: QtBot, kamailio: Kamailio, memory_keyring: MemoryKeyring, phone: Softphone
) -> None:
    window = phone.window
    user, password = "h" + secrets.token_hex(4), secrets.token_hex(6)
    kamailio.add_user(user, password)
    aor = kamailio.aor(user)
    dialog = show_settings(window)
    editor = dialog.accounts_page.edit_account(new=True)
    assert editor is not None
    editor.aor.setText(aor.removeprefix("sip:"))
    editor.password.setText(password)
    editor.registrar.setText(f"{kamailio.host}:{kamailio.udp_port}")
    editor.proxy.setText(f"{kamailio.host}:{kamailio.udp_port}")
    editor.accept()
    assert editor.result() == editor.DialogCode.Accepted, editor.problem.text()
    assert dialog.apply()
    entry = load_settings(dialog.settings_path).accounts[-1]
    assert (entry.aor, entry.registrar, entry.outbound_proxy) == (
        aor,
        f"sip:{kamailio.host}:{kamailio.udp_port}",
        f"sip:{kamailio.host}:{kamailio.udp_port}",
    )
    qtbot.waitUntil(lambda: aor in window.account_rows, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.account_rows[aor].state == "registered", timeout=WAIT_MS)
    # Something that is no address is refused in plain words, not in the parser's.
    editor = dialog.accounts_page.edit_account(new=True)
    assert editor is not None
    editor.aor.setText("dora@127.0.0.1")
    editor.registrar.setText("127.0.0.1:5060:7")
    editor.accept()
    assert editor.problem.text() == (
        "Cannot save the account: the registrar “127.0.0.1:5060:7” is not an address that can be used "
        "(type a host name, host:port or a sip: address)."
    )
    editor.reject()
    dialog.close()


def test_the_dial_field_takes_a_host_and_port(qtbot: QtBot, tmp_path: Path) -> None:
    bob = Peer(qtbot, Account(f"sip:bob{secrets.token_hex(2)}@127.0.0.1", register=False))
    gui = GuiPhone(qtbot, Account("sip:alice@127.0.0.1", register=False), tmp_path)
    try:
        qtbot.waitUntil(lambda: bob.bridge.is_started and gui.bridge.is_started, timeout=WAIT_MS)
        port = bob.ua.stack.transport.local_address("UDP")[1]
        gui.window.dial_field.setText(f"127.0.0.1:{port}")
        gui.window.dial_from_field()
        incoming = bob.wait_incoming()
        assert incoming.remote_uri == "sip:alice@127.0.0.1"
        # A typing slip is said in plain words.
        gui.window.dial_field.setText("127.0.0.1:5060:7")
        gui.window.dial_from_field()
        qtbot.waitUntil(lambda: gui.window.statusBar().currentMessage().startswith("Cannot call "), timeout=WAIT_MS)
        message = gui.window.statusBar().currentMessage()
        assert message == (
            "Cannot call 127.0.0.1:5060:7: “127.0.0.1:5060:7” is not an address "
            "(type a name, a number, user@host, host:port or a sip: address)."
        ), message
    finally:
        gui.close()
        bob.stop()

"""The Nearby group of the buddy list: phones found by LAN discovery (mDNS/DNS-SD on loopback, where the test
phones listen), called and written from there; and the account setting that turns the announcement off."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from softphone.gui.accounts import account_from_settings
from softphone.gui.buddy_model import GROUP_ROLE, NEARBY_GROUP
from softphone.gui.settings_accounts import AccountEditor, ConnectionTester
from softphone.store import AccountSettings
from softphone.ua import Account, IncomingCallEvent, LanAnnounceEvent, LanPeerEvent
from tests.gui.harness import WAIT_MS, GuiPhone, Peer


def nearby_rows(phone: GuiPhone) -> dict[str, str]:
    """Name -> row text of the Nearby group."""
    buddies = phone.window.buddy_list
    return {c.name: buddies.row_text(c.id) for c in buddies.contacts.values() if c.id is not None and c.id < 0}


def test_a_phone_on_the_lan_shows_under_nearby_is_called_and_leaves(qtbot: QtBot, tmp_path: Path) -> None:
    alice = GuiPhone(qtbot, Account("sip:alice@127.0.0.1", register=False, display_name="Alice"), tmp_path)
    bob = Peer(qtbot, Account("sip:bob@127.0.0.1", register=False, display_name="Bob", auto_answer=0.0))
    quiet = Peer(qtbot, Account("sip:quiet@127.0.0.1", register=False, display_name="Quiet", direct_calls=False))
    dialled: list[str] = []
    try:
        for peer in (bob, quiet):
            qtbot.waitUntil(lambda peer=peer: peer.bridge.is_started, timeout=WAIT_MS)  # type: ignore[misc]
            peer.run(peer.ua.lan.start)
        buddies = alice.window.buddy_list
        qtbot.waitUntil(lambda: {"Bob", "Quiet"} <= set(nearby_rows(alice)), timeout=WAIT_MS)
        rows = nearby_rows(alice)
        assert "On this network" in rows["Bob"], rows
        assert "On this network, takes no calls" in rows["Quiet"], rows
        groups = [buddies.proxy.index(r, 0).data(GROUP_ROLE) for r in range(buddies.proxy.rowCount())]
        assert groups[-1] == NEARBY_GROUP and buddies.proxy.index(len(groups) - 1, 0).data().startswith("Nearby ")
        alice.wait(lambda: any(isinstance(e, LanAnnounceEvent) and e.name == "Alice" for e in alice.events))

        # A nearby row is not a contact: no Edit or Remove; Call and Chat go to the address found.
        bob_id = next(c.id for c in buddies.contacts.values() if c.name == "Bob")
        assert bob_id is not None and buddies.select_contact(bob_id)
        assert not buddies.edit_button.isEnabled() and not buddies.remove_button.isEnabled()
        assert buddies.call_button.isEnabled() and buddies.chat_button.isEnabled()
        bob_uri = f"sip:bob@127.0.0.1:{bob.ua.stack.transport.local_address('UDP')[1]}"
        assert buddies.contacts[bob_id].uris == [bob_uri]
        on_call, buddies.on_call = buddies.on_call, dialled.append
        buddies.call_selected()
        assert dialled == [bob_uri]
        buddies.on_call = on_call
        buddies.call_selected()  # the main window's dial path, for real: Bob answers by himself
        bob.wait(lambda e: isinstance(e, IncomingCallEvent))
        alice.wait(lambda: alice.window.call_window.isVisible())

        # Bob's phone goes away: its goodbye takes it off the list.
        bob.bridge.stop()
        qtbot.waitUntil(lambda: "Bob" not in nearby_rows(alice), timeout=WAIT_MS)
        assert any(isinstance(e, LanPeerEvent) and e.name == "Bob" and e.state == "down" for e in alice.events)
    finally:
        for peer in (bob, quiet):
            peer.bridge.stop()
        alice.close()


def test_context_menu_of_a_nearby_phone_offers_to_add_it(qtbot: QtBot, tmp_path: Path) -> None:
    """Fed the UA's events directly: the menu of a nearby row has Call, Chat and Add to contacts, no Edit."""
    alice = GuiPhone(qtbot, Account("sip:alice@127.0.0.1", register=False, lan_announce=False), tmp_path)
    try:
        buddies = alice.window.buddy_list
        buddies.on_event(LanPeerEvent("Erin", "sip:erin@192.0.2.5:5060", "up", "Erin E.", "sip:erin@192.0.2.5"))
        qtbot.waitUntil(lambda: "Erin" in nearby_rows(alice), timeout=WAIT_MS)
        contact = next(c for c in buddies.contacts.values() if c.name == "Erin")
        assert contact.notes == "Erin E. — sip:erin@192.0.2.5"
        assert contact.id is not None and buddies.select_contact(contact.id)
        rect = buddies.view.visualRect(buddies.view.currentIndex())
        buddies._context_menu(rect.center())
        menu = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMenu) and w.isVisible())
        texts = [a.text() for a in menu.actions() if a.text()]
        assert texts[:3] == ["Call sip:erin@192.0.2.5:5060", "Chat", "Add to contacts…"], texts
        assert "Edit…" not in texts
        menu.close()
        buddies.on_event(LanAnnounceEvent("sip:alice@127.0.0.1", "Alice-2", "Alice", "announced"))
        assert "“Alice-2”" in buddies.status.text() and "“Alice” was taken" in buddies.status.text()
        buddies.on_event(LanPeerEvent("Erin", "sip:erin@192.0.2.5:5060", "down"))
        qtbot.waitUntil(lambda: not nearby_rows(alice), timeout=WAIT_MS)
    finally:
        alice.close()


def test_the_announcement_follows_the_server_until_the_user_sets_it(qtbot: QtBot) -> None:
    tester = ConnectionTester(None)
    lan = AccountEditor(AccountSettings(aor="sip:alice@192.0.2.1", register=False), tester)
    server = AccountEditor(AccountSettings(aor="sip:alice@example.com"), tester)
    for editor in (lan, server):
        qtbot.addWidget(editor)
    assert lan.lan_announce.isChecked() and not server.lan_announce.isChecked()
    # Unset, it follows "register": a LAN account given a server stops announcing, and is saved as "default".
    lan.register.setChecked(True)
    assert not lan.lan_announce.isChecked()
    lan.register.setChecked(False)
    assert lan.lan_announce.isChecked()
    entry, _ = lan.build()
    assert entry.lan_announce is None and account_from_settings(entry, "").announces_on_lan
    # The user's choice sticks: a server account made visible on the LAN.
    server.lan_announce.click()
    assert server.lan_announce.isChecked()
    server.register.setChecked(False)
    server.register.setChecked(True)
    assert server.lan_announce.isChecked()
    entry, _ = server.build()
    account = account_from_settings(entry, "")
    assert entry.lan_announce is True and account.announces_on_lan and account.has_server
    # And a LAN account hidden from the LAN.
    lan.lan_announce.click()
    entry, _ = lan.build()
    assert entry.lan_announce is False and not account_from_settings(entry, "").announces_on_lan

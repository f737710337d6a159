"""The buddy list: live presence and busy lamps from real user agents on Kamailio, watcher requests
peer to peer, the contact dialog, vCard import/export through the file dialogs, a 1,000-NOTIFY burst."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from softphone.gui.bridge import UaBridge
from softphone.gui.buddies import BuddyList
from softphone.gui.buddy_model import PRESENCE_COLUMN, STATE_ROLE, initials, presence_view
from softphone.gui.main_window import MainWindow
from softphone.store import Contact, Settings, Store
from softphone.ua import (
    Account,
    CallEvent,
    PresenceEvent,
    SubscriptionEvent,
    UserAgent,
    silence_media,
)
from tests.gui.harness import WAIT_MS, Peer, Watchdog, new_account, unnamed_controls
from tests.kamailio_server import Kamailio
from tests.ua import make_ua


class BuddyPhone:
    """The main window over a UA whose store holds ``contacts`` before it starts (as after a restart)."""

    def __init__(self, qtbot: QtBot, account: Account, tmp_path: Path, contacts: list[Contact] | None = None) -> None:
        self.qtbot = qtbot
        self.account = account
        self.store = Store(tmp_path / f"buddies-{secrets.token_hex(3)}.db")
        for contact in contacts or []:
            self.store.contacts.add(contact)
        self.ua: UserAgent = make_ua(account, media=silence_media(), store=self.store)
        self.bridge = UaBridge()
        self.window = MainWindow(
            self.bridge,
            self.store,
            Settings(),
            accounts=[account],
            settings_path=tmp_path / "settings.json",
            recordings_dir=tmp_path / "recordings",
            use_tray=False,
        )
        self.buddies: BuddyList = self.window.buddy_list
        self.bridge.start(self.ua)
        self.window.show()
        qtbot.addWidget(self.window)
        qtbot.waitUntil(lambda: self.bridge.is_started, timeout=WAIT_MS)

    def contact_id(self, name: str) -> int:
        found = [c.id for c in self.store.contacts.list() if c.name == name]
        assert found and found[0] is not None, f"no contact {name}"
        return found[0]

    def wait_row(self, name: str, *words: str) -> str:
        contact_id = self.contact_id(name)

        def shows() -> bool:
            text = self.buddies.row_text(contact_id)
            return all(word in text for word in words)

        try:
            self.qtbot.waitUntil(shows, timeout=WAIT_MS)
        except Exception:
            raise AssertionError(f"row {self.buddies.row_text(contact_id)!r} never showed {words}") from None
        return self.buddies.row_text(contact_id)

    def ua_value(self, function: object, *args: object) -> object:
        """Call ``function(*args)`` on the UA's loop and wait (in the Qt loop) for its result."""
        results: list[object] = []
        self.bridge.call(function, *args, on_done=results.append)  # type: ignore[arg-type]
        self.qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
        return results[0]

    def close(self) -> None:
        self.window.quitting = True
        self.window.call_window.close()
        self.window.close()
        self.bridge.stop()
        self.store.close()


@pytest.fixture
def started() -> Iterator[list[object]]:
    things: list[object] = []
    yield things
    for thing in reversed(things):
        thing.close() if isinstance(thing, BuddyPhone) else thing.stop()  # type: ignore[attr-defined]


def lan(user: str) -> Account:
    return Account(f"sip:{user}@127.0.0.1", register=False)


def presence_state(phone: BuddyPhone, name: str) -> str:
    rows = phone.buddies.buddy_model.rows[phone.contact_id(name)]
    return str(rows[0][PRESENCE_COLUMN].data(STATE_ROLE))


# --- pure helpers -------------------------------------------------------------------------------


def test_presence_words_and_icons_differ_per_state() -> None:
    cases = {
        ("open", None, None): ("available", "Available"),
        ("open", "away", "back at 3"): ("away", "Away — back at 3"),
        ("open", "vacation", None): ("away", "Away (vacation)"),
        ("open", "busy", None): ("busy", "Busy"),
        ("open", "meeting", "till 3"): ("busy", "Busy (meeting) — till 3"),
        ("open", "on-the-phone", None): ("on-the-phone", "On the phone"),
        ("closed", None, "gone home"): ("offline", "Offline — gone home"),
        ("unknown", None, None): ("unknown", "Unknown"),
    }
    for (basic, activity, note), (state, text) in cases.items():
        view = presence_view(basic, activity, note)
        assert (view.state, view.text) == (state, text)
    icons = {presence_view(*k).icon for k in cases}
    assert len(icons) == 5  # available, away, busy, on the phone, offline: five shapes
    assert initials("Ada Lovelace") == "AL" and initials("sip:bob@x") == "B" and initials("") == "?"


# --- presence and busy lamps through Kamailio -----------------------------------------------------


def test_presence_and_busy_lamp_of_a_buddy_show_in_its_row(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, started: list[object]
) -> None:
    alice_account = new_account(kamailio)
    carol_account = new_account(kamailio, auto_answer=0)
    alice = Peer(qtbot, alice_account)
    started.append(alice)
    carol = Peer(qtbot, carol_account)
    started.append(carol)
    alice.wait_registered()
    carol.wait_registered()
    contacts = [
        Contact("Alice Example", uris=[alice_account.aor], groups=["Work"], subscribe_presence=True),
        Contact("Dora", uris=["sip:dora@127.0.0.1"], phones=["+44 20 7946 0000"]),
    ]
    phone = BuddyPhone(qtbot, new_account(kamailio), tmp_path, contacts)
    started.append(phone)
    buddies = phone.buddies
    assert buddies.group_names() == ["Work", "Contacts"]
    assert "Presence not shown" in phone.wait_row("Dora")

    # On start the buddy list watches Alice (presence and busy lamp); her registration published "open".
    phone.wait_row("Alice Example", "Available")
    assert presence_state(phone, "Alice Example") == "available"
    phone.wait_row("Alice Example", "Line free")

    alice.bridge.call(alice.ua.presence.set_status, "open", "away", "back soon")
    assert "Away — back soon" in phone.wait_row("Alice Example", "Away")
    assert presence_state(phone, "Alice Example") == "away"
    alice.bridge.call(alice.ua.presence.set_status, "open", "busy", "deadline")
    phone.wait_row("Alice Example", "Busy — deadline")
    assert presence_state(phone, "Alice Example") == "busy"
    alice.bridge.call(alice.ua.presence.set_status, "open")
    phone.wait_row("Alice Example", "Available")

    # A call: the busy lamp and on-the-phone.
    mark = alice.mark()
    alice.bridge.call(alice.ua.call, carol_account.aor)
    confirmed = alice.wait_state("confirmed", after=mark)
    phone.wait_row("Alice Example", "On a call")
    phone.wait_row("Alice Example", "On the phone")
    alice.bridge.call(alice.ua.hangup, confirmed.call_id)
    alice.wait(lambda e: isinstance(e, CallEvent) and e.state == "ended", after=mark)
    phone.wait_row("Alice Example", "Available", "Line free")

    # Search as you type: the store's prefix search, and any part of the name.
    buddies.search.setText("ali")
    assert buddies.visible_contact_ids() == [phone.contact_id("Alice Example")]
    buddies.search.setText("xample")
    assert buddies.visible_contact_ids() == [phone.contact_id("Alice Example")]
    buddies.search.setText("+4420")
    assert buddies.visible_contact_ids() == [phone.contact_id("Dora")]
    buddies.search.clear()
    assert sorted(buddies.visible_contact_ids()) == sorted(buddies.contact_ids())

    # Double-click (activation) calls through the main window's dial path.
    dialled: list[str] = []
    buddies.on_call = dialled.append
    assert buddies.select_contact(phone.contact_id("Alice Example"))
    buddies.view.activated.emit(buddies.view.currentIndex())
    assert dialled == [alice_account.aor]

    # The chat button opens the chat window on that contact's conversation.
    assert buddies.chat_button.isEnabled()
    qtbot.mouseClick(buddies.chat_button, Qt.MouseButton.LeftButton)
    chat = phone.window.chat_window
    conversation = chat.conversation(alice_account.aor)
    assert chat.isVisible() and conversation is not None and chat.tabs.currentWidget() is conversation
    assert conversation.name == "Alice Example"
    chat.close()

    # Alice goes away altogether: offline.
    alice.stop()
    started.remove(alice)
    phone.wait_row("Alice Example", "Offline")
    assert presence_state(phone, "Alice Example") == "offline"
    assert unnamed_controls(buddies) == []


# --- watcher requests, peer to peer -----------------------------------------------------------------


def test_pending_watchers_are_allowed_or_blocked_from_the_bar(
    qtbot: QtBot, tmp_path: Path, started: list[object]
) -> None:
    # Watchers named for this test only: a phone of another test that still answers mDNS on loopback, named
    # alice, would be found on the LAN, watched, and so let in without asking.
    tag = secrets.token_hex(3)
    alice_aor, carol_aor = f"sip:alice{tag}@127.0.0.1", f"sip:carol{tag}@127.0.0.1"
    phone = BuddyPhone(qtbot, lan("bob"), tmp_path)
    started.append(phone)
    port = phone.ua.stack.transport.local_address("UDP")[1]
    bob_address = f"sip:bob@127.0.0.1:{port}"
    alice = Peer(qtbot, lan(f"alice{tag}"))
    started.append(alice)
    carol = Peer(qtbot, lan(f"carol{tag}"))
    started.append(carol)
    buddies = phone.buddies
    assert not buddies.watcher_bar.isVisibleTo(buddies)

    # Alice is not in Bob's list: her SUBSCRIBE is held pending and shows in the bar.
    alice.bridge.call(alice.ua.presence.watch, bob_address)
    qtbot.waitUntil(lambda: (alice_aor, "sip:bob@127.0.0.1") in buddies.watcher_bar.rows, timeout=WAIT_MS)
    assert buddies.watcher_bar.isVisibleTo(buddies)
    assert "Someone wants to see your presence" in buddies.watcher_bar.title.text()
    alice.wait(lambda e: isinstance(e, SubscriptionEvent) and e.state == "pending")
    row = buddies.watcher_bar.rows[(alice_aor, "sip:bob@127.0.0.1")]
    qtbot.mouseClick(row.allow_button, Qt.MouseButton.LeftButton)
    alice.wait(lambda e: isinstance(e, PresenceEvent) and e.uri == bob_address and e.basic == "open")
    qtbot.waitUntil(lambda: not buddies.watcher_bar.rows, timeout=WAIT_MS)
    assert not buddies.watcher_bar.isVisibleTo(buddies)
    assert phone.store.watchers.decision("sip:bob@127.0.0.1", alice_aor) == "allow"

    # Carol asks too; a buddy list opened now finds her through pending_watchers().
    carol.bridge.call(carol.ua.presence.watch, bob_address)
    qtbot.waitUntil(lambda: (carol_aor, "sip:bob@127.0.0.1") in buddies.watcher_bar.rows, timeout=WAIT_MS)
    second = BuddyList(phone.bridge, phone.store, accounts=[phone.account])
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: (carol_aor, "sip:bob@127.0.0.1") in second.watcher_bar.rows, timeout=WAIT_MS)
    row = buddies.watcher_bar.rows[(carol_aor, "sip:bob@127.0.0.1")]
    qtbot.mouseClick(row.block_button, Qt.MouseButton.LeftButton)
    carol.wait(lambda e: isinstance(e, SubscriptionEvent) and e.state == "terminated")
    qtbot.waitUntil(lambda: not buddies.watcher_bar.rows and not second.watcher_bar.rows, timeout=WAIT_MS)
    assert phone.store.watchers.decision("sip:bob@127.0.0.1", carol_aor) == "block"
    assert not any(isinstance(e, PresenceEvent) and e.uri == bob_address for e in carol.events)


# --- the contact dialog and vCard -------------------------------------------------------------------


def _png(path: Path) -> Path:
    pixmap = QPixmap(20, 20)
    pixmap.fill(QColor("#3366cc"))
    assert pixmap.save(str(path), "PNG")
    return path


def test_add_edit_and_remove_a_contact_through_the_dialog(qtbot: QtBot, tmp_path: Path, started: list[object]) -> None:
    phone = BuddyPhone(qtbot, lan("bob"), tmp_path)
    started.append(phone)
    buddies = phone.buddies

    dialog = buddies.add_contact()
    assert unnamed_controls(dialog) == []
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()  # empty: refused, stays open
    assert dialog.isVisible() and "name" in dialog.problem.text()
    dialog.name.setText("Erin Ünal")
    dialog.uris.setPlainText("erin@127.0.0.1\nsip:erin.work@127.0.0.1")
    dialog.phones.setPlainText("+44 20 7946 0001")
    dialog.groups.setText("Friends, Work")
    dialog.notes.setPlainText("met at the conference 🎤")
    assert not dialog.load_photo(str(tmp_path / "missing.png"))
    assert dialog.problem.isVisibleTo(dialog) and "Cannot read the photo" in dialog.problem.text()
    dialog.choose_photo()  # the photo through its file dialog
    chooser = dialog.file_dialog
    assert chooser is not None
    chooser.setOption(chooser.Option.DontUseNativeDialog, True)
    chooser.selectFile(str(_png(tmp_path / "erin.png")))
    chooser.accept()
    qtbot.waitUntil(lambda: dialog.photo_path.text().endswith("erin.png"), timeout=WAIT_MS)
    assert not dialog.problem.isVisibleTo(dialog)
    assert dialog.presence.isChecked()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert not dialog.isVisible()

    (erin,) = phone.store.contacts.list()
    assert erin.uris == ["sip:erin@127.0.0.1", "sip:erin.work@127.0.0.1"]
    assert erin.groups == ["Friends", "Work"] and erin.phones == ["+44 20 7946 0001"]
    assert erin.photo is not None and erin.photo_type == "image/png" and erin.subscribe_presence
    assert buddies.group_names() == ["Friends", "Work"]
    assert "Erin Ünal" in buddies.row_text(erin.id or 0)
    watched = phone.ua_value(phone.ua.presence.buddies)
    assert sorted(b.uri for b in watched) == ["sip:erin.work@127.0.0.1", "sip:erin@127.0.0.1"]  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: "sip:erin@127.0.0.1" in phone.ua.dialog_state.watched, timeout=WAIT_MS)

    # Edit: a new name and group, presence off -> no more subscriptions.
    assert buddies.select_contact(erin.id or 0)
    buddies.edit_selected()
    dialog = buddies.dialog
    assert dialog is not None and dialog.name.text() == "Erin Ünal"
    dialog.name.setText("Erin Smith")
    dialog.groups.setText("Family")
    dialog.presence.setChecked(False)
    dialog.accept()
    (edited,) = phone.store.contacts.list()
    assert (edited.id, edited.name, edited.groups, edited.subscribe_presence) == (
        erin.id,
        "Erin Smith",
        ["Family"],
        False,
    )
    assert edited.photo == erin.photo  # kept
    assert buddies.group_names() == ["Family"]
    qtbot.waitUntil(lambda: phone.ua_value(phone.ua.presence.buddies) == [], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: phone.ua.dialog_state.watched == {}, timeout=WAIT_MS)

    # Remove: asked first; "No" keeps, "Yes" removes.
    box = buddies.remove_contact(edited)
    box.button(QMessageBox.StandardButton.No).click()
    assert phone.store.contacts.count() == 1
    box = buddies.remove_contact(edited)
    box.button(QMessageBox.StandardButton.Yes).click()
    assert phone.store.contacts.count() == 0
    assert buddies.contact_ids() == [] and buddies.group_names() == []


def test_vcard_export_and_import_round_trip_through_the_file_dialogs(
    qtbot: QtBot, tmp_path: Path, started: list[object]
) -> None:
    photo = _png(tmp_path / "p.png").read_bytes()
    contacts = [
        Contact(
            "Grace Hopper",
            uris=["sip:grace@127.0.0.1"],
            phones=["+1 555 0100"],
            groups=["Navy"],
            notes="COBOL",
            photo=photo,
            photo_type="image/png",
            subscribe_presence=True,
        ),
        Contact("Ada Lovelace", uris=["sip:ada@127.0.0.1"], groups=["Maths", "Navy"]),
    ]
    phone = BuddyPhone(qtbot, lan("bob"), tmp_path, contacts)
    started.append(phone)
    buddies = phone.buddies
    assert sorted(buddies.group_names()) == ["Maths", "Navy"]

    target = tmp_path / "out" / "contacts.vcf"
    target.parent.mkdir()
    dialog = buddies.export_vcard()
    dialog.setOption(dialog.Option.DontUseNativeDialog, True)
    dialog.selectFile(str(target))
    dialog.accept()
    qtbot.waitUntil(target.exists, timeout=WAIT_MS)
    text = target.read_text(encoding="utf-8")
    assert text.count("BEGIN:VCARD") == 2 and "Grace Hopper" in text and "COBOL" in text
    assert "Exported 2 contacts" in buddies.status.text()

    # Into an empty list (another phone), through the import dialog: both come back as they were.
    other = BuddyPhone(qtbot, lan("carol"), tmp_path)
    started.append(other)
    dialog = other.buddies.import_vcard()
    dialog.setOption(dialog.Option.DontUseNativeDialog, True)
    dialog.selectFile(str(target))
    dialog.accept()
    qtbot.waitUntil(lambda: other.store.contacts.count() == 2, timeout=WAIT_MS)
    box = other.buddies.message_box
    assert box is not None and "2 cards read: 2 added, 0 updated, 0 unchanged" in box.text()
    box.close()
    back = {c.name: c for c in other.store.contacts.list()}
    grace = back["Grace Hopper"]
    assert (grace.uris, grace.phones, grace.groups, grace.notes) == (
        ["sip:grace@127.0.0.1"],
        ["+1 555 0100"],
        ["Navy"],
        "COBOL",
    )
    assert grace.photo == photo and grace.subscribe_presence
    assert back["Ada Lovelace"].groups == ["Maths", "Navy"]
    assert sorted(other.buddies.group_names()) == ["Maths", "Navy"]

    # Again, plus a broken card: unchanged ones counted, the bad one skipped with its reason.
    broken = tmp_path / "broken.vcf"
    broken.write_text(text + "BEGIN:VCARD\r\nVERSION:3.0\r\nNOTE:no name at all\r\nEND:VCARD\r\n", encoding="utf-8")
    result = other.buddies.import_vcard_file(str(broken))
    assert result is not None and result.unchanged == 2 and len(result.skipped) == 1
    box = other.buddies.message_box
    assert box is not None and "1 skipped" in box.text() and "Card 3:" in box.text()
    box.close()


# --- a burst of presence updates ------------------------------------------------------------------------


def test_a_burst_of_1000_presence_updates_does_not_stall_the_gui(
    qtbot: QtBot, tmp_path: Path, started: list[object]
) -> None:
    count = 1000
    contacts = [
        Contact(f"Buddy {i:04d}", uris=[f"sip:b{i}@127.0.0.1"], groups=[f"Team {i % 10}"]) for i in range(count)
    ]
    start = time.perf_counter()
    phone = BuddyPhone(qtbot, lan("bob"), tmp_path, contacts)
    started.append(phone)
    build_ms = (time.perf_counter() - start) * 1000
    buddies = phone.buddies
    assert len(buddies.contact_ids()) == count
    events = [PresenceEvent(f"sip:b{i}@127.0.0.1", "open", "away", f"note {i}") for i in range(count)]

    def burst() -> None:  # on the UA's loop, as a thousand NOTIFYs would be
        for event in events:
            phone.ua.emit(event)

    watchdog = Watchdog(10)
    flushes = buddies.buddy_model.flushes
    start = time.perf_counter()
    phone.bridge.call(burst)
    qtbot.waitUntil(
        lambda: (
            buddies.buddy_model.pending_updates == 0
            and all(presence_state(phone, f"Buddy {i:04d}") == "away" for i in (0, 500, 999))
        ),
        timeout=WAIT_MS,
    )
    qtbot.waitUntil(
        lambda: all(r[0][PRESENCE_COLUMN].data(STATE_ROLE) == "away" for r in buddies.buddy_model.rows.values()),
        timeout=WAIT_MS,
    )
    total_ms = (time.perf_counter() - start) * 1000
    longest_ms = watchdog.stop() * 1000
    print(
        f"\n1000 contacts: list built in {build_ms:.0f} ms; 1000 presence events shown in {total_ms:.0f} ms, "
        f"{buddies.buddy_model.flushes - flushes} refreshes, longest GUI-thread gap {longest_ms:.0f} ms"
    )
    assert buddies.buddy_model.flushes - flushes <= 40, "updates are coalesced, not one refresh per event"
    assert longest_ms < 500, f"the GUI thread stalled for {longest_ms:.0f} ms"
    assert "Away — note 7" in buddies.row_text(phone.contact_id("Buddy 0007"))

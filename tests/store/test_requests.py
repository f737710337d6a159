"""Schema version 2: message requests (messages from senders not verified as contacts), accepted senders,
and the details flag of watcher decisions; migrated from a version 1 database that holds data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from softphone.store import Authorization, RequestsFull, Store
from softphone.store import db as db_module

ME = "sip:me@example.com"
BOB = "sip:bob@example.com"
MALLORY = "sip:mallory@evil.example"


def version_1_database(path: Path) -> None:
    """A database as release 1 wrote it: its schema and a message, a watcher decision."""
    con = sqlite3.connect(path)
    con.create_function("sp_fold", 1, db_module._fold, deterministic=True)
    for statement in db_module.MIGRATIONS[0]:
        con.execute(statement)
    con.execute(
        "INSERT INTO messages (account, peer, direction, body, content_type, time, state, read, dedupe_key)"
        " VALUES (?, ?, 'in', 'from before', 'text/plain', 1.0, 'received', 0, 'k1')",
        (ME, BOB),
    )
    con.execute("INSERT INTO watchers (account, watcher, decision, time) VALUES (?, ?, 'allow', 2.0)", (ME, BOB))
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()


def test_version_1_database_migrates_with_its_data_kept(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    version_1_database(path)
    with Store(path) as store:
        assert store.schema_version == db_module.SCHEMA_VERSION >= 2
        (old,) = store.messages.page(ME, BOB)
        assert old.text == "from before" and not old.from_stranger
        record = store.watchers.get(ME, BOB)
        assert record is not None and record.decision is Authorization.ALLOW and not record.details
        columns = {row[1] for row in store.db.query("PRAGMA table_info(messages)")}
        assert "from_stranger" in columns
        assert store.db.query("SELECT name FROM sqlite_master WHERE name = 'accepted_senders'")
        assert store.messages.search("before")[0].id == old.id
        assert store.integrity_check() == ["ok"]


def test_requests_are_apart_from_the_conversations(store: Store) -> None:
    store.messages.add_incoming(ME, BOB, "from bob", call_id="b1", cseq=1)
    forged, new = store.messages.add_incoming(ME, BOB, "claims to be bob", call_id="f1", cseq=1, from_stranger=True)
    assert new and forged.from_stranger
    store.messages.add_incoming(ME, MALLORY, "buy now", call_id="m1", cseq=1, from_stranger=True)

    assert [m.text for m in store.messages.page(ME, BOB, requests=False)] == ["from bob"]
    assert [m.text for m in store.messages.page(ME, BOB, requests=True)] == ["claims to be bob"]
    assert [m.text for m in store.messages.page(ME, BOB)] == ["from bob", "claims to be bob"]
    assert [(c.peer, c.last.text) for c in store.messages.conversations(ME, requests=False)] == [(BOB, "from bob")]
    requests = store.messages.conversations(ME, requests=True)
    assert sorted((c.peer, c.unread) for c in requests) == [(BOB, 1), (MALLORY, 1)]
    assert store.messages.unread_counts(ME, requests=False) == {BOB: 1}
    assert store.messages.unread_counts(ME, requests=True) == {BOB: 1, MALLORY: 1}
    assert store.messages.request_count() == 2 and store.messages.request_count(ME, MALLORY) == 1
    assert store.messages.get(forged.id) == forged


def test_accept_decline_and_writing_to_a_peer(store: Store) -> None:
    store.messages.add_incoming(ME, MALLORY, "hello", call_id="m1", cseq=1, from_stranger=True)
    store.messages.add_incoming(ME, "sip:carol@example.com", "hi", call_id="c1", cseq=1, from_stranger=True)
    store.messages.add_incoming(ME, "sip:dave@example.com", "yo", call_id="d1", cseq=1, from_stranger=True)
    assert not store.messages.is_accepted(ME, MALLORY)

    assert store.messages.decline(ME, MALLORY) == 1
    assert store.messages.page(ME, MALLORY) == [] and not store.messages.is_accepted(ME, MALLORY)

    assert store.messages.accept(ME, "sip:carol@example.com") == 1
    assert store.messages.is_accepted(ME, "sip:carol@example.com")
    assert not store.messages.is_accepted("sip:other@example.com", "sip:carol@example.com")
    assert [m.from_stranger for m in store.messages.page(ME, "sip:carol@example.com")] == [False]

    # A reply accepts the conversation's requests too.
    store.messages.add_outgoing(ME, "sip:dave@example.com", "who is this?")
    assert store.messages.is_accepted(ME, "sip:dave@example.com")
    assert store.messages.page(ME, "sip:dave@example.com", requests=True) == []
    assert store.messages.request_count() == 0


def test_requests_are_capped_per_sender_and_in_total(store: Store) -> None:
    def request(sender: str, n: int) -> None:
        store.messages.add_incoming(
            ME, sender, f"spam {n}", call_id=f"{sender}-{n}", cseq=1, from_stranger=True, max_per_peer=3, max_total=5
        )

    for n in range(3):
        request(MALLORY, n)
    with pytest.raises(RequestsFull) as refused:
        request(MALLORY, 3)
    assert refused.value.scope == "sender" and refused.value.kept == 3
    # A retransmitted request that is kept already is no new message: answered from the store.
    again, new = store.messages.add_incoming(
        ME, MALLORY, "spam 0", call_id=f"{MALLORY}-0", cseq=1, from_stranger=True, max_per_peer=3, max_total=5
    )
    assert not new and again.text == "spam 0"
    request("sip:a@evil.example", 0)
    request("sip:b@evil.example", 0)
    with pytest.raises(RequestsFull) as refused:
        request("sip:c@evil.example", 0)
    assert refused.value.scope == "total"
    # Contacts' messages are not requests and never capped.
    for n in range(10):
        assert store.messages.add_incoming(ME, BOB, f"ok {n}", call_id=f"b{n}", cseq=1, max_total=5)[1]
    assert store.messages.request_count() == 5
    # Room again once the user deals with the requests.
    store.messages.decline(ME, MALLORY)
    request("sip:c@evil.example", 0)


def test_watcher_details_flag(store: Store) -> None:
    store.watchers.set(ME, BOB, Authorization.ALLOW, details=True)
    record = store.watchers.get(ME, BOB)
    assert record is not None and record.details
    store.watchers.set(ME, BOB, Authorization.ALLOW)  # details kept when not named
    assert store.watchers.get(ME, BOB).details  # type: ignore[union-attr]
    store.watchers.set(ME, BOB, Authorization.ALLOW, details=False)
    assert not store.watchers.get(ME, BOB).details  # type: ignore[union-attr]
    store.watchers.set(ME, BOB, Authorization.ALLOW, details=True)
    blocked = store.watchers.set(ME, BOB, Authorization.BLOCK)
    assert blocked.decision is Authorization.BLOCK and not blocked.details
    store.watchers.add_pending(ME, "sip:x@example.com")
    store.watchers.add_pending(ME, "sip:y@example.com")
    assert store.watchers.pending_count(ME) == 2 and store.watchers.pending_count("sip:o@example.com") == 0


def test_exact_contact_uri(store: Store) -> None:
    from softphone.store.contacts import Contact

    store.contacts.add(Contact("Bob", uris=["sip:Bob@Example.COM;transport=tcp"], phones=["+44 20 7946 0000"]))
    assert store.contacts.has_uri("sip:Bob@example.com")
    assert not store.contacts.has_uri("sip:bob@example.com")  # the user part is case-sensitive
    assert not store.contacts.has_uri("sip:+442079460000@elsewhere.example")
    assert store.contacts.find_by_uri("sip:+442079460000@elsewhere.example") is not None

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from softphone.store import Direction, MessageState, Store, StoreError, incoming_dedupe_key

ME = "sip:me@example.com"
BOB = "sip:bob@example.com"
CAROL = "sip:carol@example.org"


def test_add_incoming_is_new_once(store: Store) -> None:
    message, new = store.messages.add_incoming(
        ME, '"Bob" <sip:bob@EXAMPLE.com;transport=tcp>', "hi", call_id="c1", cseq=1
    )
    assert new
    assert message.peer == BOB
    assert message.direction is Direction.IN
    assert message.state is MessageState.RECEIVED
    assert not message.read
    again, new_again = store.messages.add_incoming(ME, BOB, "hi", call_id="c1", cseq=1)
    assert not new_again
    assert again.id == message.id
    _, other = store.messages.add_incoming(ME, BOB, "hi", call_id="c1", cseq=2)
    assert other
    assert len(store.messages.page(ME, BOB)) == 2


def test_same_request_to_two_accounts_is_two_messages(store: Store) -> None:
    assert store.messages.add_incoming(ME, BOB, "x", call_id="c", cseq=1)[1]
    assert store.messages.add_incoming("sip:other@example.com", BOB, "x", call_id="c", cseq=1)[1]


def test_dedupe_key_is_unique_in_the_schema(store: Store) -> None:
    key = incoming_dedupe_key(BOB, "c", 7)
    store.messages.add_incoming(ME, BOB, "x", call_id="c", cseq=7)
    with pytest.raises(sqlite3.IntegrityError):
        store.db.connection.execute(
            "INSERT INTO messages (account, peer, direction, body, content_type, time, state, dedupe_key)"
            " VALUES (?, ?, 'in', 'y', 'text/plain', 0, 'received', ?)",
            (ME, BOB, key),
        )


def test_writes_are_committed_before_returning(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    with Store(path) as store:
        message, _ = store.messages.add_incoming(ME, BOB, "durable", call_id="c", cseq=1)
        out = store.messages.add_outgoing(ME, BOB, "queued")
        assert not store.db.connection.in_transaction
        other = sqlite3.connect(path)
        try:
            rows = other.execute("SELECT id, state FROM messages ORDER BY id").fetchall()
        finally:
            other.close()
        assert rows == [(message.id, "received"), (out.id, "queued")]


def test_outgoing_states_and_queue(store: Store) -> None:
    first = store.messages.add_outgoing(ME, BOB, "one", time=10.0)
    second = store.messages.add_outgoing(ME, CAROL, "two", time=11.0)
    sending = store.messages.add_outgoing(ME, BOB, "three", state=MessageState.SENDING)
    assert [m.id for m in store.messages.queued(ME)] == [first.id, second.id]
    store.messages.set_state(first.id, MessageState.SENDING)
    store.messages.set_state(first.id, "sent")
    store.messages.set_state(sending.id, MessageState.FAILED, reason="404 Not Found")
    assert [m.id for m in store.messages.queued(ME)] == [second.id]
    failed = store.messages.get(sending.id)
    assert failed is not None and failed.state is MessageState.FAILED and failed.reason == "404 Not Found"
    sent = store.messages.get(first.id)
    assert sent is not None and sent.state is MessageState.SENT and sent.read


def test_requeue_interrupted(store: Store) -> None:
    first = store.messages.add_outgoing(ME, BOB, "one", state=MessageState.SENDING)
    store.messages.add_outgoing("sip:other@example.com", BOB, "two", state=MessageState.SENDING)
    done = store.messages.add_outgoing(ME, BOB, "three", state=MessageState.SENDING)
    store.messages.set_state(done.id, MessageState.SENT)
    assert store.messages.requeue_interrupted(ME) == 1
    assert [m.id for m in store.messages.queued(ME)] == [first.id]
    assert store.messages.requeue_interrupted() == 1
    assert store.messages.requeue_interrupted() == 0


def test_set_state_refuses_nonsense(store: Store) -> None:
    incoming, _ = store.messages.add_incoming(ME, BOB, "x", call_id="c", cseq=1)
    with pytest.raises(StoreError):
        store.messages.set_state(incoming.id, MessageState.SENT)
    with pytest.raises(StoreError):
        store.messages.set_state(9999, MessageState.SENT)
    out = store.messages.add_outgoing(ME, BOB, "y")
    with pytest.raises(StoreError):
        store.messages.set_state(out.id, MessageState.RECEIVED)
    with pytest.raises(StoreError):
        store.messages.add_outgoing(ME, BOB, "z", state=MessageState.SENT)


def test_page_walks_back_in_chronological_pages(store: Store) -> None:
    ids = []
    for i in range(23):
        if i % 2:
            ids.append(store.messages.add_outgoing(ME, BOB, f"m{i}").id)
        else:
            ids.append(store.messages.add_incoming(ME, BOB, f"m{i}", call_id=f"c{i}", cseq=1)[0].id)
        store.messages.add_outgoing(ME, CAROL, f"noise{i}")
    seen: list[int] = []
    before = None
    while True:
        page = store.messages.page(ME, "Bob <sip:bob@example.com>", before_id=before, limit=5)
        if not page:
            break
        assert [m.id for m in page] == sorted(m.id for m in page)
        seen = [m.id for m in page] + seen
        before = page[0].id
    assert seen == ids
    assert [m.text for m in store.messages.page(ME, BOB, limit=3)] == ["m20", "m21", "m22"]


def test_unread_counts_and_mark_read(store: Store) -> None:
    for i in range(3):
        store.messages.add_incoming(ME, BOB, f"b{i}", call_id=f"b{i}", cseq=1)
    last_carol = None
    for i in range(2):
        last_carol, _ = store.messages.add_incoming(ME, CAROL, f"c{i}", call_id=f"c{i}", cseq=1)
    store.messages.add_outgoing(ME, BOB, "reply")
    assert store.messages.unread_counts(ME) == {BOB: 3, CAROL: 2}
    assert store.messages.mark_read(ME, BOB) == 3
    assert store.messages.unread_counts(ME) == {CAROL: 2}
    assert last_carol is not None
    store.messages.add_incoming(ME, CAROL, "c-late", call_id="late", cseq=1)
    assert store.messages.mark_read(ME, CAROL, up_to_id=last_carol.id) == 2
    assert store.messages.unread_counts(ME) == {CAROL: 1}
    assert store.messages.unread_counts("sip:nobody@example.com") == {}


def test_conversations_newest_first(store: Store) -> None:
    store.messages.add_incoming(ME, BOB, "old", call_id="1", cseq=1, time=100.0)
    store.messages.add_incoming(ME, CAROL, "carol", call_id="2", cseq=1, time=200.0)
    store.messages.add_outgoing(ME, BOB, "newest", time=300.0)
    store.messages.add_outgoing("sip:other@example.com", BOB, "elsewhere", time=400.0)
    conversations = store.messages.conversations(ME)
    assert [(c.peer, c.last.text, c.time, c.unread) for c in conversations] == [
        (BOB, "newest", 300.0, 1),
        (CAROL, "carol", 200.0, 1),
    ]


TEXTS = [
    "Grüße aus München",
    "GRÜSSE zurück",
    "Party tonight 🎉🎉🎉 bring 🍕",
    "Ελληνικά κείμενα",
    "plain ascii HELLO world",
    "日本語のメッセージです",
    'quotes "inside" here',
]


def _fill(store: Store) -> dict[str, int]:
    ids = {}
    for i, text in enumerate(TEXTS):
        ids[text] = store.messages.add_incoming(ME, BOB, text, call_id=f"s{i}", cseq=1)[0].id
    ids["other"] = store.messages.add_outgoing("sip:x@example.com", BOB, "hello from another account").id
    return ids


@pytest.mark.parametrize("use_fts", [True, False], ids=["fts5", "scan"])
def test_search_is_case_insensitive_unicode(tmp_path: Path, use_fts: bool) -> None:
    with Store(tmp_path / "s.db", use_fts=use_fts) as store:
        assert store.db.fts is use_fts
        ids = _fill(store)

        def found(query: str, account: str | None = None) -> set[int]:
            return {m.id for m in store.messages.search(query, account=account)}

        assert found("grüße") == {ids["Grüße aus München"], ids["GRÜSSE zurück"]}
        assert found("GRÜSSE") == {ids["Grüße aus München"], ids["GRÜSSE zurück"]}
        assert found("münchen") == {ids["Grüße aus München"]}
        assert found("🎉") == {ids["Party tonight 🎉🎉🎉 bring 🍕"]}
        assert found("🎉🎉🎉") == {ids["Party tonight 🎉🎉🎉 bring 🍕"]}
        assert found("ελληνικά") == {ids["Ελληνικά κείμενα"]}
        assert found("メッセージ") == {ids["日本語のメッセージです"]}
        assert found("hello") == {ids["plain ascii HELLO world"], ids["other"]}
        assert found("hello", account=ME) == {ids["plain ascii HELLO world"]}
        assert found('"inside"') == {ids['quotes "inside" here']}
        assert found("o w") == {ids["plain ascii HELLO world"]}
        assert found("nothing like this") == set()
        assert found("   ") == set()
        results = store.messages.search("e")
        assert [m.id for m in results] == sorted((m.id for m in results), reverse=True)


def test_fts_index_built_for_messages_stored_without_it(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    with Store(path, use_fts=False) as store:
        store.messages.add_incoming(ME, BOB, "before the index existed", call_id="a", cseq=1)
    with Store(path) as store:
        assert store.db.fts
        assert [m.text for m in store.messages.search("index existed")] == ["before the index existed"]
        store.optimize()
        assert [m.text for m in store.messages.search("INDEX EXISTED")] == ["before the index existed"]
        assert store.messages.delete_conversation(ME, BOB) == 1
        assert store.messages.search("index existed") == []
        assert store.integrity_check() == ["ok"]


def test_last_page_of_100k_conversation_is_fast(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    with Store(path, use_fts=False) as store:
        with store.db.transaction() as con:
            con.execute(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)"
                " INSERT INTO messages (account, peer, direction, body, content_type, time, state, read, dedupe_key)"
                " SELECT ?, ?, 'in', 'message ' || i || ' ✓', 'text/plain', 1e9 + i, 'received', 1, 'k' || i FROM n",
                (ME, BOB),
            )
    with Store(path, use_fts=False) as store:
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            page = store.messages.page(ME, BOB, limit=50)
            timings.append(time.perf_counter() - start)
        assert [m.text for m in page][-1] == "message 99999 ✓"
        assert len(page) == 50
        oldest = store.messages.page(ME, BOB, before_id=page[0].id - 99_900, limit=50)
        assert oldest[0].text == "message 0 ✓"
        assert max(timings) < 0.2, timings
        plan = " ".join(
            str(row[3])
            for row in store.db.connection.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM messages WHERE account = ? AND peer = ? AND id < ?"
                " ORDER BY id DESC LIMIT 50",
                (ME, BOB, 10),
            )
        )
        assert "messages_conversation" in plan and "TEMP B-TREE" not in plan

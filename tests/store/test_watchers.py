from __future__ import annotations

from softphone.store import Authorization, Store

ME = "sip:me@example.com"


def test_decisions_per_account_and_normalised_watcher(store: Store) -> None:
    assert store.watchers.decision(ME, "sip:bob@example.com") is None
    store.watchers.set(ME, '"Bob" <sip:bob@EXAMPLE.com;transport=tcp>', Authorization.ALLOW, time=10.0)
    assert store.watchers.decision(ME, "sip:bob@example.com") is Authorization.ALLOW
    assert store.watchers.decision("sip:other@example.com", "sip:bob@example.com") is None
    store.watchers.set(ME, "sip:bob@example.com", "block", time=20.0)
    record = store.watchers.get(ME, "sip:bob@example.com")
    assert record is not None and record.decision is Authorization.BLOCK and record.time == 20.0


def test_pending_oldest_first_and_add_pending_keeps_decisions(store: Store) -> None:
    store.watchers.add_pending(ME, "sip:zoë@example.com", time=30.0)
    store.watchers.add_pending(ME, "sip:carol@example.com", time=10.0)
    store.watchers.set(ME, "sip:dave@example.com", Authorization.BLOCK, time=5.0)
    assert store.watchers.add_pending(ME, "sip:dave@example.com").decision is Authorization.BLOCK
    assert [w.watcher for w in store.watchers.pending(ME)] == ["sip:carol@example.com", "sip:zoë@example.com"]
    store.watchers.set(ME, "sip:carol@example.com", Authorization.ALLOW)
    assert [w.watcher for w in store.watchers.pending(ME)] == ["sip:zoë@example.com"]
    assert [w.watcher for w in store.watchers.list(ME)] == [
        "sip:carol@example.com",
        "sip:dave@example.com",
        "sip:zoë@example.com",
    ]
    assert store.watchers.remove(ME, "sip:dave@example.com")
    assert store.watchers.decision(ME, "sip:dave@example.com") is None

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from softphone.store import CallOutcome, CallRecord, Direction, QualitySummary, Store

ME = "sip:me@example.com"


def _call(peer: str, started: float, outcome: CallOutcome = CallOutcome.ANSWERED, **kwargs: object) -> CallRecord:
    direction = kwargs.pop("direction", Direction.IN)
    return CallRecord(account=ME, direction=direction, peer=peer, started=started, outcome=outcome, **kwargs)  # type: ignore[arg-type]


def test_add_and_list_newest_first_with_paging(store: Store) -> None:
    ids = [store.history.add_call(_call(f"sip:user{i}@example.com", 1000.0 + i)) for i in range(7)]
    assert [r.id for r in store.history.list(limit=3)] == ids[::-1][:3]
    assert [r.id for r in store.history.list(limit=3, before_id=ids[4])] == [ids[3], ids[2], ids[1]]
    store.history.add_call(CallRecord("sip:other@example.com", Direction.OUT, "sip:x@example.com", 5.0, "failed"))  # type: ignore[arg-type]
    assert len(store.history.list(limit=100, account=ME)) == 7
    assert len(store.history.list(limit=100)) == 8


def test_record_round_trips_with_quality(store: Store) -> None:
    summary = QualitySummary()
    for second in range(5):
        summary.add(
            {
                "packets_sent": 50 * second,
                "packets_received": 49 * second,
                "loss_percent": 2.0 * second,
                "jitter_ms": 10.0,
                "rtt_ms": None if second == 0 else 40.0,
                "jitter_buffer_ms": 60.0,
                "concealed_ms": 20.0 * second,
                "mos": 4.4 - 0.1 * second,
            }
        )
    record = _call(
        '"Zoë 🎉" <sip:Zoe@Example.com;transport=tls>',
        1000.0,
        peer_name="Zoë 🎉",
        answered=1002.5,
        ended=1062.5,
        sip_code=200,
        reason="OK",
        call_id="abc@host",
        quality=summary.summary(),
    )
    call_id = store.history.add_call(record)
    stored = store.history.get(call_id)
    assert stored is not None
    assert stored.peer == "sip:Zoe@example.com"
    assert stored.peer_name == "Zoë 🎉"
    assert stored.duration == 60.0
    assert stored.outcome is CallOutcome.ANSWERED
    assert stored.quality is not None
    assert stored.quality["samples"] == 5
    assert stored.quality["last"]["packets_sent"] == 200
    assert stored.quality["min_mos"] == pytest.approx(4.0)
    assert stored.quality["average"]["loss_percent"] == pytest.approx(4.0)
    assert stored.quality["average"]["rtt_ms"] == pytest.approx(40.0)
    assert "packets_sent" not in stored.quality["average"]
    assert "concealed_ms" not in stored.quality["average"]


def test_quality_summary_takes_dataclasses_and_skips_junk() -> None:
    @dataclass
    class Snapshot:
        mos: float
        loss_percent: float
        label: str
        ok: bool

    summary = QualitySummary()
    assert summary.summary() is None
    summary.add(Snapshot(3.9, 1.0, "a", True))
    summary.add({"mos": float("nan"), "loss_percent": 3.0, "label": "b", "ok": False})
    result = summary.summary()
    assert result is not None
    assert result["min_mos"] == 3.9
    assert result["average"] == {"loss_percent": 2.0, "mos": 3.9}
    assert result["last"]["label"] == "b"
    json.dumps(result)
    with pytest.raises(TypeError):
        summary.add(42)


def test_missed_count(store: Store) -> None:
    store.history.add_call(_call("sip:a@example.com", 100.0, CallOutcome.MISSED))
    store.history.add_call(_call("sip:b@example.com", 200.0, CallOutcome.MISSED))
    store.history.add_call(_call("sip:c@example.com", 300.0, CallOutcome.DECLINED, sip_code=603))
    store.history.add_call(_call("sip:d@example.com", 400.0, CallOutcome.MISSED, direction=Direction.OUT))
    assert store.history.missed_count() == 2
    assert store.history.missed_count(since=150.0) == 1
    assert store.history.missed_count(since=1000.0) == 0


def test_search_and_recent_peers(store: Store) -> None:
    store.history.add_call(_call("sip:alice@example.com", 100.0, peer_name="Alice Ärger"))
    store.history.add_call(_call("sip:bob@example.com", 200.0, peer_name="Bob"))
    store.history.add_call(_call("sip:alex@example.org", 300.0, CallOutcome.BUSY, sip_code=486, reason="Busy Here"))
    store.history.add_call(_call("sip:alice@example.com", 400.0))
    store.history.add_call(_call("tel:+442079460000", 500.0, peer_name="Grüße GmbH"))
    assert {r.peer for r in store.history.search("ärger")} == {"sip:alice@example.com"}
    assert {r.peer for r in store.history.search("ÄRGER")} == {"sip:alice@example.com"}
    assert {r.peer for r in store.history.search("EXAMPLE.ORG")} == {"sip:alex@example.org"}
    assert [r.peer_name for r in store.history.search("grüsse")] == ["Grüße GmbH"]
    assert store.history.search("") == []
    recent = store.history.recent_peers("al", limit=10)
    assert [(p.uri, p.display_name, p.last_call) for p in recent] == [
        ("sip:alice@example.com", "Alice Ärger", 400.0),
        ("sip:alex@example.org", None, 300.0),
    ]
    assert [p.uri for p in store.history.recent_peers("ärg")] == ["sip:alice@example.com"]
    assert [p.uri for p in store.history.recent_peers("sip:b")] == ["sip:bob@example.com"]
    assert [p.uri for p in store.history.recent_peers("+4420")] == ["tel:+442079460000"]
    assert len(store.history.recent_peers("", limit=2)) == 2


def test_clear_and_remove(store: Store) -> None:
    first = store.history.add_call(_call("sip:a@example.com", 1.0))
    store.history.add_call(_call("sip:b@example.com", 2.0))
    assert store.history.remove(first)
    assert not store.history.remove(first)
    assert store.history.clear() == 1
    assert store.history.list() == []


def test_outcome_must_be_known(store: Store) -> None:
    with pytest.raises(ValueError):
        store.history.add_call(_call("sip:a@example.com", 1.0, "exploded"))  # type: ignore[arg-type]

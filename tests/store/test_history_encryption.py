"""Schema version 4: the call history keeps whether a call's media was encrypted, and how."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from softphone.store import CallOutcome, CallRecord, Store
from softphone.store import db as db_module
from softphone.store.messages import Direction

ME = "sip:me@example.com"


def record(**options: object) -> CallRecord:
    return CallRecord(ME, Direction.OUT, "sip:bob@example.com", 1.0, CallOutcome.ANSWERED, **options)  # type: ignore[arg-type]


def test_encryption_is_kept_with_the_call(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store:
        secure = store.history.add_call(
            record(encrypted=True, encryption="SRTP AES-GCM-256, keys by DTLS, fingerprint verified")
        )
        plain = store.history.add_call(record(encrypted=False, encryption="Not encrypted: the peer offered none"))
        unknown = store.history.add_call(record())
        got = {r.id: r for r in store.history.list()}
    assert got[secure].encrypted is True and got[secure].encryption is not None
    assert "AES-GCM-256" in got[secure].encryption
    assert got[plain].encrypted is False
    assert got[unknown].encrypted is None and got[unknown].encryption is None


def test_a_version_2_history_migrates_with_calls_unknown(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    con = sqlite3.connect(path)
    for step in db_module.MIGRATIONS[:2]:
        for statement in step:
            con.execute(statement)
    con.execute(
        "INSERT INTO calls (account, direction, peer, started, outcome) VALUES (?, 'out', 'sip:b@x', 1.0, 'answered')",
        (ME,),
    )
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()
    with Store(path) as store:
        assert store.schema_version == 4
        (old,) = store.history.list()
        assert old.encrypted is None and old.encryption is None

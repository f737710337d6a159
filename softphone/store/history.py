"""Call history: one record per call, with its outcome and the quality summary kept at hang-up.

Times are UTC epoch seconds. ``outcome`` says how the call ended for the
user (answered, missed, declined …) and ``sip_code``/``reason`` carry the
final response or the Reason header (RFC 3326) behind it. ``quality`` is the
JSON-able dict a :class:`QualitySummary` produces from the media engine's
once-a-second snapshots.
"""

from __future__ import annotations

import builtins
import json
import math
import sqlite3
from collections.abc import Mapping
from dataclasses import asdict, dataclass, is_dataclass
from enum import StrEnum
from typing import Any

from softphone.store.db import Database, casefold
from softphone.store.messages import Direction
from softphone.store.uris import normalise_uri, uri_user

__all__ = ["CallHistory", "CallOutcome", "CallRecord", "QualitySummary", "RecentPeer"]


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    MISSED = "missed"
    DECLINED = "declined"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FORWARDED = "forwarded"
    # RFC 3326 Reason "Call completed elsewhere": answered on another device of the same AOR.
    ANSWERED_ELSEWHERE = "answered-elsewhere"


@dataclass(frozen=True, slots=True)
class CallRecord:
    account: str
    direction: Direction
    peer: str
    started: float
    outcome: CallOutcome
    peer_name: str | None = None
    answered: float | None = None
    ended: float | None = None
    sip_code: int | None = None
    reason: str | None = None
    call_id: str | None = None
    quality: dict[str, Any] | None = None
    id: int | None = None
    # Whether the media was encrypted (None: not known), and how ("SRTP AES-GCM-256, keys by DTLS ...").
    encrypted: bool | None = None
    encryption: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from answer to hang-up; None for a call that was never answered or has not ended."""
        if self.answered is None or self.ended is None:
            return None
        return max(0.0, self.ended - self.answered)


@dataclass(frozen=True, slots=True)
class RecentPeer:
    uri: str
    display_name: str | None
    last_call: float


# Counters that only grow over a call: their last value is the total, their average means nothing.
CUMULATIVE_KEYS = frozenset({"packets_sent", "packets_received", "concealed_ms", "packets_lost"})


class QualitySummary:
    """Accumulates per-second quality snapshots into the summary stored with the call.

    ``add()`` takes a snapshot as a dict (or a dataclass such as the media engine's
    ``QualitySnapshot``). ``summary()`` gives ``{"samples", "last", "average", "min_mos"}``:
    the last snapshot as it was, the mean of every numeric figure that is not a running
    counter (None values left out), and the lowest MOS seen. Memory does not grow with the call.
    """

    def __init__(self, cumulative: frozenset[str] = CUMULATIVE_KEYS) -> None:
        self._cumulative = cumulative
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._last: dict[str, Any] | None = None
        self._min_mos: float | None = None
        self.samples = 0

    def add(self, snapshot: Mapping[str, Any] | Any) -> None:
        if is_dataclass(snapshot) and not isinstance(snapshot, type):
            data: dict[str, Any] = asdict(snapshot)
        elif isinstance(snapshot, Mapping):
            data = dict(snapshot)
        else:
            raise TypeError(f"a quality snapshot is a mapping or a dataclass, not {type(snapshot).__name__}")
        self.samples += 1
        self._last = data
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                continue
            if key == "mos" and (self._min_mos is None or value < self._min_mos):
                self._min_mos = float(value)
            if key in self._cumulative:
                continue
            self._sums[key] = self._sums.get(key, 0.0) + value
            self._counts[key] = self._counts.get(key, 0) + 1

    def summary(self) -> dict[str, Any] | None:
        """The summary, or None when no snapshot came (a call that never had media)."""
        if self._last is None:
            return None
        return {
            "samples": self.samples,
            "last": dict(self._last),
            "average": {key: round(self._sums[key] / self._counts[key], 3) for key in sorted(self._sums)},
            "min_mos": self._min_mos,
        }


def _record(row: sqlite3.Row) -> CallRecord:
    return CallRecord(
        id=row["id"],
        account=row["account"],
        direction=Direction(row["direction"]),
        peer=row["peer"],
        peer_name=row["peer_name"],
        started=row["started"],
        answered=row["answered"],
        ended=row["ended"],
        outcome=CallOutcome(row["outcome"]),
        sip_code=row["sip_code"],
        reason=row["reason"],
        call_id=row["call_id"],
        quality=None if row["quality"] is None else json.loads(row["quality"]),
        encrypted=None if row["encrypted"] is None else bool(row["encrypted"]),
        encryption=row["encryption"],
    )


def _peer_matches(prefix: str, peer: object, name: object) -> int:
    if not isinstance(peer, str):
        return 0
    candidates = [peer, peer.partition(":")[2], uri_user(peer)]
    if isinstance(name, str):
        folded = casefold(name)
        candidates.append(folded)
        candidates.extend(folded.split())
    return int(any(casefold(text).startswith(prefix) for text in candidates))


class CallHistory:
    """Call records over a :class:`~softphone.store.db.Database`; reached as ``Store.history``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.connection.create_function("sp_peer_matches", 3, _peer_matches, deterministic=True)

    def add_call(self, record: CallRecord) -> int:
        """Store a finished call, durably; returns its id (the record's own ``id`` is ignored)."""
        outcome = CallOutcome(record.outcome)
        quality = None if record.quality is None else json.dumps(record.quality, ensure_ascii=False, allow_nan=False)
        with self._db.transaction() as con:
            cursor = con.execute(
                "INSERT INTO calls (account, direction, peer, peer_name, started, answered, ended, outcome,"
                " sip_code, reason, call_id, quality, encrypted, encryption)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    normalise_uri(record.account),
                    Direction(record.direction).value,
                    normalise_uri(record.peer),
                    record.peer_name,
                    record.started,
                    record.answered,
                    record.ended,
                    outcome.value,
                    record.sip_code,
                    record.reason,
                    record.call_id,
                    quality,
                    None if record.encrypted is None else int(record.encrypted),
                    record.encryption,
                ),
            )
        call_id = cursor.lastrowid
        assert call_id is not None
        return call_id

    def get(self, call_id: int) -> CallRecord | None:
        row = self._db.query_one("SELECT * FROM calls WHERE id = ?", (call_id,))
        return None if row is None else _record(row)

    def list(
        self, limit: int = 50, before_id: int | None = None, account: str | None = None
    ) -> builtins.list[CallRecord]:
        """Calls newest first (by id), ``limit`` at a time; page on with the last id returned."""
        clauses: builtins.list[str] = []
        params: builtins.list[object] = []
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        if account is not None:
            clauses.append("account = ?")
            params.append(normalise_uri(account))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.query(f"SELECT * FROM calls{where} ORDER BY id DESC LIMIT ?", (*params, max(limit, 0)))
        return [_record(row) for row in rows]

    def missed_count(self, since: float | None = None, account: str | None = None) -> int:
        """Incoming calls missed since ``since`` (epoch seconds; all of them when None)."""
        sql = "SELECT count(*) FROM calls WHERE outcome = 'missed' AND direction = 'in'"
        params: list[object] = []
        if since is not None:
            sql += " AND started >= ?"
            params.append(since)
        if account is not None:
            sql += " AND account = ?"
            params.append(normalise_uri(account))
        row = self._db.query_one(sql, params)
        return int(row[0]) if row is not None else 0

    def search(self, text: str, limit: int = 200) -> builtins.list[CallRecord]:
        """Calls whose peer URI or display name contains ``text`` (case-insensitive), newest first."""
        needle = casefold(text.strip())
        if not needle:
            return []
        rows = self._db.query(
            "SELECT * FROM calls WHERE sp_contains(peer, ?) OR sp_contains(peer_name, ?) ORDER BY id DESC LIMIT ?",
            (needle, needle, limit),
        )
        return [_record(row) for row in rows]

    def recent_peers(self, prefix: str = "", limit: int = 10) -> builtins.list[RecentPeer]:
        """Distinct peers called or calling, most recent first, whose URI, user part or name starts with ``prefix``."""
        rows = self._db.query(
            "SELECT peer, max(started) AS last_call,"
            " (SELECT peer_name FROM calls c2 WHERE c2.peer = calls.peer AND c2.peer_name IS NOT NULL"
            "  ORDER BY c2.started DESC LIMIT 1) AS peer_name"
            " FROM calls WHERE sp_peer_matches(?, peer, peer_name) GROUP BY peer ORDER BY last_call DESC LIMIT ?",
            (casefold(prefix.strip()), max(limit, 0)),
        )
        return [RecentPeer(row["peer"], row["peer_name"], row["last_call"]) for row in rows]

    def remove(self, call_id: int) -> bool:
        with self._db.transaction() as con:
            return con.execute("DELETE FROM calls WHERE id = ?", (call_id,)).rowcount == 1

    def clear(self) -> int:
        """Forget every call; returns how many were removed."""
        with self._db.transaction() as con:
            return con.execute("DELETE FROM calls").rowcount

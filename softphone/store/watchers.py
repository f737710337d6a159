"""Presence watcher authorisation: who may see an account's presence (RFC 3856 6.6, RFC 3857 watcher-info).

When someone SUBSCRIBEs to our presence, the UA looks up :meth:`Watchers.decision`:
``allow`` → the subscription becomes active, ``block`` → it is rejected (or
politely kept pending), no decision → it is recorded as ``pending`` and the user
asked. Decisions are per ``(account, watcher)`` with both URIs normalised. The
same decision covers the dialog event package (RFC 4235); ``details`` says
whether an allowed watcher may also see our calls' identifiers (Call-ID, tags,
the remote party).
"""

from __future__ import annotations

import builtins
import sqlite3
import time as _time
from dataclasses import dataclass
from enum import StrEnum

from softphone.store.db import Database
from softphone.store.uris import normalise_uri

__all__ = ["Authorization", "WatcherDecision", "Watchers"]


class Authorization(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class WatcherDecision:
    account: str
    watcher: str
    decision: Authorization
    time: float
    details: bool = False


def _decision(row: sqlite3.Row) -> WatcherDecision:
    return WatcherDecision(
        row["account"], row["watcher"], Authorization(row["decision"]), row["time"], bool(row["details"])
    )


class Watchers:
    """Watcher decisions over a :class:`~softphone.store.db.Database`; reached as ``Store.watchers``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def decision(self, account: str, uri: str) -> Authorization | None:
        row = self._db.query_one(
            "SELECT decision FROM watchers WHERE account = ? AND watcher = ?",
            (normalise_uri(account), normalise_uri(uri)),
        )
        return None if row is None else Authorization(row[0])

    def get(self, account: str, uri: str) -> WatcherDecision | None:
        row = self._db.query_one(
            "SELECT * FROM watchers WHERE account = ? AND watcher = ?", (normalise_uri(account), normalise_uri(uri))
        )
        return None if row is None else _decision(row)

    def set(
        self,
        account: str,
        uri: str,
        decision: Authorization | str,
        time: float | None = None,
        *,
        details: bool | None = None,
    ) -> WatcherDecision:
        """Record (or replace) the decision for a watcher, durably; ``details`` None keeps the
        watcher's details flag (a block always clears it)."""
        decision = Authorization(decision)
        account, uri = normalise_uri(account), normalise_uri(uri)
        when = _time.time() if time is None else time
        with self._db.transaction() as con:
            con.execute(
                "INSERT INTO watchers (account, watcher, decision, time, details) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (account, watcher) DO UPDATE SET decision = excluded.decision, time = excluded.time,"
                " details = CASE WHEN ? IS NULL THEN watchers.details ELSE excluded.details END",
                (account, uri, decision.value, when, int(bool(details)), details),
            )
            if decision != Authorization.ALLOW:
                con.execute("UPDATE watchers SET details = 0 WHERE account = ? AND watcher = ?", (account, uri))
            row = con.execute("SELECT * FROM watchers WHERE account = ? AND watcher = ?", (account, uri)).fetchone()
        return _decision(row)

    def add_pending(self, account: str, uri: str, time: float | None = None) -> WatcherDecision:
        """Record a new watcher as ``pending`` unless a decision exists; returns the decision in force."""
        account, uri = normalise_uri(account), normalise_uri(uri)
        with self._db.transaction() as con:
            con.execute(
                "INSERT INTO watchers (account, watcher, decision, time) VALUES (?, ?, 'pending', ?)"
                " ON CONFLICT (account, watcher) DO NOTHING",
                (account, uri, _time.time() if time is None else time),
            )
            row = con.execute("SELECT * FROM watchers WHERE account = ? AND watcher = ?", (account, uri)).fetchone()
        return _decision(row)

    def pending(self, account: str) -> builtins.list[WatcherDecision]:
        """Watchers waiting for the user's answer, oldest first."""
        rows = self._db.query(
            "SELECT * FROM watchers WHERE account = ? AND decision = 'pending' ORDER BY time, watcher",
            (normalise_uri(account),),
        )
        return [_decision(row) for row in rows]

    def pending_count(self, account: str) -> int:
        row = self._db.query_one(
            "SELECT count(*) FROM watchers WHERE account = ? AND decision = 'pending'", (normalise_uri(account),)
        )
        return 0 if row is None else int(row[0])

    def list(self, account: str) -> builtins.list[WatcherDecision]:
        rows = self._db.query("SELECT * FROM watchers WHERE account = ? ORDER BY watcher", (normalise_uri(account),))
        return [_decision(row) for row in rows]

    def remove(self, account: str, uri: str) -> bool:
        with self._db.transaction() as con:
            return (
                con.execute(
                    "DELETE FROM watchers WHERE account = ? AND watcher = ?",
                    (normalise_uri(account), normalise_uri(uri)),
                ).rowcount
                == 1
            )

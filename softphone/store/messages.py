"""Instant-message history (RFC 3428 MESSAGE): conversations per account and peer, delivery state, search.

Every write commits durably before the method returns: the UA answers an
incoming MESSAGE with 200 only after :meth:`MessageStore.add_incoming` has
returned, and a message typed while unregistered is on disk (``queued``)
before the UI shows it as written. Incoming messages carry a dedupe key
(sender, Call-ID and CSeq: a retransmission or a re-sent request repeats
them, RFC 3261 17.2.1 and 8.1.1.5); the key is UNIQUE per account, so storing
one network message twice is impossible.

Conversations are keyed by ``(account, peer)`` with both sides in
:func:`~softphone.store.uris.normalise_uri` form. Ids grow with insertion, so
pages are cut by id on the ``(account, peer, id)`` index.

**Message requests.** A message whose sender the UA could not verify as a
contact is stored with ``from_stranger`` set (what chat apps call a message
request). Readers choose with ``requests=``: ``False`` leaves such messages
out (a forged sender never shows in a contact's conversation), ``True`` gives
only them, ``None`` everything. They stay requests until
:meth:`MessageStore.accept` (which also remembers the sender as accepted) or
until we write to that peer; :meth:`MessageStore.decline` deletes them. So that
strangers cannot fill the disk, :meth:`MessageStore.add_incoming` refuses a
request beyond ``max_per_peer`` kept from one sender or ``max_total`` kept in
all (:class:`RequestsFull`), in the same transaction that would store it.
"""

from __future__ import annotations

import sqlite3
import time as _time
from dataclasses import dataclass
from enum import StrEnum

from softphone.store.db import Database, StoreError, casefold
from softphone.store.uris import normalise_uri

__all__ = [
    "Conversation",
    "Direction",
    "Message",
    "MessageState",
    "MessageStore",
    "RequestsFull",
    "incoming_dedupe_key",
]

DEFAULT_CONTENT_TYPE = "text/plain;charset=UTF-8"
FTS_MIN_QUERY = 3


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class MessageState(StrEnum):
    """Outgoing: ``queued`` → ``sending`` → ``sent`` | ``failed``; incoming: ``received``."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    RECEIVED = "received"


_OUTGOING_STATES = frozenset({MessageState.QUEUED, MessageState.SENDING, MessageState.SENT, MessageState.FAILED})


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    account: str
    peer: str
    direction: Direction
    text: str
    content_type: str
    time: float
    state: MessageState
    reason: str | None = None
    read: bool = False
    from_stranger: bool = False
    """A message request: the sender was not verified as a contact (see the module documentation)."""


class RequestsFull(StoreError):
    """A message request refused: the sender (``scope`` ``"sender"``) or all strangers together
    (``"total"``) have as many requests kept as allowed."""

    def __init__(self, scope: str, kept: int) -> None:
        super().__init__(f"{kept} message requests kept {'from this sender' if scope == 'sender' else 'in all'}")
        self.scope = scope
        self.kept = kept


@dataclass(frozen=True, slots=True)
class Conversation:
    peer: str
    last: Message
    time: float
    unread: int


def incoming_dedupe_key(sender: str, call_id: str, cseq: int | str) -> str:
    """The identity of one incoming MESSAGE request: From URI, Call-ID and CSeq number."""
    return f"{normalise_uri(sender)}\n{call_id.strip()}\n{str(cseq).strip()}"


_COLUMNS = "id, account, peer, direction, body, content_type, time, state, reason, read, from_stranger"


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        account=row["account"],
        peer=row["peer"],
        direction=Direction(row["direction"]),
        text=row["body"],
        content_type=row["content_type"],
        time=row["time"],
        state=MessageState(row["state"]),
        reason=row["reason"],
        read=bool(row["read"]),
        from_stranger=bool(row["from_stranger"]),
    )


def _requests_clause(requests: bool | None, alias: str = "") -> str:
    if requests is None:
        return ""
    return f" AND {alias}from_stranger = {1 if requests else 0}"


class MessageStore:
    """Message history over a :class:`~softphone.store.db.Database`; reached as ``Store.messages``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_incoming(
        self,
        account: str,
        peer: str,
        text: str,
        *,
        call_id: str,
        cseq: int | str,
        content_type: str = DEFAULT_CONTENT_TYPE,
        time: float | None = None,
        dedupe_key: str | None = None,
        from_stranger: bool = False,
        max_per_peer: int | None = None,
        max_total: int | None = None,
    ) -> tuple[Message, bool]:
        """Store a received MESSAGE, durably, unless it is already stored; returns ``(message, new)``.

        ``peer`` is the sender (From); the dedupe key is :func:`incoming_dedupe_key` of it,
        ``call_id`` and ``cseq`` unless ``dedupe_key`` is given. For a duplicate, ``message``
        is the one stored first and ``new`` is False. With ``from_stranger`` the message is a
        request; a new one is refused with :class:`RequestsFull` when ``max_per_peer`` requests
        of this sender, or ``max_total`` requests of all accounts, are kept already.
        """
        account, peer = normalise_uri(account), normalise_uri(peer)
        key = dedupe_key if dedupe_key is not None else incoming_dedupe_key(peer, call_id, cseq)
        when = _time.time() if time is None else time
        with self._db.transaction() as con:
            row = con.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE account = ? AND dedupe_key = ?", (account, key)
            ).fetchone()
            if row is not None:
                return _message(row), False
            if from_stranger:
                self._check_room(con, account, peer, max_per_peer, max_total)
            cursor = con.execute(
                "INSERT INTO messages"
                " (account, peer, direction, body, content_type, time, state, read, dedupe_key, from_stranger)"
                " VALUES (?, ?, 'in', ?, ?, ?, 'received', 0, ?, ?)",
                (account, peer, text, content_type, when, key, int(from_stranger)),
            )
        message_id = cursor.lastrowid
        assert message_id is not None
        message = Message(
            message_id,
            account,
            peer,
            Direction.IN,
            text,
            content_type,
            when,
            MessageState.RECEIVED,
            from_stranger=from_stranger,
        )
        return message, True

    def find_incoming(self, account: str, peer: str, call_id: str, cseq: int | str) -> Message | None:
        """The received message stored for this sender, Call-ID and CSeq, if any (see :meth:`add_incoming`)."""
        row = self._db.query_one(
            f"SELECT {_COLUMNS} FROM messages WHERE account = ? AND dedupe_key = ?",
            (normalise_uri(account), incoming_dedupe_key(peer, call_id, cseq)),
        )
        return None if row is None else _message(row)

    @staticmethod
    def _check_room(
        con: sqlite3.Connection, account: str, peer: str, max_per_peer: int | None, max_total: int | None
    ) -> None:
        if max_per_peer is not None:
            kept = con.execute(
                "SELECT count(*) FROM messages WHERE account = ? AND peer = ? AND from_stranger = 1", (account, peer)
            ).fetchone()[0]
            if kept >= max_per_peer:
                raise RequestsFull("sender", kept)
        if max_total is not None:
            kept = con.execute("SELECT count(*) FROM messages WHERE from_stranger = 1").fetchone()[0]
            if kept >= max_total:
                raise RequestsFull("total", kept)

    def add_outgoing(
        self,
        account: str,
        peer: str,
        text: str,
        *,
        state: MessageState = MessageState.QUEUED,
        content_type: str = DEFAULT_CONTENT_TYPE,
        time: float | None = None,
    ) -> Message:
        """Store a message we send (``queued`` or ``sending``), durably, before it goes out.

        Writing to a peer accepts its message requests (as a reply does in any chat application).
        """
        state = MessageState(state)
        if state not in (MessageState.QUEUED, MessageState.SENDING):
            raise StoreError(f"a new outgoing message is queued or sending, not {state}")
        account, peer = normalise_uri(account), normalise_uri(peer)
        when = _time.time() if time is None else time
        with self._db.transaction() as con:
            cursor = con.execute(
                "INSERT INTO messages (account, peer, direction, body, content_type, time, state, read)"
                " VALUES (?, ?, 'out', ?, ?, ?, ?, 1)",
                (account, peer, text, content_type, when, state.value),
            )
            con.execute(
                "UPDATE messages SET from_stranger = 0 WHERE account = ? AND peer = ? AND from_stranger = 1",
                (account, peer),
            )
        message_id = cursor.lastrowid
        assert message_id is not None
        return Message(message_id, account, peer, Direction.OUT, text, content_type, when, state, read=True)

    def set_state(self, message_id: int, state: MessageState | str, reason: str | None = None) -> None:
        """Move an outgoing message to ``state`` (``reason``: why it failed, e.g. ``"404 Not Found"``)."""
        state = MessageState(state)
        if state not in _OUTGOING_STATES:
            raise StoreError(f"{state} is not a state of an outgoing message")
        with self._db.transaction() as con:
            cursor = con.execute(
                "UPDATE messages SET state = ?, reason = ? WHERE id = ? AND direction = 'out'",
                (state.value, reason, message_id),
            )
            if cursor.rowcount != 1:
                raise StoreError(f"no outgoing message with id {message_id}")

    def requeue_interrupted(self, account: str | None = None) -> int:
        """Put messages left ``sending`` (the process ended before an answer came) back to ``queued``.

        Called at start-up, before :meth:`queued`; returns how many there were. The peer may get such
        a message twice: a MESSAGE whose 200 never arrived cannot be told apart from one that was lost.
        """
        sql = "UPDATE messages SET state = 'queued' WHERE state = 'sending' AND direction = 'out'"
        params: tuple[object, ...] = ()
        if account is not None:
            sql += " AND account = ?"
            params = (normalise_uri(account),)
        with self._db.transaction() as con:
            return con.execute(sql, params).rowcount

    def get(self, message_id: int) -> Message | None:
        row = self._db.query_one(f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (message_id,))
        return None if row is None else _message(row)

    def queued(self, account: str) -> list[Message]:
        """Messages written while unregistered, oldest first."""
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM messages WHERE account = ? AND state = 'queued' ORDER BY id",
            (normalise_uri(account),),
        )
        return [_message(row) for row in rows]

    def page(
        self,
        account: str,
        peer: str,
        before_id: int | None = None,
        limit: int = 50,
        *,
        requests: bool | None = None,
    ) -> list[Message]:
        """The newest ``limit`` messages of a conversation older than ``before_id``, oldest first.

        ``requests``: see the module documentation (None: requests and others alike).
        """
        params: tuple[object, ...] = (normalise_uri(account), normalise_uri(peer))
        where = "account = ? AND peer = ?" + _requests_clause(requests)
        if before_id is not None:
            where += " AND id < ?"
            params += (before_id,)
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM messages WHERE {where} ORDER BY id DESC LIMIT ?", (*params, max(limit, 0))
        )
        return [_message(row) for row in reversed(rows)]

    def unread_counts(self, account: str, *, requests: bool | None = None) -> dict[str, int]:
        rows = self._db.query(
            "SELECT peer, count(*) FROM messages WHERE account = ? AND read = 0 AND direction = 'in'"
            f"{_requests_clause(requests)} GROUP BY peer",
            (normalise_uri(account),),
        )
        return {row[0]: row[1] for row in rows}

    def mark_read(self, account: str, peer: str, up_to_id: int | None = None) -> int:
        """Mark a conversation's incoming messages read (up to and including ``up_to_id``); returns how many."""
        sql = "UPDATE messages SET read = 1 WHERE account = ? AND peer = ? AND read = 0 AND direction = 'in'"
        params: tuple[object, ...] = (normalise_uri(account), normalise_uri(peer))
        if up_to_id is not None:
            sql += " AND id <= ?"
            params += (up_to_id,)
        with self._db.transaction() as con:
            return con.execute(sql, params).rowcount

    def search(self, text: str, account: str | None = None, limit: int = 200) -> list[Message]:
        """Messages whose text contains ``text``, case-insensitively, newest first.

        FTS5's trigram index answers queries of three characters or more when SQLite has it;
        shorter queries, and a SQLite without it, scan with Unicode case folding.
        """
        needle = casefold(text.strip())
        if not needle:
            return []
        account_clause, params = "", []
        if account is not None:
            account_clause = " AND m.account = ?"
            params.append(normalise_uri(account))
        if self._db.fts and len(needle) >= FTS_MIN_QUERY:
            phrase = '"' + needle.replace('"', '""') + '"'
            rows = self._db.query(
                f"SELECT {', '.join('m.' + c for c in _COLUMNS.split(', '))} FROM messages_fts f"
                f" JOIN messages m ON m.id = f.rowid WHERE messages_fts MATCH ?{account_clause}"
                " ORDER BY m.id DESC LIMIT ?",
                (phrase, *params, limit),
            )
        else:
            rows = self._db.query(
                f"SELECT {_COLUMNS} FROM messages m WHERE sp_contains(m.body, ?){account_clause}"
                " ORDER BY m.id DESC LIMIT ?",
                (needle, *params, limit),
            )
        return [_message(row) for row in rows]

    def conversations(self, account: str, *, requests: bool | None = None) -> list[Conversation]:
        """One entry per peer: its last message, that message's time and the unread count; newest first.

        ``requests=True``: the message requests, one entry per sender; False: the other conversations.
        """
        account = normalise_uri(account)
        rows = self._db.query(
            f"SELECT {', '.join('m.' + c for c in _COLUMNS.split(', '))} FROM messages m"
            " JOIN (SELECT max(id) AS id FROM messages WHERE account = ?"
            f"{_requests_clause(requests)} GROUP BY peer) last ON m.id = last.id"
            " ORDER BY m.time DESC, m.id DESC",
            (account,),
        )
        unread = self.unread_counts(account, requests=requests)
        return [
            Conversation(peer=row["peer"], last=_message(row), time=row["time"], unread=unread.get(row["peer"], 0))
            for row in rows
        ]

    def delete_conversation(self, account: str, peer: str) -> int:
        with self._db.transaction() as con:
            return con.execute(
                "DELETE FROM messages WHERE account = ? AND peer = ?", (normalise_uri(account), normalise_uri(peer))
            ).rowcount

    # --- message requests ---------------------------------------------------------------------

    def accept(self, account: str, peer: str, time: float | None = None) -> int:
        """Take ``peer``'s message requests into the conversations and accept its later messages
        (:meth:`is_accepted`); returns how many messages were requests."""
        account, peer = normalise_uri(account), normalise_uri(peer)
        with self._db.transaction() as con:
            con.execute(
                "INSERT INTO accepted_senders (account, peer, time) VALUES (?, ?, ?)"
                " ON CONFLICT (account, peer) DO NOTHING",
                (account, peer, _time.time() if time is None else time),
            )
            return con.execute(
                "UPDATE messages SET from_stranger = 0 WHERE account = ? AND peer = ? AND from_stranger = 1",
                (account, peer),
            ).rowcount

    def decline(self, account: str, peer: str) -> int:
        """Delete ``peer``'s message requests (not its other messages); returns how many."""
        with self._db.transaction() as con:
            return con.execute(
                "DELETE FROM messages WHERE account = ? AND peer = ? AND from_stranger = 1",
                (normalise_uri(account), normalise_uri(peer)),
            ).rowcount

    def is_accepted(self, account: str, peer: str) -> bool:
        """Whether the user accepted ``peer`` as a sender: explicitly, or by writing to it."""
        params = (normalise_uri(account), normalise_uri(peer))
        row = self._db.query_one(
            "SELECT EXISTS (SELECT 1 FROM accepted_senders WHERE account = ? AND peer = ?)"
            " OR EXISTS (SELECT 1 FROM messages WHERE account = ? AND peer = ? AND direction = 'out')",
            (*params, *params),
        )
        return row is not None and bool(row[0])

    def request_count(self, account: str | None = None, peer: str | None = None) -> int:
        """Message requests kept: of ``account`` (all accounts when None), from ``peer`` (any when None)."""
        where, params = "from_stranger = 1", []
        if account is not None:
            where += " AND account = ?"
            params.append(normalise_uri(account))
        if peer is not None:
            where += " AND peer = ?"
            params.append(normalise_uri(peer))
        row = self._db.query_one(f"SELECT count(*) FROM messages WHERE {where}", params)
        return 0 if row is None else int(row[0])

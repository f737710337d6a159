"""The SQLite database: opening, durability settings, schema migrations, and the :class:`Store` facade.

One :class:`Database` owns one connection (``check_same_thread=False``) and a
re-entrant lock; every read and every transaction holds the lock, so the UA's
asyncio thread and the GUI thread can share a :class:`Store`. A single
connection rather than one per thread because SQLite serialises writers
anyway, the queries here take well under a millisecond, and a connection per
thread could not be closed from the thread that shuts the application down
(nor found again for threads that come and go, such as a Qt thread pool).

Durability: WAL journal with ``synchronous=FULL``, so the WAL is synced at
every commit and a method that writes returns only once its transaction is on
disk, surviving SIGKILL and power loss. Writers use ``BEGIN IMMEDIATE``;
``busy_timeout`` lets a second process (a second instance, a backup tool)
wait its turn instead of failing.

The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS`
holds the forward steps, each applied in its own transaction together with
the new version number. A database from a newer release is refused rather
than guessed at.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs

__all__ = [
    "APP_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Database",
    "Store",
    "StoreError",
    "casefold",
    "default_database_path",
]

log = logging.getLogger(__name__)

APP_NAME = "softphone"
DATABASE_NAME = "softphone.db"
BUSY_TIMEOUT_MS = 5000


class StoreError(Exception):
    """The store's one exception: a database that cannot be opened, migrated or written as asked."""


def default_database_path() -> Path:
    """``softphone.db`` in the platform's user data directory for the application."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False) / DATABASE_NAME


def casefold(text: str) -> str:
    """Text as compared by the store's case-insensitive searches: NFC, then Unicode case folding."""
    return unicodedata.normalize("NFC", text).casefold()


def _fold(text: object) -> str | None:
    if text is None:
        return None
    return casefold(text if isinstance(text, str) else str(text))


def _contains(haystack: object, needle: object) -> int:
    if not isinstance(haystack, str) or not isinstance(needle, str):
        return 0
    return int(needle in casefold(haystack))


MIGRATIONS: Sequence[Sequence[str]] = (
    # 0 -> 1
    (
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            account TEXT NOT NULL,
            peer TEXT NOT NULL,
            direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            body TEXT NOT NULL,
            content_type TEXT NOT NULL,
            time REAL NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'received')),
            reason TEXT,
            read INTEGER NOT NULL DEFAULT 0,
            dedupe_key TEXT,
            UNIQUE (account, dedupe_key)
        )""",
        "CREATE INDEX messages_conversation ON messages (account, peer, id)",
        "CREATE INDEX messages_unread ON messages (account, peer) WHERE read = 0 AND direction = 'in'",
        "CREATE INDEX messages_queued ON messages (account, id) WHERE state = 'queued'",
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            account TEXT NOT NULL,
            direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            peer TEXT NOT NULL,
            peer_name TEXT,
            started REAL NOT NULL,
            answered REAL,
            ended REAL,
            outcome TEXT NOT NULL,
            sip_code INTEGER,
            reason TEXT,
            call_id TEXT,
            quality TEXT
        )""",
        "CREATE INDEX calls_peer ON calls (peer, started)",
        "CREATE INDEX calls_missed ON calls (started) WHERE outcome = 'missed'",
        """CREATE TABLE contacts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            sort_key TEXT NOT NULL,
            notes TEXT NOT NULL DEFAULT '',
            photo BLOB,
            photo_type TEXT,
            subscribe_presence INTEGER NOT NULL DEFAULT 0,
            uid TEXT UNIQUE
        )""",
        "CREATE INDEX contacts_sort ON contacts (sort_key, id)",
        """CREATE TABLE contact_uris (
            contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            uri TEXT NOT NULL,
            norm TEXT NOT NULL,
            PRIMARY KEY (contact_id, position)
        )""",
        "CREATE INDEX contact_uris_norm ON contact_uris (norm)",
        """CREATE TABLE contact_phones (
            contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            number TEXT NOT NULL,
            digits TEXT NOT NULL,
            tail TEXT NOT NULL,
            PRIMARY KEY (contact_id, position)
        )""",
        "CREATE INDEX contact_phones_digits ON contact_phones (digits)",
        "CREATE INDEX contact_phones_tail ON contact_phones (tail)",
        """CREATE TABLE contact_groups (
            contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (contact_id, position)
        )""",
        "CREATE INDEX contact_groups_name ON contact_groups (name)",
        """CREATE TABLE contact_keys (
            contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
            key TEXT NOT NULL
        )""",
        "CREATE INDEX contact_keys_key ON contact_keys (key, contact_id)",
        "CREATE INDEX contact_keys_contact ON contact_keys (contact_id)",
        """CREATE TABLE watchers (
            account TEXT NOT NULL,
            watcher TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('allow', 'block', 'pending')),
            time REAL NOT NULL,
            PRIMARY KEY (account, watcher)
        )""",
        "CREATE INDEX watchers_pending ON watchers (account, time) WHERE decision = 'pending'",
    ),
    # 1 -> 2: message requests (messages from senders who are not verified contacts) kept apart until
    # accepted; senders accepted without being contacts; watchers allowed the details of our dialogs.
    (
        "ALTER TABLE messages ADD COLUMN from_stranger INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX messages_requests ON messages (account, peer) WHERE from_stranger = 1",
        """CREATE TABLE accepted_senders (
            account TEXT NOT NULL,
            peer TEXT NOT NULL,
            time REAL NOT NULL,
            PRIMARY KEY (account, peer)
        )""",
        "ALTER TABLE watchers ADD COLUMN details INTEGER NOT NULL DEFAULT 0",
    ),
    # 2 -> 3: taken by the account settings' own step; nothing here.
    (),
    # 3 -> 4: whether a call's media was encrypted (NULL: not known, as for calls before this step),
    # and how, in the words the call window showed.
    (
        "ALTER TABLE calls ADD COLUMN encrypted INTEGER",
        "ALTER TABLE calls ADD COLUMN encryption TEXT",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# Contentless trigram index over the case-folded text (sp_fold, registered on every connection the
# store opens), so that FTS matching agrees with casefold() also where folding changes the length (ß).
_FTS_SCHEMA = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(body, content='', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts (rowid, body) VALUES (new.id, sp_fold(new.body)); END",
    "CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, sp_fold(old.body)); END",
    "CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE OF body ON messages BEGIN "
    "INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, sp_fold(old.body)); "
    "INSERT INTO messages_fts (rowid, body) VALUES (new.id, sp_fold(new.body)); END",
)
_FTS_TRIGGERS = ("messages_fts_insert", "messages_fts_delete", "messages_fts_update")


def fts5_trigram_available(connection: sqlite3.Connection) -> bool:
    """Whether this SQLite has FTS5 (compile option ``ENABLE_FTS5``) with the trigram tokenizer (3.34+)."""
    options = {row[0] for row in connection.execute("PRAGMA compile_options")}
    if "ENABLE_FTS5" not in options:
        return False
    try:
        connection.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x, tokenize='trigram')")
        connection.execute("DROP TABLE temp.fts5_probe")
    except sqlite3.Error:
        return False
    return True


class Database:
    """One SQLite connection, its lock, and the transaction helpers the store's parts use."""

    def __init__(self, path: str | Path | None = None, *, use_fts: bool = True) -> None:
        self.path = Path(path) if path is not None else default_database_path()
        self.lock = threading.RLock()
        self.closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        self.connection.row_factory = sqlite3.Row
        self.connection.create_function("sp_contains", 2, _contains, deterministic=True)
        self.connection.create_function("sp_fold", 1, _fold, deterministic=True)
        try:
            self._configure()
            self._migrate()
            self.fts = self._ensure_fts() if use_fts else self._drop_fts_triggers()
        except BaseException:
            self.connection.close()
            raise

    def _configure(self) -> None:
        con = self.connection
        mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"the database {self.path} cannot use WAL journaling (journal_mode is {mode})")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=ON")
        con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    @property
    def schema_version(self) -> int:
        with self.lock:
            return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the database {self.path} has schema version {version}, newer than this softphone's "
                f"{SCHEMA_VERSION}; use a newer release or another database file"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            log.info("migrating %s to schema version %d", self.path, target)
            try:
                with self.transaction() as con:
                    for statement in MIGRATIONS[target - 1]:
                        con.execute(statement)
                    con.execute(f"PRAGMA user_version={target}")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot migrate the database {self.path} to schema version {target}: {exc}") from exc

    def _ensure_fts(self) -> bool:
        if not fts5_trigram_available(self.connection):
            log.info("SQLite %s has no FTS5 trigram tokenizer; message search scans", sqlite3.sqlite_version)
            return self._drop_fts_triggers()
        present = {
            row[0]
            for row in self.connection.execute(
                "SELECT name FROM sqlite_master WHERE name = 'messages_fts' OR name LIKE 'messages_fts_%'"
            )
        }
        if "messages_fts" in present and all(name in present for name in _FTS_TRIGGERS):
            return True
        with self.transaction() as con:
            for statement in _FTS_SCHEMA:
                con.execute(statement)
            con.execute("INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')")
            con.execute("INSERT INTO messages_fts (rowid, body) SELECT id, sp_fold(body) FROM messages")
            con.execute("INSERT INTO messages_fts (messages_fts) VALUES ('optimize')")
        return True

    def optimize(self) -> None:
        """Idle-time upkeep: merge the FTS5 index into one segment (so no later write pays for a big
        merge) and let SQLite refresh its planner statistics (``PRAGMA optimize``)."""
        if self.fts:
            with self.transaction() as con:
                con.execute("INSERT INTO messages_fts (messages_fts) VALUES ('optimize')")
        with self.lock:
            self.connection.execute("PRAGMA optimize")

    def _drop_fts_triggers(self) -> bool:
        with self.transaction() as con:
            for name in _FTS_TRIGGERS:
                con.execute(f"DROP TRIGGER IF EXISTS {name}")
        return False

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` under the lock; rolled back if the block raises.

        Nested use joins the outer transaction. The commit is durable when the block's ``with`` ends.
        """
        with self.lock:
            con = self.connection
            if con.in_transaction:
                yield con
                return
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.connection.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        with self.lock:
            row: sqlite3.Row | None = self.connection.execute(sql, params).fetchone()
            return row

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check``: ``["ok"]`` for a sound database, else the problems found."""
        with self.lock:
            return [str(row[0]) for row in self.connection.execute("PRAGMA integrity_check")]

    def close(self) -> None:
        """Close the connection (a second call does nothing)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            self.connection.close()


class Store:
    """The persistence facade: ``messages``, ``history``, ``contacts`` and ``watchers`` over one database.

    ``Store()`` opens (creating and migrating as needed) :func:`default_database_path`;
    ``Store(path)`` any other file. Safe to share between threads; close it once, at the end
    (also as a context manager).
    """

    def __init__(self, path: str | Path | None = None, *, use_fts: bool = True) -> None:
        from softphone.store.contacts import Contacts
        from softphone.store.history import CallHistory
        from softphone.store.messages import MessageStore
        from softphone.store.watchers import Watchers

        self.db = Database(path, use_fts=use_fts)
        self.messages = MessageStore(self.db)
        self.history = CallHistory(self.db)
        self.contacts = Contacts(self.db)
        self.watchers = Watchers(self.db)

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def schema_version(self) -> int:
        return self.db.schema_version

    def integrity_check(self) -> list[str]:
        return self.db.integrity_check()

    def optimize(self) -> None:
        """Idle-time upkeep (FTS5 segment merge, ``PRAGMA optimize``); see :meth:`Database.optimize`."""
        self.db.optimize()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

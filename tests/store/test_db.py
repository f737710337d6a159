from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import platformdirs
import pytest

from softphone.store import SCHEMA_VERSION, Store, StoreError, default_database_path
from softphone.store import db as db_module


def test_pragmas(store: Store) -> None:
    con = store.db.connection
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert con.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.schema_version == SCHEMA_VERSION >= 1
    assert store.integrity_check() == ["ok"]


def test_default_path_and_explicit_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(platformdirs, "user_data_path", lambda *a, **k: tmp_path / "data" / a[0])
    assert default_database_path() == tmp_path / "data" / "softphone" / "softphone.db"
    with Store() as store:
        assert store.path == tmp_path / "data" / "softphone" / "softphone.db"
    assert store.path.exists()
    with Store(tmp_path / "elsewhere" / "x.db") as other:
        assert other.path.exists()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def test_migrations_run_forward_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.db"
    with Store(path) as store:
        store.messages.add_outgoing("sip:me@example.com", "sip:bob@example.com", "kept")
    extra = ("CREATE TABLE later_feature (x INTEGER)", "INSERT INTO later_feature VALUES (42)")
    monkeypatch.setattr(db_module, "MIGRATIONS", (*db_module.MIGRATIONS, extra))
    monkeypatch.setattr(db_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION + 1
        assert store.db.query("SELECT x FROM later_feature")[0][0] == 42
        assert store.messages.page("sip:me@example.com", "sip:bob@example.com")[0].text == "kept"
    with Store(path) as store:
        assert len(store.db.query("SELECT x FROM later_feature")) == 1


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.db"
    Store(path).close()
    broken = ("CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL")
    monkeypatch.setattr(db_module, "MIGRATIONS", (*db_module.MIGRATIONS, broken))
    monkeypatch.setattr(db_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="schema version"):
        Store(path)
    monkeypatch.undo()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.db.query("SELECT name FROM sqlite_master WHERE name = 'half_done'") == []


def test_shared_between_threads(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(50):
                store.messages.add_incoming(
                    "sip:me@example.com", f"sip:peer{n}@example.com", f"{n}-{i}", call_id=f"{n}-{i}", cseq=1
                )
                store.messages.page("sip:me@example.com", f"sip:peer{n}@example.com", limit=5)
                store.messages.unread_counts("sip:me@example.com")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.messages.unread_counts("sip:me@example.com") == {f"sip:peer{n}@example.com": 50 for n in range(6)}
    assert store.integrity_check() == ["ok"]


def test_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.db.transaction() as con:
            con.execute(
                "INSERT INTO watchers (account, watcher, decision, time) VALUES ('sip:a@x', 'sip:b@x', 'allow', 0)"
            )
            raise RuntimeError("boom")
    assert store.watchers.decision("sip:a@x", "sip:b@x") is None
    assert not store.db.connection.in_transaction


def test_close_twice(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    store.close()
    store.close()


def test_two_stores_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    with Store(path) as first, Store(path) as second:
        first.watchers.set("sip:a@example.com", "sip:b@example.com", "allow")
        assert second.watchers.decision("sip:a@example.com", "sip:b@example.com") == "allow"


def test_store_sits_below_the_ua_and_gui() -> None:
    code = (
        "import sys, softphone.store; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('asyncio', 'PySide6') "
        "or m.startswith(('softphone.ua', 'softphone.gui', 'softphone.media', 'softphone.transport'))); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stdout + result.stderr

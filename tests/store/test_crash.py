"""SIGKILL in the middle of a burst of incoming messages loses nothing that was reported stored."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from softphone.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _run_and_kill(db: Path, first: int, after: int) -> list[tuple[int, int]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_writer", str(db), str(first)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    reported: list[tuple[int, int]] = []
    try:
        deadline = time.monotonic() + 60
        while len(reported) < after:
            line = child.stdout.readline()
            if not line:
                raise AssertionError(f"writer ended early: {child.stderr.read().decode() if child.stderr else ''}")
            number, message_id = line.split()
            reported.append((int(number), int(message_id)))
            assert time.monotonic() < deadline, "writer too slow"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    rest = child.stdout.read().decode()
    for tail_line in rest.splitlines(keepends=True):
        if tail_line.endswith("\n"):
            tail_number, tail_id = tail_line.split()
            reported.append((int(tail_number), int(tail_id)))
    child.stdout.close()
    if child.stderr is not None:
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    return reported


def test_sigkill_mid_burst_loses_no_reported_message(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    reported: list[tuple[int, int]] = []
    first = 0
    for kill_after in (150, 37, 211):
        burst = _run_and_kill(db, first, kill_after)
        assert len(burst) >= kill_after
        reported += burst
        with Store(db) as store:
            assert store.integrity_check() == ["ok"]
            first = int(store.db.query("SELECT count(*) FROM messages")[0][0])

    connection = sqlite3.connect(db)
    try:
        stored = dict(
            connection.execute(
                "SELECT id, body FROM messages WHERE account = 'sip:me@example.com' AND peer = 'sip:flood@example.com'"
            ).fetchall()
        )
        duplicates = connection.execute(
            "SELECT dedupe_key, count(*) FROM messages GROUP BY dedupe_key HAVING count(*) > 1"
        ).fetchall()
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        connection.close()
    assert duplicates == []
    assert len({message_id for _, message_id in reported}) == len(reported)
    for number, message_id in reported:
        assert stored.get(message_id) == f"Nachricht {number} 🔥"
    numbers = sorted(int(body.split()[1]) for body in stored.values())
    assert numbers == list(range(len(numbers)))

"""Speed of the persistence layer on a realistic file: message pages, durable inserts, contacts.

Run from the repository root::

    python benchmarks/store_bench.py                 # 100,000 messages, 7 cold / 25 warm runs
    python benchmarks/store_bench.py --quick         # 20,000 messages, 3 cold / 5 warm runs
    python benchmarks/store_bench.py --dir /mnt/ssd  # put the database on another file system

The database is a real ``softphone.db`` made by ``softphone.store.Store`` (WAL,
``synchronous=FULL``, FTS5 trigram index when SQLite has it) in a fresh
directory under ``--dir`` (default: the platform's user cache directory, so
the file system is the one the application's own database lives on; a
tmpfs would make every fsync free and the durable-insert figures meaningless,
so the file system type is printed). The directory is removed at the end. The history is written in
one transaction and then ``Store.optimize()``'d, which merges the FTS5 index
into one segment; a history that grew message by message has the index in a
few log-structured segments instead, with the same query speed.

What each row measures (``time.perf_counter()``, milliseconds):

``last page, cold``
    a new ``Store`` on the file (new connection, empty page cache of SQLite;
    the operating system's cache stays warm, which no unprivileged process can
    drop), then ``messages.page(account, peer, limit=50)`` on the conversation
    of N messages (plus N/10 messages in 50 other conversations): the newest
    50, which is what a chat window opens with. Opening is timed apart.
``last page, warm``
    the same call again on an open ``Store``.
``oldest page, warm``
    ``page(..., before_id=<id of the 51st message>)``: scrolled back to the
    start of the conversation.
``conversations()``, ``unread_counts()``
    the chat list of the account (51 conversations).
``search, 3+ chars`` / ``search, 1-2 chars``
    ``messages.search()`` of a word in one message: through the FTS5 trigram
    index, and a two-character query that scans with Unicode case folding.
``add_incoming, durable``
    1,000 incoming messages one after the other, each its own transaction
    committed (and the WAL fsync'd) before the call returns — what the UA does
    before answering 200 to a MESSAGE; per message, with the total.
``import 1,000 contacts``, ``list 1,000 contacts``, ``search contacts``
    a vCard 3.0 file of 1,000 contacts (name, SIP URI, number, group)
    imported in one transaction; ``contacts.list()`` on a new ``Store`` (cold)
    and again (warm); ``contacts.search()`` of a two-letter prefix.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import platformdirs

from benchmarks.machine import machine_line
from softphone.store import Store

ME = "sip:me@example.com"
PEER = "sip:bob@example.com"
TARGET_LAST_PAGE_MS = 200.0


def filesystem_of(path: Path) -> str:
    """The type of the file system holding ``path``, from /proc/mounts (Linux); 'unknown' elsewhere."""
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) >= 3 and str(path).startswith(fields[1]) and len(fields[1]) > len(best):
                    best, kind = fields[1], fields[2]
    except OSError:
        pass
    return kind


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def row(name: str, samples: list[float], note: str = "") -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (
        f"{name:26} {statistics.median(ordered):9.3f} {p90:9.3f} {ordered[-1]:9.3f} {ordered[0]:9.3f} "
        f"{len(ordered):6d}  {note}"
    )


def fill_messages(path: Path, count: int) -> None:
    with Store(path) as store:
        with store.db.transaction() as con:
            con.execute(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)"
                " INSERT INTO messages (account, peer, direction, body, content_type, time, state, read, dedupe_key)"
                " SELECT ?, CASE WHEN i % 11 = 10 THEN 'sip:friend' || (i % 50) || '@example.org' ELSE ? END,"
                " CASE WHEN i % 2 THEN 'in' ELSE 'out' END,"
                " 'Nachricht Nummer ' || i || ' — Grüße, bis später 🙂', 'text/plain;charset=UTF-8',"
                " 1.7e9 + i * 30.0, CASE WHEN i % 2 THEN 'received' ELSE 'sent' END, 1,"
                " CASE WHEN i % 2 THEN 'key-' || i END FROM n",
                (count + count // 10, ME, PEER),
            )
        store.optimize()


def vcards(count: int) -> str:
    return "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Kontakt {i:04d} Müller-Lüdenscheidt\r\nN:Müller-Lüdenscheidt;Kontakt;;;\r\n"
        f"IMPP:sip:user{i}@example.com\r\nTEL;TYPE=cell:+44 7700 9{i:05d}\r\nCATEGORIES:Gruppe {i % 12}\r\n"
        f"END:VCARD\r\n"
        for i in range(count)
    )


def run(directory: Path, messages: int, cold_runs: int, warm_runs: int) -> None:
    path = directory / "softphone.db"
    start = time.perf_counter()
    fill_messages(path, messages)
    print(f"set-up: {messages + messages // 10:,} messages written in {time.perf_counter() - start:.1f} s")
    print()
    print(f"Message history, {messages:,} messages in one conversation (ms):")
    print(f"{'':26} {'median':>9} {'p90':>9} {'max':>9} {'min':>9} {'runs':>6}")

    opens: list[float] = []
    cold: list[float] = []
    for _ in range(cold_runs):
        t0 = time.perf_counter()
        store = Store(path)
        t1 = time.perf_counter()
        page = store.messages.page(ME, PEER, limit=50)
        t2 = time.perf_counter()
        store.close()
        opens.append((t1 - t0) * 1000)
        cold.append((t2 - t1) * 1000)
        assert len(page) == 50
    print(row("Store() open", opens))
    print(row("last page, cold", cold, "new connection"))

    with Store(path) as store:
        fts = "FTS5 trigram" if store.db.fts else "scan (no FTS5)"
        print(row("last page, warm", timed(lambda: store.messages.page(ME, PEER, limit=50), warm_runs)))
        first_id = store.db.query("SELECT min(id) FROM messages WHERE account = ? AND peer = ?", (ME, PEER))[0][0]
        second_page_end = store.db.query(
            "SELECT id FROM messages WHERE account = ? AND peer = ? ORDER BY id LIMIT 1 OFFSET 50", (ME, PEER)
        )[0][0]
        oldest = store.messages.page(ME, PEER, before_id=second_page_end, limit=50)
        assert oldest[0].id == first_id
        print(
            row(
                "oldest page, warm",
                timed(lambda: store.messages.page(ME, PEER, before_id=second_page_end, limit=50), warm_runs),
            )
        )
        print(row("conversations()", timed(lambda: store.messages.conversations(ME), warm_runs), "51 peers"))
        print(row("unread_counts()", timed(lambda: store.messages.unread_counts(ME), warm_runs)))
        print(row("search, 3+ chars", timed(lambda: store.messages.search("nummer 4242 "), warm_runs), fts))
        print(row("search, 1-2 chars", timed(lambda: store.messages.search("4ü"), max(3, warm_runs // 5)), "scan"))

        inserts: list[float] = []
        total_start = time.perf_counter()
        for i in range(1000):
            t0 = time.perf_counter()
            store.messages.add_incoming(ME, "sip:burst@example.net", f"burst {i} ✓", call_id=f"burst-{i}", cseq=1)
            inserts.append((time.perf_counter() - t0) * 1000)
        total = time.perf_counter() - total_start
        print(row("add_incoming, durable", inserts, f"1,000 in {total:.2f} s ({1000 / total:,.0f}/s)"))

    contacts_path = directory / "contacts.db"
    text = vcards(1000)
    with Store(contacts_path) as store:
        t0 = time.perf_counter()
        result = store.contacts.import_vcard(text)
        import_ms = (time.perf_counter() - t0) * 1000
        assert result.added == 1000, result
    print()
    print("Contacts, 1,000 (ms):")
    print(f"{'':26} {'median':>9} {'p90':>9} {'max':>9} {'min':>9} {'runs':>6}")
    print(row("import 1,000 contacts", [import_ms], "vCard 3.0, one transaction"))
    cold_list: list[float] = []
    for _ in range(cold_runs):
        with Store(contacts_path) as store:
            t0 = time.perf_counter()
            assert len(store.contacts.list()) == 1000
            cold_list.append((time.perf_counter() - t0) * 1000)
    print(row("list 1,000 contacts, cold", cold_list, "new connection"))
    with Store(contacts_path) as store:
        print(row("list 1,000 contacts, warm", timed(store.contacts.list, warm_runs)))
        print(row("search contacts 'kö'", timed(lambda: store.contacts.search("kö"), warm_runs), "no match"))
        print(row("search contacts 'ko'", timed(lambda: store.contacts.search("ko"), warm_runs), "20 of 1,000"))
        print(row("find_by_uri", timed(lambda: store.contacts.find_by_uri("tel:07700900999"), warm_runs)))

    verdict = "met" if statistics.median(cold) <= TARGET_LAST_PAGE_MS else "MISSED"
    print()
    print(f"target: last page of the conversation <= {TARGET_LAST_PAGE_MS:.0f} ms: {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--messages", type=int, default=100_000, help="messages in the big conversation")
    parser.add_argument("--cold-runs", type=int, default=7, help="runs with a new connection (default 7)")
    parser.add_argument("--warm-runs", type=int, default=25, help="runs on an open store (default 25)")
    parser.add_argument("--dir", type=Path, default=None, help="where to create the scratch database")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20,000 messages, 3 cold / 5 warm runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.cold_runs, args.warm_runs = 20_000, 3, 5
    if args.messages < 101 or args.cold_runs < 1 or args.warm_runs < 1:
        parser.error("--messages must be over 100, the run counts positive")

    parent = args.dir or platformdirs.user_cache_path("softphone", appauthor=False)
    parent.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="store-bench-", dir=parent))
    print(machine_line())
    print(f"SQLite {sqlite3.sqlite_version}, database in {directory} ({filesystem_of(directory.resolve())})")
    try:
        run(directory, args.messages, args.cold_runs, args.warm_runs)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

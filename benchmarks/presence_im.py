"""A big buddy list and a big conversation: loop stalls under a burst of presence NOTIFYs, and paging history.

Run from the repository root::

    python benchmarks/presence_im.py               # 1,000 buddies, 100,000 messages
    python benchmarks/presence_im.py --quick       # 200 buddies, 20,000 messages
    python benchmarks/presence_im.py --buddies 2000 --messages 200000

**Presence.** A second process (this script with ``--serve``) runs a
UserAgent on UDP 127.0.0.1 with an account for each of 1,000 presentities
``sip:p0@…`` … ``sip:p999@…``, served through one ``presence`` event package whose PIDF names the
presentity (the To of the subscription) and a generation number in its note;
every watcher is authorised at once. Being a process of its own, its work
(sending 1,000 NOTIFYs) does not run on the measured loop. The measured UA
has the serving process as its outbound proxy (as a presence server would
be: what the account's own server sends is not held to the request rate
limit) and a ``Store`` holding 1,000 contacts with
presence on (imported from one vCard file), whose SIP URIs are the
presentities at the serving process's port.

``load 1,000 buddies``
    from ``await ua.presence.load_buddies()`` (the contacts are read off the
    loop, the SUBSCRIBEs paced, 16 in flight) until every buddy's
    subscription is active and its first NOTIFY has shown it ``open``.
``burst of 1,000 NOTIFYs``
    the serving process bumps the generation and notifies every watcher at
    once; from the command written to it until every one of the 1,000
    buddies shows the new note (each NOTIFY parsed by the hardened PIDF
    parser, answered 200, emitted as a ``PresenceEvent``).
``worst loop stall``
    a heartbeat task on the measured loop sleeps 5 ms at a time and records
    how late it wakes (``loop.time()`` against the time it asked for); the
    worst lateness over each phase is the longest the loop did nothing else
    (target <= 50 ms). A 1 ms lateness is the timer's own granularity.

**History.** ``benchmarks.store_bench.fill_messages`` builds a ``Store`` with a
100,000-message conversation (plus 10,000 in 50 others); the newest page
(``messages.page(account, peer, limit=50)``) is opened on a new ``Store``
(cold: new connection) and again (warm). Target: < 200 ms.

The measured UA is set up as ``softphone-cli`` and the desktop application
set themselves up: the collector policy (``softphone.ua.manage_collector``:
no automatic full collections, collect and freeze when quiet) once started;
``--no-policy`` does what they did before it, ``gc.freeze()`` alone. Every
collection during each phase is timed through ``gc.callbacks`` and the
longest of each generation printed: that is what says whether a stall was
the collector. The transport's UDP sockets ask for a 4 MiB receive buffer, so
a burst is not dropped by the kernel and left to retransmissions.

Every process started is ended on the way out (the serving process by its
PID, through its standard input first); the scratch directory is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine_line
from benchmarks.store_bench import ME, PEER, fill_messages
from softphone.sip.pidf import PIDF_CONTENT_TYPE, build_pidf
from softphone.sip.uri import SipUri
from softphone.store import Store
from softphone.ua import Account, Event, PresenceEvent, UserAgent, manage_collector
from softphone.ua.limits import Limits
from softphone.ua.subscription import Decision, ServerSubscription

TARGET_STALL_MS = 50.0
TARGET_PAGE_MS = 200.0
HEARTBEAT = 0.005
# What a server takes: no rate limit per source (the one watcher sends all 1,000 SUBSCRIBEs).
SERVER_LIMITS = Limits(requests_per_second=1e6, request_burst=1_000_000)


# --- the serving process -------------------------------------------------------------


class ManyPresentities:
    """One ``presence`` package serving every presentity its subscriber names, with a generation number."""

    name = "presence"
    default_expires = 3600

    def __init__(self) -> None:
        self.generation = 1

    def authorize(self, subscription: ServerSubscription) -> Decision:
        return "active"

    def state_body(self, subscription: ServerSubscription) -> tuple[str, bytes] | None:
        uri = subscription.dialog.local_uri.uri
        entity = str(uri.replace(params={}, headers=[])) if isinstance(uri, SipUri) else str(uri)
        return PIDF_CONTENT_TYPE, build_pidf(entity, "open", None, f"gen {self.generation}")


async def serve(buddies: int) -> None:
    # The serving process stands in for a presence server: it takes every SUBSCRIBE of the burst.
    # An account per presentity: requests for a user no account has get 404.
    accounts = [Account(f"sip:p{i}@127.0.0.1", register=False) for i in range(buddies)]
    ua = UserAgent(accounts, listen=[("UDP", "127.0.0.1", 0)], limits=SERVER_LIMITS)
    package = ManyPresentities()
    ua.subscriptions.register_package(package)
    await ua.start()
    print(ua.stack.transport.local_address("UDP")[1], flush=True)
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "quit":
                break
            if line.strip() == "burst":
                package.generation += 1
                ua.subscriptions.notify_package("presence")
                print(f"burst {package.generation} {len(ua.subscriptions.served('presence'))}", flush=True)
    finally:
        await ua.stop()


# --- the measured process ------------------------------------------------------------


class Heartbeat:
    """How late a task that sleeps ``HEARTBEAT`` at a time wakes up: the loop's longest stall."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.beats = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def reset(self) -> None:
        self.worst, self.beats = 0.0, 0

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + HEARTBEAT
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            now = loop.time()
            self.worst = max(self.worst, now - due)
            self.beats += 1
            due = now + HEARTBEAT

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class GcPauses:
    """The longest collection of each generation and how many ran (``gc.callbacks``): what the stalls are."""

    def __init__(self) -> None:
        self._started = 0.0
        self.reset()

    def reset(self) -> None:
        self.longest = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        self.count[generation] += 1
        self.longest[generation] = max(self.longest[generation], time.perf_counter() - self._started)

    def summary(self) -> str:
        return ", ".join(
            f"gen{g} {self.count[g]}x max {self.longest[g] * 1000:.1f} ms" for g in range(3) if self.count[g]
        )


def vcards(count: int, port: int) -> str:
    return "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Buddy {i:04d}\r\nN:{i:04d};Buddy;;;\r\n"
        f"IMPP:sip:p{i}@127.0.0.1:{port}\r\nX-SOFTPHONE-PRESENCE:1\r\nEND:VCARD\r\n"
        for i in range(count)
    )


async def presence_run(directory: Path, buddies: int, collector_policy: bool = True) -> tuple[list[str], float]:
    server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve", "--buddies", str(buddies)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    store = Store(directory / "buddies.db")
    ua: UserAgent | None = None
    lines = []
    try:
        port = int(server.stdout.readline())
        result = store.contacts.import_vcard(vcards(buddies, port))
        assert result.added == buddies, result
        # The serving process is the watcher's outbound proxy, as a presence server would be: its
        # NOTIFYs come from the account's own server, which the request rate limit leaves alone.
        ua = UserAgent(
            [Account("sip:watcher@127.0.0.1", register=False, outbound_proxy=f"sip:127.0.0.1:{port}")],
            listen=[("UDP", "127.0.0.1", 0)],
            store=store,
        )
        await ua.start()
        if collector_policy:
            manage_collector(ua)  # as softphone-cli and the desktop application do once started
        else:
            gc.freeze()  # what the applications did before the policy
        pauses = GcPauses()
        gc.callbacks.append(pauses)
        generation = {"want": 1}
        seen: set[str] = set()
        done = asyncio.Event()

        def on_event(event: Event) -> None:
            if isinstance(event, PresenceEvent) and event.note == f"gen {generation['want']}":
                seen.add(event.uri)
                if len(seen) >= buddies:
                    done.set()

        ua.subscribe(on_event)
        heartbeat = Heartbeat()
        heartbeat.start()
        await asyncio.sleep(0.05)

        heartbeat.reset()
        pauses.reset()
        tracked_before = len(gc.get_objects()) + gc.get_freeze_count()
        start, cpu = time.perf_counter(), time.process_time()
        loaded = await ua.presence.load_buddies()
        assert loaded == buddies, loaded
        await asyncio.wait_for(done.wait(), 120)
        while not all(b.subscription == "active" for b in ua.presence.buddies()):
            await asyncio.sleep(0.01)
        load_s = time.perf_counter() - start
        load_cpu = time.process_time() - cpu
        load_stall = heartbeat.worst * 1000
        load_gc = pauses.summary()
        gc.collect()  # what the subscriptions keep, not what the load left for the collector
        tracked_per_buddy = (len(gc.get_objects()) + gc.get_freeze_count() - tracked_before) / buddies

        await asyncio.sleep(0.2)
        generation["want"] = 2
        seen.clear()
        done.clear()
        heartbeat.reset()
        pauses.reset()
        start, cpu = time.perf_counter(), time.process_time()
        server.stdin.write("burst\n")
        server.stdin.flush()
        await asyncio.wait_for(done.wait(), 120)
        burst_s = time.perf_counter() - start
        burst_cpu = time.process_time() - cpu
        burst_stall = heartbeat.worst * 1000
        burst_gc = pauses.summary()
        gc.callbacks.remove(pauses)
        heartbeat.stop()
        answer = await asyncio.get_running_loop().run_in_executor(None, server.stdout.readline)

        lines.append(f"{'':34} {'time':>10} {'worst stall':>12} {'UA CPU':>10}")
        lines.append(
            f"{f'load {buddies:,} buddies':34} {load_s * 1000:8.0f} ms {load_stall:9.1f} ms {load_cpu * 1000:7.0f} ms"
        )
        lines.append(
            f"{f'burst of {buddies:,} NOTIFYs':34} {burst_s * 1000:8.0f} ms {burst_stall:9.1f} ms"
            f" {burst_cpu * 1000:7.0f} ms"
        )
        lines.append(f"(serving process: {answer.strip()}; {buddies / burst_s:,.0f} NOTIFYs/s handled)")
        lines.append(f"objects the collector tracks, per watched buddy once loaded: {tracked_per_buddy:.1f}")
        lines.append(f"collections during the load: {load_gc or 'none'}")
        lines.append(f"collections during the burst: {burst_gc or 'none'}")
        worst = max(load_stall, burst_stall)
    finally:
        if ua is not None:
            await ua.stop()
        store.close()
        try:
            server.stdin.write("quit\n")
            server.stdin.flush()
            server.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            server.kill()
            server.wait()
    return lines, worst


def history_run(directory: Path, messages: int, runs: int) -> tuple[list[str], float]:
    path = directory / "history.db"
    start = time.perf_counter()
    fill_messages(path, messages)
    built = time.perf_counter() - start
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(runs):
        with Store(path) as store:
            t0 = time.perf_counter()
            page = store.messages.page(ME, PEER, limit=50)
            cold.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            store.messages.page(ME, PEER, limit=50)
            warm.append((time.perf_counter() - t0) * 1000)
            assert len(page) == 50
    lines = [
        f"(history of {messages + messages // 10:,} messages built in {built:.1f} s)",
        f"{'':34} {'median':>9} {'max':>9} {'runs':>6}",
        f"{'last page, cold (new Store)':34} {statistics.median(cold):7.3f} ms {max(cold):6.3f} ms {runs:6d}",
        f"{'last page, warm':34} {statistics.median(warm):7.3f} ms {max(warm):6.3f} ms {runs:6d}",
    ]
    return lines, max(cold)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--buddies", type=int, default=1000, help="buddies with presence (default 1,000)")
    parser.add_argument("--messages", type=int, default=100_000, help="messages in the conversation (default 100,000)")
    parser.add_argument("--runs", type=int, default=7, help="page openings (default 7)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 200 buddies, 20,000 messages, 3 runs")
    parser.add_argument(
        "--no-policy", action="store_true", help="gc.freeze() once started instead of the collector policy"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.buddies))
        return 0
    if args.quick:
        args.buddies, args.messages, args.runs = 200, 20_000, 3
    if args.buddies < 1 or args.messages < 101 or args.runs < 1:
        parser.error("--buddies and --runs must be positive, --messages over 100")

    print(machine_line())
    directory = Path(tempfile.mkdtemp(prefix="presence-im-"))
    try:
        presence_lines, stall = asyncio.run(presence_run(directory, args.buddies, not args.no_policy))
        print()
        print(f"Presence, {args.buddies:,} buddies served by another process on loopback UDP:")
        for line in presence_lines:
            print(line)
        print(
            f"target: worst loop stall <= {TARGET_STALL_MS:.0f} ms: {'met' if stall <= TARGET_STALL_MS else 'MISSED'}"
        )
        history_lines, page = history_run(directory, args.messages, args.runs)
        print()
        print(f"History, one conversation of {args.messages:,} messages:")
        for line in history_lines:
            print(line)
        print(f"target: last page < {TARGET_PAGE_MS:.0f} ms: {'met' if page < TARGET_PAGE_MS else 'MISSED'}")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

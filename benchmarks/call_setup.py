"""Call set-up time and idle CPU of the user agent, through a real Kamailio on loopback.

Run from the repository root::

    python benchmarks/call_setup.py              # 50 calls, 60 s idle
    python benchmarks/call_setup.py --quick      # 5 calls, 5 s idle
    python benchmarks/call_setup.py --calls 200 --idle-seconds 120

It starts Kamailio with ``tests/kamailio_server.Kamailio`` (Debian packages
``kamailio`` and ``kamailio-sqlite-modules``) and two UserAgents in this
process, on one asyncio loop, listening on UDP 127.0.0.1: a caller and a
callee that answers at once (``Account.auto_answer = 0``). Both register,
then the caller makes N calls one after the other, each hung up (BYE) once
confirmed.

What the set-up table measures, per call (milliseconds):

``call() -> confirmed``
    ``time.perf_counter()`` from just before ``await ua.call()`` to the
    caller's ``CallEvent(state="confirmed")``: resolving the next hop,
    binding the media port, building the SDP offer, the INVITE, Kamailio's
    407 challenge and the ACK for it, the authenticated INVITE, the callee's
    100/180/200, and the ACK for the 200 (the event comes after the ACK is
    handed to the transport).
``1st INVITE -> 200``
    on the caller's socket: from the first INVITE datagram handed to the
    kernel to the arrival of the 200 (before it is parsed), so it includes
    the 407 round trip of the digest challenge.
``auth INVITE -> 200``
    the same from the last INVITE sent (the one with credentials): the
    INVITE -> 200 OK exchange proper, through Kamailio and the callee.

The two wire intervals come from wrapping the caller's transport
(``TransportManager._send_datagram`` and ``_datagram_received``, set on the
instance before the sockets open): a timestamp and a look at the first bytes
of each datagram, nothing else.

Idle CPU: after the calls, both UAs stay registered (with ``expires`` of
``--expires`` seconds, so that they refresh about every ``expires - 5`` s)
for ``--idle-seconds``; ``time.process_time()`` over that period, scaled to
one minute, is the CPU the two UAs cost when nothing happens (Kamailio runs
in its own process and is not counted).

Everything started is stopped on the way out, also on Ctrl-C or an error:
the UAs (``stop()``) and Kamailio (its process group, by the PID it was
started with).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine_line
from softphone.sip.transaction import TimerSettings
from softphone.ua import Account, CallEvent, Event, RegistrationEvent, UserAgent
from tests.kamailio_server import Kamailio

TARGET_MEDIAN_MS = 15.0


class WireClock:
    """Timestamps of the caller's INVITEs going out and of 200s to INVITE coming in."""

    def __init__(self, ua: UserAgent) -> None:
        self.invites: list[float] = []
        self.oks: list[float] = []
        manager = ua.stack.transport
        send = manager._send_datagram
        received = manager._datagram_received

        def timed_send(endpoint: Any, data: bytes, target: Any, **kwargs: Any) -> None:
            send(endpoint, data, target, **kwargs)
            if data.startswith(b"INVITE "):
                self.invites.append(time.perf_counter())

        def timed_received(endpoint: Any, data: bytes, address: Any) -> None:
            if data.startswith(b"SIP/2.0 200") and b" INVITE\r\n" in data.split(b"\r\n\r\n", 1)[0]:
                self.oks.append(time.perf_counter())
            received(endpoint, data, address)

        manager._send_datagram = timed_send  # type: ignore[method-assign]
        manager._datagram_received = timed_received  # type: ignore[method-assign]

    def reset(self) -> None:
        self.invites.clear()
        self.oks.clear()


class Waiter:
    """Events of one UA, with a bounded wait for the next one that matches."""

    def __init__(self, ua: UserAgent) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        ua.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait(self, predicate: Callable[[Event], bool], after: int, timeout: float = 10.0) -> Event:
        deadline = time.monotonic() + timeout
        index = after
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if predicate(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching event within {timeout} s; last events: {self.events[-5:]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def row(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:22} {'(none)':>8}"
    return (
        f"{name:22} {statistics.median(values):8.2f} {percentile(values, 0.9):8.2f} "
        f"{max(values):8.2f} {min(values):8.2f} {len(values):6d}"
    )


def is_state(state: str, call_id: str | None = None) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, CallEvent) and e.state == state and (call_id is None or e.call_id == call_id)


def registered(e: Event) -> bool:
    return isinstance(e, RegistrationEvent) and e.state == "registered"


async def run(server: Kamailio, calls: int, idle_seconds: float, expires: int) -> None:
    accounts = []
    for role in ("caller", "callee"):
        user = f"{role}{secrets.token_hex(3)}"
        password = secrets.token_hex(8)
        server.add_user(user, password)
        accounts.append(
            Account(
                server.aor(user),
                password,
                registrar=server.proxy_uri("udp"),
                expires=expires,
                auto_answer=0 if role == "callee" else None,
            )
        )
    # Default RFC 3261 timers (T1 500 ms): nothing is retransmitted on loopback unless something is lost.
    options: dict[str, Any] = {"listen": [("UDP", "127.0.0.1", 0)], "timers": TimerSettings()}
    caller = UserAgent([accounts[0]], **options)
    callee = UserAgent([accounts[1]], **options)
    clock = WireClock(caller)  # before start(): the socket takes the wrapped receive callback
    started: list[UserAgent] = []
    try:
        for ua in (caller, callee):
            await ua.start()
            started.append(ua)
        caller_events, callee_events = Waiter(caller), Waiter(callee)
        await caller.register()
        await callee.register()
        await caller_events.wait(registered, 0)
        await callee_events.wait(registered, 0)

        api_ms: list[float] = []
        first_ms: list[float] = []
        auth_ms: list[float] = []
        for _ in range(calls):
            mark, callee_mark = len(caller_events.events), len(callee_events.events)
            clock.reset()
            start = time.perf_counter()
            call = await caller.call(accounts[1].user)
            await caller_events.wait(is_state("confirmed", call.id), mark)
            api_ms.append((time.perf_counter() - start) * 1000)
            if clock.invites and clock.oks:
                first_ms.append((clock.oks[0] - clock.invites[0]) * 1000)
                auth_ms.append((clock.oks[0] - clock.invites[-1]) * 1000)
            await callee_events.wait(is_state("confirmed"), callee_mark)
            await caller.hangup(call.id)
            await caller_events.wait(is_state("ended", call.id), mark)
            await callee_events.wait(is_state("ended"), callee_mark)

        print(f"Call set-up, {calls} sequential calls, callee auto-answers at once (ms):")
        print(f"{'':22} {'median':>8} {'p90':>8} {'max':>8} {'min':>8} {'calls':>6}")
        print(row("call() -> confirmed", api_ms))
        print(row("1st INVITE -> 200", first_ms))
        print(row("auth INVITE -> 200", auth_ms))
        if api_ms:
            median = statistics.median(api_ms)
            verdict = "met" if median <= TARGET_MEDIAN_MS else "NOT met"
            print(f"target: median call() -> confirmed <= {TARGET_MEDIAN_MS:.0f} ms: {verdict} ({median:.2f} ms)")

        if idle_seconds > 0:
            registers = caller.stack.sent["REGISTER"] + callee.stack.sent["REGISTER"]
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            await asyncio.sleep(idle_seconds)
            cpu = time.process_time() - cpu_start
            wall = time.perf_counter() - wall_start
            registers = caller.stack.sent["REGISTER"] + callee.stack.sent["REGISTER"] - registers
            print()
            print(
                f"Idle, both UAs registered (expires {expires} s): {cpu:.4f} CPU s in {wall:.1f} s "
                f"= {cpu / wall * 60:.4f} CPU s per minute ({registers} REGISTER requests sent meanwhile)"
            )
    finally:
        for ua in reversed(started):
            try:
                await asyncio.wait_for(ua.stop(), 10.0)
            except Exception as exc:  # keep stopping the others
                print(f"stopping a UA failed: {exc!r}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--calls", type=int, default=50, help="sequential calls to time (default 50)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="registered-and-idle period (default 60)")
    parser.add_argument("--expires", type=int, default=20, help="registration expiry asked for, seconds (default 20)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 calls, 5 s idle")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.idle_seconds = 5, 5.0
    if args.calls < 1 or args.idle_seconds < 0 or args.expires < 1:
        parser.error("--calls and --expires must be positive, --idle-seconds not negative")

    print(machine_line())
    # SIGTERM ends the run the way Ctrl-C does, through the clean-up below.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    server = Kamailio(debug=1)
    try:
        server.start()
        print(f"Kamailio pid {server.pid} on 127.0.0.1:{server.udp_port} (UDP)")
        asyncio.run(run(server, args.calls, args.idle_seconds, args.expires))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An in-process UDP relay on loopback that impairs traffic: loss, duplication, reordering, delay.

Two endpoints A and B talk through the relay instead of to each other: A sends
to :attr:`LossyRelay.address_a`, B to :attr:`LossyRelay.address_b`. What
arrives on side A is forwarded from side B's socket to endpoint B, and the
other way round, so each endpoint sees the relay as its peer (symmetric RTP
latches onto it). An endpoint given as ``None`` is learnt from the first
datagram that arrives on its side.

Every datagram independently meets, with the relay's seeded random generator:
loss (dropped), a delay drawn uniformly from ``delay_ms``, reordering (held back
by an extra ``reorder_ms`` so later datagrams overtake it) and duplication (a
second copy with its own delay). The relay only binds and sends on loopback
addresses. It runs one thread that stops on :meth:`LossyRelay.close`.

With ``record_drops=True`` the relay also keeps every datagram it drops (as a
:class:`DroppedDatagram`, readable with :meth:`LossyRelay.dropped_datagrams`),
so a test or benchmark can tell exactly which packets never arrived, e.g. to
replay the same losses through a codec alone. Recording draws nothing from the
random generator: the same seed drops the same datagrams either way.
"""

from __future__ import annotations

import heapq
import ipaddress
import random
import select
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

__all__ = ["DroppedDatagram", "LossyRelay", "RelayStats"]

Address = tuple[Any, ...]

_MAX_DATAGRAM = 65535
_MAX_QUEUED = 10000
_POLL = 0.05
_MAX_RECORDED = 1_000_000


@dataclass(frozen=True, slots=True)
class RelayStats:
    received: int
    forwarded: int
    dropped: int
    duplicated: int
    reordered: int
    overflow: int
    unknown_source: int


@dataclass(frozen=True, slots=True)
class DroppedDatagram:
    """One datagram the relay dropped (kept only with ``record_drops=True``).

    ``side``: where it came in ("a": sent by endpoint A towards B, "b": the other way).
    ``index``: its place among the datagrams that came in from that side's endpoint, from 0.
    ``reason``: "loss" (the random loss), or "no_peer" (the other endpoint was not known yet).
    ``time``: ``time.monotonic()`` when it came in.
    """

    side: Literal["a", "b"]
    index: int
    reason: Literal["loss", "no_peer"]
    time: float
    data: bytes


def _require_loopback(host: str, what: str) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"LossyRelay works on loopback only; {what} {host!r} is not a loopback address")


class LossyRelay:
    """A lossy, jittery UDP relay between two loopback endpoints; see the module documentation."""

    def __init__(
        self,
        endpoint_a: Address | None,
        endpoint_b: Address | None,
        *,
        host: str = "127.0.0.1",
        loss: float = 0.05,
        duplicate: float = 0.01,
        reorder: float = 0.02,
        delay_ms: tuple[float, float] = (20.0, 50.0),
        reorder_ms: float = 40.0,
        seed: int | None = 0,
        record_drops: bool = False,
    ) -> None:
        for name, p in (("loss", loss), ("duplicate", duplicate), ("reorder", reorder)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} probability {p} outside 0..1")
        low, high = delay_ms
        if not 0 <= low <= high:
            raise ValueError(f"delay spread {delay_ms} must satisfy 0 <= low <= high")
        _require_loopback(host, "relay host")
        for name, endpoint in (("endpoint A", endpoint_a), ("endpoint B", endpoint_b)):
            if endpoint is not None:
                _require_loopback(str(endpoint[0]), name)
        self.loss = loss
        self.duplicate = duplicate
        self.reorder = reorder
        self.delay_ms = (float(low), float(high))
        self.reorder_ms = reorder_ms
        self._rng = random.Random(seed)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock_a = socket.socket(family, socket.SOCK_DGRAM)
        self._sock_b = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock_a.bind((host, 0))
            self._sock_b.bind((host, 0))
        except OSError:
            self._sock_a.close()
            self._sock_b.close()
            raise
        self._sock_a.setblocking(False)
        self._sock_b.setblocking(False)
        self._endpoint_a = None if endpoint_a is None else tuple(endpoint_a)
        self._endpoint_b = None if endpoint_b is None else tuple(endpoint_b)
        self._queue: list[tuple[float, int, socket.socket, bytes, Address]] = []
        self._counter = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._received = 0
        self._forwarded = 0
        self._dropped = 0
        self._duplicated = 0
        self._reordered = 0
        self._overflow = 0
        self._unknown = 0
        self.record_drops = record_drops
        self._recorded: list[DroppedDatagram] = []
        self._index = {"a": 0, "b": 0}
        self._thread = threading.Thread(target=self._run, name="lossy-relay", daemon=True)
        self._thread.start()

    @property
    def address_a(self) -> Address:
        """Where endpoint A sends (its view of the peer)."""
        return tuple(self._sock_a.getsockname())

    @property
    def address_b(self) -> Address:
        """Where endpoint B sends."""
        return tuple(self._sock_b.getsockname())

    def set_endpoints(self, endpoint_a: Address | None, endpoint_b: Address | None) -> None:
        for name, endpoint in (("endpoint A", endpoint_a), ("endpoint B", endpoint_b)):
            if endpoint is not None:
                _require_loopback(str(endpoint[0]), name)
        with self._lock:
            self._endpoint_a = None if endpoint_a is None else tuple(endpoint_a)
            self._endpoint_b = None if endpoint_b is None else tuple(endpoint_b)

    def stats(self) -> RelayStats:
        with self._lock:
            return RelayStats(
                received=self._received,
                forwarded=self._forwarded,
                dropped=self._dropped,
                duplicated=self._duplicated,
                reordered=self._reordered,
                overflow=self._overflow,
                unknown_source=self._unknown,
            )

    def dropped_datagrams(self) -> list[DroppedDatagram]:
        """The datagrams dropped so far, in arrival order (empty unless ``record_drops`` is on).

        At most a million are kept; later drops are still counted in :meth:`stats`.
        """
        with self._lock:
            return list(self._recorded)

    def _record(
        self, side: Literal["a", "b"], index: int, reason: Literal["loss", "no_peer"], now: float, data: bytes
    ) -> None:
        if self.record_drops and len(self._recorded) < _MAX_RECORDED:
            self._recorded.append(DroppedDatagram(side, index, reason, now, data))

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread (joined, bounded) and close both sockets; queued datagrams are discarded."""
        self._closed.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._sock_a.close()
        self._sock_b.close()

    def __enter__(self) -> LossyRelay:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the relay thread ---------------------------------------------------------

    def _run(self) -> None:
        socks = [self._sock_a, self._sock_b]
        while not self._closed.is_set():
            now = time.monotonic()
            self._flush(now)
            timeout = _POLL
            with self._lock:
                if self._queue:
                    timeout = min(_POLL, max(0.0, self._queue[0][0] - now))
            try:
                readable, _, _ = select.select(socks, [], [], timeout)
            except (OSError, ValueError):
                return
            for sock in readable:
                self._drain(sock)

    def _drain(self, sock: socket.socket) -> None:
        for _ in range(256):
            try:
                data, source = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # ICMP errors from earlier sends
            self._accept(sock, data, tuple(source))

    def _accept(self, sock: socket.socket, data: bytes, source: Address) -> None:
        now = time.monotonic()
        with self._lock:
            self._received += 1
            side: Literal["a", "b"]
            if sock is self._sock_a:
                if self._endpoint_a is None:
                    self._endpoint_a = source
                elif source[:2] != self._endpoint_a[:2]:
                    self._unknown += 1
                    return
                out, dest, side = self._sock_b, self._endpoint_b, "a"
            else:
                if self._endpoint_b is None:
                    self._endpoint_b = source
                elif source[:2] != self._endpoint_b[:2]:
                    self._unknown += 1
                    return
                out, dest, side = self._sock_a, self._endpoint_a, "b"
            index = self._index[side]
            self._index[side] = index + 1
            if dest is None:
                self._dropped += 1  # the other side has not shown up yet
                self._record(side, index, "no_peer", now, data)
                return
            rng = self._rng
            if rng.random() < self.loss:
                self._dropped += 1
                self._record(side, index, "loss", now, data)
                return
            copies = 1
            if rng.random() < self.duplicate:
                copies = 2
                self._duplicated += 1
            for _ in range(copies):
                delay = rng.uniform(*self.delay_ms) / 1000.0
                if rng.random() < self.reorder:
                    delay += self.reorder_ms / 1000.0
                    self._reordered += 1
                if len(self._queue) >= _MAX_QUEUED:
                    self._overflow += 1
                    continue
                self._counter += 1
                heapq.heappush(self._queue, (now + delay, self._counter, out, data, dest))

    def _flush(self, now: float) -> None:
        while True:
            with self._lock:
                if not self._queue or self._queue[0][0] > now:
                    return
                _, _, out, data, dest = heapq.heappop(self._queue)
            try:
                out.sendto(data, dest)
            except OSError:
                continue
            with self._lock:
                self._forwarded += 1

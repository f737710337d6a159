"""What the transport lets a peer cost: connections, time and memory, and the one log line per minute about it."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from softphone.sip.parser import MAX_HEADER_FIELDS

log = logging.getLogger("softphone.transport")


@dataclass(frozen=True, slots=True)
class TransportLimits:
    """Limits of one :class:`~softphone.transport.TransportManager`; past one it refuses or closes.

    Connections (TCP and TLS, a TLS handshake in progress included):

    ``max_connections``
        open at once, both directions. Beyond it an accepted connection is
        closed at once and :meth:`TransportManager.send` raises
        :class:`TransportError` instead of connecting.
    ``max_inbound_connections``
        of those, opened by peers: the rest stays free for the UA's own
        connections (to its registrar, to the peers it calls) while
        strangers fill theirs.
    ``max_connections_per_ip``
        opened by one peer address (an IPv6 peer by its /64: one host may
        hold a whole /64).

    Time, on every connection:

    ``idle_timeout``
        closed after this many seconds without a byte either way, unless it
        carries an RFC 5626 keep-alive we send.
    ``header_timeout``, ``body_timeout``
        a message must complete its header section within ``header_timeout``
        seconds of its first byte, and its body within ``body_timeout`` (a
        slow sender holds a connection and a buffer for no more than that).

    Memory:

    ``max_buffered_bytes``
        bytes one connection may hold of a message not yet complete: its
        header section (no more than 64 KiB) and its Content-Length; a
        message announcing more closes the connection (RFC 3261 18.3: the
        stream can't be resynchronised).
    ``max_header_fields``
        header fields per message, on every transport (a 400 over UDP).

    ``log_interval``: the first event past a limit is logged at once, the
    ones after it as one summary line per interval.
    """

    max_connections: int = 256
    max_inbound_connections: int = 192
    max_connections_per_ip: int = 16
    idle_timeout: float = 300.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_buffered_bytes: int = 256 * 1024
    max_header_fields: int = MAX_HEADER_FIELDS
    log_interval: float = 60.0

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_inbound_connections", "max_connections_per_ip", "max_header_fields"):
            if getattr(self, name) < 1:
                raise ValueError(f"TransportLimits.{name} must be at least 1, not {getattr(self, name)}")
        for name in ("idle_timeout", "header_timeout", "body_timeout", "log_interval"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TransportLimits.{name} must be positive, not {getattr(self, name)}")
        if self.max_buffered_bytes < 1024:
            raise ValueError(f"TransportLimits.max_buffered_bytes must be at least 1024, not {self.max_buffered_bytes}")
        if self.max_inbound_connections > self.max_connections:
            raise ValueError("TransportLimits.max_inbound_connections can't exceed max_connections")
        if self.body_timeout < self.header_timeout:
            raise ValueError("TransportLimits.body_timeout can't be shorter than header_timeout")


def address_group(host: str) -> str:
    """The unit ``max_connections_per_ip`` counts: an IPv4 address, or an IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class LimitLog:
    """Events past a limit, logged as the first one and then one summary line per interval.

    ``note(what, peer)`` counts an event ("refused TCP connections: 16 from one
    address"); a flood of them costs one WARNING line a minute, naming how many
    of each there were and the last peer.
    """

    def __init__(
        self, interval: float, clock: Callable[[], float] = time.monotonic, *, logger: logging.Logger | None = None
    ) -> None:
        self.interval = interval
        self._log = logger if logger is not None else log
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._last_peer: dict[str, str] = {}
        self._window_end: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.total = 0

    def note(self, what: str, peer: str | None = None) -> None:
        self.total += 1
        if self._window_end is not None and self._clock() >= self._window_end:
            self._window_over()
        if self._window_end is None:
            self._log.warning("%s%s; more of this is summarised every %g s", what, _from(peer), self.interval)
            self._window_end = self._clock() + self.interval
            self._schedule()
            return
        self._counts[what] = self._counts.get(what, 0) + 1
        if peer is not None:
            self._last_peer[what] = peer

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the next note() sees that the window is over
        self._timer = loop.call_later(self.interval, self._window_over)

    def _window_over(self) -> None:
        """Summarise the window that ended; a flood goes on into the next one, a quiet spell ends it."""
        if self._counts:
            self._flush()
            self._window_end = self._clock() + self.interval
            self._schedule()
        else:
            self._window_end = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _flush(self) -> None:
        if not self._counts:
            return
        parts = [
            f"{what}: {count} time{'s' if count > 1 else ''}{_from(self._last_peer.get(what), 'last ')}"
            for what, count in self._counts.items()
        ]
        self._log.warning("in the last %g s: %s", self.interval, "; ".join(parts))
        self._counts.clear()
        self._last_peer.clear()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._flush()


def _from(peer: str | None, prefix: str = "") -> str:
    return "" if peer is None else f" ({prefix}from {peer})"

"""What one sender may make the user agent spend."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["REFUSAL_LOG_INTERVAL", "Limits", "RateLimiter"]

# What services refuse is logged once at first, then summed up this often (softphone.transport.LimitLog).
REFUSAL_LOG_INTERVAL = 60.0


@dataclass(frozen=True)
class Limits:
    """The user agent's limits, each with a default safe for a phone on a public address.

    ``max_ringing``: incoming calls ringing at once (more get 486), ``max_ringing_per_source``
    of them from one address (so one sender cannot take every line). ``max_calls``: calls of any
    kind at once (more get 486). ``ring_timeout``: seconds an unanswered call rings before it
    ends as missed (480), None for ever. ``requests_per_second`` and ``request_burst``: new
    requests a source address may send (its token bucket); beyond that they are dropped
    unanswered. Our own servers are not limited: a presence server relays bursts of NOTIFYs.
    ``sources``: how many source addresses the buckets remember (the oldest are forgotten).
    ``log_interval``: what was dropped is logged once at first, then summarised this often.
    """

    max_ringing: int = 4
    max_ringing_per_source: int = 2
    max_calls: int = 16
    ring_timeout: float | None = 60.0
    requests_per_second: float = 20.0
    request_burst: int = 60
    sources: int = 4096
    log_interval: float = 60.0

    def __post_init__(self) -> None:
        if min(self.max_ringing, self.max_ringing_per_source, self.max_calls, self.sources) < 1:
            raise ValueError("call and source limits must be at least 1")
        if self.requests_per_second <= 0 or self.request_burst < 1:
            raise ValueError("the request rate and burst must be positive")
        if self.ring_timeout is not None and self.ring_timeout <= 0:
            raise ValueError("the ring timeout must be positive (or None)")


class RateLimiter:
    """Token buckets by key (a source address, a sender): ``rate`` tokens a second up to ``burst``.

    At most ``keys`` buckets are kept, the least recently used forgotten first, so a flood from
    invented sources or senders cannot grow the table.
    """

    def __init__(self, rate: float, burst: int, keys: int = 4096) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.keys = keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    @classmethod
    def per_minute(cls, count: int, keys: int = 4096) -> RateLimiter:
        """``count`` a minute, all of them at once if need be."""
        return cls(count / 60.0, count, keys)

    def allow(self, key: Hashable, now: float) -> bool:
        return self.take(key, now) is None

    def take(self, key: Hashable, now: float) -> float | None:
        """Spend a token of ``key``: None when there was one, else the seconds until there is."""
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = None if tokens >= 1.0 else (1.0 - tokens) / self.rate
        if wait is None:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.keys:
            self._buckets.popitem(last=False)
        return wait

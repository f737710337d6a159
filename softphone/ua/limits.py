"""What one sender may make the user agent spend, and a log that says so once a minute, not once a packet."""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["DropLog", "Limits", "RateLimiter"]


@dataclass(frozen=True)
class Limits:
    """The user agent's limits, each with a default safe for a phone on a public address.

    ``max_ringing``: incoming calls ringing at once (more get 486). ``max_calls``: calls of any
    kind at once (more get 486). ``ring_timeout``: seconds an unanswered call rings before it
    ends as missed (480), None for ever. ``requests_per_second`` and ``request_burst``: new
    requests a source address may send (its token bucket); beyond that they are dropped
    unanswered. Our own servers are not limited: a presence server relays bursts of NOTIFYs.
    ``sources``: how many source addresses the buckets remember (the oldest are forgotten).
    """

    max_ringing: int = 4
    max_calls: int = 16
    ring_timeout: float | None = 60.0
    requests_per_second: float = 20.0
    request_burst: int = 60
    sources: int = 4096

    def __post_init__(self) -> None:
        if self.max_ringing < 1 or self.max_calls < 1 or self.sources < 1:
            raise ValueError("call and source limits must be at least 1")
        if self.requests_per_second <= 0 or self.request_burst < 1:
            raise ValueError("the request rate and burst must be positive")
        if self.ring_timeout is not None and self.ring_timeout <= 0:
            raise ValueError("the ring timeout must be positive (or None)")


class RateLimiter:
    """Token buckets by key: ``rate`` tokens a second up to ``burst``; at most ``keys`` buckets kept."""

    def __init__(self, rate: float, burst: int, keys: int = 4096) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.keys = keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def allow(self, key: Hashable, now: float) -> bool:
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.keys:
            self._buckets.popitem(last=False)
        return allowed


class DropLog:
    """Counts refusals by reason and logs them as one summary line per ``interval`` seconds."""

    def __init__(self, logger: logging.Logger, what: str, interval: float = 60.0) -> None:
        self._log = logger
        self._what = what
        self._interval = interval
        self._counts: Counter[str] = Counter()
        self._since: float | None = None
        # Every refusal since the start, by reason (the log line covers one period).
        self.total: Counter[str] = Counter()

    def count(self, reason: str, now: float) -> None:
        self.total[reason] += 1
        self._counts[reason] += 1
        if self._since is None:
            self._since = now
        elif now - self._since >= self._interval:
            self.flush(now)

    def flush(self, now: float) -> None:
        if self._counts:
            reasons = ", ".join(f"{count} {reason}" for reason, count in self._counts.most_common())
            self._log.warning("%s in the last %.0f s: %s", self._what, now - (self._since or now), reasons)
        self._counts = Counter()
        self._since = None

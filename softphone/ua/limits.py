"""Bounds on what strangers can make the user agent do: a per-sender rate and a summary log of refusals.

:class:`RateLimiter` counts requests per key (a sender's URI) in fixed
one-minute windows and remembers a bounded number of keys, so a flood from
invented senders cannot grow it. :class:`RefusalLog` turns refusals into at
most one log line per interval: the first refusal of a quiet period is logged
at once, the rest are counted and summed up when the interval ends.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable

__all__ = ["RateLimiter", "RefusalLog"]

WINDOW = 60.0


class RateLimiter:
    """At most ``limit`` events per key in each ``window`` seconds; ``clock`` is monotonic seconds."""

    def __init__(self, limit: int | None, clock: Callable[[], float], *, window: float = WINDOW, keys: int = 4096):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._keys = keys
        self._counts: collections.OrderedDict[str, tuple[float, int]] = collections.OrderedDict()

    def take(self, key: str) -> float | None:
        """Count one event of ``key``: None when within the limit, else the seconds until the window frees."""
        if self.limit is None:
            return None
        now = self._clock()
        start, count = self._counts.pop(key, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        if count >= self.limit:
            self._counts[key] = (start, count)
            return max(1.0, start + self.window - now)
        self._counts[key] = (start, count + 1)
        while len(self._counts) > self._keys:
            self._counts.popitem(last=False)
        return None


class RefusalLog:
    """Refusals as one log line per ``interval``: ``note(reason)`` from the loop; ``call_later`` schedules
    the summary (a loop's ``call_later``)."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        call_later: Callable[[float, Callable[[], None]], object],
        *,
        interval: float = WINDOW,
    ) -> None:
        self._log = logger
        self._what = what
        self._call_later = call_later
        self._interval = interval
        self._counts: collections.Counter[str] = collections.Counter()
        self._open = False

    def note(self, reason: str) -> None:
        if not self._open:
            self._open = True
            self._log.warning("%s refused (%s); further refusals are summed up once a minute", self._what, reason)
            self._call_later(self._interval, self._flush)
            return
        self._counts[reason] += 1

    def _flush(self) -> None:
        if not self._counts:
            self._open = False
            return
        total = sum(self._counts.values())
        detail = ", ".join(f"{n} {reason}" for reason, n in self._counts.most_common())
        self._log.warning("%d more %s refused in the last minute: %s", total, self._what, detail)
        self._counts.clear()
        self._call_later(self._interval, self._flush)

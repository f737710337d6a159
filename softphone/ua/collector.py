"""When Python's cyclic collector may run a full collection: when the phone is idle, not in a burst.

A full collection scans every tracked object while holding the interpreter lock, so it stalls the UA
loop, the GUI thread and the media thread alike; with 1,000 live presence subscriptions it took 80-120
ms, and the interpreter starts one whenever enough objects have survived, which is in a burst of
NOTIFYs. :class:`CollectorPolicy` takes that decision away from the allocation counter:

* automatic full collections are off (the oldest generation's threshold is out of reach); the two
  young generations keep collecting as usual, and they only scan what was made since;
* once a second it looks how many young collections ran: few means the process is quiet. After
  ``quiet_seconds`` of quiet, with no call up, it collects what the young generations promoted since
  the last time and freezes the survivors (``gc.freeze()``: kept out of every later scan);
* every ``sweep_every`` seconds, when quiet, it unfreezes everything for one full collection, so
  what was long-lived and died since (an ended subscription) is reclaimed too;
* when the process is never quiet for ``longest_busy`` seconds (or a call lasts that long), it
  collects the promoted objects anyway: they are what one busy stretch made, not everything.

The policy lives on the UA loop (:func:`manage_collector`); the CLI and the desktop application
install it once the UA has started.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from softphone.ua.agent import UserAgent

__all__ = ["CollectorPolicy", "Decision", "manage_collector"]

log = logging.getLogger(__name__)

# The oldest generation's threshold: counts young collections, so it is never reached.
NO_AUTOMATIC_FULL = 1 << 30

Decision = Literal["collect", "sweep"] | None


@dataclass
class CollectorPolicy:
    """See the module documentation. ``busy`` says whether something the user hears is running (a call)."""

    busy: Callable[[], bool] = lambda: False
    check_every: float = 1.0
    quiet_seconds: float = 2.0
    # Young collections a second below which the process counts as quiet (700 new objects each).
    quiet_rate: float = 3.0
    longest_busy: float = 60.0
    sweep_every: float = 600.0

    def __post_init__(self) -> None:
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._saved_threshold: tuple[int, int, int] | None = None
        self._young_seen = 0
        self._quiet_since: float | None = None
        self._last_collect = 0.0
        self._last_sweep = 0.0
        self._pending = False

    @property
    def installed(self) -> bool:
        return self._saved_threshold is not None

    def install(self, loop: asyncio.AbstractEventLoop, now: float | None = None) -> None:
        """Take over full collections; freeze what start-up built. Checks run on ``loop``."""
        if self.installed:
            return
        now = time.monotonic() if now is None else now
        # No collection first: at start-up that would be a full scan just when the first requests go out.
        gc.freeze()
        threshold = gc.get_threshold()
        self._saved_threshold = threshold
        gc.set_threshold(threshold[0], threshold[1], NO_AUTOMATIC_FULL)
        self._young_seen = _young_collections()
        self._last_collect = self._last_sweep = now
        self._quiet_since = now
        self._loop = loop
        self._handle = loop.call_later(self.check_every, self._tick)

    def uninstall(self) -> None:
        """Give full collections back to the interpreter (thresholds as they were)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._saved_threshold is not None:
            gc.set_threshold(*self._saved_threshold)
            self._saved_threshold = None
        self._loop = None

    def _tick(self) -> None:
        try:
            self.check(time.monotonic())
        finally:
            if self._loop is not None and not self._loop.is_closed():
                self._handle = self._loop.call_later(self.check_every, self._tick)

    def check(self, now: float) -> Decision:
        """Look at the young collections since the last check and collect if it is time; what was done."""
        young = _young_collections()
        ran, self._young_seen = young - self._young_seen, young
        if ran:
            self._pending = True  # objects were made, some may have been promoted
        quiet = ran <= self.quiet_rate * self.check_every and not self.busy()
        if not quiet:
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = now
        decision = self.decide(now)
        if decision is not None:
            self._collect(decision, now)
        return decision

    def decide(self, now: float) -> Decision:
        if self._quiet_since is not None and now - self._quiet_since >= self.quiet_seconds:
            if now - self._last_sweep >= self.sweep_every:
                return "sweep"
            return "collect" if self._pending else None
        if self._pending and now - self._last_collect >= self.longest_busy:
            return "collect"
        return None

    def _collect(self, decision: Decision, now: float) -> None:
        start = time.perf_counter()
        if decision == "sweep":
            gc.unfreeze()
            self._last_sweep = now
        found = gc.collect()
        gc.freeze()
        self._last_collect = now
        self._pending = False
        self._young_seen = _young_collections()
        log.debug("%s: %d unreachable, %.1f ms", decision, found, (time.perf_counter() - start) * 1000)


def _young_collections() -> int:
    stats = gc.get_stats()
    return int(stats[0]["collections"]) + int(stats[1]["collections"])


def manage_collector(ua: UserAgent) -> CollectorPolicy:
    """Install the collector policy on the running loop; full collections wait while a call is up."""
    policy = CollectorPolicy(busy=lambda: bool(ua.calls))
    policy.install(asyncio.get_running_loop())
    return policy

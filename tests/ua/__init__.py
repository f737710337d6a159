"""Tests of the user agent; helpers shared with tests/integration/test_ua_*.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from softphone.sip.transaction import TimerSettings
from softphone.ua import Account, Event, RetryPolicy, UserAgent

# Short timers so that timeouts and retries happen within a test.
FAST_TIMERS = TimerSettings(T1=0.1, T2=0.4, T4=0.5, D=1.0)
FAST_RETRY = RetryPolicy(first=0.3, maximum=1.0)


class Recorder:
    """Every event of a UserAgent, with waiting for the one a test expects."""

    def __init__(self, ua: UserAgent) -> None:
        self.ua = ua
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        ua.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait(self, predicate: Callable[[Event], bool], timeout: float = 10.0, *, after: int = 0) -> Event:
        """The first event from index ``after`` on that matches; fails after ``timeout`` seconds."""
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
                kinds = "\n".join(repr(e) for e in self.events)
                raise AssertionError(f"no matching event within {timeout} s; events so far:\n{kinds}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    def mark(self) -> int:
        return len(self.events)


def make_ua(*accounts: Account, **kwargs: object) -> UserAgent:
    """A UserAgent on loopback only, with short timers and retries."""
    options: dict[str, object] = {
        "listen": [("UDP", "127.0.0.1", 0), ("TCP", "127.0.0.1", 0)],
        "timers": FAST_TIMERS,
        "retry": FAST_RETRY,
    }
    options.update(kwargs)
    return UserAgent(list(accounts), **options)  # type: ignore[arg-type]

"""The limits on strangers (rate per sender, one log line a minute) and the flags events carry about them."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from softphone.cli import describe, printable
from softphone.ua import MessageEvent, WatcherEvent
from softphone.ua.limits import RateLimiter, RefusalLog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_counts_per_key_in_one_minute_windows() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock)
    assert [limiter.take("a") for _ in range(3)] == [None, None, None]
    clock.now += 20
    assert limiter.take("a") == 40.0  # the window frees 60 s after its first message
    assert limiter.take("b") is None  # another sender has its own count
    clock.now += 40
    assert limiter.take("a") is None
    limiter.limit = None
    assert all(limiter.take("a") is None for _ in range(10))


def test_rate_limiter_remembers_a_bounded_number_of_senders() -> None:
    limiter = RateLimiter(1, Clock(), keys=4)
    for n in range(100):
        assert limiter.take(f"sender{n}") is None
    assert len(limiter._counts) == 4
    assert limiter.take("sender99") is not None


def test_refusals_make_one_line_and_then_one_summary_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    timers: list[Callable[[], None]] = []
    log = RefusalLog(logging.getLogger("test.refusals"), "MESSAGEs", lambda _delay, callback: timers.append(callback))
    with caplog.at_level(logging.WARNING, logger="test.refusals"):
        for _ in range(500):
            log.note("too large")
        log.note("over the rate")
        assert len(caplog.records) == 1 and len(timers) == 1
        timers.pop()()  # a minute later
        assert len(caplog.records) == 2
        assert "500 more MESSAGEs refused" in caplog.records[1].message
        assert "499 too large" in caplog.records[1].message and "1 over the rate" in caplog.records[1].message
        timers.pop()()  # a quiet minute: nothing logged, the next refusal is logged at once again
        assert len(caplog.records) == 2 and not timers
        log.note("too large")
        assert len(caplog.records) == 3


def test_events_say_who_is_not_verified() -> None:
    request = MessageEvent("sip:mallory@evil.example", "hi", 1.0, "sip:me@example.com", 7, None, True)
    assert request.to_json()["from_stranger"] is True
    assert MessageEvent("sip:bob@example.com", "hi", 1.0).to_json()["from_stranger"] is False
    assert describe(request).startswith("message request from sip:mallory@evil.example")
    claimed = WatcherEvent("sip:alice@example.com", "pending", "sip:me@example.com", verified=False)
    assert claimed.to_json()["verified"] is False
    assert describe(claimed) == "watcher sip:alice@example.com: pending (identity not verified)"


def test_printable_neutralises_terminal_controls_only() -> None:
    assert printable("a\x1b[2Jb\x07\u202ec\x9b\n") == "a\\x1b[2Jb\\x07\\u202ec\\x9b\\x0a"
    assert printable("Grüße 👋 日本 — tab\there") == "Grüße 👋 日本 — tab\\x09here"

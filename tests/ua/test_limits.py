"""The user agent's limits: token buckets per source or sender, the settings' checks, the refusal log,
and the flags events carry about strangers."""

from __future__ import annotations

import logging

import pytest

from softphone.cli import describe, printable
from softphone.transport import LimitLog
from softphone.ua import MessageEvent, WatcherEvent
from softphone.ua.limits import Limits, RateLimiter


def test_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = RateLimiter(rate=10.0, burst=5)
    assert [bucket.allow("a", 0.0) for _ in range(7)] == [True] * 5 + [False] * 2
    # Another source has its own bucket.
    assert bucket.allow("b", 0.0)
    # 0.1 s later one token is back for "a"; 1 s later the burst is full again, not more.
    assert bucket.allow("a", 0.1) and not bucket.allow("a", 0.1)
    assert [bucket.allow("a", 1.2) for _ in range(6)] == [True] * 5 + [False]


def test_bucket_forgets_the_oldest_sources() -> None:
    bucket = RateLimiter(rate=1.0, burst=1, keys=2)
    assert bucket.allow("a", 0.0) and not bucket.allow("a", 0.0)
    bucket.allow("b", 0.0)
    bucket.allow("c", 0.0)  # "a" is forgotten: a spoofed-source flood cannot grow the table
    assert len(bucket._buckets) == 2
    assert bucket.allow("a", 0.0)


@pytest.mark.parametrize(
    "options",
    [{"max_ringing": 0}, {"max_calls": 0}, {"requests_per_second": 0}, {"request_burst": 0}, {"ring_timeout": 0}],
)
def test_limits_refuse_nonsense(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Limits(**options)  # type: ignore[arg-type]


def test_per_minute_says_how_long_to_wait() -> None:
    limiter = RateLimiter.per_minute(3)
    assert [limiter.take("a", 100.0) for _ in range(3)] == [None, None, None]
    assert limiter.take("a", 100.0) == pytest.approx(20.0)  # one message a 20 s comes back
    assert limiter.take("b", 100.0) is None  # another sender has its own count
    assert limiter.take("a", 120.0) is None


def test_refusals_make_one_line_and_then_one_summary_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    log = LimitLog(60.0, lambda: now[0], logger=logging.getLogger("test.refusals"))
    with caplog.at_level(logging.WARNING, logger="test.refusals"):
        for _ in range(500):
            log.note("MESSAGEs refused: too large")
        log.note("MESSAGEs refused: over the rate")
        assert len(caplog.records) == 1
        now[0] += 61
        log.note("MESSAGEs refused: too large")  # the window is over: the summary goes out
        assert len(caplog.records) == 2
        assert "499 times" in caplog.records[1].message and "over the rate: 1 time" in caplog.records[1].message


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

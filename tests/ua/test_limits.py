"""The user agent's limits: token buckets per source, and the settings' checks."""

from __future__ import annotations

import pytest

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

"""LossyRelay: a seeded, impaired UDP relay between two loopback endpoints."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.media_relay import LossyRelay

LOOPBACK = "127.0.0.1"


@pytest.fixture
def endpoints() -> Iterator[tuple[socket.socket, socket.socket]]:
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind((LOOPBACK, 0))
    b.bind((LOOPBACK, 0))
    a.settimeout(0.2)
    b.settimeout(0.2)
    yield a, b
    a.close()
    b.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def collect(sock: socket.socket, quiet: float = 0.3, limit: float = 5.0) -> list[bytes]:
    """Datagrams until none arrives for `quiet` seconds (bounded by `limit`)."""
    got: list[bytes] = []
    sock.settimeout(quiet)
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            data, _ = sock.recvfrom(2048)
        except TimeoutError:
            break
        got.append(data)
    return got


def test_clean_relay_forwards_both_ways_from_its_own_sockets(
    endpoints: tuple[socket.socket, socket.socket],
) -> None:
    a, b = endpoints
    with LossyRelay(a.getsockname(), b.getsockname(), loss=0, duplicate=0, reorder=0, delay_ms=(0, 0)) as relay:
        a.sendto(b"to-b", relay.address_a)
        data, source = b.recvfrom(100)
        assert data == b"to-b" and source == relay.address_b
        b.sendto(b"to-a", relay.address_b)
        data, source = a.recvfrom(100)
        assert data == b"to-a" and source == relay.address_a
        assert wait_until(lambda: relay.stats().forwarded == 2)  # counted just after the send
        stats = relay.stats()
        assert stats.received == 2 and stats.dropped == 0


def test_impairments_are_counted_and_seeded(endpoints: tuple[socket.socket, socket.socket]) -> None:
    a, b = endpoints
    count = 400
    results = []
    for _ in range(2):
        with LossyRelay(
            a.getsockname(), b.getsockname(), loss=0.2, duplicate=0.1, reorder=0.1, delay_ms=(1, 5), seed=42
        ) as relay:
            got: list[bytes] = []

            def read(out: list[bytes] = got) -> None:
                out.extend(collect(b))

            reader = threading.Thread(target=read)  # read while sending: the socket buffer is small
            reader.start()
            for i in range(count):
                a.sendto(i.to_bytes(4, "big"), relay.address_a)
                if i % 20 == 0:
                    time.sleep(0.002)
            reader.join(10.0)
            stats = relay.stats()
        assert stats.received == count
        assert 40 < stats.dropped < 120
        assert stats.duplicated > 10 and stats.reordered > 10
        assert len(got) == stats.forwarded == count - stats.dropped + stats.duplicated
        order = [int.from_bytes(d, "big") for d in got]
        assert any(later < earlier for earlier, later in itertools.pairwise(order))
        assert len(set(order)) < len(order)  # duplicates arrived
        results.append((stats.dropped, stats.duplicated, stats.reordered))
    assert results[0] == results[1]


def test_delay_spread_is_applied(endpoints: tuple[socket.socket, socket.socket]) -> None:
    a, b = endpoints
    with LossyRelay(a.getsockname(), b.getsockname(), loss=0, duplicate=0, reorder=0, delay_ms=(60, 80)) as relay:
        sent = time.monotonic()
        a.sendto(b"x", relay.address_a)
        b.settimeout(2.0)
        b.recvfrom(10)
        assert time.monotonic() - sent >= 0.055


def test_unknown_endpoints_are_learnt(endpoints: tuple[socket.socket, socket.socket]) -> None:
    a, b = endpoints
    with LossyRelay(None, None, loss=0, duplicate=0, reorder=0, delay_ms=(0, 0)) as relay:
        b.sendto(b"hello", relay.address_b)  # B announces itself; A is still unknown, so dropped
        assert wait_until(lambda: relay.stats().dropped == 1)
        a.sendto(b"ping", relay.address_a)
        assert b.recvfrom(10)[0] == b"ping"
        b.sendto(b"pong", relay.address_b)
        assert a.recvfrom(10)[0] == b"pong"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            stranger.sendto(b"intrude", relay.address_a)
            assert wait_until(lambda: relay.stats().unknown_source == 1)


def test_only_loopback_is_allowed() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LossyRelay(("192.0.2.1", 5000), (LOOPBACK, 5002))
    with pytest.raises(ValueError, match="loopback"):
        LossyRelay(None, None, host="0.0.0.0")
    with pytest.raises(ValueError):
        LossyRelay(None, None, loss=1.5)
    with pytest.raises(ValueError):
        LossyRelay(None, None, delay_ms=(50, 20))


def test_close_joins_the_thread() -> None:
    before = {t.ident for t in threading.enumerate() if t.name == "lossy-relay"}
    relay = LossyRelay(None, None)
    relay.close()
    after = {t.ident for t in threading.enumerate() if t.name == "lossy-relay"}
    assert after <= before


def test_dropped_datagrams_are_recorded_when_asked(endpoints: tuple[socket.socket, socket.socket]) -> None:
    a, b = endpoints
    count = 300
    outcomes = []
    for record in (True, False):
        with LossyRelay(
            a.getsockname(),
            b.getsockname(),
            loss=0.2,
            duplicate=0,
            reorder=0,
            delay_ms=(0, 0),
            seed=11,
            record_drops=record,
        ) as relay:
            got: list[bytes] = []

            def read(out: list[bytes] = got) -> None:
                out.extend(collect(b))

            reader = threading.Thread(target=read)
            reader.start()
            for i in range(count):
                a.sendto(i.to_bytes(4, "big"), relay.address_a)
                if i % 20 == 0:
                    time.sleep(0.002)
            reader.join(10.0)
            dropped = relay.dropped_datagrams()
            stats = relay.stats()
        arrived = {int.from_bytes(d, "big") for d in got}
        if record:
            assert len(dropped) == stats.dropped > 20
            for item in dropped:
                assert item.side == "a" and item.reason == "loss"
                assert int.from_bytes(item.data, "big") == item.index  # index: place among A's datagrams
            assert {d.index for d in dropped} == set(range(count)) - arrived
        else:
            assert dropped == []
        outcomes.append(arrived)
    assert outcomes[0] == outcomes[1]  # recording does not change which datagrams are dropped


def test_drops_before_the_peer_is_known_are_recorded(endpoints: tuple[socket.socket, socket.socket]) -> None:
    _, b = endpoints
    with LossyRelay(None, None, loss=0, duplicate=0, reorder=0, delay_ms=(0, 0), record_drops=True) as relay:
        b.sendto(b"early", relay.address_b)
        assert wait_until(lambda: relay.stats().dropped == 1)
        (item,) = relay.dropped_datagrams()
        assert (item.side, item.index, item.reason, item.data) == ("b", 0, "no_peer", b"early")

"""The asyncio STUN driver against small servers on loopback: answers, strangers, silence, RFC 5780 verdicts."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from softphone.stun import Attr, Class, Method, Retransmission, StunMessage, StunParseError
from softphone.stun.behaviour import Behaviour, NatTestResults, filtering_behaviour, mapping_behaviour
from softphone.transport.stun import StunError, binding, nat_test, parse_server, reflexive_address

FAST = Retransmission(rto=0.05, rc=3, rm=2)


class FakeServer:
    """Answers Binding requests with ``mapped`` (default: the sender's address); counts what it got."""

    def __init__(self, mapped: tuple[str, int] | None = None, *, silent: bool = False) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.address: tuple[str, int] = self.sock.getsockname()
        self.mapped = mapped
        self.silent = silent
        self.requests: list[StunMessage] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
            except (TimeoutError, OSError):
                continue
            try:
                request = StunMessage.parse(data)
            except StunParseError:
                continue
            self.requests.append(request)
            if self.silent:
                continue
            answer = StunMessage(Method.BINDING, Class.SUCCESS, request.transaction_id)
            answer.add(Attr.XOR_MAPPED_ADDRESS, self.mapped or addr)
            self.sock.sendto(answer.encode(), addr)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()


@pytest.fixture
def client() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def test_the_reflexive_address_is_what_the_server_saw(client: socket.socket) -> None:
    server = FakeServer(("203.0.113.10", 40000))
    try:
        assert asyncio.run(reflexive_address(client, server.address, FAST)) == ("203.0.113.10", 40000)
        assert server.requests[0].software == "softphone"
    finally:
        server.close()


def test_a_forged_answer_from_elsewhere_is_ignored(client: socket.socket) -> None:
    """Only the server's own address may answer: a stranger who learnt the transaction ID cannot pick our address."""
    server = FakeServer(silent=True)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))

    def forge() -> None:
        deadline = time.monotonic() + 2.0
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.005)
        if server.requests:
            forged = StunMessage(Method.BINDING, Class.SUCCESS, server.requests[0].transaction_id)
            stranger.sendto(forged.add(Attr.XOR_MAPPED_ADDRESS, ("192.0.2.66", 6666)).encode(), client.getsockname())
            # And garbage, which must not end the wait either.
            server.sock.sendto(b"\x00\x01\x00\x00garbage-garbage!", client.getsockname())

    threading.Thread(target=forge, daemon=True).start()
    try:
        with pytest.raises(StunError, match="did not answer"):
            asyncio.run(binding(client, server.address, retransmission=FAST))
        assert len(server.requests) == FAST.rc
    finally:
        stranger.close()
        server.close()


def test_a_dead_server_fails_within_the_schedule(client: socket.socket) -> None:
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))  # bound, never read: no ICMP, just silence
    try:
        started = time.monotonic()
        with pytest.raises(StunError, match=r"did not answer \(3 requests"):
            asyncio.run(binding(client, dead.getsockname(), retransmission=FAST))
        assert time.monotonic() - started < FAST.timeout + 1.0
    finally:
        dead.close()


def test_a_closed_port_fails_within_the_schedule_too(client: socket.socket) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    closed = probe.getsockname()
    probe.close()  # ICMP port unreachable for every request
    started = time.monotonic()
    with pytest.raises(StunError):
        asyncio.run(binding(client, closed, retransmission=FAST))
    assert time.monotonic() - started < FAST.timeout + 1.0


def test_nat_test_without_rfc5780_says_what_it_cannot_tell() -> None:
    server = FakeServer(("203.0.113.10", 40000))
    try:
        report = asyncio.run(nat_test(server.address, "127.0.0.1", FAST))
    finally:
        server.close()
    assert report.results.mapped == ("203.0.113.10", 40000)
    assert report.mapping is Behaviour.UNKNOWN and report.filtering is Behaviour.UNKNOWN
    assert any("does not support RFC 5780" in line for line in report.lines())


def test_nat_test_with_no_server_reports_none() -> None:
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))
    try:
        report = asyncio.run(nat_test(dead.getsockname(), "127.0.0.1", FAST))
    finally:
        dead.close()
    assert report.results.mapped is None and "did not answer" in report.results.note
    assert report.mapping is Behaviour.UNKNOWN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.1", ("203.0.113.1", 3478)),
        ("stun.example.com:3479", ("stun.example.com", 3479)),
        ("stun:203.0.113.1:19302", ("203.0.113.1", 19302)),
        ("[2001:db8::1]:5000", ("2001:db8::1", 5000)),
        ("2001:db8::1", ("2001:db8::1", 3478)),
    ],
)
def test_parse_server(text: str, expected: tuple[str, int]) -> None:
    assert parse_server(text) == expected


@pytest.mark.parametrize("text", ["", "host:0", "host:99999", "host:x", "[2001:db8::1", "[::1]x", "a b:1"])
def test_parse_server_refuses(text: str) -> None:
    with pytest.raises(StunError):
        parse_server(text)


LOCAL = ("192.0.2.2", 5000)
SERVER = ("203.0.113.1", 3478)
OTHER = ("203.0.113.2", 3479)
M = ("203.0.113.20", 6000)


def results(**kw: object) -> NatTestResults:
    return NatTestResults(local=LOCAL, server=SERVER, other_address=OTHER, **kw)  # type: ignore[arg-type]


def test_rfc5780_verdicts() -> None:
    assert mapping_behaviour(results()) is Behaviour.UNKNOWN
    assert mapping_behaviour(results(mapped=LOCAL)) is Behaviour.NO_NAT
    assert mapping_behaviour(results(mapped=M, mapped_alt_ip=M)) is Behaviour.ENDPOINT_INDEPENDENT
    two = ("203.0.113.20", 6001)
    assert mapping_behaviour(results(mapped=M, mapped_alt_ip=two, mapped_alt=two)) is Behaviour.ADDRESS_DEPENDENT
    three = ("203.0.113.20", 6002)
    verdict = mapping_behaviour(results(mapped=M, mapped_alt_ip=two, mapped_alt=three))
    assert verdict is Behaviour.ADDRESS_AND_PORT_DEPENDENT
    assert filtering_behaviour(results(mapped=M, filter_change_both=True)) is Behaviour.ENDPOINT_INDEPENDENT
    verdict = filtering_behaviour(results(mapped=M, filter_change_both=False, filter_change_port=True))
    assert verdict is Behaviour.ADDRESS_DEPENDENT
    verdict = filtering_behaviour(results(mapped=M, filter_change_both=False, filter_change_port=False))
    assert verdict is Behaviour.ADDRESS_AND_PORT_DEPENDENT
    assert not NatTestResults(local=LOCAL, server=SERVER, other_address=(SERVER[0], 3479)).rfc5780

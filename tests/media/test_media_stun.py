"""STUN on a media port (RFC 7983): keep-alives go out while no RTP does; STUN that comes in is never answered."""

from __future__ import annotations

import concurrent.futures
import os
import random
import socket
from collections.abc import Iterator

import pytest

from softphone.media.engine import ArraySink, MediaSession, ToneSource
from softphone.media.errors import MediaError
from softphone.media.gather import MAX_QUERIES, ReflexiveQueries, ReflexiveQueryError
from softphone.media.keepalive import MediaKeepalive
from softphone.sip.offer_answer import pcmu_codec
from softphone.stun import Attr, Class, Method, StunMessage
from tests.media.test_engine import LOOPBACK, Side, even_socket, hears, negotiated, wait_until


@pytest.fixture
def sessions() -> Iterator[list[MediaSession]]:
    made: list[MediaSession] = []
    yield made
    for session in made:
        session.stop()


def test_keepalive_schedule() -> None:
    keepalive = MediaKeepalive(15.0, 100.0)
    assert keepalive.poll(100.0) is not None  # at once: it opens our NAT towards the peer
    assert keepalive.poll(114.9) is None
    keepalive.note_sent(110.0)
    assert keepalive.poll(124.9) is None
    datagram = keepalive.poll(125.0)
    assert datagram is not None
    message = StunMessage.parse(datagram)
    assert (message.method, message.cls) == (Method.BINDING, Class.INDICATION)
    assert keepalive.poll(125.1) is None and keepalive.sent == 2
    assert MediaKeepalive(None, 0.0).poll(1e9) is None
    with pytest.raises(ValueError):
        MediaKeepalive(0.0, 0.0)


def test_on_hold_binding_indications_keep_the_port_open(sessions: list[MediaSession]) -> None:
    """No RTP leaves a held call; a STUN Binding indication goes to the peer every keep-alive interval instead."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((LOOPBACK, 0))
    peer.settimeout(3.0)
    try:
        session = MediaSession(
            even_socket(),
            negotiated(pcmu_codec(), peer.getsockname(), direction="inactive", rtcp_mux=True),
            ToneSource(1000.0),
            ArraySink(),
            keepalive=0.2,
            rtcp_min_interval=60.0,
        )
        sessions.append(session)
        session.start()
        indications = 0
        while indications < 3:
            data, _ = peer.recvfrom(2048)
            message = StunMessage.parse(data)  # anything else (RTP, RTCP) would not parse
            assert message.cls is Class.INDICATION
            indications += 1
        assert session.stats().packets_sent == 0
        assert session.stats().extra["keepalives_sent"] >= 3
    finally:
        peer.close()


def test_stun_and_garbage_stun_on_the_media_port_are_counted_never_answered(sessions: list[MediaSession]) -> None:
    """Anyone may send to a media port: STUN gets no answer (no reflection, nothing revealed), only a count."""
    sock_a, sock_b = even_socket(), even_socket()
    sink_b = ArraySink()
    a = MediaSession(sock_a, negotiated(pcmu_codec(), sock_b.getsockname()), ToneSource(1000.0), ArraySink())
    b = MediaSession(sock_b, negotiated(pcmu_codec(), sock_a.getsockname()), ToneSource(600.0), sink_b)
    sessions += [a, b]
    a.start()
    b.start()
    assert wait_until(lambda: hears(Side(b, sink_b), 1000.0), 5.0)
    rng = random.Random(7)
    datagrams = [StunMessage(Method.BINDING, Class.REQUEST).encode() for _ in range(20)]
    datagrams += [StunMessage(0x003, Class.REQUEST).add(Attr.USERNAME, "x" * 500).encode() for _ in range(5)]
    for _ in range(40):  # STUN-looking headers with random bodies: cookie right, attributes garbage
        body = os.urandom(4 * rng.randint(0, 60))
        datagrams.append(bytes([0, 1]) + len(body).to_bytes(2, "big") + b"\x21\x12\xa4\x42" + os.urandom(12) + body)
    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attacker.bind((LOOPBACK, 0))
    attacker.settimeout(0.5)
    try:
        for datagram in datagrams:
            attacker.sendto(datagram, b.local_address[:2])
        assert wait_until(lambda: b.stats().extra["stun_received"] >= len(datagrams), 3.0), b.stats().extra
        with pytest.raises(TimeoutError):
            attacker.recvfrom(2048)
    finally:
        attacker.close()
    stats = b.stats()
    assert stats.failures == 0 and stats.running
    heard = len(sink_b)
    assert wait_until(lambda: len(sink_b) > heard + 8000 and hears(Side(b, sink_b), 1000.0), 3.0)


def _answer_binding(server: socket.socket, mapped: tuple[str, int], via: socket.socket | None = None) -> None:
    """Read one Binding request on ``server`` and answer it (from ``via`` when given: a stranger) with ``mapped``."""
    data, source = server.recvfrom(2048)
    request = StunMessage.parse(data)
    assert (request.method, request.cls) == (Method.BINDING, Class.REQUEST)
    answer = StunMessage(Method.BINDING, Class.SUCCESS, transaction_id=request.transaction_id)
    (via or server).sendto(answer.add(Attr.XOR_MAPPED_ADDRESS, mapped).encode(), source)


def test_a_running_session_asks_a_stun_server_through_its_own_socket(sessions: list[MediaSession]) -> None:
    """After a network change the UA needs the media port's new public address while the media thread owns the
    socket: the thread runs the Binding transaction itself. An answer from anyone but the server asked (with the
    right transaction id) is not taken; the server's is, and RTP flows on meanwhile."""
    server, stranger, peer = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3))
    try:
        for sock in (server, stranger, peer):
            sock.bind((LOOPBACK, 0))
            sock.settimeout(5.0)
        session = MediaSession(
            even_socket(), negotiated(pcmu_codec(), peer.getsockname(), rtcp_mux=True), ToneSource(1000.0), ArraySink()
        )
        sessions.append(session)
        session.start()
        future = session.reflexive_address(server.getsockname())
        _answer_binding(server, ("192.0.2.77", 4242), via=stranger)
        _answer_binding(server, ("192.0.2.66", 6666))  # the retransmission, answered by the server itself
        assert future.result(timeout=5.0) == ("192.0.2.66", 6666)
        assert peer.recvfrom(2048)[0]  # RTP kept going to the peer
    finally:
        for sock in (server, stranger, peer):
            sock.close()


def test_a_stun_server_that_does_not_answer_fails_the_query_and_stopping_fails_the_rest(
    sessions: list[MediaSession],
) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((LOOPBACK, 0))
    try:
        session = MediaSession(
            even_socket(),
            negotiated(pcmu_codec(), silent.getsockname(), rtcp_mux=True),
            ToneSource(1000.0),
            ArraySink(),
        )
        sessions.append(session)
        session.start()
        unanswered = session.reflexive_address(silent.getsockname())
        with pytest.raises(ReflexiveQueryError, match="did not answer"):
            unanswered.result(timeout=15.0)  # a bound on the 2.75 s schedule, not a measurement
        pending = session.reflexive_address(silent.getsockname())
        session.stop()
        with pytest.raises(ReflexiveQueryError, match="stopped"):
            pending.result(timeout=5.0)
    finally:
        silent.close()


def test_queries_per_port_are_bounded() -> None:
    sent: list[tuple[bytes, tuple[str, int]]] = []
    queries = ReflexiveQueries(lambda data, addr: sent.append((data, addr)))
    futures = [concurrent.futures.Future[tuple[str, int]]() for _ in range(MAX_QUERIES + 1)]
    for future in futures:
        queries.start(("192.0.2.1", 3478), 0.0, future)
    assert len(queries) == MAX_QUERIES and len(sent) == MAX_QUERIES
    with pytest.raises(ReflexiveQueryError, match="too many"):
        futures[-1].result(timeout=0)
    assert not queries.handle(b"\x00\x01garbage", ("192.0.2.1", 3478), 0.1)


def test_a_session_moves_to_a_new_socket_between_two_packets(sessions: list[MediaSession]) -> None:
    """After our address changed the call's media goes out of (and comes in at) a socket on the new address;
    the old one, which the session owned, is closed."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((LOOPBACK, 0))
    peer.settimeout(5.0)
    try:
        old = even_socket()
        session = MediaSession(
            old, negotiated(pcmu_codec(), peer.getsockname(), rtcp_mux=True), ToneSource(1000.0), ArraySink()
        )
        sessions.append(session)
        session.start()
        first_source = peer.recvfrom(2048)[1]
        new = even_socket()
        new_address = new.getsockname()
        session.replace_socket(new)
        deadline = 50
        source = first_source
        while source != new_address and deadline:
            source = peer.recvfrom(2048)[1]
            deadline -= 1
        assert source == new_address and first_source != new_address
        assert session.local_address == new_address and old.fileno() == -1
        future = session.reflexive_address(peer.getsockname())  # STUN leaves from the new socket too
        data, source = peer.recvfrom(2048)
        while data[:1] not in (b"\x00", b"\x01"):
            data, source = peer.recvfrom(2048)
        assert source == new_address and StunMessage.parse(data).cls is Class.REQUEST
        future.cancel()
    finally:
        peer.close()


def test_a_session_without_a_relay_says_so_when_asked_for_a_new_allocation(sessions: list[MediaSession]) -> None:
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((LOOPBACK, 0))
    try:
        session = MediaSession(
            even_socket(), negotiated(pcmu_codec(), peer.getsockname(), rtcp_mux=True), ToneSource(1000.0), ArraySink()
        )
        sessions.append(session)
        session.start()
        with pytest.raises(MediaError, match="no relay"):
            session.reallocate_relay().result(timeout=5.0)
    finally:
        peer.close()

"""STUN on a media port (RFC 7983): keep-alives go out while no RTP does; STUN that comes in is never answered."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterator

import pytest

from softphone.media.engine import ArraySink, MediaSession, ToneSource
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

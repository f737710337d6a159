"""Two media sessions that find each other by ICE on loopback, where the SDP's default address leads nowhere."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator

import pytest

from softphone.ice.agent import Credentials
from softphone.ice.candidate import Candidate, CandidateType, IceDescription, NegotiatedIce, priority
from softphone.media.engine import MediaSession
from softphone.media.events import IceConnected, MediaEvent
from softphone.media.sources import ArraySink, ToneSource
from softphone.sip.offer_answer import opus_codec
from softphone.stun.message import Attr, Class, Method, StunMessage, short_term_key
from tests.media.test_engine import Side, even_socket, hears, negotiated, wait_until


@pytest.fixture
def sessions() -> Iterator[list[MediaSession]]:
    made: list[MediaSession] = []
    yield made
    for session in made:
        session.stop()


def host(address: tuple[str, int], foundation: str = "1", preference: int = 65535) -> Candidate:
    prio = priority(CandidateType.HOST, local_preference=preference)
    return Candidate(foundation, 1, prio, address[0], address[1], CandidateType.HOST)


def ice_with_a_dead_candidate(
    addr_a: tuple[str, int], addr_b: tuple[str, int]
) -> tuple[IceDescription, IceDescription, IceDescription]:
    """A's and B's ICE for their host addresses, and B's as A's SDP sees it: with a candidate nobody listens
    on before the real one, at a higher priority (ICE must give it up)."""
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))
    dead_address = dead.getsockname()
    dead.close()
    cred_a, cred_b = Credentials.new(), Credentials.new()
    ice_a = IceDescription(cred_a.ufrag, cred_a.pwd, (host(addr_a),))
    ice_b = IceDescription(cred_b.ufrag, cred_b.pwd, (host(addr_b, "1", 1000),))
    return ice_a, ice_b, dataclasses.replace(ice_b, candidates=(host(dead_address, "9"), *ice_b.candidates))


def test_ice_finds_the_working_pair_and_media_flows_only_there(sessions: list[MediaSession]) -> None:
    sock_a, sock_b = even_socket(), even_socket()
    addr_a, addr_b = sock_a.getsockname(), sock_b.getsockname()
    ice_a, ice_b, b_for_a = ice_with_a_dead_candidate(addr_a, addr_b)
    sides: list[Side] = []
    cases = ((sock_a, ice_a, b_for_a, True, 1000.0), (sock_b, ice_b, ice_a, False, 600.0))
    for sock, mine, theirs, controlling, tone in cases:
        # The SDP's default address is the discard port: without ICE nothing would arrive.
        params = dataclasses.replace(
            negotiated(opus_codec(), ("127.0.0.1", 9), rtcp_mux=True),
            ice=NegotiatedIce(mine, theirs, controlling),
        )
        sink = ArraySink()
        events: list[MediaEvent] = []
        session = MediaSession(sock, params, ToneSource(tone), sink, on_event=events.append, on_quality=lambda q: None)
        sessions.append(session)
        sides.append(Side(session, sink, events))
    for side in sides:
        side.session.start()
    a, b = sides
    assert wait_until(lambda: hears(a, 600.0) and hears(b, 1000.0), timeout=15)
    # Media starts on the first valid pair; the nomination follows once the better (dead) pair is given up.
    assert wait_until(lambda: all(any(isinstance(e, IceConnected) for e in s.events) for s in sides), timeout=15)
    for side, peer in ((a, addr_b), (b, addr_a)):
        connected = [e for e in side.events if isinstance(e, IceConnected)]
        assert len(connected) == 1 and connected[0].kind == "host" and connected[0].remote == peer
        extra = side.session.stats().extra
        assert extra["ice_checks_sent"] >= 1 and extra["ice_answered"] >= 1


def test_a_stranger_without_the_password_gets_nothing_and_is_counted(sessions: list[MediaSession]) -> None:
    sock_a, sock_b = even_socket(), even_socket()
    cred_a, cred_b = Credentials.new(), Credentials.new()
    ice_a = IceDescription(cred_a.ufrag, cred_a.pwd, (host(sock_a.getsockname()),))
    ice_b = IceDescription(cred_b.ufrag, cred_b.pwd, (host(sock_b.getsockname()),))
    params = dataclasses.replace(
        negotiated(opus_codec(), sock_b.getsockname(), rtcp_mux=True), ice=NegotiatedIce(ice_a, ice_b, True)
    )
    session = MediaSession(sock_a, params, ToneSource(440.0), ArraySink())
    sessions.append(session)
    session.start()
    sock_b.close()
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))
    stranger.settimeout(0.5)
    try:
        for password in ("a-guess-a-guess-a-guess", cred_a.pwd[:-1] + "x"):
            request = StunMessage(Method.BINDING, Class.REQUEST).add(Attr.USERNAME, f"{cred_a.ufrag}:{cred_b.ufrag}")
            stranger.sendto(request.encode(short_term_key(password)), sock_a.getsockname())
        assert wait_until(lambda: session.stats().extra.get("ice_dropped_bad_integrity", 0) == 2)
        with pytest.raises(TimeoutError):
            stranger.recvfrom(2048)
        assert session.stats().packets_sent == 0  # no pair, no media: nothing leaves towards the SDP address
    finally:
        stranger.close()

"""Two video sessions that find each other by ICE on loopback, where the SDP's default address leads nowhere."""

from __future__ import annotations

import dataclasses
import threading
import time

from softphone.ice.agent import Credentials
from softphone.ice.candidate import IceDescription, NegotiatedIce
from softphone.media.events import IceConnected, IceFailure, MediaEvent
from softphone.media.video import VideoSession
from softphone.media.video_sources import PatternSource
from softphone.stun.message import Attr, Class, Method, StunMessage
from tests.media.test_ice_media import host, ice_with_a_dead_candidate
from tests.media.test_video_session import Watch, bound, params
from tests.video_check import PSNR_THRESHOLD_DB

FRAMES = 20
# A bound on waiting, far above what it takes (ICE a few 50 ms pacing steps, then a frame every 67 ms).
DEADLINE = 30.0


def wait_until(condition: object, timeout: float = DEADLINE) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_video_waits_for_ice_then_flows_on_the_working_pair_both_ways() -> None:
    sock_a, sock_b = bound(), bound()
    addr_a, addr_b = sock_a.getsockname(), sock_b.getsockname()
    # A's view of B has a better candidate that leads nowhere: ICE must give it up and take the real one.
    ice_a, ice_b, b_for_a = ice_with_a_dead_candidate(addr_a, addr_b)
    sessions: list[VideoSession] = []
    watches: list[Watch] = []
    events: list[list[MediaEvent]] = []
    lock = threading.Lock()
    try:
        for sock, mine, theirs, controlling in ((sock_a, ice_a, b_for_a, True), (sock_b, ice_b, ice_a, False)):
            # The SDP's default address is the discard port: without ICE nothing would arrive.
            agreed = dataclasses.replace(params(9), ice=NegotiatedIce(mine, theirs, controlling))
            watch, seen = Watch(), list[MediaEvent]()

            def on_event(event: MediaEvent, seen: list[MediaEvent] = seen) -> None:
                with lock:
                    seen.append(event)

            session = VideoSession(
                sock, agreed, PatternSource(320, 240), fps=15, on_frame=watch.frame, on_event=on_event
            )
            assert not session.sending  # nothing leaves before ICE has a route
            sessions.append(session)
            watches.append(watch)
            events.append(seen)
        for session in sessions:
            session.start()
        assert wait_until(lambda: all(len(w.received.counters) >= FRAMES for w in watches)), [
            len(w.received.counters) for w in watches
        ]
        assert wait_until(lambda: all(any(isinstance(e, IceConnected) for e in seen) for seen in events))
        for seen, peer in zip(events, (addr_b, addr_a), strict=True):
            connected = [e for e in seen if isinstance(e, IceConnected)]
            assert len(connected) == 1 and connected[0].kind == "host" and connected[0].remote == peer
            assert not [e for e in seen if isinstance(e, IceFailure)]
        for watch in watches:
            assert watch.received.in_order and min(watch.received.psnrs) >= PSNR_THRESHOLD_DB
    finally:
        for session in sessions:
            session.stop()


def test_stun_from_a_stranger_on_the_video_port_gets_nothing() -> None:
    """A Binding request without the password, or garbage that looks like STUN, is dropped: no answer, no media
    to the stranger, and the session keeps running."""
    sock, stranger, peer = bound(), bound(), bound()
    stranger.settimeout(0.2)
    cred_a, cred_b = Credentials.new(), Credentials.new()
    ice_a = IceDescription(cred_a.ufrag, cred_a.pwd, (host(sock.getsockname()),))
    ice_b = IceDescription(cred_b.ufrag, cred_b.pwd, (host(peer.getsockname()),))
    agreed = dataclasses.replace(params(9), ice=NegotiatedIce(ice_a, ice_b, False))
    session = VideoSession(sock, agreed, PatternSource(320, 240), fps=15)
    session.start()
    try:
        request = StunMessage(Method.BINDING, Class.REQUEST).add(Attr.USERNAME, f"{cred_a.ufrag}:nobody")
        for datagram in (request.encode(), b"\x00\x01\x00\x04\x21\x12\xa4\x42" + b"\x00" * 12 + b"junk"):
            stranger.sendto(datagram, sock.getsockname())
        received: list[bytes] = []
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            try:
                received.append(stranger.recvfrom(2048)[0])
            except TimeoutError:
                continue
        assert received == [] and session.running and not session.sending
    finally:
        session.stop()
        stranger.close()
        peer.close()


def test_stun_on_a_video_port_without_ice_is_counted_and_dropped() -> None:
    sock, stranger = bound(), bound()
    session = VideoSession(sock, params(stranger.getsockname()[1]), None, fps=15)
    session.start()
    try:
        stranger.sendto(StunMessage(Method.BINDING, Class.REQUEST).encode(), sock.getsockname())
        assert wait_until(lambda: session.quality().packets_dropped >= 1, 10)
        stranger.settimeout(0.5)
        answers = []
        try:
            while True:
                data = stranger.recvfrom(2048)[0]
                if data[:1] in (b"\x00", b"\x01"):
                    answers.append(data)  # STUN back: must not happen (RTCP starts with 0x80/0x81)
        except TimeoutError:
            pass
        assert answers == [] and session.running
    finally:
        session.stop()
        stranger.close()

"""Which source a MediaSession listens to: the SDP address, and after the answer a peer behind a NAT.

Real sessions on loopback sockets with tone sources and array sinks; strangers
are plain sockets sending RTP of a tone of their own (2500 Hz), so anything
of theirs that got played would show in the spectrum of what was played.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pytest

from softphone.media.codecs import codec_for
from softphone.media.engine import PIPELINE_RATE, ArraySink, MediaEvent, MediaSession, RemoteBye, ToneSource
from softphone.media.rtcp import Bye, ReceiverReport, build_compound
from softphone.media.rtp import LATCH_MIN_SEQUENTIAL, RtpSender
from softphone.sip.offer_answer import pcmu_codec
from tests.media.test_engine import LOOPBACK, even_socket, hears, negotiated, rms, wait_until

STRANGER_HZ = 2500.0


@dataclass
class Peer:
    session: MediaSession
    sink: ArraySink
    events: list[MediaEvent] = field(default_factory=list)

    def heard(self, frequency: float) -> bool:
        return hears(self, frequency)  # type: ignore[arg-type]

    def dropped(self, reason: str) -> int:
        return self.session.stats().dropped[reason]


class Sprayer:
    """Sends in-sequence PCMU RTP of a tone, one SSRC, every 10 ms from ``sock`` to ``target`` until stopped."""

    def __init__(
        self,
        target: tuple[str, int],
        *,
        pt: int = 0,
        ssrc: int = 0x5EED,
        sock: socket.socket | None = None,
        frequency: float = STRANGER_HZ,
    ) -> None:
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._own = sock is None
        if self._own:
            self.sock.bind((LOOPBACK, 0))
        self.target = target
        self.rtp = RtpSender(pt, 8000, ssrc=ssrc, rng=random.Random(5))
        self._codec = codec_for("PCMU", 8000, 1, {})
        t = np.arange(8000) / 8000
        self._tone = (np.sin(2 * np.pi * frequency * t) * 16000).astype(np.int16)
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sprayer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        offset = 0
        while not self._stop.wait(0.01):
            pcm = np.roll(self._tone, -offset)[:160]
            offset = (offset + 160) % 8000
            try:
                self.sock.sendto(self.rtp.packetize(self._codec.encode(pcm), 160), self.target)
            except OSError:
                return
            self.sent += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        if self._own:
            self.sock.close()


@pytest.fixture
def cleanup() -> Iterator[list[MediaSession | Sprayer | socket.socket]]:
    things: list[MediaSession | Sprayer | socket.socket] = []
    yield things
    for thing in reversed(things):
        if isinstance(thing, MediaSession):
            thing.stop()
        else:
            thing.close()


def make_peer(
    sock: socket.socket,
    remote: tuple[str, int],
    tone: float,
    things: list[MediaSession | Sprayer | socket.socket],
    *,
    rtcp_mux: bool = False,
    **options: object,
) -> Peer:
    sink = ArraySink()
    events: list[MediaEvent] = []
    session = MediaSession(
        sock,
        negotiated(pcmu_codec(), remote, rtcp_mux=rtcp_mux),
        ToneSource(tone),
        sink,
        on_event=events.append,
        rtcp_min_interval=0.5,
        **options,  # type: ignore[arg-type]
    )
    things.append(session)
    return Peer(session, sink, events)


def band_ratio(samples: npt.NDArray[np.float32], stranger: float, peer: float) -> float:
    """Energy around ``stranger`` Hz over energy around ``peer`` Hz in everything played."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    hz = np.fft.rfftfreq(samples.size, 1 / PIPELINE_RATE)

    def band(f: float) -> float:
        return float(spectrum[(hz > f - 50) & (hz < f + 50)].sum())

    return band(stranger) / max(band(peer), 1e-12)


def address(sock: socket.socket) -> tuple[str, int]:
    host, port = sock.getsockname()[:2]
    return (host, port)


def test_rtp_sprayed_before_the_answer_is_never_heard_and_the_peer_is(
    cleanup: list[MediaSession | Sprayer | socket.socket],
) -> None:
    sock_a, sock_b = even_socket(), even_socket()
    # B is the caller: it starts its session for early media, before the answer.
    b = make_peer(sock_b, address(sock_a), 600.0, cleanup, answered=False)
    b.session.start()
    sprayer = Sprayer(address(sock_b))
    cleanup.append(sprayer)
    assert wait_until(lambda: b.dropped("before_answer") >= 20, 5.0), b.session.stats()
    assert b.session.stats().latched_address is None
    assert rms(b.sink.samples()) == 0.0
    a = make_peer(sock_a, address(sock_b), 1000.0, cleanup)
    a.session.start()
    assert wait_until(lambda: b.heard(1000.0), 5.0)
    assert b.session.stats().latched_address == a.session.local_address
    b.session.set_answered()
    refused = b.dropped("wrong_source")
    assert wait_until(lambda: b.dropped("wrong_source") >= refused + 20, 5.0)
    assert wait_until(lambda: b.heard(1000.0), 3.0)
    assert b.session.stats().latched_address == a.session.local_address
    assert band_ratio(b.sink.samples(), STRANGER_HZ, 1000.0) < 1e-3
    assert b.session.stats().failures == 0


def test_after_the_answer_strangers_are_ignored(cleanup: list[MediaSession | Sprayer | socket.socket]) -> None:
    sock_a, sock_b = even_socket(), even_socket()
    a = make_peer(sock_a, address(sock_b), 1000.0, cleanup, own_socket=False)
    b = make_peer(sock_b, address(sock_a), 600.0, cleanup)
    cleanup.append(sock_a)
    a.session.start()
    b.session.start()
    assert wait_until(lambda: b.heard(1000.0), 5.0)
    before = b.session.stats().dropped
    # a steady stream with its own SSRC from another port; one with a payload type not negotiated;
    # one with another SSRC from the peer's own address
    for sprayer in (
        Sprayer(address(sock_b), ssrc=0xBAD),
        Sprayer(address(sock_b), pt=77),
        Sprayer(address(sock_b), sock=sock_a, ssrc=0xBAD2),
    ):
        cleanup.append(sprayer)

    def refused() -> bool:
        dropped = b.session.stats().dropped
        return all(dropped[k] >= before[k] + 20 for k in ("wrong_source", "unknown_pt", "unknown_ssrc"))

    assert wait_until(refused, 5.0), b.session.stats().dropped
    assert wait_until(lambda: b.heard(1000.0), 3.0)
    assert b.session.stats().latched_address == a.session.local_address
    assert band_ratio(b.sink.samples(), STRANGER_HZ, 1000.0) < 1e-3


@pytest.mark.parametrize("rtcp_mux", [False, True])
def test_a_peer_behind_a_nat_is_latched_once_the_call_is_answered(
    rtcp_mux: bool, cleanup: list[MediaSession | Sprayer | socket.socket]
) -> None:
    sock_a, sock_b, unused = even_socket(), even_socket(), even_socket()
    cleanup.append(unused)
    # B's SDP view of A names a port A does not send from, as a NAT would rewrite it.
    a = make_peer(sock_a, address(sock_b), 1000.0, cleanup, rtcp_mux=rtcp_mux)
    b = make_peer(sock_b, address(unused), 600.0, cleanup, rtcp_mux=rtcp_mux, answered=False)
    a.session.start()
    b.session.start()
    assert wait_until(lambda: b.dropped("before_answer") >= 20, 5.0)
    assert b.session.stats().latched_address is None and rms(b.sink.samples()) == 0.0
    b.session.set_answered()
    assert wait_until(lambda: b.heard(1000.0), 5.0)
    assert b.session.stats().latched_address == a.session.local_address
    # symmetric RTP: B answers to where A's packets come from, so A hears B
    assert wait_until(lambda: a.heard(600.0), 5.0)
    # and A's RTCP, from A's host, is taken too
    assert wait_until(lambda: b.session.stats().rtcp_received > 0, 6.0), b.session.stats()


def test_a_flood_is_counted_never_played_and_logged_once(
    cleanup: list[MediaSession | Sprayer | socket.socket], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="softphone.media.engine")
    sock_a, sock_b = even_socket(), even_socket()
    a = make_peer(sock_a, address(sock_b), 1000.0, cleanup)
    b = make_peer(sock_b, address(sock_a), 600.0, cleanup)
    a.session.start()
    b.session.start()
    assert wait_until(lambda: b.heard(1000.0) and b.session.stats().rtcp_received > 0, 6.0)
    rtp_target = address(sock_b)
    rtcp_target = (rtp_target[0], rtp_target[1] + 1)
    # a stranger's RTCP BYE for the peer's SSRC (an on-path attacker reads it off the wire)
    peer_ssrc = a.session._send.rtp.ssrc
    forged_bye = build_compound([ReceiverReport(0x1234), Bye((peer_ssrc,), "forged")])
    rng = random.Random(9)
    senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
    cleanup.extend(senders)
    for sender in senders:
        sender.bind((LOOPBACK, 0))
    stranger = RtpSender(0, 8000, ssrc=0xF00D, rng=rng)
    codec = codec_for("PCMU", 8000, 1, {})
    loud = codec.encode((np.sin(2 * np.pi * STRANGER_HZ * np.arange(160) / 8000) * 16000).astype(np.int16))

    def flood(rounds: int) -> None:
        # In bursts the socket buffers hold, each taken in before the next: every datagram is counted.
        for burst in range(0, rounds, 20):
            received = b.session.stats().datagrams_received
            for i in range(burst, min(rounds, burst + 20)):
                sender = senders[i % len(senders)]
                sender.sendto(os.urandom(rng.randint(0, 180)), rtp_target)
                sender.sendto(stranger.packetize(loud, 160), rtp_target)
                sender.sendto(stranger.packetize(loud, 160, payload_type=77), rtp_target)
                sender.sendto(forged_bye, rtcp_target)
                sender.sendto(forged_bye, rtp_target)
            target = received + 5 * (min(rounds, burst + 20) - burst)
            assert wait_until(lambda t=target: b.session.stats().datagrams_received >= t, 5.0)  # type: ignore[misc]

    before = b.session.stats().dropped
    flood(600)
    dropped = b.session.stats().dropped
    assert dropped["wrong_source"] - before["wrong_source"] >= 600, dropped
    assert dropped["unknown_pt"] - before["unknown_pt"] >= 600, dropped
    assert dropped["rtcp_wrong_source"] - before["rtcp_wrong_source"] == 1200, dropped
    summaries = lambda: [r for r in caplog.records if "refused" in r.getMessage()]  # noqa: E731
    assert wait_until(lambda: len(summaries()) == 1, 3.0)
    flood(300)
    ticks = b.session.stats().ticks
    assert wait_until(lambda: b.session.stats().ticks > ticks + 100, 5.0)  # two more once-a-second checks
    assert len(summaries()) == 1, [r.getMessage() for r in summaries()]
    stats = b.session.stats()
    assert not any(isinstance(e, RemoteBye) for e in b.events)
    assert stats.failures == 0 and stats.latched_address == a.session.local_address
    assert wait_until(lambda: b.heard(1000.0), 3.0)
    assert band_ratio(b.sink.samples(), STRANGER_HZ, 1000.0) < 1e-3


def test_with_srtp_only_authenticated_rtp_is_latched(cleanup: list[MediaSession | Sprayer | socket.socket]) -> None:
    """RFC 4961 latching behind a NAT takes SRTP that authenticates, never a stranger's plain in-sequence stream.

    The stranger starts first and sends a steady stream of the negotiated payload type, which
    would win the latch in plain RTP; with SDES keys its packets fail authentication and never count.
    """
    from tests.media.test_srtp import sdes_pair

    crypto_a, crypto_b = sdes_pair("AES_CM_128_HMAC_SHA1_80")
    sock_a, sock_b, unused = even_socket(), even_socket(), even_socket()
    cleanup.append(unused)
    b = make_peer(sock_b, address(unused), 600.0, cleanup, crypto=crypto_b)
    stranger = Sprayer(b.session.local_address[:2])  # type: ignore[arg-type]
    cleanup.append(stranger)
    b.session.start()
    assert wait_until(lambda: stranger.sent >= 3 * LATCH_MIN_SEQUENTIAL, 5.0)

    def refused() -> int:
        dropped = b.session.stats().dropped
        return dropped["srtp_auth"] + dropped["srtp_plain"]

    assert wait_until(lambda: refused() >= 3 * LATCH_MIN_SEQUENTIAL, 5.0), b.session.stats().dropped
    assert b.session.stats().latched_address is None
    a = make_peer(sock_a, address(sock_b), 1000.0, cleanup, crypto=crypto_a)
    a.session.start()
    assert wait_until(lambda: b.heard(1000.0), 5.0)
    assert b.session.stats().latched_address == a.session.local_address
    assert band_ratio(b.sink.samples(), STRANGER_HZ, 1000.0) < 1e-3
    assert wait_until(lambda: a.heard(600.0), 5.0)


def test_an_ssrc_declared_in_the_sdp_is_the_only_one_latched(
    cleanup: list[MediaSession | Sprayer | socket.socket],
) -> None:
    """RFC 5576: the peer's SDP names its SSRC; a stranger's steady plain stream with another never latches."""
    sock_a, sock_b, unused = even_socket(), even_socket(), even_socket()
    cleanup.append(unused)
    a = make_peer(sock_a, address(sock_b), 1000.0, cleanup)
    declared = a.session._send.rtp.ssrc
    sink = ArraySink()
    b_session = MediaSession(
        sock_b,
        dataclasses.replace(negotiated(pcmu_codec(), address(unused)), remote_ssrc=declared),
        ToneSource(600.0),
        sink,
        rtcp_min_interval=0.5,
    )
    cleanup.append(b_session)
    b = Peer(b_session, sink)
    stranger = Sprayer(b.session.local_address[:2], ssrc=declared ^ 1)  # type: ignore[arg-type]
    cleanup.append(stranger)
    b.session.start()
    assert wait_until(lambda: b.dropped("unknown_ssrc") >= 3 * LATCH_MIN_SEQUENTIAL, 5.0), b.session.stats().dropped
    assert b.session.stats().latched_address is None
    a.session.start()
    assert wait_until(lambda: b.heard(1000.0), 5.0)
    assert b.session.stats().latched_address == a.session.local_address
    assert band_ratio(b.sink.samples(), STRANGER_HZ, 1000.0) < 1e-3

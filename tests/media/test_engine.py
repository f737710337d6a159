"""MediaSession end to end: two sessions on loopback sockets with real threads, no sound devices."""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pytest

from softphone.media.engine import (
    PIPELINE_RATE,
    ArraySink,
    DtmfReceived,
    MediaEvent,
    MediaFailure,
    MediaSession,
    OneWayAudio,
    RemoteBye,
    SilenceSource,
    ToneSource,
)
from softphone.media.errors import MediaError
from softphone.media.quality import QualitySnapshot
from softphone.media.rtcp import ReceiverReport, ReportBlock, build_compound
from softphone.media.rtp import RtpPacket
from softphone.sip.offer_answer import Codec, NegotiatedMedia, g722_codec, opus_codec, pcma_codec, pcmu_codec
from tests.media_relay import LossyRelay

LOOPBACK = "127.0.0.1"
TE_PT = 101

CODECS: dict[str, Callable[[], Codec]] = {
    "opus": opus_codec,
    "G722": g722_codec,
    "PCMU": pcmu_codec,
    "PCMA": pcma_codec,
}


def even_socket() -> socket.socket:
    """A loopback UDP socket on an even port whose odd neighbour (RTCP) is free at the time."""
    for _ in range(200):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((LOOPBACK, 0))
        port = sock.getsockname()[1]
        if port % 2 == 0:
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.bind((LOOPBACK, port + 1))
            except OSError:
                pass
            else:
                probe.close()
                return sock
        sock.close()
    raise RuntimeError("no even loopback port with a free neighbour")


def negotiated(
    codec: Codec,
    remote: tuple[str, int],
    *,
    direction: str = "sendrecv",
    rtcp_mux: bool = False,
    telephone_event: bool = True,
) -> NegotiatedMedia:
    assert codec.payload_type is not None
    pt = codec.payload_type
    receive: dict[int, Codec] = {pt: codec}
    events: dict[int, int] = {}
    if telephone_event:
        receive[TE_PT] = Codec("telephone-event", codec.clock_rate, 1, TE_PT)
        events[codec.clock_rate] = TE_PT
    return NegotiatedMedia(
        remote_address=remote[0],
        remote_addrtype="IP4",
        remote_port=remote[1],
        remote_rtcp_port=remote[1] if rtcp_mux else remote[1] + 1,
        codec=codec,
        payload_type=pt,
        codecs=[codec],
        receive_codecs=receive,
        telephone_event=TE_PT if telephone_event else None,
        telephone_events=events,
        ptime=20,
        direction=direction,  # type: ignore[arg-type]
        on_hold=False,
        rtcp_mux=rtcp_mux,
    )


@dataclass
class Side:
    session: MediaSession
    sink: ArraySink
    events: list[MediaEvent] = field(default_factory=list)
    quality: list[tuple[float, QualitySnapshot]] = field(default_factory=list)

    def dtmf(self) -> list[str]:
        return [e.digit for e in list(self.events) if isinstance(e, DtmfReceived)]


def make_pair(
    codec_a: Codec,
    codec_b: Codec | None = None,
    *,
    tone_a: float = 1000.0,
    tone_b: float = 600.0,
    rtcp_mux: bool = False,
    relay: bool = False,
    relay_options: dict[str, object] | None = None,
    direction_a: str = "sendrecv",
    direction_b: str = "sendrecv",
) -> tuple[Side, Side, LossyRelay | None]:
    sock_a, sock_b = even_socket(), even_socket()
    addr_a, addr_b = sock_a.getsockname(), sock_b.getsockname()
    lossy: LossyRelay | None = None
    if relay:
        lossy = LossyRelay(addr_a, addr_b, seed=7, **(relay_options or {}))  # type: ignore[arg-type]
        remote_for_a, remote_for_b = lossy.address_a, lossy.address_b
    else:
        remote_for_a, remote_for_b = addr_b, addr_a
    sides: list[Side] = []
    for sock, codec, tone, remote, direction in (
        (sock_a, codec_a, tone_a, remote_for_a, direction_a),
        (sock_b, codec_b or codec_a, tone_b, remote_for_b, direction_b),
    ):
        sink = ArraySink()
        events: list[MediaEvent] = []
        quality: list[tuple[float, QualitySnapshot]] = []

        def record(snap: QualitySnapshot, q: list[tuple[float, QualitySnapshot]] = quality) -> None:
            q.append((time.monotonic(), snap))

        session = MediaSession(
            sock,
            negotiated(codec, (remote[0], remote[1]), rtcp_mux=rtcp_mux, direction=direction),
            ToneSource(tone),
            sink,
            on_event=events.append,
            on_quality=record,
            rtcp_min_interval=0.5,
            seed=len(sides) + 1,
        )
        sides.append(Side(session, sink, events, quality))
    return sides[0], sides[1], lossy


@pytest.fixture
def pairs() -> Iterator[list[tuple[Side, Side, LossyRelay | None]]]:
    made: list[tuple[Side, Side, LossyRelay | None]] = []
    yield made
    for a, b, relay in made:
        a.session.stop()
        b.session.stop()
        if relay is not None:
            relay.close()


def start(pairs: list[tuple[Side, Side, LossyRelay | None]], *args: object, **kwargs: object) -> tuple[Side, Side]:
    a, b, relay = make_pair(*args, **kwargs)  # type: ignore[arg-type]
    pairs.append((a, b, relay))
    a.session.start()
    b.session.start()
    return a, b


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def dominant_frequency(samples: npt.NDArray[np.float32]) -> float:
    windowed = samples.astype(np.float64) * np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(windowed))
    spectrum[:5] = 0  # ignore DC
    return float(np.argmax(spectrum) * PIPELINE_RATE / samples.size)


def rms(samples: npt.NDArray[np.float32]) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0


def hears(side: Side, frequency: float, seconds: float = 0.4) -> bool:
    window = int(seconds * PIPELINE_RATE)
    if len(side.sink) < window:
        return False
    tail = side.sink.samples(window)
    return rms(tail) > 0.02 and abs(dominant_frequency(tail) - frequency) < 15


# --------------------------------------------------------------------------
# two sessions talking
# --------------------------------------------------------------------------


@pytest.mark.parametrize("codec_name", ["opus", "G722", "PCMU", "PCMA"])
def test_two_sessions_exchange_tones_dtmf_and_quality(
    codec_name: str, pairs: list[tuple[Side, Side, LossyRelay | None]]
) -> None:
    a, b = start(pairs, CODECS[codec_name]())
    assert wait_until(lambda: hears(a, 600.0) and hears(b, 1000.0), 5.0), (
        dominant_frequency(a.sink.samples(19200)),
        dominant_frequency(b.sink.samples(19200)),
    )
    a.session.send_dtmf("15#")
    assert wait_until(lambda: len(b.dtmf()) >= 3, 5.0)
    assert wait_until(lambda: len(a.quality) >= 2 and len(b.quality) >= 2, 5.0)
    # let any retransmitted end packets arrive, then check each digit came exactly once
    time.sleep(0.2)
    assert b.dtmf() == ["1", "5", "#"]
    assert a.dtmf() == []
    _, snapshot = b.quality[-1]
    assert snapshot.packets_sent > 0 and snapshot.packets_received > 0
    assert 1.0 <= snapshot.mos <= 4.5
    times = [t for t, _ in a.quality]
    gaps = np.diff(times)
    assert all(0.5 < gap < 2.0 for gap in gaps), gaps
    stats = b.session.stats()
    assert stats.frames_decoded > 0 and stats.failures == 0 and stats.malformed == 0
    assert stats.latched_address == a.session.local_address
    assert a.session.stats().dtmf_packets_sent > 0
    # the audio keeps flowing after the digits
    assert wait_until(lambda: hears(b, 1000.0), 3.0)


def test_rtcp_gives_round_trip_time_and_bye_on_stop(pairs: list[tuple[Side, Side, LossyRelay | None]]) -> None:
    a, b = start(pairs, pcmu_codec())
    assert wait_until(lambda: a.session.stats().rtt_ms is not None and b.session.stats().rtcp_received > 0, 6.0)
    rtt = a.session.stats().rtt_ms
    assert rtt is not None and 0 <= rtt < 500
    a.session.stop()
    assert not a.session.running
    assert wait_until(lambda: any(isinstance(e, RemoteBye) for e in b.events), 3.0)


def test_rtcp_mux_carries_rtcp_on_the_rtp_port(pairs: list[tuple[Side, Side, LossyRelay | None]]) -> None:
    a, b = start(pairs, opus_codec(), rtcp_mux=True)
    assert wait_until(lambda: a.session.stats().rtcp_received > 0 and b.session.stats().rtcp_received > 0, 6.0)
    assert wait_until(lambda: hears(b, 1000.0), 3.0)
    assert a.session.stats().malformed == 0


def test_hold_silences_peer_playback_and_resume_restores_it(
    pairs: list[tuple[Side, Side, LossyRelay | None]],
) -> None:
    a, b = start(pairs, opus_codec())
    assert wait_until(lambda: hears(b, 1000.0) and hears(a, 600.0), 5.0)
    a.session.hold()
    # B now plays A's comfort silence; A plays nothing of B
    assert wait_until(lambda: rms(b.sink.samples(9600)) < 0.005 and rms(a.sink.samples(9600)) < 0.005, 3.0)
    sent = a.session.stats().packets_sent
    assert wait_until(lambda: b.session.stats().packets_received > 0 and a.session.stats().packets_sent > sent, 2.0)
    assert b.session.running and a.session.running
    assert not any(isinstance(e, MediaFailure | OneWayAudio) for e in a.events + b.events)
    a.session.resume()
    assert wait_until(lambda: hears(b, 1000.0) and hears(a, 600.0), 5.0)


def test_directions_are_honoured(pairs: list[tuple[Side, Side, LossyRelay | None]]) -> None:
    # A only sends, B only receives (the view after A put B on hold with sendonly/recvonly)
    a, b = start(pairs, pcma_codec(), direction_a="sendonly", direction_b="recvonly")
    assert wait_until(lambda: hears(b, 1000.0), 5.0)
    time.sleep(0.3)
    assert b.session.stats().packets_sent == 0
    assert rms(a.sink.samples()) == 0.0
    # inactive: nothing sent at all
    a.session.set_direction("inactive")
    time.sleep(0.1)
    sent = a.session.stats().packets_sent
    time.sleep(0.3)
    assert a.session.stats().packets_sent == sent


def test_update_switches_codec_and_remote_address(pairs: list[tuple[Side, Side, LossyRelay | None]]) -> None:
    a, b = start(pairs, pcmu_codec())
    assert wait_until(lambda: hears(b, 1000.0) and hears(a, 600.0), 5.0)
    b_addr = b.session.local_address
    a_addr = a.session.local_address
    # re-INVITE: both move to opus
    a.session.update(negotiated(opus_codec(), (b_addr[0], b_addr[1])))
    b.session.update(negotiated(opus_codec(), (a_addr[0], a_addr[1])))
    before = b.session.stats().frames_decoded
    assert wait_until(lambda: b.session.stats().frames_decoded > before + 25, 5.0)
    assert wait_until(lambda: hears(b, 1000.0) and hears(a, 600.0), 5.0)
    assert b.session.stats().failures == 0 and a.session.stats().failures == 0


def test_garbage_is_dropped_and_counted(pairs: list[tuple[Side, Side, LossyRelay | None]]) -> None:
    _, b = start(pairs, opus_codec())
    assert wait_until(lambda: hears(b, 1000.0), 5.0)
    target = b.session.local_address
    rtcp_target = (target[0], target[1] + 1)
    rng = random.Random(3)
    garbage: list[bytes] = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200))) for _ in range(50)]
    garbage += [b"\x80\x6f\x00", b"", b"\x80"]  # truncated RTP
    garbage += [RtpPacket(111, 5, 1, 1234, b"xx").to_bytes()[:11]]
    garbage += [b"\x40" + os.urandom(30)]  # version 1
    garbage += [struct.pack("!BBH", 0x80, 200, 200) + os.urandom(24)]  # SR whose length overruns
    garbage += [struct.pack("!BBH", 0x81, 201, 1) + os.urandom(4)]  # RR claiming a block it lacks
    garbage += [struct.pack("!BBH", 0xA0, 201, 1) + b"\x00\x00\x00\x00"]  # padding count 0
    garbage += [RtpPacket(111, 9, 1, 99, os.urandom(40)).to_bytes()]  # from a stranger after latching
    garbage += [RtpPacket(77, 9, 1, 99, os.urandom(40)).to_bytes()]  # unknown payload type
    heard_before = len(b.sink)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
        for datagram in garbage:
            attacker.sendto(datagram, (target[0], target[1]))
            attacker.sendto(datagram, rtcp_target)

    def counted() -> bool:
        stats = b.session.stats()
        return (
            stats.malformed >= 10
            and stats.rtcp_malformed > 0
            and stats.dropped["wrong_source"] > 0
            and stats.dropped["unknown_pt"] + stats.dropped["wrong_source"] >= 2
        )

    assert wait_until(counted, 3.0), b.session.stats()
    stats = b.session.stats()
    assert stats.failures == 0 and b.session.running
    assert not any(isinstance(e, MediaFailure) for e in b.events)
    decoded = stats.frames_decoded
    assert wait_until(lambda: b.session.stats().frames_decoded > decoded + 20 and hears(b, 1000.0), 3.0)
    # No click: the steady tone heard across the garbage burst keeps its level in every 5 ms block.
    heard = b.session.stats().frames_played
    assert wait_until(lambda: b.session.stats().frames_played > heard + 25, 3.0)
    tail = b.sink.samples(len(b.sink) - heard_before)
    blocks = tail[: len(tail) // 240 * 240].reshape(-1, 240)
    levels = np.sqrt(np.mean(blocks**2, axis=1))
    assert levels.min() > 0.5 * np.median(levels), levels
    assert np.abs(tail).max() < 2.0 * np.sqrt(2) * np.median(levels)


def test_one_way_audio_is_reported_and_clears(pairs: list[tuple[Side, Side, LossyRelay | None]]) -> None:
    sock_a, sock_b = even_socket(), even_socket()
    addr_b = sock_b.getsockname()
    events: list[MediaEvent] = []
    session = MediaSession(
        sock_a,
        negotiated(pcmu_codec(), addr_b),
        SilenceSource(),
        ArraySink(),
        on_event=events.append,
        one_way_timeout=0.3,
    )
    session.start()
    try:
        assert wait_until(lambda: any(isinstance(e, OneWayAudio) and e.active for e in events), 3.0)
        # now the peer starts sending
        peer = MediaSession(sock_b, negotiated(pcmu_codec(), sock_a.getsockname()), SilenceSource(), ArraySink())
        peer.start()
        try:
            assert wait_until(lambda: any(isinstance(e, OneWayAudio) and not e.active for e in events), 3.0)
        finally:
            peer.stop()
    finally:
        session.stop()
    assert not session.running


def test_failure_in_loop_is_reported_once_and_session_survives() -> None:
    class BrokenSink:
        calls = 0

        def write(self, block: npt.NDArray[np.float32]) -> None:
            self.calls += 1
            if self.calls % 2:
                raise RuntimeError("device vanished")

    sock = even_socket()
    events: list[MediaEvent] = []
    session = MediaSession(
        sock, negotiated(pcmu_codec(), (LOOPBACK, 9)), SilenceSource(), BrokenSink(), on_event=events.append
    )
    session.start()
    try:
        assert wait_until(lambda: session.stats().failures >= 5, 3.0)
        assert session.running
    finally:
        session.stop()
    failures = [e for e in events if isinstance(e, MediaFailure)]
    assert len(failures) == 1 and "device vanished" in failures[0].message


def test_stop_joins_and_closes_owned_sockets() -> None:
    sock = even_socket()
    session = MediaSession(sock, negotiated(pcmu_codec(), (LOOPBACK, 9)), SilenceSource(), ArraySink())
    session.start()
    with pytest.raises(MediaError):
        session.start()
    assert session.running
    session.stop()
    assert not session.running
    assert sock.fileno() == -1
    threads = [t.name for t in threading.enumerate()]
    assert f"media-{session.local_address[1]}" not in threads


def test_stop_without_start_and_borrowed_socket_stays_open() -> None:
    sock = even_socket()
    session = MediaSession(
        sock, negotiated(pcmu_codec(), (LOOPBACK, 9)), SilenceSource(), ArraySink(), own_socket=False
    )
    session.stop()
    assert sock.fileno() != -1
    sock.close()


def test_bad_dtmf_digit_is_rejected() -> None:
    session = MediaSession((LOOPBACK, 0), negotiated(pcmu_codec(), (LOOPBACK, 9)), SilenceSource(), ArraySink())
    try:
        with pytest.raises(MediaError):
            session.send_dtmf("12x")
    finally:
        session.stop()


def test_dtmf_without_telephone_event_goes_in_band(pairs: list[tuple[Side, Side, LossyRelay | None]]) -> None:
    sock_a, sock_b = even_socket(), even_socket()
    sink_b = ArraySink()
    a = MediaSession(
        sock_a,
        negotiated(pcmu_codec(), sock_b.getsockname(), telephone_event=False),
        SilenceSource(),
        ArraySink(),
    )
    b = MediaSession(
        sock_b, negotiated(pcmu_codec(), sock_a.getsockname(), telephone_event=False), SilenceSource(), sink_b
    )
    a.start()
    b.start()
    try:
        time.sleep(0.3)
        a.send_dtmf("5")
        # Q.23: digit 5 is 770 Hz + 1336 Hz; B hears energy there
        assert wait_until(lambda: rms(sink_b.samples(4800)) > 0.05, 3.0)
        assert a.stats().dtmf_packets_sent == 0
    finally:
        a.stop()
        b.stop()


# --------------------------------------------------------------------------
# through an impaired network
# --------------------------------------------------------------------------


def test_lossy_path_keeps_the_call_going_with_fec_and_concealment(
    pairs: list[tuple[Side, Side, LossyRelay | None]],
) -> None:
    _, clean_b = start(pairs, opus_codec(), rtcp_mux=True)
    lossy_a, lossy_b = start(
        pairs,
        opus_codec(),
        rtcp_mux=True,
        relay=True,
        relay_options={"loss": 0.10, "reorder": 0.05, "duplicate": 0.02, "delay_ms": (20.0, 50.0)},
    )
    relay = pairs[-1][2]
    assert relay is not None

    def settled() -> bool:
        stats = lossy_b.session.stats()
        return (
            len(lossy_b.quality) >= 3
            and len(clean_b.quality) >= 3
            and stats.fec_decoded > 0
            and stats.concealed > 0
            and lossy_b.quality[-1][1].loss_percent > 0
        )

    assert wait_until(settled, 8.0), lossy_b.session.stats()
    assert wait_until(lambda: hears(lossy_b, 1000.0, 0.3) and hears(lossy_a, 600.0, 0.3), 5.0)
    relay_stats = relay.stats()
    assert relay_stats.dropped > 0 and relay_stats.forwarded > 0
    lossy = lossy_b.quality[-1][1]
    clean = clean_b.quality[-1][1]
    assert clean.loss_percent == 0.0
    assert lossy.mos < clean.mos
    assert lossy.concealed_ms > 0
    # the peer learns about the loss through RTCP and tells its Opus encoder
    assert wait_until(lambda: (lossy_a.session.stats().remote_loss_percent or 0) > 0, 5.0)
    assert lossy_b.session.stats().failures == 0


def test_unusable_codec_is_rejected_up_front() -> None:
    gsm = Codec("GSM", 8000, 1, 3)
    with pytest.raises(MediaError):
        MediaSession((LOOPBACK, 0), negotiated(gsm, (LOOPBACK, 9)), SilenceSource(), ArraySink())
    session = MediaSession((LOOPBACK, 0), negotiated(pcmu_codec(), (LOOPBACK, 9)), SilenceSource(), ArraySink())
    try:
        with pytest.raises(MediaError):
            session.update(negotiated(gsm, (LOOPBACK, 9)))
    finally:
        session.stop()


def test_symmetric_rtp_answers_the_latched_source(pairs: list[tuple[Side, Side, LossyRelay | None]]) -> None:
    # B's SDP view of A is wrong (as behind a NAT); B must still reach A by replying to where A's RTP comes from.
    sock_a, sock_b = even_socket(), even_socket()
    unused = even_socket()
    wrong = unused.getsockname()
    sink_a, sink_b = ArraySink(), ArraySink()
    a = MediaSession(sock_a, negotiated(pcmu_codec(), sock_b.getsockname()), ToneSource(1000.0), sink_a)
    b = MediaSession(sock_b, negotiated(pcmu_codec(), wrong), ToneSource(600.0), sink_b)
    side_a = Side(a, sink_a)
    a.start()
    b.start()
    try:
        assert wait_until(lambda: hears(side_a, 600.0), 5.0)
        assert b.stats().latched_address == a.local_address
    finally:
        a.stop()
        b.stop()
        unused.close()


def test_reported_loss_tunes_the_opus_encoder() -> None:
    sock = even_socket()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind((LOOPBACK, 0))
        peer.settimeout(2.0)
        session = MediaSession(
            sock, negotiated(opus_codec(), peer.getsockname(), rtcp_mux=True), ToneSource(), ArraySink()
        )
        session.start()
        try:
            ssrc = None
            for _ in range(20):
                data, _ = peer.recvfrom(2048)
                if not 192 <= data[1] <= 223:
                    ssrc = RtpPacket.parse(data).ssrc
                    break
            assert ssrc is not None
            start_bitrate = session.stats().send_bitrate
            assert start_bitrate is not None
            block = ReportBlock(ssrc, 128, 50, 1000, 10, 0, 0)  # the peer lost half of our packets
            report = build_compound([ReceiverReport(0x1234, (block,))])
            for _ in range(3):
                peer.sendto(report, sock.getsockname())
            assert wait_until(lambda: session.stats().remote_loss_percent == 50.0, 3.0)
            assert wait_until(lambda: (session.stats().send_bitrate or start_bitrate) < start_bitrate, 3.0)
        finally:
            session.stop()

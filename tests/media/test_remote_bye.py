"""The peer's RTCP BYE ends its stream cleanly: silence, no concealment, no loss, no one-way warning.

Real sessions on loopback sockets with tone sources and array sinks. A stops
(its session sends RTCP BYE); B must go quiet at once and stay honest in its
figures, and take the peer's media again when RTP resumes with a new SSRC.
"""

from __future__ import annotations

import dataclasses
import socket

import pytest

from softphone.media.engine import ArraySink, MediaEvent, MediaSession, OneWayAudio, RemoteBye, ToneSource
from softphone.media.quality import QualitySnapshot
from softphone.media.rtcp import Bye, ReceiverReport, build_compound
from softphone.sip.offer_answer import opus_codec, pcmu_codec
from tests.media.test_engine import even_socket, negotiated, wait_until
from tests.media.test_latching import STRANGER_HZ, Peer, Sprayer, address, band_ratio, cleanup
from tests.media_relay import LossyRelay

__all__ = ["cleanup"]  # the fixture, shared with test_latching

Things = list[MediaSession | Sprayer | socket.socket]


@dataclasses.dataclass
class Listener(Peer):
    quality: list[QualitySnapshot] = dataclasses.field(default_factory=list)

    def bye_index(self) -> int | None:
        return next((i for i, e in enumerate(list(self.events)) if isinstance(e, RemoteBye)), None)


def listener(sock: socket.socket, params: object, things: Things, **options: object) -> Listener:
    sink = ArraySink()
    events: list[MediaEvent] = []
    quality: list[QualitySnapshot] = []
    session = MediaSession(
        sock,
        params,  # type: ignore[arg-type]
        ToneSource(600.0),
        sink,
        on_event=events.append,
        on_quality=quality.append,
        rtcp_min_interval=0.5,
        **options,  # type: ignore[arg-type]
    )
    things.append(session)
    return Listener(session, sink, events, quality)


def test_remote_bye_ends_the_stream_cleanly_after_a_lossy_stretch(cleanup: Things) -> None:
    sock_a, sock_b = even_socket(), even_socket()
    addr_a, addr_b = address(sock_a), address(sock_b)
    # RTP crosses a lossy relay; RTCP goes direct, so the BYE itself cannot be lost.
    relay = LossyRelay(addr_a, addr_b, loss=0.1, duplicate=0.0, reorder=0.05, delay_ms=(10.0, 30.0), seed=3)
    try:
        to_b = dataclasses.replace(negotiated(opus_codec(), relay.address_a), remote_rtcp_port=addr_b[1] + 1)
        to_a = dataclasses.replace(negotiated(opus_codec(), relay.address_b), remote_rtcp_port=addr_a[1] + 1)
        a = MediaSession(sock_a, to_b, ToneSource(1000.0), ArraySink(), rtcp_min_interval=0.5)
        cleanup.append(a)
        b = listener(sock_b, to_a, cleanup, one_way_timeout=0.3)
        a.start()
        b.session.start()

        def lossy() -> bool:
            stats = b.session.stats()
            return len(b.quality) >= 2 and b.quality[-1].loss_percent > 0 and stats.concealed + stats.fec_decoded > 0

        assert wait_until(lossy, 8.0), b.session.stats()
        a.stop()
        assert wait_until(lambda: b.bye_index() is not None, 3.0)
        at_bye = b.session.stats()
        reports = len(b.quality)
        assert at_bye.packets_received > 0 and at_bye.loss_percent > 0
        assert wait_until(
            lambda: b.session.stats().silence_frames >= at_bye.silence_frames + 40 and len(b.quality) >= reports + 2,
            5.0,
        )
        after = b.session.stats()
        # nothing concealed, recovered or decoded after the goodbye, and no loss counted for it
        assert (after.concealed, after.fec_decoded, after.frames_played, after.decode_errors) == (
            at_bye.concealed,
            at_bye.fec_decoded,
            at_bye.frames_played,
            at_bye.decode_errors,
        )
        assert after.loss_percent == at_bye.loss_percent
        assert after.packets_received == at_bye.packets_received
        for snapshot in b.quality[reports:]:
            assert snapshot.loss_percent == at_bye.loss_percent
            assert snapshot.packets_received == at_bye.packets_received
            assert snapshot.concealed_ms == at_bye.concealed * 20
        # digital silence, and no one-way-audio warning for a stream that said goodbye
        assert not b.sink.samples(int(0.6 * 48000)).any()
        bye = b.bye_index()
        assert bye is not None
        assert not any(isinstance(e, OneWayAudio) and e.active for e in b.events[bye:])
        assert after.failures == 0
    finally:
        relay.close()


def test_rtp_resuming_with_a_new_ssrc_is_played_and_stragglers_are_not(cleanup: Things) -> None:
    sock_a, sock_b = even_socket(), even_socket()
    cleanup.append(sock_a)
    to_b, to_a = negotiated(pcmu_codec(), address(sock_b)), negotiated(pcmu_codec(), address(sock_a))
    a = MediaSession(sock_a, to_b, ToneSource(1000.0), ArraySink(), own_socket=False, seed=11)
    cleanup.append(a)
    b = listener(sock_b, to_a, cleanup, one_way_timeout=0.3)
    a.start()
    b.session.start()
    assert wait_until(lambda: b.heard(1000.0), 5.0)
    old_ssrc = a._send.rtp.ssrc
    a.stop()
    assert wait_until(lambda: b.bye_index() is not None, 3.0)
    at_bye = b.session.stats()
    # stragglers of the ended stream (a loud tone under the old SSRC) are refused, not played
    straggler = Sprayer(address(sock_b), sock=sock_a, ssrc=old_ssrc)
    cleanup.append(straggler)
    assert wait_until(lambda: b.dropped("after_bye") >= 10, 3.0), b.session.stats().dropped
    straggler.close()
    assert b.session.stats().frames_played == at_bye.frames_played
    # the peer's media is replaced: a new session (new SSRC) on the same address
    replaced = MediaSession(sock_a, to_b, ToneSource(800.0), ArraySink(), own_socket=False, seed=12)
    cleanup.append(replaced)
    assert replaced._send.rtp.ssrc != old_ssrc
    replaced.start()
    assert wait_until(lambda: b.heard(800.0), 5.0)
    stats = b.session.stats()
    assert stats.packets_received > at_bye.packets_received and stats.loss_percent == 0.0
    assert stats.latched_address == a.local_address
    played = b.sink.samples()
    assert band_ratio(played, STRANGER_HZ, 800.0) < 1e-3
    # RTP flows again, so the one-way-audio watch is back: silence from the peer is noticed
    mark = len(b.events)
    replaced.set_direction("inactive")
    assert wait_until(lambda: any(isinstance(e, OneWayAudio) and e.active for e in b.events[mark:]), 3.0)


@pytest.mark.parametrize("rtcp_mux", [False, True])
def test_a_forged_bye_from_a_stranger_changes_nothing(rtcp_mux: bool, cleanup: Things) -> None:
    sock_a, sock_b = even_socket(), even_socket()
    a = MediaSession(
        sock_a, negotiated(pcmu_codec(), address(sock_b), rtcp_mux=rtcp_mux), ToneSource(1000.0), ArraySink()
    )
    cleanup.append(a)
    b = listener(sock_b, negotiated(pcmu_codec(), address(sock_a), rtcp_mux=rtcp_mux), cleanup)
    a.start()
    b.session.start()
    assert wait_until(lambda: b.heard(1000.0), 5.0)
    forged = build_compound([ReceiverReport(0x4321), Bye((a._send.rtp.ssrc,), "forged")])
    target = address(sock_b)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        for _ in range(5):
            stranger.sendto(forged, target if rtcp_mux else (target[0], target[1] + 1))
    assert wait_until(lambda: b.dropped("rtcp_wrong_source") >= 5, 3.0)
    assert b.bye_index() is None
    played = b.session.stats().frames_decoded
    assert wait_until(lambda: b.session.stats().frames_decoded > played + 10 and b.heard(1000.0), 3.0)

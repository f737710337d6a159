"""Two video sessions on loopback: pattern → VP8 → RTP → frames → decoder, directly and through a lossy relay."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import av
import pytest

from softphone.media.rtcp import ReceiverReport, build_compound
from softphone.media.rtcp_feedback import nack, pli
from softphone.media.video import VideoQuality, VideoSession
from softphone.media.video_codec import VideoRecorder
from softphone.media.video_sources import PatternSource, read_counter
from softphone.sip.video_offer_answer import NegotiatedVideo, h264_codec, vp8_codec
from tests.media_relay import LossyRelay
from tests.video_check import PSNR_THRESHOLD_DB, Received, check_picture, read_recording

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel


def bound() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def params(
    port: int, direction: str = "sendrecv", feedback: frozenset[str] | None = None, codec: str = "VP8"
) -> NegotiatedVideo:
    agreed = vp8_codec(96) if codec == "VP8" else h264_codec(96)
    return NegotiatedVideo(
        remote_address="127.0.0.1",
        remote_port=port,
        remote_rtcp_port=port,
        rtcp_mux=True,
        codec=agreed,
        payload_type=96,
        receive_codecs={96: agreed},
        feedback=frozenset({"nack", "nack pli", "ccm fir"}) if feedback is None else feedback,
        direction=direction,  # type: ignore[arg-type]
    )


@dataclass
class Watch:
    received: Received = field(default_factory=lambda: Received([], [], 0))
    qualities: list[VideoQuality] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def frame(self, picture: av.VideoFrame) -> None:
        with self.lock:
            check_picture(picture, self.received)

    def quality(self, q: VideoQuality) -> None:
        with self.lock:
            self.qualities.append(q)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Callable[..., tuple[VideoSession, VideoSession, Watch]]]:
    sessions: list[VideoSession] = []

    def make(
        a_sock: socket.socket, b_sock: socket.socket, a_peer: int, b_peer: int, **kwargs: object
    ) -> tuple[VideoSession, VideoSession, Watch]:
        watch = Watch()
        codec = str(kwargs.get("codec", "VP8"))
        a = VideoSession(a_sock, params(a_peer, codec=codec), PatternSource(320, 240), fps=15)
        b = VideoSession(
            b_sock,
            params(b_peer, **kwargs),  # type: ignore[arg-type]
            None,
            fps=15,
            recorder=VideoRecorder(tmp_path / "b.mkv", codec),
            on_frame=watch.frame,
            on_quality=watch.quality,
        )
        sessions.extend([a, b])
        a.start()
        b.start()
        return a, b, watch

    yield make
    for session in sessions:
        session.stop()


@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_pattern_arrives_in_order_and_recording_matches(
    pair: Callable[..., tuple[VideoSession, VideoSession, Watch]], tmp_path: Path, codec: str
) -> None:
    a_sock, b_sock = bound(), bound()
    a, b, watch = pair(a_sock, b_sock, b_sock.getsockname()[1], a_sock.getsockname()[1], codec=codec)
    wait_for(lambda: len(watch.received.counters) >= 45)
    wait_for(lambda: any(q.frames_decoded > 0 for q in watch.qualities))
    b.stop()
    a.stop()
    got = watch.received
    assert got.in_order and got.unreadable == 0
    assert got.missing == 0  # loopback loses nothing
    assert min(got.psnrs) >= PSNR_THRESHOLD_DB
    q = watch.qualities[-1]
    assert (q.codec, q.width, q.height) == (codec, 320, 240) and q.bitrate_kbps > 0
    recorded = read_recording(tmp_path / "b.mkv")
    assert recorded.counters[: len(got.counters)] == got.counters[: len(recorded.counters)]
    assert len(recorded.counters) >= 45 and min(recorded.psnrs) >= PSNR_THRESHOLD_DB


@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_five_percent_loss_recovers_with_nack_and_pli(
    pair: Callable[..., tuple[VideoSession, VideoSession, Watch]], codec: str
) -> None:
    a_sock, b_sock = bound(), bound()
    relay = LossyRelay(
        a_sock.getsockname(), b_sock.getsockname(), loss=0.05, duplicate=0.01, reorder=0.02, delay_ms=(5, 20), seed=7
    )
    try:
        a, b, watch = pair(a_sock, b_sock, relay.address_a[1], relay.address_b[1], codec=codec)
        wait_for(lambda: len(watch.received.counters) >= 120, timeout=60)
        b.stop()
        a.stop()
    finally:
        relay.close()
    got = watch.received
    assert got.in_order and got.unreadable == 0
    # Every frame that is shown is right: a frame whose reference was lost is never decoded.
    assert min(got.psnrs) >= PSNR_THRESHOLD_DB
    sent = got.counters[-1] - got.counters[0] + 1
    figures = (b.nacks_sent, a.retransmitted, b.keyframes_requested, b._assembler.losses)
    # The sender adapts: had the loss it saw cut its target below what the full frame rate needs, it would
    # send every other frame, which this count would take for losses; the message says so.
    layer = a.rate.layer if a.rate is not None else None
    assert got.missing <= sent * 0.25, (
        f"{got.missing} of {sent} frames lost; nack/resent/pli/losses {figures}; sender's layer {layer}"
    )
    assert b.nacks_sent > 0 and a.retransmitted > 0


def test_loss_without_nack_asks_for_a_keyframe(pair: Callable[..., tuple[VideoSession, VideoSession, Watch]]) -> None:
    a_sock, b_sock = bound(), bound()
    relay = LossyRelay(
        a_sock.getsockname(), b_sock.getsockname(), loss=0.05, duplicate=0, reorder=0, delay_ms=(1, 2), seed=3
    )
    try:
        a, b, watch = pair(a_sock, b_sock, relay.address_a[1], relay.address_b[1], feedback=frozenset({"nack pli"}))
        wait_for(lambda: b.keyframes_requested > 0 and len(watch.received.counters) >= 60, timeout=60)
        wait_for(lambda: a.keyframes_sent > 1)
    finally:
        relay.close()
    assert watch.received.in_order and min(watch.received.psnrs) >= PSNR_THRESHOLD_DB


def test_garbage_is_counted_and_the_video_goes_on(
    pair: Callable[..., tuple[VideoSession, VideoSession, Watch]],
) -> None:
    a_sock, b_sock = bound(), bound()
    _, b, watch = pair(a_sock, b_sock, b_sock.getsockname()[1], a_sock.getsockname()[1])
    wait_for(lambda: len(watch.received.counters) >= 10)
    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        target = b_sock.getsockname()
        valid = bytes((0x80, 96)) + b"\x00" * 10
        for n in range(300):  # random junk, RTP headers with junk payloads, and junk RTCP from the latched host
            attacker.sendto(os.urandom(n % 90), target)
            attacker.sendto(valid[:2] + os.urandom(10) + os.urandom(n % 7), target)
            attacker.sendto(bytes((0x81, 206, 0, 2)) + os.urandom(8), target)
    finally:
        attacker.close()
    before = len(watch.received.counters)
    wait_for(lambda: len(watch.received.counters) >= before + 30)
    assert b.quality().packets_dropped > 0
    assert watch.received.in_order and min(watch.received.psnrs) >= PSNR_THRESHOLD_DB


def test_recvonly_session_sends_no_video(pair: Callable[..., tuple[VideoSession, VideoSession, Watch]]) -> None:
    a_sock, b_sock = bound(), bound()
    a, _, _ = pair(a_sock, b_sock, b_sock.getsockname()[1], a_sock.getsockname()[1])
    a.update(replace(params(b_sock.getsockname()[1]), direction="recvonly"))
    time.sleep(0.3)
    frames = a.frames_sent
    time.sleep(0.5)
    assert a.frames_sent == frames


def test_key_frame_requests_from_a_stranger_are_ignored(
    pair: Callable[..., tuple[VideoSession, VideoSession, Watch]],
) -> None:
    a_sock, b_sock = bound(), bound()
    a, _, watch = pair(a_sock, b_sock, b_sock.getsockname()[1], a_sock.getsockname()[1])
    wait_for(lambda: len(watch.received.counters) >= 5)
    before = a.keyframes_sent
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # A well-formed PLI and NACK naming the sender's SSRC, from another port of the same host.
        request = build_compound([ReceiverReport(7, ()), pli(7, a._sender.ssrc), nack(7, a._sender.ssrc, [1, 2, 3])])
        for _ in range(50):
            stranger.sendto(request, a_sock.getsockname())
    finally:
        stranger.close()
    frames = len(watch.received.counters)
    wait_for(lambda: len(watch.received.counters) >= frames + 15)
    assert a.keyframes_sent == before and a.retransmitted == 0
    assert a.quality().packets_dropped >= 50


def _counter_or(luma: object, unreadable: int = -1) -> int:
    found = read_counter(luma)  # type: ignore[arg-type]
    return unreadable if found is None else found


def test_the_source_changes_mid_call_and_the_preview_sees_what_is_sent() -> None:
    a_sock, b_sock = bound(), bound()
    previews: list[int] = []
    a = VideoSession(
        a_sock,
        params(b_sock.getsockname()[1]),
        PatternSource(320, 240),
        fps=15,
        on_preview=lambda picture: previews.append(_counter_or(picture.to_ndarray()[:240])),
    )
    watch = Watch()
    b = VideoSession(
        b_sock, params(a_sock.getsockname()[1]), None, fps=15, on_frame=watch.frame, on_quality=watch.quality
    )
    try:
        a.start()
        b.start()
        wait_for(lambda: len(watch.received.counters) >= 10 and len(previews) >= 10)
        # The self view is the picture sent: the pattern's counters in order.
        assert previews[:5] == [0, 1, 2, 3, 4]
        a.set_source(None)  # camera off: nothing sent, the stream stays
        wait_for(lambda: not a.sending)
        sent, previewed = a.frames_sent, len(previews)
        reports = len(watch.qualities)
        wait_for(lambda: any(q.fps == 0 for q in watch.qualities[reports:]))
        assert (a.frames_sent, len(previews)) == (sent, previewed)
        a.set_source(PatternSource(320, 240))  # on again: a key frame first, the peer decodes at once
        counted = len(watch.received.counters)
        wait_for(lambda: len(watch.received.counters) >= counted + 10)
        assert watch.received.unreadable == 0 and len(previews) > previewed
    finally:
        a.stop()
        b.stop()


def test_a_stream_dropped_before_the_session_cannot_hold_its_latch() -> None:
    """The tail of the peer's previous stream, queued on the call's port while video was off, is not latched:
    the new stream (a new SSRC from the same address) is decoded."""
    from softphone.media.rtp import RtpSender

    a_sock, b_sock = bound(), bound()
    old = RtpSender(96, 90000, ssrc=0x1234)
    for n in range(20):
        a_sock.sendto(old.packetize_at(b"\x10\x00\x00\x9d\x01\x2a", n * 6000, marker=True), b_sock.getsockname())
    watch = Watch()
    a = VideoSession(a_sock, params(b_sock.getsockname()[1]), PatternSource(320, 240), fps=15)
    b = VideoSession(b_sock, params(a_sock.getsockname()[1]), None, fps=15, on_frame=watch.frame)
    try:
        b.start()
        a.start()
        wait_for(lambda: len(watch.received.counters) >= 10)
        assert b._receiver.latched_ssrc != 0x1234
    finally:
        a.stop()
        b.stop()

"""Lip sync computed sans-I/O (RFC 3550 6.4.1): each stream's delay from its sender reports, and the offset."""

from __future__ import annotations

import pytest

from softphone.media.lip_sync import MAX_HOLD, StreamClock, av_offset, ntp_seconds, video_hold
from softphone.media.rtcp import ntp_from_unix
from softphone.media.video import VideoSession
from softphone.media.video_sources import PatternSource
from tests.media.test_video_session import Watch, bound, params, wait_for
from tests.video_check import PSNR_THRESHOLD_DB

# The sender's wall clock and ours differ by an unknown amount: the offset must not depend on it.
SENDER_EPOCH = 1_800_000_000.0


@pytest.mark.parametrize("clock_skew", [0.0, 3600.0, -12.5])
def test_offset_of_video_played_later_than_its_sound(clock_skew: float) -> None:
    audio, video = StreamClock(48000), StreamClock(90000)
    # The sender captured both at its wall time T; its RTP clocks started at unrelated random values.
    audio_base, video_base = 4_000_000_000, 123
    audio.on_sender_report(ntp_from_unix(SENDER_EPOCH), audio_base)
    video.on_sender_report(ntp_from_unix(SENDER_EPOCH + 0.5), video_base + 45000)  # the same clock, half a second on
    # Two seconds after T, both sample 2 s of media; we play audio after 150 ms and video after 230 ms.
    local = SENDER_EPOCH + 2.0 + clock_skew
    audio.on_played((audio_base + 2 * 48000) % (1 << 32), local + 0.150)  # wraps past 2^32
    video.on_played(video_base + 2 * 90000, local + 0.230)
    offset = av_offset(audio.delay, video.delay)
    assert offset == pytest.approx(0.080, abs=1e-6)


def test_video_ahead_of_audio_is_negative_and_nothing_before_reports() -> None:
    audio, video = StreamClock(8000), StreamClock(90000)
    audio.on_played(1000, 5.0)
    assert audio.delay is None and av_offset(audio.delay, 0.1) is None
    audio.on_sender_report(ntp_from_unix(100.0), 0)
    video.on_sender_report(ntp_from_unix(100.0), 0)
    audio.on_played(8000, 200.0)  # captured at 101.0
    video.on_played(90000, 199.96)  # captured at 101.0, shown 40 ms sooner
    assert av_offset(audio.delay, video.delay) == pytest.approx(-0.040, abs=1e-6)


def test_timestamps_far_from_the_report_are_not_trusted_and_reset_forgets() -> None:
    clock = StreamClock(90000)
    clock.on_sender_report(ntp_from_unix(100.0), 0)
    assert clock.capture_time(90000 * 3600) is None  # an hour away: a new stream, not this report's
    assert clock.capture_time(-90000 & 0xFFFFFFFF) == pytest.approx(ntp_seconds(ntp_from_unix(99.0)))
    clock.on_played(90000, 10.0)
    assert clock.delay is not None
    clock.reset()
    assert clock.delay is None and clock.capture_time(0) is None
    with pytest.raises(ValueError):
        StreamClock(0)


def test_video_hold_moves_towards_the_sound_within_bounds() -> None:
    hold = 0.0
    for _ in range(40):
        hold = video_hold(0.250, 0.100, hold)  # the picture is ready 150 ms before its sound
    assert hold == pytest.approx(0.150, abs=0.002)
    assert video_hold(None, 0.1, hold) == hold and video_hold(0.1, None, hold) == hold
    later = hold
    for _ in range(40):
        later = video_hold(0.100, 0.300, later)  # the picture is late: nothing to hold
    assert later < 0.002
    steady = video_hold(5.0, 0.1, 0.05)  # five seconds apart: a clock gone astray, not followed
    assert steady == 0.05
    assert 0 < video_hold(0.1 + MAX_HOLD, 0.1, 0.0) <= MAX_HOLD


def test_a_session_holds_pictures_for_their_sound_and_reports_what_remains() -> None:
    """A real VideoSession whose audio is said to play 200 ms after the video's decoding: pictures are held
    back by 200 ms (reached step by step), still in order, and the reported offset shrinks to nothing."""
    watch = Watch()
    a_sock, b_sock = bound(), bound()
    sessions: list[VideoSession] = []

    def audio_delay() -> float | None:
        video = sessions[1].sync.delay if len(sessions) > 1 else None
        return None if video is None else video + 0.2

    a = VideoSession(a_sock, params(b_sock.getsockname()[1]), PatternSource(320, 240), fps=15)
    b = VideoSession(
        b_sock, params(a_sock.getsockname()[1]), None, fps=15, on_frame=watch.frame, audio_delay=audio_delay
    )
    sessions.extend([a, b])
    a.start()
    b.start()
    try:
        wait_for(lambda: b.hold > 0.19)
        wait_for(lambda: len(watch.received.counters) >= 45)
        offset = b.quality().av_offset_ms
        assert offset is not None and abs(offset) < 10, offset
        assert watch.received.in_order and min(watch.received.psnrs) >= PSNR_THRESHOLD_DB
    finally:
        a.stop()
        b.stop()

"""Lip sync computed sans-I/O (RFC 3550 6.4.1): each stream's delay from its sender reports, and the offset."""

from __future__ import annotations

import pytest

from softphone.media.lip_sync import StreamClock, av_offset, ntp_seconds
from softphone.media.rtcp import ntp_from_unix

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

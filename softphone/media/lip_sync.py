"""Lip sync, sans-I/O: how far behind its capture each stream of a call is played, and the audio/video offset.

RFC 3550 6.4.1: a sender report pairs an NTP time of the sender's wall clock
with the RTP timestamp of the same instant. With the latest pair of a stream,
the RTP timestamp of a frame being played gives the sender's wall-clock time
of its capture; ``now - capture`` is that stream's delay, measured on our
clock against the sender's. The two clocks are not synchronised, but audio
and video come from the same sender's clock and are played against the same
local one, so the difference of the two delays is the offset between what is
heard and what is seen (RFC 3550 6.4.1: "lip synchronization"): positive when
the picture comes later than the sound that goes with it.

When the picture would come first, :func:`video_hold` says how long to hold
each decoded picture back so that it comes with its sound (RFC 3550 6.4.1's
"delay the earlier stream"), smoothed so that one late audio packet does not
make the picture jump, and at most :data:`MAX_HOLD`. A picture that comes
after its sound is not helped: the audio is not delayed.

:class:`StreamClock` is one stream's; the audio's lives on the media thread,
the video's on the video thread, and :func:`av_offset` reads both (a float
read across threads is safe; it may be one frame old).
"""

from __future__ import annotations

__all__ = ["MAX_HOLD", "StreamClock", "av_offset", "ntp_seconds", "video_hold"]

_TS_MOD = 1 << 32
# The longest a picture is held back for its sound; a larger offset is left as it is (a clock gone astray).
MAX_HOLD = 0.5
# How much of the gap between the hold and what the offset asks for one picture closes.
_HOLD_STEP = 1 / 8
# Further than this from the sender report, a timestamp is taken for a new stream rather than trusted.
_MAX_SPAN = 600.0


def ntp_seconds(ntp_timestamp: int) -> float:
    """The 64-bit NTP timestamp (RFC 3550 4) in seconds."""
    return (ntp_timestamp >> 32) + (ntp_timestamp & 0xFFFFFFFF) / (1 << 32)


class StreamClock:
    """One received stream's sender clock (from its SRs) and the delay of the frame played last."""

    def __init__(self, clock_rate: int) -> None:
        if clock_rate <= 0:
            raise ValueError(f"clock rate {clock_rate} must be positive")
        self.clock_rate = clock_rate
        self._report: tuple[float, int] | None = None
        self.delay: float | None = None

    def on_sender_report(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        self._report = (ntp_seconds(ntp_timestamp), rtp_timestamp & (_TS_MOD - 1))

    def reset(self) -> None:
        """A new source: its SRs and frames start afresh."""
        self._report = None
        self.delay = None

    def capture_time(self, rtp_timestamp: int) -> float | None:
        """The sender's wall-clock time (NTP seconds) at which the frame stamped ``rtp_timestamp`` was taken."""
        report = self._report
        if report is None:
            return None
        ntp, reference = report
        # The nearest way round the 32-bit timestamp circle (RFC 3550 5.1: it wraps).
        delta = ((rtp_timestamp - reference + (_TS_MOD >> 1)) % _TS_MOD) - (_TS_MOD >> 1)
        seconds = delta / self.clock_rate
        if abs(seconds) > _MAX_SPAN:
            return None
        return ntp + seconds

    def on_played(self, rtp_timestamp: int, now: float) -> None:
        """The frame stamped ``rtp_timestamp`` is played at ``now`` (our clock, seconds)."""
        capture = self.capture_time(rtp_timestamp)
        if capture is not None:
            self.delay = now - capture


def av_offset(audio_delay: float | None, video_delay: float | None) -> float | None:
    """Seconds the picture is played after the sound captured with it (negative: before); None until both
    streams have had a sender report and a frame played."""
    if audio_delay is None or video_delay is None:
        return None
    return video_delay - audio_delay


def video_hold(audio_delay: float | None, video_delay: float | None, current: float) -> float:
    """How long to hold the next decoded picture: ``current`` moved a step towards what brings the picture
    (``video_delay`` at decoding) level with its sound, between 0 and MAX_HOLD; unchanged while either is
    unknown."""
    if audio_delay is None or video_delay is None:
        return current
    wanted = audio_delay - video_delay
    if not 0.0 <= wanted <= MAX_HOLD:
        wanted = 0.0 if wanted < 0 else current  # picture later: nothing to hold; far off: keep what we have
    return current + (wanted - current) * _HOLD_STEP

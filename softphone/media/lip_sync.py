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

:class:`StreamClock` is one stream's; the audio's lives on the media thread,
the video's on the video thread, and :func:`av_offset` reads both (a float
read across threads is safe; it may be one frame old).
"""

from __future__ import annotations

__all__ = ["StreamClock", "av_offset", "ntp_seconds"]

_TS_MOD = 1 << 32
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

"""How fast a video stream sends: a sans-I/O controller fed by the peer's RTCP, and the picture size it allows.

:class:`SendRateController` keeps a target bitrate between a floor and the
configured maximum. The loss of our stream in each reception report moves it
by the loss rule of Google congestion control (draft-ietf-rmcat-gcc-02 6):
above 10 % loss the target is cut by (1 - 0.5 · loss), under 2 % it grows by
8 %, in between it holds. A TMMBR (RFC 5104 4.2.1) or a REMB from the peer
caps it at what the peer asked for, until the peer asks otherwise.

The loss is taken over at least :data:`REPORT_WINDOW` seconds, from the
cumulative loss and highest sequence number of the reports
(:meth:`SendRateController.on_report`), not from each report's own fraction:
a receiver that sends feedback early (RFC 4585 3.5) sends reports a few
packets apart, whose fraction of one loss in five would read as 20 %.

Delay counts too, since a bottleneck with a deep buffer (a home router)
queues for seconds before it drops anything: each report's round-trip time
(RFC 3550 6.4.1) is compared with the lowest of the last :data:`BASE_WINDOW`
seconds. When the difference (over the last two reports, so that one report
held up on its way is not taken for a queue), the queue our packets wait in, passes
:data:`QUEUE_LIMIT` the target drops to 0.85 times the rate the peer
acknowledged over the window (the delay rule of draft-ietf-rmcat-gcc-02
5.5, with the acknowledged bytes taken from the reports' highest sequence
numbers), and while the queue is above half the limit the target does not grow.

The target decides the :class:`VideoLayer`: the configured size and frame
rate while the target pays for them, then half the frame rate, then half the
width and height, then both (each needs :data:`BITS_PER_PIXEL` bits per pixel
of each frame). A step down is taken at once; a step up waits until the
target clears what the larger layer needs by :data:`STEP_UP_MARGIN`, so the
picture does not flap between two sizes.

No clock, no sockets: the caller passes reports in and reads ``target`` and
``layer`` out.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

__all__ = [
    "BITS_PER_PIXEL",
    "DEFAULT_FLOOR",
    "QUEUE_LIMIT",
    "STEP_UP_MARGIN",
    "SendRateController",
    "VideoLayer",
    "layers_for",
]

# Below this many bits per pixel of each frame a picture of that size and rate looks worse than a smaller one.
BITS_PER_PIXEL = 0.1
# The lowest target: below it even the smallest picture is not worth sending.
DEFAULT_FLOOR = 30_000
STEP_UP_MARGIN = 1.25
# draft-ietf-rmcat-gcc-02 6: the loss thresholds and the multiplicative increase.
HIGH_LOSS = 0.10
LOW_LOSS = 0.02
INCREASE = 1.08
REPORT_WINDOW = 1.0
# draft-ietf-rmcat-gcc-02 5.5: on overuse, 0.85 times what got through.
DECREASE = 0.85
# A queue this long (seconds of round trip above the lowest one) is overuse.
QUEUE_LIMIT = 0.1
# The lowest round trip of this many seconds is the path's own; a longer path after a move becomes the new base.
BASE_WINDOW = 30.0
# Round trips kept for that: a report a second needs 30; a peer flooding reports cannot make us keep more.
MAX_RTTS = 256


@dataclass(frozen=True, slots=True)
class VideoLayer:
    """A picture size and frame rate, and the bitrate it needs."""

    width: int
    height: int
    fps: int

    @property
    def needs(self) -> int:
        return int(self.width * self.height * self.fps * BITS_PER_PIXEL)


def _even(value: int) -> int:
    return max(2, value - value % 2)  # yuv420p wants even sizes


def layers_for(width: int, height: int, fps: int) -> tuple[VideoLayer, ...]:
    """The configured layer, then the smaller ones, largest need first (duplicates left out)."""
    half_fps = max(1, fps // 2)
    small = (_even(width // 2), _even(height // 2))
    candidates = [
        VideoLayer(width, height, fps),
        VideoLayer(width, height, half_fps),
        VideoLayer(*small, fps),
        VideoLayer(*small, half_fps),
    ]
    unique = list(dict.fromkeys(candidates))
    return tuple(sorted(unique, key=lambda layer: -layer.needs))


class SendRateController:
    """The target bitrate and layer of one video sender; see the module documentation."""

    def __init__(
        self,
        width: int,
        height: int,
        fps: int,
        maximum: int,
        floor: int = DEFAULT_FLOOR,
        start: int | None = None,
    ) -> None:
        if maximum <= 0:
            raise ValueError(f"maximum bitrate {maximum} must be positive")
        self.maximum = maximum
        self._floor = floor
        self.floor = min(floor, maximum)
        self.layers = layers_for(width, height, fps)
        self._loss_based = float(start if start is not None else maximum)
        self.tmmbr: int | None = None
        self.remb: int | None = None
        self._layer = 0
        # The report the next loss figure is counted from: (highest sequence, cumulative lost, when, bytes acked).
        self._baseline: tuple[int, int, float, int | None] | None = None
        self._rtts: collections.deque[tuple[float, float]] = collections.deque()
        self._last_rtt: float | None = None
        self.queue_delay = 0.0
        self.overuses = 0
        self.target = self._clamp()
        self._choose_layer()

    @property
    def ceiling(self) -> int:
        """The highest target now: the maximum, or less when the peer's TMMBR or REMB asks for less."""
        ceiling = self.maximum
        for cap in (self.tmmbr, self.remb):
            if cap is not None:
                ceiling = min(ceiling, cap)
        return max(self.floor, ceiling)

    @property
    def layer(self) -> VideoLayer:
        return self.layers[self._layer]

    def on_report(
        self,
        highest_sequence: int,
        cumulative_lost: int,
        now: float,
        *,
        rtt: float | None = None,
        acked_bytes: int | None = None,
    ) -> int:
        """A reception report block of our stream (RFC 3550 6.4.1: extended highest sequence number received,
        cumulative number of packets lost); the loss since the baseline counts once it spans REPORT_WINDOW.
        ``rtt``: the round trip the block gives; ``acked_bytes``: how many bytes we had sent up to and
        including its highest sequence number (a running count)."""
        if rtt is not None:
            self._note_rtt(rtt, now)
        baseline = self._baseline
        if baseline is None or highest_sequence < baseline[0]:
            self._baseline = (highest_sequence, cumulative_lost, now, acked_bytes)  # the first report, or a new source
            return self.target
        if now - baseline[2] < REPORT_WINDOW:
            return self.target
        self._baseline = (highest_sequence, cumulative_lost, now, acked_bytes)
        expected = highest_sequence - baseline[0]
        if expected <= 0:
            return self.target
        if self.queue_delay > QUEUE_LIMIT and acked_bytes is not None and baseline[3] is not None:
            acked_rate = (acked_bytes - baseline[3]) * 8 / (now - baseline[2])
            if acked_rate > 0:
                self.overuses += 1
                self._loss_based = min(self._loss_based, DECREASE * acked_rate)
                return self._update()
        return self.on_loss((cumulative_lost - baseline[1]) / expected)

    def _note_rtt(self, rtt: float, now: float) -> None:
        rtts = self._rtts
        # A monotonic deque: the front is the lowest round trip of the last BASE_WINDOW seconds.
        while rtts and rtts[-1][1] >= rtt:
            rtts.pop()
        rtts.append((now, rtt))
        while rtts[0][0] < now - BASE_WINDOW or len(rtts) > MAX_RTTS:
            rtts.popleft()
        # The lower of the last two: one report held up on its way (a busy peer, a busy us) is no queue.
        previous, self._last_rtt = self._last_rtt, rtt
        self.queue_delay = min(rtt, rtt if previous is None else previous) - rtts[0][1]

    def on_loss(self, fraction_lost: float) -> int:
        """A reception report of our stream: ``fraction_lost`` (0-1, RFC 3550 6.4.1) since the last one."""
        loss = min(1.0, max(0.0, fraction_lost))
        if loss > HIGH_LOSS:
            self._loss_based = self.target * (1 - 0.5 * loss)
        elif loss < LOW_LOSS and self.queue_delay <= QUEUE_LIMIT / 2:
            self._loss_based = min(self.target * INCREASE, self.ceiling)
        return self._update()

    def limit(self, maximum: int) -> int:
        """A new maximum (a new offer/answer's b= line); the target follows at once when it is lower."""
        self.maximum = max(1, maximum)
        self.floor = min(self._floor, self.maximum)
        return self._update()

    def on_tmmbr(self, bitrate: int) -> int:
        """The peer's TMMBR: at most ``bitrate`` from now on (RFC 5104 4.2.1.2; below the floor, the floor)."""
        self.tmmbr = max(0, bitrate)
        return self._update()

    def on_remb(self, bitrate: int) -> int:
        self.remb = max(0, bitrate)
        return self._update()

    def _clamp(self) -> int:
        return int(min(max(self._loss_based, self.floor), self.ceiling))

    def _update(self) -> int:
        self.target = self._clamp()
        self._loss_based = float(self.target)
        self._choose_layer()
        return self.target

    def _choose_layer(self) -> None:
        fits = next(
            (i for i, layer in enumerate(self.layers) if layer.needs <= self.target),
            len(self.layers) - 1,
        )
        if fits > self._layer:
            self._layer = fits  # down at once
        elif fits < self._layer:
            # Up only to layers the target pays for with room to spare.
            while self._layer > fits and self.layers[self._layer - 1].needs * STEP_UP_MARGIN <= self.target:
                self._layer -= 1

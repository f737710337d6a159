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

from dataclasses import dataclass

__all__ = [
    "BITS_PER_PIXEL",
    "DEFAULT_FLOOR",
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
        # The report the next loss figure is counted from: (highest sequence, cumulative lost, when).
        self._baseline: tuple[int, int, float] | None = None
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

    def on_report(self, highest_sequence: int, cumulative_lost: int, now: float) -> int:
        """A reception report block of our stream (RFC 3550 6.4.1: extended highest sequence number received,
        cumulative number of packets lost); the loss since the baseline counts once it spans REPORT_WINDOW."""
        baseline = self._baseline
        if baseline is None or highest_sequence < baseline[0]:
            self._baseline = (highest_sequence, cumulative_lost, now)  # the first report, or a new source
            return self.target
        if now - baseline[2] < REPORT_WINDOW:
            return self.target
        self._baseline = (highest_sequence, cumulative_lost, now)
        expected = highest_sequence - baseline[0]
        if expected <= 0:
            return self.target
        return self.on_loss((cumulative_lost - baseline[1]) / expected)

    def on_loss(self, fraction_lost: float) -> int:
        """A reception report of our stream: ``fraction_lost`` (0-1, RFC 3550 6.4.1) since the last one."""
        loss = min(1.0, max(0.0, fraction_lost))
        if loss > HIGH_LOSS:
            self._loss_based = self.target * (1 - 0.5 * loss)
        elif loss < LOW_LOSS:
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

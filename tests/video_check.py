"""Checks of received video against the test pattern: frame counters and PSNR.

The pattern (``softphone.media.video_sources``) carries its frame number, so
each received picture is compared with the very source frame it came from.

PSNR threshold: VP8 at 320x240 and 300 kbit/s codes this pattern at 50-53 dB
(luma, measured); the same picture against its neighbour frame scores 18 dB,
two frames apart 15 dB. 35 dB sits well between: a coded frame passes with
room for a lower rate under CPU load, and a wrong or corrupted frame (a
reference lost and decoded anyway) cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from softphone.media.video_sources import pattern_planes, read_counter

PSNR_THRESHOLD_DB = 35.0


def psnr(picture: np.ndarray, reference: np.ndarray) -> float:
    mse = float(np.mean((picture.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * float(np.log10(255.0**2 / mse))


@dataclass
class Received:
    counters: list[int]
    psnrs: list[float]
    unreadable: int

    @property
    def in_order(self) -> bool:
        return all(b > a for a, b in zip(self.counters, self.counters[1:], strict=False))

    @property
    def missing(self) -> int:
        """Frames between the first and last received counter that never came."""
        if not self.counters:
            return 0
        return self.counters[-1] - self.counters[0] + 1 - len(self.counters)


def check_picture(frame: av.VideoFrame, received: Received) -> None:
    planes = frame.to_ndarray(format="yuv420p")
    luma = planes[: frame.height]
    counter = read_counter(luma)
    if counter is None:
        received.unreadable += 1
        return
    received.counters.append(counter)
    reference = pattern_planes(counter, frame.width, frame.height)[: frame.height]
    received.psnrs.append(psnr(luma, reference))


def read_recording(path: Path) -> Received:
    received = Received([], [], 0)
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            check_picture(frame, received)
    return received

"""Audio sources and sinks of a media session: mono float32 blocks at 48 kHz.

An :class:`AudioSource` is read one frame per ptime on the capture side, an
:class:`AudioSink` written one frame per ptime on the playback side. Besides
the protocols: tones, silence, a discarding sink, a growing in-memory sink
(tests, recording), and WAV files resampled to the pipeline rate.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from softphone.media.resample import Resampler
from softphone.media.tones import ToneGenerator, ToneSpec

__all__ = [
    "PIPELINE_RATE",
    "ArraySink",
    "AudioSink",
    "AudioSource",
    "NullSink",
    "ResampledSource",
    "Samples",
    "SilenceSource",
    "ToneSource",
    "wav_sink",
    "wav_source",
]

PIPELINE_RATE = 48000
Samples = npt.NDArray[np.float32]


class AudioSource(Protocol):
    """Capture side: ``read(n)`` gives the next n samples, mono float32 at 48 kHz."""

    def read(self, frames: int) -> Samples: ...


class AudioSink(Protocol):
    """Playback side: takes mono float32 blocks at 48 kHz."""

    def write(self, block: Samples) -> None: ...


class ToneSource:
    """A continuous tone (or any :class:`ToneSpec`, cadence included) at 48 kHz."""

    def __init__(self, tone: float | ToneSpec = 1000.0, *, level_dbfs: float = -12.0) -> None:
        spec = tone if isinstance(tone, ToneSpec) else ToneSpec((float(tone),), level_dbfs=level_dbfs)
        self._generator = ToneGenerator(spec, PIPELINE_RATE)

    def read(self, frames: int) -> Samples:
        return self._generator.read_float(frames)


class SilenceSource:
    """Digital silence."""

    def read(self, frames: int) -> Samples:
        return np.zeros(frames, dtype=np.float32)


class NullSink:
    """Discards what is played."""

    def write(self, block: Samples) -> None:
        return None


class ArraySink:
    """Collects everything played into one growing float32 buffer (for tests and recording)."""

    def __init__(self, initial_seconds: float = 5.0) -> None:
        self._buffer: Samples = np.zeros(max(1, int(initial_seconds * PIPELINE_RATE)), dtype=np.float32)
        self._length = 0
        self._lock = threading.Lock()

    def write(self, block: Samples) -> None:
        data = np.asarray(block, dtype=np.float32).reshape(-1)
        with self._lock:
            needed = self._length + data.size
            if needed > self._buffer.size:
                grown = np.zeros(max(needed, 2 * self._buffer.size), dtype=np.float32)
                grown[: self._length] = self._buffer[: self._length]
                self._buffer = grown
            self._buffer[self._length : needed] = data
            self._length = needed

    def __len__(self) -> int:
        return self._length

    def samples(self, last: int | None = None) -> Samples:
        """A copy of everything written, or of the last ``last`` samples."""
        with self._lock:
            start = 0 if last is None else max(0, self._length - last)
            return self._buffer[start : self._length].copy()


class ResampledSource:
    """A source at another rate (``read`` gives blocks at ``rate``), resampled to 48 kHz."""

    def __init__(self, read: Callable[[int], Samples], rate: int) -> None:
        self._read = read
        self._resampler = Resampler(rate, PIPELINE_RATE)
        self._rate = rate
        self._pending: Samples = np.zeros(0, dtype=np.float32)

    def read(self, frames: int) -> Samples:
        while self._pending.size < frames:
            want = max(1, math.ceil((frames - self._pending.size) * self._rate / PIPELINE_RATE))
            block = self._resampler.process(np.asarray(self._read(want), dtype=np.float32))
            self._pending = np.concatenate((self._pending, block))
        out, self._pending = self._pending[:frames], self._pending[frames:]
        return out


def wav_source(path: str | Path, *, loop: bool = True) -> AudioSource:
    """A 16-bit WAV file as a source, resampled to 48 kHz when the file has another rate."""
    from softphone.media.wav import WavSource

    wav = WavSource(path, loop=loop)
    if wav.samplerate == PIPELINE_RATE:
        return wav
    return ResampledSource(wav.read, wav.samplerate)


def wav_sink(path: str | Path) -> AudioSink:
    """A 16-bit WAV file at 48 kHz as a sink (call ``close()`` on it when done)."""
    from softphone.media.wav import WavSink

    return WavSink(path, samplerate=PIPELINE_RATE)

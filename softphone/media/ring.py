"""A lock-free single-producer/single-consumer ring buffer of audio samples.

The sounddevice callback runs on PortAudio's real-time thread, so the buffer
between it and the media thread must neither allocate nor block. ``RingBuffer``
keeps its samples in one numpy array allocated up front; ``write()`` and
``read_into()`` copy with at most two slice assignments each and publish
their progress by storing a plain Python ``int`` index *after* the copy.

Memory-ordering assumption (CPython with the GIL): each index is written by
exactly one thread (``_written`` by the producer, ``_read`` by the consumer),
and an attribute store is a single atomic reference assignment. A thread that
reads the other side's index has taken the GIL after that store, and taking and
releasing the GIL are full memory barriers, so the samples copied before the
store are visible once the new index is. numpy may release the GIL while
copying, which does not matter: the index only moves after the copy returns.
A free-threaded build (PEP 703) would need explicit atomics here.

Exactly one thread may call ``write()``/``write_silence()`` and exactly one
thread may call ``read_into()``/``skip()``/``clear()``; ``level()`` and the
counters may be read from any thread.
"""

from __future__ import annotations

import threading
from typing import Literal

import numpy as np
import numpy.typing as npt

SampleDType = Literal["float32", "int16"]

_INT16_FULL_SCALE = 32768.0


class RingBuffer:
    """SPSC ring of mono samples with overrun/underrun counting and a level meter.

    capacity: how many samples it holds.
    dtype: ``"float32"`` (full scale ±1.0) or ``"int16"``.
    level_window: how many of the most recently written samples ``level()`` looks at
    (default 960 = 20 ms at 48 kHz, or the capacity if smaller).

    Overrun: a ``write()`` that does not fit stores what fits and drops the
    rest (the producer never moves the consumer's index). Underrun: a
    ``read_into()`` with too few samples available copies what there is and
    fills the rest of ``out`` with zeros.
    """

    def __init__(self, capacity: int, dtype: SampleDType = "float32", *, level_window: int | None = None) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        if dtype not in ("float32", "int16"):
            raise ValueError("dtype must be 'float32' or 'int16'")
        if level_window is None:
            level_window = min(960, capacity)
        if not 0 < level_window <= capacity:
            raise ValueError("level_window must be between 1 and capacity")
        self._capacity = capacity
        self._dtype = np.dtype(dtype)
        self._buf: npt.NDArray[np.generic] = np.zeros(capacity, dtype=self._dtype)
        self._zeros: npt.NDArray[np.generic] = np.zeros(capacity, dtype=self._dtype)
        self._scale = 1.0 / _INT16_FULL_SCALE if dtype == "int16" else 1.0
        # Monotonic sample counters; the position in _buf is counter % capacity.
        self._written = 0  # stored only by the producer
        self._read = 0  # stored only by the consumer
        self.overruns = 0  # writes that did not fit (producer)
        self.dropped_samples = 0  # samples those writes dropped (producer)
        self.underruns = 0  # reads that found too few samples (consumer)
        self.missing_samples = 0  # zeros those reads filled in (consumer)
        self._level_window = level_window
        self._scratch = np.zeros(level_window, dtype=np.float32)
        self._level_lock = threading.Lock()  # level() only; never taken on the hot path

    # ----- properties ---------------------------------------------------------

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def dtype(self) -> np.dtype[np.generic]:
        return self._dtype

    def available(self) -> int:
        """Samples that can be read now."""
        return self._written - self._read

    def free(self) -> int:
        """Samples that can be written now without an overrun."""
        return self._capacity - (self._written - self._read)

    # ----- producer -----------------------------------------------------------

    def write(self, block: npt.NDArray[np.generic]) -> int:
        """Append a 1-D block; return how many samples were stored (the rest counts as an overrun)."""
        n = int(block.shape[0])
        written = self._written
        room = self._capacity - (written - self._read)
        if n > room:
            self.overruns += 1
            self.dropped_samples += n - room
            n = room
        if n <= 0:
            return 0
        self._copy_in(block, written, n)
        self._written = written + n  # publish after the copy
        return n

    def write_silence(self, frames: int) -> int:
        """Append ``frames`` zeros (for a muted microphone); same overrun rule as ``write()``."""
        return self.write(self._zeros[: min(frames, self._capacity)]) if frames > 0 else 0

    def _copy_in(self, block: npt.NDArray[np.generic], written: int, n: int) -> None:
        start = written % self._capacity
        first = min(n, self._capacity - start)
        self._buf[start : start + first] = block[:first]
        if first < n:
            self._buf[: n - first] = block[first:n]

    # ----- consumer -----------------------------------------------------------

    def read_into(self, out: npt.NDArray[np.generic]) -> int:
        """Fill the 1-D array ``out``; return how many real samples it got (the rest are zeros)."""
        want = int(out.shape[0])
        read = self._read
        n = min(want, self._written - read)
        if n > 0:
            start = read % self._capacity
            first = min(n, self._capacity - start)
            out[:first] = self._buf[start : start + first]
            if first < n:
                out[first:n] = self._buf[: n - first]
            self._read = read + n  # publish after the copy
        else:
            n = 0
        if n < want:
            self.underruns += 1
            self.missing_samples += want - n
            out[n:] = 0
        return n

    def skip(self, frames: int) -> int:
        """Discard up to ``frames`` samples (consumer side); return how many were discarded."""
        n = max(0, min(frames, self._written - self._read))
        self._read += n
        return n

    def clear(self) -> None:
        """Discard everything buffered (consumer side)."""
        self._read = self._written

    def reset_counters(self) -> None:
        """Zero the overrun/underrun counters (call while neither side is running)."""
        self.overruns = self.dropped_samples = self.underruns = self.missing_samples = 0

    # ----- meter --------------------------------------------------------------

    def level(self, mode: Literal["peak", "rms"] = "rms") -> float:
        """Peak or RMS (full scale 1.0) of the last ``level_window`` samples written.

        Reads without stopping the producer, so a block being overwritten at
        that moment can make one reading slightly off; fine for a meter.
        """
        with self._level_lock:
            end = self._written
            count = min(self._level_window, end)
            if count == 0:
                return 0.0
            scratch = self._scratch[:count]
            start = (end - count) % self._capacity
            first = min(count, self._capacity - start)
            np.copyto(scratch[:first], self._buf[start : start + first], casting="unsafe")
            if first < count:
                np.copyto(scratch[first:], self._buf[: count - first], casting="unsafe")
            if mode == "peak":
                value = max(float(scratch.max()), -float(scratch.min()))
            elif mode == "rms":
                value = float(np.sqrt(np.dot(scratch, scratch) / count))
            else:
                raise ValueError("mode must be 'peak' or 'rms'")
            return value * self._scale

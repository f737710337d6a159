"""Streaming band-limited resampling between device and codec rates.

A rational L/M polyphase FIR: the prototype low-pass is a Kaiser-windowed sinc
designed at the interpolated rate ``L * rate_in``, with its passband edge at
``PASSBAND`` and its stopband edge at 0.5 of the lower of the two rates. The
resampler keeps the tail of the input between calls, so a stream cut into
blocks of any size gives the same output as one call on the whole (up to
int16 rounding), and after N input samples it has given exactly
``ceil(N * L / M)`` output samples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from softphone.media.errors import MediaError

__all__ = ["Resampler", "design_lowpass", "resample"]

# Band edges as fractions of the lower rate: passband to 0.43, stopband from 0.5 (its Nyquist).
PASSBAND = 0.43
STOPBAND = 0.5
# Kaiser design target: stopband attenuation in dB.
ATTENUATION_DB = 80.0
# Upper bound on the interpolation factor L (keeps the prototype filter small).
MAX_INTERPOLATION = 1024
# Outputs computed per vectorised step (bounds temporary memory).
_CHUNK = 1024


def design_lowpass(up: int, rate_in: int, rate_out: int) -> tuple[npt.NDArray[np.float64], int]:
    """Kaiser-windowed sinc at ``up * rate_in``; returns (taps, taps per phase), len(taps) == up * per phase."""
    fs = up * rate_in
    low = min(rate_in, rate_out)
    cutoff = 0.5 * (PASSBAND + STOPBAND) * low
    transition = (STOPBAND - PASSBAND) * low
    # Kaiser's formulas (Oppenheim & Schafer 7.6): beta and length from attenuation and width.
    beta = 0.1102 * (ATTENUATION_DB - 8.7)
    length = math.ceil((ATTENUATION_DB - 8.0) / (2.285 * 2 * math.pi * transition / fs)) + 1
    per_phase = max(1, math.ceil(length / up))
    n = per_phase * up
    centre = (n - 1) / 2
    k = np.arange(n) - centre
    taps = (2 * cutoff / fs) * np.sinc(2 * cutoff / fs * k) * np.kaiser(n, beta)
    taps *= up / np.sum(taps)  # unity DC gain after interpolation by `up`
    return taps, per_phase


class Resampler:
    """Converts one mono stream from ``rate_in`` to ``rate_out``, block by block.

    ``process`` takes int16 or float32 and returns the same dtype (int16 rounded
    and clipped). The filter delays the signal by ``delay`` output samples.
    One instance per stream and thread: it reuses scratch buffers between calls.
    """

    def __init__(self, rate_in: int, rate_out: int) -> None:
        if rate_in <= 0 or rate_out <= 0:
            raise MediaError(f"resampler rates must be positive, got {rate_in} -> {rate_out}")
        g = math.gcd(rate_in, rate_out)
        self.rate_in = rate_in
        self.rate_out = rate_out
        self.up = rate_out // g
        self.down = rate_in // g
        if self.up > MAX_INTERPOLATION:
            raise MediaError(f"resampler ratio {rate_out}/{rate_in} needs L={self.up} > {MAX_INTERPOLATION}")
        # Equal rates: process() only copies, which a caller with a fresh block of its own may skip.
        self.passthrough = self.up == 1 and self.down == 1
        if self.passthrough:
            self._phases = np.ones((1, 1))
            self._taps = 1
            self.delay = 0.0
        else:
            taps, per_phase = design_lowpass(self.up, rate_in, rate_out)
            # Row p holds h[p+(K-1)L], ..., h[p+L], h[p]: polyphase component p, oldest input first.
            self._phases = taps.reshape(per_phase, self.up).T[:, ::-1].copy()
            self._taps = per_phase
            self.delay = (taps.size - 1) / 2 / self.down
        self._scratch_x = np.empty((_CHUNK, self._taps))
        self._scratch_h = np.empty((_CHUNK, self._taps))
        self._scratch_i = np.empty((_CHUNK, self._taps), dtype=np.intp)
        self._lags = np.arange(self._taps, dtype=np.intp)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: zero history, counters back to the start."""
        self._history = np.zeros(self._taps - 1, dtype=np.float64)
        self.samples_in = 0
        self.samples_out = 0

    def output_length(self, input_samples: int) -> int:
        """Output samples the next ``process`` of this many input samples will give."""
        return -(-(self.samples_in + input_samples) * self.up // self.down) - self.samples_out

    def process(self, block: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Resample the next block of the stream."""
        if not isinstance(block, np.ndarray) or block.ndim != 1 or block.dtype not in (np.int16, np.float32):
            raise MediaError(f"resampler takes a 1-D int16 or float32 array, got {getattr(block, 'dtype', block)!s}")
        dtype = block.dtype
        if self.passthrough:
            self.samples_in += block.size
            self.samples_out += block.size
            return block.copy()
        count = self.output_length(block.size)
        buffer = np.concatenate((self._history, block.astype(np.float64)))
        # Absolute input index of buffer[0].
        base = self.samples_in - (self._taps - 1)
        out = np.empty(count, dtype=np.float64)
        if self.up == 1 or self.down == 1:
            self._integer_ratio(buffer, base, out)
        else:
            self._rational_ratio(buffer, base, out)
        self.samples_in += block.size
        self.samples_out += count
        keep = self._taps - 1
        self._history = buffer[buffer.size - keep :] if keep else buffer[:0]
        if dtype == np.int16:
            return np.clip(np.rint(out), -32768, 32767).astype(np.int16)
        return out.astype(np.float32)

    def _integer_ratio(self, buffer: npt.NDArray[np.float64], base: int, out: npt.NDArray[np.float64]) -> None:
        """48 kHz to and from 8, 16 or 24 kHz: each phase's outputs read consecutive (or every M-th) windows.

        The same products summed in the same order as :meth:`_rational_ratio`, at a third of its cost.
        """
        count, taps = out.size, self._taps
        if count == 0:
            return
        windows = sliding_window_view(buffer, taps)  # row i: buffer[i : i + taps]
        if self.up == 1:
            first = self.samples_out * self.down - base - (taps - 1)
            np.matmul(windows[first : first + (count - 1) * self.down + 1 : self.down], self._phases[0], out=out)
            return
        for phase in range(self.up):
            offset = (phase - self.samples_out) % self.up
            if offset >= count:
                continue
            first = (self.samples_out + offset) // self.up - base - (taps - 1)
            outputs = out[offset :: self.up]
            np.matmul(windows[first : first + outputs.size], self._phases[phase], out=outputs)

    def _rational_ratio(self, buffer: npt.NDArray[np.float64], base: int, out: npt.NDArray[np.float64]) -> None:
        count = out.size
        for start in range(0, count, _CHUNK):
            n = self.samples_out + start + np.arange(min(_CHUNK, count - start), dtype=np.int64)
            t = n * self.down  # position on the interpolated grid
            newest = t // self.up - base
            phase = t % self.up
            # Gather into preallocated scratch: large fresh temporaries cost page faults per block.
            index = np.add((newest - (self._taps - 1))[:, None], self._lags, out=self._scratch_i[: n.size])
            window = np.take(buffer, index, out=self._scratch_x[: n.size], mode="clip")
            coeffs = np.take(self._phases, phase, axis=0, out=self._scratch_h[: n.size], mode="clip")
            np.multiply(window, coeffs, out=window)
            window.sum(axis=1, out=out[start : start + n.size])


def resample(signal: npt.NDArray[Any], rate_in: int, rate_out: int) -> npt.NDArray[Any]:
    """One-shot resampling of a whole signal (same as one ``Resampler.process`` call)."""
    return Resampler(rate_in, rate_out).process(signal)

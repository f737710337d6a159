"""Acoustic echo cancellation on the media thread: bulk delay tracking, a two-path adaptive filter, an echo gate.

The canceller sees the far end exactly as it goes to the speaker (each frame the
media thread writes into the playback ring) and the microphone exactly as it is
captured (each frame it reads from the capture ring). Both advance one frame per
ptime, so a far-end sample ``n`` and the microphone sample ``n + D`` that holds
its echo are ``D`` samples apart on one timeline; ``D`` is the playback buffer,
the sound device, the room and the capture buffer together.

Three parts, each named after what the literature calls it:

- :class:`DelayEstimator` tracks ``D``: generalised cross-correlation with
  phase transform (GCC-PHAT, Knapp and Carter 1976) between the far end and
  the microphone, decimated to 8 kHz, over the last second, twice a second.
  A peak that stands out of the correlation and repeats moves the estimate.
- :class:`EchoCanceller` models the echo path from ``D`` on with a partitioned
  block frequency-domain adaptive filter (the multidelay filter of Soo and Pang
  1990, as in Speex's MDF): one block per media frame, partitions covering
  ``tail_ms``. Two copies run (Ochiai's two-path structure): the background
  filter adapts all the time, the foreground filter, whose output is sent,
  only takes the background's coefficients once they remove more than its own.
  Double talk makes the background diverge for a moment; the foreground keeps
  what was learnt, so near-end speech is never cancelled against.
- An echo gate (a broadband residual echo suppressor) lowers the block's gain
  when what is left after the filter is no louder than the residual echo the
  filter's measured echo return loss enhancement (ERLE) predicts: in near-end
  pauses the echo's last traces go, while near-end speech, much louder than the
  residual, passes at full gain.

A phone on a headset has no echo: no delay is found, the foreground filter
stays at zero and the gate opens fully, so the microphone passes unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["DelayEstimator", "EchoCanceller", "EchoStats"]

Samples = npt.NDArray[np.float32]

_DECIMATION = 6  # 48 kHz -> 8 kHz for the delay search
_ACTIVE_POWER = 10 ** (-55 / 10)  # a far-end block quieter than -55 dBFS carries no usable echo
_TINY = 1e-10
# A microphone this much louder than the far end holds the near end's voice, not an echo: the far end's
# faint copy of that voice (our own words coming back from the other side) must not set the delay.
_NEAR_DOMINANT = 10 ** (20 / 10)
# The echo gate acts while the residual is less than this many times the residual echo predicted,
# and lowers the gain at most to the floor (-20 dB): deeper gating chops near-end word onsets.
_GATE_RATIO = 3.0
_GATE_FLOOR = 0.1
# A microphone block this much louder than the loudest far-end block the filter spans is near-end speech
# (an echo is rarely louder than what made it): the filter does not learn from it. Without this it learns
# to predict the user's voice from the faint, late copy of it that comes back from the other side.
_NEAR_TALK = 10 ** (10 / 10)
# What the sent filter leaves this much louder than the microphone (6 dB): it adds, it does not cancel; drop it.
_DIVERGED = 4.0


@dataclass(frozen=True, slots=True)
class EchoStats:
    """What the canceller measured over the last second (None: not measured, e.g. the far end was silent)."""

    erle_db: float | None  # echo return loss enhancement over the blocks the echo dominated
    delay_ms: float | None  # estimated delay from the playback ring to the echo in the capture ring
    converged: bool  # the foreground filter removes echo


class _Sliding:
    """The newest ``size`` samples of a stream, as one contiguous array, without a copy per write.

    Samples are appended into spare room after them; only when it runs out are the newest ``size``
    moved back to the start (once every ``spare`` samples, not once per frame as ``np.roll`` would).
    """

    def __init__(self, size: int, spare: int) -> None:
        self.size = size
        self._data = np.zeros(size + max(spare, 1), dtype=np.float32)
        self._end = size

    def write(self, block: Samples) -> None:
        n = block.size
        if n >= self.size:
            self._data[: self.size] = block[-self.size :]
            self._end = self.size
            return
        if self._end + n > self._data.size:
            self._data[: self.size - n] = self._data[self._end - self.size + n : self._end]
            self._end = self.size - n
        self._data[self._end : self._end + n] = block
        self._end += n

    def view(self) -> Samples:
        """The newest ``size`` samples, oldest first (valid until the next write)."""
        return self._data[self._end - self.size : self._end]


class DelayEstimator:
    """Delay of the far end's echo in the microphone, in samples at ``rate``, by GCC-PHAT on 8 kHz signals.

    ``push`` one far-end and one microphone block per frame (same length); ``estimate`` is
    None until a delay has been seen twice in a row with a clear peak.
    """

    def __init__(
        self,
        rate: int = 48000,
        *,
        max_delay_ms: float = 480.0,
        window_s: float = 1.0,
        period_s: float = 0.5,
        beta: float = 0.8,
    ) -> None:
        self._rate = rate
        self._low_rate = rate // _DECIMATION
        self._max_lag = int(max_delay_ms * self._low_rate / 1000)
        self._window = int(window_s * self._low_rate)
        self._period = int(period_s * self._low_rate)
        self._beta = beta
        size = self._window + self._max_lag
        self._far = _Sliding(size, 8 * size)
        self._mic = _Sliding(size, 8 * size)
        self._size = size
        self._fill = 0
        self._since = 0
        self._carry_far = np.zeros(0, dtype=np.float32)
        self._carry_mic = np.zeros(0, dtype=np.float32)
        self._nfft = 1 << math.ceil(math.log2(size + self._window))
        self._candidate: int | None = None
        self.estimate: int | None = None
        self.updates = 0

    def push(self, far: Samples, mic: Samples) -> bool:
        """Add one block of each; True when this call moved the estimate."""
        far_low = self._decimate(far, "_carry_far")
        mic_low = self._decimate(mic, "_carry_mic")
        n = far_low.size
        if n == 0:
            return False
        self._far.write(far_low)
        self._mic.write(mic_low)
        self._fill = min(self._fill + n, self._size)
        self._since += n
        if self._since < self._period or self._fill < self._size:
            return False
        self._since = 0
        return self._search()

    def _decimate(self, block: Samples, carry_name: str) -> Samples:
        carry: Samples = getattr(self, carry_name)
        data = np.concatenate((carry, block)) if carry.size else block
        whole = data.size - data.size % _DECIMATION
        setattr(self, carry_name, data[whole:].copy())
        low: Samples = data[:whole].reshape(-1, _DECIMATION).sum(axis=1, dtype=np.float32)
        low *= np.float32(1.0 / _DECIMATION)
        return low

    def _search(self) -> bool:
        far, mic = self._far.view(), self._mic.view()
        window = mic[-self._window :]
        far_power = float(np.dot(far, far)) / far.size
        mic_power = float(np.dot(window, window)) / window.size
        if far_power < _ACTIVE_POWER or mic_power < _TINY or mic_power > far_power * _NEAR_DOMINANT:
            return False
        # mic[n] ~ far[n - lag]: correlate the last window of the microphone against the far end before it.
        spectrum_far = np.fft.rfft(far, self._nfft)
        spectrum_mic = np.fft.rfft(window, self._nfft)
        cross = spectrum_mic * np.conj(spectrum_far)
        cross /= np.abs(cross) ** self._beta + _TINY
        correlation = np.fft.irfft(cross, self._nfft)
        # correlation[k] pairs window[n + k] with far[n]; the window starts at far index max_lag, so the
        # echo of lag L peaks at k = L - max_lag (a negative, circular index).
        lags = np.concatenate((correlation[self._nfft - self._max_lag :], correlation[:1]))
        peak = int(np.argmax(lags))
        strength = float(lags[peak])
        spread = float(np.sqrt(np.mean(lags**2))) + _TINY
        self.updates += 1
        if strength / spread < 6.0:
            self._candidate = None
            return False
        if self._candidate is None or abs(peak - self._candidate) > 2:
            self._candidate = peak
            return False
        delay = peak * _DECIMATION
        if self.estimate is not None and abs(delay - self.estimate) <= 2 * _DECIMATION:
            return False
        self.estimate = delay
        return True


class _History:
    """The far end as written, readable at a delay (samples) behind the newest sample."""

    def __init__(self, size: int) -> None:
        self._buffer = _Sliding(size, 4 * size)
        self._written = 0

    def write(self, block: Samples) -> None:
        self._buffer.write(block)
        self._written += block.size

    def read(self, length: int, delay: int) -> Samples:
        """``length`` samples ending ``delay`` samples before the newest one."""
        buffer = self._buffer.view()
        end = buffer.size - delay
        start = end - length
        if start < 0:
            out = np.zeros(length, dtype=np.float32)
            if end > 0:
                out[length - end :] = buffer[:end]
            return out
        return buffer[start:end].copy()


class EchoCanceller:
    """Removes the echo of the far end from the microphone; see the module documentation.

    ``block``: samples per frame (the media frame at ``rate``). ``far(block)`` takes every
    frame written to the speaker, ``process(mic)`` every frame read from the microphone and
    returns it with the echo removed. Both are called on the media thread.
    """

    def __init__(
        self,
        block: int,
        rate: int = 48000,
        *,
        tail_ms: float = 200.0,
        lead_ms: float = 10.0,
        step: float = 0.4,
        max_delay_ms: float = 480.0,
    ) -> None:
        if block <= 0:
            raise ValueError("block must be positive")
        self.block = block
        self.rate = rate
        self._lead = int(lead_ms * rate / 1000)
        self._partitions = max(1, math.ceil(tail_ms * rate / 1000 / block))
        self._step = step
        self._bins = block + 1
        self._history = _History(int(max_delay_ms * rate / 1000) + 2 * block + self._lead)
        self.delay = DelayEstimator(rate, max_delay_ms=max_delay_ms)
        self._offset = 0  # far-end samples the filter's first tap lies behind the microphone
        self._window = np.zeros(2 * block, dtype=np.float32)
        self._zeros = np.zeros(block, dtype=np.float32)
        self._reset_filters()
        # Last second's figures.
        self._blocks_per_second = max(1, rate // block)
        self._mic_energy = 0.0
        self._out_energy = 0.0
        self._counted = 0
        self._erle_db: float | None = None
        self._blocks = 0
        self._gain = 1.0
        self._far_active = False
        self._ramp = np.linspace(0.0, 1.0, block, dtype=np.float32)
        self.delay_changes = 0
        self.resets = 0

    def _reset_filters(self) -> None:
        p, k = self._partitions, self._bins
        self._spectra = np.zeros((2 * p, k), dtype=np.complex64)  # each block twice: a contiguous view
        self._slot = 0
        self._background = np.zeros((p, k), dtype=np.complex64)
        self._foreground = np.zeros((p, k), dtype=np.complex64)
        self._far_power = np.zeros(k, dtype=np.float32)
        self._far_energies = np.zeros(p, dtype=np.float32)  # each partition's far-end block, by slot
        self._quiet = 0  # blocks since the far end last played
        self._both = np.zeros((2, k), dtype=np.complex64)
        self._constraint = 0
        self._e_fg = self._e_bg = self._d_power = 1e-6
        self._leak = 1.0  # residual echo over echo estimate, measured
        self._better = 0
        self._converged = False

    # --- the two streams -------------------------------------------------------------------

    def far(self, block: Samples) -> None:
        """A frame as written to the speaker."""
        self._history.write(np.asarray(block, dtype=np.float32))

    def slip(self, samples: int) -> None:
        """The microphone now lags the far end ``samples`` more (fewer when negative) than before.

        A ring that ran empty or overflowed moves one timeline against the other by exactly that
        much; the filter moves with it, keeping the echo path it learnt.
        """
        if samples == 0:
            return
        self._offset = max(0, self._offset + samples)
        if self.delay.estimate is not None:
            self.delay.estimate = max(0, self.delay.estimate + samples)
        self._refill()

    def process(self, mic: Samples) -> Samples:
        """A frame as read from the microphone, with the echo removed."""
        n = self.block
        d = np.asarray(mic, dtype=np.float32)
        if d.size != n:
            raise ValueError(f"expected {n} samples, got {d.size}")
        # The far end that lines up with this block (before the offset), fed to the delay search too.
        self.delay.push(self._history.read(n, 0), d)
        self._retarget()
        x = self._history.read(2 * n, self._offset)
        return self._filter(x, d)

    def _retarget(self) -> None:
        delay = self.delay.estimate
        if delay is None:
            return
        # The filter's first partition should start a little before the echo's first tap.
        if self._offset <= delay - self._lead // 2 <= self._offset + self._lead + self.block:
            return
        # Double talk can fool the delay search, hardly the leak: it moves only in blocks the echo
        # dominates. A filter that removes the echo stays where it is.
        if self._converged and self._leak < 0.3:
            return
        self._shift(max(0, delay - self._lead) - self._offset)

    def _shift(self, samples: int) -> None:
        """Move the filter ``samples`` later on the far end's timeline, keeping what it learnt.

        Whole partitions move with it; the rest of the step is left to adaptation.
        """
        n, p = self.block, self._partitions
        whole = samples // n
        if whole == 0:
            return
        self._offset = max(0, self._offset + whole * n)
        self.delay_changes += 1
        for weights in (self._foreground, self._background):
            moved = np.zeros_like(weights)
            # weights[j] applies to the block p - 1 - j blocks back; later by `whole` blocks means
            # that coefficient now belongs `whole` partitions nearer the newest block.
            if 0 < whole < p:
                moved[whole:] = weights[: p - whole]
            elif -p < whole < 0:
                moved[: p + whole] = weights[-whole:]
            weights[:] = moved
        self._refill()
        self._e_bg = self._e_fg = self._d_power

    def _refill(self) -> None:
        """The far-end spectra of the older partitions, from the history at the current offset (the
        newest one is taken next by _filter, at the slot after these)."""
        n, p = self.block, self._partitions
        for j in range(p - 1):
            x = self._history.read(2 * n, self._offset + (p - 1 - j) * n)
            spectrum = np.fft.rfft(x).astype(np.complex64)
            slot = (self._slot + 1 + j) % p
            self._spectra[slot] = spectrum
            self._spectra[slot + p] = spectrum

    # --- the adaptive filter ------------------------------------------------------------------------

    def _filter(self, x: Samples, d: Samples) -> Samples:
        n, p = self.block, self._partitions
        spectrum = np.fft.rfft(x).astype(np.complex64)
        slot = self._slot
        self._spectra[slot] = spectrum
        self._spectra[slot + p] = spectrum
        self._slot = (slot + 1) % p
        # Oldest to newest: view[j] is the block of j + 1 - p blocks ago.
        view = self._spectra[slot + 1 : slot + 1 + p]
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        self._far_power = 0.7 * self._far_power + 0.3 * power
        both = self._both
        np.sum(view * self._foreground, axis=0, out=both[0])
        np.sum(view * self._background, axis=0, out=both[1])
        estimates = np.fft.irfft(both, 2 * n)[:, n:].astype(np.float32)
        y_fg, y_bg = estimates[0], estimates[1]
        e_fg = d - y_fg
        e_bg = d - y_bg

        # Background: normalised block LMS, the gradient constrained one partition per block. With the far
        # end silent for the whole filter length there is no echo to learn from: the update is skipped.
        newest = x[n:]
        far_energy = float(np.dot(newest, newest))
        self._far_energies[slot] = far_energy
        far_active = self._far_active = far_energy / n > _ACTIVE_POWER
        self._quiet = 0 if far_active else self._quiet + 1
        energy = float(np.dot(d, d)) + _TINY
        near_talk = energy > _NEAR_TALK * float(self._far_energies.max())
        if self._quiet <= p and not near_talk:
            self._window[n:] = e_bg
            error = np.fft.rfft(self._window).astype(np.complex64)
            norm = self._step / (p * self._far_power + 1e-6 * n)
            self._background += np.conj(view) * (error * norm.astype(np.float32))
            c = self._constraint
            taps = np.fft.irfft(self._background[c], 2 * n)
            taps[n:] = 0.0
            self._background[c] = np.fft.rfft(taps).astype(np.complex64)
            self._constraint = (c + 1) % p

        # Two paths: copy the background when it does better, take it back when it diverged.
        self._e_fg = 0.8 * self._e_fg + 0.2 * float(np.dot(e_fg, e_fg))
        self._e_bg = 0.8 * self._e_bg + 0.2 * float(np.dot(e_bg, e_bg))
        self._d_power = 0.8 * self._d_power + 0.2 * energy
        if self._e_bg < 0.7 * self._e_fg and self._e_bg < self._d_power:
            self._better += 1
            if self._better >= 2:
                self._foreground[:] = self._background
                self._e_fg = self._e_bg
                self._better = 0
                self._converged = True
        else:
            self._better = 0
            if self._e_fg > _DIVERGED * self._d_power:
                # Whatever the sent filter learnt, it makes the echo louder: start again from nothing.
                self._foreground[:] = 0
                if self._e_bg > self._d_power:
                    self._background[:] = 0
                    self._e_bg = self._d_power
                self._e_fg = self._d_power
                self._converged = False
                self.resets += 1
            elif self._e_bg > 4.0 * self._e_fg:
                self._background[:] = self._foreground
                self._e_bg = self._e_fg

        echo = float(np.dot(y_fg, y_fg))
        residual = float(np.dot(e_fg, e_fg))
        out = self._gate(e_fg, echo, residual)
        self._account(energy, float(np.dot(out, out)), echo, residual, far_active)
        return out

    def _gate(self, e: Samples, echo: float, residual: float) -> Samples:
        """Broadband residual echo suppression: lower what is hardly more than the echo left over."""
        predicted = self._leak * echo
        if echo > _TINY and residual < _GATE_RATIO * predicted:
            target = max(_GATE_FLOOR, 1.0 - predicted / (residual + _TINY))
        else:
            target = 1.0
        previous = self._gain
        # Closes at once, opens over a few blocks.
        gain = target if target < previous else previous + 0.8 * (target - previous)
        self._gain = gain
        if gain == 1.0 and previous == 1.0:
            return e
        if self._ramp.size != e.size:
            self._ramp = np.linspace(0.0, 1.0, e.size, dtype=np.float32)
        ramp = self._ramp * np.float32(gain - previous)
        ramp += np.float32(previous)
        ramp *= e
        return ramp

    def _account(self, mic: float, out: float, echo: float, residual: float, far_active: bool) -> None:
        # Blocks the echo dominates: what the filter predicts makes up most of the microphone.
        if far_active and echo > 0.5 * mic:
            self._mic_energy += mic
            self._out_energy += out
            self._counted += 1
            if echo > _TINY:
                ratio = min(1.0, residual / echo)
                weight = 0.05 if ratio < self._leak else 0.02  # down fast, up slowly (near-end speech)
                self._leak += weight * (ratio - self._leak)
        self._blocks += 1
        if self._blocks >= self._blocks_per_second:
            if self._counted >= self._blocks_per_second // 4:
                self._erle_db = 10 * math.log10((self._mic_energy + _TINY) / (self._out_energy + _TINY))
            else:
                self._erle_db = None
            self._blocks = self._counted = 0
            self._mic_energy = self._out_energy = 0.0

    @property
    def unsure(self) -> bool:
        """The far end is playing and the filter has not learnt the echo yet: the block may be all echo."""
        return self._far_active and not self._converged

    @property
    def echo_share(self) -> float:
        """How much of the last block the echo gate took for echo (0: none, 1: all of it)."""
        return min(1.0, max(0.0, (1.0 - self._gain) / (1.0 - _GATE_FLOOR)))

    def stats(self) -> EchoStats:
        estimate = self.delay.estimate
        delay_ms = None if estimate is None else 1000.0 * estimate / self.rate
        return EchoStats(self._erle_db, delay_ms, self._converged)

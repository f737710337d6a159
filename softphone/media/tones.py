"""Locally generated call-progress tones and DTMF feedback.

Tones are described by a :class:`ToneSpec` (frequencies, on/off cadence,
level) taken from a per-region table in the style of ITU-T E.180 and its
Supplement 2 (national tone plans); DTMF pairs follow ITU-T Q.23. A
:class:`ToneGenerator` streams any spec at any sample rate: each ``read(n)``
gives the next ``n`` samples, phase-continuous across calls, with cadence
boundaries exact in samples and short raised-cosine edges inside each burst
so on/off switching does not click.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from softphone.media.errors import MediaError

__all__ = [
    "DEFAULT_REGION",
    "DTMF_FREQUENCIES",
    "TONE_TABLES",
    "ToneGenerator",
    "ToneKind",
    "ToneSpec",
    "cadence_envelope",
    "dtmf_spec",
    "ms_to_samples",
    "tone_spec",
]


class ToneKind(StrEnum):
    """Call-progress tones of ITU-T E.180 section 2."""

    DIAL = "dial"
    RINGBACK = "ringback"  # E.180 "ringing tone"
    BUSY = "busy"
    CONGESTION = "congestion"  # "reorder" in North America
    CALL_WAITING = "call-waiting"


@dataclass(frozen=True, slots=True)
class ToneSpec:
    """A tone: frequencies summed, a cadence of alternating on/off durations in ms.

    An empty cadence is a continuous tone. With ``repeat`` False the cadence is
    played once and the tone then stays silent. ``level_dbfs`` is the level of
    each frequency component relative to a full-scale sine.
    """

    frequencies: tuple[float, ...]
    cadence_ms: tuple[int, ...] = ()
    level_dbfs: float = -16.0
    repeat: bool = True

    def __post_init__(self) -> None:
        if not self.frequencies or any(f <= 0 for f in self.frequencies):
            raise MediaError(f"tone frequencies must be positive, got {self.frequencies}")
        if len(self.cadence_ms) % 2 or any(d < 0 for d in self.cadence_ms):
            raise MediaError(f"tone cadence must be on/off pairs of non-negative ms, got {self.cadence_ms}")
        if self.cadence_ms and sum(self.cadence_ms[0::2]) == 0:
            raise MediaError(f"tone cadence has no on time: {self.cadence_ms}")
        if self.level_dbfs > 0:
            raise MediaError(f"tone level must not exceed 0 dBFS per component, got {self.level_dbfs}")


# Regional tone plans (ITU-T E.180 Suppl. 2 entries; "eu" is the CEPT/ETSI TR 101 041 common set).
TONE_TABLES: dict[str, Mapping[ToneKind, ToneSpec]] = {
    "us": {
        ToneKind.DIAL: ToneSpec((350, 440)),
        ToneKind.RINGBACK: ToneSpec((440, 480), (2000, 4000)),
        ToneKind.BUSY: ToneSpec((480, 620), (500, 500)),
        ToneKind.CONGESTION: ToneSpec((480, 620), (250, 250)),
        ToneKind.CALL_WAITING: ToneSpec((440,), (300, 9700)),
    },
    "eu": {
        ToneKind.DIAL: ToneSpec((425,)),
        ToneKind.RINGBACK: ToneSpec((425,), (1000, 4000)),
        ToneKind.BUSY: ToneSpec((425,), (500, 500)),
        ToneKind.CONGESTION: ToneSpec((425,), (250, 250)),
        ToneKind.CALL_WAITING: ToneSpec((425,), (200, 200, 200, 4400)),
    },
    "uk": {
        ToneKind.DIAL: ToneSpec((350, 440)),
        ToneKind.RINGBACK: ToneSpec((400, 450), (400, 200, 400, 2000)),
        ToneKind.BUSY: ToneSpec((400,), (375, 375)),
        ToneKind.CONGESTION: ToneSpec((400,), (400, 350, 225, 525)),
        ToneKind.CALL_WAITING: ToneSpec((400,), (100, 2900)),
    },
}
DEFAULT_REGION = "eu"

# ITU-T Q.23 Table 1: low group (rows) and high group (columns) in Hz.
_DTMF_LOW = (697, 770, 852, 941)
_DTMF_HIGH = (1209, 1336, 1477, 1633)
_DTMF_KEYS = ("123A", "456B", "789C", "*0#D")
DTMF_FREQUENCIES: dict[str, tuple[int, int]] = {
    key: (_DTMF_LOW[row], _DTMF_HIGH[col]) for row, keys in enumerate(_DTMF_KEYS) for col, key in enumerate(keys)
}


def tone_spec(kind: ToneKind | str, region: str = DEFAULT_REGION) -> ToneSpec:
    """The tone ``kind`` of ``region``'s tone plan."""
    table = TONE_TABLES.get(region.lower())
    if table is None:
        raise MediaError(f"no tone plan for region {region!r} (known: {', '.join(sorted(TONE_TABLES))})")
    try:
        return table[ToneKind(kind)]
    except ValueError:
        raise MediaError(f"unknown tone {kind!r}") from None


def dtmf_spec(digit: str, duration_ms: int | None = None, level_dbfs: float = -16.0) -> ToneSpec:
    """Q.23 tone pair for ``digit`` (0-9 * # A-D); continuous, or one burst of ``duration_ms``."""
    pair = DTMF_FREQUENCIES.get(digit.upper())
    if pair is None:
        raise MediaError(f"not a DTMF digit: {digit!r}")
    if duration_ms is None:
        return ToneSpec(pair, level_dbfs=level_dbfs)
    if duration_ms <= 0:
        raise MediaError(f"DTMF duration must be positive, got {duration_ms} ms")
    return ToneSpec(pair, (duration_ms, 0), level_dbfs=level_dbfs, repeat=False)


def ms_to_samples(ms: int, sample_rate: int) -> int:
    """Duration in samples, rounded to the nearest sample (half up)."""
    return (ms * sample_rate + 500) // 1000


def cadence_envelope(
    segments: tuple[int, ...], start: int, count: int, *, repeat: bool = True, ramp: int = 0
) -> npt.NDArray[np.float64]:
    """Gain 0..1 for samples ``start .. start+count`` of an on/off cadence given in samples.

    Off samples are exactly 0 and on samples are > 0; the first and last
    ``ramp`` samples of each burst follow a raised-cosine edge.
    """
    if not segments:
        return np.ones(count)
    bounds = np.cumsum(segments)
    cycle = int(bounds[-1])
    absolute = start + np.arange(count, dtype=np.int64)
    position = absolute % cycle if repeat else absolute
    index = np.searchsorted(bounds, position, side="right")
    on = (index % 2 == 0) & (index < len(segments))
    gain: npt.NDArray[np.float64] = on.astype(np.float64)
    if ramp > 0 and np.any(on):
        seg_start = np.concatenate(([0], bounds))[np.minimum(index, len(segments) - 1)]
        seg_len = np.asarray(segments)[np.minimum(index, len(segments) - 1)]
        offset = position - seg_start
        gain *= _edge(offset, ramp) * _edge(seg_len - 1 - offset, ramp)
    return gain


def _edge(k: npt.NDArray[np.int64], ramp: int) -> npt.NDArray[np.float64]:
    # sin² rise from just above 0 to 1 across `ramp` samples; 1 after that.
    x = np.clip((k + 1) / (ramp + 1), 0.0, 1.0)
    result: npt.NDArray[np.float64] = np.sin(0.5 * np.pi * x) ** 2
    return result


class ToneGenerator:
    """Streams a :class:`ToneSpec` at ``sample_rate``; each oscillator runs freely across bursts."""

    def __init__(self, spec: ToneSpec, sample_rate: int, *, ramp_ms: float = 2.0) -> None:
        if sample_rate <= 0:
            raise MediaError(f"sample rate must be positive, got {sample_rate}")
        nyquist = sample_rate / 2
        if any(f >= nyquist for f in spec.frequencies):
            raise MediaError(f"tone {spec.frequencies} Hz does not fit under {nyquist} Hz")
        self.spec = spec
        self.sample_rate = sample_rate
        self.segments = tuple(ms_to_samples(ms, sample_rate) for ms in spec.cadence_ms)
        self.ramp = max(0, round(ramp_ms * sample_rate / 1000))
        self._amplitude = 10 ** (spec.level_dbfs / 20)
        self._step = np.array([2 * math.pi * f / sample_rate for f in spec.frequencies])
        self.reset()

    def reset(self) -> None:
        """Back to the start of the cadence with zero phase."""
        self.position = 0
        self._phase = np.zeros(len(self.spec.frequencies))

    @property
    def finished(self) -> bool:
        """True once a non-repeating cadence has been played out."""
        return bool(self.segments) and not self.spec.repeat and self.position >= sum(self.segments)

    def read_float(self, count: int) -> npt.NDArray[np.float32]:
        """The next ``count`` samples as float32 in -1..1."""
        if count < 0:
            raise MediaError(f"sample count must not be negative, got {count}")
        k = np.arange(count, dtype=np.float64)
        phases = self._phase[:, None] + self._step[:, None] * k[None, :]
        signal = np.sin(phases).sum(axis=0) * self._amplitude
        envelope = cadence_envelope(self.segments, self.position, count, repeat=self.spec.repeat, ramp=self.ramp)
        self._phase = np.mod(self._phase + self._step * count, 2 * math.pi)
        self.position += count
        samples: npt.NDArray[np.float32] = (signal * envelope).astype(np.float32)
        return samples

    def read(self, count: int) -> npt.NDArray[np.int16]:
        """The next ``count`` samples as int16."""
        scaled = self.read_float(count).astype(np.float64) * 32767.0
        return np.clip(np.rint(scaled), -32768, 32767).astype(np.int16)

"""Call-progress tones and DTMF: spectra, cadence in samples, phase continuity."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.media.errors import MediaError
from softphone.media.tones import (
    DEFAULT_REGION,
    DTMF_FREQUENCIES,
    TONE_TABLES,
    ToneGenerator,
    ToneKind,
    ToneSpec,
    cadence_envelope,
    dtmf_spec,
    ms_to_samples,
    tone_spec,
)


def _peaks(x: npt.NDArray[np.float32], rate: int, count: int) -> list[float]:
    """The ``count`` strongest spectral peaks in Hz (local maxima, 1 Hz bins for 1 s)."""
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size)))
    local = np.flatnonzero((spectrum[1:-1] > spectrum[:-2]) & (spectrum[1:-1] >= spectrum[2:])) + 1
    best = local[np.argsort(spectrum[local])[::-1][:count]]
    return sorted(float(b * rate / x.size) for b in best)


def _runs(active: npt.NDArray[np.bool_]) -> list[tuple[bool, int]]:
    """Run-length encoding of a boolean array."""
    edges = np.flatnonzero(np.diff(active.astype(np.int8))) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [active.size]))
    return [(bool(active[s]), int(e - s)) for s, e in zip(starts, ends, strict=True)]


@pytest.mark.parametrize(
    ("region", "kind", "freqs"),
    [
        ("us", ToneKind.RINGBACK, [440, 480]),
        ("us", ToneKind.BUSY, [480, 620]),
        ("us", ToneKind.DIAL, [350, 440]),
        ("eu", ToneKind.RINGBACK, [425]),
        ("eu", ToneKind.BUSY, [425]),
        ("uk", ToneKind.RINGBACK, [400, 450]),
    ],
)
def test_tone_spectrum_peaks(region: str, kind: ToneKind, freqs: list[int]) -> None:
    spec = tone_spec(kind, region)
    # Continuous version of the tone so the spectrum is the frequencies alone.
    generator = ToneGenerator(ToneSpec(spec.frequencies), 8000)
    assert _peaks(generator.read_float(8000), 8000, len(freqs)) == pytest.approx(freqs, abs=1)


@pytest.mark.parametrize("digit", list("0123456789*#ABCD"))
def test_dtmf_pairs_follow_q23(digit: str) -> None:
    low, high = DTMF_FREQUENCIES[digit]
    assert low in (697, 770, 852, 941) and high in (1209, 1336, 1477, 1633)
    out = ToneGenerator(dtmf_spec(digit), 16000).read_float(16000)
    assert _peaks(out, 16000, 2) == pytest.approx([low, high], abs=1)


def test_dtmf_layout_and_burst() -> None:
    assert DTMF_FREQUENCIES["1"] == (697, 1209)
    assert DTMF_FREQUENCIES["0"] == (941, 1336)
    assert DTMF_FREQUENCIES["#"] == (941, 1477)
    assert DTMF_FREQUENCIES["D"] == (941, 1633)
    generator = ToneGenerator(dtmf_spec("5", duration_ms=100), 8000)
    out = generator.read_float(2000)
    assert np.all(out[800:] == 0) and np.count_nonzero(out[:800]) >= 795
    assert generator.finished
    with pytest.raises(MediaError):
        dtmf_spec("x")


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
@pytest.mark.parametrize(("region", "kind"), [("us", ToneKind.RINGBACK), ("eu", ToneKind.RINGBACK),
                                              ("us", ToneKind.BUSY), ("uk", ToneKind.RINGBACK)])  # fmt: skip
def test_cadence_lengths_exact_in_samples(rate: int, region: str, kind: ToneKind) -> None:
    spec = tone_spec(kind, region)
    cycle = sum(spec.cadence_ms) * rate // 1000
    generator = ToneGenerator(spec, rate)
    # Read two cycles in uneven chunks.
    chunks = [generator.read_float(n) for n in (1, 333, 7919, 2 * cycle - 1 - 333 - 7919)]
    out = np.concatenate(chunks)
    envelope = cadence_envelope(generator.segments, 0, 2 * cycle, ramp=generator.ramp)
    assert np.all(out[envelope == 0] == 0)
    runs = _runs(envelope > 0)
    expected = [(i % 2 == 0, ms * rate // 1000) for i, ms in enumerate(spec.cadence_ms)] * 2
    assert runs == expected
    # Output is active through each burst (edges ramp but never sit at zero for long).
    position = 0
    for on, length in runs:
        if on:
            burst = out[position : position + length]
            assert np.max(np.abs(burst[: rate // 100])) > 0.01 and np.max(np.abs(burst[-rate // 100 :])) > 0.01
        position += length


def test_cadence_envelope_without_ramp_and_one_shot() -> None:
    env = cadence_envelope((3, 2, 1, 4), 0, 20)
    assert env.tolist() == [1, 1, 1, 0, 0, 1, 0, 0, 0, 0] * 2
    assert cadence_envelope((3, 2), 4, 5, repeat=False).tolist() == [0] * 5
    ramped = cadence_envelope((10, 10), 0, 20, ramp=3)
    assert np.all(ramped[:10] > 0) and np.all(ramped[10:] == 0) and ramped[4] == 1


@settings(max_examples=25, deadline=None)
@given(
    freq=st.sampled_from([350.0, 425.0, 440.0, 1633.0, 3400.0]),
    rate=st.sampled_from([8000, 44100, 48000]),
    sizes=st.lists(st.integers(min_value=1, max_value=500), min_size=2, max_size=20),
)
def test_phase_continuity_across_chunks(freq: float, rate: int, sizes: list[int]) -> None:
    spec = ToneSpec((freq,), level_dbfs=-6.0)
    generator = ToneGenerator(spec, rate)
    chunked = np.concatenate([generator.read_float(n) for n in sizes]).astype(np.float64)
    whole = ToneGenerator(spec, rate).read_float(sum(sizes)).astype(np.float64)
    assert np.max(np.abs(chunked - whole)) < 1e-5
    # No step larger than the steepest step of the sine itself.
    amplitude = 10 ** (-6.0 / 20)
    max_step = 2 * amplitude * np.sin(np.pi * freq / rate)
    assert np.max(np.abs(np.diff(chunked))) <= max_step + 1e-5


def test_int16_output_level() -> None:
    out = ToneGenerator(ToneSpec((1000,), level_dbfs=-6.0), 8000).read(8000)
    assert out.dtype == np.int16
    assert abs(int(np.max(out)) - round(32767 * 10 ** (-6 / 20))) <= 2


def test_tables_and_validation() -> None:
    assert DEFAULT_REGION in TONE_TABLES
    for table in TONE_TABLES.values():
        assert set(table) == set(ToneKind)
    assert tone_spec("busy", "US").cadence_ms == (500, 500)
    assert tone_spec(ToneKind.RINGBACK).cadence_ms == tone_spec("ringback", DEFAULT_REGION).cadence_ms
    assert ms_to_samples(375, 44100) == 16538
    with pytest.raises(MediaError):
        tone_spec("ringback", "atlantis")
    with pytest.raises(MediaError):
        tone_spec("hum")
    with pytest.raises(MediaError):
        ToneSpec((440,), (100,))
    with pytest.raises(MediaError):
        ToneGenerator(ToneSpec((5000,)), 8000)

"""Streaming resampler: frequency/amplitude preservation, anti-aliasing, block invariance."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.media.errors import MediaError
from softphone.media.resample import Resampler, resample

RATE_PAIRS = [(48000, 8000), (8000, 48000), (48000, 16000), (16000, 48000), (44100, 48000), (48000, 44100),
              (44100, 8000), (8000, 44100), (44100, 16000), (16000, 44100)]  # fmt: skip


def _tone(freq: float, rate: int, seconds: float, amp: float = 0.5) -> npt.NDArray[np.float32]:
    t = np.arange(int(rate * seconds))
    return (amp * np.sin(2 * np.pi * freq * t / rate)).astype(np.float32)


def _steady(x: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float64]:
    """Drop the filter start-up and tail: keep the middle of the signal."""
    edge = rate // 10
    return x[edge:-edge].astype(np.float64)


def _rms_db(x: npt.NDArray[np.float64]) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2))))


def _peak_hz(x: npt.NDArray[np.float64], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spectrum) * rate / x.size)


def test_round_trip_48k_8k_48k_keeps_frequency_and_amplitude() -> None:
    src = _tone(1000, 48000, 1.0)
    down = resample(src, 48000, 8000)
    assert down.dtype == np.float32 and down.size == 8000
    up = resample(down, 8000, 48000)
    assert up.size == 48000
    for signal, rate in ((down, 8000), (up, 48000)):
        steady = _steady(signal, rate)
        assert abs(_peak_hz(steady, rate) - 1000) < 2
        assert abs(_rms_db(steady) - _rms_db(_steady(src, 48000))) < 0.5


@pytest.mark.parametrize(("rate_in", "rate_out"), RATE_PAIRS)
def test_passband_tone_level_for_all_rate_pairs(rate_in: int, rate_out: int) -> None:
    src = _tone(1000, rate_in, 0.5)
    out = _steady(resample(src, rate_in, rate_out), rate_out)
    assert abs(_peak_hz(out, rate_out) - 1000) < 4
    assert abs(_rms_db(out) - _rms_db(_steady(src, rate_in))) < 0.1


@pytest.mark.parametrize("rate_in", [48000, 44100])
def test_aliasing_of_6k_into_8k_is_suppressed(rate_in: int) -> None:
    src = _tone(6000, rate_in, 1.0)
    out = _steady(resample(src, rate_in, 8000), 8000)
    # 6 kHz would fold to 2 kHz; require at least 40 dB below the input level.
    assert _rms_db(out) - _rms_db(_steady(src, rate_in)) < -40


def test_blockwise_equals_one_shot_int16() -> None:
    rng = np.random.default_rng(3)
    src = np.rint(rng.normal(0, 5000, 44100)).astype(np.int16)
    whole = resample(src, 44100, 48000)
    resampler = Resampler(44100, 48000)
    parts = []
    position = 0
    while position < src.size:
        size = int(rng.integers(1, 2000))
        parts.append(resampler.process(src[position : position + size]))
        position += size
    blocks = np.concatenate(parts)
    assert blocks.dtype == np.int16
    assert blocks.size == whole.size == 48000
    assert np.max(np.abs(blocks.astype(np.int32) - whole.astype(np.int32))) <= 1


@settings(max_examples=30, deadline=None)
@given(
    pair=st.sampled_from(RATE_PAIRS),
    sizes=st.lists(st.integers(min_value=0, max_value=700), min_size=1, max_size=40),
)
def test_output_length_bookkeeping_is_exact(pair: tuple[int, int], sizes: list[int]) -> None:
    rate_in, rate_out = pair
    resampler = Resampler(rate_in, rate_out)
    total_in = 0
    total_out = 0
    for size in sizes:
        expected = resampler.output_length(size)
        out = resampler.process(np.zeros(size, dtype=np.float32))
        assert out.size == expected
        total_in += size
        total_out += out.size
        assert total_out == -(-total_in * rate_out // rate_in)  # ceil(N * out / in)
    assert (resampler.samples_in, resampler.samples_out) == (total_in, total_out)


def test_blockwise_float_is_bit_identical_over_many_20ms_blocks() -> None:
    src = _tone(440, 48000, 2.0)
    resampler = Resampler(48000, 16000)
    blocks = np.concatenate([resampler.process(src[i : i + 960]) for i in range(0, src.size, 960)])
    assert np.allclose(blocks, resample(src, 48000, 16000), atol=1e-6)


def test_same_rate_is_passthrough_and_validation() -> None:
    x = np.arange(10, dtype=np.int16)
    assert np.array_equal(Resampler(8000, 8000).process(x), x)
    with pytest.raises(MediaError):
        Resampler(0, 8000)
    with pytest.raises(MediaError):
        Resampler(48000, 8000).process(np.zeros(10, dtype=np.float64))
    with pytest.raises(MediaError):
        Resampler(48000, 44099)


def test_int16_is_clipped_not_wrapped() -> None:
    square = np.tile(np.r_[np.full(24, 32767), np.full(24, -32768)].astype(np.int16), 200)
    out = resample(square, 48000, 44100)
    assert out.dtype == np.int16
    assert np.max(out) <= 32767 and np.min(out) >= -32768
    # Gibbs overshoot of a full-scale square saturates instead of wrapping sign.
    reference = resample(square.astype(np.float32), 48000, 44100).astype(np.float64)
    assert np.max(reference) > 32767.5  # there is overshoot to clip
    assert np.array_equal(out, np.clip(np.rint(reference), -32768, 32767).astype(np.int16))


@pytest.mark.parametrize("pair", [(48000, 16000), (16000, 48000), (48000, 8000), (8000, 48000), (48000, 24000)])
def test_integer_ratios_give_the_general_path_bit_for_bit(pair: tuple[int, int]) -> None:
    """The shortcut for 48 kHz to and from 8/16/24 kHz sums the same products in the same order."""
    fast, general = Resampler(*pair), Resampler(*pair)
    general._integer_ratio = general._rational_ratio  # type: ignore[method-assign]
    rng = np.random.default_rng(3)
    for size in [pair[0] // 50] * 20 + [0, 1, 7, 333, 961]:
        block = rng.normal(0, 0.3, size).astype(np.float32)
        assert np.array_equal(fast.process(block), general.process(block))
        as_int16 = (block * 20000).astype(np.int16)
        assert np.array_equal(fast.process(as_int16), general.process(as_int16))

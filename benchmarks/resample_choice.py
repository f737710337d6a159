"""Two resamplers for the call path: softphone's polyphase FIR against soxr's ResampleStream.

Run from the repository root::

    .venv/bin/python -m benchmarks.resample_choice

soxr (python-soxr, ``pip install -r benchmarks/requirements.txt``) is fed exactly as the
call path feeds a resampler: one 20 ms block at a time (48 kHz to and from the 16 kHz of
G.722 and the 8 kHz of G.711). Printed for each resampler and quality, per direction:

* CPU: ``time.process_time`` for 10 s of audio in 20 ms blocks, best of three;
* 1 kHz tone: signal-to-residual after a least-squares fit of the tone (in dB);
* gain at 0.40 of the lower rate (passband edge) and leakage of a tone at 0.60 of it
  (what aliases when going down);
* buffering latency: the most the output has ever lagged what 20 ms blocks should have
  given, in ms. The call path needs a whole frame out for every frame in, so this is
  delay the audio would have to wait on top of the filter's own.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine_line
from softphone.media.resample import Resampler

Block = npt.NDArray[np.float32]
PAIRS = ((48000, 16000), (16000, 48000), (48000, 8000), (8000, 48000))
SOXR_QUALITIES = ("QQ", "LQ", "MQ", "HQ")


def tone(rate: int, frequency: float, seconds: float) -> Block:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def blocks(signal: Block, rate: int) -> list[Block]:
    step = rate // 50
    return [signal[i : i + step] for i in range(0, signal.size, step)]


def factory(rate_in: int, rate_out: int, quality: str | None) -> Callable[[], Callable[[Block], Block]]:
    if quality is None:
        return lambda: Resampler(rate_in, rate_out).process
    import soxr  # type: ignore[import-not-found, unused-ignore]

    return lambda: soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality=quality).resample_chunk


def run(
    make: Callable[[], Callable[[Block], Block]], rate_in: int, rate_out: int, signal: Block
) -> tuple[Block, float]:
    """The output and its worst buffering latency (ms) when fed in 20 ms blocks."""
    process = make()
    out: list[Block] = []
    given = 0
    lag = 0.0
    for index, block in enumerate(blocks(signal, rate_in)):
        piece = process(block)
        out.append(piece)
        given += piece.size
        lag = max(lag, (index + 1) * block.size * rate_out / rate_in - given)
    return np.concatenate(out), lag / rate_out * 1000


def level_db(signal: Block) -> float:
    middle = signal[signal.size // 4 : signal.size * 3 // 4].astype(np.float64)
    return float(20 * np.log10(np.sqrt(np.mean(middle**2)) / (0.5 / np.sqrt(2)) + 1e-12))


def tone_snr_db(signal: Block, rate: int, frequency: float) -> float:
    middle = signal[signal.size // 4 : signal.size * 3 // 4].astype(np.float64)
    t = np.arange(middle.size) / rate
    basis = np.stack([np.sin(2 * np.pi * frequency * t), np.cos(2 * np.pi * frequency * t), np.ones_like(t)], 1)
    fit = basis @ np.linalg.lstsq(basis, middle, rcond=None)[0]
    return float(10 * np.log10(np.sum(fit**2) / np.sum((middle - fit) ** 2)))


def cpu_per_10s(make: Callable[[], Callable[[Block], Block]], rate_in: int) -> float:
    pieces = blocks(tone(rate_in, 440.0, 10.0), rate_in)
    best = float("inf")
    for _ in range(3):
        process = make()
        start = time.process_time()
        for block in pieces:
            process(block)
        best = min(best, time.process_time() - start)
    return best


def main() -> int:
    print(machine_line())
    try:
        import soxr  # type: ignore[import-not-found, unused-ignore]

        qualities: tuple[str | None, ...] = (None, *SOXR_QUALITIES)
        print(f"soxr {soxr.__version__}")
    except ImportError:
        qualities = (None,)
        print("soxr: not installed (pip install -r benchmarks/requirements.txt)")
    print()
    columns = ("CPU/10 s", "1 kHz SNR", "gain 0.40", "leak 0.60", "buffering")
    print(f"{'':15} {'resampler':10} " + " ".join(f"{c:>10}" for c in columns))
    for rate_in, rate_out in PAIRS:
        low = min(rate_in, rate_out)
        for quality in qualities:
            make = factory(rate_in, rate_out, quality)
            out, lag = run(make, rate_in, rate_out, tone(rate_in, 1000.0, 2.0))
            snr = tone_snr_db(out, rate_out, 1000.0)
            edge = level_db(run(make, rate_in, rate_out, tone(rate_in, 0.40 * low, 2.0))[0])
            leak = (
                f"{level_db(run(make, rate_in, rate_out, tone(rate_in, 0.60 * low, 2.0))[0]):8.1f}dB"
                if 0.60 * low < rate_in / 2
                else f"{'-':>10}"
            )
            name = "softphone" if quality is None else f"soxr {quality}"
            print(
                f"{rate_in:>6} > {rate_out:<6} {name:10} {cpu_per_10s(make, rate_in) * 1000:6.1f} ms {snr:8.1f}dB "
                f"{edge:8.2f}dB {leak} {lag:7.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Microphone processing figures: echo cancellation over a real echo path, noise suppression, CPU.

Run from the repository root::

    .venv/bin/python -m benchmarks.echo            # about 2 minutes, real time

Needs ``pesq`` (benchmarks/requirements.txt), ``espeak-ng`` and the PulseAudio packages of the
tests. A private PulseAudio server (tests/pulse_server.py) with ``module-loopback`` from the
speaker's monitor into the microphone feed (80 ms, -10 dB; moved to 140 ms after 10 s) is the echo
path; the far end is a media session on loopback sending espeak-ng speech; the near end's speech is
played into the microphone from 15.5 s on (double talk). Everything is measured on the recorded
frames (tests/echo_path.py).

1. Echo: ERLE in steady state (5-10 s) and after the move (the last 2 s before the near end), the
   median of 0.5 s windows,
   convergence to 20 dB after the start and after the move, WB-PESQ of the near end through the
   canceller during double talk against the near end alone; the same call without processing.
2. Noise: the near end's speech with white noise, babble (three espeak-ng voices) and a fan-like
   hum (100 Hz and harmonics) at 10 dB SNR, through noise suppression off / low / moderate / high:
   WB-PESQ against the clean speech, and the SNR after processing (the gain that minimises the
   error against the clean speech is applied first, so level changes do not count as noise).
3. CPU seconds per 10 s of a call for the processing alone (echo canceller, then WebRTC's chain),
   on 20 ms frames with echo and speech, as the media thread runs it.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine_line
from softphone.media.processing import AudioProcessor, ProcessingConfig
from tests.echo_path import (
    RATE,
    EchoPath,
    Samples,
    echo_call,
    far_speech,
    near_speech,
    rms_db,
    speech,
    wb_pesq,
)
from tests.pulse_server import PulseAudio

FRAME = RATE // 50
ECHO_ONLY = ProcessingConfig(True, "off", False, False)


def echo_figures(pulse: PulseAudio) -> None:
    near = near_speech() * np.float32(0.7)
    print("1. Echo over module-loopback (80 ms, -10 dB, moved to 140 ms at 10 s), far end talking all along")
    heads = f"{'ERLE 5-10 s':>11} {'after move':>10} {'conv.':>6} {'after move':>10} {'DT WB-PESQ':>10}"
    print(f"   {'processing':22} {heads}")
    for label, config in (
        ("echo canceller", ECHO_ONLY),
        ("all (the default)", ProcessingConfig()),
        ("off", ProcessingConfig.off()),
    ):
        with EchoPath(pulse, "speaker.monitor", "micfeed", delay_ms=80, gain_db=-10) as path:
            run = echo_call(pulse, config, seconds=27.0, near=near, near_at=15.5, path=path, move_at=10.0, move_to=140)
        assert run.move_at is not None and run.near_start is not None
        started = run.convergence(0.0, 10.0)
        moved = run.convergence(run.move_at, run.near_start)
        figures = [s for _, s in run.stats if s.echo_delay_ms is not None]
        after = run.median_erle(run.near_start - 2.0, run.near_start)
        print(
            f"   {label:22} {run.median_erle(5.0, 10.0):9.1f} dB {after:7.1f} dB"
            f" {_seconds(started):>6} {_seconds(moved):>10} {wb_pesq(near, run.near_segment()):10.2f}"
        )
        if figures:
            print(f"   {'':22} echo delay found: {figures[-1].echo_delay_ms:.0f} ms (playback ring to capture ring)")
    headset = echo_call(pulse, ECHO_ONLY, seconds=18.0, near=near, near_at=5.0)
    print(f"   echo-free device, near end over the far end: WB-PESQ {wb_pesq(near, headset.near_segment()):.2f}")


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def _noises(n: int) -> dict[str, Samples]:
    rng = np.random.default_rng(3)
    t = np.arange(n) / RATE
    babble = np.zeros(n, dtype=np.float32)
    for voice, text in (
        ("en-us+m3", "The weather will turn later in the week, with rain along the coast."),
        ("en-gb+f2", "Our train was late again, so we missed the first half of the film."),
        ("en-us+f4", "Put the boxes in the garage and the chairs back in the kitchen, please."),
    ):
        babble += np.resize(speech(text, voice), n)
    hum = sum(np.sin(2 * np.pi * 100 * k * t + k) / k for k in range(1, 6))
    return {
        "white": rng.standard_normal(n).astype(np.float32),
        "babble": babble,
        "fan hum": np.asarray(hum + 0.3 * rng.standard_normal(n), dtype=np.float32),
    }


def _process(config: ProcessingConfig, samples: Samples) -> Samples:
    processor = AudioProcessor(config)
    frames = samples.size // FRAME
    return np.concatenate([processor.process(samples[i * FRAME : (i + 1) * FRAME]) for i in range(frames)])


def _snr(clean: Samples, processed: Samples) -> float:
    gain = float(np.dot(processed, clean) / max(1e-12, np.dot(clean, clean)))
    error = processed - gain * clean
    return 10 * math.log10(float(np.dot(gain * clean, gain * clean)) / max(1e-12, float(np.dot(error, error))))


def noise_figures() -> None:
    clean = near_speech() * np.float32(0.5)
    clean = np.concatenate((np.zeros(RATE, np.float32), clean))[: clean.size // FRAME * FRAME]
    print()
    print("2. Noise at 10 dB SNR under the near end's speech: WB-PESQ / SNR after processing")
    levels = ("off", "low", "moderate", "high")
    print(f"   {'noise':10}" + "".join(f" {level:>15}" for level in levels))
    for name, noise in _noises(clean.size).items():
        noise = noise * np.float32(10 ** ((rms_db(clean) - 10.0 - rms_db(noise)) / 20))
        noisy = (clean + noise).astype(np.float32)
        cells = []
        for level in levels:
            config = ProcessingConfig(False, level, level != "off", False)  # type: ignore[arg-type]
            out = _process(config, noisy)
            # The filters delay the signal a little: align before comparing sample by sample.
            lag = int(np.argmax(np.correlate(out[: 4 * RATE], clean[: 4 * RATE - 800], "valid")[:800]))
            aligned = out[lag:]
            cells.append(f"{wb_pesq(clean, out):5.2f} / {_snr(clean[: aligned.size], aligned):4.1f} dB")
        print(f"   {name:10}" + "".join(f" {cell:>15}" for cell in cells))


def processing_cpu(seconds: float = 20.0, *, turns: bool = False) -> list[tuple[str, float]]:
    """CPU seconds per 10 s of a call for the processing alone: (what, seconds), as the media thread runs it.

    ``turns``: the far end talks in 3 s turns with 3 s of silence between them, as in a conversation;
    otherwise it talks all the time (the most the canceller can cost)."""
    far = far_speech(seconds)
    if turns:
        far = far * (np.arange(far.size) // (3 * RATE) % 2 == 0).astype(np.float32)
    delay = int(0.12 * RATE)
    echo = np.concatenate((np.zeros(delay, np.float32), far[:-delay])) * np.float32(0.3)
    near = np.resize(near_speech(), far.size) * np.float32(0.5)
    near[: far.size // 2] = 0.0
    mic = (echo + near).astype(np.float32)
    rows = []
    for label, config in (
        ("echo canceller", ECHO_ONLY),
        ("noise suppression + high-pass + gain", ProcessingConfig(False, "moderate", True, True)),
        ("all (the default)", ProcessingConfig()),
    ):
        processor = AudioProcessor(config)
        frames = mic.size // FRAME
        start = time.process_time()
        for i in range(frames):
            processor.far(far[i * FRAME : (i + 1) * FRAME])
            processor.process(mic[i * FRAME : (i + 1) * FRAME])
        rows.append((label, (time.process_time() - start) / seconds * 10))
    return rows


def cpu_figures() -> None:
    print()
    print("3. CPU seconds per 10 s of a call, processing alone (20 s of 20 ms frames, echo and speech)")
    print(f"   {'':38} {'far end all along':>17} {'far end in turns':>17}")
    for (label, used), (_, in_turns) in zip(processing_cpu(), processing_cpu(turns=True), strict=True):
        print(f"   {label:38} {used:15.3f} s {in_turns:15.3f} s")


def main() -> int:
    print(machine_line(), flush=True)
    with PulseAudio() as pulse:
        echo_figures(pulse)
    noise_figures()
    cpu_figures()
    return 0


if __name__ == "__main__":
    sys.exit(main())

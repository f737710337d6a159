"""Makes the bundled ringtones (``python resources/sounds/generate.py``): small 16-bit mono WAV files.

Each tone is a few seconds of synthesised sound (decaying partials, like struck bars or bells) with
a pause at its end, so that played in a loop it rings with a cadence. 11.025 kHz keeps them small and
is plenty for a ring (partials above its Nyquist frequency are left out); the phone resamples them to
its 48 kHz when it plays them.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 11025
HERE = Path(__file__).resolve().parent


def strike(freq: float, seconds: float, decay: float, partials: tuple[tuple[float, float], ...]) -> np.ndarray:
    """A struck note: partials (ratio, level) of ``freq`` decaying exponentially, with a 5 ms attack."""
    t = np.arange(int(seconds * RATE)) / RATE
    audible = [(ratio, level) for ratio, level in partials if freq * ratio < 0.45 * RATE]
    note = sum(
        level * np.sin(2 * np.pi * freq * ratio * t) * np.exp(-t * decay * ratio**0.5) for ratio, level in audible
    )
    attack = np.minimum(1.0, t / 0.005)
    return np.asarray(note * attack, dtype=np.float64)


def sequence(notes: list[tuple[float, float]], length: float, **kind: object) -> np.ndarray:
    """Notes (start in s, frequency) mixed into ``length`` seconds."""
    out = np.zeros(int(length * RATE))
    for start, freq in notes:
        note = strike(freq, length - start, **kind)  # type: ignore[arg-type]
        begin = int(start * RATE)
        out[begin : begin + len(note)] += note
    return out


def save(name: str, samples: np.ndarray, level_dbfs: float = -6.0) -> None:
    peak = float(np.max(np.abs(samples))) or 1.0
    scaled = samples / peak * 10 ** (level_dbfs / 20)
    fade = np.minimum(1.0, (len(scaled) - np.arange(len(scaled))) / (0.05 * RATE))
    data = np.round(scaled * fade * 32767).astype("<i2")
    with wave.open(str(HERE / f"{name}.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(data.tobytes())


def main() -> None:
    marimba = {"decay": 7.0, "partials": ((1.0, 1.0), (4.0, 0.25), (9.2, 0.05))}
    save(
        "marimba",
        sequence([(0.0, 523.25), (0.15, 659.25), (0.3, 783.99), (0.45, 1046.5), (0.9, 783.99)], 2.5, **marimba),
    )
    bell = {"decay": 1.6, "partials": ((1.0, 1.0), (2.0, 0.5), (2.76, 0.3), (5.4, 0.12))}
    save("bells", sequence([(0.0, 880.0), (0.5, 698.46), (1.0, 783.99)], 3.0, **bell))
    chime = {"decay": 3.0, "partials": ((1.0, 1.0), (3.0, 0.15))}
    save("chime", sequence([(0.0, 1318.5), (0.25, 987.77)], 2.0, **chime))
    pulse = {"decay": 18.0, "partials": ((1.0, 1.0), (2.0, 0.3))}
    beeps = [(i * 0.12 + (0.6 if i >= 4 else 0.0), 1760.0 if i % 2 == 0 else 1480.0) for i in range(8)]
    save("digital", sequence(beeps, 2.5, **pulse))


if __name__ == "__main__":
    main()

"""The echo canceller alone (sans-I/O), on recorded speech: the turn of a call that once broke it.

In a call each side's far end carries, while its own user talks, the faint remains of that user's voice
coming back from the other side (what the other's canceller left, some hundreds of milliseconds later).
A canceller that adapts on it learns to predict the loud near-end voice from its own faint, late copy:
it cancels the user's own words, and when the other side then talks those huge coefficients turn its
voice into something louder than the microphone ever was (seen: echo 2 dB above the voice it came from).
"""

from __future__ import annotations

import numpy as np
import pytest

from softphone.media.echo import EchoCanceller
from tests.echo_path import SpeechMissing, far_speech, near_speech, rms_db

RATE = 48000
BLOCK = 960  # 20 ms
ECHO_DELAY = int(0.1 * RATE)  # speaker to microphone in our room, buffers included
TURN = 8 * RATE


def blocks(signal: np.ndarray) -> list[np.ndarray]:
    return [signal[i : i + BLOCK] for i in range(0, signal.size - BLOCK + 1, BLOCK)]


def delayed(signal: np.ndarray, samples: int, gain_db: float) -> np.ndarray:
    out = np.zeros_like(signal)
    out[samples:] = signal[: signal.size - samples]
    return (out * np.float32(10 ** (gain_db / 20))).astype(np.float32)


@pytest.fixture(scope="module")
def voices() -> tuple[np.ndarray, np.ndarray]:
    try:
        near = np.resize(near_speech(), TURN).astype(np.float32) * np.float32(0.7)
        far = far_speech(TURN / RATE) * np.float32(0.7)
    except SpeechMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    return near, far


# (round trip s, level of our returned voice dB). Faint copies: the filter must not learn from near-end
# speech; without that rule the first three left the far end's echo 10 to 23 dB louder than it came in.
# Loud copies get past that rule, and what the filter learns from them made the echo louder than it came
# in (0.15/-9: +1.4 dB, still -17 dB at the end) until the rule that drops a filter which adds.
CASES = [(0.15, -25.0), (0.3, -15.0), (0.3, -30.0), (0.15, -9.0), (0.3, 0.0)]


@pytest.mark.parametrize(("round_trip", "returned_db"), CASES)
def test_our_own_voice_coming_back_leaves_the_canceller_able_to_cancel(
    voices: tuple[np.ndarray, np.ndarray], round_trip: float, returned_db: float
) -> None:
    near, far = voices
    canceller = EchoCanceller(BLOCK, RATE)
    # Our turn: the microphone has our voice; the far end its copy, a round trip late.
    ours_out = []
    returned = delayed(near, int(round_trip * RATE), returned_db)
    for mic, back in zip(blocks(near), blocks(returned), strict=True):
        canceller.far(back)
        ours_out.append(canceller.process(mic))
    sent = np.concatenate(ours_out)
    # Our words go out whole (the gate may touch pauses; the words' energy stays).
    assert rms_db(sent) > rms_db(near[: sent.size]) - 1.0, (rms_db(sent), rms_db(near))
    # Their turn: the far end talks, our room echoes it 10 dB down, we are silent.
    mic_echo = delayed(far, ECHO_DELAY, -10.0)
    out = []
    for speaker, mic in zip(blocks(far), blocks(mic_echo), strict=True):
        canceller.far(speaker)
        out.append(canceller.process(mic))
    result = np.concatenate(out)
    echo = mic_echo[: result.size]
    second = RATE
    per_second = [
        rms_db(result[i : i + second]) - rms_db(echo[i : i + second])
        for i in range(0, result.size - second + 1, second)
    ]
    # Never louder than the echo it was given, and well down once converged (the last 3 s).
    assert max(per_second) <= 1.0, per_second
    assert rms_db(result[-3 * RATE :]) - rms_db(echo[-3 * RATE :]) <= -20.0, per_second

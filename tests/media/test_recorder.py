"""Call recording: both directions mixed into one WAV file by a writer thread."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from softphone.media.errors import MediaError
from softphone.media.recorder import CallRecorder

FRAME = 960


def tone(freq: float, frames: int) -> list[np.ndarray]:
    t = np.arange(frames * FRAME) / 48000
    wave_ = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return [wave_[i * FRAME : (i + 1) * FRAME] for i in range(frames)]


def read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 48000
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768


def test_both_directions_are_mixed_and_the_file_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    recorder = CallRecorder(path)
    for sent, played in zip(tone(500.0, 50), tone(1500.0, 50), strict=True):
        recorder.push(sent, played)
    recorder.push(None, tone(1500.0, 1)[0])  # an RFC 4733 event was sent: only what was heard
    recorder.push(None, None)  # nothing either way: nothing written
    recorder.close()
    samples = read(path)
    assert samples.size == 51 * FRAME
    assert recorder.seconds == pytest.approx(51 * FRAME / 48000)
    spectrum = np.abs(np.fft.rfft(samples[: 50 * FRAME]))
    freqs = np.fft.rfftfreq(50 * FRAME, 1 / 48000)
    strongest = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert strongest == pytest.approx([500.0, 1500.0], abs=2)
    assert recorder.error is None and recorder.dropped_blocks == 0


def test_loud_sum_is_clipped_and_push_after_close_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "loud.wav"
    recorder = CallRecorder(path)
    full = np.full(FRAME, 0.9, dtype=np.float32)
    recorder.push(full, full)
    recorder.close()
    recorder.push(full, full)
    recorder.close()
    samples = read(path)
    assert samples.size == FRAME
    assert samples.max() == pytest.approx(1.0, abs=1e-3)


def test_unwritable_path_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot write"):
        CallRecorder(tmp_path / "no-such-dir" / "x.wav")

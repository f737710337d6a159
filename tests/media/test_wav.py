"""WavSource / WavSink: round trip, padding, looping, bad files."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from softphone.media.errors import MediaError
from softphone.media.wav import WavError, WavSink, WavSource


def _tone(n: int) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000)).astype(np.float32)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    samples = _tone(4800)
    with WavSink(path) as sink:
        sink.write(samples[:1000])
        sink.write(samples[1000:])
        assert sink.frames_written == 4800
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()) == (1, 2, 48000, 4800)
    source = WavSource(path)
    assert source.samplerate == 48000
    assert source.frames == 4800
    assert source.duration == pytest.approx(0.1)
    back = np.concatenate([source.read(960) for _ in range(5)])
    assert np.max(np.abs(back - samples)) < 1.0 / 32768 + 1e-6
    assert source.finished


def test_pads_with_silence_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    with WavSink(path) as sink:
        sink.write(np.full(100, 0.25, dtype=np.float32))
    source = WavSource(path)
    out = np.full(160, 9.0, dtype=np.float32)
    assert source.read_into(out) == 100
    assert np.allclose(out[:100], 0.25, atol=1e-4)
    assert not out[100:].any()
    assert source.finished
    assert not source.read(50).any()


def test_loops(tmp_path: Path) -> None:
    path = tmp_path / "loop.wav"
    with WavSink(path) as sink:
        sink.write(np.array([0, 1000, 2000], dtype=np.int16))
    source = WavSource(path, loop=True)
    got = np.rint(source.read(8) * 32768).astype(int).tolist()
    assert got == [0, 1000, 2000, 0, 1000, 2000, 0, 1000]
    assert not source.finished


def test_clips_and_mixes_stereo_down(tmp_path: Path) -> None:
    path = tmp_path / "clip.wav"
    with WavSink(path, samplerate=8000) as sink:
        sink.write(np.array([2.0, -2.0], dtype=np.float32))
    with wave.open(str(path), "rb") as wav:
        assert np.frombuffer(wav.readframes(2), "<i2").tolist() == [32767, -32768]
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(np.array([1000, 3000, -2000, 0], dtype="<i2").tobytes())
    source = WavSource(stereo)
    assert (source.samplerate, source.channels, source.frames) == (16000, 2, 2)
    assert np.rint(source.read(2) * 32768).astype(int).tolist() == [2000, -1000]


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(WavError, match=r"missing\.wav"):
        WavSource(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wave file")
    with pytest.raises(MediaError):
        WavSource(junk)
    eight = tmp_path / "eight.wav"
    with wave.open(str(eight), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(b"\x80\x80")
    with pytest.raises(WavError, match="16-bit"):
        WavSource(eight)
    sink = WavSink(tmp_path / "closed.wav")
    sink.close()
    with pytest.raises(WavError, match="closed"):
        sink.write(np.zeros(4, dtype=np.float32))

"""WAV files as a stand-in for the audio device (``--play FILE.wav`` / ``--record FILE.wav``).

Both ends speak the pipeline's format: mono float32 blocks, full scale ±1.0.
Files are 16-bit PCM. A multi-channel source is mixed down to mono; its rate
is reported in ``WavSource.samplerate`` and resampling is left to the caller
(the pipeline runs at 48000 Hz).
"""

from __future__ import annotations

import wave
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from softphone.media.errors import MediaError

PIPELINE_RATE = 48000
_FULL_SCALE = 32768.0


class WavError(MediaError):
    """A WAV file that cannot be read or written as 16-bit PCM."""


class WavSource:
    """Reads a 16-bit PCM WAV file in blocks.

    loop: at the end, start again from the beginning; otherwise pad with silence.
    ``finished`` is True once a non-looping source has delivered every sample.
    """

    def __init__(self, path: str | Path, *, loop: bool = False) -> None:
        self.path = Path(path)
        self.loop = loop
        try:
            with wave.open(str(self.path), "rb") as wav:
                if wav.getsampwidth() != 2:
                    raise WavError(f"{self.path}: {8 * wav.getsampwidth()}-bit samples; only 16-bit PCM is supported")
                if wav.getcomptype() != "NONE":
                    raise WavError(f"{self.path}: compressed WAV ({wav.getcomptype()}) is not supported")
                self.channels = wav.getnchannels()
                self.samplerate = wav.getframerate()
                raw = wav.readframes(wav.getnframes())
        except (OSError, EOFError, wave.Error) as exc:
            raise WavError(f"{self.path}: cannot read WAV file: {exc}") from exc
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / _FULL_SCALE
        if self.channels > 1:
            usable = len(data) - len(data) % self.channels
            data = data[:usable].reshape(-1, self.channels).mean(axis=1, dtype=np.float32)
        self._samples: npt.NDArray[np.float32] = np.ascontiguousarray(data, dtype=np.float32)
        self._pos = 0

    @property
    def frames(self) -> int:
        """Samples in the file (per channel)."""
        return len(self._samples)

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0

    @property
    def finished(self) -> bool:
        return not self.loop and self._pos >= len(self._samples)

    def rewind(self) -> None:
        self._pos = 0

    def read(self, frames: int) -> npt.NDArray[np.float32]:
        """The next ``frames`` samples as a new float32 array."""
        out = np.empty(frames, dtype=np.float32)
        self.read_into(out)
        return out

    def read_into(self, out: npt.NDArray[np.float32]) -> int:
        """Fill ``out``; return how many samples came from the file (the rest are silence)."""
        want = len(out)
        total = len(self._samples)
        got = 0
        while got < want:
            if self._pos >= total:
                if not self.loop or total == 0:
                    out[got:] = 0.0
                    break
                self._pos = 0
            n = min(want - got, total - self._pos)
            out[got : got + n] = self._samples[self._pos : self._pos + n]
            self._pos += n
            got += n
        return got


class WavSink:
    """Writes mono float32 blocks to a 16-bit PCM WAV file (clipped to full scale)."""

    def __init__(self, path: str | Path, *, samplerate: int = PIPELINE_RATE) -> None:
        self.path = Path(path)
        self.samplerate = samplerate
        self.frames_written = 0
        try:
            # Opened here, not by wave.open(path): a failed open there leaves an object whose __del__ raises.
            file = open(self.path, "wb")
        except OSError as exc:
            raise WavError(f"{self.path}: cannot write WAV file: {exc.strerror or exc}") from exc
        self._file = file
        try:
            self._wav: wave.Wave_write | None = wave.open(file, "wb")
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(samplerate)
        except (OSError, wave.Error) as exc:
            file.close()
            raise WavError(f"{self.path}: cannot write WAV file: {exc}") from exc

    def write(self, block: npt.NDArray[np.floating] | npt.NDArray[np.int16]) -> None:
        """Append samples: float (±1.0) or int16."""
        if self._wav is None:
            raise WavError(f"{self.path}: sink is closed")
        data = np.asarray(block).reshape(-1)
        if data.dtype != np.int16:
            data = np.clip(np.rint(data.astype(np.float64) * _FULL_SCALE), -32768, 32767).astype(np.int16)
        self._wav.writeframes(data.astype("<i2", copy=False).tobytes())
        self.frames_written += len(data)

    def close(self) -> None:
        if self._wav is not None:
            wav, self._wav = self._wav, None
            try:
                wav.close()
            finally:
                self._file.close()

    def __enter__(self) -> WavSink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

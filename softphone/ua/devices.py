"""Sound devices for a user interface: the list, a test tone, a microphone level meter, the ringtone
(the built-in cadence or a WAV file) and the Opus library's version for an About box.

Thin wrappers over :mod:`softphone.media.audio` and :mod:`softphone.media.tones`, so that a client of
the facade needs nothing from the media engine itself. Whatever opens a device here can take a while
or fail (with :class:`AudioDeviceError`): a GUI calls it off its own thread.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from softphone.media.audio import (
    SAMPLE_RATE,
    AudioDevice,
    AudioDeviceError,
    AudioStream,
    BufferPlayer,
    DeviceSpec,
    list_devices,
)
from softphone.media.codecs import _OpusLib
from softphone.media.errors import MediaError
from softphone.media.processing import AudioProcessor, ProcessingConfig
from softphone.media.resample import resample
from softphone.media.tones import ToneGenerator, ToneSpec
from softphone.media.wav import WavError, WavSource
from softphone.ua.media import _CaptureSource, _PlaybackSink

__all__ = [
    "RING_SECONDS",
    "AudioDevice",
    "AudioDeviceError",
    "BufferPlayer",
    "DeviceSpec",
    "EchoTestResult",
    "LevelMeter",
    "chime_samples",
    "echo_test",
    "list_audio_devices",
    "opus_version",
    "play_test_tone",
    "ring_samples",
    "ringtone_samples",
    "start_ringtone",
]

RING_SECONDS = 6.0
METER_BLOCK = 960


def list_audio_devices() -> list[AudioDevice]:
    """Every device the sound system offers, with the current defaults marked."""
    return list_devices()


def chime_samples(seconds: float = 1.0) -> npt.NDArray[np.float32]:
    """The test tone: two notes (660 Hz, then 880 Hz) at -14 dBFS, mono float32 at 48 kHz."""
    half = int(seconds * SAMPLE_RATE / 2)
    first = ToneGenerator(ToneSpec((660.0,), level_dbfs=-14.0), SAMPLE_RATE).read_float(half)
    second = ToneGenerator(ToneSpec((880.0,), level_dbfs=-14.0), SAMPLE_RATE).read_float(half)
    return np.concatenate([first, second])


def play_test_tone(device: DeviceSpec = None, *, timeout: float = 5.0) -> str:
    """Play the test tone once on ``device`` and wait (at most ``timeout`` s) until it has been played.

    Returns the name of the device it played on.
    """
    player = BufferPlayer(chime_samples(), device, loop=False)
    player.start()
    try:
        player.wait(timeout)
    finally:
        player.stop()
    return player.device.name if player.device is not None else "the default output"


def ring_samples(seconds: float = RING_SECONDS) -> npt.NDArray[np.float32]:
    """A ring cadence (440 + 480 Hz bursts of 400 ms, twice, then a pause), mono float32 at 48 kHz."""
    spec = ToneSpec(frequencies=(440.0, 480.0), cadence_ms=(400, 200, 400, 2000 + 3000), level_dbfs=-12.0)
    return ToneGenerator(spec, SAMPLE_RATE).read_float(int(seconds * SAMPLE_RATE))


MAX_RINGTONE_SECONDS = 60.0


def ringtone_samples(path: str | Path | None = None) -> npt.NDArray[np.float32]:
    """The ringtone as mono float32 at 48 kHz: the built-in cadence, or the 16-bit PCM WAV file at ``path``
    (mixed to mono, resampled, at most a minute). Raises :class:`AudioDeviceError` for a file that
    cannot be used, saying why."""
    if path is None:
        return ring_samples()
    try:
        source = WavSource(path)
    except WavError as exc:
        raise AudioDeviceError(str(exc)) from exc
    if source.frames == 0:
        raise AudioDeviceError(f"{path}: the file has no sound in it")
    samples = source.read(min(source.frames, int(MAX_RINGTONE_SECONDS * source.samplerate)))
    if source.samplerate != SAMPLE_RATE:
        try:
            samples = resample(samples, source.samplerate, SAMPLE_RATE).astype(np.float32)
        except (MediaError, ValueError) as exc:
            raise AudioDeviceError(f"{path}: cannot use its sample rate {source.samplerate} Hz: {exc}") from exc
    return samples


def start_ringtone(device: DeviceSpec = None, tone: str | Path | None = None) -> BufferPlayer:
    """Start the ringtone (``tone``: a WAV file; None: the built-in cadence), repeated, on ``device``;
    ``stop()`` the player to end it."""
    player = BufferPlayer(ringtone_samples(tone), device, loop=True, samplerate=SAMPLE_RATE)
    player.start()
    return player


def opus_version() -> str | None:
    """The Opus library's own version (``libopus 1.3.1``), or None when it cannot be loaded."""
    try:
        info = importlib.import_module("opuslib.api.info")
        _OpusLib.module()
        raw = info.get_version_string()
    except Exception:  # MediaError, or the bare Exception opuslib raises when libopus is missing
        return None
    return raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)


class LevelMeter:
    """What a microphone hears now, for a level display.

    It opens the microphone together with ``output_device``, as a call would. :meth:`open` and
    :meth:`close` block while the sound system works; :meth:`level` is cheap and may be called from
    any thread.
    """

    def __init__(self, input_device: DeviceSpec = None, output_device: DeviceSpec = None) -> None:
        self.input_device = input_device
        self.output_device = output_device
        self._stream: AudioStream | None = None

    @property
    def is_open(self) -> bool:
        return self._stream is not None

    def open(self) -> None:
        stream = AudioStream(self.input_device, self.output_device, blocksize=METER_BLOCK)
        stream.start()
        self._stream = stream

    def level(self) -> float | None:
        """The peak of the latest captured block, 0..1; None when the meter is not open."""
        stream = self._stream
        return float(stream.input_level("peak")) if stream is not None else None

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()


@dataclass(frozen=True, slots=True)
class EchoTestResult:
    """How loud the speaker's sound came back into the microphone, against what was played (dB)."""

    before_db: float  # as captured
    after_db: float  # after the echo canceller
    delay_ms: float | None  # the echo's delay the canceller found
    output: str  # the speaker it played on

    @property
    def heard(self) -> bool:
        """Any echo to speak of (a headset hears none)."""
        return self.before_db > -50.0


def _db(samples: npt.NDArray[np.float32]) -> float:
    value = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0
    return 20 * math.log10(value) if value > 1e-9 else -120.0


def echo_test(
    input_device: DeviceSpec = None, output_device: DeviceSpec = None, *, seconds: float = 8.0
) -> EchoTestResult:
    """Play bursts of noise on the speaker and listen with the microphone, through the echo canceller
    as a call would run it (20 ms frames on a deadline clock); blocks for ``seconds``.

    Measured over the last 3 s, once the canceller has found the echo (it takes 2 to 3 s).
    """
    frame = SAMPLE_RATE // 50
    frames = int(seconds * 50)
    rng = np.random.default_rng(7)
    # 200 ms of noise at -20 dBFS, 100 ms of silence: broadband, like speech, and easy to follow.
    signal = (rng.standard_normal(frames * frame) * 0.1).astype(np.float32)
    signal *= (np.arange(signal.size) % (SAMPLE_RATE * 3 // 10) < SAMPLE_RATE // 5).astype(np.float32)
    processor = AudioProcessor(ProcessingConfig(True, "off", False, False))
    stream = AudioStream(input_device, output_device)
    stream.start()
    played: list[npt.NDArray[np.float32]] = []
    raw: list[npt.NDArray[np.float32]] = []
    cleaned: list[npt.NDArray[np.float32]] = []
    inner = processor.process

    def process(mic: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        raw.append(np.array(mic, dtype=np.float32))
        return inner(mic)

    processor.process = process  # type: ignore[method-assign]
    # The same ends a call's media thread uses, so the canceller follows the rings as in a call.
    source = _CaptureSource(stream, lambda message: None, processor)
    sink = _PlaybackSink(stream, processor)
    try:
        deadline = time.monotonic()
        for i in range(frames):
            deadline += frame / SAMPLE_RATE
            wait = deadline - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            cleaned.append(source.read(frame))
            block = signal[i * frame : (i + 1) * frame]
            sink.write(block)
            played.append(block)
    finally:
        stream.close()
    half = max(0, frames - 150)
    reference = _db(np.concatenate(played[half:]))
    stats = processor.echo_stats()
    return EchoTestResult(
        _db(np.concatenate(raw[half:])) - reference,
        _db(np.concatenate(cleaned[half:])) - reference,
        None if stats is None else stats.delay_ms,
        stream.output_device.name if stream.output_device is not None else "the default output",
    )

"""Local media ports and the audio of calls.

A :class:`MediaPort` is one even UDP port per call, reserved so that the SDP
we send names a port that is really ours; the media session takes its socket
over when the call is confirmed. A :data:`MediaFactory` gives each confirmed
call its audio source and sink: :func:`silence_media`, :func:`wav_media` or
:func:`device_media`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from softphone.media.audio import AudioStream, DeviceSpec
from softphone.media.errors import MediaError
from softphone.media.processing import AudioProcessor, ProcessingConfig, ProcessingStats
from softphone.media.sources import PIPELINE_RATE, AudioSink, AudioSource, NullSink, SilenceSource, wav_source
from softphone.media.wav import WavSink
from softphone.transport import TransportError

__all__ = [
    "CallAudio",
    "MediaFactory",
    "MediaPort",
    "ProcessingConfig",
    "device_media",
    "silence_media",
    "wav_media",
]


class MediaPort:
    """An even UDP port (RFC 3550 11: RTP on even ports, RTCP on the next odd one) bound on ``host``."""

    def __init__(self, host: str, attempts: int = 64) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        kept: list[socket.socket] = []
        try:
            for _ in range(attempts):
                sock = socket.socket(family, socket.SOCK_DGRAM)
                try:
                    sock.bind((host, 0))
                except OSError as exc:
                    sock.close()
                    raise TransportError(f"cannot bind a media port on {host}: {exc.strerror or exc}") from exc
                port = sock.getsockname()[1]
                if port % 2 == 0:
                    self.socket: socket.socket | None = sock
                    self.port: int = port
                    return
                kept.append(sock)  # odd: keep it bound until we find an even one, so it is not handed out again
            raise TransportError(f"no even UDP port free on {host}")
        finally:
            for sock in kept:
                sock.close()

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    @property
    def closed(self) -> bool:
        return self.socket is None


# --- what a call plays and records -----------------------------------------------------

Warn = Callable[[str], None]


class CallAudio:
    """The source and sink of one call's media session, and what to close when the call ends."""

    def __init__(
        self,
        source: AudioSource,
        sink: AudioSink,
        close: Callable[[], None] | None = None,
        levels: Callable[[], tuple[float, float]] | None = None,
        processing: Callable[[], ProcessingStats | None] | None = None,
    ) -> None:
        self.source = source
        self.sink = sink
        self._close = close
        self._levels = levels
        self._processing = processing

    def levels(self) -> tuple[float, float] | None:
        """Microphone and speaker RMS levels (0..1) for meters, when the audio is a sound device.

        With microphone processing the microphone level is the processed one: what the far end hears.
        """
        return None if self._levels is None else self._levels()

    def processing(self) -> ProcessingStats | None:
        """The microphone processing's figures (echo return loss enhancement, echo delay), if it runs."""
        return None if self._processing is None else self._processing()

    def close(self) -> None:
        if self._close is not None:
            close, self._close = self._close, None
            close()


MediaFactory = Callable[[str, Warn], "CallAudio | tuple[AudioSource, AudioSink] | None"]
"""Called (in a worker thread) when a call is confirmed, with the call's id and a thread-safe
``warn(message)`` for device problems (reported as ``media_warning`` and ``error`` events);
returns the call's audio as a :class:`CallAudio` or a ``(source, sink)`` pair, or None for no media."""


def silence_media() -> MediaFactory:
    """Silence out, nothing played: RTP still flows, so quality figures are real."""

    def factory(call_id: str, warn: Warn) -> CallAudio:
        return CallAudio(SilenceSource(), NullSink())

    return factory


def wav_media(play: str | Path | None = None, record: str | Path | None = None) -> MediaFactory:
    """Send ``play`` (a 16-bit WAV, looped) or silence; record what is heard to ``record`` (16-bit WAV, 48 kHz).

    With several calls, the recordings of the later ones get ``-<call id>`` before the suffix.
    """
    calls = 0

    def factory(call_id: str, warn: Warn) -> CallAudio:
        nonlocal calls
        calls += 1
        source: AudioSource = wav_source(play, loop=True) if play is not None else SilenceSource()
        if record is None:
            return CallAudio(source, NullSink())
        path = Path(record)
        if calls > 1:
            path = path.with_name(f"{path.stem}-{call_id}{path.suffix}")
        sink = WavSink(path, samplerate=PIPELINE_RATE)
        return CallAudio(source, sink, sink.close)

    return factory


class _CaptureSource:
    """Reads the microphone ring of an :class:`AudioStream`; what is missing is silence.

    With a processor, each frame goes through it (on the media thread) before the encoder.
    Also polls the stream's health about once a second and reports trouble.
    """

    def __init__(self, stream: AudioStream, warn: Warn, processor: AudioProcessor | None = None) -> None:
        self._stream = stream
        self._warn = warn
        self._processor = processor
        self._frames = 0
        self._failed = False
        stream.capture.clear()
        self._slips = self._ring_slips()

    def _ring_slips(self) -> int:
        # Samples by which the microphone's timeline has moved later than the speaker's: zeros read
        # from an empty capture ring or played from an empty playback ring push it later, samples
        # dropped from a full ring pull it earlier.
        capture, playback = self._stream.capture, self._stream.playback
        return capture.missing_samples + playback.missing_samples - capture.dropped_samples - playback.dropped_samples

    def read(self, frames: int) -> npt.NDArray[np.float32]:
        out = np.zeros(frames, dtype=np.float32)
        self._stream.capture.read_into(out)
        if self._processor is not None:
            slips = self._ring_slips()
            if slips != self._slips:
                self._processor.slip(slips - self._slips)
                self._slips = slips
            out = self._processor.process(out)
        self._frames += frames
        if self._frames >= PIPELINE_RATE and not self._failed:
            self._frames = 0
            try:
                self._stream.check()
            except MediaError as exc:
                self._failed = True
                self._warn(str(exc))
        return out


class _PlaybackSink:
    """Writes the speaker ring of an :class:`AudioStream`; with a processor, it hears the far end there too."""

    def __init__(self, stream: AudioStream, processor: AudioProcessor | None = None) -> None:
        self._stream = stream
        self._processor = processor

    def write(self, block: npt.NDArray[np.float32]) -> None:
        self._stream.playback.write(block)
        if self._processor is not None:
            self._processor.far(block)


def device_media(
    input: DeviceSpec = None, output: DeviceSpec = None, processing: ProcessingConfig | None = None
) -> MediaFactory:
    """Microphone and speaker through sounddevice: one :class:`AudioStream` per call, closed at its end.

    ``processing``: the microphone processing (default: all on; ``ProcessingConfig.off()`` for none).
    A device that cannot be opened is reported through ``warn`` and the call goes on with silence;
    processing that cannot be loaded is reported once and the call goes on without it.
    """
    config = ProcessingConfig() if processing is None else processing

    def factory(call_id: str, warn: Warn) -> CallAudio:
        stream = AudioStream(input, output, on_device_change=warn)
        try:
            stream.start()
        except (MediaError, OSError) as exc:
            stream.close()
            warn(f"audio device: {exc}")
            return CallAudio(SilenceSource(), NullSink())
        processor = AudioProcessor(config) if config.enabled else None
        if processor is not None and processor.unavailable is not None:
            warn(processor.unavailable)
        if processor is None:
            return CallAudio(
                _CaptureSource(stream, warn),
                _PlaybackSink(stream),
                stream.close,
                lambda: (stream.input_level(), stream.output_level()),
            )
        return CallAudio(
            _CaptureSource(stream, warn, processor),
            _PlaybackSink(stream, processor),
            stream.close,
            lambda: (processor.level, stream.output_level()),
            processor.stats,
        )

    return factory

"""A real acoustic echo path on the test PulseAudio server, speech from espeak-ng, and the measures
the echo tests and the echo benchmark share.

``EchoPath(pulse, "speaker.monitor", "micfeed", delay_ms=80, gain_db=-10)`` loads
``module-loopback`` from a speaker's monitor into a microphone feed: whatever the
phone plays comes back into its microphone ``delay_ms`` later, ``gain_db``
quieter, as from a loudspeaker in a room. ``move(delay_ms)`` replaces it with
another delay; ``close()`` unloads it.

``speech(text, voice)`` is espeak-ng reading ``text`` at 48 kHz (cached in the
system temp dir); a missing espeak-ng fails the test with the package to install.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from softphone.media.engine import ArraySink, MediaSession
from softphone.media.processing import ProcessingConfig, ProcessingStats
from softphone.media.resample import resample
from softphone.media.wav import WavSource
from softphone.sip.offer_answer import NegotiatedMedia, opus_codec
from softphone.ua.media import MediaPort, device_media
from tests.pulse_server import PulseAudio

Samples = npt.NDArray[np.float32]
RATE = 48000

FAR_TEXT = (Path(__file__).resolve().parent.parent / "benchmarks" / "speech" / "text.txt").read_text()
NEAR_TEXT = (
    "Could you send me the report before noon tomorrow? I need to check the figures with the team. "
    "The meeting has moved to the third floor, next to the kitchen. Please bring the printed copies."
)
FAR_VOICE = "en-us"
NEAR_VOICE = "en-gb+f3"


class SpeechMissing(RuntimeError):
    pass


def speech(text: str, voice: str, *, pitch: int = 50) -> Samples:
    """espeak-ng reading ``text`` with ``voice``: mono float32 at 48 kHz."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SpeechMissing("espeak-ng is not installed (apt-get install -y espeak-ng)")
    version = subprocess.run([espeak, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    key = hashlib.sha256(f"{text}|{voice}|{pitch}|{version}".encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / "softphone-test-speech"
    cache.mkdir(exist_ok=True)
    path = cache / f"speech-{key}.wav"
    if not path.exists():
        partial = cache / f"speech-{key}.{os.getpid()}.tmp.wav"
        subprocess.run(
            [espeak, "-v", voice, "-p", str(pitch), "-w", str(partial), text],
            check=True,
            timeout=120,
            capture_output=True,
        )
        os.replace(partial, path)
    source = WavSource(path)
    data = source.read(source.frames)
    out = resample(data, source.samplerate, RATE) if source.samplerate != RATE else data
    return np.ascontiguousarray(out, dtype=np.float32)


def far_speech(seconds: float) -> Samples:
    """The far end's speech (a man's voice), ``seconds`` long (repeated if needed)."""
    data = speech(FAR_TEXT, FAR_VOICE)
    n = int(seconds * RATE)
    return np.resize(data, n).astype(np.float32) if data.size < n else data[:n]


def near_speech() -> Samples:
    """The near end's speech (a woman's voice), about 11 s."""
    return speech(NEAR_TEXT, NEAR_VOICE, pitch=70)


class EchoPath:
    """``module-loopback`` from ``source`` (a speaker's monitor) into ``sink`` (a microphone feed)."""

    def __init__(self, pulse: PulseAudio, source: str, sink: str, *, delay_ms: int, gain_db: float) -> None:
        self.pulse = pulse
        self.source = source
        self.sink = sink
        self.gain_db = gain_db
        self.delay_ms = delay_ms
        self.module: str | None = None
        self._load()

    def _load(self) -> None:
        # adjust_time=0: no rate adaptation, so the delay stays what it was set to (both null sinks
        # run on the same clock).
        self.module = self.pulse.pactl(
            "load-module",
            "module-loopback",
            f"source={self.source}",
            f"sink={self.sink}",
            f"latency_msec={self.delay_ms}",
            "adjust_time=0",
            "source_dont_move=true",
            "sink_dont_move=true",
        ).strip()
        self.pulse.pactl("set-sink-input-volume", self._sink_input(), f"{self.gain_db:.1f}dB")

    def _sink_input(self) -> str:
        current = ""
        for line in self.pulse.pactl("list", "sink-inputs").splitlines():
            if line.startswith("Sink Input #"):
                current = line.split("#", 1)[1].strip()
            elif line.strip() == f"Owner Module: {self.module}":
                return current
        raise RuntimeError(f"no sink input of module-loopback {self.module}")

    def move(self, delay_ms: int) -> None:
        """The same path with another delay (as if the phone were moved in the room)."""
        self.close()
        self.delay_ms = delay_ms
        self._load()

    def close(self) -> None:
        module, self.module = self.module, None
        if module is not None:
            self.pulse.pactl("unload-module", module)

    def __enter__(self) -> EchoPath:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rms_db(samples: Samples) -> float:
    """RMS in dBFS (-200 for digital silence)."""
    if samples.size == 0:
        return -200.0
    value = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    return 20 * math.log10(value) if value > 1e-10 else -200.0


def best_lag(reference: Samples, degraded: Samples, max_lag: int) -> int:
    """The delay of ``degraded`` against ``reference`` (0..max_lag samples) that correlates best."""
    n = 1 << math.ceil(math.log2(reference.size + degraded.size))
    spectrum = np.fft.rfft(degraded.astype(np.float64), n) * np.conj(np.fft.rfft(reference.astype(np.float64), n))
    correlation = np.fft.irfft(spectrum, n)[: max_lag + 1]
    return int(np.argmax(correlation))


def wb_pesq(reference: Samples, degraded: Samples, max_lag: int = RATE // 2) -> float:
    """WB-PESQ (P.862.2) of ``degraded`` against ``reference`` (both 48 kHz), aligned by cross-correlation."""
    from pesq import pesq  # type: ignore[import-untyped,unused-ignore]

    ref16 = resample(reference, RATE, 16000).astype(np.float64)
    deg16 = resample(degraded, RATE, 16000).astype(np.float64)
    lag = best_lag(ref16.astype(np.float32), deg16.astype(np.float32), max_lag // 3)
    aligned = np.zeros(ref16.size)
    piece = deg16[lag : lag + ref16.size]
    aligned[: piece.size] = piece
    return float(pesq(16000, ref16, aligned, "wb"))


# --- one call over a real echo path ---------------------------------------------------------------

WINDOW = RATE // 2  # the measures below work on 0.5 s windows
FAR_ACTIVE_DB = -45.0


class ArraySource:
    """Hands out a float32 array frame by frame, then silence."""

    def __init__(self, samples: Samples) -> None:
        self._samples = samples
        self._pos = 0

    def read(self, frames: int) -> Samples:
        out = np.zeros(frames, dtype=np.float32)
        chunk = self._samples[self._pos : self._pos + frames]
        out[: chunk.size] = chunk
        self._pos += frames
        return out

    @property
    def done(self) -> bool:
        return self._pos >= self._samples.size


@dataclass
class EchoRun:
    """What one phone's microphone did during a call: on one timeline (the media thread's frames)."""

    raw: Samples  # the microphone as captured
    processed: Samples  # what was sent
    far: Samples  # the far end as played
    near_start: float | None  # when the near-end speech was started (s)
    near_seconds: float
    move_at: float | None  # when the echo path's delay changed (s)
    stats: list[tuple[float, ProcessingStats]]  # the processor's figures, once a second

    def _windows(self, start: float, end: float) -> Iterator[tuple[float, slice]]:
        first, last = int(start * RATE), min(int(end * RATE), self.processed.size, self.raw.size)
        for s in range(first, last - WINDOW + 1, WINDOW):
            yield s / RATE, slice(s, s + WINDOW)

    def echo_only(self, t: float) -> bool:
        """The window at ``t`` holds echo and no near-end speech (the far end was playing just before)."""
        if self.near_start is not None and self.near_start - 0.5 <= t <= self.near_start + self.near_seconds + 1.0:
            return False
        s = int(max(0.0, t - 0.2) * RATE)
        return rms_db(self.far[s : s + WINDOW]) > FAR_ACTIVE_DB

    def erle_windows(self, start: float, end: float) -> list[tuple[float, float]]:
        """(time, ERLE dB) of the echo-only windows from ``start`` to ``end``."""
        return [
            (t, rms_db(self.raw[w]) - rms_db(self.processed[w]))
            for t, w in self._windows(start, end)
            if self.echo_only(t)
        ]

    def erle(self, start: float, end: float) -> float:
        """ERLE over the echo-only windows from ``start`` to ``end`` together."""
        parts = [w for t, w in self._windows(start, end) if self.echo_only(t)]
        if not parts:
            return float("nan")
        raw = np.concatenate([self.raw[w] for w in parts])
        processed = np.concatenate([self.processed[w] for w in parts])
        return rms_db(raw) - rms_db(processed)

    def median_erle(self, start: float, end: float) -> float:
        """The median of the echo-only windows' ERLE: a moment's glitch of the echo path itself (a
        loaded machine can make module-loopback skip) counts as one window, not as the whole."""
        windows = self.erle_windows(start, end)
        return float(np.median([e for _, e in windows])) if windows else float("nan")

    def convergence(self, start: float, end: float, target_db: float = 20.0) -> float | None:
        """Seconds from ``start`` until two echo-only windows in a row reach ``target_db`` of ERLE."""
        windows = self.erle_windows(start, end)
        for (t, erle), (_, following) in itertools.pairwise(windows):
            if erle >= target_db and following >= target_db:
                return t - start
        return None

    def near_segment(self) -> Samples:
        """What was sent while the near end spoke (from 0.2 s before to 0.8 s after)."""
        assert self.near_start is not None
        first = int((self.near_start - 0.2) * RATE)
        return self.processed[first : first + int((self.near_seconds + 1.0) * RATE)]


def _negotiated(remote: tuple[str, int]) -> NegotiatedMedia:
    codec = opus_codec()
    assert codec.payload_type is not None
    return NegotiatedMedia(
        remote_address=remote[0],
        remote_addrtype="IP4",
        remote_port=remote[1],
        remote_rtcp_port=remote[1],
        codec=codec,
        payload_type=codec.payload_type,
        codecs=[codec],
        receive_codecs={codec.payload_type: codec},
        telephone_event=None,
        telephone_events={},
        ptime=20,
        direction="sendrecv",
        on_hold=False,
        rtcp_mux=True,
    )


def echo_call(
    pulse: PulseAudio,
    processing: ProcessingConfig,
    *,
    seconds: float,
    near: Samples | None = None,
    near_at: float | None = None,
    path: EchoPath | None = None,
    move_at: float | None = None,
    move_to: int | None = None,
    far_gain_db: float = 0.0,
    far_from: float = 0.0,
) -> EchoRun:
    """A call of ``seconds``: the far end (a media session on loopback) talks all along, our phone
    (``device_media`` on ``test_mic``/``test_speaker`` with ``processing``) plays it; ``near`` is
    played into the microphone feed from ``near_at`` on; the echo ``path`` moves to ``move_to`` ms
    at ``move_at``. Times count media frames of our phone, so they follow the audio, not the clock.
    The far end's speech starts ``far_from`` seconds into its text: a shorter call can put the same
    far-end words under the near end as a longer one did.
    """
    far = far_speech(far_from + seconds + 2.0)[int(far_from * RATE) :] * np.float32(10 ** (far_gain_db / 20))
    audio = device_media("test_mic", "test_speaker", processing)("echo", lambda message: None)
    raw: list[Samples] = []
    sent: list[Samples] = []
    played: list[Samples] = []
    stats: list[tuple[float, ProcessingStats]] = []
    source, sink = audio.source, audio.sink
    processor = getattr(source, "_processor", None)
    if processor is not None:
        inner_process = processor.process

        def process(mic: Samples) -> Samples:
            raw.append(np.array(mic, dtype=np.float32))
            return inner_process(mic)

        processor.process = process  # type: ignore[method-assign]

    class Tap:
        def read(self, frames: int) -> Samples:
            before = len(raw)
            out = source.read(frames)
            if len(raw) == before:  # no processor: the microphone as captured is what is sent
                raw.append(np.array(out, dtype=np.float32))
            sent.append(np.array(out, dtype=np.float32))
            if len(sent) % 50 == 0:
                figures = audio.processing()
                if figures is not None:
                    stats.append((len(sent) * 0.02, figures))
            return out

    class Played:
        def write(self, block: Samples) -> None:
            sink.write(block)
            played.append(np.array(block, dtype=np.float32))

    phone_port, far_port = MediaPort("127.0.0.1"), MediaPort("127.0.0.1")
    phone_sock, far_sock = phone_port.socket, far_port.socket
    assert phone_sock is not None and far_sock is not None
    phone_port.socket = far_port.socket = None
    far_sink = ArraySink(seconds + 5.0)
    phone = MediaSession(phone_sock, _negotiated(("127.0.0.1", far_port.port)), Tap(), Played(), seed=1)
    far_end = MediaSession(far_sock, _negotiated(("127.0.0.1", phone_port.port)), ArraySource(far), far_sink, seed=2)
    player = None
    near_start = moved = None
    try:
        far_end.start()
        phone.start()
        frames = int(seconds / 0.02)
        deadline = time.monotonic() + seconds + 30.0
        while len(sent) < frames:
            now = len(sent) * 0.02
            if near is not None and near_at is not None and near_start is None and now >= near_at:
                player = pulse.pacat_play("micfeed", near)
                near_start = len(sent) * 0.02
            if path is not None and move_at is not None and move_to is not None and moved is None and now >= move_at:
                path.move(move_to)
                moved = len(sent) * 0.02
            if time.monotonic() > deadline:
                raise AssertionError(f"the call's media thread ran {len(sent)} of {frames} frames in time")
            time.sleep(0.02)
    finally:
        phone.stop()
        far_end.stop()
        audio.close()
        if player is not None:
            pulse.end(player)
    n = min(len(raw), len(sent))
    return EchoRun(
        np.concatenate(raw[:n]),
        np.concatenate(sent[:n]),
        np.concatenate(played) if played else np.zeros(0, np.float32),
        near_start,
        0.0 if near is None else near.size / RATE,
        moved,
        stats,
    )

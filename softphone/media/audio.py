"""The audio-device layer: sounddevice streams feeding lock-free ring buffers.

Data flow (one ``AudioStream`` per call's device pair)::

    microphone --(PortAudio callback)--> capture ring  --> media thread (encode, RTP)
    speaker    <--(PortAudio callback)-- playback ring <-- media thread (decode, jitter buffer)

The callbacks only copy samples between PortAudio's buffers and the rings
(``softphone.media.ring.RingBuffer``): no allocation, no locks, no logging.
Everything else — opening, health checks, falling back to the default device
— happens on the thread that owns the ``AudioStream``.

Streams are always 48000 Hz mono float32. ``sounddevice`` is imported on first
use, so that a process can set up its audio server (or environment) first;
``refresh_devices()`` re-enumerates devices later.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from softphone.media.errors import MediaError
from softphone.media.ring import RingBuffer

log = logging.getLogger(__name__)

SAMPLE_RATE = 48000
CHANNELS = 1
DTYPE = "float32"

DeviceSpec = str | int | None
Kind = Literal["input", "output"]


class AudioDeviceError(MediaError):
    """An audio device that cannot be found, opened or kept running."""


def _sd() -> Any:
    """The sounddevice module, imported on first use (PortAudio enumerates devices then)."""
    try:
        import sounddevice  # type: ignore[import-untyped,unused-ignore]
    except OSError as exc:  # PortAudio library missing
        raise AudioDeviceError(f"PortAudio is not available ({exc}); install libportaudio2") from exc
    return sounddevice


def refresh_devices() -> None:
    """Re-initialise PortAudio so that devices added since the first enumeration appear.

    Call only while no stream is open.
    """
    sd = _sd()
    sd._terminate()
    sd._initialize()


@dataclass(frozen=True)
class AudioDevice:
    """One PortAudio device as the user sees it."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool = False
    is_default_output: bool = False

    def supports(self, kind: Kind) -> bool:
        return (self.max_input_channels if kind == "input" else self.max_output_channels) > 0


def _default_index(kind: Kind) -> int | None:
    sd = _sd()
    try:
        info = sd.query_devices(kind=kind)
    except (sd.PortAudioError, ValueError):
        return None
    index = info.get("index")
    return int(index) if index is not None else None


def list_devices() -> list[AudioDevice]:
    """All devices PortAudio knows, with the current defaults marked."""
    sd = _sd()
    try:
        infos = sd.query_devices()
        hostapis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"cannot list audio devices: {exc}") from exc
    default_in = _default_index("input")
    default_out = _default_index("output")
    devices: list[AudioDevice] = []
    for index, info in enumerate(infos):
        hostapi = hostapis[info["hostapi"]]["name"] if 0 <= info["hostapi"] < len(hostapis) else ""
        devices.append(
            AudioDevice(
                index=index,
                name=str(info["name"]),
                hostapi=str(hostapi),
                max_input_channels=int(info["max_input_channels"]),
                max_output_channels=int(info["max_output_channels"]),
                default_samplerate=float(info["default_samplerate"]),
                is_default_input=index == default_in,
                is_default_output=index == default_out,
            )
        )
    return devices


def find_device(spec: DeviceSpec, kind: Kind) -> AudioDevice:
    """The device to use for ``kind``.

    spec: None follows the system default; an int is a PortAudio index; a
    string matches a name exactly, then case-insensitively, then as a
    case-insensitive substring (the first device that has channels of that kind).
    """
    devices = [d for d in list_devices() if d.supports(kind)]
    if spec is None:
        for device in devices:
            if device.is_default_output if kind == "output" else device.is_default_input:
                return device
        if devices:
            return devices[0]
        raise AudioDeviceError(f"no audio {kind} device available")
    if isinstance(spec, int):
        for device in devices:
            if device.index == spec:
                return device
        raise AudioDeviceError(f"no audio {kind} device with index {spec}")
    wanted = spec.strip()
    lowered = wanted.lower()
    for match in (
        lambda d: d.name == wanted,
        lambda d: d.name.lower() == lowered,
        lambda d: lowered in d.name.lower(),
    ):
        for device in devices:
            if match(device):
                return device
    names = ", ".join(repr(d.name) for d in devices) or "none"
    raise AudioDeviceError(f"audio {kind} device {spec!r} not found (available: {names})")


def _describe(spec: DeviceSpec) -> str:
    return "the default device" if spec is None else repr(spec)


class AudioStream:
    """Microphone and speaker of one call, through two ring buffers.

    input_device / output_device: see ``find_device()`` (None: system default).
    blocksize: frames per callback (960 = 20 ms at 48 kHz; smaller is lower latency).
    buffer_ms: capacity of each ring.
    on_device_change(message): called (on the thread that calls ``check()``)
    when a failed device was replaced by the default one.
    stall_timeout: a side whose callbacks stop for this long counts as failed
    (a stream can hang without PortAudio reporting an error).

    The media thread reads ``capture`` (``read_into``; ``clear()`` it before the
    first read to drop audio captured before the call) and writes ``playback``.
    One duplex stream is used when both directions are on the same device,
    separate input and output streams otherwise.
    """

    def __init__(
        self,
        input_device: DeviceSpec = None,
        output_device: DeviceSpec = None,
        *,
        samplerate: int = SAMPLE_RATE,
        blocksize: int = 960,
        buffer_ms: int = 500,
        latency: float | str = "low",
        on_device_change: Callable[[str], None] | None = None,
        stall_timeout: float = 2.0,
    ) -> None:
        if samplerate <= 0 or blocksize <= 0:
            raise ValueError("samplerate and blocksize must be positive")
        self.samplerate = samplerate
        self.blocksize = blocksize
        self.latency = latency
        self.on_device_change = on_device_change
        capacity = max(2 * blocksize, samplerate * buffer_ms // 1000)
        window = min(blocksize, capacity)
        self.capture = RingBuffer(capacity, level_window=window)
        self.playback = RingBuffer(capacity, level_window=window)
        self._in_spec = input_device
        self._out_spec = output_device
        self.input_device: AudioDevice | None = None
        self.output_device: AudioDevice | None = None
        self._muted = False
        self._streams: dict[str, Any] = {}  # "duplex" | "input" | "output" -> sounddevice stream
        self._dead: set[str] = set()  # written by finished callbacks
        self._generation = 0  # bumped per open, so late callbacks of closed streams are ignored
        self._closing = False
        self._lock = threading.RLock()  # control operations only; never in a callback
        # Callback counts per side (each written by its own callback only), and what
        # check() saw last: a stream whose callbacks stop for stall_timeout is dead.
        self._calls: dict[str, int] = {"duplex": 0, "input": 0, "output": 0}
        self._seen: dict[str, tuple[int, float]] = {}
        self.stall_timeout = stall_timeout
        self.status_events = 0  # callbacks that reported over/underflow (any side)
        self.fallbacks = 0

    # ----- public control -----------------------------------------------------

    @property
    def muted(self) -> bool:
        return self._muted

    @muted.setter
    def muted(self, value: bool) -> None:
        self._muted = bool(value)

    @property
    def duplex(self) -> bool:
        return "duplex" in self._streams

    @property
    def running(self) -> bool:
        return bool(self._streams) and not self._dead

    def start(self) -> AudioStream:
        """Open and start the device streams; raises AudioDeviceError naming the device."""
        with self._lock:
            if self._streams:
                raise RuntimeError("AudioStream is already started")
            self._closing = False
            self._open()
        return self

    def close(self) -> None:
        """Stop and close the streams (idempotent). The rings keep their contents."""
        with self._lock:
            self._closing = True
            self._close_streams()

    def check(self) -> bool:
        """Poll the streams' health; reopen a failed side on the default device.

        Returns True when audio runs (possibly after a fallback), False when
        closed; raises AudioDeviceError when not even the default device works
        (the streams are closed then, and later calls return False).
        """
        with self._lock:
            if self._closing or not self._streams:
                return False
            failed = self._failed_sides()
            if not failed:
                return True
            old_in, old_out = self.input_device, self.output_device
            reasons = ", ".join(sorted(failed))
            if failed & {"duplex", "input"}:
                self._in_spec = None
            if failed & {"duplex", "output"}:
                self._out_spec = None
            self._close_streams()
            try:
                self._open()
            except AudioDeviceError as exc:
                message = f"audio device failed ({reasons}) and the default device cannot be opened: {exc}"
                self._notify(message)
                raise AudioDeviceError(message) from exc
            self.fallbacks += 1
            parts = []
            if failed & {"duplex", "input"}:
                parts.append(f"input {_name(old_in)} -> {_name(self.input_device)}")
            if failed & {"duplex", "output"}:
                parts.append(f"output {_name(old_out)} -> {_name(self.output_device)}")
            self._notify("audio device stopped working; switched to the default device: " + "; ".join(parts))
            return True

    def input_level(self, mode: Literal["peak", "rms"] = "rms") -> float:
        """Level of the latest captured block (0 while muted)."""
        return self.capture.level(mode)

    def output_level(self, mode: Literal["peak", "rms"] = "rms") -> float:
        """Level of the latest block queued for playback."""
        return self.playback.level(mode)

    def __enter__(self) -> AudioStream:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ----- callbacks (PortAudio's thread: copy only) --------------------------

    def _capture(self, indata: npt.NDArray[np.float32]) -> None:
        if self._muted:
            self.capture.write_silence(indata.shape[0])
        else:
            self.capture.write(indata[:, 0])

    def _duplex_callback(
        self,
        indata: npt.NDArray[np.float32],
        outdata: npt.NDArray[np.float32],
        frames: int,
        time_info: Any,
        status: Any,
    ) -> None:
        self._calls["duplex"] += 1
        if status:
            self.status_events += 1
        self._capture(indata)
        self.playback.read_into(outdata[:, 0])

    def _input_callback(self, indata: npt.NDArray[np.float32], frames: int, time_info: Any, status: Any) -> None:
        self._calls["input"] += 1
        if status:
            self.status_events += 1
        self._capture(indata)

    def _output_callback(self, outdata: npt.NDArray[np.float32], frames: int, time_info: Any, status: Any) -> None:
        self._calls["output"] += 1
        if status:
            self.status_events += 1
        self.playback.read_into(outdata[:, 0])

    def _finished(self, side: str, generation: int) -> Callable[[], None]:
        # Called by PortAudio when a stream ends; only an unexpected end of a current stream counts.
        def finished() -> None:
            if not self._closing and generation == self._generation:
                self._dead.add(side)

        return finished

    # ----- internals ----------------------------------------------------------

    def _open(self) -> None:
        sd = _sd()
        self._generation += 1
        self._dead = set()
        self._seen = {}
        in_dev = find_device(self._in_spec, "input")
        out_dev = find_device(self._out_spec, "output")
        self.input_device, self.output_device = in_dev, out_dev
        common = {
            "samplerate": self.samplerate,
            "blocksize": self.blocksize,
            "channels": CHANNELS,
            "dtype": DTYPE,
            "latency": self.latency,
        }
        plans: list[tuple[str, Any, Any, Any]] = []
        if in_dev.index == out_dev.index:
            plans.append(("duplex", sd.Stream, in_dev.index, self._duplex_callback))
        else:
            plans.append(("input", sd.InputStream, in_dev.index, self._input_callback))
            plans.append(("output", sd.OutputStream, out_dev.index, self._output_callback))
        try:
            for side, cls, index, callback in plans:
                device = in_dev if side == "input" else out_dev if side == "output" else in_dev
                try:
                    stream = cls(
                        device=index,
                        callback=callback,
                        finished_callback=self._finished(side, self._generation),
                        **common,
                    )
                    self._streams[side] = stream
                    stream.start()
                except (sd.PortAudioError, ValueError) as exc:
                    raise AudioDeviceError(f"cannot open audio {side} device {device.name!r}: {exc}") from exc
        except BaseException:
            self._close_streams()
            raise
        log.info(
            "audio: input %r, output %r, %s, %d Hz, blocksize %d",
            in_dev.name,
            out_dev.name,
            "duplex" if self.duplex else "separate streams",
            self.samplerate,
            self.blocksize,
        )

    def _failed_sides(self) -> set[str]:
        sd = _sd()
        failed = set(self._dead)
        now = time.monotonic()
        for side, stream in self._streams.items():
            try:
                if stream.closed or not stream.active:
                    failed.add(side)
            except sd.PortAudioError:
                failed.add(side)
            calls = self._calls[side]
            last_calls, since = self._seen.get(side, (-1, now))
            if calls != last_calls:
                self._seen[side] = (calls, now)
            elif now - since > self.stall_timeout:
                failed.add(side)  # e.g. an ALSA/PulseAudio device removed under a running stream
        return failed

    def _close_streams(self) -> None:
        sd = _sd() if self._streams else None
        streams, self._streams = self._streams, {}
        self._generation += 1  # finished callbacks of these streams are deliberate
        errors: tuple[type[BaseException], ...] = (Exception,) if sd is None else (sd.PortAudioError, RuntimeError)
        for stream in streams.values():
            with contextlib.suppress(*errors):
                stream.abort(ignore_errors=True)
            with contextlib.suppress(*errors):
                stream.close(ignore_errors=True)
        self._dead = set()

    def _notify(self, message: str) -> None:
        log.warning("%s", message)
        if self.on_device_change is not None:
            self.on_device_change(message)


def _name(device: AudioDevice | None) -> str:
    return repr(device.name) if device is not None else "(none)"


class BufferPlayer:
    """Plays a buffer on an output device, e.g. the ringtone on a separate ringing device.

    samples: mono float32 at ``samplerate`` (copied once at construction).
    loop: repeat until ``stop()``; otherwise play once and set ``finished``.
    """

    def __init__(
        self,
        samples: npt.NDArray[np.floating],
        device: DeviceSpec = None,
        *,
        loop: bool = True,
        volume: float = 1.0,
        samplerate: int = SAMPLE_RATE,
        blocksize: int = 960,
    ) -> None:
        data = np.asarray(samples, dtype=np.float32).reshape(-1) * np.float32(volume)
        if data.size == 0:
            raise ValueError("nothing to play")
        self._samples: npt.NDArray[np.float32] = np.ascontiguousarray(data, dtype=np.float32)
        self._spec = device
        self.loop = loop
        self.samplerate = samplerate
        self.blocksize = blocksize
        self.device: AudioDevice | None = None
        self._pos = 0
        self._done = threading.Event()
        self._stream: Any = None

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    @property
    def playing(self) -> bool:
        return self._stream is not None and not self._done.is_set()

    def start(self) -> BufferPlayer:
        if self._stream is not None:
            raise RuntimeError("BufferPlayer is already started")
        sd = _sd()
        self.device = find_device(self._spec, "output")
        self._pos = 0
        self._done.clear()
        try:
            self._stream = sd.OutputStream(
                samplerate=self.samplerate,
                blocksize=self.blocksize,
                device=self.device.index,
                channels=CHANNELS,
                dtype=DTYPE,
                callback=self._callback,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self.stop()
            raise AudioDeviceError(f"cannot open ringing device {self.device.name!r}: {exc}") from exc
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until a non-looping buffer has been played; True if it has."""
        return self._done.wait(timeout)

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.abort(ignore_errors=True)
            with contextlib.suppress(Exception):
                stream.close(ignore_errors=True)
        self._done.set()

    close = stop

    def __enter__(self) -> BufferPlayer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _callback(self, outdata: npt.NDArray[np.float32], frames: int, time_info: Any, status: Any) -> None:
        out = outdata[:, 0]
        samples = self._samples
        total = samples.shape[0]
        got = 0
        pos = self._pos
        while got < frames:
            if pos >= total:
                if not self.loop:
                    out[got:] = 0.0
                    self._done.set()
                    break
                pos = 0
            n = min(frames - got, total - pos)
            out[got : got + n] = samples[pos : pos + n]
            pos += n
            got += n
        self._pos = pos

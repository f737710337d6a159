"""The media session of one call: RTP/RTCP on a UDP socket, codecs, jitter buffer, playout.

A :class:`MediaSession` runs one thread. The thread keeps a deadline clock
(next deadline = previous + ptime) and, between deadlines, waits in
``select`` on its sockets so packets are taken in as they arrive. At every
deadline it sends one frame (audio, or a telephone-event packet while DTMF is
queued), plays one frame out of the jitter buffer into the sink, sends RTCP
when due and, once a second, reports a :class:`QualitySnapshot`.

Audio crosses the session boundary as mono float32 at 48 kHz: an
:class:`AudioSource` is read one frame per ptime (capture side), an
:class:`AudioSink` is written one frame per ptime (playback side).

Nothing received from the network raises out of the thread: malformed
datagrams are counted and dropped. An unexpected error in the loop is logged
once and reported as :class:`MediaFailure`; the call's signalling does not
depend on the media thread.

Wiring into a call::

    session = MediaSession(call.media_port.socket, call.media, source, sink,
                           on_quality=..., on_event=...)   # takes the socket over
    session.start()                  # when the call is confirmed
    session.update(new_negotiated)   # after each re-INVITE / UPDATE offer-answer
    session.send_dtmf("123#")
    session.stop()                   # at hang-up: RTCP BYE, thread joined, sockets closed

Callbacks run on the media thread and must return quickly (hand events to the
core loop with ``call_soon_threadsafe``).
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import math
import random
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from softphone.media.codecs import Codec, OpusCodec, codec_for
from softphone.media.dtmf import DtmfReceiver, DtmfSender, event_code
from softphone.media.errors import MediaError
from softphone.media.jitter import Frame, JitterBuffer, Missing
from softphone.media.quality import OneWayAudioDetector, QualitySnapshot, estimate_mos, r_factor
from softphone.media.recorder import CallRecorder
from softphone.media.resample import Resampler
from softphone.media.rtcp import (
    RTCP_MIN_TIME,
    Bye,
    ReceiverReport,
    RtcpPacket,
    SenderReport,
    build_compound,
    cname_packet,
    is_rtcp,
    ntp_from_unix,
    ntp_middle32,
    parse_compound,
    rtcp_interval,
)
from softphone.media.rtp import RtpReceiver, RtpSender
from softphone.media.tones import ToneGenerator, ToneSpec, dtmf_spec

__all__ = [
    "PIPELINE_RATE",
    "ArraySink",
    "AudioSink",
    "AudioSource",
    "CodecDescription",
    "DtmfReceived",
    "MediaEvent",
    "MediaFailure",
    "MediaParameters",
    "MediaSession",
    "NullSink",
    "OneWayAudio",
    "RemoteBye",
    "SessionStats",
    "SilenceSource",
    "ToneSource",
    "wav_sink",
    "wav_source",
]

log = logging.getLogger(__name__)

PIPELINE_RATE = 48000
Samples = npt.NDArray[np.float32]
Address: TypeAlias = tuple[Any, ...]

_MAX_DATAGRAM = 2048
_DRAIN_LIMIT = 256  # datagrams taken per socket per wake-up, so a flood cannot starve playout
_MAX_LATE_FRAMES = 10  # a stall longer than this many ptimes resynchronises the deadline clock
_MAX_CONSECUTIVE_FAILURES = 50
_DTMF_DURATION_MS = 100
_DTMF_GAP_FRAMES = 3
_QUALITY_PERIOD = 1.0
_IP_UDP_OVERHEAD = 28
# RFC 3550 6.2: RTCP gets 5 % of the session bandwidth.
_RTCP_FRACTION = 0.05


# --------------------------------------------------------------------------
# Audio sources and sinks
# --------------------------------------------------------------------------


class AudioSource(Protocol):
    """Capture side: ``read(n)`` gives the next n samples, mono float32 at 48 kHz."""

    def read(self, frames: int) -> Samples: ...


class AudioSink(Protocol):
    """Playback side: takes mono float32 blocks at 48 kHz."""

    def write(self, block: Samples) -> None: ...


class ToneSource:
    """A continuous tone (or any :class:`ToneSpec`, cadence included) at 48 kHz."""

    def __init__(self, tone: float | ToneSpec = 1000.0, *, level_dbfs: float = -12.0) -> None:
        spec = tone if isinstance(tone, ToneSpec) else ToneSpec((float(tone),), level_dbfs=level_dbfs)
        self._generator = ToneGenerator(spec, PIPELINE_RATE)

    def read(self, frames: int) -> Samples:
        return self._generator.read_float(frames)


class SilenceSource:
    """Digital silence."""

    def read(self, frames: int) -> Samples:
        return np.zeros(frames, dtype=np.float32)


class NullSink:
    """Discards what is played."""

    def write(self, block: Samples) -> None:
        return None


class ArraySink:
    """Collects everything played into one growing float32 buffer (for tests and recording)."""

    def __init__(self, initial_seconds: float = 5.0) -> None:
        self._buffer: Samples = np.zeros(max(1, int(initial_seconds * PIPELINE_RATE)), dtype=np.float32)
        self._length = 0
        self._lock = threading.Lock()

    def write(self, block: Samples) -> None:
        data = np.asarray(block, dtype=np.float32).reshape(-1)
        with self._lock:
            needed = self._length + data.size
            if needed > self._buffer.size:
                grown = np.zeros(max(needed, 2 * self._buffer.size), dtype=np.float32)
                grown[: self._length] = self._buffer[: self._length]
                self._buffer = grown
            self._buffer[self._length : needed] = data
            self._length = needed

    def __len__(self) -> int:
        return self._length

    def samples(self, last: int | None = None) -> Samples:
        """A copy of everything written, or of the last ``last`` samples."""
        with self._lock:
            start = 0 if last is None else max(0, self._length - last)
            return self._buffer[start : self._length].copy()


class _ResampledSource:
    def __init__(self, read: Callable[[int], Samples], rate: int) -> None:
        self._read = read
        self._resampler = Resampler(rate, PIPELINE_RATE)
        self._rate = rate
        self._pending: Samples = np.zeros(0, dtype=np.float32)

    def read(self, frames: int) -> Samples:
        while self._pending.size < frames:
            want = max(1, math.ceil((frames - self._pending.size) * self._rate / PIPELINE_RATE))
            block = self._resampler.process(np.asarray(self._read(want), dtype=np.float32))
            self._pending = np.concatenate((self._pending, block))
        out, self._pending = self._pending[:frames], self._pending[frames:]
        return out


def wav_source(path: str | Path, *, loop: bool = True) -> AudioSource:
    """A 16-bit WAV file as a source, resampled to 48 kHz when the file has another rate."""
    from softphone.media.wav import WavSource

    wav = WavSource(path, loop=loop)
    if wav.samplerate == PIPELINE_RATE:
        return wav
    return _ResampledSource(wav.read, wav.samplerate)


def wav_sink(path: str | Path) -> AudioSink:
    """A 16-bit WAV file at 48 kHz as a sink (call ``close()`` on it when done)."""
    from softphone.media.wav import WavSink

    return WavSink(path, samplerate=PIPELINE_RATE)


# --------------------------------------------------------------------------
# Negotiated parameters (structurally what softphone.sip.offer_answer.NegotiatedMedia holds)
# --------------------------------------------------------------------------


class CodecDescription(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def clock_rate(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def fmtp(self) -> Mapping[str, str]: ...


class MediaParameters(Protocol):
    """The agreed audio stream from our point of view (``NegotiatedMedia`` fits it)."""

    @property
    def remote_address(self) -> str: ...
    @property
    def remote_port(self) -> int: ...
    @property
    def remote_rtcp_port(self) -> int: ...
    @property
    def codec(self) -> CodecDescription: ...
    @property
    def payload_type(self) -> int: ...
    @property
    def receive_codecs(self) -> Mapping[int, CodecDescription]: ...
    @property
    def telephone_event(self) -> int | None: ...
    @property
    def telephone_events(self) -> Mapping[int, int]: ...
    @property
    def ptime(self) -> int: ...
    @property
    def direction(self) -> str: ...
    @property
    def rtcp_mux(self) -> bool: ...


# --------------------------------------------------------------------------
# Events and statistics
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    digit: str


@dataclass(frozen=True, slots=True)
class OneWayAudio:
    """``active`` True: no RTP for ``silent_for`` seconds; False: RTP flows again."""

    active: bool
    silent_for: float


@dataclass(frozen=True, slots=True)
class RemoteBye:
    """The peer sent RTCP BYE (RFC 3550 6.6)."""

    reason: str | None


@dataclass(frozen=True, slots=True)
class MediaFailure:
    message: str


MediaEvent: TypeAlias = DtmfReceived | OneWayAudio | RemoteBye | MediaFailure


@dataclass(frozen=True, slots=True)
class SessionStats:
    """Counters since the session started."""

    running: bool
    ticks: int
    late_ticks: int
    resyncs: int
    packets_sent: int
    octets_sent: int
    dtmf_packets_sent: int
    packets_received: int
    datagrams_received: int
    dropped: dict[str, int]
    malformed: int
    rtcp_sent: int
    rtcp_received: int
    rtcp_malformed: int
    send_errors: int
    frames_played: int
    frames_decoded: int
    fec_decoded: int
    concealed: int
    silence_frames: int
    decode_errors: int
    dtmf_received: int
    loss_percent: float
    jitter_ms: float
    rtt_ms: float | None
    remote_loss_percent: float | None
    jitter_buffer_ms: float
    latched_address: Address | None
    send_bitrate: int | None
    quality_reports: int
    failures: int
    extra: dict[str, int] = field(default_factory=dict)


QualityCallback = Callable[[QualitySnapshot], None]
EventCallback = Callable[[MediaEvent], None]


# --------------------------------------------------------------------------
# Session
# --------------------------------------------------------------------------


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _to_int16(block: Samples) -> npt.NDArray[np.int16]:
    return np.clip(np.rint(block.astype(np.float64) * 32767.0), -32768, 32767).astype(np.int16)


def _to_float(pcm: npt.NDArray[np.int16]) -> Samples:
    return (pcm.astype(np.float32) / np.float32(32768.0)).astype(np.float32)


class _Decoder:
    """One receive payload type: its codec instance and the resampler up to 48 kHz."""

    def __init__(self, codec: Codec, ptime_ms: int) -> None:
        self.codec = codec
        self.frame_samples = codec.sample_rate * ptime_ms // 1000
        self.resampler = Resampler(codec.sample_rate, PIPELINE_RATE)


class MediaSession:
    """One call's audio stream; see the module documentation.

    ``local`` is the bound RTP socket (the UA's ``MediaPort.socket``, which the
    session takes over and closes on :meth:`stop` unless ``own_socket`` is
    False) or a ``(host, port)`` to bind. Without rtcp-mux, RTCP uses port + 1
    on the same host, bound by the session. Call :meth:`start` to run.
    """

    def __init__(
        self,
        local: socket.socket | tuple[str, int],
        negotiated: MediaParameters,
        source: AudioSource,
        sink: AudioSink,
        *,
        on_quality: QualityCallback | None = None,
        on_event: EventCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        own_socket: bool = True,
        cname: str | None = None,
        rtcp_min_interval: float = RTCP_MIN_TIME,
        one_way_timeout: float = 3.0,
        seed: int | None = None,
    ) -> None:
        if isinstance(local, socket.socket):
            self._sock = local
            self._owns_sock = own_socket
        else:
            host, port = local
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                self._sock.bind((host, port))
            except OSError as exc:
                self._sock.close()
                raise MediaError(f"cannot bind RTP socket on {host}:{port}: {exc.strerror or exc}") from exc
            self._owns_sock = True
        self._sock.setblocking(False)
        self._rtcp_sock: socket.socket | None = None
        self._source = source
        self._sink = sink
        self._on_quality = on_quality
        self._on_event = on_event
        self._clock = clock
        self._wallclock = wallclock
        self._rng = random.Random(seed) if seed is not None else random.Random()
        local_addr = self._sock.getsockname()
        self.local_address: Address = tuple(local_addr)
        self._cname = cname or f"softphone-{self._rng.getrandbits(48):012x}@{local_addr[0]}"
        self._rtcp_scale = rtcp_min_interval / RTCP_MIN_TIME
        self._one_way = OneWayAudioDetector(one_way_timeout)

        self._lock = threading.RLock()
        self._commands: collections.deque[Callable[[], None]] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure_logged = False
        self._consecutive_failures = 0

        # counters
        self._ticks = 0
        self._late_ticks = 0
        self._resyncs = 0
        self._dtmf_packets_sent = 0
        self._datagrams = 0
        self._rtcp_sent = 0
        self._rtcp_received = 0
        self._rtcp_malformed = 0
        self._send_errors = 0
        self._frames_played = 0
        self._frames_decoded = 0
        self._fec_decoded = 0
        self._concealed = 0
        self._silence_frames = 0
        self._decode_errors = 0
        self._dtmf_received = 0
        self._quality_reports = 0
        self._failures = 0
        self._dropped_other = 0
        self._rtt: float | None = None
        self._remote_loss: float | None = None
        self._smoothed_remote_loss = 0.0
        self._rtcp_source: Address | None = None

        self._recorder: CallRecorder | None = None
        self._muted = False
        self._held = False
        self._direction_override: str | None = None
        self._one_way_armed = False
        self._dtmf_queue: collections.deque[str] = collections.deque()
        self._dtmf_packets: collections.deque[bytes] = collections.deque()
        self._inband: ToneGenerator | None = None
        self._inband_left = 0
        self._gap_frames = 0
        self._marker_next = True
        self._avg_rtcp_size = 128.0
        self._rtcp_initial = True
        self._next_rtcp = 0.0
        self._next_quality = 0.0
        self._sent_since_report = False

        self._rtp = RtpSender(0, 8000, rng=self._rng)
        self._receiver = RtpReceiver({})
        self._dtmf_receivers: dict[int, DtmfReceiver] = {}
        self._decoders: dict[int, _Decoder] = {}
        self._jitter = JitterBuffer(min_delay=0.010)
        self._params = negotiated
        try:
            self._configure(negotiated, initial=True)
        except Exception:
            if self._owns_sock:
                self._sock.close()
            raise

    # -- public API ----------------------------------------------------------

    def start(self) -> None:
        """Start the media thread (once)."""
        with self._lock:
            if self._thread is not None:
                raise MediaError("media session already started")
            self._setup_rtcp_socket()
            self._thread = threading.Thread(target=self._run, name=f"media-{self.local_address[1]}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Send RTCP BYE, stop and join the thread (at most ``timeout`` s), close the sockets it owns."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("media thread %s did not stop within %.1f s", thread.name, timeout)
        with self._lock:
            if self._owns_sock:
                self._sock.close()
            if self._rtcp_sock is not None:
                self._rtcp_sock.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> MediaSession:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def send_dtmf(self, digits: str) -> None:
        """Queue digits (0-9 * # A-D): RFC 4733 events when negotiated, else in-band Q.23 tones."""
        for digit in digits:
            event_code(digit)  # raises MediaError on a bad digit
        with self._lock:
            self._dtmf_queue.extend(d.upper() for d in digits)

    def start_recording(self, recorder: CallRecorder) -> None:
        """Mix both directions into ``recorder`` from the next ptime on (replacing any earlier one)."""

        def attach() -> None:
            self._recorder = recorder

        self._command(attach)

    def stop_recording(self) -> CallRecorder | None:
        """Detach the recorder (the caller closes it); returns it, or None when none was attached."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        return recorder

    @property
    def recorder(self) -> CallRecorder | None:
        return self._recorder

    def set_muted(self, muted: bool) -> None:
        """Microphone mute: RTP goes on (so the peer's quality figures stay honest) carrying silence."""

        def apply() -> None:
            self._muted = muted

        self._command(apply)

    @property
    def muted(self) -> bool:
        return self._muted

    def set_audio(self, source: AudioSource, sink: AudioSink) -> threading.Event:
        """Swap the session's source and sink from the next ptime on (e.g. into a conference mixer).

        Returns an event set once the media thread uses the new pair: from then on the old
        source and sink are no longer touched and can be closed.
        """
        applied = threading.Event()

        def apply() -> None:
            self._source = source
            self._sink = sink
            applied.set()

        self._command(apply)
        if not self.running:  # stopped (or never started): nothing reads the old pair any more
            applied.set()
        return applied

    @property
    def audio(self) -> tuple[AudioSource, AudioSink]:
        """The source and sink in use (a swap asked for takes effect at the next ptime)."""
        return self._source, self._sink

    def hold(self) -> None:
        """Local hold: our microphone is replaced by silence and nothing is played."""
        self._command(lambda: self._set_held(True))

    def resume(self) -> None:
        self._command(lambda: self._set_held(False))

    def set_direction(self, direction: str) -> None:
        """Apply a new direction without other changes (e.g. from a re-offer)."""
        if direction not in ("sendrecv", "sendonly", "recvonly", "inactive"):
            raise MediaError(f"unknown media direction {direction!r}")
        self._command(lambda: self._set_direction(direction))

    def update(self, negotiated: MediaParameters) -> None:
        """New negotiated parameters after a re-INVITE/UPDATE (address, codec, direction, ptime).

        Raises :class:`MediaError` at once when the codec or ptime is unusable; the running stream is kept.
        """
        send = negotiated.codec
        codec_for(send.name, send.clock_rate, send.channels, dict(send.fmtp)).frame_samples(int(negotiated.ptime or 20))
        self._command(lambda: self._configure(negotiated, initial=False))

    def stats(self) -> SessionStats:
        with self._lock:
            receiver = self._receiver
            rstats = receiver.stats
            jstats = self._jitter.stats()
            dropped = {
                "malformed": receiver.dropped_malformed,
                "wrong_source": receiver.dropped_wrong_source,
                "unknown_ssrc": receiver.dropped_unknown_ssrc,
                "unknown_pt": receiver.dropped_unknown_pt,
                "probation": receiver.dropped_probation,
                "bad_sequence": receiver.dropped_bad_sequence,
                "duplicate": receiver.dropped_duplicate,
                "rtcp_malformed": self._rtcp_malformed,
                "other": self._dropped_other,
            }
            return SessionStats(
                running=self.running,
                ticks=self._ticks,
                late_ticks=self._late_ticks,
                resyncs=self._resyncs,
                packets_sent=self._rtp.packet_count,
                octets_sent=self._rtp.octet_count,
                dtmf_packets_sent=self._dtmf_packets_sent,
                packets_received=0 if rstats is None else rstats.received,
                datagrams_received=self._datagrams,
                dropped=dropped,
                malformed=receiver.dropped_malformed + self._rtcp_malformed + self._dropped_other,
                rtcp_sent=self._rtcp_sent,
                rtcp_received=self._rtcp_received,
                rtcp_malformed=self._rtcp_malformed,
                send_errors=self._send_errors,
                frames_played=self._frames_played,
                frames_decoded=self._frames_decoded,
                fec_decoded=self._fec_decoded,
                concealed=self._concealed,
                silence_frames=self._silence_frames,
                decode_errors=self._decode_errors,
                dtmf_received=self._dtmf_received,
                loss_percent=self._loss_percent(),
                jitter_ms=self._jitter_ms(),
                rtt_ms=None if self._rtt is None else self._rtt * 1000,
                remote_loss_percent=self._remote_loss,
                jitter_buffer_ms=jstats.current_delay_ms,
                latched_address=None if receiver.latched_addr is None else tuple(receiver.latched_addr),  # type: ignore[arg-type]
                send_bitrate=self._encoder.bitrate if isinstance(self._encoder, OpusCodec) else None,
                quality_reports=self._quality_reports,
                failures=self._failures,
                extra={
                    "jitter_late": jstats.late,
                    "jitter_lost": jstats.lost,
                    "fec_recoverable": jstats.fec_recoverable,
                },
            )

    # -- configuration (media thread, or before start) -------------------------

    def _command(self, action: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None:
                action()
            else:
                self._commands.append(action)

    def _configure(self, params: MediaParameters, *, initial: bool) -> None:
        old = None if initial else self._params
        self._params = params
        self._direction_override = None
        self.ptime_ms = int(params.ptime) if params.ptime else 20
        send = params.codec
        if old is None or (
            old.codec.name.lower(),
            old.codec.clock_rate,
            dict(old.codec.fmtp),
            old.payload_type,
            old.ptime,
        ) != (send.name.lower(), send.clock_rate, dict(send.fmtp), params.payload_type, params.ptime):
            encoder = codec_for(send.name, send.clock_rate, send.channels, dict(send.fmtp))
            encoder.frame_samples(self.ptime_ms)  # validates the ptime for this codec
            self._encoder = encoder
            self._target_bitrate = encoder.bitrate if isinstance(encoder, OpusCodec) else 0
            self._send_resampler = Resampler(PIPELINE_RATE, encoder.sample_rate)
            self._rtp.payload_type = params.payload_type
            self._rtp.clock_rate = encoder.clock_rate
            self._marker_next = True
        self._samples_per_packet = self._encoder.clock_rate * self.ptime_ms // 1000
        self._frame_48k = PIPELINE_RATE * self.ptime_ms // 1000
        te = params.telephone_event
        self._dtmf_sender = None if te is None else DtmfSender(self._rtp, te, self._samples_per_packet)

        payload_types: dict[int, int] = {params.payload_type: send.clock_rate}
        audio_pts: dict[int, CodecDescription] = {}
        for pt, desc in params.receive_codecs.items():
            payload_types[pt] = desc.clock_rate
            if desc.name.lower() != "telephone-event":
                audio_pts[pt] = desc
        for rate, pt in params.telephone_events.items():
            payload_types[pt] = rate
        self._event_pts = {pt for rate, pt in params.telephone_events.items()}
        self._event_pts.update(pt for pt, d in params.receive_codecs.items() if d.name.lower() == "telephone-event")
        self._dtmf_receivers = {pt: self._dtmf_receivers.get(pt) or DtmfReceiver(pt) for pt in self._event_pts}
        self._receiver.payload_types = payload_types
        self._receive_descs = audio_pts
        if old is None or self._decoders_stale(old, params):
            self._decoders = {}
            self._jitter_rate = send.clock_rate
            self._jitter = self._new_jitter_buffer(send.clock_rate)

        remote = (params.remote_address, params.remote_port)
        old_remote = None if old is None else (old.remote_address, old.remote_port)
        if old is not None and remote != old_remote:
            # New media address (RFC 3264 8.3.1): forget the latched source and start afresh.
            self._receiver.reset_latch()
            self._rtcp_source = None
            self._marker_next = True
        if old is not None and params.rtcp_mux != old.rtcp_mux:
            self._setup_rtcp_socket()
        self._update_one_way()

    @staticmethod
    def _decoders_stale(old: MediaParameters, new: MediaParameters) -> bool:
        def key(p: MediaParameters) -> tuple[object, ...]:
            return (
                p.ptime,
                p.codec.clock_rate,
                tuple(sorted((pt, d.name.lower(), d.clock_rate) for pt, d in p.receive_codecs.items())),
            )

        return key(old) != key(new)

    def _new_jitter_buffer(self, clock_rate: int) -> JitterBuffer:
        ptime = self.ptime_ms / 1000
        # Half a ptime of floor: playout happens on the ptime grid, so on a calm path that is enough.
        return JitterBuffer(ptime=ptime, clock_rate=clock_rate, min_delay=ptime / 2)

    def _setup_rtcp_socket(self) -> None:
        if self._rtcp_sock is not None:
            self._rtcp_sock.close()
            self._rtcp_sock = None
        if self._params.rtcp_mux:
            return
        host, port = self.local_address[0], self.local_address[1]
        sock = socket.socket(self._sock.family, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port + 1))
        except OSError as exc:
            sock.close()
            log.warning("cannot bind RTCP port %s on %s (%s); RTCP disabled", port + 1, host, exc)
            return
        sock.setblocking(False)
        self._rtcp_sock = sock

    def _set_held(self, held: bool) -> None:
        self._held = held
        self._marker_next = True
        self._update_one_way()

    def _set_direction(self, direction: str) -> None:
        self._direction_override = direction
        self._marker_next = True
        self._update_one_way()

    @property
    def direction(self) -> str:
        override = self._direction_override
        return override if override is not None else self._params.direction

    @property
    def sending(self) -> bool:
        params = self._params
        if params.remote_port == 0 or _is_unspecified(params.remote_address):
            return False
        return self.direction in ("sendrecv", "sendonly")

    @property
    def playing(self) -> bool:
        return not self._held and self.direction in ("sendrecv", "recvonly")

    def _update_one_way(self) -> None:
        now = self._clock()
        if self.playing and self._params.remote_port != 0:
            if self._one_way_armed is False:
                self._one_way.answered(now)
                self._one_way_armed = True
        else:
            self._one_way.stop()
            self._one_way_armed = False

    # -- the media thread --------------------------------------------------------

    def _run(self) -> None:
        now = self._clock()
        with self._lock:
            self._next_rtcp = now + self._rtcp_delay(initial=True)
            self._next_quality = now + _QUALITY_PERIOD
            self._one_way_armed = False
            self._update_one_way()
        ptime = self.ptime_ms / 1000
        deadline = now + ptime
        try:
            while not self._stop.is_set():
                now = self._clock()
                if now >= deadline:
                    self._guarded(self._tick)
                    ptime = self.ptime_ms / 1000
                    deadline += ptime
                    if now - deadline > _MAX_LATE_FRAMES * ptime:
                        # A long stall (suspend, debugger): resynchronise rather than burst.
                        self._resyncs += 1
                        deadline = now + ptime
                    elif now > deadline:
                        self._late_ticks += 1
                    if self._consecutive_failures >= _MAX_CONSECUTIVE_FAILURES:
                        self._report(MediaFailure("media loop keeps failing; audio stopped"))
                        break
                    continue
                self._wait_and_receive(deadline - now)
            self._guarded(self._send_bye)
        finally:
            log.debug("media thread for %s ended", self.local_address)

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            with self._lock:
                step()
            self._consecutive_failures = 0
        except Exception as exc:
            self._failures += 1
            self._consecutive_failures += 1
            if not self._failure_logged:
                self._failure_logged = True
                log.exception("media session %s: %s", self.local_address, exc)
                self._report(MediaFailure(f"{type(exc).__name__}: {exc}"))

    def _wait_and_receive(self, timeout: float) -> None:
        socks = [self._sock] if self._rtcp_sock is None else [self._sock, self._rtcp_sock]
        try:
            readable, _, _ = select.select(socks, [], [], max(0.0, timeout))
        except (OSError, ValueError):
            # A socket closed under us (stop() racing): sleep out the deadline instead.
            time.sleep(max(0.0, timeout))
            return
        for sock in readable:
            self._guarded(lambda s=sock: self._drain(s))  # type: ignore[misc]

    def _drain(self, sock: socket.socket) -> None:
        for _ in range(_DRAIN_LIMIT):
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # ICMP port unreachable from an earlier send shows up here on Linux.
                self._send_errors += 1
                continue
            self._datagrams += 1
            now = self._clock()
            try:
                if is_rtcp(data):
                    self._handle_rtcp(data, addr, now)
                elif sock is self._rtcp_sock:
                    self._rtcp_malformed += 1
                else:
                    self._handle_rtp(data, addr, now)
            except Exception:  # bad input from the network is never fatal
                self._dropped_other += 1

    # -- receive path ------------------------------------------------------------

    def _handle_rtp(self, data: bytes, addr: Address, now: float) -> None:
        packet = self._receiver.receive(data, addr, now)
        if packet is None:
            return
        if self._one_way_armed:
            event = self._one_way.rtp_received(now)
            if event is not None:
                self._report(OneWayAudio(event.active, event.silent_for))
        pt = packet.payload_type
        if pt in self._event_pts:
            receiver = self._dtmf_receivers.get(pt)
            if receiver is not None:
                digit = receiver.receive(packet)
                if digit is not None:
                    self._dtmf_received += 1
                    self._report(DtmfReceived(digit.digit))
            self._jitter.skip(packet.sequence, packet.timestamp)
            return
        rate = self._receiver.payload_types.get(pt, self._jitter_rate)
        if rate != self._jitter_rate:
            # The peer switched to a codec with another RTP clock: restart the playout buffer.
            self._jitter_rate = rate
            self._jitter = self._new_jitter_buffer(rate)
        # The payload type travels with the payload, so the playout side picks the right decoder.
        self._jitter.put(packet.sequence, packet.timestamp, bytes((pt,)) + packet.payload, now, packet.marker)

    def _handle_rtcp(self, data: bytes, addr: Address, now: float) -> None:
        try:
            packets = parse_compound(data)
        except (MediaError, ValueError, IndexError):
            self._rtcp_malformed += 1
            return
        self._rtcp_received += 1
        self._avg_rtcp_size = self._avg_rtcp_size * 15 / 16 + (len(data) + _IP_UDP_OVERHEAD) / 16
        latched = self._receiver.latched_ssrc
        arrival32 = ntp_middle32(ntp_from_unix(self._wallclock()))
        for packet in packets:
            self._handle_rtcp_packet(packet, latched, arrival32, now)
        if self._rtcp_source is None:
            self._rtcp_source = tuple(addr)

    def _handle_rtcp_packet(self, packet: RtcpPacket, latched: int | None, arrival32: int, now: float) -> None:
        if isinstance(packet, SenderReport | ReceiverReport):
            if isinstance(packet, SenderReport) and latched is not None and packet.ssrc == latched:
                self._receiver.note_sender_report(packet.ntp_timestamp, now)
            for block in packet.reports:
                if block.ssrc != self._rtp.ssrc:
                    continue
                rtt = block.rtt(arrival32)
                if rtt is not None and rtt < 60.0:
                    self._rtt = rtt
                self._adapt_to_loss(block.fraction_lost * 100.0 / 256.0)
        elif isinstance(packet, Bye):
            if latched is None or latched in packet.ssrcs:
                self._report(RemoteBye(packet.reason))

    def _adapt_to_loss(self, loss_percent: float) -> None:
        """Tune Opus to the loss the peer reports (RFC 7587 3.1.2): FEC budget, and bitrate under heavy loss."""
        self._remote_loss = loss_percent
        self._smoothed_remote_loss = 0.5 * self._smoothed_remote_loss + 0.5 * loss_percent
        encoder = self._encoder
        if not isinstance(encoder, OpusCodec):
            return
        encoder.set_expected_loss(min(100, max(0, math.ceil(self._smoothed_remote_loss))))
        current = encoder.bitrate
        if self._smoothed_remote_loss >= 10.0:
            stepped = max(12000, int(current * 0.75))
        elif self._smoothed_remote_loss < 2.0:
            stepped = min(self._target_bitrate, int(current * 1.1) + 1000)
        else:
            return
        if stepped != current and 6000 <= stepped <= 510000:
            encoder.set_bitrate(stepped)

    # -- the deadline step --------------------------------------------------------

    def _tick(self) -> None:
        self._ticks += 1
        while self._commands:
            self._commands.popleft()()
        now = self._clock()
        sent = self._send_step()
        played = self._play_step(now)
        if self._recorder is not None:
            self._recorder.push(sent, played)
        if self._one_way_armed:
            event = self._one_way.poll(now)
            if event is not None:
                self._report(OneWayAudio(event.active, event.silent_for))
        if now >= self._next_rtcp:
            self._send_rtcp()
            self._next_rtcp = now + self._rtcp_delay(initial=False)
        if now >= self._next_quality:
            self._next_quality += _QUALITY_PERIOD
            if self._next_quality <= now:
                self._next_quality = now + _QUALITY_PERIOD
            self._report_quality()

    def _remote_rtp(self) -> Address:
        latched = self._receiver.latched_addr
        if latched is not None:
            # RFC 4961: symmetric RTP, send back to where the peer's packets come from.
            return tuple(latched)  # type: ignore[arg-type]
        return (self._params.remote_address, self._params.remote_port)

    def _remote_rtcp(self) -> Address:
        if self._params.rtcp_mux:
            return self._remote_rtp()
        if self._rtcp_source is not None:
            return self._rtcp_source
        port = self._params.remote_rtcp_port or self._params.remote_port + 1
        return (self._params.remote_address, port)

    def _sendto(self, sock: socket.socket, data: bytes, addr: Address) -> bool:
        try:
            sock.sendto(data, addr)
            return True
        except OSError:
            self._send_errors += 1
            return False

    def _send_step(self) -> Samples | None:
        """Send this ptime's frame; returns the audio sent (None: nothing, or an RFC 4733 event)."""
        frame = self._source.read(self._frame_48k)
        if not self.sending:
            self._dtmf_packets.clear()
            return None
        if self._held or self._muted:
            frame = np.zeros(self._frame_48k, dtype=np.float32)
        if not self._dtmf_packets and not self._inband_left and self._dtmf_queue:
            if self._gap_frames > 0:
                self._gap_frames -= 1
            else:
                self._start_dtmf(self._dtmf_queue.popleft())
        if self._dtmf_packets:
            self._sendto(self._sock, self._dtmf_packets.popleft(), self._remote_rtp())
            self._dtmf_packets_sent += 1
            self._sent_since_report = True
            if not self._dtmf_packets:
                self._gap_frames = _DTMF_GAP_FRAMES
                self._marker_next = True  # RFC 4733 2.5.1.1: audio after an event starts a talkspurt
            return None
        if self._inband is not None and self._inband_left > 0:
            frame = self._inband.read_float(self._frame_48k)
            self._inband_left -= 1
            if self._inband_left == 0:
                self._gap_frames = _DTMF_GAP_FRAMES
        pcm = _to_int16(self._send_resampler.process(np.asarray(frame, dtype=np.float32)))
        payload = self._encoder.encode(pcm)
        data = self._rtp.packetize(payload, self._samples_per_packet, marker=self._marker_next)
        self._marker_next = False
        self._sendto(self._sock, data, self._remote_rtp())
        self._sent_since_report = True
        return frame

    def _start_dtmf(self, digit: str) -> None:
        if self._dtmf_sender is not None:
            duration = self._encoder.clock_rate * _DTMF_DURATION_MS // 1000
            self._dtmf_packets.extend(self._dtmf_sender.digit(digit, duration))
        else:
            # No telephone-event negotiated: play the Q.23 pair in band.
            self._inband = ToneGenerator(dtmf_spec(digit, _DTMF_DURATION_MS, level_dbfs=-10.0), PIPELINE_RATE)
            self._inband_left = max(1, _DTMF_DURATION_MS // self.ptime_ms)

    def _decoder(self, pt: int) -> _Decoder | None:
        decoder = self._decoders.get(pt)
        if decoder is None:
            desc = self._receive_descs.get(pt)
            if desc is None:
                if pt != self._params.payload_type:
                    return None
                desc = self._params.codec
            try:
                codec = codec_for(desc.name, desc.clock_rate, desc.channels, dict(desc.fmtp))
            except MediaError:
                return None
            decoder = _Decoder(codec, self.ptime_ms)
            self._decoders[pt] = decoder
        return decoder

    def _current_decoder(self) -> _Decoder | None:
        return self._decoder(self._last_pt if self._last_pt is not None else self._params.payload_type)

    _last_pt: int | None = None

    def _play_step(self, now: float) -> Samples:
        item = self._jitter.get(now)
        pcm48: Samples | None = None
        if isinstance(item, Frame):
            pcm48 = self._decode_frame(item.payload)
        elif isinstance(item, Missing):
            pcm48 = self._decode_missing(item.next_payload)
        else:
            self._silence_frames += 1
        if pcm48 is None or not self.playing:
            pcm48 = np.zeros(self._frame_48k, dtype=np.float32)
        self._sink.write(pcm48)
        return pcm48

    def _decode_frame(self, tagged: bytes) -> Samples | None:
        if not tagged:
            return None
        pt = tagged[0]
        decoder = self._decoder(pt)
        if decoder is None:
            self._decode_errors += 1
            return None
        self._last_pt = pt
        try:
            pcm = decoder.codec.decode(tagged[1:])
        except MediaError:
            self._decode_errors += 1
            return self._conceal(decoder)
        self._frames_decoded += 1
        self._frames_played += 1
        return decoder.resampler.process(_to_float(pcm))

    def _decode_missing(self, next_tagged: bytes | None) -> Samples | None:
        decoder = self._current_decoder()
        if decoder is None:
            return None
        if next_tagged and next_tagged[0] == self._last_pt and decoder.codec.supports_fec:
            try:
                pcm = decoder.codec.decode_fec(next_tagged[1:], decoder.frame_samples)
            except MediaError:
                self._decode_errors += 1
                return self._conceal(decoder)
            self._fec_decoded += 1
            self._frames_played += 1
            return decoder.resampler.process(_to_float(pcm))
        return self._conceal(decoder)

    def _conceal(self, decoder: _Decoder) -> Samples | None:
        try:
            pcm = decoder.codec.conceal(decoder.frame_samples)
        except MediaError:
            self._decode_errors += 1
            return None
        self._concealed += 1
        self._frames_played += 1
        return decoder.resampler.process(_to_float(pcm))

    # -- RTCP ----------------------------------------------------------------------

    def _rtcp_delay(self, *, initial: bool) -> float:
        codec_bps = self._target_bitrate or self._encoder.clock_rate * 8
        packet_rate = 1000 / self.ptime_ms
        session_bw = codec_bps / 8 + packet_rate * (12 + _IP_UDP_OVERHEAD)
        senders = 2 if self._receiver.latched_ssrc is not None else 1
        interval = rtcp_interval(
            members=2,
            senders=senders,
            rtcp_bw=session_bw * _RTCP_FRACTION,
            we_sent=self._sent_since_report,
            avg_rtcp_size=self._avg_rtcp_size,
            initial=initial,
            rng=self._rng,
        )
        return interval * self._rtcp_scale

    def _report_blocks(self, now: float) -> tuple[Any, ...]:
        block = self._receiver.report_block(now)
        return () if block is None else (block,)

    def _send_rtcp(self) -> None:
        now = self._clock()
        reports = self._report_blocks(now)
        first: RtcpPacket
        if self._sent_since_report:
            first = self._rtp.sender_report(self._wallclock(), reports=reports)
        else:
            first = ReceiverReport(self._rtp.ssrc, reports)
        data = build_compound([first, cname_packet(self._rtp.ssrc, self._cname)])
        sock = self._rtcp_sock if self._rtcp_sock is not None else (self._sock if self._params.rtcp_mux else None)
        if sock is None:
            return
        if self._sendto(sock, data, self._remote_rtcp()):
            self._rtcp_sent += 1
            self._avg_rtcp_size = self._avg_rtcp_size * 15 / 16 + (len(data) + _IP_UDP_OVERHEAD) / 16
        self._sent_since_report = False

    def _send_bye(self) -> None:
        sock = self._rtcp_sock if self._rtcp_sock is not None else (self._sock if self._params.rtcp_mux else None)
        if sock is None or self._sock.fileno() < 0:
            return
        now = self._clock()
        reports = self._report_blocks(now)
        first: RtcpPacket = (
            self._rtp.sender_report(self._wallclock(), reports=reports)
            if self._rtp.packet_count
            else ReceiverReport(self._rtp.ssrc, reports)
        )
        data = build_compound([first, cname_packet(self._rtp.ssrc, self._cname), Bye((self._rtp.ssrc,))])
        if self._sendto(sock, data, self._remote_rtcp()):
            self._rtcp_sent += 1

    # -- quality ----------------------------------------------------------------------

    def _loss_percent(self) -> float:
        stats = self._receiver.stats
        if stats is None or stats.expected <= 0:
            return 0.0
        lost = stats.expected - (stats.received - stats.duplicates)
        return max(0.0, min(100.0, 100.0 * lost / stats.expected))

    def _jitter_ms(self) -> float:
        stats = self._receiver.stats
        if stats is None:
            return 0.0
        return 1000.0 * stats.jitter_estimate / max(1, self._jitter_rate)

    def _report_quality(self) -> None:
        self._quality_reports += 1
        if self._on_quality is None:
            return
        stats = self._receiver.stats
        loss = self._loss_percent()
        jitter_ms = self._jitter_ms()
        buffer_ms = self._jitter.current_delay * 1000
        one_way_ms = 0.0 if self._rtt is None else self._rtt * 500
        decoder = self._current_decoder()
        name = decoder.codec.name if decoder is not None else self._params.codec.name
        try:
            mos = estimate_mos(loss, jitter_ms, one_way_ms, name, jitter_buffer_ms=buffer_ms)
            r: float | None = r_factor(loss, jitter_ms, one_way_ms, name, jitter_buffer_ms=buffer_ms)
        except ValueError:
            mos = estimate_mos(loss, jitter_ms, one_way_ms, "G711", jitter_buffer_ms=buffer_ms)
            r = None
        snapshot = QualitySnapshot(
            packets_sent=self._rtp.packet_count,
            packets_received=0 if stats is None else stats.received,
            loss_percent=loss,
            jitter_ms=jitter_ms,
            rtt_ms=None if self._rtt is None else self._rtt * 1000,
            jitter_buffer_ms=buffer_ms,
            concealed_ms=float(self._concealed * self.ptime_ms),
            mos=mos,
            r_factor=r,
        )
        self._call(self._on_quality, snapshot)

    def _report(self, event: MediaEvent) -> None:
        if self._on_event is not None:
            self._call(self._on_event, event)

    def _call(self, callback: Callable[[Any], None], value: object) -> None:
        try:
            callback(value)
        except Exception:
            log.exception("media session callback %r raised", callback)

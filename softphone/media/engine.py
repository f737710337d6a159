"""The media session of one call: RTP/RTCP on a UDP socket, codecs, jitter buffer, playout.

A :class:`MediaSession` runs one thread. The thread keeps a deadline clock
(next deadline = previous + ptime) and, between deadlines, waits in
``select`` on its sockets so packets are taken in as they arrive. At every
deadline it sends one frame (audio, or a telephone-event packet while DTMF is
queued), plays one frame out of the jitter buffer into the sink, sends RTCP
when due and, once a second, reports a :class:`QualitySnapshot`.

The session is a coordinator: it owns the sockets, the thread and the
deadline schedule, and drives three objects that hold the media logic —
:class:`~softphone.media.send_stream.SendStream` (source → encoder → RTP,
DTMF, mute), :class:`~softphone.media.receive_stream.ReceiveStream` (RTP
checks → jitter buffer → decoder → sink, receive figures) and
:class:`~softphone.media.rtcp_scheduler.RtcpScheduler` (SR/RR, RTT, loss
feedback, BYE).

Audio crosses the session boundary as mono float32 at 48 kHz: an
:class:`AudioSource` is read one frame per ptime (capture side), an
:class:`AudioSink` is written one frame per ptime (playback side); see
:mod:`softphone.media.sources`.

Nothing received from the network raises out of the thread: malformed
datagrams are counted and dropped. RTP and RTCP are taken only from the
addresses the peer's SDP gave, until the call is answered; after that a peer
whose packets come from elsewhere (behind a NAT) is latched once it sends a
steady stream (see :class:`~softphone.media.rtp.RtpReceiver`). A session
started for early media is made with ``answered=False`` and told
:meth:`MediaSession.set_answered` later. Refused datagrams are counted by
reason in :meth:`MediaSession.stats` and summed up in one log line a minute
at most. An unexpected error in the loop is logged once and reported as
:class:`MediaFailure`; the call's signalling does not depend on the media
thread.

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
import concurrent.futures
import dataclasses
import logging
import random
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from softphone.ice.agent import Route
from softphone.ice.candidate import NegotiatedIce
from softphone.media.codecs import codec_for
from softphone.media.dtls import DtlsIdentity
from softphone.media.dtmf import event_code
from softphone.media.errors import MediaError
from softphone.media.events import (
    DtmfReceived,
    EncryptionFailed,
    EncryptionReady,
    EventCallback,
    IceConnected,
    IceFailure,
    MediaEvent,
    MediaFailure,
    OneWayAudio,
    QualityCallback,
    RemoteBye,
)
from softphone.media.gather import ReflexiveQueries, ReflexiveQueryError
from softphone.media.ice_link import IceLink, RelayedSocket, follow
from softphone.media.keepalive import MediaKeepalive
from softphone.media.parameters import (
    Address,
    CodecDescription,
    CryptoParameters,
    MediaParameters,
    address_key,
    is_unspecified,
)
from softphone.media.quality import QualitySnapshot
from softphone.media.receive_stream import ReceiveStream
from softphone.media.recorder import CallRecorder
from softphone.media.rtcp import RTCP_MIN_TIME, is_rtcp
from softphone.media.rtcp_scheduler import RtcpScheduler
from softphone.media.send_stream import SendStream
from softphone.media.sources import (
    PIPELINE_RATE,
    ArraySink,
    AudioSink,
    AudioSource,
    NullSink,
    SilenceSource,
    ToneSource,
    wav_sink,
    wav_source,
)
from softphone.media.srtp import DROP_REASONS, MediaProtection, ProtectionStatus, check_crypto, is_dtls
from softphone.stun.message import is_stun

__all__ = [
    "PIPELINE_RATE",
    "ArraySink",
    "AudioSink",
    "AudioSource",
    "CodecDescription",
    "DtmfReceived",
    "EncryptionFailed",
    "EncryptionReady",
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

_T = TypeVar("_T")
log = logging.getLogger(__name__)

_MAX_DATAGRAM = 2048
_DRAIN_LIMIT = 256  # datagrams taken per socket per wake-up, so a flood cannot starve playout
_MAX_LATE_FRAMES = 10  # a stall longer than this many ptimes resynchronises the deadline clock
_MAX_CONSECUTIVE_FAILURES = 50
_QUALITY_PERIOD = 1.0
_REFUSAL_LOG_PERIOD = 60.0
# The drop reasons that mean a datagram was refused, rather than lost to the network's own doings.
_REFUSALS = (
    "malformed",
    "unknown_pt",
    "wrong_source",
    "unknown_ssrc",
    "before_answer",
    "rtcp_malformed",
    "rtcp_wrong_source",
    "other",
    *DROP_REASONS,
)


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
    # None: plain RTP.
    encryption: ProtectionStatus | None = None


def _bind_rtp_socket(local: socket.socket | tuple[str, int], own_socket: bool) -> tuple[socket.socket, bool]:
    if isinstance(local, socket.socket):
        sock, owned = local, own_socket
    else:
        host, port = local
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock, owned = socket.socket(family, socket.SOCK_DGRAM), True
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise MediaError(f"cannot bind RTP socket on {host}:{port}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock, owned


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
        answered: bool = True,
        crypto: CryptoParameters | None = None,
        dtls_identity: DtlsIdentity | None = None,
        dtls_timeout: float = 10.0,
        keepalive: float | None = None,
    ) -> None:
        self._sock, self._owns_sock = _bind_rtp_socket(local, own_socket)
        # Asked once: isinstance against a runtime-checkable Protocol at every wake-up was 13 % of the
        # interpreter's time with ten calls.
        self._relayed = isinstance(self._sock, RelayedSocket)
        try:
            self._protection = (
                None if crypto is None else MediaProtection(crypto, dtls_identity, handshake_timeout=dtls_timeout)
            )
        except ValueError as exc:
            if self._owns_sock:
                self._sock.close()
            raise MediaError(f"cannot protect the media: {exc}") from exc
        self._rtcp_sock: socket.socket | None = None
        self._on_quality = on_quality
        self._on_event = on_event
        self._clock = clock
        rng = random.Random(seed) if seed is not None else random.Random()
        self.local_address: Address = tuple(self._sock.getsockname())

        self._lock = threading.RLock()
        self._commands: collections.deque[Callable[[], None]] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure_logged = False
        self._consecutive_failures = 0
        self._ticks = 0
        self._late_ticks = 0
        self._resyncs = 0
        self._datagrams = 0
        self._send_errors = 0
        self._quality_reports = 0
        self._failures = 0
        self._dropped_other = 0
        self._next_quality = 0.0
        self._next_refusal_log = 0.0
        self._refusals_logged: dict[str, int] = {}
        self._recorder: CallRecorder | None = None
        self._direction_override: str | None = None
        self._params = negotiated
        self._keepalive = MediaKeepalive(keepalive, clock())
        self._stun_received = 0
        self._ice: IceLink | None = None
        self._queries = ReflexiveQueries(self._send_around_ice)
        self._asked: list[concurrent.futures.Future[tuple[str, int]]] = []
        self._ended = False

        cname = cname or f"softphone-{rng.getrandbits(48):012x}@{self.local_address[0]}"
        self._send = SendStream(source, self._send_rtp, rng)
        self._receive = ReceiveStream(sink, self._report, one_way_timeout)
        self._receive.receiver.answered = answered
        self._rtcp = RtcpScheduler(
            self._send,
            self._receive,
            self._send_rtcp,
            self._has_rtcp_channel,
            self._report,
            cname=cname,
            clock=clock,
            wallclock=wallclock,
            rng=rng,
            min_interval=rtcp_min_interval,
        )
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

    @property
    def ptime_ms(self) -> int:
        return self._send.ptime_ms

    def send_dtmf(self, digits: str) -> None:
        """Queue digits (0-9 * # A-D): RFC 4733 events when negotiated, else in-band Q.23 tones."""
        for digit in digits:
            event_code(digit)  # raises MediaError on a bad digit
        with self._lock:
            self._send.queue_dtmf(digits)

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
            self._send.muted = muted

        self._command(apply)

    @property
    def muted(self) -> bool:
        return self._send.muted

    def set_audio(self, source: AudioSource, sink: AudioSink) -> threading.Event:
        """Swap the session's source and sink from the next ptime on (e.g. into a conference mixer).

        Returns an event set once the media thread uses the new pair: from then on the old
        source and sink are no longer touched and can be closed.
        """
        applied = threading.Event()

        def apply() -> None:
            self._send.source = source
            self._receive.sink = sink
            applied.set()

        self._command(apply)
        if not self.running:  # stopped (or never started): nothing reads the old pair any more
            applied.set()
        return applied

    @property
    def audio(self) -> tuple[AudioSource, AudioSink]:
        """The source and sink in use (a swap asked for takes effect at the next ptime)."""
        return self._send.source, self._receive.sink

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

    def reflexive_address(self, server: tuple[str, int]) -> concurrent.futures.Future[tuple[str, int]]:
        """Where ``server`` (a STUN server) sees this media port now: the mapped address, or a
        :class:`~softphone.media.gather.ReflexiveQueryError`. Asked by the media thread, which owns the socket."""
        future: concurrent.futures.Future[tuple[str, int]] = concurrent.futures.Future()
        with self._lock:
            if self._stop.is_set() or self._ended:
                future.set_exception(ReflexiveQueryError("the call's media stopped"))
                return future
            self._asked = [f for f in self._asked if not f.done()] + [future]
        self._command(lambda: self._queries.start(server, self._clock(), future))
        return future

    def reallocate_relay(self) -> concurrent.futures.Future[tuple[tuple[str, int], tuple[str, int] | None]]:
        """A new TURN allocation for the session's relayed socket (our address moved): the future of the new
        relayed and mapped addresses; a :class:`MediaError` when the media has no relay."""
        future: concurrent.futures.Future[tuple[tuple[str, int], tuple[str, int] | None]] = concurrent.futures.Future()

        def start() -> None:
            sock = self._sock
            if not isinstance(sock, RelayedSocket):
                future.set_exception(MediaError("the call's media has no relay"))
                return
            allocation = sock.reallocate()
            allocation.add_done_callback(lambda done: _copy_outcome(done, future))

        self._command(start)
        return future

    def replace_socket(self, sock: socket.socket) -> None:
        """Media leaves from and arrives at ``sock`` from now on: our address changed (a new network) and the
        old socket is bound to an address we no longer have. The session owns ``sock``; the old one is closed
        if it owned it. ICE waits for the restart that follows (its pairs were the old socket's)."""
        sock.setblocking(False)

        def swap() -> None:
            old, owned = self._sock, self._owns_sock
            self._sock, self._owns_sock = sock, True
            self.local_address = tuple(sock.getsockname())
            self._ice = None
            self._receive.forget_source()
            self._rtcp.source = None
            if self._rtcp_sock is not None:
                self._setup_rtcp_socket()
            if owned:
                old.close()

        self._command(swap)

    def set_answered(self) -> None:
        """The call is answered: a peer sending from elsewhere than its SDP address may now be latched.

        Also arms the one-way-audio watch, which waits for the answer.
        """
        self._command(self._apply_answered)

    @property
    def answered(self) -> bool:
        return self._receive.receiver.answered

    def update(self, negotiated: MediaParameters, crypto: CryptoParameters | None = None) -> None:
        """New negotiated parameters after a re-INVITE/UPDATE (address, codec, direction, ptime, keys).

        Raises :class:`MediaError` at once when the codec or ptime is unusable, or when ``crypto`` is
        None on an encrypted session (protection is never dropped mid-call); the running stream is kept.
        New SDES keys re-key from the next packet on.
        """
        send = negotiated.codec
        codec_for(send.name, send.clock_rate, send.channels, dict(send.fmtp)).frame_samples(int(negotiated.ptime or 20))
        if crypto is None and self._protection is not None:
            raise MediaError("the media is encrypted; a plain re-offer cannot turn that off")
        if crypto is not None and crypto.key_exchange == "dtls" and self._protection is None:
            raise MediaError("DTLS-SRTP cannot start on a session that began in plain RTP")
        if crypto is not None:
            try:
                check_crypto(crypto)
            except ValueError as exc:
                raise MediaError(f"cannot protect the media: {exc}") from exc

        def apply() -> None:
            self._configure(negotiated, initial=False)
            if crypto is None:
                return
            if self._protection is None:
                self._protection = MediaProtection(crypto, None)
            else:
                self._protection.update(crypto)
                self._send_dtls(self._protection.start(self._clock()))

        self._command(apply)

    @property
    def playout_delay(self) -> float | None:
        """How long after the peer's capture (its clock, from its SRs) the audio we play now was taken: the
        audio side of lip sync (:mod:`softphone.media.lip_sync`); readable from any thread."""
        return self._receive.sync.delay

    @property
    def encryption(self) -> ProtectionStatus | None:
        with self._lock:
            return None if self._protection is None else self._protection.status()

    def stats(self) -> SessionStats:
        with self._lock:
            send, receive, rtcp = self._send, self._receive, self._rtcp
            receiver = receive.receiver
            jstats = receive.jitter.stats()
            dropped = self._dropped()
            return SessionStats(
                running=self.running,
                ticks=self._ticks,
                late_ticks=self._late_ticks,
                resyncs=self._resyncs,
                packets_sent=send.rtp.packet_count,
                octets_sent=send.rtp.octet_count,
                dtmf_packets_sent=send.dtmf_packets_sent,
                packets_received=receive.packets_received,
                datagrams_received=self._datagrams,
                dropped=dropped,
                malformed=receiver.dropped_malformed + rtcp.malformed + self._dropped_other,
                rtcp_sent=rtcp.sent,
                rtcp_received=rtcp.received,
                rtcp_malformed=rtcp.malformed,
                send_errors=self._send_errors,
                frames_played=receive.frames_played,
                frames_decoded=receive.frames_decoded,
                fec_decoded=receive.fec_decoded,
                concealed=receive.concealed,
                silence_frames=receive.silence_frames,
                decode_errors=receive.decode_errors,
                dtmf_received=receive.dtmf_received,
                loss_percent=receive.loss_percent(),
                jitter_ms=receive.jitter_ms(),
                rtt_ms=None if rtcp.rtt is None else rtcp.rtt * 1000,
                remote_loss_percent=rtcp.remote_loss,
                jitter_buffer_ms=jstats.current_delay_ms,
                latched_address=None if receiver.latched_addr is None else tuple(receiver.latched_addr),  # type: ignore[arg-type]
                send_bitrate=send.send_bitrate,
                quality_reports=self._quality_reports,
                failures=self._failures,
                extra={
                    "jitter_late": jstats.late,
                    "jitter_lost": jstats.lost,
                    "fec_recoverable": jstats.fec_recoverable,
                    "srtp_protected": 0 if self._protection is None else self._protection.protected,
                    "srtp_unprotected": 0 if self._protection is None else self._protection.unprotected,
                    "stun_received": self._stun_received,
                    "keepalives_sent": self._keepalive.sent,
                    **self._ice_counts(),
                },
                encryption=None if self._protection is None else self._protection.status(),
            )

    def _ice_counts(self) -> dict[str, int]:
        if self._ice is None:
            return {}
        agent = self._ice.agent
        return {
            "ice_checks_sent": agent.checks_sent,
            "ice_answered": agent.answered,
            **{f"ice_dropped_{reason}": count for reason, count in agent.dropped.items()},
        }

    def _dropped(self) -> dict[str, int]:
        receiver = self._receive.receiver
        return {
            "malformed": receiver.dropped_malformed,
            "wrong_source": receiver.dropped_wrong_source,
            "unknown_ssrc": receiver.dropped_unknown_ssrc,
            "unknown_pt": receiver.dropped_unknown_pt,
            "before_answer": receiver.dropped_before_answer,
            "after_bye": receiver.dropped_after_bye,
            "probation": receiver.dropped_probation,
            "bad_sequence": receiver.dropped_bad_sequence,
            "duplicate": receiver.dropped_duplicate,
            "rtcp_malformed": self._rtcp.malformed,
            "rtcp_wrong_source": self._rtcp.wrong_source,
            "other": self._dropped_other,
            **(dict.fromkeys(DROP_REASONS, 0) if self._protection is None else self._protection.dropped),
        }

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
        ptime_ms = int(params.ptime) if params.ptime else 20
        self._send.configure(params, old, ptime_ms)
        self._receive.configure(params, old, ptime_ms)
        family = self._sock.family
        self._receive.receiver.remote = address_key(params.remote_address, params.remote_port, family)
        rtcp_port = params.remote_port if params.rtcp_mux else params.remote_rtcp_port or params.remote_port + 1
        self._rtcp.expected = address_key(params.remote_address, rtcp_port, family)
        self._rtcp.rtcp_mux = params.rtcp_mux
        remote = (params.remote_address, params.remote_port)
        old_remote = None if old is None else (old.remote_address, old.remote_port)
        if old is not None and remote != old_remote:
            # New media address (RFC 3264 8.3.1): forget the latched source and start afresh.
            self._receive.forget_source()
            self._rtcp.source = None
            self._send.new_talkspurt()
        if old is not None and params.rtcp_mux != old.rtcp_mux:
            self._setup_rtcp_socket()
        self._configure_ice(params.ice, initial=initial)
        self._update_one_way()

    def _configure_ice(self, ice: NegotiatedIce | None, *, initial: bool) -> None:
        link = follow(self._ice, ice, self._sock, self._ice_selected, self._ice_failed)
        if link is not None and link is not self._ice and not initial:
            link.start(self._clock())
        self._ice = link

    def _ice_selected(self, route: Route, selected: bool) -> None:
        key = address_key(route.remote[0], route.remote[1], self._sock.family)
        if key != self._receive.receiver.remote:
            self._receive.receiver.remote = key
            self._rtcp.expected = key
            self._receive.forget_source()
            self._rtcp.source = None
        if selected:
            self._report(IceConnected(route.kind, route.local, route.remote))

    def _ice_failed(self, reason: str) -> None:
        self._report(IceFailure(reason))

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
        self._send.held = held
        self._send.new_talkspurt()
        self._update_one_way()

    def _set_direction(self, direction: str) -> None:
        self._direction_override = direction
        self._send.new_talkspurt()
        self._update_one_way()

    @property
    def direction(self) -> str:
        override = self._direction_override
        return override if override is not None else self._params.direction

    @property
    def sending(self) -> bool:
        params = self._params
        if self._ice is not None and self._ice.route is None:
            return False
        if params.remote_port == 0 or is_unspecified(params.remote_address):
            return False
        return self.direction in ("sendrecv", "sendonly")

    @property
    def playing(self) -> bool:
        return not self._send.held and self.direction in ("sendrecv", "recvonly")

    def _apply_answered(self) -> None:
        self._receive.receiver.answered = True
        self._update_one_way()

    def _update_one_way(self, *, restart: bool = False) -> None:
        wanted = self.playing and self._params.remote_port != 0 and self.answered
        self._receive.watch_one_way(wanted, self._clock(), restart=restart)

    # -- the media thread --------------------------------------------------------

    def _run(self) -> None:
        now = self._clock()
        with self._lock:
            self._rtcp.start(now)
            if self._ice is not None:
                self._ice.start(now)
            if self._protection is not None:
                self._send_dtls(self._protection.start(now))
            self._next_quality = now + _QUALITY_PERIOD
            self._next_refusal_log = now
            self._update_one_way(restart=True)
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
            with self._lock:
                self._ended = True
                self._queries.cancel()
                for future in self._asked:
                    if not future.done():
                        future.set_exception(ReflexiveQueryError("the call's media stopped"))
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
        # A relayed socket may reach its TURN server over TCP/TLS: that connection is watched too, and read
        # by a recvfrom on the relayed socket itself.
        extra = self._sock.watched() if self._relayed else ()  # type: ignore[attr-defined]
        try:
            readable, _, _ = select.select([*socks, *extra], [], [], max(0.0, timeout))
        except (OSError, ValueError):
            # A socket closed under us (stop() racing): sleep out the deadline instead.
            time.sleep(max(0.0, timeout))
            return
        for sock in dict.fromkeys(self._sock if s in extra else s for s in readable):
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
                if is_stun(data):
                    # RFC 7983: STUN on the media port, for ICE when the call has it.
                    self._stun_received += 1
                    if self._queries.handle(data, addr, now):
                        continue
                    if self._ice is not None:
                        self._ice.handle(data, addr, now)
                    continue
                if self._protection is not None or is_dtls(data):
                    unprotected = self._unprotect(sock, data, addr, now)
                    if unprotected is None:
                        continue
                    data = unprotected
                if is_rtcp(data):
                    self._rtcp.handle(data, addr, now)
                elif sock is self._rtcp_sock:
                    self._rtcp.malformed += 1
                else:
                    self._receive.handle_rtp(data, addr, now)
            except Exception:  # bad input from the network is never fatal
                self._dropped_other += 1

    def _unprotect(self, sock: socket.socket, data: bytes, addr: Address, now: float) -> bytes | None:
        """RFC 7983: DTLS goes to the handshake, SRTP/SRTCP is checked and decrypted; None: nothing to pass on."""
        protection = self._protection
        if is_dtls(data) and (protection is None or protection.dtls is None or sock is not self._sock):
            self._dropped_other += 1
            return None
        if protection is None:
            return data
        plain, out, event = protection.receive(data, now, from_peer=self._dtls_source(addr))
        for datagram in out:
            self._sendto(self._sock, datagram, addr)
        if event is not None:
            self._report(event)
        return plain

    def _dtls_source(self, addr: Address) -> bool:
        """DTLS only from the peer's SDP address, or the source the RTP receiver latched onto."""
        key = (addr[0], addr[1])
        remote = self._receive.receiver.remote
        if isinstance(remote, tuple) and key == remote[:2]:
            return True
        latched = self._receive.receiver.latched_addr
        return isinstance(latched, tuple) and key == latched[:2]

    def _send_dtls(self, datagrams: list[bytes]) -> None:
        for datagram in datagrams:
            self._sendto(self._sock, datagram, self._remote_rtp())

    def _poll_protection(self, now: float) -> None:
        protection = self._protection
        if protection is None or protection.dtls is None:
            return
        out, event = protection.poll(now)
        self._send_dtls(out)
        if event is not None:
            self._report(event)

    # -- the deadline step --------------------------------------------------------

    def _tick(self) -> None:
        self._ticks += 1
        while self._commands:
            self._commands.popleft()()
        now = self._clock()
        if self._ice is not None:
            self._ice.poll(now)
        if self._queries:
            self._queries.poll(now)
        self._poll_protection(now)
        sent = self._send.step(self.sending)
        played = self._receive.play(now, self.playing)
        if self._recorder is not None:
            self._recorder.push(sent, played)
        self._receive.poll_one_way(now)
        self._rtcp.poll(now)
        keepalive = self._keepalive.poll(now)
        if keepalive is not None:
            self._sendto(self._sock, keepalive, self._remote_rtp())
        if now >= self._next_quality:
            self._next_quality += _QUALITY_PERIOD
            if self._next_quality <= now:
                self._next_quality = now + _QUALITY_PERIOD
            self._report_quality()
            if now >= self._next_refusal_log:
                self._log_refusals(now)

    def _log_refusals(self, now: float) -> None:
        """One line for the datagrams refused since the last one (a flood must not flood the log)."""
        dropped = self._dropped()
        refused = {k: dropped[k] - self._refusals_logged.get(k, 0) for k in _REFUSALS}
        if not any(refused.values()):
            return
        self._refusals_logged = {k: dropped[k] for k in _REFUSALS}
        self._next_refusal_log = now + _REFUSAL_LOG_PERIOD
        log.info(
            "media session %s: refused %d datagrams (%s)",
            self.local_address,
            sum(refused.values()),
            ", ".join(f"{k} {v}" for k, v in refused.items() if v),
        )

    # -- addresses and sockets ----------------------------------------------------

    def _remote_rtp(self) -> Address:
        latched = self._receive.receiver.latched_addr
        if latched is not None:
            # RFC 4961: symmetric RTP, send back to where the peer's packets come from.
            return tuple(latched)  # type: ignore[arg-type]
        return (self._params.remote_address, self._params.remote_port)

    def _remote_rtcp(self) -> Address:
        if self._params.rtcp_mux:
            return self._remote_rtp()
        if self._rtcp.source is not None:
            return self._rtcp.source
        port = self._params.remote_rtcp_port or self._params.remote_port + 1
        return (self._params.remote_address, port)

    def _sendto(self, sock: socket.socket, data: bytes, addr: Address) -> bool:
        if self._ice is not None and sock is self._sock:
            return self._ice.send(data)
        try:
            sock.sendto(data, addr)
            return True
        except OSError:
            self._send_errors += 1
            return False

    def _send_around_ice(self, data: bytes, addr: tuple[str, int]) -> None:
        """Straight from the socket (around the TURN relay too): for the media port's own STUN queries."""
        sock = self._sock
        try:
            if isinstance(sock, RelayedSocket) and sock.direct:
                sock.send_direct(data, addr)
            else:
                sock.sendto(data, addr)
        except OSError:
            self._send_errors += 1

    def _send_rtp(self, data: bytes) -> bool:
        if self._protection is not None:
            protected = self._protection.protect(data)
            if protected is None:
                return False  # no keys yet (DTLS handshake): nothing leaves in clear
            data = protected
        self._keepalive.note_sent(self._clock())
        return self._sendto(self._sock, data, self._remote_rtp())

    def _rtcp_channel(self) -> socket.socket | None:
        if self._rtcp_sock is not None:
            return self._rtcp_sock
        return self._sock if self._params.rtcp_mux else None

    def _has_rtcp_channel(self) -> bool:
        return self._rtcp_channel() is not None

    def _send_rtcp(self, data: bytes) -> bool:
        sock = self._rtcp_channel()
        if sock is None:
            return False
        if self._protection is not None:
            protected = self._protection.protect(data, rtcp=True)
            if protected is None:
                return False
            data = protected
        return self._sendto(sock, data, self._remote_rtcp())

    def _send_bye(self) -> None:
        if self._sock.fileno() >= 0:
            self._rtcp.send_bye()

    # -- quality ----------------------------------------------------------------------

    def _report_quality(self) -> None:
        self._quality_reports += 1
        if self._on_quality is not None:
            snapshot = self._receive.quality_snapshot(self._send.rtp.packet_count, self._rtcp.rtt)
            self._call(self._on_quality, self._with_path(snapshot))

    def _with_path(self, snapshot: QualitySnapshot) -> QualitySnapshot:
        ice = self._ice
        local = self.local_address
        if ice is not None:
            route = ice.route
            if route is None:
                return dataclasses.replace(snapshot, path="failed" if ice.failed else "checking")
            return dataclasses.replace(
                snapshot, path=route.kind, path_local=_text(route.local), path_remote=_text(route.remote)
            )
        relay = getattr(self._sock, "relayed", None) if isinstance(self._sock, RelayedSocket) else None
        return dataclasses.replace(
            snapshot,
            path="relay" if relay is not None else "direct",
            path_local=_text(relay if relay is not None else (local[0], local[1])),
            path_remote=_text(self._remote_rtp()),
        )

    def _report(self, event: MediaEvent) -> None:
        if self._on_event is not None:
            self._call(self._on_event, event)

    def _call(self, callback: Callable[[Any], None], value: object) -> None:
        try:
            callback(value)
        except Exception:
            log.exception("media session callback %r raised", callback)


def _copy_outcome(source: concurrent.futures.Future[_T], target: concurrent.futures.Future[_T]) -> None:
    if target.done():
        return
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


def _text(address: Address) -> str:
    host, port = str(address[0]), int(address[1])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

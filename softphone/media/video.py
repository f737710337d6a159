"""One call's video stream on a thread of its own: source → encoder → RTP out, RTP in → frames → decoder → sinks.

The codec is VP8 (RFC 7741) or H.264 (RFC 6184, packetization-mode 1, or 0 when the peer asks for it).

The thread ticks at the frame rate (next deadline = previous + 1/fps) and
waits on its socket between ticks. Each tick encodes the source's next frame
(when the stream sends), cuts it into RTP packets and keeps them
a moment for retransmission on a NACK. After each batch of datagrams (and
at each tick) it takes the frames the frame jitter buffer has ready, decodes
them, writes them to the recorder and hands them to ``on_frame``. A loss the jitter buffer cannot wait out makes it drop
frames until a key frame; the session asks for one with PLI (or FIR), and
answers the peer's PLI/FIR with a key frame. RTCP goes out about once a
second (SR or RR with a reception report, our CNAME, and the feedback due).
Garbage from the network moves a counter and is dropped.

With keys from offer/answer (``params.crypto``) every packet is SRTP/SRTCP
(RFC 3711) through :class:`~softphone.media.srtp.MediaProtection`, as the
audio's are: SDES keys at once, DTLS-SRTP keys after a handshake on the video
socket (RFC 5764). Nothing leaves in clear, and a packet that fails its check
is counted by reason and never reaches the decoder.

With ICE (``params.ice``) the session runs an :class:`~softphone.media.ice_link.IceLink`
over its socket, as the audio session does: STUN on the port goes to it,
nothing is sent until it has a route, and then everything goes by that route
(straight, or through the TURN relay of a relayed socket). A relayed socket
without ICE sends everything through the relay.
"""

from __future__ import annotations

import collections
import logging
import random
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import av

from softphone.ice.agent import Route
from softphone.ice.candidate import NegotiatedIce
from softphone.media.dtls import DtlsIdentity
from softphone.media.errors import MediaError
from softphone.media.events import EncryptionFailed, EncryptionReady, IceConnected, IceFailure, MediaEvent
from softphone.media.frame_buffer import FrameAssembler
from softphone.media.h264 import H264Error, H264Format, H264Packetizer, sprop_parameter_sets
from softphone.media.ice_link import RelayedSocket, follow
from softphone.media.lip_sync import StreamClock, av_offset, video_hold
from softphone.media.parameters import Address, CryptoParameters, StreamParameters
from softphone.media.rtcp import (
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
)
from softphone.media.rtcp_feedback import fir, nack, pli, read_feedback, tmmbn
from softphone.media.rtp import RtpReceiver, RtpSender
from softphone.media.srtp import MediaProtection, check_crypto
from softphone.media.video_codec import CODECS, AdaptiveEncoder, VideoDecoder, VideoRecorder
from softphone.media.video_rate import SendRateController
from softphone.media.video_sources import VideoSource
from softphone.media.vp8 import Vp8Format, Vp8Packetizer
from softphone.stun.message import is_stun

__all__ = ["VideoParameters", "VideoQuality", "VideoSession"]

log = logging.getLogger("softphone.media")

CLOCK_RATE = 90000
_MAX_DATAGRAM = 2048
_DRAIN_LIMIT = 256
# At most this many datagrams queued before a session starts are thrown away (a socket's buffer holds fewer).
_STALE_LIMIT = 4096
_RTCP_INTERVAL = 1.0
_QUALITY_PERIOD = 1.0
# RFC 8445 14.2: Ta, one new check per 20 ms as the audio's media tick paces them (a frame tick is slower).
_ICE_PACE = 0.02
# At most one key frame request (ours) and one forced key frame (theirs) per this many seconds.
_KEYFRAME_SPACING = 0.5
# Packets kept for retransmission, and how many of them a NACK may make us send again per second.
_HISTORY = 512
_RETRANSMIT_BUDGET = 200
# Several seconds of packets at the highest rate: reports come about once a second, later behind a queue.
_ACKED_HISTORY = 4096
# H.264 packetization-mode 0: the largest NAL unit the encoder may make (a packet with headers under 1,500).
_MAX_SINGLE_NAL = 1200


def _sprop(fmtp: Mapping[str, str]) -> bytes:
    """The peer's SPS and PPS from sprop-parameter-sets (RFC 6184 8.1), to prime our decoder; bad ones are skipped."""
    value = fmtp.get("sprop-parameter-sets")
    if not value:
        return b""
    try:
        return sprop_parameter_sets(value)
    except H264Error as exc:
        log.info("ignored sprop-parameter-sets: %s", exc)
        return b""


class VideoParameters(StreamParameters, Protocol):
    """The agreed video stream from our point of view (``softphone.sip.video_offer_answer.NegotiatedVideo`` fits)."""

    @property
    def feedback(self) -> frozenset[str]: ...
    @property
    def crypto(self) -> CryptoParameters | None: ...
    @property
    def max_bitrate(self) -> int | None: ...
    @property
    def ice(self) -> NegotiatedIce | None: ...


@dataclass(frozen=True, slots=True)
class VideoQuality:
    """The video figures of the last second (``fps``, bitrates) and of the call so far (counts)."""

    codec: str
    width: int
    height: int
    fps: float
    bitrate_kbps: float
    send_bitrate_kbps: float
    frames_decoded: int
    frames_sent: int
    freezes: int
    loss_percent: float
    keyframes_requested: int
    keyframes_sent: int
    nacks_sent: int
    retransmitted: int
    packets_dropped: int
    # SRTP: whether the keys are in place, and the packets refused by SRTP (failed authentication, replays).
    encrypted: bool = False
    srtp_dropped: int = 0
    # What we send: the bitrate the peer's reports allow, and the picture size and frame rate it pays for.
    target_bitrate_kbps: float = 0.0
    send_width: int = 0
    send_height: int = 0
    send_fps: int = 0
    # Lip sync (RFC 3550 6.4.1): how much later the picture is shown than the sound taken with it (ms).
    av_offset_ms: float | None = None


class VideoSession:
    """One call's video; see the module documentation.

    ``sock`` is the bound RTP socket (taken over and closed on :meth:`stop` unless ``own_socket`` is False, as a
    TURN-relayed socket the call keeps is). ``source`` None: nothing is sent
    even when the stream could. ``on_frame`` gets each decoded picture on the video thread, ``on_preview`` each
    picture of ours before it is encoded (the self view); ``on_event`` what the DTLS handshake did
    (:class:`~softphone.media.events.EncryptionReady`, ``EncryptionFailed``). ``dtls_identity`` is our
    certificate, needed when the keys come by DTLS-SRTP. ``audio_delay`` gives the call's audio playout delay
    (``MediaSession.playout_delay``) for lip sync.
    """

    def __init__(
        self,
        sock: socket.socket,
        params: VideoParameters,
        source: VideoSource | None,
        *,
        fps: int = 15,
        bitrate: int = 300_000,
        recorder: VideoRecorder | None = None,
        on_frame: Callable[[av.VideoFrame], None] | None = None,
        on_quality: Callable[[VideoQuality], None] | None = None,
        on_preview: Callable[[av.VideoFrame], None] | None = None,
        on_event: Callable[[MediaEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        jitter_delay: float = 0.2,
        dtls_identity: DtlsIdentity | None = None,
        dtls_timeout: float = 10.0,
        audio_delay: Callable[[], float | None] | None = None,
        own_socket: bool = True,
    ) -> None:
        codec = params.codec.name.upper()
        if codec not in CODECS:
            raise MediaError(f"video codec {params.codec.name} is not supported (VP8 and H264 are)")
        if not 1 <= fps <= 60:
            raise MediaError(f"frame rate {fps} is out of range 1-60")
        try:
            crypto = params.crypto
            self._protection = (
                None if crypto is None else MediaProtection(crypto, dtls_identity, handshake_timeout=dtls_timeout)
            )
        except ValueError as exc:
            raise MediaError(f"cannot protect the video: {exc}") from exc
        self._on_event = on_event
        self._audio_delay = audio_delay
        self.sync = StreamClock(CLOCK_RATE)
        # Lip sync: decoded pictures held back until their sound plays (due time, picture), and for how long.
        self._held: collections.deque[tuple[float, av.VideoFrame]] = collections.deque()
        self.hold = 0.0
        self._sending_since: float | None = None
        self._sock = sock
        self._sock.setblocking(False)
        self._owns_sock = own_socket
        self._relayed = isinstance(sock, RelayedSocket)
        self._ice = follow(None, params.ice, sock, self._ice_selected, self._ice_failed)
        self._route: tuple[Address, Address, object] | None = None
        self._rtcp_sock: socket.socket | None = None
        self._params = params
        self._source = source
        self._fps = fps
        self._recorder = recorder
        self._on_frame = on_frame
        self._on_quality = on_quality
        self._on_preview = on_preview
        self._clock = clock
        self._wallclock = wallclock
        rng = random.Random()
        self.local_address: Address = tuple(sock.getsockname())
        self._cname = f"softphone-{rng.getrandbits(48):012x}@{self.local_address[0]}"
        self._sender = RtpSender(params.payload_type, CLOCK_RATE, rng=rng)
        self._codec = codec
        self._packetizer: Vp8Packetizer | H264Packetizer
        payload_format: Vp8Format | H264Format
        fmtp = dict(params.codec.fmtp)
        # RFC 6184 6.2: without packetization-mode (or 0) every NAL unit goes in a packet of its own.
        self._single_nal = codec == "H264" and fmtp.get("packetization-mode", "0") == "0"
        if codec == "VP8":
            self._packetizer, payload_format = Vp8Packetizer(picture_id=rng.getrandbits(15)), Vp8Format()
        else:
            self._packetizer, payload_format = H264Packetizer(), H264Format()
        self._encoder = AdaptiveEncoder(codec, fps, max_nal=_MAX_SINGLE_NAL if self._single_nal else None)
        # The sender's bitrate and picture follow the peer's reports (bitrate: the maximum).
        self._configured_bitrate = bitrate
        self._peer_max_bitrate = params.max_bitrate
        self.rate = (
            SendRateController(source.width, source.height, fps, self._max_bitrate()) if source is not None else None
        )
        self._decoder = VideoDecoder(codec, _sprop(fmtp) if codec == "H264" else b"")
        self._assembler = FrameAssembler(payload_format, jitter_delay)
        self._receiver = self._make_receiver(params)
        self._history: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        # Bytes sent up to and including each recent sequence number: what a report's highest one acknowledges.
        self._sent_bytes = 0
        self._sent_by_sequence: collections.OrderedDict[int, int] = collections.OrderedDict()
        self._lock = threading.RLock()
        self._commands: collections.deque[Callable[[], None]] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._index = 0
        self._force_keyframe = True
        self._last_forced = -1e9
        self._asked_keyframe = False
        self._last_request = -1e9
        self._fir_sequence = 0
        self._pending_feedback: list[RtcpPacket] = []
        self._tmmbn: RtcpPacket | None = None
        self._budget = float(_RETRANSMIT_BUDGET)
        self._budget_at = 0.0
        # Figures for VideoQuality.
        self.width = self.height = 0
        self.frames_decoded = self.frames_sent = self.freezes = 0
        self.keyframes_requested = self.keyframes_sent = self.nacks_sent = self.retransmitted = 0
        self.rtcp_malformed = self.dropped_other = 0
        self._window_frames = 0
        self._window_bytes_in = 0
        self._window_bytes_out = 0
        self._last_frame_at: float | None = None
        self._mean_interval = 1.0 / fps
        self._frozen = False

    def _make_receiver(self, params: VideoParameters) -> RtpReceiver:
        payload_types = {pt: codec.clock_rate for pt, codec in params.receive_codecs.items()}
        # One packet is enough to latch: losing the first packet of the first key frame costs a PLI round trip.
        return RtpReceiver(payload_types, remote=(params.remote_address, params.remote_port), min_sequential=1)

    # -- public API (any thread) ----------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                raise MediaError("video session already started")
            self._setup_rtcp_socket()
            self._discard_queued()
            self._thread = threading.Thread(target=self._run, name=f"video-{self.local_address[1]}", daemon=True)
            self._thread.start()

    def _discard_queued(self) -> None:
        """Drop what waits on the port from before this session: the tail of a stream dropped by re-INVITE
        would otherwise pass probation and latch the old SSRC, and the new stream would be refused. A relayed
        socket keeps what waits: its TURN server's answers."""
        for _ in range(0 if self._relayed else _STALE_LIMIT):
            try:
                self._sock.recv(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return

    def stop(self, timeout: float = 2.0) -> None:
        """Send RTCP BYE, stop and join the thread, close the sockets, the recorder and the source."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("video thread %s did not stop within %.1f s", thread.name, timeout)
        with self._lock:
            if self._owns_sock:
                self._sock.close()
            if self._rtcp_sock is not None:
                self._rtcp_sock.close()
            if self._recorder is not None:
                self._recorder.close()
            if self._source is not None:
                self._source.close()
            self._encoder.close()
            self._decoder.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def recorder(self) -> VideoRecorder | None:
        return self._recorder

    def update(self, params: VideoParameters) -> None:
        """What a new offer/answer agreed (another address, direction, payload type or keys).

        Raises :class:`MediaError` when the keys are unusable, or missing on an encrypted stream (protection is
        never dropped mid-call); new SDES keys take over from the next packet.
        """
        crypto = params.crypto
        if crypto is None and self._protection is not None:
            raise MediaError("the video is encrypted; a plain re-offer cannot turn that off")
        if crypto is not None:
            if self._protection is None:
                raise MediaError("encryption cannot start on a video stream that began in plain RTP")
            try:
                check_crypto(crypto)
            except ValueError as exc:
                raise MediaError(f"cannot protect the video: {exc}") from exc

        def apply() -> None:
            moved = (params.remote_address, params.remote_port) != (
                self._params.remote_address,
                self._params.remote_port,
            )
            self._params = params
            self._sender.payload_type = params.payload_type
            self._receiver.payload_types = {pt: c.clock_rate for pt, c in params.receive_codecs.items()}
            if moved:
                self._receiver.remote = (params.remote_address, params.remote_port)
                self._receiver.reset_latch()
            self._setup_rtcp_socket()
            self._peer_max_bitrate = params.max_bitrate
            if self.rate is not None:
                self.rate.limit(self._max_bitrate())
            link = follow(self._ice, params.ice, self._sock, self._ice_selected, self._ice_failed)
            if link is not None and link is not self._ice and self._thread is not None:
                link.start(self._clock())  # an ICE restart (RFC 8445 9)
            self._ice = link
            if crypto is not None and self._protection is not None:
                self._protection.update(crypto)
                self._send_dtls(self._protection.start(self._clock()))

        self._command(apply)

    def replace_socket(
        self, sock: socket.socket, *, own: bool = True, released: Callable[[], None] | None = None
    ) -> None:
        """Video leaves from and arrives at ``sock`` from now on: our address changed. The old socket is closed if
        the session owned it, and ``released`` is called once the session has let it go. ICE waits for the restart
        that follows (its pairs were the old socket's)."""
        sock.setblocking(False)

        def swap() -> None:
            old, owned = self._sock, self._owns_sock
            self._sock, self._owns_sock = sock, own
            self._relayed = isinstance(sock, RelayedSocket)
            self.local_address = tuple(sock.getsockname())
            self._ice = None
            self._receiver.reset_latch()
            if self._rtcp_sock is not None:
                self._rtcp_sock.close()
                self._rtcp_sock = None
                self._setup_rtcp_socket()
            if owned:
                old.close()
            if released is not None:
                released()

        self._command(swap)

    def set_source(self, source: VideoSource | None) -> None:
        """Send from ``source`` from the next tick on (None: send nothing); the old source is closed."""

        def apply() -> None:
            old, self._source = self._source, source
            if old is not None and old is not source:
                old.close()
            self._force_keyframe = True  # the peer's decoder starts the new picture at once

        self._command(apply)

    def _max_bitrate(self) -> int:
        """The configured bitrate, or the peer's b= line when lower."""
        return min(self._configured_bitrate, self._peer_max_bitrate or self._configured_bitrate)

    def request_keyframe(self) -> None:
        self._command(lambda: setattr(self, "_force_keyframe", True))

    def _command(self, action: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None:
                action()
            else:
                self._commands.append(action)

    @property
    def sending(self) -> bool:
        if self._ice is not None and self._ice.route is None:
            return False  # media waits for ICE's route
        return self._source is not None and self._params.direction in ("sendrecv", "sendonly")

    def _ice_selected(self, route: Route, selected: bool) -> None:
        if route.remote != self._receiver.remote:
            self._receiver.remote = route.remote
            self._receiver.reset_latch()
        if (route.local, route.remote, route.path) != self._route:
            # Our packets now reach the peer another way: what it refused from the old one (its own pick)
            # included our key frame, so the new way starts with one.
            self._route = (route.local, route.remote, route.path)
            self._force_keyframe = True
        if selected:
            self._report_event(IceConnected(route.kind, route.local, route.remote))

    def _ice_failed(self, reason: str) -> None:
        self._report_event(IceFailure(reason))

    def _ice_peer(self, addr: Address) -> bool:
        """``addr`` is the remote end of ICE's route, or of another pair the peer may send on."""
        ice = self._ice
        route = ice.route if ice is not None else None
        return ice is not None and ((route is not None and addr[:2] == route.remote) or ice.media_from(addr))

    # -- the thread ------------------------------------------------------------------------------

    def _setup_rtcp_socket(self) -> None:
        """Without rtcp-mux, RTCP comes to the port above ours (RFC 3550 11)."""
        if self._params.rtcp_mux or self._rtcp_sock is not None:
            return
        host, port = self.local_address[0], self.local_address[1]
        rtcp = socket.socket(self._sock.family, socket.SOCK_DGRAM)
        try:
            rtcp.bind((host, port + 1))
        except OSError as exc:
            rtcp.close()
            log.warning("no RTCP port for video at %s:%d: %s", host, port + 1, exc)
            return
        rtcp.setblocking(False)
        self._rtcp_sock = rtcp

    def _run(self) -> None:
        period = 1.0 / self._fps
        now = self._clock()
        deadline = now
        next_rtcp = now + _RTCP_INTERVAL * random.uniform(0.5, 1.0)
        next_quality = now + _QUALITY_PERIOD
        failures = 0
        next_ice = now
        with self._lock:
            if self._ice is not None:
                self._ice.start(now)
            if self._protection is not None:
                self._send_dtls(self._protection.start(now))
        while not self._stop.is_set():
            now = self._clock()
            checking = self._ice is not None and not self._ice.selected
            if checking and now >= next_ice:
                # Until a pair is selected ICE is paced by Ta, not by the frame rate.
                with self._lock:
                    if self._ice is not None:
                        self._ice.poll(now)
                next_ice = now + _ICE_PACE
            if now < deadline:
                due = min(self._held[0][0] if self._held else deadline, next_ice if checking else deadline)
                self._wait_and_receive(min(deadline, due) - now)
                continue
            try:
                with self._lock:
                    while self._commands:
                        self._commands.popleft()()
                    self._tick(now)
                    if now >= next_rtcp:
                        self._send_rtcp(now)
                        next_rtcp = now + _RTCP_INTERVAL * random.uniform(0.5, 1.5)
                    if now >= next_quality:
                        self._report_quality(now - next_quality + _QUALITY_PERIOD)
                        next_quality = now + _QUALITY_PERIOD
                failures = 0
            except Exception as exc:
                failures += 1
                log.exception("video session %s: %s", self.local_address, exc)
                if failures >= 50:
                    break
            deadline += period
            if now - deadline > 10 * period:
                deadline = now + period  # a long stall: start again rather than burst
        try:
            with self._lock:
                self._send_bye()
        except OSError:
            pass

    def _wait_and_receive(self, timeout: float) -> None:
        socks = [self._sock] if self._rtcp_sock is None else [self._sock, self._rtcp_sock]
        # A relayed socket's TURN connection (TCP/TLS) is read by a recvfrom on the relayed socket.
        extra = self._sock.watched() if self._relayed else ()  # type: ignore[attr-defined]
        try:
            readable, _, _ = select.select([*socks, *extra], [], [], max(0.0, timeout))
        except (OSError, ValueError):
            time.sleep(max(0.0, timeout))
            return
        for sock in dict.fromkeys(self._sock if s in extra else s for s in readable):
            with self._lock:
                self._drain(sock)
        try:
            with self._lock:
                if readable:
                    # A frame whose last packet just came is shown now, not at the next tick.
                    self._play(self._clock())
                self._show_held(self._clock())
        except Exception:
            log.exception("video session %s: playing a frame failed", self.local_address)

    def _drain(self, sock: socket.socket) -> None:
        for _ in range(_DRAIN_LIMIT):
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            now = self._clock()
            try:
                if is_stun(data):
                    # RFC 7983: STUN on the video port is ICE's; without ICE it is nobody's.
                    if self._ice is not None and sock is self._sock:
                        self._ice.handle(data, addr, now)
                    else:
                        self.dropped_other += 1
                    continue
                if self._protection is not None:
                    plain = self._unprotect(sock, data, addr, now)
                    if plain is None:
                        continue
                    data = plain
                if is_rtcp(data) or sock is self._rtcp_sock:
                    self._handle_rtcp(data, addr, now)
                else:
                    self._handle_rtp(data, addr, now)
            except Exception:  # bad input from the network is never fatal
                self.dropped_other += 1

    def _handle_rtp(self, data: bytes, addr: Address, now: float) -> None:
        if self._ice is not None and addr[:2] != self._receiver.remote and self._ice.media_from(addr):
            # The peer sends on another pair than ours (before the nomination): its picture is taken from there.
            self._receiver.remote = (addr[0], addr[1])
            self._receiver.reset_latch()
        packet = self._receiver.receive(data, addr, now)
        if packet is None or self._params.direction not in ("sendrecv", "recvonly"):
            return
        if self._assembler.push(packet.sequence, packet.timestamp, packet.marker, packet.payload, now):
            self._window_bytes_in += len(data)
        if self._assembler.has_missing:
            self._request_feedback(now)  # RFC 4585 3.5.2: a NACK goes out at once, not at the next tick

    def _unprotect(self, sock: socket.socket, data: bytes, addr: Address, now: float) -> bytes | None:
        protection = self._protection
        assert protection is not None
        # DTLS runs on the RTP port only, from the peer's SDP address or the source we latched onto.
        latched = self._receiver.latched_addr
        from_peer = sock is self._sock and (
            addr[:2] == (self._params.remote_address, self._params.remote_port)
            or (isinstance(latched, tuple) and addr[:2] == latched[:2])
            or self._ice_peer(addr)
        )
        plain, out, event = protection.receive(data, now, from_peer=from_peer)
        for datagram in out:
            self._sendto(self._sock, datagram, addr)
        self._report_event(event)
        return plain

    def _report_event(self, event: MediaEvent | None) -> None:
        if event is None:
            return
        if isinstance(event, EncryptionFailed):
            log.warning("video encryption failed: %s", event.reason)
        if isinstance(event, EncryptionReady):
            self._force_keyframe = True  # what was encoded before the keys never left: start afresh
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("video event callback raised")

    def _send_dtls(self, datagrams: list[bytes]) -> None:
        for datagram in datagrams:
            self._sendto(self._sock, datagram, self._remote_rtp())

    def _poll_protection(self, now: float) -> None:
        protection = self._protection
        if protection is None or protection.dtls is None:
            return
        out, event = protection.poll(now)
        self._send_dtls(out)
        self._report_event(event)

    def _from_peer(self, addr: Address) -> bool:
        """RTCP is taken from where the peer's RTP comes from (rtcp-mux) or its SDP says; a NAT-ed peer's RTCP
        port is unknown, so without rtcp-mux any port of the latched host will do."""
        latched = self._receiver.latched_addr
        params = self._params
        if self._ice_peer(addr):
            return True
        if params.rtcp_mux:
            return addr[:2] == (params.remote_address, params.remote_port) or (
                isinstance(latched, tuple) and addr[:2] == latched[:2]
            )
        if addr[:2] == (params.remote_address, params.remote_rtcp_port):
            return True
        return isinstance(latched, tuple) and addr[0] == latched[0]

    def _handle_rtcp(self, data: bytes, addr: Address, now: float) -> None:
        if not self._from_peer(addr):
            self.rtcp_malformed += 1
            return
        try:
            packets = parse_compound(data, require_report_first=False)
        except MediaError:
            self.rtcp_malformed += 1
            return
        latched = self._receiver.latched_ssrc
        ours = self._sender.ssrc
        rate = self.rate
        for packet in packets:
            if isinstance(packet, SenderReport) and packet.ssrc == latched:
                self._receiver.note_sender_report(packet.ntp_timestamp, now)
                self.sync.on_sender_report(packet.ntp_timestamp, packet.rtp_timestamp)
            if isinstance(packet, SenderReport | ReceiverReport) and rate is not None:
                for block in packet.reports:
                    if block.ssrc == ours:
                        rate.on_report(
                            block.highest_sequence,
                            block.cumulative_lost,
                            now,
                            rtt=block.rtt(ntp_middle32(ntp_from_unix(self._wallclock()))),
                            acked_bytes=self._sent_by_sequence.get(block.highest_sequence & 0xFFFF),
                        )
        feedback = read_feedback(packets, ours)
        self.rtcp_malformed += feedback.malformed
        if rate is not None and feedback.remb is not None:
            rate.on_remb(feedback.remb)
        if rate is not None and feedback.tmmbr is not None:
            bitrate, overhead, owner = feedback.tmmbr
            changed = rate.tmmbr != bitrate
            rate.on_tmmbr(bitrate)
            # RFC 5104 4.2.2.1: the bound we now keep to goes back in a TMMBN, at once when it is a new one
            # (a peer repeating its request gets the answer with our next report, not a packet per request).
            self._tmmbn = tmmbn(ours, owner, bitrate, overhead)
            if changed:
                self._send_rtcp(now)
        # The peer's first request is answered at once: our first key frame went before its NAT or relay let us in.
        if feedback.keyframe and (not self._asked_keyframe or now - self._last_forced >= _KEYFRAME_SPACING):
            self._asked_keyframe = True
            self._force_keyframe = True
        if feedback.lost:
            self._retransmit(feedback.lost, now)

    def _retransmit(self, lost: list[int], now: float) -> None:
        # RFC 4585 6.2.1 leaves what to resend to the sender: ours are the packets as first sent, at a bounded rate.
        self._budget = min(float(_RETRANSMIT_BUDGET), self._budget + (now - self._budget_at) * _RETRANSMIT_BUDGET)
        self._budget_at = now
        for seq in lost:
            data = self._history.get(seq)
            if data is None or self._budget < 1:
                continue
            self._budget -= 1
            self._send_rtp(data)
            self.retransmitted += 1

    # -- one tick: send a frame, play what came ------------------------------------------------------

    def _tick(self, now: float) -> None:
        if self._ice is not None and self._ice.selected:
            self._ice.poll(now)  # consent (RFC 7675); checks before the selection have a pace of their own
        self._poll_protection(now)
        if self.sending:
            self._send_frame(now)
        self._play(now)
        self._show_held(now)
        self._request_feedback(now)

    def _play(self, now: float) -> None:
        """Decode, record and hand on every frame the frame buffer has ready."""
        for frame in self._assembler.pop(now):
            self.sync.on_played(frame.timestamp, now)
            if self._audio_delay is not None:
                self.hold = video_hold(self._audio_delay(), self.sync.delay, self.hold)
            errors = self._decoder.errors
            for picture in self._decoder.decode(frame.data):
                if self.hold < 0.001 and not self._held:
                    self._played(picture, now)
                else:
                    self._held.append((now + self.hold, picture))
            if self._decoder.errors > errors:
                self._assembler.need_keyframe = True  # what follows refers to a picture we do not have
            if self._recorder is not None:
                self._recorder.write(frame.data, frame.timestamp, frame.keyframe, (self.width, self.height))

    def _show_held(self, now: float) -> None:
        while self._held and self._held[0][0] <= now:
            self._played(self._held.popleft()[1], now)

    def _send_frame(self, now: float) -> None:
        source = self._source
        assert source is not None
        try:
            picture = source.next_frame(self._index)
        except MediaError as exc:
            # A file that stops decoding halfway: the stream goes on without pictures from us.
            log.warning("video source stopped: %s", exc)
            self._source = None
            source.close()
            return
        index = self._index
        if index == 0:
            self._sending_since = now
        timestamp = self._sender.timestamp + index * CLOCK_RATE // self._fps
        self._index += 1
        if picture is None:
            return
        rate = self.rate
        if rate is None:
            # The first source set after the start (set_source): the size its pictures come in.
            rate = self.rate = SendRateController(source.width, source.height, self._fps, self._max_bitrate())
        if self._on_preview is not None:
            try:
                self._on_preview(picture)
            except Exception:
                log.exception("video preview callback raised")
        keyframe = self._force_keyframe
        result = self._encoder.encode(picture, index, keyframe, rate.layer, rate.target, now)
        if result is None:
            return  # the layer's frame rate skips this one
        frames, fresh = result
        if keyframe or fresh:
            self._force_keyframe = False
            self._last_forced = now
            self.keyframes_sent += 1
        for encoded in frames:
            payloads = self._packetizer.packetize(encoded)
            for n, payload in enumerate(payloads):
                seq = self._sender.sequence
                data = self._protect(self._sender.packetize_at(payload, timestamp, marker=n == len(payloads) - 1))
                if data is None:
                    continue  # no keys yet (DTLS handshake): nothing leaves in clear
                # Kept as sent: libsrtp would refuse to protect the same sequence number twice.
                self._history[seq] = data
                if len(self._history) > _HISTORY:
                    self._history.popitem(last=False)
                self._sent_bytes += len(data)
                self._sent_by_sequence[seq] = self._sent_bytes
                if len(self._sent_by_sequence) > _ACKED_HISTORY:
                    self._sent_by_sequence.popitem(last=False)
                self._send_rtp(data)
                self._window_bytes_out += len(data)
            self.frames_sent += 1

    def _played(self, picture: av.VideoFrame, now: float) -> None:
        self.frames_decoded += 1
        self._window_frames += 1
        self.width, self.height = picture.width, picture.height
        if self._last_frame_at is not None:
            interval = now - self._last_frame_at
            # A freeze: a gap between pictures of three mean frame times and at least 150 ms more than one.
            frozen = interval > max(3 * self._mean_interval, self._mean_interval + 0.15)
            if frozen and not self._frozen:
                self.freezes += 1
            self._frozen = frozen
            self._mean_interval += (min(interval, 1.0) - self._mean_interval) / 16
        self._last_frame_at = now
        if self._on_frame is not None:
            try:
                self._on_frame(picture)
            except Exception:
                log.exception("video frame callback raised")

    def _request_feedback(self, now: float) -> None:
        media_ssrc = self._receiver.latched_ssrc
        if media_ssrc is None:
            return
        feedback = self._params.feedback
        missing = self._assembler.take_missing()
        if missing and "nack" in feedback:
            self._pending_feedback.append(nack(self._sender.ssrc, media_ssrc, missing))
            self.nacks_sent += 1
        if self._assembler.need_keyframe and now - self._last_request >= _KEYFRAME_SPACING:
            if "nack pli" in feedback:
                self._pending_feedback.append(pli(self._sender.ssrc, media_ssrc))
            elif "ccm fir" in feedback:
                self._fir_sequence += 1
                self._pending_feedback.append(fir(self._sender.ssrc, media_ssrc, self._fir_sequence))
            else:
                return
            self._last_request = now
            self.keyframes_requested += 1
        if self._pending_feedback:
            # RFC 4585 3.5.2: feedback goes out early, in a compound packet with a report.
            self._send_rtcp(now)

    # -- sending ---------------------------------------------------------------------------------

    def _remote_rtp(self) -> Address:
        latched = self._receiver.latched_addr
        if isinstance(latched, tuple):
            return latched  # RFC 4961: symmetric RTP
        return (self._params.remote_address, self._params.remote_port)

    def _remote_rtcp(self) -> Address:
        if self._params.rtcp_mux:
            return self._remote_rtp()
        return (self._params.remote_address, self._params.remote_rtcp_port)

    def _protect(self, packet: bytes, *, rtcp: bool = False) -> bytes | None:
        if self._protection is None:
            return packet
        return self._protection.protect(packet, rtcp=rtcp)

    def _sendto(self, sock: socket.socket, data: bytes, addr: Address) -> None:
        if self._ice is not None and sock is self._sock:
            self._ice.send(data)  # by ICE's route; nothing before it has one
            return
        try:
            sock.sendto(data, addr)
        except OSError:
            self.dropped_other += 1

    def _send_rtp(self, data: bytes) -> None:
        self._sendto(self._sock, data, self._remote_rtp())

    def _report(self, now: float) -> RtcpPacket:
        block = self._receiver.report_block(now)
        blocks = (block,) if block is not None else ()
        if self.frames_sent and self._sending_since is not None:
            # RFC 3550 6.4.1: the RTP timestamp of this instant, on the clock the frames are stamped by.
            elapsed = round((now - self._sending_since) * CLOCK_RATE)
            return self._sender.sender_report(self._wallclock(), self._sender.timestamp + elapsed, reports=blocks)
        return ReceiverReport(self._sender.ssrc, blocks)

    def _send_rtcp(self, now: float, *extra: RtcpPacket) -> None:
        packets = [self._report(now), cname_packet(self._sender.ssrc, self._cname), *self._pending_feedback, *extra]
        if self._tmmbn is not None:
            packets.append(self._tmmbn)
            self._tmmbn = None
        self._pending_feedback.clear()
        try:
            data = self._protect(build_compound(packets), rtcp=True)
        except MediaError:
            self.dropped_other += 1
            return
        if data is not None:
            self._sendto(self._rtcp_sock if self._rtcp_sock is not None else self._sock, data, self._remote_rtcp())

    def _send_bye(self) -> None:
        if self._sock.fileno() >= 0:
            self._send_rtcp(self._clock(), Bye((self._sender.ssrc,)))

    # -- quality ---------------------------------------------------------------------------------

    def quality(self, window: float = _QUALITY_PERIOD) -> VideoQuality:
        stats = self._receiver.stats
        expected = self._receiver.retired_expected + (max(0, stats.expected) if stats is not None else 0)
        lost = self._receiver.retired_lost + (stats.cumulative_lost if stats is not None else 0)
        dropped = (
            self._receiver.dropped_malformed
            + self._receiver.dropped_unknown_pt
            + self._receiver.dropped_wrong_source
            + self._receiver.dropped_unknown_ssrc
            + self._assembler.packets_malformed
            + self.rtcp_malformed
            + self.dropped_other
        )
        protection = self._protection
        srtp_dropped = 0 if protection is None else sum(protection.dropped.values())
        rate = self.rate if self.sending else None
        video_delay = None if self.sync.delay is None else self.sync.delay + self.hold
        offset = av_offset(self._audio_delay() if self._audio_delay is not None else None, video_delay)
        return VideoQuality(
            codec=self._params.codec.name,
            width=self.width,
            height=self.height,
            fps=round(self._window_frames / window, 1),
            bitrate_kbps=round(self._window_bytes_in * 8 / window / 1000, 1),
            send_bitrate_kbps=round(self._window_bytes_out * 8 / window / 1000, 1),
            frames_decoded=self.frames_decoded,
            frames_sent=self.frames_sent,
            freezes=self.freezes,
            loss_percent=round(100 * max(0, lost) / expected, 2) if expected > 0 else 0.0,
            keyframes_requested=self.keyframes_requested,
            keyframes_sent=self.keyframes_sent,
            nacks_sent=self.nacks_sent,
            retransmitted=self.retransmitted,
            packets_dropped=dropped + srtp_dropped,
            encrypted=protection is not None and protection.ready,
            srtp_dropped=srtp_dropped,
            target_bitrate_kbps=round(rate.target / 1000, 1) if rate is not None else 0.0,
            send_width=rate.layer.width if rate is not None else 0,
            send_height=rate.layer.height if rate is not None else 0,
            send_fps=rate.layer.fps if rate is not None else 0,
            av_offset_ms=None if offset is None else round(offset * 1000, 1),
        )

    def _report_quality(self, window: float) -> None:
        snapshot = self.quality(max(window, 1e-3))
        self._window_frames = self._window_bytes_in = self._window_bytes_out = 0
        if self._on_quality is not None:
            try:
                self._on_quality(snapshot)
            except Exception:
                log.exception("video quality callback raised")

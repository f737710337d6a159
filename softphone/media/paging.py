"""Multicast paging: a one-way announcement sent as RTP to a multicast group, with no SIP.

A :class:`PageSender` reads an :class:`~softphone.media.sources.AudioSource` and
sends it to a group through the call path's own
:class:`~softphone.media.send_stream.SendStream` (resampler, encoder, RTP
packetiser). A :class:`PageReceiver` joins one group and hands what arrives to a
:class:`~softphone.media.receive_stream.ReceiveStream` (RTP checks, jitter
buffer, decoders); which page is heard is decided above it
(:mod:`softphone.ua.paging`), which tells a receiver to :meth:`PageReceiver.play`
or :meth:`PageReceiver.suppress` the page it reports.

A receiver faces the LAN, so what one sender can make it spend is bounded:
datagrams larger than an Ethernet frame, of payload types the group was not
configured with, from addresses outside the group's allow-list, or that are
not RTP at all are counted and dropped after a parse; at most
``_DRAIN_LIMIT`` datagrams are taken per wake-up, and audio is decoded once
per ptime, for the one source the stream latched (RFC 3550 A.1 probation).
A page ends when its source has sent nothing valid for ``timeout`` seconds.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import numpy as np

from softphone.media.errors import MediaError
from softphone.media.events import MediaEvent
from softphone.media.receive_stream import ReceiveStream
from softphone.media.ring import RingBuffer
from softphone.media.send_stream import SendStream
from softphone.media.sources import PIPELINE_RATE, AudioSink, AudioSource, NullSink, Samples

__all__ = [
    "PAGING_CODECS",
    "PTIME_MS",
    "PageCodec",
    "PageEnded",
    "PageMix",
    "PageReceiver",
    "PageSender",
    "PageStarted",
    "group_address",
    "multicast_socket",
]

log = logging.getLogger(__name__)

PTIME_MS = 20
_MAX_DATAGRAM = 1500  # an Ethernet frame's payload; pages are far smaller
_DRAIN_LIMIT = 256
_WAKE = 0.05  # longest wait before a stop request is seen


@dataclass(frozen=True)
class PageCodec:
    """An RTP audio format a page is sent in (fits :class:`~softphone.media.parameters.CodecDescription`)."""

    name: str
    clock_rate: int
    channels: int
    payload_type: int
    fmtp: Mapping[str, str] = field(default_factory=dict)


# Static payload types of RFC 3551 for G.711 and G.722; Opus has none, so pages use 111 as many phones do.
PAGING_CODECS: dict[str, PageCodec] = {
    "pcmu": PageCodec("PCMU", 8000, 1, 0),
    "pcma": PageCodec("PCMA", 8000, 1, 8),
    "g722": PageCodec("G722", 8000, 1, 9),
    "opus": PageCodec("opus", 48000, 2, 111),
}


@dataclass(frozen=True)
class _PageParameters:
    """A page's stream in the shape of :class:`~softphone.media.parameters.MediaParameters`."""

    remote_address: str
    remote_port: int
    codec: PageCodec
    receive_codecs: Mapping[int, PageCodec]
    direction: str
    remote_rtcp_port: int = 0
    telephone_event: int | None = None
    telephone_events: Mapping[int, int] = field(default_factory=dict)
    ptime: int = PTIME_MS
    rtcp_mux: bool = False
    remote_ssrc: int | None = None
    ice: None = None  # a group has no ICE

    @property
    def payload_type(self) -> int:
        return self.codec.payload_type


def group_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``host`` as a multicast address, or :class:`MediaError` saying why it is not one."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise MediaError(f"{host!r} is not an IP address") from None
    if not ip.is_multicast:
        raise MediaError(f"{ip} is not a multicast address (224.0.0.0/4 or ff00::/8)")
    return ip


def _ifindex(interface: str | None) -> int:
    if not interface:
        return 0
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        raise MediaError(f"no network interface named {interface!r}") from None


def _sender_socket(group: str, ttl: int, interface: str | None) -> socket.socket:
    ip = group_address(group)
    index = _ifindex(interface)
    if ip.version == 4:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        if index:
            # struct ip_mreqn: no group, any address, this interface.
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, struct.pack("@4s4si", bytes(4), bytes(4), index))
    else:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        if index:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    return sock


def multicast_socket(group: str, port: int, interface: str | None = None) -> socket.socket:
    """A UDP socket bound to ``group``:``port`` that has joined the group (on ``interface``, else by route)."""
    return _receiver_socket(group, port, interface)


def _receiver_socket(group: str, port: int, interface: str | None) -> socket.socket:
    ip = group_address(group)
    index = _ifindex(interface)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Bound to the group itself, the socket takes that group's datagrams only, not unicast to the port.
        if ip.version == 4:
            sock.bind((str(ip), port))
            mreqn = struct.pack("@4s4si", ip.packed, bytes(4), index)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        else:
            sock.bind((str(ip), port, 0, index))
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, ip.packed + struct.pack("@I", index))
    except OSError as exc:
        sock.close()
        raise MediaError(f"cannot listen on {ip} port {port}: {exc.strerror or exc}") from exc
    return sock


def _destination(group: str, port: int) -> tuple[str, int]:
    return (str(group_address(group)), port)


class PageSender:
    """Sends ``source`` to ``group``:``port`` as one RTP stream in ``codec``, 20 ms a packet, until :meth:`stop`."""

    def __init__(
        self,
        group: str,
        port: int,
        codec: PageCodec,
        source: AudioSource,
        *,
        ttl: int = 1,
        interface: str | None = None,
    ) -> None:
        if not 0 <= ttl <= 255:
            raise MediaError(f"TTL {ttl} is out of range (0-255)")
        self.group, self.port, self.codec = str(group_address(group)), port, codec
        self._sock = _sender_socket(group, ttl, interface)
        self._dest = _destination(group, port)
        self.packets_sent = 0
        self.send_errors = 0
        self._stream = SendStream(source, self._transmit, random.Random())
        params = _PageParameters(self.group, port, codec, {codec.payload_type: codec}, "sendonly")
        try:
            self._stream.configure(params, None, PTIME_MS)
        except MediaError:
            self._sock.close()
            raise
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"page-send-{self.group}", daemon=True)

    def _transmit(self, data: bytes) -> bool:
        try:
            self._sock.sendto(data, self._dest)
        except OSError as exc:
            self.send_errors += 1
            if self.send_errors == 1:
                log.warning("page to %s port %d: %s", self.group, self.port, exc.strerror or exc)
            return False
        self.packets_sent += 1
        return True

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        ptime = PTIME_MS / 1000
        deadline = time.monotonic()
        try:
            while not self._stop.wait(max(0.0, deadline - time.monotonic())):
                self._stream.step(True)
                deadline += ptime
                if time.monotonic() - deadline > 10 * ptime:
                    deadline = time.monotonic()  # stalled: resynchronise rather than burst
        except Exception:
            log.exception("page sender to %s failed", self.group)
        finally:
            self._sock.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        elif not self._thread.is_alive():
            self._sock.close()


@dataclass(frozen=True)
class PageStarted:
    """A source passed the checks on a group: page ``number`` of this receiver has begun."""

    number: int
    source: str
    codec: str


@dataclass(frozen=True)
class PageEnded:
    """Page ``number`` sent nothing valid for the receiver's timeout (or the receiver stopped)."""

    number: int


PageReport = PageStarted | PageEnded
Output = tuple[AudioSink, Callable[[], None]]


class _Output:
    """The sink the receive stream writes: the page's own while it is played, else nowhere."""

    def __init__(self) -> None:
        self.sink: AudioSink = NullSink()

    def write(self, block: Samples) -> None:
        self.sink.write(block)


class PageMix:
    """A page played into a call's own output: the call's sink becomes this, which adds the page to it.

    :attr:`page` is the sink the page's receiver writes (its thread); :meth:`write` is called by the call's
    media thread with what the call plays, and passes on the sum, clipped, to ``base``. The two meet in a
    single-producer, single-consumer ring; the call's side drops what is older than ``max_delay`` samples,
    so a page that runs ahead adds no delay, and plays silence for what has not arrived.
    """

    def __init__(self, base: AudioSink, max_delay: int = PIPELINE_RATE // 10) -> None:
        self.base = base
        self._max_delay = max_delay
        self._ring = RingBuffer(PIPELINE_RATE // 2, "float32")
        self._scratch = np.zeros(PIPELINE_RATE // 10, dtype=np.float32)
        self.page = _RingSink(self._ring)

    def write(self, block: Samples) -> None:
        data = np.asarray(block, dtype=np.float32).reshape(-1)
        frames = data.shape[0]
        if self._scratch.shape[0] < frames:
            self._scratch = np.zeros(frames, dtype=np.float32)
        excess = self._ring.available() - self._max_delay
        if excess > 0:
            self._ring.skip(excess)
        scratch = self._scratch[:frames]
        self._ring.read_into(scratch)
        self.base.write(np.clip(data + scratch, -1.0, 1.0))


class _RingSink:
    def __init__(self, ring: RingBuffer) -> None:
        self._ring = ring

    def write(self, block: Samples) -> None:
        self._ring.write(np.asarray(block, dtype=np.float32).reshape(-1))


class PageReceiver:
    """Listens on ``group``:``port`` for pages in ``codecs`` (from ``sources`` only, when given).

    ``report`` is called on the receiver's thread with a :class:`PageStarted`
    or :class:`PageEnded`; it must return quickly.
    """

    def __init__(
        self,
        group: str,
        port: int,
        codecs: Collection[PageCodec],
        report: Callable[[PageReport], None],
        *,
        sources: Collection[str] = (),
        interface: str | None = None,
        timeout: float = 1.0,
    ) -> None:
        if not codecs:
            raise MediaError("a paging group needs at least one codec")
        self.group, self.port = str(group_address(group)), port
        self.timeout = timeout
        self._allowed = {ipaddress.ip_address(s.strip("[]")) for s in sources}
        self._report = report
        self._codecs = {c.payload_type: c for c in codecs}
        self._sock = _receiver_socket(group, port, interface)
        self._output = _Output()
        self._stream = ReceiveStream(self._output, self._media_event, one_way_timeout=3600.0)
        first = next(iter(codecs))
        self._params = _PageParameters(self.group, port, first, dict(self._codecs), "recvonly")
        self._stream.configure(self._params, None, PTIME_MS)
        self.dropped_unknown_source = 0
        self.dropped_oversize = 0
        self.failures = 0
        self.pages = 0
        self._page: int | None = None  # the page of the latched source
        self._last_valid = 0.0
        self._close_output: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._commands: list[tuple[str, int, Callable[[], Output] | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"page-recv-{self.group}", daemon=True)

    def _media_event(self, event: MediaEvent) -> None:
        pass  # no telephone-events are configured on a page; one-way audio is not watched

    # --- commands from other threads ---------------------------------------------------------

    def play(self, number: int, open_output: Callable[[], Output]) -> None:
        """Play page ``number`` (if it is still the current one) into the sink ``open_output`` gives."""
        with self._lock:
            self._commands.append(("play", number, open_output))

    def suppress(self, number: int) -> None:
        """Stop playing page ``number``; its source is still followed, so it ends as a page does."""
        with self._lock:
            self._commands.append(("suppress", number, None))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def dropped(self) -> dict[str, int]:
        """Refused datagrams by reason (read while the thread runs: a snapshot, not exact)."""
        rx = self._stream.receiver
        return {
            "malformed": rx.dropped_malformed,
            "unknown_pt": rx.dropped_unknown_pt,
            "wrong_source": rx.dropped_wrong_source,
            "probation": rx.dropped_probation,
            "unknown_source": self.dropped_unknown_source,
            "oversize": self.dropped_oversize,
        }

    # --- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        ptime = PTIME_MS / 1000
        deadline = time.monotonic()
        while not self._stop.is_set():
            try:
                wait = min(_WAKE, max(0.0, deadline - time.monotonic()))
                readable, _, _ = select.select([self._sock], [], [], wait)
                if readable:
                    self._drain()
                now = time.monotonic()
                if now >= deadline:
                    self._tick(now)
                    deadline += ptime
                    if now - deadline > 10 * ptime:
                        deadline = now + ptime
            except Exception:
                # A bug must not end the listening: logged once, then the group is heard on.
                self.failures += 1
                if self.failures == 1:
                    log.exception("page receiver on %s failed; it goes on", self.group)
                self._end_page()
                self._stop.wait(ptime)
        self._end_page()
        self._sock.close()

    def _drain(self) -> None:
        for _ in range(_DRAIN_LIMIT):
            try:
                data, addr = self._sock.recvfrom(_MAX_DATAGRAM + 1, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("page receiver on %s: %s", self.group, exc)
                return
            self._receive(data, addr)

    def _receive(self, data: bytes, addr: tuple[str, int] | tuple[str, int, int, int]) -> None:
        if len(data) > _MAX_DATAGRAM:
            self.dropped_oversize += 1
            return
        if self._allowed and ipaddress.ip_address(addr[0].split("%")[0]) not in self._allowed:
            self.dropped_unknown_source += 1
            return
        now = time.monotonic()
        before = self._stream.packets_received
        self._stream.handle_rtp(data, (addr[0], addr[1]), now)
        if self._stream.packets_received == before:
            return
        self._last_valid = now
        if self._page is None:
            self.pages += 1
            self._page = self.pages
            codec = self._codecs.get(data[1] & 0x7F)
            self._report(PageStarted(self._page, addr[0], "" if codec is None else codec.name))

    def _tick(self, now: float) -> None:
        with self._lock:
            commands, self._commands = self._commands, []
        for name, number, open_output in commands:
            if number != self._page:
                continue
            if name == "play" and open_output is not None and self._close_output is None:
                try:
                    self._output.sink, self._close_output = open_output()
                except Exception as exc:
                    log.warning("page on %s: cannot play it: %s", self.group, exc)
            elif name == "suppress":
                self._close()
        if self._page is None:
            return
        if now - self._last_valid >= self.timeout:
            self._end_page()
            return
        self._stream.play(now, True)

    def _close(self) -> None:
        close, self._close_output = self._close_output, None
        self._output.sink = NullSink()
        if close is not None:
            try:
                close()
            except Exception as exc:
                log.warning("page on %s: closing its output: %s", self.group, exc)

    def _end_page(self) -> None:
        self._close()
        if self._page is not None:
            number, self._page = self._page, None
            self._stream.forget_source()
            self._stream.configure(self._params, None, PTIME_MS)  # a fresh jitter buffer and decoders
            self._report(PageEnded(number))

"""A SIP ALG for tests: a UDP forwarder between two user agents that puts media relays in the path.

Like the SIP "application layer gateway" of a NAT, it rewrites what passes so
that both the signalling and the media go through it::

    UA A ──► alg.address_a ─[SipAlg]─ alg.address_b ◄── UA B
    UA A ◄─► rtp.address_a ─[LossyRelay]─ rtp.address_b ◄─► UA B

Every SIP datagram that arrives on side A (A gives ``address_a`` as its
outbound proxy) is parsed with :func:`softphone.sip.parser.parse_message`,
rewritten and sent from side B's socket to peer B; what arrives on side B
goes from side A's socket to peer A. Rewriting:

- ``Contact``: host and port become the ALG's side that the receiver sends
  to, so in-dialog requests in both directions (ACK, BYE, re-INVITE) come
  through the ALG too;
- an SDP body (``softphone.sip.sdp``): the address and port of each audio
  stream become the relay's side facing the receiver, and ``a=rtcp`` names
  the RTCP relay's side (RFC 3605). The original addresses become the
  relays' endpoints, so a datagram from A's RTP port leaves the relay from
  ``rtp.address_b`` towards B's RTP port and the other way round. Each UA
  therefore both sends to and receives from the relay side named in the SDP
  it got: symmetric-RTP latching lands on the relay.

Content-Length stays right because the message is serialised by the
message model (``bytes(message)``). Responses find their way back because
the UAs answer to the Via ``received``/``rport`` of the ALG's socket
(RFC 3581). Datagrams that are not SIP (keep-alives) or do not parse are
forwarded unchanged. One audio stream at a time (and with ``video``, one
video stream with rtcp-mux through that relay); loopback only; the
forwarding thread stops on :meth:`SipAlg.close`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import select
import socket
import threading
from dataclasses import dataclass, field
from types import TracebackType

from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.parser import parse_message
from softphone.sip.sdp import Attribute, Connection, MediaDescription, SessionDescription, parse_sdp
from softphone.sip.uri import SipUri
from tests.media_relay import LossyRelay

Address = tuple[str, int]

_MAX_DATAGRAM = 65535
_POLL = 0.05


@dataclass
class AlgLog:
    """What went through: one line per SIP message (``"A>B INVITE"``, ``"B>A 200 INVITE"``) and counters."""

    messages: list[str] = field(default_factory=list)
    sdp_rewritten: int = 0
    contacts_rewritten: int = 0
    unparsed: int = 0
    errors: list[str] = field(default_factory=list)  # rewriting that failed (the datagram went unchanged)


def _connection_for(sdp: SessionDescription, media: MediaDescription) -> Connection | None:
    return media.connection if media.connection is not None else sdp.connection


class SipAlg:
    """A SIP-aware UDP forwarder between ``peer_a`` and ``peer_b``; see the module documentation."""

    def __init__(
        self,
        peer_a: Address,
        peer_b: Address,
        *,
        rtp: LossyRelay,
        rtcp: LossyRelay | None = None,
        host: str = "127.0.0.1",
        video: LossyRelay | None = None,
    ) -> None:
        self.peer_a = peer_a
        self.peer_b = peer_b
        self.rtp = rtp
        self.rtcp = rtcp
        self.video = video
        self.log = AlgLog()
        self._lock = threading.Lock()
        self._sock_a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock_b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock_a.bind((host, 0))
            self._sock_b.bind((host, 0))
        except OSError:
            self._sock_a.close()
            self._sock_b.close()
            raise
        # Media endpoints of each side as their SDP gave them: (RTP, RTCP).
        self._media: dict[str, tuple[Address, Address] | None] = {"A": None, "B": None}
        self._video: dict[str, Address | None] = {"A": None, "B": None}
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sip-alg", daemon=True)
        self._thread.start()

    @property
    def address_a(self) -> Address:
        """Where peer A sends its SIP (its outbound proxy)."""
        host, port = self._sock_a.getsockname()[:2]
        return host, port

    @property
    def address_b(self) -> Address:
        """Where peer B sends its SIP (A's Contact as B sees it)."""
        host, port = self._sock_b.getsockname()[:2]
        return host, port

    def messages(self) -> list[str]:
        with self._lock:
            return list(self.log.messages)

    def count(self, direction: str, what: str) -> int:
        """How many messages went ``direction`` ("A>B", "B>A") as ``what`` ("BYE", "200 BYE")."""
        return self.messages().count(f"{direction} {what}")

    def close(self, timeout: float = 2.0) -> None:
        self._closed.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._sock_a.close()
        self._sock_b.close()

    def __enter__(self) -> SipAlg:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the forwarding thread --------------------------------------------------------

    def _run(self) -> None:
        socks = [self._sock_a, self._sock_b]
        while not self._closed.is_set():
            try:
                readable, _, _ = select.select(socks, [], [], _POLL)
            except (OSError, ValueError):
                return
            for sock in readable:
                try:
                    data, _ = sock.recvfrom(_MAX_DATAGRAM)
                except OSError:
                    continue  # ICMP errors from earlier sends
                origin = "A" if sock is self._sock_a else "B"
                out, dest = (self._sock_b, self.peer_b) if origin == "A" else (self._sock_a, self.peer_a)
                try:
                    data = self._rewrite(data, origin)
                except Exception as exc:  # a bug here must show in the test, not stop the forwarding
                    with self._lock:
                        self.log.errors.append(f"{origin}: {type(exc).__name__}: {exc}")
                with contextlib.suppress(OSError):
                    out.sendto(data, dest)

    def _rewrite(self, data: bytes, origin: str) -> bytes:
        """The datagram that came from peer ``origin`` ("A" or "B"), as the other peer must see it."""
        if not data.strip():
            return data  # CRLF keep-alive
        try:
            message = parse_message(data)
            contacts = message.contacts
            content_type = message.content_type
        except SipParseError:
            with self._lock:
                self.log.unparsed += 1
            return data
        target = "B" if origin == "A" else "A"
        if isinstance(message, Request):
            what = message.method
        else:
            assert isinstance(message, Response)
            what = f"{message.status_code} {message.cseq.method}"
        with self._lock:
            self.log.messages.append(f"{origin}>{target} {what}")
        if contacts:
            # The receiver reaches the origin through the ALG side it sends to.
            host, port = self.address_b if target == "B" else self.address_a
            rewritten = [
                dataclasses.replace(c, uri=c.uri.replace(host=host, port=port)) if isinstance(c.uri, SipUri) else c
                for c in contacts
            ]
            message.headers["Contact"] = ", ".join(str(c) for c in rewritten)
            with self._lock:
                self.log.contacts_rewritten += 1
        if message.body and content_type is not None and content_type.mime == "application/sdp":
            message.body = self._rewrite_sdp(message.body, origin)
        return bytes(message)

    def _rewrite_sdp(self, body: bytes, origin: str) -> bytes:
        try:
            sdp = parse_sdp(body)
        except SipParseError:
            with self._lock:
                self.log.unparsed += 1
            return body
        # The receiver sends to the relay side facing it, which forwards to the origin's own address.
        rtp_side = self.rtp.address_b if origin == "A" else self.rtp.address_a
        rtcp_side = None if self.rtcp is None else (self.rtcp.address_b if origin == "A" else self.rtcp.address_a)
        for media in sdp.media:
            connection = _connection_for(sdp, media)
            if media.media == "video" and self.video is not None and media.port != 0 and connection is not None:
                # Video with rtcp-mux: one relay for RTP and RTCP, the port on the m= line (same host).
                self._video[origin] = (connection.address, media.port)
                media.port = int((self.video.address_b if origin == "A" else self.video.address_a)[1])
                continue
            if media.media != "audio" or media.port == 0 or connection is None or connection.is_unspecified:
                continue  # disabled, or on hold the RFC 2543 way: nothing to relay
            rtcp = media.rtcp
            rtcp_port = rtcp.port if rtcp is not None else media.port + 1  # RFC 3550 11
            rtcp_host = (
                rtcp.connection.address if rtcp is not None and rtcp.connection is not None else connection.address
            )
            self._media[origin] = ((connection.address, media.port), (rtcp_host, rtcp_port))
            relayed = Connection("IN", "IP4", str(rtp_side[0]))
            if media.connection is not None:
                media.connection = relayed
            else:
                sdp.connection = relayed
            media.port = int(rtp_side[1])
            if rtcp_side is not None:
                media.attributes = [a for a in media.attributes if a.name != "rtcp"]
                media.attributes.append(Attribute("rtcp", str(rtcp_side[1])))
        a, b = self._media["A"], self._media["B"]
        self.rtp.set_endpoints(None if a is None else a[0], None if b is None else b[0])
        if self.video is not None:
            self.video.set_endpoints(self._video["A"], self._video["B"])
        if self.rtcp is not None:
            self.rtcp.set_endpoints(None if a is None else a[1], None if b is None else b[1])
        with self._lock:
            self.log.sdp_rewritten += 1
        return sdp.to_bytes()

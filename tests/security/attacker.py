"""The attacker's tools.

:class:`UdpAttacker` is a raw UDP socket on a loopback address of its own (127.0.0.x, so the phone can
tell it from legitimate peers on 127.0.0.1), with :func:`request` to write what a scanner or forger
sends. :class:`Attacker` (made by :func:`attacker`) is a socket on 127.0.0.1 that sends hand-made
requests (:func:`sip_request`: any From, display name or body can be claimed), matches responses by
Call-ID and CSeq, answers the requests the phone sends back (NOTIFY) with 200, and keeps every
datagram so a test can search it for what must not leak.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Sequence

from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.parser import parse_message
from softphone.sip.transaction import make_response

ATTACKER = "127.0.0.66"
OFFER = (
    "v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
)


def descriptors() -> int:
    """File descriptors this process holds open."""
    return len(os.listdir("/proc/self/fd"))


def request(
    method: str,
    uri: str,
    *,
    source: tuple[str, int],
    call_id: str | None = None,
    from_tag: str | None = None,
    to_tag: str | None = None,
    to: str | None = None,
    cseq: int = 1,
    body: str = "",
    extra: str = "",
    transport: str = "UDP",
) -> bytes:
    """A request as a scanner or forger writes it (``source`` goes in Via and Contact)."""
    host, port = source
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} {host}:{port};branch=z9hG4bK{secrets.token_hex(8)};rport",
        "Max-Forwards: 70",
        f"From: <sip:scanner@{host}>;tag={from_tag or secrets.token_hex(4)}",
        f"To: <{to or uri}>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id or secrets.token_hex(10) + '@' + host}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:scanner@{host}:{port}>",
        "User-Agent: friendly-scanner",
    ]
    if extra:
        lines += extra.strip("\r\n").split("\r\n")
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


class UdpAttacker:
    """A UDP socket on its own loopback address; what comes back is collected without blocking."""

    def __init__(self, host: str = ATTACKER) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.address: tuple[str, int] = self.sock.getsockname()
        self.received: list[Response] = []

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        try:
            self.sock.sendto(data, to)
        except BlockingIOError:
            pass  # a full socket buffer drops it, as a flood would

    def drain(self) -> list[Response]:
        while True:
            try:
                data = self.sock.recv(65535)
            except BlockingIOError:
                return self.received
            try:
                message = parse_message(data)
            except SipParseError as exc:
                # An answer that echoes our garbage (a 5,000-digit CSeq) is still an answer.
                message = exc.partial
            if isinstance(message, Response):
                self.received.append(message)

    async def answer(self, data: bytes, to: tuple[str, int], timeout: float = 5.0) -> Response:
        """Send ``data`` and wait for its final response (again every 0.5 s, as UDP clients do)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = len(self.drain())
        while loop.time() < deadline:
            self.send(data, to)
            for _ in range(25):
                await asyncio.sleep(0.02)
                for response in self.drain()[seen:]:
                    if response.status_code >= 200:
                        return response
        raise AssertionError(f"no final response from {to} within {timeout} s")

    def close(self) -> None:
        self.sock.close()


async def until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "the condition") -> None:
    """Wait until ``condition()`` holds, polling; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s")
        await asyncio.sleep(0.02)


RETRANSMIT = 0.5
"""Seconds between retransmissions of a request without a final answer (RFC 3261 T1, loosely)."""


def sip_request(
    method: str,
    port: int,
    *,
    from_uri: str,
    local_port: int,
    user: str = "bob",
    display_name: str | None = None,
    call_id: str | None = None,
    cseq: int = 1,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
    branch: str | None = None,
    from_tag: str | None = None,
    to_tag: str | None = None,
) -> bytes:
    """A request to ``user`` at 127.0.0.1:``port`` claiming to be ``from_uri``; its Contact is the attacker.

    ``display_name`` goes between quotes as given (escape ``"`` and ``\\`` yourself).
    """
    name = f'"{display_name}" ' if display_name is not None else ""
    to = f"<sip:{user}@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} sip:{user}@127.0.0.1:{port} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch={branch or 'z9hG4bK' + secrets.token_hex(8)};rport",
        "Max-Forwards: 70",
        f"From: {name}<{from_uri}>;tag={from_tag or secrets.token_hex(4)}",
        f"To: {to}",
        f"Call-ID: {call_id or secrets.token_hex(12)}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:attacker@127.0.0.1:{local_port}>",
        *(f"{field}: {value}" for field, value in headers),
    ]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def _key(message: Request | Response) -> tuple[str, int, str]:
    return message.call_id, message.cseq.seq, message.cseq.method


class Attacker(asyncio.DatagramProtocol):
    """See the module documentation; make one with :func:`attacker`."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.heard: list[bytes] = []
        self.requests: list[Request] = []
        self._finals: dict[tuple[str, int, str], Response] = {}
        self._changed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.heard.append(data)
        try:
            message = parse_message(data)
        except SipParseError:
            return
        if isinstance(message, Response):
            if message.status_code >= 200:
                self._finals.setdefault(_key(message), message)
        else:
            self.requests.append(message)
            if message.method != "ACK" and self.transport is not None:
                self.transport.sendto(bytes(make_response(message, 200, to_tag=secrets.token_hex(4))), addr)
        self._changed.set()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def everything(self) -> bytes:
        """All the octets the phone sent us."""
        return b"".join(self.heard)

    async def ask(self, data: bytes, port: int, timeout: float = 15.0) -> Response:
        """Send ``data`` to 127.0.0.1:``port``, again every :data:`RETRANSMIT` s, until its final response."""
        assert self.transport is not None
        key = _key(parse_message(data))
        deadline = time.monotonic() + timeout
        next_send = 0.0
        while key not in self._finals:
            now = time.monotonic()
            if now >= deadline:
                raise AssertionError(f"no final response to {data[:60]!r} within {timeout} s")
            # Another request's answer wakes every waiter: only a retransmission timer's end sends again,
            # or 32 waiters would each resend on every answer (a storm that starves the phone's loop).
            if now >= next_send:
                self.transport.sendto(data, ("127.0.0.1", port))
                next_send = now + RETRANSMIT
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), max(0.01, min(next_send, deadline) - time.monotonic()))
            except TimeoutError:
                pass
        return self._finals[key]

    async def flood(self, requests: Iterable[bytes], port: int, window: int = 32) -> list[Response]:
        """Send every request (at most ``window`` waiting for an answer at once); their final responses."""
        slots = asyncio.Semaphore(window)

        async def one(data: bytes) -> Response:
            async with slots:
                return await self.ask(data, port, timeout=60.0)

        return list(await asyncio.gather(*(one(data) for data in requests)))

    async def request_from_phone(self, matches: Callable[[Request], bool], timeout: float = 10.0) -> Request:
        """The first request the phone sent us that ``matches`` (waiting for it, bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            for request in self.requests:
                if matches(request):
                    return request
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no such request from the phone within {timeout} s: {self.requests}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    def send(self, data: bytes, port: int) -> None:
        """Send once, no waiting (an INVITE that will ring, an ACK)."""
        assert self.transport is not None
        self.transport.sendto(data, ("127.0.0.1", port))

    def final(self, data: bytes) -> Response | None:
        """The final response to the request ``data`` heard so far, if any."""
        return self._finals.get(_key(parse_message(data)))

    async def unanswered(self, data: bytes, port: int, phone: object) -> None:
        """Send ``data`` and check the phone drops it without a word (counted, not answered)."""
        dropped = phone.router.dropped  # type: ignore[attr-defined]
        before = dropped.total
        self.send(data, port)
        await until(lambda: dropped.total > before, what="the request to be dropped")
        await asyncio.sleep(0)
        assert self.final(data) is None, "a stranger gets no answer at all"

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def attacker() -> Attacker:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(Attacker, local_addr=("127.0.0.1", 0))
    return protocol


def udp_port(ua: object) -> int:
    """Where a UserAgent listens for UDP."""
    return int(ua.stack.transport.local_address("UDP")[1])  # type: ignore[attr-defined]

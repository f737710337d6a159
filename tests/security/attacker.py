"""The attacker: a raw UDP socket on loopback that sends hand-made SIP requests and keeps all it hears.

Requests are written by hand (:func:`sip_request`) so that any From, display name or body can be
claimed; responses are matched by Call-ID and CSeq, requests the phone sends back (NOTIFY) are
answered 200, and every datagram received is kept so a test can search it for what must not leak.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterable, Sequence

from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.parser import parse_message
from softphone.sip.transaction import make_response

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
        while key not in self._finals:
            if time.monotonic() >= deadline:
                raise AssertionError(f"no final response to {data[:60]!r} within {timeout} s")
            self.transport.sendto(data, ("127.0.0.1", port))
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(RETRANSMIT, max(0.01, deadline - time.monotonic())))
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

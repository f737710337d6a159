"""An attacker's tools: raw SIP over UDP and TCP from loopback addresses of its own (127.0.0.x)."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Callable

from softphone.sip.errors import SipParseError
from softphone.sip.message import Response
from softphone.sip.parser import parse_message

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

"""How the UserAgent answers requests it cannot or need not take (RFC 3261 8.2), over loopback UDP."""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from softphone.sip.transaction import TimerSettings
from softphone.ua import Account, UserAgent
from tests.ua import make_ua

SDP_OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP {formats}\r\n{rtpmaps}"
)


def offer(formats: str = "0", rtpmaps: str = "a=rtpmap:0 PCMU/8000\r\n") -> str:
    return SDP_OFFER.format(formats=formats, rtpmaps=rtpmaps)


class RawPeer:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def request(
        self,
        method: str,
        *,
        uri: str = "sip:alice@127.0.0.1",
        to_tag: str | None = None,
        extra: str = "",
        body: str = "",
        version: str = "SIP/2.0",
        cseq_method: str | None = None,
    ) -> bytes:
        to = "<sip:alice@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
        text = (
            f"{method} {uri} {version}\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:peer@127.0.0.1>;tag={secrets.token_hex(4)}\r\n"
            f"To: {to}\r\n"
            f"Call-ID: {secrets.token_hex(8)}@test\r\n"
            f"CSeq: 1 {cseq_method or method}\r\n"
            f"Contact: <sip:peer@127.0.0.1:{self.port}>\r\n"
            f"{extra}"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
        )
        return text.encode()

    async def exchange(self, ua: UserAgent, data: bytes, *, final: bool = True, timeout: float = 3.0) -> str:
        """Send ``data`` to the UA and return its first (final, unless told otherwise) response."""
        loop = asyncio.get_running_loop()
        host, port = ua.stack.transport.local_address("UDP")
        await loop.sock_sendto(self.sock, data, (host, port))
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError("no response from the user agent")
            reply = (await asyncio.wait_for(loop.sock_recv(self.sock, 65535), remaining)).decode()
            code = int(reply.split(" ", 2)[1])
            if not final or code >= 200:
                return reply


@asynccontextmanager
async def running_ua() -> AsyncIterator[tuple[UserAgent, RawPeer]]:
    # A registering account that also takes direct requests: the peer here talks to it straight.
    ua = make_ua(Account("sip:alice@127.0.0.1", "secret", direct_calls=True), listen=[("UDP", "127.0.0.1", 0)])
    await ua.start()
    peer = RawPeer()
    try:
        yield ua, peer
    finally:
        peer.sock.close()
        await ua.stop()


def status(reply: str) -> int:
    return int(reply.split(" ", 2)[1])


def header(reply: str, name: str) -> str | None:
    match = re.search(rf"^{name}:[ \t]*(.*?)\r?$", reply, re.I | re.M)
    return match.group(1) if match else None


def run(coroutine: object) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "code", "check_header"),
    [
        ({"method": "OPTIONS"}, 200, "Allow"),
        ({"method": "FOO"}, 501, "Allow"),
        ({"method": "PUBLISH"}, 405, "Allow"),
        ({"method": "OPTIONS", "uri": "mailto:alice@example.com"}, 416, None),
        ({"method": "OPTIONS", "extra": "Require: sec-agree, foo\r\n"}, 420, "Unsupported"),
        ({"method": "INVITE", "extra": "Content-Type: text/plain\r\n", "body": "hi"}, 415, "Accept"),
        ({"method": "INVITE", "extra": "Content-Type: application/sdp\r\n", "body": offer("3", "")}, 488, None),
        ({"method": "BYE", "to_tag": "nosuchtag"}, 481, None),
        ({"method": "INFO", "to_tag": "nosuchtag"}, 481, None),
        ({"method": "OPTIONS", "version": "SIP/3.0"}, 505, None),
        ({"method": "OPTIONS", "cseq_method": "INVITE"}, 400, None),
        ({"method": "OPTIONS", "extra": "Content-Type: ???\r\n", "body": "x"}, 400, None),
        ({"method": "CANCEL"}, 481, None),
    ],
)
def test_answers(kwargs: dict[str, str], code: int, check_header: str | None) -> None:
    async def scenario() -> None:
        async with running_ua() as (ua, peer):
            kwargs_copy = dict(kwargs)
            method = kwargs_copy.pop("method")
            reply = await peer.exchange(ua, peer.request(method, **kwargs_copy))
            assert status(reply) == code, reply
            if check_header is not None:
                assert header(reply, check_header), reply
            if code == 420:
                assert header(reply, "Unsupported") == "sec-agree, foo"
            if code == 200:
                assert "INVITE" in (header(reply, "Allow") or "")
                assert header(reply, "Accept") == "application/sdp"

    run(scenario())


def test_incoming_call_rings_then_is_declined() -> None:
    async def scenario() -> None:
        async with running_ua() as (ua, peer):
            request = peer.request("INVITE", extra="Content-Type: application/sdp\r\n", body=offer())
            loop = asyncio.get_running_loop()
            host, port = ua.stack.transport.local_address("UDP")
            await loop.sock_sendto(peer.sock, request, (host, port))
            replies: list[str] = []
            while not replies or status(replies[-1]) < 180:
                replies.append((await asyncio.wait_for(loop.sock_recv(peer.sock, 65535), 3)).decode())
            assert [status(r) for r in replies] == [100, 180]
            assert ";tag=" in (header(replies[-1], "To") or "")
            event = await asyncio.wait_for(ua.events.get(), 1)
            assert event.to_json()["event"] == "incoming_call"
            await ua.decline()
            reply = (await asyncio.wait_for(loop.sock_recv(peer.sock, 65535), 3)).decode()
            assert status(reply) == 603

    run(scenario())


async def _ring(ua: UserAgent, peer: RawPeer, request: bytes) -> list[str]:
    loop = asyncio.get_running_loop()
    host, port = ua.stack.transport.local_address("UDP")
    await loop.sock_sendto(peer.sock, request, (host, port))
    replies: list[str] = []
    while not replies or status(replies[-1]) < 180:
        replies.append((await asyncio.wait_for(loop.sock_recv(peer.sock, 65535), 3)).decode())
    return replies


def test_caller_identity_and_photo_are_shown() -> None:
    async def scenario() -> None:
        async with running_ua() as (ua, peer):
            extra = (
                'P-Asserted-Identity: "Bob Builder" <sip:bob@example.com>\r\n'
                "Call-Info: <https://example.com/info>;purpose=info, <https://example.com/bob.png>;purpose=icon\r\n"
                "Content-Type: application/sdp\r\n"
            )
            await _ring(ua, peer, peer.request("INVITE", extra=extra, body=offer()))
            event = await asyncio.wait_for(ua.events.get(), 1)
            data = event.to_json()
            assert data["event"] == "incoming_call"
            assert data["photo_url"] == "https://example.com/bob.png"
            assert data["asserted_identity"] == '"Bob Builder" <sip:bob@example.com>' or data[
                "asserted_identity"
            ].startswith("Bob Builder")
            call_event = await asyncio.wait_for(ua.events.get(), 1)
            assert call_event.to_json()["photo_url"] == "https://example.com/bob.png"

    run(scenario())


def test_answer_offerless_invite_and_cancel() -> None:
    async def scenario() -> None:
        async with running_ua() as (ua, peer):
            loop = asyncio.get_running_loop()
            # An INVITE without SDP: our offer goes in the 200.
            await _ring(ua, peer, peer.request("INVITE"))
            await ua.answer()
            reply = (await asyncio.wait_for(loop.sock_recv(peer.sock, 65535), 3)).decode()
            assert status(reply) == 200 and "m=audio" in reply
            port = int(re.search(r"m=audio (\d+)", reply).group(1))  # type: ignore[union-attr]
            assert port % 2 == 0
            call = ua.calls[0]
            assert call.media_port.port == port and call.state == "confirmed"
            # A CANCEL for an INVITE that is not pending is 481; for a ringing one: 200 and 487.
            invite = peer.request("INVITE", extra="Content-Type: application/sdp\r\n", body=offer())
            await _ring(ua, peer, invite)
            cancel = invite.replace(b"INVITE sip:", b"CANCEL sip:", 1).replace(b" INVITE\r\n", b" CANCEL\r\n")
            cancel = cancel.split(b"Content-Type")[0] + b"Content-Length: 0\r\n\r\n"
            host, uport = ua.stack.transport.local_address("UDP")
            await loop.sock_sendto(peer.sock, cancel, (host, uport))
            codes: set[int] = set()
            while not {200, 487} <= codes:
                reply = (await asyncio.wait_for(loop.sock_recv(peer.sock, 65535), 3)).decode()
                codes.add(status(reply))
            ended = [c for c in ua.calls if c.direction == "incoming"]
            assert len(ended) == 1  # the cancelled one is gone; the answered one remains

    run(scenario())


def test_outgoing_call_times_out_with_408() -> None:
    async def scenario() -> None:
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        try:
            port = silent.getsockname()[1]
            # Timer B is 64*T1: 1.3 s here.
            timers = TimerSettings(T1=0.02, T2=0.1, T4=0.1, D=0.2)
            ua = make_ua(Account("sip:alice@127.0.0.1", "x", registrar=f"sip:127.0.0.1:{port}"), timers=timers)
            await ua.start()
            try:
                call = await ua.call("sip:bob@127.0.0.1")
                while True:
                    event = await asyncio.wait_for(ua.events.get(), 15)
                    data = event.to_json()
                    if data["event"] == "call" and data["state"] == "ended":
                        break
                assert data["code"] == 408
                assert call.media_port.closed
            finally:
                await ua.stop()
        finally:
            silent.close()

    run(scenario())

"""Outgoing calls against a scripted peer on loopback: early media, forking, failover, CANCEL."""

from __future__ import annotations

import asyncio
import re
import socket

from softphone.sip.message import Request, Response
from softphone.sip.parser import parse_message
from softphone.sip.transaction import make_response
from softphone.sip.uri import SipUri
from softphone.transport import Target
from softphone.ua import Account, CallEvent, Event, UserAgent
from softphone.ua.events import CallState
from tests.ua import Recorder, make_ua

ANSWER = (
    "v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 42000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)


class ScriptedPeer:
    """A UDP socket that receives the UA's requests and sends back what a test tells it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.address: tuple[str, int] | None = None

    async def receive(self, method: str | None = None, timeout: float = 3.0) -> Request:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            data, self.address = await asyncio.wait_for(
                loop.sock_recvfrom(self.sock, 65535), max(0.01, deadline - loop.time())
            )
            message = parse_message(data)
            if isinstance(message, Request) and (method is None or message.method == method):
                return message

    def send(self, message: Response | Request) -> None:
        assert self.address is not None
        self.sock.sendto(bytes(message), self.address)

    def respond(self, request: Request, code: int, tag: str | None = None, sdp: bool = False) -> Response:
        headers = [("Contact", f"<sip:peer@127.0.0.1:{self.port}>")] if 100 < code < 300 else []
        if sdp:
            headers.append(("Content-Type", "application/sdp"))
        response = make_response(request, code, to_tag=tag, headers=headers, body=ANSWER.encode() if sdp else b"")
        self.send(response)
        return response

    async def agree(self) -> None:
        """Answer 200 to every request but ACK until cancelled: the server side of the UA's goodbyes.

        The peer is the account's server too, so the UA PUBLISHes its dialog state there (RFC 4235)
        and withdraws it on stop; a server that never answered would hold ``ua.stop()`` for its
        bounded waits (6 s), which tests/ua/test_stop.py covers.
        """
        loop = asyncio.get_running_loop()
        while True:
            data, address = await loop.sock_recvfrom(self.sock, 65535)
            message = parse_message(data)
            if isinstance(message, Request) and message.method != "ACK":
                headers = [("SIP-ETag", "e1"), ("Expires", "60")] if message.method == "PUBLISH" else []
                self.sock.sendto(bytes(make_response(message, 200, to_tag="agree", headers=headers)), address)


def state(value: CallState) -> object:
    return lambda e: isinstance(e, CallEvent) and e.state == value


async def with_peer(test: object) -> None:
    peer = ScriptedPeer()
    ua = make_ua(Account("sip:alice@127.0.0.1", "x", registrar=f"sip:127.0.0.1:{peer.port}"))
    events = Recorder(ua)
    await ua.start()
    try:
        await test(ua, peer, events)  # type: ignore[operator]
    finally:
        agreeing = asyncio.ensure_future(peer.agree())
        await ua.stop()
        agreeing.cancel()
        peer.sock.close()


def states(events: Recorder) -> list[str]:
    return [e.state for e in events.events if isinstance(e, CallEvent)]


def test_early_media_then_busy() -> None:
    async def test(ua: UserAgent, peer: ScriptedPeer, events: Recorder) -> None:
        call = await ua.call("bob")
        invite = await peer.receive("INVITE")
        assert invite.headers["Content-Type"] == "application/sdp"
        assert re.search(r"m=audio (\d+)", invite.body.decode())
        peer.respond(invite, 100)
        peer.respond(invite, 183, tag="t1", sdp=True)
        await events.wait(state("early"))  # type: ignore[arg-type]
        assert call.media is not None and call.media.remote_port == 42000
        assert call.media.codec.name == "PCMU"
        peer.respond(invite, 486, tag="t1")
        ended = await events.wait(state("ended"))  # type: ignore[arg-type]
        assert isinstance(ended, CallEvent) and ended.code == 486
        ack = await peer.receive("ACK")
        assert ack.cseq.seq == invite.cseq.seq
        assert states(events) == ["calling", "early", "ended"]

    asyncio.run(with_peer(test))


def test_forked_second_answer_is_acked_and_ended() -> None:
    async def test(ua: UserAgent, peer: ScriptedPeer, events: Recorder) -> None:
        call = await ua.call("sip:bob@127.0.0.1")
        invite = await peer.receive("INVITE")
        peer.respond(invite, 180, tag="fork1")
        peer.respond(invite, 180, tag="fork2")
        await events.wait(state("ringing"))  # type: ignore[arg-type]
        peer.respond(invite, 200, tag="fork1", sdp=True)
        await events.wait(state("confirmed"))  # type: ignore[arg-type]
        first_ack = await peer.receive("ACK")
        assert first_ack.to.tag == "fork1"
        peer.respond(invite, 200, tag="fork2", sdp=True)
        second_ack = await peer.receive("ACK")
        assert second_ack.to.tag == "fork2"
        bye = await peer.receive("BYE")
        assert bye.to.tag == "fork2"
        peer.respond(bye, 200)
        assert call.dialog is not None and call.dialog.remote_tag == "fork1" and call.state == "confirmed"
        # A retransmitted 2xx of the winning fork is ACKed again.
        peer.respond(invite, 200, tag="fork1", sdp=True)
        again = await peer.receive("ACK")
        assert again.to.tag == "fork1"

    asyncio.run(with_peer(test))


def test_cancel_waits_for_a_provisional_response() -> None:
    async def test(ua: UserAgent, peer: ScriptedPeer, events: Recorder) -> None:
        call = await ua.call("bob")
        invite = await peer.receive("INVITE")
        await ua.hangup(call.id)
        # RFC 3261 9.1: no CANCEL before a provisional response.
        peer.respond(invite, 180, tag="t")
        cancel = await peer.receive("CANCEL")
        assert cancel.cseq.seq == invite.cseq.seq and cancel.via.branch == invite.via.branch
        peer.respond(cancel, 200)
        peer.respond(invite, 487, tag="t")
        ended = await events.wait(state("ended"))  # type: ignore[arg-type]
        assert isinstance(ended, CallEvent) and ended.code == 487

    asyncio.run(with_peer(test))


def test_invite_fails_over_to_the_next_target_on_503() -> None:
    async def test(ua: UserAgent, peer: ScriptedPeer, events: Recorder) -> None:
        second = ScriptedPeer()
        try:
            original = ua.resolve

            async def resolve(uri: SipUri, account: Account | None = None) -> list[Target]:
                if uri.user is not None:  # in-dialog requests go to the Contact as usual
                    return await original(uri, account)
                return [Target("UDP", "127.0.0.1", peer.port), Target("UDP", "127.0.0.1", second.port)]

            ua.resolve = resolve  # type: ignore[method-assign]
            await ua.call("bob")
            invite = await peer.receive("INVITE")
            peer.respond(invite, 503)
            retried = await second.receive("INVITE")
            assert retried.call_id == invite.call_id and retried.via.branch != invite.via.branch
            second.respond(retried, 200, tag="x", sdp=True)
            await events.wait(state("confirmed"))  # type: ignore[arg-type]
            await second.receive("ACK")
        finally:
            second.sock.close()

    asyncio.run(with_peer(test))


def test_event_queue_is_bounded() -> None:
    async def scenario() -> None:
        ua = make_ua(Account("sip:a@127.0.0.1"), listen=[("UDP", "127.0.0.1", 0)])
        for index in range(ua.events.maxsize + 10):
            ua.emit(CallEvent(f"c{index}", "outgoing", "sip:b@c", None, "calling"))
        first: Event = ua.events.get_nowait()
        assert isinstance(first, CallEvent) and first.call_id == "c10"

    asyncio.run(scenario())


def _redirect(peer: ScriptedPeer, invite: Request, contact: str) -> None:
    peer.send(make_response(invite, 302, to_tag="r", headers=[("Contact", f"<{contact}>")]))


def test_redirects_are_followed_at_most_five_times() -> None:
    async def test(ua: UserAgent, peer: ScriptedPeer, events: Recorder) -> None:
        await ua.call("sip:bob@127.0.0.1")
        uris: list[str] = []
        for hop in range(6):
            invite = await peer.receive("INVITE")
            uris.append(str(invite.uri))
            _redirect(peer, invite, f"sip:hop{hop}@127.0.0.1")
        ended = await events.wait(state("ended"))  # type: ignore[arg-type]
        assert isinstance(ended, CallEvent) and ended.code == 302
        assert uris == ["sip:bob@127.0.0.1"] + [f"sip:hop{n}@127.0.0.1" for n in range(5)]

    asyncio.run(with_peer(test))


def test_redirect_loop_is_not_followed() -> None:
    async def test(ua: UserAgent, peer: ScriptedPeer, events: Recorder) -> None:
        await ua.call("sip:bob@127.0.0.1")
        first = await peer.receive("INVITE")
        _redirect(peer, first, "sip:carol@127.0.0.1")
        invite = await peer.receive("INVITE")
        assert str(invite.uri) == "sip:carol@127.0.0.1"
        assert invite.call_id == first.call_id and invite.cseq.seq == first.cseq.seq + 1
        _redirect(peer, invite, "sip:bob@127.0.0.1")
        ended = await events.wait(state("ended"))  # type: ignore[arg-type]
        assert isinstance(ended, CallEvent) and ended.code == 302

    asyncio.run(with_peer(test))

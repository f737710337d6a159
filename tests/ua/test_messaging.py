"""Instant messaging (RFC 3428, RFC 3994) between two user agents on loopback, each with its own store."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from softphone.sip.message import Request, Response
from softphone.sip.parser import parse_message
from softphone.sip.transaction import make_response
from softphone.store import Direction, MessageState, Store
from softphone.ua import (
    Account,
    CallEvent,
    ComposingEvent,
    Event,
    MessageEvent,
    MessageStatusEvent,
    RegistrationEvent,
    UserAgent,
    UserAgentError,
)
from softphone.ua import messaging as messaging_module
from tests.ua import Recorder, make_ua
from tests.ua.test_registration import ok, start_registrar

ALICE = "sip:alice@127.0.0.1"
BOB = "sip:bob@127.0.0.1"
UTF8_TEXT = "Grüße 👋 日本"


class Pair:
    """Alice and Bob, each sending everything out of dialog straight to the other's port."""

    def __init__(self, tmp_path: Path) -> None:
        self.alice_store = Store(tmp_path / "alice.db")
        self.bob_store = Store(tmp_path / "bob.db")
        # Each uses the other as its "proxy" to be reached by port, and takes direct messages from anyone.
        self.alice = make_ua(Account(ALICE, register=False, direct_calls=True), store=self.alice_store)
        self.bob = make_ua(Account(BOB, register=False, direct_calls=True), store=self.bob_store)
        self.alice_events = Recorder(self.alice)
        self.bob_events = Recorder(self.bob)

    async def start(self) -> None:
        await self.alice.start()
        await self.bob.start()
        self.alice.accounts[0].outbound_proxy = f"sip:127.0.0.1:{udp_port(self.bob)}"
        self.bob.accounts[0].outbound_proxy = f"sip:127.0.0.1:{udp_port(self.alice)}"

    async def stop(self) -> None:
        await self.alice.stop()
        await self.bob.stop()
        self.alice_store.close()
        self.bob_store.close()


def udp_port(ua: UserAgent) -> int:
    return ua.stack.transport.local_address("UDP")[1]


def run(tmp_path: Path, scenario: Callable[[Pair], Awaitable[None]]) -> None:
    async def main() -> None:
        pair = Pair(tmp_path)
        await pair.start()
        try:
            await scenario(pair)
        finally:
            await pair.stop()

    asyncio.run(main())


def status(message_id: int, value: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, MessageStatusEvent) and e.message_id == message_id and e.status == value


def statuses(recorder: Recorder, message_id: int) -> list[str]:
    return [e.status for e in recorder.events if isinstance(e, MessageStatusEvent) and e.message_id == message_id]


def is_message(e: Event) -> bool:
    return isinstance(e, MessageEvent)


def composing(active: bool) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, ComposingEvent) and e.active == active


class RawPeer(asyncio.DatagramProtocol):
    """A bare UDP endpoint that sends hand-made requests and collects the responses."""

    def __init__(self) -> None:
        self.responses: asyncio.Queue[Response] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = parse_message(data)
        if isinstance(message, Response):
            self.responses.put_nowait(message)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    async def ask(self, data: bytes, port: int) -> Response:
        """Send ``data`` to 127.0.0.1:``port`` (again every 0.5 s) until a final response comes."""
        assert self.transport is not None
        while True:
            self.transport.sendto(data, ("127.0.0.1", port))
            try:
                response = await asyncio.wait_for(self.responses.get(), 0.5)
            except TimeoutError:
                continue
            if response.status_code >= 200:
                return response


async def raw_peer() -> RawPeer:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(RawPeer, local_addr=("127.0.0.1", 0))
    return protocol


def raw_message(
    port: int,
    body: bytes,
    content_type: str | None = "text/plain;charset=UTF-8",
    *,
    call_id: str | None = None,
    cseq: int = 1,
    sender: str = "sip:carol@127.0.0.1",
    local_port: int = 9,
) -> bytes:
    lines = [
        f"MESSAGE sip:bob@127.0.0.1:{port} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK{secrets.token_hex(8)};rport",
        "Max-Forwards: 70",
        f"From: <{sender}>;tag={secrets.token_hex(4)}",
        f"To: <{BOB}>",
        f"Call-ID: {call_id or secrets.token_hex(10)}",
        f"CSeq: {cseq} MESSAGE",
    ]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- both ways, stored, with delivery states -------------------------------------------------------


def test_utf8_messages_both_ways_are_stored_and_reported(tmp_path: Path) -> None:
    async def scenario(p: Pair) -> None:
        message_id = await p.alice.messaging.send(BOB, UTF8_TEXT)
        # Written to the store before it went out.
        assert p.alice_store.messages.get(message_id) is not None
        await p.alice_events.wait(status(message_id, "sent"))
        assert statuses(p.alice_events, message_id) == ["queued", "sending", "sent"]
        sent = p.alice_store.messages.get(message_id)
        assert sent is not None and sent.state == MessageState.SENT and sent.text == UTF8_TEXT
        received = await p.bob_events.wait(is_message)
        assert isinstance(received, MessageEvent)
        assert (received.sender, received.text, received.account) == (ALICE, UTF8_TEXT, BOB)
        assert received.message_id is not None
        stored = p.bob_store.messages.get(received.message_id)
        assert stored is not None and stored.text == UTF8_TEXT and stored.direction == Direction.IN

        reply_id = await p.bob.messaging.send("alice", "Danke! ✓")
        await p.bob_events.wait(status(reply_id, "sent"))
        back = await p.alice_events.wait(is_message)
        assert isinstance(back, MessageEvent) and back.text == "Danke! ✓" and back.sender == BOB

        # The read side: conversation, unread count, search, paging, mark read.
        assert [m.text for m in p.alice.messaging.history("bob")] == [UTF8_TEXT, "Danke! ✓"]
        assert p.alice.messaging.unread_counts() == {BOB: 1}
        conversations = p.alice.messaging.conversations()
        assert [(c.peer, c.last.text, c.unread) for c in conversations] == [(BOB, "Danke! ✓", 1)]
        assert [m.text for m in p.alice.messaging.search("GRÜßE")] == [UTF8_TEXT]
        assert [m.text for m in p.alice.messaging.search("日本")] == [UTF8_TEXT]
        older = p.alice.messaging.history(BOB, before_id=back.message_id, limit=1)
        assert [m.text for m in older] == [UTF8_TEXT]
        assert p.alice.messaging.mark_read("bob") == 1
        assert p.alice.messaging.unread_counts() == {}

    run(tmp_path, scenario)


def test_failed_delivery_carries_the_status(tmp_path: Path) -> None:
    async def scenario(p: Pair) -> None:
        p.bob.messaging.max_body = 16
        message_id = await p.alice.messaging.send(BOB, "x" * 40)
        event = await p.alice_events.wait(status(message_id, "failed"))
        assert isinstance(event, MessageStatusEvent) and event.code == 413
        stored = p.alice_store.messages.get(message_id)
        assert stored is not None and stored.state == MessageState.FAILED
        assert stored.reason is not None and stored.reason.startswith("413 ")
        assert not [e for e in p.bob_events.events if isinstance(e, MessageEvent)]

        # Nobody listening there: the stack gives up (timeout or transport failure), the message fails.
        with_nobody = await raw_peer()
        port = with_nobody.port
        assert with_nobody.transport is not None
        with_nobody.transport.close()
        p.alice.accounts[0].outbound_proxy = f"sip:127.0.0.1:{port}"
        lost = await p.alice.messaging.send(BOB, "into the void")
        event = await p.alice_events.wait(status(lost, "failed"), timeout=30)
        assert isinstance(event, MessageStatusEvent) and event.reason in ("timeout", "transport failure")
        stored = p.alice_store.messages.get(lost)
        assert stored is not None and stored.state == MessageState.FAILED and stored.reason == event.reason

    run(tmp_path, scenario)


def test_bad_commands_raise(tmp_path: Path) -> None:
    async def scenario(p: Pair) -> None:
        with pytest.raises(UserAgentError):
            await p.alice.messaging.send(BOB, "")
        with pytest.raises(UserAgentError):
            await p.alice.messaging.send("mailto:bob@example.com", "hi")
        with pytest.raises(UserAgentError):
            await p.alice.messaging.send(BOB, "hi", call_id="c99")
        assert p.alice_store.messages.page(ALICE, BOB) == []

    run(tmp_path, scenario)


# --- receiving: duplicates, content types, sizes -----------------------------------------------------


def test_duplicate_message_is_stored_once_and_answered_200_even_after_a_restart(tmp_path: Path) -> None:
    async def scenario(p: Pair) -> None:
        peer = await raw_peer()
        port = udp_port(p.bob)
        call_id = secrets.token_hex(10)
        first = raw_message(port, b"once only", call_id=call_id, local_port=peer.port)
        again = raw_message(port, b"once only", call_id=call_id, local_port=peer.port)  # new branch
        assert (await peer.ask(first, port)).status_code == 200
        await p.bob_events.wait(is_message)
        assert (await peer.ask(again, port)).status_code == 200
        assert (await peer.ask(first, port)).status_code == 200
        # Another CSeq of the same Call-ID is another message.
        other = raw_message(port, b"second", call_id=call_id, cseq=2, local_port=peer.port)
        assert (await peer.ask(other, port)).status_code == 200
        await p.bob_events.wait(lambda e: isinstance(e, MessageEvent) and e.text == "second")
        texts = [m.text for m in p.bob_store.messages.page(BOB, "sip:carol@127.0.0.1")]
        assert texts == ["once only", "second"]
        assert [e.text for e in p.bob_events.events if isinstance(e, MessageEvent)] == ["once only", "second"]

        # A new process on the same database: the re-sent request is still known.
        await p.bob.stop()
        p.bob_store.close()
        p.bob_store = Store(tmp_path / "bob.db")
        p.bob = make_ua(Account(BOB, register=False), store=p.bob_store)
        p.bob_events = Recorder(p.bob)
        await p.bob.start()
        port = udp_port(p.bob)
        again = raw_message(port, b"once only", call_id=call_id, local_port=peer.port)
        assert (await peer.ask(again, port)).status_code == 200
        texts = [m.text for m in p.bob_store.messages.page(BOB, "sip:carol@127.0.0.1")]
        assert texts == ["once only", "second"]
        assert not [e for e in p.bob_events.events if isinstance(e, MessageEvent)]
        assert peer.transport is not None
        peer.transport.close()

    run(tmp_path, scenario)


def test_content_types_charsets_and_sizes(tmp_path: Path) -> None:
    async def scenario(p: Pair) -> None:
        peer = await raw_peer()
        port = udp_port(p.bob)

        async def answer(body: bytes, content_type: str | None) -> Response:
            return await peer.ask(raw_message(port, body, content_type, local_port=peer.port), port)

        html = await answer(b"<b>hi</b>", "text/html")
        assert html.status_code == 415
        accept = html.headers.get("Accept") or ""
        assert "text/plain" in accept and "application/im-iscomposing+xml" in accept
        assert (await answer("café".encode("latin-1"), "text/plain;charset=UTF-8")).status_code == 400
        assert (await answer(b"hi", "text/plain;charset=x-no-such-charset")).status_code == 415
        assert (await answer(b"hi", "text/plain;charset=base64")).status_code == 415
        assert (await answer(b"<isComposing", "application/im-iscomposing+xml")).status_code == 400
        bomb = (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>&b;</state></isComposing>'
        )
        assert (await answer(bomb, "application/im-iscomposing+xml")).status_code == 400
        p.bob.messaging.max_body = 100
        assert (await answer(b"y" * 101, "text/plain")).status_code == 413
        p.bob.messaging.max_body = messaging_module.MAX_BODY
        # Latin-1 as declared, and UTF-8 when no charset is given.
        assert (await answer("café".encode("latin-1"), "text/plain; charset=ISO-8859-1")).status_code == 200
        assert (await answer(UTF8_TEXT.encode(), "text/plain")).status_code == 200
        await p.bob_events.wait(lambda e: isinstance(e, MessageEvent) and e.text == UTF8_TEXT)
        texts = [m.text for m in p.bob_store.messages.page(BOB, "sip:carol@127.0.0.1")]
        assert texts == ["café", UTF8_TEXT]
        assert peer.transport is not None
        peer.transport.close()

    run(tmp_path, scenario)


def test_without_a_store_messages_are_still_delivered(tmp_path: Path) -> None:
    async def main() -> None:
        alice = make_ua(Account(ALICE, register=False))
        bob = make_ua(Account(BOB, register=False))
        alice_events, bob_events = Recorder(alice), Recorder(bob)
        await alice.start()
        await bob.start()
        try:
            alice.accounts[0].outbound_proxy = f"sip:127.0.0.1:{udp_port(bob)}"
            message_id = await alice.messaging.send(BOB, UTF8_TEXT)
            await alice_events.wait(status(message_id, "sent"))
            event = await bob_events.wait(is_message)
            assert isinstance(event, MessageEvent) and event.text == UTF8_TEXT and event.message_id is None
            assert bob.messaging.history(ALICE) == []
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())


# --- is-composing ---------------------------------------------------------------------------------------


def test_is_composing_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messaging_module, "COMPOSING_IDLE", 0.3)

    async def scenario(p: Pair) -> None:
        await p.alice.messaging.composing(BOB, True)
        typing = await p.bob_events.wait(composing(True))
        assert isinstance(typing, ComposingEvent) and typing.uri == ALICE and typing.account == BOB
        # More keystrokes within the refresh interval send nothing new.
        mark = p.bob_events.mark()
        await p.alice.messaging.composing(BOB, True)
        # No keystroke for COMPOSING_IDLE: "idle" goes out.
        await p.bob_events.wait(composing(False), after=mark)
        assert [e for e in p.bob_events.events[mark:] if isinstance(e, ComposingEvent)] == [
            ComposingEvent(ALICE, False, BOB)
        ]

        # The other way; a message ends the typing state without an idle document.
        await p.bob.messaging.composing("alice", True)
        await p.alice_events.wait(composing(True))
        mark = p.alice_events.mark()
        await p.bob.messaging.send(ALICE, "done typing")
        await p.alice_events.wait(composing(False), after=mark)
        await p.alice_events.wait(is_message, after=mark)

        # The user clears the input: "idle" at once.
        mark = p.bob_events.mark()
        await p.alice.messaging.composing(BOB, True)
        await p.bob_events.wait(composing(True), after=mark)
        await p.alice.messaging.composing(BOB, False)
        await p.bob_events.wait(composing(False), after=mark)
        # Nothing of this is stored.
        assert [m.text for m in p.alice_store.messages.page(ALICE, BOB)] == ["done typing"]
        assert [m.text for m in p.bob_store.messages.page(BOB, ALICE)] == ["done typing"]

    run(tmp_path, scenario)


def test_an_active_state_without_refresh_lapses(tmp_path: Path) -> None:
    async def scenario(p: Pair) -> None:
        peer = await raw_peer()
        port = udp_port(p.bob)
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">'
            b"<state>active</state><refresh>1</refresh></isComposing>"
        )
        request = raw_message(port, body, "application/im-iscomposing+xml", local_port=peer.port)
        assert (await peer.ask(request, port)).status_code == 200
        await p.bob_events.wait(composing(True))
        # RFC 3994 3.3: nothing refreshed it, so it lapses by itself.
        lapsed = await p.bob_events.wait(composing(False))
        assert isinstance(lapsed, ComposingEvent) and lapsed.uri == "sip:carol@127.0.0.1"
        assert peer.transport is not None
        peer.transport.close()

    run(tmp_path, scenario)


# --- in a call ------------------------------------------------------------------------------------------


def test_message_inside_a_call_goes_in_its_dialog(tmp_path: Path) -> None:
    async def scenario(p: Pair) -> None:
        p.bob.accounts[0].auto_answer = 0.0
        call = await p.alice.call(BOB)
        await p.alice_events.wait(lambda e: isinstance(e, CallEvent) and e.state == "confirmed")
        bob_call = await p.bob_events.wait(lambda e: isinstance(e, CallEvent) and e.state == "confirmed")
        assert isinstance(bob_call, CallEvent)
        message_id = await p.alice.messaging.send("", "in the call", call_id=call.id)
        await p.alice_events.wait(status(message_id, "sent"))
        received = await p.bob_events.wait(is_message)
        assert isinstance(received, MessageEvent) and received.call_id == bob_call.call_id
        reply = await p.bob.messaging.send("", "and back", call_id=bob_call.call_id)
        await p.bob_events.wait(status(reply, "sent"))
        back = await p.alice_events.wait(is_message)
        assert isinstance(back, MessageEvent) and back.call_id == call.id and back.text == "and back"
        # An in-dialog MESSAGE for a dialog that does not exist: 481.
        peer = await raw_peer()
        port = udp_port(p.bob)
        stray = raw_message(port, b"lost", local_port=peer.port).replace(
            f"To: <{BOB}>".encode(), f"To: <{BOB}>;tag=nosuchtag".encode()
        )
        assert (await peer.ask(stray, port)).status_code == 481
        assert peer.transport is not None
        peer.transport.close()
        await p.alice.hangup(call.id)

    run(tmp_path, scenario)


# --- queue while unregistered ------------------------------------------------------------------------------


def test_messages_wait_for_registration_and_go_in_order(tmp_path: Path) -> None:
    """A registrar that refuses at first: messages stay queued; once it accepts, they go out oldest first."""

    async def main() -> None:
        accepting = False
        messages: list[str] = []

        def script(request: Request, index: int) -> Response:
            if request.method == "REGISTER":
                return ok(request) if accepting else make_response(request, 403, to_tag="r1")
            if request.method != "MESSAGE":
                return make_response(request, 405, to_tag="r1")
            messages.append(request.body.decode())
            return make_response(request, 200, to_tag="r1")

        server = await start_registrar(script)
        store = Store(tmp_path / "alice.db")
        account = Account(ALICE, registrar=f"sip:127.0.0.1:{server.port}")
        alice = make_ua(account, store=store)
        events = Recorder(alice)
        await alice.start()
        try:
            await alice.register()
            await events.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "failed")
            ids = [await alice.messaging.send("bob", f"queued {n}") for n in range(3)]
            for message_id in ids:
                await events.wait(status(message_id, "queued"))
            assert [m.id for m in store.messages.queued(ALICE)] == ids
            assert not messages
            accepting = True
            for message_id in ids:
                await events.wait(status(message_id, "sent"))
            assert messages == ["queued 0", "queued 1", "queued 2"]
            assert all(statuses(events, i) == ["queued", "sending", "sent"] for i in ids)
            assert store.messages.queued(ALICE) == []
        finally:
            await alice.stop()
            assert server.transport is not None
            server.transport.close()
            store.close()

    asyncio.run(main())


def test_messages_left_sending_by_a_crash_are_sent_again_at_start(tmp_path: Path) -> None:
    # A previous run wrote two messages: one was on its way when the process died, one still queued.
    with Store(tmp_path / "alice.db") as store:
        first = store.messages.add_outgoing(ALICE, BOB, "interrupted")
        store.messages.set_state(first.id, MessageState.SENDING)
        second = store.messages.add_outgoing(ALICE, BOB, "never tried")

    async def scenario(p: Pair) -> None:
        assert await p.alice.messaging.flush() == 2
        for message_id in (first.id, second.id):
            await p.alice_events.wait(status(message_id, "sent"))
        await p.bob_events.wait(lambda e: isinstance(e, MessageEvent) and e.text == "never tried")
        assert [e.text for e in p.bob_events.events if isinstance(e, MessageEvent)] == ["interrupted", "never tried"]
        assert [m.state for m in p.alice_store.messages.page(ALICE, BOB)] == [MessageState.SENT] * 2

    run(tmp_path, scenario)

"""Busy lamps and automatic callback (RFC 4235) between user agents on loopback, peer to peer.

bob is the watched phone, alice watches (and asks for callbacks), carol calls bob.
No server: alice subscribes to bob's dialog package directly; bob allowed her to
(a colleague), with the calls' details where a test reads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from softphone.sip.dialog_info import (
    DIALOG_INFO_CONTENT_TYPE,
    DialogEntry,
    DialogState,
    build_dialog_info,
    parse_dialog_info,
)
from softphone.sip.message import Request, Response
from softphone.sip.uri import parse_uri
from softphone.ua import (
    Account,
    CallbackReadyEvent,
    CallEvent,
    DialogStateEvent,
    ErrorEvent,
    Event,
    IncomingCallEvent,
    SubscriptionEvent,
    UserAgent,
)
from softphone.ua.subscription import Decision, ServerSubscription, Subscription
from tests.ua import Recorder, make_ua


@dataclass
class Phone:
    ua: UserAgent
    events: Recorder

    @property
    def uri(self) -> str:
        port = self.ua.stack.transport.local_address("UDP")[1]
        return f"sip:{self.ua.accounts[0].user}@127.0.0.1:{port}"


def run(scenario: Callable[[Phone, Phone, Phone], Awaitable[None]]) -> None:
    """``scenario(bob, alice, carol)``: three phones with no server."""

    async def main() -> None:
        phones = []
        try:
            for name in ("bob", "alice", "carol"):
                ua = make_ua(Account(f"sip:{name}@127.0.0.1", register=False))
                phone = Phone(ua, Recorder(ua))
                phones.append(phone)
                await ua.start()
            phones[0].ua.dialog_state.allow("sip:alice@127.0.0.1")
            await scenario(*phones)
        finally:
            for phone in phones:
                await phone.ua.stop()

    asyncio.run(main())


def lamp(state: str, uri: str | None = None) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, DialogStateEvent) and e.state == state and (uri is None or e.uri == uri)


def call_state(state: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, CallEvent) and e.state == state


def lamps(phone: Phone, after: int = 0) -> list[str]:
    return [e.state for e in phone.events.events[after:] if isinstance(e, DialogStateEvent)]


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (bounded) for a condition the events do not announce."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def in_call(bob: Phone, carol: Phone) -> str:
    """carol calls bob, bob answers; returns bob's call id."""
    mark = bob.events.mark()
    await carol.ua.call(bob.uri)
    incoming = await bob.events.wait(lambda e: isinstance(e, IncomingCallEvent), after=mark)
    assert isinstance(incoming, IncomingCallEvent)
    await bob.ua.answer(incoming.call_id)
    await carol.events.wait(call_state("confirmed"))
    return incoming.call_id


@dataclass
class Bodies:
    """A raw dialog subscription that keeps every NOTIFY body."""

    documents: list[bytes] = field(default_factory=list)

    def on_notify(self, sub: Subscription, request: Request) -> int | None:
        if request.body:
            self.documents.append(request.body)
        return None


def test_busy_lamp_follows_a_call_idle_ringing_busy_idle() -> None:
    async def scenario(bob: Phone, alice: Phone, carol: Phone) -> None:
        bob.ua.dialog_state.allow("sip:alice@127.0.0.1", details=True)
        key = await alice.ua.dialog_state.watch(bob.uri)
        assert key == bob.uri
        await alice.events.wait(lamp("idle", key))
        assert alice.ua.dialog_state.state(bob.uri) == "idle"
        raw = Bodies()
        alice.ua.subscriptions.subscribe(
            alice.ua.accounts[0],
            parse_uri(bob.uri),
            "dialog",
            accept=[DIALOG_INFO_CONTENT_TYPE],
            on_notify=raw.on_notify,
        )
        await until(lambda: len(raw.documents) == 1)

        mark = alice.events.mark()
        await carol.ua.call(bob.uri)
        incoming = await bob.events.wait(lambda e: isinstance(e, IncomingCallEvent))
        await alice.events.wait(lamp("ringing"), after=mark)
        assert isinstance(incoming, IncomingCallEvent)
        await bob.ua.answer(incoming.call_id)
        await alice.events.wait(lamp("busy"), after=mark)
        await carol.events.wait(call_state("confirmed"))
        await carol.ua.hangup()
        await alice.events.wait(lamp("idle"), after=mark)
        assert lamps(alice, mark) == ["ringing", "busy", "idle"]

        # What bob served: full documents, versions 0, 1, 2 ... within the subscription (RFC 4235 4.1).
        await until(lambda: len(raw.documents) >= 4)
        infos = [parse_dialog_info(body) for body in raw.documents]
        assert [i.version for i in infos] == list(range(len(infos)))
        assert all(i.state == "full" and i.entity == "sip:bob@127.0.0.1" for i in infos)
        assert [[d.state for d in i.dialogs] for i in infos[:4]] == [
            [],
            [DialogState.EARLY],
            [DialogState.CONFIRMED],
            [DialogState.TERMINATED],
        ]
        ringing, _, ended = infos[1].dialogs[0], infos[2].dialogs[0], infos[3].dialogs[0]
        assert ringing.direction == "recipient"
        assert ended.event == "remote-bye"
        assert ended.remote is not None and ended.remote.identity == "sip:carol@127.0.0.1"

        await alice.ua.dialog_state.unwatch(bob.uri)
        assert alice.ua.dialog_state.watched == {}
        assert alice.ua.dialog_state.state(bob.uri) == "unknown"
        await until(lambda: len(bob.ua.subscriptions.served("dialog")) == 1)  # only the raw one is left

    run(scenario)


@dataclass
class ScriptedDialogPackage:
    """A notifier's dialog package that serves the documents a test queues, one per NOTIFY."""

    entity: str
    queue: list[bytes] = field(default_factory=list)
    last: bytes = b""
    bodies_served: int = 0
    name: str = "dialog"
    default_expires: int = 600

    def authorize(self, subscription: ServerSubscription) -> Decision:
        return "active"

    def state_body(self, subscription: ServerSubscription) -> tuple[str, bytes] | None:
        if self.queue:
            self.last = self.queue.pop(0)
        self.bodies_served += 1
        return DIALOG_INFO_CONTENT_TYPE, self.last

    def document(self, version: int, state: str, *dialogs: tuple[str, DialogState]) -> bytes:
        entries = [DialogEntry(dialog_id, dialog_state, direction="recipient") for dialog_id, dialog_state in dialogs]
        return build_dialog_info(self.entity, version, entries, state)  # type: ignore[arg-type]


async def send_in_subscription(
    notifier: UserAgent, body: bytes, content_type: str = DIALOG_INFO_CONTENT_TYPE
) -> Response:
    """A NOTIFY in the notifier's one dialog subscription, sent by the test itself."""
    (served,) = notifier.subscriptions.served("dialog")
    return await notifier.request_in_dialog(
        notifier.accounts[0],
        served.dialog,
        "NOTIFY",
        headers=[("Event", "dialog"), ("Subscription-State", "active;expires=500")],
        body=body,
        content_type=content_type,
    )


def test_partial_documents_versions_and_a_gap_that_asks_for_full_state() -> None:
    async def scenario(bob: Phone, alice: Phone, carol: Phone) -> None:
        package = ScriptedDialogPackage("sip:bob@127.0.0.1")
        bob.ua.subscriptions.register_package(package)
        package.queue.append(package.document(0, "full"))
        key = await alice.ua.dialog_state.watch(bob.uri)
        await alice.events.wait(lamp("idle", key))

        def push(body: bytes) -> None:
            package.queue.append(body)
            bob.ua.subscriptions.notify_package("dialog")

        mark = alice.events.mark()
        push(package.document(1, "partial", ("d1", DialogState.EARLY)))
        await alice.events.wait(lamp("ringing"), after=mark)
        # Not newer than version 1: discarded (RFC 4235 4.3), so no "busy".
        push(package.document(1, "full", ("d1", DialogState.CONFIRMED)))
        push(package.document(2, "partial", ("d1", DialogState.TERMINATED)))
        await alice.events.wait(lamp("idle"), after=mark)
        assert lamps(alice, mark) == ["ringing", "idle"]

        # Version 5 after 2: a gap. The partial document is applied, and alice refreshes her
        # subscription; bob's refresh NOTIFY carries the full state (here: nothing going on).
        served_before = package.bodies_served
        package.queue.append(package.document(5, "partial", ("d2", DialogState.CONFIRMED)))
        package.queue.append(package.document(6, "full"))
        bob.ua.subscriptions.notify_package("dialog")
        await alice.events.wait(lamp("busy"), after=mark)
        await alice.events.wait(lamp("idle"), after=mark + 2)
        assert lamps(alice, mark) == ["ringing", "idle", "busy", "idle"]
        assert package.bodies_served == served_before + 2  # the second came from alice's refresh

    run(scenario)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="&lol4;"/>
"""


def test_malformed_and_hostile_documents_are_refused_and_change_nothing() -> None:
    async def scenario(bob: Phone, alice: Phone, carol: Phone) -> None:
        package = ScriptedDialogPackage("sip:bob@127.0.0.1")
        bob.ua.subscriptions.register_package(package)
        package.queue.append(package.document(0, "full"))
        key = await alice.ua.dialog_state.watch(bob.uri)
        await alice.events.wait(lamp("idle", key))
        mark = alice.events.mark()
        deep = b"<dialog-info version='1' entity='x'>" + b"<a>" * 200 + b"</a>" * 200 + b"</dialog-info>"
        bad = [
            b"not xml at all",
            b"<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' version='x' entity='sip:bob@127.0.0.1'/>",
            b"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='sip:bob@127.0.0.1'/>",
            b"<dialog-info version='1' entity='e'><dialog id='d'><state>dancing</state></dialog></dialog-info>",
            BILLION_LAUGHS,
            deep,
        ]
        for body in bad:
            response = await send_in_subscription(bob.ua, body)
            assert response.status_code == 400, body[:60]
        response = await send_in_subscription(bob.ua, b"<x/>", content_type="application/pidf+xml")
        assert response.status_code == 415
        assert alice.ua.dialog_state.state(bob.uri) == "idle"
        sub = alice.ua.subscriptions.subscriptions[0]
        assert sub.state == "active"
        # The subscription still works: the next good document is taken.
        response = await send_in_subscription(bob.ua, package.document(1, "full", ("d1", DialogState.CONFIRMED)))
        assert response.status_code == 200
        await alice.events.wait(lamp("busy"), after=mark)
        assert lamps(alice, mark) == ["busy"]

    run(scenario)


def test_callback_fires_when_the_busy_callee_hangs_up() -> None:
    async def scenario(bob: Phone, alice: Phone, carol: Phone) -> None:
        await in_call(bob, carol)
        bob.ua.busy = True  # a second call gets 486 Busy Here
        mark = alice.events.mark()
        call = await alice.ua.call(bob.uri)
        ended = await alice.events.wait(call_state("ended"), after=mark)
        assert isinstance(ended, CallEvent) and ended.code == 486 and ended.call_id == call.id

        key = await alice.ua.dialog_state.callback(bob.uri)
        assert alice.ua.dialog_state.callbacks == [key]
        await alice.events.wait(lamp("busy", key), after=mark)
        assert not any(isinstance(e, CallbackReadyEvent) for e in alice.events.events)

        bob.ua.busy = False
        await carol.ua.hangup()
        ready = await alice.events.wait(lambda e: isinstance(e, CallbackReadyEvent), after=mark)
        assert ready == CallbackReadyEvent(key, False, None)
        assert alice.ua.dialog_state.callbacks == []
        # The request is fulfilled: the lamp is no longer watched.
        await until(lambda: alice.ua.dialog_state.watched == {} and not bob.ua.subscriptions.served("dialog"))
        assert [e for e in alice.events.events if isinstance(e, CallbackReadyEvent)] == [ready]

    run(scenario)


def test_callback_with_redial_calls_again() -> None:
    async def scenario(bob: Phone, alice: Phone, carol: Phone) -> None:
        await in_call(bob, carol)
        key = await alice.ua.dialog_state.callback(bob.uri, redial=True)
        await alice.events.wait(lamp("busy", key))
        mark = bob.events.mark()
        await carol.ua.hangup()
        ready = await alice.events.wait(lambda e: isinstance(e, CallbackReadyEvent))
        assert isinstance(ready, CallbackReadyEvent) and ready.redialled and ready.uri == key
        assert ready.call_id is not None
        call = alice.ua.find_call(ready.call_id)
        assert call.direction == "outgoing" and str(call.remote.uri) == bob.uri
        incoming = await bob.events.wait(lambda e: isinstance(e, IncomingCallEvent), after=mark)
        assert isinstance(incoming, IncomingCallEvent) and incoming.remote_uri == "sip:alice@127.0.0.1"

    run(scenario)


def test_callback_to_a_free_callee_fires_on_the_first_full_state() -> None:
    async def scenario(bob: Phone, alice: Phone, carol: Phone) -> None:
        key = await alice.ua.dialog_state.callback(bob.uri)
        ready = await alice.events.wait(lambda e: isinstance(e, CallbackReadyEvent))
        assert ready == CallbackReadyEvent(key)
        # Asked while a watch shows idle: a refresh brings full state, which fires it too.
        await alice.ua.dialog_state.watch(bob.uri)
        await alice.events.wait(lamp("idle", key))
        mark = alice.events.mark()
        await alice.ua.dialog_state.callback(bob.uri)
        await alice.events.wait(lambda e: isinstance(e, CallbackReadyEvent), after=mark)
        assert alice.ua.dialog_state.watched == {key: "idle"}  # the user's watch stays

    run(scenario)


def test_callback_expires_and_can_be_cancelled() -> None:
    async def scenario(bob: Phone, alice: Phone, carol: Phone) -> None:
        await in_call(bob, carol)
        key = await alice.ua.dialog_state.callback(bob.uri, expires=0.5)
        await alice.events.wait(lamp("busy", key))
        # Expired: unwatched, and bob serves nobody any more.
        await until(lambda: alice.ua.dialog_state.callbacks == [] and not bob.ua.subscriptions.served("dialog"))
        assert alice.ua.dialog_state.watched == {}

        # Cancelled by the user.
        mark = alice.events.mark()
        await alice.ua.dialog_state.callback(bob.uri)
        await alice.events.wait(lamp("busy", key), after=mark)
        assert await alice.ua.dialog_state.cancel_callback(bob.uri)
        assert not await alice.ua.dialog_state.cancel_callback(bob.uri)
        await until(lambda: not bob.ua.subscriptions.served("dialog"))

        # With nobody subscribed any more, the end of the call reaches alice no more.
        await carol.ua.hangup()
        await bob.events.wait(call_state("ended"))
        assert not any(isinstance(e, CallbackReadyEvent) for e in alice.events.events)

    run(scenario)


def test_callback_follows_presence_when_the_callee_serves_no_dialog_state() -> None:
    async def scenario(bob: Phone, alice: Phone, carol: Phone) -> None:
        # carol's UA stands for a phone without the dialog package (it answers 489); it serves presence.
        carol.ua.subscriptions._packages.pop("dialog")
        carol.ua.presence.allow("sip:alice@127.0.0.1")
        carol.ua.presence.set_status("open")
        await in_call(carol, bob)
        key = await alice.ua.dialog_state.callback(carol.uri)
        refused = await alice.events.wait(lambda e: isinstance(e, SubscriptionEvent) and e.event == "dialog")
        assert isinstance(refused, SubscriptionEvent) and (refused.state, refused.code) == ("terminated", 489)
        # On the phone (RFC 4480 on-the-phone in carol's presence): not yet.
        await until(lambda: alice.ua.dialog_state.watched == {key: "busy"})
        assert not any(isinstance(e, CallbackReadyEvent) for e in alice.events.events)
        await bob.ua.hangup()
        ready = await alice.events.wait(lambda e: isinstance(e, CallbackReadyEvent))
        assert ready == CallbackReadyEvent(key)
        assert not any(isinstance(e, DialogStateEvent) for e in alice.events.events)  # no lamp from presence
        await until(lambda: alice.ua.dialog_state.watched == {})

    run(scenario)


def test_callback_without_dialog_state_or_fallback_reports_an_error() -> None:
    async def scenario(bob: Phone, alice: Phone, carol: Phone) -> None:
        carol.ua.subscriptions._packages.pop("dialog")
        alice.ua.dialog_state.presence_fallback = False
        await alice.ua.dialog_state.callback(carol.uri)
        error = await alice.events.wait(lambda e: isinstance(e, ErrorEvent) and "callback" in e.message)
        assert isinstance(error, ErrorEvent) and "not supported" in error.message
        refused = await alice.events.wait(lambda e: isinstance(e, SubscriptionEvent) and e.state == "terminated")
        assert isinstance(refused, SubscriptionEvent) and refused.code == 489
        assert alice.ua.dialog_state.callbacks == [] and alice.ua.dialog_state.watched == {}

    run(scenario)

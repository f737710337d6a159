"""Message-waiting, busy lamps and automatic callback through the real Kamailio on loopback.

Kamailio's presence_mwi and presence_dialoginfo hold what is PUBLISHed and
NOTIFY the subscribers; it authenticates a PUBLISH as the Request-URI's user,
so the "voicemail server" publishes alice's summary with alice's credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from softphone.sip.message_summary import MESSAGE_SUMMARY_CONTENT_TYPE, MessageCounts, build_message_summary
from softphone.ua import (
    Account,
    CallbackReadyEvent,
    CallEvent,
    DialogStateEvent,
    Event,
    IncomingCallEvent,
    MwiEvent,
    SubscriptionEvent,
)
from softphone.ua.publication import Publication
from tests.integration.test_cli import CliProcess
from tests.integration.test_ua_calls import Phone, new_account, phones
from tests.kamailio_server import Kamailio
from tests.ua import make_ua

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

TIMEOUT = 15.0


def lamp(state: str, uri: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, DialogStateEvent) and e.state == state and e.uri == uri


def call_state(state: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, CallEvent) and e.state == state


async def answer_next(phone: Phone, after: int) -> str:
    incoming = await phone.events.wait(lambda e: isinstance(e, IncomingCallEvent), TIMEOUT, after=after)
    assert isinstance(incoming, IncomingCallEvent)
    await phone.ua.answer(incoming.call_id)
    return incoming.call_id


def test_mwi_counts_published_by_a_voicemail_server_reach_the_subscribed_phone(kamailio: Kamailio) -> None:
    alice_account = new_account(kamailio)
    password = alice_account.password

    async def main() -> None:
        async with phones(alice_account) as (alice,):
            # The phone subscribed to its own message-summary by itself once registered.
            await alice.events.wait(
                lambda e: isinstance(e, SubscriptionEvent) and e.event == "message-summary" and e.state == "active",
                TIMEOUT,
            )
            sub = alice.ua.mwi.subscription()
            assert sub is not None and str(sub.target) == alice_account.aor

            voicemail = make_ua(
                Account(alice_account.aor, password, outbound_proxy=kamailio.proxy_uri(), register=False)
            )
            await voicemail.start()
            try:
                pub = Publication(voicemail, voicemail.accounts[0], "message-summary", MESSAGE_SUMMARY_CONTENT_TYPE)
                body = build_message_summary(
                    True,
                    "sip:voicemail@127.0.0.1",
                    {"voice-message": MessageCounts(2, 8, 1, 0), "fax-message": MessageCounts(0, 1)},
                )
                assert await pub.publish(body) == "published"
                event = await alice.events.wait(lambda e: isinstance(e, MwiEvent) and e.new == 2, TIMEOUT)
                assert event == MwiEvent(
                    alice_account.aor,
                    2,
                    8,
                    True,
                    "sip:voicemail@127.0.0.1",
                    {"voice-message": (2, 8), "fax-message": (0, 1)},
                )
                assert alice.ua.mwi.summary() == event

                # The messages were listened to.
                mark = alice.events.mark()
                read = build_message_summary(False, None, {"voice-message": MessageCounts(0, 10)})
                assert await pub.publish(read) == "published"
                update = await alice.events.wait(lambda e: isinstance(e, MwiEvent), TIMEOUT, after=mark)
                assert isinstance(update, MwiEvent) and (update.new, update.old, update.waiting) == (0, 10, False)
                await pub.remove()
            finally:
                await voicemail.stop()

    asyncio.run(main())


def test_busy_lamp_turns_busy_during_a_call_and_idle_after(kamailio: Kamailio) -> None:
    accounts = [new_account(kamailio) for _ in range(3)]

    async def main() -> None:
        async with phones(*accounts) as (a, b, c):
            key = await b.ua.dialog_state.watch(a.account.aor)
            assert key == a.account.aor
            # Nothing published for A yet: Kamailio's NOTIFY has no body, which is idle.
            await b.events.wait(lamp("idle", key), TIMEOUT)

            mark_a, mark_b = a.events.mark(), b.events.mark()
            await c.ua.call(a.account.aor)
            await b.events.wait(lamp("ringing", key), TIMEOUT, after=mark_b)
            await answer_next(a, mark_a)
            await b.events.wait(lamp("busy", key), TIMEOUT, after=mark_b)
            assert a.ua.dialog_state.publication_state() == "published"
            await c.events.wait(call_state("confirmed"), TIMEOUT)
            await c.ua.hangup()
            await b.events.wait(lamp("idle", key), TIMEOUT, after=mark_b)
            states = [e.state for e in b.events.events[mark_b:] if isinstance(e, DialogStateEvent)]
            assert states == ["ringing", "busy", "idle"]
            await b.ua.dialog_state.unwatch(key)
            assert b.ua.dialog_state.watched == {}

    asyncio.run(main())


def test_automatic_callback_fires_when_the_busy_callee_hangs_up(kamailio: Kamailio) -> None:
    accounts = [new_account(kamailio) for _ in range(3)]

    async def main() -> None:
        async with phones(*accounts) as (a, b, c):
            b_uri = b.account.aor
            # C calls B; B answers and is then busy for anyone else.
            await c.ua.call(b_uri)
            await answer_next(b, 0)
            await c.events.wait(call_state("confirmed"), TIMEOUT)
            b.ua.busy = True
            # C watches B too: once C's lamp is busy, Kamailio holds B's published call.
            await c.ua.dialog_state.watch(b_uri)
            await c.events.wait(lamp("busy", b_uri), TIMEOUT)

            mark = a.events.mark()
            call = await a.ua.call(b_uri)
            ended = await a.events.wait(call_state("ended"), TIMEOUT, after=mark)
            assert isinstance(ended, CallEvent) and ended.call_id == call.id and ended.code == 486

            key = await a.ua.dialog_state.callback(b_uri, redial=True)
            assert key == b_uri
            await a.events.wait(lamp("busy", key), TIMEOUT, after=mark)
            assert not any(isinstance(e, CallbackReadyEvent) for e in a.events.events)

            b.ua.busy = False
            mark_b = b.events.mark()
            await b.ua.hangup()
            ready = await a.events.wait(lambda e: isinstance(e, CallbackReadyEvent), TIMEOUT, after=mark)
            assert isinstance(ready, CallbackReadyEvent) and ready.uri == key and ready.redialled
            assert ready.call_id is not None and a.ua.find_call(ready.call_id).direction == "outgoing"
            # The call placed again reaches B.
            incoming = await b.events.wait(lambda e: isinstance(e, IncomingCallEvent), TIMEOUT, after=mark_b)
            assert isinstance(incoming, IncomingCallEvent) and incoming.remote_uri == a.account.aor
            assert a.ua.dialog_state.callbacks == []

    asyncio.run(main())


def test_cli_busy_lamp_and_callback(kamailio: Kamailio) -> None:
    alice = CliProcess(kamailio)
    bob = CliProcess(kamailio, "--auto-answer=0")
    carol = CliProcess(kamailio)
    try:
        for cli in (alice, bob, carol):
            cli.wait_for(TIMEOUT, event="registration", state="registered")
        bob_uri = kamailio.aor(bob.user)
        alice.send("mwi")
        assert alice.wait_for(TIMEOUT, event="mwi")["new"] is None  # no summary published for alice
        alice.send(f"blf {bob.user}")
        alice.wait_for(TIMEOUT, event="dialog_state", uri=bob_uri, state="idle")
        carol.send(f"call {bob.user}")
        carol.wait_for(TIMEOUT, event="call", state="confirmed")
        alice.wait_for(TIMEOUT, event="dialog_state", uri=bob_uri, state="busy")
        alice.send(f"callback {bob.user}")
        assert alice.wait_for(TIMEOUT, event="callback_requested")["uri"] == bob_uri
        alice.send("callback")
        alice.wait_for(TIMEOUT, event="error")
        carol.send("hangup")
        ready = alice.wait_for(TIMEOUT, event="callback_ready")
        assert ready == {"event": "callback_ready", "uri": bob_uri, "redialled": False, "call_id": None}
        alice.send(f"unblf {bob.user}")
        alice.send("quit")
        assert alice.proc.wait(timeout=15) == 0
    finally:
        codes = [cli.close() for cli in (alice, bob, carol)]
    assert codes == [0, 0, 0]

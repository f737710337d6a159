"""Strangers subscribing to the dialog event package (RFC 4235) of a phone in a call.

bob is in a call with carol. The attacker, a raw UDP socket on loopback, subscribes to bob's
``dialog`` package as a stranger, as a colleague bob allowed (a forged From), and as watchers bob
allowed with and without details. Only the last may learn the call's Call-ID, tags or carol's
address; nobody else gets anything but a pending subscription or the bare state. Through the
Kamailio fixture, a SUBSCRIBE that skips the account's server is refused outright.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from softphone.sip.dialog_info import DialogState, parse_dialog_info
from softphone.sip.message import Request
from softphone.store import Store
from softphone.ua import Account, CallEvent, IncomingCallEvent, UserAgent, WatcherEvent
from tests.integration.test_ua_calls import new_account
from tests.kamailio_server import Kamailio
from tests.security.attacker import Attacker, attacker, sip_request, udp_port
from tests.ua import Recorder, make_ua

BOB = "sip:bob@127.0.0.1"


def run(tmp_path: Path, scenario: Callable[[UserAgent, Recorder, UserAgent, Attacker], Awaitable[None]]) -> None:
    async def main() -> None:
        store = Store(tmp_path / "bob.db")
        bob = make_ua(Account(BOB, register=False), store=store)
        carol = make_ua(Account("sip:carol@127.0.0.1", register=False))
        events = Recorder(bob)
        await bob.start()
        await carol.start()
        mallory = await attacker()
        try:
            await scenario(bob, events, carol, mallory)
        finally:
            mallory.close()
            await carol.stop()
            await bob.stop()
            store.close()

    asyncio.run(main())


async def in_call(bob: UserAgent, events: Recorder, carol: UserAgent) -> list[str]:
    """carol calls bob, bob answers; what identifies the call (Call-ID, both tags, carol's address)."""
    carol_events = Recorder(carol)
    await carol.call(f"sip:bob@127.0.0.1:{udp_port(bob)}")
    incoming = await events.wait(lambda e: isinstance(e, IncomingCallEvent))
    assert isinstance(incoming, IncomingCallEvent)
    await bob.answer(incoming.call_id)
    await carol_events.wait(lambda e: isinstance(e, CallEvent) and e.state == "confirmed")
    call = bob.find_call(incoming.call_id)
    assert call.dialog is not None
    return [call.sip_call_id, call.local_tag, call.dialog.remote_tag, "carol@"]


def subscribe(mallory: Attacker, bob: UserAgent, from_uri: str, call_id: str) -> bytes:
    return sip_request(
        "SUBSCRIBE",
        udp_port(bob),
        from_uri=from_uri,
        local_port=mallory.port,
        call_id=call_id,
        headers=[("Event", "dialog"), ("Accept", "application/dialog-info+xml"), ("Expires", "600")],
    )


def notify_of(call_id: str) -> Callable[[Request], bool]:
    return lambda r: r.method == "NOTIFY" and r.call_id == call_id


def test_stranger_and_forged_colleague_get_no_dialog_state_and_no_call_identifiers(tmp_path: Path) -> None:
    async def scenario(bob: UserAgent, events: Recorder, carol: UserAgent, mallory: Attacker) -> None:
        secret = await in_call(bob, events, carol)
        port = udp_port(bob)
        # alice is a colleague allowed to see everything; the attacker only claims to be her.
        bob.dialog_state.allow("sip:alice@192.0.2.10", details=True)

        stranger = await mallory.ask(subscribe(mallory, bob, "sip:mallory@127.0.0.1", "s-stranger"), port)
        forged = await mallory.ask(subscribe(mallory, bob, "sip:alice@192.0.2.10", "s-forged"), port)
        assert (stranger.status_code, forged.status_code) == (200, 200)
        for call_id in ("s-stranger", "s-forged"):
            notify = await mallory.request_from_phone(notify_of(call_id))
            state = notify.headers.get("Subscription-State") or ""
            assert state.startswith("pending") and not notify.body, (state, notify.body)
        # The user is asked; the forged request says nobody vouches for it.
        forged_event = await events.wait(
            lambda e: isinstance(e, WatcherEvent) and e.state == "pending" and "alice" in e.uri
        )
        assert forged_event == WatcherEvent("sip:alice@192.0.2.10", "pending", BOB, verified=False)
        assert set(bob.presence.pending_watchers()) == {"sip:mallory@127.0.0.1", "sip:alice@192.0.2.10"}

        # The end of the call reaches the watcher bob allowed (dave), and nothing of it the pending ones.
        bob.dialog_state.allow("sip:dave@127.0.0.1")
        assert (await mallory.ask(subscribe(mallory, bob, "sip:dave@127.0.0.1", "s-dave"), port)).status_code == 200
        await mallory.request_from_phone(lambda r: notify_of("s-dave")(r) and bool(r.body))
        await carol.hangup()

        def ended(r: Request) -> bool:
            return notify_of("s-dave")(r) and b"terminated" in r.body

        await mallory.request_from_phone(ended)
        assert not [r for r in mallory.requests if r.call_id in ("s-stranger", "s-forged") and r.body]

        heard = mallory.everything()
        for value in secret:
            assert value.encode() not in heard, f"{value} leaked"

    run(tmp_path, scenario)


def test_allowed_watcher_sees_the_state_only_and_details_need_the_users_consent(tmp_path: Path) -> None:
    async def scenario(bob: UserAgent, events: Recorder, carol: UserAgent, mallory: Attacker) -> None:
        secret = await in_call(bob, events, carol)
        call_id, local_tag = secret[0], secret[1]
        port = udp_port(bob)
        # dave may watch the busy lamp (his From's host is where his packets come from: verified).
        bob.dialog_state.allow("sip:dave@127.0.0.1")
        assert (await mallory.ask(subscribe(mallory, bob, "sip:dave@127.0.0.1", "s-dave"), port)).status_code == 200
        notify = await mallory.request_from_phone(lambda r: notify_of("s-dave")(r) and bool(r.body))
        info = parse_dialog_info(notify.body)
        (dialog,) = info.dialogs
        assert dialog.state is DialogState.CONFIRMED and dialog.direction == "recipient"
        assert (dialog.call_id, dialog.local_tag, dialog.remote_tag, dialog.local, dialog.remote) == (
            None,
            None,
            None,
            None,
            None,
        )
        # RFC 4235 4.1.1: the id is opaque; ours cannot be traced back to the call.
        assert dialog.id not in (call_id, local_tag)
        assert dialog.id != hashlib.sha256(f"{call_id}\0{local_tag}".encode()).hexdigest()[:20]
        for value in secret:
            assert value.encode() not in mallory.everything(), f"{value} leaked"

        # erin was allowed the details: she gets them (so the checks above are not vacuous).
        bob.dialog_state.allow("sip:erin@127.0.0.1", details=True)
        assert (await mallory.ask(subscribe(mallory, bob, "sip:erin@127.0.0.1", "s-erin"), port)).status_code == 200
        detailed = await mallory.request_from_phone(lambda r: notify_of("s-erin")(r) and bool(r.body))
        (full,) = parse_dialog_info(detailed.body).dialogs
        assert (full.call_id, full.local_tag) == (call_id, local_tag)
        assert full.remote is not None and full.remote.identity == "sip:carol@127.0.0.1"

    run(tmp_path, scenario)


def test_a_subscribe_that_skips_the_server_of_a_registered_account_is_refused(kamailio: Kamailio) -> None:
    async def main() -> None:
        account = new_account(kamailio)
        bob = make_ua(account)
        events = Recorder(bob)
        await bob.start()
        await bob.register()
        await events.wait(lambda e: getattr(e, "state", None) == "registered")
        mallory = await attacker()
        try:
            for package in ("dialog", "presence"):
                request = sip_request(
                    "SUBSCRIBE",
                    udp_port(bob),
                    user=account.user,
                    from_uri=f"sip:mallory@127.0.0.1:{mallory.port}",
                    local_port=mallory.port,
                    headers=[("Event", package), ("Expires", "600")],
                )
                # Not through the server of a registered account: dropped without a word, whatever the package.
                await mallory.unanswered(request, udp_port(bob), bob)
            await asyncio.sleep(0)
            assert not mallory.requests, "nothing is notified to a refused watcher"
            assert not bob.subscriptions.served()
        finally:
            mallory.close()
            await bob.stop()

    asyncio.run(main())

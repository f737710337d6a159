"""Presence between user agents on loopback: serving our own presence peer to peer, watcher
authorisation, the fallback when the server takes no PUBLISH/SUBSCRIBE, on-the-phone during a
call, idle, and hostile PIDF bodies in NOTIFYs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from softphone.sip.pidf import build_pidf
from softphone.store import Store
from softphone.store.contacts import Contact
from softphone.ua import Account, CallEvent, Event, PresenceEvent, SubscriptionEvent, UserAgent, WatcherEvent
from softphone.ua.presence import parse_status
from softphone.ua.subscription import Decision, ServerSubscription
from tests.ua import Recorder, make_ua


def p2p(user: str, **options: object) -> Account:
    return Account(f"sip:{user}@127.0.0.1", register=False, **options)  # type: ignore[arg-type]


def address(ua: UserAgent) -> str:
    """The AOR of ``ua``'s first account with the port it listens on: how a LAN peer is reached."""
    return f"sip:{ua.accounts[0].user}@127.0.0.1:{ua.stack.transport.local_address('UDP')[1]}"


def presence(
    uri: str | None = None, basic: str | None = None, activity: object = ..., note: object = ...
) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        return (
            isinstance(e, PresenceEvent)
            and (uri is None or e.uri == uri)
            and (basic is None or e.basic == basic)
            and (activity is ... or e.activity == activity)
            and (note is ... or e.note == note)
        )

    return match


def subscription(state: str, uri: str | None = None) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, SubscriptionEvent) and e.state == state and (uri is None or e.uri == uri)


def watcher(state: str, uri: str | None = None) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, WatcherEvent) and e.state == state and (uri is None or e.uri == uri)


def run(scenario: Callable[..., Awaitable[None]], *uas: UserAgent) -> None:
    async def main() -> None:
        started = []
        try:
            for ua in uas:
                await ua.start()
                started.append(ua)
            await scenario(*uas)
        finally:
            for ua in reversed(started):
                await ua.stop()

    asyncio.run(main())


def test_p2p_watcher_held_pending_until_allowed_then_sees_every_change(tmp_path: Path) -> None:
    store = Store(tmp_path / "bob.db")
    bob = make_ua(p2p("bob"), store=store)
    alice = make_ua(p2p("alice"))

    async def scenario(bob: UserAgent, alice: UserAgent) -> None:
        bob_events, alice_events = Recorder(bob), Recorder(alice)
        assert bob.presence.serving()
        bob.presence.set_status("open", "busy", "in a meeting till 3")
        await bob_events.wait(presence("sip:bob@127.0.0.1", "open", "busy", "in a meeting till 3"))
        buddy = address(bob)
        alice.presence.watch(buddy)
        await bob_events.wait(watcher("pending", "sip:alice@127.0.0.1"))
        await alice_events.wait(subscription("pending", buddy))
        assert bob.presence.pending_watchers() == ["sip:alice@127.0.0.1"]
        assert store.watchers.decision("sip:bob@127.0.0.1", "sip:alice@127.0.0.1") == "pending"
        assert not any(presence(buddy)(e) for e in alice_events.events), "no state before the watcher is allowed"

        bob.presence.allow("sip:alice@127.0.0.1")
        await bob_events.wait(watcher("allowed", "sip:alice@127.0.0.1"))
        await alice_events.wait(presence(buddy, "open", "busy", "in a meeting till 3"))
        await alice_events.wait(subscription("active", buddy))
        assert bob.presence.pending_watchers() == []
        assert store.watchers.decision("sip:bob@127.0.0.1", "sip:alice@127.0.0.1") == "allow"

        mark = alice_events.mark()
        bob.presence.set_status("open", "away", "back soon")
        await alice_events.wait(presence(buddy, "open", "away", "back soon"), after=mark)
        bob.presence.set_status("closed")
        await alice_events.wait(presence(buddy, "closed", None, None), after=mark)
        (state,) = alice.presence.buddies()
        assert (state.uri, state.basic, state.activity, state.note, state.subscription) == (
            buddy,
            "closed",
            None,
            None,
            "active",
        )

        assert await alice.presence.unwatch(buddy)
        assert alice.presence.buddies() == []
        await alice_events.wait(subscription("terminated", buddy))
        assert bob.subscriptions.served("presence") == []

    try:
        run(scenario, bob, alice)
    finally:
        store.close()


def test_a_buddy_watched_before_the_phone_started_is_subscribed_once_it_has() -> None:
    # A LAN account never registers, so nothing but the start itself may send what was asked before it:
    # the presence subscription (paced) and the busy lamp's (sent at once when started).
    bob, alice = make_ua(p2p("bob")), make_ua(p2p("alice"))

    async def main() -> None:
        await bob.start()
        try:
            bob_events = Recorder(bob)
            buddy = address(bob)
            assert alice.presence.watch(buddy).subscription == "queued"
            await alice.dialog_state.watch(buddy)
            await alice.start()
            try:
                alice_events = Recorder(alice)
                await bob_events.wait(watcher("pending", "sip:alice@127.0.0.1"))
                await alice_events.wait(subscription("pending", buddy))
                for _ in range(200):
                    if bob.subscriptions.served("dialog"):
                        break
                    await asyncio.sleep(0.05)
                assert [s.state for s in bob.subscriptions.served("dialog")] == ["pending"]
            finally:
                await alice.stop()
        finally:
            await bob.stop()

    asyncio.run(main())


def test_buddy_list_member_is_active_at_once_and_a_blocked_watcher_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "bob.db")
    store.contacts.add(Contact("Carol", uris=["sip:carol@127.0.0.1"]))
    bob = make_ua(p2p("bob"), store=store)
    carol = make_ua(p2p("carol"))
    mallory = make_ua(p2p("mallory"))

    async def scenario(bob: UserAgent, carol: UserAgent, mallory: UserAgent) -> None:
        bob_events, carol_events, mallory_events = Recorder(bob), Recorder(carol), Recorder(mallory)
        buddy = address(bob)
        carol.presence.watch(buddy)
        await carol_events.wait(presence(buddy, "open"))
        await bob_events.wait(watcher("active", "sip:carol@127.0.0.1"))

        bob.presence.block("sip:mallory@127.0.0.1")
        mallory.presence.watch(buddy)
        ended = await mallory_events.wait(subscription("terminated", buddy))
        assert isinstance(ended, SubscriptionEvent) and ended.code == 403
        assert mallory.presence.buddies()[0].subscription == "terminated"
        assert not any(presence(buddy)(e) for e in mallory_events.events)
        assert [s.watcher_uri.user for s in bob.subscriptions.served("presence")] == ["carol"]  # type: ignore[union-attr]

        # Blocking a watcher that was allowed ends its subscription.
        bob.presence.block("sip:carol@127.0.0.1")
        await carol_events.wait(subscription("terminated", buddy))
        assert bob.subscriptions.served("presence") == []
        assert store.watchers.decision("sip:bob@127.0.0.1", "sip:carol@127.0.0.1") == "block"

    try:
        run(scenario, bob, carol, mallory)
    finally:
        store.close()


def test_server_without_presence_falls_back_to_serving_and_direct_subscribe() -> None:
    # A "server" that takes neither PUBLISH (405) nor presence SUBSCRIBEs (489): a plain UA
    # whose own account registers (so it serves no presence) but never does.
    server = make_ua(Account("sip:proxy@127.0.0.1", register=True, direct_calls=True))
    # alice gets a server below; to serve her presence herself she takes direct subscriptions.
    alice = make_ua(p2p("alice", direct_calls=True))
    bob = make_ua(p2p("bob"))

    async def scenario(server: UserAgent, alice: UserAgent, bob: UserAgent) -> None:
        bob_events, alice_events = Recorder(bob), Recorder(alice)
        port = server.stack.transport.local_address("UDP")[1]
        alice.accounts[0].outbound_proxy = f"sip:127.0.0.1:{port}"
        # With a server, alice takes requests straight from the LAN only when told to (her watchers come that way).
        alice.accounts[0].direct_calls = True
        assert alice.presence.serving(), "p2p at construction"
        alice.presence._serving.clear()  # now an account with a server: it must find out by itself

        alice.presence.set_status("open", None, "at my desk")
        for _ in range(200):
            if alice.presence.serving():
                break
            await asyncio.sleep(0.05)
        assert alice.presence.serving(), "PUBLISH answered 405 must make alice serve her presence"

        # bob (peer to peer) subscribes straight to alice.
        alice.presence.allow("sip:bob@127.0.0.1")
        alice_uri = address(alice)
        bob.presence.watch(alice_uri)
        await bob_events.wait(presence(alice_uri, "open", None, "at my desk"))
        alice.presence.set_status("open", "meeting")
        await bob_events.wait(presence(alice_uri, "open", "meeting", None))

        # alice's SUBSCRIBE through the server gets 489, then goes straight to bob's own address.
        bob.presence.allow("sip:alice@127.0.0.1")
        bob_uri = address(bob)
        alice.presence.watch(bob_uri)
        refused = await alice_events.wait(subscription("terminated", bob_uri))
        assert isinstance(refused, SubscriptionEvent) and refused.code == 489
        await alice_events.wait(presence(bob_uri, "open"))
        state = alice.presence.buddy(bob_uri)
        assert state is not None and state.direct and state.subscription == "active"

    run(scenario, server, alice, bob)


def test_on_the_phone_during_a_call_and_idle_away(tmp_path: Path) -> None:
    bob = make_ua(p2p("bob", auto_answer=0))
    alice = make_ua(p2p("alice"))
    carol = make_ua(p2p("carol"))

    async def scenario(bob: UserAgent, alice: UserAgent, carol: UserAgent) -> None:
        bob_events, alice_events, carol_events = Recorder(bob), Recorder(alice), Recorder(carol)
        bob.presence.allow("sip:alice@127.0.0.1")
        bob.presence.set_status("open", "away", "lunch")
        buddy = address(bob)
        alice.presence.watch(buddy)
        await alice_events.wait(presence(buddy, "open", "away", "lunch"))

        mark = alice_events.mark()
        call = await carol.call(address(bob))
        await carol_events.wait(lambda e: isinstance(e, CallEvent) and e.state == "confirmed")
        await bob_events.wait(presence("sip:bob@127.0.0.1", "open", "on-the-phone", "lunch"))
        await alice_events.wait(presence(buddy, "open", "on-the-phone", "lunch"), after=mark)
        assert bob.presence.shown().activity == "on-the-phone"
        assert bob.presence.status().activity == "away", "the chosen state is kept underneath"

        mark = alice_events.mark()
        await carol.hangup(call.id)
        await alice_events.wait(presence(buddy, "open", "away", "lunch"), after=mark)

        bob.presence.set_status("open")
        await alice_events.wait(presence(buddy, "open", None, None), after=mark)
        mark = alice_events.mark()
        bob.presence.set_idle(True)
        await alice_events.wait(presence(buddy, "open", "away", None), after=mark)
        bob.presence.set_idle(False)
        await alice_events.wait(presence(buddy, "open", None, None), after=mark + 1)

        # Closed stays closed whatever happens: no on-the-phone leaks out.
        bob.presence.set_status("closed")
        await alice_events.wait(presence(buddy, "closed"), after=mark)
        mark = alice_events.mark()
        call = await carol.call(address(bob))
        await carol_events.wait(lambda e: isinstance(e, CallEvent) and e.state == "confirmed" and e.call_id == call.id)
        bob_mark = bob_events.mark()
        await carol.hangup(call.id)
        await carol_events.wait(lambda e: isinstance(e, CallEvent) and e.state == "ended" and e.call_id == call.id)
        await bob_events.wait(lambda e: isinstance(e, CallEvent) and e.state == "ended", after=bob_mark)
        assert not any(presence(buddy)(e) for e in alice_events.events[mark:])

        # bob stops: alice sees him closed (the NOTIFY his closer sends before the subscriptions end).
        mark = alice_events.mark()
        bob.presence.set_status("open", "busy")
        await alice_events.wait(presence(buddy, "open", "busy"), after=mark)
        mark = alice_events.mark()
        await bob.stop()
        await alice_events.wait(presence(buddy, "closed"), after=mark)

    run(scenario, bob, alice, carol)


class _RawPresence:
    """A presence package serving whatever bytes the test puts in ``body``."""

    name = "presence"
    default_expires = 600

    def __init__(self) -> None:
        self.body = b""

    def authorize(self, subscription: ServerSubscription) -> Decision:
        return "active"

    def state_body(self, subscription: ServerSubscription) -> tuple[str, bytes] | None:
        return "application/pidf+xml", self.body


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:x@127.0.0.1"><note>&lol3;</note></presence>"""
DEEP = (
    b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:x@h">' + b"<a>" * 5000 + b"</a>" * 5000 + b"</presence>"
)


@pytest.mark.parametrize(
    "bad",
    [BOMB, DEEP, b"<presence><tuple", b"\xff\xfe not xml", b"<html/>"],
    ids=["billion-laughs", "deep", "truncated", "garbage", "wrong-root"],
)
def test_hostile_pidf_in_a_notify_is_ignored_with_a_200(bad: bytes, caplog: pytest.LogCaptureFixture) -> None:
    notifier = make_ua(p2p("bob"))
    alice = make_ua(p2p("alice"))
    package = _RawPresence()
    notifier.subscriptions.register_package(package)

    async def scenario(notifier: UserAgent, alice: UserAgent) -> None:
        events = Recorder(alice)
        buddy = address(notifier)
        package.body = build_pidf("sip:bob@127.0.0.1", "open", "busy")
        alice.presence.watch(buddy)
        await events.wait(presence(buddy, "open", "busy"))
        mark = events.mark()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="softphone.ua.presence"):
            package.body = bad
            notifier.subscriptions.notify_package("presence")
            for _ in range(200):
                if any("ignored the presence NOTIFY" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.02)
        assert [r.getMessage() for r in caplog.records if "ignored the presence NOTIFY" in r.getMessage()]
        assert not any(presence(buddy)(e) for e in events.events[mark:])
        state = alice.presence.buddy(buddy)
        assert state is not None and (state.basic, state.activity, state.subscription) == ("open", "busy", "active")
        # Answered 200: the notifier keeps the subscription (a failure would have ended it), and
        # the next good document gets through.
        package.body = build_pidf("sip:bob@127.0.0.1", "closed")
        notifier.subscriptions.notify_package("presence")
        await events.wait(presence(buddy, "closed"), after=mark)
        assert len(notifier.subscriptions.served("presence")) == 1

    run(scenario, notifier, alice)


def test_load_buddies_from_the_store_paces_the_subscribes(tmp_path: Path) -> None:
    store = Store(tmp_path / "alice.db")
    # bob's phone has an account for each of the 40 buddies (a user it does not have gets 404).
    bob = make_ua(p2p("bob"), *(p2p(f"b{i}") for i in range(1, 40)))
    alice = make_ua(p2p("alice"), store=store)

    async def scenario(bob: UserAgent, alice: UserAgent) -> None:
        events = Recorder(alice)
        port = bob.stack.transport.local_address("UDP")[1]
        for i in range(40):
            store.contacts.add(
                Contact(
                    f"Buddy {i}",
                    uris=[f"sip:bob@127.0.0.1:{port};x={i}" if i == 0 else f"sip:b{i}@127.0.0.1:{port}"],
                    subscribe_presence=True,
                )
            )
        store.contacts.add(Contact("No presence", uris=["sip:nobody@127.0.0.1"], subscribe_presence=False))
        store.contacts.add(Contact("Phone only", phones=["+44 20 7946 0000"], subscribe_presence=True))
        for account in bob.accounts:
            bob.presence.allow("sip:alice@127.0.0.1", account.aor)
        in_flight: list[int] = []
        original = alice.subscriptions.subscribe

        def counting(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            in_flight.append(sum(1 for b in alice.presence.buddies() if b.subscription == "init") + 1)
            return original(*args, **kwargs)  # type: ignore[arg-type]

        alice.subscriptions.subscribe = counting  # type: ignore[method-assign]
        assert await alice.presence.load_buddies() == 40
        assert await alice.presence.load_buddies() == 0, "loading again adds nothing"
        await events.wait(presence(f"sip:bob@127.0.0.1:{port}", "open"))
        for _ in range(400):
            # A 200 to SUBSCRIBE makes a subscription pending until its first NOTIFY says active.
            if all(b.subscription == "active" for b in alice.presence.buddies()):
                break
            await asyncio.sleep(0.05)
        states = {b.uri: b.subscription for b in alice.presence.buddies()}
        assert len(states) == 40 and set(states.values()) == {"active"}, states
        assert len(in_flight) == 40 and max(in_flight) <= 16

    try:
        run(scenario, bob, alice)
    finally:
        store.close()


def test_status_words() -> None:
    assert parse_status(["open"]) == ("open", None, None)
    assert parse_status(["away", "back", "at", "3"]) == ("open", "away", "back at 3")
    assert parse_status(["busy"]) == ("open", "busy", None)
    assert parse_status(["closed", "gone"]) == ("closed", None, "gone")
    assert parse_status(["Meeting"]) == ("open", "meeting", None)
    with pytest.raises(ValueError):
        parse_status([])

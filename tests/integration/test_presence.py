"""Presence through the real Kamailio (presence, presence_xml): PUBLISH by one user agent,
SUBSCRIBE/NOTIFY to another, on-the-phone during a call, closed when the publisher stops; and the
same driven through two softphone-cli processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from softphone.store import Store
from softphone.store.contacts import Contact
from softphone.ua import CallEvent, Event, PresenceEvent, RegistrationEvent, SubscriptionEvent, UserAgent
from tests.integration.test_cli import CliProcess
from tests.integration.test_ua_calls import new_account
from tests.kamailio_server import Kamailio
from tests.ua import Recorder, make_ua

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel


def presence(uri: str, basic: str, activity: str | None = None, note: str | None = None) -> Callable[[Event], bool]:
    return lambda e: (
        isinstance(e, PresenceEvent) and e.uri == uri and (e.basic, e.activity, e.note) == (basic, activity, note)
    )


def registered(e: Event) -> bool:
    return isinstance(e, RegistrationEvent) and e.state == "registered"


def test_publish_and_watch_through_kamailio(kamailio: Kamailio, tmp_path: Path) -> None:
    alice_account = new_account(kamailio)
    bob_account = new_account(kamailio)
    carol_account = new_account(kamailio, auto_answer=0)
    # bob's buddy list: alice, with presence on; loaded when bob registers.
    store = Store(tmp_path / "bob.db")
    store.contacts.add(Contact("Alice", uris=[alice_account.aor], subscribe_presence=True))
    store.contacts.add(Contact("Carol", uris=[carol_account.aor], subscribe_presence=False))

    async def main() -> None:
        alice, bob, carol = make_ua(alice_account), make_ua(bob_account, store=store), make_ua(carol_account)
        alice_events, bob_events, carol_events = Recorder(alice), Recorder(bob), Recorder(carol)
        started: list[UserAgent] = []
        latencies: list[tuple[str, float]] = []
        try:
            for ua in (alice, bob, carol):
                await ua.start()
                started.append(ua)
                await ua.register()
            for events in (alice_events, bob_events, carol_events):
                await events.wait(registered)
            aor = alice_account.aor
            # Registering publishes "open" by itself.
            await alice_events.wait(presence(aor, "open"))
            assert not alice.presence.serving(), "Kamailio takes PUBLISH: nothing to serve ourselves"

            await bob_events.wait(lambda e: isinstance(e, SubscriptionEvent) and e.uri == aor and e.state == "active")
            await bob_events.wait(presence(aor, "open"))

            async def change(
                label: str, basic: str, activity: str | None, note: str | None, action: Callable[[], object]
            ) -> None:
                mark = bob_events.mark()
                start = time.perf_counter()
                result = action()
                if asyncio.iscoroutine(result):
                    await result
                await bob_events.wait(presence(aor, basic, activity, note), after=mark)
                latencies.append((label, (time.perf_counter() - start) * 1000))

            await change(
                "away + note",
                "open",
                "away",
                "back at 3",
                lambda: alice.presence.set_status("open", "away", "back at 3"),
            )
            await change(
                "busy + note", "open", "busy", "deadline", lambda: alice.presence.set_status("open", "busy", "deadline")
            )
            await change("open", "open", None, None, lambda: alice.presence.set_status("open"))

            mark = bob_events.mark()
            call = await alice.call(carol_account.user)
            await alice_events.wait(
                lambda e: isinstance(e, CallEvent) and e.call_id == call.id and e.state == "confirmed"
            )
            start = time.perf_counter()
            await bob_events.wait(presence(aor, "open", "on-the-phone"), after=mark)
            latencies.append(("on-the-phone (from confirmed)", (time.perf_counter() - start) * 1000))
            await change("call ended -> open", "open", None, None, lambda: alice.hangup(call.id))
            await carol_events.wait(lambda e: isinstance(e, CallEvent) and e.state == "ended")

            await change("closed on stop", "closed", None, None, alice.stop)
            started.remove(alice)
            state = bob.presence.buddy(aor)
            assert state is not None and state.basic == "closed"
            assert [b.uri for b in bob.presence.buddies()] == [aor]
        finally:
            for ua in reversed(started):
                await ua.stop()
        print()
        print("publish -> notify latency through Kamailio (ms):")
        for label, ms in latencies:
            print(f"  {label:32} {ms:8.1f}")

    try:
        asyncio.run(main())
    finally:
        store.close()


def test_cli_status_subscribe_buddies(kamailio: Kamailio) -> None:
    alice = CliProcess(kamailio)
    bob = CliProcess(kamailio)
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        aor = kamailio.aor(alice.user)
        alice.send('status away "gone fishing"')
        alice.wait_for(event="presence", uri=aor, basic="open", activity="away", note="gone fishing")
        bob.send(f"subscribe {aor}")
        bob.wait_for(event="presence", uri=aor, basic="open", activity="away", note="gone fishing")
        bob.send("buddies")
        listing = bob.wait_for(event="buddies")
        assert [(b["uri"], b["basic"], b["activity"], b["note"], b["subscription"]) for b in listing["buddies"]] == [
            (aor, "open", "away", "gone fishing", "active")
        ]
        alice.send("status busy")
        bob.wait_for(event="presence", uri=aor, basic="open", activity="busy", note=None)
        alice.send("status bogus-activity-with spaces")
        bob.wait_for(event="presence", uri=aor, basic="open", activity="bogus-activity-with", note="spaces")
        alice.send("status")
        alice.wait_for(event="error")
        alice.send("quit")
        assert alice.proc.wait(timeout=15) == 0
        bob.wait_for(event="presence", uri=aor, basic="closed", activity=None, note=None)
        bob.send(f"unsubscribe {aor}")
        bob.send("buddies")
        assert bob.wait_for(event="buddies", buddies=[])["buddies"] == []
    finally:
        alice_rc = alice.close()
        bob_rc = bob.close()
    assert alice_rc == 0
    assert bob_rc == 0

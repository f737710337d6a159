"""Strangers subscribing to the presence a peer-to-peer phone serves itself (RFC 3856).

A forged From of a buddy gets a pending subscription and learns nothing (no note, no activity)
until the user decides; a buddy whose identity is verified sees the state at once. A flood of
SUBSCRIBEs from invented watchers fills at most :data:`MAX_PENDING_WATCHERS` requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from softphone.store import Contact, Store
from softphone.ua import Account, UserAgent, WatcherEvent
from softphone.ua.watchers import MAX_PENDING_WATCHERS
from tests.security.attacker import Attacker, attacker, sip_request, udp_port
from tests.ua import Recorder, make_ua

BOB = "sip:bob@127.0.0.1"
NOTE = "at the dentist until 4"


def run(
    tmp_path: Path, contacts: list[Contact], scenario: Callable[[UserAgent, Store, Recorder, Attacker], Awaitable[None]]
) -> None:
    async def main() -> None:
        store = Store(tmp_path / "bob.db")
        for contact in contacts:
            store.contacts.add(contact)
        bob = make_ua(Account(BOB, register=False), store=store)
        events = Recorder(bob)
        await bob.start()
        mallory = await attacker()
        try:
            await scenario(bob, store, events, mallory)
        finally:
            mallory.close()
            await bob.stop()
            store.close()

    asyncio.run(main())


def subscribe(mallory: Attacker, bob: UserAgent, from_uri: str, call_id: str) -> bytes:
    return sip_request(
        "SUBSCRIBE",
        udp_port(bob),
        from_uri=from_uri,
        local_port=mallory.port,
        call_id=call_id,
        headers=[("Event", "presence"), ("Accept", "application/pidf+xml"), ("Expires", "600")],
    )


def test_forged_buddy_is_pending_and_sees_no_note_while_a_verified_buddy_does(tmp_path: Path) -> None:
    # alice is a buddy on another machine of the LAN; carol one on this one.
    contacts = [Contact("Alice", uris=["sip:alice@192.0.2.10"]), Contact("Carol", uris=["sip:carol@127.0.0.1"])]

    async def scenario(bob: UserAgent, store: Store, events: Recorder, mallory: Attacker) -> None:
        bob.presence.set_status("open", "appointment", NOTE)
        port = udp_port(bob)
        # From 127.0.0.1, claiming to be alice@192.0.2.10: nobody vouches for that.
        response = await mallory.ask(subscribe(mallory, bob, "sip:alice@192.0.2.10", "forged"), port)
        assert response.status_code == 200
        notify = await mallory.request_from_phone(lambda r: r.method == "NOTIFY" and r.call_id == "forged")
        assert (notify.headers.get("Subscription-State") or "").startswith("pending") and not notify.body
        pending = await events.wait(lambda e: isinstance(e, WatcherEvent) and e.state == "pending")
        assert pending == WatcherEvent("sip:alice@192.0.2.10", "pending", BOB, verified=False)
        assert bob.presence.pending_watchers() == ["sip:alice@192.0.2.10"]

        # carol's From names the host her packets come from: verified, a buddy, active at once.
        response = await mallory.ask(subscribe(mallory, bob, "sip:carol@127.0.0.1", "real"), port)
        assert response.status_code == 200
        state = await mallory.request_from_phone(
            lambda r: r.method == "NOTIFY" and r.call_id == "real" and bool(r.body)
        )
        assert NOTE.encode() in state.body
        # ... and the note changes reach her, while the forged subscription still gets nothing.
        bob.presence.set_status("open", "appointment", "back at 5")
        await mallory.request_from_phone(lambda r: r.call_id == "real" and b"back at 5" in r.body)
        assert not [r for r in mallory.requests if r.call_id == "forged" and r.body]

        # The user blocks the request: it ends, still without the state.
        bob.presence.block("sip:alice@192.0.2.10")
        ended = await mallory.request_from_phone(
            lambda r: r.call_id == "forged" and "terminated" in (r.headers.get("Subscription-State") or "")
        )
        assert not ended.body
        heard = b"".join(d for d in mallory.heard if b"forged" in d)
        assert b"dentist" not in heard and b"appointment" not in heard and b"back at 5" not in heard

    run(tmp_path, contacts, scenario)


def test_pending_watcher_requests_are_capped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    contacts = [Contact("Carol", uris=["sip:carol@127.0.0.1"])]

    async def scenario(bob: UserAgent, store: Store, events: Recorder, mallory: Attacker) -> None:
        port = udp_port(bob)
        invented = [subscribe(mallory, bob, f"sip:w{n}@203.0.113.{n % 250 + 1}", f"w{n}") for n in range(48)]
        answers = await mallory.flood(invented, port)
        codes = [a.status_code for a in answers]
        assert codes.count(200) == MAX_PENDING_WATCHERS and codes.count(503) == 48 - MAX_PENDING_WATCHERS
        assert all(a.headers.get("Retry-After") for a in answers if a.status_code == 503)
        assert store.watchers.pending_count(BOB) == MAX_PENDING_WATCHERS
        assert len(bob.presence.pending_watchers()) == MAX_PENDING_WATCHERS
        assert sum(isinstance(e, WatcherEvent) and e.state == "pending" for e in events.events) == MAX_PENDING_WATCHERS

        # One invented watcher opening subscription after subscription: bounded too.
        again = [subscribe(mallory, bob, "sip:w0@203.0.113.1", f"again{n}") for n in range(2 * MAX_PENDING_WATCHERS)]
        codes = [a.status_code for a in await mallory.flood(again, port)]
        assert codes.count(200) == MAX_PENDING_WATCHERS and 503 in codes
        pending = [s for s in bob.subscriptions.served("presence") if s.state == "pending"]
        assert len(pending) == 2 * MAX_PENDING_WATCHERS

        # A verified buddy is not held up by the flood.
        response = await mallory.ask(subscribe(mallory, bob, "sip:carol@127.0.0.1", "carol"), port)
        assert response.status_code == 200
        await mallory.request_from_phone(lambda r: r.call_id == "carol" and bool(r.body))
        # The refusals made one log line (a summary follows a minute later), not one each.
        refusals = [r for r in caplog.records if r.name == "softphone.ua.subscription" and "refused" in r.message]
        assert len(refusals) == 1

    with caplog.at_level(logging.WARNING, logger="softphone.ua.subscription"):
        run(tmp_path, contacts, scenario)

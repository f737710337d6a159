"""Strangers writing to the phone (RFC 3428 MESSAGE): floods are bounded, forged senders are not contacts.

The attacker is a raw UDP socket on loopback. 100 MESSAGEs of 60 KB from distinct senders are
refused (413: above the maximum body); 150 just under the message-request limit from distinct
senders fill the requests the store keeps for strangers and no more (503 with Retry-After beyond);
one sender writing fast meets its rate (486 with Retry-After). Meanwhile a contact's messages arrive
as usual. The database grows by a bounded amount, and the refusals make one log line, not one each.
A MESSAGE whose From is forged to a buddy's is stored as a message request, never in the buddy's
conversation, both peer to peer and through the Kamailio fixture.
"""

from __future__ import annotations

import asyncio
import logging
import random
import string
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from softphone.store import Contact, Store
from softphone.ua import Account, Event, MessageEvent, MessageStatusEvent, RegistrationEvent, UserAgent
from softphone.ua.message_requests import MAX_REQUEST_BODY, MAX_REQUESTS, RATE_PER_MINUTE
from tests.integration.test_ua_calls import new_account
from tests.kamailio_server import Kamailio
from tests.security.attacker import Attacker, attacker, sip_request, udp_port
from tests.ua import Recorder, make_ua

BOB = "sip:bob@127.0.0.1"
FRIEND = "sip:friend@127.0.0.1"
MiB = 1024 * 1024
# What message requests may add to the database file (measured closed, when SQLite has folded the
# write-ahead log into it): the text kept (MAX_REQUESTS of MAX_REQUEST_BODY octets), times 8 for
# SQLite's row and the FTS5 trigram index of random text (measured 5-8x), plus 1 MiB for the contact's
# messages and page slack: 4.1 MiB. Without the limits 300 messages of 60 KB alone made 64 MB; the 100
# sent here would make some 21 MB, still five times the bound (and 300 took three times as long).
GROWTH_BOUND = MAX_REQUESTS * MAX_REQUEST_BODY * 8 + 1 * MiB
BIG = 100
SMALL = 150


def noise(size: int) -> bytes:
    """Random text: the worst case for the trigram index."""
    return "".join(random.choices(string.ascii_letters + string.digits + " ", k=size)).encode()


def database_size(path: Path) -> int:
    """The size of a closed database (no write-ahead log left beside it)."""
    assert not path.with_name(path.name + "-wal").exists()
    return path.stat().st_size


def message(mallory: Attacker, bob: UserAgent, sender: str, body: bytes, call_id: str) -> bytes:
    return sip_request(
        "MESSAGE",
        udp_port(bob),
        from_uri=sender,
        local_port=mallory.port,
        call_id=call_id,
        body=body,
        content_type="text/plain;charset=UTF-8",
    )


def received(text: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, MessageEvent) and e.text == text


def sent(message_id: int) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, MessageStatusEvent) and e.message_id == message_id and e.status == "sent"


def test_a_flood_from_strangers_is_bounded_and_a_contact_still_gets_through(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "bob.db"

    with Store(db) as setup:
        setup.contacts.add(Contact("Friend", uris=[FRIEND]))
    before = database_size(db)

    async def main() -> None:
        store = Store(db)
        bob = make_ua(Account(BOB, register=False), store=store)
        friend = make_ua(Account(FRIEND, register=False))
        bob_events, friend_events = Recorder(bob), Recorder(friend)
        await bob.start()
        await friend.start()
        friend.accounts[0].outbound_proxy = f"sip:127.0.0.1:{udp_port(bob)}"
        mallory = await attacker()
        started = time.monotonic()
        friend_texts: list[str] = []

        async def friend_writes(label: str, count: int) -> None:
            for n in range(count):
                text = f"{label} {n} from a friend"
                friend_texts.append(text)
                await friend_events.wait(sent(await friend.messaging.send(BOB, text)), 30.0)

        try:
            # 100 messages of 60 KB, each from another sender (some verified strangers, some only claimed).
            big = [
                message(mallory, bob, f"sip:spam{n}@{'127.0.0.1' if n % 2 else '198.51.100.7'}", noise(60_000), f"b{n}")
                for n in range(BIG)
            ]
            answers, _ = await asyncio.gather(mallory.flood(big, udp_port(bob)), friend_writes("during", 3))
            assert Counter(a.status_code for a in answers) == {413: BIG}

            # One stranger writing fast: RATE_PER_MINUTE taken, then 486 with Retry-After. The bucket gains a
            # token every 60 / RATE_PER_MINUTE s: on a loaded machine the asks may last that long, and each
            # token gained meanwhile takes one more.
            fast = [
                message(mallory, bob, "sip:chatty@127.0.0.1", b"hello?", f"f{n}") for n in range(RATE_PER_MINUTE + 5)
            ]
            asked = time.monotonic()
            answers = [await mallory.ask(data, udp_port(bob)) for data in fast]
            refilled = int((time.monotonic() - asked) * RATE_PER_MINUTE / 60)
            chatty = sum(a.status_code == 200 for a in answers)
            codes_fast = [a.status_code for a in answers]
            assert codes_fast[:RATE_PER_MINUTE] == [200] * RATE_PER_MINUTE, codes_fast
            assert set(codes_fast[RATE_PER_MINUTE:]) <= {200, 486}, codes_fast
            assert chatty <= RATE_PER_MINUTE + refilled, codes_fast  # no refill: 486 from the eleventh on
            assert all(int(a.headers.get("Retry-After") or 0) > 0 for a in answers if a.status_code == 486)

            # SMALL just under the request limit from distinct senders (more than the store has room for after
            # the chatty one's): the store keeps MAX_REQUESTS in all.
            small = [
                message(mallory, bob, f"sip:s{n}@127.0.0.1", noise(MAX_REQUEST_BODY - 16), f"s{n}")
                for n in range(SMALL)
            ]
            answers, _ = await asyncio.gather(mallory.flood(small, udp_port(bob)), friend_writes("while full", 3))
            codes = Counter(a.status_code for a in answers)
            assert codes == {200: MAX_REQUESTS - chatty, 503: SMALL - (MAX_REQUESTS - chatty)}
            assert all(a.headers.get("Retry-After") for a in answers if a.status_code == 503)
            assert store.messages.request_count() == MAX_REQUESTS

            # After the flood.
            await friend_writes("after", 2)
            for text in friend_texts:
                event = await bob_events.wait(received(text))
                assert isinstance(event, MessageEvent) and event.sender == FRIEND and not event.from_stranger
            assert [m.text for m in bob.messaging.history(FRIEND, limit=100)] == friend_texts
            # Every 200 stands for a stored message: the strangers' answered ones are all there as requests.
            answered = {e.text for e in bob_events.events if isinstance(e, MessageEvent) and e.from_stranger}
            assert len(answered) == MAX_REQUESTS - chatty + 1  # "hello?" once, then the distinct ones
        finally:
            mallory.close()
            await friend.stop()
            await bob.stop()
            store.close()
        growth = database_size(db) - before
        assert growth < GROWTH_BOUND, f"the database grew by {growth / MiB:.1f} MiB"
        elapsed = time.monotonic() - started
        lines = [r for r in caplog.records if r.name == "softphone.ua.messaging" and "refused" in r.message]
        assert 1 <= len(lines) <= 1 + int(elapsed // 60) + 1, [r.message for r in lines]

    with caplog.at_level(logging.WARNING, logger="softphone.ua.messaging"):
        asyncio.run(main())


def test_a_forged_buddy_message_is_a_request_not_the_buddys(tmp_path: Path) -> None:
    async def main() -> None:
        store = Store(tmp_path / "bob.db")
        store.contacts.add(Contact("Alice", uris=["sip:alice@192.0.2.10"]))
        bob = make_ua(Account(BOB, register=False), store=store)
        events = Recorder(bob)
        await bob.start()
        mallory = await attacker()
        try:
            forged = message(mallory, bob, "sip:alice@192.0.2.10", b"send me the code", "forged-1")
            assert (await mallory.ask(forged, udp_port(bob))).status_code == 200
            event = await events.wait(lambda e: isinstance(e, MessageEvent))
            assert isinstance(event, MessageEvent) and event.from_stranger and event.sender == "sip:alice@192.0.2.10"
            assert event.to_json()["from_stranger"] is True
            # Not in Alice's conversation, nor counted there; kept as a request until the user decides.
            assert bob.messaging.history("sip:alice@192.0.2.10") == []
            assert bob.messaging.conversations() == [] and bob.messaging.unread_counts() == {}
            (request,) = bob.messaging.requests()
            assert (request.peer, request.last.text, request.last.from_stranger) == (
                "sip:alice@192.0.2.10",
                "send me the code",
                True,
            )
            stored = store.messages.get(event.message_id or 0)
            assert stored is not None and stored.from_stranger
            # Declined: gone.
            assert bob.messaging.decline("sip:alice@192.0.2.10") == 1
            assert bob.messaging.requests() == []
        finally:
            mallory.close()
            await bob.stop()
            store.close()

    asyncio.run(main())


def test_a_forged_buddy_message_skipping_the_server_is_dropped(kamailio: Kamailio, tmp_path: Path) -> None:
    alice_account, bob_account = new_account(kamailio), new_account(kamailio)

    async def main() -> None:
        store = Store(tmp_path / "bob.db")
        store.contacts.add(Contact("Alice", uris=[alice_account.aor]))
        bob, alice = make_ua(bob_account, store=store), make_ua(alice_account)
        bob_events, alice_events = Recorder(bob), Recorder(alice)
        mallory = await attacker()
        try:
            for ua, recorder in ((bob, bob_events), (alice, alice_events)):
                await ua.start()
                await ua.register()
                await recorder.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "registered")
            # Straight to bob's address, From alice: not through the server of a registered account, so it is
            # dropped without a word, never stored.
            forged = sip_request(
                "MESSAGE",
                udp_port(bob),
                user=bob_account.user,
                from_uri=alice_account.aor,
                display_name="Alice",
                local_port=mallory.port,
                body=b"urgent: call me on this number",
                content_type="text/plain",
            )
            await mallory.unanswered(forged, udp_port(bob), bob)
            assert not [e for e in bob_events.events if isinstance(e, MessageEvent)]
            # The real alice, through the server: hers.
            await alice_events.wait(sent(await alice.messaging.send(bob_account.aor, "it's really me")))
            real = await bob_events.wait(lambda e: isinstance(e, MessageEvent) and e.text == "it's really me")
            assert isinstance(real, MessageEvent) and not real.from_stranger and real.sender == alice_account.aor
            assert [m.text for m in bob.messaging.history(alice_account.aor)] == ["it's really me"]
            assert bob.messaging.history(alice_account.aor, requests=True) == []
        finally:
            mallory.close()
            await alice.stop()
            await bob.stop()
            store.close()

    asyncio.run(main())

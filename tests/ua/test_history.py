"""Ended calls go to the store's call history, with their quality over the call."""

from __future__ import annotations

import asyncio
from pathlib import Path

from softphone.store import CallOutcome, Store
from softphone.ua import Account, IncomingCallEvent, silence_media
from tests.ua import Recorder, make_ua
from tests.ua.test_media_wiring import direct_call, is_state, quality_events, sip_port


def test_answered_call_is_kept_with_its_quality_and_a_declined_one_as_declined(tmp_path: Path) -> None:
    alice_store = Store(tmp_path / "alice.db")
    bob_store = Store(tmp_path / "bob.db")

    async def main() -> None:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False), media=silence_media(), store=alice_store)
        bob = make_ua(Account("sip:bob@127.0.0.1", register=False), media=silence_media(), store=bob_store)
        try:
            a_events, b_events, a_call, _ = await direct_call(alice, bob)
            await quality_events(a_events, a_call, 2)
            await alice.hangup(a_call)
            await b_events.wait(is_state("ended"))

            mark = b_events.mark()
            await alice.call("sip:bob@127.0.0.1")
            incoming = await b_events.wait(lambda e: isinstance(e, IncomingCallEvent), after=mark)
            assert isinstance(incoming, IncomingCallEvent)
            await bob.decline(incoming.call_id)
            await a_events.wait(is_state("ended"), after=a_events.mark() - 1)
            await b_events.wait(is_state("ended"), after=mark)
        finally:
            await alice.stop()
            await bob.stop()

    try:
        asyncio.run(main())
        declined, answered = alice_store.history.list()
        assert answered.outcome == CallOutcome.ANSWERED and answered.peer == "sip:bob@127.0.0.1"
        assert answered.duration is not None and answered.duration > 0
        assert answered.quality is not None and answered.quality["samples"] >= 2
        assert answered.quality["min_mos"] > 3.5 and "loss_percent" in answered.quality["average"]
        assert declined.outcome == CallOutcome.DECLINED and declined.sip_code == 603 and declined.quality is None
        b_declined, b_answered = bob_store.history.list()
        assert b_answered.outcome == CallOutcome.ANSWERED and b_answered.direction == "in"
        assert b_declined.outcome == CallOutcome.DECLINED
    finally:
        alice_store.close()
        bob_store.close()


def test_call_nobody_answers_is_missed_for_the_callee_and_cancelled_for_the_caller(tmp_path: Path) -> None:
    alice_store = Store(tmp_path / "alice.db")
    bob_store = Store(tmp_path / "bob.db")

    async def main() -> None:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False), store=alice_store)
        bob = make_ua(Account("sip:bob@127.0.0.1", register=False), store=bob_store)
        a_events, b_events = Recorder(alice), Recorder(bob)
        await bob.start()
        await alice.start()
        alice.accounts[0].outbound_proxy = f"sip:127.0.0.1:{sip_port(bob)}"
        try:
            call = await alice.call("sip:bob@127.0.0.1")
            await b_events.wait(lambda e: isinstance(e, IncomingCallEvent))
            await a_events.wait(is_state("ringing"))
            await alice.hangup(call.id)
            await b_events.wait(is_state("ended"))
            await a_events.wait(is_state("ended"))
        finally:
            await alice.stop()
            await bob.stop()

    try:
        asyncio.run(main())
        (mine,) = alice_store.history.list()
        (theirs,) = bob_store.history.list()
        assert mine.outcome == CallOutcome.CANCELLED and mine.answered is None
        assert theirs.outcome == CallOutcome.MISSED
        assert bob_store.history.missed_count() == 1
    finally:
        alice_store.close()
        bob_store.close()

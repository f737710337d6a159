"""Reliable provisional responses (RFC 3262) and UPDATE (RFC 3311) against real peers through Kamailio.

The callee requires 100rel and sends its audio as early media in a reliable
183; the caller PRACKs it, hears the tone before any answer, changes the
early session with UPDATE, and the session timer refreshes with UPDATE.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from softphone.media.engine import PIPELINE_RATE
from softphone.ua import CallEvent, IncomingCallEvent, QualityEvent, RegistrationEvent, UserAgent, wav_media
from softphone.ua.call_state import CallPhase
from tests.integration.test_cli import CliProcess
from tests.integration.test_ua_calls import call_state, new_account
from tests.kamailio_server import Kamailio
from tests.ua import Recorder, make_ua
from tests.ua.test_media_wiring import dominant_frequency, read_wav, write_tone

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel


async def registered(*pairs: tuple[UserAgent, Recorder]) -> None:
    for ua, events in pairs:
        await ua.start()
        await ua.register()
        await events.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "registered")


async def early_packets(events: Recorder, call_id: str, count: int = 25) -> QualityEvent:
    """A quality report showing ``count`` packets received while the call is still early."""
    event = await events.wait(
        lambda e: isinstance(e, QualityEvent) and e.call_id == call_id and e.packets_received >= count
    )
    assert isinstance(event, QualityEvent)
    return event


def assert_tone(recording: Path, frequency: float) -> None:
    samples, rate = read_wav(recording)
    assert samples.size > PIPELINE_RATE // 2, f"only {samples.size} samples recorded"
    tail = samples[-PIPELINE_RATE // 2 :]
    assert float(np.sqrt(np.mean(tail**2))) > 0.02
    assert abs(dominant_frequency(tail, rate) - frequency) < 20.0


def test_early_media_after_a_reliable_183_then_cancel(kamailio: Kamailio, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "announcement.wav", frequency=700.0)
    heard = tmp_path / "heard.wav"
    alice_account, bob_account = new_account(kamailio), new_account(kamailio)

    async def main() -> None:
        alice = make_ua(alice_account, media=wav_media(record=heard))
        bob = make_ua(bob_account, media=wav_media(play=tone), rel100="required", early_media=True)
        a_events, b_events = Recorder(alice), Recorder(bob)
        try:
            await registered((alice, a_events), (bob, b_events))
            call = await alice.call(bob_account.user)
            await a_events.wait(call_state("early"))
            incoming = await b_events.wait(lambda e: isinstance(e, IncomingCallEvent))
            assert isinstance(incoming, IncomingCallEvent)
            await early_packets(a_events, call.id)
            # The 183 was PRACKed through Kamailio, once, and bob's retransmissions stopped.
            assert alice.stack.sent["PRACK"] == 1
            bob_call = bob.find_call(incoming.call_id)
            assert bob_call.machine.phase is CallPhase.INCOMING_EARLY and bob_call.machine.uas.unacked is None
            assert not [e for e in a_events.events if isinstance(e, CallEvent) and e.state == "confirmed"]
            await alice.hangup(call.id)
            ended = await b_events.wait(call_state("ended"))
            assert isinstance(ended, CallEvent) and ended.code == 487
            await a_events.wait(call_state("ended"))
            await alice.wait_media_stopped()
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())
    # All alice recorded came before any answer: the early media.
    assert_tone(heard, 700.0)


def test_update_in_the_early_dialog_then_answer(kamailio: Kamailio, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.wav", frequency=1000.0)
    heard = tmp_path / "heard.wav"
    alice_account, bob_account = new_account(kamailio), new_account(kamailio)

    async def main() -> None:
        alice = make_ua(alice_account, media=wav_media(record=heard))
        bob = make_ua(bob_account, media=wav_media(play=tone), rel100="required", early_media=True)
        a_events, b_events = Recorder(alice), Recorder(bob)
        try:
            await registered((alice, a_events), (bob, b_events))
            call = await alice.call(bob_account.user)
            await a_events.wait(call_state("early"))
            incoming = await b_events.wait(lambda e: isinstance(e, IncomingCallEvent))
            assert isinstance(incoming, IncomingCallEvent)
            await early_packets(a_events, call.id)
            invites = alice.stack.sent["INVITE"]  # the first and its retry with credentials
            # Hold and resume while still early go as UPDATEs in the early dialog (RFC 3311 5.1).
            await alice.hold(call.id)
            bob_call = bob.find_call(incoming.call_id)
            assert call.local_hold and bob_call.remote_hold and alice.stack.sent["UPDATE"] == 1
            assert bob_call.media is not None and bob_call.media.direction == "recvonly"
            await alice.resume(call.id)
            assert not call.local_hold and not bob_call.remote_hold and alice.stack.sent["UPDATE"] == 2
            await bob.answer(incoming.call_id)
            await a_events.wait(call_state("confirmed"))
            await b_events.wait(call_state("confirmed"))
            assert alice.stack.sent["INVITE"] == invites  # no re-INVITE: the early session went on
            await alice.hangup(call.id)
            await b_events.wait(call_state("ended"))
            await alice.wait_media_stopped()
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())
    assert_tone(heard, 1000.0)


def test_softphone_cli_requiring_100rel_with_early_media(kamailio: Kamailio, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.wav", frequency=600.0)
    heard = tmp_path / "heard.wav"
    bob = CliProcess(kamailio, "--100rel", "required", "--early-media", "--play", str(tone), audio=())
    alice_account = new_account(kamailio)

    async def main() -> None:
        alice = make_ua(alice_account, media=wav_media(record=heard))
        a_events = Recorder(alice)
        try:
            await registered((alice, a_events))
            await asyncio.to_thread(bob.wait_for, event="registration", state="registered")
            call = await alice.call(bob.user)
            await a_events.wait(call_state("early"))
            await early_packets(a_events, call.id)
            assert alice.stack.sent["PRACK"] == 1
            incoming = await asyncio.to_thread(bob.wait_for, event="call", state="early")
            bob.send(f"answer {incoming['call_id']}")
            await a_events.wait(call_state("confirmed"))
            await alice.hangup(call.id)
            await asyncio.to_thread(bob.wait_for, event="call", state="ended")
            await alice.wait_media_stopped()
        finally:
            await alice.stop()

    try:
        asyncio.run(main())
    finally:
        bob.close()
    assert_tone(heard, 600.0)


def test_a_caller_without_100rel_is_refused_by_a_callee_that_requires_it(kamailio: Kamailio) -> None:
    alice_account, bob_account = new_account(kamailio), new_account(kamailio)

    async def main() -> None:
        alice = make_ua(alice_account, rel100="off")
        bob = make_ua(bob_account, rel100="required")
        a_events, b_events = Recorder(alice), Recorder(bob)
        try:
            await registered((alice, a_events), (bob, b_events))
            await alice.call(bob_account.user)
            ended = await a_events.wait(call_state("ended"))
            assert isinstance(ended, CallEvent) and ended.code == 421
            # The callee never rang: no event there.
            assert not [e for e in b_events.events if isinstance(e, CallEvent | IncomingCallEvent)]
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())

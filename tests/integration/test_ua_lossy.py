"""A call between two UserAgents whose RTP crosses a lossy, jittery relay.

Alice calls bob directly (no server) through a SIP ALG (``sip_alg.py``): a
UDP forwarder that rewrites each SDP so that the audio, RTP and RTCP, goes
through a seeded :class:`~tests.media_relay.LossyRelay` (8 % loss,
duplication, reordering, 10-40 ms of delay). Each side sends a tone of its
own from the engine's ``ToneSource`` and collects what it plays in an
``ArraySink``. Under the impairment the call must stay up; both sides latch
onto the relay, report loss in their quality events, fill the gaps (Opus:
FEC from the next packet and concealment; G.711: concealment only) and still
play the other side's tone. Waits are bounded polls, not sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from softphone.media.engine import ArraySink, SessionStats, ToneSource
from softphone.sip.offer_answer import AudioConfig, Codec, pcmu_codec
from softphone.ua import (
    Account,
    Call,
    CallEvent,
    Event,
    IncomingCallEvent,
    MediaWarningEvent,
    QualityEvent,
    UserAgent,
)
from softphone.ua.media import CallAudio, Warn
from tests.integration.sip_alg import SipAlg
from tests.integration.test_ua_calls import call_state
from tests.integration.test_ua_devices import WINDOW, describe_samples, has_tone, poll, quality_with
from tests.media_relay import LossyRelay
from tests.ua import Recorder, make_ua

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

ALICE_TONE = 1000.0
BOB_TONE = 600.0
LOSS = 0.08
DUPLICATE = 0.02
REORDER = 0.05
DELAY_MS = (10.0, 40.0)  # a 30 ms spread
REORDER_MS = 30.0
UNDER_IMPAIRMENT = 5.0  # seconds of audio each side must receive through the relay
PTIME = 0.02
DEADLINE = 30.0  # bound on each wait; far above what a run takes


class ToneEnd:
    """A media factory: a tone out, what is played collected in an ArraySink."""

    def __init__(self, freq: float) -> None:
        self.freq = freq
        self.sink = ArraySink()

    def __call__(self, call_id: str, warn: Warn) -> CallAudio:
        return CallAudio(ToneSource(self.freq), self.sink)


@dataclass
class LossyCall:
    alice: UserAgent
    bob: UserAgent
    a_events: Recorder
    b_events: Recorder
    a_call: Call
    b_call: Call
    alg: SipAlg
    rtp: LossyRelay
    rtcp: LossyRelay


def sip_address(ua: UserAgent) -> tuple[str, int]:
    host, port = ua.stack.transport.local_address("UDP")
    return host, port


def relay(seed: int) -> LossyRelay:
    return LossyRelay(
        None,
        None,
        loss=LOSS,
        duplicate=DUPLICATE,
        reorder=REORDER,
        delay_ms=DELAY_MS,
        reorder_ms=REORDER_MS,
        seed=seed,
    )


@asynccontextmanager
async def lossy_call(alice_end: ToneEnd, bob_end: ToneEnd, codecs: list[Codec] | None) -> AsyncIterator[LossyCall]:
    """Alice calls bob through the ALG and the relays; yields once both have confirmed the call."""
    options = {} if codecs is None else {"audio": AudioConfig(codecs=codecs)}
    alice = make_ua(Account("sip:alice@127.0.0.1", register=False), media=alice_end, **options)
    bob = make_ua(Account("sip:bob@127.0.0.1", register=False), media=bob_end, **options)
    a_events, b_events = Recorder(alice), Recorder(bob)
    try:
        await alice.start()
        await bob.start()
        with (
            relay(seed=1) as rtp,
            relay(seed=2) as rtcp,
            SipAlg(sip_address(alice), sip_address(bob), rtp=rtp, rtcp=rtcp) as alg,
        ):
            try:
                alice.accounts[0].outbound_proxy = "sip:{}:{}".format(*alg.address_a)
                call = await alice.call("sip:bob@127.0.0.1")
                incoming = await b_events.wait(lambda e: isinstance(e, IncomingCallEvent), DEADLINE)
                assert isinstance(incoming, IncomingCallEvent)
                await bob.answer(incoming.call_id)
                await a_events.wait(call_state("confirmed", call.id), DEADLINE)
                await b_events.wait(call_state("confirmed", incoming.call_id), DEADLINE)
                yield LossyCall(alice, bob, a_events, b_events, call, bob.find_call(incoming.call_id), alg, rtp, rtcp)
            finally:
                # While the ALG still forwards: a call left up is hung up through it.
                await alice.stop()
                await bob.stop()
    finally:
        await alice.stop()
        await bob.stop()


def ended(events: Recorder) -> list[Event]:
    return [e for e in events.events if isinstance(e, CallEvent) and e.state == "ended"]


def session_stats(call: Call) -> SessionStats:
    session = call.media_session
    assert session is not None, f"call {call.id} has no media session"
    return session.stats()


@dataclass(frozen=True)
class Variant:
    codecs: Callable[[], list[Codec]] | None  # None: the default preferences (Opus first, with in-band FEC)
    codec_name: str
    fec: bool


VARIANTS = {
    "opus": Variant(None, "opus", fec=True),
    "pcmu": Variant(lambda: [pcmu_codec()], "PCMU", fec=False),
}


@pytest.mark.parametrize("variant", list(VARIANTS.values()), ids=list(VARIANTS))
def test_call_through_a_lossy_jittery_relay(variant: Variant) -> None:
    alice_end, bob_end = ToneEnd(ALICE_TONE), ToneEnd(BOB_TONE)

    async def main() -> None:
        codecs = None if variant.codecs is None else variant.codecs()
        async with lossy_call(alice_end, bob_end, codecs) as c:
            assert c.alg.log.sdp_rewritten >= 2, c.alg.messages()  # the offer and the answer
            assert not c.alg.log.errors and not c.alg.log.unparsed, c.alg.log
            for call in (c.a_call, c.b_call):
                assert call.media is not None and call.media.codec.name == variant.codec_name, call.media
            # Several seconds of audio each way through the relay, with loss seen by each receiver.
            enough = round(UNDER_IMPAIRMENT / PTIME)
            a_quality = await c.a_events.wait(
                quality_with(c.a_call.id, lambda q: q.packets_received >= enough and q.loss_percent > 0), DEADLINE
            )
            b_quality = await c.b_events.wait(
                quality_with(c.b_call.id, lambda q: q.packets_received >= enough and q.loss_percent > 0), DEADLINE
            )
            assert isinstance(a_quality, QualityEvent) and isinstance(b_quality, QualityEvent)
            assert a_quality.jitter_ms > 0 and b_quality.jitter_ms > 0, (a_quality, b_quality)
            # Both sides still in the call: nothing ended, no media trouble.
            assert not ended(c.a_events) and not ended(c.b_events), (ended(c.a_events), ended(c.b_events))
            assert not c.a_call.ended and not c.b_call.ended
            warnings = [e for e in c.a_events.events + c.b_events.events if isinstance(e, MediaWarningEvent)]
            assert not warnings, warnings

            # The relay did impair the stream, and symmetric RTP latched onto its sides.
            relayed = c.rtp.stats()
            assert relayed.dropped > 0 and relayed.duplicated > 0 and relayed.reordered > 0, relayed
            assert relayed.unknown_source == 0, relayed
            a_stats, b_stats = session_stats(c.a_call), session_stats(c.b_call)
            assert a_stats.latched_address == c.rtp.address_a, (a_stats.latched_address, c.rtp.address_a)
            assert b_stats.latched_address == c.rtp.address_b, (b_stats.latched_address, c.rtp.address_b)

            # The gaps were filled: in-band FEC from the next packet (Opus) or concealment (G.711, no FEC).
            def gaps_filled(stats: SessionStats) -> bool:
                if variant.fec:
                    return stats.fec_decoded > 0
                return stats.concealed > 0 and stats.fec_decoded == 0

            filled = await poll(
                lambda: all(gaps_filled(session_stats(call)) for call in (c.a_call, c.b_call)), DEADLINE
            )
            for stats in (session_stats(c.a_call), session_stats(c.b_call)):
                assert filled, stats
                assert stats.loss_percent > 0 and stats.jitter_buffer_ms > 0, stats

            # And each side still plays the other's tone.
            heard = await poll(
                lambda: (
                    has_tone(alice_end.sink.samples(WINDOW), BOB_TONE)
                    and has_tone(bob_end.sink.samples(WINDOW), ALICE_TONE)
                ),
                DEADLINE,
            )
            assert heard, (
                f"expected {BOB_TONE:.0f} Hz at alice and {ALICE_TONE:.0f} Hz at bob; "
                f"alice played {describe_samples(alice_end.sink.samples(WINDOW))}; "
                f"bob played {describe_samples(bob_end.sink.samples(WINDOW))}"
            )

            # The hang-up crosses the ALG too (the rewritten Contact): the BYE and its 200.
            await c.bob.hangup(c.b_call.id)
            await c.a_events.wait(call_state("ended", c.a_call.id), DEADLINE)
            await c.b_events.wait(call_state("ended", c.b_call.id), DEADLINE)
            crossed = await poll(
                lambda: c.alg.count("B>A", "BYE") >= 1 and c.alg.count("A>B", "200 BYE") >= 1, DEADLINE
            )
            assert crossed, c.alg.messages()
            assert c.alg.count("A>B", "ACK") >= 1, c.alg.messages()
            await c.alice.wait_media_stopped()
            await c.bob.wait_media_stopped()

    asyncio.run(main())

"""Several calls at once from one user agent, then all of them in one local conference.

The machinery of benchmarks/media.py part 4 (tests/many_calls.py) at small scale: the host
(500 Hz) calls three user agents on loopback that answer by themselves, each sending a tone
of its own. Every call carries its own peer's tone to the host and the host's to the peer,
checked by FFT; after the host merges the three calls, each peer hears the host and the two
others and not itself, and the host's speaker hears all three peers.
"""

from __future__ import annotations

import asyncio
import contextlib

from softphone.ua import Account, UserAgent
from tests.many_calls import Host, Window
from tests.ua import make_ua
from tests.ua.test_conference import ToneMedia, hears, until
from tests.ua.test_media_wiring import sip_port

HOST_TONE = 500.0
PEER_TONES = (1000.0, 1500.0, 2000.0)


async def received_on_every_call(host: Host) -> Window:
    """A counting window in which every call's media thread took in RTP (bounded: 20 windows)."""
    for _ in range(20):
        window = await host.window(0.5)
        if window.packets_received and min(window.packets_received) > 0:
            return window
    raise AssertionError(f"some call received no RTP: {window}")


def test_three_calls_at_once_then_a_four_party_conference() -> None:
    async def main() -> None:
        host_media = ToneMedia(HOST_TONE)
        peer_media = [ToneMedia(f) for f in PEER_TONES]
        peers: list[UserAgent] = [
            make_ua(Account(f"sip:p{i}@127.0.0.1", register=False, auto_answer=0.0), media=media)
            for i, media in enumerate(peer_media)
        ]
        async with contextlib.AsyncExitStack() as stack:
            for peer in peers:
                await peer.start()
                stack.push_async_callback(peer.stop)
            host = await stack.enter_async_context(Host(host_media))
            calls = await host.place([f"sip:p{i}@127.0.0.1:{sip_port(p)}" for i, p in enumerate(peers)])
            assert len(calls) == 3 and len(host.ua.calls) == 3
            await until(lambda: all(len(m.sinks) == 1 for m in peer_media), "every peer has its call's audio")
            peer_sinks = [next(iter(m.sinks.values())) for m in peer_media]

            for call_id, tone in zip(calls, PEER_TONES, strict=True):
                others = [f for f in PEER_TONES if f != tone]
                sink = host_media.sinks[call_id]
                await until(lambda s=sink, t=tone, o=others: hears(s, [t], o), f"call {call_id} carries {tone} Hz")
            for sink in peer_sinks:
                await until(lambda s=sink: hears(s, [HOST_TONE], PEER_TONES), "each peer hears the host only")
            alone = await received_on_every_call(host)
            assert alone.calls == 3 and alone.underruns == alone.overruns == 0  # no mixer yet

            await host.merge(calls)
            assert host.ua.conference_calls == calls
            for sink, tone in zip(peer_sinks, PEER_TONES, strict=True):
                others = [f for f in PEER_TONES if f != tone]
                await until(
                    lambda s=sink, o=others, t=tone: hears(s, [HOST_TONE, *o], [t]),
                    f"the {tone} Hz peer hears the host and the two others, not itself",
                )
            speaker = host_media.sinks[calls[0]]  # the first call's audio is the conference's
            await until(lambda: hears(speaker, list(PEER_TONES), [HOST_TONE]), "the host hears every peer")
            mixed = await received_on_every_call(host)
            assert mixed.calls == 3 and mixed.ticks > 0

    asyncio.run(main())

"""G.722 interop with baresip's g722 module (Debian package), both directions, direct over UDP on loopback.

baresip offers or answers G.722 alone; each side's tone lies above G.711's band
(6 kHz ours, 5 kHz baresip's) and is checked by FFT at the other end: ours in
baresip's sndfile recording, baresip's in our sink.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from softphone.ua import Account, IncomingCallEvent
from tests.baresip_peer import Baresip
from tests.integration.test_interop_srtp import heard_by_baresip
from tests.integration.test_ua_srtp import ToneFactory, until
from tests.ua import Recorder, make_ua
from tests.ua.test_media_wiring import sip_port, write_tone

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

OUR_TONE = 6000.0
THEIR_TONE = 5000.0


@pytest.fixture
def peers() -> Iterator[list[Baresip]]:
    made: list[Baresip] = []
    yield made
    for peer in made:
        peer.close()


@pytest.mark.parametrize("caller", ["softphone", "baresip"])
def test_g722_call_with_baresip(caller: str, tmp_path: Path, peers: list[Baresip]) -> None:
    wav = write_tone(tmp_path / "baresip.wav", frequency=THEIR_TONE, seconds=60.0, rate=16000)
    peer = Baresip(wav, mediaenc=None, answer=caller == "softphone", codec="G722/16000/1")
    peers.append(peer)
    tones = ToneFactory(OUR_TONE)

    async def main() -> None:
        # The default codec list: Opus first, which baresip lacks here, so G.722 is what both have.
        ua = make_ua(Account("sip:alice@127.0.0.1", register=False, srtp="off"), media=tones)
        events = Recorder(ua)
        await ua.start()
        try:
            if caller == "softphone":
                call_id = (await ua.call(peer.uri)).id
            else:
                peer.command("dial", f"sip:alice@127.0.0.1:{sip_port(ua)}")
                incoming = await events.wait(lambda e: isinstance(e, IncomingCallEvent))
                assert isinstance(incoming, IncomingCallEvent)
                call_id = incoming.call_id
                await ua.answer(call_id)
            await asyncio.get_running_loop().run_in_executor(None, peer.wait, "CALL_ESTABLISHED")
            media = ua.find_call(call_id).media
            assert media is not None
            assert (media.codec.name.upper(), media.codec.clock_rate, media.payload_type) == ("G722", 8000, 9)
            await until(lambda: tones.hears(call_id, THEIR_TONE), 15)
            session = ua.find_call(call_id).media_session
            assert session is not None
            await until(lambda: session.stats().packets_sent > 100, 15)
            stats = session.stats()
            assert stats.failures == 0 and stats.decode_errors == 0
            await ua.hangup(call_id)
            await asyncio.get_running_loop().run_in_executor(None, peer.wait, "CALL_CLOSED")
        finally:
            await ua.stop()

    asyncio.run(main())
    assert abs(heard_by_baresip(peer) - OUR_TONE) < 20.0
    log = peer.log()
    assert "Set audio decoder: G722 16000Hz" in log and "Set audio encoder: G722 16000Hz" in log, log

"""A video call between two UserAgents whose video crosses a relay losing 5 % of the datagrams.

Alice calls bob directly through the SIP ALG of ``sip_alg.py``, which puts the
audio through a clean relay and the video (RTP and RTCP, rtcp-mux) through a
seeded lossy one: 5 % loss, 1 % duplicates, 2 % reordered, 5-20 ms delay, both
ways, so NACKs and key frame requests are lost too now and then. Bob records
what he receives; every frame in the recording must be the right one (counter
in order, PSNR against its source frame above the threshold of
``tests/video_check.py``), most frames must arrive, and the figures must show
the repair at work: bob's NACKs and alice's resends.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from softphone.ua import Account, IncomingCallEvent, VideoQualityEvent
from softphone.ua.call_video import VideoSettings
from softphone.ua.media import silence_media
from tests.integration.sip_alg import SipAlg
from tests.integration.test_ua_calls import call_state
from tests.integration.test_ua_lossy import sip_address
from tests.media_relay import LossyRelay
from tests.ua import Recorder, make_ua
from tests.video_check import PSNR_THRESHOLD_DB, read_recording

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

FRAMES = 120  # 8 s at 15 frames a second
DEADLINE = 60.0


def test_video_under_five_percent_loss_is_repaired(tmp_path: Path) -> None:
    recording = tmp_path / "bob.mkv"

    async def main() -> tuple[VideoQualityEvent, VideoQualityEvent]:
        alice = make_ua(
            Account("sip:alice@127.0.0.1", register=False, srtp="off"), media=silence_media(), video=VideoSettings()
        )
        bob = make_ua(
            Account("sip:bob@127.0.0.1", register=False, srtp="off"),
            media=silence_media(),
            video=VideoSettings(source=None, record=recording),
        )
        a_events, b_events = Recorder(alice), Recorder(bob)
        audio = LossyRelay(None, None, loss=0, duplicate=0, reorder=0, delay_ms=(0, 0), seed=1)
        video = LossyRelay(None, None, loss=0.05, duplicate=0.01, reorder=0.02, delay_ms=(5, 20), seed=11)
        try:
            await alice.start()
            await bob.start()
            with SipAlg(sip_address(alice), sip_address(bob), rtp=audio, video=video) as alg:
                alice.accounts[0].outbound_proxy = "sip:{}:{}".format(*alg.address_a)
                call = await alice.call("sip:bob@127.0.0.1")
                incoming = await b_events.wait(lambda e: isinstance(e, IncomingCallEvent), DEADLINE)
                assert isinstance(incoming, IncomingCallEvent)
                await bob.answer(incoming.call_id)
                await a_events.wait(call_state("confirmed", call.id), DEADLINE)

                def decoded(event: object) -> bool:
                    return isinstance(event, VideoQualityEvent) and event.frames_decoded >= FRAMES

                got = await b_events.wait(decoded, DEADLINE)
                sent = [e for e in a_events.events if isinstance(e, VideoQualityEvent)][-1]
                await alice.hangup(call.id)
                await b_events.wait(call_state("ended", incoming.call_id), DEADLINE)
                assert isinstance(got, VideoQualityEvent) and isinstance(sent, VideoQualityEvent)
                assert video.stats().dropped > 0  # the relay did lose packets
                return got, sent
        finally:
            await alice.stop()
            await bob.stop()
            audio.close()
            video.close()

    received, sender = asyncio.run(main())
    # RFC 3550 loss counts what never came: the resent packets fill most gaps, so it stays near 0.
    assert received.nacks_sent > 0 and received.loss_percent < 5, received
    assert sender.retransmitted > 0, sender
    frames = read_recording(recording)
    assert frames.in_order and frames.unreadable == 0
    shown = len(frames.counters)
    span = frames.counters[-1] - frames.counters[0] + 1
    # 5 % of packets lost cost 11 % of the frames in the media tests; 25 % leaves room for a busy machine.
    assert frames.missing <= span * 0.25, f"{frames.missing} of {span} frames missing"
    assert shown >= FRAMES and min(frames.psnrs) >= PSNR_THRESHOLD_DB

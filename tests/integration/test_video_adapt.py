"""A video call whose video crosses a relay that starts losing half the datagrams, then none: the sender's target
bitrate falls while the loss lasts and climbs again after it.

Alice calls bob directly through the SIP ALG of ``sip_alg.py`` (as in
``test_video_lossy.py``); the audio goes through a clean relay, the video
through a lossy one whose loss the test changes. Only directions are asserted:
the target goes down under loss (and the picture with it), and up without.
"""

from __future__ import annotations

import asyncio

import pytest

from softphone.ua import Account, IncomingCallEvent, VideoQualityEvent
from softphone.ua.call_video import VideoSettings
from softphone.ua.media import silence_media
from tests.integration.sip_alg import SipAlg
from tests.integration.test_ua_calls import call_state
from tests.integration.test_ua_lossy import sip_address
from tests.media_relay import LossyRelay
from tests.ua import Recorder, make_ua

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

DEADLINE = 90.0
MAXIMUM_KBPS = 300.0


def test_target_bitrate_falls_under_loss_and_recovers_after_it() -> None:
    async def main() -> tuple[list[float], float, float]:
        alice = make_ua(
            Account("sip:alice@127.0.0.1", register=False, srtp="off"), media=silence_media(), video=VideoSettings()
        )
        bob = make_ua(
            Account("sip:bob@127.0.0.1", register=False, srtp="off"),
            media=silence_media(),
            video=VideoSettings(source=None),
        )
        a_events, b_events = Recorder(alice), Recorder(bob)
        audio = LossyRelay(None, None, loss=0, duplicate=0, reorder=0, delay_ms=(0, 0), seed=1)
        video = LossyRelay(None, None, loss=0, duplicate=0, reorder=0, delay_ms=(5, 10), seed=5)
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

                def sending(event: object) -> bool:
                    return isinstance(event, VideoQualityEvent) and event.call_id == call.id and event.frames_sent > 0

                first = await a_events.wait(sending, DEADLINE)
                assert isinstance(first, VideoQualityEvent) and first.target_bitrate_kbps == MAXIMUM_KBPS

                video.loss = 0.5
                lossy_from = len(a_events.events)

                def fallen(event: object) -> bool:
                    return sending(event) and event.target_bitrate_kbps <= 0.6 * MAXIMUM_KBPS  # type: ignore[attr-defined]

                low = await a_events.wait(fallen, DEADLINE, after=lossy_from)
                assert isinstance(low, VideoQualityEvent)
                video.loss = 0.0
                mark = len(a_events.events)

                def recovered(event: object) -> bool:
                    if not sending(event):
                        return False
                    since = [e.target_bitrate_kbps for e in a_events.events[mark:] if isinstance(e, VideoQualityEvent)]
                    # Up from the lowest the target went (the loss of the last reports may still cut it once).
                    return event.target_bitrate_kbps >= 1.3 * min(low.target_bitrate_kbps, *since)  # type: ignore[attr-defined]

                high = await a_events.wait(recovered, DEADLINE, after=mark)
                assert isinstance(high, VideoQualityEvent)
                await alice.hangup(call.id)
                await b_events.wait(call_state("ended", incoming.call_id), DEADLINE)
                targets = [e.target_bitrate_kbps for e in a_events.events if sending(e)]
                return targets, low.target_bitrate_kbps, high.target_bitrate_kbps
        finally:
            await alice.stop()
            await bob.stop()
            audio.close()
            video.close()

    targets, low, high = asyncio.run(main())
    assert targets[0] == MAXIMUM_KBPS and low < MAXIMUM_KBPS and high > low, targets

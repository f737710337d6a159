"""An ICE call between our UserAgent and baresip's ice module, run inside a private network namespace
(``unshare -n``) whose one interface besides loopback is a veth (its peer in the same namespace) with
the address :data:`HOST`.

baresip gathers a host candidate on every interface it finds but loopback; in that namespace it finds only
that one, so no check can leave the machine. Both sides offer host candidates only
and rtcp-mux; the checks, the nomination and the roles (the offerer controls) must agree between the two
implementations. Prints one JSON line: what our side saw (the chosen path, ICE counters, whether we heard
baresip's tone) and the frequency baresip heard. ``CALLER`` is ``softphone`` or ``baresip``; with a third
argument ``video`` the call has VP8 video too, whose ICE runs on its own port (baresip's fakevideo one way, our
pattern the other), and the JSON says which path the video's ICE chose and how many frames went each way.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from softphone.ua import Account, IncomingCallEvent, MediaPathEvent, VideoQualityEvent
from softphone.ua.call_video import VideoSettings
from tests.baresip_peer import Baresip
from tests.integration.test_interop_srtp import heard_by_baresip
from tests.integration.test_ua_srtp import ToneFactory, until
from tests.ua import Recorder, make_ua
from tests.ua.test_media_wiring import sip_port, write_tone

HOST = "192.0.2.10"
# Run by the test as the namespace's first command.
SETUP = (
    "ip link set lo up && ip link add v0 type veth peer name v1 && ip link set v1 up"
    f" && ip addr add {HOST}/24 dev v0 && ip link set v0 up"
)
OUR_TONE = 440.0
THEIR_TONE = 1000.0


async def call(caller: str, peer: Baresip, tones: ToneFactory, video: bool = False) -> dict[str, Any]:
    account = Account(f"sip:alice@{HOST}", register=False, srtp="off", ice=True)
    settings = VideoSettings(source="pattern", codecs=("VP8",)) if video else None
    ua = make_ua(account, media=tones, listen=[("UDP", HOST, 0)], video=settings)
    events = Recorder(ua)
    await ua.start()
    loop = asyncio.get_running_loop()
    try:
        if caller == "softphone":
            call_id = (await ua.call(peer.uri)).id
        else:
            peer.command("dial", f"sip:alice@{HOST}:{sip_port(ua)}")
            incoming = await events.wait(lambda e: isinstance(e, IncomingCallEvent))
            assert isinstance(incoming, IncomingCallEvent)
            call_id = incoming.call_id
            await ua.answer(call_id)
        await loop.run_in_executor(None, peer.wait, "CALL_ESTABLISHED")
        media = ua.find_call(call_id).media
        assert media is not None
        path = await events.wait(lambda e: isinstance(e, MediaPathEvent) and e.stream == "audio", 15)
        assert isinstance(path, MediaPathEvent)
        await until(lambda: tones.hears(call_id, THEIR_TONE), 15)
        session = ua.find_call(call_id).media_session
        assert session is not None
        await until(lambda: session.stats().packets_sent > 100, 15)
        result = {
            "ice": media.ice is not None,
            "controlling": None if media.ice is None else media.ice.controlling,
            "rtcp_mux": media.rtcp_mux,
            "remote_candidates": [] if media.ice is None else [c.sdp() for c in media.ice.remote.candidates],
            "path": path.path,
            "local": path.local,
            "remote": path.remote,
            "counters": {k: v for k, v in session.stats().extra.items() if k.startswith("ice_")},
            "heard_them": True,
        }
        if video:
            result.update(await _video(ua, events, call_id))
        await ua.hangup(call_id)
        await loop.run_in_executor(None, peer.wait, "CALL_CLOSED")
        return result
    finally:
        await ua.stop()


async def _video(ua: Any, events: Recorder, call_id: str) -> dict[str, Any]:
    """Which path the video's ICE chose, with what credentials, and the frames each way after 45 decoded."""
    path = await events.wait(lambda e: isinstance(e, MediaPathEvent) and e.stream == "video", 15)
    assert isinstance(path, MediaPathEvent)

    def video() -> list[VideoQualityEvent]:
        return [e for e in events.events if isinstance(e, VideoQualityEvent) and e.call_id == call_id]

    await until(lambda: bool(video()) and video()[-1].frames_decoded >= 45, 30)
    negotiated = ua.find_call(call_id).video_applied
    ice = negotiated.ice if negotiated is not None else None
    return {
        "video_path": path.path,
        "video_local": path.local,
        "video_remote": path.remote,
        "video_ice": ice is not None,
        "video_remote_ufrag": None if ice is None else ice.remote.ufrag,
        "audio_remote_ufrag": ua.find_call(call_id).media.ice.remote.ufrag,
        "video_remote_candidates": [] if ice is None else [c.sdp() for c in ice.remote.candidates],
        "frames_decoded": video()[-1].frames_decoded,
        "frames_sent": video()[-1].frames_sent,
    }


def main() -> None:
    caller, folder = sys.argv[1], Path(sys.argv[2])
    video = sys.argv[3:4] == ["video"]
    wav = write_tone(folder / "baresip.wav", frequency=THEIR_TONE, seconds=60.0, rate=8000)
    peer = Baresip(wav, mediaenc=None, answer=caller == "softphone", medianat="ice", host=HOST, video=video)
    try:
        try:
            result = asyncio.run(call(caller, peer, ToneFactory(OUR_TONE), video))
        except BaseException:
            sys.stderr.write(peer.log()[-6000:])
            raise
        result["baresip_heard"] = heard_by_baresip(peer)
        result["baresip_ice_log"] = [line for line in peer.log().splitlines() if "ice" in line.lower()][-20:]
    finally:
        peer.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()

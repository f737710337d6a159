"""Video interop with baresip (Debian package): VP8 with its vp8 module, H.264 with its avcodec module (which
does packetization-mode 0 only), both directions, direct over UDP on loopback.

baresip's camera is its ``fakevideo`` source: we decode it (frames, size, no key
frame asked for, nothing dropped). Ours is the frame-counting pattern: baresip's
``snapshot`` module saves the picture it decoded last as a PNG, whose counter we
read back and compare with the source frame it names.

PSNR threshold for the snapshot: the picture went YUV → RGB (baresip) → YUV (here),
and that colour-space round trip alone takes the raw pattern down to 27 dB with
FFmpeg's conversion; baresip's snapshot of our stream measured 31 dB, a wrong
frame scores 18 dB or less (tests/video_check.py). 25 dB is between.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from softphone.media.video_sources import pattern_planes, read_counter
from softphone.ua import Account, IncomingCallEvent, VideoQualityEvent
from softphone.ua.call_video import VideoSettings
from softphone.ua.media import silence_media
from tests.baresip_peer import Baresip
from tests.integration.test_interop_srtp import MEDIAENC
from tests.integration.test_ua_srtp import until
from tests.ua import Recorder, make_ua
from tests.ua.test_media_wiring import sip_port, write_tone
from tests.video_check import psnr

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

SNAPSHOT_PSNR_DB = 25.0


@pytest.fixture
def peers() -> Iterator[list[Baresip]]:
    made: list[Baresip] = []
    yield made
    for peer in made:
        peer.close()


@pytest.mark.parametrize("codec", ["VP8", "H264"])
@pytest.mark.parametrize("caller", ["softphone", "baresip"])
def test_video_call_with_baresip(caller: str, codec: str, tmp_path: Path, peers: list[Baresip]) -> None:
    video_call_with_baresip(caller, codec, None, tmp_path, peers)


@pytest.mark.parametrize("keys", ["sdes", "dtls"])
@pytest.mark.parametrize("caller", ["softphone", "baresip"])
def test_encrypted_video_call_with_baresip(caller: str, keys: str, tmp_path: Path, peers: list[Baresip]) -> None:
    """baresip's srtp (SDES, srtp-mand) and dtls_srtp modules key its video stream as its audio: we take both."""
    peer = video_call_with_baresip(caller, "VP8", keys, tmp_path, peers)
    log = peer.log()
    if keys == "sdes":
        assert log.count("SRTP is Enabled") >= 2, log  # audio and video
    else:
        assert log.count("DTLS-SRTP complete") >= 2 or "dtls_srtp: all streams secure" in log, log


def video_call_with_baresip(caller: str, codec: str, keys: str | None, tmp_path: Path, peers: list[Baresip]) -> Baresip:
    """A call with baresip whose video goes both ways (``keys``: its encryption, None for plain RTP)."""
    wav = write_tone(tmp_path / "baresip.wav", frequency=1000.0, seconds=60.0, rate=8000)
    peer = Baresip(
        wav,
        mediaenc=None if keys is None else MEDIAENC[keys],
        answer=caller == "softphone",
        video=True,
        video_codec=codec,
    )
    peers.append(peer)
    snapshot = tmp_path / "snapshot.png"
    account = (
        Account("sip:alice@127.0.0.1", register=False, srtp="off")
        if keys is None
        else Account(
            "sip:alice@127.0.0.1",
            register=False,
            srtp="mandatory",
            srtp_keys=keys,
            srtp_clear_keys=True,  # type: ignore[arg-type]
        )
    )

    async def main() -> None:
        ua = make_ua(account, media=silence_media(), video=VideoSettings(source="pattern", codecs=(codec,)))
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

            def video() -> list[VideoQualityEvent]:
                return [e for e in events.events if isinstance(e, VideoQualityEvent) and e.call_id == call_id]

            await until(lambda: bool(video()) and video()[-1].frames_decoded >= 45, 30)
            last = video()[-1]
            assert (last.codec, last.width, last.height) == (codec, 320, 240)
            assert last.encrypted == (keys is not None)
            # baresip sends one RTCP APP packet ("PING"/"PONG") on its video stream in clear, encrypted or not:
            # on an encrypted stream that is refused and counted, never taken. With DTLS a packet or two may also
            # come a moment before our side of the handshake is through.
            assert last.frames_sent >= 45 and last.packets_dropped == last.srtp_dropped <= 3, last
            peer.command("snapshot_recv", str(snapshot))
            await until(snapshot.exists, 10)
            await ua.hangup(call_id)
            await asyncio.get_running_loop().run_in_executor(None, peer.wait, "CALL_CLOSED")
        finally:
            await ua.stop()

    asyncio.run(main())
    with av.open(str(snapshot)) as container:
        picture = next(container.decode(video=0))
    luma = picture.to_ndarray(format="yuv420p")[: picture.height]
    counter = read_counter(luma)
    assert counter is not None and counter > 0, "baresip's picture of our stream has no readable counter"
    assert psnr(luma, pattern_planes(counter, 320, 240)[:240]) >= SNAPSHOT_PSNR_DB
    log = peer.log()
    assert f"Set video encoder: {codec}" in log and f"Set video decoder: {codec}" in log, log
    assert "video: RTP/RTCP multiplexing enabled" in log and "receiving with resolution 320 x 240" in log, log
    return peer

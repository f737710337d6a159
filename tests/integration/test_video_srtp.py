"""Encrypted video calls: two UserAgents through the real Kamailio over TLS, keyed by SDES or DTLS-SRTP, and two
softphone-cli processes with the default SRTP setting.

Bob records what he decodes: the pattern's frame counters must come in order
and each picture must be the one its counter names (PSNR). A capture of
loopback (tshark) shows what crossed on the video ports: no packet whose payload
reads as VP8 (RFC 7741 descriptor, then a key frame's start code), while the
same check finds them in plain VP8 packets.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from softphone.media.video_codec import VideoEncoder
from softphone.media.video_sources import PatternSource
from softphone.media.vp8 import Vp8Error, Vp8Packetizer, is_keyframe, parse_descriptor
from softphone.ua import VideoQualityEvent
from softphone.ua.call_video import VideoSettings
from softphone.ua.media import silence_media
from tests.integration.test_cli import CliProcess
from tests.integration.test_ua_calls import Phone, call_state, registered_and_connected
from tests.integration.test_ua_srtp import srtp_account
from tests.integration.test_video_call import decoded
from tests.kamailio_server import Kamailio
from tests.tshark import Capture
from tests.ua import make_ua
from tests.video_check import PSNR_THRESHOLD_DB, read_recording

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

FRAMES = 45  # three seconds at 15 frames a second
# DTLS: the side that finishes its handshake first sends SRTP a moment before the other has its keys; those few
# packets are refused (srtp_not_ready) and counted. SDES has its keys at once.
DTLS_EARLY = 3
DEADLINE = 90.0


def plain_vp8_keyframes(payloads: list[bytes]) -> int:
    """How many payloads start a VP8 key frame in clear: a descriptor (S=1, partition 0), then 9d 01 2a."""
    found = 0
    for payload in payloads:
        try:
            descriptor = parse_descriptor(payload)
        except Vp8Error:
            continue
        if descriptor.start and descriptor.partition == 0 and is_keyframe(payload[descriptor.size :]):
            found += 1
    return found


def test_the_check_finds_key_frames_in_plain_vp8() -> None:
    """What the capture check looks for is there in clear VP8: our packetizer's first packet of a key frame."""
    source = PatternSource(320, 240)
    encoder = VideoEncoder("VP8", 320, 240, 15, 300_000)
    frames = [frame for index in range(5) for frame in encoder.encode(source.next_frame(index), index == 0)]
    payloads = [payload for frame in frames for payload in Vp8Packetizer().packetize(frame)]
    assert plain_vp8_keyframes(payloads) == 1


@pytest.mark.parametrize("keys", ["sdes", "dtls"])
def test_encrypted_video_through_kamailio_arrives_in_order_and_nothing_in_clear(
    kamailio: Kamailio, keys: str, tmp_path: Path
) -> None:
    recording = tmp_path / "bob.mkv"
    capture = Capture()

    async def main() -> VideoQualityEvent:
        a_account = srtp_account(kamailio, keys)
        b_account = srtp_account(kamailio, keys, auto_answer=0.1)
        alice = Phone(make_ua(a_account, media=silence_media(), video=VideoSettings()), a_account)
        bob = Phone(
            make_ua(b_account, media=silence_media(), video=VideoSettings(source=None, record=recording)), b_account
        )
        try:
            call, incoming = await registered_and_connected(alice.ua, alice.events, bob.ua, bob.events, bob.user)

            def enough(event: object) -> bool:
                return (
                    isinstance(event, VideoQualityEvent)
                    and event.call_id == incoming.call_id
                    and event.frames_decoded >= FRAMES
                )

            got = await bob.events.wait(enough, DEADLINE)
            assert isinstance(got, VideoQualityEvent)
            bob_call = bob.ua.find_call(incoming.call_id)
            assert call.video_port is not None and bob_call.video_port is not None
            capture.ports = {call.video_port.port, bob_call.video_port.port}
            await alice.ua.hangup(call.id)
            await bob.events.wait(call_state("ended", incoming.call_id), DEADLINE)
            return got
        finally:
            await alice.ua.stop()
            await bob.ua.stop()

    with capture:
        quality = asyncio.run(main())
    assert quality.encrypted and quality.srtp_dropped <= (DTLS_EARLY if keys == "dtls" else 0), quality
    # Lip sync, as computed from both streams' SRs: both are played as they come, so the picture and the sound
    # taken with it are apart by the audio's jitter buffer and a frame or so (-40 ms measured), far under 0.5 s.
    assert quality.av_offset_ms is not None and abs(quality.av_offset_ms) < 500, quality
    frames = read_recording(recording)
    assert frames.in_order and frames.unreadable == 0
    assert len(frames.counters) >= FRAMES and min(frames.psnrs) >= PSNR_THRESHOLD_DB
    payloads = capture.rtp_payloads()
    assert len(payloads) >= FRAMES, f"the capture holds {len(payloads)} RTP packets on the video ports"
    assert plain_vp8_keyframes(payloads) == 0


def test_cli_video_with_the_default_srtp_setting_is_encrypted_and_again_after_re_invite(kamailio: Kamailio) -> None:
    """No --srtp: optional SRTP, keyed by DTLS over UDP signalling, for the video as for the audio; video
    dropped and added again by re-INVITE is keyed again."""
    alice = CliProcess(kamailio, "--video")
    bob = CliProcess(kamailio, "--video", "--video-source", "pattern", "--auto-answer=0.2")
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"call {bob.user}")
        call = alice.wait_for(event="call", state="confirmed", timeout=20)
        seen = decoded(bob, FRAMES)
        assert seen["encrypted"] and seen["srtp_dropped"] <= DTLS_EARLY, seen
        back = decoded(alice, FRAMES)
        assert back["encrypted"] and (back["width"], back["height"]) == (320, 240), back
        # Dropped and added again by re-INVITE: a new DTLS association on the video port, then the picture.
        alice.send(f"video off {call['call_id']}")
        mark = bob.wait_for(event="quality", timeout=10, after=len(bob.events))
        mark = bob.wait_for(event="quality", timeout=10, after=bob.events.index(mark) + 1)
        quiet_from = bob.events.index(mark) + 1
        alice.send(f"video on {call['call_id']}")
        again = decoded(bob, FRAMES // 3, after=quiet_from)
        assert again["encrypted"] and again["srtp_dropped"] <= DTLS_EARLY and again["call_id"] == seen["call_id"], again
        alice.send(f"hangup {call['call_id']}")
        bob.wait_for(event="call", state="ended")
        alice.send("quit")
        bob.send("quit")
        assert alice.close() == 0 and bob.close() == 0
    finally:
        alice.close()
        bob.close()

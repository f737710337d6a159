"""Video calls between two softphone-cli processes through the real Kamailio: VP8 with a frame-counting pattern."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cli import CliProcess
from tests.kamailio_server import Kamailio
from tests.video_check import PSNR_THRESHOLD_DB, read_recording

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

# Seconds of video: enough for key frames, RTCP and several quality events; small enough for a shared machine.
FRAMES = 75
# The bound on waiting for that many frames: far above the 5 s it takes.
FRAMES_DEADLINE = 120.0


def decoded(proc: CliProcess, frames: int, after: int = 0) -> dict[str, Any]:
    """The first video_quality event from index ``after`` on with ``frames`` decoded, within FRAMES_DEADLINE."""
    end = time.monotonic() + FRAMES_DEADLINE
    seen = proc.wait_for(event="video_quality", timeout=FRAMES_DEADLINE, after=after)
    while seen["frames_decoded"] < frames:
        left = end - time.monotonic()
        assert left > 0, f"only {seen['frames_decoded']} frames decoded in {FRAMES_DEADLINE} s: {seen}"
        seen = proc.wait_for(event="video_quality", timeout=left, after=proc.events.index(seen) + 1)
    return seen


@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_video_call_through_kamailio_pattern_arrives_in_order(kamailio: Kamailio, codec: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="softphone-video-"))
    bob_file, alice_file = folder / "bob.mkv", folder / "alice.mkv"
    # Alice prefers the codec under test; bob takes the offer's order. With H.264 she sends a larger picture.
    codecs = "h264,vp8" if codec == "H264" else "vp8,h264"
    size = (640, 480) if codec == "H264" else (320, 240)
    alice = CliProcess(
        kamailio,
        "--video",
        "--srtp",
        "off",
        "--video-source",
        "pattern",
        "--video-codecs",
        codecs,
        "--video-size",
        f"{size[0]}x{size[1]}",
        "--video-bitrate",
        "800" if codec == "H264" else "300",
        "--record-video",
        str(alice_file),
    )
    bob = CliProcess(kamailio, "--video", "--srtp", "off", "--record-video", str(bob_file), "--auto-answer=0.2")
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"call {bob.user}")
        call = alice.wait_for(event="call", state="confirmed", timeout=20)
        bob_call = bob.wait_for(event="call", state="confirmed", timeout=20)
        seen = decoded(bob, FRAMES)
        assert seen["call_id"] == bob_call["call_id"]
        assert (seen["codec"], seen["width"], seen["height"]) == (codec, *size)
        assert seen["fps"] > 0 and seen["bitrate_kbps"] > 0
        theirs = alice.wait_for(event="video_quality", timeout=10, call_id=call["call_id"])
        assert theirs["frames_sent"] > 0
        alice.send(f"hangup {call['call_id']}")
        alice.wait_for(event="call", state="ended")
        bob.wait_for(event="call", state="ended")
        alice.send("quit")
        bob.send("quit")
        assert alice.close() == 0 and bob.close() == 0
        received = read_recording(bob_file)
        assert received.unreadable == 0 and received.in_order
        assert len(received.counters) >= FRAMES
        sent = received.counters[-1] - received.counters[0] + 1
        # Loopback loses nothing; a frame or two may fall behind when the machine is busy.
        assert received.missing <= sent * 0.05, f"{received.missing} of {sent} frames missing"
        assert min(received.psnrs) >= PSNR_THRESHOLD_DB
        # Both ways: bob sends the pattern too (his default source).
        back = read_recording(alice_file)
        assert back.in_order and len(back.counters) > 0 and min(back.psnrs) >= PSNR_THRESHOLD_DB
    finally:
        alice.close()
        bob.close()


def test_audio_only_user_answers_a_video_offer_with_audio(kamailio: Kamailio) -> None:
    alice = CliProcess(kamailio, "--video", "--srtp", "off")
    bob = CliProcess(kamailio, "--auto-answer=0.2")
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"call {bob.user}")
        call = alice.wait_for(event="call", state="confirmed", timeout=20)
        quality = alice.wait_for(event="quality", timeout=10)
        for _ in range(3):  # three seconds of audio figures: the audio call runs
            quality = alice.wait_for(event="quality", timeout=10, after=alice.events.index(quality) + 1)
        assert quality["packets_received"] > 0
        assert not any(e["event"] == "video_quality" for e in alice.events + bob.events)
        alice.send(f"hangup {call['call_id']}")
        alice.wait_for(event="call", state="ended")
        alice.send("quit")
        bob.send("quit")
        assert alice.close() == 0 and bob.close() == 0
    finally:
        alice.close()
        bob.close()


def test_video_dropped_and_added_again_by_re_invite(kamailio: Kamailio) -> None:
    folder = Path(tempfile.mkdtemp(prefix="softphone-video-"))
    alice = CliProcess(kamailio, "--video", "--srtp", "off")
    bob = CliProcess(
        kamailio, "--video", "--srtp", "off", "--record-video", str(folder / "bob.mkv"), "--auto-answer=0.2"
    )
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"call {bob.user}")
        call = alice.wait_for(event="call", state="confirmed", timeout=20)
        decoded(bob, 15)

        alice.send(f"video off {call['call_id']}")
        # The audio goes on: three more seconds of audio figures, and after the first no video figures.
        mark = bob.wait_for(event="quality", timeout=10, after=len(bob.events))
        mark = bob.wait_for(event="quality", timeout=10, after=bob.events.index(mark) + 1)
        quiet_from = bob.events.index(mark) + 1
        for _ in range(3):
            mark = bob.wait_for(event="quality", timeout=10, after=bob.events.index(mark) + 1)
        assert mark["packets_received"] > 0
        assert not any(e["event"] == "video_quality" for e in bob.events[quiet_from:])

        alice.send(f"video on {call['call_id']}")
        decoded(bob, 15, after=quiet_from)
        alice.send("video sideways")
        refused = alice.wait_for(event="error", timeout=10, after=len(alice.events))
        assert "video on|off" in refused["message"]
        alice.send(f"hangup {call['call_id']}")
        bob.wait_for(event="call", state="ended")
        alice.send("quit")
        bob.send("quit")
        assert alice.close() == 0 and bob.close() == 0
        first, second = read_recording(folder / "bob.mkv"), read_recording(folder / f"bob-{mark['call_id']}.mkv")
        for received in (first, second):
            assert received.in_order and len(received.counters) >= 15
            assert min(received.psnrs) >= PSNR_THRESHOLD_DB
    finally:
        alice.close()
        bob.close()


def test_video_source_and_camera_commands_and_no_camera_is_said(kamailio: Kamailio) -> None:
    alice = CliProcess(kamailio, "--video", "--srtp", "off", "--video-source", "camera")
    bob = CliProcess(kamailio, "--video", "--srtp", "off", "--auto-answer=0.2")
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"call {bob.user}")
        call = alice.wait_for(event="call", state="confirmed", timeout=20)
        # No camera on this machine: said, and the call goes on receiving bob's pattern without our picture.
        warning = alice.wait_for(event="media_warning", timeout=20)
        assert "no camera found" in warning["message"]
        decoded(alice, 15)
        started = alice.wait_for(event="video", active=True)
        assert started["source"] is None
        alice.send(f"video source pattern {call['call_id']}")
        alice.wait_for(event="video", source="pattern", timeout=20)
        mark = len(bob.events)
        decoded(bob, 15, after=mark)
        alice.send("video source none")
        alice.wait_for(event="video", source=None, after=alice.events.index(started) + 1, timeout=20)
        quiet = len(bob.events)
        seen = bob.wait_for(event="video_quality", timeout=20, after=quiet)
        while seen["fps"] > 0:
            seen = bob.wait_for(event="video_quality", timeout=20, after=bob.events.index(seen) + 1)
        alice.send("video camera off")
        off = alice.wait_for(event="video", sending=False, timeout=20)
        alice.send("video camera on")
        alice.wait_for(event="video", sending=True, after=alice.events.index(off) + 1, timeout=20)
        alice.send("video source")
        refused = alice.wait_for(event="error", timeout=10, after=len(alice.events))
        assert "video source" in refused["message"]
        alice.send("quit")
        bob.send("quit")
        assert alice.close() == 0 and bob.close() == 0
    finally:
        alice.close()
        bob.close()

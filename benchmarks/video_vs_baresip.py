"""CPU of a video call, per process: two softphone-cli against two baresip, same size, frame rate and bitrate.

Run from the repository root (needs ``baresip`` with its ``vp8``, ``avcodec`` and ``fakevideo`` modules, and
``kamailio``; ``make bench`` installs them)::

    .venv/bin/python -m benchmarks.video_vs_baresip            # 640x480 at 30 fps, 1 Mbit/s
    .venv/bin/python -m benchmarks.video_vs_baresip --size 320x240 --fps 15 --bitrate 300

Per codec (VP8, H.264), in one run: two baresip processes call each other on loopback; then two
``softphone-cli`` call each other through a local Kamailio (signalling only). Both pairs carry G.711
audio from a WAV file next to the video, plain RTP. Once each call is up and has run 2 s, each process's
CPU time (user + system, from ``/proc/PID/stat``) is taken over 10 s.

The pictures are the same on both sides: the benchmark first writes 30 s of the moving test pattern as a
nearly lossless H.264 file, and every process sends that file (baresip through its ``avformat`` module,
ours with ``--video-source FILE``), decoding it as it goes. An encoder's cost follows its content, so
this is the fair comparison. ``--source own`` instead lets each use its own: baresip's ``fakevideo``
(a nearly still picture that costs its encoder few bits) and our frame-counting pattern. The table shows
the video bitrate each sent (baresip's status line, our ``video_quality`` event).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import av

from benchmarks.machine import machine_line
from softphone.media.video_sources import pattern_planes
from tests.baresip_peer import Baresip
from tests.integration.test_cli import CliProcess
from tests.kamailio_server import Kamailio
from tests.ua.test_media_wiring import write_tone

WARM_UP = 2.0
WINDOW = 10.0
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def window(pids: list[int]) -> list[float]:
    """CPU seconds of each process over WINDOW seconds."""
    before = [cpu_seconds(pid) for pid in pids]
    time.sleep(WINDOW)
    return [cpu_seconds(pid) - start for pid, start in zip(pids, before, strict=True)]


CLIP_SECONDS = 30


def write_clip(path: Path, size: tuple[int, int], fps: int) -> Path:
    """CLIP_SECONDS of the test pattern, nearly lossless H.264 (CRF 10) in Matroska."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "10", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(CLIP_SECONDS * fps):
            frame = av.VideoFrame.from_ndarray(pattern_planes(index, *size), format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def baresip_pair(
    wav: Path, clip: Path | None, codec: str, size: tuple[int, int], fps: int, kbps: int
) -> tuple[list[float], float]:
    options = {"video": True, "video_codec": codec, "video_size": size, "video_fps": fps, "video_file": clip}
    caller = Baresip(wav, mediaenc=None, answer=False, name="a", **options, video_bitrate=kbps * 1000)  # type: ignore[arg-type]
    callee = Baresip(wav, mediaenc=None, name="b", **options, video_bitrate=kbps * 1000)  # type: ignore[arg-type]
    try:
        caller.command("dial", callee.uri)
        caller.wait("CALL_ESTABLISHED")
        callee.wait("CALL_ESTABLISHED")
        time.sleep(WARM_UP)
        cpu = window([caller.proc.pid, callee.proc.pid])
        # Its status line: "video=<sent>/<received> (bit/s)".
        sent = re.findall(r"video=(\d+)/\d+ \(bit/s\)", caller.log())
        return cpu, int(sent[-1]) / 1000 if sent else float("nan")
    finally:
        caller.close()
        callee.close()


def softphone_pair(
    server: Kamailio, wav: Path, clip: Path | None, codec: str, size: tuple[int, int], fps: int, kbps: int
) -> tuple[list[float], float]:
    video = [
        "--video", "--srtp", "off", "--video-source", str(clip or "pattern"), "--video-codecs", codec.lower(),
        "--video-size", f"{size[0]}x{size[1]}", "--video-fps", str(fps), "--video-bitrate", str(kbps),
        "--codecs", "pcmu",
    ]  # fmt: skip
    caller = CliProcess(server, *video, audio=("--play", str(wav)))
    callee = CliProcess(server, *video, "--auto-answer", audio=("--play", str(wav)))
    try:
        caller.wait_for(event="registration", state="registered")
        callee.wait_for(event="registration", state="registered")
        caller.send(f"call {callee.user}")
        caller.wait_for(20, event="call", state="confirmed")
        callee.wait_for(20, event="call", state="confirmed")
        time.sleep(WARM_UP)
        cpu = window([caller.proc.pid, callee.proc.pid])
        callee.wait_for(5, event="video_quality")
        received = [e for e in callee.events if e.get("event") == "video_quality"]
        return cpu, float(received[-1]["bitrate_kbps"])
    finally:
        caller.close()
        callee.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--bitrate", type=int, default=1000, help="kbit/s")
    parser.add_argument("--codecs", default="VP8,H264")
    parser.add_argument(
        "--source", choices=("clip", "own"), default="clip", help="the same pattern file on both sides, or each its own"
    )
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    print(machine_line())
    source = "the same pattern file sent by all" if args.source == "clip" else "baresip fakevideo, ours the pattern"
    print(
        f"CPU seconds per {WINDOW:.0f} s of a video call, {width}x{height} at {args.fps} fps, {args.bitrate} kbit/s,"
        f" {source}"
    )
    print(
        f"{'codec':<6} {'baresip caller':>15} {'callee':>8} {'kbit/s':>7}"
        f" {'softphone caller':>17} {'callee':>8} {'kbit/s':>7} {'ratio':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="video-vs-baresip-") as tmp:
        # baresip plays the file once, at the codec's rate: long enough for the whole call, 8 kHz for G.711.
        wav = write_tone(Path(tmp) / "tone.wav", 440.0, seconds=60.0, rate=8000)
        clip = write_clip(Path(tmp) / "pattern.mkv", (width, height), args.fps) if args.source == "clip" else None
        server = Kamailio()
        server.start()
        try:
            for codec in args.codecs.upper().split(","):
                theirs, their_rate = baresip_pair(wav, clip, codec, (width, height), args.fps, args.bitrate)
                ours, our_rate = softphone_pair(server, wav, clip, codec, (width, height), args.fps, args.bitrate)
                ratio = sum(ours) / sum(theirs) if sum(theirs) else float("inf")
                print(
                    f"{codec:<6} {theirs[0]:>15.2f} {theirs[1]:>8.2f} {their_rate:>7.0f}"
                    f" {ours[0]:>17.2f} {ours[1]:>8.2f} {our_rate:>7.0f} {ratio:>5.1f}x"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()

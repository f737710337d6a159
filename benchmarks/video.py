"""Video: CPU of a VP8 stream and what arrives under packet loss (the phone's own sessions, in one process).

Run from the repository root::

    .venv/bin/python -m benchmarks.video

Two ``VideoSession`` objects on loopback, one sending the frame-counting test
pattern, the other receiving it (decoding every frame). Printed:

- for VP8 and H.264, the CPU seconds (``time.process_time``: this process, both sessions, pattern
  drawing included, no checking of the pictures) per 10 s of video at 320x240@15 (300 kbit/s) and
  640x480@30 (1 Mbit/s);
- through the seeded lossy relay of the tests (``tests/media_relay.py``, 5-20 ms
  delay) at 0, 1, 5 and 10 % loss: the frames shown out of those sent, the
  freezes, and the lowest and median PSNR of the shown frames against the
  source frame their counter names; and the time from capture (the source
  handing out the frame) to the decoded picture, median and 90th percentile:
  glass to glass without the camera and the screen.

The comparison with baresip's CPU is ``benchmarks/video_vs_baresip.py``.
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import threading
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import av

from benchmarks.machine import machine_line
from softphone.media.video import VideoSession
from softphone.media.video_sources import PatternSource
from softphone.sip.video_offer_answer import NegotiatedVideo, h264_codec, vp8_codec
from tests.media_relay import LossyRelay
from tests.video_check import Received, check_picture

SECONDS = 10.0
# Capture → decoded picture, per frame, for each (codec, loss) run that checked its pictures.
LATENCIES: dict[tuple[str, float | None], list[float]] = {}


def _bound() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def _params(port: int, direction: str, codec: str = "VP8") -> NegotiatedVideo:
    agreed = vp8_codec(96) if codec == "VP8" else h264_codec(96)
    return NegotiatedVideo(
        remote_address="127.0.0.1",
        remote_port=port,
        remote_rtcp_port=port,
        rtcp_mux=True,
        codec=agreed,
        payload_type=96,
        receive_codecs={96: agreed},
        feedback=frozenset({"nack", "nack pli", "ccm fir"}),
        direction=direction,  # type: ignore[arg-type]
    )


def run(
    width: int, height: int, fps: int, bitrate: int, loss: float | None, check: bool = True, codec: str = "VP8"
) -> tuple[float, int, int, Received]:
    """CPU seconds, frames sent, freezes and what was received (when ``check``), for SECONDS of video."""
    a_sock, b_sock = _bound(), _bound()
    relay = None
    a_peer, b_peer = b_sock.getsockname()[1], a_sock.getsockname()[1]
    if loss is not None:
        relay = LossyRelay(
            a_sock.getsockname(), b_sock.getsockname(), loss=loss, duplicate=0, reorder=0, delay_ms=(5, 20), seed=1
        )
        a_peer, b_peer = relay.address_a[1], relay.address_b[1]
    received = Received([], [], 0)
    lock = threading.Lock()
    captured: dict[int, float] = {}
    latencies: list[float] = []

    class TimedPattern(PatternSource):
        def next_frame(self, index: int) -> av.VideoFrame:
            captured[index % 65536] = time.monotonic()
            return super().next_frame(index)

    def frame(picture: av.VideoFrame) -> None:
        shown = time.monotonic()
        with lock:
            before = len(received.counters)
            check_picture(picture, received)
            if len(received.counters) > before and received.counters[-1] in captured:
                latencies.append(shown - captured[received.counters[-1]])

    source = TimedPattern(width, height)
    sender = VideoSession(a_sock, _params(a_peer, "sendonly", codec), source, fps=fps, bitrate=bitrate)
    receiver = VideoSession(
        b_sock, _params(b_peer, "recvonly", codec), None, fps=fps, on_frame=frame if check else None
    )
    start = time.process_time()
    sender.start()
    receiver.start()
    time.sleep(SECONDS)
    sender.stop()
    receiver.stop()
    cpu = time.process_time() - start
    if relay is not None:
        relay.close()
    LATENCIES[(codec, loss)] = latencies
    return cpu, sender.frames_sent, receiver.freezes, received


def main() -> None:
    print(machine_line())
    for codec in ("VP8", "H264"):
        for width, height, fps, bitrate in ((320, 240, 15, 300_000), (640, 480, 30, 1_000_000)):
            cpu, sent, _, _ = run(width, height, fps, bitrate, None, check=False, codec=codec)
            print(
                f"{codec} {width}x{height}@{fps}, {bitrate // 1000} kbit/s: {cpu:.2f} CPU s per {SECONDS:.0f} s"
                f" (send + receive, {sent} frames)"
            )
    for codec in ("VP8", "H264"):
        for loss in (0.0, 0.01, 0.05, 0.10):
            _, sent, freezes, received = run(320, 240, 15, 300_000, loss, codec=codec)
            psnrs = received.psnrs or [0.0]
            delays = sorted(LATENCIES.get((codec, loss), [])) or [0.0]
            print(
                f"{codec} 320x240@15 at {loss:.0%} loss: {len(received.counters)} of {sent} frames shown,"
                f" {freezes} freezes, in order {received.in_order}, PSNR min {min(psnrs):.1f} dB,"
                f" median {statistics.median(psnrs):.1f} dB; capture to picture median"
                f" {1000 * statistics.median(delays):.0f} ms, p90 {1000 * delays[int(0.9 * (len(delays) - 1))]:.0f} ms"
            )


if __name__ == "__main__":
    main()

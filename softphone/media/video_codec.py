"""VP8 encoding and decoding through PyAV (FFmpeg's libvpx and vp8), and recording received video to Matroska.

The recorder does not encode again: it writes the VP8 frames exactly as they
arrived (only whole, decodable ones), so a check of the file sees what the
decoder saw.
"""

from __future__ import annotations

import fractions
import logging
from pathlib import Path

import av
from av.video.codeccontext import VideoCodecContext

from softphone.media.errors import MediaError
from softphone.media.vp8 import is_keyframe

__all__ = ["VideoRecorder", "Vp8Decoder", "Vp8Encoder", "keyframe_size"]

log = logging.getLogger("softphone.media")

RTP_TIME_BASE = fractions.Fraction(1, 90000)


def keyframe_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame header (RFC 6386 9.1), None for other frames."""
    if not is_keyframe(frame):
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


class Vp8Encoder:
    """libvpx in real-time mode: no look-ahead, error resilient, a key frame at least every ``keyframe_interval``."""

    def __init__(self, width: int, height: int, fps: int, bitrate: int, keyframe_interval: float = 3.0) -> None:
        try:
            context = av.CodecContext.create("libvpx", "w")
        except av.FFmpegError as exc:
            raise MediaError(f"no VP8 encoder in this FFmpeg: {exc}") from exc
        assert isinstance(context, VideoCodecContext)
        context.width, context.height = width, height
        context.pix_fmt = "yuv420p"
        context.time_base = fractions.Fraction(1, fps)
        context.framerate = fractions.Fraction(fps, 1)
        context.bit_rate = bitrate
        context.gop_size = max(1, round(keyframe_interval * fps))
        # One thread: the machine's cores are shared with the audio and the GUI.
        context.thread_count = 1
        context.options = {
            "deadline": "realtime",
            "cpu-used": "8",
            "lag-in-frames": "0",
            "error-resilient": "1",
            "static-thresh": "0",
        }
        self.context = context
        self.width, self.height = width, height
        self._pts = 0

    def encode(self, frame: av.VideoFrame, keyframe: bool = False) -> list[bytes]:
        if frame.width != self.width or frame.height != self.height or frame.format.name != "yuv420p":
            frame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        frame.pts = self._pts
        self._pts += 1
        frame.pict_type = av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        try:
            return [bytes(packet) for packet in self.context.encode(frame)]
        except av.FFmpegError as exc:
            raise MediaError(f"VP8 encoding failed: {exc}") from exc

    def close(self) -> None:
        """Nothing to release by hand: PyAV frees the codec with the object."""


class Vp8Decoder:
    """FFmpeg's VP8 decoder; a frame it cannot decode is counted, not raised."""

    def __init__(self) -> None:
        context = av.CodecContext.create("vp8", "r")
        context.thread_count = 1
        self.context = context
        self.errors = 0

    def decode(self, data: bytes) -> list[av.VideoFrame]:
        if not data:
            return []  # an empty packet would put FFmpeg's decoder into draining for good
        try:
            return [f for f in self.context.decode(av.Packet(data)) if isinstance(f, av.VideoFrame)]
        except av.FFmpegError:
            self.errors += 1
            return []

    def close(self) -> None:
        """Nothing to release by hand: PyAV frees the codec with the object."""


class VideoRecorder:
    """Writes received VP8 frames to a Matroska file as they are (no second encoding).

    The file is made at the first key frame (whose header gives the picture size). Failures to write are kept
    in ``error`` and end the recording, never the call.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in (".mkv", ".webm"):
            raise MediaError(f"video recordings are Matroska files (.mkv or .webm), not {self.path.name}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as exc:
            raise MediaError(f"cannot write {self.path}: {exc}") from exc
        self._container: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._first: int | None = None
        self._last = 0
        self.frames = 0
        self.error: str | None = None

    def write(self, frame: bytes, timestamp: int) -> None:
        """One whole VP8 frame with its RTP timestamp (90 kHz)."""
        if self.error is not None:
            return
        try:
            if self._container is None:
                size = keyframe_size(frame)
                if size is None:
                    return
                self._open(*size)
            assert self._stream is not None and self._container is not None
            if self._first is None:
                self._first = timestamp
            # Unwrap the 32-bit RTP timestamp; the file's times start at 0 and never go back.
            pts = max(self._last + 1 if self.frames else 0, (timestamp - self._first) % (1 << 32))
            self._last = pts
            packet = av.Packet(frame)
            packet.pts = packet.dts = pts
            packet.time_base = RTP_TIME_BASE
            packet.stream = self._stream
            packet.is_keyframe = is_keyframe(frame)
            self._container.mux(packet)
            self.frames += 1
        except (av.FFmpegError, OSError, ValueError) as exc:
            self.error = str(exc)
            log.warning("video recording %s stopped: %s", self.path, exc)

    def _open(self, width: int, height: int) -> None:
        self._container = av.open(str(self.path), "w", format="matroska")
        stream = self._container.add_stream("libvpx", rate=30)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        self._stream = stream

    def close(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except (av.FFmpegError, OSError) as exc:
                self.error = self.error or str(exc)

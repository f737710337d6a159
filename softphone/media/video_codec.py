"""Video encoding and decoding through PyAV (VP8: libvpx and FFmpeg's vp8; H.264: libx264 and FFmpeg's h264),
and recording received video to Matroska.

The recorder does not encode again: it writes the frames exactly as they
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
from softphone.media.video_rate import VideoLayer

__all__ = ["CODECS", "AdaptiveEncoder", "VideoDecoder", "VideoEncoder", "VideoRecorder"]

log = logging.getLogger("softphone.media")

RTP_TIME_BASE = fractions.Fraction(1, 90000)
# Our codec names (as in SDP) → FFmpeg's encoder, decoder, and the Matroska stream's codec.
CODECS = {"VP8": ("libvpx", "vp8", "libvpx"), "H264": ("libx264", "h264", "h264")}


def _check(codec: str) -> tuple[str, str, str]:
    names = CODECS.get(codec.upper())
    if names is None:
        raise MediaError(f"video codec {codec} is not supported (VP8 and H264 are)")
    return names


class VideoEncoder:
    """A real-time encoder: no look-ahead, one thread, a key frame at least every ``keyframe_interval``.

    VP8: libvpx, error resilient. H.264: libx264 Constrained Baseline, SPS and PPS before every IDR; with
    ``max_nal`` each NAL unit fits one packet (packetization-mode 0, RFC 6184 6.2).
    """

    def __init__(
        self,
        codec: str,
        width: int,
        height: int,
        fps: int,
        bitrate: int,
        keyframe_interval: float = 3.0,
        max_nal: int | None = None,
    ) -> None:
        encoder, _, _ = _check(codec)
        try:
            context = av.CodecContext.create(encoder, "w")
        except (av.FFmpegError, ValueError) as exc:
            raise MediaError(f"no {codec} encoder in this FFmpeg: {exc}") from exc
        assert isinstance(context, VideoCodecContext)
        context.width, context.height = width, height
        context.pix_fmt = "yuv420p"
        context.time_base = fractions.Fraction(1, fps)
        context.framerate = fractions.Fraction(fps, 1)
        context.bit_rate = bitrate
        context.gop_size = max(1, round(keyframe_interval * fps))
        # One thread: the machine's cores are shared with the audio and the GUI.
        context.thread_count = 1
        if encoder == "libvpx":
            # cpu-used 16, libvpx's fastest real-time speed (baresip's too): 1.3 ms a 640x480 picture against
            # 3.1 ms at 8, for 0.7 dB less PSNR on the test pattern (benchmarks/video_vs_baresip.py).
            context.options = {
                "deadline": "realtime",
                "cpu-used": "16",
                "lag-in-frames": "0",
                "error-resilient": "1",
                "static-thresh": "0",
            }
        else:
            params = "repeat-headers=1:forced-idr=1:annexb=1:aud=0"
            if max_nal is not None:
                params += f":slice-max-size={max_nal}"
            context.options = {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "profile": "baseline",
                "x264-params": params,
            }
        self.context = context
        self.codec = codec.upper()
        self.width, self.height = width, height
        self.fps, self.bitrate = fps, bitrate
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
            raise MediaError(f"{self.codec} encoding failed: {exc}") from exc

    def close(self) -> None:
        """Nothing to release by hand: PyAV frees the codec with the object."""


class AdaptiveEncoder:
    """An encoder that follows a :class:`~softphone.media.video_rate.VideoLayer` and a target bitrate.

    FFmpeg's libvpx and libx264 wrappers take a bitrate only when the encoder opens (a new ``bit_rate`` on an
    open one changes nothing, measured), so a new layer, or a target ``change`` (a fraction) away from the
    encoder's, opens a new one, which starts with a key frame. A bitrate change waits ``spacing`` seconds
    after the last opening: each costs a key frame. A layer at a lower frame rate encodes every n-th frame.
    """

    def __init__(
        self, codec: str, fps: int, *, max_nal: int | None = None, change: float = 0.2, spacing: float = 2.0
    ) -> None:
        self.codec = codec
        self.fps = fps
        self._max_nal = max_nal
        self._change = change
        self._spacing = spacing
        self.encoder: VideoEncoder | None = None
        self._opened_at = 0.0
        self.openings = 0

    def encode(
        self, picture: av.VideoFrame, index: int, keyframe: bool, layer: VideoLayer, bitrate: int, now: float
    ) -> tuple[list[bytes], bool] | None:
        """The frame ``index`` of the source encoded, and whether it is a key frame we were not asked for (a new
        encoder's first); None when the layer's frame rate skips it."""
        if index % max(1, round(self.fps / layer.fps)):
            return None
        encoder = self.encoder
        opened = False
        if encoder is None or (encoder.width, encoder.height, encoder.fps) != (layer.width, layer.height, layer.fps):
            opened = True
        elif abs(bitrate - encoder.bitrate) > self._change * encoder.bitrate and now - self._opened_at >= self._spacing:
            opened = True
        if opened:
            encoder = VideoEncoder(self.codec, layer.width, layer.height, layer.fps, bitrate, max_nal=self._max_nal)
            self.encoder, self._opened_at = encoder, now
            self.openings += 1
        assert encoder is not None
        return encoder.encode(picture, keyframe or opened), opened and not keyframe

    def close(self) -> None:
        if self.encoder is not None:
            self.encoder.close()


class VideoDecoder:
    """FFmpeg's decoder of ``codec``; a frame it cannot decode is counted, not raised.

    ``prime``: octets decoded first (H.264's SPS and PPS from sprop-parameter-sets).
    """

    def __init__(self, codec: str, prime: bytes = b"") -> None:
        _, decoder, _ = _check(codec)
        context = av.CodecContext.create(decoder, "r")
        assert isinstance(context, VideoCodecContext)
        context.thread_count = 1
        self.context = context
        self.errors = 0
        if prime:
            self.decode(prime)

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
    """Writes received frames to a Matroska file as they are (no second encoding).

    The file is made at the first key frame, with the picture size the decoder found. Failures to write are
    kept in ``error`` and end the recording, never the call.
    """

    def __init__(self, path: str | Path, codec: str = "VP8") -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in (".mkv", ".webm"):
            raise MediaError(f"video recordings are Matroska files (.mkv or .webm), not {self.path.name}")
        self.codec = codec
        _check(codec)
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

    def write(self, frame: bytes, timestamp: int, keyframe: bool, size: tuple[int, int]) -> None:
        """One whole frame with its RTP timestamp (90 kHz), whether it is a key frame, and its picture size."""
        if self.error is not None:
            return
        try:
            if self._container is None:
                if not keyframe or not all(size):
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
            packet.is_keyframe = keyframe
            self._container.mux(packet)
            self.frames += 1
        except (av.FFmpegError, OSError, ValueError) as exc:
            self.error = str(exc)
            log.warning("video recording %s stopped: %s", self.path, exc)

    def _open(self, width: int, height: int) -> None:
        self._container = av.open(str(self.path), "w", format="matroska")
        stream = self._container.add_stream(_check(self.codec)[2], rate=30)
        assert isinstance(stream, av.VideoStream)
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

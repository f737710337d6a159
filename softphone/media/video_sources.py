"""Where a call's video comes from: a test pattern that carries its frame counter, a video file (or a still
picture), an X11 screen or a camera (V4L2).

Frames are YUV 4:2:0 (``yuv420p``) PyAV frames of the size the session
asked for. The test pattern draws its frame number as a block code into the
top rows of the picture (:func:`read_counter` reads it back from a decoded
picture), so a receiver can tell which frames came, in which order, and
compare each with the source frame :func:`pattern_planes` makes again.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import av
import numpy as np
import numpy.typing as npt

from softphone.media.errors import MediaError

__all__ = [
    "COUNTER_BITS",
    "Camera",
    "CameraSource",
    "CaptureSource",
    "FileSource",
    "PatternSource",
    "ScreenSource",
    "VideoSource",
    "camera_input_available",
    "list_cameras",
    "open_source",
    "pattern_planes",
    "read_counter",
]

COUNTER_BITS = 16
# The counter, then its complement: a block that decodes wrong is caught instead of read as another number.
_CODE_BLOCKS = 2 * COUNTER_BITS
_BLOCK_ROWS = 2
_BLACK, _WHITE = 16, 235

Planes = npt.NDArray[np.uint8]

log = logging.getLogger("softphone.media")


class VideoSource(Protocol):
    """Gives the frame to send at each tick; ``None`` sends nothing this tick."""

    width: int
    height: int

    def next_frame(self, index: int) -> av.VideoFrame | None: ...

    def close(self) -> None: ...


def _block_size(width: int, height: int) -> tuple[int, int]:
    per_row = _CODE_BLOCKS // _BLOCK_ROWS
    block_w = width // per_row
    block_h = max(8, (height // 15) & ~1)
    if block_w < 4 or block_h * _BLOCK_ROWS > height // 2:
        raise MediaError(f"a test pattern of {width}x{height} is too small for its frame counter")
    return block_w, block_h


def pattern_planes(index: int, width: int, height: int) -> Planes:
    """The test pattern's frame ``index`` as one yuv420p array (height * 3 / 2 rows of ``width``)."""
    if width % 2 or height % 2 or width <= 0 or height <= 0:
        raise MediaError(f"video size {width}x{height} must be positive and even")
    block_w, block_h = _block_size(width, height)
    x = np.arange(width, dtype=np.int32)[None, :]
    y = np.arange(height, dtype=np.int32)[:, None]
    # A ramp scrolling right, with a square crossing it: the encoder has motion to code.
    luma = ((x * 2 + y + 3 * index) % 200 + 28).astype(np.uint8)
    side = height // 4
    left = (index * 4) % max(1, width - side)
    top = height // 2
    luma[top : top + side, left : left + side] = 220
    code = index % (1 << COUNTER_BITS)
    bits = [(code >> (COUNTER_BITS - 1 - i)) & 1 for i in range(COUNTER_BITS)]
    bits += [1 - bit for bit in bits]
    per_row = _CODE_BLOCKS // _BLOCK_ROWS
    for n, bit in enumerate(bits):
        row, col = divmod(n, per_row)
        luma[row * block_h : (row + 1) * block_h, col * block_w : (col + 1) * block_w] = _WHITE if bit else _BLACK
    chroma_w, chroma_h = width // 2, height // 2
    cx = np.arange(chroma_w, dtype=np.int32)[None, :]
    cy = np.arange(chroma_h, dtype=np.int32)[:, None]
    u = np.broadcast_to((64 + cx * 128 // chroma_w).astype(np.uint8), (chroma_h, chroma_w))
    v = np.broadcast_to((64 + cy * 128 // chroma_h).astype(np.uint8), (chroma_h, chroma_w))
    # yuv420p as PyAV lays it out in one array: Y, then U and V each as height/4 rows of ``width``.
    return np.concatenate([luma, u.reshape(-1, width), v.reshape(-1, width)])


def read_counter(luma: Planes) -> int | None:
    """The frame counter in a decoded picture's Y plane, or None when its blocks do not read as one."""
    height, width = luma.shape
    try:
        block_w, block_h = _block_size(width, height)
    except MediaError:
        return None
    per_row = _CODE_BLOCKS // _BLOCK_ROWS
    bits = []
    for n in range(_CODE_BLOCKS):
        row, col = divmod(n, per_row)
        # The middle of the block: the edges blur in coding.
        cell = luma[
            row * block_h + block_h // 4 : (row + 1) * block_h - block_h // 4,
            col * block_w + block_w // 4 : (col + 1) * block_w - block_w // 4,
        ]
        bits.append(1 if float(cell.mean()) > (_BLACK + _WHITE) / 2 else 0)
    value, check = bits[:COUNTER_BITS], bits[COUNTER_BITS:]
    if any(a == b for a, b in zip(value, check, strict=True)):
        return None
    return int("".join(map(str, value)), 2)


class PatternSource:
    """The test pattern at ``width`` x ``height``; frame ``index`` carries counter ``index``."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        pattern_planes(0, width, height)  # checks the size
        self.width = width
        self.height = height

    def next_frame(self, index: int) -> av.VideoFrame:
        return av.VideoFrame.from_ndarray(pattern_planes(index, self.width, self.height), format="yuv420p")

    def close(self) -> None:
        pass


class FileSource:
    """A video file decoded with PyAV, scaled to ``width`` x ``height`` and played in a loop."""

    def __init__(self, path: str | Path, width: int = 320, height: int = 240) -> None:
        self.path = Path(path)
        self.width = width
        self.height = height
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, OSError) as exc:
            raise MediaError(f"cannot open video file {self.path}: {exc}") from exc
        if not self._container.streams.video:
            self._container.close()
            raise MediaError(f"{self.path} has no video stream")
        # One decoding thread: FFmpeg's default pool costs more in hand-offs than a picture a tick needs.
        self._container.streams.video[0].codec_context.thread_count = 1
        self._frames = self._decode()

    def _decode(self) -> object:
        self._container.seek(0)
        return self._container.decode(video=0)

    def next_frame(self, index: int) -> av.VideoFrame | None:
        with self._lock:
            for _ in range(2):  # the end of the file: start again once
                try:
                    frame = next(self._frames)  # type: ignore[call-overload]
                except StopIteration:
                    self._frames = self._decode()
                    continue
                except av.FFmpegError as exc:
                    raise MediaError(f"cannot decode {self.path}: {exc}") from exc
                scaled: av.VideoFrame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
                scaled.pts = None
                return scaled
        return None

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._container.close()


class CaptureSource:
    """A live device FFmpeg reads (an X11 screen, a camera), scaled to ``width`` x ``height``.

    A thread of its own takes the device's frames (the device paces them) and keeps the newest, so the video
    thread never waits for the X server or the camera.
    """

    def __init__(
        self, url: str, input_format: str, options: dict[str, str], what: str, width: int = 320, height: int = 240
    ) -> None:
        self.width = width
        self.height = height
        self.what = what
        try:
            self._container = av.open(url, format=input_format, options=options)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise MediaError(f"cannot capture {what}: {exc}") from exc
        self._latest: av.VideoFrame | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._grab, name=f"capture-{url}", daemon=True)
        self._thread.start()

    def _grab(self) -> None:
        try:
            for frame in self._container.decode(video=0):
                if self._stop.is_set():
                    return
                scaled = frame.reformat(width=self.width, height=self.height, format="yuv420p")
                with self._lock:
                    self._latest = scaled
        except (av.FFmpegError, OSError, ValueError) as exc:
            self.error = str(exc)  # the X server or the camera went away: the last picture stays
            log.warning("capture of %s stopped: %s", self.what, exc)

    def next_frame(self, index: int) -> av.VideoFrame | None:
        with self._lock:
            frame = self._latest
        if frame is None:
            return None
        # A new frame object each tick: the encoder stamps its own pts on it.
        return av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(2.0)
        self._container.close()


class ScreenSource(CaptureSource):
    """An X11 screen through FFmpeg's x11grab."""

    def __init__(self, display: str, width: int = 320, height: int = 240, fps: int = 15) -> None:
        self.display = display
        options = {"framerate": str(fps), "draw_mouse": "0"}
        super().__init__(display, "x11grab", options, f"the screen {display!r}", width, height)


@dataclass(frozen=True, slots=True)
class Camera:
    """A V4L2 video capture device: ``device`` (``/dev/video0``) and the name its driver gives."""

    device: str
    name: str


def camera_input_available() -> bool:
    """Whether this FFmpeg can read cameras (its v4l2 input; PyAV's wheels are built without it)."""
    return "v4l2" in av.formats_available or "video4linux2" in av.formats_available


def list_cameras(root: Path = Path("/sys/class/video4linux")) -> list[Camera]:
    """The video capture devices the kernel knows, by device number (the names from sysfs)."""
    try:
        entries = sorted(root.iterdir(), key=lambda p: (len(p.name), p.name))
    except OSError:
        return []
    cameras: list[Camera] = []
    for entry in entries:
        if not entry.name.startswith("video"):
            continue
        try:
            name = (entry / "name").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            name = ""
        # A camera's second node (metadata) says index 1; the pictures come from index 0.
        try:
            if int((entry / "index").read_text().strip() or "0") != 0:
                continue
        except (OSError, ValueError):
            pass
        cameras.append(Camera(f"/dev/{entry.name}", name or entry.name))
    return cameras


class CameraSource(CaptureSource):
    """A V4L2 camera through FFmpeg's v4l2 input."""

    def __init__(self, device: str, width: int = 320, height: int = 240, fps: int = 15) -> None:
        self.device = device
        if not camera_input_available():
            raise MediaError(f"cannot read the camera {device}: this FFmpeg has no v4l2 input")
        super().__init__(device, "v4l2", {"framerate": str(fps)}, f"the camera {device}", width, height)


def open_source(spec: str, width: int = 320, height: int = 240, fps: int = 15) -> VideoSource:
    """``pattern`` for the test pattern, ``screen`` or ``screen:DISPLAY`` for an X11 screen, ``camera`` or
    ``camera:DEVICE`` for a camera (the first one found), else a file's path."""
    if spec == "pattern":
        return PatternSource(width, height)
    if spec == "screen" or spec.startswith("screen:"):
        display = spec.partition(":")[2] or os.environ.get("DISPLAY", "")
        if not display:
            raise MediaError("no screen to share: give screen:DISPLAY or set DISPLAY")
        return ScreenSource(display, width, height, fps)
    if spec == "camera" or spec.startswith("camera:"):
        device = spec.partition(":")[2]
        if not device:
            cameras = list_cameras()
            if not cameras:
                raise MediaError("no camera found")
            device = cameras[0].device
        elif not Path(device).exists():
            raise MediaError(f"no camera found at {device}")
        return CameraSource(device, width, height, fps)
    return FileSource(spec, width, height)

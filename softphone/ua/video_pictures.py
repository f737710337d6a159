"""The newest video pictures of each call, for a window that shows them.

A call's video thread puts every decoded picture of the peer (``remote``) and
every picture of ours before it is encoded (``local``, the self view) here as
RGB bytes. Each call and kind has one slot holding only the newest picture: a
picture the viewer has not taken yet is replaced, never queued, so a slow
window drops pictures instead of falling behind or growing memory. Listeners
hear only when an empty slot fills (one wake-up per picture taken, not per
picture decoded); they run on the video thread and must only hand over to
their own thread. Without a listener nothing is converted at all; a picture
larger than 1080p (the peer's bitstream decides the size) is scaled down
before it is converted, so one picture costs at most about 6 MB.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import av

__all__ = ["PictureKind", "VideoPicture", "VideoPictures"]

PictureKind = Literal["remote", "local"]
# The most pixels a picture is handed on with (1080p); larger ones are scaled down first.
MAX_PIXELS = 1920 * 1080


@dataclass(frozen=True, slots=True)
class VideoPicture:
    """One picture as packed RGB (``rgb24``: 3 octets a pixel, rows of ``3 * width`` octets)."""

    call_id: str
    kind: PictureKind
    width: int
    height: int
    rgb: bytes


Listener = Callable[[str, PictureKind], None]


class VideoPictures:
    """The newest remote and local picture of each call; see the module documentation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, PictureKind], VideoPicture] = {}
        self._listeners: list[Listener] = []
        self.converted = 0  # pictures turned into RGB, for tests and diagnostics

    @property
    def wanted(self) -> bool:
        return bool(self._listeners)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(call_id, kind)`` (on a video thread) when a slot that was empty gets a picture."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def offer(self, call_id: str, kind: PictureKind, frame: av.VideoFrame) -> None:
        """A video thread's picture: converted to RGB and kept when someone listens."""
        if not self._listeners:
            return
        width, height = frame.width, frame.height
        if width * height > MAX_PIXELS:
            # The peer's bitstream sets the size: a huge picture is shown scaled down, never converted whole.
            scale = (MAX_PIXELS / (width * height)) ** 0.5
            width, height = max(2, int(width * scale) & ~1), max(2, int(height * scale) & ~1)
        rgb = frame.to_ndarray(width=width, height=height, format="rgb24")
        self.put(VideoPicture(call_id, kind, int(rgb.shape[1]), int(rgb.shape[0]), rgb.tobytes()))

    def put(self, picture: VideoPicture) -> None:
        key = (picture.call_id, picture.kind)
        with self._lock:
            fresh = key not in self._slots
            self._slots[key] = picture
            self.converted += 1
            listeners = list(self._listeners) if fresh else []
        for listener in listeners:
            listener(picture.call_id, picture.kind)

    def take(self, call_id: str, kind: PictureKind) -> VideoPicture | None:
        """The newest picture not taken yet (None: nothing new); the slot is empty afterwards."""
        with self._lock:
            return self._slots.pop((call_id, kind), None)

    def forget(self, call_id: str) -> None:
        """The call's video ended: its pictures are dropped."""
        with self._lock:
            for kind in ("remote", "local"):
                self._slots.pop((call_id, kind), None)

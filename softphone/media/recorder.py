"""Call recording: both directions of a call mixed into one WAV file.

The media thread hands each ptime's sent and played frames to
:meth:`CallRecorder.push`, which only mixes them into a preallocated block and
queues it; a writer thread of the recorder does the file I/O, so a slow disk
never delays RTP. The file is a 16-bit mono WAV at the pipeline rate, valid
(header patched) once :meth:`CallRecorder.close` returns.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

from softphone.media.errors import MediaError
from softphone.media.wav import PIPELINE_RATE, WavSink

__all__ = ["CallRecorder"]

log = logging.getLogger(__name__)

Samples = npt.NDArray[np.float32]

_MAX_QUEUED = 500  # 10 s of 20 ms frames: beyond that the disk has stalled and frames are dropped


class CallRecorder:
    """Records a call to ``path``; see the module documentation.

    Raises :class:`MediaError` when the file cannot be created.
    """

    def __init__(self, path: str | Path, *, samplerate: int = PIPELINE_RATE) -> None:
        self.path = Path(path)
        self.samplerate = samplerate
        self._sink = WavSink(self.path, samplerate=samplerate)
        self._queue: queue.Queue[Samples | None] = queue.Queue(maxsize=_MAX_QUEUED)
        self._frames = 0
        self._dropped = 0
        self._error: str | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._write_loop, name=f"recorder {self.path.name}", daemon=True)
        self._thread.start()

    @property
    def seconds(self) -> float:
        """Length recorded so far."""
        return self._frames / self.samplerate

    @property
    def dropped_blocks(self) -> int:
        return self._dropped

    @property
    def error(self) -> str | None:
        """Why writing stopped, if it did."""
        return self._error

    def push(self, sent: Samples | None, played: Samples | None) -> None:
        """Mix one ptime of both directions (either may be None: nothing that way) and queue it."""
        if self._closed or self._error is not None:
            return
        if sent is None and played is None:
            return
        if sent is None:
            assert played is not None
            mixed = played.astype(np.float32, copy=True)
        elif played is None:
            mixed = sent.astype(np.float32, copy=True)
        else:
            n = min(len(sent), len(played))
            mixed = np.add(sent[:n], played[:n], dtype=np.float32)
        np.clip(mixed, -1.0, 1.0, out=mixed)
        try:
            self._queue.put_nowait(mixed)
        except queue.Full:
            self._dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and finish the file."""
        if self._closed:
            return
        self._closed = True
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.warning("recording %s: the writer is stuck; closing without the last blocks", self.path)
        self._thread.join(timeout)
        try:
            self._sink.close()
        except (OSError, MediaError) as exc:
            self._error = self._error or str(exc)
        if self._error is not None:
            log.warning("recording %s is incomplete: %s", self.path, self._error)

    def _write_loop(self) -> None:
        while (block := self._queue.get()) is not None:
            if self._error is not None:
                continue
            try:
                self._sink.write(block)
                self._frames += len(block)
            except (OSError, MediaError) as exc:
                self._error = f"cannot write {self.path}: {exc}"

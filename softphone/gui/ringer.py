"""The ringtone: a ring cadence played on the ringing device, off the GUI thread.

Opening an audio device can take a while (or fail: no sound card, a device
that went away, offscreen tests). Every device operation therefore runs on a
small worker thread, and every failure is logged once and otherwise ignored:
a phone that cannot ring still shows its incoming-call window.
"""

from __future__ import annotations

import logging
import threading

from softphone.ua import BufferPlayer, start_ringtone

log = logging.getLogger("softphone.gui.ringer")


class Ringer:
    """``start()`` / ``stop()`` never block and never raise."""

    def __init__(self, device: str | int | None = None, *, enabled: bool = True) -> None:
        self.device = device
        self.enabled = enabled
        self._lock = threading.Lock()
        self._player: BufferPlayer | None = None
        self._wanted = False
        self._worker: threading.Thread | None = None
        self.last_error: str | None = None

    @property
    def ringing(self) -> bool:
        return self._wanted

    def start(self) -> None:
        if not self.enabled or self._wanted:
            return
        self._wanted = True
        self._spawn()

    def stop(self) -> None:
        if not self._wanted:
            return
        self._wanted = False
        self._spawn()

    def _spawn(self) -> None:
        worker = threading.Thread(target=self._apply, name="softphone-ringer", daemon=True)
        self._worker = worker
        worker.start()

    def _apply(self) -> None:
        with self._lock:
            try:
                if self._wanted and self._player is None:
                    self._player = start_ringtone(self.device)
                elif not self._wanted and self._player is not None:
                    player, self._player = self._player, None
                    player.stop()
            except Exception as exc:  # no device, no PortAudio, a device that vanished ...
                if self.last_error != str(exc):
                    log.info("cannot play the ringtone: %s", exc)
                self.last_error = str(exc)
                self._player = None

    def close(self, timeout: float = 2.0) -> None:
        """Stop ringing and wait (bounded) for the worker: at shutdown only."""
        self._wanted = False
        self._spawn()
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

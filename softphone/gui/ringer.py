"""The ringtone: the chosen tone played on the ringing device, off the GUI thread.

Opening an audio device can take a while (or fail: no sound card, a device
that went away, offscreen tests). Every device operation therefore runs on a
small worker thread, and every failure is logged once and otherwise ignored:
a phone that cannot ring still shows its incoming-call window. A ringtone
file that cannot be played (gone, not a 16-bit WAV) falls back to the
built-in ring: the phone rings either way.

The tones: ``None`` is the built-in ring; a bundled tone is a name of
``resources/sounds/<name>.wav`` (:data:`BUNDLED_TONES`); anything else is the
path of a WAV file the user chose.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from softphone.gui.i18n import resources_dir, translate
from softphone.ua import BufferPlayer, start_ringtone

log = logging.getLogger("softphone.gui.ringer")

# Bundled tones by setting value, in the order the settings offer them.
BUNDLED_TONES = ("marimba", "bells", "chime", "digital")


def tone_names() -> dict[str | None, str]:
    """The tones the settings offer, by setting value, with their names in the user's language."""
    return {
        None: translate("Ringer", "Classic ring"),
        "marimba": translate("Ringer", "Marimba"),
        "bells": translate("Ringer", "Bells"),
        "chime": translate("Ringer", "Chime"),
        "digital": translate("Ringer", "Digital"),
    }


def sounds_dir() -> Path:
    return resources_dir("sounds")


def tone_path(tone: str | None) -> Path | None:
    """The WAV file for a ringtone setting (None: the built-in ring)."""
    if not tone:
        return None
    if tone in BUNDLED_TONES:
        return sounds_dir() / f"{tone}.wav"
    return Path(tone).expanduser()


class Ringer:
    """``start()`` / ``stop()`` never block and never raise. ``tone`` is a ringtone setting (see the module)."""

    def __init__(self, device: str | int | None = None, *, enabled: bool = True, tone: str | None = None) -> None:
        self.device = device
        self.enabled = enabled
        self.tone = tone
        self._lock = threading.Lock()
        self._player: BufferPlayer | None = None
        self._wanted = False
        self._worker: threading.Thread | None = None
        self.last_error: str | None = None
        self.playing_tone: Path | None = None  # the file ringing now (None: the built-in ring), for tests

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
        worker = threading.Thread(
            target=self._apply, args=(tone_path(self.tone),), name="softphone-ringer", daemon=True
        )
        self._worker = worker
        worker.start()

    def _apply(self, tone: Path | None) -> None:
        with self._lock:
            try:
                if self._wanted and self._player is None:
                    self._player = self._open(tone)
                elif not self._wanted and self._player is not None:
                    player, self._player = self._player, None
                    player.stop()
            except Exception as exc:  # no device, no PortAudio, a device that vanished ...
                self._note(f"cannot play the ringtone: {exc}")
                self._player = None

    def _open(self, tone: Path | None) -> BufferPlayer:
        if tone is not None:
            try:
                player = start_ringtone(self.device, tone)
                self.playing_tone = tone
                return player
            except Exception as exc:
                self._note(f"cannot play the ringtone {tone}: {exc}; ringing with the built-in one")
        player = start_ringtone(self.device)
        self.playing_tone = None
        return player

    def _note(self, text: str) -> None:
        if self.last_error != text:
            log.info("%s", text)
        self.last_error = text

    def close(self, timeout: float = 2.0) -> None:
        """Stop ringing and wait (bounded) for the worker: at shutdown only."""
        self._wanted = False
        self._spawn()
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

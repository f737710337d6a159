"""Windows open where the user left them: position and size kept in the settings file.

:class:`WindowPlaces` watches the windows it is given (the main, call, chat and
SIP trace windows) with an event filter. When one is shown for the first
time it gets the geometry last saved for it (``QWidget.restoreGeometry``, which
also keeps it on a screen that still exists); when it is hidden (closing hides it too) its
geometry goes into ``Settings.windows`` under its name, and the settings file
is written. Nothing here waits on anything but that write.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable

from PySide6.QtCore import QByteArray, QEvent, QObject
from PySide6.QtWidgets import QWidget

from softphone.store import Settings

__all__ = ["WindowPlaces"]

log = logging.getLogger("softphone.gui")


class WindowPlaces(QObject):
    """Restores and remembers the geometry of named windows; ``save`` writes the settings file."""

    def __init__(self, settings: Settings, save: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._save = save
        self._windows: dict[QWidget, str] = {}
        self._restored: set[str] = set()

    def watch(self, window: QWidget, name: str) -> None:
        """Keep ``window``'s place under ``name``; restored now if it is already on screen."""
        self._windows[window] = name
        window.installEventFilter(self)
        window.destroyed.connect(lambda _obj=None, w=window: self._windows.pop(w, None))
        if window.isVisible():
            self.restore(window, name)

    def restore(self, window: QWidget, name: str) -> bool:
        """Put ``window`` where it was last; False when nothing usable was kept for it."""
        self._restored.add(name)
        saved = self.settings.windows.get(name)
        if not isinstance(saved, str) or not saved:
            return False
        try:
            data = base64.b64decode(saved, validate=True)
        except (binascii.Error, ValueError):
            log.info("the saved place of the %s window is not usable", name)
            return False
        return bool(window.restoreGeometry(QByteArray(data)))

    def remember(self, window: QWidget, name: str) -> None:
        data = bytes(window.saveGeometry().data())
        value = base64.b64encode(data).decode("ascii")
        if self.settings.windows.get(name) != value:
            self.settings.windows[name] = value
            self._save()

    def remember_all(self) -> None:
        """Keep the place of every watched window on screen (at quit, before they close)."""
        for window, name in list(self._windows.items()):
            if window.isVisible():
                self.remember(window, name)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(watched, QWidget) and watched in self._windows:
            name = self._windows[watched]
            kind = event.type()
            if kind == QEvent.Type.Show and name not in self._restored:
                self.restore(watched, name)
            elif kind == QEvent.Type.Hide and not watched.isMinimized():
                self.remember(watched, name)
        return False

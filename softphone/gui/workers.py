"""Work off the GUI thread, with its outcome back on the GUI thread.

One mechanism carries everything another thread hands to the GUI: a
:class:`GuiRelay`, a ``QObject`` that lives on the GUI thread and whose one
signal is connected to its own slot with a queued connection. Any thread may
:meth:`~GuiRelay.post` a callable; Qt puts it on the GUI thread's event queue
and the slot runs it there, in the order posted. The bridge's command results
and UA events, the SIP trace's records and :func:`run_in_thread`'s outcomes
all travel this way.

:func:`run_in_thread` runs a blocking function (opening a sound device,
fetching a picture, a one-off registration) on a daemon thread of its own and
returns at once; ``on_done(result)`` or ``on_error(exception)`` then run on
the GUI thread. A relay is made a child of the widget it works for: once the
widget is deleted, what is still on its way is dropped instead of reaching a
widget that no longer exists.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger("softphone.gui.workers")

T = TypeVar("T")


class GuiRelay(QObject):
    """Runs callables posted from any thread on the thread this object lives in (the GUI thread)."""

    _posted = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Queued even when posted from the GUI thread itself: a callback never runs inside post().
        self._posted.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def post(self, callback: Callable[[], object]) -> bool:
        """Have ``callback()`` run on the relay's thread; False when the relay is gone and it never will."""
        try:
            self._posted.emit(callback)
        except RuntimeError:  # the C++ object was deleted with the widget that owned it
            return False
        return True

    @Slot(object)
    def _run(self, callback: Callable[[], object]) -> None:
        callback()


def run_in_thread(
    relay: GuiRelay,
    function: Callable[[], T],
    on_done: Callable[[T], object] | None = None,
    on_error: Callable[[BaseException], object] | None = None,
    *,
    name: str = "softphone-worker",
) -> threading.Thread:
    """Run ``function()`` on a new daemon thread called ``name``; return that thread at once.

    Its result goes to ``on_done`` and an exception it raises to ``on_error``, both called on
    ``relay``'s thread. Without ``on_error`` an exception is logged. Join the returned thread only
    where waiting is allowed (tests, shutdown).
    """

    def failed(error: BaseException) -> None:
        if on_error is not None:
            relay.post(lambda: on_error(error))
        else:
            log.info("%s failed: %s", name, error)

    def work() -> None:
        try:
            result = function()
        except Exception as exc:
            failed(exc)
            return
        if on_done is not None:
            relay.post(lambda: on_done(result))

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    return thread

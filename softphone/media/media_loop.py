"""One media thread for every call: the deadline clocks and the sockets of all media sessions.

Each :class:`~softphone.media.engine.MediaSession` keeps its own deadline clock (next
deadline = previous + ptime), its sockets and its counters; the :class:`MediaLoop` is the
thread that drives them. Between deadlines it waits in one ``select`` over the sockets of
every session (and a wake-up pair, so a new or stopping session is seen at once) and hands
each readable socket to its session; at a deadline it runs the due sessions' ticks, earliest
deadline first, so sessions whose audio meets in a conference always take their turns in
the same order. The thread starts with the first session and ends when the last one has
stopped.

Why one thread: with a thread per call, ten calls paid for ten wake-ups per ptime, each
taking the interpreter lock from the others (benchmarks/media.py part 4; README,
"Performance"). A session that blocks holds up every call, so nothing on this thread may
block: sources and sinks are the non-blocking ones of :mod:`softphone.media.sources`,
callbacks hand their events on with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from typing import Protocol

__all__ = ["MediaLoop", "Serviced", "media_loop"]

log = logging.getLogger(__name__)

_IDLE_WAIT = 0.5  # seconds between looks at a loop without due sessions (a wake-up ends it sooner)


class Serviced(Protocol):
    """What the loop needs of a session (implemented by MediaSession)."""

    def loop_begin(self) -> None:
        """First call on the loop thread: start the clocks."""

    def loop_due_in(self) -> float:
        """Seconds until the next tick is due (zero or less: due now), on the session's own clock."""
        ...

    def loop_tick(self) -> bool:
        """Run the due tick; False when the session cannot go on."""
        ...

    def loop_sockets(self) -> list[socket.socket]:
        """The sockets to wait on; a readable one is handed to :meth:`loop_receive`."""
        ...

    def loop_receive(self, sock: socket.socket) -> None: ...

    def loop_stopping(self) -> bool:
        """True once the session has been asked to stop."""
        ...

    def loop_end(self) -> None:
        """Last call on the loop thread (RTCP BYE, and the session is done)."""


class MediaLoop:
    """The thread serving every running session (see the module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Serviced] = []
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    def add(self, session: Serviced) -> None:
        with self._lock:
            self._pending.append(session)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="media", daemon=True)
                self._thread.start()
        self.wake()

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # full: a wake-up is pending anyway
            self._wake_w.send(b"\0")

    def on_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def _run(self) -> None:
        active: list[Serviced] = []
        while True:
            with self._lock:
                joining, self._pending = self._pending, []
                if not active and not joining:
                    self._thread = None
                    return
            for session in joining:
                session.loop_begin()
                active.append(session)
            for session in [s for s in active if s.loop_stopping()]:
                self._end(active, session)
            due = sorted((d, i) for i, s in enumerate(active) if (d := s.loop_due_in()) <= 0)
            for session in [active[i] for _, i in due]:
                if not session.loop_tick():
                    self._end(active, session)
            if active:
                timeout = min(s.loop_due_in() for s in active)
                if timeout > 0:
                    self._wait(active, timeout)
            else:
                self._wait(active, _IDLE_WAIT)

    def _wait(self, active: list[Serviced], timeout: float) -> None:
        owner: dict[socket.socket, Serviced] = {}
        for session in active:
            for sock in session.loop_sockets():
                owner[sock] = session
        try:
            readable, _, _ = select.select([self._wake_r, *owner], [], [], timeout)
        except (OSError, ValueError):
            # A socket closed under us (a stop() that gave up waiting): that session ends next turn.
            time.sleep(min(timeout, 0.005))
            return
        for sock in readable:
            if sock is self._wake_r:
                with contextlib.suppress(OSError):
                    while self._wake_r.recv(4096):
                        pass
                continue
            owner[sock].loop_receive(sock)

    @staticmethod
    def _end(active: list[Serviced], session: Serviced) -> None:
        active.remove(session)
        try:
            session.loop_end()
        except Exception:
            log.exception("ending a media session failed")


_shared: MediaLoop | None = None
_shared_lock = threading.Lock()


def media_loop() -> MediaLoop:
    """The process's media loop (made on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MediaLoop()
        return _shared

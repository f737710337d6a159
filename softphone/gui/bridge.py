"""The bridge between the Qt GUI thread and the user agent's asyncio loop.

Threads
-------

* **GUI thread** — the Qt event loop. Only it touches widgets. It owns the
  :class:`UaBridge` object (a ``QObject``), so every slot connected to the
  bridge's signals runs there.
* **Core thread** — a ``threading.Thread`` named ``softphone-core`` running
  ``loop.run_forever()`` on an asyncio loop of its own. The
  :class:`~softphone.ua.UserAgent`, its transports, transactions and timers
  live on that loop and nowhere else.

GUI → core: :meth:`UaBridge.run` hands a coroutine *factory* to the loop
with ``asyncio.run_coroutine_threadsafe`` and returns at once; the factory
is called on the loop (so even building the coroutine touches the UA from
its own thread). Nothing on the GUI thread ever waits for the result.

Core → GUI: everything goes through the bridge's
:class:`~softphone.gui.workers.GuiRelay` (a queued signal; the mechanism all
worker threads of the GUI share). The bridge subscribes to the UA
(``ua.subscribe``); that callback runs on the loop thread and only posts the
event to the relay, which emits the public ``event`` signal on the GUI
thread, so whatever is connected to ``event`` — slots or plain callables —
runs there. Results and errors of commands travel the same way: the
concurrent future's done-callback (loop thread) posts a closure that calls
``on_done`` or ``on_error`` on the GUI thread; errors are also emitted as
``error(str)``.

The only blocking wait is in :meth:`UaBridge.stop`, at shutdown: the UA's
``stop()`` (unregister, BYEs) gets a bounded time, then the loop is stopped
and the thread joined with a timeout. A slow server or a DNS lookup that
hangs can therefore delay quitting by at most that bound, and never freezes
a window while the application runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from softphone.gui.workers import GuiRelay
from softphone.ua import Event, PictureKind, UserAgent, VideoPicture

log = logging.getLogger("softphone.gui.bridge")

T = TypeVar("T")

STOP_TIMEOUT = 5.0


class UaBridge(QObject):
    """Runs a :class:`UserAgent` on a core thread and talks to it from the GUI thread.

    Signals (always received on the GUI thread):

    * ``event(object)`` — every UA event (a dataclass of :mod:`softphone.ua.events`);
    * ``error(str)`` — a command that failed, in words for the user;
    * ``started()`` / ``stopped()`` — the UA's life cycle;
    * ``video_picture(str, str)`` — a call (its id) has a new picture of the ``remote`` or ``local`` kind;
      :meth:`take_picture` gets it. Only the newest picture waits: the ones the GUI had no time to draw are
      dropped on the video thread, never queued.
    """

    # The public name the rest of the GUI uses. It hides QObject.event(), which PySide leaves alone
    # (a signal is not a method override); the bridge handles no QEvents of its own.
    event = Signal(object)  # type: ignore[assignment]
    error = Signal(str)
    started = Signal()
    stopped = Signal()
    video_picture = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ua: UserAgent | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe_pictures: Callable[[], None] | None = None
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self.is_started = False
        self._relay = GuiRelay(self)

    # --- life cycle ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.ua is not None

    def start(self, ua: UserAgent, *, register: bool = True) -> None:
        """Start the core thread and, on it, the UA (and its registrations unless ``register`` is False)."""
        if self._thread is not None:
            raise RuntimeError("the bridge is already running")
        self.ua = ua
        loop = asyncio.new_event_loop()
        self.loop = loop
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run_loop, args=(loop, ready), name="softphone-core", daemon=True)
        self._thread.start()
        ready.wait(5.0)  # the thread only has to enter run_forever: microseconds
        # Video threads say when a call's picture slot fills; the GUI thread takes the picture when it draws.
        self._unsubscribe_pictures = ua.video_pictures.subscribe(self._picture_from_video_thread)
        self._unsubscribe = None

        async def boot() -> None:
            self._unsubscribe = ua.subscribe(self._from_loop)
            await ua.start()
            if register:
                await ua.register()

        self.run(boot, on_done=lambda _: self._booted())

    def _booted(self) -> None:
        self.is_started = True
        self.started.emit()

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            try:
                tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in tasks:
                    task.cancel()
                if tasks:
                    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            except Exception:
                log.exception("closing the core loop failed")
            finally:
                loop.close()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the UA (bounded by ``timeout`` seconds), then the loop and its thread. Idempotent.

        Events and command results still queued for the GUI thread are dropped: after ``stop()``
        nothing more is delivered.
        """
        thread, loop, ua = self._thread, self.loop, self.ua
        if thread is None or loop is None:
            return
        self.is_started = False
        if self._unsubscribe_pictures is not None:
            self._unsubscribe_pictures()
            self._unsubscribe_pictures = None
        if ua is not None and not loop.is_closed():
            future = asyncio.run_coroutine_threadsafe(ua.stop(), loop)
            try:
                future.result(timeout)
            except concurrent.futures.TimeoutError:
                log.warning("the user agent did not stop within %.1f s; closing anyway", timeout)
                future.cancel()
            except Exception as exc:
                log.warning("stopping the user agent failed: %s", exc)
            if self._unsubscribe is not None:
                unsubscribe = self._unsubscribe
                self._unsubscribe = None
                try:
                    loop.call_soon_threadsafe(unsubscribe)
                except RuntimeError:
                    pass
        for pending in list(self._pending):
            pending.cancel()
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass  # already closed
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the core thread did not end within %.1f s", timeout)
        self._thread = None
        self.loop = None
        self.stopped.emit()

    # --- commands (GUI → core) ----------------------------------------------------------

    def run(
        self,
        factory: Callable[[], Awaitable[T]],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> concurrent.futures.Future[T] | None:
        """Run ``factory()`` (a coroutine function, called on the loop) without waiting for it.

        ``on_done(result)`` or ``on_error(exception)`` are called later on the GUI thread; an
        error is also emitted as ``error(str)`` unless ``on_error`` handles it. Returns the
        concurrent future (never wait on it from the GUI thread), or None when the bridge is stopped.
        """
        loop = self.loop
        if loop is None or loop.is_closed():
            self.error.emit("the phone core is not running")
            return None

        async def wrapper() -> T:
            return await factory()

        try:
            future = asyncio.run_coroutine_threadsafe(wrapper(), loop)
        except RuntimeError as exc:
            self.error.emit(f"the phone core is not running: {exc}")
            return None
        self._pending.add(future)
        future.add_done_callback(lambda f: self._finished(f, on_done, on_error))
        return future

    def call(
        self,
        function: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> concurrent.futures.Future[Any] | None:
        """Call ``function(*args)`` on the loop (awaiting it if it returns an awaitable); see :meth:`run`."""

        async def invoke() -> Any:
            result = function(*args)
            if inspect.isawaitable(result):
                result = await result
            return result

        return self.run(invoke, on_done, on_error)

    def _finished(
        self,
        future: concurrent.futures.Future[T],
        on_done: Callable[[T], None] | None,
        on_error: Callable[[BaseException], None] | None,
    ) -> None:
        # Loop thread (or the caller of cancel()): only hand over to the GUI thread.
        self._pending.discard(future)
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            if on_error is not None:
                self._relay.post(lambda: self._deliver(lambda: on_error(exc)))
            else:
                self._relay.post(lambda: self._deliver(lambda: self.error.emit(_describe(exc))))
            return
        if on_done is not None:
            result = future.result()
            self._relay.post(lambda: self._deliver(lambda: on_done(result)))

    def _deliver(self, callback: Callable[[], None]) -> None:
        if self._thread is None:
            return  # stopped: what the UA did while stopping is not reported any more
        try:
            callback()
        except Exception:
            log.exception("a GUI callback of a UA command failed")

    # --- events (core → GUI) -------------------------------------------------------------

    def _from_loop(self, event: Event) -> None:
        # On the loop thread: the relay carries the event over to the GUI thread, where ``event`` is
        # emitted, so whatever is connected to it (slots, lambdas) runs on the GUI thread.
        self._relay.post(lambda: self._emit_event(event))

    def _emit_event(self, event: Event) -> None:
        if self._thread is None:
            return  # stopped: the windows (and the store) may be gone already
        self.event.emit(event)

    # --- video pictures (video threads → GUI) --------------------------------------------------

    def _picture_from_video_thread(self, call_id: str, kind: str) -> None:
        self._relay.post(lambda: self._emit_picture(call_id, kind))

    def _emit_picture(self, call_id: str, kind: str) -> None:
        if self._thread is not None:
            self.video_picture.emit(call_id, kind)

    def take_picture(self, call_id: str, kind: PictureKind) -> VideoPicture | None:
        """The newest picture of the call not drawn yet (None: nothing new). Never waits for a video thread
        longer than it takes to swap a slot."""
        ua = self.ua
        return ua.video_pictures.take(call_id, kind) if ua is not None else None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__

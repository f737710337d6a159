"""Desktop notifications: an incoming call with Answer and Decline where the desktop offers buttons.

The notifications go through ``desktop-notifier`` (the freedesktop
notification server over D-Bus on Linux, the system's own on macOS and
Windows). Its calls are coroutines, so they run on the core loop through the
bridge like every other piece of asynchronous work; what the user clicks
comes back on that loop and is posted to the GUI thread through a
:class:`~softphone.gui.workers.GuiRelay`.

When the phone starts, :meth:`Notifications.start` asks the desktop what it
can do. Until it has answered, and for good when there is no notification
server (no session bus, nothing owning ``org.freedesktop.Notifications``, an
unsupported platform), every notification goes to ``fallback``: the tray
icon's message balloon, or nothing without a tray. A server without
``actions`` still gets the notifications, without buttons (the
incoming-call window has them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from softphone.gui.text import notification_text
from softphone.gui.workers import GuiRelay

if TYPE_CHECKING:
    from softphone.gui.bridge import UaBridge

__all__ = ["Fallback", "Notifications"]

log = logging.getLogger("softphone.gui.notifications")

# fallback(title, text, milliseconds) shows a notification some other way; False when it could not.
Fallback = Callable[[str, str, int], bool]

INCOMING_SECONDS = 60
MESSAGE_SECONDS = 8


def _make_notifier(app_name: str, icon_path: str | None) -> Any:
    """A ``DesktopNotifier`` for this platform (imported here: the library is only needed once it is used)."""
    from desktop_notifier import DesktopNotifier, Icon

    icon = Icon(path=Path(icon_path)) if icon_path else None
    return DesktopNotifier(app_name=app_name, app_icon=icon)


class Notifications(QObject):
    """Notifications for calls and messages; see the module documentation.

    ``state`` is ``"unknown"`` until the desktop answered, then ``"desktop"`` or ``"fallback"``;
    ``buttons`` says whether the desktop shows Answer and Decline on a notification.
    """

    def __init__(
        self,
        bridge: UaBridge,
        fallback: Fallback,
        *,
        enabled: bool = True,
        app_name: str = "Softphone",
        icon_path: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.fallback = fallback
        self.enabled = enabled
        self.app_name = app_name
        self.icon_path = icon_path
        self.state = "unknown" if enabled else "fallback"
        self.buttons = False
        self.problem: str | None = None
        self._notifier: Any = None
        self._relay = GuiRelay(self)
        self._calls: dict[str, str] = {}  # call id -> the notification's identifier
        self._sending: set[str] = set()  # calls whose notification is on its way
        self._withdrawn: set[str] = set()  # ... and no longer wanted when it gets there

    # --- the desktop's answer -------------------------------------------------------------------

    def start(self) -> None:
        """Ask the desktop what it offers (on the core loop); the answer sets ``state`` and ``buttons``."""
        if not self.enabled or self.state != "unknown" or self.bridge.loop is None:
            return
        app_name, icon_path = self.app_name, self.icon_path

        async def capabilities() -> tuple[Any, frozenset[Any]]:
            # Importing the library takes 0.1-0.3 s: on a worker thread, not the GUI thread (it stalled the
            # window while the first presence burst came in) nor the core loop. A missing library or a
            # platform without a backend raises here and ends in _no_desktop.
            notifier = await asyncio.get_running_loop().run_in_executor(None, _make_notifier, app_name, icon_path)
            found: frozenset[Any] = await notifier.get_capabilities()
            return notifier, found

        self.state = "asking"
        self.bridge.run(capabilities, on_done=lambda made: self._desktop(*made), on_error=self._no_desktop)

    def _desktop(self, notifier: Any, capabilities: frozenset[Any]) -> None:
        from desktop_notifier import Capability

        self._notifier = notifier
        self.state = "desktop"
        self.buttons = Capability.BUTTONS in capabilities
        log.info("desktop notifications%s", " with buttons" if self.buttons else " without buttons")

    def _no_desktop(self, exc: BaseException) -> None:
        self.state = "fallback"
        self.problem = str(exc) or type(exc).__name__
        log.info("no desktop notifications (%s); using the tray", self.problem)

    @property
    def desktop(self) -> bool:
        return self.state == "desktop" and self._notifier is not None

    # --- notifications --------------------------------------------------------------------------

    def incoming_call(
        self,
        call_id: str,
        title: str,
        text: str,
        on_answer: Callable[[], None],
        on_decline: Callable[[], None],
        on_clicked: Callable[[], None],
    ) -> None:
        """A call rings: a notification with Answer and Decline (where the desktop has buttons)."""
        if not self.desktop:
            self.fallback(title, text, INCOMING_SECONDS * 1000)
            return
        from desktop_notifier import Button, Urgency

        buttons = (
            [
                Button(title=self.tr("Answer"), on_pressed=self._to_gui(on_answer), identifier="answer"),
                Button(title=self.tr("Decline"), on_pressed=self._to_gui(on_decline), identifier="decline"),
            ]
            if self.buttons
            else []
        )
        self._send(
            title,
            text,
            INCOMING_SECONDS,
            urgency=Urgency.Critical,
            buttons=buttons,
            on_clicked=self._to_gui(on_clicked),
            call_id=call_id,
        )

    def notify(self, title: str, text: str, seconds: int = MESSAGE_SECONDS) -> bool:
        """A plain notification (a missed call, a message); False when it could not be shown at all."""
        if not self.desktop:
            return self.fallback(title, text, seconds * 1000)
        self._send(title, text, seconds)
        return True

    def showing(self, call_id: str) -> bool:
        """Whether the desktop shows a notification of this call (it took it and it was not withdrawn)."""
        return call_id in self._calls

    def withdraw(self, call_id: str) -> None:
        """The call stopped ringing: its notification goes away (also one still on its way)."""
        if call_id in self._sending:
            self._withdrawn.add(call_id)
            return
        identifier = self._calls.pop(call_id, None)
        notifier = self._notifier
        if identifier is None or notifier is None or self.bridge.loop is None:
            return

        async def clear() -> None:
            if identifier in await notifier.get_current_notifications():  # not clicked or closed meanwhile
                await notifier.clear(identifier)

        self.bridge.run(clear, on_error=lambda exc: log.info("cannot withdraw a notification: %s", exc))

    def _send(self, title: str, text: str, seconds: int, call_id: str | None = None, **options: Any) -> None:
        notifier = self._notifier
        body = notification_text(text)  # the freedesktop body takes markup; the title does not

        async def send() -> str:
            identifier: str = await notifier.send(title=title, message=body, timeout=seconds, **options)
            # The library logs a failed send instead of raising it: a notification it does not list was not shown.
            if identifier not in await notifier.get_current_notifications():
                raise RuntimeError("the notification server did not take it")
            return identifier

        def sent(identifier: str) -> None:
            if call_id is None:
                return
            self._sending.discard(call_id)
            self._calls[call_id] = identifier
            if call_id in self._withdrawn:
                self._withdrawn.discard(call_id)
                self.withdraw(call_id)

        def failed(exc: BaseException) -> None:
            if call_id is not None:
                self._sending.discard(call_id)
                if call_id in self._withdrawn:
                    self._withdrawn.discard(call_id)
                    return  # decided meanwhile: nothing to show any more
            log.info("the desktop notification failed (%s); using the tray", exc)
            self.fallback(title, text, seconds * 1000)

        if call_id is not None:
            self._sending.add(call_id)
        if self.bridge.run(send, on_done=sent, on_error=failed) is None:
            if call_id is not None:
                self._sending.discard(call_id)
            self.fallback(title, text, seconds * 1000)

    def _to_gui(self, callback: Callable[[], None]) -> Callable[[], None]:
        """A callback the library calls on the core loop, run on the GUI thread instead."""
        relay = self._relay

        def on_loop() -> None:
            relay.post(callback)

        return on_loop

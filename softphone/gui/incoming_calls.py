"""The calls that ring: one incoming-call window at a time, the others waiting their turn in order.

A flood of calls never opens more than one window; the window says how many
more are waiting. The ringer runs while a call is on screen, and a desktop
notification (with Answer and Decline where the desktop has buttons, else the
tray's message) says who calls; answering and declining go to the UA through
the bridge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from softphone.gui.bridge import UaBridge
from softphone.gui.i18n import translate
from softphone.gui.incoming import IncomingCallWindow, caller_number
from softphone.gui.notifications import Notifications
from softphone.gui.ringer import Ringer
from softphone.store import Store
from softphone.ua import CallEvent, IncomingCallEvent, cannot

__all__ = ["IncomingCalls"]

log = logging.getLogger("softphone.gui")


class IncomingCalls:
    """``ringer()`` is the ringer now, ``notifications`` the desktop's notifications;
    ``show_error`` reports a failed command."""

    def __init__(
        self,
        bridge: UaBridge,
        store: Store | None,
        ringer: Callable[[], Ringer],
        notifications: Notifications,
        show_error: Callable[[str], None],
    ) -> None:
        self.bridge = bridge
        self.store = store
        self._ringer = ringer
        self.notifications = notifications
        self._show_error = show_error
        self.windows: dict[str, IncomingCallWindow] = {}
        self.waiting: dict[str, IncomingCallEvent] = {}
        self.closing = False

    def on_incoming(self, event: IncomingCallEvent) -> None:
        if self.windows:
            # A call is on screen already: this one waits (a flood never opens more windows).
            self.waiting[event.call_id] = event
            self._show_waiting_count()
            return
        contact = None
        if self.store is not None:
            try:
                contact = self.store.contacts.find_by_uri(event.remote_uri)
            except Exception as exc:
                log.info("contact lookup failed: %s", exc)
        window = IncomingCallWindow(
            event,
            contact=contact,
            on_answer=self.answer,
            on_decline=self.decline,
            on_answer_audio=lambda call_id: self.answer(call_id, video=False),
        )
        self.windows[event.call_id] = window
        window.set_waiting(len(self.waiting))
        window.show()
        window.raise_()
        window.activateWindow()
        self._ringer().start()
        name = event.remote_display_name or (contact.name if contact is not None else None)
        who = name or caller_number(event.remote_uri)
        call_id = event.call_id
        title = translate("IncomingCalls", "Incoming call from {who}").format(who=who)
        if self.notifications.desktop:
            text = event.remote_uri
        else:
            text = translate("IncomingCalls", "{address}\nClick to answer.").format(address=event.remote_uri)
        self.notifications.incoming_call(
            call_id,
            title,
            text,
            on_answer=lambda: self._decide(call_id, IncomingCallWindow.answer),
            on_decline=lambda: self._decide(call_id, IncomingCallWindow.decline),
            on_clicked=lambda: self._raise(call_id),
        )

    def _decide(self, call_id: str, action: Callable[[IncomingCallWindow], None]) -> None:
        """Answer or Decline on the notification: as if clicked in the call's window."""
        window = self.windows.get(call_id)
        if window is not None:
            action(window)

    def _raise(self, call_id: str) -> None:
        window = self.windows.get(call_id)
        if window is not None:
            window.show()
            window.raise_()
            window.activateWindow()

    def on_call(self, event: CallEvent) -> None:
        """A call changed: one that is no longer ringing leaves the screen or the queue."""
        window = self.windows.get(event.call_id)
        if event.state not in ("ringing", "early", "calling"):
            if self.waiting.pop(event.call_id, None) is not None:
                self._show_waiting_count()
            if window is not None:
                self.close(event.call_id)
        if event.state == "ended" and event.direction == "incoming" and window is not None and not window.decided:
            name = event.remote_display_name or caller_number(event.remote_uri)
            self.notifications.notify(translate("IncomingCalls", "Missed call"), name)

    def close(self, call_id: str) -> None:
        window = self.windows.pop(call_id, None)
        self.notifications.withdraw(call_id)
        if window is not None:
            window.close()
            window.deleteLater()
        if not self.windows and self.waiting and not self.closing:
            next_id = next(iter(self.waiting))
            self.on_incoming(self.waiting.pop(next_id))
        if not self.windows:
            self._ringer().stop()

    def close_all(self) -> None:
        self.closing = True
        for call_id in list(self.windows):
            self.close(call_id)

    def _show_waiting_count(self) -> None:
        for window in self.windows.values():
            window.set_waiting(len(self.waiting))

    def answer(self, call_id: str, *, video: bool = True) -> None:
        """Answer through the UA; ``video`` False declines the caller's video (the call is audio only)."""
        ua = self.bridge.ua
        if ua is None:
            return
        self._ringer().stop()

        def failed(exc: BaseException) -> None:
            window = self.windows.get(call_id)
            if window is not None:
                window.failed(cannot("answer the call", str(exc)))
            self._show_error(cannot("answer the call", str(exc)))

        self.bridge.run(lambda: ua.answer(call_id, video=video), on_error=failed)

    def decline(self, call_id: str, code: int = 603) -> None:
        ua = self.bridge.ua
        if ua is None:
            return

        def failed(exc: BaseException) -> None:
            window = self.windows.get(call_id)
            if window is not None:
                window.failed(cannot("decline the call", str(exc)))

        self.bridge.run(lambda: ua.decline(call_id, code), on_error=failed)

    def answer_newest(self) -> bool:
        """Answer the newest call on screen not yet decided; False when there is none."""
        for call_id in reversed(list(self.windows)):
            window = self.windows[call_id]
            if not window.decided:
                window.answer()
                return True
        return False

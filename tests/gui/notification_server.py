"""A private D-Bus session bus and a notification server on it, for the desktop-notification tests.

:class:`SessionBus` runs ``dbus-daemon --session`` on a socket of its own
(stopped by PID). :class:`NotificationServer` owns ``org.freedesktop.Notifications``
on that bus, as a desktop's notification daemon does (the freedesktop
Desktop Notifications protocol, version 1.2): it answers ``GetCapabilities``
(``actions`` and ``body``, or what the test says), ``GetServerInformation``,
``Notify`` and ``CloseNotification``, keeps what it was sent, and can press a
notification's button (the ``ActionInvoked`` signal) as a user would. It runs
on an asyncio loop in a thread of its own, like a separate process would.
"""

import asyncio
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import BusType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method, signal

# D-Bus signatures, as the annotations dbus-fast reads (names, so that linters see no odd strings).
STRING, STRINGS, FOUR_STRINGS, UINT, INT, HINTS = "s", "as", "ssss", "u", "i", "a{sv}"
UINT_STRING, TWO_UINTS = "us", "uu"

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


class SessionBus:
    """``dbus-daemon --session`` listening on a private socket; ``address`` is its D-Bus address."""

    def __init__(self) -> None:
        binary = shutil.which("dbus-daemon")
        if binary is None:
            pytest.fail("dbus-daemon is not installed (apt-get install dbus-daemon)", pytrace=False)
        self.workdir = Path(tempfile.mkdtemp(prefix="softphone-dbus-"))
        self.address = f"unix:path={self.workdir / 'bus'}"
        self.proc = subprocess.Popen(
            [binary, "--session", "--nofork", "--nopidfile", f"--address={self.address}", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        printed = self.proc.stdout.readline().decode().strip()  # printed once it listens
        if not printed:
            self.stop()
            pytest.fail("dbus-daemon --session did not start", pytrace=False)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class Shown:
    """One ``Notify`` call as the server received it."""

    id: int
    app_name: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any]
    timeout: int
    closed: bool = False
    buttons: dict[str, str] = field(default_factory=dict)  # action key -> label (the "default" action left out)


class _Notifications(ServiceInterface):
    def __init__(self, server: "NotificationServer") -> None:
        super().__init__(NAME)
        self.server = server

    @method()
    def GetCapabilities(self) -> STRINGS:
        return list(self.server.capabilities)

    @method()
    def GetServerInformation(self) -> FOUR_STRINGS:
        return ["test-notifications", "softphone tests", "1.0", "1.2"]

    @method()
    def Notify(
        self,
        app_name: STRING,
        replaces_id: UINT,
        app_icon: STRING,
        summary: STRING,
        body: STRING,
        actions: STRINGS,
        hints: HINTS,
        expire_timeout: INT,
    ) -> UINT:
        return self.server._notify(app_name, summary, body, actions, hints, expire_timeout)

    @method()
    def CloseNotification(self, id: UINT) -> None:
        self.server._closed(id)
        self.NotificationClosed(id, 3)

    @signal()
    def ActionInvoked(self, id: int, action_key: str) -> UINT_STRING:
        return [id, action_key]

    @signal()
    def NotificationClosed(self, id: int, reason: int) -> TWO_UINTS:
        return [id, reason]


class NotificationServer:
    """Owns the notification service on ``bus`` from a thread of its own; see the module documentation."""

    def __init__(self, bus: SessionBus, capabilities: tuple[str, ...] = ("actions", "body")) -> None:
        self.address = bus.address
        self.capabilities = capabilities
        self.shown: list[Shown] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._interface = _Notifications(self)
        self._bus: MessageBus | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="test-notifications", daemon=True)
        self._thread.start()
        if not ready.wait(10) or self._bus is None:
            pytest.fail("the test notification server did not get its name on the bus", pytrace=False)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            bus = await MessageBus(bus_address=self.address, bus_type=BusType.SESSION).connect()
            bus.export(PATH, self._interface)
            await bus.request_name(NAME)
            self._bus = bus
            ready.set()

        self._loop.run_until_complete(serve())
        self._loop.run_forever()

    def _notify(
        self, app_name: str, summary: str, body: str, actions: list[str], hints: dict[str, Variant], timeout: int
    ) -> int:
        with self._lock:
            shown = Shown(
                len(self.shown) + 1,
                app_name,
                summary,
                body,
                list(actions),
                {key: value.value for key, value in hints.items()},
                timeout,
            )
            pairs = zip(actions[0::2], actions[1::2], strict=False)
            shown.buttons = {key: label for key, label in pairs if key != "default"}
            self.shown.append(shown)
            return shown.id

    def _closed(self, id: int) -> None:
        with self._lock:
            for shown in self.shown:
                if shown.id == id:
                    shown.closed = True

    def notifications(self) -> list[Shown]:
        with self._lock:
            return list(self.shown)

    def press(self, id: int, action_key: str) -> None:
        """The user clicks the button ``action_key`` of notification ``id``."""
        self._loop.call_soon_threadsafe(self._interface.ActionInvoked, id, action_key)

    def stop(self) -> None:
        async def close() -> None:
            if self._bus is not None:
                self._bus.disconnect()

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

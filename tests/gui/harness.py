"""Phones for the GUI tests: the GUI under test and headless peers, each UA on a core thread of its own."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLineEdit,
    QListWidget,
    QTabWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot

from softphone.gui.bridge import UaBridge
from softphone.gui.main_window import MainWindow
from softphone.store import Settings, Store
from softphone.ua import Account, CallEvent, Event, IncomingCallEvent, RegistrationEvent, UserAgent, silence_media
from tests.kamailio_server import Kamailio
from tests.ua import make_ua

WAIT_MS = 20000


def new_account(server: Kamailio, *, password: str | None = None, **options: Any) -> Account:
    """A fresh subscriber on the server (the same recipe as tests/integration/test_ua_calls.py)."""
    name = "g" + secrets.token_hex(4)
    secret = secrets.token_hex(6)
    server.add_user(name, secret)
    return Account(
        server.aor(name),
        secret if password is None else password,
        registrar=server.proxy_uri("udp"),
        transport="udp",
        **options,
    )


class Peer:
    """A headless UserAgent on its own core thread; its events are collected on the GUI thread."""

    def __init__(self, qtbot: QtBot, account: Account, store: Store | None = None, **ua_options: Any) -> None:
        self.qtbot = qtbot
        self.account = account
        self.ua = make_ua(account, media=silence_media(), store=store, **ua_options)
        self.bridge = UaBridge()
        self.events: list[Event] = []
        self.errors: list[str] = []
        self.bridge.event.connect(self.events.append)
        self.bridge.error.connect(self.errors.append)
        self.bridge.start(self.ua)

    @property
    def aor(self) -> str:
        return self.account.aor

    def run(self, factory: Callable[[], Awaitable[Any]]) -> None:
        self.bridge.run(factory)

    def find(self, predicate: Callable[[Event], bool], after: int = 0) -> Event | None:
        return next((e for e in self.events[after:] if predicate(e)), None)

    def wait(self, predicate: Callable[[Event], bool], after: int = 0, timeout: int = WAIT_MS) -> Event:
        self.qtbot.waitUntil(lambda: self.find(predicate, after) is not None, timeout=timeout)
        found = self.find(predicate, after)
        assert found is not None
        return found

    def wait_registered(self) -> None:
        self.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "registered")

    def wait_incoming(self, after: int = 0) -> IncomingCallEvent:
        event = self.wait(lambda e: isinstance(e, IncomingCallEvent), after)
        assert isinstance(event, IncomingCallEvent)
        return event

    def wait_state(self, state: str, call_id: str | None = None, after: int = 0) -> CallEvent:
        event = self.wait(
            lambda e: isinstance(e, CallEvent) and e.state == state and (call_id is None or e.call_id == call_id),
            after,
        )
        assert isinstance(event, CallEvent)
        return event

    def mark(self) -> int:
        return len(self.events)

    def stop(self) -> None:
        self.bridge.stop()


class GuiPhone:
    """The main window (and its call and incoming-call windows) over a UA registered on the server."""

    def __init__(
        self,
        qtbot: QtBot,
        account: Account,
        tmp_path: Path,
        *,
        ua: UserAgent | None = None,
        desktop_notifications: bool = False,
    ) -> None:
        self.qtbot = qtbot
        self.account = account
        self.store = Store(tmp_path / f"gui-{secrets.token_hex(3)}.db")
        self.ua = ua if ua is not None else make_ua(account, media=silence_media(), store=self.store)
        self.bridge = UaBridge()
        self.events: list[Event] = []
        self.bridge.event.connect(self.events.append)
        self.window = MainWindow(
            self.bridge,
            self.store,
            Settings(),
            accounts=[account],
            settings_path=tmp_path / "settings.json",
            recordings_dir=tmp_path / "recordings",
            use_tray=False,
            desktop_notifications=desktop_notifications,
        )
        self.bridge.start(self.ua)
        self.window.show()
        qtbot.addWidget(self.window)

    def wait(self, condition: Callable[[], object], timeout: int = WAIT_MS) -> None:
        self.qtbot.waitUntil(lambda: bool(condition()), timeout=timeout)

    def wait_registered(self) -> None:
        row = self.window.account_rows[self.account.aor]
        self.wait(lambda: row.state == "registered")

    def close(self) -> None:
        self.window.quitting = True
        self.window.incoming_calls.close_all()
        self.window.call_window.close()
        self.window.close()
        self.bridge.stop()
        self.store.close()


def unnamed_controls(top: QWidget) -> list[str]:
    """The buttons, fields, lists and combos under ``top`` without an accessible name."""
    kinds = (QAbstractButton, QComboBox, QLineEdit, QListWidget, QTabWidget)
    missing = []
    for child in top.findChildren(QWidget):
        if not isinstance(child, kinds):
            continue
        parent = child.parentWidget()
        if isinstance(child, QLineEdit) and isinstance(parent, QComboBox):
            continue  # a combo's own editor
        if (
            isinstance(child, QAbstractButton)
            and type(child).__name__ in ("QTabBar", "QToolButton")
            and (parent is not None and type(parent).__name__ in ("QTabBar", "QLineEdit"))
        ):
            continue  # scroll arrows of a tab bar, the clear button of a line edit
        if not child.accessibleName():
            missing.append(f"{type(child).__name__} {child.text() if hasattr(child, 'text') else ''}")
    return missing


class Watchdog:
    """Measures the longest gap between ticks of a GUI-thread timer: a blocked GUI thread shows up here."""

    def __init__(self, interval_ms: int = 20) -> None:
        self.longest = 0.0
        self._last = time.monotonic()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.monotonic()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def stop(self) -> float:
        self._timer.stop()
        QApplication.processEvents()
        return self.longest

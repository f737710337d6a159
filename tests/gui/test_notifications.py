"""Desktop notifications of incoming calls, with Answer and Decline, over a real D-Bus session bus.

A private ``dbus-daemon --session`` carries the application's notifications
(desktop-notifier over dbus-fast, as on a Linux desktop) to a notification
server the test runs on that bus (tests/gui/notification_server.py): it shows
nothing, keeps what it was sent and presses buttons the way a user does.
Without a bus the notifications fall back to the tray's message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.gui.harness import GuiPhone, Peer, Watchdog, new_account
from tests.gui.notification_server import NotificationServer, SessionBus
from tests.kamailio_server import Kamailio


@pytest.fixture
def session_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[SessionBus]:
    bus = SessionBus()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
    try:
        yield bus
    finally:
        bus.stop()


@pytest.fixture
def phones() -> Iterator[list[object]]:
    made: list[object] = []
    yield made
    for phone in reversed(made):
        phone.close() if isinstance(phone, GuiPhone) else phone.stop()  # type: ignore[attr-defined]


def ring(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, phones: list[object]) -> tuple[GuiPhone, Peer]:
    gui = GuiPhone(qtbot, new_account(kamailio), tmp_path, desktop_notifications=True)
    phones.append(gui)
    bob = Peer(qtbot, new_account(kamailio, display_name="Bob Builder"))
    phones.append(bob)
    gui.wait_registered()
    bob.wait_registered()
    gui.wait(lambda: gui.window.notifications.state in ("desktop", "fallback"))
    return gui, bob


def test_an_incoming_call_is_answered_from_the_notification(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, session_bus: SessionBus, phones: list[object]
) -> None:
    server = NotificationServer(session_bus)
    phones.append(server)
    gui, bob = ring(qtbot, kamailio, tmp_path, phones)
    assert gui.window.notifications.state == "desktop" and gui.window.notifications.buttons
    watchdog = Watchdog()
    bob.run(lambda: bob.ua.call(gui.account.aor))
    gui.wait(lambda: len(server.notifications()) == 1 and len(gui.window.incoming) == 1)
    call_id = next(iter(gui.window.incoming))
    gui.wait(lambda: gui.window.notifications.showing(call_id))  # a user cannot click before it is shown
    (shown,) = server.notifications()
    assert shown.app_name == "Softphone"
    assert shown.summary == "Incoming call from Bob Builder"
    assert shown.body == gui.window.incoming[call_id].call_event.remote_uri
    assert shown.buttons == {"answer": "Answer", "decline": "Decline"}
    assert shown.hints.get("urgency") == 2  # critical: it stays until the call is decided
    server.press(shown.id, "answer")
    bob.wait_state("confirmed")
    gui.wait(lambda: not gui.window.incoming and len(gui.window.call_window.rows) == 1)
    assert watchdog.stop() < 1.0, "the GUI thread was blocked"


def test_decline_on_the_notification_declines_and_a_decided_call_takes_its_notification_away(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, session_bus: SessionBus, phones: list[object]
) -> None:
    server = NotificationServer(session_bus)
    phones.append(server)
    gui, bob = ring(qtbot, kamailio, tmp_path, phones)
    bob.run(lambda: bob.ua.call(gui.account.aor))
    gui.wait(lambda: len(server.notifications()) == 1 and len(gui.window.incoming) == 1)
    call_id = next(iter(gui.window.incoming))
    gui.wait(lambda: gui.window.notifications.showing(call_id))
    server.press(server.notifications()[0].id, "decline")
    ended = bob.wait_state("ended")
    assert ended.code == 603
    # A second call, answered in its window: the notification is withdrawn (CloseNotification).
    mark = bob.mark()
    bob.run(lambda: bob.ua.call(gui.account.aor))
    gui.wait(lambda: len(server.notifications()) == 2 and len(gui.window.incoming) == 1)
    next(iter(gui.window.incoming.values())).answer()
    bob.wait_state("confirmed", after=mark)
    gui.wait(lambda: server.notifications()[1].closed)


def test_a_server_without_buttons_gets_the_notification_without_them(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, session_bus: SessionBus, phones: list[object]
) -> None:
    server = NotificationServer(session_bus, capabilities=("body",))
    phones.append(server)
    gui, bob = ring(qtbot, kamailio, tmp_path, phones)
    assert gui.window.notifications.state == "desktop" and not gui.window.notifications.buttons
    bob.run(lambda: bob.ua.call(gui.account.aor))
    gui.wait(lambda: len(server.notifications()) == 1)
    assert server.notifications()[0].buttons == {}
    assert len(gui.window.incoming) == 1  # Answer and Decline are in the window


def test_without_a_notification_server_the_tray_message_is_used(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, session_bus: SessionBus, phones: list[object]
) -> None:
    # A session bus, but nobody owns org.freedesktop.Notifications on it (a bare window manager).
    gui, bob = ring(qtbot, kamailio, tmp_path, phones)
    notifications = gui.window.notifications
    assert notifications.state == "fallback" and notifications.problem
    shown: list[tuple[str, str, int]] = []
    notifications.fallback = lambda title, text, ms: shown.append((title, text, ms)) is None
    bob.run(lambda: bob.ua.call(gui.account.aor))
    gui.wait(lambda: len(shown) == 1)
    title, text, _ms = shown[0]
    assert title == "Incoming call from Bob Builder"
    assert text.endswith("Click to answer.")  # the tray's message answers when clicked


def test_without_a_session_bus_the_tray_message_is_used(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phones: list[object]
) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    gui, bob = ring(qtbot, kamailio, tmp_path, phones)
    assert gui.window.notifications.state == "fallback"
    shown: list[str] = []
    gui.window.notifications.fallback = lambda title, text, ms: shown.append(title) is None
    bob.run(lambda: bob.ua.call(gui.account.aor))
    gui.wait(lambda: shown == ["Incoming call from Bob Builder"])
    bob.run(lambda: bob.ua.hangup(None))
    gui.wait(lambda: shown == ["Incoming call from Bob Builder", "Missed call"])

"""gui.workers: what another thread hands over runs on the GUI thread, later, and never blocks it."""

from __future__ import annotations

import threading

import shiboken6
from PySide6.QtCore import QObject, QTimer
from pytestqt.qtbot import QtBot

from softphone.gui.workers import GuiRelay, run_in_thread
from tests.gui.harness import WAIT_MS

JOIN_S = 10.0


def on_gui_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def test_a_result_arrives_on_the_gui_thread_after_the_call_returned(qtbot: QtBot) -> None:
    relay = GuiRelay()
    ran_on: list[str] = []
    results: list[tuple[int, bool]] = []

    def work() -> int:
        ran_on.append(threading.current_thread().name)
        return 42

    thread = run_in_thread(
        relay, work, on_done=lambda value: results.append((value, on_gui_thread())), name="softphone-test-work"
    )
    thread.join(JOIN_S)
    assert not thread.is_alive()
    assert ran_on == ["softphone-test-work"]
    assert results == []  # finished, but delivered only by the GUI thread's event loop
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    assert results == [(42, True)]


def test_an_error_arrives_on_the_gui_thread_and_on_done_is_not_called(qtbot: QtBot) -> None:
    relay = GuiRelay()
    errors: list[tuple[BaseException, bool]] = []
    results: list[object] = []
    problem = ValueError("no such device")

    def work() -> object:
        raise problem

    run_in_thread(relay, work, on_done=results.append, on_error=lambda exc: errors.append((exc, on_gui_thread()))).join(
        JOIN_S
    )
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert errors == [(problem, True)] and results == []


def test_the_gui_thread_runs_on_while_the_work_is_blocked(qtbot: QtBot) -> None:
    relay = GuiRelay()
    started = threading.Event()
    release = threading.Event()
    results: list[str] = []
    ticks: list[int] = []

    def work() -> str:
        started.set()
        release.wait(JOIN_S)
        return "released" if release.is_set() else "timed out"

    # If run_in_thread waited for work(), it would wait for the release that only comes below.
    thread = run_in_thread(relay, work, on_done=results.append)
    assert thread.is_alive() and not release.is_set()
    QTimer.singleShot(0, lambda: ticks.append(1))
    qtbot.waitUntil(lambda: started.is_set() and bool(ticks), timeout=WAIT_MS)
    assert results == []
    release.set()
    qtbot.waitUntil(lambda: bool(results), timeout=WAIT_MS)
    assert results == ["released"]
    thread.join(JOIN_S)


def test_posts_from_another_thread_run_in_order_on_the_gui_thread(qtbot: QtBot) -> None:
    relay = GuiRelay()
    seen: list[tuple[int, bool]] = []

    def post_many() -> None:
        for i in range(100):
            relay.post(lambda i=i: seen.append((i, on_gui_thread())))

    poster = threading.Thread(target=post_many, name="softphone-test-poster")
    poster.start()
    poster.join(JOIN_S)
    qtbot.waitUntil(lambda: len(seen) == 100, timeout=WAIT_MS)
    assert seen == [(i, True) for i in range(100)]


def test_a_post_from_the_gui_thread_waits_for_the_event_loop(qtbot: QtBot) -> None:
    relay = GuiRelay()
    seen: list[str] = []
    assert relay.post(lambda: seen.append("later"))
    seen.append("now")
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=WAIT_MS)
    assert seen == ["now", "later"]


def test_nothing_is_delivered_once_the_owner_is_gone(qtbot: QtBot) -> None:
    owner = QObject()
    relay = GuiRelay(owner)
    started = threading.Event()
    release = threading.Event()
    results: list[str] = []
    errors: list[BaseException] = []

    def work() -> str:
        started.set()
        release.wait(JOIN_S)
        return "too late"

    thread = run_in_thread(relay, work, on_done=results.append, on_error=errors.append)
    qtbot.waitUntil(started.is_set, timeout=WAIT_MS)
    shiboken6.delete(owner)  # as when a window closes: the relay goes with its parent
    assert not shiboken6.isValid(relay)
    release.set()
    thread.join(JOIN_S)
    assert not thread.is_alive()
    assert not relay.post(lambda: results.append("posted after"))
    marker: list[int] = []
    QTimer.singleShot(0, lambda: marker.append(1))
    qtbot.waitUntil(lambda: bool(marker), timeout=WAIT_MS)  # anything queued before the marker has run
    assert results == [] and errors == []

"""Fixtures for tests against real servers on loopback.

``kamailio``: one started Kamailio per test module (stopped at module teardown).
``fresh_kamailio``: a server of its own for one test (about 0.4 s to start),
for tests that restart it or must not see other tests' registrations.
``pulse``: one private PulseAudio server for the session, with virtual sound
devices (see ``tests/pulse_server.py``), started before PortAudio enumerates
devices (or PortAudio is re-initialised); fails, not skips, if PulseAudio is
not installed.

A test that fails gets the tail of the server's log in its report.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

from tests.kamailio_server import Kamailio
from tests.pulse_server import PulseAudio


@pytest.fixture(scope="module")
def kamailio() -> Iterator[Kamailio]:
    server = Kamailio()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_kamailio() -> Iterator[Kamailio]:
    server = Kamailio()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    for name, value in funcargs.items():
        if isinstance(value, Kamailio) and value.running:
            report.sections.append((f"{name} log (last lines)", value.log_tail(80)))


PULSE_SETTLE = 2.0


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseAudio]:
    server = PulseAudio(settle=0.0)
    try:
        server.start()
        # The server keeps speaker, micfeed and micfeed2 awake; speaker2 needs it too, or each
        # new stream on it stalls by about a second. stop() ends this player with the others.
        keeper = server._keep_awake("speaker2")
        server._helpers.append(keeper)
        time.sleep(PULSE_SETTLE)
        if keeper.poll() is not None or not server.running:
            raise RuntimeError(f"pacat keeping speaker2 awake exited:\n{server.log_tail()}")
    except RuntimeError as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    if "sounddevice" in sys.modules:
        from softphone.media.audio import refresh_devices

        refresh_devices()
    try:
        yield server
    finally:
        server.stop()

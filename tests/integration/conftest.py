"""Fixtures for tests against real servers on loopback.

``kamailio``: one started Kamailio per test module (stopped at module teardown).
``fresh_kamailio``: a server of its own for one test (about 0.4 s to start),
for tests that restart it or must not see other tests' registrations.

A test that fails gets the tail of the server's log in its report.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kamailio_server import Kamailio


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

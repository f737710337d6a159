"""Fixtures for media tests that need sound devices.

``pulse``: one private PulseAudio server for the whole session, with virtual
devices (see ``tests/pulse_server.py``): what the test plays into sink
``micfeed`` is what the default input hears, and what the default output plays
can be recorded from ``speaker.monitor``. It is started on first use, before
PortAudio enumerates devices (``softphone.media.audio`` imports sounddevice
lazily; if something imported it earlier, PortAudio is re-initialised).
If PulseAudio is not installed the tests using it fail with the apt-get line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.pulse_server import PulseAudio


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseAudio]:
    server = PulseAudio()
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    if "sounddevice" in sys.modules:
        from softphone.media.audio import refresh_devices

        refresh_devices()
    try:
        yield server
    finally:
        # PortAudio is not re-initialised afterwards: with the server gone, an
        # ALSA/PulseAudio client could try to autospawn a daemon of its own.
        server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    value = getattr(item, "funcargs", {}).get("pulse")
    if isinstance(value, PulseAudio) and value.running:
        report.sections.append(("pulseaudio log (last lines)", value.log_tail(60)))

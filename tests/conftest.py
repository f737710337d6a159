"""Shared test set-up."""

from __future__ import annotations

import atexit
import faulthandler
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kamailio_server import Kamailio
from tests.keyring_memory import FailingKeyring, MemoryKeyring, failing_keyring_installed, memory_keyring_installed
from tests.pulse_server import PulseAudio

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Settings and databases of every process a test starts land in a throw-away place, never in the user's.
_HOME = Path(tempfile.mkdtemp(prefix="softphone-tests-"))
for _name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
    os.environ[_name] = str(_HOME / _name.lower())
atexit.register(shutil.rmtree, _HOME, True)

ROOT = Path(__file__).resolve().parent.parent

# A run that outlives this (the whole suite takes under 20 min on two cores) is stuck in a way a per-test
# timeout cannot end, e.g. a worker thread that never returns keeps asyncio.run() waiting for its executor.
# It then stops with every thread's stack rather than running into the CI's limit with nothing said.
SUITE_BUDGET = float(os.environ.get("SOFTPHONE_TEST_BUDGET", "3000"))
_suite_done = threading.Event()


def pytest_configure(config: pytest.Config) -> None:
    def watch() -> None:
        if _suite_done.wait(SUITE_BUDGET):
            return
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.suspend_global_capture(in_=True)
        sys.stderr.write(f"\n\nThe test run is still going after {SUITE_BUDGET:.0f} s; stacks of every thread:\n")
        sys.stderr.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        atexit._run_exitfuncs()  # Kamailio, PulseAudio and temporary folders, as at a normal exit
        os._exit(3)

    threading.Thread(target=watch, name="suite-watchdog", daemon=True).start()


def pytest_unconfigure(config: pytest.Config) -> None:
    _suite_done.set()


def torture_dir() -> Path:
    """The RFC 4475/5118 message set (the RFCs' published test vectors), kept in tests/data."""
    path = Path(os.environ.get("SIP_TORTURE_DIR", ROOT / "tests" / "data" / "sip-torture"))
    if not (path / "manifest.tsv").is_file():
        pytest.fail(f"SIP torture messages not found at {path} (set SIP_TORTURE_DIR)", pytrace=False)
    return path


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The keyring is a fresh in-memory one for the test."""
    with memory_keyring_installed() as backend:
        yield backend


@pytest.fixture
def failing_keyring() -> Iterator[FailingKeyring]:
    """No keyring works for the test: a desktop without a Secret Service."""
    with failing_keyring_installed() as backend:
        yield backend


# --- real servers on loopback, for every test folder ------------------------------------------
# ``kamailio``: one started Kamailio per test module (stopped at module teardown).
# ``fresh_kamailio``: a server of its own for one test (about 0.4 s to start), for tests that
# restart it or must not see other tests' registrations.
# ``pulse``: one private PulseAudio server for the session, with virtual sound devices (see
# ``tests/pulse_server.py``), started before PortAudio enumerates devices (or PortAudio is
# re-initialised); fails, not skips, if PulseAudio is not installed.
# A test that fails gets the tail of the server's log in its report.
@pytest.fixture(scope="module")
def kamailio() -> Iterator[Kamailio]:
    server = Kamailio()
    server.start()
    try:
        yield server
    finally:
        # PortAudio is not re-initialised afterwards: with the server gone, an ALSA/PulseAudio
        # client could try to autospawn a daemon of its own.
        server.stop()


@pytest.fixture
def fresh_kamailio() -> Iterator[Kamailio]:
    server = Kamailio()
    server.start()
    try:
        yield server
    finally:
        # PortAudio is not re-initialised afterwards: with the server gone, an ALSA/PulseAudio
        # client could try to autospawn a daemon of its own.
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
        elif isinstance(value, PulseAudio) and value.running:
            report.sections.append(("pulseaudio log (last lines)", value.log_tail(60)))


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
        # PortAudio is not re-initialised afterwards: with the server gone, an ALSA/PulseAudio
        # client could try to autospawn a daemon of its own.
        server.stop()

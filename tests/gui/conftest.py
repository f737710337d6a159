"""GUI tests: the real widgets offscreen, against real user agents on the Kamailio fixture.

The real servers' fixtures (``kamailio``, ``pulse``) come from tests/conftest.py.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Desktop notifications go to a private bus only where a test starts one, never to the desktop's.
os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)

THREAD_PREFIXES = ("softphone-core", "softphone-ringer")


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Every core thread a test starts is gone when it ends."""
    yield
    leftovers = [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIXES) and t.is_alive()]
    for thread in threading.enumerate():
        if thread.name.startswith("softphone-ringer"):
            thread.join(5.0)
    leftovers = [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIXES) and t.is_alive()]
    assert not leftovers, f"threads left running: {leftovers}"

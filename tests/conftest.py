"""Shared test set-up."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.keyring_memory import MemoryKeyring, memory_keyring_installed

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Settings and databases of every process a test starts land in a throw-away place, never in the user's.
_HOME = Path(tempfile.mkdtemp(prefix="softphone-tests-"))
for _name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
    os.environ[_name] = str(_HOME / _name.lower())
atexit.register(shutil.rmtree, _HOME, True)

ROOT = Path(__file__).resolve().parent.parent


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

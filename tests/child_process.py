"""Children of the test process that end with it, started without any Python between fork and exec.

``preexec_fn`` runs Python in the child of a process that has other threads (the event loop's, media
threads, executors); whatever it touches there can wait forever on a lock another thread held at the
fork, and a test that restarted Kamailio from a worker thread hung a whole run that way. So the parent-
death signal is set by util-linux's ``setpriv`` (present on every Debian and Ubuntu), which then execs the
real program: the fork itself runs no Python.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence

__all__ = ["dies_with_parent", "with_descriptor_limit"]


def dies_with_parent(command: Sequence[str]) -> list[str]:
    """``command`` run so that it gets SIGTERM if the thread that started it dies without stopping it."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RuntimeError("setpriv is missing: apt-get install util-linux")
    return [setpriv, "--pdeathsig", "TERM", "--", *command]


def with_descriptor_limit(command: Sequence[str], limit: int) -> list[str]:
    """``command`` run with at most ``limit`` open descriptors (soft and hard)."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        raise RuntimeError("prlimit is missing: apt-get install util-linux")
    return [prlimit, f"--nofile={limit}:{limit}", "--", *command]

"""What a test's child process runs between fork and exec: nothing that may take a lock.

``preexec_fn`` runs in the child of a process that has other threads (the event loop's, media threads,
executors). Anything that imports or loads a library there can wait forever on a lock another thread held
at the fork. So ``prctl`` is looked up here, at import, and the child only calls it.
"""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return function


_PRCTL = _prctl()


def die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the test process dies without stopping it."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)

"""The machine line every benchmark prints above its table."""

from __future__ import annotations

import os
import platform


def machine_line() -> str:
    """Python version, CPU model and core count, e.g. ``Python 3.11.7 (CPython), AMD EPYC 7B13, 2 cores``."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"Python {platform.python_version()} ({platform.python_implementation()}), {model}, {os.cpu_count()} cores"

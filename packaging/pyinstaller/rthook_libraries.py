"""Runtime hook of the bundle: the C libraries Python packages load by name through
``ctypes.util.find_library`` (opuslib asks for "opus", sounddevice for "portaudio") are taken from the
bundle when it has them, and from the system otherwise (the .deb leaves them out and depends on
Debian's). Without this, a bundled library would be used only when the system has a copy too."""

import ctypes.util
import glob
import os
import sys

_find_elsewhere = ctypes.util.find_library


def _patterns(name: str) -> list[str]:
    if sys.platform == "win32":
        return [f"{name}.dll", f"lib{name}.dll", f"lib{name}-*.dll"]
    if sys.platform == "darwin":
        return [f"lib{name}.dylib", f"lib{name}.*.dylib"]
    return [f"lib{name}.so", f"lib{name}.so.*"]


def _find_library(name: str) -> str | None:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        for pattern in _patterns(name):
            found = sorted(glob.glob(os.path.join(glob.escape(bundle), pattern)))
            if found:
                return found[0]
    return _find_elsewhere(name)


ctypes.util.find_library = _find_library

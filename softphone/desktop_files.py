"""The files that put the softphone on a freedesktop desktop, and where an installed copy finds them.

An installed softphone carries its icons and desktop files as package data, in ``softphone/resources/``
(a wheel, pipx, the PyInstaller bundle); a source checkout has them in ``resources/icons/`` and
``packaging/desktop/``. The .deb puts them under ``/usr/share`` itself. A per-user install (pipx) has no
installer that could do that, so ``softphone --install-desktop-files`` writes them under
``$XDG_DATA_HOME`` (``~/.local/share``): the menu entry, which also makes the softphone a handler of
``sip:``, ``sips:``, ``tel:`` and ``callto:`` links, its icon and its AppStream file.
``--uninstall-desktop-files`` removes them again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

DESKTOP_FILE = "softphone.desktop"
METAINFO_FILE = "io.github.softphone.metainfo.xml"
ICON_FILE = "softphone.svg"
URL_SCHEMES = ("sip", "sips", "tel", "callto")

_PACKAGE = Path(__file__).resolve().parent


def icons_dir() -> Path:
    """The SVG icons: ``$SOFTPHONE_RESOURCES/icons``, else the installed package data, else the source tree's."""
    override = os.environ.get("SOFTPHONE_RESOURCES")
    if override:
        return Path(override) / "icons"
    installed = _PACKAGE / "resources" / "icons"
    return installed if installed.is_dir() else _PACKAGE.parent / "resources" / "icons"


def desktop_dir() -> Path:
    """The .desktop and AppStream files: the installed package data, else ``packaging/desktop`` of the source tree."""
    installed = _PACKAGE / "resources" / "desktop"
    return installed if installed.is_dir() else _PACKAGE.parent / "packaging" / "desktop"


def data_home() -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share`` when it is unset or not absolute (XDG Base Directory spec)."""
    base = os.environ.get("XDG_DATA_HOME") or ""
    return Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"


def launcher() -> list[str]:
    """The command that starts this softphone: the bundle's executable, the ``softphone`` script that is
    running (as invoked, so that pipx's link in ``~/.local/bin`` stays valid across upgrades), or this
    Python with ``-m softphone.gui.app``."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).stem == "softphone":
        found = argv0 if os.sep in argv0 else shutil.which(argv0)
        if found:
            return [os.path.abspath(found)]
    return [sys.executable, "-m", "softphone.gui.app"]


def _exec_quote(arg: str) -> str:
    """One argument of an ``Exec`` key (Desktop Entry spec, "The Exec key"), already escaped as a string value."""
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        quoted = arg
    else:
        quoted = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return quoted.replace("%", "%%").replace("\\", "\\\\")


def user_desktop_entry(command: list[str]) -> str:
    """The packaged .desktop file with ``Exec`` and ``TryExec`` pointing at ``command``."""
    exec_line = " ".join(_exec_quote(arg) for arg in command)
    lines: list[str] = []
    for line in (desktop_dir() / DESKTOP_FILE).read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = f"Exec={exec_line} %u"
        elif line.startswith("TryExec="):
            line = f"TryExec={_exec_quote(command[0])}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def targets(base: Path | None = None) -> dict[str, Path]:
    """Where each file goes under ``base`` (default ``$XDG_DATA_HOME``)."""
    base = data_home() if base is None else base
    return {
        DESKTOP_FILE: base / "applications" / DESKTOP_FILE,
        ICON_FILE: base / "icons" / "hicolor" / "scalable" / "apps" / ICON_FILE,
        METAINFO_FILE: base / "metainfo" / METAINFO_FILE,
    }


def _refresh(base: Path) -> None:
    """Update the desktop database (the link handlers) and touch the icon theme, where those tools exist."""
    tool = shutil.which("update-desktop-database")
    if tool:
        subprocess.run([tool, "-q", str(base / "applications")], check=False, timeout=60)
    icons = base / "icons" / "hicolor"
    if icons.is_dir():
        os.utime(icons)  # icon caches compare the theme directory's time


def install(base: Path | None = None, command: list[str] | None = None) -> list[Path]:
    """Write the desktop entry, icon and AppStream file; returns the files written."""
    where = targets(base)
    contents: dict[str, bytes] = {
        DESKTOP_FILE: user_desktop_entry(command or launcher()).encode(),
        ICON_FILE: (icons_dir() / ICON_FILE).read_bytes(),
        METAINFO_FILE: (desktop_dir() / METAINFO_FILE).read_bytes(),
    }
    for name, path in where.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(contents[name])
    _refresh(where[DESKTOP_FILE].parent.parent)
    return list(where.values())


def uninstall(base: Path | None = None) -> list[Path]:
    """Remove what :func:`install` wrote; returns the files removed."""
    removed: list[Path] = []
    where = targets(base)
    for path in where.values():
        if path.is_file():
            path.unlink()
            removed.append(path)
    _refresh(where[DESKTOP_FILE].parent.parent)
    return removed


def main(*, remove: bool) -> int:
    """``softphone --install-desktop-files`` / ``--uninstall-desktop-files``."""
    if sys.platform in ("win32", "darwin"):
        print("softphone: desktop files are for Linux and BSD desktops (freedesktop.org)", file=sys.stderr)
        return 1
    try:
        done = uninstall() if remove else install()
    except OSError as exc:
        print(f"softphone: {exc}", file=sys.stderr)
        return 1
    for path in done:
        print(f"{'removed' if remove else 'wrote'} {path}")
    if not remove:
        schemes = " ".join(f"x-scheme-handler/{scheme}" for scheme in URL_SCHEMES)
        print(
            "The softphone is in the applications menu and opens sip:, sips:, tel: and callto: links "
            "that no other application has claimed. To make it the default for them:\n"
            f"  for type in {schemes}; do xdg-mime default {DESKTOP_FILE} $type; done"
        )
    return 0

"""The settings dialog's General page: start at login (an XDG autostart entry) and where the settings live."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

AUTOSTART_NAME = "softphone.desktop"


def autostart_path() -> Path:
    """``$XDG_CONFIG_HOME/autostart/softphone.desktop`` (``~/.config`` when the variable is unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    config = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return config / "autostart" / AUTOSTART_NAME


def _exec_line() -> str:
    installed = shutil.which("softphone")
    if installed:
        return f"{installed}"
    return f"{sys.executable} -m softphone.gui.app"


def desktop_entry() -> str:
    """The autostart entry (XDG Desktop Application Autostart Specification)."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Softphone\n"
        "Comment=SIP softphone, started at login\n"
        f"Exec={_exec_line()}\n"
        "Icon=softphone\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def autostart_enabled() -> bool:
    return autostart_path().is_file()


def set_autostart(enabled: bool) -> Path:
    """Write or remove the autostart entry; returns its path. Raises OSError when that is impossible."""
    path = autostart_path()
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(desktop_entry(), encoding="utf-8")
    else:
        path.unlink(missing_ok=True)
    return path


class GeneralPage(QWidget):
    """Start at login, and the settings file's path when there is one."""

    def __init__(self, settings_path: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.autostart = QCheckBox(self.tr("&Start the softphone when I log in"))
        self.autostart.setAccessibleName(self.tr("Start at login"))
        self.autostart.setChecked(autostart_enabled())
        layout.addWidget(self.autostart)
        path = autostart_path()
        shown = f"~/{path.relative_to(Path.home())}" if path.is_relative_to(Path.home()) else str(path)
        where = QLabel(self.tr("Adds {shown} (the desktop's autostart folder).").format(shown=shown))
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(where)
        if settings_path is not None:
            saved = QLabel(self.tr("Settings file: {settings_path}").format(settings_path=settings_path))
            saved.setWordWrap(True)
            saved.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(saved)
        layout.addStretch(1)

    def apply(self) -> list[str]:
        """Write or remove the autostart entry as the box says; the problems, in words."""
        try:
            set_autostart(self.autostart.isChecked())
        except OSError as exc:
            return [self.tr("Start at login could not be changed: {error}").format(error=exc)]
        return []

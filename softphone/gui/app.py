"""The desktop application's entry point."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from softphone import __version__


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Softphone")
        label = QLabel(f"Softphone {__version__}\nNo account configured yet.")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(label)
        self.resize(360, 560)


def _no_display() -> bool:
    """True on a Linux machine with no X11/Wayland display and no Qt platform chosen."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    if _no_display():
        print(
            "softphone: no display found (DISPLAY and WAYLAND_DISPLAY are unset). "
            "Start it from a desktop session, or use softphone-cli for headless use.",
            file=sys.stderr,
        )
        return 1
    app = QApplication(list(argv) if argv is not None else sys.argv)
    app.setApplicationName("softphone")
    app.setApplicationVersion(__version__)
    window = MainWindow()
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())

"""The desktop window, driven as real Qt widgets offscreen."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QLabel

from softphone import __version__
from softphone.gui.app import MainWindow


def test_main_window_shows_its_title_and_version() -> None:
    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.show()
    app.processEvents()
    assert window.windowTitle() == "Softphone"
    label = window.centralWidget()
    assert isinstance(label, QLabel) and __version__ in label.text()
    assert not window.grab().isNull()
    window.close()


def test_without_a_display_the_app_says_so_instead_of_crashing() -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run(
        [sys.executable, "-m", "softphone.gui.app"], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 1
    assert "no display found" in out.stderr and "softphone-cli" in out.stderr

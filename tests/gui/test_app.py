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

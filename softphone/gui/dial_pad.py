"""The twelve-key pad: dialling digits in the main window, DTMF in a call."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QGridLayout, QPushButton, QWidget

DTMF_KEYS = "123456789*0#"


class DialPad(QWidget):
    """Twelve DTMF keys; ``pressed(digit)`` for each (clicked or typed while it has focus)."""

    def __init__(self, on_digit: Callable[[str], None], name: str = "Dial pad", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._on_digit = on_digit
        self.setAccessibleName(name)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        grid = QGridLayout(self)
        grid.setSpacing(4)
        self.buttons: dict[str, QPushButton] = {}
        for i, key in enumerate(DTMF_KEYS):
            button = QPushButton(key)
            button.setAccessibleName(self.tr("Key {key}").format(key=key))
            button.setMinimumWidth(36)
            button.clicked.connect(lambda _=False, k=key: self._on_digit(k))
            grid.addWidget(button, i // 3, i % 3)
            self.buttons[key] = button

    def keyPressEvent(self, event: QKeyEvent) -> None:
        text = event.text()
        if text and text in DTMF_KEYS:
            self._on_digit(text)
            return
        super().keyPressEvent(event)

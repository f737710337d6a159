"""The few touches of colour and shape the phone adds to the desktop's style, and empty-state lists.

Everything else comes from the desktop: the style, the font, and the palette (so a dark desktop theme
gives a dark phone). What is added here is the convention every phone has: the buttons that start a
call are green and the ones that end or refuse one red, with white text that reads on both in light
and dark themes; and lists that say what goes in them while they are empty.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QAbstractButton, QListWidget, QWidget

__all__ = ["ACCEPT", "REFUSE", "PlaceholderList", "accent", "paint_placeholder"]

ACCEPT = "#1f8a4c"  # green: call, answer
REFUSE = "#d03b3b"  # red: hang up, decline

_ACCENT = """
*[accent="{name}"] {{
    background-color: {colour};
    color: white;
    border: none;
    border-radius: {radius}px;
    padding: {padding};
    font-weight: bold;
}}
*[accent="{name}"]:hover {{ background-color: {hover}; }}
*[accent="{name}"]:pressed {{ background-color: {pressed}; }}
*[accent="{name}"]:disabled {{ background-color: palette(mid); color: palette(window); }}
"""


def accent(button: QAbstractButton, colour: str, *, radius: int = 6, padding: str = "6px 14px") -> None:
    """Give ``button`` a solid ``colour`` (:data:`ACCEPT` or :data:`REFUSE`) with white text."""
    name = "accept" if colour == ACCEPT else "refuse" if colour == REFUSE else "other"
    button.setProperty("accent", name)
    base = QColor(colour)
    button.setStyleSheet(
        _ACCENT.format(
            name=name,
            colour=base.name(),
            hover=base.lighter(112).name(),
            pressed=base.darker(115).name(),
            radius=radius,
            padding=padding,
        )
    )


def paint_placeholder(view: QWidget, text: str) -> None:
    """Draw ``text`` centred and wrapped in the placeholder colour on ``view`` (a viewport)."""
    painter = QPainter(view)
    painter.setPen(view.palette().color(QPalette.ColorRole.PlaceholderText))
    margin = 24
    painter.drawText(
        QRectF(view.rect()).adjusted(margin, margin, -margin, -margin),
        Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
        text,
    )
    painter.end()


class PlaceholderList(QListWidget):
    """A list that says what goes in it while it is empty (``placeholder``)."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.placeholder = placeholder

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.count() == 0 and self.placeholder:
            paint_placeholder(self.viewport(), self.placeholder)

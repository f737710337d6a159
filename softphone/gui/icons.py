"""The application's SVG icons (``resources/icons``; installed: ``softphone/resources/icons``), loaded once as
``QIcon``.

SVG scales to any device-pixel ratio, so the icons are sharp on high-DPI
screens. An icon file that is missing gives an empty icon, never an error.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from softphone.desktop_files import icons_dir

PRESENCE_STATES = ("available", "away", "busy", "offline")


@cache
def icon(name: str) -> QIcon:
    """The icon ``resources/icons/<name>.svg``; an empty icon when the file is missing."""
    path = icons_dir() / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


def app_icon() -> QIcon:
    return icon("softphone")


def presence_icon(state: str) -> QIcon:
    """The dot for a presence state; each has its own shape (check, clock, bar, cross), not only a colour."""
    return icon(f"presence-{state if state in PRESENCE_STATES else 'offline'}")


def badge_icon(base: QIcon, count: int, size: int = 64, state: str | None = None) -> QIcon:
    """``base`` with a round count badge in its top corner (the missed-call badge) and, with ``state``,
    that presence dot in its bottom corner (the tray shows the phone's state that way)."""
    if count <= 0 and state is None:
        return base
    pixmap = base.pixmap(size, size)
    if pixmap.isNull():
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if state is not None:
        dot = int(size * 0.45)
        painter.drawPixmap(size - dot, size - dot, presence_icon(state).pixmap(dot, dot))
    if count <= 0:
        painter.end()
        return QIcon(pixmap)
    radius = size * 0.24
    rect = QRectF(size - 2 * radius, 0, 2 * radius, 2 * radius)
    painter.setBrush(QColor("#d93a3a"))
    painter.setPen(QColor("#ffffff"))
    painter.drawEllipse(rect)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(radius * 1.2))
    painter.setFont(font)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(count) if count < 100 else "99+")
    painter.end()
    return QIcon(pixmap)

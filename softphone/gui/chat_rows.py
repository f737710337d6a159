"""Rows of the chat window: :class:`ShownMessage` and :class:`MessageDelegate`, which draws a message
as a bubble of wrapped plain text (never rich text) — ours on the right in the accent colour, theirs on
the left — and shows its tooltip as text."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRectF, QSize, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QBrush,
    QColor,
    QFont,
    QPainter,
    QPalette,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import QListWidget, QStyle, QStyleOptionViewItem

from softphone.gui.text import PlainToolTips

__all__ = ["PADDING", "MessageDelegate", "ShownMessage"]


@dataclass(slots=True)
class ShownMessage:
    """What one row of a conversation shows."""

    id: int | None
    outgoing: bool
    text: str
    time: float
    state: str
    reason: str | None = None


PADDING = 6  # inside a bubble
MARGIN = 4  # around it
BUBBLE_SHARE = 0.78  # of the row's width at most
RADIUS = 10
_HEIGHTS_KEPT = 4096


def _document(text: str, font: QFont, width: int) -> QTextDocument:
    document = QTextDocument()
    document.setDefaultFont(font)
    option = QTextOption()
    # Long words and URLs break anywhere rather than widening the row past the window.
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    document.setDefaultTextOption(option)
    document.setDocumentMargin(0)
    document.setPlainText(text)
    document.setTextWidth(max(40, width))
    return document


class MessageDelegate(PlainToolTips):
    """Draws a message row as a bubble in the palette's colours; heights are cached per width."""

    def __init__(self, view: QListWidget) -> None:
        super().__init__(view)
        self.view = view
        self._heights: dict[tuple[str, int, str], int] = {}

    def _width(self) -> int:
        """The widest a bubble's text may be."""
        row = max(80, self.view.viewport().width() - 2 * self.view.spacing())
        return max(60, int(row * BUBBLE_SHARE) - 2 * PADDING - 2 * MARGIN)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        width = self._width()
        key = (text, width, option.font.key())
        height = self._heights.get(key)
        if height is None:
            height = int(_document(text, option.font, width).size().height() + 0.999)
            if len(self._heights) >= _HEIGHTS_KEPT:
                self._heights.clear()
            self._heights[key] = height
        return QSize(width + 2 * PADDING + 2 * MARGIN, height + 2 * PADDING + 2 * MARGIN)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        shown = index.data(Qt.ItemDataRole.UserRole)
        outgoing = bool(getattr(shown, "outgoing", False))
        palette = option.palette
        document = _document(text, option.font, self._width())
        document.setTextWidth(min(float(self._width()), document.idealWidth() + 1))
        width = int(document.size().width() + 0.999) + 2 * PADDING
        height = int(document.size().height() + 0.999) + 2 * PADDING
        row = option.rect.adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        left = row.right() - width if outgoing else row.left()
        bubble = QRectF(left, row.top(), width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if option.state & QStyle.StateFlag.State_Selected:
            fill = palette.highlight().color()
            colour = palette.highlightedText().color()
        else:
            # Ours: the accent colour, mixed into the background (readable in light and dark themes).
            base = palette.base().color()
            accent = palette.highlight().color() if outgoing else palette.alternateBase().color()
            share = 0.22 if outgoing else 1.0
            fill = QColor(
                round(base.red() + (accent.red() - base.red()) * share),
                round(base.green() + (accent.green() - base.green()) * share),
                round(base.blue() + (accent.blue() - base.blue()) * share),
            )
            if not outgoing and abs(fill.lightness() - base.lightness()) < 8:
                fill = palette.window().color()  # an alternate base that equals the base: the window colour
            foreground = index.data(Qt.ItemDataRole.ForegroundRole)
            colour = foreground.color() if isinstance(foreground, QBrush) else palette.text().color()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(bubble, RADIUS, RADIUS)
        painter.translate(bubble.topLeft().toPoint() + QPoint(PADDING, PADDING))
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette.setColor(QPalette.ColorRole.Text, colour)
        document.documentLayout().draw(painter, context)
        painter.restore()

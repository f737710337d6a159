"""Rows of the chat window: :class:`ShownMessage` and :class:`MessageDelegate`, which draws a message
as wrapped plain text (never rich text) and shows its tooltip as text."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QSize, Qt
from PySide6.QtGui import QAbstractTextDocumentLayout, QBrush, QFont, QPainter, QPalette, QTextDocument, QTextOption
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


PADDING = 6
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
    """Draws a message row as wrapped plain text in the palette's colours; heights are cached per width."""

    def __init__(self, view: QListWidget) -> None:
        super().__init__(view)
        self.view = view
        self._heights: dict[tuple[str, int, str], int] = {}

    def _width(self) -> int:
        return max(80, self.view.viewport().width() - 2 * PADDING - 2 * self.view.spacing())

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
        return QSize(width + 2 * PADDING, height + 2 * PADDING)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        palette = option.palette
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, palette.highlight())
            colour = palette.highlightedText().color()
        else:
            background = index.data(Qt.ItemDataRole.BackgroundRole)
            if isinstance(background, QBrush):
                painter.fillRect(option.rect, background)
            foreground = index.data(Qt.ItemDataRole.ForegroundRole)
            colour = foreground.color() if isinstance(foreground, QBrush) else palette.text().color()
        document = _document(text, option.font, option.rect.width() - 2 * PADDING)
        painter.translate(option.rect.topLeft() + QPoint(PADDING, PADDING))
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette.setColor(QPalette.ColorRole.Text, colour)
        document.documentLayout().draw(painter, context)
        painter.restore()

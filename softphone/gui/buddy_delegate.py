"""How a buddy-list row is drawn: :class:`BuddyDelegate`."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionViewItem

from softphone.gui.buddy_model import AVATAR_SIZE, CONTACT_ID_ROLE, LINE_COLUMN, PRESENCE_COLUMN
from softphone.gui.text import PlainToolTips


class BuddyDelegate(PlainToolTips):
    """Draws a contact row: photo or initials, the name with the busy lamp at the right, and under the
    name the presence icon (its shape tells the state) with the presence words. Group rows are drawn
    as usual. Every row has the same height, so the view can keep uniform row heights (fast with a
    thousand contacts). Tooltips (the contact's details, a buddy's presence note) show as text."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        lines = option.fontMetrics.lineSpacing() * 2 + 6
        return QSize(200, max(AVATAR_SIZE + 6, lines))

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        if index.data(CONTACT_ID_ROLE) is None:
            super().paint(painter, option, index)  # a group
            return
        style_option = QStyleOptionViewItem(option)
        self.initStyleOption(style_option, index)
        widget = style_option.widget
        style = widget.style() if widget is not None else QApplication.style()
        # The background (selection, hover, alternate rows) the style's way, then our content on top.
        style_option.text = ""
        style_option.icon = QIcon()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, style_option, painter, widget)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_colour = palette.highlightedText().color() if selected else palette.text().color()
        dim = QColor(text_colour)
        dim.setAlphaF(0.75)
        rect = option.rect.adjusted(3, 3, -4, -3)
        painter.save()
        picture = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(picture, QIcon):
            top = rect.top() + (rect.height() - AVATAR_SIZE) // 2
            picture.paint(painter, QRect(rect.left(), top, AVATAR_SIZE, AVATAR_SIZE))
        left = rect.left() + AVATAR_SIZE + 8
        line_height = option.fontMetrics.lineSpacing()
        first = QRect(left, rect.top(), rect.right() - left, line_height)
        second = QRect(left, rect.top() + line_height + 2, rect.right() - left, line_height)
        lamp_index = index.sibling(index.row(), LINE_COLUMN)
        lamp_text = str(lamp_index.data(Qt.ItemDataRole.DisplayRole) or "")
        lamp_icon = lamp_index.data(Qt.ItemDataRole.DecorationRole)
        small = QFont(option.font)
        if small.pointSizeF() > 0:
            small.setPointSizeF(small.pointSizeF() * 0.9)
        if lamp_text:
            metrics = QFontMetrics(small)
            width = metrics.horizontalAdvance(lamp_text) + 20
            lamp_rect = QRect(first.right() - width, first.top(), width, line_height)
            if isinstance(lamp_icon, QIcon):
                lamp_icon.paint(painter, QRect(lamp_rect.left(), lamp_rect.top() + (line_height - 14) // 2, 14, 14))
            painter.setFont(small)
            painter.setPen(dim)
            painter.drawText(lamp_rect.adjusted(18, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, lamp_text)
            first.setRight(lamp_rect.left() - 6)
        name_font = QFont(option.font)
        name_font.setBold(True)
        painter.setFont(name_font)
        painter.setPen(text_colour)
        name = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        painter.drawText(
            first,
            Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(name_font).elidedText(name, Qt.TextElideMode.ElideRight, first.width()),
        )
        presence_index = index.sibling(index.row(), PRESENCE_COLUMN)
        presence_text = str(presence_index.data(Qt.ItemDataRole.DisplayRole) or "")
        presence_icon_ = presence_index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(presence_icon_, QIcon) and not presence_icon_.isNull():
            presence_icon_.paint(painter, QRect(second.left(), second.top() + (line_height - 14) // 2, 14, 14))
            second.setLeft(second.left() + 18)
        painter.setFont(small)
        painter.setPen(dim)
        painter.drawText(
            second,
            Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(small).elidedText(presence_text, Qt.TextElideMode.ElideRight, second.width()),
        )
        painter.restore()

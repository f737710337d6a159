"""Text from the network shown as text: never as HTML, whatever it looks like.

Qt guesses: a ``QLabel`` (``Qt.TextFormat.AutoText``) and every tooltip render
anything that looks like markup as rich text, so a display name such as
``<img src=…>`` or a message with ``<a href=…>`` would be drawn (and links
followed). Every label that can show a display name, URI, reason phrase,
message or note is made with :func:`plain_label`; tooltips go through
:func:`plain_tooltip`; desktop notifications and the tray's tooltip through
:func:`notification_text` (freedesktop notification servers take markup in the
body). Item views draw their text themselves (plain), except their tooltips:
:class:`PlainToolTips` shows those as text.
"""

from __future__ import annotations

import html
import sys

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtGui import Qt as QtGui
from PySide6.QtWidgets import QAbstractItemView, QLabel, QStyledItemDelegate, QStyleOptionViewItem, QToolTip, QWidget

__all__ = ["PlainToolTips", "notification_text", "plain_label", "plain_tooltip"]


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that shows ``text`` (and whatever is set later) as plain text."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def plain_tooltip(text: str) -> str:
    """A tooltip that shows ``text`` literally (escaped rich text, so Qt's guess cannot go wrong)."""
    return QtGui.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpacePre) if text else ""


def notification_text(text: str) -> str:
    """``text`` for a desktop notification or the tray's tooltip: escaped where the desktop takes markup."""
    if sys.platform.startswith(("win", "darwin")):
        return text  # shown as given there
    return html.escape(text, quote=False)


class PlainToolTips(QStyledItemDelegate):
    """A delegate whose items' tooltips (``Qt.ItemDataRole.ToolTipRole``) show as plain text."""

    def helpEvent(
        self,
        event: QHelpEvent,
        view: QAbstractItemView,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if event.type() == QHelpEvent.Type.ToolTip:
            text = index.data(Qt.ItemDataRole.ToolTipRole)
            if text:
                QToolTip.showText(event.globalPos(), plain_tooltip(str(text)), view)
            else:
                QToolTip.hideText()
            event.accept()
            return True
        return super().helpEvent(event, view, option, index)

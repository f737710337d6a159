"""Our presence as others see it: the state we choose, a note, and "Offline (not registered)" while no
account is registered, whatever was chosen (the choice waits and is shown once an account registers)."""

from __future__ import annotations

from typing import Literal

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QListView, QWidget

from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate
from softphone.gui.icons import presence_icon

PRESENCE_CHOICES = (
    ("available", QT_TRANSLATE_NOOP("PresenceSelector", "Available")),
    ("away", QT_TRANSLATE_NOOP("PresenceSelector", "Away")),
    ("busy", QT_TRANSLATE_NOOP("PresenceSelector", "Busy")),
    ("offline", QT_TRANSLATE_NOOP("PresenceSelector", "Offline")),
)
# The selector's states as PIDF basic status and RFC 4480 activity.
PRESENCE_RPID: dict[str, tuple[Literal["open", "closed"], str | None]] = {
    "available": ("open", None),
    "away": ("open", "away"),
    "busy": ("open", "busy"),
    "offline": ("closed", None),
}
UNREGISTERED = "unregistered"
UNREGISTERED_TEXT = QT_TRANSLATE_NOOP("PresenceSelector", "Offline (not registered)")


class PresenceSelector(QWidget):
    """The state combo and the note; ``edited()`` when the user picks a state or finishes the note."""

    edited = Signal()

    def __init__(self, note: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setAccessibleName(self.tr("My presence"))
        for state, text in PRESENCE_CHOICES:
            self.combo.addItem(presence_icon(state), translate("PresenceSelector", text), state)
        self.combo.addItem(presence_icon("offline"), translate("PresenceSelector", UNREGISTERED_TEXT), UNREGISTERED)
        self.unregistered_index = self.combo.count() - 1
        view = self.combo.view()
        if isinstance(view, QListView):
            view.setRowHidden(self.unregistered_index, True)  # shown, never chosen
        self.note = QLineEdit(note)
        self.note.setPlaceholderText(self.tr("Note (what you are doing)"))
        self.note.setAccessibleName(self.tr("Presence note"))
        self.combo.activated.connect(lambda _i: self.edited.emit())
        self.note.editingFinished.connect(self.edited.emit)
        row.addWidget(self.combo)
        row.addWidget(self.note, 1)
        self.choice = "available"
        self.online = True

    def take_choice(self) -> str:
        """The state the user chose (the combo's, unless it shows the unregistered placeholder)."""
        state = str(self.combo.currentData())
        if state != UNREGISTERED:
            self.choice = state
        self.show_online(self.online)
        return self.choice

    def show_online(self, online: bool) -> None:
        """Show the choice when others can see it (``online``), else that we are offline for them."""
        self.online = online
        if online:
            self.combo.setCurrentIndex(max(self.combo.findData(self.choice), 0))
            self.combo.setToolTip("")
            self.combo.setAccessibleName(self.tr("My presence"))
            return
        self.combo.setCurrentIndex(self.unregistered_index)
        chosen = translate("PresenceSelector", dict(PRESENCE_CHOICES).get(self.choice, self.choice))
        self.combo.setToolTip(
            self.tr("Others see you offline until an account is registered; then: {chosen}").format(chosen=chosen)
        )
        self.combo.setAccessibleName(
            self.tr("My presence: {state}").format(state=translate("PresenceSelector", UNREGISTERED_TEXT))
        )

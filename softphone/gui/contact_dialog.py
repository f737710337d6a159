"""The contact dialog: add or edit one contact of the buddy list."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.buddy_model import avatar
from softphone.gui.text import plain_label
from softphone.store import Contact

MAX_PHOTO_BYTES = 2_000_000
PHOTO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _complete_uri(text: str) -> str:
    text = text.strip().strip("<>")
    if text and ":" not in text.split("@")[0] and "@" in text:
        return f"sip:{text}"
    return text


class ContactDialog(QDialog):
    """Add or edit one contact: name, SIP URIs, numbers, groups, notes, photo and "show presence".

    Opened with ``open()`` (never a blocking ``exec()``); ``accepted`` fires only with valid input,
    and :meth:`contact` gives the edited contact.
    """

    def __init__(self, contact: Contact | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.original = contact
        self.setWindowTitle(self.tr("Edit contact") if contact is not None else self.tr("Add contact"))
        self.setAccessibleName(self.windowTitle())
        base = contact if contact is not None else Contact("")
        self._photo: bytes | None = base.photo
        self._photo_type: str | None = base.photo_type
        self.file_dialog: QFileDialog | None = None

        self.name = QLineEdit(base.name)
        self.name.setAccessibleName(self.tr("Name"))
        self.uris = QPlainTextEdit("\n".join(base.uris))
        self.uris.setAccessibleName(self.tr("SIP addresses, one per line"))
        self.uris.setPlaceholderText(self.tr("sip:alice@example.com"))
        self.uris.setTabChangesFocus(True)
        self.uris.setFixedHeight(60)
        self.phones = QPlainTextEdit("\n".join(base.phones))
        self.phones.setAccessibleName(self.tr("Phone numbers, one per line"))
        self.phones.setTabChangesFocus(True)
        self.phones.setFixedHeight(60)
        self.groups = QLineEdit(", ".join(base.groups))
        self.groups.setAccessibleName(self.tr("Groups, separated by commas"))
        self.groups.setPlaceholderText(self.tr("Friends, Work"))
        self.notes = QPlainTextEdit(base.notes)
        self.notes.setAccessibleName(self.tr("Notes"))
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(60)
        self.presence = QCheckBox(self.tr("Show presence and busy lamp"))
        self.presence.setAccessibleName(self.tr("Show presence and busy lamp"))
        self.presence.setChecked(base.subscribe_presence if contact is not None else True)

        self.photo_preview = QLabel()
        self.photo_preview.setFixedSize(48, 48)
        self.photo_preview.setAccessibleName(self.tr("Photo"))
        self.photo_path = QLineEdit()
        self.photo_path.setAccessibleName(self.tr("Photo file"))
        self.photo_path.setPlaceholderText(self.tr("image file (PNG, JPEG)"))
        self.photo_path.editingFinished.connect(lambda: self.load_photo(self.photo_path.text()))
        choose = QPushButton(self.tr("Choose…"))
        choose.setAccessibleName(self.tr("Choose a photo file"))
        choose.clicked.connect(self.choose_photo)
        clear = QPushButton(self.tr("No photo"))
        clear.setAccessibleName(self.tr("Remove the photo"))
        clear.clicked.connect(self.clear_photo)
        photo_row = QHBoxLayout()
        photo_row.addWidget(self.photo_preview)
        photo_row.addWidget(self.photo_path, 1)
        photo_row.addWidget(choose)
        photo_row.addWidget(clear)

        self.problem = plain_label()
        self.problem.setAccessibleName(self.tr("Problem"))
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)

        form = QFormLayout()
        form.addRow(self.tr("&Name:"), self.name)
        form.addRow(self.tr("SIP &addresses:"), self.uris)
        form.addRow(self.tr("&Numbers:"), self.phones)
        form.addRow(self.tr("&Groups:"), self.groups)
        form.addRow(self.tr("N&otes:"), self.notes)
        form.addRow(self.tr("Photo:"), photo_row)
        form.addRow("", self.presence)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        for button in self.buttons.buttons():
            button.setAccessibleName(button.text().replace("&", ""))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._show_photo()

    def choose_photo(self) -> None:
        dialog = QFileDialog(self, self.tr("Choose a photo"), "", "Images (*.png *.jpg *.jpeg *.gif);;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAccessibleName(self.tr("Choose a photo"))
        dialog.fileSelected.connect(self.load_photo)
        self.file_dialog = dialog
        dialog.open()

    def load_photo(self, path: str) -> bool:
        """Take the image at ``path`` as the photo; False (with the problem shown) when it is not one."""
        path = path.strip()
        if not path:
            return False
        self.photo_path.setText(path)
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as exc:
            self._show_problem(self.tr("Cannot read the photo: {error}").format(error=exc.strerror or exc))
            return False
        pixmap = QPixmap()
        if len(data) > MAX_PHOTO_BYTES or not pixmap.loadFromData(data):
            self._show_problem(self.tr("The photo is not an image this program can read (or larger than 2 MB)"))
            return False
        self._photo = data
        self._photo_type = PHOTO_TYPES.get(file.suffix.lower(), "image/png")
        self.problem.setVisible(False)
        self._show_photo()
        return True

    def clear_photo(self) -> None:
        self._photo = None
        self._photo_type = None
        self.photo_path.clear()
        self._show_photo()

    def _show_photo(self) -> None:
        shown = Contact(self.name.text() or "?", photo=self._photo)
        self.photo_preview.setPixmap(avatar(shown, self.palette(), 48))

    def _show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(True)

    def contact(self) -> Contact:
        """The contact as edited (keeps the original's id and UID)."""
        base = self.original if self.original is not None else Contact("")
        groups = [g.strip() for g in self.groups.text().split(",") if g.strip()]
        return replace(
            base,
            name=self.name.text().strip(),
            uris=[_complete_uri(u) for u in _lines(self.uris.toPlainText())],
            phones=_lines(self.phones.toPlainText()),
            groups=groups,
            notes=self.notes.toPlainText().strip(),
            photo=self._photo,
            photo_type=self._photo_type if self._photo is not None else None,
            subscribe_presence=self.presence.isChecked(),
        )

    def validate(self) -> str | None:
        contact = self.contact()
        if not (contact.name or contact.uris or contact.phones):
            return self.tr("Give a name, a SIP address or a number")
        for uri in contact.uris:
            if ":" not in uri or uri.endswith(":") or " " in uri:
                return self.tr("{uri} is not an address (write sip:user@host or user@host)").format(uri=repr(uri))
        return None

    def accept(self) -> None:
        problem = self.validate()
        if problem is not None:
            self._show_problem(problem)
            return
        super().accept()

"""Where an account's password is kept, and asking for it when it is needed.

Three places, the user's choice (:class:`StorageChoice`): the system keyring
(the default where there is one), a file only the user may read (``passwords/``
under the config directory, mode 0600: offered with a warning, for a desktop
without a keyring), or nowhere (asked for at each start). The settings file
never holds the password, only the file's name. :func:`load_password` reads it
back at start. A registrar that wants a password we do not have, or refuses
ours, brings up a :class:`PasswordPrompt` (through :class:`PasswordAsker`),
which never blocks: the phone goes on working while it is open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.text import plain_label
from softphone.store import AccountSettings, default_password_path
from softphone.ua import (
    AccountError,
    address_shown,
    cannot,
    forget_keyring_password,
    keyring_problem,
    password_from_file,
    password_from_keyring,
    password_to_file,
    password_to_keyring,
    remove_password_file,
)

log = logging.getLogger("softphone.gui.passwords")

KEYRING_SERVICE = "softphone"
TURN_KEYRING_SERVICE = "softphone-turn"
Storage = Literal["keyring", "file", "session"]
STORAGES: tuple[Storage, ...] = ("keyring", "file", "session")


def load_password(entry: AccountSettings) -> str | None:
    """The password kept for ``entry``: from the keyring, else from its password file; None when neither has one."""
    kept = password_from_keyring(entry.aor, KEYRING_SERVICE)
    if kept:
        return kept
    if entry.password_file:
        try:
            return password_from_file(entry.password_file)
        except AccountError as exc:
            log.warning("%s", exc)
    return None


def load_turn_password(entry: AccountSettings) -> str | None:
    """The password for ``entry``'s TURN server: it is kept in the keyring only."""
    return password_from_keyring(entry.aor, TURN_KEYRING_SERVICE) if entry.turn_server else None


def keep_turn_password(entry: AccountSettings, password: str) -> str | None:
    """Keep the TURN password in the keyring; what the user should know when it cannot be kept, else None."""
    try:
        password_to_keyring(entry.aor, password, TURN_KEYRING_SERVICE)
    except AccountError as exc:
        return cannot(
            f"keep the TURN password of {address_shown(entry.aor)} in the system keyring",
            f"{exc}; calls go without the relay until it can be kept",
        )
    return None


def stored_in(entry: AccountSettings) -> Storage | None:
    """Where ``entry``'s password is kept now (None: nowhere, it is asked for)."""
    if entry.password_file and Path(entry.password_file).is_file():
        return "file"
    if password_from_keyring(entry.aor, KEYRING_SERVICE) is not None:
        return "keyring"
    return None


def keep_password(entry: AccountSettings, password: str, storage: Storage) -> str | None:
    """Keep ``password`` where the user chose, and nowhere else (``entry.password_file`` follows).

    Returns what the user should know when it could not be kept there (it is then used until the
    softphone closes), else None. Never raises: a keyring that fails does not cost the account.
    """
    who = address_shown(entry.aor)
    if storage == "keyring":
        try:
            password_to_keyring(entry.aor, password, KEYRING_SERVICE)
        except AccountError as exc:
            return cannot(
                f"keep the password of {who} in the system keyring",
                f"{exc}; it is used until the softphone closes and asked for at the next start",
            )
        _drop_file(entry)
        return None
    if storage == "file":
        path = Path(entry.password_file) if entry.password_file else default_password_path(entry.aor)
        try:
            password_to_file(path, password)
        except AccountError as exc:
            return cannot(f"keep the password of {who} in a file", f"{exc}; it is used until the softphone closes")
        entry.password_file = str(path)
        forget_keyring_password(entry.aor, KEYRING_SERVICE)
        return None
    _drop_file(entry)
    forget_keyring_password(entry.aor, KEYRING_SERVICE)
    return None


def _drop_file(entry: AccountSettings) -> None:
    if entry.password_file:
        try:
            remove_password_file(entry.password_file)
        except OSError as exc:
            log.warning("cannot remove the password file %s: %s", entry.password_file, exc)
        entry.password_file = None


class StorageChoice(QWidget):
    """Keyring, a file (with its warning) or nowhere: where a password typed here is kept."""

    def __init__(self, aor: str = "", current: Storage | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(self.tr("Keep the password:")))
        self.keyring_problem = keyring_problem(KEYRING_SERVICE)
        keyring_text = self.tr("in the system &keyring")
        if self.keyring_problem is not None:
            keyring_text += " " + self.tr("(not available: {problem})").format(problem=self.keyring_problem)
        self.keyring = QRadioButton(keyring_text)
        self.keyring.setAccessibleName(self.tr("Keep the password in the system keyring"))
        self.keyring.setEnabled(self.keyring_problem is None)
        self.file = QRadioButton(self.tr("in a &file only you can read"))
        self.file.setAccessibleName(self.tr("Keep the password in a file only you can read"))
        self.session = QRadioButton(self.tr("&nowhere: ask for it each time the softphone starts"))
        self.session.setAccessibleName(self.tr("Do not keep the password"))
        group = QButtonGroup(self)
        for button in (self.keyring, self.file, self.session):
            group.addButton(button)
            layout.addWidget(button)
        self.warning = plain_label("")
        self.warning.setWordWrap(True)
        self.warning.setAccessibleName(self.tr("Warning about the password file"))
        layout.addWidget(self.warning)
        self.aor = aor
        if current is None or (current == "keyring" and self.keyring_problem is not None):
            current = "keyring" if self.keyring_problem is None else "session"
        self.set_storage(current)
        self.file.toggled.connect(self._update)

    def storage(self) -> Storage:
        if self.keyring.isChecked():
            return "keyring"
        return "file" if self.file.isChecked() else "session"

    def set_storage(self, storage: Storage) -> None:
        {"keyring": self.keyring, "file": self.file, "session": self.session}[storage].setChecked(True)
        self._update()

    def set_aor(self, aor: str) -> None:
        self.aor = aor
        self._update()

    def _update(self) -> None:
        shown = self.file.isChecked()
        if shown:
            where = default_password_path(self.aor) if self.aor else default_password_path("sip:you@example.com").parent
            self.warning.setText(
                self.tr(
                    "⚠ The password is saved unencrypted in {where}. Only your user account can open that file, "
                    "but anyone who can read your files (an administrator, a backup, someone at your unlocked "
                    "computer) can read the password too."
                ).format(where=where)
            )
        self.warning.setVisible(shown)


class PasswordPrompt(QDialog):
    """Asks for one account's password without blocking: ``entered(aor, password, storage)`` on OK."""

    entered = Signal(str, str, str)

    def __init__(self, aor: str, problem: str, storage: Storage | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.aor = aor
        who = address_shown(aor)
        self.setWindowTitle(self.tr("Password for {who}").format(who=who))
        self.setAccessibleName(self.tr("Password for {who}").format(who=who))
        self.setModal(False)
        layout = QVBoxLayout(self)
        self.problem = plain_label(problem)
        self.problem.setWordWrap(True)
        self.problem.setAccessibleName(self.tr("Problem"))
        layout.addWidget(self.problem)
        intro = plain_label(self.tr("Enter the password of {who} to register:").format(who=who))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName(self.tr("Password"))
        layout.addWidget(self.password)
        self.storage = StorageChoice(aor, storage)
        layout.addWidget(self.storage)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("&Register"))
        buttons.button(QDialogButtonBox.StandardButton.Ok).setAccessibleName(self.tr("Register with this password"))
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("&Later"))
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName(self.tr("Later"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.buttons = buttons

    def set_problem(self, problem: str) -> None:
        self.problem.setText(problem)

    def accept(self) -> None:
        password = self.password.text()
        if not password:
            self.problem.setText(cannot(f"register {address_shown(self.aor)}", "the password is empty"))
            return
        self.entered.emit(self.aor, password, self.storage.storage())
        super().accept()


class PasswordAsker:
    """One :class:`PasswordPrompt` per account at most; what is typed is kept as chosen and handed on.

    ``entries(aor)`` finds the account's settings (None when it has none), ``saved()`` writes the
    settings after a password file was named, ``use(aor, password)`` gives the password to the UA and
    ``note(text)`` tells the user what could not be done.
    """

    def __init__(
        self,
        parent: QWidget,
        entries: Callable[[str], AccountSettings | None],
        saved: Callable[[], None],
        use: Callable[[str, str], None],
        note: Callable[[str], None],
    ) -> None:
        self.parent = parent
        self._entries = entries
        self._saved = saved
        self._use = use
        self._note = note
        self.prompts: dict[str, PasswordPrompt] = {}

    def ask(self, aor: str, problem: str) -> PasswordPrompt:
        prompt = self.prompts.get(aor)
        if prompt is not None:
            prompt.set_problem(problem)
        else:
            entry = self._entries(aor)
            prompt = PasswordPrompt(aor, problem, stored_in(entry) if entry is not None else None, self.parent)
            prompt.entered.connect(self._entered)
            prompt.finished.connect(lambda _code, a=aor: self._closed(a))
            self.prompts[aor] = prompt
        prompt.show()
        prompt.raise_()
        return prompt

    def _closed(self, aor: str) -> None:
        prompt = self.prompts.pop(aor, None)
        if prompt is not None:
            prompt.deleteLater()

    def _entered(self, aor: str, password: str, storage: str) -> None:
        entry = self._entries(aor)
        if entry is not None and storage in STORAGES:
            chosen: Storage = "file" if storage == "file" else ("keyring" if storage == "keyring" else "session")
            note = keep_password(entry, password, chosen)
            self._saved()
            if note:
                self._note(note)
        self._use(aor, password)

    def dismiss(self, aor: str) -> None:
        """The account registered after all (a server's passing refusal): its prompt is not needed."""
        prompt = self.prompts.get(aor)
        if prompt is not None:
            prompt.close()

    def close_all(self) -> None:
        for prompt in list(self.prompts.values()):
            prompt.close()
        self.prompts.clear()

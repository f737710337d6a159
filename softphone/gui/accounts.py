"""Accounts as the GUI keeps them: settings (no passwords) plus passwords from the OS keyring.

Passwords never go into the settings file. The first-start wizard stores the
password in the keyring; when no keyring is available it is kept in memory
for this session only, and the user is told so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.text import plain_label
from softphone.store import AccountSettings
from softphone.ua import (
    TRANSPORT_NAMES,
    Account,
    AccountError,
    TransportName,
    password_from_keyring,
    password_to_keyring,
)

log = logging.getLogger("softphone.gui.accounts")

KEYRING_SERVICE = "softphone"


def accounts_from_settings(
    entries: list[AccountSettings], session_passwords: dict[str, str] | None = None
) -> tuple[list[Account], list[str]]:
    """The enabled accounts with their keyring passwords, and a problem line for each one that is unusable."""
    accounts: list[Account] = []
    problems: list[str] = []
    session_passwords = session_passwords or {}
    for entry in entries:
        if not entry.enabled:
            continue
        password = session_passwords.get(entry.aor)
        if password is None:
            password = password_from_keyring(entry.aor, KEYRING_SERVICE) or ""
        try:
            accounts.append(account_from_settings(entry, password))
        except AccountError as exc:
            problems.append(f"{entry.aor}: {exc}")
    return accounts, problems


def transport_name(text: str) -> TransportName:
    """``text`` as one of the UA's transports; raises :class:`AccountError` for anything else."""
    for name in TRANSPORT_NAMES:
        if text == name:
            return name
    raise AccountError(f"transport must be one of {', '.join(TRANSPORT_NAMES)}, not {text!r}")


def account_from_settings(entry: AccountSettings, password: str, *, register: bool | None = None) -> Account:
    """The UA's account for a settings entry; raises :class:`AccountError` when the entry is unusable."""
    return Account(
        entry.aor,
        password,
        auth_user=entry.auth_user,
        registrar=entry.registrar,
        outbound_proxy=entry.outbound_proxy,
        transport=transport_name(entry.transport),
        display_name=entry.display_name,
        expires=entry.expires,
        ca_file=entry.ca_file,
        register=entry.register if register is None else register,
        direct_calls=entry.direct_calls,
        tls_fingerprints=tuple(entry.tls_fingerprints),
    )


def store_password(aor: str, password: str) -> str | None:
    """Keep ``password`` in the OS keyring; returns why it could not be kept, or None."""
    try:
        password_to_keyring(aor, password, KEYRING_SERVICE)
    except AccountError as exc:
        return str(exc)
    return None


@dataclass
class WizardResult:
    settings: AccountSettings
    password: str


class AccountWizard(QDialog):
    """First start: one account with a server, or no server at all (LAN only, nothing registers)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up an account")
        self.setAccessibleName("Account set-up")
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Who are you on which SIP service? Choose “No server” to call other phones on this network only."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        self.with_server = QRadioButton("&With a SIP server")
        self.with_server.setAccessibleName("Use a SIP server")
        self.lan_only = QRadioButton("&No server: LAN only")
        self.lan_only.setAccessibleName("No server, LAN only")
        group = QButtonGroup(self)
        group.addButton(self.with_server)
        group.addButton(self.lan_only)
        self.with_server.setChecked(True)
        layout.addWidget(self.with_server)
        layout.addWidget(self.lan_only)

        form = QFormLayout()
        self.aor = QLineEdit()
        self.aor.setPlaceholderText("sip:alice@example.com")
        self.aor.setAccessibleName("Address of record")
        self.display_name = QLineEdit()
        self.display_name.setAccessibleName("Display name")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        self.registrar = QLineEdit()
        self.registrar.setPlaceholderText("optional, e.g. sip:registrar.example.com")
        self.registrar.setAccessibleName("Registrar")
        self.proxy = QLineEdit()
        self.proxy.setPlaceholderText("optional")
        self.proxy.setAccessibleName("Outbound proxy")
        self.transport = QComboBox()
        self.transport.addItems(list(TRANSPORT_NAMES))
        self.transport.setAccessibleName("Transport")
        form.addRow("&Address:", self.aor)
        form.addRow("&Display name:", self.display_name)
        form.addRow("&Password:", self.password)
        form.addRow("&Registrar:", self.registrar)
        form.addRow("&Outbound proxy:", self.proxy)
        form.addRow("&Transport:", self.transport)
        layout.addLayout(form)

        self.problem = plain_label()
        self.problem.setWordWrap(True)
        self.problem.setAccessibleName("Problem")
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.lan_only.toggled.connect(self._update)
        self._update()
        self.result_value: WizardResult | None = None

    def _update(self) -> None:
        server = not self.lan_only.isChecked()
        for widget in (self.password, self.registrar, self.proxy):
            widget.setEnabled(server)

    def build(self) -> WizardResult:
        """The account the form describes; raises AccountError with what is wrong."""
        aor = self.aor.text().strip()
        if not aor:
            raise AccountError("the address is missing")
        if not aor.lower().startswith(("sip:", "sips:")):
            aor = f"sip:{aor}"
        lan = self.lan_only.isChecked()
        settings = AccountSettings(
            aor=aor,
            display_name=self.display_name.text().strip() or None,
            registrar=None if lan else (self.registrar.text().strip() or None),
            outbound_proxy=None if lan else (self.proxy.text().strip() or None),
            transport=self.transport.currentText(),
            register=not lan,
        )
        password = "" if lan else self.password.text()
        # Validate with the UA's own rules.
        Account(
            settings.aor,
            password,
            registrar=settings.registrar,
            outbound_proxy=settings.outbound_proxy,
            transport=transport_name(settings.transport),
        )
        return WizardResult(settings, password)

    def accept(self) -> None:
        try:
            self.result_value = self.build()
        except AccountError as exc:
            self.problem.setText(str(exc))
            return
        super().accept()

"""Accounts as the GUI keeps them: settings (no passwords) plus passwords kept where the user chose.

Passwords never go into the settings file: they are in the OS keyring, in a
file only the user may read, or nowhere (asked for when needed); see
:mod:`softphone.gui.passwords`. The first-start wizard asks where. An account
is never dropped for want of a password: it starts without one, and the
registrar's challenge brings up the password prompt.

:func:`account_changes` turns edited settings into what the running UA must
do (remove, replace, add accounts) and :func:`apply_account_changes` does it
on the UA's loop.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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

from softphone.gui.passwords import KEYRING_SERVICE, Storage, StorageChoice, load_password, load_turn_password
from softphone.gui.text import plain_label
from softphone.store import AccountSettings, Settings
from softphone.ua import (
    TRANSPORT_NAMES,
    Account,
    AccountError,
    TransportName,
    UserAgent,
    address_shown,
    cannot,
    sip_address,
)

log = logging.getLogger("softphone.gui.accounts")

__all__ = [
    "KEYRING_SERVICE",
    "AccountChanges",
    "AccountWizard",
    "WizardResult",
    "account_changes",
    "account_from_settings",
    "accounts_from_settings",
    "apply_account_changes",
    "transport_name",
]


def accounts_from_settings(
    entries: list[AccountSettings], session_passwords: Mapping[str, str] | None = None
) -> tuple[list[Account], list[str]]:
    """The enabled accounts with their passwords (this session's, the keyring's or the password file's; none
    is no reason to leave an account out), and a problem line for each entry that is unusable."""
    accounts: list[Account] = []
    problems: list[str] = []
    session_passwords = session_passwords or {}
    for entry in entries:
        if not entry.enabled:
            continue
        password = session_passwords.get(entry.aor)
        if password is None:
            password = load_password(entry) or ""
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
    raise AccountError(f"the transport must be one of {', '.join(TRANSPORT_NAMES)}, not {text!r}")


def account_from_settings(
    entry: AccountSettings, password: str, *, register: bool | None = None, turn_password: str | None = None
) -> Account:
    """The UA's account for a settings entry; raises :class:`AccountError` when the entry is unusable.

    ``turn_password``: one typed just now, else the keyring's. Without a user name and password the TURN
    server is left out (and a warning logged): the account still works, without a relay."""
    turn_server = entry.turn_server
    if turn_server is not None:
        turn_password = turn_password if turn_password is not None else load_turn_password(entry)
        if not entry.turn_user or turn_password is None:
            log.warning("TURN server %s of %s left out: no user name or password", turn_server, entry.aor)
            turn_server = None
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
        lan_announce=entry.lan_announce,
        tls_fingerprints=tuple(entry.tls_fingerprints),
        srtp=entry.srtp,  # type: ignore[arg-type]  # Account checks the words
        srtp_keys=entry.srtp_keys,  # type: ignore[arg-type]
        tls_certificate=entry.tls_certificate,
        tls_key=entry.tls_key,
        stun_server=entry.stun_server,
        turn_server=turn_server,
        turn_user=entry.turn_user if turn_server is not None else None,
        turn_password=turn_password if turn_server is not None else None,
        turn_transport=transport_name(entry.turn_transport),
        ice=entry.ice,
    )


# What decides how an account registers and calls; a difference here means the UA gets the new account.
_ACCOUNT_FIELDS = (
    "aor",
    "password",
    "auth_user",
    "registrar",
    "outbound_proxy",
    "transport",
    "display_name",
    "expires",
    "ca_file",
    "register",
    "direct_calls",
    "lan_announce",
    "tls_fingerprints",
    "srtp",
    "srtp_keys",
    "tls_certificate",
    "tls_key",
    "stun_server",
    "turn_server",
    "turn_user",
    "turn_password",
    "turn_transport",
    "ice",
)


def _same_account(a: Account, b: Account) -> bool:
    return all(getattr(a, name) == getattr(b, name) for name in _ACCOUNT_FIELDS)


@dataclass
class AccountChanges:
    """What the running UA must do for the settings' accounts: ``removed`` addresses, ``replaced`` (old
    address, new account) and ``added`` accounts; ``accounts`` is the GUI's list afterwards (settings order)."""

    removed: list[str] = field(default_factory=list)
    replaced: list[tuple[str, Account]] = field(default_factory=list)
    added: list[Account] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.removed or self.replaced or self.added)


def account_changes(
    entries: Sequence[AccountSettings], current: Sequence[Account], passwords: Mapping[str, str]
) -> AccountChanges:
    """Compare the settings' enabled ``entries`` with the ``current`` accounts. A password comes from
    ``passwords`` (typed just now, or this session's), else where it is kept, else the current account's."""
    changes = AccountChanges()
    running = {account.aor: account for account in current}
    wanted: dict[str, Account] = {}
    for entry in entries:
        if not entry.enabled:
            continue
        try:
            aor = sip_address(entry.aor, "address")
        except AccountError as exc:
            changes.problems.append(cannot(f"use the account {entry.aor}", str(exc)))
            continue
        old = running.get(aor)
        password = passwords.get(aor) or load_password(entry) or (old.password if old is not None else "")
        try:
            wanted[aor] = account_from_settings(entry, password)
        except AccountError as exc:
            changes.problems.append(cannot(f"use the account {address_shown(aor)}", str(exc)))
            if old is not None:
                wanted[aor] = old  # an entry made unusable keeps the account that works
    for aor in running:
        if aor not in wanted:
            changes.removed.append(aor)
    for aor, account in wanted.items():
        old = running.get(aor)
        if old is None:
            changes.added.append(account)
        elif not _same_account(old, account):
            changes.replaced.append((aor, account))
        else:
            account = old
        changes.accounts.append(account)
    return changes


async def apply_account_changes(ua: UserAgent, changes: AccountChanges, settings: Settings) -> list[str]:
    """On the UA's loop: remove, replace and add the accounts, then hand the new accounts their call settings
    (forwarding, auto-answer). Returns what could not be done, in words. The UA gets copies: the GUI's
    :class:`Account` objects stay the GUI thread's."""
    from softphone.gui.settings_calls import apply_to_ua

    problems: list[str] = []
    for aor in changes.removed:
        try:
            await ua.remove_account(aor)
        except Exception as exc:
            problems.append(cannot(f"remove the account {address_shown(aor)}", str(exc)))
    for aor, account in changes.replaced:
        try:
            await ua.replace_account(aor, dataclasses.replace(account))
        except Exception as exc:
            problems.append(cannot(f"change the account {address_shown(aor)}", str(exc)))
    for account in changes.added:
        try:
            ua.add_account(dataclasses.replace(account))
        except Exception as exc:
            problems.append(cannot(f"add the account {address_shown(account.aor)}", str(exc)))
    apply_to_ua(settings, ua)  # its notes are the settings dialog's to show
    return problems


@dataclass
class WizardResult:
    settings: AccountSettings
    password: str
    storage: Storage = "keyring"


class AccountWizard(QDialog):
    """First start: one account with a server, or no server at all (LAN only, nothing registers)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Set up an account"))
        self.setAccessibleName(self.tr("Account set-up"))
        layout = QVBoxLayout(self)
        intro = QLabel(
            self.tr("Who are you on which SIP service? Choose “No server” to call other phones on this network only.")
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        self.with_server = QRadioButton(self.tr("&With a SIP server"))
        self.with_server.setAccessibleName(self.tr("Use a SIP server"))
        self.lan_only = QRadioButton(self.tr("&No server: LAN only"))
        self.lan_only.setAccessibleName(self.tr("No server, LAN only"))
        group = QButtonGroup(self)
        group.addButton(self.with_server)
        group.addButton(self.lan_only)
        self.with_server.setChecked(True)
        layout.addWidget(self.with_server)
        layout.addWidget(self.lan_only)

        form = QFormLayout()
        self.aor = QLineEdit()
        self.aor.setPlaceholderText(self.tr("alice@example.com"))
        self.aor.setAccessibleName(self.tr("Address of record"))
        self.display_name = QLineEdit()
        self.display_name.setAccessibleName(self.tr("Display name"))
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName(self.tr("Password"))
        self.registrar = QLineEdit()
        self.registrar.setPlaceholderText(self.tr("optional, e.g. registrar.example.com or 192.0.2.1:5060"))
        self.registrar.setAccessibleName(self.tr("Registrar"))
        self.proxy = QLineEdit()
        self.proxy.setPlaceholderText(self.tr("optional"))
        self.proxy.setAccessibleName(self.tr("Outbound proxy"))
        self.transport = QComboBox()
        self.transport.addItems(list(TRANSPORT_NAMES))
        self.transport.setAccessibleName(self.tr("Transport"))
        form.addRow(self.tr("&Address:"), self.aor)
        form.addRow(self.tr("&Display name:"), self.display_name)
        form.addRow(self.tr("&Password:"), self.password)
        form.addRow(self.tr("&Registrar:"), self.registrar)
        form.addRow(self.tr("&Outbound proxy:"), self.proxy)
        form.addRow(self.tr("&Transport:"), self.transport)
        layout.addLayout(form)
        self.storage = StorageChoice()
        self.aor.textChanged.connect(self._aor_changed)
        layout.addWidget(self.storage)

        self.problem = plain_label()
        self.problem.setWordWrap(True)
        self.problem.setAccessibleName(self.tr("Problem"))
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
        for widget in (self.password, self.registrar, self.proxy, self.storage):
            widget.setEnabled(server)

    def _aor_changed(self, text: str) -> None:
        try:
            self.storage.set_aor(sip_address(text, "address"))
        except AccountError:
            self.storage.set_aor("")

    def build(self) -> WizardResult:
        """The account the form describes; raises AccountError with what is wrong."""
        aor = self.aor.text().strip()
        if not aor:
            raise AccountError("the address is missing")
        lan = self.lan_only.isChecked()
        # Validate with the UA's own rules; what it accepts (host:port …) is saved as the URI it made of it.
        account = Account(
            aor,
            "" if lan else self.password.text(),
            registrar=None if lan else (self.registrar.text().strip() or None),
            outbound_proxy=None if lan else (self.proxy.text().strip() or None),
            transport=transport_name(self.transport.currentText()),
        )
        settings = AccountSettings(
            aor=account.aor,
            display_name=self.display_name.text().strip() or None,
            registrar=account.registrar,
            outbound_proxy=account.outbound_proxy,
            transport=account.transport,
            register=not lan,
        )
        return WizardResult(settings, account.password, self.storage.storage())

    def accept(self) -> None:
        try:
            self.result_value = self.build()
        except AccountError as exc:
            self.problem.setText(cannot("save the account", str(exc)))
            return
        super().accept()

"""The main window's account area: one row per account with its registration state, and a banner that
stays while something is wrong — the reason in plain words, when it is tried again, and what to do.

A row is a flat button (a click registers again). Its banner appears when the
registration fails and stays until it succeeds: ``Cannot register
alice@example.com: no answer from UDP 192.0.2.1:5060 (503). Retrying in 12 s.``
with *Retry now*, and *Enter password…* when the registrar wants a password
we do not have or refused ours (the registration then waits for one).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate
from softphone.gui.icons import presence_icon
from softphone.gui.text import plain_label
from softphone.ua import Account, RegistrationEvent, address_shown, registration_problem, why

REGISTRATION_TEXT = {
    "registered": QT_TRANSLATE_NOOP("AccountRow", "registered"),
    "registering": QT_TRANSLATE_NOOP("AccountRow", "registering …"),
    "unregistered": QT_TRANSLATE_NOOP("AccountRow", "not registered"),
    "failed": QT_TRANSLATE_NOOP("AccountRow", "failed"),
}
REGISTRATION_ICON = {
    "registered": "available",
    "registering": "away",
    "unregistered": "offline",
    "failed": "busy",
}
NO_ACCOUNT_TEXT = QT_TRANSLATE_NOOP(
    "AccountsArea",
    "No account yet: set one up in Tools → Settings…. "
    "A call asked for meanwhile (a sip: link) is made once there is one.",
)


class AccountRow(QPushButton):
    """One account's registration state; a click registers again."""

    def __init__(self, account: Account, on_retry: Callable[[str], None]) -> None:
        super().__init__()
        self.aor = account.aor
        self.registers = account.register
        self.state = "unregistered" if account.register else "lan"
        self.reason = ""
        self.setFlat(True)
        self.setStyleSheet("text-align: left")
        self.setToolTip(self.tr("Click to register again"))
        self.clicked.connect(lambda: on_retry(self.aor))
        self.show_state("registering" if account.register else "lan")

    def show_state(self, state: str, code: int | None = None, reason: str = "") -> None:
        self.state = state
        # The code first: what a provider's support asks for.
        self.reason = f"{code} {reason}".strip() if code is not None else reason
        if state == "lan":
            text, dot = self.tr("LAN only (not registering)"), "available"
        else:
            text = translate("AccountRow", REGISTRATION_TEXT.get(state, state))
            if state == "failed" and (code is not None or reason):
                text = f"failed: {why(code, reason)}"
            dot = REGISTRATION_ICON.get(state, "offline")
        self.setIcon(presence_icon(dot))
        self.setText(self.tr("{aor} — {text}").format(aor=self.aor, text=text))
        self.setAccessibleName(self.tr("Account {aor}: {text}").format(aor=self.aor, text=text))


class AccountBanner(QFrame):
    """What is wrong with one account's registration, until it registers; see the module documentation."""

    def __init__(self, aor: str, on_retry: Callable[[str], None], on_password: Callable[[str], None]) -> None:
        super().__init__()
        self.aor = aor
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(self.tr("Problem with {address}").format(address=address_shown(aor)))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        self.message = plain_label("")
        self.message.setWordWrap(True)
        self.message.setAccessibleName(self.tr("Registration problem of {address}").format(address=address_shown(aor)))
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        self.password_button = QPushButton(self.tr("Enter &password…"))
        self.password_button.setAccessibleName(
            self.tr("Enter the password of {address}").format(address=address_shown(aor))
        )
        self.password_button.clicked.connect(lambda: on_password(self.aor))
        self.retry_button = QPushButton(self.tr("&Retry now"))
        self.retry_button.setAccessibleName(self.tr("Register {address} again now").format(address=address_shown(aor)))
        self.retry_button.clicked.connect(lambda: on_retry(self.aor))
        buttons.addStretch(1)
        buttons.addWidget(self.password_button)
        buttons.addWidget(self.retry_button)
        layout.addLayout(buttons)
        self.problem = ""
        self.needs_password = False
        self.retry_at: float | None = None
        self.retrying = False
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._update)
        self.setVisible(False)

    def on_registration(self, event: RegistrationEvent) -> None:
        if event.state == "failed":
            self.problem = registration_problem(event.account, event.code, event.reason)
            self.needs_password = event.needs_password
            self.retry_at = time.monotonic() + event.retry_in if event.retry_in is not None else None
            self.retrying = False
            self.setVisible(True)
        elif event.state == "registering" and self.problem:
            self.retrying = True
            self.retry_at = None
        elif event.state in ("registered", "unregistered"):
            self.problem = ""
            self.needs_password = False
            self.retry_at = None
            self.setVisible(False)
        self._update()

    def text(self) -> str:
        return self.message.text()

    def _update(self) -> None:
        if not self.problem:
            self._ticker.stop()
            return
        text = self.problem
        if self.retrying:
            text += " " + self.tr("Trying again now …")
        elif self.retry_at is not None:
            seconds = max(0, math.ceil(self.retry_at - time.monotonic()))
            text += " " + self.tr("Retrying in {seconds} s.").format(seconds=seconds)
        elif self.needs_password:
            text += " " + self.tr("Waiting for the password.")
        else:
            text += " " + self.tr("Not retried by itself.")
        self.message.setText(text)
        self.password_button.setVisible(self.needs_password)
        if self.retry_at is not None and not self._ticker.isActive():
            self._ticker.start()
        elif self.retry_at is None:
            self._ticker.stop()


class AccountsArea(QWidget):
    """The rows and banners of the accounts; :meth:`set_accounts` follows accounts added and removed."""

    def __init__(
        self,
        accounts: Sequence[Account],
        on_retry: Callable[[str], None],
        on_password: Callable[[str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._on_retry = on_retry
        self._on_password = on_password
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.rows: dict[str, AccountRow] = {}
        self.banners: dict[str, AccountBanner] = {}
        self.no_account_label = QLabel(translate("AccountsArea", NO_ACCOUNT_TEXT))
        self.no_account_label.setWordWrap(True)
        self.no_account_label.setAccessibleName(self.tr("No account"))
        self._layout.addWidget(self.no_account_label)
        self.set_accounts(accounts)

    def set_accounts(self, accounts: Sequence[Account]) -> None:
        """Show exactly ``accounts``: rows of accounts gone are removed, new ones added (registering)."""
        wanted = {a.aor: a for a in accounts}
        for aor in [aor for aor in self.rows if aor not in wanted]:
            for widget in (self.rows.pop(aor), self.banners.pop(aor)):
                widget.setParent(None)
                widget.deleteLater()
        for account in accounts:
            row = self.rows.get(account.aor)
            if row is not None and row.registers == account.register:
                continue
            if row is not None:
                row.setParent(None)
                row.deleteLater()
                self.banners[account.aor].on_registration(RegistrationEvent(account.aor, "unregistered"))
            row = AccountRow(account, self._on_retry)
            self.rows[account.aor] = row
            banner = self.banners.get(account.aor)
            if banner is None:
                banner = self.banners[account.aor] = AccountBanner(account.aor, self._on_retry, self._on_password)
            self._layout.addWidget(row)
            self._layout.addWidget(banner)
        # Keep the settings' order on screen.
        for account in accounts:
            self._layout.removeWidget(self.rows[account.aor])
            self._layout.removeWidget(self.banners[account.aor])
            self._layout.addWidget(self.rows[account.aor])
            self._layout.addWidget(self.banners[account.aor])
        self.no_account_label.setVisible(not accounts)

    def on_registration(self, event: RegistrationEvent) -> None:
        row = self.rows.get(event.account)
        if row is not None:
            row.show_state(event.state, event.code, event.reason)
        banner = self.banners.get(event.account)
        if banner is not None:
            banner.on_registration(event)

    def registering(self, aor: str) -> None:
        """The user asked to register again: say so at once."""
        row = self.rows.get(aor)
        if row is not None:
            row.show_state("registering")
        banner = self.banners.get(aor)
        if banner is not None and banner.problem:
            banner.on_registration(RegistrationEvent(aor, "registering"))

"""The settings dialog's Accounts page: the list of accounts, the account editor and "Test connection".

Passwords typed in the editor wait in :attr:`AccountsPage.pending_passwords` until the settings are
applied, then go where the user chose for the account (:class:`~softphone.gui.passwords.StorageChoice`:
the OS keyring, a file only the user may read, or nowhere), never to the settings file; a keyring
that fails costs nothing but a note. Applied accounts take effect at once (the main window hands them
to the running UA). "Test connection" registers a
temporary :class:`~softphone.ua.UserAgent` once: on the core loop when the phone runs, else on a
short-lived thread of its own (:func:`~softphone.gui.workers.run_in_thread`); the GUI thread never
waits for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.accounts import account_from_settings
from softphone.gui.i18n import QT_TRANSLATE_NOOP
from softphone.gui.passwords import (
    Storage,
    StorageChoice,
    keep_password,
    keep_turn_password,
    load_password,
    load_turn_password,
    stored_in,
)
from softphone.gui.text import plain_label
from softphone.gui.workers import GuiRelay, run_in_thread
from softphone.store import AccountSettings, Settings
from softphone.ua import (
    TRANSPORT_NAMES,
    Account,
    AccountError,
    RegistrationEvent,
    UserAgent,
    address_shown,
    cannot,
    nat_test_text,
    registration_problem,
)

if TYPE_CHECKING:
    from softphone.gui.bridge import UaBridge

log = logging.getLogger("softphone.gui.settings")

TEST_TIMEOUT = 15.0

UaFactory = Callable[[Account], UserAgent]


async def test_registration(account: Account, factory: UaFactory, timeout: float = TEST_TIMEOUT) -> str:
    """Register ``account`` with a temporary UA made by ``factory``; ``"registered"`` or why not, in the
    words of every problem (``Cannot register alice@example.com: the password was not accepted (401).``)."""
    who = f"register {address_shown(account.aor)}"
    ua = factory(account)
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[RegistrationEvent] = loop.create_future()

    def on_event(event: object) -> None:
        if isinstance(event, RegistrationEvent) and event.state in ("registered", "failed") and not outcome.done():
            outcome.set_result(event)

    ua.subscribe(on_event)
    try:
        await ua.start()
        await ua.register(account.aor)
        try:
            event = await asyncio.wait_for(outcome, timeout)
        except TimeoutError:
            return cannot(who, f"no answer within {timeout:.0f} s")
    except Exception as exc:
        return cannot(who, str(exc) or type(exc).__name__)
    finally:
        try:
            await asyncio.wait_for(ua.stop(), 10.0)
        except Exception as exc:
            log.info("stopping the test user agent: %s", exc)
    if event.state == "registered":
        return "registered"
    return registration_problem(event.account, event.code, event.reason)


def default_ua_factory(account: Account) -> UserAgent:
    return UserAgent([account])


class ConnectionTester:
    """Runs :func:`test_registration` without blocking: on the core loop when ``bridge`` runs, else on a thread.

    Results reach the GUI thread through a relay owned by ``parent``: they are dropped once it is gone.
    """

    def __init__(
        self, bridge: UaBridge | None, factory: UaFactory | None = None, parent: QObject | None = None
    ) -> None:
        self.bridge = bridge
        self.factory = factory or default_ua_factory
        self._relay = GuiRelay(parent)
        self._threads: list[threading.Thread] = []

    def start(self, account: Account, on_result: Callable[[str], None]) -> None:
        bridge = self.bridge
        factory = self.factory
        if bridge is not None and bridge.loop is not None and bridge.running:
            bridge.run(
                lambda: test_registration(account, factory),
                on_done=on_result,
                on_error=lambda exc: on_result(cannot(f"register {address_shown(account.aor)}", str(exc))),
            )
            return
        thread = run_in_thread(
            self._relay,
            lambda: asyncio.run(test_registration(account, factory)),
            on_done=on_result,
            on_error=lambda exc: on_result(cannot(f"register {address_shown(account.aor)}", str(exc))),
            name="softphone-core-test",
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def start_nat_test(self, stun_server: str, on_result: Callable[[str], None]) -> None:
        """RFC 5780's NAT test against ``stun_server``, the same way as :meth:`start`."""
        bridge = self.bridge
        failed = lambda exc: on_result(cannot("test the network", str(exc)))  # noqa: E731
        if bridge is not None and bridge.loop is not None and bridge.running:
            bridge.run(lambda: nat_test_text(stun_server), on_done=on_result, on_error=failed)
            return
        thread = run_in_thread(
            self._relay,
            lambda: asyncio.run(nat_test_text(stun_server)),
            on_done=on_result,
            on_error=failed,
            name="softphone-nat-test",
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def join(self, timeout: float = 20.0) -> None:
        """Wait for private test threads (tests and shutdown only)."""
        for thread in self._threads:
            thread.join(timeout)


SRTP_CHOICES = (
    (QT_TRANSLATE_NOOP("AccountEditor", "Automatic (required over TLS)"), None),
    (QT_TRANSLATE_NOOP("AccountEditor", "When possible (else plain)"), "optional"),
    (QT_TRANSLATE_NOOP("AccountEditor", "Required (calls without it fail)"), "mandatory"),
    (QT_TRANSLATE_NOOP("AccountEditor", "Off"), "off"),
)
SRTP_KEY_CHOICES = (
    (QT_TRANSLATE_NOOP("AccountEditor", "DTLS or SDES"), "any"),
    (QT_TRANSLATE_NOOP("AccountEditor", "DTLS-SRTP (fingerprint in the SDP)"), "dtls"),
    (QT_TRANSLATE_NOOP("AccountEditor", "SDES (keys in the SDP, over TLS only)"), "sdes"),
)
TURN_TRANSPORT_CHOICES = (
    (QT_TRANSLATE_NOOP("AccountEditor", "UDP"), "udp"),
    (QT_TRANSLATE_NOOP("AccountEditor", "TCP (where UDP is blocked)"), "tcp"),
    (QT_TRANSLATE_NOOP("AccountEditor", "TLS (where UDP is blocked, encrypted)"), "tls"),
)


class AccountEditor(QDialog):
    """Add or edit one account; the password is kept where the user chose when the settings are applied."""

    def __init__(
        self,
        entry: AccountSettings | None,
        tester: ConnectionTester,
        parent: QWidget | None = None,
        *,
        has_password: bool = False,
    ) -> None:
        super().__init__(parent)
        self.tester = tester
        self.setWindowTitle(self.tr("Edit account") if entry is not None else self.tr("Add account"))
        self.setAccessibleName(self.tr("Account editor"))
        self.setMinimumWidth(480)
        entry = entry or AccountSettings(aor="")
        self.original = entry
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.aor = QLineEdit(entry.aor)
        self.aor.setPlaceholderText(self.tr("alice@example.com"))
        self.aor.setAccessibleName(self.tr("Address of record"))
        self.display_name = QLineEdit(entry.display_name or "")
        self.display_name.setAccessibleName(self.tr("Display name"))
        self.auth_user = QLineEdit(entry.auth_user or "")
        self.auth_user.setPlaceholderText(self.tr("optional: the user part of the address"))
        self.auth_user.setAccessibleName(self.tr("Authentication user"))
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        kept = stored_in(entry) if entry.aor else None
        self.password.setPlaceholderText(
            {
                "keyring": self.tr("unchanged (kept in the system keyring)"),
                "file": self.tr("unchanged (kept in its file)"),
            }.get(kept or "", self.tr("unchanged") if has_password else "")
        )
        self.password.setAccessibleName(self.tr("Password"))
        self.registrar = QLineEdit(entry.registrar or "")
        self.registrar.setPlaceholderText(self.tr("optional: the address's domain; host, host:port or sip: URI"))
        self.registrar.setAccessibleName(self.tr("Registrar"))
        self.proxy = QLineEdit(entry.outbound_proxy or "")
        self.proxy.setPlaceholderText(self.tr("optional: host, host:port or sip: URI"))
        self.proxy.setAccessibleName(self.tr("Outbound proxy"))
        self.stun = QLineEdit(entry.stun_server or "")
        self.stun.setPlaceholderText(self.tr("optional: host or host:port; behind a NAT it tells the public address"))
        self.stun.setAccessibleName(self.tr("STUN server"))
        self.turn = QLineEdit(entry.turn_server or "")
        self.turn.setPlaceholderText(self.tr("optional: host or host:port; calls relay their audio through it"))
        self.turn.setAccessibleName(self.tr("TURN server"))
        self.turn_user = QLineEdit(entry.turn_user or "")
        self.turn_user.setAccessibleName(self.tr("TURN user"))
        self.turn_password = QLineEdit()
        self.turn_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.turn_password.setAccessibleName(self.tr("TURN password"))
        if entry.turn_server:
            self.turn_password.setPlaceholderText(self.tr("unchanged (kept in the system keyring)"))
        self.turn_transport = QComboBox()
        self.turn_transport.setAccessibleName(self.tr("TURN transport"))
        self.turn_transport.setToolTip(
            self.tr("How calls reach the TURN server: TCP or TLS gets through networks that block UDP")
        )
        for choice, name in TURN_TRANSPORT_CHOICES:
            self.turn_transport.addItem(self.tr(choice), name)
        self.turn_transport.setCurrentIndex(max(0, self.turn_transport.findData(entry.turn_transport)))
        self.ice = QCheckBox(self.tr("Find the media path with &ICE when a STUN or TURN server is set"))
        self.ice.setChecked(entry.ice is not False)
        self.ice.setAccessibleName(self.tr("Use ICE"))
        self.ice.setToolTip(self.tr("Off: calls use the address in the SDP, and the relay for every call with TURN"))
        self.transport = QComboBox()
        self.transport.addItems(list(TRANSPORT_NAMES))
        self.transport.setCurrentText(entry.transport if entry.transport in TRANSPORT_NAMES else "udp")
        self.transport.setAccessibleName(self.tr("Transport"))
        self.register = QCheckBox(self.tr("&Register with the server"))
        self.register.setChecked(entry.register)
        self.register.setAccessibleName(self.tr("Register with the server"))
        self.register.setToolTip(self.tr("Off: no server, calls and messages go straight to other phones on the LAN"))
        form.addRow(self.tr("&Address:"), self.aor)
        form.addRow(self.tr("&Display name:"), self.display_name)
        form.addRow(self.tr("A&uth user:"), self.auth_user)
        form.addRow(self.tr("&Password:"), self.password)
        form.addRow(self.tr("Re&gistrar:"), self.registrar)
        form.addRow(self.tr("&Outbound proxy:"), self.proxy)
        form.addRow(self.tr("&STUN server:"), self.stun)
        form.addRow(self.tr("TUR&N server:"), self.turn)
        form.addRow(self.tr("TURN user:"), self.turn_user)
        form.addRow(self.tr("TURN password:"), self.turn_password)
        form.addRow(self.tr("TURN transport:"), self.turn_transport)
        form.addRow("", self.ice)
        form.addRow(self.tr("&Transport:"), self.transport)
        self.srtp = QComboBox()
        self.srtp.setAccessibleName(self.tr("Media encryption"))
        self.srtp.setToolTip(self.tr("SRTP for the call's audio; the call window shows a lock when it is on"))
        for label, value in SRTP_CHOICES:
            self.srtp.addItem(self.tr(label), value)
        self.srtp.setCurrentIndex(max(0, self.srtp.findData(entry.srtp)))
        self.srtp_keys = QComboBox()
        self.srtp_keys.setAccessibleName(self.tr("Encryption keys"))
        for label, value in SRTP_KEY_CHOICES:
            self.srtp_keys.addItem(self.tr(label), value)
        self.srtp_keys.setCurrentIndex(max(0, self.srtp_keys.findData(entry.srtp_keys)))
        self.srtp.currentIndexChanged.connect(lambda _i: self.srtp_keys.setEnabled(self.srtp.currentData() != "off"))
        self.srtp_keys.setEnabled(entry.srtp != "off")
        form.addRow(self.tr("&Encryption:"), self.srtp)
        form.addRow(self.tr("&Keys by:"), self.srtp_keys)
        self.client_certificate = QLineEdit(entry.tls_certificate or "")
        self.client_certificate.setPlaceholderText(self.tr("optional: a PEM file with the certificate and its key"))
        self.client_certificate.setAccessibleName(self.tr("Client certificate"))
        self.client_certificate.setToolTip(self.tr("Offered to the account's servers over TLS when they ask for one"))
        form.addRow(self.tr("C&lient certificate:"), self.client_certificate)
        form.addRow("", self.register)
        # LAN discovery (mDNS/DNS-SD): by default on without a server and off with one, until the user says.
        self.lan_announce = QCheckBox(self.tr("&Visible to phones nearby (announced on the LAN)"))
        self.lan_announce.setAccessibleName(self.tr("Announce on the LAN"))
        self.lan_announce.setToolTip(
            self.tr(
                "Other phones on this network list the account under Nearby (mDNS/DNS-SD). Whether their calls "
                "ring is still up to the account: only an account without a server takes calls from anyone."
            )
        )
        self._lan_chosen = entry.lan_announce is not None
        server = entry.register or bool(entry.outbound_proxy)
        self.lan_announce.setChecked(entry.lan_announce if entry.lan_announce is not None else not server)
        self.lan_announce.clicked.connect(self._lan_clicked)
        self.register.toggled.connect(self._server_changed)
        self.proxy.textChanged.connect(lambda _text: self._server_changed())
        form.addRow("", self.lan_announce)
        self.enabled = QCheckBox(self.tr("&Use this account"))
        self.enabled.setChecked(entry.enabled)
        self.enabled.setAccessibleName(self.tr("Use this account"))
        self.enabled.setToolTip(self.tr("Off: the account is kept in the settings but does not register, call or chat"))
        form.addRow("", self.enabled)
        layout.addLayout(form)
        self.storage = StorageChoice(entry.aor, kept)
        self.aor.textChanged.connect(self._aor_changed)
        layout.addWidget(self.storage)

        test_row = QHBoxLayout()
        self.test_button = QPushButton(self.tr("Test &connection"))
        self.test_button.setAccessibleName(self.tr("Test connection"))
        self.test_button.setToolTip(self.tr("Register once with these settings and say what the server answered"))
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = plain_label("")
        self.test_result.setWordWrap(True)
        self.test_result.setAccessibleName(self.tr("Connection test result"))
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.network_button = QPushButton(self.tr("Test the &network"))
        self.network_button.setAccessibleName(self.tr("Test the network"))
        self.network_button.setToolTip(
            self.tr("Ask the STUN server what kind of NAT is between this computer and the internet")
        )
        self.network_button.clicked.connect(self.test_network)
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.network_button)
        test_row.addWidget(self.test_result, 1)
        layout.addLayout(test_row)

        self.problem = plain_label("")
        self.problem.setWordWrap(True)
        self.problem.setAccessibleName(self.tr("Problem"))
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setAccessibleName(self.tr("OK"))
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName(self.tr("Cancel"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.result_settings: AccountSettings | None = None
        self.result_password: str | None = None
        self.result_turn_password: str | None = None
        self.result_storage: Storage = self.storage.storage()
        self.initial_storage = kept
        self.testing = False

    def _lan_clicked(self) -> None:
        self._lan_chosen = True

    def _server_changed(self, *_args: object) -> None:
        """The announcement follows "has a server" until the user sets it."""
        if not self._lan_chosen:
            self.lan_announce.setChecked(not (self.register.isChecked() or bool(self.proxy.text().strip())))

    def _aor_changed(self, text: str) -> None:
        text = text.strip()
        self.storage.set_aor(text if not text or text.lower().startswith(("sip:", "sips:")) else f"sip:{text}")

    def build(self) -> tuple[AccountSettings, Account]:
        """The account the form describes (settings and a UA account); raises AccountError with what is wrong.

        Addresses are saved as the URIs the UA makes of what was typed (``127.0.0.1:5060`` is
        ``sip:127.0.0.1:5060``)."""
        if not self.aor.text().strip():
            raise AccountError("the address is missing")
        entry = dataclasses.replace(
            self.original,
            aor=self.aor.text().strip(),
            display_name=self.display_name.text().strip() or None,
            auth_user=self.auth_user.text().strip() or None,
            registrar=self.registrar.text().strip() or None,
            outbound_proxy=self.proxy.text().strip() or None,
            stun_server=self.stun.text().strip() or None,
            turn_server=self.turn.text().strip() or None,
            turn_user=self.turn_user.text().strip() or None,
            turn_transport=str(self.turn_transport.currentData()),
            ice=None if self.ice.isChecked() else False,
            transport=self.transport.currentText(),
            register=self.register.isChecked(),
            enabled=self.enabled.isChecked(),
            srtp=self.srtp.currentData(),
            srtp_keys=str(self.srtp_keys.currentData()),
            tls_certificate=self.client_certificate.text().strip() or None,
            lan_announce=self.lan_announce.isChecked() if self._lan_chosen else None,
            extra=dict(self.original.extra),
        )
        password = self.password.text()
        if not password and self.original.aor:
            password = load_password(self.original) or ""
        if entry.turn_server and not entry.turn_user:
            raise AccountError(f"the TURN server {entry.turn_server} needs a user name")
        turn_password = self.turn_password.text() or None
        if entry.turn_server and turn_password is None and load_turn_password(entry) is None:
            raise AccountError(f"the TURN server {entry.turn_server} needs a password")
        account = account_from_settings(entry, password, register=True, turn_password=turn_password)
        entry = dataclasses.replace(
            entry,
            aor=account.aor,
            registrar=account.registrar,
            outbound_proxy=account.outbound_proxy,
            stun_server=account.stun_server,
            turn_server=account.turn_server,
        )
        return entry, account

    def test_connection(self) -> None:
        try:
            _entry, account = self.build()
        except AccountError as exc:
            self.test_result.setText(cannot("test the account", str(exc)))
            return
        self.testing = True
        self.test_button.setEnabled(False)
        self.test_result.setText(self.tr("testing …"))
        self.test_result.setAccessibleName(self.tr("Connection test result: testing"))
        self.tester.start(account, self._tested)

    def test_network(self) -> None:
        server = self.stun.text().strip()
        if not server:
            self.test_result.setText(self.tr("The network test needs a STUN server: fill in the STUN server field."))
            return
        self.testing = True
        self.network_button.setEnabled(False)
        self.test_result.setText(self.tr("testing …"))
        self.tester.start_nat_test(server, self._tested)

    def _tested(self, text: str) -> None:
        self.network_button.setEnabled(True)
        self.testing = False
        self.test_button.setEnabled(True)
        self.test_result.setText(text)
        self.test_result.setAccessibleName(self.tr("Connection test result: {text}").format(text=text))

    def accept(self) -> None:
        try:
            entry, _account = self.build()
        except AccountError as exc:
            self.problem.setText(cannot("save the account", str(exc)))
            return
        self.result_settings = entry
        self.result_password = self.password.text() or None
        self.result_turn_password = self.turn_password.text() or None
        self.result_storage = self.storage.storage()
        super().accept()


class AccountsPage(QWidget):
    """The accounts of ``settings`` (edited in place): add, edit, remove; new passwords kept until applied."""

    def __init__(self, settings: Settings, tester: ConnectionTester, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.tester = tester
        self.pending_passwords: dict[str, str] = {}
        self.pending_turn_passwords: dict[str, str] = {}
        # Where each pending password goes; an account whose choice changed without a new password
        # has its kept password moved.
        self.pending_storage: dict[str, Storage] = {}
        layout = QVBoxLayout(self)
        self.account_list = QListWidget()
        self.account_list.setAccessibleName(self.tr("Accounts"))
        self.account_list.itemActivated.connect(lambda _item: self.edit_account())
        layout.addWidget(self.account_list, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton(self.tr("&Add…"))
        self.add_button.setAccessibleName(self.tr("Add account"))
        self.add_button.clicked.connect(lambda: self.edit_account(new=True))
        self.edit_button = QPushButton(self.tr("&Edit…"))
        self.edit_button.setAccessibleName(self.tr("Edit account"))
        self.edit_button.clicked.connect(lambda: self.edit_account())
        self.remove_button = QPushButton(self.tr("&Remove"))
        self.remove_button.setAccessibleName(self.tr("Remove account"))
        self.remove_button.clicked.connect(self.remove_account)
        for button in (self.add_button, self.edit_button, self.remove_button):
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        note = QLabel(
            self.tr(
                "Passwords are kept where you choose for each account (the system keyring, a file only you can "
                "read, or nowhere: asked for when needed), never in the settings file. "
                "Account changes take effect as soon as they are applied; calls in progress go on."
            )
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        self.refresh_accounts()

    def refresh_accounts(self) -> None:
        current = self.account_list.currentRow()
        self.account_list.clear()
        for entry in self.settings.accounts:
            server = (entry.registrar or entry.aor.split("@")[-1]).split(";", 1)[0].removeprefix("sip:")
            how = self.tr("registers at {server}").format(server=server) if entry.register else self.tr("LAN only")
            name = f"{entry.display_name} " if entry.display_name else ""
            disabled = "" if entry.enabled else " " + self.tr("(disabled)")
            item = QListWidgetItem(f"{name}<{entry.aor}> — {how}, {entry.transport.upper()}{disabled}")
            item.setData(Qt.ItemDataRole.UserRole, entry.aor)
            self.account_list.addItem(item)
        if self.settings.accounts:
            self.account_list.setCurrentRow(min(max(current, 0), len(self.settings.accounts) - 1))
        has = bool(self.settings.accounts)
        self.edit_button.setEnabled(has)
        self.remove_button.setEnabled(has)

    def account_editor(self, index: int | None) -> AccountEditor:
        """The editor for account ``index`` (None: a new one), not yet shown."""
        entry = self.settings.accounts[index] if index is not None else None
        has_password = entry is not None and (entry.aor in self.pending_passwords or stored_in(entry) is not None)
        return AccountEditor(entry, self.tester, self, has_password=has_password)

    def edit_account(self, new: bool = False) -> AccountEditor | None:
        index = None if new else self.account_list.currentRow()
        if index is not None and not 0 <= index < len(self.settings.accounts):
            return None
        editor = self.account_editor(index)
        editor.finished.connect(lambda _code: self.take_account(editor, index))
        editor.open()
        return editor

    def take_account(self, editor: AccountEditor, index: int | None) -> None:
        """Keep what an accepted editor describes (called when it closes)."""
        entry = editor.result_settings
        if editor.result() != QDialog.DialogCode.Accepted or entry is None:
            return
        if index is None:
            self.settings.accounts.append(entry)
        else:
            old = self.settings.accounts[index]
            if old.aor != entry.aor and old.aor in self.pending_passwords:
                self.pending_passwords[entry.aor] = self.pending_passwords.pop(old.aor)
            self.settings.accounts[index] = entry
        if editor.result_turn_password:
            self.pending_turn_passwords[entry.aor] = editor.result_turn_password
        if editor.result_password:
            self.pending_passwords[entry.aor] = editor.result_password
        elif index is not None and (
            entry.aor != editor.original.aor or editor.result_storage != (editor.initial_storage or "session")
        ):
            kept = load_password(editor.original)
            if kept:
                # The address or the place changed: the password moves with it.
                self.pending_passwords[entry.aor] = kept
        self.pending_storage[entry.aor] = editor.result_storage
        self.refresh_accounts()
        self.account_list.setCurrentRow(len(self.settings.accounts) - 1 if index is None else index)

    def remove_account(self) -> None:
        index = self.account_list.currentRow()
        if 0 <= index < len(self.settings.accounts):
            entry = self.settings.accounts.pop(index)
            self.pending_passwords.pop(entry.aor, None)
            self.pending_storage.pop(entry.aor, None)
            self.refresh_accounts()

    def store_passwords(self) -> tuple[dict[str, str], list[str]]:
        """Keep the passwords typed since the last apply where their accounts say. Returns them (the running
        phone uses them at once, also those kept nowhere) and what the user should know, in words: a
        keyring that refuses costs no account, the password is then used until the softphone closes."""
        typed: dict[str, str] = {}
        notes: list[str] = []
        entries = {entry.aor: entry for entry in self.settings.accounts}
        for aor, password in list(self.pending_passwords.items()):
            entry = entries.get(aor)
            if entry is None:
                continue
            note = keep_password(entry, password, self.pending_storage.get(aor, "keyring"))
            if note is not None:
                notes.append(note)
            typed[aor] = password
        for aor, password in self.pending_turn_passwords.items():
            if aor in entries:
                note = keep_turn_password(entries[aor], password)
                if note is not None:
                    notes.append(note)
        self.pending_turn_passwords.clear()
        self.pending_passwords.clear()
        self.pending_storage.clear()
        return typed, notes

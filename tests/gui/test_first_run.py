"""A first start as a new user has it: no keyring on the desktop, a sip: link clicked while the wizard is
open. The real application object (``Softphone``) against the Kamailio fixture."""

from __future__ import annotations

import secrets
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from softphone.gui.accounts import AccountWizard
from softphone.gui.app import Softphone
from softphone.store import Store, load_settings
from softphone.ua import Account, UserAgent, silence_media
from tests.conftest import ROOT
from tests.gui.harness import WAIT_MS, Peer, Watchdog
from tests.gui.test_single_instance import app_command, app_env, wait_exit
from tests.kamailio_server import Kamailio
from tests.keyring_memory import FailingKeyring
from tests.ua import make_ua


def loopback_ua(accounts: list[Account], store: Store) -> UserAgent:
    return make_ua(*accounts, media=silence_media(), store=store)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[..., Softphone]]:
    """Starts of the application on one settings file and database (a restart is another start)."""
    phones: list[Softphone] = []
    name = f"softphone-test-first-run-{secrets.token_hex(4)}"

    def start(**options: object) -> Softphone:
        phone = Softphone(
            settings_path=tmp_path / "settings.json",
            db_path=tmp_path / "phone.db",
            instance_name=name,
            use_tray=False,
            ring=False,
            ua_factory=loopback_ua,
            **options,  # type: ignore[arg-type]
        )
        phones.append(phone)
        phone.window.show()  # as main() does
        return phone

    try:
        yield start
    finally:
        for phone in phones:
            phone.close()


def when_wizard_opens(act: Callable[[AccountWizard], None]) -> None:
    """Run ``act`` on the first-start wizard once it is on screen (it runs a loop of its own)."""

    def look() -> None:
        wizard = QApplication.activeModalWidget()
        if not isinstance(wizard, AccountWizard):
            QTimer.singleShot(20, look)
            return
        act(wizard)

    QTimer.singleShot(0, look)


def test_without_a_keyring_the_account_survives_a_restart_and_its_password_is_asked_for(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, failing_keyring: FailingKeyring, started: Callable[..., Softphone]
) -> None:
    from softphone.gui.passwords import PasswordPrompt
    from softphone.store import default_password_path

    user, password = "n" + secrets.token_hex(4), secrets.token_hex(6)
    kamailio.add_user(user, password)
    aor = kamailio.aor(user)
    host_port = f"{kamailio.host}:{kamailio.udp_port}"
    offered: list[tuple[bool, str]] = []

    def fill_in(wizard: AccountWizard) -> None:
        offered.append((wizard.storage.keyring.isEnabled(), wizard.storage.storage()))
        wizard.aor.setText(aor.removeprefix("sip:"))
        wizard.password.setText(password)
        wizard.registrar.setText(host_port)  # as people type it: no sip:, a port
        wizard.accept()

    # First start: the wizard cannot offer the keyring; by default the password is kept nowhere.
    when_wizard_opens(fill_in)
    phone = started()
    assert offered == [(False, "session")]
    row = phone.window.account_rows[aor]
    qtbot.waitUntil(lambda: row.state == "registered", timeout=WAIT_MS)
    saved = (tmp_path / "settings.json").read_text()
    assert password not in saved and f'"registrar": "sip:{host_port}"' in saved
    phone.close()

    # Restart: the account is there, and its password is asked for, without blocking anything.
    phone = started(run_wizard=False)
    window = phone.window
    row = window.account_rows[aor]
    watchdog = Watchdog()
    qtbot.waitUntil(lambda: aor in window.passwords.prompts, timeout=WAIT_MS)
    prompt = window.passwords.prompts[aor]
    assert isinstance(prompt, PasswordPrompt) and prompt.isVisible() and not prompt.isModal()
    assert QApplication.activeModalWidget() is None
    host = aor.removeprefix("sip:")
    assert prompt.problem.text() == f"Cannot register {host}: a password is needed (401)."
    assert row.state == "failed"
    banner = window.accounts_area.banners[aor]
    assert banner.isVisible() and banner.password_button.isVisible()
    assert banner.text().startswith(f"Cannot register {host}: a password is needed (401).")
    # Kept in a file only the user can read, after the warning says what that means.
    assert not prompt.storage.keyring.isEnabled()
    assert not prompt.storage.warning.isVisible()
    prompt.storage.file.setChecked(True)
    assert prompt.storage.warning.isVisible() and "unencrypted" in prompt.storage.warning.text()
    assert str(default_password_path(aor)) in prompt.storage.warning.text()
    prompt.password.setText(password)
    prompt.buttons.accepted.emit()
    qtbot.waitUntil(lambda: row.state == "registered", timeout=WAIT_MS)
    assert not banner.isVisible() and not window.passwords.prompts
    assert watchdog.stop() < 1.0, "the GUI thread was blocked"
    kept = default_password_path(aor)
    assert kept.read_text() == password + "\n"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    entry = load_settings(tmp_path / "settings.json").accounts[0]
    assert entry.password_file == str(kept)
    assert password not in (tmp_path / "settings.json").read_text()
    phone.close()

    # Another restart: the password comes from the file; nothing is asked.
    phone = started(run_wizard=False)
    row = phone.window.account_rows[aor]
    qtbot.waitUntil(lambda: row.state == "registered", timeout=WAIT_MS)
    assert not phone.window.passwords.prompts


def test_settings_keep_a_password_without_a_keyring_instead_of_refusing(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path, failing_keyring: FailingKeyring, started: Callable[..., Softphone]
) -> None:
    from softphone.gui.settings_dialog import show_settings
    from softphone.store import default_password_path

    phone = started(run_wizard=False)
    user, password = "s" + secrets.token_hex(4), secrets.token_hex(6)
    kamailio.add_user(user, password)
    aor = kamailio.aor(user)
    dialog = show_settings(phone.window)
    editor = dialog.accounts_page.edit_account(new=True)
    assert editor is not None
    assert not editor.storage.keyring.isEnabled()
    editor.aor.setText(aor)
    editor.password.setText(password)
    editor.registrar.setText(kamailio.proxy_uri("udp"))
    editor.storage.file.setChecked(True)
    editor.accept()
    assert dialog.apply(), dialog.status.text()
    assert default_password_path(aor).read_text() == password + "\n"
    row = phone.window.account_rows[aor]
    qtbot.waitUntil(lambda: row.state == "registered", timeout=WAIT_MS)
    dialog.close()


def test_a_link_clicked_while_the_first_start_wizard_is_open_is_called_once_there_is_an_account(
    qtbot: QtBot, tmp_path: Path
) -> None:
    bob = Peer(qtbot, Account(f"sip:bob{secrets.token_hex(2)}@127.0.0.1", register=False))
    qtbot.waitUntil(lambda: bob.bridge.is_started, timeout=WAIT_MS)
    bob_uri = f"sip:{bob.account.user}@127.0.0.1:{bob.ua.stack.transport.local_address('UDP')[1]}"
    name = f"softphone-test-link-{secrets.token_hex(4)}"
    second: list[subprocess.Popen[bytes]] = []
    exit_codes: list[int | None] = []
    polls = WAIT_MS // 50

    def click_link_then_fill_in(wizard: AccountWizard) -> None:
        if not second:
            # A config of its own: a second start that did not hand over would open a wizard of its own.
            command = app_command(name, "--config", str(tmp_path / "other.json"), "--db", str(tmp_path / "o.db"))
            second.append(subprocess.Popen([*command, bob_uri], env=app_env(), cwd=ROOT))
        proc = second[0]
        if proc.poll() is None and len(exit_codes) < polls:
            exit_codes.append(None)
            # Polled from the wizard's own event loop, which must serve the link meanwhile.
            QTimer.singleShot(50, lambda: click_link_then_fill_in(wizard))
            return
        exit_codes.append(proc.poll())
        wizard.lan_only.setChecked(True)
        wizard.aor.setText("alice@127.0.0.1")
        wizard.accept()

    when_wizard_opens(click_link_then_fill_in)
    try:
        phone = Softphone(
            settings_path=tmp_path / "settings.json",
            db_path=tmp_path / "phone.db",
            instance_name=name,
            use_tray=False,
            ring=False,
            ua_factory=loopback_ua,
        )
        try:
            assert exit_codes[-1] == 0, "the second start did not hand its link over while the wizard was open"
            incoming = bob.wait_incoming()
            assert incoming.remote_uri == "sip:alice@127.0.0.1"
        finally:
            phone.close()
    finally:
        for proc in second:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        bob.stop()


def test_a_link_while_there_is_no_account_waits_for_one(
    qtbot: QtBot, tmp_path: Path, memory_keyring: object, started: Callable[..., Softphone]
) -> None:
    """The wizard was cancelled: the link is called once an account is set up in Settings."""
    from softphone.gui.settings_dialog import show_settings

    bob = Peer(qtbot, Account(f"sip:bob{secrets.token_hex(2)}@127.0.0.1", register=False))
    qtbot.waitUntil(lambda: bob.bridge.is_started, timeout=WAIT_MS)
    bob_uri = f"sip:{bob.account.user}@127.0.0.1:{bob.ua.stack.transport.local_address('UDP')[1]}"
    when_wizard_opens(lambda wizard: wizard.reject())
    phone = started()
    try:
        window = phone.window
        assert window.no_account_label.isVisible()
        proc = subprocess.Popen(app_command(phone.instance.name, bob_uri), env=app_env(), cwd=ROOT)
        assert wait_exit(qtbot, proc) == 0
        qtbot.waitUntil(lambda: "once an account is set up" in window.statusBar().currentMessage(), timeout=WAIT_MS)
        dialog = show_settings(window)
        editor = dialog.accounts_page.edit_account(new=True)
        assert editor is not None
        editor.aor.setText("carol@127.0.0.1")
        editor.register.setChecked(False)
        editor.accept()
        assert dialog.apply()
        incoming = bob.wait_incoming()
        assert incoming.remote_uri == "sip:carol@127.0.0.1"
        dialog.close()
    finally:
        bob.stop()

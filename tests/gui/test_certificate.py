"""A registrar whose certificate does not verify: the main window shows its fingerprint; trusting it registers."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from softphone.store import AccountSettings
from tests.gui.harness import WAIT_MS, GuiPhone, new_account
from tests.kamailio_server import Kamailio, make_self_signed_certificate


def test_untrusted_registrar_certificate_is_shown_and_can_be_trusted(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    make_self_signed_certificate(other_ca, tmp_path / "other-ca.key", "Some Other CA")
    fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(kamailio.ca_cert_path.read_text())).digest().hex(":").upper()
    account = new_account(kamailio)
    account.registrar = kamailio.proxy_uri("tls")
    account.transport = "tls"
    account.ca_file = str(other_ca)
    phone = GuiPhone(qtbot, account, tmp_path)
    phone.window.settings.accounts.append(AccountSettings(account.aor, registrar=account.registrar, transport="tls"))
    try:
        window = phone.window
        qtbot.waitUntil(lambda: window.trust_box is not None and window.trust_box.isVisible(), timeout=WAIT_MS)
        box = window.trust_box
        assert box is not None
        assert fingerprint in box.informativeText() and "self-signed" in box.text()
        row = window.account_rows[account.aor]
        assert row.state == "failed"
        trust = next(b for b in box.buttons() if b.text() == "Trust this certificate")
        assert isinstance(box, QMessageBox)
        trust.click()
        phone.wait_registered()
        assert window.settings.accounts[0].tls_fingerprints == [fingerprint]
        assert fingerprint in (tmp_path / "settings.json").read_text()
    finally:
        phone.close()

"""Asking the user whether to trust a server certificate that did not verify, by its fingerprint."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate

__all__ = ["TLS_PROBLEMS", "ask_to_trust"]

# Why a server certificate was not accepted, in words (softphone.transport.TlsReason values).
TLS_PROBLEMS = {
    "untrusted": QT_TRANSLATE_NOOP("Certificate", "nobody we trust vouches for it (it may be self-signed)"),
    "name-mismatch": QT_TRANSLATE_NOOP("Certificate", "it was issued for another name"),
    "expired": QT_TRANSLATE_NOOP("Certificate", "it has expired"),
    "not-yet-valid": QT_TRANSLATE_NOOP("Certificate", "it is not valid yet"),
    "invalid": QT_TRANSLATE_NOOP("Certificate", "it is not acceptable"),
}


def ask_to_trust(
    parent: QWidget, aor: str, problem: str, fingerprint: str, decided: Callable[[bool], None]
) -> QMessageBox:
    """Open (without blocking) the question; ``decided(True)`` when the user trusts the certificate."""
    why = translate("Certificate", TLS_PROBLEMS.get(problem, "it could not be verified"))
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(translate("Certificate", "Untrusted server certificate"))
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(
        translate("Certificate", "The server of {aor} presented a certificate that was not accepted: {why}.").format(
            aor=aor, why=why
        )
    )
    box.setInformativeText(
        translate("Certificate", "Trust it only if this fingerprint matches the one your provider gave you (SHA-256):")
        + "\n\n"
        + fingerprint
    )
    trust = box.addButton(translate("Certificate", "Trust this certificate"), QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setAccessibleName(translate("Certificate", "Untrusted server certificate"))
    box.finished.connect(lambda _: decided(box.clickedButton() is trust))
    box.open()
    return box

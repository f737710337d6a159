"""Help → About: what this softphone is, the versions it runs on, and where its documentation is.

The versions are the ones a bug report needs: the softphone's, Qt's (and PySide's), the Opus library's
(through the user agent's facade, :func:`softphone.ua.opus_version`) and Python's. The documentation is
the ``Documentation`` project URL of the installed package when it names one, else the README of the
source tree the softphone runs from; links open in the desktop's browser (``QDesktopServices``).
"""

from __future__ import annotations

import importlib.metadata
import platform
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from softphone import __version__
from softphone.gui.i18n import translate
from softphone.gui.icons import app_icon
from softphone.gui.text import plain_label
from softphone.ua import opus_version

__all__ = ["AboutDialog", "docs_url", "open_docs", "versions"]

_SOURCE_README = Path(__file__).resolve().parent.parent.parent / "README.md"


def docs_url() -> QUrl | None:
    """Where the user's documentation is: the package's ``Documentation`` URL, else the source tree's README."""
    try:
        urls = importlib.metadata.metadata("softphone").get_all("Project-URL") or []
    except importlib.metadata.PackageNotFoundError:
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("documentation", "docs", "homepage") and url.strip():
            return QUrl(url.strip())
    if _SOURCE_README.is_file():
        return QUrl.fromLocalFile(str(_SOURCE_README))
    return None


def open_docs() -> bool:
    """Open the documentation in the desktop's browser or viewer; False when there is none to open."""
    url = docs_url()
    return url is not None and QDesktopServices.openUrl(url)


def versions() -> list[tuple[str, str]]:
    """(component, version) for the About box and bug reports."""
    opus = opus_version()
    return [
        ("Softphone", __version__),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("Opus", opus.removeprefix("libopus ") if opus else translate("AboutDialog", "not available")),
        ("Python", platform.python_version()),
    ]


class AboutDialog(QDialog):
    """The About box: the name, what it is for, the versions, a link to the documentation, and Close."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("About Softphone"))
        self.setAccessibleName(self.tr("About Softphone"))
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(72, 72))
        logo.setAlignment(Qt.AlignmentFlag.AlignTop)
        title = QLabel(self.tr("Softphone {version}").format(version=__version__))
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        title.setFont(font)
        title.setAccessibleName(self.tr("Name and version"))
        blurb = plain_label(
            self.tr("Calls, presence and chat over any standards-compliant SIP service, or with no server on a LAN.")
        )
        blurb.setWordWrap(True)
        self.version_labels: dict[str, QLabel] = {}
        table = QVBoxLayout()
        table.setSpacing(2)
        for name, version in versions():
            label = plain_label(self.tr("{name} {version}").format(name=name, version=version))
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setAccessibleName(name)
            self.version_labels[name] = label
            table.addWidget(label)
        self.docs_link = QLabel()
        self.docs_link.setAccessibleName(self.tr("Documentation"))
        url = docs_url()
        if url is not None:
            self.docs_link.setText(f'<a href="{url.toString()}">{self.tr("Documentation")}</a>')
            self.docs_link.setTextFormat(Qt.TextFormat.RichText)
            self.docs_link.linkActivated.connect(lambda href: QDesktopServices.openUrl(QUrl(href)))
            self.docs_link.setToolTip(url.toDisplayString())
        else:
            self.docs_link.setText(self.tr("The documentation is not installed with this copy."))
        text = QVBoxLayout()
        text.setSpacing(8)
        text.addWidget(title)
        text.addWidget(blurb)
        text.addLayout(table)
        text.addWidget(self.docs_link)
        top = QHBoxLayout()
        top.setSpacing(16)
        top.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAccessibleName(self.tr("Close"))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 20, 20, 12)
        layout.setSpacing(16)
        layout.addLayout(top)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

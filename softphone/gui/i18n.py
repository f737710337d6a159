"""The interface in the user's language: Qt's translation machinery over ``resources/translations``.

Every text a user reads goes through Qt: ``self.tr("…")`` in a ``QObject``
subclass (the context is the class's name), or :func:`translate` with a
literal context elsewhere. ``pyside6-lupdate`` collects both forms from the
sources into ``resources/translations/softphone_<lang>.ts``; ``pyside6-lrelease``
compiles those into the ``.qm`` files the application loads (``make
translations`` does both). Placeholders are ``str.format`` names
(``"Calling {who} …"``) so a translation may move them; counts use Qt's
plural forms (``translate(ctx, "%n missed call(s)", "", n)``: lupdate wants the empty disambiguation; English
resolves the ``(s)``).

:func:`install_translators` picks the language the way the desktop says:
``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` (``QLocale.system()``),
and loads Qt's own translation of its standard buttons and dialogs
(``qtbase_<lang>.qm`` from the Qt installation) next to ours. A language
without a translation shows the English source texts.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

__all__ = [
    "QT_TRANSLATE_NOOP",
    "install_translators",
    "remove_translators",
    "resources_dir",
    "translate",
    "translations_dir",
]

_PACKAGE = Path(__file__).resolve().parent.parent


def resources_dir(name: str) -> Path:
    """``resources/<name>``: ``$SOFTPHONE_RESOURCES/<name>``, else the installed package data
    (``softphone/resources/<name>``), else the source tree's."""
    override = os.environ.get("SOFTPHONE_RESOURCES")
    if override:
        return Path(override) / name
    installed = _PACKAGE / "resources" / name
    return installed if installed.is_dir() else _PACKAGE.parent / "resources" / name


def translations_dir() -> Path:
    return resources_dir("translations")


def translate(context: str, text: str, disambiguation: str | None = None, n: int = -1) -> str:
    """``QCoreApplication.translate``; ``pyside6-lupdate`` finds calls of this name with literal arguments.

    With a count ``n`` the source text is English with ``(s)`` where the plural differs
    (``"%n missed call(s)"``); translations give each plural form, and without one the ``(s)`` is
    resolved here: "1 missed call", "2 missed calls"."""
    shown = QCoreApplication.translate(context, text, disambiguation, n)
    if n >= 0 and "(s)" in shown:
        shown = shown.replace("(s)", "" if n == 1 else "s")
    return shown


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Marks ``text`` for ``pyside6-lupdate`` in ``context`` where it is defined (a table of words); it is
    translated where it is shown, with :func:`translate` and the same context."""
    return text


def install_translators(app: QCoreApplication, locale: QLocale | None = None) -> list[QTranslator]:
    """Load the softphone's translation for ``locale`` (the system's by default) and Qt's own, and install
    them on ``app``. Returns the translators installed (none for English or a language we do not have)."""
    locale = locale if locale is not None else QLocale.system()
    installed: list[QTranslator] = []
    ours = QTranslator(app)
    if ours.load(locale, "softphone", "_", str(translations_dir())):
        app.installTranslator(ours)
        installed.append(ours)
        # Qt's standard buttons (OK, Cancel, Apply …) and dialogs, in the same language as ours.
        qt = QTranslator(app)
        if qt.load(locale, "qtbase", "_", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
            app.installTranslator(qt)
            installed.append(qt)
    return installed


def remove_translators(app: QCoreApplication, translators: list[QTranslator]) -> None:
    for translator in translators:
        app.removeTranslator(translator)

"""The interface speaks the desktop's language: German from the shipped translation, English otherwise.

The German translation is complete (every text of softphone/gui, checked against the sources) and
compiled: the committed .qm is what ``pyside6-lrelease`` makes of the .ts, so an installed phone has
the same texts as a translator sees.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from softphone.gui.i18n import install_translators, remove_translators, translations_dir
from softphone.gui.main_window import window_title

ROOT = Path(__file__).resolve().parent.parent.parent
TS = ROOT / "resources" / "translations" / "softphone_de.ts"
QM = ROOT / "resources" / "translations" / "softphone_de.qm"

# A Softphone (main window, a LAN-only account, the core on loopback) started as `softphone` starts,
# with the translators for the desktop's language; it prints what a user reads, as JSON.
SHOW_MAIN_WINDOW = r"""
import json, os, sys, tempfile
from pathlib import Path
from PySide6.QtWidgets import QApplication
app = QApplication(["softphone"])
from softphone.gui.i18n import install_translators
installed = install_translators(app)
from softphone.gui.app import Softphone
from softphone.store import AccountSettings, Settings, save_settings
work = Path(tempfile.mkdtemp())
save_settings(Settings(accounts=[AccountSettings("sip:oma@127.0.0.1", register=False)]), work / "s.json")
phone = Softphone(settings_path=work / "s.json", db_path=work / "s.db", instance_name=f"i18n-{os.getpid()}",
                  use_tray=False, notifications=False, ring=False, run_wizard=False, listen="127.0.0.1")
w = phone.window
w.show()
row = next(iter(w.account_rows.values()))
texts = {
    "translators": len(installed),
    "menus": [a.text() for a in w.menuBar().actions()],
    "file": [a.text() for a in w.menus["file"].actions()],
    "help": [a.text() for a in w.menus["help"].actions() if a.text()],
    "tabs": [w.tabs.tabText(i) for i in range(w.tabs.count())],
    "dial": w.dial_field.placeholderText(),
    "call": w.call_button.text(),
    "account": row.text(),
    "presence": w.presence_combo.itemText(0),
    "title_3": __import__("softphone.gui.main_window", fromlist=["x"]).window_title(3),
}
phone.close()
print(json.dumps(texts))
"""


def show_main_window(language: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(LANG=language, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", SHOW_MAIN_WINDOW], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_main_window_speaks_german_under_a_german_locale() -> None:
    shown = show_main_window("de_DE.UTF-8")
    assert shown["translators"] == 2  # ours and Qt's own (standard buttons)
    assert shown["menus"] == ["&Datei", "&Extras", "&Hilfe"]
    assert shown["file"] == ["&Beenden"]
    assert shown["help"] == ["&Dokumentation", "&Über Softphone"]
    assert shown["tabs"] == ["Kontakte", "Verlauf"]
    assert shown["dial"] == "Name, Nummer oder sip:-Adresse"
    assert shown["call"] == "An&rufen"
    assert "Nur lokales Netz" in str(shown["account"])
    assert shown["presence"] == "Verfügbar"
    assert shown["title_3"] == "3 verpasste Anrufe — Softphone"


def test_the_main_window_stays_english_under_c_and_for_a_language_without_translation() -> None:
    for language in ("C", "pt_BR.UTF-8"):
        shown = show_main_window(language)
        assert shown["translators"] == 0
        assert shown["menus"] == ["&File", "&Tools", "&Help"]
        assert shown["tabs"] == ["Contacts", "History"]
        assert shown["title_3"] == "3 missed calls — Softphone"


def test_translators_follow_the_locale_they_are_given_and_plural_forms_work(qtbot: QtBot) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    installed = install_translators(app, QLocale("de_AT"))
    try:
        assert len(installed) == 2
        assert window_title(1) == "1 verpasster Anruf — Softphone"
        assert window_title(2) == "2 verpasste Anrufe — Softphone"
    finally:
        remove_translators(app, installed)
    assert window_title(1) == "1 missed call — Softphone"
    assert install_translators(app, QLocale("fi_FI")) == []


def test_the_german_translation_is_complete_and_its_qm_is_compiled_from_it(tmp_path: Path) -> None:
    assert translations_dir() == TS.parent and QM.is_file()
    tree = ET.parse(TS)
    unfinished = [m.findtext("source") for m in tree.iter("message") if m.find("translation").get("type")]  # type: ignore[union-attr]
    assert unfinished == []
    # Every text the GUI's sources pass to tr()/translate() is in the file (nothing new left untranslated).
    spec = importlib.util.spec_from_file_location("update_translations", TS.parent / "update.py")
    assert spec is not None and spec.loader is not None
    update = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(update)
    missing = set(update.texts_in_sources()) - update.ts_messages(TS)
    assert not missing, f"texts not in {TS.name} (run make update-translations): {sorted(missing)[:10]}"
    lrelease = Path(sys.executable).parent / "pyside6-lrelease"
    if not lrelease.exists():
        pytest.fail("pyside6-lrelease is missing from the environment (it comes with PySide6-Essentials)")
    fresh = tmp_path / "softphone_de.qm"
    subprocess.run([str(lrelease), str(TS), "-qm", str(fresh)], check=True, capture_output=True)
    assert fresh.read_bytes() == QM.read_bytes(), "softphone_de.qm is older than its .ts: run make translations"

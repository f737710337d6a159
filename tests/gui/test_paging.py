"""Paging in the GUI: the Paging settings page saves and is applied; the Page button pages a group of phones."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QSpinBox
from pytestqt.qtbot import QtBot

from softphone.gui.bridge import UaBridge
from softphone.gui.settings_dialog import SettingsDialog
from softphone.store import PageGroupSettings, Settings, load_settings
from softphone.ua import UserAgent
from softphone.ua.paging import PageGroup
from tests.gui.harness import WAIT_MS
from tests.integration.test_paging import Phone, tone_of
from tests.netns_lab import LanLab
from tests.ua.test_media_wiring import write_tone


def test_the_paging_page_saves_what_is_typed_and_the_running_phone_takes_it(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = Settings()
    settings.paging.listen = [PageGroupSettings("239.0.1.20:5004", 30, ["192.0.2.7"], ["pcmu"])]
    bridge = UaBridge()
    ua = UserAgent([], listen=[("UDP", "127.0.0.1", 0)])
    bridge.start(ua, register=False)
    try:
        qtbot.waitUntil(lambda: bridge.is_started, timeout=WAIT_MS)
        dialog = SettingsDialog(settings, path, bridge, audio=False)
        qtbot.addWidget(dialog)
        page = dialog.paging_page
        assert page.groups.rowCount() == 1
        assert page.groups.item(0, 0).text() == "239.0.1.20:5004"
        assert page.groups.item(0, 2).text() == "192.0.2.7"
        assert page.groups.item(0, 3).text() == "pcmu"
        qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
        page.groups.item(1, 0).setText("not a group")
        page.groups.item(1, 3).setText("opus; g722")
        spin = page.groups.cellWidget(1, 1)
        assert isinstance(spin, QSpinBox)
        spin.setValue(50)
        page.send_groups.setText("239.0.1.21:5004, [ff05::1:21]:5004")
        page.ttl.setValue(4)
        page.during_call.setCurrentIndex(page.during_call.findData("mix"))
        page.codec.setCurrentIndex(page.codec.findData("opus"))
        # The running phone must not join a group on this machine's own network: no groups heard here.
        page.groups.removeRow(0)
        box = dialog.findChild(QDialogButtonBox)
        assert box is not None
        qtbot.mouseClick(box.button(QDialogButtonBox.StandardButton.Apply), Qt.MouseButton.LeftButton)
        assert "not a group" in dialog.status.text()
        saved = load_settings(path).paging
        assert [(g.group, g.priority, g.sources, g.codecs) for g in saved.listen] == [
            ("not a group", 50, [], ["opus", "g722"])
        ]
        assert saved.send_groups == ["239.0.1.21:5004", "[ff05::1:21]:5004"]
        assert (saved.ttl, saved.during_call, saved.codec) == (4, "mix", "opus")
        qtbot.waitUntil(lambda: ua.paging.config.ttl == 4, timeout=WAIT_MS)
        assert ua.paging.config.during_call == "mix"
        assert ua.paging.config.listen == ()
        assert ua.paging.listening == []
    finally:
        bridge.stop()
    assert PageGroup("239.0.1.20", 5004).label == "239.0.1.20:5004"


def test_the_page_button_pages_a_phone_on_the_lan() -> None:
    group = "239.255.20.1:5008"
    lab = LanLab(hosts=2).start()
    try:
        listener = Phone(lab, "h2", "--page-listen", group)
        listener.ready()
        tone = write_tone(lab.workdir / "gui-600.wav", 600.0)
        driver = lab.popen(
            "h1", [sys.executable, "-m", "tests.gui.page_button_driver", group, str(tone)], stdout=-1, stderr=-1
        )
        out, err = driver.communicate(timeout=60)
        assert driver.returncode == 0, err
        assert out.split() == ["paging", "ended"], (out, err)
        started = listener.wait_for(event="page_started", group=group)
        assert (started["codec"], started["source"]) == ("PCMA", lab.address("h1"))
        listener.wait_for(event="page_ended", page_id=started["page_id"])
        listener.close()
        frequency, level = tone_of(listener.heard())
        assert abs(frequency - 600.0) < 20.0 and level > 0.05
    finally:
        lab.stop()

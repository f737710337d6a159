"""The audio page's Audio processing group: its switches reach the settings file, and Test echo
measures a real echo path (PulseAudio module-loopback, 60 ms, -10 dB) before and after cancellation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from softphone.gui.settings_audio import processing_from
from softphone.gui.settings_dialog import SettingsDialog
from softphone.store import Settings, load_settings
from softphone.ua import ProcessingConfig
from tests.echo_path import EchoPath
from tests.gui.harness import WAIT_MS
from tests.keyring_memory import MemoryKeyring
from tests.pulse_server import PulseAudio


def test_switches_are_saved_and_make_the_processing_of_calls(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    assert processing_from(Settings().audio) == ProcessingConfig()  # all on by default
    path = tmp_path / "s.json"
    dialog = SettingsDialog(Settings(), path, None, audio=False)
    qtbot.addWidget(dialog)
    page = dialog.audio_page
    page.noise_level.setCurrentIndex(page.noise_level.findData("high"))
    page.gain_check.setChecked(False)
    page.high_pass_check.setChecked(False)
    assert dialog.apply()
    saved = load_settings(path).audio
    assert processing_from(saved) == ProcessingConfig(True, "high", False, False)
    page.noise_check.setChecked(False)
    assert not page.noise_level.isEnabled()
    page.echo_check.setChecked(False)
    assert dialog.apply()
    assert processing_from(load_settings(path).audio) == ProcessingConfig.off()


def test_echo_test_reports_the_echo_before_and_after_cancellation(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, request: pytest.FixtureRequest
) -> None:
    sound: PulseAudio = request.getfixturevalue("pulse")
    settings = Settings()
    # The echo path's own devices: the default sink's latency moves while streams come and go, and the
    # canceller following a moving delay is the call tests' matter, not this dialog's.
    settings.audio.input_device, settings.audio.output_device = "test_mic", "test_speaker"
    dialog = SettingsDialog(settings, tmp_path / "s.json", None, audio=True)
    qtbot.addWidget(dialog)
    with EchoPath(sound, "speaker.monitor", "micfeed", delay_ms=60, gain_db=-10):
        dialog.show()
        page = dialog.audio_page
        qtbot.waitUntil(page.echo_button.isEnabled, timeout=WAIT_MS)
        qtbot.mouseClick(page.echo_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.audio_status.text().startswith("Echo heard"), timeout=4 * WAIT_MS)
    text = page.audio_status.text()
    assert text.startswith("Echo heard from test_speaker:"), text
    found = re.search(r"(-?\d+) dB before cancellation.*?(-?\d+) dB after", text)
    assert found is not None, text
    before, after = int(found.group(1)), int(found.group(2))
    # Measured: -11 dB before (the -10 dB path), -54 to -73 dB after.
    assert before > -20 and after < before - 15, text
    dialog.reject()
    if page.closer is not None:
        page.closer.join(10.0)

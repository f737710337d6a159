"""The settings dialog's Audio page: microphone, speaker and ringing device, a test tone and a level meter.

Devices come from the user agent's facade (:mod:`softphone.ua.devices`). Listing them, playing the
test tone and opening or closing the meter's stream all happen on worker threads
(:func:`~softphone.gui.workers.run_in_thread`); the page only reads the meter's level, ten times a
second, on the GUI thread.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.text import plain_label
from softphone.gui.workers import GuiRelay, run_in_thread
from softphone.store import Settings
from softphone.store.settings import AudioSettings
from softphone.ua import (
    AudioDevice,
    DeviceSpec,
    EchoTestResult,
    LevelMeter,
    ProcessingConfig,
    echo_test,
    list_audio_devices,
    play_test_tone,
)

log = logging.getLogger("softphone.gui.settings")

ECHO_HELP = (
    "The phone cancels the speaker's echo in the microphone by itself, so that calls work without a "
    "headset; <b>Test echo</b> plays a sound and tells how much of it came back, before and after. "
    "Turn the rest off for a studio microphone. Optional: the sound system's own canceller "
    "(<code>pactl load-module module-echo-cancel</code>) as the devices above."
)
NOISE_LEVELS = (("Low", "low"), ("Moderate", "moderate"), ("High", "high"))


def processing_from(audio: AudioSettings) -> ProcessingConfig:
    """The microphone processing of calls that the audio settings ask for."""
    level = (
        audio.noise_suppression_level if audio.noise_suppression_level in ("low", "moderate", "high") else "moderate"
    )
    return ProcessingConfig(
        echo_cancellation=audio.echo_cancellation,
        noise_suppression=level if audio.noise_suppression else "off",  # type: ignore[arg-type]
        high_pass_filter=audio.high_pass_filter,
        gain_control=audio.auto_gain_control,
    )


def describe_echo(result: EchoTestResult) -> str:
    if not result.heard:
        return f"No echo heard from {result.output} (a headset, or the speaker is off): nothing to cancel."
    delay = f", {result.delay_ms:.0f} ms late" if result.delay_ms is not None else ""
    return (
        f"Echo heard from {result.output}: {result.before_db:.0f} dB before cancellation{delay}, "
        f"{result.after_db:.0f} dB after."
    )


METER_INTERVAL_MS = 100


def _level_percent(level: float) -> int:
    """A linear 0..1 amplitude shown on a -60..0 dBFS scale."""
    if level <= 1e-6:
        return 0
    db = 20 * math.log10(min(level, 1.0))
    return max(0, min(100, round((db + 60) / 60 * 100)))


class AudioWorker:
    """Device listing, the test tone and the meter's stream, each on a daemon worker thread."""

    def __init__(self, relay: GuiRelay) -> None:
        self._relay = relay
        self._lock = threading.Lock()
        self._meter: LevelMeter | None = None
        self._generation = 0

    def list_devices(
        self, on_done: Callable[[list[AudioDevice]], None], on_error: Callable[[BaseException], None]
    ) -> None:
        run_in_thread(self._relay, list_audio_devices, on_done, on_error, name="softphone-audio-list")

    def play_tone(
        self, device: DeviceSpec, on_done: Callable[[str], None], on_error: Callable[[BaseException], None]
    ) -> None:
        """Play the test tone on ``device``; ``on_done`` gets the name of the device it played on."""
        run_in_thread(self._relay, lambda: play_test_tone(device), on_done, on_error, name="softphone-audio-tone")

    def echo_test(
        self,
        input_device: DeviceSpec,
        output_device: DeviceSpec,
        on_done: Callable[[EchoTestResult], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Play and listen for the echo (the meter's stream is closed first: one stream per device)."""
        self._generation += 1

        def work() -> EchoTestResult:
            with self._lock:
                self._close_locked()
                return echo_test(input_device, output_device)

        run_in_thread(self._relay, work, on_done, on_error, name="softphone-audio-echo")

    def open_meter(
        self, input_device: DeviceSpec, output_device: DeviceSpec, on_error: Callable[[BaseException], None]
    ) -> None:
        """(Re)open the meter's stream on ``input_device``; the previous one is closed first."""
        self._generation += 1
        generation = self._generation

        def work() -> None:
            with self._lock:
                self._close_locked()
                if generation != self._generation:
                    return
                meter = LevelMeter(input_device, output_device)
                meter.open()
                self._meter = meter

        run_in_thread(self._relay, work, on_error=on_error, name="softphone-audio-meter")

    def level(self) -> float | None:
        meter = self._meter
        if meter is None:
            return None
        try:
            return meter.level()
        except Exception:
            return None

    def close(self) -> threading.Thread:
        self._generation += 1

        def work() -> None:
            with self._lock:
                self._close_locked()

        return run_in_thread(self._relay, work, name="softphone-audio-close")

    def _close_locked(self) -> None:
        meter, self._meter = self._meter, None
        if meter is not None:
            try:
                meter.close()
            except Exception as exc:
                log.info("closing the meter's audio stream: %s", exc)


class AudioPage(QWidget):
    """Device choice, test tone, level meter, and the microphone processing with its echo test.

    The meter's stream is open while the dialog is shown (``start_meter()``, ``close_audio()``), whichever
    page is current.
    """

    def __init__(self, settings: Settings, *, enabled: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.audio = AudioWorker(GuiRelay(self))
        self.devices: list[AudioDevice] | None = None
        self._meter_open = False
        self.closer: threading.Thread | None = None
        self.meter_timer = QTimer(self)
        self.meter_timer.setInterval(METER_INTERVAL_MS)
        self.meter_timer.timeout.connect(self._update_meter)

        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.input_combo = QComboBox()
        self.input_combo.setAccessibleName("Microphone")
        self.output_combo = QComboBox()
        self.output_combo.setAccessibleName("Speaker")
        self.ringing_combo = QComboBox()
        self.ringing_combo.setAccessibleName("Ringing device")
        for combo in (self.input_combo, self.output_combo, self.ringing_combo):
            combo.addItem("System default", None)
            combo.setEnabled(False)
        self.input_combo.currentIndexChanged.connect(lambda _i: self._reopen_meter())
        out_row = QHBoxLayout()
        out_row.addWidget(self.output_combo, 1)
        self.tone_button = QPushButton("&Test")
        self.tone_button.setAccessibleName("Play a test tone on the speaker")
        self.tone_button.setToolTip("Play a short chime on the chosen speaker")
        self.tone_button.setEnabled(False)
        self.tone_button.clicked.connect(self.play_test_tone)
        out_row.addWidget(self.tone_button)
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.meter.setAccessibleName("Microphone level")
        self.meter.setToolTip("What the chosen microphone hears now (-60 to 0 dBFS)")
        form.addRow("&Microphone:", self.input_combo)
        form.addRow("Level:", self.meter)
        speaker_label = QLabel("&Speaker:")
        speaker_label.setBuddy(self.output_combo)
        form.addRow(speaker_label, out_row)
        form.addRow("&Ringing on:", self.ringing_combo)
        layout.addLayout(form)
        self.audio_status = plain_label("Looking for audio devices …")
        self.audio_status.setWordWrap(True)
        self.audio_status.setAccessibleName("Audio status")
        layout.addWidget(self.audio_status)
        audio = settings.audio
        processing = QGroupBox("Audio processing")
        processing_layout = QVBoxLayout(processing)
        self.echo_check = QCheckBox("Cancel the speaker's &echo")
        self.echo_check.setAccessibleName("Echo cancellation")
        self.echo_check.setChecked(audio.echo_cancellation)
        self.noise_check = QCheckBox("Suppress &noise")
        self.noise_check.setAccessibleName("Noise suppression")
        self.noise_check.setChecked(audio.noise_suppression)
        self.noise_level = QComboBox()
        self.noise_level.setAccessibleName("Noise suppression level")
        for label, value in NOISE_LEVELS:
            self.noise_level.addItem(label, value)
        self.noise_level.setCurrentIndex(max(0, self.noise_level.findData(audio.noise_suppression_level)))
        self.noise_level.setEnabled(audio.noise_suppression)
        self.noise_check.toggled.connect(self.noise_level.setEnabled)
        noise_row = QHBoxLayout()
        noise_row.addWidget(self.noise_check)
        noise_row.addWidget(self.noise_level)
        noise_row.addStretch(1)
        self.high_pass_check = QCheckBox("&High-pass filter (rumble, hum)")
        self.high_pass_check.setAccessibleName("High-pass filter")
        self.high_pass_check.setChecked(audio.high_pass_filter)
        self.gain_check = QCheckBox("Automatic &gain control")
        self.gain_check.setAccessibleName("Automatic gain control")
        self.gain_check.setChecked(audio.auto_gain_control)
        self.echo_button = QPushButton("Test e&cho")
        self.echo_button.setAccessibleName("Test the echo cancellation")
        self.echo_button.setToolTip("Play a sound on the speaker and measure what comes back into the microphone")
        self.echo_button.setEnabled(False)
        self.echo_button.clicked.connect(self.test_echo)
        explanation = QLabel(ECHO_HELP)
        explanation.setWordWrap(True)
        explanation.setTextFormat(Qt.TextFormat.RichText)
        explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        echo_row = QHBoxLayout()
        echo_row.addWidget(self.echo_check)
        echo_row.addStretch(1)
        echo_row.addWidget(self.echo_button)
        processing_layout.addLayout(echo_row)
        processing_layout.addLayout(noise_row)
        processing_layout.addWidget(self.high_pass_check)
        processing_layout.addWidget(self.gain_check)
        processing_layout.addWidget(explanation)
        layout.addWidget(processing)
        layout.addStretch(1)

        if enabled:
            self.audio.list_devices(self._devices_listed, self._no_devices)
        else:
            self._no_devices(RuntimeError("audio devices are not used here"))

    # --- devices ------------------------------------------------------------------------------

    def _no_devices(self, exc: BaseException) -> None:
        self.devices = []
        self.audio_status.setText(f"No audio devices: {exc}")
        self._reopen_meter()

    def _devices_listed(self, devices: list[AudioDevice]) -> None:
        audio = self.settings.audio
        self.devices = devices
        inputs = [d.name for d in devices if d.max_input_channels > 0]
        outputs = [d.name for d in devices if d.max_output_channels > 0]
        self._fill(self.input_combo, inputs, audio.input_device)
        self._fill(self.output_combo, outputs, audio.output_device)
        self._fill(self.ringing_combo, outputs, audio.ringing_device)
        if not inputs and not outputs:
            self.audio_status.setText("No audio devices found: calls have no sound on this computer.")
        else:
            self.audio_status.setText(
                f"{len(inputs)} microphone{'s' if len(inputs) != 1 else ''}, "
                f"{len(outputs)} speaker{'s' if len(outputs) != 1 else ''} found."
            )
        self.tone_button.setEnabled(bool(outputs))
        self.echo_button.setEnabled(bool(outputs) and bool(inputs))
        self._reopen_meter()

    @staticmethod
    def _fill(combo: QComboBox, names: Sequence[str], chosen: str | None) -> None:
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("System default", None)
        for name in dict.fromkeys(names):
            combo.addItem(name, name)
        if chosen is not None and chosen not in names:
            combo.addItem(f"{chosen} (not connected)", chosen)
        index = combo.findData(chosen)
        combo.setCurrentIndex(max(index, 0))
        combo.setEnabled(bool(names))
        combo.blockSignals(False)

    def _has_inputs(self) -> bool:
        return bool(self.devices) and any(d.max_input_channels > 0 for d in self.devices or [])

    # --- the meter ----------------------------------------------------------------------------

    def start_meter(self) -> None:
        """The dialog is shown: open the meter's stream unless it is open already."""
        if not self._meter_open:
            self._reopen_meter()

    def _reopen_meter(self) -> None:
        if not self.window().isVisible() or not self._has_inputs():
            return
        device = self.input_combo.currentData()
        output = self.output_combo.currentData()
        self._meter_open = True
        self.audio.open_meter(device, output, self._meter_failed)
        self.meter_timer.start()

    def _meter_failed(self, exc: BaseException) -> None:
        self.audio_status.setText(f"The microphone cannot be opened: {exc}")

    def _update_meter(self) -> None:
        level = self.audio.level()
        percent = _level_percent(level) if level is not None else 0
        self.meter.setValue(percent)
        self.meter.setAccessibleDescription(f"{percent} percent")

    def close_audio(self) -> threading.Thread | None:
        """Close the meter's stream (on a worker thread); returns that thread (None: nothing was open)."""
        self.meter_timer.stop()
        if not self._meter_open:
            return self.closer
        self._meter_open = False
        self.closer = self.audio.close()
        return self.closer

    # --- the test tone ------------------------------------------------------------------------

    def play_test_tone(self) -> None:
        if not self.devices or not any(d.max_output_channels > 0 for d in self.devices):
            self.audio_status.setText("No speaker to play a test tone on.")
            return
        self.tone_button.setEnabled(False)
        self.audio_status.setText("Playing a test tone …")
        self.audio.play_tone(self.output_combo.currentData(), self._tone_played, self._tone_failed)

    def _tone_played(self, device: str) -> None:
        self.tone_button.setEnabled(True)
        self.audio_status.setText(f"Test tone played on {device}.")

    def _tone_failed(self, exc: BaseException) -> None:
        self.tone_button.setEnabled(True)
        self.audio_status.setText(f"The test tone could not be played: {exc}")

    # --- the echo test ------------------------------------------------------------------------

    def test_echo(self) -> None:
        self.echo_button.setEnabled(False)
        self._meter_open = False
        self.audio_status.setText("Testing the echo: a few seconds of noise on the speaker …")
        self.audio.echo_test(
            self.input_combo.currentData(), self.output_combo.currentData(), self._echo_tested, self._echo_failed
        )

    def _echo_tested(self, result: EchoTestResult) -> None:
        self.echo_button.setEnabled(True)
        self.audio_status.setText(describe_echo(result))
        self._reopen_meter()

    def _echo_failed(self, exc: BaseException) -> None:
        self.echo_button.setEnabled(True)
        self.audio_status.setText(f"The echo test could not run: {exc}")
        self._reopen_meter()

    def collect_into(self, settings: Settings) -> None:
        audio = settings.audio
        if self.input_combo.isEnabled() or self.devices:
            audio.input_device = self.input_combo.currentData()
            audio.output_device = self.output_combo.currentData()
            audio.ringing_device = self.ringing_combo.currentData()
        audio.echo_cancellation = self.echo_check.isChecked()
        audio.noise_suppression = self.noise_check.isChecked()
        audio.noise_suppression_level = str(self.noise_level.currentData())
        audio.high_pass_filter = self.high_pass_check.isChecked()
        audio.auto_gain_control = self.gain_check.isChecked()

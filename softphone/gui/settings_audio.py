"""The settings dialog's Audio page: microphone, speaker and ringing device, the ringtone, a test tone and a
level meter.

Devices come from the user agent's facade (:mod:`softphone.ua.devices`). Listing them, playing the
test tone or the ringtone and opening or closing the meter's stream all happen on worker threads
(:func:`~softphone.gui.workers.run_in_thread`); the page only reads the meter's level, ten times a
second, on the GUI thread.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate
from softphone.gui.ringer import tone_names, tone_path
from softphone.gui.text import plain_label
from softphone.gui.workers import GuiRelay, run_in_thread
from softphone.store import Settings
from softphone.store.settings import AudioSettings
from softphone.ua import (
    AudioDevice,
    BufferPlayer,
    DeviceSpec,
    EchoTestResult,
    LevelMeter,
    ProcessingConfig,
    echo_test,
    list_audio_devices,
    play_test_tone,
    ringtone_samples,
)

log = logging.getLogger("softphone.gui.settings")

ECHO_HELP = QT_TRANSLATE_NOOP(
    "AudioPage",
    "The phone cancels the speaker's echo in the microphone by itself, so that calls work without a "
    "headset; <b>Test echo</b> plays a sound and tells how much of it came back, before and after. "
    "Turn the rest off for a studio microphone. Optional: the sound system's own canceller "
    "(<code>pactl load-module module-echo-cancel</code>) as the devices above.",
)
NOISE_LEVELS = (
    (QT_TRANSLATE_NOOP("AudioPage", "Low"), "low"),
    (QT_TRANSLATE_NOOP("AudioPage", "Moderate"), "moderate"),
    (QT_TRANSLATE_NOOP("AudioPage", "High"), "high"),
)


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
        return translate(
            "AudioPage", "No echo heard from {output} (a headset, or the speaker is off): nothing to cancel."
        ).format(output=result.output)
    if result.delay_ms is not None:
        text = translate(
            "AudioPage",
            "Echo heard from {output}: {before:.0f} dB before cancellation, {delay:.0f} ms late, {after:.0f} dB after.",
        )
    else:
        text = translate(
            "AudioPage", "Echo heard from {output}: {before:.0f} dB before cancellation, {after:.0f} dB after."
        )
    return text.format(output=result.output, before=result.before_db, delay=result.delay_ms, after=result.after_db)


METER_INTERVAL_MS = 100
PREVIEW_SECONDS = 4.0
CHOOSE_FILE = "choose-file"  # the ringtone combo's "A WAV file…" entry


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

    def check_tone(
        self, path: str, on_done: Callable[[object], None], on_error: Callable[[BaseException], None]
    ) -> None:
        """Read the WAV file at ``path`` as a ringtone (it must be one the ringer can play)."""
        run_in_thread(self._relay, lambda: ringtone_samples(path), on_done, on_error, name="softphone-audio-check")

    def play_ringtone(
        self,
        tone: str | None,
        device: DeviceSpec,
        on_done: Callable[[object], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Play the first seconds of a ringtone setting's tone once on ``device``."""

        def work() -> None:
            samples = ringtone_samples(tone_path(tone))
            player = BufferPlayer(samples[: int(PREVIEW_SECONDS * 48000)], device, loop=False)
            player.start()
            try:
                player.wait(PREVIEW_SECONDS + 2.0)
            finally:
                player.stop()

        run_in_thread(self._relay, work, on_done, on_error, name="softphone-audio-tone")

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
        self.input_combo.setAccessibleName(self.tr("Microphone"))
        self.output_combo = QComboBox()
        self.output_combo.setAccessibleName(self.tr("Speaker"))
        self.ringing_combo = QComboBox()
        self.ringing_combo.setAccessibleName(self.tr("Ringing device"))
        for combo in (self.input_combo, self.output_combo, self.ringing_combo):
            combo.addItem(self.tr("System default"), None)
            combo.setEnabled(False)
        self.input_combo.currentIndexChanged.connect(lambda _i: self._reopen_meter())
        out_row = QHBoxLayout()
        out_row.addWidget(self.output_combo, 1)
        self.tone_button = QPushButton(self.tr("&Test"))
        self.tone_button.setAccessibleName(self.tr("Play a test tone on the speaker"))
        self.tone_button.setToolTip(self.tr("Play a short chime on the chosen speaker"))
        self.tone_button.setEnabled(False)
        self.tone_button.clicked.connect(self.play_test_tone)
        out_row.addWidget(self.tone_button)
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.meter.setAccessibleName(self.tr("Microphone level"))
        self.meter.setToolTip(self.tr("What the chosen microphone hears now (-60 to 0 dBFS)"))
        form.addRow(self.tr("&Microphone:"), self.input_combo)
        form.addRow(self.tr("Level:"), self.meter)
        speaker_label = QLabel(self.tr("&Speaker:"))
        speaker_label.setBuddy(self.output_combo)
        form.addRow(speaker_label, out_row)
        form.addRow(self.tr("&Ringing on:"), self.ringing_combo)
        tone_row = QHBoxLayout()
        self.ringtone_combo = QComboBox()
        self.ringtone_combo.setAccessibleName(self.tr("Ringtone"))
        for value, name in tone_names().items():
            self.ringtone_combo.addItem(name, value)
        if settings.audio.ringtone and self.ringtone_combo.findData(settings.audio.ringtone) < 0:
            self._add_tone_file(settings.audio.ringtone)
        self.ringtone_combo.addItem(self.tr("A WAV file…"), CHOOSE_FILE)
        self.ringtone_combo.setCurrentIndex(max(0, self.ringtone_combo.findData(settings.audio.ringtone)))
        self._tone_index = self.ringtone_combo.currentIndex()
        self.ringtone_combo.activated.connect(self._tone_chosen)
        self.ringtone_combo.currentIndexChanged.connect(self._tone_changed)
        self.ring_button = QPushButton(self.tr("&Play"))
        self.ring_button.setAccessibleName(self.tr("Play the ringtone"))
        self.ring_button.setToolTip(self.tr("Play the chosen ringtone on the ringing device"))
        self.ring_button.clicked.connect(self.play_ringtone)
        tone_row.addWidget(self.ringtone_combo, 1)
        tone_row.addWidget(self.ring_button)
        tone_label = QLabel(self.tr("Ring&tone:"))
        tone_label.setBuddy(self.ringtone_combo)
        form.addRow(tone_label, tone_row)
        self.file_dialog: QFileDialog | None = None
        layout.addLayout(form)
        self.audio_status = plain_label(self.tr("Looking for audio devices …"))
        self.audio_status.setWordWrap(True)
        self.audio_status.setAccessibleName(self.tr("Audio status"))
        layout.addWidget(self.audio_status)
        audio = settings.audio
        processing = QGroupBox(self.tr("Audio processing"))
        processing_layout = QVBoxLayout(processing)
        self.echo_check = QCheckBox(self.tr("Cancel the speaker's &echo"))
        self.echo_check.setAccessibleName(self.tr("Echo cancellation"))
        self.echo_check.setChecked(audio.echo_cancellation)
        self.noise_check = QCheckBox(self.tr("Suppress &noise"))
        self.noise_check.setAccessibleName(self.tr("Noise suppression"))
        self.noise_check.setChecked(audio.noise_suppression)
        self.noise_level = QComboBox()
        self.noise_level.setAccessibleName(self.tr("Noise suppression level"))
        for label, value in NOISE_LEVELS:
            self.noise_level.addItem(self.tr(label), value)
        self.noise_level.setCurrentIndex(max(0, self.noise_level.findData(audio.noise_suppression_level)))
        self.noise_level.setEnabled(audio.noise_suppression)
        self.noise_check.toggled.connect(self.noise_level.setEnabled)
        noise_row = QHBoxLayout()
        noise_row.addWidget(self.noise_check)
        noise_row.addWidget(self.noise_level)
        noise_row.addStretch(1)
        self.high_pass_check = QCheckBox(self.tr("&High-pass filter (rumble, hum)"))
        self.high_pass_check.setAccessibleName(self.tr("High-pass filter"))
        self.high_pass_check.setChecked(audio.high_pass_filter)
        self.gain_check = QCheckBox(self.tr("Automatic &gain control"))
        self.gain_check.setAccessibleName(self.tr("Automatic gain control"))
        self.gain_check.setChecked(audio.auto_gain_control)
        self.echo_button = QPushButton(self.tr("Test e&cho"))
        self.echo_button.setAccessibleName(self.tr("Test the echo cancellation"))
        self.echo_button.setToolTip(
            self.tr("Play a sound on the speaker and measure what comes back into the microphone")
        )
        self.echo_button.setEnabled(False)
        self.echo_button.clicked.connect(self.test_echo)
        explanation = QLabel(self.tr(ECHO_HELP))
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
        self.audio_status.setText(self.tr("No audio devices: {exc}").format(exc=exc))
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
            self.audio_status.setText(self.tr("No audio devices found: calls have no sound on this computer."))
        else:
            mics, speakers = len(inputs), len(outputs)
            self.audio_status.setText(
                translate("AudioPage", "%n microphone(s)", "", mics)
                + ", "
                + translate("AudioPage", "%n speaker(s) found.", "", speakers)
            )
        self.tone_button.setEnabled(bool(outputs))
        self.echo_button.setEnabled(bool(outputs) and bool(inputs))
        self._reopen_meter()

    @staticmethod
    def _fill(combo: QComboBox, names: Sequence[str], chosen: str | None) -> None:
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(translate("AudioPage", "System default"), None)
        for name in dict.fromkeys(names):
            combo.addItem(name, name)
        if chosen is not None and chosen not in names:
            combo.addItem(translate("AudioPage", "{chosen} (not connected)").format(chosen=chosen), chosen)
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
        self.audio_status.setText(self.tr("The microphone cannot be opened: {exc}").format(exc=exc))

    def _update_meter(self) -> None:
        level = self.audio.level()
        percent = _level_percent(level) if level is not None else 0
        self.meter.setValue(percent)
        self.meter.setAccessibleDescription(self.tr("{percent} percent").format(percent=percent))

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
            self.audio_status.setText(self.tr("No speaker to play a test tone on."))
            return
        self.tone_button.setEnabled(False)
        self.audio_status.setText(self.tr("Playing a test tone …"))
        self.audio.play_tone(self.output_combo.currentData(), self._tone_played, self._tone_failed)

    def _tone_played(self, device: str) -> None:
        self.tone_button.setEnabled(True)
        self.audio_status.setText(self.tr("Test tone played on {device}.").format(device=device))

    def _tone_failed(self, exc: BaseException) -> None:
        self.tone_button.setEnabled(True)
        self.audio_status.setText(self.tr("The test tone could not be played: {exc}").format(exc=exc))

    # --- the ringtone -------------------------------------------------------------------------

    def _add_tone_file(self, path: str) -> int:
        """The ringtone combo's entry for a WAV file (added before "A WAV file…" if it is not there)."""
        index = self.ringtone_combo.findData(path)
        if index >= 0:
            return index
        at = self.ringtone_combo.findData(CHOOSE_FILE)
        at = at if at >= 0 else self.ringtone_combo.count()
        name = Path(path).name
        self.ringtone_combo.insertItem(at, name, path)
        self.ringtone_combo.setItemData(at, path, Qt.ItemDataRole.ToolTipRole)
        return at

    def _tone_chosen(self, index: int) -> None:
        if self.ringtone_combo.itemData(index) == CHOOSE_FILE:
            self.ringtone_combo.setCurrentIndex(self._tone_index)  # until a file is chosen
            self.choose_tone_file()

    def _tone_changed(self, index: int) -> None:
        if self.ringtone_combo.itemData(index) != CHOOSE_FILE:
            self._tone_index = index

    def choose_tone_file(self) -> QFileDialog:
        """Ask for a WAV file (a non-blocking dialog); a file that plays becomes the ringtone."""
        dialog = QFileDialog(self, self.tr("Choose a ringtone"), str(Path.home()), "WAV files (*.wav);;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAccessibleName(self.tr("Choose a ringtone file"))
        dialog.fileSelected.connect(self.use_tone_file)
        self.file_dialog = dialog
        dialog.open()
        return dialog

    def use_tone_file(self, path: str) -> None:
        """Check ``path`` (on a worker thread) and, if it can ring, choose it."""
        if not path:
            return
        self.audio_status.setText(self.tr("Reading {name} …").format(name=Path(path).name))

        def usable(_samples: object) -> None:
            index = self._add_tone_file(path)
            self.ringtone_combo.setCurrentIndex(index)
            self._tone_index = index
            self.audio_status.setText(self.tr("Ringtone: {name}.").format(name=Path(path).name))

        def unusable(exc: BaseException) -> None:
            self.audio_status.setText(
                self.tr("Cannot use {name} as the ringtone: {exc}").format(name=Path(path).name, exc=exc)
            )

        self.audio.check_tone(path, usable, unusable)

    def ringtone(self) -> str | None:
        value = self.ringtone_combo.currentData()
        return str(value) if value and value != CHOOSE_FILE else None

    def play_ringtone(self) -> None:
        self.ring_button.setEnabled(False)
        self.audio_status.setText(self.tr("Playing the ringtone …"))
        device = self.ringing_combo.currentData() or self.output_combo.currentData()

        def played(_result: object) -> None:
            self.ring_button.setEnabled(True)
            self.audio_status.setText("")

        def failed(exc: BaseException) -> None:
            self.ring_button.setEnabled(True)
            self.audio_status.setText(self.tr("The ringtone could not be played: {exc}").format(exc=exc))

        self.audio.play_ringtone(self.ringtone(), device, played, failed)

    # --- the echo test ------------------------------------------------------------------------

    def test_echo(self) -> None:
        self.echo_button.setEnabled(False)
        self._meter_open = False
        self.audio_status.setText(self.tr("Testing the echo: a few seconds of noise on the speaker …"))
        self.audio.echo_test(
            self.input_combo.currentData(), self.output_combo.currentData(), self._echo_tested, self._echo_failed
        )

    def _echo_tested(self, result: EchoTestResult) -> None:
        self.echo_button.setEnabled(True)
        self.audio_status.setText(describe_echo(result))
        self._reopen_meter()

    def _echo_failed(self, exc: BaseException) -> None:
        self.echo_button.setEnabled(True)
        self.audio_status.setText(self.tr("The echo test could not run: {exc}").format(exc=exc))
        self._reopen_meter()

    def collect_into(self, settings: Settings) -> None:
        audio = settings.audio
        audio.ringtone = self.ringtone()
        if self.input_combo.isEnabled() or self.devices:
            audio.input_device = self.input_combo.currentData()
            audio.output_device = self.output_combo.currentData()
            audio.ringing_device = self.ringing_combo.currentData()
        audio.echo_cancellation = self.echo_check.isChecked()
        audio.noise_suppression = self.noise_check.isChecked()
        audio.noise_suppression_level = str(self.noise_level.currentData())
        audio.high_pass_filter = self.high_pass_check.isChecked()
        audio.auto_gain_control = self.gain_check.isChecked()

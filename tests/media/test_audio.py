"""The audio-device layer against real PortAudio streams on PulseAudio virtual devices.

No mocks: tones go into sink ``micfeed`` with ``pacat`` and come out of the
capture ring; what the playback ring holds is recorded from ``speaker.monitor``
with ``parec``. Waits are bounded polls, not sleeps of a guessed length.
"""

from __future__ import annotations

import subprocess
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from softphone.media.audio import (
    AudioDeviceError,
    AudioStream,
    BufferPlayer,
    find_device,
    list_devices,
)
from softphone.media.errors import MediaError
from tests.pulse_server import MonitorRecording, PulseAudio, tone

RATE = 48000
WAIT = 3.0  # bound on every poll for audio to arrive
WINDOW = RATE // 4  # 250 ms analysed at a time


def dominant_frequency(samples: npt.NDArray[np.float32]) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum)) * RATE / len(samples)


def rms(samples: npt.NDArray[np.float32]) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def poll(check: Callable[[], bool], timeout: float = WAIT, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


class CaptureReader:
    """Plays the media thread's part: drains the capture ring, keeps the latest WINDOW samples."""

    def __init__(self, stream: AudioStream) -> None:
        self.stream = stream
        self.latest = np.zeros(WINDOW, dtype=np.float32)
        self.fresh = 0  # samples read since the last reset()
        self._block = np.empty(960, dtype=np.float32)

    def reset(self) -> None:
        self.stream.capture.clear()
        self.fresh = 0

    def heard(self, samples: int = WINDOW, min_rms: float = 0.2) -> bool:
        """Drain, then: have ``samples`` fresh samples arrived and is the latest window at least ``min_rms``?"""
        self.drain()
        return self.fresh >= samples and rms(self.latest) >= min_rms

    def drain(self) -> None:
        while self.stream.capture.available() >= len(self._block):
            self.stream.capture.read_into(self._block)
            self.latest = np.concatenate([self.latest[len(self._block) :], self._block])
            self.fresh += len(self._block)


@pytest.fixture
def stream(pulse: PulseAudio) -> Iterator[AudioStream]:
    audio = AudioStream(blocksize=960)
    audio.start()
    try:
        yield audio
    finally:
        audio.close()


@pytest.fixture
def mic_tone(pulse: PulseAudio) -> Iterator[None]:
    """A 1 kHz tone at amplitude 0.5 played into micfeed (= the default input) for 8 s."""
    player = pulse.pacat_play("micfeed", tone(1000, 8.0, 0.5))
    try:
        yield
    finally:
        pulse.end(player)


def test_callbacks_allocate_nothing_substantial() -> None:
    # The PortAudio callbacks, called directly with buffers shaped as sounddevice passes them.
    audio = AudioStream(blocksize=960)  # not started: no device needed
    indata = np.full((960, 1), 0.25, dtype=np.float32)
    outdata = np.empty((960, 1), dtype=np.float32)
    block = np.ones(960, dtype=np.float32)
    for _ in range(40):
        audio.playback.write(block)
        audio._duplex_callback(indata, outdata, 960, None, None)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        for i in range(300):
            audio.playback.write(block)  # the media thread's side, here for realism
            audio.muted = i % 2 == 1
            audio._duplex_callback(indata, outdata, 960, None, None)
            audio._input_callback(indata, 960, None, None)
            audio._output_callback(outdata, 960, None, None)  # underruns: fills zeros
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < 2048
    assert after - before < 512
    assert audio.playback.underruns > 0 and audio.capture.overruns > 0


def test_fixture_fails_naming_the_apt_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulseaudio, pactl, pacat on PATH
    with pytest.raises(RuntimeError) as info:
        PulseAudio().start()
    message = str(info.value)
    assert "apt-get install -y pulseaudio pulseaudio-utils libasound2-plugins libportaudio2" in message
    assert "missing Debian packages pulseaudio, pulseaudio-utils" in message


def test_devices_are_listed(pulse: PulseAudio) -> None:
    devices = {d.name: d for d in list_devices()}
    assert {"pulse", "default", "test_mic", "test_speaker"} <= devices.keys()
    assert devices["default"].is_default_input and devices["default"].is_default_output
    assert devices["pulse"].max_input_channels > 0 and devices["pulse"].max_output_channels > 0
    assert find_device(None, "input").is_default_input
    assert find_device(None, "output").is_default_output
    assert find_device("test_speaker", "output").name == "test_speaker"
    assert find_device("TEST_MIC", "input").name == "test_mic"  # case-insensitive
    assert find_device("mic2", "input").name == "test_mic2"  # substring
    assert find_device(devices["pulse"].index, "input").name == "pulse"


def test_unknown_device_raises_with_its_name(pulse: PulseAudio) -> None:
    with pytest.raises(AudioDeviceError, match="no-such-headset") as info:
        AudioStream("no-such-headset").start()
    assert isinstance(info.value, MediaError)
    with pytest.raises(AudioDeviceError, match="9999"):
        find_device(9999, "output")


def test_capture_ring_receives_the_tone_played_into_the_microphone(
    pulse: PulseAudio, stream: AudioStream, mic_tone: None
) -> None:
    assert stream.duplex
    assert stream.input_device is not None and stream.input_device.name == "default"
    reader = CaptureReader(stream)
    reader.reset()

    def heard() -> bool:
        # The whole window is the tone: one that still holds the silence before it reads low.
        reader.drain()
        return reader.fresh >= WINDOW and rms(reader.latest) > 0.9 * 0.5 / np.sqrt(2)

    assert poll(heard), f"no tone captured (rms {rms(reader.latest):.3f}, {reader.fresh} samples)"
    assert dominant_frequency(reader.latest) == pytest.approx(1000, abs=10)
    assert rms(reader.latest) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    assert stream.input_level("rms") == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    assert stream.input_level("peak") == pytest.approx(0.5, rel=0.1)
    assert stream.check()


def test_mute_delivers_silence_and_unmute_brings_the_tone_back(
    pulse: PulseAudio, stream: AudioStream, mic_tone: None
) -> None:
    reader = CaptureReader(stream)
    reader.reset()
    assert poll(reader.heard)

    stream.muted = True
    reader.reset()
    assert poll(lambda: reader.heard(2 * WINDOW, 0.0))
    assert not reader.latest.any(), "muted capture is not silent"
    assert stream.input_level("peak") == 0.0

    stream.muted = False
    reader.reset()
    assert poll(reader.heard)
    assert dominant_frequency(reader.latest) == pytest.approx(1000, abs=10)


def test_playback_ring_is_heard_on_the_speaker(pulse: PulseAudio, stream: AudioStream) -> None:
    recorder = MonitorRecording(pulse, "speaker.monitor")
    try:
        signal = tone(600, 6.0, 0.5)
        sent = 0
        deadline = time.monotonic() + WAIT
        recording = np.zeros(0, dtype=np.float32)
        while time.monotonic() < deadline:
            # Keep the ring topped up, as the media thread would.
            while stream.playback.free() >= 960 and sent + 960 <= len(signal):
                stream.playback.write(signal[sent : sent + 960])
                sent += 960
            recording = recorder.latest(WINDOW)
            if len(recording) == WINDOW and rms(recording[: WINDOW // 10]) > 0.2:  # the whole window is tone
                break
            time.sleep(0.01)
        assert len(recording) == WINDOW and rms(recording) > 0.2, "tone not heard on speaker.monitor"
        assert dominant_frequency(recording) == pytest.approx(600, abs=10)
        assert rms(recording) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
        assert stream.output_level("rms") == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    finally:
        recorder.stop()


def test_separate_devices_fall_back_to_the_default_when_one_dies(pulse: PulseAudio, mic_tone: None) -> None:
    changes: list[str] = []
    audio = AudioStream("test_mic2", "test_speaker", on_device_change=changes.append)
    audio.start()
    try:
        assert not audio.duplex
        assert audio.input_device is not None and audio.input_device.name == "test_mic2"
        assert audio.output_device is not None and audio.output_device.name == "test_speaker"
        assert poll(lambda: audio.capture.available() >= 960), "test_mic2 delivers nothing"
        assert audio.check() and not changes

        assert pulse.kill_streams_on("mic2") == 1  # the device goes away under the running stream
        assert poll(lambda: bool(audio.check() and changes)), "the dead input was not detected"
        assert "test_mic2" in changes[0] and "default" in changes[0]
        assert audio.input_device is not None and audio.input_device.name == "default"
        assert audio.output_device is not None and audio.output_device.name == "test_speaker"
        assert audio.fallbacks == 1

        # The replacement input hears the default microphone (the tone in micfeed).
        reader = CaptureReader(audio)
        reader.reset()
        assert poll(reader.heard)
        assert dominant_frequency(reader.latest) == pytest.approx(1000, abs=10)
    finally:
        audio.close()
    assert not audio.check()
    audio.close()  # idempotent


def test_a_stalled_input_is_detected_and_replaced(pulse: PulseAudio, mic_tone: None) -> None:
    changes: list[str] = []
    audio = AudioStream("test_mic2", "test_speaker", stall_timeout=0.5, on_device_change=changes.append)
    audio.start()
    try:
        assert poll(lambda: audio.capture.available() >= 5 * 960), "test_mic2 delivers nothing"
        assert audio.check()
        pulse.pactl("suspend-source", "mic2", "1")  # the stream stays "active" but its callbacks stop
        try:
            assert poll(lambda: bool(audio.check() and changes)), "the stalled input was not detected"
        finally:
            pulse.pactl("suspend-source", "mic2", "0")
        assert audio.input_device is not None and audio.input_device.name == "default"
        reader = CaptureReader(audio)
        reader.reset()
        assert poll(reader.heard)
        assert dominant_frequency(reader.latest) == pytest.approx(1000, abs=10)
    finally:
        audio.close()


def test_ringing_device_plays_a_buffer(pulse: PulseAudio) -> None:
    recorder = MonitorRecording(pulse, "speaker.monitor")
    try:
        with BufferPlayer(tone(600, 0.5, 0.5), "test_speaker", loop=True) as player:
            assert player.device is not None and player.device.name == "test_speaker"

            def heard() -> bool:
                recording = recorder.latest(WINDOW)
                return len(recording) == WINDOW and rms(recording[: WINDOW // 10]) > 0.2

            assert poll(heard), "ringtone not heard"
            assert dominant_frequency(recorder.latest(WINDOW)) == pytest.approx(600, abs=10)
            assert player.playing
        assert not player.playing
        once = BufferPlayer(tone(600, 0.1), "test_speaker", loop=False).start()
        try:
            assert once.wait(WAIT)
        finally:
            once.stop()
    finally:
        recorder.stop()


def test_ringing_device_that_does_not_exist(pulse: PulseAudio) -> None:
    with pytest.raises(AudioDeviceError, match="no-such-bell"):
        BufferPlayer(tone(600, 0.1), "no-such-bell").start()


def test_no_pacat_left_behind(pulse: PulseAudio) -> None:
    # Helpers the tests started have been ended (only the keep-awake players remain).
    left = [p for p in pulse._helpers if p.poll() is None]
    assert len(left) == 4  # speaker, micfeed, micfeed2, and speaker2 kept awake by the session fixture
    assert subprocess.run(["pactl", "info"], env=pulse.env(), capture_output=True, check=False).returncode == 0

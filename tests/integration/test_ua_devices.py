"""A call through the real Kamailio between two UserAgents, a different tone each way.

One scenario, several ways of making and hearing the sound:

- ``devices-*``: each UserAgent uses ``device_media()`` on devices of its own
  from the private PulseAudio server (``tests/pulse_server.py``): alice hears
  ``test_mic`` (a 1 kHz tone played into ``micfeed``) and plays to
  ``test_speaker`` (sink ``speaker``); bob hears ``test_mic2`` (600 Hz into
  ``micfeed2``) and plays to ``test_speaker2`` (sink ``speaker2``). The
  monitors of the two speakers are recorded with ``parec``: each must carry
  the other side's tone. Run with the default codec (Opus) and with G.711
  (PCMU, PCMA) forced through the UAs' ``audio`` codec preferences.
- ``wav-opus``: ``wav_media()``: each side plays a WAV file holding its tone
  and records what it hears; each recording must hold the other side's tone.

The tone is found by FFT (dominant frequency within ``TOLERANCE_HZ``, RMS at
least ``MIN_RMS``). Waits are bounded polls, not sleeps of a guessed length.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pytest

from softphone.sip.offer_answer import AudioConfig, Codec, pcma_codec, pcmu_codec
from softphone.ua import (
    Event,
    MediaWarningEvent,
    QualityEvent,
    device_media,
    wav_media,
)
from softphone.ua.media import MediaFactory
from tests.integration.test_ua_calls import call_state, new_account, registered_and_connected
from tests.kamailio_server import Kamailio
from tests.pulse_server import RATE, MonitorRecording, PulseAudio, tone
from tests.ua import Recorder, make_ua
from tests.ua.test_media_wiring import dominant_frequency, read_wav, write_tone

WINDOW = 2 * RATE  # analyse 2 s of what each side heard
MIN_RMS = 0.05  # the tones go in at amplitude 0.5 (devices) or 0.25 (WAV files)
TOLERANCE_HZ = 20.0
AUDIO_DEADLINE = 15.0  # bound on the wait for both sides to hear their tone
TONE_SECONDS = 30.0  # longer than the test can run
PTIME = 0.02
RECORD_SECONDS = 3.0  # WAV variant: hang up once each side has received this much audio
ONSET_LEVEL = 0.02  # WAV variant: where the heard tone starts in a recording
SETTLE = RATE // 2  # WAV variant: skip this much after the onset (jitter buffer filling)


@dataclass(frozen=True)
class End:
    """One phone of the call: the tone it sends and its PulseAudio devices."""

    name: str
    tone: float
    feed: str  # null sink played into: what the microphone hears
    mic: str
    speaker: str
    monitor: str  # records what the speaker played


ALICE = End("alice", 1000.0, "micfeed", "test_mic", "test_speaker", "speaker.monitor")
BOB = End("bob", 600.0, "micfeed2", "test_mic2", "test_speaker2", "speaker2.monitor")


def rms(samples: npt.NDArray[np.float32]) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def has_tone(samples: npt.NDArray[np.float32], freq: float, size: int = WINDOW, rate: int = RATE) -> bool:
    """``samples`` holds ``size`` samples whose dominant frequency is ``freq``, loud enough."""
    return (
        samples.size >= size
        and rms(samples) >= MIN_RMS
        and abs(dominant_frequency(samples, rate) - freq) < TOLERANCE_HZ
    )


def describe_samples(samples: npt.NDArray[np.float32], rate: int = RATE) -> str:
    peak = dominant_frequency(samples, rate) if samples.size > 16 else float("nan")
    return f"{samples.size} samples, rms {rms(samples):.3f}, dominant {peak:.0f} Hz"


async def poll(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


def quality_with(call_id: str, condition: Callable[[QualityEvent], bool]) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, QualityEvent) and e.call_id == call_id and condition(e)


# --- sound devices ------------------------------------------------------------------------


def carries(recording: MonitorRecording, freq: float) -> Callable[[], bool]:
    return lambda: has_tone(recording.latest(WINDOW), freq)


def describe(recording: MonitorRecording) -> str:
    return f"{recording.source} ({recording.state}): {describe_samples(recording.latest(WINDOW))}"


def own_streams(pulse: PulseAudio) -> list[str]:
    """The playback and recording streams this process has open on the server (its sound devices)."""
    found: list[str] = []
    for kind in ("sink-inputs", "source-outputs"):
        title = ""
        for line in pulse.pactl("list", kind).splitlines():
            if line and not line[0].isspace():
                title = line.strip()  # "Sink Input #3", "Source Output #1"
            elif line.strip() == f'application.process.id = "{os.getpid()}"':
                found.append(title)
    return found


# --- how a variant makes and hears its sound --------------------------------------------------


class Sound(Protocol):
    def media(self, end: End) -> MediaFactory: ...

    async def check_heard(self, a_events: Recorder, b_events: Recorder, a_call: str, b_call: str) -> None:
        """Wait (bounded) until each side hears the other's tone; fail saying what was heard instead."""

    def check_after_call(self) -> None:
        """Checks once both UAs have stopped."""

    def close(self) -> None: ...


class DeviceSound:
    """Tones played into the two virtual microphones; the speakers' monitors recorded."""

    def __init__(self, pulse: PulseAudio) -> None:
        self.pulse = pulse
        self.recordings: list[MonitorRecording] = []
        self.players = [pulse.pacat_play(end.feed, tone(end.tone, TONE_SECONDS, 0.5)) for end in (ALICE, BOB)]

    def media(self, end: End) -> MediaFactory:
        return device_media(end.mic, end.speaker)

    async def check_heard(self, a_events: Recorder, b_events: Recorder, a_call: str, b_call: str) -> None:
        at_bob = MonitorRecording(self.pulse, BOB.monitor)
        self.recordings.append(at_bob)
        at_alice = MonitorRecording(self.pulse, ALICE.monitor)
        self.recordings.append(at_alice)
        heard = await poll(lambda: carries(at_bob, ALICE.tone)() and carries(at_alice, BOB.tone)(), AUDIO_DEADLINE)
        warnings = [e for e in a_events.events + b_events.events if isinstance(e, MediaWarningEvent)]
        assert heard, (
            f"expected {ALICE.tone:.0f} Hz at bob and {BOB.tone:.0f} Hz at alice; "
            f"{describe(at_bob)}; {describe(at_alice)}; media warnings: {warnings}\n"
            f"pulseaudio log:\n{self.pulse.log_tail(30)}"
        )
        assert not [w for w in warnings if w.warning == "device"], warnings
        # Two capture and two playback streams: each phone on its own pair of devices.
        opened = own_streams(self.pulse)
        assert sum(s.startswith("Sink Input") for s in opened) == 2, opened
        assert sum(s.startswith("Source Output") for s in opened) == 2, opened

    def check_after_call(self) -> None:
        # Both calls' device streams are closed.
        deadline = time.monotonic() + 5.0
        while (left := own_streams(self.pulse)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, f"sound device streams still open after the call: {left}"

    def close(self) -> None:
        for recording in self.recordings:
            recording.stop()
        self.recordings.clear()
        for player in self.players:
            self.pulse.end(player)
        assert all(player.poll() is not None for player in self.players)


def heard_window(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``WINDOW`` samples of a recording, from ``SETTLE`` after the heard sound starts."""
    loud = np.flatnonzero(np.abs(samples) > ONSET_LEVEL)
    if loud.size == 0:
        return samples[:0]
    start = int(loud[0]) + SETTLE
    return samples[start : start + WINDOW]


class WavSound:
    """Each side plays a WAV file of its tone (looped) and records what it hears to a WAV file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def recording(self, end: End) -> Path:
        return self.directory / f"{end.name}-heard.wav"

    def media(self, end: End) -> MediaFactory:
        # One second of a whole number of cycles: the loop is seamless.
        says = write_tone(self.directory / f"{end.name}-says.wav", end.tone, seconds=1.0, rate=RATE)
        return wav_media(play=says, record=self.recording(end))

    async def check_heard(self, a_events: Recorder, b_events: Recorder, a_call: str, b_call: str) -> None:
        # Hang up once each side has received RECORD_SECONDS of audio (reported by its quality events).
        enough = round(RECORD_SECONDS / PTIME)
        for events, call_id in ((a_events, a_call), (b_events, b_call)):
            await events.wait(quality_with(call_id, lambda q: q.packets_received >= enough), AUDIO_DEADLINE)

    def check_after_call(self) -> None:
        for hearer, speaker in ((ALICE, BOB), (BOB, ALICE)):
            samples, rate = read_wav(self.recording(hearer))
            assert rate == RATE
            window = heard_window(samples)
            assert has_tone(window, speaker.tone), (
                f"expected {speaker.tone:.0f} Hz in {hearer.name}'s recording ({samples.size} samples); "
                f"heard {describe_samples(window)}"
            )

    def close(self) -> None:
        pass


# --- the scenario -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    sound: str  # "devices" or "wav"
    codec: Callable[[], Codec] | None  # forced on both UAs; None: the default preferences (Opus first)
    codec_name: str

    def audio(self) -> dict[str, AudioConfig]:
        return {} if self.codec is None else {"audio": AudioConfig(codecs=[self.codec()])}

    def make_sound(self, request: pytest.FixtureRequest, tmp_path: Path) -> Sound:
        if self.sound == "devices":
            return DeviceSound(request.getfixturevalue("pulse"))
        return WavSound(tmp_path)


VARIANTS = {
    "devices-opus": Variant("devices", None, "opus"),
    "wav-opus": Variant("wav", None, "opus"),
    "devices-pcmu": Variant("devices", pcmu_codec, "PCMU"),
    "devices-pcma": Variant("devices", pcma_codec, "PCMA"),
}


@pytest.mark.parametrize("variant", list(VARIANTS.values()), ids=list(VARIANTS))
def test_call_with_a_tone_each_way(
    kamailio: Kamailio, variant: Variant, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    alice_account, bob_account = new_account(kamailio), new_account(kamailio, auto_answer=0.1)
    sound = variant.make_sound(request, tmp_path)

    async def main() -> None:
        alice = make_ua(alice_account, media=sound.media(ALICE), **variant.audio())
        bob = make_ua(bob_account, media=sound.media(BOB), **variant.audio())
        a_events, b_events = Recorder(alice), Recorder(bob)
        try:
            call, incoming = await registered_and_connected(alice, a_events, bob, b_events, bob_account.user)
            for negotiated in (call.media, bob.find_call(incoming.call_id).media):
                assert negotiated is not None and negotiated.codec.name == variant.codec_name, negotiated

            await sound.check_heard(a_events, b_events, call.id, incoming.call_id)
            warnings = [e for e in a_events.events + b_events.events if isinstance(e, MediaWarningEvent)]
            assert not [w for w in warnings if w.warning == "media_failure"], warnings

            await alice.hangup(call.id)
            await a_events.wait(call_state("ended", call.id))
            await b_events.wait(call_state("ended", incoming.call_id))
            await alice.wait_media_stopped()
            await bob.wait_media_stopped()
        finally:
            await alice.stop()
            await bob.stop()

    try:
        asyncio.run(main())
        sound.check_after_call()
    finally:
        sound.close()

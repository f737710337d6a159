"""A call through the real Kamailio with both phones on (virtual) sound devices.

Each UserAgent uses ``device_media()`` on devices of its own from the private
PulseAudio server (``tests/pulse_server.py``): alice hears ``test_mic`` (a
1 kHz tone played into ``micfeed``) and plays to ``test_speaker`` (sink
``speaker``); bob hears ``test_mic2`` (600 Hz into ``micfeed2``) and plays to
``test_speaker2`` (sink ``speaker2``). The monitors of the two speakers are
recorded with ``parec``: each side must play the other side's tone. Waits are
bounded polls, not sleeps of a guessed length.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from softphone.ua import IncomingCallEvent, MediaWarningEvent, RegistrationEvent, device_media
from tests.integration.test_ua_calls import call_state, new_account
from tests.kamailio_server import Kamailio
from tests.pulse_server import RATE, PulseAudio, from_s16le, tone
from tests.ua import Recorder, make_ua
from tests.ua.test_media_wiring import dominant_frequency

ALICE_TONE = 1000.0  # into alice's microphone: bob's speaker must play it
BOB_TONE = 600.0  # into bob's microphone: alice's speaker must play it
WINDOW = 2 * RATE  # analyse the latest 2 s of each speaker
MIN_RMS = 0.05  # the tones go in at amplitude 0.5
TOLERANCE_HZ = 20.0
AUDIO_DEADLINE = 15.0  # bound on the wait for both speakers to carry their tone
TONE_SECONDS = 30.0  # longer than the test can run


class SpeakerRecording:
    """``parec`` on a sink's monitor, read on a thread; ``latest(n)`` is the last n samples."""

    def __init__(self, pulse: PulseAudio, source: str) -> None:
        self.source = source
        self._pulse = pulse
        self._proc = pulse.parec_start(source)
        self._data = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        with contextlib.suppress(OSError):
            while chunk := os.read(fd, 4096):
                with self._lock:
                    self._data += chunk
                    if len(self._data) > 8 * WINDOW:
                        del self._data[: -4 * WINDOW]

    def latest(self, n: int) -> npt.NDArray[np.float32]:
        with self._lock:
            data = bytes(self._data[-2 * n :])
        return from_s16le(data)

    def stop(self) -> None:
        self._proc.terminate()  # parec exits, the reader sees end of file
        self._thread.join(timeout=2)
        self._pulse.end(self._proc)
        assert self._proc.poll() is not None


def rms(samples: npt.NDArray[np.float32]) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def carries(recording: SpeakerRecording, freq: float) -> Callable[[], bool]:
    def check() -> bool:
        latest = recording.latest(WINDOW)
        return (
            latest.size == WINDOW
            and rms(latest) >= MIN_RMS
            and abs(dominant_frequency(latest, RATE) - freq) < TOLERANCE_HZ
        )

    return check


def describe(recording: SpeakerRecording) -> str:
    latest = recording.latest(WINDOW)
    peak = dominant_frequency(latest, RATE) if latest.size > 16 else float("nan")
    return f"{recording.source}: {latest.size} samples, rms {rms(latest):.3f}, dominant {peak:.0f} Hz"


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


async def poll(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


def test_call_between_two_sets_of_sound_devices(kamailio: Kamailio, pulse: PulseAudio) -> None:
    alice_account, bob_account = new_account(kamailio), new_account(kamailio, auto_answer=0.1)
    players = [
        pulse.pacat_play("micfeed", tone(ALICE_TONE, TONE_SECONDS, 0.5)),
        pulse.pacat_play("micfeed2", tone(BOB_TONE, TONE_SECONDS, 0.5)),
    ]

    async def main() -> None:
        alice = make_ua(alice_account, media=device_media("test_mic", "test_speaker"))
        bob = make_ua(bob_account, media=device_media("test_mic2", "test_speaker2"))
        a_events, b_events = Recorder(alice), Recorder(bob)
        recordings: list[SpeakerRecording] = []
        try:
            for ua in (alice, bob):
                await ua.start()
                await ua.register()
            for events in (a_events, b_events):
                await events.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "registered")
            call = await alice.call(bob_account.user)
            await a_events.wait(call_state("confirmed", call.id))
            incoming = await b_events.wait(lambda e: isinstance(e, IncomingCallEvent))
            assert isinstance(incoming, IncomingCallEvent)
            await b_events.wait(call_state("confirmed", incoming.call_id))

            at_bob = SpeakerRecording(pulse, "speaker2.monitor")
            recordings.append(at_bob)
            at_alice = SpeakerRecording(pulse, "speaker.monitor")
            recordings.append(at_alice)
            heard = await poll(lambda: carries(at_bob, ALICE_TONE)() and carries(at_alice, BOB_TONE)(), AUDIO_DEADLINE)
            warnings = [e for e in a_events.events + b_events.events if isinstance(e, MediaWarningEvent)]
            assert heard, (
                f"expected {ALICE_TONE:.0f} Hz at bob and {BOB_TONE:.0f} Hz at alice; "
                f"{describe(at_bob)}; {describe(at_alice)}; media warnings: {warnings}\n"
                f"pulseaudio log:\n{pulse.log_tail(30)}"
            )
            assert not [w for w in warnings if w.warning == "device"], warnings
            # Two capture and two playback streams: each phone on its own pair of devices.
            opened = own_streams(pulse)
            assert sum(s.startswith("Sink Input") for s in opened) == 2, opened
            assert sum(s.startswith("Source Output") for s in opened) == 2, opened

            await alice.hangup(call.id)
            await a_events.wait(call_state("ended", call.id))
            await b_events.wait(call_state("ended", incoming.call_id))
            await alice.wait_media_stopped()
            await bob.wait_media_stopped()
        finally:
            for recording in recordings:
                recording.stop()
            await alice.stop()
            await bob.stop()

    try:
        asyncio.run(main())
        # Both calls' device streams are closed.
        deadline = time.monotonic() + 5.0
        while (left := own_streams(pulse)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, f"sound device streams still open after the call: {left}"
    finally:
        for player in players:
            pulse.end(player)
    assert all(player.poll() is not None for player in players)

"""Two phones through the real Kamailio, each in a room with an echo: neither hears itself come back.

Each phone has its own PulseAudio devices (alice ``test_mic``/``test_speaker``, bob
``test_mic2``/``test_speaker2``) and its own echo path, ``module-loopback`` from its speaker's
monitor into its microphone feed (``tests/echo_path.py``): whatever the phone plays comes back into
its microphone, as from a loudspeaker in a room. Alice speaks (espeak-ng) for a few seconds while bob
is silent, then bob speaks while alice is silent.

What each speaker plays is recorded from its monitor. While alice speaks, bob's speaker carries her
voice, and alice's own speaker carries only what bob's room and bob's phone send back: her echo. The
measure is how far below her voice at bob her echo at her own speaker is (the same for bob), over the
last 3 s of each 8 s turn. Without processing the echo comes back at about the echo path's -10 dB;
with the phone's processing on (the default), it must be at least 20 dB down and 10 dB below the same
call without processing. Measured on a 2-core machine: -10 dB without processing, -31 to -37 dB with it.
The call without processing has nothing to converge: its echo is there from the first word, so its
turns are 4 s (the same last 3 s measured).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np
import pytest

from softphone.media.processing import ProcessingConfig
from softphone.ua import QualityEvent, device_media
from tests.echo_path import EchoPath, Samples, SpeechMissing, far_speech, near_speech, rms_db
from tests.integration.test_ua_calls import call_state, new_account, registered_and_connected
from tests.kamailio_server import Kamailio
from tests.pulse_server import RATE, MonitorRecording, PulseAudio
from tests.ua import Recorder, make_ua

TALK_SECONDS = 8.0
UNPROCESSED_TALK_SECONDS = 4.0
MEASURED_SECONDS = 3.0  # the end of each turn, once the canceller has had time to converge
ECHO_TAIL = 0.6  # the echo of a turn's last words is still on its way back when the talker stops


@dataclass
class Turn:
    """One side's turn: its voice at the other's speaker and its echo at its own, in dBFS, over the
    measured seconds; ``return_db`` is the median over 0.5 s windows of the echo against the voice (a
    moment's skip of module-loopback on a loaded machine is one window, not the whole)."""

    talker: str
    heard: Samples
    echo: Samples
    # The listener's canceller during the turn, one figure a second: (ERLE dB, echo delay ms).
    canceller: tuple[tuple[float | None, float | None], ...] = ()

    def describe(self) -> str:
        seconds = " ".join(
            f"{'-' if erle is None else f'{erle:.0f}'}/{'-' if delay is None else f'{delay:.0f}'}"
            for erle, delay in self.canceller
        )
        return f"{self.talker}'s turn, the listener's canceller ERLE dB/delay ms by second: {seconds}"

    @property
    def heard_db(self) -> float:
        return rms_db(self.heard)

    @property
    def return_db(self) -> float:
        window = RATE // 2
        ratios = [
            rms_db(self.echo[i : i + window]) - rms_db(self.heard[i : i + window])
            for i in range(0, min(self.heard.size, self.echo.size) - window + 1, window)
        ]
        return float(np.median(ratios)) if ratios else 0.0


def voices(seconds: float) -> tuple[Samples, Samples]:
    try:
        alice = near_speech()[: int(seconds * RATE)] * np.float32(0.7)
        bob = far_speech(seconds) * np.float32(0.7)
    except SpeechMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    return alice, bob


async def talk(pulse: PulseAudio, feed: str, voice: Samples) -> None:
    """Play ``voice`` into a microphone feed; returns once pacat has played it all."""
    player = pulse.pacat_play(feed, voice)
    try:
        deadline = time.monotonic() + TALK_SECONDS * 3
        while player.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert player.poll() is not None, "pacat did not finish playing the voice"
    finally:
        pulse.end(player)
    await asyncio.sleep(ECHO_TAIL)


def echo_call(kamailio: Kamailio, pulse: PulseAudio, processing: ProcessingConfig, talk_seconds: float) -> list[Turn]:
    alice_voice, bob_voice = voices(talk_seconds)
    alice_account, bob_account = new_account(kamailio), new_account(kamailio, auto_answer=0.1)
    turns: list[Turn] = []

    async def main() -> None:
        alice = make_ua(alice_account, media=device_media("test_mic", "test_speaker", processing))
        bob = make_ua(bob_account, media=device_media("test_mic2", "test_speaker2", processing))
        a_events, b_events = Recorder(alice), Recorder(bob)
        at_alice = MonitorRecording(pulse, "speaker.monitor")
        at_bob = MonitorRecording(pulse, "speaker2.monitor")
        try:
            call, _ = await registered_and_connected(alice, a_events, bob, b_events, bob_account.user)
            window = int(MEASURED_SECONDS * RATE)
            for talker, feed, voice, own, other, listener in (
                ("alice", "micfeed", alice_voice, at_alice, at_bob, b_events),
                ("bob", "micfeed2", bob_voice, at_bob, at_alice, a_events),
            ):
                mark = len(listener.events)
                await talk(pulse, feed, voice)
                canceller = tuple(
                    (e.erle_db, e.echo_delay_ms) for e in listener.events[mark:] if isinstance(e, QualityEvent)
                )
                turns.append(Turn(talker, other.latest(window), own.latest(window), canceller))
            await alice.hangup(call.id)
            await a_events.wait(call_state("ended", call.id))
        finally:
            at_alice.stop()
            at_bob.stop()
            await alice.stop()
            await bob.stop()

    with (
        EchoPath(pulse, "speaker.monitor", "micfeed", delay_ms=80, gain_db=-10),
        EchoPath(pulse, "speaker2.monitor", "micfeed2", delay_ms=60, gain_db=-10),
    ):
        asyncio.run(main())
    return turns


def test_neither_side_hears_its_own_voice_come_back(kamailio: Kamailio, pulse: PulseAudio) -> None:
    before = echo_call(kamailio, pulse, ProcessingConfig.off(), UNPROCESSED_TALK_SECONDS)
    after = echo_call(kamailio, pulse, ProcessingConfig(), TALK_SECONDS)
    figures = ", ".join(
        f"{b.talker}: heard {b.heard_db:.0f}/{a.heard_db:.0f} dBFS, echo {b.return_db:.0f} -> {a.return_db:.0f} dB"
        for b, a in zip(before, after, strict=True)
    )
    figures += "\n" + "\n".join(turn.describe() for turn in after)
    for b, a in zip(before, after, strict=True):
        # The voice got across both times; without processing its echo came back (so the test can fail).
        assert b.heard_db > -35.0 and a.heard_db > -35.0, figures
        assert b.return_db > -15.0, figures
        assert a.return_db <= -20.0 and a.return_db <= b.return_db - 10.0, figures
    print(figures)

"""A local three-way conference: three user agents on loopback with real media sessions.

A calls B and C (two calls at A); each sends a tone of its own (A 500 Hz, B 1000 Hz, C 1500 Hz)
and records what it hears. After A merges the calls, B hears A and C, C hears A and B, and A
hears B and C, each checked by FFT of what was played.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from softphone.cli import Cli, describe
from softphone.media.engine import PIPELINE_RATE, ArraySink, ToneSource
from softphone.ua import (
    Account,
    CallAudio,
    CallEvent,
    ConferenceEvent,
    Event,
    IncomingCallEvent,
    UserAgent,
    UserAgentError,
)
from tests.ua import Recorder, make_ua
from tests.ua.test_media_wiring import sip_port, spectrum_peaks

A_TONE, B_TONE, C_TONE = 500.0, 1000.0, 1500.0
WINDOW = PIPELINE_RATE // 2


class ToneMedia:
    """A media factory: the tone as microphone, an ArraySink per call as speaker; closes are counted."""

    def __init__(self, frequency: float) -> None:
        self.frequency = frequency
        self.sinks: dict[str, ArraySink] = {}
        self.closed: list[str] = []

    def __call__(self, call_id: str, warn: Callable[[str], None]) -> CallAudio:
        sink = ArraySink()
        self.sinks[call_id] = sink
        return CallAudio(ToneSource(self.frequency), sink, lambda: self.closed.append(call_id))


def hears(sink: ArraySink, present: Sequence[float], absent: Sequence[float] = ()) -> bool:
    """The last half second of ``sink`` has each of ``present`` clearly and none of ``absent``
    (each at least 40 dB below the weakest present one)."""
    if len(sink) < WINDOW:
        return False
    samples: npt.NDArray[np.float32] = sink.samples(WINDOW)
    peaks = spectrum_peaks(samples, PIPELINE_RATE, [*present, *absent])
    loud = min(peaks[: len(present)])
    return loud > 50 and all(p < loud / 100 for p in peaks[len(present) :])  # absent: 40 dB below


def silent(sink: ArraySink) -> bool:
    return len(sink) >= WINDOW and float(np.sqrt(np.mean(sink.samples(WINDOW) ** 2))) < 0.005


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached within {timeout} s: {what}")


def confirmed(call_id: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, CallEvent) and e.call_id == call_id and e.state == "confirmed"


def conference_event(active: bool) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, ConferenceEvent) and e.active is active


class Three:
    def __init__(self) -> None:
        self.media = {"a": ToneMedia(A_TONE), "b": ToneMedia(B_TONE), "c": ToneMedia(C_TONE)}
        self.a = make_ua(Account("sip:alice@127.0.0.1", register=False), media=self.media["a"])
        self.b = make_ua(Account("sip:bob@127.0.0.1", register=False), media=self.media["b"])
        self.c = make_ua(Account("sip:carol@127.0.0.1", register=False), media=self.media["c"])
        self.a_events = Recorder(self.a)
        self.ab = self.ac = self.ba = self.ca = ""

    async def __aenter__(self) -> Three:
        for ua in (self.a, self.b, self.c):
            await ua.start()
        self.ab, self.ba = await self._call(self.b, "bob")
        self.ac, self.ca = await self._call(self.c, "carol")
        sinks = [("a", self.ab), ("a", self.ac), ("b", self.ba), ("c", self.ca)]
        await until(lambda: all(call in self.media[p].sinks for p, call in sinks), "every call has its audio")
        return self

    async def _call(self, callee: UserAgent, user: str) -> tuple[str, str]:
        events = Recorder(callee)
        # No server and no outbound proxy: the request goes straight to the request URI.
        call = await self.a.call(f"sip:{user}@127.0.0.1:{sip_port(callee)}")
        incoming = await events.wait(lambda e: isinstance(e, IncomingCallEvent))
        assert isinstance(incoming, IncomingCallEvent)
        await callee.answer(incoming.call_id)
        await self.a_events.wait(confirmed(call.id))
        await events.wait(confirmed(incoming.call_id))
        return call.id, incoming.call_id

    async def __aexit__(self, *exc: object) -> None:
        for ua in (self.a, self.b, self.c):
            await ua.stop()

    def sink(self, party: str, call_id: str) -> ArraySink:
        return self.media[party].sinks[call_id]


def test_three_way_conference_mixes_everyone_and_survives_a_hangup() -> None:
    async def main() -> None:
        async with Three() as t:
            a_speaker, a_second = t.sink("a", t.ab), t.sink("a", t.ac)
            b_hears, c_hears = t.sink("b", t.ba), t.sink("c", t.ca)
            await until(lambda: hears(b_hears, [A_TONE]) and hears(c_hears, [A_TONE]), "both calls carry A's tone")
            await until(lambda: hears(a_speaker, [B_TONE]) and hears(a_second, [C_TONE]), "A hears each call")

            await t.a.conference([t.ab, t.ac])
            event = await t.a_events.wait(conference_event(True))
            assert isinstance(event, ConferenceEvent) and event.call_ids == [t.ab, t.ac]
            assert describe(event) == f"conference: {t.ab}, {t.ac}"
            assert t.a.conference_calls == [t.ab, t.ac]
            await until(lambda: t.ac in t.media["a"].closed, "the second call's own audio is closed")
            assert t.ab not in t.media["a"].closed  # the first call's is the conference's microphone/speaker

            await until(lambda: hears(b_hears, [A_TONE, C_TONE], [B_TONE]), "B hears A and C, not itself")
            await until(lambda: hears(c_hears, [A_TONE, B_TONE], [C_TONE]), "C hears A and B, not itself")
            await until(lambda: hears(a_speaker, [B_TONE, C_TONE], [A_TONE]), "A hears B and C once")
            assert t.a.audio_levels(t.ab) is None  # no sound device

            mark = t.a_events.mark()
            await t.b.hangup(t.ba)
            ended = await t.a_events.wait(conference_event(False), after=mark)
            assert isinstance(ended, ConferenceEvent) and ended.call_ids == [t.ac]
            assert t.a.conference_calls == []
            # A and C go on with the microphone and speaker A had
            await until(lambda: hears(c_hears, [A_TONE], [B_TONE]), "C hears A only")
            await until(lambda: hears(a_speaker, [C_TONE], [B_TONE]), "A hears C only")
            assert t.ab not in t.media["a"].closed

    asyncio.run(main())


def test_split_takes_a_call_out_and_the_last_one_gets_the_audio_back() -> None:
    async def main() -> None:
        async with Three() as t:
            a_speaker = t.sink("a", t.ab)
            b_hears, c_hears = t.sink("b", t.ba), t.sink("c", t.ca)
            with pytest.raises(UserAgentError):
                await t.a.conference([t.ab])
            with pytest.raises(UserAgentError):
                await t.a.split(t.ab)
            await t.a.hold(t.ac)
            await t.a.conference([t.ab, t.ac])  # resumes the held call
            await until(lambda: hears(c_hears, [A_TONE, B_TONE], [C_TONE]), "C hears A and B after the resume")
            await until(lambda: hears(b_hears, [A_TONE, C_TONE]), "B hears A and C")

            out = io.StringIO()
            cli = Cli(t.a, out, as_json=False)
            await cli.run_line("conference c1")
            assert "usage: conference CALL CALL" in out.getvalue()
            mark = t.a_events.mark()
            await cli.run_line(f"split {t.ac}")
            ended = await t.a_events.wait(conference_event(False), after=mark)
            assert isinstance(ended, ConferenceEvent) and ended.call_ids == [t.ab]
            await until(lambda: silent(c_hears), "the split call gets silence")
            await until(lambda: hears(b_hears, [A_TONE], [C_TONE]), "B hears A only again")
            await until(lambda: hears(a_speaker, [B_TONE], [C_TONE]), "A hears B only again")
            assert len(t.a.calls) == 2  # the split call is still up

            await cli.run_line(f"conference {t.ab} {t.ac}")  # and can be merged again
            assert f"conference: {t.ab}, {t.ac}" in out.getvalue()
            await until(lambda: hears(c_hears, [A_TONE, B_TONE]), "C is back in")

    asyncio.run(main())

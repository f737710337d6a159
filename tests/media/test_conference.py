"""The conference mixer on its own (no sockets), and swapping a session's audio at run time."""

from __future__ import annotations

import random
import threading

import numpy as np
import numpy.typing as npt
import pytest

from softphone.media.conference import ConferenceMixer
from softphone.media.engine import PIPELINE_RATE, ArraySink, ToneSource
from softphone.sip.offer_answer import opus_codec
from tests.media.test_engine import LossyRelay, Side, hears, pairs, start, wait_until

__all__ = ["pairs"]  # the fixture, shared with test_engine

FRAME = PIPELINE_RATE // 50  # 20 ms


def peaks(samples: npt.NDArray[np.float32], frequencies: list[float]) -> list[float]:
    """Magnitude at each frequency relative to the spectrum's median, or to 1e-4 of its peak if that is more
    (pure synthetic tones have an almost empty spectrum; a clear tone gives hundreds or more)."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(samples.size)))
    freqs = np.fft.rfftfreq(samples.size, 1.0 / PIPELINE_RATE)
    floor = max(float(np.median(spectrum)), 1e-4 * float(spectrum.max())) + 1e-12
    return [float(spectrum[np.abs(freqs - f) < 10].max()) / floor for f in frequencies]


def run(mixer: ConferenceMixer, tones: dict[str, float], frames: int) -> dict[str, npt.NDArray[np.float32]]:
    """Members play their tone to us and send what the mixer gives them; returns what each sent."""
    members = {key: mixer.add(key) for key in tones}
    sources = {key: ToneSource(f) for key, f in tones.items()}
    sent: dict[str, list[npt.NDArray[np.float32]]] = {key: [] for key in tones}
    for _ in range(frames):
        for key in tones:
            sent[key].append(members[key].read(FRAME))
            members[key].write(sources[key].read(FRAME))
    return {key: np.concatenate(blocks) for key, blocks in sent.items()}


def test_each_member_hears_the_mic_and_the_others_but_not_itself() -> None:
    speaker = ArraySink()
    mixer = ConferenceMixer(ToneSource(500.0), speaker)
    sent = run(mixer, {"b": 1000.0, "c": 1500.0, "d": 2500.0}, 50)
    tail = PIPELINE_RATE // 2
    for key, own, others in (
        ("b", 1000.0, [1500.0, 2500.0]),
        ("c", 1500.0, [1000.0, 2500.0]),
        ("d", 2500.0, [1000.0, 1500.0]),
    ):
        mic, *heard = peaks(sent[key][-tail:], [500.0, *others])
        assert mic > 100 and all(h > 100 for h in heard), key
        assert peaks(sent[key][-tail:], [own])[0] < 10, f"{key} hears itself"
    played = speaker.samples(tail)
    assert all(p > 100 for p in peaks(played, [1000.0, 1500.0, 2500.0]))
    assert peaks(played, [500.0])[0] < 10  # our own microphone is not played back to us
    assert len(speaker) == 50 * FRAME  # the speaker is written once per ptime, by the leader only


def test_sums_are_clipped() -> None:
    class Loud:
        def read(self, frames: int) -> npt.NDArray[np.float32]:
            return np.full(frames, 0.9, dtype=np.float32)

    speaker = ArraySink()
    mixer = ConferenceMixer(Loud(), speaker)
    a, b, c = mixer.add("a"), mixer.add("b"), mixer.add("c")
    for _ in range(5):
        for m in (a, b, c):
            out = m.read(FRAME)
            assert out.dtype == np.float32 and out.shape == (FRAME,)
            assert float(np.abs(out).max()) <= 1.0
            m.write(np.full(FRAME, 0.8, dtype=np.float32))
    assert float(np.abs(speaker.samples()).max()) <= 1.0
    assert float(speaker.samples(FRAME).min()) == pytest.approx(1.0)


def test_uneven_pace_pads_and_bounds_the_delay() -> None:
    mixer = ConferenceMixer(ToneSource(500.0), ArraySink(), max_delay=4 * FRAME)
    fast, slow = mixer.add("fast"), mixer.add("slow")
    tone = ToneSource(1000.0)
    for _ in range(20):  # "slow" does not run at all: "fast" hears only the mic, nothing blocks
        out = fast.read(FRAME)
        fast.write(tone.read(FRAME))
        assert out.shape == (FRAME,)
    assert mixer.underruns > 0
    # slow catches up: at most max_delay of fast's audio was kept for it
    got = [slow.read(FRAME) for _ in range(6)]
    assert mixer.overruns > 0
    heard = np.concatenate(got)
    assert float(np.abs(heard[4 * FRAME :]).max()) <= 0.25 + 1e-6  # beyond the kept 80 ms: mic only
    assert peaks(heard[: 4 * FRAME], [1000.0])[0] > 20


def test_members_whose_ticks_cross_never_run_dry() -> None:
    # Two calls tick at the same rate on their own threads; which of them runs first in a ptime changes
    # now and then. The ptime of slack each ring starts with absorbs that: no underrun, and all is heard.
    speaker = ArraySink()
    mixer = ConferenceMixer(ToneSource(500.0), speaker)
    b, c = mixer.add("b"), mixer.add("c")
    tones = {b: ToneSource(1000.0), c: ToneSource(1500.0)}
    sent: dict[object, list[npt.NDArray[np.float32]]] = {b: [], c: []}
    rng = random.Random(3)
    order = [b, c]
    crossings = 0
    for _ in range(500):
        if rng.random() < 0.1:
            order.reverse()
            crossings += 1
        for member in order:
            sent[member].append(member.read(FRAME))
            member.write(tones[member].read(FRAME))
    assert crossings > 20
    assert mixer.underruns == 0 and mixer.overruns == 0
    heard_b, heard_c = np.concatenate(sent[b])[-PIPELINE_RATE:], np.concatenate(sent[c])[-PIPELINE_RATE:]
    assert peaks(heard_b, [1500.0])[0] > 100 and all(p > 100 for p in peaks(heard_c, [500.0, 1000.0]))
    assert all(p > 100 for p in peaks(speaker.samples(PIPELINE_RATE), [1000.0, 1500.0]))


def test_removing_members_and_a_new_leader() -> None:
    speaker = ArraySink()
    mixer = ConferenceMixer(ToneSource(500.0), speaker)
    sent = run(mixer, {"a": 1000.0, "b": 1500.0, "c": 2000.0}, 10)
    assert set(sent) == {"a", "b", "c"}
    members = {key: mixer.add(key) for key in ("b", "c")}  # re-adding replaces
    assert mixer.keys == ["a", "b", "c"]
    mixer.remove("a")  # the leader goes: b reads the mic now
    assert "a" not in mixer and len(mixer) == 2
    tone_b, tone_c = ToneSource(1500.0), ToneSource(2000.0)
    out_b: list[npt.NDArray[np.float32]] = []
    out_c: list[npt.NDArray[np.float32]] = []
    before = len(speaker)
    for _ in range(30):
        out_b.append(members["b"].read(FRAME))
        members["b"].write(tone_b.read(FRAME))
        out_c.append(members["c"].read(FRAME))
        members["c"].write(tone_c.read(FRAME))
    b, c = np.concatenate(out_b)[-PIPELINE_RATE // 4 :], np.concatenate(out_c)[-PIPELINE_RATE // 4 :]
    assert all(p > 100 for p in peaks(b, [500.0, 2000.0])) and peaks(b, [1500.0])[0] < 10
    assert all(p > 100 for p in peaks(c, [500.0, 1500.0])) and peaks(c, [2000.0])[0] < 10
    assert len(speaker) - before == 30 * FRAME
    removed = mixer.add("x")
    mixer.remove("x")
    assert not np.any(removed.read(FRAME))  # a removed member gets silence
    removed.write(np.ones(FRAME, dtype=np.float32))  # and is ignored


def test_members_on_their_own_threads() -> None:
    speaker = ArraySink()
    mixer = ConferenceMixer(ToneSource(500.0), speaker)
    tones = {"b": 1000.0, "c": 1500.0}
    members = {key: mixer.add(key) for key in tones}
    sent: dict[str, list[npt.NDArray[np.float32]]] = {key: [] for key in tones}
    barrier = threading.Barrier(2)

    def worker(key: str) -> None:
        source = ToneSource(tones[key])
        for _ in range(200):
            barrier.wait(10.0)  # the same number of ptimes each, in whatever order the threads run
            sent[key].append(members[key].read(FRAME))
            members[key].write(source.read(FRAME))

    threads = [threading.Thread(target=worker, args=(key,)) for key in tones]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10.0)
    b = np.concatenate(sent["b"])[-PIPELINE_RATE:]
    c = np.concatenate(sent["c"])[-PIPELINE_RATE:]
    assert peaks(b, [500.0])[0] > 100 and peaks(c, [500.0])[0] > 100
    assert peaks(b, [1500.0])[0] > 5 and peaks(c, [1000.0])[0] > 5
    assert len(speaker) == 200 * FRAME


def test_set_audio_swaps_source_and_sink_while_running(pairs: list[tuple[Side, Side, LossyRelay | None]]) -> None:
    a, b = start(pairs, opus_codec())
    assert wait_until(lambda: hears(b, 1000.0) and hears(a, 600.0), 5.0)
    new_sink = ArraySink()
    a.session.set_audio(ToneSource(1500.0), new_sink)
    assert wait_until(lambda: hears(b, 1500.0), 5.0)
    assert wait_until(lambda: len(new_sink) >= PIPELINE_RATE // 2 and hears(Side(a.session, new_sink), 600.0), 5.0)
    source, sink = a.session.audio
    assert sink is new_sink and isinstance(source, ToneSource)

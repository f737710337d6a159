"""Adaptive jitter buffer driven by simulated network traces."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.media.jitter import (
    ForgettingQuantile,
    Frame,
    JitterBuffer,
    Missing,
    PlayoutItem,
    PutOutcome,
    Silence,
)

PTIME = 0.020


@dataclass(frozen=True)
class Packet:
    arrival: float
    seq: int
    timestamp: int
    payload: bytes
    marker: bool = False


@dataclass(frozen=True)
class Slot:
    now: float
    item: PlayoutItem
    delay: float
    target: float


def index_of(payload: bytes) -> int:
    return int.from_bytes(payload, "big")


def make_trace(
    frames: int,
    *,
    rate: int = 48000,
    base: float = 0.050,
    jitter: Callable[[int, random.Random], float] = lambda i, r: 0.0,
    skew: float = 0.0,
    seq0: int = 1000,
    ts0: int = 5000,
    loss: Sequence[int] = (),
    seed: int = 7,
) -> list[Packet]:
    """Frame i is sent at i*ptime/(1+skew) on the receiver's clock and carries i as payload."""
    rnd = random.Random(seed)
    spf = round(PTIME * rate)
    lost = set(loss)
    packets = []
    for i in range(frames):
        delay = base + jitter(i, rnd)
        if i in lost:
            continue
        sent = i * PTIME / (1 + skew)
        packets.append(Packet(sent + delay, (seq0 + i) % 65536, (ts0 + i * spf) % 2**32, i.to_bytes(4, "big")))
    packets.sort(key=lambda p: p.arrival)
    return packets


def run(jb: JitterBuffer, packets: Sequence[Packet], until: float, phase: float = 0.0007) -> list[Slot]:
    slots = []
    j = 0
    k = 0
    while (now := phase + k * PTIME) <= until:
        while j < len(packets) and packets[j].arrival <= now:
            p = packets[j]
            jb.put(p.seq, p.timestamp, p.payload, p.arrival, p.marker)
            j += 1
        slots.append(Slot(now, jb.get(now), jb.current_delay, jb.target_delay))
        k += 1
    return slots


def played(slots: Sequence[Slot]) -> list[int]:
    return [index_of(s.item.payload) for s in slots if isinstance(s.item, Frame)]


def last_arrival(packets: Sequence[Packet]) -> float:
    return max(p.arrival for p in packets)


def test_in_order_without_jitter_plays_everything_at_minimum_delay() -> None:
    jb = JitterBuffer()
    packets = make_trace(500)
    slots = run(jb, packets, last_arrival(packets) + 0.05)
    assert played(slots) == list(range(500))
    stats = jb.stats()
    assert stats.late == stats.lost == stats.duplicates == 0
    assert stats.played == stats.received == 500
    last = max(n for n, s in enumerate(slots) if isinstance(s.item, Frame))
    assert not any(isinstance(s.item, Missing) for s in slots[:last])
    assert all(s.target == pytest.approx(0.020) for s in slots)
    delays = [s.delay for s in slots if isinstance(s.item, Frame)]
    assert max(delays) <= jb.min_delay + PTIME / 2


def test_silence_before_first_frame() -> None:
    jb = JitterBuffer()
    assert isinstance(jb.get(0.0), Silence)
    jb.put(1, 0, b"a", 0.001)
    assert isinstance(jb.get(0.002), Silence)
    item = jb.get(0.022)
    assert item == Frame(b"a", 1, 0)


def test_reordering_within_window_plays_in_order() -> None:
    jb = JitterBuffer()
    # Alternate packets take a path 25 ms slower, so neighbours swap.
    packets = make_trace(1000, jitter=lambda i, r: 0.025 if i % 2 == 0 else 0.0)
    assert [index_of(p.payload) for p in packets[:4]] != [0, 1, 2, 3]
    slots = run(jb, packets, last_arrival(packets) + 0.1)
    assert played(slots) == list(range(1000))
    assert jb.stats().lost == 0


def test_random_reordering_plays_in_order() -> None:
    jb = JitterBuffer()
    packets = make_trace(2000, jitter=lambda i, r: r.uniform(0, 0.040))
    slots = run(jb, packets, last_arrival(packets) + 0.2)
    order = played(slots)
    assert order == sorted(order)
    assert jb.stats().late + len(order) == 2000
    assert jb.stats().late < 40


def test_duplicates_are_counted_and_played_once() -> None:
    jb = JitterBuffer()
    packets = make_trace(400)
    doubled = sorted(
        [*packets, *(Packet(p.arrival + 0.003, p.seq, p.timestamp, p.payload) for p in packets[::10])],
        key=lambda p: p.arrival,
    )
    slots = run(jb, doubled, last_arrival(doubled) + 0.05)
    assert played(slots) == list(range(400))
    assert jb.stats().duplicates == 40
    assert jb.put(packets[-1].seq, packets[-1].timestamp, b"", 100.0) is PutOutcome.DUPLICATE


def test_loss_yields_missing_in_place_with_fec_payload() -> None:
    jb = JitterBuffer(min_delay=0.060)
    packets = make_trace(300, loss=(100, 200, 201))
    slots = run(jb, packets, last_arrival(packets) + 0.05)
    items = [s.item for s in slots if not isinstance(s.item, Silence)]
    idx = {index_of(item.payload): n for n, item in enumerate(items) if isinstance(item, Frame)}
    assert items[idx[99] + 1] == Missing((101).to_bytes(4, "big"), 1100)
    assert items[idx[199] + 1] == Missing(None, 1200)
    assert items[idx[199] + 2] == Missing((202).to_bytes(4, "big"), 1201)
    assert idx[101] == idx[99] + 2
    stats = jb.stats()
    assert (stats.lost, stats.fec_recoverable, stats.concealed, stats.late) == (3, 2, 3, 0)


def test_loss_at_minimum_delay_conceals_once_without_slipping() -> None:
    jb = JitterBuffer()
    packets = make_trace(300, loss=(100,))
    slots = run(jb, packets, last_arrival(packets) + 0.01)
    items = [s.item for s in slots if not isinstance(s.item, Silence)]
    idx = {index_of(item.payload): n for n, item in enumerate(items) if isinstance(item, Frame)}
    # Frame 101 is not there yet when frame 100 is due, so there is nothing for FEC.
    assert items[idx[99] + 1] == Missing(None)
    assert idx[101] == idx[99] + 2
    stats = jb.stats()
    assert (stats.lost, stats.concealed, stats.compressed) == (1, 1, 0)


def test_frame_after_its_playout_point_is_late_and_raises_target() -> None:
    jb = JitterBuffer()
    packets = make_trace(200, loss=(150,))
    run(jb, packets, 3.5)
    before = jb.target_delay
    late = make_trace(151)[-1]
    outcome = jb.put(late.seq, late.timestamp, late.payload, 3.5)
    assert outcome is PutOutcome.LATE
    assert jb.stats().late == 1
    assert jb.target_delay > before + 0.1


def _burst(i: int, rnd: random.Random) -> float:
    if 500 <= i < 2000:
        return rnd.expovariate(1 / 0.040)
    return rnd.uniform(0, 0.003)


def test_jitter_burst_grows_target_then_late_frames_are_rare() -> None:
    jb = JitterBuffer()
    packets = make_trace(2000, jitter=_burst)
    slots = run(jb, packets, last_arrival(packets) + 0.5)
    assert slots[499].target == pytest.approx(0.020)
    assert slots[600].target > 0.080
    # Frames 750..1250 are sent during the burst, after the estimator has settled.
    late_indices = set(range(750, 1250)) - set(played(slots))
    assert len(late_indices) <= 10
    assert jb.stats().late <= 40


def test_calm_network_shrinks_target_slowly() -> None:
    jb = JitterBuffer()
    packets = make_trace(6000, jitter=_burst)
    slots = run(jb, packets, last_arrival(packets) + 0.5)
    calm_start = next(s for s in slots if s.now >= 40.0)
    high = calm_start.target
    assert high > 0.100
    two_seconds_later = next(s for s in slots if s.now >= 42.0)
    assert two_seconds_later.target > 0.8 * high
    assert slots[-1].target == pytest.approx(0.020)
    # Shrinking never drops more than one frame per compress interval.
    assert jb.stats().compressed <= 80
    assert played(slots)[-1] == 5999


@pytest.mark.parametrize("skew", [0.01, -0.01])
def test_sender_clock_skew_keeps_delay_bounded(skew: float) -> None:
    jb = JitterBuffer()
    frames = 30000
    packets = make_trace(frames, skew=skew, jitter=lambda i, r: r.uniform(0, 0.005))
    slots = run(jb, packets, last_arrival(packets) + 0.1)
    delays = [s.delay for s in slots[100:] if isinstance(s.item, Frame)]
    assert max(delays) < jb.target_delay + 2 * PTIME
    assert sum(delays) / len(delays) < 0.045
    stats = jb.stats()
    assert stats.late == stats.lost == 0
    drift_frames = abs(skew) * frames
    if skew > 0:
        assert stats.compressed == pytest.approx(drift_frames, rel=0.1)
        assert stats.concealed <= 5
    else:
        assert stats.concealed == pytest.approx(drift_frames, rel=0.1)
        assert stats.compressed <= 5
    assert stats.played == frames - stats.compressed


def test_sequence_and_timestamp_wrap_around() -> None:
    jb = JitterBuffer()
    packets = make_trace(300, seq0=65400, ts0=2**32 - 50 * 960, jitter=lambda i, r: r.uniform(0, 0.010))
    slots = run(jb, packets, last_arrival(packets) + 0.1)
    assert played(slots) == list(range(300))
    seqs = [s.item.seq for s in slots if isinstance(s.item, Frame)]
    assert 65535 in seqs and 0 in seqs


def test_size_is_bounded_and_oldest_frames_go_first() -> None:
    jb = JitterBuffer(max_frames=20)
    packets = make_trace(100)
    for p in packets:
        jb.put(p.seq, p.timestamp, p.payload, p.arrival)
    assert len(jb) == 20
    assert jb.stats().overflow_drops == 80
    items = [jb.get(packets[-1].arrival + k * PTIME) for k in range(25)]
    indices = [index_of(i.payload) for i in items if isinstance(i, Frame)]
    assert indices[-1] == 99
    assert indices == sorted(indices) and min(indices) >= 80


def test_g711_clock_rate() -> None:
    jb = JitterBuffer(clock_rate=8000)
    packets = make_trace(250, rate=8000, loss=(50,), jitter=lambda i, r: r.uniform(0, 0.010))
    slots = run(jb, packets, last_arrival(packets) + 0.1)
    assert played(slots) == [i for i in range(250) if i != 50]
    assert jb.samples_per_frame == 160


def test_dtx_gap_plays_silence_and_restarts_at_target() -> None:
    jb = JitterBuffer()
    first = make_trace(50)
    # Second talkspurt: sequence continues, timestamp and send time jump by 2 s, marker set.
    second = [
        Packet(
            p.arrival + 2.0 + 50 * PTIME,
            (p.seq + 50) % 65536,
            p.timestamp + 2 * 48000 + 50 * 960,
            p.payload,
            marker=(n == 0),
        )
        for n, p in enumerate(make_trace(50))
    ]
    slots = run(jb, [*first, *second], second[-1].arrival + 0.1)
    end_of_first = next(n for n, s in enumerate(slots) if s.item == Frame(first[-1].payload, 1049, 5000 + 49 * 960))
    gap = [s.item for s in slots[end_of_first + 1 :] if s.now < second[0].arrival]
    assert sum(isinstance(i, Missing) for i in gap) <= jb.max_expand
    assert all(isinstance(i, Silence) for i in gap[jb.max_expand :])
    frames = [s for s in slots if isinstance(s.item, Frame)]
    assert len(frames) == 100
    restart = frames[50]
    assert restart.now - second[0].arrival == pytest.approx(jb.target_delay, abs=PTIME / 2 + 1e-6)
    assert jb.stats().lost == 0


def test_underrun_conceals_then_stops() -> None:
    jb = JitterBuffer(max_expand=3)
    packets = make_trace(20)
    slots = run(jb, packets, last_arrival(packets) + 0.2)
    tail = [s.item for s in slots if s.now > last_arrival(packets) + PTIME]
    assert tail[:3] == [Missing(None)] * 3
    assert all(isinstance(i, Silence) for i in tail[3:])
    assert jb.stats().lost == 0


def test_sequence_gap_without_timestamp_gap_is_jumped() -> None:
    jb = JitterBuffer()
    packets = make_trace(100)
    # The sender skips 500 sequence numbers but its timestamps run on.
    packets += [
        Packet(p.arrival + 100 * PTIME, (p.seq + 600) % 65536, p.timestamp + 100 * 960, p.payload) for p in packets
    ]
    slots = run(jb, packets, last_arrival(packets) + 0.1)
    missing = [s.item for s in slots if isinstance(s.item, Missing) and s.now < last_arrival(packets)]
    assert missing == []
    assert played(slots) == [*range(100), *range(100)]
    assert jb.stats().lost == 500


def test_stream_restart_after_sequence_jump() -> None:
    jb = JitterBuffer()
    packets = make_trace(50)
    run(jb, packets, 2.0)
    assert jb.put(30000, 999, b"x", 2.01) is PutOutcome.DISCARDED
    assert jb.put(30001, 999 + 960, b"y", 2.03) is PutOutcome.ACCEPTED
    items = [jb.get(2.04 + k * PTIME) for k in range(5)]
    assert Frame(b"y", 30001, 999 + 960) in items


@settings(max_examples=40, deadline=None)
@given(
    order=st.permutations(range(40)),
    dups=st.sets(st.integers(0, 39), max_size=10),
    start=st.integers(0, 65535),
)
def test_arbitrary_arrival_order_never_plays_twice_or_backwards(order: list[int], dups: set[int], start: int) -> None:
    jb = JitterBuffer()
    arrivals = [*order, *sorted(dups)]
    out: list[PlayoutItem] = []
    now = 0.0
    for i in arrivals:
        jb.put((start + i) % 65536, i * 960, i.to_bytes(4, "big"), now)
        now += 0.004
        if len(out) * PTIME < now:
            out.append(jb.get(now))
    for k in range(60):
        out.append(jb.get(now + k * PTIME))
    indices = [index_of(i.payload) for i in out if isinstance(i, Frame)]
    assert indices == sorted(set(indices))
    stats = jb.stats()
    assert stats.duplicates == len(dups)
    assert stats.played + stats.late + stats.lost + stats.compressed + stats.overflow_drops >= 40


def test_timestamp_discontinuity_resets_playout_point() -> None:
    jb = JitterBuffer()
    packets = make_trace(200)
    # At frame 100 the sender's timestamp jumps back by ten seconds; numbering continues.
    jumped = [
        Packet(p.arrival, p.seq, (p.timestamp - 10 * 48000) % 2**32 if n >= 100 else p.timestamp, p.payload)
        for n, p in enumerate(packets)
    ]
    slots = run(jb, jumped, last_arrival(jumped) + 0.05)
    assert played(slots) == list(range(200))
    assert max(s.target for s in slots) < 0.050
    stats = jb.stats()
    assert stats.lost == stats.late == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"ptime": 0}, {"clock_rate": 0}, {"min_delay": 0.4}, {"quantile": 1.0}, {"max_frames": 1}],
)
def test_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        JitterBuffer(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("skip_events", [True, False])
def test_sequence_numbers_spent_on_telephone_events_are_not_loss(skip_events: bool) -> None:
    # Frames 50..56 of the stream are RFC 4733 event packets: they share the sequence space with the audio.
    jb = JitterBuffer()
    audio = [p for p in make_trace(120) if not 50 <= index_of(p.payload) < 57]
    events = [p for p in make_trace(120) if 50 <= index_of(p.payload) < 57]
    slots: list[Slot] = []
    j = e = k = 0
    while (now := 0.0007 + k * PTIME) <= last_arrival(audio) + 0.1:
        while e < len(events) and events[e].arrival <= now:
            if skip_events:
                jb.skip(events[e].seq, events[e].timestamp)
            e += 1
        while j < len(audio) and audio[j].arrival <= now:
            p = audio[j]
            jb.put(p.seq, p.timestamp, p.payload, p.arrival, marker=index_of(p.payload) == 57)
            j += 1
        slots.append(Slot(now, jb.get(now), jb.current_delay, jb.target_delay))
        k += 1
    assert played(slots) == [i for i in range(120) if not 50 <= i < 57]
    assert jb.stats().lost == (0 if skip_events else 7)


def _histogram_quantile(values: Sequence[int], bins: int, quantile: float, forget: float) -> list[int]:
    """The quantile's bin after each value, from the whole histogram scaled and summed each time."""
    hist = np.zeros(bins)
    found = []
    for value in values:
        hist *= forget
        hist[value] += 1 - forget
        cumulative = np.cumsum(hist)
        found.append(int(np.searchsorted(cumulative, quantile * cumulative[-1])))
    return found


@pytest.mark.parametrize("seed", range(4))
def test_the_running_quantile_is_the_histograms(seed: int) -> None:
    rng = random.Random(seed)
    # Quiet stretches, bursts of late packets and a step up: the bin moves both ways, by one and by many.
    values = [
        min(300, int(rng.expovariate(1 / (3 if i % 700 < 500 else 60)) + (40 if i > 2500 else 0))) for i in range(4000)
    ]
    running = ForgettingQuantile(301, 0.97, 0.998)
    assert [running.add(v) for v in values] == _histogram_quantile(values, 301, 0.97, 0.998)


def test_the_running_quantile_survives_its_rescaling() -> None:
    # A small forgetting factor makes the new values' weights pass the rescaling point within the run.
    values = [i % 7 for i in range(3000)] + [20] * 50
    running = ForgettingQuantile(32, 0.9, 0.8)
    found = [running.add(v) for v in values]
    assert found == _histogram_quantile(values, 32, 0.9, 0.8)
    assert found[-1] == 20

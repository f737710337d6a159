"""RingBuffer: wrap-around, overrun/underrun accounting, levels, no allocation on the hot path."""

from __future__ import annotations

import threading
import time
import tracemalloc

import numpy as np
import pytest

from softphone.media.ring import RingBuffer


def test_write_then_read_in_order() -> None:
    ring = RingBuffer(8)
    assert ring.write(np.arange(5, dtype=np.float32)) == 5
    assert ring.available() == 5
    assert ring.free() == 3
    out = np.empty(5, dtype=np.float32)
    assert ring.read_into(out) == 5
    assert out.tolist() == [0, 1, 2, 3, 4]
    assert ring.available() == 0
    assert ring.overruns == ring.underruns == 0


def test_wrap_around_keeps_order() -> None:
    ring = RingBuffer(8)
    out = np.empty(3, dtype=np.float32)
    expected: list[float] = []
    got: list[float] = []
    value = 0
    for _ in range(20):  # write 3, read 3: the indices wrap many times
        block = np.arange(value, value + 3, dtype=np.float32)
        value += 3
        expected += block.tolist()
        assert ring.write(block) == 3
        assert ring.read_into(out) == 3
        got += out.tolist()
    assert got == expected
    # A write and a read that straddle the end of the array.
    ring2 = RingBuffer(8)
    ring2.write(np.zeros(6, dtype=np.float32))
    ring2.read_into(np.empty(6, dtype=np.float32))
    ring2.write(np.arange(1, 7, dtype=np.float32))  # positions 6,7,0,1,2,3
    out6 = np.empty(6, dtype=np.float32)
    assert ring2.read_into(out6) == 6
    assert out6.tolist() == [1, 2, 3, 4, 5, 6]


def test_overrun_drops_what_does_not_fit_and_counts() -> None:
    ring = RingBuffer(8)
    assert ring.write(np.arange(6, dtype=np.float32)) == 6
    assert ring.write(np.arange(10, 15, dtype=np.float32)) == 2
    assert ring.overruns == 1
    assert ring.dropped_samples == 3
    assert ring.write(np.ones(1, dtype=np.float32)) == 0
    assert ring.overruns == 2
    out = np.empty(8, dtype=np.float32)
    ring.read_into(out)
    assert out.tolist() == [0, 1, 2, 3, 4, 5, 10, 11]


def test_underrun_fills_zeros_and_counts() -> None:
    ring = RingBuffer(8)
    ring.write(np.array([1, 2, 3], dtype=np.float32))
    out = np.full(5, 9.0, dtype=np.float32)
    assert ring.read_into(out) == 3
    assert out.tolist() == [1, 2, 3, 0, 0]
    assert ring.underruns == 1
    assert ring.missing_samples == 2
    assert ring.read_into(out) == 0
    assert out.tolist() == [0, 0, 0, 0, 0]
    assert ring.underruns == 2


def test_int16_ring_and_its_level() -> None:
    ring = RingBuffer(16, "int16", level_window=4)
    ring.write(np.array([16384, -16384, 16384, -16384], dtype=np.int16))
    assert ring.level("peak") == pytest.approx(0.5)
    assert ring.level("rms") == pytest.approx(0.5)
    out = np.empty(4, dtype=np.int16)
    ring.read_into(out)
    assert out.tolist() == [16384, -16384, 16384, -16384]


def test_level_of_recent_samples_and_silence() -> None:
    ring = RingBuffer(4800, level_window=960)
    assert ring.level() == 0.0
    t = np.arange(960) / 48000
    ring.write((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    assert ring.level("peak") == pytest.approx(0.5, abs=1e-3)
    assert ring.level("rms") == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    ring.write_silence(960)
    assert ring.level("peak") == 0.0
    with pytest.raises(ValueError):
        ring.level("loudest")  # type: ignore[arg-type]


def test_skip_and_clear() -> None:
    ring = RingBuffer(8)
    ring.write(np.arange(6, dtype=np.float32))
    assert ring.skip(2) == 2
    out = np.empty(1, dtype=np.float32)
    ring.read_into(out)
    assert out[0] == 2
    ring.clear()
    assert ring.available() == 0


def test_hot_path_allocates_nothing_substantial() -> None:
    ring = RingBuffer(48000)
    block = np.ones(960, dtype=np.float32)
    out = np.empty(960, dtype=np.float32)
    for _ in range(60):  # warm up, and wrap around
        ring.write(block)
        ring.read_into(out)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(500):
            ring.write(block)
            ring.read_into(out)
            ring.read_into(out)  # an underrun too
            ring.write_silence(960)
            ring.skip(960)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A block is 3840 bytes; slice views are a few hundred bytes and are freed at once.
    assert peak - before < 2048
    assert after - before < 512


def test_one_writer_one_reader_threads_see_every_sample_in_order() -> None:
    ring = RingBuffer(1000)
    total = 50_000
    received = np.empty(total, dtype=np.float32)

    def producer() -> None:
        sent = 0
        while sent < total:
            n = min(137, total - sent)
            if ring.free() >= n:
                ring.write(np.arange(sent, sent + n, dtype=np.float32))
                sent += n
            else:
                time.sleep(0)

    thread = threading.Thread(target=producer)
    thread.start()
    got = 0
    out = np.empty(101, dtype=np.float32)
    while got < total:
        n = min(101, ring.available(), total - got)
        if n:
            ring.read_into(out[:n])
            received[got : got + n] = out[:n]
            got += n
        else:
            time.sleep(0)
    thread.join(timeout=10)
    assert np.array_equal(received, np.arange(total, dtype=np.float32))
    assert ring.overruns == 0 and ring.underruns == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        RingBuffer(0)
    with pytest.raises(ValueError):
        RingBuffer(8, "float64")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RingBuffer(8, level_window=9)

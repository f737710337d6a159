"""PageMix: a page added to a call's output, bounded in delay, silent where the page has nothing."""

from __future__ import annotations

import numpy as np

from softphone.media.paging import PageMix
from softphone.media.sources import ArraySink


def test_the_page_is_added_to_what_the_call_plays_and_clipped() -> None:
    base = ArraySink()
    mix = PageMix(base)
    call = np.full(960, 0.25, dtype=np.float32)
    mix.page.write(np.full(960, 0.5, dtype=np.float32))
    mix.write(call)
    mix.write(call)  # the page has nothing more: the call alone
    mix.page.write(np.full(960, 0.9, dtype=np.float32))
    mix.write(call)
    heard = base.samples()
    assert np.allclose(heard[:960], 0.75)
    assert np.allclose(heard[960:1920], 0.25)
    assert np.allclose(heard[1920:], 1.0)


def test_a_page_running_ahead_adds_no_more_than_the_bound_of_delay() -> None:
    base = ArraySink()
    mix = PageMix(base, max_delay=960)
    for n in range(10):
        mix.page.write(np.full(960, n / 100, dtype=np.float32))
    mix.write(np.zeros(960, dtype=np.float32))
    assert np.allclose(base.samples(), 0.09)  # the newest 20 ms, the older ones dropped

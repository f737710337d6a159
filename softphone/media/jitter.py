"""Adaptive jitter buffer working on whole RTP frames.

The buffer is sans-I/O: the receive path calls :meth:`JitterBuffer.put` with
each RTP packet and its arrival time, and the playout clock calls
:meth:`JitterBuffer.get` once per ptime with the current time.  Every call of
``get`` yields exactly one frame slot: a :class:`Frame` to decode, a
:class:`Missing` frame to conceal (with the next frame's payload when it has
already arrived, so an Opus decoder can recover the loss from in-band FEC,
RFC 7587 section 3.2), or :class:`Silence`.

Delay model.  For every packet the transit ``d = arrival - timestamp / rate``
is computed (RFC 3550 section 6.4.1 uses the same quantity for jitter).  The
reference transit ``d_ref`` is the minimum over the last
``reference_window`` seconds, so a slowly drifting sender clock moves the
reference with it.  A packet's *relative delay* ``d - d_ref`` is what the
buffer has to absorb for that packet to be on time.  The playout delay of the
frame at the head is ``now - (timestamp / rate + d_ref)``.

Target delay.  Relative delays go into a histogram (1 ms bins) with
exponential forgetting; the target is its ``quantile`` plus half a ptime,
because playout happens on a ptime grid.  A packet that misses its playout
point raises a *peak floor* to its relative delay at once; that floor decays
linearly by ``peak_decay`` ms per second.  The target is bounded by
``min_delay`` and ``max_delay``.  Growth is therefore immediate, while
shrinking follows the histogram's forgetting (tens of seconds).

Level control.  While a talkspurt plays, the playout delay is held within one
ptime of the target: above it one frame is discarded, at most once per
``compress_interval`` seconds and only when a later frame is buffered; below
it one concealment frame is inserted without advancing.  This is also what
absorbs sender clock skew.  At the start of each talkspurt (first frame,
marker bit, or a timestamp that does not continue the previous frame) the
playout point is placed afresh at the current target, so most of the
adaptation happens in silence (RFC 3551 section 4.1 marks talkspurts for this).

Counters: ``late`` frames arrived after their playout point (or were skipped
as stale), ``lost`` sequence numbers were never played, ``concealed`` counts
:class:`Missing` slots handed out, ``compressed`` frames were discarded to cut
the delay, ``overflow_drops`` were pushed out of a full buffer.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass

__all__ = [
    "Frame",
    "JitterBuffer",
    "JitterStats",
    "Missing",
    "PlayoutItem",
    "PutOutcome",
    "Silence",
]

_SEQ_MOD = 1 << 16
_TS_MOD = 1 << 32
# RFC 3550 A.1: limits beyond which a sequence number is treated as a restart.
_MAX_DROPOUT = 3000
_MAX_MISORDER = 100


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame to decode."""

    payload: bytes
    seq: int = 0
    timestamp: int = 0


@dataclass(frozen=True, slots=True)
class Missing:
    """A frame slot to conceal.

    ``next_payload`` is the following frame when it is already buffered (Opus
    FEC recovers the missing frame from it); ``seq`` is the lost sequence
    number, or ``None`` when the slot was inserted to stretch the delay.
    """

    next_payload: bytes | None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Silence:
    """Nothing to play: before the first frame, between talkspurts, after underrun."""


PlayoutItem = Frame | Missing | Silence

_SILENCE = Silence()


class PutOutcome(enum.Enum):
    """What :meth:`JitterBuffer.put` did with a packet."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    LATE = "late"
    DISCARDED = "discarded"


@dataclass(frozen=True, slots=True)
class JitterStats:
    """Counters since creation; delays in milliseconds."""

    current_delay_ms: float
    target_delay_ms: float
    received: int
    played: int
    late: int
    lost: int
    concealed: int
    duplicates: int
    overflow_drops: int
    fec_recoverable: int
    compressed: int
    buffered: int


@dataclass(slots=True)
class _Slot:
    ext_seq: int
    ext_ts: int
    payload: bytes
    marker: bool
    relative_delay_ms: float


class ForgettingQuantile:
    """The ``quantile`` of values in unit bins, each weighted ``forget_factor ** age`` (the newest 1).

    Forgetting scales every weight alike, so instead of scaling the histogram each new value gets a
    weight grown by ``1 / forget_factor``; and the quantile's bin moves from where it was rather than
    being searched for again. A value costs a few list operations: the histogram summed and searched
    in numpy per packet was a large part of a call's receive path.
    """

    _RESCALE = 1e150

    def __init__(self, bins: int, quantile: float, forget_factor: float) -> None:
        self.bins = bins
        self._weights = [0.0] * bins
        self._quantile = quantile
        self._growth = 1.0 / forget_factor
        self._increment = 1.0 - forget_factor
        self._total = 0.0
        self._index = 0  # the first bin whose cumulative weight reaches quantile × total
        self._through = 0.0  # the cumulative weight of bins 0 .. _index

    def add(self, value: int) -> int:
        """Count ``value`` (0 .. bins - 1) and return the quantile's bin."""
        self._increment *= self._growth
        weight = self._increment
        weights = self._weights
        weights[value] += weight
        self._total += weight
        index, through = self._index, self._through
        if value <= index:
            through += weight
        goal = self._quantile * self._total
        last = self.bins - 1
        while through < goal and index < last:
            index += 1
            through += weights[index]
        while index > 0 and through - weights[index] >= goal:
            through -= weights[index]
            index -= 1
        self._index, self._through = index, through
        if weight > self._RESCALE:
            self._rescale()
        return index

    def _rescale(self) -> None:
        factor = 1.0 / self._increment
        self._weights = [w * factor for w in self._weights]
        self._increment = 1.0
        self._total = math.fsum(self._weights)
        self._through = math.fsum(self._weights[: self._index + 1])


class JitterBuffer:
    """Frame-based adaptive jitter buffer; see the module documentation."""

    _max_ext_seq: int | None
    _max_ext_ts: int
    _bad_seq: int | None
    _next_seq: int | None
    _play_ts: int
    _playing: bool
    _expanded: int
    _last_compress: float
    _transit_window: deque[tuple[float, float]]
    _d_ref: float

    def __init__(
        self,
        *,
        ptime: float = 0.020,
        clock_rate: int = 48000,
        min_delay: float = 0.020,
        max_delay: float = 0.300,
        max_frames: int | None = None,
        quantile: float = 0.97,
        forget_factor: float = 0.998,
        peak_decay: float = 0.010,
        compress_interval: float = 1.0,
        reference_window: float = 2.0,
        max_expand: int = 5,
    ) -> None:
        if ptime <= 0 or clock_rate <= 0:
            raise ValueError("ptime and clock_rate must be positive")
        if not 0 <= min_delay <= max_delay:
            raise ValueError("need 0 <= min_delay <= max_delay")
        if not 0 < quantile < 1 or not 0 < forget_factor < 1:
            raise ValueError("quantile and forget_factor must lie in (0, 1)")
        self.ptime = ptime
        self.clock_rate = clock_rate
        self.samples_per_frame = round(ptime * clock_rate)
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.max_frames = max_frames if max_frames is not None else 2 * math.ceil(max_delay / ptime) + 4
        if self.max_frames < 2:
            raise ValueError("max_frames must be at least 2")
        self.quantile = quantile
        self.forget_factor = forget_factor
        self.peak_decay = peak_decay
        self.compress_interval = compress_interval
        self.reference_window = reference_window
        self.max_expand = max_expand

        self._hist = ForgettingQuantile(math.ceil(max_delay * 1000) + 1, quantile, forget_factor)
        self._hist_quantile_ms = 0.0
        self._peak_ms = 0.0
        self._peak_time: float | None = None
        self._target = min_delay

        self._slots: dict[int, _Slot] = {}
        self._seen: set[int] = set()
        self._skipped: set[int] = set()
        self._restarted = False
        self._reset_stream()

        self._current_delay = 0.0
        self._received = 0
        self._played = 0
        self._late = 0
        self._lost = 0
        self._concealed = 0
        self._duplicates = 0
        self._overflow = 0
        self._fec = 0
        self._compressed = 0

    # -- input -------------------------------------------------------------

    def put(self, seq: int, timestamp: int, payload: bytes, arrival: float, marker: bool = False) -> PutOutcome:
        """Store one received RTP frame (arrival times must not decrease)."""
        seq &= _SEQ_MOD - 1
        timestamp &= _TS_MOD - 1
        if self._max_ext_seq is None:
            self._start_stream(seq, timestamp)
        ext_seq = self._extend_seq(seq)
        if ext_seq is None:
            return PutOutcome.DISCARDED
        ext_ts = self._extend_ts(timestamp)
        self._received += 1

        if ext_seq in self._seen:
            self._duplicates += 1
            return PutOutcome.DUPLICATE
        self._seen.add(ext_seq)
        if len(self._seen) > 4 * _SEQ_MOD // 16:
            floor = ext_seq - 2048
            self._seen = {s for s in self._seen if s >= floor}

        relative_ms = self._observe_transit(ext_ts, arrival)

        if self._next_seq is not None and ext_seq < self._next_seq:
            self._late += 1
            self._bump_peak(relative_ms, arrival)
            return PutOutcome.LATE

        if len(self._slots) >= self.max_frames:
            self._drop_oldest()
        self._slots[ext_seq] = _Slot(ext_seq, ext_ts, payload, marker, relative_ms)
        if ext_seq > self._max_ext_seq_value:
            self._max_ext_seq = ext_seq
        if ext_ts > self._max_ext_ts:
            self._max_ext_ts = ext_ts
        return PutOutcome.ACCEPTED

    def skip(self, seq: int, timestamp: int) -> None:
        """Note a sequence number the stream spent on a packet that is not audio (RFC 4733 events).

        Without this the gap it leaves among the audio frames would count as loss.
        """
        seq &= _SEQ_MOD - 1
        if self._max_ext_seq is None:
            self._start_stream(seq, timestamp & (_TS_MOD - 1))
        ext_seq = self._extend_seq(seq)
        if ext_seq is None or ext_seq in self._seen:
            return
        self._seen.add(ext_seq)
        if self._next_seq is not None and ext_seq < self._next_seq:
            return
        self._skipped.add(ext_seq)
        if ext_seq > self._max_ext_seq_value:
            self._max_ext_seq = ext_seq
        if len(self._skipped) > self.max_frames * 8:
            self._skipped.discard(min(self._skipped))

    def _missing_between(self, first: int, end: int) -> int:
        """Sequence numbers in [first, end) that were neither played nor skipped; forgets those skips."""
        skipped = {s for s in self._skipped if first <= s < end}
        self._skipped -= skipped
        self._skipped = {s for s in self._skipped if s >= end}
        return end - first - len(skipped)

    # -- output ------------------------------------------------------------

    def get(self, now: float) -> PlayoutItem:
        """Return the item for the next ptime slot of the playout clock."""
        self._update_target(now)
        while True:
            if not self._playing:
                return self._start_talkspurt(now)
            assert self._next_seq is not None
            head = self._slots.get(self._next_seq)
            if head is not None:
                break
            if self._next_seq in self._skipped:
                self._skipped.discard(self._next_seq)
                self._next_seq += 1
                continue
            later = self._lowest_slot()
            if (
                later is not None
                and later.ext_ts - self._play_ts < (later.ext_seq - self._next_seq) * self.samples_per_frame
            ):
                # More numbers are missing than the timestamps leave room for: the sender skipped them.
                self._lost += self._missing_between(self._next_seq, later.ext_seq)
                self._next_seq = later.ext_seq
                self._play_ts = min(self._play_ts, later.ext_ts)
                continue
            if not (self._expanded and self._slots):
                return self._head_missing()
            # The slot of this lost frame was already concealed while waiting for it.
            self._expanded -= 1
            self._lost += 1
            self._next_seq += 1
            self._play_ts += self.samples_per_frame
        if head.ext_ts != self._play_ts or head.marker:
            self._playing = False
            return self._start_talkspurt(now)

        delay = self._playout_delay(head, now)
        if (
            delay > self._target + self.ptime
            and now - self._last_compress >= self.compress_interval
            and self._next_seq + 1 in self._slots
        ):
            # Discard one frame to come back towards the target delay.
            del self._slots[self._next_seq]
            self._compressed += 1
            self._last_compress = now
            self._next_seq += 1
            self._play_ts += self.samples_per_frame
            head = self._slots[self._next_seq]
            if head.ext_ts != self._play_ts:
                self._playing = False
                return self._start_talkspurt(now)
            delay = self._playout_delay(head, now)
        elif delay < self._target - self.ptime:
            self._concealed += 1
            self._current_delay = delay
            return Missing(None)
        if self._expanded:
            self._bump_peak(head.relative_delay_ms, now)
            self._expanded = 0
        return self._play(head, delay)

    # -- statistics ----------------------------------------------------------

    @property
    def target_delay(self) -> float:
        """Current target playout delay in seconds."""
        return self._target

    @property
    def current_delay(self) -> float:
        """Playout delay of the most recent frame slot in seconds."""
        return self._current_delay

    def __len__(self) -> int:
        return len(self._slots)

    def stats(self) -> JitterStats:
        return JitterStats(
            current_delay_ms=self._current_delay * 1000,
            target_delay_ms=self._target * 1000,
            received=self._received,
            played=self._played,
            late=self._late,
            lost=self._lost,
            concealed=self._concealed,
            duplicates=self._duplicates,
            overflow_drops=self._overflow,
            fec_recoverable=self._fec,
            compressed=self._compressed,
            buffered=len(self._slots),
        )

    # -- playout internals -----------------------------------------------------

    def _play(self, head: _Slot, delay: float) -> Frame:
        del self._slots[head.ext_seq]
        self._next_seq = head.ext_seq + 1
        self._play_ts = head.ext_ts + self.samples_per_frame
        self._played += 1
        self._current_delay = delay
        return Frame(head.payload, head.ext_seq % _SEQ_MOD, head.ext_ts % _TS_MOD)

    def _playout_delay(self, slot: _Slot, now: float) -> float:
        return now - (slot.ext_ts / self.clock_rate + self._d_ref)

    def _lowest_slot(self) -> _Slot | None:
        if not self._slots:
            return None
        return self._slots[min(self._slots)]

    def _head_missing(self) -> PlayoutItem:
        assert self._next_seq is not None
        later = self._lowest_slot()
        if later is None:
            # Underrun: conceal while the frame may still come, holding the playout point.
            if self._expanded >= self.max_expand:
                self._playing = False
                return _SILENCE
            self._expanded += 1
            self._concealed += 1
            return Missing(None)
        lost_seq = self._next_seq
        nxt = self._slots.get(lost_seq + 1)
        self._next_seq += 1
        self._play_ts += self.samples_per_frame
        self._lost += 1
        self._concealed += 1
        self._expanded = 0
        if nxt is not None:
            self._fec += 1
            return Missing(nxt.payload, lost_seq % _SEQ_MOD)
        return Missing(None, lost_seq % _SEQ_MOD)

    def _start_talkspurt(self, now: float) -> PlayoutItem:
        head = self._lowest_slot()
        if head is None:
            return _SILENCE
        due = head.ext_ts / self.clock_rate + self._d_ref + self._target
        if now + self.ptime / 2 < due:
            return _SILENCE
        # Frames whose playout point is long gone are stale (a delay spike): skip them.
        while self._playout_delay(head, now) > self._target + self.ptime and head.ext_seq + 1 in self._slots:
            del self._slots[head.ext_seq]
            self._late += 1
            self._bump_peak(head.relative_delay_ms, now)
            head = self._slots[head.ext_seq + 1]
        if self._next_seq is not None and head.ext_seq > self._next_seq:
            self._lost += self._missing_between(self._next_seq, head.ext_seq)
        self._playing = True
        self._expanded = 0
        return self._play(head, self._playout_delay(head, now))

    def _drop_oldest(self) -> None:
        oldest = min(self._slots)
        del self._slots[oldest]
        self._overflow += 1
        if self._next_seq is not None and self._next_seq <= oldest:
            self._next_seq = oldest + 1
            self._playing = False

    # -- delay estimation ------------------------------------------------------

    def _observe_transit(self, ext_ts: int, arrival: float) -> float:
        transit = arrival - ext_ts / self.clock_rate
        window = self._transit_window
        if window and transit - window[0][1] > 2 * self.max_delay + 1.0:
            # RTP timestamp discontinuity: restart the reference rather than learn a bogus delay.
            window.clear()
        while window and window[-1][1] >= transit:
            window.pop()
        window.append((arrival, transit))
        while window[0][0] < arrival - self.reference_window:
            window.popleft()
        self._d_ref = window[0][1]
        relative_ms = min((transit - self._d_ref) * 1000, float(self._hist.bins - 1))
        self._hist_quantile_ms = float(self._hist.add(int(relative_ms)) + 1)
        return relative_ms

    def _bump_peak(self, relative_ms: float, now: float) -> None:
        self._decay_peak(now)
        self._peak_ms = max(self._peak_ms, relative_ms)
        self._recompute_target()

    def _decay_peak(self, now: float) -> None:
        if self._peak_time is not None and now > self._peak_time:
            self._peak_ms = max(0.0, self._peak_ms - self.peak_decay * 1000 * (now - self._peak_time))
        if self._peak_time is None or now > self._peak_time:
            self._peak_time = now

    def _update_target(self, now: float) -> None:
        self._decay_peak(now)
        self._recompute_target()

    def _recompute_target(self) -> None:
        wanted = max(self._hist_quantile_ms, self._peak_ms) / 1000 + self.ptime / 2
        self._target = min(self.max_delay, max(self.min_delay, wanted))

    # -- sequence numbers --------------------------------------------------------

    def _reset_stream(self) -> None:
        self._slots.clear()
        self._seen.clear()
        self._skipped.clear()
        self._max_ext_seq = None
        self._max_ext_ts = 0
        self._bad_seq = None
        self._next_seq = None
        self._play_ts = 0
        self._playing = False
        self._expanded = 0
        self._last_compress = float("-inf")
        self._transit_window = deque()
        self._d_ref = 0.0

    def _start_stream(self, seq: int, timestamp: int) -> None:
        self._max_ext_seq = seq
        self._max_ext_ts = timestamp

    @property
    def _max_ext_seq_value(self) -> int:
        assert self._max_ext_seq is not None
        return self._max_ext_seq

    def _extend_seq(self, seq: int) -> int | None:
        highest = self._max_ext_seq_value
        delta = (seq - highest) % _SEQ_MOD
        if delta < _SEQ_MOD // 2:
            if delta <= _MAX_DROPOUT:
                self._bad_seq = None
                return highest + delta
        elif _SEQ_MOD - delta <= _MAX_MISORDER:
            return highest + delta - _SEQ_MOD
        # RFC 3550 A.1: a large jump is a restart only if the next packet follows it.
        if self._bad_seq is not None and seq == self._bad_seq:
            self._reset_stream()
            self._start_stream(seq, 0)
            self._restarted = True
            return seq
        self._bad_seq = (seq + 1) % _SEQ_MOD
        return None

    def _extend_ts(self, timestamp: int) -> int:
        if self._restarted:
            self._restarted = False
            self._max_ext_ts = timestamp
            return timestamp
        highest = self._max_ext_ts
        delta = (timestamp - highest) % _TS_MOD
        if delta >= _TS_MOD // 2:
            delta -= _TS_MOD
        return highest + delta

"""Local conference mixing: several calls, one microphone and one speaker.

A :class:`ConferenceMixer` joins N calls (each a :class:`~softphone.media.engine.MediaSession`
with a media thread of its own, running on its own deadline schedule). Each member gets a
source and a sink (one :class:`ConferenceMember` is both):

- what member *i* sends is our microphone plus what every other member *j* ≠ *i* plays to us;
- what all members play to us is mixed and played once on our speaker.

Pacing. The first member still in the conference is the *leader*: its media thread reads the
microphone (once per ptime) and writes the speaker. Every other member hands what it plays to
the leader through a ring, and the leader hands the microphone to it through another; what one
member plays reaches each other member through a ring per ordered pair. Each ring starts with
one ptime of silence, and a read that cannot take a whole block takes nothing (it is padded
with silence and what there was waits for the next read): the members' threads tick at the same
rate but at their own phases, and where a writer's tick sometimes falls after its reader's,
that ptime of slack keeps the reader from running dry each time they cross (a few underruns a
minute on a quiet machine, thousands on a loaded one, before). It costs one ptime of delay
through the conference. When a member's thread runs late, its rings underrun (padded with
silence) or overrun (the oldest samples beyond ``max_delay`` are skipped), so no thread ever
waits for another and the delay a ring can add stays bounded.

Threads. The rings (:class:`~softphone.media.ring.RingBuffer`) are preallocated; one small
lock is held only while samples are copied and mixed (a few numpy operations per ptime), and
the microphone and speaker are the non-blocking source and sink the calls used alone. Sums
are clipped to ±1.0 after mixing. Everything is mono float32 at 48 kHz, as the engine uses.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

from softphone.media.ring import RingBuffer
from softphone.media.sources import PIPELINE_RATE, AudioSink, AudioSource, NullSink, SilenceSource

__all__ = ["ConferenceMember", "ConferenceMixer"]

Samples = npt.NDArray[np.float32]

_DEFAULT_CAPACITY = PIPELINE_RATE // 2  # 500 ms per ring
_DEFAULT_MAX_DELAY = PIPELINE_RATE // 10  # at most 100 ms queued in a ring
_SLACK = PIPELINE_RATE // 50  # the silence a ring starts with: one 20 ms ptime


class ConferenceMember:
    """One call's view of the conference: ``read()`` is its source, ``write()`` its sink."""

    def __init__(self, mixer: ConferenceMixer, key: Hashable) -> None:
        self._mixer = mixer
        self.key = key
        self.active = True

    def read(self, frames: int) -> Samples:
        """What this member sends: the microphone plus every other member."""
        return self._mixer._read(self, frames)

    def write(self, block: Samples) -> None:
        """What this member plays to us: heard by the other members and on the speaker."""
        self._mixer._write(self, block)


class ConferenceMixer:
    """Mixes the audio of several calls with a shared microphone and speaker (see the module doc).

    mic: the local microphone (read only by the leader's media thread).
    speaker: the local speaker (written only by the leader's media thread).
    """

    def __init__(
        self,
        mic: AudioSource | None = None,
        speaker: AudioSink | None = None,
        *,
        capacity: int = _DEFAULT_CAPACITY,
        max_delay: int = _DEFAULT_MAX_DELAY,
    ) -> None:
        if not 0 < max_delay <= capacity:
            raise ValueError("max_delay must be between 1 and capacity")
        self.mic: AudioSource = mic if mic is not None else SilenceSource()
        self.speaker: AudioSink = speaker if speaker is not None else NullSink()
        self._capacity = capacity
        self._max_delay = max_delay
        self._lock = threading.Lock()
        self._members: list[ConferenceMember] = []
        # (from, to) -> what member ``from`` played, for member ``to`` to send
        self._pair: dict[tuple[Hashable, Hashable], RingBuffer] = {}
        self._mic_rings: dict[Hashable, RingBuffer] = {}  # leader -> member: the microphone
        self._speaker_rings: dict[Hashable, RingBuffer] = {}  # member -> leader: for the speaker
        self._scratch: Samples = np.zeros(PIPELINE_RATE // 10, dtype=np.float32)
        self.overruns = 0
        self.underruns = 0

    # ----- membership (any thread) ----------------------------------------------------

    def add(self, key: Hashable) -> ConferenceMember:
        """Add a member; returns its source/sink. A key already present is replaced."""
        with self._lock:
            self._remove_locked(key)
            member = ConferenceMember(self, key)
            for other in self._members:
                self._pair[(other.key, key)] = self._ring()
                self._pair[(key, other.key)] = self._ring()
            self._mic_rings[key] = self._ring()
            self._speaker_rings[key] = self._ring()
            self._members.append(member)
            return member

    def remove(self, key: Hashable) -> None:
        """Take a member out: its source then gives silence and its sink discards."""
        with self._lock:
            self._remove_locked(key)

    @property
    def keys(self) -> list[Hashable]:
        with self._lock:
            return [m.key for m in self._members]

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, key: object) -> bool:
        return any(m.key == key for m in self._members)

    def _remove_locked(self, key: Hashable) -> None:
        for member in self._members:
            if member.key == key:
                member.active = False
                self._members.remove(member)
                break
        else:
            return
        for pair in [p for p in self._pair if key in p]:
            del self._pair[pair]
        self._mic_rings.pop(key, None)
        self._speaker_rings.pop(key, None)

    def _ring(self) -> RingBuffer:
        ring = RingBuffer(self._capacity, "float32")
        ring.write_silence(min(_SLACK, self._max_delay))
        return ring

    # ----- media threads ---------------------------------------------------------------

    def _scratch_for(self, frames: int) -> Samples:
        if self._scratch.size < frames:  # only when a ptime longer than 100 ms shows up
            self._scratch = np.zeros(frames, dtype=np.float32)
        return self._scratch[:frames]

    def _put(self, ring: RingBuffer, block: Samples) -> None:
        """Write with bounded delay: what is beyond ``max_delay`` (oldest first) is skipped."""
        excess = ring.available() + block.shape[0] - self._max_delay
        if excess > 0:
            self.overruns += 1
            ring.skip(excess)
        ring.write(block[-self._max_delay :])

    def _add_from(self, ring: RingBuffer, out: Samples, scratch: Samples) -> None:
        if ring.available() < scratch.shape[0]:
            self.underruns += 1  # nothing taken: what there is waits, and the slack builds up again
            return
        ring.read_into(scratch)
        out += scratch

    def _read(self, member: ConferenceMember, frames: int) -> Samples:
        out = np.zeros(frames, dtype=np.float32)
        with self._lock:
            if not member.active:
                return out
            scratch = self._scratch_for(frames)
            if member is self._members[0]:
                mic = np.asarray(self.mic.read(frames), dtype=np.float32).reshape(-1)[:frames]
                out[: mic.shape[0]] += mic
                for other in self._members[1:]:
                    self._put(self._mic_rings[other.key], out)
            else:
                self._add_from(self._mic_rings[member.key], out, scratch)
            for other in self._members:
                if other is not member:
                    self._add_from(self._pair[(other.key, member.key)], out, scratch)
        np.clip(out, -1.0, 1.0, out=out)
        return out

    def _write(self, member: ConferenceMember, block: Samples) -> None:
        data = np.asarray(block, dtype=np.float32).reshape(-1)
        with self._lock:
            if not member.active:
                return
            for other in self._members:
                if other is not member:
                    self._put(self._pair[(member.key, other.key)], data)
            if member is not self._members[0]:
                self._put(self._speaker_rings[member.key], data)
                return
            mixed = data.copy()
            scratch = self._scratch_for(mixed.shape[0])
            for other in self._members[1:]:
                self._add_from(self._speaker_rings[other.key], mixed, scratch)
            np.clip(mixed, -1.0, 1.0, out=mixed)
            self.speaker.write(mixed)

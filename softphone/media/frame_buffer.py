"""The jitter buffer of a video stream, by frame (RFC 7741 4.5 for VP8, RFC 6184 for H.264), sans-I/O.

:class:`FrameAssembler` puts the RTP packets of one timestamp back together,
hands out complete frames in order, and after a loss drops every frame until
the next key frame, saying when one should be asked for (PLI). What it needs
of the codec's payload format is a :class:`PayloadFormat`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["MAX_FRAME_SIZE", "MAX_PENDING_PACKETS", "AssembledFrame", "FrameAssembler", "PayloadFormat"]

# A frame larger than this is refused: 1280x720 key frames are a few hundred kB at most.
MAX_FRAME_SIZE = 2_000_000
# At most this many packets wait in the jitter buffer; a sender flooding it loses its oldest frames.
MAX_PENDING_PACKETS = 2000
_SEQ_MOD = 1 << 16
_TS_MOD = 1 << 32
_MAX_GAP = 64


class PayloadFormat(Protocol):
    """A codec's RTP payload format as the frame buffer sees it.

    ``parse`` gives whether the packet starts a frame and its data to join (a ``ValueError`` for a malformed
    payload); ``explicit_start`` says whether that start flag can be trusted (VP8's S bit) or the frame starts
    after the previous one ended (H.264).
    """

    @property
    def name(self) -> str: ...
    @property
    def explicit_start(self) -> bool: ...
    def parse(self, payload: bytes) -> tuple[bool, bytes]: ...
    def is_keyframe(self, frame: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class AssembledFrame:
    """One whole frame put back together, with its RTP timestamp."""

    data: bytes
    timestamp: int
    keyframe: bool
    arrival: float


@dataclass(slots=True)
class _Part:
    payload: bytes
    start: bool
    marker: bool


@dataclass(slots=True)
class _Pending:
    timestamp: int
    first_arrival: float
    parts: dict[int, _Part] = field(default_factory=dict)
    size: int = 0

    def complete_span(self, explicit_start: bool) -> tuple[int, int] | None:
        starts = [seq for seq, part in self.parts.items() if part.start] if explicit_start else [min(self.parts)]
        ends = [seq for seq, part in self.parts.items() if part.marker]
        if len(starts) != 1 or len(ends) != 1:
            return None
        first, last = starts[0], ends[0]
        if last < first or last - first + 1 != len(self.parts):
            return None
        return first, last


class FrameAssembler:
    """A jitter buffer by frame for one video stream of ``payload_format``.

    :meth:`push` takes each RTP packet's sequence number, timestamp, marker bit and payload;
    :meth:`pop` returns the frames that are ready, in sequence order. A frame
    waits at most ``max_delay`` seconds for a packet before it; then the
    missing ones count as lost, and from there on frames are dropped until a key
    frame comes (``need_keyframe``: time to send a PLI).
    """

    def __init__(self, payload_format: PayloadFormat, max_delay: float = 0.2) -> None:
        self.format = payload_format
        self.max_delay = max_delay
        self._pending: dict[int, _Pending] = {}
        self._packets = 0
        self._highest: int | None = None
        self._missing: list[int] = []
        # The extended sequence number the next frame must start at; None before the first frame.
        self._next_seq: int | None = None
        self.need_keyframe = True
        self.frames_out = 0
        self.frames_dropped = 0
        self.packets_malformed = 0
        self.packets_late = 0
        self.packets_duplicate = 0
        self.losses = 0

    def _extend(self, sequence: int) -> int:
        if self._highest is None:
            self._highest = sequence + _SEQ_MOD  # room below for a few reordered packets
            return self._highest
        delta = (sequence - self._highest) % _SEQ_MOD
        if delta >= _SEQ_MOD // 2:
            delta -= _SEQ_MOD
        extended = self._highest + delta
        if delta > 1:
            # A gap: the packets in it may still come, or be asked for again (RFC 4585 generic NACK).
            self._missing.extend(s & 0xFFFF for s in range(max(self._highest + 1, extended - _MAX_GAP), extended))
            del self._missing[:-_MAX_GAP]
        self._highest = max(self._highest, extended)
        return extended

    @property
    def has_missing(self) -> bool:
        return bool(self._missing)

    def take_missing(self) -> list[int]:
        """The sequence numbers of packets found missing since the last call (gaps of at most 64)."""
        missing, self._missing = self._missing, []
        return missing

    def push(self, sequence: int, timestamp: int, marker: bool, payload: bytes, now: float) -> bool:
        """Take one packet; False (and a counter moves) when it is malformed, late or a duplicate."""
        try:
            start, data = self.format.parse(payload)
        except ValueError:
            self.packets_malformed += 1
            return False
        seq = self._extend(sequence)
        if self._next_seq is not None and seq < self._next_seq:
            self.packets_late += 1
            return False
        timestamp %= _TS_MOD
        pending = self._pending.get(timestamp)
        if pending is None:
            pending = _Pending(timestamp, now)
            self._pending[timestamp] = pending
        if seq in pending.parts:
            self.packets_duplicate += 1
            return False
        if pending.size + len(data) > MAX_FRAME_SIZE:
            self.packets_malformed += 1
            return False
        pending.parts[seq] = _Part(data, start, marker)
        pending.size += len(data)
        self._packets += 1
        while self._packets > MAX_PENDING_PACKETS:
            self._drop_oldest()
        return True

    def _drop_oldest(self) -> None:
        oldest = min(self._pending.values(), key=lambda p: min(p.parts))
        self._discard(oldest)
        self.frames_dropped += 1
        self.losses += 1
        self.need_keyframe = True

    def _discard(self, pending: _Pending) -> None:
        del self._pending[pending.timestamp]
        self._packets -= len(pending.parts)
        if pending.parts:
            last = max(pending.parts) + 1
            self._next_seq = last if self._next_seq is None else max(self._next_seq, last)

    def pop(self, now: float) -> list[AssembledFrame]:
        """The frames ready to decode now, in order."""
        frames: list[AssembledFrame] = []
        # One sort per call: a flood of pending fragments costs n log n here, not n squared.
        for head in sorted(self._pending.values(), key=lambda p: min(p.parts)):
            if (
                self._next_seq is None
                and not self.format.explicit_start
                and now - head.first_arrival < self.max_delay / 4
            ):
                break  # the very first frame: its first packet may still be on its way, and nothing marks it
            span = head.complete_span(self.format.explicit_start)
            if span is None or (self._next_seq is not None and span[0] != self._next_seq):
                # Something before ``head`` (or inside it) is missing: wait up to max_delay for it (a NACK's resend).
                if now - head.first_arrival < self.max_delay:
                    break
                self.losses += 1
                self.need_keyframe = True
                if span is None:
                    self._discard(head)
                    self.frames_dropped += 1
                    continue
                # The frame itself is whole but a packet before it is lost: it may still be a key frame.
            self._discard(head)
            self._next_seq = span[1] + 1
            frame = self._join(head, span)
            if frame is not None:
                frames.append(frame)
        return frames

    def _join(self, pending: _Pending, span: tuple[int, int]) -> AssembledFrame | None:
        data = b"".join(pending.parts[seq].payload for seq in range(span[0], span[1] + 1))
        keyframe = self.format.is_keyframe(data)
        if self.need_keyframe and not keyframe:
            # RFC 7741 4.5.1: after a loss, frames that refer to what was lost cannot be decoded (H.264 alike).
            self.frames_dropped += 1
            return None
        if keyframe:
            self.need_keyframe = False
        self.frames_out += 1
        return AssembledFrame(data, pending.timestamp, keyframe, pending.first_arrival)

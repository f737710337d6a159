"""The RTP payload format for VP8 (RFC 7741), sans-I/O.

:class:`Vp8Packetizer` cuts encoded frames into RTP payloads with the
payload descriptor of RFC 7741 4.2 (a 15-bit PictureID, S bit on the first
packet of the frame, partition index 0). :class:`FrameAssembler` is the
receiving side: a jitter buffer by frame that puts packets of one timestamp
back together, hands out complete frames in order, and after a loss drops
every frame until the next key frame (RFC 7741 4.5.1), saying when one
should be asked for (PLI).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "MAX_FRAME_SIZE",
    "AssembledFrame",
    "FrameAssembler",
    "PayloadDescriptor",
    "Vp8Packetizer",
    "is_keyframe",
    "parse_descriptor",
]

# A frame larger than this is refused: 1280x720 key frames are a few hundred kB at most.
MAX_FRAME_SIZE = 2_000_000
# At most this many packets wait in the jitter buffer; a sender flooding it loses its oldest frames.
MAX_PENDING_PACKETS = 2000
_SEQ_MOD = 1 << 16
_TS_MOD = 1 << 32
_MAX_GAP = 64


class Vp8Error(ValueError):
    """A VP8 RTP payload that does not follow RFC 7741."""


@dataclass(frozen=True, slots=True)
class PayloadDescriptor:
    """The VP8 payload descriptor (RFC 7741 4.2) and where the VP8 data starts after it."""

    non_reference: bool
    start: bool
    partition: int
    picture_id: int | None
    tl0picidx: int | None
    tid: int | None
    keyidx: int | None
    size: int


def parse_descriptor(payload: bytes) -> PayloadDescriptor:
    """Parse the descriptor at the start of ``payload``; :class:`Vp8Error` when it is cut short or empty after it."""
    if not payload:
        raise Vp8Error("empty VP8 payload")
    first = payload[0]
    offset = 1
    picture_id = tl0picidx = tid = keyidx = None
    if first & 0x80:
        if len(payload) < 2:
            raise Vp8Error("VP8 descriptor X bit set but no extension octet")
        ext = payload[1]
        offset = 2
        if ext & 0x80:  # I: PictureID, 7 or 15 bits (M bit)
            if len(payload) <= offset:
                raise Vp8Error("VP8 PictureID is missing")
            if payload[offset] & 0x80:
                if len(payload) <= offset + 1:
                    raise Vp8Error("15-bit VP8 PictureID is cut short")
                picture_id = ((payload[offset] & 0x7F) << 8) | payload[offset + 1]
                offset += 2
            else:
                picture_id = payload[offset] & 0x7F
                offset += 1
        if ext & 0x40:  # L: TL0PICIDX
            if len(payload) <= offset:
                raise Vp8Error("VP8 TL0PICIDX is missing")
            tl0picidx = payload[offset]
            offset += 1
        if ext & 0x30:  # T or K: one octet with TID/Y/KEYIDX
            if len(payload) <= offset:
                raise Vp8Error("VP8 TID/KEYIDX octet is missing")
            if ext & 0x20:
                tid = payload[offset] >> 6
            if ext & 0x10:
                keyidx = payload[offset] & 0x1F
            offset += 1
    if offset >= len(payload):
        raise Vp8Error("VP8 payload has a descriptor but no data")
    return PayloadDescriptor(
        non_reference=bool(first & 0x20),
        start=bool(first & 0x10),
        partition=first & 0x07,
        picture_id=picture_id,
        tl0picidx=tl0picidx,
        tid=tid,
        keyidx=keyidx,
        size=offset,
    )


def is_keyframe(frame: bytes) -> bool:
    """RFC 7741 4.3 and RFC 6386 9.1: P bit 0 in the frame tag and the start code 9d 01 2a."""
    return len(frame) >= 10 and not frame[0] & 0x01 and frame[3:6] == b"\x9d\x01\x2a"


class Vp8Packetizer:
    """Cuts encoded VP8 frames into RTP payloads of at most ``max_payload`` octets."""

    def __init__(self, max_payload: int = 1200, picture_id: int = 0) -> None:
        if max_payload < 8:
            raise ValueError("max_payload must leave room for the descriptor and data")
        self.max_payload = max_payload
        self.picture_id = picture_id & 0x7FFF

    def packetize(self, frame: bytes) -> list[bytes]:
        """The payloads of one frame, in order; the last one goes with the RTP marker bit (RFC 7741 4.1)."""
        if not frame:
            return []
        picture_id = self.picture_id
        self.picture_id = (picture_id + 1) & 0x7FFF
        # X=1, I=1 with M=1: a 15-bit PictureID in every packet (RFC 7741 4.2).
        pid = bytes((0x80 | (picture_id >> 8), picture_id & 0xFF))
        room = self.max_payload - 4
        payloads = []
        for offset in range(0, len(frame), room):
            start = 0x10 if offset == 0 else 0x00
            payloads.append(bytes((0x80 | start, 0x80)) + pid + frame[offset : offset + room])
        return payloads


@dataclass(frozen=True, slots=True)
class AssembledFrame:
    """One whole VP8 frame put back together, with its RTP timestamp."""

    data: bytes
    timestamp: int
    keyframe: bool
    picture_id: int | None
    arrival: float


@dataclass(slots=True)
class _Part:
    payload: bytes
    start: bool
    marker: bool
    picture_id: int | None


@dataclass(slots=True)
class _Pending:
    timestamp: int
    first_arrival: float
    parts: dict[int, _Part] = field(default_factory=dict)
    size: int = 0

    def complete_span(self) -> tuple[int, int] | None:
        starts = [seq for seq, part in self.parts.items() if part.start]
        ends = [seq for seq, part in self.parts.items() if part.marker]
        if len(starts) != 1 or len(ends) != 1:
            return None
        first, last = starts[0], ends[0]
        if last < first or last - first + 1 != len(self.parts):
            return None
        return first, last


class FrameAssembler:
    """A jitter buffer by frame for one VP8 stream (RFC 7741 4.5).

    :meth:`push` takes each RTP packet's sequence number, timestamp, marker bit and payload;
    :meth:`pop` returns the frames that are ready, in sequence order. A frame
    waits at most ``max_delay`` seconds for a packet before it; then the
    missing ones count as lost, and from there on frames are dropped until a key
    frame comes (``need_keyframe``: time to send a PLI).
    """

    def __init__(self, max_delay: float = 0.2) -> None:
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
            descriptor = parse_descriptor(payload)
        except Vp8Error:
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
        data = payload[descriptor.size :]
        if pending.size + len(data) > MAX_FRAME_SIZE:
            self.packets_malformed += 1
            return False
        start = descriptor.start and descriptor.partition == 0
        pending.parts[seq] = _Part(data, start, marker, descriptor.picture_id)
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
        while self._pending:
            ordered = sorted(self._pending.values(), key=lambda p: min(p.parts))
            head = ordered[0]
            span = head.complete_span()
            in_order = span is not None and (self._next_seq is None or span[0] == self._next_seq)
            if in_order and span is not None:
                self._discard(head)
                self._next_seq = span[1] + 1
                frame = self._join(head, span)
                if frame is not None:
                    frames.append(frame)
                continue
            # Something before ``head`` (or inside it) is missing: wait up to max_delay for it (a NACK's resend).
            if now - head.first_arrival < self.max_delay:
                break
            self.losses += 1
            self.need_keyframe = True
            if span is not None:
                # The frame itself is whole but a packet before it is lost: it may still be a key frame.
                self._next_seq = span[0]
            else:
                self._discard(head)
                self.frames_dropped += 1
        return frames

    def _join(self, pending: _Pending, span: tuple[int, int]) -> AssembledFrame | None:
        data = b"".join(pending.parts[seq].payload for seq in range(span[0], span[1] + 1))
        keyframe = is_keyframe(data)
        if self.need_keyframe and not keyframe:
            # RFC 7741 4.5.1: after a loss, frames that refer to what was lost cannot be decoded.
            self.frames_dropped += 1
            return None
        if keyframe:
            self.need_keyframe = False
        self.frames_out += 1
        return AssembledFrame(
            data, pending.timestamp, keyframe, pending.parts[span[0]].picture_id, pending.first_arrival
        )

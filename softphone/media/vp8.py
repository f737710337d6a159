"""The RTP payload format for VP8 (RFC 7741), sans-I/O.

:class:`Vp8Packetizer` cuts encoded frames into RTP payloads with the
payload descriptor of RFC 7741 4.2 (a 15-bit PictureID, S bit on the first
packet of the frame, partition index 0). :class:`Vp8Format` is what the
receiving side's frame jitter buffer (:mod:`softphone.media.frame_buffer`)
needs to know of VP8: where a frame starts, what its data is, whether it is a
key frame.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PayloadDescriptor", "Vp8Error", "Vp8Format", "Vp8Packetizer", "is_keyframe", "parse_descriptor"]


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


class Vp8Format:
    """VP8 for :class:`~softphone.media.frame_buffer.FrameAssembler`: the S bit of partition 0 starts a frame."""

    name = "VP8"
    explicit_start = True

    def parse(self, payload: bytes) -> tuple[bool, bytes]:
        descriptor = parse_descriptor(payload)
        return descriptor.start and descriptor.partition == 0, payload[descriptor.size :]

    def is_keyframe(self, frame: bytes) -> bool:
        return is_keyframe(frame)

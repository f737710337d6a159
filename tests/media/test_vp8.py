"""The VP8 RTP payload format (RFC 7741): descriptor, packetizer and the frame assembler."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.media.frame_buffer import MAX_PENDING_PACKETS, FrameAssembler
from softphone.media.vp8 import Vp8Error, Vp8Format, Vp8Packetizer, is_keyframe, parse_descriptor

# A VP8 key frame tag (P bit 0, show_frame) and the start code of RFC 6386 9.1.
KEY = bytes((0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xF0, 0x00))
DELTA = bytes((0x31, 0x02, 0x00))


def frame(key: bool, size: int, fill: int) -> bytes:
    head = KEY if key else DELTA
    return head + bytes([fill & 0xFF]) * (size - len(head))


def test_descriptor_of_rfc_7741_example_fields() -> None:
    # X, N, S set, PID 0; I with a 15-bit PictureID 0x1234, L with TL0PICIDX 7, T and K: TID 2, KEYIDX 5.
    payload = bytes((0xB0, 0xF0, 0x80 | 0x12, 0x34, 0x07, (2 << 6) | 0x05)) + b"data"
    d = parse_descriptor(payload)
    assert (d.non_reference, d.start, d.partition) == (True, True, 0)
    assert (d.picture_id, d.tl0picidx, d.tid, d.keyidx, d.size) == (0x1234, 7, 2, 5, 6)
    short = parse_descriptor(bytes((0x90, 0x80, 0x05)) + b"x")
    assert short.picture_id == 5 and short.size == 3
    plain = parse_descriptor(bytes((0x10,)) + b"x")
    assert plain.picture_id is None and plain.size == 1


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x80", b"\x80\x80", b"\x80\x80\x80", b"\x80\x40", b"\x80\x20", b"\x10", b"\x90\x80\x05"],
)
def test_cut_short_descriptors_are_errors(payload: bytes) -> None:
    with pytest.raises(Vp8Error):
        parse_descriptor(payload)


def test_packetizer_sets_start_bit_picture_id_and_size() -> None:
    packetizer = Vp8Packetizer(max_payload=100, picture_id=0x7FFF)
    data = frame(True, 450, 1)
    payloads = packetizer.packetize(data)
    assert len(payloads) == 5 and all(len(p) <= 100 for p in payloads)
    descriptors = [parse_descriptor(p) for p in payloads]
    assert [d.start for d in descriptors] == [True, False, False, False, False]
    assert {d.picture_id for d in descriptors} == {0x7FFF}
    assert b"".join(p[d.size :] for p, d in zip(payloads, descriptors, strict=True)) == data
    assert parse_descriptor(packetizer.packetize(b"xy")[0]).picture_id == 0  # wraps at 15 bits
    assert packetizer.packetize(b"") == []


def test_keyframe_detection() -> None:
    assert is_keyframe(frame(True, 20, 0))
    assert not is_keyframe(frame(False, 20, 0))
    assert not is_keyframe(b"\x00\x00")


class Stream:
    """A sender: frames to packets with sequence numbers, timestamps and marker bits."""

    def __init__(self, seq: int = 65530, ts: int = 2**32 - 6000) -> None:
        self.packetizer = Vp8Packetizer(max_payload=60)
        self.seq = seq
        self.ts = ts

    def packets(self, data: bytes) -> list[tuple[int, int, bool, bytes]]:
        payloads = self.packetizer.packetize(data)
        out = []
        for i, payload in enumerate(payloads):
            out.append((self.seq, self.ts, i == len(payloads) - 1, payload))
            self.seq = (self.seq + 1) % 65536
        self.ts = (self.ts + 3000) % 2**32
        return out


def feed(assembler: FrameAssembler, packets: list[tuple[int, int, bool, bytes]], now: float) -> None:
    for seq, ts, marker, payload in packets:
        assembler.push(seq, ts, marker, payload, now)


def test_frames_come_out_whole_and_in_order_across_wraparound() -> None:
    stream, assembler = Stream(), FrameAssembler(Vp8Format())
    frames = [frame(i == 0, 150 + i, i) for i in range(6)]
    packets = [p for f in frames for p in stream.packets(f)]
    random.Random(1).shuffle(packets)  # reordering inside the jitter buffer's reach
    feed(assembler, packets, 0.0)
    out = assembler.pop(0.0)
    assert [f.data for f in out] == frames
    assert out[0].keyframe and not out[1].keyframe
    assert assembler.frames_dropped == 0 and not assembler.need_keyframe


def test_a_lost_packet_drops_frames_until_the_next_keyframe() -> None:
    stream, assembler = Stream(), FrameAssembler(Vp8Format(), max_delay=0.1)
    first = stream.packets(frame(True, 150, 0))
    lost = stream.packets(frame(False, 150, 1))
    after = stream.packets(frame(False, 150, 2))
    key = stream.packets(frame(True, 150, 3))
    feed(assembler, first + lost[1:] + after, 0.0)
    assert len(assembler.pop(0.0)) == 1
    assert assembler.pop(0.05) == []  # waiting for the missing packet
    assert assembler.pop(0.2) == []  # given up: the frame after it cannot be decoded either
    assert assembler.need_keyframe and assembler.losses >= 1
    feed(assembler, key, 0.3)
    out = assembler.pop(0.3)
    assert [f.keyframe for f in out] == [True] and not assembler.need_keyframe
    assert assembler.frames_dropped == 2


def test_late_and_duplicate_packets_are_counted_and_dropped() -> None:
    stream, assembler = Stream(), FrameAssembler(Vp8Format())
    packets = stream.packets(frame(True, 150, 0))
    feed(assembler, packets, 0.0)
    assert not assembler.push(*packets[0], 0.0)
    assert assembler.packets_duplicate == 1
    assert len(assembler.pop(0.0)) == 1
    assert not assembler.push(*packets[1], 0.01)
    assert assembler.packets_late == 1


def test_garbage_payloads_are_counted_and_dropped() -> None:
    assembler = FrameAssembler(Vp8Format())
    assert not assembler.push(1, 1, True, b"", 0.0)
    assert not assembler.push(2, 1, True, b"\x80", 0.0)
    assert assembler.packets_malformed == 2
    assert assembler.pop(1.0) == []


def test_a_flood_of_incomplete_frames_is_bounded() -> None:
    assembler = FrameAssembler(Vp8Format())
    for seq in range(MAX_PENDING_PACKETS + 500):
        assembler.push(seq % 65536, seq * 7, False, b"\x80\x80\x80\x01x", 0.0)
    assert sum(len(p.parts) for p in assembler._pending.values()) <= MAX_PENDING_PACKETS
    assert assembler.pop(10.0) == []
    assert not assembler._pending


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 2**32 - 1), st.booleans(), st.binary(max_size=40))))
def test_any_packets_never_raise(packets: list[tuple[int, int, bool, bytes]]) -> None:
    assembler = FrameAssembler(Vp8Format())
    for i, packet in enumerate(packets):
        assembler.push(*packet, i * 0.01)
        for out in assembler.pop(i * 0.01):
            assert out.keyframe or not assembler.need_keyframe
    assembler.pop(100.0)

"""The H.264 RTP payload format (RFC 6184): packetizer, depacketizer, frames through the frame buffer, garbage."""

from __future__ import annotations

import base64
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.media.errors import MediaError
from softphone.media.frame_buffer import FrameAssembler
from softphone.media.h264 import (
    FU_A,
    START_CODE,
    H264Error,
    H264Format,
    H264Packetizer,
    depacketize,
    is_idr,
    nal_units,
    sprop_parameter_sets,
)
from softphone.media.video_codec import VideoDecoder, VideoEncoder
from softphone.media.video_sources import PatternSource, read_counter

SPS = bytes((0x67, 0x42, 0xC0, 0x0D)) + b"\x11" * 6
PPS = bytes((0x68, 0xCE, 0x3C, 0x80))
IDR = bytes((0x65,)) + bytes(range(1, 256)) * 12
SLICE = bytes((0x41,)) + b"\x22" * 40


def access_unit(*units: bytes) -> bytes:
    return b"".join(START_CODE + unit for unit in units)


def test_nal_units_split_on_three_and_four_octet_start_codes() -> None:
    stream = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x00\x01" + SLICE
    assert nal_units(stream) == [SPS, PPS, SLICE]
    assert is_idr(access_unit(SPS, PPS, IDR)) and not is_idr(access_unit(SLICE))


def test_small_units_go_alone_and_large_ones_in_fu_a() -> None:
    payloads = H264Packetizer(max_payload=1000).packetize(access_unit(SPS, PPS, IDR))
    assert payloads[0] == SPS and payloads[1] == PPS
    fragments = payloads[2:]
    assert len(fragments) == 4 and all(len(p) <= 1000 for p in payloads)
    assert all(p[0] & 0x1F == FU_A and p[0] & 0x60 == IDR[0] & 0x60 for p in fragments)
    assert [bool(p[1] & 0x80) for p in fragments] == [True, False, False, False]
    assert [bool(p[1] & 0x40) for p in fragments] == [False, False, False, True]
    rebuilt = b"".join(depacketize(p)[1] for p in payloads)
    assert rebuilt == access_unit(SPS, PPS, IDR)


def test_stap_a_is_taken_apart() -> None:
    stap = bytes((0x78,)) + len(SPS).to_bytes(2, "big") + SPS + len(PPS).to_bytes(2, "big") + PPS
    assert depacketize(stap) == (True, access_unit(SPS, PPS))


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x80abc",  # forbidden bit
        b"\x19abc",  # STAP-B
        b"\x1a\x00",  # MTAP16
        b"\x1d\x85x",  # FU-B
        b"\x78\x00",  # STAP-A cut short
        b"\x78\x00\x09ab",  # STAP-A size beyond the end
        b"\x78\x00\x00",  # STAP-A with a zero size
        b"\x7c\x85",  # FU-A without data
        b"\x7c\xc5x",  # FU-A with S and E
        b"\x1f\x00",  # reserved type
    ],
)
def test_what_rfc_6184_does_not_allow_is_refused(payload: bytes) -> None:
    with pytest.raises(H264Error):
        depacketize(payload)


def test_sprop_parameter_sets() -> None:
    value = f"{base64.b64encode(SPS).decode()},{base64.b64encode(PPS).decode()}"
    assert sprop_parameter_sets(value) == access_unit(SPS, PPS)
    for bad in ("!!!", base64.b64encode(SLICE).decode(), ""):
        with pytest.raises(H264Error):
            sprop_parameter_sets(bad)


def packets(frames: list[bytes], seq: int = 65534, ts: int = 5) -> list[tuple[int, int, bool, bytes]]:
    packetizer = H264Packetizer(max_payload=300)
    out = []
    for frame in frames:
        payloads = packetizer.packetize(frame)
        for n, payload in enumerate(payloads):
            out.append((seq % 65536, ts, n == len(payloads) - 1, payload))
            seq += 1
        ts += 6000
    return out


def test_encoded_h264_survives_packets_reordering_and_the_frame_buffer() -> None:
    encoder, decoder = VideoEncoder("H264", 320, 240, 15, 300_000), VideoDecoder("H264")
    source = PatternSource()
    frames = [b"".join(encoder.encode(source.next_frame(i))) for i in range(12)]
    sent = packets(frames)
    random.Random(3).shuffle(sent)
    assembler = FrameAssembler(H264Format())
    for packet in sent:
        assembler.push(*packet, 0.0)
    assert assembler.pop(0.0) == []  # the first frame waits a moment: nothing marks its first packet
    out = assembler.pop(0.1)
    # The same NAL units (start codes may differ in length: x264 writes three-octet ones too).
    assert [nal_units(f.data) for f in out] == [nal_units(f) for f in frames] and out[0].keyframe
    counters = [read_counter(p.to_ndarray(format="yuv420p")[:240]) for f in out for p in decoder.decode(f.data)]
    assert counters == list(range(12))


def test_a_lost_fragment_drops_frames_until_the_next_idr() -> None:
    encoder = VideoEncoder("H264", 320, 240, 15, 300_000)
    source = PatternSource()
    frames = [b"".join(encoder.encode(source.next_frame(i), keyframe=i == 4)) for i in range(6)]
    sent = packets(frames)
    first_of_frame_1 = next(i for i, p in enumerate(sent) if p[1] == 5 + 6000)
    del sent[first_of_frame_1]  # the start of the second frame: nothing marks where it began
    assembler = FrameAssembler(H264Format(), max_delay=0.1)
    for packet in sent:
        assembler.push(*packet, 0.0)
    out = assembler.pop(0.0) + assembler.pop(0.5)
    assert [f.timestamp for f in out] == [5, 5 + 4 * 6000, 5 + 5 * 6000]
    assert assembler.losses >= 1 and not assembler.need_keyframe


def test_h264_mode_0_encoder_keeps_every_nal_in_one_packet() -> None:
    encoder = VideoEncoder("H264", 320, 240, 15, 600_000, max_nal=500)
    source = PatternSource()
    for index in range(5):
        for frame in encoder.encode(source.next_frame(index), keyframe=index == 0):
            assert all(len(unit) <= 500 for unit in nal_units(frame) if unit[0] & 0x1F in (1, 5))


def test_unknown_codec_is_a_media_error() -> None:
    with pytest.raises(MediaError):
        VideoEncoder("H265", 320, 240, 15, 300_000)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 2**32 - 1), st.booleans(), st.binary(max_size=40))))
def test_any_packets_never_raise(packets: list[tuple[int, int, bool, bytes]]) -> None:
    assembler = FrameAssembler(H264Format())
    decoder = VideoDecoder("H264")
    for i, packet in enumerate(packets):
        assembler.push(*packet, i * 0.01)
        for frame in assembler.pop(i * 0.01):
            decoder.decode(frame.data)
    assembler.pop(100.0)


def test_the_first_frame_waits_for_its_late_first_packet() -> None:
    sent = packets([access_unit(SPS, PPS, IDR), access_unit(SLICE)])
    assembler = FrameAssembler(H264Format())
    for packet in sent[1:]:
        assembler.push(*packet, 0.0)
    assert assembler.pop(0.01) == []
    assembler.push(*sent[0], 0.02)
    out = assembler.pop(0.1)
    assert [f.data for f in out] == [access_unit(SPS, PPS, IDR), access_unit(SLICE)] and out[0].keyframe

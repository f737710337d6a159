"""RTCP feedback: generic NACK, PLI (RFC 4585) and FIR (RFC 5104), built and read back, and garbage."""

from __future__ import annotations

import os

import pytest

from softphone.media.errors import MediaError
from softphone.media.rtcp import GenericRtcpPacket, ReceiverReport, build_compound, packet_to_bytes, parse_compound
from softphone.media.rtcp_feedback import MAX_NACKED, fir, nack, nack_fci, pli, read_feedback


def round_trip(*packets: GenericRtcpPacket) -> list[object]:
    return parse_compound(build_compound([ReceiverReport(1, ()), *packets]))  # type: ignore[return-value]


def test_pli_wire_format_and_reading() -> None:
    packet = pli(0x11111111, 0x22222222)
    data = packet_to_bytes(packet)
    # RFC 4585 6.1: V=2, FMT=1, PT=206, length 2.
    assert data == bytes((0x81, 206, 0, 2)) + bytes.fromhex("1111111122222222")
    assert read_feedback(round_trip(packet), 0x22222222).keyframe  # type: ignore[arg-type]
    assert not read_feedback(round_trip(packet), 0x33333333).keyframe  # type: ignore[arg-type]


def test_fir_names_the_source_in_its_fci() -> None:
    packet = fir(1, 0xABCDEF01, 7)
    assert packet.body[4:8] == bytes(4)  # RFC 5104 4.3.1.1: media source SSRC 0
    assert read_feedback(round_trip(packet), 0xABCDEF01).keyframe  # type: ignore[arg-type]


def test_nack_fci_packs_following_losses_into_the_bitmask() -> None:
    assert nack_fci([5, 6, 8, 21, 22]) == [(5, 0b1000000000000101), (22, 0)]
    assert nack_fci([65535, 0, 1]) == [(65535, 0b11)]
    lost = [100, 101, 103, 140]
    feedback = read_feedback(round_trip(nack(1, 9, lost)), 9)  # type: ignore[arg-type]
    assert sorted(feedback.lost) == lost and not feedback.keyframe


def test_a_nack_cannot_ask_for_more_than_the_limit() -> None:
    body = (1).to_bytes(4, "big") + (9).to_bytes(4, "big") + bytes((0, 0, 0xFF, 0xFF)) * 200
    feedback = read_feedback([GenericRtcpPacket(205, 1, body)], 9)
    assert len(feedback.lost) == MAX_NACKED


@pytest.mark.parametrize("body", [b"", b"\x00" * 7, b"\x00\x00\x00\x01\x00\x00\x00\x09\x01"])
def test_short_or_ragged_feedback_is_counted(body: bytes) -> None:
    packets = [GenericRtcpPacket(205, 1, body), GenericRtcpPacket(206, 1, body[:7])]
    feedback = read_feedback(packets, 9)
    assert feedback.malformed >= 1 and not feedback.lost and not feedback.keyframe


def test_random_feedback_never_raises() -> None:
    for n in range(500):
        data = bytes((0x80 | (n % 32), 205 + n % 2, 0, (n % 5))) + os.urandom(4 * (n % 5))
        try:
            packets = parse_compound(data, require_report_first=False)
        except MediaError:
            continue
        read_feedback(packets, 1)

"""Telephone-event payloads, sender packet sequence and receiver de-duplication (RFC 4733)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from softphone.media.dtmf import (
    END_PACKET_COUNT,
    EVENT_CODES,
    EVENT_FLASH,
    DtmfDigit,
    DtmfReceiver,
    DtmfSender,
    TelephoneEvent,
    event_code,
)
from softphone.media.errors import MediaError
from softphone.media.rtp import RtpPacket, RtpSender

PT = 101


def test_event_codes() -> None:
    assert [event_code(d) for d in "0123456789*#ABCD"] == list(range(16))
    assert event_code("a") == 12
    assert EVENT_CODES["!"] == EVENT_FLASH == 16
    with pytest.raises(MediaError):
        event_code("E")


def test_payload_exact_bytes() -> None:
    event = TelephoneEvent(event=5, end=True, volume=10, duration=800)
    assert event.to_bytes() == bytes.fromhex("058a0320")
    assert TelephoneEvent.parse(event.to_bytes()) == event
    assert TelephoneEvent.parse(bytes.fromhex("0b0a00a0")) == TelephoneEvent(11, False, 10, 160)
    assert TelephoneEvent(11, False, 10, 160).digit == "#"


def test_reserved_bit_is_ignored() -> None:
    assert TelephoneEvent.parse(bytes.fromhex("01ca0001")) == TelephoneEvent(1, True, 10, 1)


@pytest.mark.parametrize(
    "event",
    [TelephoneEvent(256, False, 0, 0), TelephoneEvent(1, False, 64, 0), TelephoneEvent(1, False, 0, 1 << 16)],
)
def test_unencodable_events(event: TelephoneEvent) -> None:
    with pytest.raises(MediaError):
        event.to_bytes()


def test_short_payload() -> None:
    with pytest.raises(MediaError):
        TelephoneEvent.parse(b"\x01\x02\x03")


@given(st.binary(max_size=8))
def test_parse_only_raises_media_error(data: bytes) -> None:
    try:
        TelephoneEvent.parse(data)
    except MediaError:
        pass


@given(st.integers(0, 255), st.booleans(), st.integers(0, 63), st.integers(0, 0xFFFF))
def test_round_trip(event: int, end: bool, volume: int, duration: int) -> None:
    value = TelephoneEvent(event, end, volume, duration)
    assert TelephoneEvent.parse(value.to_bytes()) == value


def make_sender(seed: int = 0) -> RtpSender:
    return RtpSender(0, 8000, ssrc=77, rng=random.Random(seed))


def test_sender_packet_sequence() -> None:
    rtp = make_sender()
    start_ts, start_seq = rtp.timestamp, rtp.sequence
    packets = [RtpPacket.parse(p) for p in DtmfSender(rtp, PT, 160).digit("7", duration=800, volume=12)]
    events = [TelephoneEvent.parse(p.payload) for p in packets]
    assert len(packets) == 4 + END_PACKET_COUNT
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert {p.timestamp for p in packets} == {start_ts}
    assert {p.payload_type for p in packets} == {PT}
    assert [p.sequence for p in packets] == [(start_seq + i) % 65536 for i in range(7)]
    assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in events] == [False] * 4 + [True] * 3
    assert {(e.event, e.volume) for e in events} == {(7, 12)}
    # The media clock kept running during the event.
    assert rtp.timestamp == (start_ts + 7 * 160) % 2**32
    after = RtpPacket.parse(rtp.packetize(b"audio", 160))
    assert after.sequence == (start_seq + 7) % 65536


def test_short_event_marks_its_first_end_packet() -> None:
    packets = [RtpPacket.parse(p) for p in DtmfSender(make_sender(), PT, 160).digit("#", duration=100)]
    assert [p.marker for p in packets] == [True, False, False]
    assert all(TelephoneEvent.parse(p.payload) == TelephoneEvent(11, True, 10, 100) for p in packets)


def test_sender_rejects_bad_input() -> None:
    sender = DtmfSender(make_sender(), PT, 160)
    with pytest.raises(MediaError):
        list(sender.digit("x", 800))
    with pytest.raises(MediaError):
        list(sender.digit("1", 0))
    with pytest.raises(MediaError):
        list(sender.digit("1", 70000))


def dial(digits: str, seed: int = 0) -> list[RtpPacket]:
    rtp = make_sender(seed)
    dtmf = DtmfSender(rtp, PT, 160)
    packets: list[RtpPacket] = []
    for digit in digits:
        packets += [RtpPacket.parse(p) for p in dtmf.digit(digit, 640)]
        for _ in range(3):
            packets.append(RtpPacket.parse(rtp.packetize(b"\xff" * 160, 160)))
    return packets


def test_receiver_in_order() -> None:
    receiver = DtmfReceiver(PT)
    found = [d for p in dial("123#") if (d := receiver.receive(p)) is not None]
    assert [d.digit for d in found] == list("123#")


def test_receiver_repeated_digit_reported_twice() -> None:
    receiver = DtmfReceiver(PT)
    found = [d for p in dial("55") if (d := receiver.receive(p)) is not None]
    assert [d.digit for d in found] == ["5", "5"]
    assert found[0].timestamp != found[1].timestamp


def test_receiver_first_packet_lost() -> None:
    packets = [p for p in dial("9") if not p.marker]
    receiver = DtmfReceiver(PT)
    found = [d for p in packets if (d := receiver.receive(p)) is not None]
    assert [d.digit for d in found] == ["9"]


def test_receiver_only_end_packets() -> None:
    packets = [p for p in dial("*") if p.payload_type == PT and TelephoneEvent.parse(p.payload).end]
    receiver = DtmfReceiver(PT)
    assert len(packets) == END_PACKET_COUNT
    assert receiver.receive(packets[0]) == DtmfDigit("*", packets[0].timestamp)
    assert all(receiver.receive(p) is None for p in packets)


@pytest.mark.parametrize("seed", range(20))
def test_receiver_shuffled_and_duplicated(seed: int) -> None:
    packets = dial("0123456789*#ABCD", seed)
    expected = {(p.timestamp, TelephoneEvent.parse(p.payload).digit) for p in packets if p.payload_type == PT}
    rng = random.Random(seed)
    stream = packets + rng.sample(packets, len(packets) // 2)
    rng.shuffle(stream)
    receiver = DtmfReceiver(PT)
    found = [d for p in stream if (d := receiver.receive(p)) is not None]
    assert len(found) == 16
    assert {(d.timestamp, d.digit) for d in found} == expected
    assert "".join(d.digit for d in sorted(found, key=lambda d: d.timestamp - packets[0].timestamp & 0xFFFFFFFF)) == (
        "0123456789*#ABCD"
    )


def test_receiver_ignores_other_payload_types_and_unknown_events() -> None:
    receiver = DtmfReceiver(PT)
    assert receiver.receive(RtpPacket(0, 1, 160, 1, b"\x05\x0a\x00\xa0")) is None
    assert receiver.receive(RtpPacket(PT, 1, 160, 1, TelephoneEvent(200, False, 0, 160).to_bytes())) is None
    assert receiver.receive(RtpPacket(PT, 2, 320, 1, b"\x01")) is None
    assert receiver.dropped_malformed == 1


def test_receiver_history_is_bounded() -> None:
    receiver = DtmfReceiver(PT, history=4)
    for ts in range(10):
        assert receiver.receive(RtpPacket(PT, ts, ts * 1000, 1, TelephoneEvent(1, True, 0, 100).to_bytes()))
    assert receiver.receive(RtpPacket(PT, 0, 9000, 1, TelephoneEvent(1, True, 0, 100).to_bytes())) is None

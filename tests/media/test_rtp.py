"""RTP packets, sender state and reception statistics (RFC 3550 5 and A)."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.media.errors import MediaError
from softphone.media.rtcp import ntp_from_unix, ntp_middle32
from softphone.media.rtp import (
    BYE_HOLD_OFF,
    LATCH_MIN_SEQUENTIAL,
    MAX_DROPOUT,
    ReceptionStats,
    RtpExtension,
    RtpPacket,
    RtpReceiver,
    RtpSender,
)

PEER = ("192.0.2.10", 40000)
OTHER = ("198.51.100.7", 40000)


def header(
    *,
    padding: bool = False,
    extension: bool = False,
    cc: int = 0,
    marker: bool = False,
    pt: int = 0,
    seq: int = 0,
    ts: int = 0,
    ssrc: int = 0,
    version: int = 2,
) -> bytes:
    first = (version << 6) | (0x20 if padding else 0) | (0x10 if extension else 0) | cc
    return struct.pack("!BBHII", first, (0x80 if marker else 0) | pt, seq, ts, ssrc)


# --- parse / serialise --------------------------------------------------------------------------


def test_parse_minimal_header_fields() -> None:
    data = bytes.fromhex("80e01234deadbeef01020304") + b"abc"
    packet = RtpPacket.parse(data)
    assert packet.version == 2
    assert packet.marker is True
    assert packet.payload_type == 0x60
    assert packet.sequence == 0x1234
    assert packet.timestamp == 0xDEADBEEF
    assert packet.ssrc == 0x01020304
    assert packet.csrcs == ()
    assert packet.extension is None
    assert packet.padding == b""
    assert packet.payload == b"abc"
    assert packet.to_bytes() == data


def test_serialise_exact_bytes() -> None:
    packet = RtpPacket(payload_type=8, sequence=65535, timestamp=160, ssrc=0xCAFEBABE, payload=b"\xd5" * 4)
    assert packet.to_bytes() == bytes.fromhex("8008ffff000000a0cafebabe") + b"\xd5" * 4


def test_csrc_extension_and_padding() -> None:
    data = (
        header(padding=True, extension=True, cc=2, pt=111, seq=7, ts=9, ssrc=1)
        + struct.pack("!II", 0x11111111, 0x22222222)
        + struct.pack("!HH", 0xBEDE, 1)
        + b"\x10\xaa\x00\x00"
        + b"opus"
        + b"\x00\x00\x03"
    )
    packet = RtpPacket.parse(data)
    assert packet.csrcs == (0x11111111, 0x22222222)
    assert packet.extension == RtpExtension(0xBEDE, b"\x10\xaa\x00\x00")
    assert packet.payload == b"opus"
    assert packet.padding == b"\x00\x00\x03"
    assert packet.to_bytes() == data


def test_padding_only_packet_has_empty_payload() -> None:
    data = header(padding=True) + b"\x00\x00\x00\x04"
    packet = RtpPacket.parse(data)
    assert packet.payload == b""
    assert packet.to_bytes() == data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "shorter"),
        (header()[:11], "shorter"),
        (header(version=1), "version"),
        (header(version=3), "version"),
        (header(cc=1), "CSRC"),
        (header(cc=15) + b"\x00" * 56, "CSRC"),
        (header(extension=True) + b"\xbe\xde", "extension"),
        (header(extension=True) + struct.pack("!HH", 0xBEDE, 2) + b"\x00" * 4, "extension"),
        (header(padding=True) + b"ab\x00", "padding"),
        (header(padding=True) + b"ab\x04", "padding"),
        (header(padding=True, cc=1) + b"\x00\x00\x00\x05", "padding"),
    ],
)
def test_malformed_packets_raise_media_error(data: bytes, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        RtpPacket.parse(data)


def test_media_error_is_value_error() -> None:
    assert issubclass(MediaError, ValueError)


@pytest.mark.parametrize(
    "packet",
    [
        RtpPacket(payload_type=128, sequence=0, timestamp=0, ssrc=0),
        RtpPacket(payload_type=0, sequence=65536, timestamp=0, ssrc=0),
        RtpPacket(payload_type=0, sequence=0, timestamp=1 << 32, ssrc=0),
        RtpPacket(payload_type=0, sequence=0, timestamp=0, ssrc=-1),
        RtpPacket(payload_type=0, sequence=0, timestamp=0, ssrc=0, csrcs=tuple(range(16))),
        RtpPacket(payload_type=0, sequence=0, timestamp=0, ssrc=0, padding=b"\x00\x03"),
        RtpPacket(payload_type=0, sequence=0, timestamp=0, ssrc=0, extension=RtpExtension(1, b"abc")),
    ],
)
def test_unserialisable_fields_raise(packet: RtpPacket) -> None:
    with pytest.raises(MediaError):
        packet.to_bytes()


# --- hypothesis -----------------------------------------------------------------------------------

u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def rtp_packets(draw: st.DrawFn) -> RtpPacket:
    pad_len = draw(st.integers(0, 8))
    padding = b""
    if pad_len:
        padding = draw(st.binary(min_size=pad_len - 1, max_size=pad_len - 1)) + bytes((pad_len,))
    extension = None
    if draw(st.booleans()):
        words = draw(st.integers(0, 4))
        extension = RtpExtension(draw(st.integers(0, 0xFFFF)), draw(st.binary(min_size=4 * words, max_size=4 * words)))
    return RtpPacket(
        payload_type=draw(st.integers(0, 127)),
        sequence=draw(st.integers(0, 0xFFFF)),
        timestamp=draw(u32),
        ssrc=draw(u32),
        payload=draw(st.binary(max_size=64)),
        marker=draw(st.booleans()),
        csrcs=tuple(draw(st.lists(u32, max_size=15))),
        extension=extension,
        padding=padding,
    )


@given(rtp_packets())
def test_generated_packets_round_trip(packet: RtpPacket) -> None:
    data = packet.to_bytes()
    assert RtpPacket.parse(data) == packet
    assert RtpPacket.parse(data).to_bytes() == data


@given(st.binary(max_size=128))
def test_arbitrary_bytes_only_raise_media_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except MediaError:
        return
    assert packet.to_bytes() == data


@st.composite
def mutated_packets(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(rtp_packets()).to_bytes())
    kind = draw(st.sampled_from(["truncate", "flip", "csrc", "padding", "extension"]))
    if kind == "truncate":
        del data[draw(st.integers(0, len(data))) :]
    elif kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            bit = draw(st.integers(0, 8 * len(data) - 1))
            data[bit // 8] ^= 1 << (bit % 8)
    elif kind == "csrc":
        data[0] |= 0x0F
    elif kind == "padding":
        data[0] |= 0x20
        data[-1] = draw(st.integers(0, 255))
    else:
        data[0] |= 0x10
    return bytes(data)


@given(mutated_packets())
def test_mutated_packets_only_raise_media_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except MediaError:
        return
    assert packet.to_bytes() == data


@settings(max_examples=50)
@given(st.lists(st.tuples(st.binary(max_size=40), st.sampled_from([PEER, OTHER])), max_size=30))
def test_receiver_never_raises(datagrams: list[tuple[bytes, tuple[str, int]]]) -> None:
    receiver = RtpReceiver({0: 8000})
    for i, (data, addr) in enumerate(datagrams):
        receiver.receive(data, addr, i * 0.02)


# --- sender -----------------------------------------------------------------------------------------


def test_sender_random_initial_state_and_counts() -> None:
    sender = RtpSender(0, 8000, rng=random.Random(1))
    first_seq, first_ts = sender.sequence, sender.timestamp
    expected = random.Random(1)
    assert sender.ssrc == expected.getrandbits(32)
    assert first_seq == expected.getrandbits(16)
    assert first_ts == expected.getrandbits(32)

    one = RtpPacket.parse(sender.packetize(b"x" * 160, 160, marker=True))
    two = RtpPacket.parse(sender.packetize(b"y" * 160, 160))
    dtmf = RtpPacket.parse(sender.packetize(b"z" * 4, 0, payload_type=101))
    assert (one.sequence, one.timestamp, one.marker, one.payload_type) == (first_seq, first_ts, True, 0)
    assert two.sequence == (first_seq + 1) % 65536
    assert two.timestamp == (first_ts + 160) % 2**32
    assert not two.marker
    assert dtmf.payload_type == 101
    assert sender.packet_count == 3
    assert sender.octet_count == 324


def test_sender_sequence_and_timestamp_wrap() -> None:
    sender = RtpSender(0, 8000, ssrc=5, rng=random.Random(0))
    sender.sequence = 65535
    sender.timestamp = 2**32 - 80
    a = RtpPacket.parse(sender.packetize(b"", 160))
    b = RtpPacket.parse(sender.packetize(b"", 160))
    assert (a.sequence, b.sequence) == (65535, 0)
    assert (a.timestamp, b.timestamp) == (2**32 - 80, 80)
    assert a.ssrc == 5


def test_sender_report_fields() -> None:
    sender = RtpSender(0, 8000, ssrc=9, rng=random.Random(0))
    sender.packetize(b"a" * 10, 160)
    report = sender.sender_report(1_700_000_000.5, rtp_timestamp=1234)
    assert report.ssrc == 9
    assert report.ntp_timestamp == ((1_700_000_000 + 2_208_988_800) << 32) | 0x80000000
    assert report.rtp_timestamp == 1234
    assert (report.packet_count, report.octet_count) == (1, 10)


# --- reception -------------------------------------------------------------------------------------


def pkt(seq: int, ts: int = 0, *, ssrc: int = 0x1234, pt: int = 0) -> bytes:
    return RtpPacket(payload_type=pt, sequence=seq % 65536, timestamp=ts % 2**32, ssrc=ssrc, payload=b"p").to_bytes()


def test_probation_then_latch() -> None:
    receiver = RtpReceiver({0: 8000})
    assert receiver.receive(pkt(100), PEER, 0.0) is None
    assert receiver.dropped_probation == 1
    assert receiver.latched_addr is None
    second = receiver.receive(pkt(101), PEER, 0.02)
    assert second is not None and second.sequence == 101
    assert receiver.latched_addr == PEER
    assert receiver.latched_ssrc == 0x1234


def test_probation_restarts_on_non_sequential_packets() -> None:
    receiver = RtpReceiver({0: 8000})
    assert receiver.receive(pkt(100), PEER, 0.0) is None
    assert receiver.receive(pkt(500), PEER, 0.02) is None
    assert receiver.receive(pkt(502), PEER, 0.04) is None
    assert receiver.receive(pkt(503), PEER, 0.06) is not None
    assert receiver.dropped_probation == 3


def test_latching_and_drop_counters() -> None:
    receiver = RtpReceiver({0: 8000, 101: 8000})
    receiver.receive(pkt(1), PEER, 0.0)
    assert receiver.receive(pkt(2), PEER, 0.02) is not None
    assert receiver.receive(pkt(3), OTHER, 0.04) is None
    assert receiver.receive(pkt(3, ssrc=0x9999), PEER, 0.04) is None
    assert receiver.receive(pkt(3, pt=9), PEER, 0.04) is None
    assert receiver.receive(b"\x80\x00", PEER, 0.04) is None
    assert receiver.receive(pkt(3, pt=101), PEER, 0.04) is not None
    assert receiver.dropped_wrong_source == 1
    assert receiver.dropped_unknown_ssrc == 1
    assert receiver.dropped_unknown_pt == 1
    assert receiver.dropped_malformed == 1
    receiver.reset_latch()
    receiver.receive(pkt(10, ssrc=7), OTHER, 1.0)
    assert receiver.receive(pkt(11, ssrc=7), OTHER, 1.02) is not None
    assert receiver.latched_addr == OTHER


def test_interleaved_candidates_first_to_finish_probation_is_latched() -> None:
    receiver = RtpReceiver({0: 8000})
    assert receiver.receive(pkt(1), OTHER, 0.0) is None
    assert receiver.receive(pkt(50, ssrc=2), PEER, 0.0) is None
    assert receiver.receive(pkt(51, ssrc=2), PEER, 0.02) is not None
    assert receiver.receive(pkt(2), OTHER, 0.02) is None
    assert (receiver.latched_addr, receiver.latched_ssrc) == (PEER, 2)
    assert receiver.dropped_wrong_source == 1


def test_expected_ssrc_rejects_others_before_latching() -> None:
    receiver = RtpReceiver({0: 8000}, expected_ssrc=42)
    receiver.receive(pkt(1), PEER, 0.0)
    assert receiver.dropped_unknown_ssrc == 1
    receiver.receive(pkt(1, ssrc=42), PEER, 0.0)
    assert receiver.receive(pkt(2, ssrc=42), PEER, 0.02) is not None


def latched(start: int, clock: int = 8000) -> RtpReceiver:
    receiver = RtpReceiver({0: clock})
    receiver.receive(pkt(start - 1), PEER, 0.0)
    assert receiver.receive(pkt(start), PEER, 0.0) is not None
    return receiver


def test_sequence_wrap_extends_and_counts_loss() -> None:
    receiver = latched(65530)
    for seq in (65531, 65532, 65534, 65535, 0, 1, 3, 4):
        assert receiver.receive(pkt(seq), PEER, 0.0) is not None
    stats = receiver.stats
    assert stats is not None
    assert stats.cycles == 65536
    assert stats.extended_max == 65536 + 4
    assert stats.base_seq == 65530
    assert stats.expected == 11
    assert stats.received == 9
    assert stats.cumulative_lost == 2
    assert stats.fraction_lost() == (2 << 8) // 11
    block = receiver.report_block(1.0)
    assert block is not None
    assert block.highest_sequence == 65540
    assert block.fraction_lost == 0
    assert block.cumulative_lost == 2


def test_late_packet_after_wrap_fills_gap_and_duplicates_are_dropped() -> None:
    receiver = latched(65534)
    for seq in (0, 1):
        receiver.receive(pkt(seq), PEER, 0.0)
    stats = receiver.stats
    assert stats is not None
    assert stats.cumulative_lost == 1
    late = receiver.receive(pkt(65535), PEER, 0.0)
    assert late is not None
    assert stats.extend(65535) == 65535
    assert stats.cumulative_lost == 0
    assert receiver.receive(pkt(65535), PEER, 0.0) is None
    assert receiver.receive(pkt(1), PEER, 0.0) is None
    assert receiver.dropped_duplicate == 2
    # RFC 3550 6.4.1: duplicates count as received, so loss goes negative
    assert stats.cumulative_lost == -2


def test_fraction_lost_is_per_interval() -> None:
    receiver = latched(10)
    for seq in range(11, 20, 2):
        receiver.receive(pkt(seq), PEER, 0.0)
    stats = receiver.stats
    assert stats is not None
    assert stats.expected == 10
    assert stats.fraction_lost() == (4 << 8) // 10
    for seq in range(20, 30):
        receiver.receive(pkt(seq), PEER, 0.0)
    assert stats.fraction_lost() == 0
    assert stats.cumulative_lost == 4


def test_big_jump_needs_two_sequential_packets() -> None:
    receiver = latched(100)
    jump = 100 + MAX_DROPOUT + 10
    assert receiver.receive(pkt(jump), PEER, 0.0) is None
    assert receiver.dropped_bad_sequence == 1
    assert receiver.receive(pkt(jump + 1), PEER, 0.0) is not None
    stats = receiver.stats
    assert stats is not None
    assert stats.base_seq == jump + 1
    assert stats.received == 1


def test_very_old_packet_is_dropped() -> None:
    receiver = latched(5000)
    assert receiver.receive(pkt(1000), PEER, 0.0) is None
    assert receiver.dropped_bad_sequence == 1


def test_jitter_against_hand_computation() -> None:
    clock = 8000
    # Packets every 160 samples; arrivals in seconds with deliberate variation.
    arrivals = [0.000, 0.020, 0.045, 0.058, 0.080, 0.110, 0.118]
    receiver = RtpReceiver({0: clock})
    receiver.receive(pkt(0, 1000), PEER, arrivals[0] - 0.02)
    for i, arrival in enumerate(arrivals):
        assert receiver.receive(pkt(1 + i, 1000 + 160 * i), PEER, arrival) is not None
    jitter = 0.0
    transit_prev = None
    for i, arrival in enumerate(arrivals):
        transit = arrival * clock - (1000 + 160 * i)
        if transit_prev is not None:
            jitter += (abs(transit - transit_prev) - jitter) / 16
        transit_prev = transit
    # Transit deltas in samples: 0, 40, -56, 16, 80, -96.
    hand = 0.0
    for d in (0, 40, 56, 16, 80, 96):
        hand += (d - hand) / 16
    stats = receiver.stats
    assert stats is not None
    assert stats.jitter_estimate == pytest.approx(hand)
    assert stats.jitter_estimate == pytest.approx(jitter)
    assert stats.jitter == int(hand)


def test_jitter_survives_timestamp_wrap() -> None:
    stats = ReceptionStats(ssrc=1)
    stats.update_jitter(2**32 - 80, 1000.0)
    stats.update_jitter(80, 1160.0)
    assert stats.jitter_estimate == 0.0


def test_report_block_lsr_dlsr() -> None:
    receiver = latched(1)
    sr_ntp = ntp_from_unix(1_700_000_000.25)
    receiver.note_sender_report(sr_ntp, now=10.0)
    block = receiver.report_block(now=11.5)
    assert block is not None
    assert block.ssrc == 0x1234
    assert block.lsr == ntp_middle32(sr_ntp)
    assert block.dlsr == int(1.5 * 65536)


def test_report_block_before_any_source() -> None:
    assert RtpReceiver({0: 8000}).report_block(0.0) is None


# --- latching with the SDP address known --------------------------------------------------------


def sdp_receiver(*, answered: bool) -> RtpReceiver:
    return RtpReceiver({0: 8000, 101: 8000}, remote=PEER, answered=answered)


def test_before_answer_only_the_sdp_address_is_heard() -> None:
    receiver = sdp_receiver(answered=False)
    for seq in range(1, 40):
        assert receiver.receive(pkt(seq, ssrc=666), OTHER, seq * 0.02) is None
    assert receiver.dropped_before_answer == 39
    assert receiver.latched_addr is None
    assert receiver.receive(pkt(500), PEER, 1.0) is None
    assert receiver.receive(pkt(501), PEER, 1.02) is not None
    assert (receiver.latched_addr, receiver.latched_ssrc) == (PEER, 0x1234)
    receiver.answered = True
    assert receiver.receive(pkt(40, ssrc=666), OTHER, 1.04) is None
    assert receiver.dropped_wrong_source == 1


def test_sdp_address_matches_on_host_and_port_only() -> None:
    receiver = RtpReceiver({0: 8000}, remote=("2001:db8::5", 40000), answered=False)
    receiver.receive(pkt(1), ("2001:db8::5", 40000, 0, 0), 0.0)
    assert receiver.receive(pkt(2), ("2001:db8::5", 40000, 0, 0), 0.02) is not None
    assert receiver.is_remote(("2001:db8::5", 40000, 0, 0))
    assert not receiver.is_remote(("2001:db8::5", 40002, 0, 0))


def test_after_answer_a_foreign_source_needs_a_steady_stream() -> None:
    receiver = sdp_receiver(answered=True)
    # a scan: changing SSRCs, or sequence numbers all over the place, never latches
    for i in range(20):
        assert receiver.receive(pkt(i, ssrc=1000 + i), OTHER, i * 0.02) is None
    for i, seq in enumerate((7, 3000, 9, 12000, 11, 40000, 13, 5)):
        assert receiver.receive(pkt(seq, ssrc=77), OTHER, 1 + i * 0.02) is None
    assert receiver.latched_addr is None
    # the peer behind a NAT: consecutive packets with one SSRC
    results = [receiver.receive(pkt(100 + i, ssrc=0xABC), OTHER, 2 + i * 0.02) for i in range(LATCH_MIN_SEQUENTIAL)]
    assert all(r is None for r in results[:-1]) and results[-1] is not None
    assert (receiver.latched_addr, receiver.latched_ssrc) == (OTHER, 0xABC)
    assert receiver.receive(pkt(105, ssrc=0xABC), OTHER, 3.0) is not None


def test_unnegotiated_payload_types_never_count_towards_latching() -> None:
    receiver = sdp_receiver(answered=True)
    for seq in range(1, 20):
        assert receiver.receive(pkt(seq, pt=8), OTHER, seq * 0.02) is None
    assert receiver.dropped_unknown_pt == 19
    assert receiver.latched_addr is None


def test_sdp_address_takes_over_from_a_foreign_latch() -> None:
    receiver = sdp_receiver(answered=True)
    for i in range(LATCH_MIN_SEQUENTIAL):
        receiver.receive(pkt(i, ssrc=9), OTHER, i * 0.02)
    assert receiver.latched_addr == OTHER
    assert receiver.receive(pkt(700), PEER, 1.0) is None
    assert receiver.receive(pkt(701), PEER, 1.02) is not None
    assert (receiver.latched_addr, receiver.latched_ssrc) == (PEER, 0x1234)
    assert receiver.receive(pkt(LATCH_MIN_SEQUENTIAL, ssrc=9), OTHER, 1.04) is None
    assert receiver.dropped_wrong_source == 1
    # latched on the SDP address, nothing moves it any more
    for i in range(10):
        assert receiver.receive(pkt(200 + i, ssrc=10), OTHER, 2 + i * 0.02) is None


def test_strangers_cannot_crowd_the_peer_out_of_probation() -> None:
    receiver = sdp_receiver(answered=True)
    receiver.receive(pkt(1), PEER, 0.0)
    for port in range(50):
        receiver.receive(pkt(port, ssrc=port), ("198.51.100.7", 41000 + port), 0.01)
    assert receiver.receive(pkt(2), PEER, 0.02) is not None
    assert receiver.latched_addr == PEER


# --- the peer's RTCP BYE ----------------------------------------------------------------------------


def test_bye_frees_the_ssrc_and_a_new_one_from_the_peer_is_latched() -> None:
    receiver = sdp_receiver(answered=True)
    receiver.receive(pkt(9), PEER, 0.0)
    for seq in (10, 12, 13):  # 11 is lost
        assert receiver.receive(pkt(seq), PEER, seq * 0.02) is not None
    assert receiver.end_source((0x1234,), 1.0)
    assert receiver.latched_ssrc is None and receiver.stats is None and receiver.latched_addr == PEER
    assert receiver.report_block(1.0) is None
    # RFC 3550 A.1: counting starts with the packet that ends probation (10)
    assert (receiver.retired_expected, receiver.retired_lost, receiver.retired_received) == (4, 1, 3)
    # stragglers of the stream that said goodbye are not played, nor taken as a new stream
    assert receiver.receive(pkt(14), PEER, 1.1) is None
    assert receiver.receive(pkt(15), PEER, 1.12) is None
    assert receiver.dropped_after_bye == 2
    # the peer's replaced media: a new SSRC from the same address
    assert receiver.receive(pkt(3000, ssrc=77), PEER, 1.2) is None
    assert receiver.receive(pkt(3001, ssrc=77), PEER, 1.22) is not None
    assert receiver.latched_ssrc == 77
    assert receiver.receive(pkt(16), PEER, 1.3) is None
    assert receiver.dropped_unknown_ssrc == 1


def test_bye_for_another_ssrc_changes_nothing_and_a_second_bye_is_not_news() -> None:
    receiver = latched(10)
    assert not receiver.end_source((0x9999,), 1.0)
    assert receiver.latched_ssrc == 0x1234 and receiver.stats is not None
    assert receiver.end_source((0x1234,), 1.1)
    assert not receiver.end_source((0x1234,), 1.2)
    assert RtpReceiver({0: 8000}).end_source((5,), 0.0)  # nothing latched yet: the stream is over too


def test_a_source_that_said_bye_may_come_back_after_the_hold_off() -> None:
    receiver = latched(10)
    receiver.end_source((0x1234,), 1.0)
    assert receiver.receive(pkt(11), PEER, 1.0 + BYE_HOLD_OFF / 2) is None
    assert receiver.receive(pkt(12), PEER, 1.0 + BYE_HOLD_OFF + 0.1) is None  # probation as a new source
    assert receiver.receive(pkt(13), PEER, 1.0 + BYE_HOLD_OFF + 0.12) is not None
    assert receiver.latched_ssrc == 0x1234 and receiver.dropped_after_bye == 1

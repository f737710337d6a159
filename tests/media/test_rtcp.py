"""RTCP packets, compound rules, RTT, transmission interval and rtcp-mux (RFC 3550 6, RFC 5761)."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from softphone.media.errors import MediaError
from softphone.media.rtcp import (
    COMPENSATION,
    Bye,
    GenericRtcpPacket,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    SdesChunk,
    SdesItem,
    SdesType,
    SenderReport,
    SourceDescription,
    build_compound,
    cname_packet,
    dlsr_units,
    is_rtcp,
    iter_report_blocks,
    ntp_from_unix,
    ntp_middle32,
    packet_to_bytes,
    parse_compound,
    rtcp_interval,
    rtt_seconds,
)
from softphone.media.rtp import RtpPacket

BLOCK = ReportBlock(
    ssrc=0x0A0B0C0D,
    fraction_lost=64,
    cumulative_lost=-2,
    highest_sequence=0x00010005,
    jitter=37,
    lsr=0x12345678,
    dlsr=0x00018000,
)


def test_report_block_exact_bytes() -> None:
    data = BLOCK.to_bytes()
    assert data == bytes.fromhex("0a0b0c0d40fffffe00010005000000251234567800018000")
    assert ReportBlock.parse(data) == BLOCK


@pytest.mark.parametrize("lost", [-(1 << 23) - 1, 1 << 23])
def test_cumulative_lost_range(lost: int) -> None:
    with pytest.raises(MediaError):
        ReportBlock(1, 0, lost, 0, 0, 0, 0).to_bytes()


def test_sender_report_exact_bytes_and_round_trip() -> None:
    ntp = ntp_from_unix(1_700_000_000.5)
    sr = SenderReport(
        ssrc=0x11223344, ntp_timestamp=ntp, rtp_timestamp=160, packet_count=3, octet_count=480, reports=(BLOCK,)
    )
    data = packet_to_bytes(sr)
    assert data[:4] == bytes.fromhex("81c8000c")
    assert data[4:8] == bytes.fromhex("11223344")
    assert struct.unpack("!II", data[8:16]) == (1_700_000_000 + 2_208_988_800, 0x80000000)
    assert struct.unpack("!III", data[16:28]) == (160, 3, 480)
    assert data[28:] == BLOCK.to_bytes()
    assert parse_compound(data) == [sr]


def test_receiver_report_exact_bytes() -> None:
    rr = ReceiverReport(ssrc=1)
    assert packet_to_bytes(rr) == bytes.fromhex("80c9000100000001")
    assert parse_compound(packet_to_bytes(rr)) == [rr]


def test_sdes_cname_exact_bytes() -> None:
    sdes = cname_packet(0x01020304, "alice@host")
    data = packet_to_bytes(sdes)
    # header, ssrc, CNAME item (2 + 10 octets), null terminator + 3 octets of padding
    assert data == bytes.fromhex("81ca000501020304010a") + b"alice@host" + b"\x00" * 4
    rr = ReceiverReport(ssrc=0x01020304)
    parsed = parse_compound(packet_to_bytes(rr) + data)
    assert parsed == [rr, sdes]
    assert isinstance(parsed[1], SourceDescription)
    assert parsed[1].chunks[0].cname == "alice@host"


def test_sdes_multiple_chunks_and_items() -> None:
    sdes = SourceDescription(
        (
            SdesChunk(1, (SdesItem(SdesType.CNAME, "a@b"), SdesItem(SdesType.TOOL, "softphone"))),
            SdesChunk(2, (SdesItem(SdesType.CNAME, "c"),)),
            SdesChunk(3, ()),
        )
    )
    data = build_compound([ReceiverReport(1), sdes])
    assert parse_compound(data)[1] == sdes
    assert SdesChunk(3, ()).cname is None


def test_bye_with_and_without_reason() -> None:
    bye = Bye((0xAABBCCDD,), "call ended")
    data = packet_to_bytes(bye)
    assert data == bytes.fromhex("81cb0004aabbccdd0a") + b"call ended" + b"\x00"
    plain = Bye((1, 2))
    assert packet_to_bytes(plain) == bytes.fromhex("82cb00020000000100000002")
    rr = ReceiverReport(1)
    assert parse_compound(build_compound([rr, bye])) == [rr, bye]
    assert parse_compound(build_compound([rr, plain])) == [rr, plain]


def test_full_compound_with_padding_and_app() -> None:
    sr = SenderReport(7, ntp_from_unix(10.25), 1, 2, 3, (BLOCK, BLOCK))
    app = GenericRtcpPacket(204, 1, b"\x00\x00\x00\x07name")
    packets: list[RtcpPacket] = [sr, cname_packet(7, "x"), app, Bye((7,), "bye")]
    data = build_compound(packets, padding=8)
    assert len(data) % 4 == 0
    assert data[-1] == 8
    assert parse_compound(data) == packets
    assert list(iter_report_blocks(parse_compound(data))) == [BLOCK, BLOCK]


def test_compound_rules_on_build() -> None:
    with pytest.raises(MediaError):
        build_compound([])
    with pytest.raises(MediaError):
        build_compound([Bye((1,))])
    with pytest.raises(MediaError):
        build_compound([ReceiverReport(1)], padding=3)


def test_parse_lenient_first_packet() -> None:
    data = packet_to_bytes(Bye((1,)))
    with pytest.raises(MediaError, match="SR or RR"):
        parse_compound(data)
    assert parse_compound(data, require_report_first=False) == [Bye((1,))]


RR = packet_to_bytes(ReceiverReport(1, (BLOCK,)))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "shorter"),
        (b"\x80\xc9\x00", "shorter"),
        (bytes.fromhex("40c9000100000001"), "version"),
        (bytes.fromhex("80c9000200000001"), "length"),
        (RR[:-4], "length"),
        (RR + b"\x80", "truncated"),
        (bytes.fromhex("81c9000100000001"), "report count"),
        (bytes.fromhex("9fc9000100000001"), "report count"),
        (bytes.fromhex("80c8000100000001"), "sender info"),
        (bytes.fromhex("80c90000"), "SSRC"),
        (bytes.fromhex("a0c9000100000000"), "padding"),
        (bytes.fromhex("a0c9000100000009"), "padding"),
        (bytes.fromhex("a0c9000100000004") + RR, "not the last"),
        (RR + bytes.fromhex("81ca000100000001"), "terminating"),
        (RR + bytes.fromhex("82ca000200000001") + b"\x00\x00\x00\x00", "chunk count"),
        (RR + bytes.fromhex("81ca000200000001") + b"\x01\x09ab", "item length"),
        (RR + bytes.fromhex("81ca000200000001") + b"\x01\x02\xff\xfe", "UTF-8"),
        (RR + bytes.fromhex("82cb000100000001"), "source count"),
        (RR + bytes.fromhex("81cb000200000001") + b"\x09abc", "reason"),
        (bytes.fromhex("80cb000100000001"), "SR or RR"),
    ],
)
def test_malformed_rtcp_raises_media_error(data: bytes, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        parse_compound(data)


# --- hypothesis --------------------------------------------------------------------------------------

u32 = st.integers(0, 0xFFFFFFFF)
blocks = st.builds(
    ReportBlock,
    u32,
    st.integers(0, 255),
    st.integers(-(1 << 23), (1 << 23) - 1),
    u32,
    u32,
    u32,
    u32,
)
words = st.integers(0, 3).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))
short_text = st.text(max_size=20)
reports = st.lists(blocks, max_size=3).map(tuple)
rtcp_packets: st.SearchStrategy[RtcpPacket] = st.one_of(
    st.builds(SenderReport, u32, st.integers(0, 2**64 - 1), u32, u32, u32, reports, words),
    st.builds(ReceiverReport, u32, reports, words),
    st.builds(
        SourceDescription,
        st.lists(
            st.builds(
                SdesChunk, u32, st.lists(st.builds(SdesItem, st.integers(1, 255), short_text), max_size=3).map(tuple)
            ),
            max_size=3,
        ).map(tuple),
    ),
    st.builds(Bye, st.lists(u32, max_size=3).map(tuple), st.none() | short_text),
    st.builds(GenericRtcpPacket, st.integers(204, 210), st.integers(0, 31), words),
)
first_packets = st.one_of(
    st.builds(SenderReport, u32, st.integers(0, 2**64 - 1), u32, u32, u32, reports, words),
    st.builds(ReceiverReport, u32, reports, words),
)


@given(first_packets, st.lists(rtcp_packets, max_size=4), st.sampled_from([0, 4, 12]))
def test_generated_compounds_round_trip(first: RtcpPacket, rest: list[RtcpPacket], padding: int) -> None:
    packets = [first, *rest]
    data = build_compound(packets, padding=padding)
    assert parse_compound(data) == packets
    if not padding:
        assert build_compound(parse_compound(data)) == data


@given(st.binary(max_size=120))
def test_arbitrary_bytes_only_raise_media_error(data: bytes) -> None:
    try:
        parse_compound(data)
    except MediaError:
        pass


@given(first_packets, st.lists(rtcp_packets, max_size=3), st.data())
def test_mutated_compounds_only_raise_media_error(
    first: RtcpPacket, rest: list[RtcpPacket], draw: st.DataObject
) -> None:
    data = bytearray(build_compound([first, *rest]))
    kind = draw.draw(st.sampled_from(["truncate", "flip", "count", "length", "padding"]))
    if kind == "truncate":
        del data[draw.draw(st.integers(0, len(data))) :]
    elif kind == "flip":
        for _ in range(draw.draw(st.integers(1, 4))):
            bit = draw.draw(st.integers(0, 8 * len(data) - 1))
            data[bit // 8] ^= 1 << (bit % 8)
    elif kind == "count":
        data[0] |= 0x1F
    elif kind == "length":
        data[2:4] = draw.draw(st.binary(min_size=2, max_size=2))
    else:
        data[0] |= 0x20
        data[-1] = draw.draw(st.integers(0, 255))
    try:
        parse_compound(bytes(data))
    except MediaError:
        pass


# --- NTP and RTT -----------------------------------------------------------------------------------------


def test_ntp_conversion() -> None:
    assert ntp_from_unix(0.0) == 2_208_988_800 << 32
    assert ntp_from_unix(1.25) == ((2_208_988_801) << 32) | 0x40000000
    assert ntp_middle32(0x0123456789ABCDEF) == 0x456789AB


def test_rtt_from_rfc_example() -> None:
    # RFC 3550 6.4.1 figure: A = 0xb710:8000, LSR = 0xb705:2000, DLSR = 0x0005:4000
    assert rtt_seconds(0xB7108000, 0xB7052000, 0x00054000) == pytest.approx(6.125)
    block = ReportBlock(1, 0, 0, 0, 0, lsr=0xB7052000, dlsr=0x00054000)
    assert block.rtt(0xB7108000) == pytest.approx(6.125)


def test_rtt_from_wall_clock_round_trip() -> None:
    sent = 1_700_000_000.0
    lsr = ntp_middle32(ntp_from_unix(sent))
    dlsr = dlsr_units(0.75)
    arrival = ntp_middle32(ntp_from_unix(sent + 0.75 + 0.120))
    rtt = rtt_seconds(arrival, lsr, dlsr)
    assert rtt is not None
    assert rtt == pytest.approx(0.120, abs=1e-4)


def test_rtt_across_ntp_middle_wrap_and_without_sr() -> None:
    assert rtt_seconds(0x00001000, 0xFFFFF000, 0x00001000) == pytest.approx(0x1000 / 65536)
    assert rtt_seconds(0x12345678, 0, 0) is None
    assert rtt_seconds(0x00010000, 0x00010000, 0x00000010) is None


# --- transmission interval ------------------------------------------------------------------------------


def test_interval_minimum_bounds() -> None:
    rng = random.Random(1)
    for _ in range(1000):
        t = rtcp_interval(2, 1, 1000.0, True, 100.0, False, rng)
        assert 5.0 * 0.5 / COMPENSATION <= t <= 5.0 * 1.5 / COMPENSATION
        t0 = rtcp_interval(2, 1, 1000.0, True, 100.0, True, rng)
        assert 2.5 * 0.5 / COMPENSATION <= t0 <= 2.5 * 1.5 / COMPENSATION


def test_interval_mean_with_seeded_rng() -> None:
    rng = random.Random(42)
    draws = [rtcp_interval(2, 1, 1000.0, True, 100.0, False, rng) for _ in range(20000)]
    assert sum(draws) / len(draws) == pytest.approx(5.0 / COMPENSATION, rel=0.01)


def test_interval_scales_with_members() -> None:
    rng = random.Random(7)
    # 100 receivers, 1 sender, 500 octets/s: receivers get 75%, t = 200 * 99 / 375
    deterministic = 200.0 * 99 / (500.0 * 0.75)
    draws = [rtcp_interval(100, 1, 500.0, False, 200.0, False, rng) for _ in range(20000)]
    assert all(0.5 * deterministic / COMPENSATION <= t <= 1.5 * deterministic / COMPENSATION for t in draws)
    assert sum(draws) / len(draws) == pytest.approx(deterministic / COMPENSATION, rel=0.01)
    # the only sender among 100 members uses the senders' 25%: t = 200 * 1 / 125 -> minimum applies
    sender = rtcp_interval(100, 1, 500.0, True, 200.0, False, random.Random(0))
    assert sender <= 1.5 * 5.0 / COMPENSATION


def test_interval_without_sender_split() -> None:
    # 2 members, both senders: no split, n = members
    rng = random.Random(3)
    t = rtcp_interval(2, 2, 10.0, True, 100.0, False, rng)
    assert 0.5 * 20.0 / COMPENSATION <= t <= 1.5 * 20.0 / COMPENSATION


# --- rtcp-mux ---------------------------------------------------------------------------------------------


def test_is_rtcp_demux() -> None:
    assert is_rtcp(packet_to_bytes(ReceiverReport(1)))
    assert is_rtcp(packet_to_bytes(SenderReport(1, 0, 0, 0, 0)))
    assert is_rtcp(bytes((0x80, 192)))
    assert is_rtcp(bytes((0x80, 223)))
    assert not is_rtcp(bytes((0x80, 191)))
    assert not is_rtcp(bytes((0x80, 224)))
    assert not is_rtcp(RtpPacket(0, 1, 2, 3).to_bytes())
    assert not is_rtcp(RtpPacket(96, 1, 2, 3, marker=True).to_bytes())
    assert not is_rtcp(b"\x80")
    assert not is_rtcp(b"")

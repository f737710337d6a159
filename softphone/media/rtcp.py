"""RTCP packets, compound packets and timing (RFC 3550 section 6, RFC 5761)."""

from __future__ import annotations

import random
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeAlias

from softphone.media.errors import MediaError

RTCP_VERSION = 2
# RFC 3550 4: seconds between the NTP epoch (1900) and the Unix epoch (1970)
NTP_UNIX_OFFSET = 2_208_988_800

RTCP_MIN_TIME = 5.0
RTCP_SENDER_BW_FRACTION = 0.25
RTCP_RCVR_BW_FRACTION = 1.0 - RTCP_SENDER_BW_FRACTION
# RFC 3550 6.3.1: e - 3/2 compensates for the timer reconsideration bias
COMPENSATION = 2.71828 - 1.5

_HEADER = struct.Struct("!BBH")
_SENDER_INFO = struct.Struct("!IIIII")
_REPORT_BLOCK = struct.Struct("!IB3sIIII")
_U32 = struct.Struct("!I")


class RtcpType(IntEnum):
    SR = 200
    RR = 201
    SDES = 202
    BYE = 203
    APP = 204


class SdesType(IntEnum):
    END = 0
    CNAME = 1
    NAME = 2
    EMAIL = 3
    PHONE = 4
    LOC = 5
    TOOL = 6
    NOTE = 7
    PRIV = 8


def _check_uint(name: str, value: int, bits: int) -> None:
    if not 0 <= value < 1 << bits:
        raise MediaError(f"{name} {value} does not fit in {bits} bits")


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report block (RFC 3550 6.4.1)."""

    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_sequence: int
    jitter: int
    lsr: int
    dlsr: int

    def to_bytes(self) -> bytes:
        _check_uint("report block ssrc", self.ssrc, 32)
        _check_uint("fraction lost", self.fraction_lost, 8)
        # RFC 3550 6.4.1: cumulative number of packets lost is a 24-bit signed integer
        if not -(1 << 23) <= self.cumulative_lost < 1 << 23:
            raise MediaError(f"cumulative lost {self.cumulative_lost} does not fit in 24 signed bits")
        for name, value in (
            ("highest sequence", self.highest_sequence),
            ("jitter", self.jitter),
            ("LSR", self.lsr),
            ("DLSR", self.dlsr),
        ):
            _check_uint(name, value, 32)
        lost = (self.cumulative_lost & 0xFFFFFF).to_bytes(3, "big")
        return _REPORT_BLOCK.pack(
            self.ssrc, self.fraction_lost, lost, self.highest_sequence, self.jitter, self.lsr, self.dlsr
        )

    def rtt(self, arrival_ntp32: int) -> float | None:
        """The round-trip time this block implies when it arrived at `arrival_ntp32` (NTP middle 32 bits)."""
        return rtt_seconds(arrival_ntp32, self.lsr, self.dlsr)

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> ReportBlock:
        if len(data) - offset < _REPORT_BLOCK.size:
            raise MediaError(f"report block at offset {offset} is truncated")
        ssrc, fraction, lost_raw, ext_seq, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        lost = int.from_bytes(lost_raw, "big")
        if lost & 0x800000:
            lost -= 1 << 24
        return cls(ssrc, fraction, lost, ext_seq, jitter, lsr, dlsr)


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR: sender info plus reception reports (RFC 3550 6.4.1)."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR: reception reports from a participant that is not sending (RFC 3550 6.4.2)."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""


@dataclass(frozen=True, slots=True)
class SdesItem:
    type: int
    value: str


@dataclass(frozen=True, slots=True)
class SdesChunk:
    ssrc: int
    items: tuple[SdesItem, ...]

    @property
    def cname(self) -> str | None:
        for item in self.items:
            if item.type == SdesType.CNAME:
                return item.value
        return None


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES (RFC 3550 6.5)."""

    chunks: tuple[SdesChunk, ...]


@dataclass(frozen=True, slots=True)
class Bye:
    """BYE (RFC 3550 6.6)."""

    ssrcs: tuple[int, ...]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class GenericRtcpPacket:
    """A packet type this module does not interpret (APP, feedback, XR ...), kept as its body."""

    packet_type: int
    count: int
    body: bytes


RtcpPacket: TypeAlias = SenderReport | ReceiverReport | SourceDescription | Bye | GenericRtcpPacket


# --- NTP time (RFC 3550 4) ---------------------------------------------------------------


def ntp_from_unix(wall_time: float) -> int:
    """The 64-bit NTP timestamp for a Unix wall-clock time in seconds."""
    seconds = int(wall_time // 1)
    fraction = min(int((wall_time - seconds) * (1 << 32)), 0xFFFFFFFF)
    return (((seconds + NTP_UNIX_OFFSET) & 0xFFFFFFFF) << 32) | fraction


def ntp_middle32(ntp_timestamp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp, as used by LSR (RFC 3550 6.4.1)."""
    return (ntp_timestamp >> 16) & 0xFFFFFFFF


def rtt_seconds(arrival_ntp32: int, lsr: int, dlsr: int) -> float | None:
    """Round-trip time in seconds; None without an SR (LSR = 0) or when clocks make it negative."""
    if lsr == 0:
        return None
    # RFC 3550 6.4.1: RTT = A - LSR - DLSR, in units of 1/65536 s, modulo 2^32
    delta = (arrival_ntp32 - lsr - dlsr) & 0xFFFFFFFF
    if delta & 0x80000000:
        return None
    return delta / 65536.0


def dlsr_units(delay_seconds: float) -> int:
    """The DLSR field for a delay since the last SR (RFC 3550 6.4.1: units of 1/65536 s)."""
    return min(max(int(delay_seconds * 65536.0), 0), 0xFFFFFFFF)


# --- serialisation --------------------------------------------------------------------------


def _header(packet_type: int, count: int, body_len: int, padding: bool) -> bytes:
    if body_len % 4:
        raise MediaError(f"RTCP packet body of {body_len} octets is not a multiple of 4")
    if not 0 <= count <= 31:
        raise MediaError(f"RTCP count {count} does not fit in 5 bits")
    return _HEADER.pack((RTCP_VERSION << 6) | (0x20 if padding else 0) | count, packet_type, body_len // 4)


def _pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _body(packet: RtcpPacket) -> tuple[int, int, bytes]:
    if isinstance(packet, SenderReport):
        _check_uint("ssrc", packet.ssrc, 32)
        _check_uint("NTP timestamp", packet.ntp_timestamp, 64)
        _check_uint("RTP timestamp", packet.rtp_timestamp, 32)
        _check_uint("packet count", packet.packet_count, 32)
        _check_uint("octet count", packet.octet_count, 32)
        info = _SENDER_INFO.pack(
            packet.ssrc,
            packet.ntp_timestamp >> 32,
            packet.ntp_timestamp & 0xFFFFFFFF,
            packet.rtp_timestamp,
            packet.packet_count,
        ) + _U32.pack(packet.octet_count)
        blocks = b"".join(block.to_bytes() for block in packet.reports)
        return RtcpType.SR, len(packet.reports), info + blocks + packet.extension
    if isinstance(packet, ReceiverReport):
        _check_uint("ssrc", packet.ssrc, 32)
        blocks = b"".join(block.to_bytes() for block in packet.reports)
        return RtcpType.RR, len(packet.reports), _U32.pack(packet.ssrc) + blocks + packet.extension
    if isinstance(packet, SourceDescription):
        chunks = []
        for chunk in packet.chunks:
            _check_uint("ssrc", chunk.ssrc, 32)
            items = []
            for item in chunk.items:
                _check_uint("SDES item type", item.type, 8)
                if item.type == SdesType.END:
                    raise MediaError("SDES item type 0 is the list terminator")
                value = item.value.encode("utf-8")
                if len(value) > 255:
                    raise MediaError(f"SDES item of {len(value)} octets exceeds 255")
                items.append(bytes((item.type, len(value))) + value)
            # RFC 3550 6.5: the item list ends with at least one null octet, then pads to 32 bits
            chunks.append(_pad4(_U32.pack(chunk.ssrc) + b"".join(items) + b"\x00"))
        return RtcpType.SDES, len(packet.chunks), b"".join(chunks)
    if isinstance(packet, Bye):
        for ssrc in packet.ssrcs:
            _check_uint("ssrc", ssrc, 32)
        body = b"".join(_U32.pack(ssrc) for ssrc in packet.ssrcs)
        if packet.reason is not None:
            reason = packet.reason.encode("utf-8")
            if len(reason) > 255:
                raise MediaError(f"BYE reason of {len(reason)} octets exceeds 255")
            body += _pad4(bytes((len(reason),)) + reason)
        return RtcpType.BYE, len(packet.ssrcs), body
    _check_uint("packet type", packet.packet_type, 8)
    return packet.packet_type, packet.count, packet.body


def packet_to_bytes(packet: RtcpPacket, padding: int = 0) -> bytes:
    """One RTCP packet; `padding` octets (a multiple of 4, at most 252) are appended with P set."""
    packet_type, count, body = _body(packet)
    if padding:
        if padding % 4 or not 0 < padding <= 252:
            raise MediaError(f"RTCP padding of {padding} octets must be a positive multiple of 4 below 256")
        body += b"\x00" * (padding - 1) + bytes((padding,))
    return _header(packet_type, count, len(body), bool(padding)) + body


def build_compound(packets: Sequence[RtcpPacket], padding: int = 0) -> bytes:
    """A compound packet; RFC 3550 6.1: it starts with an SR or RR, and only the last may be padded."""
    if not packets:
        raise MediaError("a compound RTCP packet needs at least one packet")
    if not isinstance(packets[0], SenderReport | ReceiverReport):
        raise MediaError("a compound RTCP packet must start with an SR or RR")
    last = len(packets) - 1
    return b"".join(packet_to_bytes(p, padding if i == last else 0) for i, p in enumerate(packets))


# --- parsing -------------------------------------------------------------------------------------


def _parse_reports(body: bytes, offset: int, count: int) -> tuple[tuple[ReportBlock, ...], bytes]:
    end = offset + count * _REPORT_BLOCK.size
    if end > len(body):
        raise MediaError(f"report count {count} runs beyond the packet length")
    blocks = tuple(ReportBlock.parse(body, offset + i * _REPORT_BLOCK.size) for i in range(count))
    return blocks, body[end:]


def _decode_text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MediaError(f"{what} is not valid UTF-8") from exc


def _parse_sdes(body: bytes, count: int) -> SourceDescription:
    chunks = []
    offset = 0
    for _ in range(count):
        if offset + 4 > len(body):
            raise MediaError(f"SDES chunk count {count} runs beyond the packet length")
        (ssrc,) = _U32.unpack_from(body, offset)
        offset += 4
        items = []
        while True:
            if offset >= len(body):
                raise MediaError("SDES chunk has no terminating null item")
            item_type = body[offset]
            if item_type == SdesType.END:
                offset += 4 - offset % 4
                break
            if offset + 2 > len(body):
                raise MediaError("SDES item header is truncated")
            length = body[offset + 1]
            if offset + 2 + length > len(body):
                raise MediaError("SDES item length runs beyond the packet")
            items.append(SdesItem(item_type, _decode_text(body[offset + 2 : offset + 2 + length], "SDES item")))
            offset += 2 + length
        chunks.append(SdesChunk(ssrc, tuple(items)))
    return SourceDescription(tuple(chunks))


def _parse_bye(body: bytes, count: int) -> Bye:
    end = 4 * count
    if end > len(body):
        raise MediaError(f"BYE source count {count} runs beyond the packet length")
    ssrcs = tuple(_U32.unpack_from(body, 4 * i)[0] for i in range(count))
    reason = None
    if end < len(body):
        length = body[end]
        if end + 1 + length > len(body):
            raise MediaError("BYE reason length runs beyond the packet")
        reason = _decode_text(body[end + 1 : end + 1 + length], "BYE reason")
    return Bye(ssrcs, reason)


def _parse_one(packet_type: int, count: int, body: bytes) -> RtcpPacket:
    if packet_type == RtcpType.SR:
        if len(body) < 24:
            raise MediaError("SR is shorter than its sender info")
        ssrc, ntp_hi, ntp_lo, rtp_ts, packets = _SENDER_INFO.unpack_from(body, 0)
        (octets,) = _U32.unpack_from(body, 20)
        reports, extension = _parse_reports(body, 24, count)
        return SenderReport(ssrc, (ntp_hi << 32) | ntp_lo, rtp_ts, packets, octets, reports, extension)
    if packet_type == RtcpType.RR:
        if len(body) < 4:
            raise MediaError("RR is shorter than its SSRC")
        (ssrc,) = _U32.unpack_from(body, 0)
        reports, extension = _parse_reports(body, 4, count)
        return ReceiverReport(ssrc, reports, extension)
    if packet_type == RtcpType.SDES:
        return _parse_sdes(body, count)
    if packet_type == RtcpType.BYE:
        return _parse_bye(body, count)
    return GenericRtcpPacket(packet_type, count, body)


def parse_compound(data: bytes, *, require_report_first: bool = True) -> list[RtcpPacket]:
    """Parse a compound RTCP packet with the validity checks of RFC 3550 A.2."""
    if len(data) < _HEADER.size:
        raise MediaError(f"RTCP packet of {len(data)} octets is shorter than a header")
    packets: list[RtcpPacket] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size:
            raise MediaError(f"truncated RTCP header at offset {offset}")
        first, packet_type, length = _HEADER.unpack_from(data, offset)
        if first >> 6 != RTCP_VERSION:
            raise MediaError(f"RTCP version {first >> 6} at offset {offset}, expected 2")
        end = offset + 4 * (length + 1)
        if end > len(data):
            raise MediaError(f"RTCP length field at offset {offset} runs beyond the datagram")
        body = data[offset + 4 : end]
        if first & 0x20:
            # RFC 3550 6.4.1: only the last packet of a compound packet may carry padding
            if end != len(data):
                raise MediaError(f"padding on a packet at offset {offset} that is not the last")
            pad = body[-1] if body else 0
            if pad == 0 or pad > len(body):
                raise MediaError(f"RTCP padding count {pad} is invalid for a {len(body)}-octet body")
            body = body[: len(body) - pad]
        if not packets and require_report_first and packet_type not in (RtcpType.SR, RtcpType.RR):
            raise MediaError(f"compound RTCP packet starts with type {packet_type}, not SR or RR")
        packets.append(_parse_one(packet_type, first & 0x1F, body))
        offset = end
    return packets


# --- transmission interval and rtcp-mux ---------------------------------------------------------


def rtcp_interval(
    members: int,
    senders: int,
    rtcp_bw: float,
    we_sent: bool,
    avg_rtcp_size: float,
    initial: bool,
    rng: random.Random,
) -> float:
    """Seconds until the next RTCP packet (RFC 3550 6.3.1, A.7); rtcp_bw is in octets per second."""
    min_time = RTCP_MIN_TIME / 2 if initial else RTCP_MIN_TIME
    n = members
    # RFC 3550 6.2: senders share 25% of the RTCP bandwidth when they are at most a quarter of members
    if senders <= members * RTCP_SENDER_BW_FRACTION:
        if we_sent:
            rtcp_bw *= RTCP_SENDER_BW_FRACTION
            n = senders
        else:
            rtcp_bw *= RTCP_RCVR_BW_FRACTION
            n -= senders
    n = max(n, 1)
    t = avg_rtcp_size * n / rtcp_bw if rtcp_bw > 0 else min_time
    t = max(t, min_time)
    t *= rng.random() + 0.5
    return t / COMPENSATION


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 4: with rtcp-mux, a second octet of 192-223 marks an RTCP packet."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def cname_packet(ssrc: int, cname: str) -> SourceDescription:
    return SourceDescription((SdesChunk(ssrc, (SdesItem(SdesType.CNAME, cname),)),))


def iter_report_blocks(packets: Iterable[RtcpPacket]) -> Iterable[ReportBlock]:
    for packet in packets:
        if isinstance(packet, SenderReport | ReceiverReport):
            yield from packet.reports

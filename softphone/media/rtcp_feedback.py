"""RTCP feedback messages for video: generic NACK and PLI (RFC 4585 6.2.1, 6.3.1) and FIR (RFC 5104 4.3.1).

They travel as :class:`~softphone.media.rtcp.GenericRtcpPacket` inside a compound
RTCP packet; :func:`read_feedback` picks out the requests addressed to one of our SSRCs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from softphone.media.rtcp import GenericRtcpPacket, RtcpPacket

__all__ = ["Feedback", "fir", "nack", "nack_fci", "pli", "read_feedback"]

RTPFB = 205  # RFC 4585 6.1: transport layer feedback
PSFB = 206  # payload-specific feedback
FMT_NACK = 1
FMT_PLI = 1
FMT_FIR = 4
_PAIR = struct.Struct("!II")
_NACK_FCI = struct.Struct("!HH")
_FIR_FCI = struct.Struct("!IB3x")
# One compound packet asks for at most this many lost packets (a peer's NACK cannot ask for more).
MAX_NACKED = 17 * 16


def pli(sender_ssrc: int, media_ssrc: int) -> GenericRtcpPacket:
    return GenericRtcpPacket(PSFB, FMT_PLI, _PAIR.pack(sender_ssrc, media_ssrc))


def fir(sender_ssrc: int, media_ssrc: int, sequence: int) -> GenericRtcpPacket:
    # RFC 5104 4.3.1.1: the media source SSRC of the common header is 0; the FCI names the source.
    return GenericRtcpPacket(PSFB, FMT_FIR, _PAIR.pack(sender_ssrc, 0) + _FIR_FCI.pack(media_ssrc, sequence & 0xFF))


def nack_fci(sequences: Iterable[int]) -> list[tuple[int, int]]:
    """RFC 4585 6.2.1: (PID, BLP) pairs covering ``sequences`` (16-bit numbers, the first one the oldest)."""
    unique = list(dict.fromkeys(s & 0xFFFF for s in sequences))
    if not unique:
        return []
    base = unique[0]
    pairs: list[tuple[int, int]] = []
    for seq in sorted(unique, key=lambda s: (s - base) & 0xFFFF):
        if pairs:
            pid, blp = pairs[-1]
            offset = (seq - pid) & 0xFFFF
            if 1 <= offset <= 16:
                pairs[-1] = (pid, blp | (1 << (offset - 1)))
                continue
        pairs.append((seq, 0))
    return pairs


def nack(sender_ssrc: int, media_ssrc: int, sequences: Iterable[int]) -> GenericRtcpPacket:
    fci = b"".join(_NACK_FCI.pack(pid, blp) for pid, blp in nack_fci(sequences))
    return GenericRtcpPacket(RTPFB, FMT_NACK, _PAIR.pack(sender_ssrc, media_ssrc) + fci)


@dataclass
class Feedback:
    """What feedback in one compound packet asks of the stream ``media_ssrc``."""

    keyframe: bool = False
    lost: list[int] = field(default_factory=list)
    malformed: int = 0


def read_feedback(packets: Iterable[RtcpPacket], media_ssrc: int) -> Feedback:
    """The key frame requests (PLI, FIR) and lost packets (NACK) in ``packets`` for our stream ``media_ssrc``."""
    result = Feedback()
    for packet in packets:
        if not isinstance(packet, GenericRtcpPacket) or packet.packet_type not in (RTPFB, PSFB):
            continue
        body = packet.body
        if len(body) < _PAIR.size:
            result.malformed += 1
            continue
        _, source = _PAIR.unpack_from(body, 0)
        fci = body[_PAIR.size :]
        if packet.packet_type == PSFB and packet.count == FMT_PLI:
            result.keyframe |= source == media_ssrc
        elif packet.packet_type == PSFB and packet.count == FMT_FIR:
            for offset in range(0, len(fci) - _FIR_FCI.size + 1, _FIR_FCI.size):
                ssrc, _ = _FIR_FCI.unpack_from(fci, offset)
                result.keyframe |= ssrc == media_ssrc
        elif packet.packet_type == RTPFB and packet.count == FMT_NACK and source == media_ssrc:
            if len(fci) % _NACK_FCI.size:
                result.malformed += 1
                continue
            for offset in range(0, len(fci), _NACK_FCI.size):
                pid, blp = _NACK_FCI.unpack_from(fci, offset)
                result.lost.append(pid)
                result.lost.extend((pid + bit + 1) & 0xFFFF for bit in range(16) if blp >> bit & 1)
                if len(result.lost) >= MAX_NACKED:
                    break
    del result.lost[MAX_NACKED:]
    return result

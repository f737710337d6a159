"""RTCP feedback messages for video: generic NACK and PLI (RFC 4585 6.2.1, 6.3.1), FIR and TMMBR/TMMBN
(RFC 5104 4.3.1, 4.2.1, 4.2.2), and REMB (draft-alvestrand-rmcat-remb 2.2).

They travel as :class:`~softphone.media.rtcp.GenericRtcpPacket` inside a compound
RTCP packet; :func:`read_feedback` picks out the requests addressed to one of our SSRCs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from softphone.media.rtcp import GenericRtcpPacket, RtcpPacket

__all__ = ["Feedback", "fir", "nack", "nack_fci", "pli", "read_feedback", "remb", "tmmbn", "tmmbr"]

RTPFB = 205  # RFC 4585 6.1: transport layer feedback
PSFB = 206  # payload-specific feedback
FMT_NACK = 1
FMT_TMMBR = 3
FMT_TMMBN = 4
FMT_PLI = 1
FMT_FIR = 4
FMT_AFB = 15  # application layer feedback: REMB
_REMB = b"REMB"
_TMMB_FCI = struct.Struct("!II")
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


def _exp_mantissa(bitrate: int, mantissa_bits: int) -> tuple[int, int]:
    exponent = 0
    while bitrate >= 1 << mantissa_bits:
        bitrate >>= 1
        exponent += 1
    return exponent, bitrate


def _tmmb(fmt: int, sender_ssrc: int, media_ssrc: int, bitrate: int, overhead: int) -> GenericRtcpPacket:
    # RFC 5104 4.2.1.1: SSRC, then MxTBR as a 6-bit exponent and 17-bit mantissa, then 9 bits of overhead.
    exponent, mantissa = _exp_mantissa(max(0, bitrate), 17)
    word = exponent << 26 | mantissa << 9 | (overhead & 0x1FF)
    return GenericRtcpPacket(RTPFB, fmt, _PAIR.pack(sender_ssrc, 0) + _TMMB_FCI.pack(media_ssrc, word))


def tmmbr(sender_ssrc: int, media_ssrc: int, bitrate: int, overhead: int = 40) -> GenericRtcpPacket:
    """Ask the sender of ``media_ssrc`` to keep under ``bitrate`` bit/s (RFC 5104 4.2.1)."""
    return _tmmb(FMT_TMMBR, sender_ssrc, media_ssrc, bitrate, overhead)


def tmmbn(sender_ssrc: int, owner_ssrc: int, bitrate: int, overhead: int = 40) -> GenericRtcpPacket:
    """The bound we keep to now, the answer to a TMMBR (RFC 5104 4.2.2.1: the tuple names ``owner_ssrc``, the
    sender of the TMMBR that set it)."""
    return _tmmb(FMT_TMMBN, sender_ssrc, owner_ssrc, bitrate, overhead)


def remb(sender_ssrc: int, bitrate: int, media_ssrcs: Iterable[int]) -> GenericRtcpPacket:
    """The receiver's estimate of what it can take of ``media_ssrcs``, in bit/s (REMB)."""
    ssrcs = list(media_ssrcs)
    exponent, mantissa = _exp_mantissa(max(0, bitrate), 18)
    fci = _REMB + bytes((len(ssrcs), exponent << 2 | mantissa >> 16)) + (mantissa & 0xFFFF).to_bytes(2, "big")
    fci += b"".join(ssrc.to_bytes(4, "big") for ssrc in ssrcs)
    return GenericRtcpPacket(PSFB, FMT_AFB, _PAIR.pack(sender_ssrc, 0) + fci)


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
    # The lowest maximum bitrate a TMMBR asks of our stream (bit/s), the overhead it counts per packet, and
    # the SSRC of the TMMBR's sender.
    tmmbr: tuple[int, int, int] | None = None
    # The bitrate a REMB naming our stream says the receiver can take (bit/s).
    remb: int | None = None


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
        sender, source = _PAIR.unpack_from(body, 0)
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
        elif packet.packet_type == RTPFB and packet.count == FMT_TMMBR:
            if not fci or len(fci) % _TMMB_FCI.size:
                result.malformed += 1
                continue
            for offset in range(0, len(fci), _TMMB_FCI.size):
                ssrc, word = _TMMB_FCI.unpack_from(fci, offset)
                if ssrc == media_ssrc:
                    bitrate = ((word >> 9) & 0x1FFFF) << (word >> 26)
                    if result.tmmbr is None or bitrate < result.tmmbr[0]:
                        result.tmmbr = (bitrate, word & 0x1FF, sender)
        elif packet.packet_type == PSFB and packet.count == FMT_AFB and fci[:4] == _REMB:
            if len(fci) < 8 or len(fci) < 8 + 4 * fci[4]:
                result.malformed += 1
                continue
            ssrcs = {int.from_bytes(fci[i : i + 4], "big") for i in range(8, 8 + 4 * fci[4], 4)}
            if media_ssrc in ssrcs:
                result.remb = (((fci[5] & 0x03) << 16) | int.from_bytes(fci[6:8], "big")) << (fci[5] >> 2)
    del result.lost[MAX_NACKED:]
    return result

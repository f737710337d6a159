"""The RTP payload format for H.264 (RFC 6184), sans-I/O: packetization-mode 1 (and 0 for receiving).

:class:`H264Packetizer` cuts an access unit (Annex B: NAL units behind start
codes) into single NAL unit packets and FU-A fragments (RFC 6184 5.6, 5.8).
:func:`depacketize` turns one RTP payload back into Annex B octets (single
NAL unit, STAP-A or FU-A), which :class:`~softphone.media.vp8.FrameAssembler`
joins by timestamp and marker bit like VP8's. Also the ``sprop-parameter-sets``
of RFC 6184 8.1, which prime a decoder.
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = [
    "H264Error",
    "H264Format",
    "H264Packetizer",
    "depacketize",
    "is_idr",
    "nal_units",
    "sprop_parameter_sets",
]

START_CODE = b"\x00\x00\x00\x01"
STAP_A = 24
FU_A = 28
NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
_START = re.compile(b"\x00\x00\x01")


class H264Error(ValueError):
    """An H.264 RTP payload or SDP parameter that does not follow RFC 6184."""


def nal_units(access_unit: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream, without their start codes (and trailing zero octets)."""
    starts = [m.end() for m in _START.finditer(access_unit)]
    units = []
    for index, begin in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(access_unit)
        unit = access_unit[begin:end].rstrip(b"\x00") if index + 1 < len(starts) else access_unit[begin:end]
        if unit:
            units.append(unit)
    return units


def is_idr(access_unit: bytes) -> bool:
    """Whether an Annex B access unit holds an IDR picture (a decoder can start there)."""
    return any(unit[0] & 0x1F == NAL_IDR for unit in nal_units(access_unit))


class H264Packetizer:
    """Cuts access units into RTP payloads of at most ``max_payload`` octets (packetization-mode 1)."""

    def __init__(self, max_payload: int = 1200) -> None:
        if max_payload < 3:
            raise ValueError("max_payload must leave room for the FU indicator and header")
        self.max_payload = max_payload

    def packetize(self, access_unit: bytes) -> list[bytes]:
        """The payloads of one access unit in order; the last goes with the marker bit (RFC 6184 5.1)."""
        payloads: list[bytes] = []
        for unit in nal_units(access_unit):
            if len(unit) <= self.max_payload:
                payloads.append(unit)  # RFC 6184 5.6: a single NAL unit packet
                continue
            header = unit[0]
            indicator = (header & 0xE0) | FU_A
            body = unit[1:]
            room = self.max_payload - 2
            for offset in range(0, len(body), room):
                # RFC 6184 5.8: S on the first fragment, E on the last, the NAL type in the FU header.
                fu_header = header & 0x1F
                if offset == 0:
                    fu_header |= 0x80
                if offset + room >= len(body):
                    fu_header |= 0x40
                payloads.append(bytes((indicator, fu_header)) + body[offset : offset + room])
        return payloads


def depacketize(payload: bytes) -> tuple[bool, bytes]:
    """One RTP payload as Annex B octets, and whether it starts a NAL unit (False: an FU-A continuation).

    :class:`H264Error` for what RFC 6184 does not allow in packetization-mode 0 or 1: an empty payload, the
    forbidden bit, STAP-B, MTAPs and FU-B (interleaved mode only), a STAP-A whose sizes run over its end.
    """
    if not payload:
        raise H264Error("empty H.264 payload")
    header = payload[0]
    if header & 0x80:
        raise H264Error("H.264 NAL unit with the forbidden bit set")
    kind = header & 0x1F
    if 1 <= kind <= 23:
        return True, START_CODE + payload
    if kind == STAP_A:
        out = bytearray()
        offset = 1
        while offset < len(payload):
            if offset + 2 > len(payload):
                raise H264Error("STAP-A size field is cut short")
            size = int.from_bytes(payload[offset : offset + 2], "big")
            offset += 2
            if size == 0 or offset + size > len(payload):
                raise H264Error("STAP-A NAL unit size runs beyond the packet")
            out += START_CODE + payload[offset : offset + size]
            offset += size
        if not out:
            raise H264Error("STAP-A without NAL units")
        return True, bytes(out)
    if kind == FU_A:
        if len(payload) < 3:
            raise H264Error("FU-A without fragment data")
        fu_header = payload[1]
        if fu_header & 0x80 and fu_header & 0x40:
            raise H264Error("FU-A with both start and end bits")
        if fu_header & 0x80:
            nal_header = (header & 0xE0) | (fu_header & 0x1F)
            return True, START_CODE + bytes((nal_header,)) + payload[2:]
        return False, payload[2:]
    raise H264Error(f"H.264 payload type {kind} is not used in packetization-mode 0 or 1")


def sprop_parameter_sets(value: str) -> bytes:
    """``sprop-parameter-sets`` (RFC 6184 8.1): the base64 NAL units as Annex B octets to prime a decoder."""
    out = bytearray()
    for item in value.split(","):
        try:
            unit = base64.b64decode(item.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise H264Error("sprop-parameter-sets holds something that is not base64") from None
        if not unit or unit[0] & 0x1F not in (NAL_SPS, NAL_PPS):
            raise H264Error("sprop-parameter-sets holds a NAL unit that is not an SPS or PPS")
        out += START_CODE + unit
    return bytes(out)


class H264Format:
    """H.264 for :class:`~softphone.media.frame_buffer.FrameAssembler`: frames follow each other, IDR is a key."""

    name = "H264"
    explicit_start = False

    def parse(self, payload: bytes) -> tuple[bool, bytes]:
        return depacketize(payload)

    def is_keyframe(self, frame: bytes) -> bool:
        return is_idr(frame)

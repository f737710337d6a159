"""DTMF digits as RTP telephone-events (RFC 4733)."""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from softphone.media.errors import MediaError
from softphone.media.rtp import RtpPacket, RtpSender

# RFC 4733 3.2: DTMF named events 0-15, and 16 for flash
EVENT_CODES: dict[str, int] = {
    **{str(d): d for d in range(10)},
    "*": 10,
    "#": 11,
    "A": 12,
    "B": 13,
    "C": 14,
    "D": 15,
    "!": 16,
}
EVENT_FLASH = 16
DIGITS: dict[int, str] = {code: digit for digit, code in EVENT_CODES.items()}

# RFC 4733 2.5.1.4: the final packet is sent three times
END_PACKET_COUNT = 3
DEFAULT_VOLUME = 10

_EVENT = struct.Struct("!BBH")


def event_code(digit: str) -> int:
    code = EVENT_CODES.get(digit.upper())
    if code is None:
        raise MediaError(f"{digit!r} is not a DTMF digit")
    return code


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """The 4-octet telephone-event payload (RFC 4733 2.3)."""

    event: int
    end: bool
    volume: int
    duration: int

    def to_bytes(self) -> bytes:
        if not 0 <= self.event <= 255:
            raise MediaError(f"event code {self.event} does not fit in 8 bits")
        if not 0 <= self.volume <= 63:
            raise MediaError(f"volume {self.volume} does not fit in 6 bits")
        if not 0 <= self.duration <= 0xFFFF:
            raise MediaError(f"duration {self.duration} does not fit in 16 bits")
        return _EVENT.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        if len(payload) < _EVENT.size:
            raise MediaError(f"telephone-event payload of {len(payload)} octets is shorter than 4")
        event, flags, duration = _EVENT.unpack_from(payload, 0)
        # RFC 4733 2.3.4: the R bit is ignored by receivers
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    @property
    def digit(self) -> str | None:
        return DIGITS.get(self.event)


class DtmfSender:
    """Turns digits into telephone-event packets on an RTP sender's stream (RFC 4733 2.5.1)."""

    def __init__(self, rtp: RtpSender, payload_type: int, samples_per_packet: int) -> None:
        self.rtp = rtp
        self.payload_type = payload_type
        self.samples_per_packet = samples_per_packet

    def digit(self, digit: str, duration: int, volume: int = DEFAULT_VOLUME) -> Iterator[bytes]:
        """One packet per ptime step for a tone of `duration` timestamp units, then the end packets.

        The stream's media clock advances by one packet time at every step.
        """
        code = event_code(digit)
        if not 0 < duration <= 0xFFFF:
            raise MediaError(f"event duration {duration} must be within 1..65535 timestamp units")
        start = self.rtp.timestamp
        elapsed = 0
        first = True
        while True:
            elapsed = min(elapsed + self.samples_per_packet, duration)
            if elapsed >= duration:
                break
            payload = TelephoneEvent(code, False, volume, elapsed).to_bytes()
            # RFC 4733 2.5.1.2: the first packet of an event has the marker bit set
            yield self._send(payload, start, first)
            first = False
        end = TelephoneEvent(code, True, volume, duration).to_bytes()
        for _ in range(END_PACKET_COUNT):
            yield self._send(end, start, first)
            first = False

    def _send(self, payload: bytes, timestamp: int, marker: bool) -> bytes:
        data = self.rtp.packetize_at(payload, timestamp, marker=marker, payload_type=self.payload_type)
        self.rtp.advance(self.samples_per_packet)
        return data


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    digit: str
    timestamp: int


class DtmfReceiver:
    """Reports each telephone-event once, keyed by its RTP timestamp (RFC 4733 2.5.2)."""

    def __init__(self, payload_type: int, history: int = 64) -> None:
        self.payload_type = payload_type
        self._seen: set[tuple[int, int]] = set()
        self._order: deque[tuple[int, int]] = deque()
        self._history = history
        self.dropped_malformed = 0

    def receive(self, packet: RtpPacket) -> DtmfDigit | None:
        """The digit when `packet` is the first one seen of a new event, else None."""
        if packet.payload_type != self.payload_type:
            return None
        try:
            event = TelephoneEvent.parse(packet.payload)
        except MediaError:
            self.dropped_malformed += 1
            return None
        digit = event.digit
        if digit is None:
            return None
        # RFC 4733 2.5.2.1: all packets of one event share its timestamp, so any of them may announce it
        key = (packet.ssrc, packet.timestamp)
        if key in self._seen:
            return None
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self._history:
            self._seen.discard(self._order.popleft())
        return DtmfDigit(digit, packet.timestamp)

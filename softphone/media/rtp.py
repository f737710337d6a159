"""RTP packets, the sending side and reception statistics (RFC 3550 sections 5 and A, RFC 3551)."""

from __future__ import annotations

import random
import struct
from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from softphone.media.errors import MediaError
from softphone.media.rtcp import ReportBlock, SenderReport, dlsr_units, ntp_from_unix, ntp_middle32

RTP_VERSION = 2
RTP_HEADER_SIZE = 12
RTP_SEQ_MOD = 1 << 16
# RFC 3550 A.1 constants
MAX_DROPOUT = 3000
MAX_MISORDER = 100
MIN_SEQUENTIAL = 2

_FIXED = struct.Struct("!BBHII")
_EXT_HEADER = struct.Struct("!HH")
# RFC 4961: a source away from the SDP address is latched only after this many in-sequence packets.
LATCH_MIN_SEQUENTIAL = 5
# Seconds during which packets of a source that sent RTCP BYE are taken as stragglers, not as a new stream.
BYE_HOLD_OFF = 2.0

_MAX_ENDED = 16

_DUPLICATE_WINDOW = 1024
_MAX_CANDIDATES = 8


@dataclass(frozen=True, slots=True)
class RtpExtension:
    """The header extension (RFC 3550 5.3.1): a profile-defined id and whole 32-bit words."""

    profile: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """An RTP data packet (RFC 3550 5.1).

    `padding` holds the padding octets exactly as carried, the last one being their count.
    """

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: bytes = b""
    version: int = RTP_VERSION

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < RTP_HEADER_SIZE:
            raise MediaError(f"RTP packet of {len(data)} octets is shorter than the 12-octet header")
        first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(data, 0)
        version = first >> 6
        if version != RTP_VERSION:
            raise MediaError(f"RTP version {version}, expected 2")
        offset = RTP_HEADER_SIZE
        csrc_count = first & 0x0F
        if offset + 4 * csrc_count > len(data):
            raise MediaError(f"CSRC count {csrc_count} runs beyond the {len(data)}-octet packet")
        csrcs = struct.unpack_from(f"!{csrc_count}I", data, offset)
        offset += 4 * csrc_count
        extension = None
        if first & 0x10:
            if offset + _EXT_HEADER.size > len(data):
                raise MediaError("RTP header extension is truncated")
            profile, words = _EXT_HEADER.unpack_from(data, offset)
            offset += _EXT_HEADER.size
            if offset + 4 * words > len(data):
                raise MediaError(f"RTP header extension length {words} runs beyond the packet")
            extension = RtpExtension(profile, data[offset : offset + 4 * words])
            offset += 4 * words
        end = len(data)
        padding = b""
        if first & 0x20:
            count = data[-1]
            # RFC 3550 A.1: a padding count of zero or beyond the payload marks an invalid packet
            if count == 0 or count > end - offset:
                raise MediaError(f"RTP padding count {count} is invalid with {end - offset} octets after the header")
            end -= count
            padding = data[end:]
        return cls(
            payload_type=second & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=data[offset:end],
            marker=bool(second & 0x80),
            csrcs=csrcs,
            extension=extension,
            padding=padding,
            version=version,
        )

    def to_bytes(self) -> bytes:
        if self.version != RTP_VERSION:
            raise MediaError(f"cannot serialise RTP version {self.version}")
        if not 0 <= self.payload_type <= 127:
            raise MediaError(f"payload type {self.payload_type} does not fit in 7 bits")
        if not 0 <= self.sequence < RTP_SEQ_MOD:
            raise MediaError(f"sequence number {self.sequence} does not fit in 16 bits")
        for name, value in (("timestamp", self.timestamp), ("SSRC", self.ssrc), *(("CSRC", c) for c in self.csrcs)):
            if not 0 <= value <= 0xFFFFFFFF:
                raise MediaError(f"{name} {value} does not fit in 32 bits")
        if len(self.csrcs) > 15:
            raise MediaError(f"{len(self.csrcs)} CSRCs exceed the limit of 15")
        if self.padding and self.padding[-1] != len(self.padding):
            raise MediaError("the last padding octet must count the padding octets")
        first = (RTP_VERSION << 6) | len(self.csrcs)
        if self.padding:
            first |= 0x20
        ext = b""
        if self.extension is not None:
            first |= 0x10
            if not 0 <= self.extension.profile <= 0xFFFF:
                raise MediaError(f"extension profile {self.extension.profile} does not fit in 16 bits")
            if len(self.extension.data) % 4 or len(self.extension.data) > 4 * 0xFFFF:
                raise MediaError("extension data must be whole 32-bit words, at most 65535 of them")
            ext = _EXT_HEADER.pack(self.extension.profile, len(self.extension.data) // 4) + self.extension.data
        second = (0x80 if self.marker else 0) | self.payload_type
        return b"".join(
            (
                _FIXED.pack(first, second, self.sequence, self.timestamp, self.ssrc),
                struct.pack(f"!{len(self.csrcs)}I", *self.csrcs),
                ext,
                self.payload,
                self.padding,
            )
        )


class RtpSender:
    """The sending side of one RTP source: SSRC, sequence and timestamp state and SR counts."""

    def __init__(
        self,
        payload_type: int,
        clock_rate: int,
        *,
        ssrc: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        source = rng if rng is not None else random.SystemRandom()
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.ssrc = ssrc if ssrc is not None else source.getrandbits(32)
        # RFC 3550 5.1: initial sequence number and timestamp are random
        self.sequence = source.getrandbits(16)
        self.timestamp = source.getrandbits(32)
        self.packet_count = 0
        self.octet_count = 0

    def packetize_at(
        self, payload: bytes, timestamp: int, *, marker: bool = False, payload_type: int | None = None
    ) -> bytes:
        """A packet with an explicit timestamp; the media clock is not advanced."""
        packet = RtpPacket(
            payload_type=self.payload_type if payload_type is None else payload_type,
            sequence=self.sequence,
            timestamp=timestamp & 0xFFFFFFFF,
            ssrc=self.ssrc,
            payload=payload,
            marker=marker,
        )
        data = packet.to_bytes()
        self.sequence = (self.sequence + 1) % RTP_SEQ_MOD
        self.packet_count = (self.packet_count + 1) & 0xFFFFFFFF
        # RFC 3550 6.4.1: the octet count covers payload octets only
        self.octet_count = (self.octet_count + len(payload)) & 0xFFFFFFFF
        return data

    def packetize(
        self, payload: bytes, timestamp_increment: int, marker: bool = False, payload_type: int | None = None
    ) -> bytes:
        """A packet stamped with the current media time, which then advances by `timestamp_increment`."""
        data = self.packetize_at(payload, self.timestamp, marker=marker, payload_type=payload_type)
        self.advance(timestamp_increment)
        return data

    def advance(self, timestamp_increment: int) -> None:
        self.timestamp = (self.timestamp + timestamp_increment) & 0xFFFFFFFF

    def sender_report(
        self, wall_time: float, rtp_timestamp: int | None = None, reports: tuple[ReportBlock, ...] = ()
    ) -> SenderReport:
        """An SR for this source; `rtp_timestamp` defaults to the current media time."""
        return SenderReport(
            ssrc=self.ssrc,
            ntp_timestamp=ntp_from_unix(wall_time),
            rtp_timestamp=self.timestamp if rtp_timestamp is None else rtp_timestamp & 0xFFFFFFFF,
            packet_count=self.packet_count,
            octet_count=self.octet_count,
            reports=reports,
        )


@dataclass(slots=True)
class ReceptionStats:
    """Per-source reception state of RFC 3550 A.1 (sequence), A.3 (loss) and A.8 (jitter)."""

    ssrc: int
    max_seq: int = 0
    cycles: int = 0
    base_seq: int = 0
    bad_seq: int = RTP_SEQ_MOD + 1
    probation: int = 0
    received: int = 0
    expected_prior: int = 0
    received_prior: int = 0
    transit: float | None = None
    jitter_estimate: float = 0.0
    duplicates: int = 0
    _seen: set[int] = field(default_factory=set, init=False, repr=False)
    _seen_order: deque[int] = field(default_factory=deque, init=False, repr=False)

    @classmethod
    def for_first_packet(cls, ssrc: int, seq: int, min_sequential: int = MIN_SEQUENTIAL) -> ReceptionStats:
        stats = cls(ssrc)
        stats.init_seq(seq)
        stats.max_seq = (seq - 1) % RTP_SEQ_MOD
        stats.probation = min_sequential
        return stats

    def init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = RTP_SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0
        self._seen.clear()
        self._seen_order.clear()

    def update_seq(self, seq: int, min_sequential: int = MIN_SEQUENTIAL) -> bool:
        """RFC 3550 A.1: True when the packet is valid for this source."""
        udelta = (seq - self.max_seq) % RTP_SEQ_MOD
        if self.probation:
            if seq == (self.max_seq + 1) % RTP_SEQ_MOD:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self.init_seq(seq)
                    self.received += 1
                    return True
            else:
                self.probation = min_sequential - 1
                self.max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += RTP_SEQ_MOD
            self.max_seq = seq
        elif udelta <= RTP_SEQ_MOD - MAX_MISORDER:
            # RFC 3550 A.1: a large jump is accepted only when the next packet confirms it
            if seq == self.bad_seq:
                self.init_seq(seq)
            else:
                self.bad_seq = (seq + 1) % RTP_SEQ_MOD
                return False
        self.received += 1
        return True

    def extend(self, seq: int) -> int:
        """The extended sequence number of `seq` relative to the highest one seen."""
        ext = self.cycles + seq
        if seq > self.max_seq and seq - self.max_seq > RTP_SEQ_MOD // 2 and self.cycles:
            ext -= RTP_SEQ_MOD
        return ext

    def is_duplicate(self, ext_seq: int) -> bool:
        """Record `ext_seq`; True when it was already seen recently."""
        if ext_seq in self._seen:
            self.duplicates += 1
            return True
        self._seen.add(ext_seq)
        self._seen_order.append(ext_seq)
        if len(self._seen_order) > _DUPLICATE_WINDOW:
            self._seen.discard(self._seen_order.popleft())
        return False

    def update_jitter(self, rtp_timestamp: int, arrival: float) -> None:
        """RFC 3550 A.8; `arrival` is the arrival time in RTP timestamp units."""
        transit = arrival - rtp_timestamp
        if self.transit is not None:
            d = transit - self.transit
            d = (d + 2**31) % 2**32 - 2**31
            self.jitter_estimate += (abs(d) - self.jitter_estimate) / 16.0
        self.transit = transit

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1

    @property
    def cumulative_lost(self) -> int:
        """RFC 3550 A.3: expected minus received (duplicates count as received), clamped to 24 signed bits."""
        return max(-0x800000, min(0x7FFFFF, self.expected - self.received))

    @property
    def jitter(self) -> int:
        return int(self.jitter_estimate)

    def fraction_lost(self) -> int:
        """RFC 3550 A.3: loss fraction (in 1/256) since the previous call; starts a new interval."""
        expected = self.expected
        expected_interval = expected - self.expected_prior
        self.expected_prior = expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            return 0
        return (lost_interval << 8) // expected_interval


class RtpReceiver:
    """The receiving side of a call's RTP session, latched to one source.

    `payload_types` maps each negotiated payload type to its clock rate.

    Which source gets latched. Without `remote` the first source to pass the
    probation of RFC 3550 A.1 (`min_sequential` in-sequence packets) is
    latched, wherever it sends from. With `remote`, the address and port the
    peer's SDP gave, as `recvfrom` reports them:

    - packets from `remote` pass the same probation and are latched, before
      the call is answered too (early media);
    - packets from anywhere else are refused until `answered` is set. After
      that, while nothing is latched, such a source is latched only after
      `latch_min_sequential` consecutive in-sequence packets of negotiated
      payload types with one SSRC: symmetric RTP (RFC 4961) for a peer whose
      packets leave a NAT from another address;
    - a source latched away from `remote` gives way to `remote` as soon as
      packets from there pass probation.

    Once a source is latched, other addresses and other SSRCs are refused.
    Every refused datagram moves one `dropped_*` counter and nothing else.

    :meth:`end_source` (the peer's RTCP BYE) forgets the latched SSRC but not
    its address: a new SSRC from there is validated like a new source, while
    packets of the ended one are refused for `BYE_HOLD_OFF` seconds. The
    figures of every source left behind are kept in the `retired_*` totals,
    so loss and counts over the whole call stay right.
    """

    def __init__(
        self,
        payload_types: Mapping[int, int],
        *,
        expected_ssrc: int | None = None,
        min_sequential: int = MIN_SEQUENTIAL,
        remote: Hashable | None = None,
        answered: bool = True,
        latch_min_sequential: int = LATCH_MIN_SEQUENTIAL,
    ) -> None:
        self.payload_types = dict(payload_types)
        self.expected_ssrc = expected_ssrc
        self.min_sequential = min_sequential
        self.remote = remote
        self.answered = answered
        self.latch_min_sequential = latch_min_sequential
        self.latched_addr: Hashable | None = None
        self.latched_ssrc: int | None = None
        self.stats: ReceptionStats | None = None
        self._candidates: dict[tuple[Hashable, int], ReceptionStats] = {}
        self.last_sr_ntp32 = 0
        self.last_sr_arrival: float | None = None
        self.dropped_wrong_source = 0
        self.dropped_unknown_ssrc = 0
        self.dropped_unknown_pt = 0
        self.dropped_malformed = 0
        self.dropped_probation = 0
        self.dropped_bad_sequence = 0
        self.dropped_duplicate = 0
        self.dropped_before_answer = 0
        self.dropped_after_bye = 0
        self._ended: dict[int, float] = {}
        self.retired_expected = 0
        self.retired_lost = 0
        self.retired_received = 0
        self.retired_jitter = 0.0

    def reset_latch(self) -> None:
        """Forget the latched source, e.g. after the remote media address changed in a re-offer."""
        self._retire()
        self.latched_addr = None
        self.latched_ssrc = None
        self._candidates.clear()
        self._ended.clear()

    def end_source(self, ssrcs: Iterable[int], now: float) -> bool:
        """The peer sent RTCP BYE for `ssrcs` (RFC 3550 6.3.4): forget those sources.

        True when that ends the stream we listen to: the latched SSRC is among
        them, or nothing was latched yet.
        """
        ended = set(ssrcs)
        for ssrc in ended:
            self._ended.pop(ssrc, None)
            self._ended[ssrc] = now
        while len(self._ended) > _MAX_ENDED:
            del self._ended[next(iter(self._ended))]
        self._candidates = {key: stats for key, stats in self._candidates.items() if key[1] not in ended}
        if self.latched_ssrc is None:
            return self.latched_addr is None
        if self.latched_ssrc not in ended:
            return False
        self._retire()
        self.latched_ssrc = None
        return True

    def _retire(self) -> None:
        """Fold the figures of the source we stop listening to into the call's totals."""
        stats = self.stats
        if stats is None:
            return
        self.retired_expected += max(0, stats.expected)
        self.retired_lost += stats.expected - (stats.received - stats.duplicates)
        self.retired_received += stats.received
        self.retired_jitter = stats.jitter_estimate
        self.stats = None
        self.last_sr_ntp32, self.last_sr_arrival = 0, None

    def is_remote(self, source_addr: Hashable) -> bool:
        """Whether `source_addr` is the address and port of `remote`."""
        return self.remote is not None and isinstance(source_addr, tuple) and source_addr[:2] == self.remote

    def receive(self, data: bytes, source_addr: Hashable, now: float) -> RtpPacket | None:
        """Validate one datagram; the packet when it should be played, else None (and a counter moves)."""
        try:
            packet = RtpPacket.parse(data)
        except MediaError:
            self.dropped_malformed += 1
            return None
        clock_rate = self.payload_types.get(packet.payload_type)
        if clock_rate is None:
            self.dropped_unknown_pt += 1
            return None
        latched = self.latched_addr
        if latched is not None and source_addr == latched:
            if self.latched_ssrc is None:
                # The source here said BYE: a new SSRC from the same place is a new stream.
                return self._probe(packet, source_addr, now, clock_rate, self.min_sequential)
            stats = self.stats
            if packet.ssrc != self.latched_ssrc or stats is None:
                self.dropped_unknown_ssrc += 1
                return None
            if not stats.update_seq(packet.sequence, self.min_sequential):
                self.dropped_bad_sequence += 1
                return None
            if stats.is_duplicate(stats.extend(packet.sequence)):
                self.dropped_duplicate += 1
                return None
            stats.update_jitter(packet.timestamp, now * clock_rate)
            return packet
        if latched is None and self.expected_ssrc is not None and packet.ssrc != self.expected_ssrc:
            self.dropped_unknown_ssrc += 1
            return None
        if self.remote is None:
            if latched is not None:
                self.dropped_wrong_source += 1
                return None
            return self._probe(packet, source_addr, now, clock_rate, self.min_sequential)
        if self.is_remote(source_addr):
            if latched is not None and self.is_remote(latched):
                self.dropped_wrong_source += 1
                return None
            return self._probe(packet, source_addr, now, clock_rate, self.min_sequential)
        if not self.answered:
            self.dropped_before_answer += 1
            return None
        if latched is not None:
            self.dropped_wrong_source += 1
            return None
        return self._probe(packet, source_addr, now, clock_rate, self.latch_min_sequential)

    def _probe(
        self, packet: RtpPacket, source_addr: Hashable, now: float, clock_rate: int, needed: int
    ) -> RtpPacket | None:
        """Source validation before latching: the first candidate to finish probation is latched."""
        ended = self._ended.get(packet.ssrc)
        if ended is not None:
            if now - ended < BYE_HOLD_OFF:
                self.dropped_after_bye += 1
                return None
            del self._ended[packet.ssrc]
        key = (source_addr, packet.ssrc)
        stats = self._candidates.get(key)
        if stats is None:
            stats = ReceptionStats.for_first_packet(packet.ssrc, packet.sequence, needed)
            self._candidates[key] = stats
            if len(self._candidates) > _MAX_CANDIDATES:
                self._evict_candidate()
        if not stats.update_seq(packet.sequence, needed):
            self.dropped_probation += 1
            return None
        self._candidates.clear()
        self._retire()
        self.stats = stats
        self.latched_addr = source_addr
        self.latched_ssrc = packet.ssrc
        stats.is_duplicate(stats.extend(packet.sequence))
        stats.update_jitter(packet.timestamp, now * clock_rate)
        return packet

    def _evict_candidate(self) -> None:
        """Drop the oldest candidate, one away from `remote` if there is one, so strangers cannot crowd out the peer."""
        for key in self._candidates:
            if not self.is_remote(key[0]):
                del self._candidates[key]
                return
        del self._candidates[next(iter(self._candidates))]

    def note_sender_report(self, ntp_timestamp: int, now: float) -> None:
        """Remember an SR from the latched source for the LSR/DLSR of our next report."""
        self.last_sr_ntp32 = ntp_middle32(ntp_timestamp)
        self.last_sr_arrival = now

    def report_block(self, now: float) -> ReportBlock | None:
        """A reception report for the latched source, starting a new loss interval."""
        stats = self.stats
        if stats is None or self.latched_ssrc is None:
            return None
        dlsr = 0 if self.last_sr_arrival is None else dlsr_units(now - self.last_sr_arrival)
        return ReportBlock(
            ssrc=stats.ssrc,
            fraction_lost=stats.fraction_lost(),
            cumulative_lost=stats.cumulative_lost,
            highest_sequence=stats.extended_max & 0xFFFFFFFF,
            jitter=min(stats.jitter, 0xFFFFFFFF),
            lsr=self.last_sr_ntp32,
            dlsr=dlsr,
        )

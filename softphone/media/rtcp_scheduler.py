"""RTCP for one call's RTP session: when to report, what to report, and what the peer's reports say.

The :class:`RtcpScheduler` follows RFC 3550 6.2-6.3: the randomised report
interval from the session bandwidth (5 % of it for RTCP), an SR while we
send or an RR otherwise, each in a compound packet with our CNAME, and a BYE
when the session stops. From the peer's reports it takes the round-trip time
(RFC 3550 6.4.1: A - LSR - DLSR) and the loss the peer sees of our stream,
which tunes our Opus encoder; from its SRs the LSR/DLSR of our next report;
from its BYE the end of its stream (the receive stream goes quiet). Sockets
stay with the session: the scheduler hands each compound packet to
``transmit``.

RTCP is taken only from where the peer's SDP said it would come from
(``expected``: its RTCP port, or its RTP port with rtcp-mux), or, once the
call is answered and RTP is latched elsewhere (a peer behind a NAT), from the
latched RTP source itself with rtcp-mux, or else from the latched host with
the latched SSRC as sender. Anything else is counted in ``wrong_source`` and
ignored, so a stranger can neither end our stream with a BYE nor skew the
RTT or the encoder's loss figures.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from softphone.media.errors import MediaError
from softphone.media.events import MediaEvent, RemoteBye
from softphone.media.parameters import Address
from softphone.media.receive_stream import ReceiveStream
from softphone.media.rtcp import (
    RTCP_MIN_TIME,
    Bye,
    ReceiverReport,
    RtcpPacket,
    SenderReport,
    build_compound,
    cname_packet,
    ntp_from_unix,
    ntp_middle32,
    parse_compound,
    rtcp_interval,
)
from softphone.media.send_stream import SendStream

__all__ = ["RtcpScheduler"]

IP_UDP_OVERHEAD = 28
# RFC 3550 6.2: RTCP gets 5 % of the session bandwidth.
RTCP_FRACTION = 0.05


class RtcpScheduler:
    """RTCP of one RTP session; see the module documentation.

    ``transmit`` sends a compound packet to the peer's RTCP address and says
    whether it left; ``has_channel`` says whether there is a socket to send
    RTCP on at all. ``min_interval`` scales the RFC 3550 timing (its 5 s
    minimum) for tests.
    """

    def __init__(
        self,
        send: SendStream,
        receive: ReceiveStream,
        transmit: Callable[[bytes], bool],
        has_channel: Callable[[], bool],
        report: Callable[[MediaEvent], None],
        *,
        cname: str,
        clock: Callable[[], float],
        wallclock: Callable[[], float],
        rng: random.Random,
        min_interval: float = RTCP_MIN_TIME,
    ) -> None:
        self._send = send
        self._receive = receive
        self._transmit = transmit
        self._has_channel = has_channel
        self._report = report
        self.cname = cname
        self._clock = clock
        self._wallclock = wallclock
        self._rng = rng
        self._scale = min_interval / RTCP_MIN_TIME
        self._avg_rtcp_size = 128.0
        self.next_report = 0.0
        self.rtt: float | None = None
        self.remote_loss: float | None = None
        self.expected: Address | None = None
        self.rtcp_mux = False
        self.source: Address | None = None
        self.sent = 0
        self.received = 0
        self.malformed = 0
        self.wrong_source = 0

    def start(self, now: float) -> None:
        """Schedule the first report (RFC 3550 6.2: half the minimum interval at start)."""
        self.next_report = now + self._delay(initial=True)

    def poll(self, now: float) -> None:
        """Send a report when one is due."""
        if now >= self.next_report:
            self._send_report()
            self.next_report = now + self._delay(initial=False)

    def _delay(self, *, initial: bool) -> float:
        send = self._send
        codec_bps = send.target_bitrate or send.encoder.clock_rate * 8
        packet_rate = 1000 / send.ptime_ms
        session_bw = codec_bps / 8 + packet_rate * (12 + IP_UDP_OVERHEAD)
        senders = 2 if self._receive.receiver.latched_ssrc is not None else 1
        interval = rtcp_interval(
            members=2,
            senders=senders,
            rtcp_bw=session_bw * RTCP_FRACTION,
            we_sent=send.sent_since_report,
            avg_rtcp_size=self._avg_rtcp_size,
            initial=initial,
            rng=self._rng,
        )
        return interval * self._scale

    def _report_blocks(self, now: float) -> tuple[Any, ...]:
        block = self._receive.receiver.report_block(now)
        return () if block is None else (block,)

    def _send_report(self) -> None:
        send = self._send
        rtp = send.rtp
        reports = self._report_blocks(self._clock())
        first: RtcpPacket
        if send.sent_since_report:
            first = rtp.sender_report(self._wallclock(), reports=reports)
        else:
            first = ReceiverReport(rtp.ssrc, reports)
        data = build_compound([first, cname_packet(rtp.ssrc, self.cname)])
        if not self._has_channel():
            return
        if self._transmit(data):
            self.sent += 1
            self._avg_rtcp_size = self._avg_rtcp_size * 15 / 16 + (len(data) + IP_UDP_OVERHEAD) / 16
        send.sent_since_report = False

    def send_bye(self) -> None:
        """RFC 3550 6.6: a last report and BYE for our SSRC as the session leaves."""
        if not self._has_channel():
            return
        rtp = self._send.rtp
        reports = self._report_blocks(self._clock())
        first: RtcpPacket = (
            rtp.sender_report(self._wallclock(), reports=reports)
            if rtp.packet_count
            else ReceiverReport(rtp.ssrc, reports)
        )
        data = build_compound([first, cname_packet(rtp.ssrc, self.cname), Bye((rtp.ssrc,))])
        if self._transmit(data):
            self.sent += 1

    # -- reception ----------------------------------------------------------------------------

    def handle(self, data: bytes, addr: Address, now: float) -> None:
        """Take in one RTCP datagram from ``addr``."""
        try:
            packets = parse_compound(data)
        except (MediaError, ValueError, IndexError):
            self.malformed += 1
            return
        if not self._accepts(addr, packets[0]):
            self.wrong_source += 1
            return
        self.received += 1
        self._avg_rtcp_size = self._avg_rtcp_size * 15 / 16 + (len(data) + IP_UDP_OVERHEAD) / 16
        latched = self._receive.receiver.latched_ssrc
        arrival32 = ntp_middle32(ntp_from_unix(self._wallclock()))
        for packet in packets:
            self._handle_packet(packet, latched, arrival32, now)
        if self.source is None:
            self.source = tuple(addr)

    def _accepts(self, addr: Address, first: RtcpPacket) -> bool:
        if self.expected is None or addr[:2] == self.expected or addr == self.source:
            return True
        receiver = self._receive.receiver
        latched = receiver.latched_addr
        if latched is None or not receiver.answered:
            return False
        if self.rtcp_mux:
            return addr == latched
        sender = first.ssrc if isinstance(first, SenderReport | ReceiverReport) else None
        return isinstance(latched, tuple) and addr[0] == latched[0] and sender == receiver.latched_ssrc

    def _handle_packet(self, packet: RtcpPacket, latched: int | None, arrival32: int, now: float) -> None:
        if isinstance(packet, SenderReport | ReceiverReport):
            if isinstance(packet, SenderReport) and latched is not None and packet.ssrc == latched:
                self._receive.receiver.note_sender_report(packet.ntp_timestamp, now)
                self._receive.sync.on_sender_report(packet.ntp_timestamp, packet.rtp_timestamp)
            for block in packet.reports:
                if block.ssrc != self._send.rtp.ssrc:
                    continue
                rtt = block.rtt(arrival32)
                if rtt is not None and rtt < 60.0:
                    self.rtt = rtt
                self.remote_loss = block.fraction_lost * 100.0 / 256.0
                self._send.adapt_to_loss(self.remote_loss)
        elif isinstance(packet, Bye):
            if self._receive.end_source(packet.ssrcs, now):
                self._report(RemoteBye(packet.reason))

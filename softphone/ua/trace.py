"""A live SIP trace of one user agent: what the GUI's ladder diagram and ``--trace`` exports show.

:class:`SipTrace` listens to the UA's transports while enabled and keeps the
last messages (bounded) as :class:`TraceRecord` s: time, direction, the peer,
the first line, Call-ID and CSeq, and the text with ``Authorization`` and
``Proxy-Authorization`` values and the SDES keys of ``a=crypto`` lines
redacted (keys as ``*``, so Content-Length still holds). Listeners are called
on the UA's loop thread. :func:`write_pcap` saves records as a pcap file (IPv4/IPv6 + UDP,
whatever transport carried them, so any SIP dissector reads them).
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.parser import parse_message
from softphone.transport import Target, TransportError
from softphone.transport.base import redacted

if TYPE_CHECKING:
    from softphone.transport import TransportManager

__all__ = ["SipTrace", "TraceRecord", "write_pcap"]

log = logging.getLogger(__name__)

TraceDirection = Literal["sent", "received"]
DEFAULT_CAPACITY = 5000


@dataclass(frozen=True, slots=True)
class TraceRecord:
    time: float
    direction: TraceDirection
    transport: str
    peer_host: str
    peer_port: int
    local_host: str
    local_port: int
    first_line: str
    call_id: str | None
    cseq: str | None
    method: str | None
    status_code: int | None
    text: str

    @property
    def label(self) -> str:
        """The short name in a ladder diagram: ``INVITE`` or ``180 Ringing``."""
        if self.status_code is not None:
            return self.first_line.split(" ", 1)[1] if " " in self.first_line else self.first_line
        return self.method or self.first_line.split(" ", 1)[0]


def _split_peer(peer: str) -> tuple[str, str, int]:
    """``"UDP 127.0.0.1:5060"`` / ``"TCP [::1]:5060"`` → transport, host, port."""
    transport, _, hostport = peer.partition(" ")
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    try:
        return transport, host, int(port)
    except ValueError:
        return transport, hostport, 0


class SipTrace:
    """The SIP trace of one transport manager; see the module documentation."""

    def __init__(self, transport: TransportManager, capacity: int = DEFAULT_CAPACITY) -> None:
        self._transport = transport
        self.records: collections.deque[TraceRecord] = collections.deque(maxlen=capacity)
        self.listeners: list[Callable[[TraceRecord], None]] = []
        self._enabled = False

    @property
    def enabled(self) -> bool:
        return self._enabled

    def enable(self) -> None:
        if not self._enabled:
            self._enabled = True
            self._transport.trace_listeners.append(self._on_message)

    def disable(self) -> None:
        if self._enabled:
            self._enabled = False
            self._transport.trace_listeners.remove(self._on_message)

    def clear(self) -> None:
        self.records.clear()

    def for_call(self, call_id: str) -> list[TraceRecord]:
        """The records of one dialog (by SIP Call-ID), in order."""
        return [r for r in self.records if r.call_id == call_id]

    def call_ids(self) -> list[str]:
        """The Call-IDs in the trace, first seen first."""
        return list(dict.fromkeys(r.call_id for r in self.records if r.call_id))

    def _on_message(self, direction: str, peer: str, data: bytes) -> None:
        record = make_record("sent" if direction.startswith("sent") else "received", peer, data, self._local(peer))
        self.records.append(record)
        for listener in list(self.listeners):
            try:
                listener(record)
            except Exception:
                log.exception("SIP trace listener failed")

    def _local(self, peer: str) -> tuple[str, int]:
        transport, host, port = _split_peer(peer)
        try:
            return self._transport.local_address_for(Target(transport, host, port))
        except (TransportError, ValueError, OSError):
            return ("::1" if ":" in host else "127.0.0.1"), 0


def make_record(
    direction: TraceDirection, peer: str, data: bytes, local: tuple[str, int], now: float | None = None
) -> TraceRecord:
    transport, host, port = _split_peer(peer)
    text = redacted(data)
    first_line = text.split("\r\n", 1)[0][:200]
    call_id = cseq = method = None
    status: int | None = None
    try:
        message = parse_message(data)
    except SipParseError:
        message = None
    if isinstance(message, Request | Response):
        try:
            call_id = message.call_id
            cseq = str(message.cseq)
        except SipParseError:
            pass
        if isinstance(message, Request):
            method = message.method
        else:
            status = message.status_code
            try:
                method = message.cseq.method
            except SipParseError:
                method = None
    return TraceRecord(
        time=time.time() if now is None else now,
        direction=direction,
        transport=transport,
        peer_host=host,
        peer_port=port,
        local_host=local[0],
        local_port=local[1],
        first_line=first_line,
        call_id=call_id,
        cseq=cseq,
        method=method,
        status_code=status,
        text=text,
    )


# --- pcap export ----------------------------------------------------------------------

_LINKTYPE_RAW = 101  # raw IPv4/IPv6 packets


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def _packet(record: TraceRecord) -> bytes:
    payload = record.text.encode("utf-8")
    if record.direction == "sent":
        src, sport, dst, dport = record.local_host, record.local_port, record.peer_host, record.peer_port
    else:
        src, sport, dst, dport = record.peer_host, record.peer_port, record.local_host, record.local_port
    try:
        src_ip, dst_ip = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    except ValueError:
        src_ip, dst_ip = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("127.0.0.1")
    if src_ip.version != dst_ip.version:
        dst_ip = src_ip
    udp_len = 8 + len(payload)
    udp = struct.pack("!HHHH", sport & 0xFFFF, dport & 0xFFFF, udp_len & 0xFFFF, 0) + payload
    if src_ip.version == 4:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0x4000, 64, 17, 0, src_ip.packed, dst_ip.packed)
        header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
        return header + udp
    return struct.pack("!IHBB16s16s", 6 << 28, udp_len, 17, 64, src_ip.packed, dst_ip.packed) + udp


def write_pcap(path: str | Path, records: Iterable[TraceRecord]) -> int:
    """Save ``records`` (credentials already redacted) as a pcap file; returns how many were written."""
    count = 0
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, _LINKTYPE_RAW))
        for record in records:
            packet = _packet(record)
            seconds = int(record.time)
            micros = int((record.time - seconds) * 1_000_000)
            out.write(struct.pack("<IIII", seconds, micros, len(packet), len(packet)))
            out.write(packet)
            count += 1
    return count

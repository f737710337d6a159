"""A loopback capture with tshark for the tests that must show what crossed the wire (apt: tshark)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["Capture", "distinct_payload_bytes", "udp_datagrams"]

_LINKTYPE_ETHERNET = 1
_LINKTYPE_LINUX_SLL = 113


class Capture:
    """``tshark -i lo`` capturing UDP to a pcap file while the ``with`` block runs.

    Set ``ports`` (the call's media ports) before reading: only datagrams from or to them are looked at.
    """

    def __init__(self, capture_filter: str = "udp and not port 5060 and not port 53") -> None:
        if shutil.which("tshark") is None:
            raise AssertionError("tshark is missing: apt-get install tshark")
        self._dir = tempfile.TemporaryDirectory(prefix="capture-")
        self.path = Path(self._dir.name) / "loopback.pcap"
        self.filter = capture_filter
        self.ports: set[int] = set()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = Path(self._dir.name) / "tshark.log"

    def __enter__(self) -> Capture:
        log = self._log.open("wb")
        self._proc = subprocess.Popen(
            ["tshark", "-i", "lo", "-f", self.filter, "-F", "pcap", "-w", str(self.path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20.0
        while b"Capturing on" not in self._log.read_bytes():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"tshark did not start capturing: {self._log.read_text(errors='replace')}")
            time.sleep(0.05)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self) -> None:
        self._dir.cleanup()

    def datagrams(self) -> list[tuple[int, int, bytes]]:
        return [d for d in udp_datagrams(self.path) if d[0] in self.ports or d[1] in self.ports]

    def rtp_payloads(self) -> list[bytes]:
        """The payloads (after the 12-octet header) of the RTP packets of the call's ports."""
        payloads = []
        for _, _, data in self.datagrams():
            # RFC 7983: RTP starts 128-191, and RTCP's second octet is 192-223 (RFC 5761 4).
            if len(data) > 12 and 128 <= data[0] <= 191 and not 192 <= data[1] <= 223:
                payloads.append(data[12:])
        return payloads


def udp_datagrams(path: Path) -> list[tuple[int, int, bytes]]:
    """(source port, destination port, payload) of every IPv4 UDP datagram in a classic pcap file."""
    data = path.read_bytes()
    if len(data) < 24:
        return []
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    offset = 24
    out: list[tuple[int, int, bytes]] = []
    while offset + 16 <= len(data):
        _, _, captured, _ = struct.unpack(endian + "IIII", data[offset : offset + 16])
        frame = data[offset + 16 : offset + 16 + captured]
        offset += 16 + captured
        if linktype == _LINKTYPE_ETHERNET:
            ethertype, ip = frame[12:14], frame[14:]
        elif linktype == _LINKTYPE_LINUX_SLL:
            ethertype, ip = frame[14:16], frame[16:]
        else:
            continue
        if ethertype != b"\x08\x00" or len(ip) < 28 or ip[9] != 17:
            continue
        udp = ip[(ip[0] & 0x0F) * 4 :]
        source, destination = struct.unpack("!HH", udp[:4])
        out.append((source, destination, bytes(udp[8:])))
    return out


def distinct_payload_bytes(payload: bytes) -> int:
    """How many different octet values the first 160 octets hold (a tone in G.711: few; ciphertext: ~120)."""
    return len(set(payload[:160]))

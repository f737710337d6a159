"""UDP sockets: one listening socket per address, used for sending too (RFC 3581 symmetric ports)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import struct
import sys
from collections.abc import Callable
from typing import cast

from softphone.transport.base import address_family, log, normalize_host
from softphone.transport.errors import TransportError

# Linux <linux/in.h>, <linux/in6.h>: queue ICMP errors with the address they concern.
_IP_RECVERR = 11
_IPV6_RECVERR = 25
_ERRQUEUE = sys.platform.startswith("linux") and hasattr(socket, "MSG_ERRQUEUE")
RECEIVE_BUFFER = 4 * 1024 * 1024

Address = tuple[str, int]
DatagramHandler = Callable[["UdpEndpoint", bytes, Address], None]
ErrorHandler = Callable[["UdpEndpoint", OSError, Address | None], None]


def _error_text(code: int) -> str:
    return os.strerror(code) if code else "unknown error"


class UdpEndpoint(asyncio.DatagramProtocol):
    """A bound UDP socket; ICMP errors are reported with the destination they concern where the OS says."""

    def __init__(self, endpoint_id: int, sock: socket.socket, on_datagram: DatagramHandler, on_error: ErrorHandler):
        self.id = endpoint_id
        self.family = sock.family
        host, port = sock.getsockname()[:2]
        self.local: Address = (normalize_host(host), port)
        self._sock = sock
        self._on_datagram = on_datagram
        self._on_error = on_error
        self._transport: asyncio.DatagramTransport | None = None
        self._sync_errors: list[OSError] | None = None
        self._sync_reported: list[Address] = []

    @classmethod
    async def open(
        cls, endpoint_id: int, host: str, port: int, on_datagram: DatagramHandler, on_error: ErrorHandler
    ) -> UdpEndpoint:
        family = address_family(host)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((normalize_host(host), port))
            with contextlib.suppress(OSError):
                # A burst of NOTIFYs (a big buddy list coming online) overflows the default ~200 KiB and
                # then waits for retransmissions; the kernel caps this at net.core.rmem_max.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            if _ERRQUEUE:
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
                else:
                    sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
            sock.setblocking(False)
            endpoint = cls(endpoint_id, sock, on_datagram, on_error)
            await asyncio.get_running_loop().create_datagram_endpoint(lambda: endpoint, sock=sock)
        except BaseException:
            sock.close()
            raise
        return endpoint

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    @property
    def closed(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        host, port = addr[0], addr[1]
        assert isinstance(host, str) and isinstance(port, int)
        self._on_datagram(self, data, (normalize_host(host), port))

    def error_received(self, exc: Exception) -> None:
        if not isinstance(exc, OSError):
            log.error("UDP %s: %r", self.local, exc)
            return
        reports = self._drain_errqueue()
        if self._sync_errors is not None:
            self._sync_errors.append(exc)
            self._sync_reported.extend(address for _, address in reports)
        if not reports and self._sync_errors is None:
            self._on_error(self, exc, None)
        for error, address in reports:
            self._on_error(self, error, address)

    def _drain_errqueue(self) -> list[tuple[OSError, Address]]:
        """Read the queued ICMP errors (Linux IP_RECVERR): the error and the destination it answers."""
        reports: list[tuple[OSError, Address]] = []
        if not _ERRQUEUE:
            return reports
        for _ in range(64):
            try:
                _, ancdata, _, address = self._sock.recvmsg(1, 1024, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                log.debug("UDP %s: reading the error queue failed: %s", self.local, exc)
                break
            code = 0
            for _level, _type, data in ancdata:
                if len(data) >= 4:
                    # struct sock_extended_err starts with ee_errno.
                    code = struct.unpack_from("=I", data)[0]
            if isinstance(address, tuple) and len(address) >= 2:
                reports.append((OSError(code, _error_text(code)), (normalize_host(address[0]), address[1])))
        return reports

    def send(self, data: bytes, address: Address) -> None:
        """Send one datagram; raise TransportError if the OS refuses it at once."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise TransportError(f"UDP socket {self.local} is closed")
        for attempt in range(2):
            self._sync_errors = []
            self._sync_reported = []
            try:
                transport.sendto(data, address)
                errors, reported = self._sync_errors, self._sync_reported
            finally:
                self._sync_errors = None
            if not errors:
                return
            if attempt == 0 and reported and address not in reported:
                continue  # a pending ICMP error of another destination surfaced on this send
            exc = errors[0]
            if exc.errno == errno.EMSGSIZE:
                raise TransportError(f"UDP datagram of {len(data)} bytes to {address} is too large")
            raise TransportError(f"UDP send to {address} failed: {exc.strerror or exc}")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        else:
            self._sock.close()

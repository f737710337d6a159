"""Connections that peers open to us (TCP and TLS): listening, accepting, admission within the limits,
and the TLS handshake, none of which may cost more than a count when a peer misbehaves."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import socket
import ssl
import struct

from softphone.transport.base import address_family, normalize_host
from softphone.transport.errors import os_error_text
from softphone.transport.limits import LimitLog, TransportLimits, address_group
from softphone.transport.stream import RESOURCE_ERRNOS, StreamConnection

__all__ = ["ACCEPT_RETRY", "InboundStreams"]

log = logging.getLogger("softphone.transport")

_BACKLOG = 128
# How long the accept loop waits when the process is out of file descriptors (the peer waits in the backlog).
ACCEPT_RETRY = 0.5


class InboundStreams:
    """The inbound half of :class:`~softphone.transport.manager.TransportManager` (its base class)."""

    limits: TransportLimits
    _limit_log: LimitLog
    _connect_timeout: float
    _closed: bool
    _ids: itertools.count[int]
    _listeners: list[socket.socket]
    _accepting: list[asyncio.Task[None]]
    _bound: list[tuple[str, socket.AddressFamily, tuple[str, int]]]
    _connections: dict[int, StreamConnection]
    _connecting: dict[tuple[str, str, int], asyncio.Task[StreamConnection]]
    # Inbound connections being set up (TLS handshakes), with the address group of their peer.
    _handshakes: dict[asyncio.Task[None], str]

    def _add_connection(
        self, transport: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, outbound: bool
    ) -> StreamConnection:
        raise NotImplementedError

    async def _listen_stream(self, transport: str, host: str, port: int, context: ssl.SSLContext | None) -> None:
        family = address_family(host)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
            sock.listen(_BACKLOG)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._listeners.append(sock)
        name = sock.getsockname()
        self._bound.append((transport, family, (normalize_host(name[0]), name[1])))
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._accept_loop(transport, sock, context), name=f"accept {transport} {name[:2]}")
        self._accepting.append(task)

    async def _accept_loop(self, transport: str, sock: socket.socket, context: ssl.SSLContext | None) -> None:
        """Accept for as long as the manager runs: no error of accept() ends it."""
        loop = asyncio.get_running_loop()
        while not self._closed:
            try:
                conn, address = await loop.sock_accept(sock)
            except OSError as exc:
                if self._closed or sock.fileno() < 0:
                    return
                if exc.errno in RESOURCE_ERRNOS:
                    # Out of descriptors (EMFILE/ENFILE): peers wait in the backlog until some are closed.
                    self._limit_log.note(f"cannot accept {transport} connections: {os_error_text(exc)}")
                    await asyncio.sleep(ACCEPT_RETRY)
                elif exc.errno != errno.ECONNABORTED:
                    log.info("accepting a %s connection failed: %s", transport, os_error_text(exc))
                    await asyncio.sleep(0.05)
                continue
            self._accepted(transport, conn, normalize_host(address[0]), context)

    def _admission(self, peer: str, group: str) -> str | None:
        """Why a connection from ``peer`` must be refused, or None."""
        limits = self.limits
        if self._open_count() >= limits.max_connections:
            return f"{limits.max_connections} connections open in all"
        inbound = [c for c in self._connections.values() if not c.outbound]
        if len(inbound) + len(self._handshakes) >= limits.max_inbound_connections:
            return f"{limits.max_inbound_connections} connections opened by peers"
        same = sum(1 for c in inbound if address_group(c.peer[0]) == group)
        same += sum(1 for g in self._handshakes.values() if g == group)
        if same >= limits.max_connections_per_ip:
            where = "address" if group == peer else "/64"
            return f"{limits.max_connections_per_ip} connections from one {where}"
        return None

    def _open_count(self) -> int:
        return len(self._connections) + len(self._handshakes) + len(self._connecting)

    def _accepted(self, transport: str, conn: socket.socket, peer: str, context: ssl.SSLContext | None) -> None:
        group = address_group(peer)
        refusal = self._admission(peer, group)
        if refusal is not None:
            with contextlib.suppress(OSError):
                # Linger 0: a reset, so that the refused connection leaves nothing behind on our side.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            self._limit_log.note(f"refused {transport} connections: {refusal}", peer)
            return
        task = asyncio.get_running_loop().create_task(self._start_inbound(transport, conn, peer, context))
        self._handshakes[task] = group
        task.add_done_callback(self._handshakes.pop)

    async def _start_inbound(
        self, transport: str, conn: socket.socket, peer: str, context: ssl.SSLContext | None
    ) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        writers: list[asyncio.StreamWriter] = []
        # With a connected callback the protocol is server-side (start_tls needs to know) and makes the writer.
        protocol = asyncio.StreamReaderProtocol(reader, lambda _, writer: writers.append(writer))
        try:
            await loop.connect_accepted_socket(lambda: protocol, conn)
        except OSError as exc:
            conn.close()
            log.debug("accepting a %s connection from %s failed: %s", transport, peer, exc)
            return
        except asyncio.CancelledError:
            conn.close()
            raise
        (writer,) = writers
        if context is not None:
            # The handshake runs here rather than in the server so that a failing peer costs no more than a count.
            timeout = min(self._connect_timeout, self.limits.header_timeout)
            try:
                await writer.start_tls(context, ssl_handshake_timeout=timeout)
            except (OSError, ssl.SSLError, TimeoutError) as exc:
                self._limit_log.note("TLS handshakes with peers failed", f"{peer}: {str(exc) or type(exc).__name__}")
                writer.close()
                return
            except asyncio.CancelledError:
                writer.close()
                raise
        if self._closed:
            writer.close()
            return
        self._add_connection(transport, reader, writer, outbound=False)

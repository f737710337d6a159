"""TCP and TLS connections: framing with StreamParser, CRLF keep-alives (RFC 5626 4.4.1), time and size limits."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
from collections.abc import Callable

from softphone.sip.errors import SipParseError
from softphone.sip.parser import MAX_HEADER_BYTES, KeepAlive, StreamItem, StreamParser
from softphone.transport.base import Target, host_port, log, normalize_host
from softphone.transport.errors import TlsError, TlsReason, TransportError, os_error_text
from softphone.transport.limits import TransportLimits
from softphone.transport.tls import certificate_fingerprint

PING = b"\r\n\r\n"
PONG = b"\r\n"
_READ_SIZE = 65536
# Errors of a process or system out of file descriptors or socket memory.
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

ItemHandler = Callable[["StreamConnection", StreamItem], None]
ClosedHandler = Callable[["StreamConnection", Exception | None], None]


class StreamConnection:
    """One TCP or TLS connection, opened by us (``outbound``) or by the peer.

    It closes itself past the :class:`TransportLimits` (idle, header and
    body time, buffered bytes) and on a framing error; ``closed_by`` then
    says which, for the manager's summary log. ``idle_exempt(connection)``
    tells whether it carries a keep-alive and so may stay quiet.
    """

    def __init__(
        self,
        connection_id: int,
        transport: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        outbound: bool,
        on_item: ItemHandler,
        on_closed: ClosedHandler,
        limits: TransportLimits | None = None,
        idle_exempt: Callable[[StreamConnection], bool] | None = None,
    ) -> None:
        self.id = connection_id
        self.transport = transport
        self.outbound = outbound
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        self.peer: tuple[str, int] = (normalize_host(peer[0]), peer[1])
        self.local: tuple[str, int] = (normalize_host(local[0]), local[1])
        self.limits = limits or TransportLimits()
        self.closed_by: str | None = None
        self._reader = reader
        self._writer = writer
        cap = self.limits.max_buffered_bytes
        self._parser = StreamParser(min(MAX_HEADER_BYTES, cap), cap, self.limits.max_header_fields)
        self._on_item = on_item
        self._on_closed = on_closed
        self._idle_exempt = idle_exempt
        self._pong_waiters: list[asyncio.Future[None]] = []
        self._closing = False
        loop = asyncio.get_running_loop()
        self._clock = loop.time
        self.last_activity = loop.time()
        self.received = 0  # octets read from the peer
        self._message_started: float | None = None
        self.task = loop.create_task(self._read_loop(), name=f"sip-{transport}-{self.id}")

    @property
    def key(self) -> tuple[str, str, int]:
        return self.transport, self.peer[0], self.peer[1]

    @property
    def target(self) -> Target:
        return Target(self.transport, self.peer[0], self.peer[1])

    @property
    def closed(self) -> bool:
        return self._closing or self._writer.is_closing()

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete message held for this connection."""
        return self._parser.buffered

    def __str__(self) -> str:
        return f"{self.transport} connection {self.id} with {host_port(*self.peer)}"

    def _deadline(self) -> float | None:
        limits = self.limits
        started = self._message_started
        if started is not None:
            return started + (limits.body_timeout if self._parser.headers_complete else limits.header_timeout)
        deadline = self.last_activity + limits.idle_timeout
        if self._exempt():
            # A keep-alive flow is not timed out, but looked at again in case its keep-alive stops.
            return max(deadline, self._clock() + limits.idle_timeout)
        return deadline

    def _exempt(self) -> bool:
        return self._idle_exempt is not None and self._idle_exempt(self)

    def _expired(self) -> str | None:
        """Which limit has run out, if one has (a send may have moved the idle deadline)."""
        deadline = self._deadline()
        if deadline is None or self._clock() < deadline:
            return None
        if self._message_started is None and self._exempt():
            return None
        limits = self.limits
        if self._message_started is None:
            return f"idle for {limits.idle_timeout:g} s"
        if self._parser.headers_complete:
            return f"message body not complete {limits.body_timeout:g} s after its first byte"
        return f"header section not complete {limits.header_timeout:g} s after its first byte"

    async def _read_loop(self) -> None:
        error: Exception | None = None
        try:
            while True:
                try:
                    async with asyncio.timeout_at(self._deadline()):
                        data = await self._reader.read(_READ_SIZE)
                except TimeoutError:
                    self.closed_by = self._expired()
                    if self.closed_by is None:
                        continue
                    break
                if not data:
                    break
                self.received += len(data)
                now = self.last_activity = self._clock()
                try:
                    items = self._parser.feed(data)
                except SipParseError as exc:
                    # RFC 3261 18.3: a stream that lost its framing can't be resynchronised.
                    self.closed_by = f"framing error: {exc}"
                    break
                if not self._parser.in_message:
                    self._message_started = None
                elif self._message_started is None or any(not isinstance(i, KeepAlive) for i in items):
                    self._message_started = now
                for item in items:
                    try:
                        self._handle(item)
                    except Exception:
                        log.exception("%s: handling a received message failed", self)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            error = exc
        except asyncio.CancelledError:
            pass
        finally:
            self._closing = True
            self._writer.close()
            for waiter in self._pong_waiters:
                if not waiter.done():
                    waiter.set_exception(TransportError(f"{self} closed", self.target))
            self._pong_waiters.clear()
            self._on_closed(self, error)

    def _handle(self, item: StreamItem) -> None:
        if isinstance(item, KeepAlive):
            if item.is_ping:
                # RFC 5626 4.4.1: a CRLFCRLF ping is answered with a CRLF pong.
                if not self.closed:
                    self._writer.write(PONG)
            else:
                for waiter in self._pong_waiters:
                    if not waiter.done():
                        waiter.set_result(None)
                self._pong_waiters.clear()
            return
        self._on_item(self, item)

    async def send(self, data: bytes) -> None:
        if self.closed:
            raise TransportError(f"{self} is closed", self.target)
        self.last_activity = self._clock()
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(f"sending over {self} failed: {exc}", self.target) from exc

    async def ping(self, timeout: float) -> None:
        """RFC 5626 4.4.1: send a CRLFCRLF ping and wait for the pong."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pong_waiters.append(waiter)
        await self.send(PING)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise TransportError(f"no keep-alive pong on {self} within {timeout:g} s", self.target) from None

    def close(self) -> None:
        self._closing = True
        self._writer.close()
        if not self.task.done():
            self.task.cancel()

    async def wait_closed(self) -> None:
        await asyncio.gather(self.task, return_exceptions=True)
        try:
            await self._writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass


async def open_connection(
    target: Target,
    context: ssl.SSLContext | None,
    timeout: float,
    probe_context: Callable[[], ssl.SSLContext] | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to a target; every failure becomes a TransportError saying what went wrong.

    A TLS failure is a :class:`TlsError`; when the certificate did not verify,
    ``probe_context`` (no verification) reads it again for its fingerprint.
    """
    server_hostname = None
    if context is not None:
        server_hostname = target.server_name or target.host
    try:
        return await asyncio.wait_for(
            asyncio.open_connection(
                target.host,
                target.port,
                ssl=context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout if context is not None else None,
            ),
            timeout,
        )
    except ssl.SSLCertVerificationError as exc:
        fingerprint = None
        if probe_context is not None:
            fingerprint = await _certificate_fingerprint(target, probe_context, server_hostname, timeout)
        reason, what = _verify_failure(exc)
        seen = f"; its SHA-256 fingerprint is {fingerprint}" if fingerprint else ""
        raise TlsError(
            f"TLS certificate of {target} did not verify for {server_hostname!r}: {what} ({exc.verify_message}){seen}",
            target,
            reason=reason,
            fingerprint=fingerprint,
            server_name=server_hostname,
        ) from exc
    except ssl.SSLError as exc:
        raise TlsError(
            f"TLS handshake with {target} failed: {exc.reason or exc}",
            target,
            reason=TlsReason.HANDSHAKE,
            server_name=server_hostname,
        ) from exc
    except ConnectionRefusedError as exc:
        raise TransportError(f"connection to {target} refused", target) from exc
    except ConnectionResetError as exc:
        raise TransportError(f"connection to {target} reset by the peer", target) from exc
    except TimeoutError as exc:
        raise TransportError(f"connecting to {target} timed out after {timeout:g} s", target) from exc
    except OSError as exc:
        raise TransportError(f"cannot connect to {target}: {os_error_text(exc)}", target) from exc


# OpenSSL X509_V_ERR_* codes (x509_vfy.h) and what they mean to a user.
_VERIFY_CODES: dict[int, tuple[TlsReason, str]] = {
    2: (TlsReason.UNTRUSTED, "it is not trusted: no authority we trust signed it"),
    9: (TlsReason.NOT_YET_VALID, "it is not valid yet"),
    10: (TlsReason.EXPIRED, "it has expired"),
    18: (TlsReason.UNTRUSTED, "it is self-signed and not trusted"),
    19: (TlsReason.UNTRUSTED, "it is not trusted: its chain ends in a certificate we don't trust"),
    20: (TlsReason.UNTRUSTED, "it is not trusted: no authority we trust signed it"),
    21: (TlsReason.UNTRUSTED, "it is not trusted: no authority we trust signed it"),
    62: (TlsReason.NAME_MISMATCH, "it names another host"),
    63: (TlsReason.NAME_MISMATCH, "it names another e-mail address"),
    64: (TlsReason.NAME_MISMATCH, "it names another IP address"),
}


def _verify_failure(exc: ssl.SSLCertVerificationError) -> tuple[TlsReason, str]:
    return _VERIFY_CODES.get(exc.verify_code, (TlsReason.INVALID, "it is not acceptable"))


async def _certificate_fingerprint(
    target: Target, probe_context: Callable[[], ssl.SSLContext], server_hostname: str | None, timeout: float
) -> str | None:
    """The fingerprint of the certificate a server presents, read over a second, unverified handshake."""
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(
                target.host,
                target.port,
                ssl=probe_context(),
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            ),
            timeout,
        )
    except (OSError, ssl.SSLError, TimeoutError, TransportError):
        return None
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        return certificate_fingerprint(der) if der else None
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), timeout)

"""TCP and TLS connections: framing with StreamParser, CRLF keep-alives (RFC 5626 4.4.1)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from softphone.sip.errors import SipParseError
from softphone.sip.parser import KeepAlive, StreamItem, StreamParser
from softphone.transport.base import Target, host_port, log, normalize_host
from softphone.transport.errors import TransportError

PING = b"\r\n\r\n"
PONG = b"\r\n"
_READ_SIZE = 65536

ItemHandler = Callable[["StreamConnection", StreamItem], None]
ClosedHandler = Callable[["StreamConnection", Exception | None], None]


class StreamConnection:
    """One TCP or TLS connection, opened by us (``outbound``) or by the peer."""

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
    ) -> None:
        self.id = connection_id
        self.transport = transport
        self.outbound = outbound
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        self.peer: tuple[str, int] = (normalize_host(peer[0]), peer[1])
        self.local: tuple[str, int] = (normalize_host(local[0]), local[1])
        self._reader = reader
        self._writer = writer
        self._parser = StreamParser()
        self._on_item = on_item
        self._on_closed = on_closed
        self._pong_waiters: list[asyncio.Future[None]] = []
        self._closing = False
        self.task = asyncio.get_running_loop().create_task(self._read_loop(), name=f"sip-{transport}-{self.id}")

    @property
    def key(self) -> tuple[str, str, int]:
        return self.transport, self.peer[0], self.peer[1]

    @property
    def target(self) -> Target:
        return Target(self.transport, self.peer[0], self.peer[1])

    @property
    def closed(self) -> bool:
        return self._closing or self._writer.is_closing()

    def __str__(self) -> str:
        return f"{self.transport} connection {self.id} with {host_port(*self.peer)}"

    async def _read_loop(self) -> None:
        error: Exception | None = None
        try:
            while True:
                data = await self._reader.read(_READ_SIZE)
                if not data:
                    break
                try:
                    items = self._parser.feed(data)
                except SipParseError as exc:
                    # RFC 3261 18.3: a stream that lost its framing can't be resynchronised.
                    log.info("%s: framing error, closing: %s", self, exc)
                    break
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
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to a target; every failure becomes a TransportError saying what went wrong."""
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
        raise TransportError(
            f"TLS certificate of {target} did not verify for {server_hostname!r}: {exc.verify_message}", target
        ) from exc
    except ssl.SSLError as exc:
        raise TransportError(f"TLS handshake with {target} failed: {exc.reason or exc}", target) from exc
    except ConnectionRefusedError as exc:
        raise TransportError(f"connection to {target} refused", target) from exc
    except ConnectionResetError as exc:
        raise TransportError(f"connection to {target} reset by the peer", target) from exc
    except TimeoutError as exc:
        raise TransportError(f"connecting to {target} timed out after {timeout:g} s", target) from exc
    except OSError as exc:
        raise TransportError(f"cannot connect to {target}: {exc.strerror or exc}", target) from exc

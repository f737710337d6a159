"""The TransportManager: every socket of one user agent, on one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.parser import StreamItem, parse_message
from softphone.transport.base import (
    RELIABLE,
    BadRequest,
    Message,
    Received,
    Source,
    Target,
    TransportEvent,
    TransportFailed,
    address_family,
    default_port,
    host_port,
    ip_address,
    log,
    normalize_host,
    normalize_transport,
    trace,
    trace_message,
)
from softphone.transport.errors import TlsError, TransportError, os_error_text
from softphone.transport.inbound import InboundStreams
from softphone.transport.limits import LimitLog, TransportLimits
from softphone.transport.stream import PING, StreamConnection, open_connection
from softphone.transport.tls import TlsSettings, certificate_fingerprint
from softphone.transport.udp import UdpEndpoint
from softphone.transport.via import (
    prepare_request,
    response_address,
    sent_by_key,
    set_top_via_text,
    stamp_received,
    top_via_text,
)

MessageHandler = Callable[[Message, Source], None]
BadRequestHandler = Callable[[SipParseError, Source], None]
ErrorHandler = Callable[[TransportError], None]
_A = TypeVar("_A")

# RFC 3261 18.1.1: requests within 200 bytes of a 1500-byte MTU go over a congestion-controlled transport.
UDP_SIZE_LIMIT = 1300
# How long an ICMP error stays pending for the next send to the same destination.
ICMP_ERROR_HOLD = 30.0
_WILDCARDS = frozenset({"0.0.0.0", "::"})


def _is_keepalive(data: bytes) -> bool:
    return not data.strip(b"\r\n")


class TransportManager(InboundStreams):
    """UDP, TCP and TLS listeners and connections of one user agent.

    ``listen`` lists ``(transport, ip, port)``; port 0 takes an ephemeral
    port. Incoming messages go to ``on_message(message, source)``, framed
    but invalid requests to ``on_bad_request(error, source)`` and failures
    outside :meth:`send` (ICMP errors, lost flows) to ``on_error(error)``;
    without a callback the same things are queued on :attr:`events` as
    :class:`Received`, :class:`BadRequest` and :class:`TransportFailed`.
    Callbacks run on the loop and must not block.

    ``limits`` bounds what peers may cost (connections, idle and slow
    connections, buffered bytes, header fields): see :class:`TransportLimits`.
    """

    def __init__(
        self,
        listen: Iterable[tuple[str, str, int]],
        *,
        on_message: MessageHandler | None = None,
        on_bad_request: BadRequestHandler | None = None,
        on_error: ErrorHandler | None = None,
        tls: TlsSettings | None = None,
        connect_timeout: float = 10.0,
        pong_timeout: float = 10.0,
        udp_size_limit: int | None = UDP_SIZE_LIMIT,
        limits: TransportLimits | None = None,
    ) -> None:
        self._listen = [(normalize_transport(t), normalize_host(h), p) for t, h, p in listen]
        for _, host, _ in self._listen:
            address_family(host)
        self.on_message = on_message
        self.on_bad_request = on_bad_request
        # Called with ("sent to" | "received from", peer, message bytes) for every SIP message (a SIP trace).
        self.trace_listeners: list[Callable[[str, str, bytes], None]] = []
        self.on_error = on_error
        self.events: asyncio.Queue[TransportEvent] = asyncio.Queue()
        self._tls = tls or TlsSettings()
        # One client context per certificate offered (the UA-wide one, or an account's for its server).
        self._client_contexts: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
        self._connect_timeout = connect_timeout
        self._pong_timeout = pong_timeout
        self._udp_size_limit = udp_size_limit
        self.limits = limits or TransportLimits()
        self._limit_log = LimitLog(self.limits.log_interval)
        self._ids = itertools.count(1)
        self._udp: dict[int, UdpEndpoint] = {}
        self._listeners: list[socket.socket] = []
        self._accepting: list[asyncio.Task[None]] = []
        self._bound: list[tuple[str, socket.AddressFamily, tuple[str, int]]] = []
        self._connections: dict[int, StreamConnection] = {}
        self._by_peer: dict[tuple[str, str, int], StreamConnection] = {}
        self._tls_endings: dict[tuple[str, str, int], str] = {}
        self._connecting: dict[tuple[str, str, int], asyncio.Task[StreamConnection]] = {}
        self._keepalives: dict[tuple[str, str, int], asyncio.Task[None]] = {}
        # Inbound connections being set up (TLS handshakes), with the address group of their peer.
        self._handshakes: dict[asyncio.Task[None], str] = {}
        self._sent_by: set[tuple[str, int]] = set()
        self._icmp_errors: dict[tuple[str, int], tuple[float, TransportError]] = {}
        self._started = False
        self._closed = False

    # --- life cycle ---------------------------------------------------------

    async def start(self) -> None:
        """Bind every listener; on failure nothing stays open and TransportError says which one failed."""
        if self._started:
            return
        self._started = True
        try:
            tls_listen = any(t == "TLS" for t, _, _ in self._listen)
            server_context = self._tls.server_context() if tls_listen else None
            for transport, host, port in self._listen:
                try:
                    if transport == "UDP":
                        await self._listen_udp(host, port)
                    else:
                        await self._listen_stream(transport, host, port, server_context if transport == "TLS" else None)
                except OSError as exc:
                    where = f"{transport} {host_port(host, port)}"
                    raise TransportError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
        except BaseException:
            await self.close()
            raise
        for transport, _, (host, port) in self._bound:
            log.info("listening on %s %s", transport, host_port(host, port))

    async def _listen_udp(self, host: str, port: int) -> None:
        endpoint = await UdpEndpoint.open(next(self._ids), host, port, self._datagram_received, self._udp_error)
        self._udp[endpoint.id] = endpoint
        self._bound.append(("UDP", endpoint.family, endpoint.local))

    async def close(self) -> None:
        """Close every socket, connection and task; the manager can't be used again."""
        if self._closed:
            return
        self._closed = True
        tasks: list[asyncio.Task[None]] = [*self._keepalives.values(), *self._handshakes, *self._accepting]
        self._keepalives.clear()
        for task in tasks:
            task.cancel()
        for connecting in self._connecting.values():
            connecting.cancel()
        for sock in self._listeners:
            sock.close()
        connections = list(self._connections.values())
        for connection in connections:
            connection.close()
        for endpoint in self._udp.values():
            endpoint.close()
        await asyncio.gather(*tasks, *self._connecting.values(), return_exceptions=True)
        await asyncio.gather(*(c.wait_closed() for c in connections), return_exceptions=True)
        self._connections.clear()
        self._by_peer.clear()
        self._connecting.clear()
        self._udp.clear()
        self._listeners.clear()
        self._accepting.clear()
        self._limit_log.close()
        await asyncio.sleep(0)  # let the transports' connection_lost callbacks run

    async def __aenter__(self) -> TransportManager:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- addresses ----------------------------------------------------------

    def local_address(self, transport: str, family: socket.AddressFamily = socket.AF_INET) -> tuple[str, int]:
        """The first bound (ip, port) of a transport and family, for Via and Contact."""
        transport = normalize_transport(transport)
        for bound_transport, bound_family, address in self._bound:
            if bound_transport == transport and bound_family == family:
                return address
        raise TransportError(f"not listening on {transport} over {family.name}")

    def local_address_for(self, target: Target) -> tuple[str, int]:
        """The listening (ip, port) a request to ``target`` leaves from; a wildcard becomes the routed source IP."""
        host, port = self.local_address(target.transport, address_family(target.host))
        if host in _WILDCARDS:
            host = _route_source(target)
        return host, port

    @property
    def connections(self) -> list[tuple[int, str, tuple[str, int], bool]]:
        """Open TCP/TLS connections as (connection id, transport, peer address, outbound)."""
        return [(c.id, c.transport, c.peer, c.outbound) for c in self._connections.values() if not c.closed]

    def close_connection(self, connection_id: int) -> None:
        """Close a TCP/TLS connection (e.g. a flow the UA gives up); unknown ids are ignored."""
        connection = self._connections.get(connection_id)
        if connection is not None:
            connection.close()

    # --- sending ------------------------------------------------------------

    async def send(self, message: Message, destination: Target | Source | None = None) -> Target:
        """Send a request or a response; return where it went.

        A request goes to ``destination`` (a :class:`Target`, or a
        :class:`Source` to reuse the connection a peer opened). A top Via
        whose host is :data:`VIA_PLACEHOLDER` gets the sent-by of the
        socket used (and ``;rport`` on UDP); the message is changed in place
        so retransmissions and a CANCEL built from it carry the same Via.

        A response goes by RFC 3261 18.2.2 / RFC 3581: pass the request's
        :class:`Source` so that it leaves over the same connection (TCP/TLS)
        or from the same socket (UDP); without one it goes by the Via alone.
        A :class:`Target` sends it there regardless of the Via.

        Raises :class:`TransportError` when it can't be sent.
        """
        if self._closed or not self._started:
            raise TransportError("the transport manager is not running")
        if isinstance(message, Request):
            if destination is None:
                raise TransportError(f"no destination for {message.method} request")
            return await self._send_request(message, destination)
        return await self._send_response(message, destination)

    async def _send_request(self, request: Request, destination: Target | Source) -> Target:
        try:
            original_via = top_via_text(request)
        except SipParseError as exc:
            raise TransportError(f"{request.method} request without a usable Via: {exc}") from exc
        connection = None
        if isinstance(destination, Source):
            target = destination.target
            connection = self._connections.get(destination.connection_id)
        else:
            target = destination
        if (
            target.transport == "UDP"
            and self._udp_size_limit is not None
            and len(bytes(request)) > self._udp_size_limit
            and self._listens("TCP", address_family(target.host))
        ):
            try:
                return await self._send_request_stream(request, Target("TCP", target.host, target.port), None)
            except TransportError as exc:
                # RFC 3261 18.1.1: when the TCP attempt fails, the request goes over UDP after all.
                log.info("large request to %s: TCP failed (%s), using UDP", target, exc)
                set_top_via_text(request, original_via)
        if target.transport == "UDP":
            endpoint = self._udp_endpoint(target, destination)
            local = endpoint.local
            if local[0] in _WILDCARDS:
                local = (_route_source(target), local[1])
            self._sent_by.add(prepare_request(request, "UDP", *local))
            self._send_datagram(endpoint, bytes(request), target)
            return target
        return await self._send_request_stream(request, target, connection)

    async def _send_request_stream(
        self, request: Request, target: Target, connection: StreamConnection | None
    ) -> Target:
        if connection is None or connection.closed:
            connection = await self._connection_to(target)
        family = address_family(connection.local[0])
        # RFC 3261 18.1.1: sent-by names where the server can open a connection back, our listener.
        local = connection.local
        if self._listens(connection.transport, family):
            host, port = self.local_address(connection.transport, family)
            local = (connection.local[0] if host in _WILDCARDS else host, port)
        self._sent_by.add(prepare_request(request, connection.transport, *local))
        data = bytes(request)
        await connection.send(data)
        self._trace("sent to", str(connection.target), data)
        return connection.target

    async def _send_response(self, response: Response, destination: Target | Source | None) -> Target:
        if isinstance(destination, Target):
            if destination.transport == "UDP":
                self._send_datagram(self._udp_endpoint(destination, None), bytes(response), destination)
                return destination
            return await self._send_stream(await self._connection_to(destination), bytes(response))
        source = destination
        if source is not None and source.transport == "UDP":
            # Over UDP, back to the datagram's source: a Via naming TCP must not make us open connections.
            target = _udp_response_target(response, source)
            self._send_datagram(self._udp_endpoint(target, source), bytes(response), target)
            return target
        if source is not None:
            connection = self._connections.get(source.connection_id)
            # RFC 3261 18.2.2: over the connection the request arrived on, whatever transport its Via names.
            if connection is not None and not connection.closed:
                return await self._send_stream(connection, bytes(response))
        try:
            via = response.via
            transport = normalize_transport(via.transport) if source is None else source.transport
            host, port = (via.host, 0) if transport in RELIABLE else response_address(via)
        except (SipParseError, TransportError) as exc:
            raise TransportError(f"cannot route {response.status_code} response: {exc}") from exc
        if transport in RELIABLE:
            # RFC 3261 18.2.2: the connection is gone, open one to received (or sent-by) at the sent-by port.
            host = via.received or via.host
            target = self._response_target(transport, host, via.port or default_port(transport), source, response)
            return await self._send_stream(await self._connection_to(target), bytes(response))
        target = self._response_target("UDP", host, port, source, response)
        self._send_datagram(self._udp_endpoint(target, source), bytes(response), target)
        return target

    def _response_target(
        self, transport: str, host: str, port: int, source: Source | None, response: Response
    ) -> Target:
        if ip_address(host) is not None:
            return Target(transport, host, port)
        if source is not None:
            # The Via names a host without received (the request didn't pass our receive path): use its origin.
            return Target(transport, source.remote_host, source.remote_port)
        raise TransportError(
            f"cannot route {response.status_code} response: Via host {host!r} is not an IP address "
            "and there is no received parameter nor Source"
        )

    async def _send_stream(self, connection: StreamConnection, data: bytes) -> Target:
        await connection.send(data)
        self._trace("sent to", str(connection.target), data)
        return connection.target

    def _send_datagram(self, endpoint: UdpEndpoint, data: bytes, target: Target, *, traced: bool = True) -> None:
        key = (target.host, target.port)
        pending = self._icmp_errors.pop(key, None)
        if pending is not None and time.monotonic() - pending[0] < ICMP_ERROR_HOLD:
            raise pending[1]
        endpoint.send(data, key)
        if traced:
            self._trace("sent to", str(target), data)

    def _listens(self, transport: str, family: socket.AddressFamily) -> bool:
        return any(t == transport and f == family for t, f, _ in self._bound)

    def _udp_endpoint(self, target: Target, origin: Target | Source | None) -> UdpEndpoint:
        family = address_family(target.host)
        if isinstance(origin, Source) and origin.transport == "UDP":
            endpoint = self._udp.get(origin.connection_id)
            # RFC 3581 4: the response leaves from the socket the request arrived on.
            if endpoint is not None and endpoint.family == family and not endpoint.closed:
                return endpoint
        for endpoint in self._udp.values():
            if endpoint.family == family and not endpoint.closed:
                return endpoint
        raise TransportError(f"no UDP socket for {family.name} to send to {target}", target)

    def tls_ending(self, target: Target) -> str | None:
        """Why the server last ended a TLS connection to ``target`` with an alert, in words (None: it did not)."""
        return self._tls_endings.get(target.key)

    async def connect(self, target: Target) -> None:
        """Open a connection to a TCP/TLS target now (or find the open one); nothing for UDP.

        Raises :class:`TransportError`, a :class:`TlsError` when the server's
        certificate did not verify: a caller that wants to tell the user why
        TLS failed connects first (a request's transaction only sees a 503).
        """
        if self._closed or not self._started:
            raise TransportError("the transport manager is not running", target)
        if target.transport in RELIABLE:
            await self._connection_to(target)

    @property
    def buffered_bytes(self) -> int:
        """Bytes of incomplete messages held for all TCP/TLS connections."""
        return sum(c.buffered for c in self._connections.values())

    async def _connection_to(self, target: Target) -> StreamConnection:
        """An open connection to the target: reused by remote address (RFC 3261 18.3), else opened."""
        connection = self._by_peer.get(target.key)
        if connection is not None and not connection.closed:
            return connection
        task = self._connecting.get(target.key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._open(target))
            self._connecting[target.key] = task
            task.add_done_callback(lambda _: self._connecting.pop(target.key, None))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if self._closed:
                raise TransportError(f"the transport manager closed while connecting to {target}", target) from None
            raise

    async def _open(self, target: Target) -> StreamConnection:
        # This task is one of self._connecting already.
        if self._open_count() > self.limits.max_connections:
            self._limit_log.note(f"refused to connect: {self.limits.max_connections} connections open in all")
            raise TransportError(
                f"cannot connect to {target}: {self.limits.max_connections} connections are open, the limit", target
            )
        context = None
        name = target.server_name or target.host
        if target.transport == "TLS":
            identity = self._tls.identity_for(name)
            context = self._client_contexts.get(identity)
            if context is None:
                context = self._client_contexts[identity] = self._tls.client_context(name)
        try:
            reader, writer = await open_connection(
                target, context, self._connect_timeout, lambda: self._tls.unverified_context(name)
            )
        except TlsError as exc:
            if exc.fingerprint is None or exc.fingerprint not in self._tls.pinned:
                raise
            reader, writer = await self._open_pinned(target, exc)
        if self._closed:
            writer.close()
            raise TransportError("the transport manager is closed", target)
        self._tls_endings.pop(target.key, None)
        connection = self._add_connection(target.transport, reader, writer, outbound=True)
        log.debug("opened %s", connection)
        return connection

    async def _open_pinned(
        self, target: Target, failure: TlsError
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A server whose certificate the user trusts by its fingerprint: the connection is taken only when
        the certificate it presents on this very connection is that one."""
        name = target.server_name or target.host
        reader, writer = await open_connection(target, self._tls.unverified_context(name), self._connect_timeout)
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der or certificate_fingerprint(der) not in self._tls.pinned:
            writer.close()
            raise failure
        log.info("%s: certificate trusted by its fingerprint (%s)", target, failure.reason)
        return reader, writer

    def _add_connection(
        self, transport: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, outbound: bool
    ) -> StreamConnection:
        connection = StreamConnection(
            next(self._ids),
            transport,
            reader,
            writer,
            outbound=outbound,
            on_item=self._stream_item,
            on_closed=self._connection_closed,
            limits=self.limits,
            idle_exempt=lambda c: c.key in self._keepalives,
        )
        self._connections[connection.id] = connection
        self._by_peer[connection.key] = connection
        if not outbound:
            log.debug("accepted %s", connection)
        return connection

    def _connection_closed(self, connection: StreamConnection, error: Exception | None) -> None:
        self._connections.pop(connection.id, None)
        if self._by_peer.get(connection.key) is connection:
            del self._by_peer[connection.key]
        if self._closed:
            return
        closed_by = connection.closed_by
        if closed_by is not None:
            peer = host_port(*connection.peer)
            if closed_by.startswith("framing error: "):
                self._limit_log.note(
                    f"closed {connection.transport} connections on a framing error", f"{peer}: {closed_by[15:]:.200}"
                )
            else:
                self._limit_log.note(f"closed {connection.transport} connections: {closed_by}", peer)
        elif error is not None:
            log.info("%s lost: %s", connection, error)
            if isinstance(error, ssl.SSLError):
                self._tls_endings[connection.key] = tls_ending(error)
        else:
            log.debug("%s closed", connection)
            if connection.transport == "TLS" and connection.outbound and connection.received == 0:
                # A server that demands a client certificate (or refuses ours) ends TLS 1.3 right after the
                # handshake; asyncio passes its alert on as a plain end of stream.
                self._tls_endings[connection.key] = _CLOSED_AT_ONCE
        if connection.key in self._keepalives:
            # RFC 5626 4.4.1: the flow is gone; the UA registers again.
            reason = f": {error}" if error is not None else ""
            self._report(TransportError(f"flow {connection} closed{reason}", connection.target))
        elif error is not None:
            self._report(TransportError(f"{connection} lost: {error}", connection.target))

    # --- keep-alive (RFC 5626 4.4.1, 3.5.1) --------------------------------

    def start_keepalive(self, target: Target, interval: float) -> None:
        """Ping ``target`` every ``interval`` seconds: CRLFCRLF over UDP, or over the TCP/TLS connection to it
        waiting for the CRLF pong. A failure is reported to ``on_error``; on a stream it ends the keep-alive
        (the flow has failed, RFC 5626 4.4.1)."""
        if interval <= 0:
            raise ValueError(f"keep-alive interval must be positive, not {interval}")
        if self._closed:
            raise TransportError("the transport manager is closed", target)
        self.stop_keepalive(target)
        task = asyncio.get_running_loop().create_task(self._keepalive(target, interval), name=f"keepalive {target}")
        self._keepalives[target.key] = task
        task.add_done_callback(lambda t: self._keepalive_done(target.key, t))

    def stop_keepalive(self, target: Target) -> None:
        task = self._keepalives.pop(target.key, None)
        if task is not None:
            task.cancel()

    def _keepalive_done(self, key: tuple[str, str, int], task: asyncio.Task[None]) -> None:
        if self._keepalives.get(key) is task:
            del self._keepalives[key]

    async def _keepalive(self, target: Target, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if target.transport == "UDP":
                try:
                    self._send_datagram(self._udp_endpoint(target, None), PING, target, traced=False)
                except TransportError as exc:
                    self._report(exc)
                continue
            connection = self._by_peer.get(target.key)
            try:
                if connection is None or connection.closed:
                    raise TransportError(f"keep-alive: no connection to {target}", target)
                await connection.ping(min(self._pong_timeout, interval))
            except TransportError as exc:
                self._keepalives.pop(target.key, None)
                self._report(exc)
                if connection is not None:
                    connection.close()
                return

    def _trace(self, direction: str, peer: str, data: bytes) -> None:
        trace_message(direction, peer, data)
        for listener in self.trace_listeners:
            try:
                listener(direction, peer, data)
            except Exception:
                log.exception("SIP trace listener failed")

    # --- receiving ----------------------------------------------------------

    def _datagram_received(self, endpoint: UdpEndpoint, data: bytes, address: tuple[str, int]) -> None:
        source = Source("UDP", address[0], address[1], endpoint.id)
        if _is_keepalive(data):
            log.debug("keep-alive from %s", source)
            return
        self._trace("received from", str(source), data)
        try:
            message = parse_message(data, self.limits.max_header_fields)
        except SipParseError as exc:
            self._bad_message(exc, source)
            return
        try:
            self._deliver(message, source)
        except Exception:
            log.exception("handling a datagram from %s failed", source)

    def _stream_item(self, connection: StreamConnection, item: StreamItem) -> None:
        source = Source(connection.transport, connection.peer[0], connection.peer[1], connection.id)
        if isinstance(item, SipParseError):
            self._bad_message(item, source)
            return
        assert isinstance(item, (Request, Response))
        if self.trace_listeners or trace.isEnabledFor(logging.DEBUG):
            self._trace("received from", str(source), bytes(item))
        self._deliver(item, source)

    def _bad_message(self, error: SipParseError, source: Source) -> None:
        partial = error.partial
        if isinstance(partial, Request):
            with contextlib.suppress(SipParseError):
                stamp_received(partial, source.remote_host, source.remote_port)
            log.info("bad %.40s request from %s: %.300s", partial.method, source, error)
            if self.on_bad_request is not None:
                self._call(self.on_bad_request, error, source)
            else:
                self.events.put_nowait(BadRequest(error, source))
        else:
            log.info("dropped unparseable message from %s: %.300s", source, error)

    def _deliver(self, message: Message, source: Source) -> None:
        if isinstance(message, Request):
            stamp_received(message, source.remote_host, source.remote_port)
        else:
            sent_by = sent_by_key(message.via)
            # RFC 3261 18.1.2: a response whose top Via isn't ours is discarded.
            if sent_by not in self._sent_by and not self._is_local(sent_by):
                log.info(
                    "dropped %d response from %s: Via sent-by %s is not ours",
                    message.status_code,
                    source,
                    host_port(*sent_by),
                )
                return
        if self.on_message is not None:
            self._call(self.on_message, message, source)
        else:
            self.events.put_nowait(Received(message, source))

    def _is_local(self, sent_by: tuple[str, int]) -> bool:
        return any(address == sent_by for _, _, address in self._bound)

    def _call(self, handler: Callable[[_A, Source], None], argument: _A, source: Source) -> None:
        try:
            handler(argument, source)
        except Exception:
            log.exception("message handler failed on a message from %s", source)

    # --- errors -------------------------------------------------------------

    def _udp_error(self, endpoint: UdpEndpoint, error: OSError, address: tuple[str, int] | None) -> None:
        target = None
        if address is not None:
            target = Target("UDP", address[0], address[1])
            where = f" to {target}"
        else:
            where = f" on UDP {host_port(*endpoint.local)} (destination unknown)"
        exc = TransportError(f"ICMP error{where}: {error.strerror or error}", target)
        if address is not None:
            if len(self._icmp_errors) >= 256:
                self._icmp_errors.pop(next(iter(self._icmp_errors)))
            self._icmp_errors[address] = (time.monotonic(), exc)
        log.info("%s", exc)
        self._report(exc)

    def _report(self, error: TransportError) -> None:
        if self.on_error is not None:
            try:
                self.on_error(error)
            except Exception:
                log.exception("transport error handler failed")
        else:
            self.events.put_nowait(TransportFailed(error))


def _udp_response_target(response: Response, source: Source) -> Target:
    """Where a response to a request that came over UDP goes: its source IP (RFC 3261 18.2.2, RFC 3581 4).

    The port is rport (the source port, stamped on arrival) or else the sent-by
    port; a Via naming another transport, or none we can read, gets the source
    port. maddr is not followed: it would send our answers to a third party.
    """
    try:
        via = response.via
        rport = via.rport if via.transport.upper() == "UDP" else None
    except SipParseError:
        return Target("UDP", source.remote_host, source.remote_port)
    if via.transport.upper() != "UDP":
        port = source.remote_port
    elif isinstance(rport, int) and not isinstance(rport, bool):
        port = rport
    else:
        port = via.port or default_port("UDP")
    return Target("UDP", source.remote_host, port)


def _route_source(target: Target) -> str:
    """The local IP the OS routes to ``target`` from (a UDP connect sends nothing)."""
    try:
        probe = socket.socket(address_family(target.host), socket.SOCK_DGRAM)
    except OSError as exc:
        raise TransportError(f"cannot open a socket to route to {target}: {os_error_text(exc)}", target) from exc
    with probe:
        try:
            probe.connect((target.host, target.port))
        except OSError as exc:
            raise TransportError(f"no route to {target}: {exc.strerror or exc}", target) from exc
        return normalize_host(probe.getsockname()[0])


_CLOSED_AT_ONCE = (
    "the server closed the TLS connection before it answered anything: it may require a client certificate "
    "(or not accept the one set for this account)"
)

# TLS alerts a server ends a connection with, for the words the user reads (RFC 8446 6.2).
_TLS_ALERTS = (
    ("CERTIFICATE_REQUIRED", "the server requires a client certificate, and none was set for this account"),
    ("UNKNOWN_CA", "the server does not trust the client certificate's issuer"),
    ("BAD_CERTIFICATE", "the server refused the client certificate"),
    ("CERTIFICATE_UNKNOWN", "the server refused the client certificate"),
    ("CERTIFICATE_EXPIRED", "the server refused the client certificate: it has expired"),
    ("ACCESS_DENIED", "the server refused the client certificate (access denied)"),
)


def tls_ending(error: ssl.SSLError) -> str:
    """A TLS alert from the server as a sentence for the user."""
    text = f"{error.reason or ''} {error}".upper()
    for alert, words in _TLS_ALERTS:
        if alert in text:
            return words
    return f"the server ended the TLS connection ({error.reason or error})"

"""The TCP or TLS connection to a TURN server (RFC 8656 3.1): opened with asyncio, then used from the media thread.

:func:`open_stream` connects (and, for TLS, shakes hands, verifying the
server's certificate as SIP over TLS does: :class:`~softphone.transport.tls.TlsSettings`)
within a bound, and :func:`allocate_stream` runs a
:class:`~softphone.stun.turn.TurnClient`'s allocation over it. The
connection is a plain non-blocking socket; TLS runs through an
:class:`ssl.SSLObject` on memory buffers, so the same :class:`TurnStream`
serves asyncio during the allocation and the media thread's ``select``
afterwards, and no decrypted bytes hide in an SSL socket's buffer where
``select`` cannot see them. :meth:`TurnStream.receive` reads what the
socket holds without blocking and gives whole frames
(:class:`~softphone.stun.stream.FrameReader`); :meth:`TurnStream.send`
queues a frame and writes what the socket takes. A peer that stops reading
costs at most :data:`MAX_BACKLOG` bytes: frames beyond it are dropped whole
(media can lose a packet; a stream cannot lose half a frame).

Errors are :class:`~softphone.stun.turn.TurnError` in words that name the
server: it cannot be reached, its certificate does not verify, it closed
the connection, it sent what is not STUN or ChannelData.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time

from softphone.stun.message import Address
from softphone.stun.stream import FrameReader, StreamFramingError
from softphone.stun.transaction import Send
from softphone.stun.turn import Allocated, Failed, TurnClient, TurnError

__all__ = ["CONNECT_TIMEOUT", "MAX_BACKLOG", "TurnStream", "allocate_stream", "open_stream"]

log = logging.getLogger("softphone.transport.turn")

# A bound on connecting and the TLS handshake, the same as an allocation's wait over UDP.
CONNECT_TIMEOUT = 3.5
# Bytes queued for a server that does not read: about a second of Opus or G.711 media with headers.
MAX_BACKLOG = 65536
_READ_SIZE = 16384
# How long closing waits for the server to read our last frames and close its side (one round trip, normally).
CLOSE_LINGER = 0.5


class TurnStream:
    """One connection to a TURN server; ``label`` names it in errors (``TURN server 203.0.113.3:5349 over TLS``)."""

    def __init__(self, sock: socket.socket, label: str, tls: ssl.SSLObject | None = None) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.label = label
        self.dropped = 0
        self.closed: TurnError | None = None
        self._tls = tls
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._reader = FrameReader()
        self._backlog = bytearray()

    @property
    def tls(self) -> bool:
        return self._tls is not None

    def start_tls(self, context: ssl.SSLContext, server_name: str) -> ssl.SSLObject:
        """The client side of TLS over this connection, on memory buffers; the caller runs the handshake."""
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_name)
        return self._tls

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    # --- sending ----------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Queue ``frame`` and write what the socket takes now; dropped whole when the backlog is full."""
        if self.closed is not None:
            return
        if len(self._backlog) + len(frame) > MAX_BACKLOG:
            self.dropped += 1
            return
        if self._tls is None:
            self._backlog += frame
        else:
            try:
                self._tls.write(frame)
            except ssl.SSLError as exc:
                self._broken(TurnError(f"{self.label}: TLS failed ({exc.reason or exc})"))
                return
            self._backlog += self._outgoing.read()
        self.flush()

    def flush(self) -> None:
        """Write as much of the backlog as the socket takes without blocking."""
        while self._backlog and self.closed is None:
            try:
                sent = self.sock.send(self._backlog)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._broken(TurnError(f"{self.label}: the connection failed ({exc.strerror or exc})"))
                return
            del self._backlog[:sent]

    async def drain(self) -> None:
        """Write the whole backlog (asyncio, during the allocation)."""
        data, self._backlog = bytes(self._backlog), bytearray()
        if data:
            try:
                await asyncio.get_running_loop().sock_sendall(self.sock, data)
            except OSError as exc:
                raise self._broken(TurnError(f"{self.label}: the connection failed ({exc.strerror or exc})")) from exc

    # --- receiving --------------------------------------------------------------------------

    def receive(self) -> list[bytes] | None:
        """The whole frames that one read without blocking completes; None when there was nothing to read.
        Raises :class:`TurnError` once the connection is closed or broken (after the frames before that)."""
        if self.closed is not None:
            raise self.closed
        try:
            data = self.sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            raise self._broken(TurnError(f"{self.label}: the connection failed ({exc.strerror or exc})")) from exc
        return self.take(data)

    def take(self, data: bytes) -> list[bytes]:
        """Frames out of ``data`` as read from the socket (``b""``: the server closed the connection)."""
        if not data:
            self._broken(TurnError(f"{self.label} closed the connection"))
            return []
        plain = data
        if self._tls is not None:
            self._incoming.write(data)
            plain = self._decrypt()
        try:
            return self._reader.feed(plain) if plain else []
        except StreamFramingError as exc:
            self._broken(TurnError(f"{self.label} sent what is not STUN or ChannelData ({exc})"))
            return []

    def _decrypt(self) -> bytes:
        assert self._tls is not None
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self._tls.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self._broken(TurnError(f"{self.label} closed the connection"))
                break
            except ssl.SSLError as exc:
                self._broken(TurnError(f"{self.label}: TLS failed ({exc.reason or exc})"))
                break
            if not chunk:
                break
            chunks.append(chunk)
        self._backlog += self._outgoing.read()  # TLS 1.3 may answer (key update)
        return b"".join(chunks)

    async def frames_before(self, deadline: float) -> list[bytes] | None:
        """Frames that arrive before ``deadline`` (loop time): None at the deadline; raises :class:`TurnError`."""
        loop = asyncio.get_running_loop()
        while True:
            if self.closed is not None:
                raise self.closed
            try:
                data = await asyncio.wait_for(loop.sock_recv(self.sock, _READ_SIZE), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return None
            except OSError as exc:
                raise self._broken(TurnError(f"{self.label}: the connection failed ({exc.strerror or exc})")) from exc
            frames = self.take(data)
            if frames:
                return frames

    def _broken(self, error: TurnError) -> TurnError:
        if self.closed is None:
            self.closed = error
            self._backlog.clear()
        return error

    def close(self, linger: float = CLOSE_LINGER) -> None:
        """Send what is queued (with TLS's close_notify) and our FIN, then read until the server closes too, for
        at most ``linger`` s: closing with its data unread would reset the connection, and a reset can discard
        our last request (the Refresh that deletes the allocation) before the server reads it."""
        if self.closed is None:
            if self._tls is not None:
                try:
                    self._tls.unwrap()
                except ssl.SSLError:
                    pass  # SSLWantReadError: the server's close_notify is read below, not waited for here
                self._backlog += self._outgoing.read()
            deadline = time.monotonic() + linger
            try:
                self.sock.settimeout(linger)
                self.sock.sendall(self._backlog)
                self.sock.shutdown(socket.SHUT_WR)
                while (left := deadline - time.monotonic()) > 0:
                    self.sock.settimeout(left)
                    if not self.sock.recv(_READ_SIZE):
                        break
            except OSError:
                pass  # a timeout or a connection already gone: close all the same
            self._backlog.clear()
            self.closed = TurnError(f"{self.label}: the connection is closed")
        self.sock.close()


async def open_stream(
    server: Address,
    label: str,
    context: ssl.SSLContext | None = None,
    server_name: str | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> TurnStream:
    """A connection to ``server``, with TLS when ``context`` is given (the certificate checked for
    ``server_name``); :class:`TurnError` when it cannot be had within ``timeout``."""
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        return await asyncio.wait_for(_connect(sock, server, label, context, server_name), timeout)
    except TimeoutError as exc:
        sock.close()
        step = "the TLS handshake" if context is not None else "the connection"
        raise TurnError(f"{label}: {step} did not complete within {timeout:.1f} s") from exc
    except BaseException:
        sock.close()
        raise


async def _connect(
    sock: socket.socket, server: Address, label: str, context: ssl.SSLContext | None, server_name: str | None
) -> TurnStream:
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_connect(sock, server)
    except OSError as exc:
        raise TurnError(f"cannot connect to {label}: {exc.strerror or exc}") from exc
    stream = TurnStream(sock, label)
    if context is None:
        return stream
    tls = stream.start_tls(context, server_name or server[0])
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLCertVerificationError as exc:
            raise TurnError(
                f"the TLS certificate of {label} does not verify ({exc.verify_message}); "
                "give the account the CA file that signed it"
            ) from exc
        except ssl.SSLError as exc:
            raise TurnError(f"{label}: the TLS handshake failed ({exc.reason or exc})") from exc
        stream._backlog += stream._outgoing.read()
        await stream.drain()
        try:
            data = await loop.sock_recv(sock, _READ_SIZE)
        except OSError as exc:
            raise TurnError(f"{label}: the connection failed during the TLS handshake ({exc.strerror})") from exc
        if not data:
            raise TurnError(f"{label} closed the connection during the TLS handshake")
        stream._incoming.write(data)
    stream._backlog += stream._outgoing.read()
    await stream.drain()
    return stream


async def allocate_stream(stream: TurnStream, client: TurnClient) -> Allocated:
    """Run ``client``'s allocation over ``stream`` (``client.stream`` must be set); :class:`TurnError` if not."""
    if not client.stream:
        raise ValueError("the TurnClient must be made with stream=True for a TCP or TLS connection")
    loop = asyncio.get_running_loop()
    effects = client.start(loop.time())
    while True:
        for effect in effects:
            if isinstance(effect, Send):
                stream.send(effect.data)
                await stream.drain()
            elif isinstance(effect, Allocated):
                return effect
            elif isinstance(effect, Failed) and effect.fatal:
                raise effect.error
        deadline = client.next_deadline
        if deadline is None:
            raise TurnError(f"{client.server}: the allocation stopped without an answer")
        frames = await stream.frames_before(deadline)
        effects = []
        for frame in frames or ():
            effects += client.receive(frame, loop.time())
        effects += client.on_timer(loop.time())

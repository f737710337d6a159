"""TURN over a media socket: allocate a relay with asyncio, then relay through it from any thread.

:func:`allocate` drives a :class:`~softphone.stun.turn.TurnClient` from the
call's own media socket until the relay is ours (or a :class:`TurnError` says
why not, within two :data:`~softphone.stun.turn.SETUP` schedules: 3.5 s).
:class:`RelayedSocket` then takes that socket over: to whoever uses it — the
media session's thread — it is a UDP socket whose ``sendto`` goes out
through the relay and whose ``recvfrom`` gives what peers sent through it,
unwrapped, with the peer's address. Datagrams from anywhere but the TURN
server are dropped: with a relay, media arrives only by the relay, where the
server lets in only peers we have given a permission (RFC 8656 9). With
``direct`` (ICE, where a call may use the relay or not) datagrams from
elsewhere are passed on too, ``last_relayed`` says which way the last one
came, and :meth:`RelayedSocket.send_direct` sends around the relay. Sending
to a peer asks for its permission first; the allocation, permissions and
channels are refreshed as ``sendto`` and ``recvfrom`` are called (every
20 ms in a call), and :meth:`RelayedSocket.close` deletes the allocation.

Over TCP or TLS (``stream``, a :class:`~softphone.transport.turn_stream.TurnStream`
that :func:`~softphone.transport.turn_stream.allocate_stream` allocated on)
everything to and from the TURN server goes over that connection instead of
the UDP socket, which stays for ICE's direct checks and media. The media
thread's ``select`` must then watch the connection too:
:meth:`RelayedSocket.watched` names the sockets besides this one, and when
one is readable a ``recvfrom`` on this socket reads it (the media engine's
hook). A connection the server closes ends the relay with one warning.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from softphone.stun.message import Address
from softphone.stun.transaction import Send
from softphone.stun.turn import Allocated, Effect, Failed, Received, TurnClient, TurnError
from softphone.transport.stun import datagram_before
from softphone.transport.turn_stream import TurnStream

__all__ = ["RelayedSocket", "TurnError", "allocate"]

log = logging.getLogger("softphone.transport.turn")

_MAX_DATAGRAM = 2048
_DRAIN_LIMIT = 64


async def allocate(sock: socket.socket, server: Address, client: TurnClient) -> Allocated:
    """Run ``client``'s allocation from ``sock`` to ``server``; answers only from ``server`` count."""
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    effects = client.start(loop.time())
    while True:
        for effect in effects:
            if isinstance(effect, Send):
                try:
                    await loop.sock_sendto(sock, effect.data, server)
                except OSError as exc:
                    log.debug("TURN request to %s:%d not sent: %s", *server, exc)
            elif isinstance(effect, Allocated):
                return effect
            elif isinstance(effect, Failed) and effect.fatal:
                raise effect.error
        deadline = client.next_deadline
        if deadline is None:
            raise TurnError(f"{client.server}: the allocation stopped without an answer")
        received = await datagram_before(sock, deadline)
        if received is None:
            effects = client.on_timer(loop.time())
            continue
        data, addr = received
        effects = client.receive(data, loop.time()) if addr == server else []
        effects += client.on_timer(loop.time())


class RelayedSocket(socket.socket):
    """A UDP socket whose traffic goes through a TURN allocation; see the module documentation."""

    def __init__(
        self,
        sock: socket.socket,
        server: Address,
        client: TurnClient,
        clock: Callable[[], float] = time.monotonic,
        *,
        direct: bool = False,
        stream: TurnStream | None = None,
    ) -> None:
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.direct = direct
        self.last_relayed = False
        self.setblocking(False)
        self.server = server
        self.client = client
        self.dropped = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._inbox: list[tuple[bytes, Address]] = []
        self._asked: set[Address] = set()
        self._stream = stream
        # A new allocation asked for by reallocate(): its relayed and mapped addresses, once the server answers.
        self._allocating: concurrent.futures.Future[tuple[Address, Address | None]] | None = None

    def watched(self) -> tuple[socket.socket, ...]:
        """Sockets to ``select`` on besides this one: a readable one means ``recvfrom`` has work (TCP/TLS)."""
        stream = self._stream
        return (stream.sock,) if stream is not None and stream.closed is None else ()

    @property
    def transport(self) -> str:
        """How the TURN server is reached: ``udp``, ``tcp`` or ``tls``."""
        if self._stream is None:
            return "udp"
        return "tls" if self._stream.tls else "tcp"

    @property
    def relayed(self) -> Address | None:
        return self.client.relayed

    def reallocate(self) -> concurrent.futures.Future[tuple[Address, Address | None]]:
        """A new allocation for this socket, whose address moved: the old one belongs to the old 5-tuple (RFC
        8656 2.2) and cannot be refreshed from here. Driven like the rest by whoever reads the socket (the media
        thread); the future gets the new relayed and mapped addresses, or a :class:`TurnError`."""
        future: concurrent.futures.Future[tuple[Address, Address | None]] = concurrent.futures.Future()
        if self._stream is not None:
            future.set_exception(TurnError(f"{self.client.server}: a relay over TCP/TLS is not moved yet"))
            return future
        with self._lock:
            old = self.client
            self.client = TurnClient(old.username, old.password, server=old.server, lifetime=old.lifetime)
            self._asked.clear()
            if self._allocating is not None and not self._allocating.done():
                self._allocating.set_exception(TurnError(f"{old.server}: a newer allocation was asked for"))
            self._allocating = future
            self._apply(self.client.start(self._clock()))
        return future

    def _apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self._to_server(effect.data)
            elif isinstance(effect, Received):
                self._inbox.append((effect.data, effect.peer))
            elif isinstance(effect, Allocated):
                self._settle((effect.relayed, effect.mapped))
            elif isinstance(effect, Failed):
                log.warning("%s", effect.error)
                if effect.fatal:
                    self._settle(effect.error)

    def _settle(self, outcome: tuple[Address, Address | None] | TurnError) -> None:
        """The answer to :meth:`reallocate`'s request, if one waits."""
        future, self._allocating = self._allocating, None
        if future is None or future.done():
            return
        if isinstance(outcome, TurnError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def _to_server(self, data: bytes) -> None:
        if self._stream is not None:
            self._stream.send(data)
            return
        try:
            super().sendto(data, self.server)
        except OSError as exc:
            log.debug("to TURN server %s:%d: %s", *self.server, exc)

    def _pump(self) -> None:
        """What the TURN server sent over TCP/TLS, into the client, until the inbox holds a drain's worth (the
        rest stays in the kernel, and the connection readable); a lost connection is warned about once."""
        stream = self._stream
        for _ in range(_DRAIN_LIMIT):
            if stream is None or stream.closed is not None or len(self._inbox) >= _DRAIN_LIMIT:
                return
            try:
                frames = stream.receive()
            except TurnError as exc:
                log.warning("%s; the relay is gone", exc)
                return
            if frames is None:
                return
            now = self._clock()
            for frame in frames:
                self._apply(self.client.receive(frame, now))
            if stream.closed is not None:
                log.warning("%s; the relay is gone", stream.closed)

    def _poll(self) -> None:
        if self._stream is not None:
            self._stream.flush()
        now = self._clock()
        deadline = self.client.next_deadline
        if deadline is not None and now >= deadline:
            self._apply(self.client.on_timer(now))

    def sendto(self, data: Any, flags_or_address: Any, address: Any = None) -> int:
        peer = flags_or_address if address is None else address
        peer = (str(peer[0]), int(peer[1]))
        with self._lock:
            self._poll()
            if peer not in self._asked:
                self._asked.add(peer)
                self._apply(self.client.permit(peer, self._clock()))
            wrapped = self.client.wrap(bytes(data), peer)
            if self._stream is not None:
                self._stream.send(wrapped)
                return len(data)
        super().sendto(wrapped, self.server)
        return len(data)

    def send_direct(self, data: bytes, address: Address) -> int:
        """Send from the socket itself, not through the relay (``direct`` mode)."""
        return super().sendto(data, address)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Any]:
        """The next datagram a peer sent through the relay (or, ``direct``, to the socket); BlockingIOError if none."""
        with self._lock:
            self._poll()
            if not self._inbox:
                self._pump()
            for _ in range(_DRAIN_LIMIT):
                if self._inbox:
                    self.last_relayed = True
                    return self._inbox.pop(0)
                data, addr = super().recvfrom(_MAX_DATAGRAM, flags)
                if self._stream is not None or (addr[0], addr[1]) != self.server:
                    if self.direct:
                        self.last_relayed = False
                        return data, addr
                    self.dropped += 1
                    continue
                self._apply(self.client.receive(data, self._clock()))
            if self._inbox:
                self.last_relayed = True
                return self._inbox.pop(0)
        raise BlockingIOError("nothing from the relay yet")

    def close(self) -> None:
        """Delete the allocation (one Refresh with LIFETIME 0, not waited for), then close."""
        with self._lock:
            if self.fileno() >= 0:
                self._apply(self.client.close(self._clock()))
            if self._stream is not None:
                self._stream.close()
        super().close()

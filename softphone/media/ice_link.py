"""ICE on the media thread: an :class:`~softphone.ice.agent.IceAgent` driven over the session's socket.

The session hands every STUN datagram to :meth:`IceLink.handle` and calls
:meth:`IceLink.poll` at each tick; the link sends what the agent asks, by
the path it asks: straight from the socket, or through the TURN relay when
the socket is a relayed one in direct mode (the media layer knows
:class:`softphone.transport.turn.RelayedSocket` only by the protocol here).
Until a pair is selected :attr:`IceLink.route` is None and media waits;
after, media goes to the selected pair's remote address by its path, and
:attr:`IceLink.failed` says why media cannot flow (no pair, or consent lost).
The audio session and the video session each run one over their own socket;
:func:`follow` gives a session the link a new offer/answer calls for.
"""

from __future__ import annotations

import concurrent.futures
import logging
import socket
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from softphone.ice.agent import ConsentLost, Credentials, Effect, IceAgent, IceFailed, Path, Route, Selected, Transmit
from softphone.ice.candidate import NegotiatedIce

__all__ = ["IceLink", "follow"]

log = logging.getLogger(__name__)

Address = tuple[str, int]


@runtime_checkable
class RelayedSocket(Protocol):
    """What :class:`softphone.transport.turn.RelayedSocket` offers: the relay and, ``direct``, around it."""

    direct: bool
    last_relayed: bool

    def send_direct(self, data: bytes, address: Address) -> int: ...

    def watched(self) -> tuple[socket.socket, ...]:
        """Sockets besides this one to select on (the TURN server's TCP/TLS connection); readable: recvfrom."""
        ...

    def reallocate(self) -> concurrent.futures.Future[tuple[Address, Address | None]]:
        """A new allocation after our address moved: the future of its relayed and mapped addresses."""
        ...


class IceLink:
    def __init__(
        self,
        ice: NegotiatedIce,
        sock: socket.socket,
        on_route: Callable[[Route, bool], None],
        on_failure: Callable[[str], None],
    ) -> None:
        self.ice = ice
        self._sock = sock
        self._on_route = on_route
        self._on_failure = on_failure
        relay = isinstance(sock, RelayedSocket) and sock.direct
        local = tuple(c for c in ice.local.candidates if relay or c.type.value != "relay")
        self.agent = IceAgent(
            Credentials(ice.local.ufrag, ice.local.pwd),
            Credentials(ice.remote.ufrag, ice.remote.pwd),
            local,
            list(ice.remote.candidates),
            controlling=ice.controlling,
        )
        self.failed: str | None = None
        # A pair is selected (RFC 8445 8): from then on only consent checks, every few seconds.
        self.selected = False
        self.send_errors = 0
        self._route: Route | None = None

    @property
    def route(self) -> Route | None:
        return self.agent.route

    def start(self, now: float) -> None:
        self._apply(self.agent.start(now))

    def poll(self, now: float) -> None:
        self._apply(self.agent.on_timer(now))

    def handle(self, data: bytes, addr: Address, now: float) -> None:
        sock = self._sock
        path = Path.RELAY if isinstance(sock, RelayedSocket) and sock.last_relayed else Path.DIRECT
        self._apply(self.agent.receive(data, (str(addr[0]), int(addr[1])), path, now))

    def media_from(self, addr: Address) -> bool:
        """The datagram just read came from the peer, on a pair ICE has seen work (see ``IceAgent.media_from``)."""
        sock = self._sock
        path = Path.RELAY if isinstance(sock, RelayedSocket) and sock.last_relayed else Path.DIRECT
        return self.agent.media_from((str(addr[0]), int(addr[1])), path)

    def send(self, data: bytes) -> bool:
        """Media out on the selected pair; False (nothing sent) before one is selected or after consent is lost."""
        route = self.route
        if route is None:
            return False
        return self._transmit(data, route.remote, route.path)

    def _transmit(self, data: bytes, remote: Address, path: Path) -> bool:
        sock = self._sock
        try:
            if path is Path.DIRECT and isinstance(sock, RelayedSocket):
                sock.send_direct(data, remote)
            elif path is Path.RELAY and not isinstance(sock, RelayedSocket):
                return False
            else:
                sock.sendto(data, remote)
            return True
        except OSError:
            self.send_errors += 1
            return False

    def _apply(self, effects: list[Effect]) -> None:
        self._follow(effects)
        route = self.agent.route
        if route is not None and route != self._route:
            # A valid pair before the nomination: media may start on it (RFC 8445 12.1).
            self._route = route
            self._on_route(route, False)

    def _follow(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Transmit):
                self._transmit(effect.data, effect.remote, effect.path)
            elif isinstance(effect, Selected):
                self.selected = True
                route = effect.route
                log.info("ICE selected a %s path %s -> %s", route.kind, route.local, route.remote)
                self._route = route
                self._on_route(route, True)
            elif isinstance(effect, (IceFailed, ConsentLost)):
                self.failed = effect.reason
                log.warning("ICE: %s", effect.reason)
                self._on_failure(effect.reason)


def follow(
    link: IceLink | None,
    ice: NegotiatedIce | None,
    sock: socket.socket,
    on_route: Callable[[Route, bool], None],
    on_failure: Callable[[str], None],
) -> IceLink | None:
    """The link a stream needs after an offer/answer: None without ICE, ``link`` itself while both sides keep
    their credentials, a new one (not started) when either side has new ones: an ICE restart (RFC 8445 9)."""
    if ice is None:
        return None
    if link is not None and (link.ice.local.ufrag, link.ice.remote.ufrag) == (ice.local.ufrag, ice.remote.ufrag):
        return link
    return IceLink(ice, sock, on_route, on_failure)

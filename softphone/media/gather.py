"""Asking a STUN server, from a running call's media port, where that port is seen now (RFC 8489 Binding).

Once a call's media thread owns the socket, nothing else may read it: a
Binding request sent from asyncio would have its answer eaten by the media
thread. :class:`ReflexiveQueries` lets the media thread itself run the
transaction. The session hands it every STUN datagram first; an answer
whose transaction id is one of ours and whose source is the server we asked
is taken (anything else goes on to ICE), and each query ends by setting its
:class:`concurrent.futures.Future` to the mapped address or to a
:class:`ReflexiveQueryError`. Used after a network change, to offer the new
server-reflexive candidate in an ICE restart.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass

from softphone.stun.message import Attr, Class, Method, StunMessage, StunParseError
from softphone.stun.transaction import BindingTransaction, Effect, Failed, Retransmission, Send, Succeeded, TimedOut

__all__ = ["MAX_QUERIES", "ReflexiveQueries", "ReflexiveQueryError"]

Address = tuple[str, int]

# A bound on what one call's users can queue; a network change needs one at a time.
MAX_QUERIES = 4
QUICK = Retransmission(0.25, 4, 4)  # 2.75 s, like the call set-up's STUN query


class ReflexiveQueryError(Exception):
    """The STUN server did not answer, or answered with an error."""


@dataclass(slots=True)
class _Query:
    server: Address
    transaction: BindingTransaction
    future: concurrent.futures.Future[Address]


class ReflexiveQueries:
    """The Binding transactions of one media socket; driven by the media thread only."""

    def __init__(self, send: Callable[[bytes, Address], object]) -> None:
        self._send = send
        self._queries: list[_Query] = []

    def __len__(self) -> int:
        return len(self._queries)

    def start(
        self,
        server: Address,
        now: float,
        future: concurrent.futures.Future[Address],
        retransmission: Retransmission = QUICK,
    ) -> None:
        """Ask ``server``; ``future`` gets the mapped address or a :class:`ReflexiveQueryError`."""
        if len(self._queries) >= MAX_QUERIES:
            future.set_exception(ReflexiveQueryError("too many STUN queries on this media port"))
            return
        request = StunMessage(Method.BINDING, Class.REQUEST).add(Attr.SOFTWARE, "softphone")
        query = _Query(server, BindingTransaction(request, retransmission), future)
        self._queries.append(query)
        self._apply(query, query.transaction.start(now))

    def poll(self, now: float) -> None:
        for query in list(self._queries):
            self._apply(query, query.transaction.on_timer(now))

    def handle(self, data: bytes, addr: Address, now: float) -> bool:
        """True when ``data`` answered one of our queries (then nobody else should see it)."""
        if not self._queries:
            return False
        try:
            message = StunMessage.parse(data)
        except StunParseError:
            return False
        source = (str(addr[0]), int(addr[1]))
        for query in self._queries:
            if source == query.server and query.transaction.matches(message):
                self._apply(query, query.transaction.receive_message(message, now))
                return True
        return False

    def cancel(self) -> None:
        """The session stops: every query still waiting fails."""
        for query in self._queries:
            if not query.future.done():
                query.future.set_exception(ReflexiveQueryError("the call's media stopped"))
        self._queries.clear()

    def _apply(self, query: _Query, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self._send(effect.data, query.server)
                continue
            self._queries.remove(query)
            if query.future.done():
                continue  # the asker gave up (cancelled)
            server = f"STUN server {query.server[0]}:{query.server[1]}"
            if isinstance(effect, Succeeded):
                mapped = effect.response.reflexive_address
                assert mapped is not None  # the transaction fails a Binding success without one
                query.future.set_result(mapped)
            elif isinstance(effect, Failed):
                query.future.set_exception(ReflexiveQueryError(f"{server} refused: {effect.reason}"))
            elif isinstance(effect, TimedOut):
                query.future.set_exception(ReflexiveQueryError(f"{server} did not answer"))

"""The transaction layer (RFC 3261 17): the live transactions by key, their timers in one heap.

:class:`TransactionLayer` matches incoming messages to transactions (RFC 3261 17.1.3 and 17.2.3,
with the RFC 2543 fallback), creates them, and fires their timers in deadline order; the state
machines themselves are in :mod:`softphone.sip.transaction`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from typing import Any, TypeVar

from softphone.sip.message import Request, Response
from softphone.sip.transaction import (
    MAGIC_COOKIE,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    Effect,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    TimerSettings,
    Transaction,
    TransactionKey,
    cancelled_key,
    client_key,
    server_key,
)

__all__ = ["TransactionLayer"]

_T = TypeVar("_T", bound=Transaction)


class TransactionLayer:
    """The live transactions by key: routes messages to them and drives their timers.

    Terminated transactions are forgotten on lookup and by a periodic sweep.
    Timers live in one heap of ``(deadline, n, transaction)`` entries, pushed
    whenever a transaction arms a timer; an entry whose transaction no longer
    has that deadline first is stale and dropped when it reaches the top. So
    :attr:`next_deadline` and :meth:`on_timer` cost O(log n) per timer, not a
    scan of every transaction (a burst of 1,000 NOTIFYs leaves 1,000
    transactions waiting for Timer J).
    """

    _SWEEP_EVERY = 256

    def __init__(self, timers: TimerSettings | None = None) -> None:
        self.timers = timers if timers is not None else TimerSettings()
        self._clients: dict[TransactionKey, ClientTransaction] = {}
        self._servers: dict[TransactionKey, ServerTransaction] = {}
        self._heap: list[tuple[float, int, Transaction]] = []
        self._pushes = itertools.count()
        self._adds = 0

    def __len__(self) -> int:
        return sum(1 for tx in self if not tx.terminated)

    def __iter__(self) -> Iterator[Transaction]:
        yield from list(self._clients.values())
        yield from list(self._servers.values())

    def add(self, transaction: Transaction) -> None:
        """Keep ``transaction``; a live one with the same key is an error."""
        self._adds += 1
        if self._adds % self._SWEEP_EVERY == 0:
            self._sweep()
        if isinstance(transaction, ClientTransaction):
            if self._live(self._clients, transaction.key) is not None:
                raise ValueError(f"a client transaction with key {transaction.key!r} exists")
            self._clients[transaction.key] = transaction
        elif isinstance(transaction, ServerTransaction):
            if self._live(self._servers, transaction.key) is not None:
                raise ValueError(f"a server transaction with key {transaction.key!r} exists")
            self._servers[transaction.key] = transaction
        else:
            raise TypeError(f"not a client or server transaction: {transaction!r}")
        transaction.on_armed = self._armed
        for deadline in set(transaction._deadlines.values()):
            self._armed(transaction, deadline)

    def _armed(self, transaction: Transaction, deadline: float) -> None:
        heapq.heappush(self._heap, (deadline, next(self._pushes), transaction))

    def _top(self) -> tuple[float, int, Transaction] | None:
        """The earliest entry that is still a transaction's next deadline; stale ones are dropped."""
        heap = self._heap
        while heap:
            deadline, _, tx = heap[0]
            if not tx.terminated and tx.next_deadline == deadline:
                return heap[0]
            heapq.heappop(heap)
        return None

    def send_request(
        self, request: Request, now: float, *, reliable: bool, destination: object = None
    ) -> tuple[ClientTransaction, list[Effect]]:
        """Create, keep and start the client transaction for ``request``."""
        tx: ClientTransaction
        if request.method == "INVITE":
            tx = ClientInviteTransaction(request, reliable, self.timers, now, destination=destination)
        else:
            tx = ClientNonInviteTransaction(request, reliable, self.timers, now, destination=destination)
        self.add(tx)
        return tx, tx.start(now)

    def create_server(
        self,
        request: Request,
        now: float,
        *,
        reliable: bool,
        destination: object = None,
        auto_trying: bool = False,
    ) -> ServerTransaction:
        """Create and keep the server transaction for a new request (after :meth:`receive_request` said None)."""
        tx: ServerTransaction
        if request.method == "INVITE":
            tx = ServerInviteTransaction(
                request, reliable, self.timers, now, destination=destination, auto_trying=auto_trying
            )
        else:
            tx = ServerNonInviteTransaction(request, reliable, self.timers, now, destination=destination)
        self.add(tx)
        return tx

    def discard(self, transaction: ServerTransaction) -> None:
        """Forget a server transaction the TU will never answer (a request dropped on purpose)."""
        transaction._terminate()
        self._forget(transaction)

    def find_client(self, response: Response) -> ClientTransaction | None:
        return self._live(self._clients, client_key(response))

    def find_server(self, request: Request) -> ServerTransaction | None:
        key = server_key(request)
        tx = self._live(self._servers, key)
        if tx is None and request.method == "ACK" and key[0] != MAGIC_COOKIE:
            for candidate in list(self._servers.values()):
                if isinstance(candidate, ServerInviteTransaction) and not candidate.terminated:
                    if candidate.ack_key == key:
                        return candidate
        return tx

    def find_cancelled(self, cancel: Request) -> ServerInviteTransaction | None:
        """RFC 3261 9.2: the INVITE server transaction a CANCEL refers to."""
        if cancel.method != "CANCEL":
            return None
        tx = self._live(self._servers, cancelled_key(cancel))
        return tx if isinstance(tx, ServerInviteTransaction) else None

    def receive_request(self, request: Request, now: float) -> list[Effect] | None:
        """Effects of the matching server transaction, or None when none matches.

        None means a new request for the TU (which calls :meth:`create_server`
        unless it is an ACK) or an ACK outside any transaction (an ACK for a
        2xx, which belongs to the dialog).
        """
        tx = self.find_server(request)
        if tx is None:
            return None
        return tx.receive(request, now)

    def receive_response(self, response: Response, now: float) -> list[Effect] | None:
        """Effects of the matching client transaction, or None for a stray response."""
        tx = self.find_client(response)
        if tx is None:
            return None
        return tx.receive(response, now)

    @property
    def next_deadline(self) -> float | None:
        top = self._top()
        return None if top is None else top[0]

    def on_timer(self, now: float) -> list[Effect]:
        """Fire the due timers of every transaction, the earliest transaction first."""
        effects: list[Effect] = []
        while (top := self._top()) is not None and top[0] <= now:
            heapq.heappop(self._heap)
            tx = top[2]
            effects += tx.on_timer(now)
            if tx.terminated:
                self._forget(tx)
        return effects

    def _forget(self, tx: Transaction) -> None:
        table: dict[TransactionKey, Any] = self._clients if isinstance(tx, ClientTransaction) else self._servers
        if table.get(tx.key) is tx:
            del table[tx.key]

    def _live(self, table: dict[TransactionKey, _T], key: TransactionKey) -> _T | None:
        tx = table.get(key)
        if tx is not None and tx.terminated:
            del table[key]
            return None
        return tx

    def _sweep(self) -> None:
        for table in (self._clients, self._servers):
            for key in [key for key, tx in table.items() if tx.terminated]:
                del table[key]

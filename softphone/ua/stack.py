"""The glue between the transport and the sans-I/O transaction layer, on one asyncio loop."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.transaction import (
    ClientTransaction,
    Deliver,
    Effect,
    LocalResponse,
    Send,
    ServerTransaction,
    Terminated,
    TimedOut,
    TimerSettings,
    Transaction,
    TransportFailure,
    is_failover,
    make_response,
)
from softphone.sip.transaction_layer import TransactionLayer
from softphone.transport import Source, Target, TlsSettings, TransportError, TransportLimits, TransportManager

__all__ = ["LocalResponse", "SipStack", "is_failover"]

log = logging.getLogger("softphone.ua")

ResponseHandler = Callable[[Response], None]
RequestHandler = Callable[[Request, ServerTransaction | None, Source], None]
StrayResponseHandler = Callable[[Response, Source], None]


class SipStack:
    """Transport manager, transaction layer and the one timer that drives it.

    ``on_request(request, transaction, source)`` gets every new request
    (``transaction`` is None for an ACK outside any transaction, i.e. for a
    2xx); ``on_stray_response`` every response no client transaction
    matches (retransmitted 2xx to an INVITE). ``screen(request, source)``
    sees each new request first, malformed ones too: False drops it
    unanswered, before a transaction exists (so nothing, not even an
    automatic 100 Trying, goes back).
    """

    def __init__(
        self,
        listen: Iterable[tuple[str, str, int]],
        *,
        on_request: RequestHandler,
        on_stray_response: StrayResponseHandler,
        on_flow_failed: Callable[[TransportError], None] | None = None,
        timers: TimerSettings | None = None,
        tls: TlsSettings | None = None,
        screen: Callable[[Request, Source], bool] | None = None,
        limits: TransportLimits | None = None,
    ) -> None:
        self.transport = TransportManager(
            listen,
            on_message=self._on_message,
            on_bad_request=self._on_bad_request,
            on_error=self._on_error,
            tls=tls,
            limits=limits,
        )
        self.transactions = TransactionLayer(timers)
        self.timers = self.transactions.timers
        self.on_request = on_request
        self.on_stray_response = on_stray_response
        self.on_flow_failed = on_flow_failed
        self.screen = screen
        # Requests sent in new client transactions, by method (retransmissions not counted).
        self.sent: collections.Counter[str] = collections.Counter()
        self._handlers: dict[Transaction, ResponseHandler] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # --- life cycle -----------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.transport.start()

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.transport.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the SIP stack is not started")
        return self._loop

    def now(self) -> float:
        return self.loop.time()

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """A task kept until it ends; its exception, if any, is logged."""
        task = self.loop.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    # --- client side ------------------------------------------------------------

    def send_request(self, request: Request, destination: Target, handler: ResponseHandler) -> ClientTransaction:
        """Start a client transaction; ``handler`` gets every response (made-up 408/503 on timeout/failure)."""
        tx, effects = self.transactions.send_request(
            request, self.now(), reliable=destination.reliable, destination=destination
        )
        self._handlers[tx] = handler
        self.sent[request.method] += 1
        self._run(effects)
        return tx

    def request(self, request: Request, destination: Target) -> asyncio.Future[Response]:
        """A non-INVITE request: the future of its final response."""
        future: asyncio.Future[Response] = self.loop.create_future()

        def handler(response: Response) -> None:
            if response.status_code >= 200 and not future.done():
                future.set_result(response)

        self.send_request(request, destination, handler)
        return future

    def send_stateless(self, message: Request | Response, destination: Target | Source | None) -> None:
        """Send outside any transaction: an ACK for a 2xx, a response to a request we can't take in."""
        self.spawn(self._transmit(message, destination, None), name=f"send {_what(message)}")

    # --- server side ------------------------------------------------------------

    def respond(self, tx: ServerTransaction, response: Response) -> None:
        self._run(tx.send_response(response, self.now()))

    def reply(self, tx: ServerTransaction, status_code: int, reason: str | None = None, **kwargs: Any) -> Response:
        response = make_response(tx.request, status_code, reason, **kwargs)
        self.respond(tx, response)
        return response

    # --- effects and timers -------------------------------------------------------

    def _run(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                destination = effect.destination
                assert destination is None or isinstance(destination, Target | Source)
                assert isinstance(effect.message, Request | Response)
                self.spawn(self._transmit(effect.message, destination, effect.transaction))
            elif isinstance(effect, Deliver):
                self._deliver(effect)
            elif isinstance(effect, TimedOut | TransportFailure):
                tx = effect.transaction
                if isinstance(tx, ClientTransaction):
                    timed_out = isinstance(effect, TimedOut)
                    code, reason = (408, "Request Timeout") if timed_out else (503, "Transport Failure")
                    local = make_response(tx.request, code, reason)
                    self._call(tx, LocalResponse(code, reason, local.headers))
            elif isinstance(effect, Terminated):
                if effect.transaction is not None:
                    self._handlers.pop(effect.transaction, None)
        self._reschedule()

    def _deliver(self, effect: Deliver) -> None:
        message = effect.message
        if isinstance(message, Response):
            if effect.transaction is not None:
                self._call(effect.transaction, message)
        elif isinstance(message, Request) and effect.transaction is not None:
            # RFC 6026 7.1: an ACK for our 2xx that matched the INVITE server transaction.
            source = effect.transaction.destination
            if isinstance(source, Source):
                self._dispatch_request(message, None, source)

    def _call(self, tx: Transaction, response: Response) -> None:
        handler = self._handlers.get(tx)
        if handler is None:
            return
        try:
            handler(response)
        except Exception:
            log.exception("handling a %d response to %s failed", response.status_code, tx.method)

    async def _transmit(
        self, message: Request | Response, destination: Target | Source | None, tx: Transaction | None
    ) -> None:
        if self._closed:
            return
        try:
            await self.transport.send(message, destination)
        except TransportError as exc:
            log.info("cannot send %s: %s", _what(message), exc)
            if tx is not None:
                self._run(tx.on_transport_error(self.now()))

    def _reschedule(self) -> None:
        if self._closed:
            return
        deadline = self.transactions.next_deadline
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self.loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        due = self._timer_at if self._timer_at is not None else self.now()
        self._timer = None
        self._timer_at = None
        self._run(self.transactions.on_timer(max(self.now(), due)))

    # --- incoming -----------------------------------------------------------------

    def _on_message(self, message: Request | Response, source: Source) -> None:
        now = self.now()
        if isinstance(message, Response):
            effects = self.transactions.receive_response(message, now)
            if effects is None:
                self.on_stray_response(message, source)
            else:
                self._run(effects)
            return
        effects = self.transactions.receive_request(message, now)
        if effects is not None:
            self._run(effects)
            return
        if not self._admitted(message, source):
            return
        tx: ServerTransaction | None = None
        if message.method != "ACK":
            tx = self.transactions.create_server(message, now, reliable=source.reliable, destination=source)
        self._dispatch_request(message, tx, source)

    def _dispatch_request(self, request: Request, tx: ServerTransaction | None, source: Source) -> None:
        try:
            self.on_request(request, tx, source)
        except SipParseError as exc:
            # A header that failed its grammar when read: RFC 3261 8.2 answers 400 (or what the error says).
            log.info("bad %s request from %s: %s", request.method, source, exc)
            if tx is not None and tx.last_response is None:
                with contextlib.suppress(SipParseError):
                    self.reply(tx, exc.status_code, _reason(exc))
        self._reschedule()

    def _admitted(self, request: Request, source: Source) -> bool:
        if self.screen is None:
            return True
        try:
            return self.screen(request, source)
        except SipParseError:
            return False

    def _on_bad_request(self, error: SipParseError, source: Source) -> None:
        partial = error.partial
        if not isinstance(partial, Request) or partial.method == "ACK" or not self._admitted(partial, source):
            return
        try:
            response = make_response(partial, error.status_code, _reason(error))
        except SipParseError:
            # Via, From or To is itself broken or missing: echo what there is, as written (RFC 3261 8.2.6.2).
            fields = [
                (name, value)
                for name in ("Via", "From", "To", "Call-ID", "CSeq")
                for value in partial.headers.get_all(name)
            ]
            response = Response(error.status_code, _reason(error), fields)
            self.spawn(self._send_unroutable(response, source), name="send 400")
            return
        self.send_stateless(response, source)

    async def _send_unroutable(self, response: Response, source: Source) -> None:
        """A response whose Via can't be read goes back over the connection, or to the datagram's source."""
        try:
            await self.transport.send(response, source if source.reliable else source.target)
        except TransportError as exc:
            log.info("cannot answer a malformed request from %s: %s", source, exc)

    def _on_error(self, error: TransportError) -> None:
        target = error.target
        if target is None:
            return
        for tx in list(self.transactions):
            if isinstance(tx, ClientTransaction) and not tx.terminated and tx.destination == target:
                self._run(tx.on_transport_error(self.now()))
        if self.on_flow_failed is not None:
            self.on_flow_failed(error)


def _reason(error: SipParseError) -> str | None:
    if error.status_code != 400:
        return None
    text = str(error).replace("\r", " ").replace("\n", " ")
    return "Bad Request - " + text[:100] if text else None


def _what(message: Request | Response) -> str:
    if isinstance(message, Request):
        return message.method
    return f"{message.status_code} response"

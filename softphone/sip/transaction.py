"""SIP transactions (RFC 3261 section 17, with the RFC 6026 corrections), sans-I/O.

Each transaction is a state machine fed with messages and the current time
(``now``, seconds on any monotonic scale) and answering with a list of
effects for the caller to carry out:

* :class:`Send` a message to the transport (a client transaction's request or
  ACK goes to its ``destination``; a server transaction's response goes where
  the transport decides by RFC 3261 18.2.2, ``destination`` being whatever
  handle the transport gave for the request's origin);
* :class:`Deliver` a message up to the transaction user (TU);
* :class:`TimedOut` (Timer B, F or H fired) and :class:`TransportFailure`
  (the transport reported an error through ``on_transport_error``), both
  followed by :class:`Terminated`.

Timers are deadlines: ``next_deadline`` says when ``on_timer(now)`` next has
work; calling it late fires every timer that is due, in order.

:class:`TransactionLayer` keeps the transactions by their matching keys
(RFC 3261 17.1.3 and 17.2.3), routes incoming messages to them and drives
their timers. :func:`make_response`, :func:`make_cancel` and
:func:`new_branch` build the messages around transactions.
"""

from __future__ import annotations

import enum
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from softphone.sip.addr import split_comma_list
from softphone.sip.errors import SipParseError
from softphone.sip.headers import Via
from softphone.sip.message import Message, Request, Response
from softphone.sip.uri import parse_uri

__all__ = [
    "MAGIC_COOKIE",
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ClientTransaction",
    "Deliver",
    "Effect",
    "LocalResponse",
    "Send",
    "ServerInviteTransaction",
    "ServerNonInviteTransaction",
    "ServerTransaction",
    "State",
    "Terminated",
    "TimedOut",
    "Timer",
    "TimerSettings",
    "Transaction",
    "TransactionKey",
    "TransportFailure",
    "cancelled_key",
    "client_key",
    "is_failover",
    "make_ack",
    "make_cancel",
    "make_response",
    "new_branch",
    "server_key",
]

MAGIC_COOKIE = "z9hG4bK"

TransactionKey = tuple[Hashable, ...]


class Timer(enum.Enum):
    A = "A"
    B = "B"
    D = "D"
    E = "E"
    F = "F"
    G = "G"
    H = "H"
    I = "I"  # noqa: E741
    J = "J"
    K = "K"
    L = "L"
    M = "M"
    # RFC 3261 17.2.1: a 100 Trying unless the TU answers an INVITE within 200 ms.
    TRYING = "Trying"


_RETRANSMISSION_TIMERS = frozenset({Timer.A, Timer.E, Timer.G})


class State(enum.Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


@dataclass(frozen=True, slots=True)
class TimerSettings:
    """T1, T2, T4 and Timer D of RFC 3261 17.1.1.1 / table 4; every other timer derives from them."""

    T1: float = 0.5
    T2: float = 4.0
    T4: float = 5.0
    D: float = 32.0
    trying: float = 0.2

    def __post_init__(self) -> None:
        if not self.T1 > 0:
            raise ValueError(f"T1 must be positive, not {self.T1}")
        if self.T2 < self.T1:
            raise ValueError(f"T2 ({self.T2}) must not be below T1 ({self.T1})")
        if self.T4 < 0 or self.D < 0 or self.trying < 0:
            raise ValueError("T4, D and the 100 Trying delay must not be negative")

    def duration(self, timer: Timer, reliable: bool) -> float:
        """The (initial) duration of ``timer``; 0 where RFC 3261 table 4 sets it to zero on reliable transports.

        A, E and G give their first interval; they are not run on reliable transports.
        """
        if timer in _RETRANSMISSION_TIMERS:
            return self.T1
        if timer in (Timer.B, Timer.F, Timer.H, Timer.L, Timer.M):
            return 64 * self.T1
        if timer is Timer.J:
            return 0.0 if reliable else 64 * self.T1
        if timer is Timer.D:
            return 0.0 if reliable else self.D
        if timer in (Timer.I, Timer.K):
            return 0.0 if reliable else self.T4
        return self.trying


# --- effects -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    message: Message
    destination: object = None
    transaction: Transaction | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Deliver:
    message: Message
    transaction: Transaction | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Timer B or F (the TU reports 408) or Timer H (the ACK never came) fired."""

    transaction: Transaction | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TransportFailure:
    transaction: Transaction | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Terminated:
    transaction: Transaction | None = field(default=None, compare=False, repr=False)


Effect = Send | Deliver | TimedOut | TransportFailure | Terminated


class LocalResponse(Response):
    """A response the TU made up for a client transaction that timed out (408) or could not be sent (503)."""


def is_failover(response: Response) -> bool:
    """RFC 3263 4.3: a timeout, a transport error or a 503 sends the request to the next target."""
    return response.status_code == 503 or isinstance(response, LocalResponse)


# --- matching ----------------------------------------------------------------


def client_key(message: Request | Response) -> TransactionKey:
    """RFC 3261 17.1.3: top Via branch and CSeq method (a request's key is that of its own responses)."""
    return (message.via.branch, message.cseq.method)


def server_key(request: Request) -> TransactionKey:
    """RFC 3261 17.2.3: the key of the server transaction ``request`` belongs to.

    An ACK gets the key of the INVITE it acknowledges; a CANCEL its own key.
    Without the magic cookie the RFC 2543 rule applies: for an ACK the To tag
    is that of the response, so it finds its INVITE through
    :attr:`ServerInviteTransaction.ack_key`.
    """
    method = "INVITE" if request.method == "ACK" else request.method
    return _server_key(request, method, request.to.tag)


def cancelled_key(cancel: Request) -> TransactionKey:
    """RFC 3261 9.2: the key of the transaction a CANCEL cancels (the same request with method INVITE)."""
    return _server_key(cancel, "INVITE", cancel.to.tag)


def _server_key(request: Request, method: str, to_tag: str | None) -> TransactionKey:
    via = request.via
    branch = via.branch
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        return (MAGIC_COOKIE, branch, via.host.lower(), via.port, method)
    return (
        "rfc2543",
        parse_uri(str(request.uri)),
        to_tag,
        request.from_.tag,
        request.call_id,
        request.cseq.seq,
        method,
        _via_key(via),
    )


def _via_key(via: Via) -> Hashable:
    params = frozenset((name.lower(), value) for name, value in via.params.items())
    return (via.protocol, via.transport, via.host.lower(), via.port, params)


# --- message helpers ---------------------------------------------------------


def new_branch(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A fresh branch parameter: the RFC 3261 8.1.1.7 magic cookie and 96 random bits."""
    return MAGIC_COOKIE + random_bytes(12).hex()


def make_response(
    request: Request,
    status_code: int,
    reason: str | None = None,
    to_tag: str | None = None,
    *,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> Response:
    """A response to ``request`` as RFC 3261 8.2.6.2 has it; ``headers`` are appended after the copied ones.

    ``to_tag`` is added only when the request's To has no tag yet.
    """
    _check_vias(request)
    to_value = _field(request, "To")
    if to_tag is not None and request.to.tag is None:
        to_value = f"{to_value};tag={to_tag}"
    fields = [("Via", value) for value in request.headers.get_all("Via")]
    fields += [
        ("From", _field(request, "From")),
        ("To", to_value),
        ("Call-ID", _field(request, "Call-ID")),
        ("CSeq", _field(request, "CSeq")),
    ]
    # RFC 3261 8.2.6.1: a 100 Trying echoes the request's Timestamp.
    if status_code == 100 and "Timestamp" in request.headers:
        fields.append(("Timestamp", request.headers["Timestamp"]))
    fields += headers or []
    return Response(status_code, reason, fields, body)


def _field(message: Message, name: str) -> str:
    value = message.headers.get(name)
    if value is None:
        raise SipParseError(f"missing {name} header")
    return value


def _check_vias(request: Request) -> None:
    if not request.vias:
        raise SipParseError("missing Via header")


def _top_via(request: Request) -> str:
    _check_vias(request)
    return split_comma_list(request.headers["Via"])[0]


def _max_forwards(request: Request) -> str:
    value = request.headers.get("Max-Forwards")
    return "70" if value is None else value


def make_ack(invite: Request, response: Response) -> Request:
    """RFC 3261 17.1.1.3: the ACK a client INVITE transaction sends for a 300-699 response."""
    fields = [("Via", _top_via(invite))]
    fields += [("Route", value) for value in invite.headers.get_all("Route")]
    fields += [
        ("Max-Forwards", _max_forwards(invite)),
        ("From", _field(invite, "From")),
        ("To", _field(response, "To")),
        ("Call-ID", _field(invite, "Call-ID")),
        ("CSeq", f"{invite.cseq.seq} ACK"),
    ]
    return Request("ACK", parse_uri(str(invite.uri)), fields)


def make_cancel(request: Request) -> Request:
    """RFC 3261 9.1: a CANCEL for ``request`` (normally an INVITE), to be sent in its own client transaction."""
    if request.method in ("ACK", "CANCEL"):
        raise ValueError(f"{request.method} cannot be cancelled")
    fields = [("Via", _top_via(request))]
    fields += [("Route", value) for value in request.headers.get_all("Route")]
    fields += [
        ("Max-Forwards", _max_forwards(request)),
        ("From", _field(request, "From")),
        ("To", _field(request, "To")),
        ("Call-ID", _field(request, "Call-ID")),
        ("CSeq", f"{request.cseq.seq} CANCEL"),
    ]
    return Request("CANCEL", parse_uri(str(request.uri)), fields)


# --- transactions ------------------------------------------------------------


class Transaction(ABC):
    """What the four state machines share: the request, the timers, termination."""

    key: TransactionKey

    def __init__(
        self,
        request: Request,
        reliable: bool,
        timers: TimerSettings | None,
        now: float,
        state: State,
        destination: object,
    ) -> None:
        self.request = request
        self.reliable = reliable
        self.timers = timers if timers is not None else TimerSettings()
        self.created = now
        self.state = state
        self.destination = destination
        self._deadlines: dict[Timer, float] = {}
        self._intervals: dict[Timer, float] = {}
        # Told of every timer armed, so a TransactionLayer can keep its timer heap (see TransactionLayer).
        self.on_armed: Callable[[Transaction, float], None] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.request.method} {self.state.value}>"

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    @property
    def next_deadline(self) -> float | None:
        return min(self._deadlines.values(), default=None)

    def deadline(self, timer: Timer) -> float | None:
        """When ``timer`` fires, or None when it is not running."""
        return self._deadlines.get(timer)

    def on_timer(self, now: float) -> list[Effect]:
        """Fire every timer due at ``now``, earliest first."""
        effects: list[Effect] = []
        while self.state is not State.TERMINATED:
            due = [timer for timer, deadline in self._deadlines.items() if deadline <= now]
            if not due:
                break
            timer = min(due, key=lambda t: (self._deadlines[t], t in _RETRANSMISSION_TIMERS))
            del self._deadlines[timer]
            effects += self._fire(timer, now)
        return effects

    def on_transport_error(self, now: float) -> list[Effect]:
        """RFC 3261 17.1.4 / 17.2.4: the transport could not send for this transaction."""
        if self.state is State.TERMINATED:
            return []
        return [TransportFailure(self), *self._terminate()]

    @abstractmethod
    def _fire(self, timer: Timer, now: float) -> list[Effect]:
        """Act on ``timer``, already removed from the running ones."""

    def _arm(self, timer: Timer, now: float, duration: float | None = None) -> None:
        if duration is None:
            duration = self.timers.duration(timer, self.reliable)
        self._deadlines[timer] = now + duration
        if timer in _RETRANSMISSION_TIMERS:
            self._intervals[timer] = duration
        if self.on_armed is not None:
            self.on_armed(self, now + duration)

    def _cancel(self, *timers: Timer) -> None:
        for timer in timers:
            self._deadlines.pop(timer, None)

    def _terminate(self) -> list[Effect]:
        self.state = State.TERMINATED
        self._deadlines.clear()
        return [Terminated(self)]

    def _linger(self, state: State, timer: Timer, now: float) -> list[Effect]:
        """Enter a state that ends when ``timer`` fires: at once where the timer is zero (reliable transports)."""
        self.state = state
        duration = self.timers.duration(timer, self.reliable)
        if duration <= 0:
            return self._terminate()
        self._arm(timer, now, duration)
        return []

    def _send(self, message: Message) -> Send:
        return Send(message, self.destination, self)

    def _deliver(self, message: Message) -> Deliver:
        return Deliver(message, self)


class ClientTransaction(Transaction):
    """A transaction that sends a request and receives its responses."""

    def __init__(
        self,
        request: Request,
        reliable: bool,
        timers: TimerSettings | None,
        now: float,
        state: State,
        destination: object,
    ) -> None:
        if request.method == "ACK":
            raise ValueError("an ACK is sent without a client transaction (RFC 3261 17.1)")
        super().__init__(request, reliable, timers, now, state, destination)
        self.key = client_key(request)
        self._started = False

    def start(self, now: float) -> list[Effect]:
        """Send the request and start the timers."""
        if self._started:
            raise RuntimeError("transaction already started")
        self._started = True
        return self._start(now)

    @abstractmethod
    def _start(self, now: float) -> list[Effect]:
        """Send the request and arm the first timers."""

    @abstractmethod
    def receive(self, response: Response, now: float) -> list[Effect]:
        """A response matched to this transaction."""


class ClientInviteTransaction(ClientTransaction):
    """RFC 3261 17.1.1 with the Accepted state of RFC 6026 7.2."""

    def __init__(
        self,
        request: Request,
        reliable: bool,
        timers: TimerSettings | None,
        now: float,
        *,
        destination: object = None,
    ) -> None:
        if request.method != "INVITE":
            raise ValueError(f"not an INVITE: {request.method}")
        super().__init__(request, reliable, timers, now, State.CALLING, destination)
        self.ack: Request | None = None

    def _start(self, now: float) -> list[Effect]:
        if not self.reliable:
            self._arm(Timer.A, now)
        self._arm(Timer.B, now)
        return [self._send(self.request)]

    def receive(self, response: Response, now: float) -> list[Effect]:
        code = response.status_code
        if self.state in (State.CALLING, State.PROCEEDING):
            self._cancel(Timer.A, Timer.B)
            if code < 200:
                self.state = State.PROCEEDING
                return [self._deliver(response)]
            if code < 300:
                self.state = State.ACCEPTED
                self._arm(Timer.M, now)
                return [self._deliver(response)]
            self.ack = make_ack(self.request, response)
            effects: list[Effect] = [self._send(self.ack), self._deliver(response)]
            return effects + self._linger(State.COMPLETED, Timer.D, now)
        # RFC 6026 7.2: every 2xx, retransmitted or from another fork, goes to the TU, which ACKs it.
        if self.state is State.ACCEPTED and 200 <= code < 300:
            return [self._deliver(response)]
        if self.state is State.COMPLETED and code >= 300 and self.ack is not None:
            return [self._send(self.ack)]
        return []

    def _fire(self, timer: Timer, now: float) -> list[Effect]:
        if timer is Timer.A:
            # RFC 3261 17.1.1.2: Timer A doubles without the T2 cap.
            self._arm(Timer.A, now, 2 * self._intervals[Timer.A])
            return [self._send(self.request)]
        if timer is Timer.B:
            return [TimedOut(self), *self._terminate()]
        return self._terminate()


class ClientNonInviteTransaction(ClientTransaction):
    """RFC 3261 17.1.2."""

    def __init__(
        self,
        request: Request,
        reliable: bool,
        timers: TimerSettings | None,
        now: float,
        *,
        destination: object = None,
    ) -> None:
        if request.method == "INVITE":
            raise ValueError("an INVITE needs a ClientInviteTransaction")
        super().__init__(request, reliable, timers, now, State.TRYING, destination)

    def _start(self, now: float) -> list[Effect]:
        if not self.reliable:
            self._arm(Timer.E, now)
        self._arm(Timer.F, now)
        return [self._send(self.request)]

    def receive(self, response: Response, now: float) -> list[Effect]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return []
        if response.status_code < 200:
            self.state = State.PROCEEDING
            return [self._deliver(response)]
        self._cancel(Timer.E, Timer.F)
        return [self._deliver(response), *self._linger(State.COMPLETED, Timer.K, now)]

    def _fire(self, timer: Timer, now: float) -> list[Effect]:
        if timer is Timer.E:
            if self.state is State.PROCEEDING:
                interval = self.timers.T2
            else:
                # RFC 3261 17.1.2.2: Timer E doubles up to T2.
                interval = min(2 * self._intervals[Timer.E], self.timers.T2)
            self._arm(Timer.E, now, interval)
            return [self._send(self.request)]
        if timer is Timer.F:
            return [TimedOut(self), *self._terminate()]
        return self._terminate()


class ServerTransaction(Transaction):
    """A transaction created by a received request; the TU answers through :meth:`send_response`."""

    def __init__(
        self,
        request: Request,
        reliable: bool,
        timers: TimerSettings | None,
        now: float,
        state: State,
        destination: object,
    ) -> None:
        if request.method == "ACK":
            raise ValueError("an ACK does not create a server transaction (RFC 3261 17.2)")
        super().__init__(request, reliable, timers, now, state, destination)
        self.key = server_key(request)
        self.last_response: Response | None = None

    @abstractmethod
    def send_response(self, response: Response, now: float) -> list[Effect]:
        """A response from the TU; what the state does not allow is discarded (empty effects)."""

    @abstractmethod
    def receive(self, request: Request, now: float) -> list[Effect]:
        """A retransmission of the request (or, for an INVITE, an ACK)."""


class ServerInviteTransaction(ServerTransaction):
    """RFC 3261 17.2.1 with the Accepted state of RFC 6026 7.1.

    With ``auto_trying`` the transaction sends a 100 Trying itself when the TU
    has not responded within ``timers.trying`` (RFC 3261 17.2.1: 200 ms);
    without it the TU sends the 100 when it wants one.
    """

    def __init__(
        self,
        request: Request,
        reliable: bool,
        timers: TimerSettings | None,
        now: float,
        *,
        destination: object = None,
        auto_trying: bool = False,
    ) -> None:
        if request.method != "INVITE":
            raise ValueError(f"not an INVITE: {request.method}")
        super().__init__(request, reliable, timers, now, State.PROCEEDING, destination)
        if auto_trying:
            self._arm(Timer.TRYING, now)

    @property
    def ack_key(self) -> TransactionKey:
        """The key of an ACK for this transaction's final response.

        With the magic cookie that is :attr:`key`; by RFC 2543 rules the ACK
        carries the To tag of the response (RFC 3261 17.2.3).
        """
        if self.key[0] == MAGIC_COOKIE:
            return self.key
        response = self.last_response
        to_tag = response.to.tag if response is not None else None
        return _server_key(self.request, "INVITE", to_tag if to_tag is not None else self.request.to.tag)

    def send_response(self, response: Response, now: float) -> list[Effect]:
        code = response.status_code
        if self.state is State.PROCEEDING:
            self._cancel(Timer.TRYING)
            self.last_response = response
            if code < 200:
                return [self._send(response)]
            if code < 300:
                self.state = State.ACCEPTED
                self._arm(Timer.L, now)
                return [self._send(response)]
            self.state = State.COMPLETED
            if not self.reliable:
                self._arm(Timer.G, now)
            self._arm(Timer.H, now)
            return [self._send(response)]
        # RFC 6026 7.1: the TU retransmits its 2xx through the transaction while it is Accepted.
        if self.state is State.ACCEPTED and 200 <= code < 300:
            self.last_response = response
            return [self._send(response)]
        return []

    def receive(self, request: Request, now: float) -> list[Effect]:
        if request.method == "ACK":
            if self.state is State.COMPLETED:
                self._cancel(Timer.G, Timer.H)
                return self._linger(State.CONFIRMED, Timer.I, now)
            # RFC 6026 7.1: an ACK matching a 2xx goes to the TU.
            if self.state is State.ACCEPTED:
                return [self._deliver(request)]
            return []
        if request.method != "INVITE":
            return []
        if self.state in (State.PROCEEDING, State.COMPLETED) and self.last_response is not None:
            return [self._send(self.last_response)]
        return []

    def _fire(self, timer: Timer, now: float) -> list[Effect]:
        if timer is Timer.TRYING:
            self.last_response = make_response(self.request, 100)
            return [self._send(self.last_response)]
        if timer is Timer.G:
            # RFC 3261 17.2.1: Timer G doubles up to T2.
            self._arm(Timer.G, now, min(2 * self._intervals[Timer.G], self.timers.T2))
            return [self._send(self.last_response)] if self.last_response is not None else []
        if timer is Timer.H:
            return [TimedOut(self), *self._terminate()]
        return self._terminate()


class ServerNonInviteTransaction(ServerTransaction):
    """RFC 3261 17.2.2."""

    def __init__(
        self,
        request: Request,
        reliable: bool,
        timers: TimerSettings | None,
        now: float,
        *,
        destination: object = None,
    ) -> None:
        if request.method == "INVITE":
            raise ValueError("an INVITE needs a ServerInviteTransaction")
        super().__init__(request, reliable, timers, now, State.TRYING, destination)

    def send_response(self, response: Response, now: float) -> list[Effect]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return []
        self.last_response = response
        if response.status_code < 200:
            self.state = State.PROCEEDING
            return [self._send(response)]
        return [self._send(response), *self._linger(State.COMPLETED, Timer.J, now)]

    def receive(self, request: Request, now: float) -> list[Effect]:
        if self.state in (State.PROCEEDING, State.COMPLETED) and self.last_response is not None:
            return [self._send(self.last_response)]
        return []

    def _fire(self, timer: Timer, now: float) -> list[Effect]:
        return self._terminate()

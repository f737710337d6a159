"""The STUN client transaction over UDP (RFC 8489 6.2.1 and 6.3), sans-I/O.

A :class:`BindingTransaction` is fed the current time and the datagrams that
came back, and answers with effects: :class:`Send` the request (again),
:class:`Succeeded` with the success response, :class:`Failed` with an error
response or :class:`TimedOut`. ``next_deadline`` says when :meth:`on_timer`
has work. The schedule: the request goes out at 0, RTO, 3 RTO, 7 RTO … (the
interval doubling), ``Rc`` times in all; after the last one the transaction
waits ``Rm`` × RTO for an answer. With the defaults (RTO 0.5 s, Rc 7, Rm 16)
that is the RFC's 39.5 s; a caller that must not keep a call waiting gives
a shorter :class:`Retransmission`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from softphone.stun.message import Class, ErrorCode, Method, StunMessage, StunParseError

__all__ = [
    "BindingTransaction",
    "Effect",
    "Failed",
    "Retransmission",
    "Send",
    "State",
    "Succeeded",
    "TimedOut",
]


@dataclass(frozen=True, slots=True)
class Retransmission:
    """RFC 8489 6.2.1: the initial RTO, the number of requests Rc and the last wait Rm (in RTOs)."""

    rto: float = 0.5
    rc: int = 7
    rm: int = 16

    def __post_init__(self) -> None:
        if not self.rto > 0 or self.rc < 1 or self.rm < 1:
            raise ValueError(f"RTO must be positive and Rc, Rm at least 1, not {self}")

    @property
    def timeout(self) -> float:
        """Seconds from the first request to giving up."""
        return self.rto * ((1 << (self.rc - 1)) - 1 + self.rm)


class State(enum.Enum):
    WAITING = "Waiting"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes


@dataclass(frozen=True, slots=True)
class Succeeded:
    response: StunMessage


@dataclass(frozen=True, slots=True)
class Failed:
    """An error response (``error`` its ERROR-CODE), or a success response this side must not accept."""

    reason: str
    error: ErrorCode | None = None
    response: StunMessage | None = None


@dataclass(frozen=True, slots=True)
class TimedOut:
    requests: int


Effect = Send | Succeeded | Failed | TimedOut


@dataclass
class BindingTransaction:
    """One request and its retransmissions until an answer or the timeout.

    ``request`` is the message to send (a Binding request unless the caller
    builds another method); ``key`` signs it with MESSAGE-INTEGRITY and then
    every answer must carry a MESSAGE-INTEGRITY that checks with it, unless
    ``unsigned_errors`` lets error responses through without one.
    """

    request: StunMessage = field(default_factory=lambda: StunMessage(Method.BINDING, Class.REQUEST))
    retransmission: Retransmission = field(default_factory=Retransmission)
    key: bytes | None = None
    unsigned_errors: bool = False
    state: State = State.WAITING
    requests_sent: int = 0
    next_deadline: float | None = None
    _interval: float = 0.0
    _wire: bytes = b""

    @property
    def transaction_id(self) -> bytes:
        return self.request.transaction_id

    @property
    def done(self) -> bool:
        return self.state is not State.WAITING

    def start(self, now: float) -> list[Effect]:
        """The first request; the first retransmission is due one RTO later."""
        if self.requests_sent:
            raise RuntimeError("transaction already started")
        self._wire = self.request.encode(self.key)
        self._interval = self.retransmission.rto
        return self._send(now)

    def _send(self, now: float) -> list[Effect]:
        self.requests_sent += 1
        if self.requests_sent < self.retransmission.rc:
            self.next_deadline = now + self._interval
            self._interval *= 2
        else:
            # RFC 8489 6.2.1: after the Rc-th request, wait Rm times the initial RTO.
            self.next_deadline = now + self.retransmission.rm * self.retransmission.rto
        return [Send(self._wire)]

    def on_timer(self, now: float) -> list[Effect]:
        if self.done or self.next_deadline is None or now < self.next_deadline:
            return []
        if self.requests_sent >= self.retransmission.rc:
            self.state = State.TIMED_OUT
            self.next_deadline = None
            return [TimedOut(self.requests_sent)]
        return self._send(self.next_deadline)

    def matches(self, message: StunMessage) -> bool:
        return (
            message.transaction_id == self.transaction_id
            and message.method == self.request.method
            and message.cls in (Class.SUCCESS, Class.ERROR)
        )

    def receive(self, data: bytes, now: float) -> list[Effect]:
        """A datagram that came back; answers to other transactions and garbage are ignored (RFC 8489 6.3)."""
        if self.done:
            return []
        try:
            message = StunMessage.parse(data)
        except StunParseError:
            return []
        return self.receive_message(message, now)

    def receive_message(self, message: StunMessage, now: float) -> list[Effect]:
        if self.done or not self.matches(message):
            return []
        signed_needed = not (self.unsigned_errors and message.cls is Class.ERROR)
        if self.key is not None and signed_needed and not message.check_integrity(self.key):
            return []  # RFC 8489 9.1.4: an answer that fails integrity is dropped, the wait goes on
        self.next_deadline = None
        if message.cls is Class.ERROR:
            self.state = State.FAILED
            error = message.error_code
            reason = "error response without ERROR-CODE" if error is None else f"{error.code} {error.reason}".strip()
            return [Failed(reason, error, message)]
        unknown = message.unknown_required()
        if unknown:
            # RFC 8489 6.3.3: unknown comprehension-required attributes in a success response fail it.
            self.state = State.FAILED
            return [Failed(f"unknown comprehension-required attributes {unknown}", None, message)]
        if message.method == Method.BINDING and message.reflexive_address is None:
            self.state = State.FAILED
            return [Failed("Binding success response without a mapped address", None, message)]
        self.state = State.SUCCEEDED
        return [Succeeded(message)]

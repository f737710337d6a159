"""Which incoming instant messages are message requests, and how many of those the phone takes.

A text MESSAGE (RFC 3428) is from a *known* sender when someone vouches for
its sender (``ServiceHost.verified_identity``) and the user knows that sender:
a contact (through our server a contact's number matches too; directly, where
only the host is proven, the exact URI), or a peer the user accepted or wrote
to. Anything else is a *message request*: stored apart (``from_stranger``),
never under a contact's name, and bounded so strangers cannot fill the disk:

- a body above :data:`MAX_REQUEST_BODY` is refused with 413;
- more than :data:`RATE_PER_MINUTE` from one sender in a minute: 486 Busy Here
  with Retry-After (RFC 3261 20.33 lets a 486 say when to try again). Not 503:
  that would tell the sender's proxy our whole phone is unavailable
  (RFC 3261 21.5.4) and let one stranger's flood turn everybody away; and not
  429, which RFC 6585 defines for another purpose;
- more than :data:`MAX_REQUESTS_PER_SENDER` requests kept from one sender or
  :data:`MAX_REQUESTS` in all: 503 with Retry-After, the store is full for
  strangers until the user accepts or declines some (never answered 200, so
  the sender knows it was not taken).

Messages from known senders pass with only the service's ``max_body``. A user
agent without a store knows no contacts: every sender is held to the size and
rate limits (nothing is kept, so there is no store cap).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from softphone.store import RequestsFull, Store
from softphone.ua.limits import RateLimiter

__all__ = [
    "MAX_REQUESTS",
    "MAX_REQUESTS_PER_SENDER",
    "MAX_REQUEST_BODY",
    "RATE_PER_MINUTE",
    "RequestGate",
    "Sender",
    "Verdict",
]

MAX_REQUEST_BODY = 4 * 1024
"""Largest message request taken (413 above): two pages of text, enough for any first message."""
RATE_PER_MINUTE = 10
"""Messages one unknown sender may send in a minute (486 with Retry-After beyond)."""
MAX_REQUESTS_PER_SENDER = 20
"""Message requests kept from one sender until the user accepts or declines them (503 beyond)."""
MAX_REQUESTS = 100
"""Message requests kept from all senders and accounts together (503 beyond)."""
STORE_FULL_RETRY_AFTER = 600


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a message: ``uri`` (normalised) is the verified identity, else the claimed From."""

    uri: str
    verified: bool
    via_server: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    """A message request's fate: taken (``code`` None), or refused with ``code`` and ``retry_after``."""

    stranger: bool
    code: int | None = None
    reason: str | None = None
    retry_after: int | None = None
    why: str = ""


class RequestGate:
    """The limits of one messaging service (its attributes are read at each message)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.max_request_body = MAX_REQUEST_BODY
        self.max_requests_per_sender = MAX_REQUESTS_PER_SENDER
        self.max_requests = MAX_REQUESTS
        self._clock = clock
        self.rate: RateLimiter | None = RateLimiter.per_minute(RATE_PER_MINUTE)

    def known(self, store: Store | None, account: str, sender: Sender) -> bool:
        if not sender.verified or store is None:
            return False
        if store.messages.is_accepted(account, sender.uri):
            return True
        if sender.via_server:
            return store.contacts.find_by_uri(sender.uri) is not None
        return store.contacts.has_uri(sender.uri)

    def check(self, store: Store | None, account: str, sender: Sender, size: int) -> Verdict:
        """Whether a new message of ``size`` bytes from ``sender`` may be taken (the store caps come
        at the write, :meth:`refused_by_store`)."""
        if self.known(store, account, sender):
            return Verdict(False)
        if size > self.max_request_body:
            reason = f"Message Request Larger Than {self.max_request_body} Bytes"
            return Verdict(True, 413, reason, why="message requests too large")
        wait = self.rate.take(sender.uri, self._clock()) if self.rate is not None else None
        if wait is not None:
            return Verdict(True, 486, None, int(wait + 0.999), why="senders over their rate")
        return Verdict(True)

    def refused_by_store(self, full: RequestsFull) -> Verdict:
        why = "requests of one sender kept" if full.scope == "sender" else "requests kept in all"
        return Verdict(True, 503, "Too Many Message Requests", STORE_FULL_RETRY_AFTER, f"store full ({why})")

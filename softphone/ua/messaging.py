"""Instant messaging: RFC 3428 MESSAGE with the message store, RFC 3994 is-composing both ways.

:class:`MessagingService` is the UA's ``messaging`` attribute.

Sending: :meth:`MessagingService.send` commits the message to the store
(``queued``) before anything goes on the wire, then reports its delivery as
:class:`~softphone.ua.events.MessageStatusEvent` s: ``queued`` → ``sending``
→ ``sent`` (a 2xx) or ``failed`` with the reason (``404 Not Found``,
``timeout`` ...), each also written to the store. Messages to one peer go
out one after another, in the order they were written. While a registering
account is not registered its messages stay queued; they are sent, oldest
first, when its registration succeeds. At construction, messages a previous
run left ``sending`` are put back to ``queued`` (the peer may see such a
message twice: an unanswered MESSAGE cannot be told from a lost one).
A non-registering account (peer to peer) sends its queue on its first
:meth:`~MessagingService.send` or on :meth:`~MessagingService.flush`.

Inside a call: ``send(..., call_id=...)`` sends the MESSAGE in that call's
dialog; without ``call_id`` a MESSAGE always goes outside any dialog, even
when a call with the peer is up (predictable routing, and the message is
not lost when the call ends while it is under way).

Receiving: a ``text/plain`` MESSAGE (charset from Content-Type, UTF-8 when
absent) is committed to the store before the 200 goes out, deduplicated by
sender, Call-ID and CSeq (a retransmission after a lost 200, even across a
restart, is stored once and answered 200 again), and reported as a
:class:`~softphone.ua.events.MessageEvent`. ``application/im-iscomposing+xml``
gives :class:`~softphone.ua.events.ComposingEvent` s and is never stored.
Other types get 415 with Accept, bodies above :attr:`MessagingService.max_body`
413, bodies that cannot be decoded 415 (unknown charset) or 400.

The sender is the verified identity (``ServiceHost.verified_identity``), else
the claimed From. A message whose sender is not verified, or not a contact
(nor accepted, nor written to), is a *message request*
(:mod:`softphone.ua.message_requests`): stored with ``from_stranger``, its
event flagged so, left out of :meth:`~MessagingService.history`,
:meth:`~MessagingService.conversations` and
:meth:`~MessagingService.unread_counts` (``requests=True`` asks for them),
until :meth:`~MessagingService.accept`; and limited in size, rate and number
kept (the settings :attr:`~MessagingService.max_request_body`,
:attr:`~MessagingService.rate_per_minute`,
:attr:`~MessagingService.max_requests_per_sender`,
:attr:`~MessagingService.max_requests`). Refusals are logged as one summary
line a minute.
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import itertools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from softphone.sip.dialog import error_response
from softphone.sip.errors import BodyError, SipParseError
from softphone.sip.iscomposing import ISCOMPOSING_CONTENT_TYPE, build_iscomposing, parse_iscomposing
from softphone.sip.message import Request, Response
from softphone.sip.transaction import LocalResponse, ServerTransaction
from softphone.sip.uri import SipUri, Uri, parse_uri
from softphone.store import Conversation, Message, MessageState, RequestsFull, Store, StoreError, normalise_uri
from softphone.transport import LimitLog, Source
from softphone.ua.account import Account
from softphone.ua.call import Call
from softphone.ua.errors import UserAgentError
from softphone.ua.events import (
    ComposingEvent,
    Event,
    MessageEvent,
    MessageStatus,
    MessageStatusEvent,
    RegistrationEvent,
)
from softphone.ua.limits import REFUSAL_LOG_INTERVAL, RateLimiter
from softphone.ua.message_requests import RequestGate, Sender, Verdict

if TYPE_CHECKING:
    from softphone.ua.host import ServiceHost

__all__ = ["MessagingService"]

log = logging.getLogger("softphone.ua.messaging")

TEXT_PLAIN = "text/plain"
TEXT_CONTENT_TYPE = "text/plain;charset=UTF-8"
ACCEPT = f"{TEXT_PLAIN}, {ISCOMPOSING_CONTENT_TYPE}"
# Largest body taken in (413 above it) and largest text sent: eight pages of text. RFC 3428 meant
# MESSAGE for short texts (longer content belongs in a session, RFC 4975).
MAX_BODY = 16 * 1024
# RFC 3994 3.2: the refresh interval we announce with "active", and when we re-send it while typing.
COMPOSING_REFRESH = 60
COMPOSING_RESEND_AFTER = 50.0
# RFC 3994 3.2: no keystroke for this long and the composer goes idle.
COMPOSING_IDLE = 15.0
# Without a store: how many incoming dedupe keys are remembered.
MEMORY_DEDUPE = 4096
# How long stop() lets MESSAGEs under way get their answers.
STOP_GRACE = 2.0

T = TypeVar("T")


@dataclass(slots=True)
class _Outgoing:
    id: int
    account: Account
    peer: str
    uri: Uri
    text: str
    call_id: str | None = None


@dataclass(slots=True)
class _Composer:
    """Our composing state towards one peer (RFC 3994 3.2)."""

    uri: Uri
    call_id: str | None
    active: bool = False
    last_sent: float = 0.0
    idle_timer: asyncio.TimerHandle | None = None


class MessagingService:
    """Instant messages of a :class:`~softphone.ua.agent.UserAgent` (``ua.messaging``); see the module text."""

    def __init__(self, ua: ServiceHost) -> None:
        self.ua = ua
        self.max_body = MAX_BODY
        self._gate = RequestGate(time.monotonic)
        self._refusals = LimitLog(REFUSAL_LOG_INTERVAL, logger=log)
        self._writer: ThreadPoolExecutor | None = None
        self._ids = itertools.count(1)
        self._registered: set[str] = set()
        self._flushed: set[str] = set()
        self._held: dict[str, list[_Outgoing]] = {}
        self._lanes: dict[tuple[str, str], collections.deque[_Outgoing]] = {}
        self._lane_tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._inflight: set[int] = set()
        self._settled: set[int] = set()
        self._receiving: set[asyncio.Task[None]] = set()
        self._seen: collections.OrderedDict[tuple[str, str, str, int], None] = collections.OrderedDict()
        self._composers: dict[tuple[str, str], _Composer] = {}
        self._peer_typing: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._no_composing: set[tuple[str, str]] = set()
        self._closing = False
        if ua.store is not None:
            try:
                count = ua.store.messages.requeue_interrupted()
            except StoreError as exc:
                log.warning("cannot requeue the messages of the last run: %s", exc)
            else:
                if count:
                    log.info("%d message(s) interrupted by the last run are queued again", count)
        ua.add_request_handler("MESSAGE", self._on_message)
        ua.subscribe(self._on_event)
        ua.add_closer(self._close)
        ua.add_account_hooks(self._account_added, self._account_removed)

    # --- limits on message requests (see softphone.ua.message_requests) ------------------------

    @property
    def max_request_body(self) -> int:
        """Largest message request taken, in bytes (413 above)."""
        return self._gate.max_request_body

    @max_request_body.setter
    def max_request_body(self, value: int) -> None:
        self._gate.max_request_body = value

    @property
    def rate_per_minute(self) -> int | None:
        """Messages one unknown sender may send in a minute (486 with Retry-After beyond; None: no limit)."""
        rate = self._gate.rate
        return None if rate is None else int(rate.burst)

    @rate_per_minute.setter
    def rate_per_minute(self, value: int | None) -> None:
        self._gate.rate = None if value is None else RateLimiter.per_minute(value)

    @property
    def max_requests_per_sender(self) -> int:
        """Message requests kept from one sender (503 with Retry-After beyond)."""
        return self._gate.max_requests_per_sender

    @max_requests_per_sender.setter
    def max_requests_per_sender(self, value: int) -> None:
        self._gate.max_requests_per_sender = value

    @property
    def max_requests(self) -> int:
        """Message requests kept in all (503 with Retry-After beyond)."""
        return self._gate.max_requests

    @max_requests.setter
    def max_requests(self, value: int) -> None:
        self._gate.max_requests = value

    # --- commands ---------------------------------------------------------------------------

    async def send(self, uri: str, text: str, account: str | None = None, *, call_id: str | None = None) -> int:
        """Write ``text`` to ``uri`` (``sip:bob@example.com``, ``bob@example.com`` or ``bob``); returns its id.

        The message is on disk (``queued``) when this returns; delivery goes on in the
        background and is reported by :class:`~softphone.ua.events.MessageStatusEvent` s.
        With ``call_id`` (a call's short id or SIP Call-ID) it goes in that call's dialog,
        to the call's peer (``uri`` may then be empty). Raises
        :class:`~softphone.ua.errors.UserAgentError` for an unknown account or call, a bad
        address, an empty or too long text, or a store that cannot be written.
        """
        if self._closing:
            raise _error("the user agent is stopping")
        call: Call | None = None
        if call_id is not None:
            call = self.ua.find_call(call_id)
            acc = call.account
            target: Uri = call.remote.uri
        else:
            acc = self.ua.account(account)
            target = self._target(uri, acc)
        if not text:
            raise _error("an empty message is not sent")
        if len(text.encode("utf-8")) > self.max_body:
            raise _error(f"the message is longer than {self.max_body} bytes")
        peer = normalise_uri(str(target))
        self._typing_stopped(acc.aor, peer)
        store = self.ua.store
        if store is not None:
            try:
                stored = await self._write(store.messages.add_outgoing, acc.aor, peer, text)
            except (StoreError, OSError) as exc:
                raise _error(f"cannot store the message: {exc}") from exc
            message_id = stored.id
        else:
            message_id = next(self._ids)
        item = _Outgoing(message_id, acc, peer, target, text, call.id if call is not None else None)
        self._status(item, "queued")
        if call is not None:
            self._enqueue(item)
        elif self._ready(acc):
            if acc.aor not in self._flushed:
                await self.flush(acc.aor)
            self._enqueue(item)
        else:
            self._held.setdefault(acc.aor, []).append(item)
        return message_id

    async def flush(self, account: str | None = None) -> int:
        """Send the queued messages of ``account`` (every account when None) that can go now; returns how many.

        Runs by itself when a registering account registers; for an account that does not
        register, on its first :meth:`send`.
        """
        accounts = [self.ua.account(account)] if account is not None else list(self.ua.accounts)
        count = 0
        for acc in accounts:
            if self._ready(acc):
                count += await self._flush(acc)
        return count

    async def composing(
        self, uri: str, active: bool, account: str | None = None, *, call_id: str | None = None
    ) -> None:
        """Tell ``uri`` that we are typing (``active``, call it on every keystroke) or stopped (RFC 3994).

        "active" goes out at once and then at most every 50 s while keystrokes keep coming
        (with refresh=60); "idle" goes out 15 s after the last keystroke or when ``active``
        is False. Sending a message ends the active state without an "idle" document: the
        message itself tells the peer (RFC 3994 3.3). Nothing is queued: while the account is
        not registered, or to a peer that answered 415 to one, nothing is sent.
        """
        call: Call | None = None
        if call_id is not None:
            call = self.ua.find_call(call_id)
            acc = call.account
            target: Uri = call.remote.uri
        else:
            acc = self.ua.account(account)
            target = self._target(uri, acc)
        peer = normalise_uri(str(target))
        key = (acc.aor, peer)
        composer = self._composers.get(key)
        if composer is None:
            composer = self._composers[key] = _Composer(target, call.id if call is not None else None)
        if composer.idle_timer is not None:
            composer.idle_timer.cancel()
            composer.idle_timer = None
        if active:
            composer.idle_timer = self.ua.call_later(COMPOSING_IDLE, self._went_idle, key)
            now = self.ua.now()
            if not composer.active or now - composer.last_sent >= COMPOSING_RESEND_AFTER:
                composer.active = True
                composer.last_sent = now
                self._send_composing(acc, key, composer, True)
        elif composer.active:
            composer.active = False
            self._send_composing(acc, key, composer, False)

    # --- history (delegates to the store; safe from any thread) --------------------------------

    def history(
        self,
        uri: str,
        before_id: int | None = None,
        limit: int = 50,
        account: str | None = None,
        *,
        requests: bool | None = False,
    ) -> list[Message]:
        """The newest ``limit`` messages with ``uri`` older than ``before_id``, oldest first ([] without a store).

        Message requests are left out; ``requests=True`` gives only them, None everything.
        """
        store, acc = self.ua.store, self.ua.account(account)
        if store is None:
            return []
        return store.messages.page(acc.aor, self._peer(uri, acc), before_id, limit, requests=requests)

    def conversations(self, account: str | None = None, *, requests: bool | None = False) -> list[Conversation]:
        """One entry per peer with its last message and unread count, newest first (``requests``: as
        :meth:`history`; True lists the message requests, one entry per sender)."""
        store, acc = self.ua.store, self.ua.account(account)
        return [] if store is None else store.messages.conversations(acc.aor, requests=requests)

    def unread_counts(self, account: str | None = None, *, requests: bool | None = False) -> dict[str, int]:
        """Unread incoming messages per peer (normalised URI); ``requests`` as :meth:`history`."""
        store, acc = self.ua.store, self.ua.account(account)
        return {} if store is None else store.messages.unread_counts(acc.aor, requests=requests)

    def requests(self, account: str | None = None) -> list[Conversation]:
        """The message requests waiting for the user, one entry per sender, newest first."""
        return self.conversations(account, requests=True)

    def accept(self, uri: str, account: str | None = None) -> int:
        """Accept ``uri``'s message requests into the conversations (and its later messages, once its
        identity is verified); returns how many messages were requests."""
        store, acc = self.ua.store, self.ua.account(account)
        return 0 if store is None else store.messages.accept(acc.aor, self._peer(uri, acc))

    def decline(self, uri: str, account: str | None = None) -> int:
        """Delete ``uri``'s message requests; returns how many."""
        store, acc = self.ua.store, self.ua.account(account)
        return 0 if store is None else store.messages.decline(acc.aor, self._peer(uri, acc))

    def mark_read(self, uri: str, account: str | None = None, up_to_id: int | None = None) -> int:
        """Mark the conversation with ``uri`` read (up to ``up_to_id``); returns how many messages changed."""
        store, acc = self.ua.store, self.ua.account(account)
        if store is None:
            return 0
        return store.messages.mark_read(acc.aor, self._peer(uri, acc), up_to_id)

    def search(self, text: str, account: str | None = None, limit: int = 200) -> list[Message]:
        """Messages of the account containing ``text`` (case-insensitive), newest first."""
        store, acc = self.ua.store, self.ua.account(account)
        return [] if store is None else store.messages.search(text, acc.aor, limit)

    # --- sending ----------------------------------------------------------------------------------

    def _target(self, text: str, account: Account) -> Uri:
        return self.ua.target_uri(text, account, "write to")

    def _peer(self, uri: str, account: Account) -> str:
        try:
            return normalise_uri(str(self._target(uri, account)))
        except Exception:
            return normalise_uri(uri)

    def _ready(self, account: Account) -> bool:
        return not account.register or account.aor in self._registered

    def _account_added(self, account: Account) -> None:
        # Messages written to an edited account's peers go out with its new settings.
        for item in self._held.get(account.aor, []):
            item.account = account
        if not account.register and self._held.get(account.aor):
            self.ua.spawn(self._flush(account), name=f"message queue of {account.aor}")

    async def _account_removed(self, account: Account) -> None:
        self._registered.discard(account.aor)

    def _on_event(self, event: Event) -> None:
        if not isinstance(event, RegistrationEvent):
            return
        if event.state != "registered":
            self._registered.discard(event.account)
            return
        self._registered.add(event.account)
        try:
            account = self.ua.account(event.account)
        except Exception:
            return
        self.ua.spawn(self._flush(account), name=f"message queue of {account.aor}")

    async def _flush(self, account: Account) -> int:
        self._flushed.add(account.aor)
        held = {item.id: item for item in self._held.pop(account.aor, [])}
        store = self.ua.store
        items: list[_Outgoing] = []
        if store is not None:
            try:
                queued = await self._write(store.messages.queued, account.aor)
            except (StoreError, OSError) as exc:
                log.warning("cannot read the message queue of %s: %s", account.aor, exc)
                queued = []
            for message in queued:
                item = held.pop(message.id, None)
                if item is None:
                    try:
                        uri = parse_uri(message.peer)
                    except SipParseError:
                        await self._settle_failed(message.id, account, message.peer, "bad address")
                        continue
                    item = _Outgoing(message.id, account, message.peer, uri, message.text)
                items.append(item)
        items += sorted(held.values(), key=lambda i: i.id)
        count = 0
        for item in items:
            count += self._enqueue(item)
        return count

    def _enqueue(self, item: _Outgoing) -> bool:
        if item.id in self._inflight or item.id in self._settled:
            return False
        self._inflight.add(item.id)
        key = (item.account.aor, item.peer)
        self._lanes.setdefault(key, collections.deque()).append(item)
        if key not in self._lane_tasks:
            self._lane_tasks[key] = self.ua.spawn(self._drain(key), name=f"messages to {item.peer}")
        return True

    async def _drain(self, key: tuple[str, str]) -> None:
        lane = self._lanes[key]
        try:
            while lane:
                item = lane[0]
                try:
                    await self._deliver(item)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("sending message %d failed", item.id)
                finally:
                    lane.popleft()
                    self._inflight.discard(item.id)
        finally:
            self._lane_tasks.pop(key, None)
            if not lane:
                self._lanes.pop(key, None)

    async def _deliver(self, item: _Outgoing) -> None:
        await self._set_state(item, "sending")
        body = item.text.encode("utf-8")
        response: Response | None = None
        problem = ""
        try:
            if item.call_id is not None:
                call = self.ua.find_call(item.call_id)
                if call.dialog is None or not call.confirmed:
                    raise _error(f"call {call.id} is not established")
                response = await self.ua.request_in_dialog(
                    call.account, call.dialog, "MESSAGE", body=body, content_type=TEXT_CONTENT_TYPE
                )
            else:
                _, response = await self.ua.request_out_of_dialog(
                    item.account, "MESSAGE", item.uri, body=body, content_type=TEXT_CONTENT_TYPE
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # UserAgentError: no route, call gone
            problem = str(exc) or type(exc).__name__
        self._settled.add(item.id)
        if response is not None and 200 <= response.status_code < 300:
            await self._set_state(item, "sent", response.status_code, response.reason)
        elif response is not None:
            await self._set_state(item, "failed", *_failure(response))
        else:
            await self._set_state(item, "failed", None, problem)

    async def _set_state(
        self, item: _Outgoing, status: MessageStatus, code: int | None = None, reason: str | None = None
    ) -> None:
        store = self.ua.store
        if store is not None:
            stored_reason = None if status != "failed" else (f"{code} {reason}" if code is not None else reason)
            try:
                await self._write(store.messages.set_state, item.id, MessageState(status), stored_reason)
            except (StoreError, OSError) as exc:
                log.warning("cannot store the state of message %d: %s", item.id, exc)
        self._status(item, status, code, reason)

    async def _settle_failed(self, message_id: int, account: Account, peer: str, reason: str) -> None:
        item = _Outgoing(message_id, account, peer, SipUri(host="invalid"), "")
        self._settled.add(message_id)
        await self._set_state(item, "failed", None, reason)

    def _status(
        self, item: _Outgoing, status: MessageStatus, code: int | None = None, reason: str | None = None
    ) -> None:
        self.ua.emit(MessageStatusEvent(item.id, item.peer, status, code, reason or None))

    def _send_composing(self, account: Account, key: tuple[str, str], composer: _Composer, active: bool) -> None:
        if key in self._no_composing or (composer.call_id is None and not self._ready(account)):
            return
        if active:
            body = build_iscomposing("active", contenttype=TEXT_PLAIN, refresh=COMPOSING_REFRESH)
        else:
            body = build_iscomposing("idle", contenttype=TEXT_PLAIN)
        self.ua.spawn(self._post_composing(account, key, composer, body), name=f"is-composing to {key[1]}")

    async def _post_composing(self, account: Account, key: tuple[str, str], composer: _Composer, body: bytes) -> None:
        try:
            if composer.call_id is not None:
                call = self.ua.find_call(composer.call_id)
                if call.dialog is None:
                    return
                response = await self.ua.request_in_dialog(
                    call.account, call.dialog, "MESSAGE", body=body, content_type=ISCOMPOSING_CONTENT_TYPE
                )
            else:
                _, response = await self.ua.request_out_of_dialog(
                    account, "MESSAGE", composer.uri, body=body, content_type=ISCOMPOSING_CONTENT_TYPE
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("is-composing to %s not sent: %s", key[1], exc)
            return
        if response.status_code == 415:
            # RFC 3994 3.2: a peer that does not take the status messages gets no more of them.
            self._no_composing.add(key)
        elif response.status_code >= 300:
            log.info("is-composing to %s: %d %s", key[1], response.status_code, response.reason)

    def _went_idle(self, key: tuple[str, str]) -> None:
        composer = self._composers.get(key)
        if composer is None:
            return
        composer.idle_timer = None
        if composer.active:
            composer.active = False
            try:
                account = self.ua.account(key[0])
            except Exception:
                return
            self._send_composing(account, key, composer, False)

    def _typing_stopped(self, aor: str, peer: str) -> None:
        composer = self._composers.pop((aor, peer), None)
        if composer is not None and composer.idle_timer is not None:
            composer.idle_timer.cancel()

    # --- receiving ---------------------------------------------------------------------------------

    def _on_message(self, request: Request, tx: ServerTransaction, source: Source, account: Account) -> bool:
        ua = self.ua
        if self._closing:
            # Stopping: the store is about to close; the sender may try again later.
            ua.reply(tx, 503, headers=[("Retry-After", "30")])
            return True
        try:
            identity = ua.verified_identity(request, source, account)
            sender = normalise_uri(identity if identity is not None else str(request.from_.uri))
            call_id = request.call_id
            cseq = request.cseq.seq
            content_type = request.content_type
            in_dialog = request.to.tag is not None
        except SipParseError as exc:
            log.info("bad MESSAGE from %s: %s", source, exc)
            ua.reply(tx, 400, _reason(str(exc)))
            return True
        who = Sender(sender, identity is not None, ua.from_server(source, account))
        call: Call | None = None
        if in_dialog:
            call = self._call_of(request)
            if call is None or call.dialog is None:
                ua.reply(tx, 481)
                return True
            try:
                code = call.dialog.receive_request(request)
            except ValueError:
                code = 481
            if code is not None:
                ua.respond(tx, error_response(request, code))
                return True
        body = request.body
        if len(body) > self.max_body:
            ua.reply(tx, 413, f"Message Larger Than {self.max_body} Bytes")
            return True
        mime = content_type.mime if content_type is not None else None
        if not body and mime is None:
            log.info("empty MESSAGE from %s answered and dropped", sender)
            ua.reply(tx, 200)
            return True
        if mime == ISCOMPOSING_CONTENT_TYPE:
            assert content_type is not None
            self._on_composing(request, tx, account, sender, content_type.param("charset"))
            return True
        if mime != TEXT_PLAIN or content_type is None:
            ua.reply(tx, 415, headers=[("Accept", ACCEPT)])
            return True
        charset = content_type.param("charset") or "utf-8"
        try:
            codec = codecs.lookup(charset).name
            text = body.decode("utf-8-sig" if codec == "utf-8" else codec)
        except LookupError:
            ua.reply(tx, 415, _reason(f"Unsupported Charset {charset}"), headers=[("Accept", TEXT_CONTENT_TYPE)])
            return True
        except UnicodeDecodeError:
            ua.reply(tx, 400, _reason(f"Body Is Not Valid {charset}"))
            return True
        task = ua.spawn(
            self._receive(tx, account, who, text, len(body), call_id, cseq, call.id if call is not None else None),
            name=f"MESSAGE from {sender}",
        )
        self._receiving.add(task)
        task.add_done_callback(self._receiving.discard)
        return True

    async def _receive(
        self,
        tx: ServerTransaction,
        account: Account,
        who: Sender,
        text: str,
        size: int,
        call_id: str,
        cseq: int,
        ua_call_id: str | None,
    ) -> None:
        store = self.ua.store
        sender = who.uri
        when = time.time()
        message_id: int | None = None
        if store is not None:
            try:
                # Committed before the 200 goes out: what the sender saw accepted survives a crash.
                outcome = await self._write(self._take, store, account, who, text, size, call_id, cseq, when)
            except Exception as exc:
                log.warning("cannot store a MESSAGE from %s: %s", sender, exc)
                self.ua.reply(tx, 500, "Cannot Store The Message", headers=[("Retry-After", "5")])
                return
            if isinstance(outcome, Verdict):
                self._refuse(tx, outcome)
                return
            message, new = outcome
            message_id, when, stranger = message.id, message.time, message.from_stranger
        else:
            key = (account.aor, sender, call_id, cseq)
            new = key not in self._seen
            verdict = self._gate.check(None, account.aor, who, size) if new else Verdict(False)
            if verdict.code is not None:
                self._refuse(tx, verdict)
                return
            stranger = verdict.stranger
            self._seen[key] = None
            if len(self._seen) > MEMORY_DEDUPE:
                self._seen.popitem(last=False)
        self.ua.reply(tx, 200)
        if not new:
            log.info("MESSAGE from %s (Call-ID %s, CSeq %d) was stored already", sender, call_id, cseq)
            return
        # RFC 3994 3.3: a content message ends the sender's active composing state.
        self._peer_composing(account.aor, sender, False, 0)
        self.ua.emit(MessageEvent(sender, text, when, account.aor, message_id, ua_call_id, stranger))

    def _take(
        self,
        store: Store,
        account: Account,
        who: Sender,
        text: str,
        size: int,
        call_id: str,
        cseq: int,
        when: float,
    ) -> tuple[Message, bool] | Verdict:
        """On the writer thread: a message already stored, the message stored now, or why it is refused."""
        stored = store.messages.find_incoming(account.aor, who.uri, call_id, cseq)
        if stored is not None:
            return stored, False
        verdict = self._gate.check(store, account.aor, who, size)
        if verdict.code is not None:
            return verdict
        try:
            return store.messages.add_incoming(
                account.aor,
                who.uri,
                text,
                call_id=call_id,
                cseq=cseq,
                time=when,
                from_stranger=verdict.stranger,
                max_per_peer=self._gate.max_requests_per_sender,
                max_total=self._gate.max_requests,
            )
        except RequestsFull as full:
            return self._gate.refused_by_store(full)

    def _refuse(self, tx: ServerTransaction, verdict: Verdict) -> None:
        assert verdict.code is not None
        self._refusals.note(f"incoming MESSAGEs refused: {verdict.why}")
        headers = [("Retry-After", str(verdict.retry_after))] if verdict.retry_after is not None else []
        self.ua.reply(tx, verdict.code, verdict.reason, headers=headers)

    def _call_of(self, request: Request) -> Call | None:
        tag = request.to.tag
        for call in self.ua.calls:
            dialog = call.dialog
            if dialog is not None and dialog.call_id == request.call_id and dialog.local_tag == tag:
                return call
        return None

    def _on_composing(
        self, request: Request, tx: ServerTransaction, account: Account, sender: str, charset: str | None
    ) -> None:
        try:
            document = parse_iscomposing(request.body, charset, max_size=self.max_body)
        except BodyError as exc:
            log.info("bad is-composing body from %s: %s", sender, exc)
            self.ua.reply(tx, 400, _reason(f"Bad is-composing Body: {exc}"))
            return
        self.ua.reply(tx, 200)
        self._peer_composing(account.aor, sender, document.active, document.expires_after)

    def _peer_composing(self, aor: str, peer: str, active: bool, expires: float) -> None:
        key = (aor, peer)
        timer = self._peer_typing.pop(key, None)
        if timer is not None:
            timer.cancel()
        if active:
            # RFC 3994 3.3: "active" lapses after its refresh interval (120 s without one).
            self._peer_typing[key] = self.ua.call_later(expires, self._peer_lapsed, key)
        if active != (timer is not None):
            self.ua.emit(ComposingEvent(peer, active, aor))

    def _peer_lapsed(self, key: tuple[str, str]) -> None:
        if self._peer_typing.pop(key, None) is not None:
            self.ua.emit(ComposingEvent(key[1], False, key[0]))

    # --- plumbing ---------------------------------------------------------------------------------

    async def _write(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call on the messaging thread: one at a time, in order, off the loop (each commit syncs)."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="messages")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, lambda: function(*args, **kwargs))

    async def _close(self) -> None:
        self._closing = True
        for composer in self._composers.values():
            if composer.idle_timer is not None:
                composer.idle_timer.cancel()
        self._composers.clear()
        for timer in self._peer_typing.values():
            timer.cancel()
        self._peer_typing.clear()
        if self._receiving:
            await asyncio.gather(*list(self._receiving), return_exceptions=True)
        tasks = list(self._lane_tasks.values())
        if tasks:
            # Messages under way get a moment for their answers; what is left stays "sending" and is requeued.
            _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        writer, self._writer = self._writer, None
        if writer is not None:
            await asyncio.get_running_loop().run_in_executor(None, writer.shutdown)


def _failure(response: Response) -> tuple[int | None, str]:
    if isinstance(response, LocalResponse):
        return None, "timeout" if response.status_code == 408 else "transport failure"
    return response.status_code, response.reason


def _reason(text: str) -> str:
    """A reason phrase: one line, printable, not too long."""
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    return cleaned[:100] or "Bad Request"


def _error(message: str) -> Exception:
    return UserAgentError(message)

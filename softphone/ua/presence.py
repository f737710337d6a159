"""Presence (RFC 3856) and the buddy list, over PIDF (RFC 3863) with RPID activities (RFC 4480).

:class:`PresenceService` is the user agent's ``presence`` attribute. It keeps

- **our own state** (:meth:`PresenceService.set_status`, :meth:`PresenceService.set_idle`):
  published with PUBLISH (RFC 3903) to the account's presence server when
  the account has a server (it registers or has an outbound proxy). While a
  call is confirmed (or held) the activity published is ``on-the-phone``;
  while the user is idle a plain "open" state becomes ``away``; a state
  the user set to ``closed`` is never overridden. Each change is emitted as a
  :class:`~softphone.ua.events.PresenceEvent` whose ``uri`` is the account's
  AOR. The publication is withdrawn at ``ua.stop()``.
- **the presence we serve ourselves** when there is no presence server: for a
  peer-to-peer account (no registrar use, no outbound proxy) and for an
  account whose PUBLISH came back "unsupported" (403/404/405/489/501), the
  ``presence`` event package is registered with ``ua.subscriptions``; its
  body is our PIDF and every change is notified to the active watchers.
  Watchers are authorised (RFC 3856 6.6) by ``ua.subscriptions.watchers``
  (:mod:`softphone.ua.watchers`): a *verified* watcher in the buddy list (a
  store contact or a watched buddy) or allowed before is active, a blocked
  one is refused with 403, any other (an unverified claim to be a buddy too)
  is held pending with nothing revealed (stored as such and reported as a
  ``WatcherEvent(state="pending")``) until :meth:`PresenceService.allow` or
  :meth:`PresenceService.block`.
- **the buddies** (:meth:`PresenceService.watch`): one presence subscription
  each (Accept: application/pidf+xml), every NOTIFY body reported as a
  ``PresenceEvent`` and every subscription state change as a
  ``SubscriptionEvent``. SUBSCRIBEs are paced: at most
  :data:`MAX_IN_FLIGHT` wait for their first answer at any time, so loading
  1,000 buddies does not send 1,000 requests at once. A malformed PIDF body
  (bad XML, an XML bomb, an oversized document) is answered 200 and ignored
  with one log line: a failure response would end the subscription
  (RFC 6665 4.2.2), and the notifier's next NOTIFY may well be good. A NOTIFY
  of an active subscription without a body means the presentity has no
  published state: the buddy is shown ``closed``; so is a buddy whose
  notifier ended the subscription with ``noresource`` (it went away).
- **the direct fallback**: a server account whose SUBSCRIBE got 405, 489 or
  501 (the server serves no presence) retries once straight at the buddy's
  URI, but only when that URI names a host and port of its own (not the
  account's domain, registrar or proxy, which would take the request to the
  same server again) — typically a buddy on the LAN with an IP address.

Buddies are loaded from the store's contacts that have ``subscribe_presence``
set (their SIP URIs) by :meth:`PresenceService.load_buddies`, which runs by
itself when an account first registers; an application whose accounts are
all peer-to-peer calls it after ``ua.start()``. The same first registration
publishes the state we have (``open`` unless the user set another).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from softphone.sip.errors import BodyError, SipParseError
from softphone.sip.message import Request
from softphone.sip.pidf import PIDF_CONTENT_TYPE, build_pidf, parse_pidf
from softphone.sip.uri import AbsoluteUri, SipUri, Uri, parse_uri
from softphone.store.uris import normalise_uri
from softphone.ua.account import Account
from softphone.ua.events import (
    CallEvent,
    Event,
    PresenceEvent,
    RegistrationEvent,
    SubscriptionEvent,
)
from softphone.ua.publication import Publication
from softphone.ua.subscription import Decision, ServerSubscription, Subscription

if TYPE_CHECKING:
    from softphone.ua.host import ServiceHost

__all__ = ["MAX_IN_FLIGHT", "BuddyState", "OwnStatus", "PresenceService"]

log = logging.getLogger(__name__)

PRESENCE = "presence"
Basic = Literal["open", "closed"]
BuddyBasic = Literal["open", "closed", "unknown"]
SubscriptionStateName = Literal["queued", "init", "pending", "active", "terminated"]

MAX_IN_FLIGHT = 16
"""SUBSCRIBEs waiting for their first answer at any one time."""
FIRST_ANSWER_TIMEOUT = 40.0
LOAD_BATCH = 50
SUBSCRIBE_EXPIRES = 3600
PUBLISH_EXPIRES = 3600
STOP_GRACE = 3.0
# Server answers that mean "no presence service here" (RFC 6665 4.1.2.1, RFC 3261 21.4.6).
NO_PRESENCE_SERVICE = frozenset({405, 489, 501})
_IN_CALL = frozenset({"confirmed", "held"})


@dataclass(frozen=True, slots=True)
class OwnStatus:
    """What the user chose to show: RFC 3863 basic status, RFC 4480 activity and a note."""

    basic: Basic = "open"
    activity: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class BuddyState:
    """A watched buddy's live state as :meth:`PresenceService.buddies` reports it."""

    uri: str
    basic: BuddyBasic
    activity: str | None
    note: str | None
    subscription: SubscriptionStateName
    reason: str | None = None
    account: str = ""
    direct: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(eq=False)
class _Buddy:
    uri: Uri
    key: str
    account: Account
    basic: BuddyBasic = "unknown"
    activity: str | None = None
    note: str | None = None
    sub: Subscription | None = None
    queued: bool = True
    direct: bool = False
    answered: asyncio.Event | None = None
    removed: bool = False

    def state(self) -> BuddyState:
        subscription: SubscriptionStateName = "queued" if self.sub is None else self.sub.state
        return BuddyState(
            uri=str(self.uri),
            basic=self.basic,
            activity=self.activity,
            note=self.note,
            subscription=subscription,
            reason=None if self.sub is None else self.sub.reason,
            account=self.account.aor,
            direct=self.direct,
        )


class _PresencePackage:
    """The ``presence`` event package we serve ourselves (RFC 3856)."""

    name = PRESENCE
    default_expires = SUBSCRIBE_EXPIRES

    def __init__(self, service: PresenceService) -> None:
        self._service = service

    def authorize(self, subscription: ServerSubscription) -> Decision:
        return self._service._authorize(subscription)

    def state_body(self, subscription: ServerSubscription) -> tuple[str, bytes] | None:
        return PIDF_CONTENT_TYPE, self._service._pidf(subscription.account)


class PresenceService:
    """Our presence, the buddy list and the watchers of one :class:`~softphone.ua.agent.UserAgent`.

    See the module documentation for the behaviour; every method runs on the UA's loop.
    """

    def __init__(self, ua: ServiceHost) -> None:
        self._ua = ua
        self._own: dict[str, OwnStatus] = {}
        self._shown: dict[str, tuple[Basic, str | None, str | None]] = {}
        self._idle = False
        self._in_call = False
        self._publications: dict[str, Publication] = {}
        self._publishing: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._serving: set[str] = set()
        self._package: _PresencePackage | None = None
        self._buddies: dict[str, _Buddy] = {}
        self._queue: asyncio.Queue[_Buddy] | None = None
        self._pacers: list[asyncio.Task[None]] = []
        self._online: set[str] = set()
        self._registered: set[str] = set()
        self._loaded = False
        self._closing = False
        self._tuple_id = f"t{secrets.token_hex(4)}"
        # The buddies of an account taken away, watched again if it comes back (an edited account).
        self._rewatch: dict[str, list[str]] = {}
        ua.subscribe(self._on_event)
        # A buddy watched before the phone started (a LAN account never registers) is subscribed once it has.
        ua.add_starter(self._start_pacers)
        ua.add_closer(self._close)
        ua.add_account_hooks(self._account_added, self._account_removed)
        ua.subscriptions.watchers.add_buddies(self._buddies.__contains__)
        for account in ua.accounts:
            if _peer_to_peer(account):
                self._serve(account)

    # --- our own state -----------------------------------------------------------------

    def status(self, account: str | None = None) -> OwnStatus:
        """The state the user chose for ``account`` (the first account by default)."""
        return self._own.get(self._ua.account(account).aor, OwnStatus())

    def shown(self, account: str | None = None) -> OwnStatus:
        """The state actually published for ``account``: the chosen one with on-the-phone and idle applied."""
        basic, activity, note = self._effective(self._ua.account(account))
        return OwnStatus(basic, activity, note)

    def set_status(
        self,
        basic: Basic = "open",
        activity: str | None = None,
        note: str | None = None,
        account: str | None = None,
    ) -> None:
        """Show ``basic`` (``open``/``closed``) with an RFC 4480 ``activity`` (``away``, ``busy``,
        ``meeting`` …; another word is sent as ``<rpid:other>``) and a ``note``, on ``account``
        (every account when None). Published (or notified to our watchers) at once.
        """
        if basic not in ("open", "closed"):
            raise ValueError(f"basic status must be 'open' or 'closed', not {basic!r}")
        status = OwnStatus(basic, activity or None, note or None)
        accounts = [self._ua.account(account)] if account is not None else list(self._ua.accounts)
        for acc in accounts:
            self._own[acc.aor] = status
            self._online.add(acc.aor)
            self._changed(acc, force=True)

    def set_idle(self, idle: bool) -> None:
        """The user is idle (or back): an "open" state without activity is shown as ``away`` meanwhile."""
        if idle != self._idle:
            self._idle = idle
            self._changed_all()

    def _effective(self, account: Account) -> tuple[Basic, str | None, str | None]:
        own = self._own.get(account.aor, OwnStatus())
        if own.basic == "closed":
            return own.basic, own.activity, own.note
        if self._in_call:
            return own.basic, "on-the-phone", own.note
        if self._idle and own.activity is None:
            return own.basic, "away", own.note
        return own.basic, own.activity, own.note

    def _changed_all(self) -> None:
        for account in self._ua.accounts:
            if account.aor in self._online or account.aor in self._own or account.aor in self._serving:
                self._changed(account)

    def _changed(self, account: Account, *, force: bool = False) -> None:
        shown = self._effective(account)
        if not force and self._shown.get(account.aor) == shown:
            return
        self._shown[account.aor] = shown
        basic, activity, note = shown
        self._ua.emit(PresenceEvent(account.aor, basic, activity, note, account.aor))
        if account.aor in self._serving:
            self._ua.subscriptions.notify_package(PRESENCE, account)
        if _has_server(account) and not self._closing and self._running():
            self._publish(account)

    def _running(self) -> bool:
        return self._ua.running

    def _pidf(self, account: Account) -> bytes:
        basic, activity, note = self._effective(account)
        return build_pidf(account.aor, basic, activity, note, tuple_id=self._tuple_id, contact=self._contact(account))

    def _contact(self, account: Account) -> str:
        if account.register:
            contact = self._ua.registration_contact(account.aor)
            if contact is not None:
                return str(contact.uri)
        return account.aor

    # --- PUBLISH -----------------------------------------------------------------------

    def _publication(self, account: Account) -> Publication:
        publication = self._publications.get(account.aor)
        if publication is None:
            publication = Publication(
                self._ua, account, PRESENCE, PIDF_CONTENT_TYPE, expires=PUBLISH_EXPIRES, on_state=self._published
            )
            self._publications[account.aor] = publication
        return publication

    def _publish(self, account: Account) -> None:
        """Publish the current state; changes made while a PUBLISH is out are coalesced into the next one."""
        self._dirty.add(account.aor)
        task = self._publishing.get(account.aor)
        if task is None or task.done():
            self._publishing[account.aor] = self._ua.spawn(
                self._publish_loop(account), name=f"PUBLISH presence {account.aor}"
            )

    async def _publish_loop(self, account: Account) -> None:
        publication = self._publication(account)
        while account.aor in self._dirty and not self._closing:
            self._dirty.discard(account.aor)
            state = await publication.publish(self._pidf(account))
            if state == "unsupported":
                log.info(
                    "presence server of %s refuses PUBLISH (%s %s); serving our presence ourselves",
                    account.aor,
                    publication.code,
                    publication.reason,
                )
                self._serve(account)
                return

    def _published(self, publication: Publication) -> None:
        log.debug("presence publication of %s: %s", publication.account.aor, publication.state)

    # --- the presence we serve ---------------------------------------------------------

    def _serve(self, account: Account) -> None:
        if self._package is None:
            self._package = _PresencePackage(self)
            self._ua.subscriptions.register_package(self._package)
            self._ua.subscriptions.watchers.serve(PRESENCE)
        if account.aor not in self._serving:
            self._serving.add(account.aor)
            self._ua.subscriptions.notify_package(PRESENCE, account)

    def serving(self, account: str | None = None) -> bool:
        """Whether we serve ``account``'s presence ourselves (peer to peer, or no PUBLISH at the server)."""
        return self._ua.account(account).aor in self._serving

    def _authorize(self, served: ServerSubscription) -> Decision:
        return self._ua.subscriptions.watchers.authorize(served)

    def allow(self, uri: str, account: str | None = None) -> None:
        """Let ``uri`` see our presence (and busy lamp): stored, and its pending subscriptions become active."""
        self._ua.subscriptions.watchers.allow(uri, account)

    def block(self, uri: str, account: str | None = None) -> None:
        """Never show ``uri`` our presence (nor busy lamp): stored, and its subscriptions end (``rejected``)."""
        self._ua.subscriptions.watchers.block(uri, account)

    def pending_watchers(self, account: str | None = None) -> list[str]:
        """Watchers of ``account`` waiting for the user's allow or block, oldest first."""
        return self._ua.subscriptions.watchers.pending(account)

    # --- buddies -----------------------------------------------------------------------

    def watch(self, uri: str, account: str | None = None) -> BuddyState:
        """Subscribe to the presence of ``uri`` (``sip:bob@example.com``, ``bob@example.com`` or ``bob``).

        Watching a buddy already watched changes nothing. The SUBSCRIBE leaves
        when a pacing slot is free; the outcome comes as events.
        """
        acc = self._ua.account(account)
        target = _buddy_uri(uri, acc)
        key = normalise_uri(str(target))
        buddy = self._buddies.get(key)
        if buddy is None:
            buddy = self._buddies[key] = _Buddy(target, key, acc)
            self._enqueue(buddy)
        return buddy.state()

    async def unwatch(self, uri: str, account: str | None = None) -> bool:
        """Stop watching ``uri`` (un-SUBSCRIBE); False when it was not watched."""
        acc = self._ua.account(account)
        key = normalise_uri(str(_buddy_uri(uri, acc)))
        buddy = self._buddies.pop(key, None)
        if buddy is None:
            return False
        buddy.removed = True
        if buddy.sub is not None:
            await self._ua.subscriptions.unsubscribe(buddy.sub)
        return True

    def buddies(self) -> list[BuddyState]:
        """Every watched buddy's state, in the order they were added."""
        return [b.state() for b in self._buddies.values()]

    def buddy(self, uri: str, account: str | None = None) -> BuddyState | None:
        key = normalise_uri(str(_buddy_uri(uri, self._ua.account(account))))
        buddy = self._buddies.get(key)
        return None if buddy is None else buddy.state()

    async def load_buddies(self, account: str | None = None) -> int:
        """Watch every store contact with presence on (its SIP URIs); returns how many new buddies.

        The contacts are read off the loop (a thousand contacts take tens of milliseconds) and
        taken :data:`LOAD_BATCH` at a time, letting the loop run in between.
        """
        store = self._ua.store
        self._loaded = True
        if store is None:
            return 0
        contacts = await self._ua.run_blocking(store.contacts.list)
        default = self._ua.account(account)
        added = 0
        for index, contact in enumerate(contacts):
            if index % LOAD_BATCH == LOAD_BATCH - 1:
                await asyncio.sleep(0)  # a thousand contacts must not hold the loop for tens of milliseconds
            if not contact.subscribe_presence:
                continue
            for text in contact.uris:
                if not text.lower().startswith(("sip:", "sips:")):
                    continue
                try:
                    target = _buddy_uri(text, default)
                except ValueError as exc:
                    log.info("contact %r: %s", contact.name, exc)
                    continue
                acc = default if account is not None else self._account_for_uri(target, default)
                before = len(self._buddies)
                self.watch(str(target), acc.aor)
                added += len(self._buddies) - before
        return added

    def _account_for_uri(self, uri: Uri, default: Account) -> Account:
        host = uri.host.lower() if isinstance(uri, SipUri) else ""
        for account in self._ua.accounts:
            if account.domain.lower() == host:
                return account
        return default

    def _enqueue(self, buddy: _Buddy) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
        buddy.queued = True
        self._queue.put_nowait(buddy)
        self._start_pacers()

    def _start_pacers(self) -> None:
        queue = self._queue
        if not self._pacers and queue is not None and self._running() and not self._closing:
            self._pacers = [
                self._ua.spawn(self._pacer(queue), name=f"presence pacer {i}") for i in range(MAX_IN_FLIGHT)
            ]

    async def _pacer(self, queue: asyncio.Queue[_Buddy]) -> None:
        """One pacing slot: subscribes a queued buddy and waits for its first answer before the next."""
        while not self._closing:
            buddy = await queue.get()
            if buddy.removed or self._closing:
                continue
            buddy.queued = False
            buddy.answered = asyncio.Event()
            self._subscribe(buddy)
            try:
                await asyncio.wait_for(buddy.answered.wait(), FIRST_ANSWER_TIMEOUT)
            except TimeoutError:
                log.info("no answer to the presence SUBSCRIBE to %s yet", buddy.uri)

    def _subscribe(self, buddy: _Buddy, account: Account | None = None) -> None:
        buddy.sub = self._ua.subscriptions.subscribe(
            account or buddy.account,
            buddy.uri,
            PRESENCE,
            accept=[PIDF_CONTENT_TYPE],
            on_notify=lambda sub, request: self._on_notify(buddy, sub, request),
            on_state=lambda sub: self._on_state(buddy, sub),
            expires=SUBSCRIBE_EXPIRES,
        )

    def _on_notify(self, buddy: _Buddy, sub: Subscription, request: Request) -> int | None:
        if buddy.removed or sub is not buddy.sub:
            return None
        if buddy.answered is not None:
            buddy.answered.set()
        if not request.body:
            try:
                state = request.subscription_state
            except SipParseError:
                state = None
            if state is not None and state.state.lower() == "active":
                self._set_buddy(buddy, "closed", None, None)
            return None
        try:
            charset = request.content_type.params.get("charset") if request.content_type is not None else None
            presence = parse_pidf(request.body, charset)
        except (BodyError, SipParseError) as exc:
            log.info("ignored the presence NOTIFY of %s: %s", buddy.uri, exc)
            return None
        self._set_buddy(buddy, presence.basic, presence.activity, presence.note)
        return None

    def _set_buddy(self, buddy: _Buddy, basic: BuddyBasic, activity: str | None, note: str | None) -> None:
        buddy.basic, buddy.activity, buddy.note = basic, activity, note
        basic_shown: Literal["open", "closed", "unknown"] = basic
        self._ua.emit(PresenceEvent(str(buddy.uri), basic_shown, activity, note, buddy.account.aor))

    def _on_state(self, buddy: _Buddy, sub: Subscription) -> None:
        if sub is not buddy.sub:
            return
        if buddy.answered is not None:
            buddy.answered.set()
        if sub.state == "init":
            return
        self._ua.emit(SubscriptionEvent(buddy.account.aor, str(buddy.uri), PRESENCE, sub.state, sub.reason, sub.code))
        if sub.state != "terminated" or buddy.removed:
            return
        if sub.reason == "noresource":
            self._set_buddy(buddy, "closed", None, None)
        elif sub.ended.is_set():
            buddy.basic = "unknown"
        if (
            sub.ended.is_set()
            and sub.code in NO_PRESENCE_SERVICE
            and not buddy.direct
            and not self._closing
            and _has_server(buddy.account)
            and _own_host(buddy.uri, buddy.account)
        ):
            # The server serves no presence: ask the buddy's own host (see the module documentation).
            log.info("presence of %s: server answered %s, subscribing directly", buddy.uri, sub.code)
            buddy.direct = True
            self._subscribe(buddy, _direct(buddy.account))

    # --- the event bus -----------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, CallEvent):
            in_call = any(c.state in _IN_CALL for c in self._ua.calls)
            if in_call != self._in_call:
                self._in_call = in_call
                self._changed_all()
        elif isinstance(event, RegistrationEvent) and event.state == "registered":
            self._went_online(event.account)

    def _went_online(self, aor: str) -> None:
        try:
            account = self._ua.account(aor)
        except Exception:
            return
        if account.aor in self._registered or self._closing:
            return
        self._registered.add(account.aor)
        self._online.add(account.aor)
        self._changed(account, force=True)
        self._start_pacers()
        if not self._loaded:
            self._loaded = True
            self._ua.spawn(self._load_quietly(account.aor), name="load buddies")

    async def _load_quietly(self, aor: str) -> None:
        try:
            await self.load_buddies()
        except Exception as exc:
            log.warning("cannot load the buddy list: %s", exc)

    # --- accounts added and taken away ---------------------------------------------------

    def _account_added(self, account: Account) -> None:
        if _peer_to_peer(account):
            self._serve(account)
        for uri in self._rewatch.pop(account.aor, []):
            self.watch(uri, account.aor)

    async def _account_removed(self, account: Account) -> None:
        """Withdraw what we published for ``account``, end what we serve of it and its buddies' subscriptions."""
        aor = account.aor
        buddies = [b for b in self._buddies.values() if b.account.aor == aor]
        self._rewatch[aor] = [str(b.uri) for b in buddies]
        for buddy in buddies:
            self._buddies.pop(buddy.key, None)
            buddy.removed = True
        task = self._publishing.pop(aor, None)
        if task is not None:
            task.cancel()
        self._dirty.discard(aor)
        publication = self._publications.pop(aor, None)
        waits = [self._ua.subscriptions.unsubscribe(b.sub, STOP_GRACE) for b in buddies if b.sub is not None]
        if publication is not None and publication.etag is not None:
            waits.append(publication.remove())
        if aor in self._serving:
            self._serving.discard(aor)
            self._ua.subscriptions.end_served(account, PRESENCE)
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), STOP_GRACE)
        if publication is not None:
            publication.close()
        self._registered.discard(aor)
        self._online.discard(aor)
        self._shown.pop(aor, None)

    # --- life cycle --------------------------------------------------------------------

    async def _close(self) -> None:
        """At ``ua.stop()``: withdraw what we published, tell our watchers we are closed, stop pacing."""
        self._closing = True
        for task in self._pacers:
            task.cancel()
        self._pacers = []
        for aor in list(self._serving):
            self._own[aor] = OwnStatus("closed")
            self._in_call = False
            try:
                account = self._ua.account(aor)
            except Exception:
                continue
            self._shown[aor] = self._effective(account)
            self._ua.subscriptions.notify_package(PRESENCE, account)
        removals = [p.remove() for p in self._publications.values() if p.etag is not None]
        for task in self._publishing.values():
            task.cancel()
        if removals:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*removals, return_exceptions=True), STOP_GRACE)
        for publication in self._publications.values():
            publication.close()
        if self._serving:
            await self._notifies_sent(STOP_GRACE)

    async def _notifies_sent(self, timeout: float) -> None:
        """Wait (bounded) until the NOTIFYs we sent have their answers, so the closed state goes out first."""
        deadline = self._ua.now() + timeout
        await asyncio.sleep(0)
        while self._ua.now() < deadline:
            if not self._ua.requests_pending("NOTIFY"):
                return
            await asyncio.sleep(0.02)


def _peer_to_peer(account: Account) -> bool:
    return not account.register and account.outbound_proxy is None


def _has_server(account: Account) -> bool:
    return not _peer_to_peer(account)


def _direct(account: Account) -> Account:
    """The account as a peer-to-peer one: its requests go straight to the Request-URI."""
    return dataclasses.replace(account, register=False, outbound_proxy=None)


def _own_host(uri: Uri, account: Account) -> bool:
    """Whether ``uri`` names a host (and port) other than the account's domain, registrar and outbound proxy."""
    if not isinstance(uri, SipUri):
        return False
    servers = {_host_port(account.uri), _host_port(account.registrar_uri)}
    proxy = account.outbound_proxy_uri
    if proxy is not None:
        servers.add(_host_port(proxy))
    return _host_port(uri) not in servers


def _host_port(uri: SipUri) -> tuple[str, int]:
    return uri.host.lower(), uri.port or (5061 if uri.scheme == "sips" else 5060)


def _buddy_uri(text: str, account: Account) -> Uri:
    """A buddy address as typed: a SIP URI, ``user@host`` or a user at the account's domain."""
    text = text.strip()
    if not text:
        raise ValueError("no buddy address")
    if not text.lower().startswith(("sip:", "sips:", "tel:")):
        text = f"sip:{text}" if "@" in text else f"sip:{text}@{account.domain}"
    try:
        uri = parse_uri(text)
    except SipParseError as exc:
        raise ValueError(f"bad buddy address {text!r}: {exc}") from exc
    if isinstance(uri, AbsoluteUri):
        raise ValueError(f"cannot watch a {uri.scheme}: URI")
    return uri.replace(params={}, headers=[]) if isinstance(uri, SipUri) else uri


def parse_status(words: Sequence[str]) -> tuple[Basic, str | None, str | None]:
    """``open|closed|away|busy|ACTIVITY [NOTE …]`` as the CLI takes it: (basic, activity, note).

    ``away``, ``busy`` and any other RFC 4480 activity mean basic ``open`` with
    that activity; ``online``/``available`` are ``open``, ``offline``/``invisible`` ``closed``.
    """
    if not words:
        raise ValueError("usage: status open|closed|away|busy [NOTE]")
    word = words[0].lower()
    note = " ".join(words[1:]) or None
    if word in ("open", "online", "available"):
        return "open", None, note
    if word in ("closed", "offline", "invisible"):
        return "closed", None, note
    return "open", word, note

"""Busy lamps and automatic callback over the dialog event package (RFC 4235).

:class:`DialogStateService` (``ua.dialog_state``) has three parts:

- **Watching** (:meth:`~DialogStateService.watch`): a ``dialog`` subscription
  per buddy; every NOTIFY goes through a
  :class:`~softphone.sip.dialog_info.DialogInfoTracker` (full and partial
  documents, versions), a partial document after a gap makes us refresh the
  subscription for full state (RFC 4235 4.3), and each change of the lamp is a
  :class:`~softphone.ua.events.DialogStateEvent` (``idle``, ``ringing``,
  ``busy``; ``unknown`` while there is no subscription). An active NOTIFY
  without a body counts as "no dialogs" (idle): Kamailio's
  presence_dialoginfo sends that when nothing was published.
- **Serving** our own dialogs: a ``dialog`` event package for direct
  (peer-to-peer) watchers, notified on every call state change, and, for
  accounts with a server, a PUBLISH of the same document (RFC 3903) so a
  presence server such as Kamailio notifies the watchers. Documents are full
  state; versions count per subscription and per publication (RFC 4235 4.1).
  Watchers are authorised like presence watchers (``ua.subscriptions.watchers``:
  verified and allowed or a buddy, else pending with nothing shown). What
  they see is the state only: each dialog's ``id`` is a random token (RFC
  4235 4.1.1 lets it be any opaque value) and its direction and state, with
  no Call-ID, tags or remote party, so nobody can use our busy lamp to take
  over or pick up a call (RFC 3891 Replaces needs exactly those). Watchers
  the user allowed with details (:meth:`DialogStateService.allow`,
  ``details=True``) get the full document; the PUBLISHed one stays state-only
  unless :attr:`DialogStateService.publish_details` (the server shows it to
  whoever it lets watch).
- **Automatic callback** (:meth:`~DialogStateService.callback`): watch the
  callee until it is idle after having been busy (or idle in the first full
  state after the request), then emit a
  :class:`~softphone.ua.events.CallbackReadyEvent` and, with ``redial``, call
  it again. Requests expire. A callee that serves no dialog state is followed
  through its presence instead: ``open`` and not ``on-the-phone`` is free.

A malformed or hostile dialog-info body is answered 400 and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from softphone.sip.dialog_info import (
    DIALOG_INFO_CONTENT_TYPE,
    DialogEntry,
    DialogInfoTracker,
    DialogState,
    Participant,
    build_dialog_info,
    parse_dialog_info,
)
from softphone.sip.errors import BodyError, SipParseError
from softphone.sip.message import Request
from softphone.sip.pidf import PIDF_CONTENT_TYPE, parse_pidf
from softphone.sip.uri import Uri
from softphone.store.uris import normalise_uri
from softphone.ua.account import Account
from softphone.ua.call import Call
from softphone.ua.errors import UserAgentError
from softphone.ua.events import (
    BusyLampState,
    CallbackReadyEvent,
    CallEvent,
    DialogStateEvent,
    ErrorEvent,
    Event,
    SubscriptionEvent,
)
from softphone.ua.publication import Publication
from softphone.ua.subscription import Decision, ServerSubscription, Subscription

if TYPE_CHECKING:
    from softphone.ua.host import ServiceHost

__all__ = ["DIALOG_EVENT", "DialogStateService"]

log = logging.getLogger(__name__)

DIALOG_EVENT = "dialog"
PRESENCE_EVENT = "presence"
# RFC 4480 activities that mean the callee cannot take a call now.
_BUSY_ACTIVITIES = frozenset({"on-the-phone", "busy"})
DEFAULT_EXPIRES = 3600
DEFAULT_CALLBACK_EXPIRES = 1800.0
# At stop: how long to wait for each unsubscription's final NOTIFY and for the last PUBLISH.
CLOSE_WAIT = 2.0
# RFC 6665 4.1.2.1 / 4.1.3: answers after which the subscription layer subscribes again later.
_RETRIED_CODES = frozenset({408, 480, 500, 503, 504})
# Subscription answers after which a dialog subscription will not come to be.
_REFUSED_HINT = {403: "refused", 404: "unknown user", 405: "not supported", 489: "not supported", 501: "not supported"}


@dataclass(eq=False)
class _Watch:
    """Our dialog subscription to one buddy and what it told us."""

    key: str
    target: Uri
    account: Account
    tracker: DialogInfoTracker = field(default_factory=DialogInfoTracker)
    sub: Subscription | None = None
    notifier: tuple[str, str] | None = None
    state: BusyLampState = "unknown"
    explicit: bool = False
    refreshing: bool = False
    package: str = DIALOG_EVENT
    """``dialog``, or ``presence`` when a callback falls back to it."""


@dataclass(eq=False)
class _Callback:
    """An automatic-callback request."""

    key: str
    target: str
    account: Account
    redial: bool
    timer: asyncio.TimerHandle | None = None
    seen_busy: bool = False
    seen_state: bool = False


@dataclass(eq=False)
class _LocalDialog:
    """One of our calls as the dialog package reports it."""

    account: Account
    entry: DialogEntry
    was_confirmed: bool = False


def _state_only(entry: DialogEntry) -> DialogEntry:
    """What a watcher without details sees of a dialog: its opaque id, direction and state."""
    return DialogEntry(id=entry.id, state=entry.state, direction=entry.direction)


class _DialogPackage:
    """The ``dialog`` event package we serve to direct watchers."""

    name = DIALOG_EVENT
    default_expires = DEFAULT_EXPIRES

    def __init__(self, service: DialogStateService) -> None:
        self._service = service

    def authorize(self, subscription: ServerSubscription) -> Decision:
        return self._service._authorize(subscription)

    def state_body(self, subscription: ServerSubscription) -> tuple[str, bytes] | None:
        return self._service._state_body(subscription)


class DialogStateService:
    """Busy lamps of buddies, our own dialog state, automatic callback; see the module documentation.

    ``publish``: PUBLISH our dialog state for accounts that use a server
    (those that register or have an outbound proxy). ``expires``: the
    lifetime asked for subscriptions and publications. ``presence_fallback``:
    a callback whose callee serves no dialog state follows its presence
    instead (free: ``open`` and not ``on-the-phone`` or ``busy``).
    ``publish_details`` (off): PUBLISH our calls' identifiers too.
    """

    def __init__(
        self, ua: ServiceHost, *, publish: bool = True, expires: int = DEFAULT_EXPIRES, presence_fallback: bool = True
    ) -> None:
        self._ua = ua
        self.publish = publish
        self.presence_fallback = presence_fallback
        self.expires = expires
        self.publish_details = False
        self._watches: dict[str, _Watch] = {}
        self._callbacks: dict[str, _Callback] = {}
        self._local: dict[str, _LocalDialog] = {}
        self._ended: dict[str, list[DialogEntry]] = {}
        self._served_versions: dict[str, int] = {}
        self._publications: dict[str, Publication] = {}
        self._publish_versions: dict[str, int] = {}
        self._pending_bodies: dict[str, bytes] = {}
        self._publishers: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        ua.subscriptions.register_package(_DialogPackage(self))
        ua.subscriptions.watchers.serve(DIALOG_EVENT)
        # The busy lamps the user watched through an account taken away, watched again if it comes back.
        self._rewatch: dict[str, list[str]] = {}
        ua.subscribe(self._on_event)
        ua.add_closer(self.close)
        ua.add_account_hooks(self._account_added, self._account_removed)

    # --- public: busy lamps --------------------------------------------------------------

    async def watch(self, uri: str, account: str | None = None) -> str:
        """Show the busy lamp of ``uri`` (``sip:bob@example.com``, ``bob@example.com`` or ``bob``).

        Returns the URI the lamp is reported under in :class:`DialogStateEvent` s.
        """
        watch = self._watch(uri, account)
        watch.explicit = True
        return watch.key

    async def unwatch(self, uri: str) -> None:
        """Stop showing the busy lamp of ``uri`` (an automatic callback to it keeps its subscription)."""
        watch = self._watches.get(self._key(uri))
        if watch is None:
            return
        watch.explicit = False
        await self._release(watch)

    def state(self, uri: str) -> BusyLampState:
        """The busy lamp of ``uri`` as last reported (``unknown`` when not watched)."""
        watch = self._watches.get(self._key(uri))
        return watch.state if watch is not None else "unknown"

    @property
    def watched(self) -> dict[str, BusyLampState]:
        """Every lamp being watched (by the user or for a callback) and its state."""
        return {key: w.state for key, w in self._watches.items()}

    # --- public: automatic callback -------------------------------------------------------

    async def callback(
        self, uri: str, redial: bool = False, expires: float = DEFAULT_CALLBACK_EXPIRES, account: str | None = None
    ) -> str:
        """Tell us (:class:`CallbackReadyEvent`) when ``uri`` is free; with ``redial`` call it again then.

        The request ends after ``expires`` seconds (silently) or once fulfilled;
        asking again for the same URI replaces the earlier request. Returns the URI
        the event will name.
        """
        if expires <= 0:
            raise ValueError("a callback request needs a positive expiry")
        key = self._key(uri)
        old = self._callbacks.pop(key, None)
        if old is not None and old.timer is not None:
            old.timer.cancel()
        watch = self._watch(uri, account)
        cb = _Callback(key, uri, watch.account, redial)
        cb.timer = self._ua.call_later(expires, self._callback_expired, cb)
        self._callbacks[key] = cb
        if watch.sub is not None and watch.sub.state == "active" and watch.state != "unknown":
            # An existing subscription: what we know counts as "busy seen"; a refresh brings full state.
            cb.seen_busy = watch.state in ("busy", "ringing")
            self._refresh(watch)
        return key

    async def cancel_callback(self, uri: str) -> bool:
        """Withdraw the automatic-callback request for ``uri``; False if there was none."""
        cb = self._callbacks.get(self._key(uri))
        if cb is None:
            return False
        self._drop_callback(cb)
        return True

    @property
    def callbacks(self) -> list[str]:
        """The URIs with an automatic-callback request pending."""
        return list(self._callbacks)

    # --- public: what we serve -------------------------------------------------------------

    def allow(self, uri: str, account: str | None = None, *, details: bool = False) -> None:
        """Let ``uri`` watch our busy lamp (and presence); with ``details`` it also sees our calls'
        Call-ID, tags and remote party (for call pickup). Only a watcher whose identity is verified
        ever gets the details."""
        self._ua.subscriptions.watchers.allow(uri, account, details=details)

    def block(self, uri: str, account: str | None = None) -> None:
        """Never let ``uri`` watch our busy lamp (nor presence)."""
        self._ua.subscriptions.watchers.block(uri, account)

    def publication_state(self, account: str | None = None) -> str | None:
        """The state of our dialog-state PUBLISH for ``account`` (None before the first one)."""
        pub = self._publications.get(self._ua.account(account).aor)
        return pub.state if pub is not None else None

    def document(self, account: str | None = None, *, details: bool = False) -> bytes:
        """Our current dialog-info document (full state) for ``account``: state only, or with ``details``."""
        acc = self._ua.account(account)
        return build_dialog_info(_entity(acc), 0, self._entries(acc, details))

    async def close(self) -> None:
        """End callbacks and watches, send the last PUBLISH and withdraw it (run by ``ua.stop()``)."""
        self._closing = True
        for cb in list(self._callbacks.values()):
            if cb.timer is not None:
                cb.timer.cancel()
        self._callbacks.clear()
        watches = list(self._watches.values())
        self._watches.clear()
        subs = [w.sub for w in watches if w.sub is not None]
        if subs:
            await asyncio.gather(
                *(self._ua.subscriptions.unsubscribe(s, CLOSE_WAIT) for s in subs), return_exceptions=True
            )
        publishers = list(self._publishers.values())
        if publishers:
            await asyncio.wait(publishers, timeout=CLOSE_WAIT)
        pubs = list(self._publications.values())
        self._publications.clear()
        for pub in pubs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pub.remove(), CLOSE_WAIT)
            pub.close()
        self._closing = False

    # --- accounts added and taken away ----------------------------------------------------------

    def _account_added(self, account: Account) -> None:
        for key in self._rewatch.pop(account.aor, []):
            self._watch(key, account.aor).explicit = True

    async def _account_removed(self, account: Account) -> None:
        """End the lamps and callbacks watched through ``account`` and withdraw its published dialog state."""
        aor = account.aor
        for cb in [c for c in self._callbacks.values() if c.account.aor == aor]:
            self._drop_callback(cb)
        watches = [w for w in self._watches.values() if w.account.aor == aor]
        self._rewatch[aor] = [w.key for w in watches if w.explicit]
        subs = []
        for watch in watches:
            self._watches.pop(watch.key, None)
            if watch.sub is not None:
                subs.append(watch.sub)
                watch.sub = None
        publisher = self._publishers.pop(aor, None)
        if publisher is not None:
            publisher.cancel()
        self._pending_bodies.pop(aor, None)
        pub = self._publications.pop(aor, None)
        waits = [self._ua.subscriptions.unsubscribe(sub, CLOSE_WAIT) for sub in subs]
        if pub is not None and pub.etag is not None:
            waits.append(pub.remove())
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), CLOSE_WAIT)
        if pub is not None:
            pub.close()

    # --- watching ------------------------------------------------------------------------------

    def _key(self, uri: str) -> str:
        try:
            account = self._ua.account()
        except Exception:
            return normalise_uri(uri)
        return normalise_uri(str(self._target(uri, account)))

    def _target(self, text: str, account: Account) -> Uri:
        return self._ua.target_uri(text, account, "watch")

    def _watch(self, uri: str, account: str | None) -> _Watch:
        acc = self._ua.account(account)
        target = self._target(uri, acc)
        key = normalise_uri(str(target))
        watch = self._watches.get(key)
        if watch is not None:
            return watch
        return self._start_watch(key, target, acc, DIALOG_EVENT)

    def _start_watch(self, key: str, target: Uri, account: Account, package: str) -> _Watch:
        watch = _Watch(key, target, account, package=package)
        self._watches[key] = watch
        watch.sub = self._ua.subscriptions.subscribe(
            account,
            target,
            package,
            accept=[DIALOG_INFO_CONTENT_TYPE if package == DIALOG_EVENT else PIDF_CONTENT_TYPE],
            on_notify=lambda sub, request: self._on_notify(watch, sub, request),
            on_state=lambda sub: self._on_state(watch, sub),
            expires=self.expires,
        )
        return watch

    async def _release(self, watch: _Watch) -> None:
        """Unsubscribe ``watch`` unless the user or a callback still wants it."""
        if watch.explicit or watch.key in self._callbacks:
            return
        if self._watches.get(watch.key) is watch:
            del self._watches[watch.key]
        sub, watch.sub = watch.sub, None
        if sub is not None:
            await self._ua.subscriptions.unsubscribe(sub, CLOSE_WAIT)

    def _on_notify(self, watch: _Watch, sub: Subscription, request: Request) -> int | None:
        if watch.sub is not sub or self._watches.get(watch.key) is not watch:
            return None
        try:
            state = request.subscription_state
        except SipParseError:
            state = None
        value = state.state.lower() if state is not None else "active"
        if watch.package == PRESENCE_EVENT:
            return self._on_presence(watch, request)
        if not request.body:
            if value == "active":
                # No body while active: the notifier knows no dialogs of the entity (nothing published).
                watch.tracker.dialogs = {}
                self._set_lamp(watch, "idle", full=True)
            return None
        try:
            charset = request.content_type.param("charset") if request.content_type is not None else None
        except SipParseError:
            charset = None
        try:
            info = parse_dialog_info(request.body, charset)
        except BodyError as exc:
            log.info("dialog NOTIFY from %s: %s; ignored", watch.key, exc)
            return 400
        notifier = (request.call_id, request.from_.tag or "")
        if watch.notifier != notifier:
            # RFC 4235 4.3: versions are per subscription; a new subscription (or fork) starts over.
            watch.tracker.reset()
            watch.notifier = notifier
        update = watch.tracker.apply(info)
        if not update.applied:
            log.info("dialog NOTIFY from %s: version %d is not newer; discarded", watch.key, info.version)
            return None
        if update.needs_full_state:
            self._refresh(watch)
        self._set_lamp(watch, watch.tracker.busy_lamp_state(), full=info.state == "full")
        return None

    def _on_presence(self, watch: _Watch, request: Request) -> int | None:
        """A callback's fallback: open without being on the phone is free (RFC 4480 activities)."""
        if not request.body:
            return None
        try:
            charset = request.content_type.param("charset") if request.content_type is not None else None
            presence = parse_pidf(request.body, charset)
        except (BodyError, SipParseError) as exc:
            log.info("presence NOTIFY from %s: %s; ignored", watch.key, exc)
            return None  # RFC 6665 4.2.2: answered 200, so the subscription goes on
        activity = (presence.activity or "").lower()
        if presence.basic != "open":
            lamp: BusyLampState = "unknown"
        elif activity in _BUSY_ACTIVITIES:
            lamp = "busy"
        else:
            lamp = "idle"
        self._set_lamp(watch, lamp, full=True)
        return None

    def _refresh(self, watch: _Watch) -> None:
        """RFC 4235 4.3: a SUBSCRIBE refresh makes the notifier send full state."""
        sub = watch.sub
        if sub is None or watch.refreshing:
            return
        watch.refreshing = True

        async def refresh() -> None:
            try:
                for dialog in list(sub.dialogs.values()):
                    if dialog.terminated:
                        continue
                    headers = [
                        ("Event", sub.event),
                        ("Accept", ", ".join(sub.accept)),
                        ("Expires", str(sub.expires)),
                    ]
                    try:
                        response = await self._ua.request_in_dialog(sub.account, dialog, "SUBSCRIBE", headers=headers)
                    except Exception as exc:
                        log.info("refreshing the dialog subscription to %s failed: %s", watch.key, exc)
                        continue
                    if response.status_code >= 300:
                        log.info("refreshing the dialog subscription to %s: %d", watch.key, response.status_code)
            finally:
                watch.refreshing = False

        self._ua.spawn(refresh(), name=f"dialog refresh {watch.key}")

    def _on_state(self, watch: _Watch, sub: Subscription) -> None:
        if sub.state == "init" or watch.sub is not sub:
            return
        self._ua.emit(SubscriptionEvent(watch.account.aor, watch.key, watch.package, sub.state, sub.reason, sub.code))
        if sub.state != "terminated":
            return
        watch.notifier = None
        watch.tracker.reset()
        self._set_lamp(watch, "unknown", full=False)
        if not _refused(sub):
            return  # the subscription layer tries again
        # The dialog subscription will not come to be: forget the watch (and a callback that needed it).
        if self._watches.get(watch.key) is watch:
            del self._watches[watch.key]
        watch.sub = None
        cb = self._callbacks.get(watch.key)
        if cb is None:
            return
        if watch.package == DIALOG_EVENT and self.presence_fallback:
            log.info("no dialog state of %s (%s); the callback follows its presence", watch.key, sub.code)
            self._start_watch(watch.key, watch.target, watch.account, PRESENCE_EVENT)
            return
        why = _REFUSED_HINT.get(sub.code or 0, sub.reason or "ended")
        self._ua.emit(ErrorEvent(f"automatic callback to {watch.key} is not possible: {watch.package} state {why}"))
        self._drop_callback(cb)

    def _set_lamp(self, watch: _Watch, lamp: BusyLampState, *, full: bool) -> None:
        if lamp != watch.state:
            watch.state = lamp
            if watch.package == DIALOG_EVENT:
                self._ua.emit(DialogStateEvent(watch.key, lamp, watch.account.aor))
        cb = self._callbacks.get(watch.key)
        if cb is None or lamp == "unknown":
            return
        first = not cb.seen_state
        cb.seen_state = True
        if lamp in ("busy", "ringing"):
            cb.seen_busy = True
        elif lamp == "idle" and (cb.seen_busy or (first and full)):
            self._ua.spawn(self._fire(cb), name=f"callback {cb.key}")

    # --- automatic callback -------------------------------------------------------------------

    async def _fire(self, cb: _Callback) -> None:
        if self._callbacks.get(cb.key) is not cb:
            return
        self._drop_callback(cb)
        if not cb.redial:
            self._ua.emit(CallbackReadyEvent(cb.key))
            return
        try:
            call = await self._ua.call(cb.target, cb.account.aor)
        except UserAgentError as exc:
            self._ua.emit(ErrorEvent(f"calling {cb.key} back failed: {exc}"))
            self._ua.emit(CallbackReadyEvent(cb.key))
            return
        self._ua.emit(CallbackReadyEvent(cb.key, True, call.id))

    def _callback_expired(self, cb: _Callback) -> None:
        cb.timer = None
        if self._callbacks.get(cb.key) is cb:
            log.info("automatic callback to %s expired", cb.key)
            self._drop_callback(cb)

    def _drop_callback(self, cb: _Callback) -> None:
        """Forget ``cb``; its watch is unsubscribed in the background unless still wanted."""
        if cb.timer is not None:
            cb.timer.cancel()
            cb.timer = None
        if self._callbacks.get(cb.key) is cb:
            del self._callbacks[cb.key]
        watch = self._watches.get(cb.key)
        if watch is not None and not watch.explicit:
            self._ua.spawn(self._release(watch), name=f"unwatch {cb.key}")

    # --- serving our dialogs -------------------------------------------------------------------

    def _authorize(self, served: ServerSubscription) -> Decision:
        return self._ua.subscriptions.watchers.authorize(served)

    def _state_body(self, served: ServerSubscription) -> tuple[str, bytes]:
        # RFC 4235 4.1: versions start at 0 and count the documents sent in one subscription.
        version = self._served_versions.get(served.id, -1) + 1
        self._served_versions[served.id] = version
        if len(self._served_versions) > 64:
            live = {s.id for s in self._ua.subscriptions.served(DIALOG_EVENT)}
            self._served_versions = {k: v for k, v in self._served_versions.items() if k in live or k == served.id}
        account = served.account
        details = self._ua.subscriptions.watchers.details(served)
        return DIALOG_INFO_CONTENT_TYPE, build_dialog_info(_entity(account), version, self._entries(account, details))

    def _entries(self, account: Account, details: bool) -> list[DialogEntry]:
        entries = [d.entry for d in self._local.values() if d.account is account]
        entries += self._ended.get(account.aor, [])
        return entries if details else [_state_only(e) for e in entries]

    def _on_event(self, event: Event) -> None:
        if isinstance(event, CallEvent):
            try:
                self._on_call_event(event)
            except Exception:
                log.exception("dialog state of call %s", event.call_id)

    def _on_call_event(self, event: CallEvent) -> None:
        local = self._local.get(event.call_id)
        call: Call | None = None
        if event.state != "ended":
            try:
                call = self._ua.find_call(event.call_id)
            except Exception:
                call = None
        if call is not None:
            state = _dialog_state(event)
            if local is None:
                local = self._local[event.call_id] = _LocalDialog(call.account, _dialog_entry(call, state))
            elif local.entry.state is state:
                return
            else:
                local.entry = _dialog_entry(call, state, local.entry.id)
            local.was_confirmed = local.was_confirmed or state is DialogState.CONFIRMED
            self._changed(local.account)
            return
        if event.state != "ended" or local is None:
            return
        del self._local[event.call_id]
        entry = local.entry
        entry.state = DialogState.TERMINATED
        entry.event, entry.code = _termination(event, local.was_confirmed)
        # The terminated dialog is in the documents of this change only (RFC 4235 3.7.1).
        self._ended.setdefault(local.account.aor, []).append(entry)
        try:
            self._changed(local.account)
        finally:
            self._ended.pop(local.account.aor, None)

    def _changed(self, account: Account) -> None:
        self._ua.subscriptions.notify_package(DIALOG_EVENT, account)
        if self.publish and not self._closing and (account.register or account.outbound_proxy is not None):
            version = self._publish_versions.get(account.aor, -1) + 1
            self._publish_versions[account.aor] = version
            document = build_dialog_info(_entity(account), version, self._entries(account, self.publish_details))
            self._publish(account, document)

    def _publish(self, account: Account, body: bytes) -> None:
        pub = self._publications.get(account.aor)
        if pub is None:
            pub = Publication(self._ua, account, DIALOG_EVENT, DIALOG_INFO_CONTENT_TYPE, expires=self.expires)
            self._publications[account.aor] = pub
        if pub.state == "unsupported":
            return
        self._pending_bodies[account.aor] = body
        if account.aor not in self._publishers:
            self._publishers[account.aor] = self._ua.spawn(
                self._publisher(account.aor, pub), name=f"PUBLISH dialog {account.aor}"
            )

    async def _publisher(self, aor: str, pub: Publication) -> None:
        """Publish the newest document until none is waiting (changes that come meanwhile are merged)."""
        try:
            while (body := self._pending_bodies.pop(aor, None)) is not None:
                state = await pub.publish(body)
                if state == "unsupported":
                    log.info("the server takes no dialog state of %s (%s); not publishing it", aor, pub.code)
                    self._pending_bodies.pop(aor, None)
        finally:
            self._publishers.pop(aor, None)


def _refused(sub: Subscription) -> bool:
    """Whether a terminated subscription is over for good (the subscription layer will not try again)."""
    if not sub.wanted:
        return True
    code = sub.code
    if code is None or code < 300:
        return False
    return not (code in _RETRIED_CODES or (code >= 600 and code != 603))


def _entity(account: Account) -> str:
    return str(account.uri.replace(params={}, headers=[]))


def _dialog_state(event: CallEvent) -> DialogState:
    if event.state in ("confirmed", "held"):
        return DialogState.CONFIRMED
    if event.state == "calling":
        return DialogState.TRYING
    return DialogState.EARLY


def _dialog_entry(call: Call, state: DialogState, dialog_id: str | None = None) -> DialogEntry:
    remote_tag = call.dialog.remote_tag if call.dialog is not None else None
    return DialogEntry(
        id=dialog_id or secrets.token_hex(10),
        state=state,
        call_id=call.sip_call_id,
        local_tag=call.local_tag,
        remote_tag=remote_tag or None,
        direction="initiator" if call.direction == "outgoing" else "recipient",
        local=Participant(identity=_entity(call.account), display=call.account.display_name),
        remote=Participant(identity=str(call.remote.uri), display=call.remote.display_name),
    )


def _termination(event: CallEvent, was_confirmed: bool) -> tuple[str, int | None]:
    """RFC 4235 4.1.2: the event attribute (and code) of a terminated dialog."""
    if was_confirmed:
        return ("remote-bye" if event.reason == "remote hangup" else "local-bye"), None
    code = event.code
    if code == 487 or event.reason == "cancelled" or code is None:
        return "cancelled", None
    if code == 408:
        return "timeout", None
    return "rejected", code

"""SIP-specific event notification (RFC 6665), both sides, as the user agent uses it.

:class:`Subscriptions` is owned by the :class:`~softphone.ua.agent.UserAgent`.
As **subscriber** it sends SUBSCRIBE, keeps the subscription dialogs (one per
forked notifier, 4.1.2.4), refreshes them before they expire, follows
``Subscription-State`` (re-subscribing after ``deactivated`` or ``timeout``,
waiting ``retry-after`` on ``probation`` or ``giveup``, stopping on
``rejected``, ``noresource`` and ``invariant``; 4.1.3) and hands each NOTIFY
to the subscription's ``on_notify``. As **notifier** it serves the
:class:`EventPackage` s registered with it: answers SUBSCRIBE (489 for an
unknown package, 423 below our minimum, 403 when the package rejects the
watcher, 503 with Retry-After when it defers it), sends the NOTIFYs of a new,
refreshed, changed or ended subscription, and expires subscriptions that are
not refreshed. A SUBSCRIBE to a package we serve from an address that may not reach
the account (``ServiceHost.may_reach``: not its server, and the account takes
no direct requests) is refused with 403 before the package sees it; each new
subscription carries the watcher's verified identity for the package's
decision (:mod:`softphone.ua.watchers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from softphone.sip.addr import NameAddr
from softphone.sip.dialog import Dialog, error_response, new_tag
from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.transaction import ServerTransaction, make_response
from softphone.sip.uri import SipUri, Uri
from softphone.transport import LimitLog, Source
from softphone.ua.account import Account
from softphone.ua.limits import REFUSAL_LOG_INTERVAL
from softphone.ua.watchers import WatcherPolicy

if TYPE_CHECKING:
    from softphone.ua.host import ServiceHost

__all__ = [
    "EventPackage",
    "ServerSubscription",
    "Subscription",
    "Subscriptions",
]

log = logging.getLogger(__name__)

SubscriberState = Literal["init", "pending", "active", "terminated"]
NotifierState = Literal["pending", "active", "terminated"]
Decision = Literal["active", "pending", "rejected", "deferred"]

MIN_EXPIRES = 60  # RFC 6665 4.2.1.1: we answer 423 below this
MAX_EXPIRES = 3600
TIMER_N = 32.0  # RFC 6665 4.1.2.4: 64*T1 without NOTIFY after a 2xx ends the subscription
_RETRY_MIN = 5.0
_RETRY_MAX = 600.0
# RFC 6665 4.1.3: reasons after which re-subscribing makes sense, at once or after retry-after.
_RESUBSCRIBE_NOW = {"deactivated", "timeout"}
_RESUBSCRIBE_LATER = {"probation", "giveup"}
# How long a deferred watcher is asked to wait (RFC 3261 21.5.4, 20.33).
DEFERRED_RETRY_AFTER = 300


def refresh_delay(expires: int) -> float:
    """When to refresh a subscription (or publication) that lasts ``expires`` seconds."""
    if expires <= 60:
        return max(1.0, expires * 0.75)
    return float(expires - min(60, expires // 10))


def event_package(request: Request) -> tuple[str, str | None] | None:
    """The Event header's package (lower case) and ``id``, or None without one."""
    try:
        event = request.event
    except SipParseError:
        return None
    if event is None:
        return None
    return event.package.lower(), event.params.get("id")


# --------------------------------------------------------------------------------------
# subscriber side
# --------------------------------------------------------------------------------------

NotifyHandler = Callable[["Subscription", Request], "int | None"]
StateHandler = Callable[["Subscription"], None]


@dataclass(eq=False)
class Subscription:
    """Our subscription to ``event`` at ``target``; ``state`` and ``reason`` as the notifier last said."""

    id: str
    account: Account
    target: Uri
    event: str
    accept: tuple[str, ...]
    expires: int
    on_notify: NotifyHandler
    on_state: StateHandler | None = None
    state: SubscriberState = "init"
    reason: str | None = None
    code: int | None = None
    retry_after: float | None = None
    call_id: str = ""
    from_tag: str = ""
    request: Request | None = None
    dialogs: dict[str, Dialog] = field(default_factory=dict)
    wanted: bool = True
    notified: bool = False
    _timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    _timer_n: asyncio.TimerHandle | None = field(default=None, repr=False)
    _failures: int = 0
    ended: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def active(self) -> bool:
        return self.state in ("pending", "active")


# --------------------------------------------------------------------------------------
# notifier side
# --------------------------------------------------------------------------------------


@dataclass(eq=False)
class ServerSubscription:
    """A subscription a watcher holds to one of our packages."""

    id: str
    account: Account
    package: str
    event_id: str | None
    watcher: NameAddr
    dialog: Dialog
    accept: tuple[str, ...]
    target: Source
    expires_at: float
    state: NotifierState = "pending"
    identity: str | None = None
    """Who the watcher is as far as anyone vouches (``ServiceHost.verified_identity``); None: only claimed."""
    from_server: bool = False
    """The SUBSCRIBE came through the account's own server."""
    _timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    @property
    def watcher_uri(self) -> Uri:
        return self.watcher.uri


class EventPackage(Protocol):
    """What a package we serve tells the notifier."""

    name: str
    default_expires: int

    def authorize(self, subscription: ServerSubscription) -> Decision: ...

    def state_body(self, subscription: ServerSubscription) -> tuple[str, bytes] | None:
        """Content type and body of the current state for this watcher (None: no body)."""
        ...


# --------------------------------------------------------------------------------------


class Subscriptions:
    """The subscriptions of one user agent; see the module documentation."""

    def __init__(self, ua: ServiceHost) -> None:
        self._ua = ua
        self._ids = itertools.count(1)
        self._mine: dict[tuple[str, str], Subscription] = {}
        self._packages: dict[str, EventPackage] = {}
        self._served: dict[tuple[str, str], ServerSubscription] = {}
        self._server_ids = itertools.count(1)
        self._notifying: set[asyncio.Task[None]] = set()
        self.watchers = WatcherPolicy(ua, self)
        self._refusals = LimitLog(REFUSAL_LOG_INTERVAL, logger=log)
        # Subscriptions asked for before the phone started: their SUBSCRIBEs leave once it has.
        self._deferred: list[Subscription] = []
        ua.add_starter(self._send_deferred)

    # --- subscriber -------------------------------------------------------------------

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(dict.fromkeys(self._mine.values()))

    def subscribe(
        self,
        account: Account,
        target: Uri,
        event: str,
        *,
        accept: Sequence[str],
        on_notify: NotifyHandler,
        on_state: StateHandler | None = None,
        expires: int = MAX_EXPIRES,
    ) -> Subscription:
        """Start subscribing; the outcome arrives through ``on_state`` and the NOTIFYs through ``on_notify``."""
        sub = Subscription(
            id=f"s{next(self._ids)}",
            account=account,
            target=target,
            event=event.lower(),
            accept=tuple(a.lower() for a in accept),
            expires=expires,
            on_notify=on_notify,
            on_state=on_state,
        )
        if self._ua.running:
            self._send_initial(sub)
        else:
            self._deferred.append(sub)
        return sub

    def _send_initial(self, sub: Subscription) -> None:
        self._ua.spawn(self._initial(sub), name=f"SUBSCRIBE {sub.event} {sub.target}")

    def _send_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        for sub in deferred:
            if sub.wanted:
                self._send_initial(sub)

    async def unsubscribe(self, sub: Subscription, timeout: float = TIMER_N) -> None:
        """RFC 6665 4.1.2.3: SUBSCRIBE with Expires 0, then wait (bounded) for the final NOTIFY."""
        sub.wanted = False
        self._cancel_timers(sub)
        live = [d for d in sub.dialogs.values() if not d.terminated]
        if not live:
            self._finish(sub, "terminated", "unsubscribed")
            return
        # The whole goodbye is bounded: a notifier's Contact that takes long to connect to (or never
        # answers) must not hold up the caller, often ua.stop().
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._say_goodbye(sub, live), timeout)
        self._finish(sub, "terminated", sub.reason or "unsubscribed")

    async def _say_goodbye(self, sub: Subscription, live: list[Dialog]) -> None:
        await asyncio.gather(*(self._in_dialog_subscribe(sub, dialog, 0) for dialog in live), return_exceptions=True)
        if sub.state != "terminated":
            await sub.ended.wait()

    def _headers(self, sub: Subscription, expires: int) -> list[tuple[str, str]]:
        return [
            ("Event", sub.event),
            ("Accept", ", ".join(sub.accept)),
            ("Expires", str(expires)),
        ]

    async def _initial(self, sub: Subscription) -> None:
        if not sub.wanted:
            return
        old_key = (sub.call_id, sub.from_tag)
        if self._mine.get(old_key) is sub:
            del self._mine[old_key]
        for dialog in sub.dialogs.values():
            self._ua.forget_dialog(dialog)
        sub.dialogs.clear()
        sub.notified = False
        sub.call_id = f"{secrets.token_hex(12)}@softphone"
        sub.from_tag = new_tag()
        self._mine[(sub.call_id, sub.from_tag)] = sub
        expires = sub.expires
        for _ in range(3):  # a 423 names the interval to ask for
            try:
                request, response = await self._ua.request_out_of_dialog(
                    sub.account,
                    "SUBSCRIBE",
                    sub.target,
                    headers=self._headers(sub, expires),
                    call_id=sub.call_id,
                    from_tag=sub.from_tag,
                    contact=True,
                    sent=lambda r: setattr(sub, "request", r),
                )
            except Exception as exc:
                log.info("SUBSCRIBE %s to %s failed: %s", sub.event, sub.target, exc)
                self._retry_later(sub, None, str(exc), None)
                return
            if not sub.wanted:
                return
            code = response.status_code
            if code == 423:
                minimum = int_header(response, "Min-Expires")
                if minimum is not None and minimum > expires:
                    expires = minimum
                    continue
            break
        sub.code = code
        if 200 <= code < 300:
            sub._failures = 0
            granted = int_header(response, "Expires")
            sub.expires = granted if granted is not None else expires
            if response.to.tag and response.to.tag not in sub.dialogs:
                try:
                    dialog = Dialog.from_uac(request, response)
                except (ValueError, SipParseError) as exc:
                    log.info("SUBSCRIBE %s: unusable 2xx: %s", sub.target, exc)
                else:
                    sub.dialogs[dialog.remote_tag] = dialog
                    self._ua.keep_dialog(dialog)
            if sub.state == "init":
                sub.state = "pending"
                self._state_changed(sub)
            if sub.expires == 0:
                return
            self._schedule_refresh(sub)
            if not sub.notified:
                sub._timer_n = self._ua.call_later(TIMER_N, self._no_notify, sub)
            return
        reason = response.reason or str(code)
        if code in (408, 480, 500, 503, 504) or (code >= 600 and code != 603):
            self._retry_later(sub, code, reason, int_header(response, "Retry-After"))
        else:
            # 403, 404, 405, 489, 501, 603 ...: the subscription will not come to be; the caller decides what next.
            sub.wanted = False
            self._finish(sub, "terminated", reason, code)

    def _no_notify(self, sub: Subscription) -> None:
        sub._timer_n = None
        if not sub.notified and sub.wanted:
            log.info("no NOTIFY for %s subscription to %s", sub.event, sub.target)
            self._retry_later(sub, None, "no NOTIFY arrived", None)

    def _retry_later(self, sub: Subscription, code: int | None, reason: str, retry_after: float | None) -> None:
        sub._failures += 1
        delay = retry_after if retry_after is not None else min(_RETRY_MAX, _RETRY_MIN * 2 ** (sub._failures - 1))
        sub.state = "terminated"
        sub.reason = reason
        sub.code = code
        sub.retry_after = delay
        self._state_changed(sub)
        if sub.wanted:
            self._set_timer(sub, delay, self._restart)

    def _restart(self, sub: Subscription) -> None:
        if sub.wanted:
            self._ua.spawn(self._initial(sub), name=f"SUBSCRIBE {sub.event} {sub.target}")

    def _schedule_refresh(self, sub: Subscription) -> None:
        self._set_timer(sub, refresh_delay(sub.expires), self._refresh)

    def _set_timer(self, sub: Subscription, delay: float, action: Callable[[Subscription], None]) -> None:
        if sub._timer is not None:
            sub._timer.cancel()
        sub._timer = self._ua.call_later(delay, action, sub)

    def _cancel_timers(self, sub: Subscription) -> None:
        for timer in (sub._timer, sub._timer_n):
            if timer is not None:
                timer.cancel()
        sub._timer = sub._timer_n = None

    def refresh(self, sub: Subscription) -> None:
        """Refresh now (e.g. to get full state after a gap, RFC 4235 4.3); a new subscription if no dialog lives."""
        if sub._timer is not None:
            sub._timer.cancel()
        self._refresh(sub)

    def _refresh(self, sub: Subscription) -> None:
        sub._timer = None
        live = [d for d in sub.dialogs.values() if not d.terminated]
        if not sub.wanted:
            return
        if not live:
            self._restart(sub)
            return

        async def refresh() -> None:
            codes = []
            for dialog in live:
                try:
                    response = await self._in_dialog_subscribe(sub, dialog, sub.expires)
                except Exception as exc:
                    log.info("refreshing %s subscription to %s failed: %s", sub.event, sub.target, exc)
                    codes.append(408)
                    continue
                codes.append(response.status_code)
                if 200 <= response.status_code < 300:
                    granted = int_header(response, "Expires")
                    if granted is not None and granted > 0:
                        sub.expires = granted
            if any(200 <= c < 300 for c in codes):
                self._schedule_refresh(sub)
            else:
                # RFC 6665 4.1.2.2: a failed refresh ends the subscription; start a new one.
                self._restart(sub)

        self._ua.spawn(refresh(), name=f"refresh {sub.event} {sub.target}")

    async def _in_dialog_subscribe(self, sub: Subscription, dialog: Dialog, expires: int) -> Response:
        return await self._ua.request_in_dialog(sub.account, dialog, "SUBSCRIBE", headers=self._headers(sub, expires))

    def _finish(self, sub: Subscription, state: SubscriberState, reason: str | None, code: int | None = None) -> None:
        self._cancel_timers(sub)
        changed = sub.state != state or sub.reason != reason
        sub.state = state
        sub.reason = reason
        if code is not None:
            sub.code = code
        for dialog in sub.dialogs.values():
            dialog.terminate()
            self._ua.forget_dialog(dialog)
        if self._mine.get((sub.call_id, sub.from_tag)) is sub:
            del self._mine[(sub.call_id, sub.from_tag)]
        sub.ended.set()
        if changed:
            self._state_changed(sub)

    def _state_changed(self, sub: Subscription) -> None:
        if sub.on_state is not None:
            try:
                sub.on_state(sub)
            except Exception:
                log.exception("subscription state handler failed")

    def owns(self, request: Request) -> bool:
        """Whether ``request`` (a NOTIFY) is for one of our subscriptions; its body types are then checked here."""
        return request.to.tag is not None and (request.call_id, request.to.tag) in self._mine

    def handle_notify(self, request: Request, tx: ServerTransaction) -> bool:
        """A NOTIFY for one of our subscriptions: handled and answered (True), or not ours (False)."""
        to_tag = request.to.tag
        if to_tag is None:
            return False
        sub = self._mine.get((request.call_id, to_tag))
        if sub is None or sub.request is None:
            return False
        package = event_package(request)
        if package is None or package[0] != sub.event:
            self._ua.reply(tx, 489)
            return True
        if request.body:
            try:
                content_type = request.content_type
            except SipParseError:
                content_type = None
            if content_type is None or (sub.accept and content_type.mime.lower() not in sub.accept):
                self._ua.reply(tx, 415, headers=[("Accept", ", ".join(sub.accept))])
                return True
        from_tag = request.from_.tag
        dialog = sub.dialogs.get(from_tag or "")
        if dialog is None:
            try:
                dialog = Dialog.from_notify(sub.request, request)
            except (ValueError, SipParseError) as exc:
                self._ua.reply(tx, 400, str(exc)[:80])
                return True
            sub.dialogs[dialog.remote_tag] = dialog
            self._ua.keep_dialog(dialog)
        refused = dialog.receive_request(request)
        if refused is not None:
            self._ua.respond(tx, error_response(request, refused))
            return True
        if sub._timer_n is not None:
            sub._timer_n.cancel()
            sub._timer_n = None
        sub.notified = True
        try:
            state = request.subscription_state
        except SipParseError:
            state = None
        value = state.state.lower() if state is not None else "active"
        code: int | None = None
        try:
            code = sub.on_notify(sub, request)
        except Exception:
            log.exception("NOTIFY handler for %s failed", sub.event)
        self._ua.reply(tx, code or 200)
        if value == "terminated":
            reason = (state.reason if state is not None else None) or "terminated"
            retry_after = state.retry_after if state is not None else None
            dialog.terminate()
            self._ua.forget_dialog(dialog)
            if any(not d.terminated for d in sub.dialogs.values()):
                return True  # another fork still notifies
            if not sub.wanted:
                self._finish(sub, "terminated", reason)
            elif reason in _RESUBSCRIBE_NOW:
                self._cancel_timers(sub)
                sub.state = "terminated"
                sub.reason = reason
                self._state_changed(sub)
                self._restart(sub)
            elif reason in _RESUBSCRIBE_LATER or (retry_after is not None and reason not in ("rejected", "invariant")):
                self._cancel_timers(sub)
                self._retry_later(sub, None, reason, float(retry_after) if retry_after is not None else None)
            else:
                sub.wanted = False
                self._finish(sub, "terminated", reason)
            return True
        new_state: SubscriberState = "pending" if value == "pending" else "active"
        if state is not None and state.expires is not None and 0 < state.expires < sub.expires:
            sub.expires = state.expires
            self._schedule_refresh(sub)
        if sub.state != new_state:
            sub.state = new_state
            sub.reason = None
            self._state_changed(sub)
        return True

    # --- notifier ---------------------------------------------------------------------

    def register_package(self, package: EventPackage) -> None:
        self._packages[package.name.lower()] = package

    @property
    def allow_events(self) -> str:
        return ", ".join(sorted(self._packages))

    def served(self, package: str | None = None) -> list[ServerSubscription]:
        return [s for s in self._served.values() if package is None or s.package == package]

    def handle_subscribe(self, request: Request, tx: ServerTransaction, source: Source, account: Account) -> None:
        """An incoming SUBSCRIBE, new or inside one of our notifier dialogs."""
        package_id = event_package(request)
        if request.to.tag is not None:
            self._refresh_served(request, tx, package_id)
            return
        package = self._packages.get(package_id[0]) if package_id is not None else None
        if package is None or package_id is None:
            # What we serve is no secret (OPTIONS says it too): 489 comes before the check of the source.
            self._ua.reply(tx, 489, headers=[("Allow-Events", self.allow_events)])
            return
        if not self._ua.may_reach(source, account):
            self._refusals.note(f"SUBSCRIBEs refused: not through the server of {account.aor}")
            self._ua.reply(tx, 403, "Forbidden")
            return
        expires = int_header(request, "Expires")
        if expires is None:
            expires = package.default_expires
        if 0 < expires < MIN_EXPIRES:
            self._ua.reply(tx, 423, headers=[("Min-Expires", str(MIN_EXPIRES))])
            return
        expires = min(expires, MAX_EXPIRES)
        to_tag = new_tag()
        contact = self._ua.contact_for(
            account, source.target, secure=isinstance(request.uri, SipUri) and request.uri.scheme == "sips"
        )
        try:
            dialog = Dialog.from_uas(request, to_tag, contact)
        except SipParseError as exc:
            self._ua.reply(tx, exc.status_code or 400, str(exc)[:80])
            return
        accept = tuple(m.mime.lower() for m in request.accept) if request.accept is not None else ()
        served = ServerSubscription(
            id=f"w{next(self._server_ids)}",
            account=account,
            package=package.name.lower(),
            event_id=package_id[1],
            watcher=request.from_,
            dialog=dialog,
            accept=accept,
            target=source,
            expires_at=time.monotonic() + expires,
            identity=self._ua.verified_identity(request, source, account),
            from_server=self._ua.from_server(source, account),
        )
        decision = package.authorize(served)
        if decision == "rejected":
            self._ua.reply(tx, 403, "Subscription refused")
            return
        if decision == "deferred":
            self._refusals.note(f"SUBSCRIBEs refused: {package.name} watchers waiting for the user")
            self._ua.reply(tx, 503, headers=[("Retry-After", str(DEFERRED_RETRY_AFTER))])
            return
        served.state = "active" if decision == "active" else "pending"
        self._ua.keep_dialog(dialog)
        self._served[(dialog.call_id, dialog.local_tag)] = served
        response = make_response(
            request,
            200,
            to_tag=to_tag,
            headers=[("Expires", str(expires)), ("Contact", str(contact)), *_record_routes(request)],
        )
        self._ua.respond(tx, response)
        if expires == 0:
            # RFC 6665 4.4.3: a fetch: one NOTIFY with the state, and done.
            self._end_served(served, "timeout")
            return
        self._arm_expiry(served, expires)
        self._send_notify(served)

    def _refresh_served(
        self, request: Request, tx: ServerTransaction, package_id: tuple[str, str | None] | None
    ) -> None:
        served = self._served.get((request.call_id, request.to.tag or ""))
        if served is None or served.dialog.remote_tag != (request.from_.tag or ""):
            self._ua.reply(tx, 481)
            return
        if package_id is None or package_id[0] != served.package:
            self._ua.reply(tx, 489, headers=[("Allow-Events", self.allow_events)])
            return
        refused = served.dialog.receive_request(request)
        if refused is not None:
            self._ua.respond(tx, error_response(request, refused))
            return
        expires = int_header(request, "Expires")
        package = self._packages[served.package]
        if expires is None:
            expires = package.default_expires
        if 0 < expires < MIN_EXPIRES:
            self._ua.reply(tx, 423, headers=[("Min-Expires", str(MIN_EXPIRES))])
            return
        expires = min(expires, MAX_EXPIRES)
        self._ua.reply(tx, 200, headers=[("Expires", str(expires))])
        if expires == 0:
            self._end_served(served, "timeout")
            return
        served.expires_at = time.monotonic() + expires
        self._arm_expiry(served, expires)
        self._send_notify(served)

    def _arm_expiry(self, served: ServerSubscription, expires: int) -> None:
        if served._timer is not None:
            served._timer.cancel()
        served._timer = self._ua.call_later(expires, self._end_served, served, "timeout")

    def notify_package(self, package: str, account: Account | None = None) -> None:
        """The state of ``package`` changed: NOTIFY every active watcher (of ``account``)."""
        for served in list(self._served.values()):
            if served.package == package and served.state == "active":
                if account is None or served.account is account:
                    self._send_notify(served)

    def notify(self, served: ServerSubscription) -> None:
        """Send ``served`` its current state again (what it may see changed)."""
        if served.state == "active":
            self._send_notify(served)

    def decide(self, served: ServerSubscription, allow: bool) -> None:
        """The user's answer for a pending watcher: activate (with the state) or end it (rejected)."""
        if served.state == "terminated":
            return
        if allow:
            served.state = "active"
            self._send_notify(served)
        else:
            self._end_served(served, "rejected")

    def end_served(self, account: Account, package: str | None = None) -> None:
        """End what we serve of ``account`` (of ``package``, or every package): the account is going away."""
        for served in list(self._served.values()):
            if served.account.aor == account.aor and (package is None or served.package == package):
                self._end_served(served, "noresource")

    def _end_served(self, served: ServerSubscription, reason: str) -> None:
        if served._timer is not None:
            served._timer.cancel()
            served._timer = None
        if served.state == "terminated":
            return
        served.state = "terminated"
        self._send_notify(served, reason=reason)
        self._served.pop((served.dialog.call_id, served.dialog.local_tag), None)

    def _send_notify(self, served: ServerSubscription, reason: str | None = None) -> None:
        package = self._packages.get(served.package)
        if package is None or served.dialog.terminated:
            return
        remaining = max(0, int(served.expires_at - time.monotonic()))
        if served.state == "terminated":
            state = f"terminated;reason={reason or 'noresource'}"
        else:
            state = f"{served.state};expires={remaining}"
        event = served.package if served.event_id is None else f"{served.package};id={served.event_id}"
        headers = [("Event", event), ("Subscription-State", state)]
        body = b""
        content_type: str | None = None
        if served.state == "active" or (served.state == "terminated" and reason == "timeout"):
            made = package.state_body(served)
            if made is not None:
                content_type, body = made
        dialog = served.dialog
        final = served.state == "terminated"

        async def send() -> None:
            try:
                response = await self._ua.request_in_dialog(
                    served.account, dialog, "NOTIFY", headers=headers, body=body, content_type=content_type
                )
            except Exception as exc:
                log.info("NOTIFY %s to %s failed: %s", served.package, served.watcher_uri, exc)
                self._drop_served(served)
                return
            if not final and (response.status_code in (408, 481) or response.status_code >= 500):
                # RFC 6665 4.2.2: a NOTIFY the subscriber refuses ends the subscription.
                self._drop_served(served)
            if final:
                dialog.terminate()
                self._ua.forget_dialog(dialog)

        task = self._ua.spawn(send(), name=f"NOTIFY {served.package} {served.watcher_uri}")
        self._notifying.add(task)
        task.add_done_callback(self._notifying.discard)

    def _drop_served(self, served: ServerSubscription) -> None:
        if served._timer is not None:
            served._timer.cancel()
            served._timer = None
        served.state = "terminated"
        served.dialog.terminate()
        self._ua.forget_dialog(served.dialog)
        self._served.pop((served.dialog.call_id, served.dialog.local_tag), None)

    # --- life cycle -------------------------------------------------------------------

    async def close(self, timeout: float = 2.0) -> None:
        """Unsubscribe from everything and end what we serve, giving each a bounded moment."""
        for served in list(self._served.values()):
            self._end_served(served, "noresource")
        subs = self.subscriptions
        if subs:
            await asyncio.gather(*(self.unsubscribe(s, timeout) for s in subs), return_exceptions=True)
        if self._notifying:
            # The final NOTIFYs (RFC 6665 4.2.2): let watchers hear we are gone, within the same bound.
            await asyncio.wait(set(self._notifying), timeout=timeout)


def int_header(message: Request | Response, name: str) -> int | None:
    value = message.headers.get(name)
    if value is None:
        return None
    try:
        number = int(value.split(";")[0].split("(")[0].strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _record_routes(request: Request) -> list[tuple[str, str]]:
    return [("Record-Route", value) for value in request.headers.get_all("Record-Route")]

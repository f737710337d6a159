"""Message-waiting indication (RFC 3842): the ``message-summary`` event package, subscriber side.

:class:`MwiService` (``ua.mwi``) subscribes each registering account to its
own address of record's ``message-summary`` once the account is registered,
and also takes the unsolicited NOTIFYs (no To tag) many voicemail servers send
instead, but only from the account's own registrar or outbound proxy
(``ServiceHost.from_server``): anyone else's is refused with 403 and changes
nothing, so nobody can show fake voicemail (and a voicemail number to call)
on the phone. Each valid summary becomes an
:class:`~softphone.ua.events.MwiEvent` and is kept as the account's latest
(:meth:`MwiService.summary`).

A NOTIFY whose body is not a valid ``application/simple-message-summary`` is
answered 400 and changes nothing; inside a subscription that keeps the
subscription (notifiers end one only on 481 or a timeout, RFC 6665 4.2.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from softphone.sip.errors import BodyError, SipParseError
from softphone.sip.message import Request
from softphone.sip.message_summary import MESSAGE_SUMMARY_CONTENT_TYPE, MessageSummary, parse_message_summary
from softphone.sip.transaction import ServerTransaction
from softphone.transport import LimitLog, Source
from softphone.ua.account import Account
from softphone.ua.events import Event, MwiEvent, RegistrationEvent, SubscriptionEvent
from softphone.ua.limits import REFUSAL_LOG_INTERVAL
from softphone.ua.subscription import Subscription, event_package

if TYPE_CHECKING:
    from softphone.ua.host import ServiceHost

__all__ = ["MESSAGE_SUMMARY_EVENT", "MwiService"]

log = logging.getLogger(__name__)

MESSAGE_SUMMARY_EVENT = "message-summary"
DEFAULT_EXPIRES = 3600
# At stop, how long each unsubscription may wait for the notifier's final NOTIFY.
UNSUBSCRIBE_WAIT = 2.0


class MwiService:
    """Message-waiting state of the accounts of one :class:`~softphone.ua.agent.UserAgent`.

    ``auto_subscribe`` (default True): subscribe each registering account to
    its voicemail summary once registered. ``expires``: the subscription
    lifetime asked for.
    """

    def __init__(self, ua: ServiceHost, *, auto_subscribe: bool = True, expires: int = DEFAULT_EXPIRES) -> None:
        self._ua = ua
        self.auto_subscribe = auto_subscribe
        self.expires = expires
        self._summaries: dict[str, MwiEvent] = {}
        self._subscriptions: dict[str, Subscription] = {}
        self._refusals = LimitLog(REFUSAL_LOG_INTERVAL, logger=log)
        ua.subscribe(self._on_event)
        ua.add_request_handler("NOTIFY", self._on_unsolicited_notify)
        ua.add_closer(self.close)
        ua.add_account_hooks(lambda _account: None, self._account_removed)

    # --- public -----------------------------------------------------------------------

    def summary(self, account: str | None = None) -> MwiEvent | None:
        """The latest message-waiting summary of ``account`` (the first account by default); None before one came."""
        return self._summaries.get(self._ua.account(account).aor)

    @property
    def summaries(self) -> dict[str, MwiEvent]:
        """The latest summary of every account that received one, by address of record."""
        return dict(self._summaries)

    def subscription(self, account: str | None = None) -> Subscription | None:
        """Our ``message-summary`` subscription of ``account``, if one is running."""
        return self._subscriptions.get(self._ua.account(account).aor)

    def subscribe(self, account: str | None = None) -> Subscription:
        """Subscribe ``account`` to its own ``message-summary`` (done by itself once it registers)."""
        acc = self._ua.account(account)
        sub = self._subscriptions.get(acc.aor)
        if sub is not None and sub.wanted:
            return sub
        sub = self._ua.subscriptions.subscribe(
            acc,
            acc.uri.replace(params={}, headers=[]),
            MESSAGE_SUMMARY_EVENT,
            accept=[MESSAGE_SUMMARY_CONTENT_TYPE],
            on_notify=self._on_notify,
            on_state=self._on_state,
            expires=self.expires,
        )
        self._subscriptions[acc.aor] = sub
        return sub

    async def unsubscribe(self, account: str | None = None, timeout: float = UNSUBSCRIBE_WAIT) -> None:
        """End the ``message-summary`` subscription of ``account`` (the last summary is kept)."""
        acc = self._ua.account(account)
        sub = self._subscriptions.pop(acc.aor, None)
        if sub is not None:
            await self._ua.subscriptions.unsubscribe(sub, timeout)

    async def close(self) -> None:
        """Unsubscribe every account (run by ``ua.stop()``)."""
        subs = list(self._subscriptions.values())
        self._subscriptions.clear()
        if subs:
            await asyncio.gather(
                *(self._ua.subscriptions.unsubscribe(s, UNSUBSCRIBE_WAIT) for s in subs), return_exceptions=True
            )

    async def _account_removed(self, account: Account) -> None:
        self._summaries.pop(account.aor, None)
        sub = self._subscriptions.pop(account.aor, None)
        if sub is not None:
            await self._ua.subscriptions.unsubscribe(sub, UNSUBSCRIBE_WAIT)

    # --- events of the UA ---------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if not isinstance(event, RegistrationEvent) or not self.auto_subscribe:
            return
        try:
            account = self._ua.account(event.account)
        except Exception:
            return
        if event.state == "registered" and account.register:
            sub = self._subscriptions.get(account.aor)
            if sub is None or not sub.wanted:
                self.subscribe(account.aor)
        elif event.state == "unregistered":
            sub = self._subscriptions.pop(account.aor, None)
            if sub is not None:
                self._ua.spawn(self._ua.subscriptions.unsubscribe(sub, UNSUBSCRIBE_WAIT))

    # --- NOTIFY -------------------------------------------------------------------------

    def _on_notify(self, sub: Subscription, request: Request) -> int | None:
        if not request.body:
            return None  # RFC 6665 4.2.2: a pending subscription's NOTIFY carries no state
        return self._take(sub.account, request, "subscription")

    def _on_unsolicited_notify(self, request: Request, tx: ServerTransaction, source: Source, account: Account) -> bool:
        if request.to.tag is not None:
            return False
        package = event_package(request)
        if package is None or package[0] != MESSAGE_SUMMARY_EVENT:
            return False
        if not self._ua.from_server(source, account):
            self._refusals.note(f"unsolicited message-summary NOTIFYs refused: not from the server of {account.aor}")
            self._ua.reply(tx, 403, "Forbidden")
            return True
        if not request.body:
            self._ua.reply(tx, 200)
            return True
        code = self._take(account, request, f"unsolicited NOTIFY from {source.target.host}")
        if code == 415:
            self._ua.reply(tx, 415, headers=[("Accept", MESSAGE_SUMMARY_CONTENT_TYPE)])
        else:
            self._ua.reply(tx, code or 200, "Bad message-summary body" if code == 400 else None)
        return True

    def _take(self, account: Account, request: Request, where: str) -> int | None:
        """Apply a NOTIFY's body to ``account``: None when taken, 400 or 415 when not."""
        try:
            content_type = request.content_type
        except SipParseError:
            content_type = None
        if content_type is None or content_type.mime != MESSAGE_SUMMARY_CONTENT_TYPE:
            log.info("%s for %s: not %s; ignored", where, account.aor, MESSAGE_SUMMARY_CONTENT_TYPE)
            return 415
        try:
            summary = parse_message_summary(request.body, content_type.param("charset"))
        except BodyError as exc:
            log.info("%s for %s: bad message-summary body: %s", where, account.aor, exc)
            return 400
        event = mwi_event(account.aor, summary)
        self._summaries[account.aor] = event
        self._ua.emit(event)
        return None

    def _on_state(self, sub: Subscription) -> None:
        if sub.state == "init":
            return
        with contextlib.suppress(Exception):
            self._ua.emit(
                SubscriptionEvent(
                    sub.account.aor, str(sub.target), MESSAGE_SUMMARY_EVENT, sub.state, sub.reason, sub.code
                )
            )
        if sub.state == "terminated" and not sub.wanted and self._subscriptions.get(sub.account.aor) is sub:
            del self._subscriptions[sub.account.aor]


def mwi_event(account: str, summary: MessageSummary) -> MwiEvent:
    """The event for ``summary``: voice messages as new/old, or the totals when there is no voice class."""
    voice = summary.voice
    new, old = (voice.new, voice.old) if voice is not None else (summary.new_messages, summary.old_messages)
    return MwiEvent(
        account,
        new,
        old,
        summary.messages_waiting,
        summary.account,
        {name: (c.new, c.old) for name, c in summary.counts.items()},
    )

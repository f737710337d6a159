"""Who may watch us: the one authorisation of the presence and dialog event packages we serve.

:class:`WatcherPolicy` (``ua.subscriptions.watchers``) decides each new
subscription to a package that uses it (RFC 3856 6.6, RFC 4235 3.3). The
watcher is named by its *verified* identity (``ServiceHost.verified_identity``:
the P-Asserted-Identity or authenticated From our server relayed, or for a LAN
account a From whose host is the packet's source); a From nobody vouches for
counts only as a claim.

- blocked (by the user) → refused (403);
- verified, and allowed by the user or in the buddy list (a contact's URI, a
  watched buddy) → active;
- anything else → pending, recorded for the user's allow or block, with
  nothing revealed: a pending subscription's NOTIFYs carry no state
  (RFC 6665 4.2.2). An unverified claim to be an allowed watcher or a buddy is
  pending too, reported with ``verified=False``.

Pending requests are capped (:attr:`WatcherPolicy.max_pending` watchers per
account, twice as many pending subscriptions): beyond, a new one is deferred
(503 with Retry-After), so invented watchers can grow neither the store nor the
user's list of requests. The same decision covers both packages; ``details``
(:meth:`WatcherPolicy.allow`) additionally lets a verified watcher see our
calls' identifiers in the dialog package.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from softphone.store.uris import normalise_uri
from softphone.store.watchers import Authorization
from softphone.ua.account import Account
from softphone.ua.events import WatcherEvent

if TYPE_CHECKING:
    from softphone.ua.host import ServiceHost
    from softphone.ua.subscription import ServerSubscription, Subscriptions

__all__ = ["MAX_PENDING_WATCHERS", "WatcherPolicy"]

log = logging.getLogger(__name__)

MAX_PENDING_WATCHERS = 32
"""Watchers of one account waiting for the user's decision; a new one beyond is deferred (503)."""

PolicyDecision = Literal["active", "pending", "rejected", "deferred"]


def watcher_key(served: ServerSubscription) -> str:
    """Whom a subscription is from, for decisions: the verified identity, else the claimed From."""
    return normalise_uri(served.identity or str(served.watcher_uri))


class WatcherPolicy:
    """The watcher decisions of one user agent's accounts; see the module documentation."""

    def __init__(self, ua: ServiceHost, subscriptions: Subscriptions) -> None:
        self._ua = ua
        self._subscriptions = subscriptions
        self.max_pending = MAX_PENDING_WATCHERS
        self.packages: set[str] = set()
        self._buddies: list[Callable[[str], bool]] = []
        self._memory: dict[tuple[str, str], Authorization] = {}
        self._memory_details: set[tuple[str, str]] = set()

    def serve(self, package: str) -> None:
        """``package`` authorises its watchers here (and :meth:`allow` activates its pending ones)."""
        self.packages.add(package.lower())

    def add_buddies(self, is_buddy: Callable[[str], bool]) -> None:
        """One more source of buddy-list members: ``is_buddy(normalised URI)``."""
        self._buddies.append(is_buddy)

    # --- deciding -------------------------------------------------------------------------

    def authorize(self, served: ServerSubscription) -> PolicyDecision:
        account = served.account
        key = watcher_key(served)
        verified = served.identity is not None
        decision = self.decision(account, key)
        if decision == Authorization.BLOCK:
            log.info("%s watcher %s of %s is blocked", served.package, key, account.aor)
            return "rejected"
        if verified and (decision == Authorization.ALLOW or self._known(key, served.from_server)):
            self._ua.emit(WatcherEvent(key, "active", account.aor))
            return "active"
        pending = self._pending_subscriptions(account)
        waiting = self.pending(account.aor)
        if (key not in waiting and len(waiting) >= self.max_pending) or len(pending) >= 2 * self.max_pending:
            return "deferred"
        if decision is None:
            self._record(account, key, Authorization.PENDING)
        self._ua.emit(WatcherEvent(key, "pending", account.aor, verified=verified))
        return "pending"

    def decision(self, account: Account, watcher: str) -> Authorization | None:
        store = self._ua.store
        if store is not None:
            return store.watchers.decision(account.aor, watcher)
        return self._memory.get((normalise_uri(account.aor), normalise_uri(watcher)))

    def details(self, served: ServerSubscription) -> bool:
        """Whether ``served`` may see our calls' identifiers: a verified watcher allowed with details."""
        if served.identity is None or served.state != "active":
            return False
        key = watcher_key(served)
        store = self._ua.store
        if store is not None:
            record = store.watchers.get(served.account.aor, key)
            return record is not None and record.decision == Authorization.ALLOW and record.details
        return (normalise_uri(served.account.aor), key) in self._memory_details

    def _known(self, watcher: str, via_server: bool) -> bool:
        if any(is_buddy(watcher) for is_buddy in self._buddies):
            return True
        store = self._ua.store
        if store is None:
            return False
        if via_server:
            # Our server vouches for the whole identity, so a contact's number matches too.
            return store.contacts.find_by_uri(watcher) is not None
        # Directly, only the host is proven: the exact URI of a contact, no number matching.
        return store.contacts.has_uri(watcher)

    def _record(self, account: Account, watcher: str, decision: Authorization, details: bool | None = None) -> None:
        store = self._ua.store
        if store is not None:
            if decision == Authorization.PENDING:
                store.watchers.add_pending(account.aor, watcher)
            else:
                store.watchers.set(account.aor, watcher, decision, details=details)
            return
        key = (normalise_uri(account.aor), watcher)
        if decision != Authorization.PENDING or key not in self._memory:
            self._memory[key] = decision
        if decision != Authorization.ALLOW or details is False:
            self._memory_details.discard(key)
        elif details:
            self._memory_details.add(key)

    def _pending_subscriptions(self, account: Account) -> list[ServerSubscription]:
        return [
            s
            for s in self._subscriptions.served()
            if s.package in self.packages and s.account is account and s.state == "pending"
        ]

    # --- the user's answers ---------------------------------------------------------------

    def pending(self, account: str | None = None) -> list[str]:
        """Watchers of ``account`` waiting for the user's allow or block, oldest first."""
        acc = self._ua.account(account)
        store = self._ua.store
        if store is not None:
            recorded = [d.watcher for d in store.watchers.pending(acc.aor)]
        else:
            aor = normalise_uri(acc.aor)
            recorded = [w for (a, w), d in self._memory.items() if a == aor and d == Authorization.PENDING]
        live = [watcher_key(s) for s in self._pending_subscriptions(acc)]
        return list(dict.fromkeys([*recorded, *live]))

    def allow(self, uri: str, account: str | None = None, *, details: bool | None = None) -> None:
        """Let ``uri`` watch ``account``: stored, and its pending subscriptions become active. ``details``
        (True/False; None keeps what was decided): also the identifiers of our calls in the dialog package."""
        self._decide(uri, account, allow=True, details=details)

    def block(self, uri: str, account: str | None = None) -> None:
        """Never let ``uri`` watch ``account``: stored, and its subscriptions end (``rejected``)."""
        self._decide(uri, account, allow=False)

    def _decide(self, uri: str, account: str | None, *, allow: bool, details: bool | None = None) -> None:
        acc = self._ua.account(account)
        watcher = normalise_uri(uri)
        if not watcher:
            raise ValueError(f"not a watcher address: {uri!r}")
        self._record(acc, watcher, Authorization.ALLOW if allow else Authorization.BLOCK, details)
        for served in self._subscriptions.served():
            if served.package not in self.packages or served.account is not acc or watcher_key(served) != watcher:
                continue
            if allow and served.state == "pending":
                self._subscriptions.decide(served, True)
            elif allow:
                self._subscriptions.notify(served)  # a change of details changes what the dialog package shows
            else:
                self._subscriptions.decide(served, False)
        self._ua.emit(WatcherEvent(watcher, "allowed" if allow else "blocked", acc.aor))

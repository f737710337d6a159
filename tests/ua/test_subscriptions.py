"""RFC 6665 subscriptions between two user agents on loopback: one notifies a package, the other subscribes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from softphone.sip.message import Request
from softphone.sip.uri import parse_uri
from softphone.ua import Account, UserAgent
from softphone.ua import subscription as subscription_module
from softphone.ua.subscription import Decision, ServerSubscription, Subscription
from tests.ua import make_ua

COUNTER = "x-counter"
MIME = "text/x-counter"


@dataclass
class CounterPackage:
    """A package serving a number; watchers named in ``blocked`` are refused, in ``ask`` held pending."""

    value: int = 0
    name: str = COUNTER
    default_expires: int = 600
    blocked: set[str] = field(default_factory=set)
    ask: set[str] = field(default_factory=set)
    seen: list[ServerSubscription] = field(default_factory=list)

    def authorize(self, subscription: ServerSubscription) -> Decision:
        self.seen.append(subscription)
        user = getattr(subscription.watcher_uri, "user", None) or ""
        if user in self.blocked:
            return "rejected"
        return "pending" if user in self.ask else "active"

    def state_body(self, subscription: ServerSubscription) -> tuple[str, bytes] | None:
        return MIME, str(self.value).encode()


@dataclass
class Watcher:
    bodies: list[str] = field(default_factory=list)
    states: list[tuple[str, str | None]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_notify(self, sub: Subscription, request: Request) -> int | None:
        if request.body:
            self.bodies.append(request.body.decode())
        self.changed.set()
        return None

    def on_state(self, sub: Subscription) -> None:
        self.states.append((sub.state, sub.reason))
        self.changed.set()

    async def until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        async def loop() -> None:
            while not check():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), timeout)


def run(scenario: Callable[[UserAgent, UserAgent, CounterPackage], Awaitable[None]]) -> None:
    async def main() -> None:
        notifier = make_ua(Account("sip:bob@127.0.0.1", register=False))
        watcher = make_ua(Account("sip:alice@127.0.0.1", register=False))
        package = CounterPackage()
        notifier.subscriptions.register_package(package)
        await notifier.start()
        await watcher.start()
        port = notifier.stack.transport.local_address("UDP")[1]
        watcher.accounts[0].outbound_proxy = f"sip:127.0.0.1:{port}"
        try:
            await scenario(notifier, watcher, package)
        finally:
            await watcher.stop()
            await notifier.stop()

    asyncio.run(main())


def subscribe(ua: UserAgent, w: Watcher, event: str = COUNTER, expires: int = 600) -> Subscription:
    return ua.subscriptions.subscribe(
        ua.accounts[0],
        parse_uri("sip:bob@127.0.0.1"),
        event,
        accept=[MIME],
        on_notify=w.on_notify,
        on_state=w.on_state,
        expires=expires,
    )


def test_subscribe_notify_change_and_unsubscribe() -> None:
    async def scenario(notifier: UserAgent, watcher: UserAgent, package: CounterPackage) -> None:
        w = Watcher()
        package.value = 7
        sub = subscribe(watcher, w)
        await w.until(lambda: w.bodies == ["7"] and sub.state == "active")
        package.value = 8
        notifier.subscriptions.notify_package(COUNTER)
        await w.until(lambda: w.bodies[-1:] == ["8"])
        (served,) = notifier.subscriptions.served(COUNTER)
        assert served.state == "active" and str(served.watcher_uri) == "sip:alice@127.0.0.1"
        await watcher.subscriptions.unsubscribe(sub)
        assert sub.state == "terminated"
        assert not notifier.subscriptions.served(COUNTER)
        assert watcher.subscriptions.subscriptions == []

    run(scenario)


def test_unknown_package_is_489_and_a_rejected_watcher_403() -> None:
    async def scenario(notifier: UserAgent, watcher: UserAgent, package: CounterPackage) -> None:
        w = Watcher()
        sub = subscribe(watcher, w, event="no-such-package")
        await w.until(lambda: sub.state == "terminated")
        assert sub.code == 489
        package.blocked.add("alice")
        w2 = Watcher()
        sub2 = subscribe(watcher, w2)
        await w2.until(lambda: sub2.state == "terminated")
        assert sub2.code == 403
        assert not notifier.subscriptions.served()

    run(scenario)


def test_pending_watcher_gets_the_state_once_allowed_or_a_rejection() -> None:
    async def scenario(notifier: UserAgent, watcher: UserAgent, package: CounterPackage) -> None:
        package.ask.add("alice")
        package.value = 3
        w = Watcher()
        sub = subscribe(watcher, w)
        await w.until(lambda: sub.state == "pending" and sub.notified)
        assert w.bodies == []  # RFC 6665 4.2.2: no state while pending
        (served,) = notifier.subscriptions.served(COUNTER)
        notifier.subscriptions.decide(served, allow=True)
        await w.until(lambda: w.bodies == ["3"] and sub.state == "active")

        w2 = Watcher()
        sub2 = subscribe(watcher, w2)
        await w2.until(lambda: sub2.state == "pending" and sub2.notified)
        pending = [s for s in notifier.subscriptions.served(COUNTER) if s.state == "pending"]
        notifier.subscriptions.decide(pending[0], allow=False)
        await w2.until(lambda: sub2.state == "terminated")
        assert sub2.reason == "rejected" and not sub2.wanted

    run(scenario)


def test_refresh_before_expiry_and_resubscribe_after_deactivated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subscription_module, "MIN_EXPIRES", 1)

    async def scenario(notifier: UserAgent, watcher: UserAgent, package: CounterPackage) -> None:
        w = Watcher()
        sub = subscribe(watcher, w, expires=2)
        await w.until(lambda: sub.state == "active")
        (served,) = notifier.subscriptions.served(COUNTER)
        first_deadline = served.expires_at
        # Refreshed in-dialog before the 2 s run out: the same subscription lives on, with a later deadline.
        await w.until(lambda: served.expires_at > first_deadline, timeout=10)
        assert notifier.subscriptions.served(COUNTER) == [served]
        # The notifier ends it with "deactivated": the watcher subscribes afresh at once (RFC 6665 4.1.3).
        package.value = 5
        notifier.subscriptions._end_served(served, "deactivated")
        await w.until(lambda: any(s is not served and s.state == "active" for s in notifier.subscriptions.served()))
        await w.until(lambda: sub.state == "active" and w.bodies[-1:] == ["5"])
        assert ("terminated", "deactivated") in w.states

    run(scenario)


def test_notify_for_nothing_we_subscribed_is_481_and_fetch_gives_one_notify() -> None:
    async def scenario(notifier: UserAgent, watcher: UserAgent, package: CounterPackage) -> None:
        package.value = 11
        w = Watcher()
        sub = subscribe(watcher, w, expires=0)
        await w.until(lambda: w.bodies == ["11"] and sub.state == "terminated")
        assert not notifier.subscriptions.served()
        _, response = await notifier.request_out_of_dialog(
            notifier.accounts[0],
            "NOTIFY",
            parse_uri(f"sip:alice@127.0.0.1:{watcher.stack.transport.local_address('UDP')[1]}"),
            headers=[("Event", COUNTER), ("Subscription-State", "active")],
        )
        assert response.status_code == 489  # unsolicited NOTIFY of a package nobody takes

    run(scenario)

"""Calls between UserAgents through the real Kamailio on loopback."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from softphone.ua import (
    Account,
    Call,
    CallEvent,
    DtmfEvent,
    Event,
    Forwarding,
    IncomingCallEvent,
    RegistrationEvent,
    TransferEvent,
    UserAgent,
)
from tests.kamailio_server import Kamailio
from tests.ua import Recorder, make_ua

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel


def new_account(server: Kamailio, transport: str = "udp", **options: Any) -> Account:
    name = "u" + secrets.token_hex(4)
    password = secrets.token_hex(6)
    server.add_user(name, password)
    return Account(
        server.aor(name),
        password,
        registrar=server.proxy_uri(transport),
        transport=transport,  # type: ignore[arg-type]
        ca_file=str(server.ca_cert_path),
        **options,
    )


def call_state(value: str, call_id: str | None = None) -> Callable[[object], bool]:
    return lambda e: isinstance(e, CallEvent) and e.state == value and (call_id is None or e.call_id == call_id)


async def registered_and_connected(
    alice: UserAgent, a_events: Recorder, bob: UserAgent, b_events: Recorder, callee: str
) -> tuple[Call, IncomingCallEvent]:
    """Start and register both, then alice calls ``callee`` (bob, who answers by himself): both confirmed."""
    for ua, events in ((alice, a_events), (bob, b_events)):
        await ua.start()
        await ua.register()
        await events.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "registered")
    call = await alice.call(callee)
    incoming = await b_events.wait(lambda e: isinstance(e, IncomingCallEvent))
    assert isinstance(incoming, IncomingCallEvent)
    await a_events.wait(call_state("confirmed", call.id))
    await b_events.wait(call_state("confirmed", incoming.call_id))
    return call, incoming


def direction(call: Call) -> str | None:
    return call.media.direction if call.media is not None else None


class Phone:
    def __init__(self, ua: UserAgent, account: Account) -> None:
        self.ua = ua
        self.account = account
        self.events = Recorder(ua)
        self.acks = 0
        ua.stack.transport.trace_listeners.append(self._count_acks)

    def _count_acks(self, direction: str, peer: str, data: bytes) -> None:
        if direction == "received from" and data.startswith(b"ACK "):
            self.acks += 1

    async def wait_acks(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` ACKs have arrived. A callee's call is "confirmed" (or "held") once its 2xx is
        sent; the ACK follows through the proxy, and the caller's next re-INVITE can overtake it there
        (Kamailio's UDP workers forward in parallel): the callee then answers 500 with Retry-After, as
        RFC 3261 14.2 has it for an INVITE while another is unfinished."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.acks < count:
            assert loop.time() < deadline, f"{self.acks} ACKs of {count} arrived"
            await asyncio.sleep(0.01)

    @property
    def user(self) -> str:
        return self.account.user


@asynccontextmanager
async def phones(*accounts: Account, **options: Any) -> AsyncIterator[list[Phone]]:
    started: list[Phone] = []
    try:
        for account in accounts:
            phone = Phone(make_ua(account, **options), account)
            started.append(phone)
            await phone.ua.start()
            await phone.ua.register()
        for phone in started:
            await phone.events.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "registered")
        yield started
    finally:
        for phone in started:
            await phone.ua.stop()


def run(server: Kamailio, scenario: Callable[..., Awaitable[None]], *accounts: Account) -> None:
    async def main() -> None:
        async with phones(*accounts) as started:
            await scenario(*started)

    asyncio.run(main())


def test_call_answer_and_caller_hangs_up(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone, bob: Phone) -> None:
        call = await alice.ua.call(bob.user)
        await alice.events.wait(call_state("ringing"))
        incoming = await bob.events.wait(lambda e: isinstance(e, IncomingCallEvent))
        assert isinstance(incoming, IncomingCallEvent)
        assert incoming.remote_uri == alice.account.aor
        assert incoming.photo_url == "https://example.com/alice.png"
        await bob.events.wait(call_state("ringing"))
        await bob.ua.answer(incoming.call_id)
        await alice.events.wait(call_state("confirmed"))
        await bob.events.wait(call_state("confirmed"))
        assert call.media is not None and call.media.remote_port > 0
        assert bob.ua.find_call(incoming.call_id).media is not None
        await alice.ua.hangup(call.id)
        ended = await bob.events.wait(call_state("ended"))
        assert isinstance(ended, CallEvent) and ended.reason == "remote hangup"
        await alice.events.wait(call_state("ended"))
        assert call.media_port.closed

    run(kamailio, scenario, new_account(kamailio, photo_url="https://example.com/alice.png"), new_account(kamailio))


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_callee_hangs_up_over_streams(kamailio: Kamailio, transport: str) -> None:
    async def scenario(alice: Phone, bob: Phone) -> None:
        await alice.ua.call(bob.user)
        incoming = await bob.events.wait(lambda e: isinstance(e, IncomingCallEvent))
        await alice.events.wait(call_state("confirmed"))
        await bob.events.wait(call_state("confirmed"))
        assert isinstance(incoming, IncomingCallEvent)
        await bob.ua.hangup(incoming.call_id)
        ended = await alice.events.wait(call_state("ended"))
        assert isinstance(ended, CallEvent) and ended.reason == "remote hangup"

    run(kamailio, scenario, new_account(kamailio, transport), new_account(kamailio, transport, auto_answer=0.2))


@pytest.mark.parametrize("padding", [0, 900], ids=["small", "too-large-for-udp"])
def test_cancel_before_answer(kamailio: Kamailio, padding: int) -> None:
    """An INVITE over 1300 bytes goes over TCP though the account uses UDP (RFC 3261 18.1.1); its CANCEL must
    follow it there (9.1): Kamailio matches a CANCEL to the INVITE by its Via, transport included."""

    async def scenario(alice: Phone, bob: Phone) -> None:
        call = await alice.ua.call(bob.user, headers=[("X-Padding", "p" * padding)] if padding else ())
        await alice.events.wait(call_state("ringing"))
        await bob.events.wait(call_state("ringing"))
        invite = call.machine.uac.invite
        assert invite is not None and invite.via.transport == ("TCP" if padding else "UDP")
        await alice.ua.hangup(call.id)
        ended = await alice.events.wait(call_state("ended"))
        assert isinstance(ended, CallEvent) and ended.code == 487
        remote = await bob.events.wait(call_state("ended"))
        assert isinstance(remote, CallEvent) and remote.code == 487

    run(kamailio, scenario, new_account(kamailio), new_account(kamailio))


def test_busy_and_decline(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone, bob: Phone, carol: Phone) -> None:
        await alice.ua.call(bob.user)
        busy = await alice.events.wait(call_state("ended"))
        assert isinstance(busy, CallEvent) and busy.code == 486
        mark = alice.events.mark()
        await alice.ua.call(carol.user)
        incoming = await carol.events.wait(lambda e: isinstance(e, IncomingCallEvent))
        assert isinstance(incoming, IncomingCallEvent)
        await carol.ua.decline(incoming.call_id)
        declined = await alice.events.wait(call_state("ended"), after=mark)
        assert isinstance(declined, CallEvent) and declined.code == 603

    run(kamailio, scenario, new_account(kamailio), new_account(kamailio, busy=True), new_account(kamailio))


def test_unregistered_callee_is_not_found(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone) -> None:
        await alice.ua.call("nobody" + secrets.token_hex(3))
        ended = await alice.events.wait(call_state("ended"))
        assert isinstance(ended, CallEvent) and ended.code == 404

    run(kamailio, scenario, new_account(kamailio))


def test_hold_and_resume(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone, bob: Phone) -> None:
        call = await alice.ua.call(bob.user)
        await alice.events.wait(call_state("confirmed"))
        incoming = await bob.events.wait(call_state("confirmed"))
        assert isinstance(incoming, CallEvent)
        await bob.wait_acks(1)
        mark_a, mark_b = alice.events.mark(), bob.events.mark()
        await alice.ua.hold(call.id)
        await alice.events.wait(call_state("held"), after=mark_a)
        await bob.events.wait(call_state("held"), after=mark_b)
        await bob.wait_acks(2)
        assert direction(call) == "sendonly"
        bob_call = bob.ua.find_call(incoming.call_id)
        assert bob_call.remote_hold and bob_call.media is not None and bob_call.media.direction == "recvonly"
        mark_a, mark_b = alice.events.mark(), bob.events.mark()
        await alice.ua.resume(call.id)
        await alice.events.wait(call_state("confirmed"), after=mark_a)
        await bob.events.wait(call_state("confirmed"), after=mark_b)
        assert direction(call) == "sendrecv"
        await bob.ua.hangup(incoming.call_id)
        await alice.events.wait(call_state("ended"))

    run(kamailio, scenario, new_account(kamailio), new_account(kamailio, auto_answer=0.1))


def test_dtmf_over_info(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone, bob: Phone) -> None:
        call = await alice.ua.call(bob.user)
        await alice.events.wait(call_state("confirmed"))
        await bob.events.wait(call_state("confirmed"))
        await alice.ua.send_dtmf(call.id, "1*#")
        digits: list[Event] = []
        for _ in range(3):
            event = await bob.events.wait(
                lambda e: isinstance(e, DtmfEvent), after=bob.events.events.index(digits[-1]) + 1 if digits else 0
            )
            digits.append(event)
        assert [e.digit for e in digits if isinstance(e, DtmfEvent)] == ["1", "*", "#"]
        await alice.ua.hangup(call.id)

    run(kamailio, scenario, new_account(kamailio), new_account(kamailio, auto_answer=0.1))


def test_redirect_and_forwarding(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone, bob: Phone, carol: Phone) -> None:
        await alice.ua.call(bob.user)
        await carol.events.wait(lambda e: isinstance(e, IncomingCallEvent))
        await alice.events.wait(call_state("confirmed"))
        assert not any(isinstance(e, IncomingCallEvent) for e in bob.events.events)

    accounts = [new_account(kamailio), new_account(kamailio), new_account(kamailio, auto_answer=0.1)]
    accounts[1].forwarding = Forwarding(accounts[2].aor, always=True)
    run(kamailio, scenario, *accounts)


def test_forwarding_on_no_answer(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone, bob: Phone, carol: Phone) -> None:
        await alice.ua.call(bob.user)
        await bob.events.wait(call_state("ringing"))
        await carol.events.wait(lambda e: isinstance(e, IncomingCallEvent))
        await alice.events.wait(call_state("confirmed"))
        ended = await bob.events.wait(call_state("ended"))
        assert isinstance(ended, CallEvent) and ended.code == 302

    accounts = [new_account(kamailio), new_account(kamailio), new_account(kamailio, auto_answer=0.1)]
    accounts[1].forwarding = Forwarding(accounts[2].aor, no_answer=0.5)
    run(kamailio, scenario, *accounts)


def test_blind_transfer(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone, bob: Phone, carol: Phone) -> None:
        call = await alice.ua.call(bob.user)
        await alice.events.wait(call_state("confirmed"))
        await bob.events.wait(call_state("confirmed"))
        await alice.ua.transfer(call.id, carol.user)
        await carol.events.wait(lambda e: isinstance(e, IncomingCallEvent))
        done = await alice.events.wait(lambda e: isinstance(e, TransferEvent) and e.state == "succeeded")
        assert isinstance(done, TransferEvent) and done.code == 200
        await alice.events.wait(call_state("ended", call.id))
        # bob now talks to carol
        await carol.events.wait(call_state("confirmed"))
        await bob.events.wait(call_state("ended"))
        calls = bob.ua.calls
        assert len(calls) == 1 and calls[0].remote.uri.user == carol.user  # type: ignore[union-attr]

    accounts = [new_account(kamailio), new_account(kamailio, auto_answer=0.1), new_account(kamailio, auto_answer=0.1)]
    run(kamailio, scenario, *accounts)


def test_attended_transfer(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone, bob: Phone, carol: Phone) -> None:
        to_bob = await alice.ua.call(bob.user)
        await alice.events.wait(call_state("confirmed", to_bob.id))
        to_carol = await alice.ua.call(carol.user)
        await alice.events.wait(call_state("confirmed", to_carol.id))
        await alice.ua.hold(to_bob.id)
        await alice.ua.attended_transfer(to_bob.id, to_carol.id)
        await alice.events.wait(lambda e: isinstance(e, TransferEvent) and e.state == "succeeded", timeout=10)
        await alice.events.wait(call_state("ended", to_bob.id))
        await alice.events.wait(call_state("ended", to_carol.id))
        # bob and carol talk to each other now.
        for _ in range(50):
            if len(bob.ua.calls) == 1 and len(carol.ua.calls) == 1:
                break
            await asyncio.sleep(0.1)
        assert bob.ua.calls[0].remote.uri.user == carol.user  # type: ignore[union-attr]
        assert carol.ua.calls[0].remote.uri.user == bob.user  # type: ignore[union-attr]

    accounts = [new_account(kamailio), new_account(kamailio, auto_answer=0.1), new_account(kamailio, auto_answer=0.1)]
    run(kamailio, scenario, *accounts)


def test_session_timer_refresh_and_422(kamailio: Kamailio) -> None:
    async def main() -> None:
        alice_account, bob_account = new_account(kamailio), new_account(kamailio, auto_answer=0.1)
        alice = Phone(make_ua(alice_account, session_expires=2, min_se=1), alice_account)
        # bob wants at least 3 s: alice's first INVITE gets 422 and is sent again with 3.
        bob = Phone(make_ua(bob_account, session_expires=None, min_se=3), bob_account)
        try:
            for phone in (alice, bob):
                await phone.ua.start()
                await phone.ua.register()
                await phone.events.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "registered")
            call = await alice.ua.call(bob.user)
            await alice.events.wait(call_state("confirmed"))
            incoming = await bob.events.wait(call_state("confirmed"))
            assert isinstance(incoming, CallEvent)
            assert call.session_timer is not None and call.session_timer.interval == 3
            assert call.session_timer.we_refresh
            bob_call = bob.ua.find_call(incoming.call_id)
            assert bob_call.session_timer is not None and not bob_call.session_timer.we_refresh
            sent = alice.ua.stack.sent
            refreshes = sent["INVITE"] + sent["UPDATE"]
            # Refreshes at 1.5 s keep the call up well past the 3 s interval; bob allows UPDATE, so
            # they are UPDATEs (RFC 4028 9), not re-INVITEs.
            await asyncio.sleep(4.5)
            assert sent["INVITE"] + sent["UPDATE"] >= refreshes + 2
            assert sent["UPDATE"] >= 2
            assert not call.ended and not bob_call.ended
            await alice.ua.hangup(call.id)
            await bob.events.wait(call_state("ended"))
        finally:
            for phone in (alice, bob):
                await phone.ua.stop()

    asyncio.run(main())


def test_session_expires_without_refresh(kamailio: Kamailio) -> None:
    async def main() -> None:
        alice_account, bob_account = new_account(kamailio), new_account(kamailio, auto_answer=0.1)
        alice = Phone(make_ua(alice_account, session_expires=3, min_se=1), alice_account)
        bob = Phone(make_ua(bob_account, session_expires=None, min_se=1), bob_account)
        try:
            for phone in (alice, bob):
                await phone.ua.start()
                await phone.ua.register()
                await phone.events.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "registered")
            call = await alice.ua.call(bob.user)
            await alice.events.wait(call_state("confirmed"))
            await bob.events.wait(call_state("confirmed"))
            # Alice is the refresher; stop her refreshes and bob ends the session at 3 - 1 = 2 s.
            assert call.session_handle is not None
            call.session_handle.cancel()
            ended = await bob.events.wait(call_state("ended"), timeout=6)
            assert isinstance(ended, CallEvent) and ended.code == 408
            await alice.events.wait(call_state("ended"))
        finally:
            for phone in (alice, bob):
                await phone.ua.stop()

    asyncio.run(main())


def registered_as(aor: str) -> Callable[[object], bool]:
    return lambda e: isinstance(e, RegistrationEvent) and e.state == "registered" and e.account == aor


def test_two_accounts_on_one_user_agent(kamailio: Kamailio) -> None:
    async def main() -> None:
        first, second, caller_account = new_account(kamailio), new_account(kamailio), new_account(kamailio)
        both = Phone(make_ua(first, second), first)
        caller = Phone(make_ua(caller_account), caller_account)
        try:
            for phone in (both, caller):
                await phone.ua.start()
                await phone.ua.register()
            for aor in (first.aor, second.aor):
                await both.events.wait(registered_as(aor))
            await caller.events.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "registered")
            await caller.ua.call(second.user)
            incoming = await both.events.wait(lambda e: isinstance(e, IncomingCallEvent))
            assert isinstance(incoming, IncomingCallEvent)
            assert both.ua.find_call(incoming.call_id).account is second
            # Outgoing calls can use either account.
            call = await both.ua.call(caller_account.user, second.aor)
            assert call.account is second
            await both.ua.hangup(call.id)
        finally:
            for phone in (both, caller):
                await phone.ua.stop()

    asyncio.run(main())


def test_forwarding_when_busy(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone, bob: Phone, carol: Phone) -> None:
        await alice.ua.call(bob.user)
        incoming = await carol.events.wait(lambda e: isinstance(e, IncomingCallEvent))
        assert isinstance(incoming, IncomingCallEvent) and incoming.remote_uri == alice.account.aor
        await alice.events.wait(call_state("confirmed"))

    accounts = [new_account(kamailio), new_account(kamailio, busy=True), new_account(kamailio, auto_answer=0.1)]
    accounts[1].forwarding = Forwarding(accounts[2].aor, busy=True)
    run(kamailio, scenario, *accounts)


def test_call_over_ipv6_loopback(kamailio: Kamailio) -> None:
    if not kamailio.ipv6:
        pytest.skip("this machine has no IPv6 loopback (::1)")

    async def main() -> None:
        registrar = f"sip:[::1]:{kamailio.udp_port}"
        alice_account = new_account(kamailio)
        bob_account = new_account(kamailio, auto_answer=0.1)
        alice_account.registrar = bob_account.registrar = registrar
        alice = Phone(make_ua(alice_account, listen=[("UDP", "::1", 0)]), alice_account)
        bob = Phone(make_ua(bob_account, listen=[("UDP", "::1", 0)]), bob_account)
        try:
            for phone in (alice, bob):
                await phone.ua.start()
                await phone.ua.register()
                await phone.events.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "registered")
            call = await alice.ua.call(bob.user)
            await alice.events.wait(call_state("confirmed"))
            assert call.local_sdp is not None and call.local_sdp.connection is not None
            assert call.local_sdp.connection.addrtype == "IP6"
            assert call.media is not None and call.media.remote_addrtype == "IP6"
            await alice.ua.hangup(call.id)
            await bob.events.wait(call_state("ended"))
        finally:
            for phone in (alice, bob):
                await phone.ua.stop()

    asyncio.run(main())

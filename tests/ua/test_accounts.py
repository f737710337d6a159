"""Accounts of a running UA: addresses as people type them, passwords asked for, and accounts added,
replaced and removed without a restart (against the real Kamailio)."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import socket
from typing import Any

import pytest

from softphone.sip.message import Request, Response
from softphone.sip.uri import SipUri
from softphone.ua import Account, AccountError, CallEvent, IncomingCallEvent, RegistrationEvent, UserAgent
from softphone.ua.account import sip_address
from softphone.ua.wording import call_problem, message_problem, registration_problem, why
from tests.kamailio_server import Kamailio
from tests.ua import Recorder, make_ua
from tests.ua.test_registration import authorized, challenge, ok, start_registrar


@pytest.mark.parametrize(
    ("typed", "uri"),
    [
        ("127.0.0.1:5060", "sip:127.0.0.1:5060"),
        ("127.0.0.1", "sip:127.0.0.1"),
        ("registrar.example.com", "sip:registrar.example.com"),
        ("registrar.example.com:5080;transport=tcp", "sip:registrar.example.com:5080;transport=tcp"),
        ("alice@example.com", "sip:alice@example.com"),
        ("alice@127.0.0.1:5060", "sip:alice@127.0.0.1:5060"),
        ("SIP:alice@example.com", "sip:alice@example.com"),
        ("sips:example.com", "sips:example.com"),
        ("<sip:example.com;lr>", "sip:example.com;lr"),
        ("[2001:db8::1]:5060", "sip:[2001:db8::1]:5060"),
        ("2001:db8::1", "sip:[2001:db8::1]"),
        (" ::1 ", "sip:[::1]"),
    ],
)
def test_addresses_are_taken_as_typed(typed: str, uri: str) -> None:
    assert sip_address(typed) == uri


def test_an_account_takes_host_and_port_in_every_address_field() -> None:
    account = Account("alice@127.0.0.1", "pw", registrar="127.0.0.1:5060", outbound_proxy="127.0.0.1:5060")
    assert account.aor == "sip:alice@127.0.0.1"
    assert str(account.registrar_uri) == "sip:127.0.0.1:5060"
    assert str(account.next_hop) == "sip:127.0.0.1:5060"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"aor": "sip:a@example.com", "registrar": "mailto:x@y"}, "the registrar “mailto:x@y” is not a SIP address"),
        ({"aor": "sip:a@example.com", "registrar": "not a host"}, "the registrar “not a host” is not an address"),
        ({"aor": "sip:a@example.com", "outbound_proxy": ""}, "the outbound proxy is empty"),
        ({"aor": "example.com"}, "the address “sip:example.com” has no user name"),
    ],
)
def test_bad_addresses_are_refused_in_plain_words(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(AccountError) as caught:
        Account(**kwargs)
    text = str(caught.value)
    assert text.startswith(words), text
    assert "malformed" not in text and "scheme" not in text


def test_the_dial_field_takes_a_host_and_port() -> None:
    ua = make_ua(Account("sip:alice@127.0.0.1", register=False))
    account = ua.account()
    target = ua.target_uri("127.0.0.1:5062", account)
    assert isinstance(target, SipUri) and (target.user, target.host, target.port) == (None, "127.0.0.1", 5062)
    target = ua.target_uri("192.0.2.7", account)
    assert isinstance(target, SipUri) and (target.user, target.host) == (None, "192.0.2.7")
    target = ua.target_uri("bob", account)
    assert isinstance(target, SipUri) and (target.user, target.host) == ("bob", "127.0.0.1")
    with pytest.raises(Exception) as caught:
        ua.target_uri("bob smith@@", account)
    assert str(caught.value).startswith("“bob smith@@” is not an address")


def test_problems_are_said_one_way() -> None:
    assert registration_problem("sip:alice@example.com", 401, "Unauthorized") == (
        "Cannot register alice@example.com: the password was not accepted (401)."
    )
    assert registration_problem("sip:alice@example.com", 503, "no answer from UDP 192.0.2.1:5060") == (
        "Cannot register alice@example.com: no answer from UDP 192.0.2.1:5060 (503)."
    )
    assert registration_problem("sip:alice@example.com", None, "cannot resolve example.com") == (
        "Cannot register alice@example.com: cannot resolve example.com."
    )
    assert call_problem("<sip:bob@example.com;transport=tcp>", 486, "Busy Here") == (
        "Cannot call bob@example.com: busy (486)."
    )
    assert message_problem("sip:bob@example.com", 404, "Not Found") == (
        "Cannot send the message to bob@example.com: there is no such user (404)."
    )
    assert why(499, "Odd Reason") == "the other side answered “Odd Reason” (499)"
    assert why(599, "") == "the server failed (599)"


def test_the_cli_says_when_a_registration_is_tried_again() -> None:
    from softphone import cli

    assert cli.describe(RegistrationEvent("sip:a@b", "failed", 503, "no answer from x", retry_in=2.0)) == (
        "registration sip:a@b: failed 503 no answer from x; retrying in 2 s"
    )
    assert cli.describe(RegistrationEvent("sip:a@b", "failed", 401, "a password is needed", needs_password=True)) == (
        "registration sip:a@b: failed 401 a password is needed; waiting for a password"
    )


def failed(e: object) -> bool:
    return isinstance(e, RegistrationEvent) and e.state == "failed"


def registered(e: object) -> bool:
    return isinstance(e, RegistrationEvent) and e.state == "registered"


def test_no_password_is_asked_for_instead_of_sending_empty_credentials() -> None:
    def script(request: Request, index: int) -> Response:
        if authorized(request):
            return ok(request)
        return challenge(request, f"n{index}")

    async def scenario() -> None:
        registrar = await start_registrar(script)
        account = Account("sip:alice@127.0.0.1", registrar=f"127.0.0.1:{registrar.port}")
        ua = make_ua(account)
        events = Recorder(ua)
        await ua.start()
        try:
            await ua.register()
            event = await events.wait(failed)
            assert isinstance(event, RegistrationEvent)
            assert (event.code, event.needs_password, event.retry_in) == (401, True, None)
            assert registration_problem(event.account, event.code, event.reason) == (
                "Cannot register alice@127.0.0.1: a password is needed (401)."
            )
            assert [("Authorization" in r.headers) for r in registrar.requests] == [False]
            # A refused password asks for another one too, and is tried again after the back-off only;
            # a new one registers at once.
            mark = events.mark()
            ua.set_password(account.aor, "wrong")
            event = await events.wait(failed, after=mark)
            assert isinstance(event, RegistrationEvent) and event.needs_password and event.retry_in == 0.3
            mark = events.mark()
            ua.set_password(account.aor, "secret")
            await events.wait(registered, after=mark)
            assert authorized(registrar.requests[-1])
        finally:
            await ua.stop()
            assert registrar.transport is not None
            registrar.transport.close()

    asyncio.run(scenario())


def test_a_failed_registration_says_when_it_tries_again() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    account = Account("sip:nobody@127.0.0.1", "x", registrar=f"127.0.0.1:{port}")

    async def scenario() -> None:
        ua = make_ua(account)  # FAST_RETRY: 0.3 s, doubling up to 1 s
        events = Recorder(ua)
        await ua.start()
        try:
            await ua.register()
            first = await events.wait(failed)
            second = await events.wait(failed, after=events.events.index(first) + 1)
            assert isinstance(first, RegistrationEvent) and isinstance(second, RegistrationEvent)
            assert (first.retry_in, second.retry_in) == (0.3, 0.6)
            assert not first.needs_password
        finally:
            await ua.stop()

    asyncio.run(scenario())


def kamailio_account(server: Kamailio, **options: Any) -> Account:
    name = "a" + secrets.token_hex(4)
    password = secrets.token_hex(6)
    server.add_user(name, password)
    return Account(server.aor(name), password, registrar=server.proxy_uri("udp"), **options)


def state_of(aor: str, state: str) -> Any:
    return lambda e: isinstance(e, RegistrationEvent) and e.account == aor and e.state == state


def call_state(state: str, call_id: str | None = None) -> Any:
    return lambda e: isinstance(e, CallEvent) and e.state == state and (call_id is None or e.call_id == call_id)


async def started(*accounts: Account, **options: Any) -> tuple[UserAgent, Recorder]:
    ua = make_ua(*accounts, **options)
    events = Recorder(ua)
    await ua.start()
    await ua.register()
    for account in accounts:
        if account.register:
            await events.wait(state_of(account.aor, "registered"))
    return ua, events


def test_accounts_are_added_replaced_and_removed_while_calls_go_on(kamailio: Kamailio) -> None:
    alice, bob = kamailio_account(kamailio), kamailio_account(kamailio)
    carol = kamailio_account(kamailio, auto_answer=0.0)

    async def scenario() -> None:
        phone, events = await started(alice)
        other, other_events = await started(carol)
        try:
            # Added while running: registers at once.
            phone.add_account(bob)
            await events.wait(state_of(bob.aor, "registered"))

            # A call on bob's account; alice's account is then edited (new address form, new expiry).
            call = await phone.call(carol.aor, bob.aor)
            await events.wait(call_state("confirmed", call.id))
            mark = events.mark()
            edited = dataclasses.replace(alice, registrar=kamailio.proxy_uri("udp").removeprefix("sip:"), expires=300)
            await phone.replace_account(alice.aor, edited)
            await events.wait(state_of(alice.aor, "unregistered"), after=mark)
            await events.wait(state_of(alice.aor, "registered"), after=mark)
            assert phone.account(alice.aor) is edited
            assert call.state == "confirmed", "a call on another account is not touched"

            # A call on the account being edited goes on until it ends.
            mark = events.mark()
            await phone.replace_account(bob.aor, dataclasses.replace(bob, display_name="Bob B."))
            await events.wait(state_of(bob.aor, "registered"), after=mark)
            assert call.state == "confirmed"
            assert not any(call_state("ended", call.id)(e) for e in events.events)
            await phone.hangup(call.id)
            await other_events.wait(call_state("ended"))

            # Removed: unregistered, and nobody reaches it any more.
            mark = events.mark()
            await phone.remove_account(bob.aor)
            await events.wait(state_of(bob.aor, "unregistered"), after=mark)
            assert [a.aor for a in phone.accounts] == [alice.aor]
            attempt = await other.call(bob.aor)
            ended = await other_events.wait(call_state("ended", attempt.id))
            assert isinstance(ended, CallEvent) and ended.code in (404, 480)
            assert not any(isinstance(e, IncomingCallEvent) for e in events.events[mark:])
        finally:
            await other.stop()
            await phone.stop()

    asyncio.run(scenario())


def test_a_stun_server_is_checked_when_the_account_is_made() -> None:
    assert Account("sip:a@example.com", stun_server="stun.example.com").stun_server == "stun.example.com"
    assert Account("sip:a@example.com", stun_server="  ").stun_server is None
    for bad in ("stun.example.com:0", "[2001:db8::1", "a b"):
        with pytest.raises(AccountError, match="STUN server"):
            Account("sip:a@example.com", stun_server=bad)


def test_a_turn_server_is_checked_and_needs_a_user_and_password() -> None:
    account = Account("sip:a@example.com", turn_server="turn.example.com:3478", turn_user="a", turn_password="pw")
    assert account.turn_server == "turn.example.com:3478" and "pw" not in repr(account)
    with pytest.raises(AccountError, match="needs a user name and a password"):
        Account("sip:a@example.com", turn_server="turn.example.com")
    with pytest.raises(AccountError, match=r"TURN server 'turn\.example\.com:0': bad port"):
        Account("sip:a@example.com", turn_server="turn.example.com:0", turn_user="a", turn_password="pw")
    assert Account("sip:a@x.org", turn_server="turn:t.x.org", turn_user="a", turn_password="").turn_server == "t.x.org"
    assert account.turn_transport == "udp"
    tls = Account("sip:a@x.org", turn_server="t.x.org", turn_user="a", turn_password="pw", turn_transport="tls")
    assert tls.turn_transport == "tls"
    with pytest.raises(AccountError, match="the TURN transport must be one of udp, tcp, tls, not 'sctp'"):
        Account("sip:a@x.org", turn_server="t.x.org", turn_user="a", turn_password="pw", turn_transport="sctp")  # type: ignore[arg-type]

"""Registration of the UserAgent against the real Kamailio on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from softphone.ua import Account, RegistrationEvent, RetryPolicy
from tests.kamailio_server import Kamailio, make_self_signed_certificate
from tests.ua import Recorder, make_ua


def new_user(server: Kamailio, password: str | None = None) -> tuple[str, str]:
    name = "u" + secrets.token_hex(4)
    password = password or secrets.token_hex(6)
    server.add_user(name, password)
    return name, password


def state(value: str) -> Callable[[object], bool]:
    return lambda e: isinstance(e, RegistrationEvent) and e.state == value


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_register_and_unregister(kamailio: Kamailio, transport: str) -> None:
    user, password = new_user(kamailio)
    account = Account(
        kamailio.aor(user),
        password,
        registrar=kamailio.proxy_uri(transport),
        transport=transport,  # type: ignore[arg-type]
        expires=300,
        ca_file=str(kamailio.ca_cert_path),
    )

    async def scenario() -> None:
        ua = make_ua(account)
        events = Recorder(ua)
        await ua.start()
        try:
            await ua.register()
            await events.wait(state("registering"))
            registered = await events.wait(state("registered"))
            assert isinstance(registered, RegistrationEvent)
            assert registered.code == 200
            assert registered.account == kamailio.aor(user)
            assert registered.expires is not None and 0 < registered.expires <= 300
        finally:
            await ua.stop()
        unregistered = await events.wait(state("unregistered"))
        assert isinstance(unregistered, RegistrationEvent) and unregistered.code == 200
        # One challenge and one authenticated REGISTER each way.
        assert ua.stack.sent["REGISTER"] == 4

    asyncio.run(scenario())


def untrusting_account(kamailio: Kamailio, tmp_path: Path) -> tuple[Account, str]:
    """A TLS account that trusts another CA than the server's, and the SHA-256 of the server's certificate."""
    user, password = new_user(kamailio)
    other_ca = tmp_path / "other-ca.pem"
    make_self_signed_certificate(other_ca, tmp_path / "other-ca.key", "Some Other CA")
    der = ssl.PEM_cert_to_DER_cert(kamailio.ca_cert_path.read_text())
    fingerprint = hashlib.sha256(der).digest().hex(":").upper()
    account = Account(
        kamailio.aor(user), password, registrar=kamailio.proxy_uri("tls"), transport="tls", ca_file=str(other_ca)
    )
    return account, fingerprint


def test_untrusted_tls_registrar_is_reported_with_its_fingerprint(kamailio: Kamailio, tmp_path: Path) -> None:
    """Not "503 no answer": the user learns the certificate is not trusted, and which one it is."""
    account, fingerprint = untrusting_account(kamailio, tmp_path)

    async def scenario() -> None:
        ua = make_ua(account, retry=RetryPolicy(first=30.0, maximum=60.0))
        events = Recorder(ua)
        await ua.start()
        try:
            await ua.register()
            failed = await events.wait(state("failed"))
            assert isinstance(failed, RegistrationEvent) and failed.code is None
            # The fixture's certificate is self-signed.
            assert "did not verify" in failed.reason and "self-signed and not trusted" in failed.reason, failed.reason
            assert fingerprint in failed.reason
            assert ua.stack.sent["REGISTER"] == 0
        finally:
            await ua.stop()

    asyncio.run(scenario())


def test_a_certificate_the_user_trusts_by_fingerprint_registers(kamailio: Kamailio, tmp_path: Path) -> None:
    """The failure carries the fingerprint; trusting exactly that certificate lets the account register."""
    account, fingerprint = untrusting_account(kamailio, tmp_path)

    async def scenario() -> None:
        ua = make_ua(account, retry=RetryPolicy(first=30.0, maximum=60.0))
        events = Recorder(ua)
        await ua.start()
        try:
            await ua.register()
            failed = await events.wait(state("failed"))
            assert isinstance(failed, RegistrationEvent)
            assert (failed.tls_problem, failed.fingerprint) == ("untrusted", fingerprint)
            # Another fingerprint changes nothing.
            ua.trust_certificate(account.aor, "00:" * 31 + "00")
            mark = events.mark()
            again = await events.wait(state("failed"), after=mark)
            assert isinstance(again, RegistrationEvent) and again.fingerprint == fingerprint
            ua.trust_certificate(account.aor, fingerprint.lower())
            await events.wait(state("registered"))
            assert fingerprint in account.tls_fingerprints
        finally:
            await ua.stop()

    asyncio.run(scenario())


def test_wrong_password_fails_without_a_retry_storm(kamailio: Kamailio) -> None:
    user, _ = new_user(kamailio)
    account = Account(kamailio.aor(user), "not-the-password", registrar=kamailio.proxy_uri())

    async def scenario() -> None:
        ua = make_ua(account, retry=RetryPolicy(first=30.0, maximum=60.0))
        events = Recorder(ua)
        await ua.start()
        try:
            await ua.register()
            failed = await events.wait(state("failed"))
            assert isinstance(failed, RegistrationEvent)
            assert failed.code in (401, 403)
            await asyncio.sleep(1.5)
            # The first REGISTER and one with credentials; then nothing until the back-off ends.
            assert ua.stack.sent["REGISTER"] == 2
            assert not any(isinstance(e, RegistrationEvent) and e.state == "registered" for e in events.events)
        finally:
            await ua.stop()

    asyncio.run(scenario())


def test_unreachable_registrar_fails_and_retries_with_backoff() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on that port now: ICMP port unreachable ends each try at once.
    account = Account("sip:nobody@127.0.0.1", "x", registrar=f"sip:127.0.0.1:{port}")

    async def scenario() -> None:
        ua = make_ua(account, retry=RetryPolicy(first=0.2, maximum=0.4))
        events = Recorder(ua)
        await ua.start()
        try:
            await ua.register()
            first = await events.wait(state("failed"), timeout=10)
            second = await events.wait(state("failed"), timeout=10, after=events.events.index(first) + 1)
            assert isinstance(second, RegistrationEvent) and second.code in (None, 408, 503)
        finally:
            await ua.stop()
        assert 2 <= ua.stack.sent["REGISTER"] <= 10

    asyncio.run(scenario())


def test_reregisters_after_server_restart(fresh_kamailio: Kamailio) -> None:
    server = fresh_kamailio
    account = Account(server.aor("alice"), "wonderland1", registrar=server.proxy_uri(), expires=4)

    async def scenario() -> None:
        ua = make_ua(account, retry=RetryPolicy(first=0.3, maximum=1.0))
        events = Recorder(ua)
        await ua.start()
        try:
            await ua.register()
            await events.wait(state("registered"))
            # stop() would delete the working directory restart() needs: end only the process.
            await asyncio.to_thread(server._kill)
            mark = events.mark()
            await events.wait(state("failed"), timeout=15, after=mark)
            await asyncio.to_thread(server.restart)
            mark = events.mark()
            registered = await events.wait(state("registered"), timeout=10, after=mark)
            assert isinstance(registered, RegistrationEvent) and registered.code == 200
        finally:
            await ua.stop()

    asyncio.run(scenario())


def test_lost_tcp_flow_registers_again_at_once(fresh_kamailio: Kamailio) -> None:
    server = fresh_kamailio
    # A long binding (no refresh during the test): only the flow failure can trigger the new REGISTER.
    account = Account(server.aor("bob"), "builder22", registrar=server.proxy_uri("tcp"), transport="tcp", expires=600)

    async def scenario() -> None:
        ua = make_ua(account, retry=RetryPolicy(first=0.3, maximum=1.0), keepalive=0.5)
        events = Recorder(ua)
        await ua.start()
        try:
            await ua.register()
            await events.wait(state("registered"))
            mark = events.mark()
            await asyncio.to_thread(server.restart)
            registered = await events.wait(state("registered"), timeout=10, after=mark)
            assert isinstance(registered, RegistrationEvent) and registered.code == 200
        finally:
            await ua.stop()

    asyncio.run(scenario())

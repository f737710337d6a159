"""A client certificate per account: a TLS server that requires one gets the account's, and a phone
without one is told why it cannot register.

The server is a minimal registrar on a real TLS socket (Python's ssl, OpenSSL) that demands a client
certificate it trusts (``CERT_REQUIRED``) and answers every REGISTER with 200 OK, noting the
certificate each connection presented.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from pathlib import Path

import pytest

from softphone.sip.message import Request
from softphone.sip.parser import StreamParser
from softphone.sip.transaction import make_response
from softphone.ua import Account, AccountError, RegistrationEvent
from tests.kamailio_server import make_self_signed_certificate
from tests.ua import Recorder, make_ua

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel


class Registrar:
    """Answers REGISTER over TLS with 200 OK (other requests 405); ``seen`` holds each connection's
    client certificate fingerprint."""

    def __init__(self, directory: Path) -> None:
        self.cert, key = directory / "server.pem", directory / "server-key.pem"
        make_self_signed_certificate(self.cert, key)
        self.trusted, self.trusted_key = directory / "client.pem", directory / "client-key.pem"
        make_self_signed_certificate(self.trusted, self.trusted_key, common_name="alice")
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.cert, key)
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_verify_locations(self.trusted)
        self.seen: list[str] = []
        self.registered: list[str] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        self.seen.append(hashlib.sha256(der).hexdigest() if der else "")
        parser = StreamParser()
        try:
            while data := await reader.read(65536):
                for request in parser.feed(data):
                    if not isinstance(request, Request):
                        continue
                    if request.method == "REGISTER":
                        self.registered.append(str(request.from_.uri))
                        contact = request.headers.get("Contact") or ""
                        headers = [("Contact", f"{contact};expires=600")]
                        answer = make_response(request, 200, to_tag="r1", headers=headers)
                    else:
                        answer = make_response(request, 405, to_tag="r1", headers=[("Allow", "REGISTER")])
                    writer.write(bytes(answer))
                    await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


def fingerprint(pem: Path) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.read_text())).hexdigest()


def account(port: int, registrar: Registrar, **options: object) -> Account:
    return Account(
        "sip:alice@127.0.0.1",
        "pw",
        registrar=f"sip:127.0.0.1:{port};transport=tls",
        transport="tls",
        ca_file=str(registrar.cert),
        **options,  # type: ignore[arg-type]
    )


def test_the_account_certificate_is_offered_and_a_missing_one_is_explained(tmp_path: Path) -> None:
    registrar = Registrar(tmp_path)

    async def main() -> None:
        port = await registrar.start()
        try:
            with_certificate = make_ua(
                account(port, registrar, tls_certificate=str(registrar.trusted), tls_key=str(registrar.trusted_key))
            )
            without = make_ua(account(port, registrar))
            for ua in (with_certificate, without):
                events = Recorder(ua)
                await ua.start()
                try:
                    await ua.register()
                    outcome = await events.wait(
                        lambda e: isinstance(e, RegistrationEvent) and e.state in ("registered", "failed"), 20
                    )
                finally:
                    await ua.stop()
                assert isinstance(outcome, RegistrationEvent)
                if ua is with_certificate:
                    assert outcome.state == "registered", outcome
                else:
                    assert outcome.state == "failed", outcome
                    assert "certificate" in outcome.reason, outcome
        finally:
            await registrar.stop()

    asyncio.run(main())
    assert registrar.seen and set(registrar.seen) == {fingerprint(registrar.trusted)}, registrar.seen
    assert registrar.registered


def test_an_unusable_certificate_file_is_refused_in_words(tmp_path: Path) -> None:
    with pytest.raises(AccountError, match="does not exist"):
        Account("sip:alice@127.0.0.1", tls_certificate=str(tmp_path / "missing.pem"))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(AccountError, match="cannot be used"):
        Account("sip:alice@127.0.0.1", tls_certificate=str(garbage))

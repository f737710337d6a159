"""Registration against a scripted registrar on loopback: 423, stale nonces, failover, refresh."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from softphone.sip.auth import parse_credentials, verify_credentials
from softphone.sip.message import Request, Response
from softphone.sip.parser import parse_message
from softphone.sip.transaction import make_response
from softphone.sip.uri import SipUri
from softphone.transport import Target
from softphone.ua import Account, RegistrationEvent, RetryPolicy
from softphone.ua.registration import refresh_interval
from tests.ua import Recorder, make_ua

Script = Callable[[Request, int], Response]


class FakeRegistrar(asyncio.DatagramProtocol):
    """Answers each REGISTER with what ``script(request, index)`` returns."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = parse_message(data)
        assert isinstance(message, Request)
        self.requests.append(message)
        response = self.script(message, len(self.requests) - 1)
        assert self.transport is not None
        self.transport.sendto(bytes(response), addr)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])


async def start_registrar(script: Script) -> FakeRegistrar:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(lambda: FakeRegistrar(script), local_addr=("127.0.0.1", 0))
    return protocol


def challenge(request: Request, nonce: str, *, stale: bool = False) -> Response:
    value = f'Digest realm="test", nonce="{nonce}", qop="auth", algorithm=MD5' + (", stale=true" if stale else "")
    return make_response(request, 401, to_tag="r1", headers=[("WWW-Authenticate", value)])


def authorized(request: Request, password: str = "secret") -> bool:
    value = request.headers.get("Authorization")
    if value is None:
        return False
    return verify_credentials(parse_credentials(value), method="REGISTER", password=password)


def ok(request: Request, expires: int | None = None) -> Response:
    granted = expires if expires is not None else int(request.headers.get("Expires", "0") or 0)
    contact = request.headers["Contact"]
    return make_response(request, 200, to_tag="r1", headers=[("Contact", f"{contact};expires={granted}")])


def registered(e: object) -> bool:
    return isinstance(e, RegistrationEvent) and e.state == "registered"


def test_min_expires_and_stale_nonce() -> None:
    def script(request: Request, index: int) -> Response:
        if index == 0:
            return challenge(request, "n1")
        if index == 1:
            assert authorized(request)
            return make_response(request, 423, to_tag="r1", headers=[("Min-Expires", "120")])
        if index == 2:
            # The nonce went stale meanwhile: one more round with the new one, not a failure.
            return challenge(request, "n2", stale=True)
        if not authorized(request):
            return challenge(request, f"n{index}")
        return ok(request)

    async def scenario() -> None:
        registrar = await start_registrar(script)
        account = Account("sip:alice@127.0.0.1", "secret", registrar=f"sip:127.0.0.1:{registrar.port}", expires=60)
        ua = make_ua(account)
        events = Recorder(ua)
        await ua.start()
        try:
            await ua.register()
            event = await events.wait(registered)
            assert isinstance(event, RegistrationEvent) and event.expires == 120
            assert [r.headers["Expires"] for r in registrar.requests] == ["60", "60", "120", "120"]
            assert len({r.call_id for r in registrar.requests}) == 1
            assert [r.cseq.seq for r in registrar.requests] == [1, 2, 3, 4]
            assert authorized(registrar.requests[3])
        finally:
            await ua.stop()
            assert registrar.transport is not None
            registrar.transport.close()

    asyncio.run(scenario())


def test_failover_to_the_second_registrar_and_refresh() -> None:
    def script(request: Request, index: int) -> Response:
        if "Authorization" not in request.headers:
            return challenge(request, f"n{index}")
        return ok(request, 2 if request.headers["Expires"] != "0" else 0)

    async def scenario() -> None:
        registrar = await start_registrar(script)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            dead_port = probe.getsockname()[1]
        account = Account("sip:alice@127.0.0.1", "secret", registrar="sip:registrar.invalid")
        ua = make_ua(account, retry=RetryPolicy(first=5.0))

        async def resolve(uri: SipUri, account: Account | None = None) -> list[Target]:
            return [Target("UDP", "127.0.0.1", dead_port), Target("UDP", "127.0.0.1", registrar.port)]

        ua.resolve = resolve  # type: ignore[method-assign]
        events = Recorder(ua)
        await ua.start()
        try:
            await ua.register()
            await events.wait(registered)
            first = len(registrar.requests)
            # Granted 2 s: refreshed about every second.
            await asyncio.sleep(2.5)
            assert len(registrar.requests) >= first + 2
            assert not any(isinstance(e, RegistrationEvent) and e.state == "failed" for e in events.events)
        finally:
            await ua.stop()
            assert registrar.transport is not None
            registrar.transport.close()
        assert registrar.requests[-1].headers["Expires"] == "0"

    asyncio.run(scenario())


def test_refresh_interval() -> None:
    assert refresh_interval(600) == 300
    assert refresh_interval(3600) == 1800
    assert refresh_interval(30) == 25
    assert refresh_interval(4) == 2
    assert refresh_interval(1) >= 0.5


def test_retry_policy_doubles_up_to_the_maximum() -> None:
    step = RetryPolicy(first=2, maximum=10).delays()
    assert [step() for _ in range(5)] == [2, 4, 8, 10, 10]

"""TransportManager over real loopback sockets: UDP, TCP, TLS, keep-alives and failures."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.parser import parse_message
from softphone.transport import (
    VIA_PLACEHOLDER,
    BadRequest,
    Received,
    Source,
    Target,
    TlsSettings,
    TransportError,
    TransportFailed,
    TransportManager,
)

T = TypeVar("T")
WAIT = 5.0


def run(coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def request(
    method: str = "OPTIONS",
    *,
    via: str = f"SIP/2.0/UDP {VIA_PLACEHOLDER};branch=z9hG4bK-1",
    cseq: int = 1,
    body: bytes = b"",
    extra: list[tuple[str, str]] | None = None,
) -> Request:
    return Request(
        method,
        "sip:bob@127.0.0.1",
        [
            ("Via", via),
            ("Max-Forwards", "70"),
            ("From", "<sip:alice@example.com>;tag=a1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "call-1@example.com"),
            ("CSeq", f"{cseq} {method}"),
            *(extra or []),
        ],
        body,
    )


def response_to(req: Request, status: int = 200) -> Response:
    copied = [(n, v) for n, v in req.headers if n in ("Via", "From", "To", "Call-ID", "CSeq")]
    return Response(status, None, copied)


def raw_request_bytes(via: str, method: str = "OPTIONS", cseq_method: str | None = None) -> bytes:
    return (
        f"{method} sip:bob@127.0.0.1 SIP/2.0\r\n"
        f"Via: {via}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@example.com>;tag=a1\r\n"
        "To: <sip:bob@example.com>\r\n"
        "Call-ID: raw-1@example.com\r\n"
        f"CSeq: 7 {cseq_method or method}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


class Collector:
    """Callbacks that queue what a manager delivers."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[tuple[Request | Response, Source]] = asyncio.Queue()
        self.bad: asyncio.Queue[tuple[SipParseError, Source]] = asyncio.Queue()
        self.errors: asyncio.Queue[TransportError] = asyncio.Queue()

    def manager(self, listen: list[tuple[str, str, int]], **kwargs: Any) -> TransportManager:
        return TransportManager(
            listen,
            on_message=lambda m, s: self.messages.put_nowait((m, s)),
            on_bad_request=lambda e, s: self.bad.put_nowait((e, s)),
            on_error=self.errors.put_nowait,
            **kwargs,
        )

    async def message(self) -> tuple[Request | Response, Source]:
        return await asyncio.wait_for(self.messages.get(), WAIT)


async def started(manager: TransportManager) -> TransportManager:
    await manager.start()
    return manager


def target_of(manager: TransportManager, transport: str, family: socket.AddressFamily = socket.AF_INET) -> Target:
    host, port = manager.local_address(transport, family)
    return Target(transport, host, port)


async def eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def free_port(kind: socket.SocketKind, host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


async def closing(*managers: TransportManager) -> None:
    await asyncio.gather(*(m.close() for m in managers))


# --- UDP -------------------------------------------------------------------


def test_udp_request_and_response_between_two_managers() -> None:
    async def scenario() -> None:
        alice, bob = Collector(), Collector()
        a = await started(alice.manager([("udp", "127.0.0.1", 0)]))
        b = await started(bob.manager([("udp", "127.0.0.1", 0)]))
        try:
            a_host, a_port = a.local_address("udp")
            req = request()
            sent = await a.send(req, target_of(b, "UDP"))
            assert sent == target_of(b, "UDP")
            # The placeholder was replaced in place, with rport (RFC 3581 3).
            assert req.via.host == a_host and req.via.port == a_port and req.via.rport is True

            got, source = await bob.message()
            assert isinstance(got, Request) and got.method == "OPTIONS"
            assert (source.transport, source.remote_host, source.remote_port) == ("UDP", a_host, a_port)
            # RFC 3581 4: rport filled, received added even though it equals the sent-by.
            assert got.via.rport == a_port and got.via.received == a_host

            await b.send(response_to(got), source)
            answer, answer_source = await alice.message()
            assert isinstance(answer, Response) and answer.status_code == 200
            assert answer.call_id == "call-1@example.com"
            assert answer_source.remote_port == b.local_address("udp")[1]
        finally:
            await closing(a, b)

    run(scenario())


def test_udp_over_ipv6_loopback() -> None:
    inet6 = Path("/proc/net/if_inet6")
    if inet6.exists() and "00000000000000000000000000000001" not in inet6.read_text():
        pytest.fail("::1 is not configured on this machine; the IPv6 transport test needs it")

    async def scenario() -> None:
        alice, bob = Collector(), Collector()
        a = await started(alice.manager([("udp", "::1", 0), ("tcp", "::1", 0)]))
        b = await started(bob.manager([("udp", "::1", 0), ("tcp", "::1", 0)]))
        try:
            assert a.local_address("udp", socket.AF_INET6)[0] == "::1"
            for transport in ("UDP", "TCP"):
                req = request(cseq=2 if transport == "TCP" else 1)
                await a.send(req, target_of(b, transport, socket.AF_INET6))
                assert req.via.host == "[::1]" and req.via.transport == transport
                got, source = await bob.message()
                assert source.remote_host == "::1" and source.transport == transport
                assert isinstance(got, Request)
                await b.send(response_to(got), source)
                answer, _ = await alice.message()
                assert isinstance(answer, Response) and answer.cseq.seq == req.cseq.seq
        finally:
            await closing(a, b)

    run(scenario())


def test_received_and_rport_fill_and_response_routing() -> None:
    async def scenario() -> None:
        bob = Collector()
        b = await started(bob.manager([("udp", "127.0.0.1", 0)]))
        loop = asyncio.get_running_loop()
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        peer.setblocking(False)
        peer_port = peer.getsockname()[1]
        try:
            # A NATed client: its Via names a private address and asks for rport.
            peer.sendto(raw_request_bytes("SIP/2.0/UDP 10.9.8.7:5099;rport;branch=z9hG4bK-nat"), b.local_address("udp"))
            got, source = await bob.message()
            assert isinstance(got, Request)
            assert got.via.received == "127.0.0.1" and got.via.rport == peer_port
            assert (
                got.headers["Via"]
                == f"SIP/2.0/UDP 10.9.8.7:5099;rport={peer_port};branch=z9hG4bK-nat;received=127.0.0.1"
            )
            # The response goes to received:rport, not to the Via's 10.9.8.7:5099.
            await b.send(response_to(got), source)
            data = await asyncio.wait_for(loop.sock_recv(peer, 65536), WAIT)
            assert parse_message(data).headers["Via"] == got.headers["Via"]
            # Without the Source it is routed by the Via alone.
            await b.send(response_to(got, 180), None)
            data = await asyncio.wait_for(loop.sock_recv(peer, 65536), WAIT)
            answer = parse_message(data)
            assert isinstance(answer, Response) and answer.status_code == 180

            # No rport, a host name in the Via: received is added, the response goes to received at the Via port.
            via = f"SIP/2.0/UDP client.example.com:{peer_port};branch=z9hG4bK-name"
            peer.sendto(raw_request_bytes(via), b.local_address("udp"))
            got, source = await bob.message()
            assert isinstance(got, Request)
            assert got.via.received == "127.0.0.1" and got.via.rport is None
            await b.send(response_to(got, 202), None)
            answer = parse_message(await asyncio.wait_for(loop.sock_recv(peer, 65536), WAIT))
            assert isinstance(answer, Response) and answer.status_code == 202

            # A Via that already names the source address gets no received.
            via = f"SIP/2.0/UDP 127.0.0.1:{peer_port};branch=z9hG4bK-same"
            peer.sendto(raw_request_bytes(via), b.local_address("udp"))
            got, _ = await bob.message()
            assert got.headers["Via"] == via
        finally:
            peer.close()
            await b.close()

    run(scenario())


def test_garbage_datagrams_are_dropped_and_the_listener_survives(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        bob = Collector()
        b = await started(bob.manager([("udp", "127.0.0.1", 0)]))
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                address = b.local_address("udp")
                for junk in (b"\x00\xffgarbage\x16\x03", b"INVITE\r\n\r\n", b"hello world", b"\r\n\r\n"):
                    peer.sendto(junk, address)
                # A response that isn't ours (RFC 3261 18.1.2) and a broken response are dropped too.
                peer.sendto(bytes(response_to(request(via="SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-x"))), address)
                peer.sendto(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-r\r\n\r\n", address)
                peer.sendto(raw_request_bytes("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-ok"), address)
                got, _ = await bob.message()
                assert isinstance(got, Request) and got.via.branch == "z9hG4bK-ok"
                assert bob.messages.empty() and bob.bad.empty()
        finally:
            await b.close()

    with caplog.at_level(logging.INFO, logger="softphone.transport"):
        run(scenario())
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 5


def test_bad_request_reaches_on_bad_request_with_its_partial_message() -> None:
    async def scenario() -> None:
        bob = Collector()
        b = await started(bob.manager([("udp", "127.0.0.1", 0), ("tcp", "127.0.0.1", 0)]))
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                peer.bind(("127.0.0.1", 0))
                bad = raw_request_bytes("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK-bad", cseq_method="INVITE")
                peer.sendto(bad, b.local_address("udp"))
                error, source = await asyncio.wait_for(bob.bad.get(), WAIT)
                assert error.status_code == 400 and isinstance(error.partial, Request)
                assert error.partial.method == "OPTIONS"
                assert error.partial.via.received == "127.0.0.1"
                assert error.partial.via.rport == peer.getsockname()[1]
                assert source.transport == "UDP" and source.remote_port == peer.getsockname()[1]

            # On a stream the bad request is reported and the connection goes on.
            _, writer = await asyncio.open_connection(*b.local_address("tcp"))
            writer.write(bad + raw_request_bytes("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-good"))
            error, source = await asyncio.wait_for(bob.bad.get(), WAIT)
            assert source.transport == "TCP" and isinstance(error.partial, Request)
            got, _ = await bob.message()
            assert got.via.branch == "z9hG4bK-good"
            writer.close()
            await writer.wait_closed()
        finally:
            await b.close()

    run(scenario())


def test_events_queue_without_callbacks() -> None:
    async def scenario() -> None:
        b = await started(TransportManager([("udp", "127.0.0.1", 0)]))
        a = await started(TransportManager([("udp", "127.0.0.1", 0)]))
        try:
            await a.send(request(), target_of(b, "UDP"))
            event = await asyncio.wait_for(b.events.get(), WAIT)
            assert isinstance(event, Received) and isinstance(event.message, Request)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                peer.sendto(
                    raw_request_bytes("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-b", cseq_method="BYE"),
                    b.local_address("udp"),
                )
                bad = await asyncio.wait_for(b.events.get(), WAIT)
                assert isinstance(bad, BadRequest) and bad.error.partial is not None
            await a.send(request(cseq=2), Target("UDP", "127.0.0.1", free_port(socket.SOCK_DGRAM)))
            failure = await asyncio.wait_for(a.events.get(), WAIT)
            assert isinstance(failure, TransportFailed) and "ICMP" in str(failure.error)
        finally:
            await closing(a, b)

    run(scenario())


def test_icmp_port_unreachable_reports_and_fails_the_next_send() -> None:
    async def scenario() -> None:
        alice = Collector()
        a = await started(alice.manager([("udp", "127.0.0.1", 0)]))
        try:
            dead = Target("UDP", "127.0.0.1", free_port(socket.SOCK_DGRAM))
            await a.send(request(), dead)
            error = await asyncio.wait_for(alice.errors.get(), WAIT)
            assert error.target == dead and "refused" in str(error).lower()
            with pytest.raises(TransportError, match="ICMP"):
                await a.send(request(cseq=2), dead)
        finally:
            await a.close()

    run(scenario())


def test_udp_keepalive_pings_arrive_and_stop() -> None:
    async def scenario() -> None:
        alice = Collector()
        a = await started(alice.manager([("udp", "127.0.0.1", 0)]))
        loop = asyncio.get_running_loop()
        registrar = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        registrar.bind(("127.0.0.1", 0))
        registrar.setblocking(False)
        target = Target("UDP", *registrar.getsockname())
        try:
            a.start_keepalive(target, 0.05)
            for _ in range(3):
                data, sender = await asyncio.wait_for(loop.sock_recvfrom(registrar, 100), WAIT)
                assert data == b"\r\n\r\n" and sender == a.local_address("udp")
            a.stop_keepalive(target)
            await asyncio.sleep(0.05)
            while True:
                try:
                    registrar.recv(100)
                except BlockingIOError:
                    break
            await asyncio.sleep(0.2)
            with pytest.raises(BlockingIOError):
                registrar.recv(100)
        finally:
            registrar.close()
            await a.close()

    run(scenario())


def test_large_udp_request_goes_over_tcp() -> None:
    async def scenario() -> None:
        alice, bob = Collector(), Collector()
        a = await started(alice.manager([("udp", "127.0.0.1", 0), ("tcp", "127.0.0.1", 0)]))
        b = await started(bob.manager([("udp", "127.0.0.1", 0)]))
        port = b.local_address("udp")[1]
        c = await started(bob.manager([("tcp", "127.0.0.1", port)]))
        try:
            big = request("MESSAGE", body=b"x" * 2000, extra=[("Content-Type", "text/plain")])
            used = await a.send(big, Target("UDP", "127.0.0.1", port))
            assert used.transport == "TCP"
            got, source = await bob.message()
            assert source.transport == "TCP" and got.via.transport == "TCP"
            assert got.via.port == a.local_address("tcp")[1] and len(got.body) == 2000
            # Without the TCP listener the request goes over UDP after all, with a UDP Via.
            await c.close()
            big = request("MESSAGE", body=b"y" * 2000, extra=[("Content-Type", "text/plain")])
            used = await a.send(big, Target("UDP", "127.0.0.1", port))
            assert used.transport == "UDP"
            got, source = await bob.message()
            assert source.transport == "UDP" and got.via.transport == "UDP"
            assert got.via.port == a.local_address("udp")[1] and got.via.rport == got.via.port
        finally:
            await closing(a, b, c)

    run(scenario())


# --- TCP -------------------------------------------------------------------


def test_tcp_stream_parser_under_fragmentation() -> None:
    async def scenario() -> None:
        bob = Collector()
        b = await started(bob.manager([("tcp", "127.0.0.1", 0)]))
        try:
            reader, writer = await asyncio.open_connection(*b.local_address("tcp"))
            first = raw_request_bytes("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-f1")
            second = request(
                "MESSAGE",
                via="SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-f2",
                body=b"hello\r\n\r\nworld",
                extra=[("Content-Type", "text/plain")],
            )
            data = first + bytes(second)
            sizes = [1, 2, 3, 5, 7, 11]
            position = 0
            for index in range(len(data)):
                size = sizes[index % len(sizes)]
                if position >= len(data):
                    break
                writer.write(data[position : position + size])
                await writer.drain()
                position += size
                if index % 16 == 0:
                    await asyncio.sleep(0.001)
            one, source_one = await bob.message()
            two, source_two = await bob.message()
            assert one.via.branch == "z9hG4bK-f1" and two.via.branch == "z9hG4bK-f2"
            assert two.body == b"hello\r\n\r\nworld"
            assert source_one.connection_id == source_two.connection_id
            # The response goes back over the same connection.
            assert isinstance(two, Request)
            await b.send(response_to(two), source_two)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
            assert head.startswith(b"SIP/2.0 200 OK\r\n") and b"z9hG4bK-f2" in head
            writer.close()
            await writer.wait_closed()
        finally:
            await b.close()

    run(scenario())


def test_tcp_connection_is_reused_both_ways() -> None:
    async def scenario() -> None:
        alice, bob = Collector(), Collector()
        a = await started(alice.manager([("tcp", "127.0.0.1", 0)]))
        b = await started(bob.manager([("tcp", "127.0.0.1", 0)]))
        try:
            target = target_of(b, "TCP")
            sent = [request(cseq=n, via=f"SIP/2.0/TCP {VIA_PLACEHOLDER};branch=z9hG4bK-r{n}") for n in (1, 2, 3)]
            await asyncio.gather(*(a.send(r, target) for r in sent))
            # sent-by is the TCP listener, where a new connection could be opened back (RFC 3261 18.1.1).
            assert all(r.via.port == a.local_address("tcp")[1] and r.via.rport is None for r in sent)
            sources = []
            for _ in sent:
                got, source = await bob.message()
                assert isinstance(got, Request)
                sources.append(source)
                await b.send(response_to(got), source)
            assert len({s.connection_id for s in sources}) == 1
            for _ in sent:
                answer, answer_source = await alice.message()
                assert isinstance(answer, Response)
                assert answer_source.remote_port == target.port
            assert len(a.connections) == 1 and len(b.connections) == 1
            # A request from bob to alice's address goes back over the connection alice opened.
            await b.send(
                request("MESSAGE", via=f"SIP/2.0/TCP {VIA_PLACEHOLDER};branch=z9hG4bK-back"), sources[0].target
            )
            got, _ = await alice.message()
            assert isinstance(got, Request) and got.method == "MESSAGE"
            assert len(a.connections) == 1 and len(b.connections) == 1
        finally:
            await closing(a, b)

    run(scenario())


def test_response_opens_a_new_connection_when_the_old_one_closed() -> None:
    async def scenario() -> None:
        alice, bob = Collector(), Collector()
        a = await started(alice.manager([("tcp", "127.0.0.1", 0)]))
        b = await started(bob.manager([("tcp", "127.0.0.1", 0)]))
        try:
            await a.send(request(via=f"SIP/2.0/TCP {VIA_PLACEHOLDER};branch=z9hG4bK-c"), target_of(b, "TCP"))
            got, source = await bob.message()
            assert isinstance(got, Request)
            for connection_id, *_ in a.connections:
                a.close_connection(connection_id)
            await eventually(lambda: not b.connections, "the connection to close")
            # RFC 3261 18.2.2: a new connection to received (or sent-by) at the sent-by port.
            await b.send(response_to(got), source)
            answer, answer_source = await alice.message()
            assert isinstance(answer, Response) and answer_source.transport == "TCP"
        finally:
            await closing(a, b)

    run(scenario())


def test_crlf_ping_is_answered_with_a_pong() -> None:
    async def scenario() -> None:
        b = await started(TransportManager([("tcp", "127.0.0.1", 0)]))
        try:
            reader, writer = await asyncio.open_connection(*b.local_address("tcp"))
            writer.write(b"\r\n\r\n")
            assert await asyncio.wait_for(reader.readexactly(2), WAIT) == b"\r\n"
            writer.close()
            await writer.wait_closed()
        finally:
            await b.close()

    run(scenario())


def test_tcp_keepalive_with_pongs_and_without() -> None:
    async def scenario() -> None:
        alice, bob = Collector(), Collector()
        a = await started(alice.manager([("tcp", "127.0.0.1", 0)], pong_timeout=0.3))
        b = await started(bob.manager([("tcp", "127.0.0.1", 0)]))
        pings: list[bytes] = []

        async def mute_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(100):
                pings.append(data)
            writer.close()

        mute = await asyncio.start_server(mute_server, "127.0.0.1", 0)
        try:
            target = target_of(b, "TCP")
            await a.send(request(via=f"SIP/2.0/TCP {VIA_PLACEHOLDER};branch=z9hG4bK-k"), target)
            await bob.message()
            a.start_keepalive(target, 0.05)
            await asyncio.sleep(0.5)
            assert alice.errors.empty() and len(a.connections) == 1
            a.stop_keepalive(target)

            # A server that never answers the ping: the flow fails (RFC 5626 4.4.1).
            mute_target = Target("TCP", *mute.sockets[0].getsockname()[:2])
            await a.send(request(via=f"SIP/2.0/TCP {VIA_PLACEHOLDER};branch=z9hG4bK-m"), mute_target)
            a.start_keepalive(mute_target, 0.05)
            error = await asyncio.wait_for(alice.errors.get(), WAIT)
            assert error.target == mute_target and "pong" in str(error)
            assert pings and pings[0].startswith(b"OPTIONS")
        finally:
            mute.close()
            await closing(a, b)
            await mute.wait_closed()

    run(scenario())


def test_stream_framing_error_closes_the_connection() -> None:
    async def scenario() -> None:
        bob = Collector()
        b = await started(bob.manager([("tcp", "127.0.0.1", 0)]))
        try:
            reader, writer = await asyncio.open_connection(*b.local_address("tcp"))
            no_length = raw_request_bytes("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-n").replace(
                b"Content-Length: 0\r\n", b""
            )
            writer.write(no_length)
            assert await asyncio.wait_for(reader.read(100), WAIT) == b""
            assert bob.messages.empty() and not b.connections
            writer.close()
            await writer.wait_closed()
        finally:
            await b.close()

    run(scenario())


def test_connection_refused_raises_transport_error() -> None:
    async def scenario() -> None:
        a = await started(TransportManager([("tcp", "127.0.0.1", 0)]))
        try:
            dead = Target("TCP", "127.0.0.1", free_port(socket.SOCK_STREAM))
            with pytest.raises(TransportError, match="refused") as caught:
                await a.send(request(via=f"SIP/2.0/TCP {VIA_PLACEHOLDER};branch=z9hG4bK-d"), dead)
            assert caught.value.target == dead
            with pytest.raises(TransportError, match="not listening"):
                a.local_address("udp")
            with pytest.raises(TransportError, match="no UDP socket"):
                await a.send(request(), Target("UDP", "127.0.0.1", 5060))
        finally:
            await a.close()
        with pytest.raises(TransportError, match="not running"):
            await a.send(request(), Target("UDP", "127.0.0.1", 5060))

    run(scenario())


def test_trace_log_redacts_credentials(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        bob = Collector()
        a = await started(TransportManager([("udp", "127.0.0.1", 0)]))
        b = await started(bob.manager([("udp", "127.0.0.1", 0)]))
        try:
            secret = 'Digest username="alice", realm="x", nonce="n", uri="sip:x", response="0123456789abcdef"'
            await a.send(
                request(extra=[("Authorization", secret), ("Proxy-Authorization", secret)]), target_of(b, "UDP")
            )
            await bob.message()
        finally:
            await closing(a, b)

    with caplog.at_level(logging.DEBUG, logger="softphone.sip.trace"):
        run(scenario())
    traced = [r.getMessage() for r in caplog.records if r.name == "softphone.sip.trace"]
    assert len(traced) == 2 and all("0123456789abcdef" not in t for t in traced)
    assert all("Authorization: <redacted>" in t and "Proxy-Authorization: <redacted>" in t for t in traced)


def test_bind_failure_and_close_are_clean() -> None:
    async def scenario() -> None:
        a = await started(TransportManager([("tcp", "127.0.0.1", 0)]))
        taken = a.local_address("tcp")[1]
        other = TransportManager([("udp", "127.0.0.1", 0), ("tcp", "127.0.0.1", taken)])
        with pytest.raises(TransportError, match="cannot listen on TCP"):
            await other.start()
        await a.close()
        await a.close()
        with pytest.raises(TransportError, match="needs a certificate"):
            await TransportManager([("tls", "127.0.0.1", 0)]).start()

    run(scenario())


# --- TLS -------------------------------------------------------------------


def test_tls_with_a_verified_certificate(pki: dict[str, Path]) -> None:
    async def scenario() -> None:
        alice, bob = Collector(), Collector()
        server = TlsSettings(certfile=str(pki["cert"]), keyfile=str(pki["key"]))
        a = await started(
            alice.manager(
                [("tls", "127.0.0.1", 0)],
                tls=TlsSettings(certfile=str(pki["cert"]), keyfile=str(pki["key"]), cafile=str(pki["ca"])),
            )
        )
        b = await started(bob.manager([("tls", "127.0.0.1", 0)], tls=server))
        try:
            host, port = b.local_address("tls")
            for n, name in enumerate((None, "sip.test"), start=1):
                via = f"SIP/2.0/TLS {VIA_PLACEHOLDER};branch=z9hG4bK-t{n}"
                await a.send(request(via=via, cseq=n), Target("TLS", host, port, server_name=name))
                got, source = await bob.message()
                assert source.transport == "TLS" and got.via.transport == "TLS"
                assert got.via.port == a.local_address("tls")[1]
                assert isinstance(got, Request)
                await b.send(response_to(got), source)
                answer, _ = await alice.message()
                assert isinstance(answer, Response) and answer.status_code == 200
        finally:
            await closing(a, b)

    run(scenario())


def test_tls_failures_raise_transport_error(pki: dict[str, Path]) -> None:
    async def scenario() -> None:
        b = await started(
            TransportManager([("tls", "127.0.0.1", 0)], tls=TlsSettings(str(pki["cert"]), str(pki["key"])))
        )
        wrong = await started(
            TransportManager(
                [("tls", "127.0.0.1", 0)],
                tls=TlsSettings(str(pki["cert"]), str(pki["key"]), cafile=str(pki["other_ca"])),
            )
        )
        right = await started(TransportManager([("tcp", "127.0.0.1", 0)], tls=TlsSettings(cafile=str(pki["ca"]))))
        try:
            host, port = b.local_address("tls")
            via = f"SIP/2.0/TLS {VIA_PLACEHOLDER};branch=z9hG4bK-w"
            with pytest.raises(TransportError, match="did not verify"):
                await wrong.send(request(via=via), Target("TLS", host, port))
            with pytest.raises(TransportError, match=r"did not verify for 'elsewhere\.test'"):
                await right.send(request(via=via), Target("TLS", host, port, server_name="elsewhere.test"))
            # The client without a TLS listener still connects; its Via names the connection's address.
            req = request(via=via)
            await right.send(req, Target("TLS", host, port, server_name="sip.test"))
            assert req.via.transport == "TLS" and req.via.host == "127.0.0.1"
            assert not wrong.connections and len(right.connections) == 1
        finally:
            await closing(b, wrong, right)

    run(scenario())

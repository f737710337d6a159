"""The transport under attack, over real loopback sockets: floods of connections, slow senders, held bodies,
requests whose Via asks for answers elsewhere. Every flood is bounded; every wait is for a condition."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from softphone.sip.message import Request
from softphone.sip.parser import parse_message
from softphone.transport import VIA_PLACEHOLDER, Source, Target, TransportError, TransportLimits, TransportManager
from softphone.transport.limits import LimitLog, address_group
from tests.transport.test_manager import (
    Collector,
    eventually,
    raw_request_bytes,
    request,
    response_to,
    run,
    started,
)

WAIT = 10.0


def answering(collector: Collector, listen: list[tuple[str, str, int]], **kwargs: Any) -> TransportManager:
    """A manager that answers every request 200 through ``send(response, source)``, as the UA does."""
    manager = collector.manager(listen, **kwargs)
    tasks: set[asyncio.Task[Any]] = set()

    async def answer(message: Request, source: Source) -> None:
        try:
            await manager.send(response_to(message), source)
        except TransportError as exc:
            collector.errors.put_nowait(exc)

    def on_message(message: Any, source: Source) -> None:
        collector.messages.put_nowait((message, source))
        if isinstance(message, Request):
            task = asyncio.get_running_loop().create_task(answer(message, source))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    manager.on_message = on_message
    return manager


async def connect(address: tuple[str, int], source_ip: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.bind((source_ip, 0))
    await asyncio.get_running_loop().sock_connect(sock, address)
    return sock


async def closed_by_peer(sock: socket.socket, timeout: float = WAIT) -> bool:
    """Whether the manager closed (or reset) this connection within ``timeout``: reads until EOF."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            while await loop.sock_recv(sock, 65536):
                pass
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return True


async def send_quietly(sock: socket.socket, data: bytes) -> bool:
    try:
        await asyncio.get_running_loop().sock_sendall(sock, data)
    except (ConnectionResetError, BrokenPipeError):
        return False
    return True


@contextlib.asynccontextmanager
async def sockets() -> AsyncIterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        yield opened
    finally:
        for sock in opened:
            sock.close()


def inbound(manager: TransportManager) -> int:
    return sum(1 for *_, outbound in manager.connections if not outbound)


def limit_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "softphone.transport" and r.levelno == logging.WARNING]


# --- responses on the right transport -----------------------------------------------------------


def test_udp_requests_whose_via_says_tcp_are_answered_over_udp_without_opening_connections() -> None:
    async def scenario() -> None:
        bob = Collector()
        b = await started(answering(bob, [("udp", "127.0.0.1", 0), ("tcp", "127.0.0.1", 0)]))
        # Where the Vias point: a TCP listener that counts the connections the phone would open.
        opened: list[object] = []
        decoy = await asyncio.start_server(lambda r, w: opened.append(w), "127.0.0.1", 0)
        decoy_port = decoy.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        peer.setblocking(False)
        try:
            peer_port = peer.getsockname()[1]
            vias = (
                [f"SIP/2.0/TCP 127.0.0.1:{decoy_port};branch=z9hG4bK-t{n}" for n in range(90)]
                + [  # maddr would send the answer to a third party: it goes to received, at the sent-by port
                    f"SIP/2.0/UDP 192.0.2.1:{peer_port};maddr=192.0.2.1;branch=z9hG4bK-m{n}" for n in range(5)
                ]
                + [f"SIP/2.0/TLS 192.0.2.7;branch=z9hG4bK-s{n}" for n in range(5)]
            )
            for via in vias:
                peer.sendto(raw_request_bytes(via), b.local_address("udp"))
            answered: set[str | None] = set()
            async with asyncio.timeout(WAIT):
                while len(answered) < len(vias):
                    answer = parse_message(await loop.sock_recv(peer, 65536))
                    answered.add(answer.via.branch)
            assert answered == {parse_message(raw_request_bytes(v)).via.branch for v in vias}
            assert not b.connections and not opened
        finally:
            peer.close()
            decoy.close()
            await b.close()
            await decoy.wait_closed()

    run(scenario())


@pytest.mark.parametrize("via_transport", ["TLS", "UDP"])
def test_a_request_over_tcp_is_answered_on_its_connection_whatever_its_via_says(via_transport: str) -> None:
    async def scenario() -> None:
        bob = Collector()
        b = await started(answering(bob, [("udp", "127.0.0.1", 0), ("tcp", "127.0.0.1", 0)]))
        try:
            reader, writer = await asyncio.open_connection(*b.local_address("tcp"))
            writer.write(raw_request_bytes(f"SIP/2.0/{via_transport} 127.0.0.1:9;branch=z9hG4bK-x"))
            status = await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT)
            assert status == b"SIP/2.0 200 OK\r\n"
            assert len(b.connections) == 1
            writer.close()
            await writer.wait_closed()
        finally:
            await b.close()

    run(scenario())


# --- connection limits -------------------------------------------------------------------------


def test_connections_per_address_are_capped_and_refusals_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    limits = TransportLimits(max_connections_per_ip=16)

    async def scenario() -> None:
        bob = Collector()
        b = await started(answering(bob, [("tcp", "127.0.0.1", 0)], limits=limits))
        address = b.local_address("tcp")
        async with sockets() as opened:
            try:
                for _ in range(100):
                    opened.append(await connect(address))
                await eventually(lambda: inbound(b) == 16, "16 connections held")
                refused = await asyncio.gather(*(closed_by_peer(s) for s in opened[16:]))
                assert all(refused)
                # Another address still gets in, and the held ones are served.
                other = await connect(address, "127.0.0.2")
                opened.append(other)
                await send_quietly(other, raw_request_bytes("SIP/2.0/TCP 127.0.0.2:9;branch=z9hG4bK-o"))
                await bob.message()
                await eventually(lambda: inbound(b) == 17, "the other address's connection")
            finally:
                await b.close()

    with caplog.at_level(logging.INFO, logger="softphone.transport"):
        run(scenario())
    lines = limit_lines(caplog)
    # The first refusal at once, the other 83 in one summary (at close, before the minute is over).
    assert len(lines) == 2, lines
    assert "refused TCP connections: 16 connections from one address (from 127.0.0.1)" in lines[0]
    assert "83 times (last from 127.0.0.1)" in lines[1]


def test_inbound_and_total_limits_keep_room_for_our_own_connections() -> None:
    limits = TransportLimits(max_connections=10, max_inbound_connections=6, max_connections_per_ip=2)

    async def scenario() -> None:
        bob, carol = Collector(), Collector()
        b = await started(bob.manager([("tcp", "127.0.0.1", 0)], limits=limits))
        servers = [await started(carol.manager([("tcp", "127.0.0.1", 0)])) for _ in range(5)]
        address = b.local_address("tcp")
        async with sockets() as opened:
            try:
                for n in range(2, 7):  # 5 addresses, 2 each: 10 tries, 6 taken
                    for _ in range(2):
                        opened.append(await connect(address, f"127.0.0.{n}"))
                await eventually(lambda: inbound(b) == 6 and b._limit_log.total == 4, "6 taken, 4 refused")
                # The 4 left of max_connections are ours to open; the fifth is refused.
                via = f"SIP/2.0/TCP {VIA_PLACEHOLDER};branch=z9hG4bK-out"
                for server in servers[:4]:
                    await b.send(request(via=via), Target("TCP", *server.local_address("tcp")))
                with pytest.raises(TransportError, match="10 connections are open, the limit"):
                    await b.send(request(via=via), Target("TCP", *servers[4].local_address("tcp")))
                assert len(b.connections) == 10
            finally:
                await asyncio.gather(b.close(), *(s.close() for s in servers))

    run(scenario())


def test_ipv6_peers_are_counted_by_their_64() -> None:
    assert address_group("2001:db8:1:2::1") == address_group("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_group("2001:db8:1:3::1") != address_group("2001:db8:1:2::1")
    assert address_group("192.0.2.1") == "192.0.2.1"


def test_limits_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="max_inbound_connections"):
        TransportLimits(max_connections=10, max_inbound_connections=11)
    with pytest.raises(ValueError, match="idle_timeout"):
        TransportLimits(idle_timeout=0)
    with pytest.raises(ValueError, match="body_timeout"):
        TransportLimits(header_timeout=10, body_timeout=5)


# --- slow and idle peers -----------------------------------------------------------------------


def test_slowloris_connections_are_closed_when_their_headers_do_not_complete_in_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = TransportLimits(header_timeout=0.5, body_timeout=1.0, max_connections_per_ip=64)

    async def scenario() -> None:
        bob = Collector()
        b = await started(answering(bob, [("tcp", "127.0.0.1", 0)], limits=limits))
        address = b.local_address("tcp")
        message = raw_request_bytes("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-slow")
        endless = b"OPTIONS sip:phone@127.0.0.1 SIP/2.0\r\nX-Slow: " + b"a" * 1000
        async with sockets() as opened:
            try:
                for _ in range(40):
                    opened.append(await connect(address))

                async def trickle(sock: socket.socket) -> bool:
                    # One byte every 50 ms, never a whole header section: at most 400 bytes before we give up.
                    for byte in endless[:400]:
                        if not await send_quietly(sock, bytes([byte])) or await closed_by_peer(sock, 0.05):
                            return True
                    return False

                assert all(await asyncio.gather(*(trickle(s) for s in opened)))
                await eventually(lambda: not b.connections, "every slow connection closed")
                assert bob.messages.empty()
                # A peer that sends a whole message is served as ever.
                reader, writer = await asyncio.open_connection(*address)
                writer.write(message)
                assert await asyncio.wait_for(reader.readuntil(b"\r\n"), WAIT) == b"SIP/2.0 200 OK\r\n"
                writer.close()
            finally:
                await b.close()

    with caplog.at_level(logging.INFO, logger="softphone.transport"):
        run(scenario())
    lines = limit_lines(caplog)
    assert len(lines) == 2 and "header section not complete 0.5 s after its first byte" in lines[0], lines
    assert "39 times" in lines[1]


def test_idle_connections_are_closed_but_not_our_keepalive_flows() -> None:
    limits = TransportLimits(idle_timeout=0.5)

    async def scenario() -> None:
        alice, bob = Collector(), Collector()
        a = await started(alice.manager([("tcp", "127.0.0.1", 0)]))
        b = await started(bob.manager([("tcp", "127.0.0.1", 0)], limits=limits))
        async with sockets() as opened:
            try:
                opened.append(await connect(b.local_address("tcp")))
                assert await closed_by_peer(opened[0])
                # b's own flow with a keep-alive slower than the idle timeout stays: a flow is exempt.
                target = Target("TCP", *a.local_address("tcp"))
                await b.send(request(via=f"SIP/2.0/TCP {VIA_PLACEHOLDER};branch=z9hG4bK-f"), target)
                await alice.message()
                b.start_keepalive(target, 3600)
                (flow,) = b._connections.values()
                flow.last_activity -= 10  # long idle, as far as the limit can tell
                assert flow._expired() is None
                b.stop_keepalive(target)
                assert flow._expired() == "idle for 0.5 s"
                await eventually(lambda: not b.connections, "the flow without keep-alive closed when idle")
            finally:
                await asyncio.gather(a.close(), b.close())

    run(scenario())


# --- memory ---------------------------------------------------------------------------------------


def test_announced_megabyte_bodies_are_refused_before_they_are_buffered(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        bob = Collector()
        b = await started(answering(bob, [("tcp", "127.0.0.1", 0)]))  # default limits
        head = raw_request_bytes("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-big").replace(
            b"Content-Length: 0", b"Content-Length: 1000000"
        )
        chunk = b"x" * 65536
        peak = 0
        async with sockets() as opened:
            try:
                # 400 connections from 25 addresses (16 each, the per-address limit), each sending up to 1 MB.
                for n in range(400):
                    sock = await connect(b.local_address("tcp"), f"127.0.1.{n % 25 + 1}")
                    opened.append(sock)
                    if await send_quietly(sock, head):
                        for _ in range(4):
                            peak = max(peak, b.buffered_bytes)
                            if not await send_quietly(sock, chunk):
                                break
                results = await asyncio.gather(*(closed_by_peer(s) for s in opened))
                assert all(results)
                await eventually(lambda: not b.connections, "every connection closed")
                assert peak <= TransportLimits().max_buffered_bytes and bob.messages.empty()
            finally:
                await b.close()

    with caplog.at_level(logging.INFO, logger="softphone.transport"):
        run(scenario())
    lines = limit_lines(caplog)
    assert len(lines) == 2, lines
    assert "Content-Length 1000000 exceeds the limit of 262144 octets" in lines[0]


def test_a_held_body_within_the_cap_is_released_by_the_body_timeout() -> None:
    limits = TransportLimits(header_timeout=0.5, body_timeout=1.0, max_buffered_bytes=64 * 1024)

    async def scenario() -> None:
        bob = Collector()
        b = await started(bob.manager([("tcp", "127.0.0.1", 0)], limits=limits))
        head = raw_request_bytes("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-held").replace(
            b"Content-Length: 0", b"Content-Length: 60000"
        )
        async with sockets() as opened:
            try:
                for _ in range(8):
                    sock = await connect(b.local_address("tcp"))
                    opened.append(sock)
                    await send_quietly(sock, head + b"y" * 50000)
                await eventually(lambda: b.buffered_bytes == 8 * 50000, "8 bodies held")
                assert all(await asyncio.gather(*(closed_by_peer(s) for s in opened)))
                await eventually(lambda: b.buffered_bytes == 0 and not b.connections, "the bodies released")
            finally:
                await b.close()

    run(scenario())


# --- the summary log --------------------------------------------------------------------------------


def test_limit_log_writes_the_first_event_then_one_summary_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731
    limit_log = LimitLog(60.0, clock)
    with caplog.at_level(logging.WARNING, logger="softphone.transport"):
        for second in range(150):  # one event a second for 150 s, two kinds
            now[0] = float(second)
            limit_log.note("refused TCP connections: 16 connections from one address", f"192.0.2.{second % 7}")
            limit_log.note("closed TCP connections: idle for 300 s", "192.0.2.99")
        limit_log.close()
    lines = limit_lines(caplog)
    # 0 s: the first; 60 s and 120 s: a summary of the window before; close(): the rest.
    assert len(lines) == 4, lines
    assert lines[0].startswith("refused TCP connections: 16 connections from one address (from 192.0.2.0)")
    assert "closed TCP connections: idle for 300 s: 60 times (last from 192.0.2.99)" in lines[1]
    assert limit_log.total == 300

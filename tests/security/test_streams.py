"""Connections that exhaust, stall or hoard: a listening phone closes them and keeps serving.

The last test runs softphone-cli under ``ulimit -n 256`` and floods it with
connections and calls from twenty loopback addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from softphone.sip.message import Response
from softphone.sip.parser import parse_message
from softphone.transport import TransportLimits
from softphone.ua import Account, CallEvent, UserAgent
from tests.child_process import with_descriptor_limit
from tests.integration.test_ua_calls import call_state
from tests.security.attacker import ATTACKER, OFFER, UdpAttacker, descriptors, request, until
from tests.ua import Recorder, make_ua

LIMITS = TransportLimits(header_timeout=1.0, body_timeout=2.0, idle_timeout=3.0)


def tcp_port(ua: UserAgent) -> int:
    return ua.stack.transport.local_address("TCP")[1]


def connections_from(ua: UserAgent, host: str) -> int:
    return sum(1 for _, _, peer, outbound in ua.stack.transport.connections if peer[0] == host and not outbound)


async def options_over_tcp(port: int, local: str = "127.0.0.1") -> Response:
    """A legitimate OPTIONS over a new TCP connection, and its answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
    try:
        source = writer.get_extra_info("sockname")
        writer.write(request("OPTIONS", f"sip:alice@127.0.0.1:{port}", source=source, transport="TCP"))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        message = parse_message(head)
        assert isinstance(message, Response)
        return message
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def test_connection_flood_and_slowloris_are_closed_and_the_phone_still_answers() -> None:
    async def main() -> None:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False), transport_limits=LIMITS)
        await alice.start()
        port = tcp_port(alice)
        baseline = descriptors()
        writers: list[asyncio.StreamWriter] = []
        try:
            # 40 connections from one address: 16 are taken (the per-address limit), the rest closed.
            for _ in range(40):
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
                    writers.append(writer)
            await until(lambda: connections_from(alice, ATTACKER) <= LIMITS.max_connections_per_ip)
            # Slowloris: each sends the start of a request and then a byte now and then.
            for writer in writers:
                with contextlib.suppress(ConnectionError):
                    writer.write(b"OPTIONS sip:alice@127.0.0.1 SIP/2.0\r\nVia: ")
            # A legitimate peer is served meanwhile.
            assert (await options_over_tcp(port)).status_code == 200
            # The header timeout closes every stalled connection.
            await until(lambda: connections_from(alice, ATTACKER) == 0, what="the stalled connections to close")
            for writer in writers:
                writer.close()
            await until(lambda: descriptors() <= baseline + 1, what="the descriptors to come back")
            assert (await options_over_tcp(port)).status_code == 200
        finally:
            for writer in writers:
                writer.close()
            await alice.stop()

    asyncio.run(main())


def test_unfinished_bodies_are_not_hoarded() -> None:
    async def main() -> None:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False), transport_limits=LIMITS)
        await alice.start()
        port = tcp_port(alice)
        writers: list[asyncio.StreamWriter] = []
        try:
            head = (
                f"MESSAGE sip:alice@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/TCP {ATTACKER}:9;branch=z9hG4bKb\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:x@127.0.0.66>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\n"
                "Call-ID: hoard@127.0.0.66\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n"
                "Content-Length: 1000000\r\n\r\n"
            ).encode()
            for _ in range(16):
                _, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
                writer.write(head + b"x" * 4096)
                writers.append(writer)
            # A message announcing 1 MB is more than a connection may buffer: each is closed at once.
            await until(lambda: connections_from(alice, ATTACKER) == 0, what="the hoarding connections to close")
            assert alice.stack.transport.buffered_bytes < 64 * 1024
            assert (await options_over_tcp(port)).status_code == 200
        finally:
            for writer in writers:
                writer.close()
            await alice.stop()

    asyncio.run(main())


async def until_listening(port: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                raise AssertionError("softphone-cli did not start listening") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return


def test_descriptor_exhaustion_at_ulimit_256_is_survived(tmp_path: Path) -> None:
    """softphone-cli with 256 descriptors, flooded with connections and calls; then a real call works."""
    database = Path(tempfile.mkdtemp(prefix="softphone-fd-")) / "softphone.db"
    port = _free_port()
    cli = subprocess.Popen(
        with_descriptor_limit(
            [
                sys.executable,
                "-m",
                "softphone.cli",
                "--account",
                "sip:carol@127.0.0.1",
                "--no-register",
                "--listen",
                f"127.0.0.1:{port}",
                "--no-audio",
                "--json",
                "--db",
                str(database),
                "--ring-timeout=2",
            ],
            256,
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    lines: queue.Queue[str] = queue.Queue()
    assert cli.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in cli.stdout], daemon=True).start()  # type: ignore[union-attr]

    async def main() -> None:
        await until_listening(port)
        writers: list[asyncio.StreamWriter] = []
        attackers = [UdpAttacker(f"127.0.0.{host}") for host in range(100, 120)]
        try:
            # Connections from twenty addresses: beyond the limits, and towards the descriptor limit.
            for host in range(100, 120):
                for _ in range(16):
                    with contextlib.suppress(OSError, asyncio.TimeoutError):
                        _, writer = await asyncio.wait_for(
                            asyncio.open_connection("127.0.0.1", port, local_addr=(f"127.0.0.{host}", 0)), 2
                        )
                        writers.append(writer)
            # And calls from each of them: each ringing call wants a media socket.
            for attacker in attackers:
                offer = OFFER.format(host=attacker.address[0], port=40000)
                for _ in range(10):
                    invite = request("INVITE", f"sip:carol@127.0.0.1:{port}", source=attacker.address, body=offer)
                    attacker.send(invite, ("127.0.0.1", port))
            # Still answering over UDP while flooded.
            probe = UdpAttacker("127.0.0.2")
            try:
                options = request("OPTIONS", f"sip:127.0.0.1:{port}", source=probe.address)
                assert (await probe.answer(options, ("127.0.0.1", port), timeout=10)).status_code == 200
            finally:
                probe.close()
            for writer in writers:
                writer.close()
            writers.clear()
            # Once the attackers are gone (their calls ring out), a real call rings, is answered and carried.
            bob = make_ua(Account("sip:bob@127.0.0.1", register=False))
            events = Recorder(bob)
            await bob.start()
            try:
                for _ in range(20):
                    call = await bob.call(f"sip:carol@127.0.0.1:{port}")
                    first = await events.wait(
                        lambda e, c=call.id: isinstance(e, CallEvent) and e.call_id == c and e.state != "calling"
                    )
                    assert isinstance(first, CallEvent)
                    if first.state == "ringing":
                        break
                    assert first.code == 486, first  # still busy with the attackers' ringing calls
                    await asyncio.sleep(0.5)
                incoming = await asyncio.to_thread(_event, lines, "incoming_call", "bob")
                assert cli.stdin is not None
                cli.stdin.write(f"answer {incoming['call_id']}\n")
                cli.stdin.flush()
                await events.wait(call_state("confirmed", call.id), timeout=15)
                await bob.hangup(call.id)
            finally:
                await bob.stop()
        finally:
            for writer in writers:
                writer.close()
            for attacker in attackers:
                attacker.close()

    try:
        asyncio.run(main())
        assert cli.poll() is None, "the phone is still running"
    finally:
        if cli.poll() is None:
            assert cli.stdin is not None
            cli.stdin.close()
            try:
                cli.wait(timeout=15)
            except subprocess.TimeoutExpired:
                cli.kill()
                cli.wait()
        shutil.rmtree(database.parent, ignore_errors=True)
    stderr = cli.stderr.read() if cli.stderr is not None else ""
    assert "Traceback" not in stderr, stderr[-2000:]
    # The limits bit (and were logged once, not once per connection).
    assert "refused TCP connections" in stderr, stderr[-2000:]
    assert stderr.count("refused TCP connections") < 10, stderr[-2000:]


def _event(lines: queue.Queue[str], kind: str, uri_part: str) -> dict[str, Any]:
    while True:
        event = json.loads(lines.get(timeout=30))
        if event.get("event") == kind and uri_part in str(event.get("remote_uri", "")):
            return event  # type: ignore[no-any-return]


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (softphone-cli listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise AssertionError("no free port")

"""TURN over TCP and TLS on loopback, against scripted servers that misbehave the way an attacker's or a broken
server would: one that closes the connection, one that sends garbage, one with a certificate that does not
verify, one that never answers. Each is a :class:`TurnError` in words naming the server, within a bound. A
server that answers lets the relayed socket carry frames cut into pieces over the connection it watches.

(The real coturn over TCP and TLS is in tests/integration/test_turn_stream.py.)"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from softphone.stun import Attr, Class, Method, StunMessage
from softphone.stun.stream import FrameReader
from softphone.stun.turn import TurnClient, TurnError, channel_data
from softphone.transport.tls import TlsSettings
from softphone.transport.turn import RelayedSocket
from softphone.transport.turn_stream import TurnStream, allocate_stream, open_stream
from tests.kamailio_server import make_self_signed_certificate
from tests.stun.test_turn import KEY, PASSWORD, REALM, USER, answer, challenge

RELAYED = ("203.0.113.1", 50000)
PEER = ("203.0.113.20", 6000)
Script = Callable[[socket.socket], None]


class ScriptedServer:
    """A TCP (or TLS) listener on loopback that runs ``script`` on the first connection, in a thread."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.address = ("127.0.0.1", self.listener.getsockname()[1])
        self.errors: list[BaseException] = []
        self._script, self._tls = script, tls
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
            conn.settimeout(10)
            if self._tls is not None:
                try:
                    conn = self._tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    conn.close()
                    return
            with conn:
                self._script(conn)
        except BaseException as exc:  # handed to the test
            self.errors.append(exc)

    def close(self) -> None:
        self._thread.join(timeout=15)
        self.listener.close()
        assert not self._thread.is_alive() and not self.errors, self.errors


class Frames:
    """The client's frames as the server reads them, one at a time."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn, self.reader, self.pending = conn, FrameReader(), list[bytes]()

    def next(self) -> bytes:
        while not self.pending:
            data = self.conn.recv(4096)
            if not data:
                raise ConnectionError("the client closed the connection")
            self.pending += self.reader.feed(data)
        return self.pending.pop(0)


def allocating(conn: socket.socket, frames: Frames) -> None:
    """The server's half of an allocation: the 401, then success for the signed Allocate."""
    first = StunMessage.parse(frames.next())
    conn.sendall(challenge(first))
    signed = StunMessage.parse(frames.next())
    assert signed.check_integrity(KEY) and signed.get(Attr.REALM) == REALM
    conn.sendall(answer(signed, Class.SUCCESS, (Attr.XOR_RELAYED_ADDRESS, RELAYED), (Attr.LIFETIME, 600)))


@pytest.fixture
def servers() -> Iterator[list[ScriptedServer]]:
    made: list[ScriptedServer] = []
    yield made
    for server in made:
        server.close()


def client(label: str = "TURN server") -> TurnClient:
    return TurnClient(USER, PASSWORD, server=label, stream=True)


async def allocate_over(
    address: tuple[str, int], context: ssl.SSLContext | None = None
) -> tuple[TurnStream, TurnClient]:
    label = f"TURN server {address[0]}:{address[1]}"
    stream = await open_stream(address, label, context, "127.0.0.1")
    turn = client(label)
    try:
        await allocate_stream(stream, turn)
    except BaseException:
        stream.close()
        raise
    return stream, turn


def test_a_server_that_closes_the_connection_is_an_error_in_words(servers: list[ScriptedServer]) -> None:
    def close_after_the_request(conn: socket.socket) -> None:
        conn.recv(4096)

    servers.append(server := ScriptedServer(close_after_the_request))
    with pytest.raises(TurnError, match=rf"TURN server 127\.0\.0\.1:{server.address[1]} closed the connection"):
        asyncio.run(allocate_over(server.address))


@pytest.mark.parametrize(
    "garbage",
    [b"HTTP/1.1 400 Bad Request\r\n\r\n", b"\xff" * 64, b"\x40\x00\xff\xff" + b"A" * 4096],
    ids=["http", "ones", "overlong-channel-data"],
)
def test_a_server_that_sends_garbage_is_an_error_in_words(servers: list[ScriptedServer], garbage: bytes) -> None:
    def garbage_back(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(garbage)

    servers.append(server := ScriptedServer(garbage_back))
    with pytest.raises(TurnError, match="sent what is not STUN or ChannelData"):
        asyncio.run(allocate_over(server.address))


def test_a_server_that_never_answers_costs_one_setup_wait(servers: list[ScriptedServer]) -> None:
    done = threading.Event()

    def silent(conn: socket.socket) -> None:
        conn.recv(4096)
        done.wait(15)

    servers.append(server := ScriptedServer(silent))
    try:
        with pytest.raises(TurnError, match=r"did not answer ALLOCATE \(1 requests in 3.50 s\)"):
            asyncio.run(allocate_over(server.address))
    finally:
        done.set()


def test_a_server_that_never_finishes_the_tls_handshake_costs_the_connect_bound(
    servers: list[ScriptedServer],
) -> None:
    done = threading.Event()

    def mute(conn: socket.socket) -> None:
        conn.recv(4096)  # the ClientHello, never answered
        done.wait(15)

    servers.append(server := ScriptedServer(mute))
    try:
        with pytest.raises(TurnError, match=r"the TLS handshake did not complete within 3\.5 s"):
            asyncio.run(allocate_over(server.address, TlsSettings().client_context()))
    finally:
        done.set()


def test_nothing_listening_is_an_error_in_words() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(TurnError, match=rf"cannot connect to TURN server 127.0.0.1:{port}"):
        asyncio.run(allocate_over(("127.0.0.1", port)))


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "turn.pem", tmp_path / "turn.key"
    make_self_signed_certificate(cert, key)
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def test_a_certificate_that_does_not_verify_is_refused_naming_the_server(
    servers: list[ScriptedServer], certificate: tuple[Path, Path]
) -> None:
    servers.append(server := ScriptedServer(lambda conn: None, server_context(certificate)))
    with pytest.raises(TurnError, match=r"the TLS certificate of TURN server 127.0.0.1:\d+ does not verify"):
        asyncio.run(allocate_over(server.address, TlsSettings().client_context()))


def test_over_tls_the_relayed_socket_carries_frames_cut_into_pieces(
    servers: list[ScriptedServer], certificate: tuple[Path, Path]
) -> None:
    """After the allocation the server sends a Data indication and a padded ChannelData, each cut in two
    writes; the relayed socket's watched connection turns readable and recvfrom gives both payloads. What the
    socket sends to the peer arrives as a Send indication on the same connection. Then the server closes:
    the connection is no longer watched and nothing raises."""
    got: list[bytes] = []
    proceed = threading.Event()

    def relay(conn: socket.socket) -> None:
        frames = Frames(conn)
        allocating(conn, frames)
        permission = StunMessage.parse(frames.next())
        assert permission.method == Method.CREATE_PERMISSION
        conn.sendall(answer(permission, Class.SUCCESS))
        bind = StunMessage.parse(frames.next())
        assert bind.method == Method.CHANNEL_BIND
        got.append(frames.next())  # the Send indication: the binding is not answered yet
        data = StunMessage(Method.DATA, Class.INDICATION).add(Attr.XOR_PEER_ADDRESS, PEER).add(Attr.DATA, b"one")
        for frame in (data.encode(), channel_data(bind.get(Attr.CHANNEL_NUMBER), b"three", stream=True)):  # type: ignore[arg-type]
            conn.sendall(frame[:7])
            proceed.wait(5)
            conn.sendall(frame[7:])
        proceed.wait(5)

    servers.append(server := ScriptedServer(relay, server_context(certificate)))
    context = TlsSettings(cafile=str(certificate[0])).client_context()
    stream, turn = asyncio.run(allocate_over(server.address, context))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    relayed = RelayedSocket(udp, server.address, turn, stream=stream)
    try:
        assert relayed.transport == "tls" and relayed.watched() == (stream.sock,)
        heard: list[tuple[bytes, object]] = []
        relayed.sendto(b"hello", PEER)
        for _ in range(200):
            readable, _, _ = select.select([relayed, *relayed.watched()], [], [], 0.05)
            proceed.set()
            while readable:  # as the media engine drains
                try:
                    heard.append(relayed.recvfrom(2048))
                except BlockingIOError:
                    break
            if len(heard) == 2:
                break
        assert heard == [(b"one", PEER), (b"three", PEER)], heard
        for _ in range(200):  # the server's script ends and it closes: the connection is no longer watched
            select.select(relayed.watched(), [], [], 0.05)
            with pytest.raises(BlockingIOError):
                relayed.recvfrom(2048)
            if not relayed.watched():
                break
        assert not relayed.watched() and stream.closed is not None
        assert "closed the connection" in str(stream.closed)
    finally:
        proceed.set()
        relayed.close()
    (send,) = [StunMessage.parse(frame) for frame in got]
    assert send.method == Method.SEND and send.get(Attr.DATA) == b"hello"

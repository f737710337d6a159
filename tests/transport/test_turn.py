"""TURN over a socket on loopback, against a scripted server: the allocation's words and bounds, and a
RelayedSocket that wraps what it sends, unwraps what the relay brings and drops what comes from anywhere else."""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import Iterator

import pytest

from softphone.stun import Attr, Class, ErrorCode, Method, StunMessage, long_term_key
from softphone.stun.turn import TurnClient, TurnError, channel_data
from softphone.transport.turn import RelayedSocket, allocate

USER, PASSWORD, REALM = "alice", "pw", "lab.invalid"
KEY = long_term_key(USER, REALM, PASSWORD)
RELAYED = ("127.0.0.1", 50000)
PEER = ("127.0.0.1", 40000)


def udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = udp(), udp()
    yield client, server
    client.close()
    server.close()


async def serve(server: socket.socket, password: str) -> None:
    """Answer the unsigned Allocate with a 401, the signed one with an allocation if it checks with ``password``."""
    loop = asyncio.get_running_loop()
    server.setblocking(False)
    key = long_term_key(USER, REALM, password)
    for _ in range(2):
        data, addr = await loop.sock_recvfrom(server, 2048)
        request = StunMessage.parse(data)
        response = StunMessage(request.method, Class.ERROR, request.transaction_id)
        if request.get(Attr.USERNAME) is None or not request.check_integrity(key):
            response.add(Attr.ERROR_CODE, ErrorCode(401, "Unauthorized")).add(Attr.REALM, REALM)
            await loop.sock_sendto(server, response.add(Attr.NONCE, "nonce").encode(), addr)
            continue
        response = StunMessage(request.method, Class.SUCCESS, request.transaction_id)
        response.add(Attr.XOR_RELAYED_ADDRESS, RELAYED).add(Attr.XOR_MAPPED_ADDRESS, addr).add(Attr.LIFETIME, 600)
        await loop.sock_sendto(server, response.encode(key), addr)
        return


async def allocated(client_sock: socket.socket, server: socket.socket, password: str = PASSWORD) -> TurnClient:
    client = TurnClient(USER, PASSWORD, server="TURN server on loopback")
    task = asyncio.create_task(serve(server, password))
    try:
        await allocate(client_sock, server.getsockname(), client)
    finally:
        task.cancel()
    return client


def test_allocate_then_relay_both_ways_and_drop_the_rest(sockets: tuple[socket.socket, socket.socket]) -> None:
    client_sock, server = sockets
    client = asyncio.run(allocated(client_sock, server))
    assert client.relayed == RELAYED
    relayed = RelayedSocket(client_sock, server.getsockname(), client)
    server.setblocking(True)
    server.settimeout(2.0)
    try:
        assert relayed.sendto(b"rtp", PEER) == 3
        kinds = {}
        for _ in range(3):  # CreatePermission, ChannelBind, then the data in a Send indication
            message = StunMessage.parse(server.recvfrom(2048)[0])
            kinds[message.method] = message
        assert set(kinds) == {Method.CREATE_PERMISSION, Method.CHANNEL_BIND, Method.SEND}
        assert kinds[Method.SEND].get(Attr.DATA) == b"rtp" and kinds[Method.SEND].peer_address == PEER
        client_addr = relayed.getsockname()
        data = StunMessage(Method.DATA, Class.INDICATION).add(Attr.XOR_PEER_ADDRESS, PEER).add(Attr.DATA, b"in")
        server.sendto(data.encode(), client_addr)
        stranger = udp()
        stranger.sendto(b"\x80" + bytes(20), client_addr)  # straight to the port, not through the relay
        stranger.sendto(channel_data(0x4000, b"forged"), client_addr)
        server.sendto(channel_data(0x4000, b"bound"), client_addr)
        stranger.close()
        received = []
        for _ in range(50):
            try:
                received.append(relayed.recvfrom(2048))
            except BlockingIOError:
                if len(received) == 2:
                    break
                select.select([relayed], [], [], 1.0)
        assert received == [(b"in", PEER), (b"bound", PEER)]
        assert relayed.dropped == 2
        relayed.close()
        refresh = StunMessage.parse(server.recvfrom(2048)[0])
        assert refresh.method == Method.REFRESH and refresh.lifetime == 0 and refresh.check_integrity(KEY)
    finally:
        relayed.close()


def test_a_wrong_password_raises_in_words(sockets: tuple[socket.socket, socket.socket]) -> None:
    client_sock, server = sockets
    with pytest.raises(TurnError, match=r"refused the credentials of user 'alice'.*wrong user name or password"):
        asyncio.run(allocated(client_sock, server, password="the server's"))


def test_a_silent_server_is_given_up_within_the_setup_schedule(sockets: tuple[socket.socket, socket.socket]) -> None:
    client_sock, server = sockets

    with pytest.raises(TurnError, match=r"did not answer ALLOCATE \(3 requests in 1\.75 s\)"):
        asyncio.run(allocate(client_sock, server.getsockname(), TurnClient(USER, PASSWORD, server="TURN server")))

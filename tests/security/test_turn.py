"""An INVITE flood at a phone with a TURN server: each call's allocation counts as a ringing call, so the flood
holds at most ``max_ringing`` relays at once, and every relay it made is deleted (Refresh with LIFETIME 0)."""

from __future__ import annotations

import asyncio
import socket

from softphone.stun import Attr, Class, ErrorCode, Method, StunMessage, StunParseError, long_term_key
from softphone.ua import Account
from softphone.ua.limits import Limits
from tests.security.attacker import OFFER, UdpAttacker, descriptors, request, until
from tests.ua import make_ua

REALM = "lab.invalid"
KEY = long_term_key("alice", REALM, "pw")


class ScriptedTurnServer:
    """Answers Allocate (401, then a relay), Refresh, CreatePermission and ChannelBind on loopback; counts them."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.allocations: set[tuple[str, int]] = set()
        self.deleted: set[tuple[str, int]] = set()
        self.next_port = 50000

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def serve(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(2048)
            except BlockingIOError:
                return
            try:
                request = StunMessage.parse(data)
            except StunParseError:
                continue
            if request.cls is not Class.REQUEST:
                continue
            if not request.check_integrity(KEY):
                answer = StunMessage(request.method, Class.ERROR, request.transaction_id)
                answer.add(Attr.ERROR_CODE, ErrorCode(401, "Unauthorized")).add(Attr.REALM, REALM)
                self.sock.sendto(answer.add(Attr.NONCE, "n").encode(), addr)
                continue
            answer = StunMessage(request.method, Class.SUCCESS, request.transaction_id)
            if request.method == Method.ALLOCATE:
                self.allocations.add(addr)
                self.next_port += 2
                answer.add(Attr.XOR_RELAYED_ADDRESS, ("127.0.0.1", self.next_port)).add(Attr.LIFETIME, 600)
            elif request.method == Method.REFRESH and request.lifetime == 0:
                self.deleted.add(addr)
            self.sock.sendto(answer.encode(KEY), addr)


def test_an_invite_flood_holds_few_relays_and_deletes_every_one() -> None:
    server = ScriptedTurnServer()
    limits = Limits(ring_timeout=1.0, max_ringing=3, max_ringing_per_source=3)

    async def main() -> None:
        account = Account(
            "sip:alice@127.0.0.1", register=False, turn_server=server.address, turn_user="alice", turn_password="pw"
        )
        alice = make_ua(account, limits=limits)
        await alice.start()
        attacker = UdpAttacker()
        host, port = target = ("127.0.0.1", alice.stack.transport.local_address("UDP")[1])
        baseline = descriptors()
        most_at_once = 0
        try:
            offer = OFFER.format(host=attacker.address[0], port=40000)
            uri = f"sip:alice@{host}:{port}"
            for _ in range(40):
                attacker.send(request("INVITE", uri, source=attacker.address, body=offer), target)
                await asyncio.sleep(0.005)
                server.serve()
                most_at_once = max(most_at_once, len(server.allocations) - len(server.deleted))
            await until(lambda: server.serve() or len(attacker.drain()) >= 40, what="an answer to each INVITE")
            await until(lambda: server.serve() or not alice.calls, timeout=15, what="the flood's calls to end")
            await until(
                lambda: server.serve() or server.deleted == server.allocations, what="every relay to be deleted"
            )
            assert 1 <= len(server.allocations) <= 40 and most_at_once <= limits.max_ringing
            await until(lambda: descriptors() <= baseline + 2, what="the flood's media ports to be closed")
        finally:
            attacker.close()
            await alice.stop()
            server.sock.close()

    asyncio.run(main())

"""An INVITE flood at a phone with a STUN server: each call's lookup counts as a ringing call, so the flood costs
at most ``max_ringing`` lookups at once, and every media port it opened is closed again."""

from __future__ import annotations

import asyncio
import socket

from softphone.stun import StunMessage, StunParseError
from softphone.ua import Account, IncomingCallEvent
from softphone.ua.limits import Limits
from tests.security.attacker import OFFER, UdpAttacker, descriptors, request, until
from tests.ua import Recorder, make_ua


def test_an_invite_flood_cannot_make_the_phone_ask_stun_without_bound() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # a STUN server that never answers: every lookup waits out its 1.75 s
    silent.setblocking(False)
    server = f"127.0.0.1:{silent.getsockname()[1]}"
    limits = Limits(ring_timeout=1.0, max_ringing=3, max_ringing_per_source=3)

    async def main() -> None:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False, stun_server=server), limits=limits)
        await alice.start()
        attacker = UdpAttacker()
        host, port = target = ("127.0.0.1", alice.stack.transport.local_address("UDP")[1])
        baseline = descriptors()
        lookups: set[bytes] = set()
        most_at_once = 0

        def count_lookups() -> None:
            while True:
                try:
                    data = silent.recv(2048)
                except BlockingIOError:
                    return
                try:
                    lookups.add(StunMessage.parse(data).transaction_id)
                except StunParseError:
                    pass

        try:
            offer = OFFER.format(host=attacker.address[0], port=40000)
            for _ in range(40):
                invite = request("INVITE", f"sip:alice@{host}:{port}", source=attacker.address, body=offer)
                attacker.send(invite, target)
                await asyncio.sleep(0.005)
                learning = len(alice.call_manager._learning)
                most_at_once = max(most_at_once, learning + sum(1 for call in alice.calls if call.ringing))
            await until(lambda: len(attacker.drain()) >= 40, what="an answer to each INVITE")
            busy = [r for r in attacker.drain() if r.status_code == 486]
            assert busy, "INVITEs beyond max_ringing (lookups included) get 486"
            await until(lambda: not alice.calls, timeout=15, what="the flood's calls to end")
            count_lookups()
            # Lookups and ringing calls together never pass max_ringing; each call let through cost one lookup.
            assert 1 <= most_at_once <= limits.max_ringing
            assert 1 <= len(lookups) <= 40
            await until(lambda: descriptors() <= baseline + 2, what="the flood's media ports to be closed")
        finally:
            attacker.close()
            await alice.stop()
            silent.close()

    asyncio.run(main())


def test_a_call_cancelled_while_its_media_address_is_learned_never_rings() -> None:
    """RFC 3261 9.2: CANCEL before we rang gets 200, the INVITE 487; the lookup stops and its port is closed."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))

    async def main() -> None:
        alice = make_ua(
            Account("sip:alice@127.0.0.1", register=False, stun_server=f"127.0.0.1:{silent.getsockname()[1]}")
        )
        events = Recorder(alice)
        await alice.start()
        attacker = UdpAttacker()
        baseline = descriptors()
        try:
            target = ("127.0.0.1", alice.stack.transport.local_address("UDP")[1])
            uri = f"sip:alice@127.0.0.1:{target[1]}"
            invite = request(
                "INVITE", uri, source=attacker.address, body=OFFER.format(host=attacker.address[0], port=4000)
            )
            attacker.send(invite, target)
            await until(lambda: len(alice.call_manager._learning) == 1, what="alice to ask the STUN server")
            head = invite.split(b"\r\n\r\n")[0].decode().split("\r\n")
            cancel = [line for line in head if not line.startswith(("Content-", "Contact"))]
            cancel[0] = cancel[0].replace("INVITE", "CANCEL", 1)
            cancel = [line.replace("1 INVITE", "1 CANCEL") if line.startswith("CSeq") else line for line in cancel]
            attacker.send(("\r\n".join([*cancel, "Content-Length: 0"]) + "\r\n\r\n").encode(), target)
            await until(lambda: {r.status_code for r in attacker.drain()} >= {200, 487}, what="200 to CANCEL, 487")
            assert not alice.call_manager._learning and not alice.calls
            assert not [e for e in events.events if isinstance(e, IncomingCallEvent)]
            await until(lambda: descriptors() <= baseline, what="alice's media port to be closed")
        finally:
            attacker.close()
            await alice.stop()
            silent.close()

    asyncio.run(main())

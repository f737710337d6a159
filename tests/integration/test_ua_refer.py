"""REFER outside a dialog (RFC 3515 2.4): a server makes the phone call someone; a stranger gets nothing."""

from __future__ import annotations

import asyncio
import socket

import pytest

from softphone.sip.uri import parse_uri
from softphone.ua import CallEvent, TransferEvent
from tests.integration.test_ua_calls import call_state, new_account, phones
from tests.kamailio_server import Kamailio

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel


def test_refer_through_the_server_places_the_call(kamailio: Kamailio) -> None:
    alice_account, bob_account = new_account(kamailio), new_account(kamailio)
    carol_account = new_account(kamailio, auto_answer=0.1)

    async def main() -> None:
        async with phones(alice_account, bob_account, carol_account) as (alice, bob, carol):
            refer_to = f"<{kamailio.aor(carol.user)}>"
            _, response = await alice.ua.request_out_of_dialog(
                alice_account,
                "REFER",
                parse_uri(kamailio.aor(bob.user)),
                headers=[("Refer-To", refer_to)],
                contact=True,
            )
            assert response.status_code == 202
            requested = await bob.events.wait(lambda e: isinstance(e, TransferEvent) and e.state == "requested")
            assert isinstance(requested, TransferEvent) and requested.target == kamailio.aor(carol.user)
            await bob.events.wait(call_state("confirmed", requested.call_id))
            await carol.events.wait(call_state("confirmed"))
            done = await bob.events.wait(lambda e: isinstance(e, TransferEvent) and e.state == "succeeded")
            assert isinstance(done, TransferEvent) and done.call_id == requested.call_id
            await bob.ua.hangup(requested.call_id)
            await carol.events.wait(call_state("ended"))

    asyncio.run(main())


def test_refer_from_a_stranger_is_refused(kamailio: Kamailio) -> None:
    bob_account = new_account(kamailio)

    async def main() -> None:
        async with phones(bob_account) as (bob,):
            host, port = bob.ua.stack.transport.local_address("UDP")
            stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            stranger.bind(("127.0.0.1", 0))
            stranger.setblocking(False)
            sport = stranger.getsockname()[1]
            refer = (
                f"REFER sip:{bob.user}@{host}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{sport};branch=z9hG4bKstranger1;rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:mallory@203.0.113.9>;tag=m1\r\nTo: <sip:{bob.user}@127.0.0.1>\r\n"
                "Call-ID: stranger-refer@203.0.113.9\r\nCSeq: 1 REFER\r\n"
                f"Contact: <sip:mallory@127.0.0.1:{sport}>\r\n"
                "Refer-To: <sip:premium-rate@203.0.113.9>\r\nContent-Length: 0\r\n\r\n"
            )
            loop = asyncio.get_running_loop()
            dropped = bob.ua.router.dropped
            try:
                await loop.sock_sendto(stranger, refer.encode(), (host, port))
                # A phone with a server answers strangers nothing at all: the REFER is counted and dropped.
                for _ in range(200):
                    if dropped.total:
                        break
                    await asyncio.sleep(0.01)
                assert dropped.total == 1
                with pytest.raises(BlockingIOError):
                    stranger.recv(65535)
            finally:
                stranger.close()
            assert bob.ua.calls == []
            assert not [e for e in bob.events.events if isinstance(e, CallEvent | TransferEvent)]

    asyncio.run(main())

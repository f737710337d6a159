"""Scans, INVITE floods and forged in-dialog requests against a listening phone.

The attacker sends from a loopback address of its own (127.0.0.66), so the
phone tells it from legitimate peers on 127.0.0.1 as it would on a network.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from softphone.sip.message import Response
from softphone.ua import Account, CallEvent, IncomingCallEvent, UserAgent
from softphone.ua.limits import Limits
from tests.integration.test_ua_calls import call_state, new_account, phones
from tests.kamailio_server import Kamailio
from tests.security.attacker import OFFER, UdpAttacker, descriptors, request, until
from tests.ua import Recorder, make_ua


def lan(user: str, **options: object) -> Account:
    return Account(f"sip:{user}@127.0.0.1", register=False, **options)  # type: ignore[arg-type]


def udp_address(ua: UserAgent) -> tuple[str, int]:
    return ("127.0.0.1", ua.stack.transport.local_address("UDP")[1])


def fingerprint(response: Response) -> list[str]:
    return [name for name in ("User-Agent", "Server") if response.headers.get(name) is not None]


def from_attacker(event: object) -> bool:
    return isinstance(event, IncomingCallEvent) and "scanner" in event.remote_uri


def test_a_scan_of_a_lan_phone_finds_no_users_and_no_version() -> None:
    async def main() -> None:
        alice = make_ua(lan("alice"))
        events = Recorder(alice)
        await alice.start()
        attacker = UdpAttacker()
        host, port = target = udp_address(alice)
        try:
            # svmap: OPTIONS to the device and to a guessed extension.
            device = await attacker.answer(request("OPTIONS", f"sip:{host}:{port}", source=attacker.address), target)
            assert device.status_code == 200 and fingerprint(device) == []
            guess = await attacker.answer(request("OPTIONS", f"sip:100@{host}:{port}", source=attacker.address), target)
            assert guess.status_code == 404 and fingerprint(guess) == []
            # svwar: INVITEs to made-up users ring nothing.
            for extension in ("100", "101", "1000", "admin", "test", "operator"):
                offer = OFFER.format(host=attacker.address[0], port=40000)
                invite = request("INVITE", f"sip:{extension}@{host}:{port}", source=attacker.address, body=offer)
                reply = await attacker.answer(invite, target)
                assert reply.status_code == 404 and fingerprint(reply) == []
            assert alice.calls == []
            assert not [e for e in events.events if isinstance(e, IncomingCallEvent | CallEvent)]
        finally:
            attacker.close()
            await alice.stop()

    asyncio.run(main())


def test_a_phone_with_a_server_answers_strangers_nothing(kamailio: Kamailio) -> None:
    alice_account, bob_account = new_account(kamailio), new_account(kamailio)

    async def main() -> None:
        async with phones(alice_account, bob_account) as (alice, bob):
            host, port = target = udp_address(alice.ua)
            attacker = UdpAttacker()
            try:
                offer = OFFER.format(host=attacker.address[0], port=40000)
                scans = [
                    request("OPTIONS", f"sip:{host}:{port}", source=attacker.address),
                    request("OPTIONS", f"sip:{alice.user}@{host}:{port}", source=attacker.address),
                    request("INVITE", f"sip:{alice.user}@{host}:{port}", source=attacker.address, body=offer),
                    request("INVITE", f"sip:100@{host}:{port}", source=attacker.address, body=offer),
                    request("REGISTER", f"sip:{host}:{port}", source=attacker.address),
                    request("MESSAGE", f"sip:{alice.user}@{host}:{port}", source=attacker.address),
                    request(
                        "SUBSCRIBE", f"sip:{alice.user}@{host}:{port}", source=attacker.address, extra="Event: presence"
                    ),
                ]
                dropped = alice.ua.router.dropped
                before = dropped.total
                for scan in scans:
                    attacker.send(scan, target)
                await until(lambda: dropped.total >= before + len(scans), what="the scan to be dropped")
                # Not one answer: no 404, no 403, no 100 Trying.
                assert attacker.drain() == []
                assert not [e for e in alice.events.events if from_attacker(e)]
                # The phone still takes calls through its server.
                call = await bob.ua.call(alice.user)
                incoming = await alice.events.wait(lambda e: isinstance(e, IncomingCallEvent))
                assert isinstance(incoming, IncomingCallEvent)
                await alice.ua.answer(incoming.call_id)
                await bob.events.wait(call_state("confirmed", call.id))
                await bob.ua.hangup(call.id)
                await alice.events.wait(call_state("ended"))
            finally:
                attacker.close()

    asyncio.run(main())


def test_an_invite_flood_rings_twice_at_most_and_leaves_nothing_open() -> None:
    async def main() -> None:
        alice = make_ua(lan("alice"), limits=Limits(ring_timeout=1.0))
        bob = make_ua(lan("bob"))
        a_events, b_events = Recorder(alice), Recorder(bob)
        await alice.start()
        await bob.start()
        attacker = UdpAttacker()
        host, port = target = udp_address(alice)
        baseline = descriptors()
        try:
            offer = OFFER.format(host=attacker.address[0], port=40000)
            for index in range(2000):
                attacker.send(
                    request("INVITE", f"sip:alice@{host}:{port}", source=attacker.address, body=offer), target
                )
                if index % 100 == 99:
                    await asyncio.sleep(0.01)  # the phone and the attacker share this loop: let it read
                if index == 1000:
                    # A real caller in the middle of the flood still gets through.
                    legit = await bob.call(f"sip:alice@{host}:{port}")
            incoming = await a_events.wait(
                lambda e: isinstance(e, IncomingCallEvent) and "bob" in e.remote_uri, timeout=10
            )
            assert isinstance(incoming, IncomingCallEvent)
            await alice.answer(incoming.call_id)
            await b_events.wait(call_state("confirmed", legit.id))
            # The attacker's calls ring (at most two from one address) and end unanswered.
            await until(lambda: len(alice.calls) == 1, what="the flood's ringing calls to end")
            rang = [e for e in a_events.events if from_attacker(e)]
            assert 1 <= len(rang) <= 2
            busy = [r for r in attacker.drain() if r.status_code == 486]
            assert busy, "calls beyond the limit are refused with 486"
            assert alice.router.dropped.total > 0, "the rest was dropped by the rate limit"
            await bob.hangup(legit.id)
            await a_events.wait(call_state("ended", incoming.call_id))
            await until(lambda: descriptors() <= baseline + 2, what="the flood's sockets to be closed")
        finally:
            attacker.close()
            await alice.stop()
            await bob.stop()

    asyncio.run(main())


def test_forged_reinvite_and_bye_from_a_stranger_change_nothing() -> None:
    async def main() -> None:
        alice = make_ua(lan("alice"))
        bob = make_ua(lan("bob", auto_answer=0.0))
        a_events, b_events = Recorder(alice), Recorder(bob)
        await alice.start()
        await bob.start()
        attacker = UdpAttacker()
        try:
            bob_host, bob_port = udp_address(bob)
            call = await alice.call(f"sip:bob@{bob_host}:{bob_port}")
            await a_events.wait(call_state("confirmed", call.id))
            confirmed = await b_events.wait(call_state("confirmed"))
            assert isinstance(confirmed, CallEvent) and call.dialog is not None
            bob_call = bob.find_call(confirmed.call_id)
            # The attacker knows the Call-ID and both tags (a leak elsewhere) and forges the peer's requests.
            dialog = call.dialog
            forged_offer = OFFER.format(host=attacker.address[0], port=41000)
            host, port = target = udp_address(alice)
            for method, body in (("INVITE", forged_offer), ("BYE", "")):
                forged = request(
                    method,
                    f"sip:alice@{host}:{port}",
                    source=attacker.address,
                    call_id=dialog.call_id,
                    from_tag=dialog.remote_tag,
                    to_tag=dialog.local_tag,
                    to="sip:alice@127.0.0.1",
                    cseq=900,
                    body=body,
                )
                reply = await attacker.answer(forged, target)
                assert reply.status_code == 481, reply
            assert call.state == "confirmed" and call.media is not None
            assert call.media.remote_address == "127.0.0.1", "the media must not move to the attacker"
            assert not bob_call.ended
            # The real peer still hangs up the call.
            await bob.hangup(bob_call.id)
            ended = await a_events.wait(call_state("ended", call.id))
            assert isinstance(ended, CallEvent) and ended.reason == "remote hangup"
        finally:
            attacker.close()
            await alice.stop()
            await bob.stop()

    asyncio.run(main())


def test_header_bombs_and_huge_numbers_cost_little_and_break_nothing(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        alice = make_ua(lan("alice"))
        await alice.start()
        attacker = UdpAttacker()
        host, port = target = udp_address(alice)
        try:
            options = request("OPTIONS", f"sip:alice@{host}:{port}", source=attacker.address)
            head, _, _ = options.partition(b"\r\n\r\n")
            bomb = head + b"\r\n" + b"x:1\r\n" * 12_000 + b"\r\n"
            assert len(bomb) < 65_000
            for _ in range(20):
                attacker.send(bomb, target)
            huge = "9" * 5000
            overflows = [
                options.replace(b"CSeq: 1 OPTIONS", f"CSeq: {huge} OPTIONS".encode()),
                options.replace(b"Max-Forwards: 70", f"Max-Forwards: {huge}".encode()),
                options.replace(b"Content-Length: 0", f"Content-Length: {huge}".encode()),
            ]
            for message in overflows:
                reply = await attacker.answer(message, target)
                assert reply.status_code == 400
            # RFC 3581 4: the real source port replaces whatever rport says; the answer reaches us.
            rport = options.replace(b";rport", f";rport={huge}".encode())
            assert (await attacker.answer(rport, target)).status_code == 200
            # Everything before it was read: the phone still answers at once.
            assert (await attacker.answer(options, target)).status_code == 200
        finally:
            attacker.close()
            await alice.stop()

    with caplog.at_level(logging.INFO):
        asyncio.run(main())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], "no traceback, no error"

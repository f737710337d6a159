"""sips: end to end (RFC 5630): a call to a sips: URI goes over TLS, and both Contacts are sips: URIs
(RFC 3261 8.1.1.8 for the INVITE, 12.1.1 for the answer), without the deprecated transport=tls.

Two user agents on loopback; bob listens on TLS with a self-signed certificate alice trusts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from softphone.sip.uri import SipUri
from softphone.transport import TlsSettings
from softphone.ua import Account, CallEvent, IncomingCallEvent
from tests.kamailio_server import make_self_signed_certificate
from tests.ua import Recorder, make_ua


def test_a_call_to_a_sips_uri_has_sips_contacts_on_both_sides(tmp_path: Path) -> None:
    cert, key = tmp_path / "bob.pem", tmp_path / "bob-key.pem"
    make_self_signed_certificate(cert, key)

    async def main() -> None:
        bob = make_ua(
            Account("sip:bob@127.0.0.1", register=False),
            listen=[("UDP", "127.0.0.1", 0), ("TLS", "127.0.0.1", 0)],
            tls=TlsSettings(certfile=str(cert), keyfile=str(key), cafile=str(cert)),
        )
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False, ca_file=str(cert)))
        alice_events, bob_events = Recorder(alice), Recorder(bob)
        await bob.start()
        await alice.start()
        try:
            port = bob.stack.transport.local_address("TLS")[1]
            call = await alice.call(f"sips:bob@127.0.0.1:{port}")
            incoming = await bob_events.wait(lambda e: isinstance(e, IncomingCallEvent))
            assert isinstance(incoming, IncomingCallEvent)
            await bob.answer(incoming.call_id)
            await alice_events.wait(lambda e: isinstance(e, CallEvent) and e.state == "confirmed")
            ours, theirs = alice.find_call(call.id).dialog, bob.find_call(incoming.call_id).dialog
            assert ours is not None and theirs is not None
            for contact in (ours.local_contact.uri, theirs.local_contact.uri, ours.remote_target, theirs.remote_target):
                assert isinstance(contact, SipUri) and contact.scheme == "sips", contact
                assert "transport" not in contact.params, contact
            await alice.hangup(call.id)
            await bob_events.wait(lambda e: isinstance(e, CallEvent) and e.state == "ended")
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())

"""A stranger's unsolicited message-summary NOTIFY (RFC 3842): fake voicemail is refused.

The phone is registered on the Kamailio fixture; the attacker sends NOTIFYs straight to the
phone's address claiming new voicemail and a voicemail URI of its own. Each is answered 403 and
changes nothing; the summaries the server relays within the phone's own subscription still count.
"""

from __future__ import annotations

import asyncio

from softphone.sip.message_summary import MESSAGE_SUMMARY_CONTENT_TYPE, MessageCounts, build_message_summary
from softphone.ua import Account, MwiEvent, RegistrationEvent, SubscriptionEvent
from softphone.ua.publication import Publication
from tests.integration.test_ua_calls import new_account
from tests.kamailio_server import Kamailio
from tests.security.attacker import attacker, sip_request, udp_port
from tests.ua import Recorder, make_ua

FAKE = b"Messages-Waiting: yes\r\nMessage-Account: sip:voicemail@203.0.113.66\r\nVoice-Message: 99/0 (99/0)\r\n"


def test_unsolicited_summary_from_a_stranger_is_refused_and_changes_nothing(kamailio: Kamailio) -> None:
    account = new_account(kamailio)

    async def main() -> None:
        phone = make_ua(account)
        events = Recorder(phone)
        await phone.start()
        await phone.register()
        await events.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "registered")
        await events.wait(
            lambda e: isinstance(e, SubscriptionEvent) and e.event == "message-summary" and e.state == "active"
        )
        mallory = await attacker()
        try:
            for sender in ("sip:voicemail@203.0.113.66", kamailio.aor("voicemail"), account.aor):
                notify = sip_request(
                    "NOTIFY",
                    udp_port(phone),
                    user=account.user,
                    from_uri=sender,
                    local_port=mallory.port,
                    headers=[("Event", "message-summary"), ("Subscription-State", "active")],
                    body=FAKE,
                    content_type=MESSAGE_SUMMARY_CONTENT_TYPE,
                )
                # Not from the server of a registered account: dropped without a word.
                await mallory.unanswered(notify, udp_port(phone), phone)
            assert phone.mwi.summary() is None
            assert not any(isinstance(e, MwiEvent) for e in events.events)

            # What the voicemail system publishes reaches the phone through its subscription, as before.
            voicemail = make_ua(
                Account(account.aor, account.password, outbound_proxy=kamailio.proxy_uri(), register=False)
            )
            await voicemail.start()
            try:
                pub = Publication(voicemail, voicemail.accounts[0], "message-summary", MESSAGE_SUMMARY_CONTENT_TYPE)
                body = build_message_summary(True, None, {"voice-message": MessageCounts(1, 2)})
                assert await pub.publish(body) == "published"
                real = await events.wait(lambda e: isinstance(e, MwiEvent), 15.0)
                assert isinstance(real, MwiEvent) and (real.new, real.old, real.voicemail_uri) == (1, 2, None)
                await pub.remove()
            finally:
                await voicemail.stop()
        finally:
            mallory.close()
            await phone.stop()

    asyncio.run(main())


def test_a_phone_without_a_server_takes_no_unsolicited_summary() -> None:
    async def main() -> None:
        phone = make_ua(Account("sip:bob@127.0.0.1", register=False))
        events = Recorder(phone)
        await phone.start()
        mallory = await attacker()
        try:
            notify = sip_request(
                "NOTIFY",
                udp_port(phone),
                from_uri="sip:voicemail@127.0.0.1",
                local_port=mallory.port,
                headers=[("Event", "message-summary"), ("Subscription-State", "active")],
                body=FAKE,
                content_type=MESSAGE_SUMMARY_CONTENT_TYPE,
            )
            assert (await mallory.ask(notify, udp_port(phone))).status_code == 403
            assert phone.mwi.summary() is None and not any(isinstance(e, MwiEvent) for e in events.events)
        finally:
            mallory.close()
            await phone.stop()

    asyncio.run(main())

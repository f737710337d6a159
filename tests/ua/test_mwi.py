"""Message-waiting (RFC 3842) between user agents on loopback: unsolicited NOTIFYs, a subscription, bad bodies.

The "voicemail" user agent is the phone's server (its outbound proxy or registrar, on one port for UDP
and TCP): unsolicited NOTIFYs are taken only from there. tests/security/ has the stranger's side.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from softphone.sip.message import Response
from softphone.sip.message_summary import MESSAGE_SUMMARY_CONTENT_TYPE, MessageCounts, build_message_summary
from softphone.sip.uri import parse_uri
from softphone.ua import Account, MwiEvent, RegistrationEvent, SubscriptionEvent, UserAgent
from softphone.ua.subscription import Decision, ServerSubscription
from tests.ua import Recorder, make_ua

SUMMARY = (
    b"Messages-Waiting: yes\r\n"
    b"Message-Account: sip:voicemail@127.0.0.1\r\n"
    b"Voice-Message: 2/8 (1/0)\r\n"
    b"Fax-Message: 1/0\r\n"
)


@dataclass
class SummaryPackage:
    """A voicemail server's message-summary package: serves ``body`` to every subscriber."""

    body: bytes = b"Messages-Waiting: no\r\n"
    name: str = "message-summary"
    default_expires: int = 600
    seen: list[ServerSubscription] = field(default_factory=list)

    def authorize(self, subscription: ServerSubscription) -> Decision:
        self.seen.append(subscription)
        return "active"

    def state_body(self, subscription: ServerSubscription) -> tuple[str, bytes] | None:
        return MESSAGE_SUMMARY_CONTENT_TYPE, self.body


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port on 127.0.0.1")


def run(scenario: Callable[[UserAgent, UserAgent, Recorder], Awaitable[None]], *, registrar: bool = False) -> None:
    """``scenario(voicemail, phone, events of phone)``; the phone's requests go to the voicemail UA."""

    async def main() -> None:
        port = free_port()
        # The server keeps alice's mailbox: requests for alice reach it (a user it does not have gets 404).
        voicemail = make_ua(
            Account("sip:voicemail@127.0.0.1", register=False),
            Account("sip:alice@127.0.0.1", register=False),
            listen=[("UDP", "127.0.0.1", port), ("TCP", "127.0.0.1", port)],
        )
        await voicemail.start()
        if registrar:
            account = Account("sip:alice@127.0.0.1", "secret", registrar=f"sip:127.0.0.1:{port}")
        else:
            account = Account("sip:alice@127.0.0.1", register=False, outbound_proxy=f"sip:127.0.0.1:{port}")
        phone = make_ua(account)
        events = Recorder(phone)
        await phone.start()
        # The phone looks its server up (as its first request there would): what comes from there is its server's.
        await phone.resolve(account.next_hop, account)
        try:
            await scenario(voicemail, phone, events)
        finally:
            await phone.stop()
            await voicemail.stop()

    asyncio.run(main())


async def notify(
    sender: UserAgent,
    receiver: UserAgent,
    body: bytes,
    *,
    event: str = "message-summary",
    content_type: str = MESSAGE_SUMMARY_CONTENT_TYPE,
    transport: str = "UDP",
    port: int | None = None,
) -> Response:
    """An unsolicited NOTIFY (no subscription, no To tag) from ``sender`` to ``receiver``'s alice (at
    ``port``, by default where ``receiver`` listens)."""
    if port is None:
        port = receiver.stack.transport.local_address(transport)[1]
    _, response = await sender.request_out_of_dialog(
        sender.accounts[0],
        "NOTIFY",
        parse_uri(f"sip:alice@127.0.0.1:{port};transport={transport.lower()}"),
        headers=[("Event", event), ("Subscription-State", "active")],
        body=body,
        content_type=content_type,
    )
    return response


def is_mwi(e: object) -> bool:
    return isinstance(e, MwiEvent)


async def tcp_flow(voicemail: UserAgent, phone: UserAgent) -> int:
    """The phone reaches its server over TCP (as a registration over TCP does); the port at the phone's
    end of that connection, where the server sends its requests back."""
    account = phone.accounts[0]
    server = account.outbound_proxy_uri
    assert server is not None
    account.outbound_proxy = f"sip:127.0.0.1:{server.port};transport=tcp"
    _, answer = await phone.request_out_of_dialog(account, "OPTIONS", parse_uri(f"sip:127.0.0.1:{server.port}"))
    assert answer.status_code == 200
    (peer,) = [peer for _, transport, peer, outbound in voicemail.stack.transport.connections if not outbound]
    return peer[1]


def test_unsolicited_notify_gives_the_counts_and_keeps_the_latest() -> None:
    async def scenario(voicemail: UserAgent, phone: UserAgent, events: Recorder) -> None:
        assert phone.mwi.summary() is None
        response = await notify(voicemail, phone, SUMMARY)
        assert response.status_code == 200
        event = await events.wait(is_mwi)
        assert event == MwiEvent(
            "sip:alice@127.0.0.1",
            2,
            8,
            True,
            "sip:voicemail@127.0.0.1",
            {"voice-message": (2, 8), "fax-message": (1, 0)},
        )
        assert phone.mwi.summary() == event
        assert phone.mwi.summary("sip:alice@127.0.0.1") == event

        # Without a voice-message class the totals of all classes are shown.
        mark = events.mark()
        body = build_message_summary(False, None, {"fax-message": MessageCounts(0, 3), "text-message": MessageCounts()})
        assert (await notify(voicemail, phone, body)).status_code == 200
        second = await events.wait(is_mwi, after=mark)
        assert isinstance(second, MwiEvent)
        assert (second.new, second.old, second.waiting, second.voicemail_uri) == (0, 3, False, None)
        assert phone.mwi.summary() == second
        assert phone.mwi.summaries == {"sip:alice@127.0.0.1": second}

    run(scenario)


def test_malformed_summaries_are_refused_and_change_nothing() -> None:
    async def scenario(voicemail: UserAgent, phone: UserAgent, events: Recorder) -> None:
        assert (await notify(voicemail, phone, SUMMARY)).status_code == 200
        good = await events.wait(is_mwi)
        flow = await tcp_flow(voicemail, phone)
        bad_bodies = [
            b"this is not a summary\r\n",
            b"Voice-Message: 1/2\r\n",  # no Messages-Waiting
            b"Messages-Waiting: perhaps\r\n",
            b"Messages-Waiting: yes\r\nVoice-Message: many/few\r\n",
            b"Messages-Waiting: yes\r\n\xff\xfe\x00garbage",
            b"Messages-Waiting: yes\r\n" + b"X-Filler: " + b"a" * 70_000 + b"\r\n",
        ]
        for body in bad_bodies:
            response = await notify(voicemail, phone, body, transport="TCP", port=flow)
            assert response.status_code == 400, body[:40]
        # A body of another type under the message-summary event.
        response = await notify(voicemail, phone, b"<presence/>", content_type="application/pidf+xml")
        assert response.status_code == 415
        assert response.headers.get("Accept") == MESSAGE_SUMMARY_CONTENT_TYPE
        # An unsolicited NOTIFY of a package nobody takes is not ours to answer: the UA says 489.
        response = await notify(voicemail, phone, SUMMARY, event="x-unknown")
        assert response.status_code == 489
        assert phone.mwi.summary() == good
        assert [e for e in events.events if isinstance(e, MwiEvent)] == [good]
        # Still working after all that.
        assert (await notify(voicemail, phone, b"Messages-Waiting: no\r\n")).status_code == 200
        last = await events.wait(lambda e: is_mwi(e) and e != good)
        assert isinstance(last, MwiEvent) and not last.waiting

    run(scenario)


def test_subscription_to_our_own_summary_gets_counts_and_survives_a_bad_body() -> None:
    async def scenario(voicemail: UserAgent, phone: UserAgent, events: Recorder) -> None:
        package = SummaryPackage(SUMMARY)
        voicemail.subscriptions.register_package(package)
        sub = phone.mwi.subscribe()
        assert phone.mwi.subscription() is sub
        first = await events.wait(is_mwi)
        assert isinstance(first, MwiEvent) and (first.new, first.old) == (2, 8)
        await events.wait(lambda e: isinstance(e, SubscriptionEvent) and e.state == "active")
        (served,) = voicemail.subscriptions.served("message-summary")
        assert str(served.watcher_uri) == "sip:alice@127.0.0.1"
        # RFC 3842 4: the subscription is to the account's own address of record.
        assert str(sub.target) == "sip:alice@127.0.0.1"

        # A broken body inside the subscription: 400, nothing changes, the subscription goes on.
        response = await voicemail.request_in_dialog(
            voicemail.accounts[0],
            served.dialog,
            "NOTIFY",
            headers=[("Event", "message-summary"), ("Subscription-State", "active;expires=500")],
            body=b"Messages-Waiting: maybe\r\n",
            content_type=MESSAGE_SUMMARY_CONTENT_TYPE,
        )
        assert response.status_code == 400
        assert phone.mwi.summary() == first and sub.state == "active"

        mark = events.mark()
        package.body = b"Messages-Waiting: no\r\nVoice-Message: 0/10\r\n"
        voicemail.subscriptions.notify_package("message-summary")
        update = await events.wait(is_mwi, after=mark)
        assert isinstance(update, MwiEvent) and (update.new, update.old, update.waiting) == (0, 10, False)

        await phone.mwi.unsubscribe()
        assert (sub.state, phone.mwi.subscription()) == ("terminated", None)
        assert not voicemail.subscriptions.served("message-summary")
        assert phone.mwi.summary() == update  # the last summary is kept

    run(scenario)


def test_a_registered_account_subscribes_by_itself_and_unsubscribes_at_stop() -> None:
    async def scenario(voicemail: UserAgent, phone: UserAgent, events: Recorder) -> None:
        package = SummaryPackage(SUMMARY)
        voicemail.subscriptions.register_package(package)
        # No registrar here (a user agent answers REGISTER with 405): the test puts the event a
        # successful registration emits on the UA's event bus, which is what the MWI service follows.
        # tests/integration/test_mwi_blf.py does it with a real registration on Kamailio.
        phone.emit(RegistrationEvent("sip:alice@127.0.0.1", "registered", 200, "OK", 600))
        event = await events.wait(is_mwi)
        assert isinstance(event, MwiEvent) and event.new == 2
        sub = phone.mwi.subscription()
        assert sub is not None and sub.event == "message-summary"
        # A refresh of the registration does not subscribe twice.
        phone.emit(RegistrationEvent("sip:alice@127.0.0.1", "registered", 200, "OK", 600))
        assert phone.mwi.subscription() is sub
        await events.wait(lambda e: isinstance(e, SubscriptionEvent) and e.state == "active")
        assert len(voicemail.subscriptions.served("message-summary")) == 1
        await phone.mwi.close()
        assert sub.state == "terminated"
        assert not voicemail.subscriptions.served("message-summary")

    run(scenario, registrar=True)

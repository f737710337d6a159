"""Instant messages through the real Kamailio: both ways, to an offline user, queued while unregistered, CLI."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from softphone.store import MessageState, Store
from softphone.ua import Account, Event, MessageEvent, MessageStatusEvent, RegistrationEvent, UserAgent
from tests.integration.test_cli import CliProcess
from tests.integration.test_ua_calls import new_account
from tests.kamailio_server import Kamailio
from tests.ua import Recorder, make_ua

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

UTF8_TEXT = "Grüße 👋 日本"


class Phone:
    def __init__(self, account: Account, store: Store) -> None:
        self.account = account
        self.store = store
        self.ua: UserAgent = make_ua(account, store=store)
        self.events = Recorder(self.ua)

    @property
    def aor(self) -> str:
        return self.account.aor


@asynccontextmanager
async def phone(account: Account, db: Path, *, wait_registered: bool = True) -> AsyncIterator[Phone]:
    store = Store(db)
    p = Phone(account, store)
    try:
        await p.ua.start()
        await p.ua.register()
        if wait_registered:
            await p.events.wait(registered)
        yield p
    finally:
        await p.ua.stop()
        store.close()


def registered(e: Event) -> bool:
    return isinstance(e, RegistrationEvent) and e.state == "registered"


def status(message_id: int, value: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, MessageStatusEvent) and e.message_id == message_id and e.status == value


def message_with(text: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, MessageEvent) and e.text == text


def test_messages_both_ways_through_the_proxy(kamailio: Kamailio, tmp_path: Path) -> None:
    async def main() -> None:
        alice_account, bob_account = new_account(kamailio), new_account(kamailio)
        async with phone(alice_account, tmp_path / "a.db") as alice, phone(bob_account, tmp_path / "b.db") as bob:
            message_id = await alice.ua.messaging.send(bob.aor, UTF8_TEXT)
            # The proxy challenges the MESSAGE (407); the UA answers and it is delivered.
            await alice.events.wait(status(message_id, "sent"))
            event = await bob.events.wait(message_with(UTF8_TEXT))
            assert isinstance(event, MessageEvent) and event.sender == alice.aor and event.account == bob.aor
            reply_id = await bob.ua.messaging.send(alice.account.user, "réponse ✓")
            await bob.events.wait(status(reply_id, "sent"))
            back = await alice.events.wait(message_with("réponse ✓"))
            assert isinstance(back, MessageEvent) and back.sender == bob.aor
            history = alice.ua.messaging.history(bob.aor)
            assert [(m.text, m.state) for m in history] == [
                (UTF8_TEXT, MessageState.SENT),
                ("réponse ✓", MessageState.RECEIVED),
            ]
            assert [m.text for m in bob.ua.messaging.history(alice.aor)] == [UTF8_TEXT, "réponse ✓"]

    asyncio.run(main())


def test_message_to_an_offline_user_fails_with_the_servers_answer(kamailio: Kamailio, tmp_path: Path) -> None:
    async def main() -> None:
        offline = new_account(kamailio)  # a user of the server that never registers
        async with phone(new_account(kamailio), tmp_path / "a.db") as alice:
            message_id = await alice.ua.messaging.send(offline.aor, "are you there?")
            event = await alice.events.wait(status(message_id, "failed"))
            assert isinstance(event, MessageStatusEvent)
            # Kamailio's lookup("location") finds no contact: 404 Not Found.
            assert (event.code, event.reason) == (404, "Not Found")
            stored = alice.store.messages.get(message_id)
            assert stored is not None and stored.state == MessageState.FAILED and stored.reason == "404 Not Found"
            assert [e.status for e in alice.events.events if isinstance(e, MessageStatusEvent)] == [
                "queued",
                "sending",
                "failed",
            ]

    asyncio.run(main())


def test_messages_queued_while_the_server_is_down_go_when_registered(fresh_kamailio: Kamailio, tmp_path: Path) -> None:
    async def main() -> None:
        alice_account, bob_account = new_account(fresh_kamailio), new_account(fresh_kamailio)
        fresh_kamailio._kill()  # down, with its users and ports kept for the restart
        async with phone(alice_account, tmp_path / "a.db", wait_registered=False) as alice:
            await alice.events.wait(lambda e: isinstance(e, RegistrationEvent) and e.state == "failed", timeout=30)
            texts = [f"{UTF8_TEXT} #{n}" for n in range(3)]
            ids = [await alice.ua.messaging.send(bob_account.aor, text) for text in texts]
            assert [m.id for m in alice.store.messages.queued(alice.aor)] == ids
            fresh_kamailio.restart()
            async with phone(bob_account, tmp_path / "b.db") as bob:
                for message_id in ids:
                    await alice.events.wait(status(message_id, "sent"), timeout=30)
                await bob.events.wait(message_with(texts[-1]))
                received = [e.text for e in bob.events.events if isinstance(e, MessageEvent)]
                assert received == texts
                assert alice.store.messages.queued(alice.aor) == []

    asyncio.run(main())


def test_cli_message_command_between_two_processes(kamailio: Kamailio) -> None:
    alice = CliProcess(kamailio)
    bob = CliProcess(kamailio)
    text = f'{UTF8_TEXT} — it\'s "quoted"  twice-spaced {secrets.token_hex(2)}'
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"message {bob.user} {text}")
        queued = alice.wait_for(event="message_status", status="queued")
        alice.wait_for(event="message_status", status="sent", message_id=queued["message_id"])
        received = bob.wait_for(event="message", text=text)
        assert received["from"] == kamailio.aor(alice.user)
        assert isinstance(received["time"], float)
        bob.send(f"messages {alice.user}")
        listing = bob.wait_for(event="messages")
        assert [(m["direction"], m["text"]) for m in listing["messages"]] == [("in", text)]
        alice.send("message")
        alice.wait_for(event="error")
    finally:
        alice_rc = alice.close()
        bob_rc = bob.close()
    assert (alice_rc, bob_rc) == (0, 0)

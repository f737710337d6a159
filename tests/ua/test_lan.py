"""What LAN discovery makes of a stranger's DNS-SD records, without a network: names, TXT records, addresses,
and the bounds on how many peers and resolutions one sender can cause."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Callable

import pytest

from softphone.ua import Account, Event, UserAgent
from softphone.ua.events import LanAnnounceEvent, LanPeerEvent
from softphone.ua.lan import (
    MAX_PEERS,
    MAX_RESOLVING,
    MAX_TXT,
    SERVICE_TYPES,
    LanRecordError,
    clean_name,
    parse_txt,
    peer_from_record,
)


def txt(*pairs: bytes) -> bytes:
    return b"".join(bytes([len(p)]) + p for p in pairs)


def test_txt_pairs_keys_in_lower_case_first_wins_and_flags() -> None:
    assert parse_txt(txt(b"Name=Bob", b"name=Mallory", b"calls", b"=nokey", b"aor=sip:bob@x")) == {
        "name": b"Bob",
        "calls": b"",
        "aor": b"sip:bob@x",
    }


@pytest.mark.parametrize("raw", [b"\x05ab", b"\xff" + b"a" * 10, txt(b"a=" + b"x" * 250) * 5])
def test_txt_cut_short_or_too_long_is_refused(raw: bytes) -> None:
    with pytest.raises(LanRecordError):
        parse_txt(raw)
    assert len(txt(b"a=" + b"x" * 250) * 5) > MAX_TXT


def test_names_lose_controls_and_bidi_overrides_and_are_cut() -> None:
    assert clean_name(b"\x1b]0;pwned\x07Mallory") == "]0;pwnedMallory"
    assert clean_name("EVIL\u202eexe.gnp") == "EVILexe.gnp"
    assert clean_name(b"\xff\xfeBob") == "\ufffd\ufffdBob"
    assert clean_name("  a \t\n b  ") == "a b"
    assert len(clean_name("x" * 500)) == 63


def test_peer_uri_from_the_aor_user_and_the_announced_address() -> None:
    peer = peer_from_record(
        "Bob", "UDP", 5060, ["192.0.2.2"], txt(b"name=Bob B.", b"aor=sip:bob@192.0.2.2", b"calls=no")
    )
    assert peer.uri == "sip:bob@192.0.2.2:5060"
    assert (peer.name, peer.display_name, peer.aor, peer.accepts_calls) == ("Bob", "Bob B.", "sip:bob@192.0.2.2", False)
    tcp = peer_from_record("Bob", "TCP", 5070, ["2001:db8:1::2", "192.0.2.2"], b"", families=(6, 4))
    assert tcp.uri == "sip:[2001:db8:1::2]:5070;transport=tcp"
    assert tcp.accepts_calls is True and tcp.display_name == "Bob"


def test_peer_with_an_aor_that_is_garbage_is_called_without_a_user() -> None:
    for aor in (b"\xff\xfe<>@@::", b"sip:" + b"u" * 200 + b"@x", b"mailto:bob@x", b"sip:b\x00b@x"):
        peer = peer_from_record("Odd", "UDP", 5060, ["192.0.2.9"], txt(b"aor=" + aor))
        assert peer.uri == "sip:192.0.2.9:5060", (aor, peer)


@pytest.mark.parametrize(
    ("instance", "port", "addresses", "families"),
    [
        ("\x01\x02", 5060, ["192.0.2.9"], (4,)),  # nothing left to show
        ("P", 0, ["192.0.2.9"], (4,)),
        ("P", 5060, [], (4,)),
        ("P", 5060, ["fe80::1", "224.0.0.251", "0.0.0.0", "not an address"], (4, 6)),
        ("P", 5060, ["2001:db8::1"], (4,)),  # we listen on IPv4 only
    ],
)
def test_unusable_records_are_refused(instance: str, port: int, addresses: list[str], families: tuple[int]) -> None:
    with pytest.raises(LanRecordError):
        peer_from_record(instance, "UDP", port, addresses, b"", families=families)


def test_loopback_only_when_there_is_nothing_else() -> None:
    assert peer_from_record("P", "UDP", 5060, ["127.0.0.1", "192.0.2.4"], b"").uri == "sip:192.0.2.4:5060"
    assert peer_from_record("P", "UDP", 5060, ["127.0.0.1"], b"").uri == "sip:127.0.0.1:5060"


def test_a_flood_of_names_is_bounded_in_peers_and_resolutions() -> None:
    asyncio.run(_flood())


async def _flood() -> None:
    # 300 names announced at once: at most MAX_RESOLVING resolutions run together, the rest wait (bounded),
    # and no more than MAX_PEERS peers are kept; the UA's own names are never resolved.
    ua = UserAgent([Account("sip:me@127.0.0.1", register=False)], listen=[("UDP", "127.0.0.1", 0)])
    await ua.start()
    lan = ua.lan
    running = 0
    most = 0
    events: list[LanPeerEvent] = []
    ua.subscribe(lambda e: events.append(e) if isinstance(e, LanPeerEvent) else None)

    async def fake_resolve(transport: str, name: str) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.001)
        running -= 1
        instance = name.split(".", 1)[0]
        peer = peer_from_record(instance, transport, 5060, ["192.0.2.7"], b"")
        if len(lan._services) < MAX_PEERS:
            lan._services.setdefault(instance.lower(), {})[transport] = peer
            lan._show(instance.lower())

    lan._resolve_one = fake_resolve  # type: ignore[method-assign]
    lan._zc = object()  # type: ignore[assignment]  # running, without sockets
    lan._own.add(f"me.{SERVICE_TYPES['UDP']}")
    try:
        lan._changed(SERVICE_TYPES["UDP"], f"me.{SERVICE_TYPES['UDP']}", "Added")
        for i in range(300):
            lan._changed(SERVICE_TYPES["UDP"], f"flood-{i}.{SERVICE_TYPES['UDP']}", "Added")
        assert len(lan._waiting) <= 64 and len(lan._resolving) <= MAX_RESOLVING
        for _ in range(200):
            await asyncio.sleep(0.005)
            if not lan._resolving and not lan._waiting:
                break
        assert most <= MAX_RESOLVING
        assert len(lan.peers()) <= MAX_PEERS
        assert all(e.name != "me" for e in events)
        lan._changed(SERVICE_TYPES["UDP"], f"flood-0.{SERVICE_TYPES['UDP']}", "Removed")
        assert events[-1].name == "flood-0" and events[-1].state == "down"
        assert lan.find("FLOOD-1") is not None and lan.find("nobody") is None
        assert lan.resolve_target("flood-1") == "sip:192.0.2.7:5060"
        assert lan.resolve_target("sip:x@y") == "sip:x@y"
    finally:
        lan._zc = None
        await ua.stop()


def test_turning_the_announcement_off_and_on_while_running() -> None:
    """Two phones on loopback (mDNS stays on the interface they listen on) find each other; one account edited
    to announce nothing leaves the other's list (its goodbye), and comes back when turned on again."""
    asyncio.run(_switch())


async def _switch() -> None:
    from tests.ua import Recorder, make_ua

    # Names of this run only: another test run on the machine announces on loopback too.
    alice_name, bob_name = (f"{name}-{secrets.token_hex(3)}" for name in ("Alice", "Bob"))
    alice = make_ua(Account("sip:alice@127.0.0.1", register=False, display_name=alice_name))
    bob = make_ua(Account("sip:bob@127.0.0.1", register=False, display_name=bob_name))
    seen = Recorder(alice)
    bobs = Recorder(bob)
    await alice.start()
    await bob.start()
    try:
        await alice.lan.start()
        await bob.lan.start()

        def peer(name: str, state: str) -> Callable[[Event], bool]:
            return lambda e: isinstance(e, LanPeerEvent) and e.name == name and e.state == state

        await seen.wait(peer(bob_name, "up"), timeout=15)
        await bobs.wait(peer(alice_name, "up"), timeout=15)
        ours = [p for p in alice.lan.peers() if p.name in (bob_name, alice_name)]
        assert [p.name for p in ours] == [bob_name]
        assert alice.presence.buddy(ours[0].uri) is not None  # watched peer to peer
        await bobs.wait(lambda e: isinstance(e, LanAnnounceEvent) and e.state == "announced", timeout=10)
        assert bob.lan.announced_name("sip:bob@127.0.0.1") == bob_name
        hidden = dataclasses.replace(bob.accounts[0], lan_announce=False)
        await bob.replace_account(hidden.aor, hidden)
        await bobs.wait(lambda e: isinstance(e, LanAnnounceEvent) and e.state == "withdrawn", timeout=10)
        await seen.wait(peer(bob_name, "down"), timeout=15)
        assert bob_name not in [p.name for p in alice.lan.peers()] and bob.lan.announced_name(hidden.aor) is None
        shown = dataclasses.replace(hidden, lan_announce=True)
        mark = seen.mark()
        await bob.replace_account(shown.aor, shown)
        await seen.wait(peer(bob_name, "up"), after=mark, timeout=15)
    finally:
        await alice.stop()
        await bob.stop()


def test_stopping_while_the_sockets_open_leaves_nothing_answering() -> None:
    """The phone quits right after it started LAN discovery (its mDNS sockets still opening on a worker
    thread): the sockets that open after the stop are closed again, so nothing goes on announcing the phone."""

    async def quit_early() -> None:
        from tests.ua import make_ua

        ua = make_ua(Account(f"sip:early{secrets.token_hex(3)}@127.0.0.1", register=False))
        await ua.start()
        try:
            starting = asyncio.create_task(ua.lan.start())
            await asyncio.sleep(0)  # the start is waiting for its sockets
            await ua.lan.stop()
            await starting
            assert not ua.lan.running
            assert ua.lan.announced_name(ua.accounts[0].aor) is None
        finally:
            await ua.stop()

    asyncio.run(quit_early())

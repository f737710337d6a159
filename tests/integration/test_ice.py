"""ICE (RFC 8445) across the NATs of tests/nat_lab.py, between two softphone-cli, with real coturn and Kamailio.

Each test checks the tone both ways by FFT (:func:`tests.integration.test_nat.call_both_ways`) and which path
ICE chose (the ``media_path`` event, and the ``path`` of the ``quality`` events): the server-reflexive one
across endpoint-independent NATs even when a relay is there, the relay across symmetric NATs, latching when
the peer has no ICE, and a clear ``media_warning`` when nothing connects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_nat import STUN, Phone, call_both_ways
from tests.integration.test_turn import TURN, turn_options
from tests.nat_lab import LAN_HOST, NAT_PUBLIC, TURN_HOST, NatLab

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel


def paths(phone: Phone) -> list[dict[str, Any]]:
    return [e for e in phone.cli.events if e.get("event") == "media_path"]


def quality_paths(phone: Phone) -> set[str]:
    return {str(e.get("path")) for e in phone.cli.events if e.get("event") == "quality" and e["packets_received"]}


def sdp_lines(phone: Phone, prefix: str) -> list[str]:
    """Lines of the SDP this phone sent (its SIP trace on standard error) that start with ``prefix``."""
    text = "".join(phone.cli.stderr)
    sent = [block for block in text.split("softphone.sip.trace: ") if block.startswith("sent to")]
    lines = [line.replace("\\x0d", "").strip() for block in sent for line in block.splitlines()]
    return [line for line in lines if line.startswith(prefix)]


@pytest.mark.parametrize("relays", [False, True], ids=["stun", "stun-and-turn"])
def test_across_two_nats_ice_takes_the_reflexive_path(
    make_lab: Callable[..., NatLab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relays: bool
) -> None:
    """Endpoint-independent NATs on both sides: the checks punch through, and ICE picks the server-reflexive
    pair. With a TURN server on both accounts the relayed candidates are offered too, and left unused."""
    lab = make_lab("eim", "eim")
    turn: tuple[str, ...] = ()
    if relays:
        lab.start_turn()
        turn = turn_options(monkeypatch)
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, *turn)
    bob = Phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, *turn, "--auto-answer=0.1")
    try:
        call_both_ways(alice, bob)
    finally:
        alice.close()
        bob.close()
    for phone, own, peer in ((alice, "A", "B"), (bob, "B", "A")):
        chosen = paths(phone)
        assert [e["path"] for e in chosen] == ["srflx"], chosen
        assert chosen[0]["local"].startswith(LAN_HOST[own]) and chosen[0]["remote"].startswith(NAT_PUBLIC[peer])
        assert quality_paths(phone) == {"srflx"}
        candidates = sdp_lines(phone, "a=candidate:")
        kinds = {line.split()[7] for line in candidates}
        assert kinds == ({"host", "srflx", "relay"} if relays else {"host", "srflx"}), candidates
    assert not [e for e in alice.cli.events + bob.cli.events if e.get("event") == "media_warning"]


def test_across_two_symmetric_nats_ice_takes_the_relay(
    make_lab: Callable[..., NatLab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Symmetric NATs: every reflexive pair fails, and the relayed one is chosen on both sides."""
    lab = make_lab("symmetric", "symmetric")
    lab.start_turn()
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, *turn_options(monkeypatch))
    bob = Phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, *turn_options(monkeypatch), "--auto-answer=0.1")
    try:
        call_both_ways(alice, bob)
    finally:
        alice.close()
        bob.close()
    for phone in (alice, bob):
        chosen = paths(phone)
        assert [e["path"] for e in chosen] == ["relay"], chosen
        assert quality_paths(phone) == {"relay"}
    assert TURN_HOST in paths(alice)[0]["local"] + paths(alice)[0]["remote"]


def test_a_peer_without_ice_is_reached_by_its_sdp_address_and_latching(
    make_lab: Callable[..., NatLab], tmp_path: Path
) -> None:
    """Bob turns ICE off: his answer carries no candidates, so neither side runs ICE and the call works as it
    did before ICE, by STUN-learned addresses and keep-alives."""
    lab = make_lab("eim", "eim")
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN)
    bob = Phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, "--no-ice", "--auto-answer=0.1")
    try:
        call_both_ways(alice, bob)
    finally:
        alice.close()
        bob.close()
    assert sdp_lines(alice, "a=candidate:") and not sdp_lines(bob, "a=candidate:")
    assert not paths(alice) and not paths(bob)
    assert quality_paths(alice) == {"direct"} and quality_paths(bob) == {"direct"}


def index_of(phone: Phone, event: dict[str, Any]) -> int:
    return next(i for i in range(len(phone.cli.events) - 1, -1, -1) if phone.cli.events[i] is event)


def wait_more_packets(phone: Phone, call_id: str, after: int, more: int = 50, timeout: float = 20.0) -> None:
    """Wait until ``phone`` has received ``more`` packets in the call after its event number ``after``."""
    deadline = time.monotonic() + timeout
    event = phone.cli.wait_for(timeout, after=after, event="quality", call_id=call_id)
    base = int(event["packets_received"])
    while int(event["packets_received"]) < base + more:
        left = deadline - time.monotonic()
        assert left > 0, f"{phone.cli.user} received {int(event['packets_received']) - base} packets, not {more}"
        event = phone.cli.wait_for(left, after=index_of(phone, event) + 1, event="quality", call_id=call_id)


@pytest.mark.parametrize("moved", ["nat", "host", "relayed", "own-relay"])
def test_a_network_change_mid_call_is_recovered_by_ice_restart_and_registering_again(
    make_lab: Callable[..., NatLab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moved: str
) -> None:
    """In the middle of a call either Alice's NAT changes its public address (``nat``; Linux's masquerade keeps
    the port), or Alice's own address changes (``host``: a laptop on another network; she listens on every
    address, as the phone does by default, and her NAT maps her new address to new ports). Her next check of
    the flow sees it: the registrar's Via (an OPTIONS it answers) names another address, or her route to it
    leaves from another one. She registers again with a Contact where the registrar now sees her, removing the
    old one; the call's media moves to a socket on her new address when that changed, and the call moves by a
    re-INVITE that restarts ICE with her new server-reflexive candidate, learned by the call's own media thread.
    Audio flows both ways again over the new path, and Bob can reach her at her new address.

    ``relayed``: both NATs are symmetric and both phones have a TURN server when Alice's NAT changes its
    address; ``own-relay``: only Alice has one, so only her relay can carry the call. Her allocation belongs to
    the old address (RFC 8656 2.2): the call's media thread allocates a new one, and her restart offers it."""
    relayed = moved in ("relayed", "own-relay")
    lab = make_lab(*(("symmetric", "symmetric") if relayed else ("eim", "eim")))
    turn = turn_options(monkeypatch) if relayed else ()
    if relayed:
        lab.start_turn()
    public = NAT_PUBLIC["A"] if moved == "host" else "203.0.113.11"
    listen = "0.0.0.0:0" if moved == "host" else None
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, *turn, "--network-check", "1", listen=listen)
    bob_turn = () if moved == "own-relay" else turn
    bob = Phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, *bob_turn, "--auto-answer=0.1")
    contact = f"Contact: <sip:{alice.cli.user}@"
    # The registrar saw the REGISTER come from her NAT: her Contact names the NAT's address, not her own.
    deadline = time.monotonic() + 10  # the trace on standard error is read by a thread of its own
    while not any(NAT_PUBLIC["A"] in line for line in sdp_lines(alice, contact)):
        assert time.monotonic() < deadline, sdp_lines(alice, contact)
        time.sleep(0.1)

    before: list[str] = []  # the Contacts Alice used before the move

    def move_alice() -> None:
        alice_call = alice.cli.wait_for(event="call", state="confirmed")["call_id"]
        bob_call = bob.cli.wait_for(event="call", state="confirmed")["call_id"]
        alice.wait_received(str(alice_call), 50)
        bob.wait_received(str(bob_call), 50)
        seen = {phone.cli.user: len(phone.cli.events) for phone in (alice, bob)}
        before.extend(line.split(">")[0] for line in sdp_lines(alice, contact) if "expires=0" not in line)
        if moved == "host":
            lab.move_host("A", "198.51.100.3")
        else:
            lab.move_public("A", public)
        change = alice.cli.wait_for(30, event="network_change")
        assert (public if moved != "host" else "198.51.100.3") in change["reason"], change
        assert change["calls"] == [alice_call], change
        # A second media_path on each side: the restarted ICE found the new way; then audio flows on it.
        for phone, call_id in ((alice, alice_call), (bob, bob_call)):
            path = phone.cli.wait_for(30, after=seen[phone.cli.user], event="media_path", call_id=call_id)
            wait_more_packets(phone, str(call_id), index_of(phone, path) + 1)
        # Bob now reaches her new address, or (when only her relay can carry the call) her new relay.
        assert paths(bob)[-1]["remote"].startswith(TURN_HOST if moved == "own-relay" else public), paths(bob)
        assert paths(bob)[-1]["remote"] != paths(bob)[0]["remote"], paths(bob)
        kinds = [paths(phone)[-1]["path"] for phone in (alice, bob)]
        assert kinds == (["relay", "relay"] if relayed else ["srflx", "srflx"]), (paths(alice), paths(bob))
        # The registrar has her new Contact: a second call from Bob rings her.
        mark = len(bob.cli.events)
        bob.cli.send(f"call {alice.cli.user}")
        ringing = alice.cli.wait_for(event="incoming_call", timeout=15)
        second = bob.cli.wait_for(15, after=mark, event="call", state="ringing")
        bob.cli.send(f"hangup {second['call_id']}")
        alice.cli.wait_for(event="call", call_id=ringing["call_id"], state="ended", timeout=15)

    try:
        call_both_ways(alice, bob, during=move_alice)
    finally:
        alice.close()
        bob.close()
    contacts = sdp_lines(alice, contact)
    registered = [line.split(">")[0] for line in contacts if "expires=0" not in line]
    removed = [line.split(">")[0] for line in contacts if "expires=0" in line]
    assert before[-1] != registered[-1] and public in registered[-1], contacts
    # The Contact she used before the move is taken off the registrar: nothing points at the old place.
    assert before[-1] in removed and NAT_PUBLIC["A"] in before[-1], contacts
    # Both sides use new credentials after the restart (RFC 8445 9). Alice sent SDP twice: her offer, her
    # restart offer. Bob three times: his answer, his answer to the restart, his offer of the second call.
    for phone, times in ((alice, 2), (bob, 3)):
        ufrags = sdp_lines(phone, "a=ice-ufrag:")
        assert len(set(ufrags)) == times, ufrags
    relays = [line.split()[4:6] for line in sdp_lines(alice, "a=candidate:") if " typ relay" in line]
    if relayed:
        # Her restart offers a relay again: a new allocation (another port) on the same server.
        assert len({tuple(r) for r in relays}) == 2 and {r[0] for r in relays} == {TURN_HOST}, relays
    warnings = [w for w in alice.cli.events + bob.cli.events if w.get("event") == "media_warning"]
    assert not [w for w in warnings if w["kind"] == "ice"], warnings


def test_when_nothing_connects_ice_says_so_within_its_timeout(make_lab: Callable[..., NatLab], tmp_path: Path) -> None:
    """Two symmetric NATs and no relay: no pair can work. Each phone says so in a media_warning of kind ice
    that names what to check, within the ICE timeout; the call stays up and hangs up normally."""
    lab = make_lab("symmetric", "symmetric")
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN)
    bob = Phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, "--auto-answer=0.1")
    try:
        alice.cli.send(f"call {bob.cli.user}")
        confirmed = alice.cli.wait_for(event="call", state="confirmed", timeout=15)
        for phone in (alice, bob):
            # A bound on the ICE timeout (10 s) plus start-up on a loaded machine, not a measurement.
            warning = phone.cli.wait_for(event="media_warning", kind="ice", timeout=30)
            assert "no media path" in warning["message"] and "TURN server" in warning["message"], warning
        alice.cli.send(f"hangup {confirmed['call_id']}")
        bob.cli.wait_for(event="call", state="ended")
    finally:
        alice.close()
        bob.close()
    assert not paths(alice) and not paths(bob)


__all__ = ["TURN"]

"""ICE (RFC 8445) across the NATs of tests/nat_lab.py, between two softphone-cli, with real coturn and Kamailio.

Each test checks the tone both ways by FFT (:func:`tests.integration.test_nat.call_both_ways`) and which path
ICE chose (the ``media_path`` event, and the ``path`` of the ``quality`` events): the server-reflexive one
across endpoint-independent NATs even when a relay is there, the relay across symmetric NATs, latching when
the peer has no ICE, and a clear ``media_warning`` when nothing connects.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_nat import STUN, Phone, call_both_ways
from tests.integration.test_turn import TURN, turn_options
from tests.nat_lab import LAN_HOST, NAT_PUBLIC, TURN_HOST, NatLab


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

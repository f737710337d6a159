"""TURN over TCP and TLS (RFC 8656 3.1) in the NAT lab of tests/nat_lab.py, against a real coturn.

Alice's NAT forwards no UDP at all (an nft rule in its forward hook): her SIP goes over TCP, and her media can
leave only through a relay she reaches over TCP or TLS. Bob, behind an endpoint-independent NAT, has STUN.
ICE must pick Alice's relayed candidate; the tone is checked by FFT both ways and coturn's log shows the
allocation was made over the stream. A TURN server whose certificate does not verify, and one that does not
listen on TCP, each cost a bounded wait and a warning in words; the call then goes on with what works.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.test_ice import paths, quality_paths, sdp_lines
from tests.integration.test_nat import STUN, Phone, call_both_ways
from tests.integration.test_turn import TURN, turn_options
from tests.nat_lab import NAT_PUBLIC, TURN_HOST, TURN_TLS_PORT, TURN_USER, NatLab

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel


def sip_over_tcp(lab: NatLab) -> tuple[str, ...]:
    assert lab.kamailio is not None
    return ("--transport", "tcp", "--registrar", lab.kamailio.proxy_uri("tcp"))


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_where_udp_is_blocked_audio_goes_through_a_relay_over_tcp_or_tls(
    make_lab: Callable[..., NatLab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """No UDP leaves Alice's LAN: her STUN gets no answer and her host candidate is unreachable, so only the
    relay she allocated over TCP or TLS connects, and ICE picks it on both sides. Hanging up deletes the
    allocation over the same connection."""
    lab = make_lab("eim", "eim")
    lab.start_turn(streams=True)
    lab.block_udp("A")
    assert lab.turn_ca is not None
    server = TURN if transport == "tcp" else TURN_HOST  # TLS: the default port 5349
    turn = (*turn_options(monkeypatch, server=server), "--turn-transport", transport, "--ca-file", str(lab.turn_ca))
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, *turn, *sip_over_tcp(lab))
    bob = Phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, "--auto-answer=0.1")
    try:
        call_both_ways(alice, bob)
    finally:
        alice.close()
        bob.close()
    for phone in (alice, bob):
        chosen = paths(phone)
        assert [e["path"] for e in chosen] == ["relay"], chosen
        assert quality_paths(phone) == {"relay"}
    kinds = {line.split()[7] for line in sdp_lines(alice, "a=candidate:")}
    assert "relay" in kinds and "srflx" not in kinds, kinds  # STUN over UDP is blocked
    assert TURN_HOST in paths(bob)[0]["remote"], paths(bob)
    deadline = time.monotonic() + 10.0  # a bound on coturn writing its log, not a measurement
    while "closed (2nd stage)" not in lab.turn_log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = lab.turn_log()
    assert log.count(f"username=<{TURN_USER}>, lifetime=600") == 1, log[-3000:]
    assert log.count("lifetime=0") == 1, log[-3000:]
    port = TURN_TLS_PORT if transport == "tls" else 3478
    (closed,) = [line for line in log.splitlines() if "closed (2nd stage)" in line and f"user <{TURN_USER}>" in line]
    assert f"local {TURN_HOST}:{port}, remote {NAT_PUBLIC['A']}:" in closed, closed
    if transport == "tls":
        assert "method=TLSv1.2" in log or "method=TLSv1.3" in log, log[-3000:]
    else:
        assert "TCP connection closed by client" in closed, closed
    alice_warnings = [e for e in alice.cli.events if e.get("event") == "media_warning"]
    assert all(w["kind"] == "stun" for w in alice_warnings), alice_warnings
    assert not [e for e in bob.cli.events if e.get("event") == "media_warning"]


def test_without_ice_every_packet_goes_through_the_relay_over_tcp(
    make_lab: Callable[..., NatLab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ICE off on both sides where Alice's LAN has no UDP: her SDP names the relay she reached over TCP, Bob's
    his NAT's mapping; media flows relay-only, by permission and latching, and the quality events say so."""
    lab = make_lab("eim", "eim")
    lab.start_turn(streams=True)
    lab.block_udp("A")
    turn = (*turn_options(monkeypatch), "--turn-transport", "tcp")
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--no-ice", *turn, *sip_over_tcp(lab))
    bob = Phone(lab, "lanB", 1000.0, tmp_path, "--no-ice", "--stun", STUN, "--auto-answer=0.1")
    try:
        call_both_ways(alice, bob)
    finally:
        alice.close()
        bob.close()
    assert alice.sdp_addresses() == [TURN_HOST]
    assert bob.sdp_addresses() == [NAT_PUBLIC["B"]]
    assert not paths(alice) and quality_paths(alice) == {"relay"}
    assert not [e for e in alice.cli.events + bob.cli.events if e.get("event") == "media_warning"]


@pytest.mark.parametrize(
    ("transport", "server", "with_ca", "words"),
    [
        ("tls", TURN_HOST, False, f"certificate of TURN server {TURN_HOST}:{TURN_TLS_PORT} over TLS does not verify"),
        ("tcp", f"{TURN_HOST}:3479", True, f"cannot connect to TURN server {TURN_HOST}:3479 over TCP"),
    ],
    ids=["certificate-does-not-verify", "nothing-listens"],
)
def test_a_relay_over_tcp_or_tls_that_cannot_be_had_leaves_the_call_to_stun(
    make_lab: Callable[..., NatLab],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    transport: str,
    server: str,
    with_ca: bool,
    words: str,
) -> None:
    """A certificate that does not verify (no CA file given for the lab's self-signed one), or a port where
    nothing listens: a media_warning of kind turn says so, and the call goes out with the STUN-learned
    address, which a public peer latches onto."""
    lab = make_lab("eim", "eim")
    lab.start_turn(streams=True)
    assert lab.turn_ca is not None
    ca = ("--ca-file", str(lab.turn_ca)) if with_ca else ()
    turn = (*turn_options(monkeypatch, server=server), "--turn-transport", transport, *ca)
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, "--no-ice", *turn)
    bob = Phone(lab, "pub", 1000.0, tmp_path, "--auto-answer=0.1")
    try:
        call_both_ways(alice, bob)
    finally:
        alice.close()
        bob.close()
    warnings = [e for e in alice.cli.events if e.get("event") == "media_warning"]
    assert [w["kind"] for w in warnings] == ["turn"], warnings
    message = str(warnings[0]["message"])
    assert words in message and "without a relay" in message, warnings
    assert alice.sdp_addresses() == [NAT_PUBLIC["A"]], "".join(alice.cli.stderr)[-3000:]

"""Calls across NATs in the lab of tests/nat_lab.py: STUN-learned media addresses, latching, NAT tests, bad input.

Every call is between two softphone-cli processes registered at the lab's Kamailio on the public
segment; each plays a tone of its own and records what it hears, and both recordings are checked by
FFT. Media is SRTP, with SDES keys unless a test says otherwise, so what gets latched is RTP that
authenticates. (DTLS-SRTP takes the peer's handshake only from its SDP address or a latched one, so a
peer without STUN behind a NAT waits for ICE.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.test_cli import CliProcess
from tests.nat_lab import LAN_HOST, NAT_PUBLIC, PUBLIC, STUN_PORT, NatLab
from tests.ua.test_media_wiring import dominant_frequency, last_heard, read_wav, write_tone

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

SRTP = ("--srtp", "mandatory", "--srtp-keys", "sdes", "--srtp-clear-keys")
DTLS = ("--srtp", "mandatory", "--srtp-keys", "dtls")
STUN = f"{PUBLIC}:{STUN_PORT}"
HOSTS = {"lanA": LAN_HOST["A"], "lanB": LAN_HOST["B"], "pub": PUBLIC}


class Phone:
    """A softphone-cli in one of the lab's namespaces, playing ``tone`` Hz and recording what it hears; it listens
    on the namespace's host address unless ``listen`` says otherwise."""

    def __init__(
        self,
        lab: NatLab,
        namespace: str,
        tone: float,
        tmp: Path,
        *extra: str,
        srtp: tuple[str, ...] = SRTP,
        listen: str | None = None,
    ) -> None:
        self.tone = tone
        self.recording = tmp / f"{namespace}-heard.wav"
        played = write_tone(tmp / f"{namespace}-{int(tone)}.wav", tone)
        assert lab.kamailio is not None
        self.cli = CliProcess(
            lab.kamailio,
            "--play", str(played), "--record", str(self.recording), "--trace", *srtp, *extra,
            audio=(),
            prefix=lab.command(namespace, []),
            listen=listen or f"{HOSTS[namespace]}:0",
        )  # fmt: skip
        lab.processes.append(self.cli.proc)  # ended by the lab's stop() should the test fail before close()
        self.cli.wait_for(event="registration", state="registered")

    def sdp_addresses(self) -> list[str]:
        """The c= lines of the SDP this phone sent (its SIP trace on standard error)."""
        text = "".join(self.cli.stderr)
        sent = [block for block in text.split("softphone.sip.trace: ") if block.startswith("sent to")]
        lines = [line.replace("\\x0d", "") for block in sent for line in block.splitlines()]
        return sorted({line.split()[-1] for line in lines if line.startswith("c=IN")})

    def wait_received(self, call_id: str, packets: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            event = self.cli.wait_for(max(0.1, deadline - time.monotonic()), event="quality", call_id=call_id)
            if event["packets_received"] >= packets:
                return
            self.cli.events.remove(event)
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.cli.user} received {event['packets_received']} packets")

    def close(self) -> None:
        self.cli.close()


def call_both_ways(
    caller: Phone, callee: Phone, during: Callable[[], None] | None = None
) -> tuple[dict[str, object], float]:
    """Caller calls callee (who answers itself); both hear each other's tone. The caller's first call event and
    the time from `call` to the caller receiving 50 packets (a second of audio). ``during`` runs once the call
    is confirmed on both sides."""
    started = time.monotonic()
    caller.cli.send(f"call {callee.cli.user}")
    first = caller.cli.wait_for(event="call")
    confirmed = caller.cli.wait_for(event="call", state="confirmed", timeout=15)
    answered = callee.cli.wait_for(event="call", state="confirmed", timeout=15)
    if during is not None:
        during()
    caller.wait_received(str(confirmed["call_id"]), 50)
    elapsed = time.monotonic() - started
    callee.wait_received(str(answered["call_id"]), 50)
    caller.cli.send(f"hangup {confirmed['call_id']}")
    callee.cli.wait_for(event="call", state="ended")
    for phone in (caller, callee):
        phone.cli.send("quit")
        assert phone.cli.proc.wait(timeout=15) == 0
    for listener, talker in ((caller, callee), (callee, caller)):
        samples, rate = read_wav(listener.recording)
        assert samples.size > rate // 2, f"{listener.recording.name}: {samples.size} samples"
        heard = dominant_frequency(last_heard(samples, rate), rate)
        assert abs(heard - talker.tone) < 20.0, f"{listener.recording.name} holds {heard:.0f} Hz, not {talker.tone}"
    return first, elapsed


def nat_tests(lab: NatLab, *namespaces: str) -> list[dict[str, object]]:
    """``softphone-cli --nat-test`` in each namespace, side by side (each waits out two unanswered tests)."""
    argv = [sys.executable, "-m", "softphone.cli", "--nat-test", "--stun", STUN, "--json"]
    procs = [lab.popen(ns, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for ns in namespaces]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, out + err
        reports.append(json.loads(out))
    return reports


def test_nat_test_tells_endpoint_independent_from_symmetric(make_lab: Callable[..., NatLab]) -> None:
    """RFC 5780 against coturn with two addresses: `masquerade` keeps one mapping for every destination,
    `masquerade random,fully-random` makes a new one per destination; Linux filters by address and port."""
    lab = make_lab("eim", "symmetric")
    eim, symmetric, public = nat_tests(lab, "lanA", "lanB", "pub")
    assert eim["mapping"] == "endpoint_independent", eim
    assert symmetric["mapping"] == "address_and_port_dependent", symmetric
    for report, side in ((eim, "A"), (symmetric, "B")):
        assert report["local"] == [LAN_HOST[side], report["local"][1]]  # type: ignore[index]
        assert report["mapped"][0] == NAT_PUBLIC[side]  # type: ignore[index]
        assert report["filtering"] == "address_and_port_dependent", report
    assert public["mapping"] == "no_nat" and public["filtering"] == "no_nat", public


@pytest.mark.parametrize("srtp", [SRTP, DTLS], ids=["sdes", "dtls"])
def test_call_between_two_nats_with_stun_learned_addresses(
    make_lab: Callable[..., NatLab], tmp_path: Path, srtp: tuple[str, ...]
) -> None:
    """Each phone behind its own endpoint-independent NAT names its NAT's mapping in the SDP: audio both ways.

    With DTLS-SRTP the passive side waits for the active side's handshake, which its NAT would drop: the
    first keep-alive, sent as the media starts, opens that NAT towards the peer."""
    lab = make_lab("eim", "eim")
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, srtp=srtp)
    bob = Phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, "--auto-answer=0.1", srtp=srtp)
    try:
        call_both_ways(alice, bob)
    finally:
        alice.close()
        bob.close()
    assert alice.sdp_addresses() == [NAT_PUBLIC["A"]]
    assert bob.sdp_addresses() == [NAT_PUBLIC["B"]]
    assert not [e for e in alice.cli.events + bob.cli.events if e.get("event") == "media_warning"]


def test_without_stun_the_public_peer_latches_onto_authenticated_rtp(
    make_lab: Callable[..., NatLab], tmp_path: Path
) -> None:
    """Alice has no STUN server and sits behind a symmetric NAT: her SDP names 198.51.100.2, which nobody on the
    public side can reach. Bob is a public host (no NAT), so his packets to wherever Alice's come from are
    answers her NAT lets in. Bob's RTP to her SDP address is lost; once he answers, he latches (RFC 4961) onto
    her SRTP, which authenticates, from the NAT's random port, and sends there: audio both ways. (With both
    phones behind NATs and neither knowing its public address, nothing could flow: that needs STUN or a relay.)"""
    lab = make_lab("symmetric", "eim", stun=False)
    alice = Phone(lab, "lanA", 440.0, tmp_path)
    bob = Phone(lab, "pub", 1000.0, tmp_path, "--auto-answer=0.1")
    try:
        call_both_ways(alice, bob)
    finally:
        alice.close()
        bob.close()
    assert alice.sdp_addresses() == [LAN_HOST["A"]]
    assert bob.sdp_addresses() == [PUBLIC]


def test_a_dead_stun_server_costs_a_bounded_wait_and_a_warning(make_lab: Callable[..., NatLab], tmp_path: Path) -> None:
    """Alice's STUN server does not exist: the call still goes out, within the 1.75 s STUN schedule, with her host
    address in the SDP and a media_warning that says why; the public peer's latching carries the audio."""
    lab = make_lab("eim", "eim", stun=False)
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--stun", "203.0.113.99")
    bob = Phone(lab, "pub", 1000.0, tmp_path, "--auto-answer=0.1")
    try:
        first, _ = call_both_ways(alice, bob)
    finally:
        alice.close()
        bob.close()
    warnings = [e for e in alice.cli.events if e.get("event") == "media_warning"]
    assert [w["kind"] for w in warnings] == ["stun"], warnings
    assert "203.0.113.99:3478 did not answer" in str(warnings[0]["message"])
    assert LAN_HOST["A"] in str(warnings[0]["message"])
    assert first["state"] in ("calling", "ringing", "early", "confirmed"), first
    assert alice.sdp_addresses() == [LAN_HOST["A"]]

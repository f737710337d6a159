"""Calls through a TURN relay (RFC 8656) in the NAT lab of tests/nat_lab.py, against a real coturn.

Both phones sit behind symmetric NATs (`masquerade random,fully-random`): each STUN-learned port is the NAT's
mapping towards the STUN server only, and every NAT drops what nobody asked for, so without a relay no audio
flows. With TURN on one side, that side's SDP names its relayed address on coturn: the other side's packets
go to the relay (which lets them in, by permission, from the address the other side's SDP gave) and come
back wrapped. Audio both ways is checked by FFT. A stranger's RTP through the relay is not played; a wrong
TURN password and a TURN server that is down each cost a bounded wait and a warning in words.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.integration.test_nat import STUN, Phone, call_both_ways
from tests.nat_lab import NAT_PUBLIC, STUN_PORT, TURN_HOST, TURN_PASSWORD, TURN_USER, NatLab
from tests.ua.test_media_wiring import read_wav

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

TURN = f"{TURN_HOST}:{STUN_PORT}"
STRANGER_TONE = 3000.0


def turn_options(monkeypatch: pytest.MonkeyPatch, password: str = TURN_PASSWORD, server: str = TURN) -> tuple[str, ...]:
    monkeypatch.setenv("LAB_TURN_PASSWORD", password)
    return ("--turn", server, "--turn-user", TURN_USER, "--turn-password-env", "LAB_TURN_PASSWORD")


def sdp_audio_port(phone: Phone) -> int:
    text = "".join(phone.cli.stderr).replace("\\x0d", "")
    ports = re.findall(r"m=audio (\d+) ", text)
    assert ports, "no SDP with an audio line in the trace"
    return int(ports[0])


# Plain RTP (PCMU, payload type 0) carrying a loud tone, from the given address, to the relayed port.
_STRANGER = """
import socket, struct, sys, time
import numpy as np
from softphone.media.codecs import ulaw_encode
host, port, tone, source = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((source, 0))
sent = 0
for i in range(150):
    t = (np.arange(160) + 160 * i) / 8000
    pcm = (0.5 * 32767 * np.sin(2 * np.pi * tone * t)).astype(np.int16)
    s.sendto(struct.pack("!BBHII", 0x80, 0, i, 160 * i, 0x5EED) + ulaw_encode(pcm), (host, port))
    sent += 1
    time.sleep(0.01)
print(sent)
"""


def tone_level(samples: np.ndarray, rate: int, frequency: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    freqs = np.fft.rfftfreq(samples.size, 1.0 / rate)
    return float(spectrum[np.abs(freqs - frequency) < 15.0].max())


@pytest.mark.parametrize("bob_relays", [False, True], ids=["one-relay", "two-relays"])
def test_call_between_two_symmetric_nats_through_a_relay(
    make_lab: Callable[..., NatLab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bob_relays: bool
) -> None:
    """Alice has TURN; Bob has STUN and, in the second run, TURN too; both behind symmetric NATs. Alice's SDP
    names her relay; Bob's his NAT's IP (the port is wrong for anyone but the STUN server, but the permission is
    by IP: Alice latches onto his packets through the relay) or his own relay. During the call strangers send
    plain RTP with a loud tone to Alice's relayed port: one from Bob's NAT address, one from the relay's own
    address. The one whose address has a permission (Bob's NAT, or the relay when Bob relays too) gets through
    the relay and is refused by SRTP authentication; the other the relay drops. Neither is heard. Hanging up
    deletes each allocation (coturn logs a refresh to lifetime 0)."""
    lab = make_lab("symmetric", "symmetric")
    lab.start_turn()
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, *turn_options(monkeypatch))
    bob_turn = turn_options(monkeypatch) if bob_relays else ()
    bob = Phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, *bob_turn, "--auto-answer=0.1")
    strangers: list[subprocess.Popen[str]] = []

    def strangers_send() -> None:
        port = sdp_audio_port(alice)
        for namespace, source in (("natB", NAT_PUBLIC["B"]), ("pub", TURN_HOST)):
            argv = [sys.executable, "-c", _STRANGER, TURN_HOST, str(port), str(STRANGER_TONE), source]
            strangers.append(lab.popen(namespace, argv, stdout=subprocess.PIPE))

    try:
        call_both_ways(alice, bob, during=strangers_send)
    finally:
        alice.close()
        bob.close()
    for stranger in strangers:
        out, _ = stranger.communicate(timeout=15)
        assert stranger.returncode == 0 and out.strip() == "150", out
    assert alice.sdp_addresses() == [TURN_HOST]
    assert bob.sdp_addresses() == [TURN_HOST if bob_relays else NAT_PUBLIC["B"]]
    assert not [e for e in alice.cli.events + bob.cli.events if e.get("event") == "media_warning"]
    samples, rate = read_wav(alice.recording)
    heard, stranger = tone_level(samples, rate, 1000.0), tone_level(samples, rate, STRANGER_TONE)
    assert stranger < heard / 100, f"the stranger's tone at {stranger:.1f} against Bob's {heard:.1f}"
    relays = 2 if bob_relays else 1
    deadline = time.monotonic() + 10.0  # a bound on coturn writing its log, not a measurement
    while lab.turn_log().count("lifetime=0") < relays and time.monotonic() < deadline:
        time.sleep(0.05)
    log = lab.turn_log()
    assert log.count(f"username=<{TURN_USER}>, lifetime=600") == relays, log[-3000:]
    assert log.count("lifetime=0") == relays, log[-3000:]


@pytest.mark.parametrize(
    ("password", "server", "words"),
    [
        ("not-the-password", TURN, f"refused the credentials of user '{TURN_USER}'"),
        (TURN_PASSWORD, "203.0.113.99", "TURN server 203.0.113.99:3478 did not answer ALLOCATE"),
    ],
    ids=["wrong-password", "server-down"],
)
def test_without_a_relay_the_call_goes_out_with_stun_and_a_warning(
    make_lab: Callable[..., NatLab],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    server: str,
    words: str,
) -> None:
    """A TURN allocation that fails (a 401 to the signed Allocate, or no answer in 2 x 1.75 s) leaves the call to
    STUN: Alice's SDP names her NAT, a media_warning of kind turn says why, and a public peer's latching onto
    her authenticated SRTP carries the audio."""
    lab = make_lab("symmetric", "eim")
    lab.start_turn()
    alice = Phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, *turn_options(monkeypatch, password, server))
    bob = Phone(lab, "pub", 1000.0, tmp_path, "--auto-answer=0.1")
    try:
        call_both_ways(alice, bob)
    finally:
        alice.close()
        bob.close()
    warnings = [e for e in alice.cli.events if e.get("event") == "media_warning"]
    assert [w["kind"] for w in warnings] == ["turn"], warnings
    assert words in str(warnings[0]["message"]) and "without a relay" in str(warnings[0]["message"]), warnings
    assert alice.sdp_addresses() == [NAT_PUBLIC["A"]], "".join(alice.cli.stderr)[-3000:]

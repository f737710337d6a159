"""Video calls across the NATs of tests/nat_lab.py, between two softphone-cli, with real coturn and Kamailio.

Each phone sends the frame-counting test pattern (VP8) and records what it receives; the recordings must hold
the pattern's frames in order, both ways (:mod:`tests.video_check`). The video port learns its own public
address (STUN), relay (TURN) and candidates, and runs ICE of its own: which path it took is the
``media_path`` event with ``stream`` video.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_ice import sdp_lines
from tests.integration.test_nat import DTLS, SRTP, STUN, Phone
from tests.integration.test_turn import TURN, turn_options
from tests.integration.test_turn_stream import sip_over_tcp
from tests.integration.test_video_call import decoded
from tests.nat_lab import LAN_HOST, NAT_PUBLIC, TURN_HOST, TURN_USER, NatLab
from tests.video_check import PSNR_THRESHOLD_DB, read_recording

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

# Frames each side must decode: a few seconds at 15 fps, key frames and RTCP included.
FRAMES = 45


def video_phone(
    lab: NatLab, namespace: str, tone: float, tmp: Path, *extra: str, srtp: tuple[str, ...] = SRTP
) -> tuple[Phone, Path]:
    recording = tmp / f"{namespace}-video.mkv"
    phone = Phone(
        lab, namespace, tone, tmp, "--video", "--video-source", "pattern", "--video-codecs", "vp8",
        "--record-video", str(recording), *extra, srtp=srtp,
    )  # fmt: skip
    return phone, recording


def video_paths(phone: Phone) -> list[dict[str, Any]]:
    return [e for e in phone.cli.events if e.get("event") == "media_path" and e.get("stream") == "video"]


def audio_paths(phone: Phone) -> list[dict[str, Any]]:
    return [e for e in phone.cli.events if e.get("event") == "media_path" and e.get("stream") == "audio"]


def video_call(caller: Phone, callee: Phone) -> None:
    """Caller calls callee (who answers itself); both decode FRAMES of the other's pattern; caller hangs up and
    both quit cleanly."""
    caller.cli.send(f"call {callee.cli.user}")
    confirmed = caller.cli.wait_for(event="call", state="confirmed", timeout=20)
    answered = callee.cli.wait_for(event="call", state="confirmed", timeout=20)
    for phone, call in ((caller, confirmed), (callee, answered)):
        seen = decoded(phone.cli, FRAMES)
        # Every phone here keys its media (SDES or DTLS-SRTP): the video too.
        assert seen["call_id"] == call["call_id"] and seen["codec"] == "VP8" and seen["encrypted"], seen
    caller.cli.send(f"hangup {confirmed['call_id']}")
    callee.cli.wait_for(event="call", state="ended", timeout=15)
    for phone in (caller, callee):
        phone.cli.send("quit")
        assert phone.cli.proc.wait(timeout=15) == 0


def check_recording(path: Path) -> None:
    received = read_recording(path)
    assert received.unreadable == 0, f"{path.name}: {received.unreadable} pictures without a counter"
    assert received.in_order and len(received.counters) >= FRAMES, (path.name, received.counters[:20])
    assert min(received.psnrs) >= PSNR_THRESHOLD_DB, (path.name, min(received.psnrs))


def call_and_check(alice: Phone, alice_file: Path, bob: Phone, bob_file: Path) -> None:
    """Alice calls Bob (``video_call``), both phones end, and each recording holds the other's pattern."""
    try:
        video_call(alice, bob)
    finally:
        alice.close()
        bob.close()
    check_recording(alice_file)
    check_recording(bob_file)


def video_lines(phone: Phone) -> list[str]:
    """The m=video lines of the SDP this phone sent."""
    return sdp_lines(phone, "m=video ")


@pytest.mark.parametrize("srtp", [SRTP, DTLS], ids=["sdes", "dtls"])
def test_video_across_two_cone_nats_with_ice_takes_a_direct_path(
    make_lab: Callable[..., NatLab], tmp_path: Path, srtp: tuple[str, ...]
) -> None:
    """Endpoint-independent NATs and STUN: the video line carries its own candidates and credentials, the
    video's ICE punches through as the audio's does and selects the server-reflexive path; the pattern arrives
    in order both ways. With DTLS-SRTP the video's handshake follows the video's chosen pair."""
    lab = make_lab("eim", "eim")
    alice, alice_file = video_phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, srtp=srtp)
    bob, bob_file = video_phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, "--auto-answer=0.1", srtp=srtp)
    call_and_check(alice, alice_file, bob, bob_file)
    for phone, own, peer in ((alice, "A", "B"), (bob, "B", "A")):
        chosen = video_paths(phone)
        assert [e["path"] for e in chosen] == ["srflx"], chosen
        assert chosen[0]["local"].startswith(LAN_HOST[own]) and chosen[0]["remote"].startswith(NAT_PUBLIC[peer])
        # The audio's ICE ran beside it on a port of its own.
        assert [e["path"] for e in audio_paths(phone)] == ["srflx"], audio_paths(phone)
        assert chosen[0]["local"] != audio_paths(phone)[0]["local"]
        ufrags = sdp_lines(phone, "a=ice-ufrag:")
        assert len(set(ufrags)) == 2, ufrags  # the video's credentials are its own (the SDP may go out twice)
        kinds = {line.split()[7] for line in sdp_lines(phone, "a=candidate:")}
        assert kinds == {"host", "srflx"}, sdp_lines(phone, "a=candidate:")
    assert not [e for e in alice.cli.events + bob.cli.events if e.get("event") == "media_warning"]


@pytest.mark.parametrize("ice", [True, False], ids=["ice", "no-ice"])
def test_video_across_two_symmetric_nats_goes_through_the_relays(
    make_lab: Callable[..., NatLab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ice: bool
) -> None:
    """Symmetric NATs: no reflexive pair works; each video port has a TURN allocation of its own (RFC 8656: one
    per 5-tuple), and the video line names it. With ICE the video's ICE selects the relayed path on both sides;
    without, everything the video session sends goes through its relay."""
    lab = make_lab("symmetric", "symmetric")
    lab.start_turn()
    turn = (*turn_options(monkeypatch), *(() if ice else ("--no-ice",)))
    alice, alice_file = video_phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, *turn)
    bob, bob_file = video_phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, *turn, "--auto-answer=0.1")
    call_and_check(alice, alice_file, bob, bob_file)
    for phone in (alice, bob):
        # Two allocations, audio's and video's: two relayed ports on the one server, each line naming its own.
        audio_port, video_port = sdp_lines(phone, "m=audio ")[0].split()[1], video_lines(phone)[0].split()[1]
        assert audio_port != video_port and phone.sdp_addresses() == [TURN_HOST], (audio_port, video_port)
        if not ice:
            assert not sdp_lines(phone, "a=candidate:") and not video_paths(phone)
            continue
        chosen = video_paths(phone)
        assert [e["path"] for e in chosen] == ["relay"], chosen
        assert TURN_HOST in chosen[0]["local"] + chosen[0]["remote"], chosen
        relays = [line.split()[4:6] for line in sdp_lines(phone, "a=candidate:") if " typ relay" in line]
        assert {tuple(r) for r in relays} == {(TURN_HOST, audio_port), (TURN_HOST, video_port)}, relays


def test_video_across_two_cone_nats_with_stun_and_no_ice(make_lab: Callable[..., NatLab], tmp_path: Path) -> None:
    """STUN without ICE: the video port learns its own NAT mapping, the video line names it, and the pattern
    crosses both NATs once each side has sent towards the other's mapping."""
    lab = make_lab("eim", "eim")
    alice, alice_file = video_phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, "--no-ice")
    bob, bob_file = video_phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, "--no-ice", "--auto-answer=0.1")
    call_and_check(alice, alice_file, bob, bob_file)
    for phone, own in ((alice, "A"), (bob, "B")):
        # Every c= line, the video's included, names the NAT: a video port that had not learned its mapping
        # would name its own address (198.51.100.2 or 192.0.2.2) in a c= of its own.
        assert phone.sdp_addresses() == [NAT_PUBLIC[own]]
        assert not sdp_lines(phone, "a=candidate:") and not video_paths(phone)
        assert video_lines(phone) and not video_lines(phone)[0].startswith("m=video 0 "), video_lines(phone)
    assert not [e for e in alice.cli.events + bob.cli.events if e.get("event") == "media_warning"]


def test_a_peer_without_ice_gets_the_video_by_its_sdp_address(make_lab: Callable[..., NatLab], tmp_path: Path) -> None:
    """Alice offers ICE on both lines, Bob (--no-ice) answers without it: neither runs ICE for the video, which
    goes to the STUN-learned addresses of the SDP, as the audio does."""
    lab = make_lab("eim", "eim")
    alice, alice_file = video_phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN)
    bob, bob_file = video_phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, "--no-ice", "--auto-answer=0.1")
    call_and_check(alice, alice_file, bob, bob_file)
    assert len(set(sdp_lines(alice, "a=ice-ufrag:"))) == 2 and not sdp_lines(bob, "a=ice-ufrag:")
    assert not video_paths(alice) and not video_paths(bob)
    assert bob.sdp_addresses() == [NAT_PUBLIC["B"]]


@pytest.mark.parametrize("moved", ["nat", "host"])
def test_a_network_change_mid_call_moves_the_video_with_an_ice_restart_of_its_own(
    make_lab: Callable[..., NatLab], tmp_path: Path, moved: str
) -> None:
    """Alice's NAT changes its public address (``nat``), or her own address changes (``host``), in the middle of a
    video call. Her re-INVITE offers a new video port with its own new server-reflexive candidate and
    credentials; her running video session takes the port over, both video ICE agents restart and select the new
    path, and the pattern flows again both ways, still in order (the session and its picture carry on)."""
    lab = make_lab("eim", "eim")
    public = NAT_PUBLIC["A"] if moved == "host" else "203.0.113.11"
    listen = "0.0.0.0:0" if moved == "host" else None
    recording = tmp_path / "lanA-video.mkv"
    alice = Phone(
        lab, "lanA", 440.0, tmp_path, "--video", "--video-codecs", "vp8", "--record-video", str(recording),
        "--stun", STUN, "--network-check", "1", listen=listen,
    )  # fmt: skip
    bob, bob_file = video_phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, "--auto-answer=0.1")
    try:
        alice.cli.send(f"call {bob.cli.user}")
        alice_call = alice.cli.wait_for(event="call", state="confirmed", timeout=20)["call_id"]
        bob_call = bob.cli.wait_for(event="call", state="confirmed", timeout=20)["call_id"]
        for phone in (alice, bob):
            decoded(phone.cli, FRAMES)
        before = {phone.cli.user: len(video_paths(phone)) for phone in (alice, bob)}
        assert before == {alice.cli.user: 1, bob.cli.user: 1}, (video_paths(alice), video_paths(bob))
        if moved == "host":
            lab.move_host("A", "198.51.100.3")
        else:
            lab.move_public("A", public)
        change = alice.cli.wait_for(30, event="network_change")
        assert change["calls"] == [alice_call], change
        for phone, call_id in ((alice, alice_call), (bob, bob_call)):
            path = phone.cli.wait_for(30, event="media_path", call_id=call_id, stream="video", path="srflx",
                                      after=phone.cli.events.index(video_paths(phone)[0]) + 1)  # fmt: skip
            mark = phone.cli.events.index(path) + 1
            seen = decoded(phone.cli, 0, after=mark)
            decoded(phone.cli, int(seen["frames_decoded"]) + FRAMES, after=mark)
        assert (
            video_paths(bob)[-1]["remote"].startswith(public)
            and video_paths(bob)[-1]["remote"] != (video_paths(bob)[0]["remote"])
        ), video_paths(bob)
        alice.cli.send(f"hangup {alice_call}")
        bob.cli.wait_for(event="call", state="ended", timeout=15)
        for phone in (alice, bob):
            phone.cli.send("quit")
            assert phone.cli.proc.wait(timeout=15) == 0
    finally:
        alice.close()
        bob.close()
    # Both recordings: the pattern in order across the move, and more than twice the frames waited for.
    for path in (recording, bob_file):
        received = read_recording(path)
        assert received.in_order and len(received.counters) >= 2 * FRAMES, (path.name, received.counters[:10])
    # Alice's video line moved: a new port, and new credentials for the video as for the audio.
    ports = {line.split()[1] for line in video_lines(alice)}
    assert len(ports) == 2, video_lines(alice)
    assert len(set(sdp_lines(alice, "a=ice-ufrag:"))) == 4, sdp_lines(alice, "a=ice-ufrag:")


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_where_udp_is_blocked_the_video_goes_through_a_relay_of_its_own_over_tcp_or_tls(
    make_lab: Callable[..., NatLab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """No UDP leaves Alice's LAN: her video port allocates a relay of its own over its own TCP or TLS connection
    to coturn (the video session watches that connection beside its socket), and the video's ICE picks it."""
    lab = make_lab("eim", "eim")
    lab.start_turn(streams=True)
    lab.block_udp("A")
    assert lab.turn_ca is not None
    server = TURN if transport == "tcp" else TURN_HOST  # TLS: the default port 5349
    turn = (*turn_options(monkeypatch, server=server), "--turn-transport", transport, "--ca-file", str(lab.turn_ca))
    alice, alice_file = video_phone(lab, "lanA", 440.0, tmp_path, "--stun", STUN, *turn, *sip_over_tcp(lab))
    bob, bob_file = video_phone(lab, "lanB", 1000.0, tmp_path, "--stun", STUN, "--auto-answer=0.1")
    call_and_check(alice, alice_file, bob, bob_file)
    for phone in (alice, bob):
        chosen = video_paths(phone)
        assert [e["path"] for e in chosen] == ["relay"], chosen
    relays = {tuple(line.split()[4:6]) for line in sdp_lines(alice, "a=candidate:") if " typ relay" in line}
    assert len(relays) == 2 and {r[0] for r in relays} == {TURN_HOST}, relays
    deadline = time.monotonic() + 10.0  # a bound on coturn writing its log, not a measurement
    while lab.turn_log().count("closed (2nd stage)") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    # Two allocations over two connections, both deleted at the hang-up.
    log = lab.turn_log()
    assert log.count(f"username=<{TURN_USER}>, lifetime=600") == 2, log[-3000:]
    assert log.count("lifetime=0") == 2, log[-3000:]

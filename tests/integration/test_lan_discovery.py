"""LAN discovery (mDNS/DNS-SD) between softphone-cli processes in the bridged LAN lab (tests/netns_lab.py).

Phones in different network namespaces, joined by a bridge that floods multicast, find each other with no
server, call each other by the name they found (each plays a tone and records what it hears: audio both
ways), exchange a message, and see each other leave; so do two phones on one host, over IPv4 and IPv6.
Strangers on the LAN announce garbage, huge TXT records and a taken name: nothing crashes, and nothing
from the LAN rings a phone whose direct calls are off.
"""

from __future__ import annotations

import json
import queue
import secrets
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.netns_lab import LanLab
from tests.ua.test_media_wiring import dominant_frequency, last_heard, read_wav, write_tone

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel


class LanPhone:
    """A ``softphone-cli --lan`` with no server in one of the lab's hosts, driven like tests/integration/test_cli.py:
    commands on standard input, JSON events on standard output."""

    def __init__(
        self,
        lab: LanLab,
        host: str,
        user: str,
        tmp: Path,
        *extra: str,
        name: str | None = None,
        tone: float | None = None,
        listen: tuple[str, ...] = (),
        aor_host: str | None = None,
        program: Sequence[str] = (sys.executable, "-m", "softphone.cli"),
        env: dict[str, str] | None = None,
    ) -> None:
        self.user = user
        self.tone = tone
        self.recording = tmp / f"{host}-{user}-heard.wav"
        folder = tmp / f"{host}-{user}"
        folder.mkdir(parents=True, exist_ok=True)
        audio: list[str] = ["--no-audio"]
        if tone is not None:
            played = write_tone(folder / f"{int(tone)}.wav", tone)
            audio = ["--play", str(played), "--record", str(self.recording)]
        listening = [arg for address in listen for arg in ("--listen", address)]
        self.proc = lab.popen(
            host,
            [
                *program,
                "--account", f"sip:{user}@{aor_host or lab.address(host)}",
                "--no-register", "--lan", "--json", "--db", str(folder / "softphone.db"),
                *(["--display-name", name] if name else []),
                *listening, *audio, *extra,
            ],
            stdin=-1, stdout=-1, stderr=-1, env=env,
        )  # fmt: skip
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def _next(self, deadline: float) -> dict[str, Any] | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            line = self._lines.get(timeout=remaining)
        except queue.Empty:
            return None
        if line is None:
            raise AssertionError(f"the phone ended; stderr: {''.join(self.stderr)[-3000:]}")
        event: dict[str, Any] = json.loads(line)
        self.events.append(event)
        return event

    def wait_for(self, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if all(event.get(k) == v for k, v in fields.items()):
                return event
        while True:
            event = self._next(deadline)
            if event is None:
                raise AssertionError(
                    f"no event {fields} within {timeout} s; got {self.events[-30:]};"
                    f" stderr: {''.join(self.stderr)[-3000:]}"
                )
            if all(event.get(k) == v for k, v in fields.items()):
                return event

    def seen(self, **fields: Any) -> list[dict[str, Any]]:
        """Events so far (reading what has arrived) that have ``fields``."""
        while self._next(time.monotonic() + 0.05) is not None:
            pass
        return [e for e in self.events if all(e.get(k) == v for k, v in fields.items())]

    def quit(self) -> None:
        if self.proc.poll() is None:
            self.send("quit")
            assert self.proc.wait(timeout=20) == 0, "".join(self.stderr)[-3000:]


@pytest.fixture
def lab() -> Iterator[LanLab]:
    with LanLab(hosts=3) as lan:
        yield lan


def _wait_packets(phone: LanPhone, call_id: str, packets: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        event = phone.wait_for(max(0.1, deadline - time.monotonic()), event="quality", call_id=call_id)
        if event["packets_received"] >= packets:
            return
        phone.events.remove(event)
        if time.monotonic() > deadline:
            raise AssertionError(f"{phone.user} received {event['packets_received']} packets")


def _call_by_name(caller: LanPhone, callee: LanPhone, name: str) -> None:
    """``call NAME`` with the name discovered; the callee answers by itself; both hear the other's tone."""
    caller.send(f'call "{name}"')
    confirmed = caller.wait_for(event="call", state="confirmed", timeout=20)
    answered = callee.wait_for(event="call", state="confirmed", timeout=20)
    _wait_packets(caller, str(confirmed["call_id"]), 50)
    _wait_packets(callee, str(answered["call_id"]), 50)
    caller.send(f"hangup {confirmed['call_id']}")
    callee.wait_for(event="call", state="ended")
    caller.wait_for(event="call", state="ended")


def _heard(listener: LanPhone, talker: LanPhone) -> None:
    samples, rate = read_wav(listener.recording)
    assert samples.size > rate // 2, f"{listener.recording.name}: {samples.size} samples"
    heard = dominant_frequency(last_heard(samples, rate), rate)
    assert talker.tone is not None and abs(heard - talker.tone) < 20.0, f"{listener.recording.name}: {heard:.0f} Hz"


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_two_phones_find_call_write_and_see_each_other_leave(lab: LanLab, tmp_path: Path, ipv6: bool) -> None:
    listen = ("[::]:5060",) if ipv6 else ("0.0.0.0:5060",)
    alice = LanPhone(
        lab, "h1", "alice", tmp_path, name="Alice", tone=440.0, listen=listen,
        aor_host=f"[{lab.address('h1', ipv6=True)}]" if ipv6 else None,
    )  # fmt: skip
    bob = LanPhone(
        lab, "h2", "bob", tmp_path, "--auto-answer", name="Bob", tone=1000.0, listen=listen,
        aor_host=f"[{lab.address('h2', ipv6=True)}]" if ipv6 else None,
    )  # fmt: skip
    for phone, name in ((alice, "Alice"), (bob, "Bob")):
        phone.wait_for(event="lan_announce", state="announced", name=name)
    found = alice.wait_for(event="lan_peer", name="Bob", state="up", timeout=20)
    host = f"[{lab.address('h2', ipv6=True)}]" if ipv6 else lab.address("h2")
    assert found["uri"] == f"sip:bob@{host}:5060", found
    assert found["accepts_calls"] is True and found["display_name"] == "Bob"
    bob.wait_for(event="lan_peer", name="Alice", state="up", timeout=20)
    alice.send("peers")
    listed = alice.wait_for(event="peers")
    assert [p["name"] for p in listed["peers"]] == ["Bob"], listed

    # By the name found: a call with audio both ways, then a message each way.
    bob.send("answer")  # nothing to answer: auto-answer did; an error event only
    _call_by_name(alice, bob, "Bob")
    alice.send("message Bob hello from the LAN")
    got = bob.wait_for(event="message", text="hello from the LAN")
    assert got["from"].startswith("sip:alice@"), got
    bob.send("message Alice hi back")
    alice.wait_for(event="message", text="hi back")
    alice.wait_for(event="message_status", status="sent")

    # Presence, peer to peer: each watches the other, and an allowed watcher sees the state.
    bob.wait_for(event="watcher", state="pending", timeout=20)
    bob.send(f"allow {got['from']}")
    bob.send("status away lunch")
    alice.wait_for(event="presence", basic="open", activity="away", note="lunch", timeout=20)

    # Bob leaves: Alice sees him go (his goodbye packets), and he is no longer among the peers.
    bob.quit()
    alice.wait_for(event="lan_peer", name="Bob", state="down", timeout=20)
    alice.send("peers")
    alice.events = [e for e in alice.events if e.get("event") != "peers"]
    assert alice.wait_for(event="peers")["peers"] == []
    alice.quit()
    _heard(alice, bob)
    _heard(bob, alice)


def test_two_phones_on_one_host_and_a_taken_name(lab: LanLab, tmp_path: Path) -> None:
    """Two phones in one namespace (two ports), both called "Carol": the second is renamed and says so; a phone
    on another host sees both and calls the renamed one."""
    first = LanPhone(lab, "h1", "carol", tmp_path, "--auto-answer", name="Carol", listen=("0.0.0.0:5060",))
    first.wait_for(event="lan_announce", state="announced", name="Carol")
    second = LanPhone(lab, "h1", "carol2", tmp_path, "--auto-answer", name="Carol", listen=("0.0.0.0:5070",))
    renamed = second.wait_for(event="lan_announce", state="announced")
    assert renamed["requested"] == "Carol" and renamed["name"] == "Carol-2", renamed
    dave = LanPhone(lab, "h3", "dave", tmp_path, name="Dave", listen=("0.0.0.0:5060",))
    dave.wait_for(event="lan_peer", name="Carol", state="up", timeout=20)
    other = dave.wait_for(event="lan_peer", name="Carol-2", state="up", timeout=20)
    assert other["uri"] == f"sip:carol2@{lab.address('h1')}:5070", other
    # The two on one host see each other, and not themselves.
    first.wait_for(event="lan_peer", name="Carol-2", state="up", timeout=20)
    second.wait_for(event="lan_peer", name="Carol", state="up", timeout=20)
    assert not first.seen(event="lan_peer", name="Carol"), "a phone listed itself"
    # "Carol" is ambiguous by display name but not by instance name.
    dave.send("call Carol-2")
    dave.wait_for(event="call", state="confirmed", timeout=20)
    second.wait_for(event="call", state="confirmed", timeout=20)
    assert not first.seen(event="incoming_call")
    dave.send("hangup")
    second.wait_for(event="call", state="ended")
    for phone in (first, second, dave):
        phone.quit()


# A stranger on the LAN: raw mDNS responses (RFC 6762 6) with a garbage instance name, a TXT record of 8 KB,
# a name that is only control characters, our own name taken, and a claim that it "accepts calls" and is
# someone we know; then a flood of 300 names. It also places a direct INVITE at the phone it found.
STRANGER = r"""
import socket, struct, sys, time
from zeroconf import DNSOutgoing, DNSPointer, DNSService, DNSText, DNSAddress, const
TYPE = "_sip._udp.local."
def txt(pairs):
    out = b""
    for p in pairs:
        out += bytes([len(p)]) + p
    return out
def announce(instance, port, text, address=b"\xc0\x00\x02\x03"):
    name = instance + "." + TYPE
    out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA)
    out.add_answer_at_time(DNSPointer(TYPE, const._TYPE_PTR, const._CLASS_IN, 120, name), 0)
    out.add_answer_at_time(DNSService(name, const._TYPE_SRV, const._CLASS_IN | const._CLASS_UNIQUE, 120, 0, 0, port,
                                      "stranger.local."), 0)
    out.add_answer_at_time(DNSText(name, const._TYPE_TXT, const._CLASS_IN | const._CLASS_UNIQUE, 120, text), 0)
    out.add_answer_at_time(DNSAddress("stranger.local.", const._TYPE_A, const._CLASS_IN | const._CLASS_UNIQUE, 120,
                                      address), 0)
    for packet in out.packets():
        s.sendto(packet, ("224.0.0.251", 5353))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
for _ in range(2):
    announce("EVIL\u202eexe.gnp" + "x" * 40, 5060,
             txt([b"name=\x1b]0;pwned\x07Mallory", b"aor=sip:mallory@192.0.2.3", b"calls=yes"]))
    announce("Huge", 5060, txt([b"name=" + b"A" * 250] * 33))
    announce("\x01\x02\x03", 5060, txt([b"calls=yes"]))
    announce("Erin", 5060, txt([b"name=Erin", b"aor=sip:erin@192.0.2.3", b"calls=yes"]))
    announce("BadAor", 5060, txt([b"aor=\xff\xfe<>@@::", b"calls=yes"]))
    announce("NoPort", 0, txt([b"calls=yes"]))
    time.sleep(0.3)
for i in range(300):
    announce(f"flood-{i}", 5060, txt([b"calls=yes"]))
print("sent", flush=True)
"""


def trace(phone: LanPhone, direction: str, start: str, cseq: str = "") -> int:
    """How many messages in ``phone``'s SIP trace (``--trace``) went ``direction`` and begin with ``start``
    (and, with ``cseq``, have it in their CSeq line)."""
    count = 0
    for block in "".join(phone.stderr).split("softphone.sip.trace: ")[1:]:
        heading, _, message = block.partition("\n")
        cseqs = [line for line in message.splitlines() if line.startswith("CSeq:")]
        if heading.startswith(direction) and message.startswith(start) and (not cseq or any(cseq in c for c in cseqs)):
            count += 1
    return count


def test_strangers_garbage_records_are_bounded_and_ring_nobody(lab: LanLab, tmp_path: Path) -> None:
    # Erin runs a real phone on h2 with direct calls off: a LAN account that announces but takes no IP calls.
    erin = LanPhone(
        lab, "h2", "erin", tmp_path, "--direct-calls", "off", "--trace", name="Erin", listen=("0.0.0.0:5060",)
    )
    erin.wait_for(event="lan_announce", state="announced", name="Erin")
    frank = LanPhone(lab, "h1", "frank", tmp_path, name="Frank", listen=("0.0.0.0:5060",))
    frank.wait_for(event="lan_announce", state="announced", name="Frank")
    erin_seen = frank.wait_for(event="lan_peer", name="Erin", state="up", timeout=20)
    assert erin_seen["accepts_calls"] is False, erin_seen
    sent = lab.python("h3", STRANGER, timeout=60)
    assert sent.returncode == 0 and "sent" in sent.stdout, sent.stderr
    time.sleep(4)
    for phone in (frank, erin):
        assert phone.proc.poll() is None, "".join(phone.stderr)[-3000:]
        phone.send("peers")
        listed = phone.wait_for(event="peers")
        names = [p["name"] for p in listed["peers"]]
        assert len(names) <= 64, len(names)
        for peer in listed["peers"]:
            for text in (peer["name"], peer["display_name"]):
                assert len(text) <= 63 and not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text), peer
                assert "\u202e" not in text, peer
        assert "Huge" not in names, names  # its TXT record is 8 KB
        assert "NoPort" not in names, names
        phone.events = [e for e in phone.events if e.get("event") != "peers"]
    # The stranger's "Mallory" (its name cleaned) is listed on Frank's phone: it is only a list entry.
    ups = frank.seen(event="lan_peer", state="up")
    mallory = [p for p in ups if "Mallory" in p["display_name"]]
    assert mallory and mallory[0]["display_name"] == "]0;pwnedMallory", ups[:8]
    assert mallory[0]["name"] == "EVILexe.gnp" + "x" * 40, mallory  # the override is gone
    assert "Traceback" not in "".join(frank.stderr), "".join(frank.stderr)[-3000:]
    # The real Erin is still there under her name (the stranger's "Erin" claim collided with it).
    assert frank.seen(event="lan_peer", name="Erin")
    # Frank calls Erin's phone directly: her direct calls are off, so it never rings. Her SIP trace shows the
    # INVITE arrive again and again and nothing answer it (a stranger learns nothing): a retransmission is Frank's
    # phone saying it had no answer at all, so there is no need to wait out Timer B's 32 s for the call to end.
    erin_uri = f"sip:erin@{lab.address('h2')}:5060"
    frank.send(f"call {erin_uri}")
    deadline = time.monotonic() + 30
    while (received := trace(erin, "received from", "INVITE sip:erin@")) < 2:
        assert time.monotonic() < deadline, f"Erin's phone saw {received} INVITEs: {''.join(erin.stderr)[-3000:]}"
        time.sleep(0.1)
    assert trace(erin, "sent to", "SIP/2.0 ", " INVITE") == 0, "".join(erin.stderr)[-3000:]
    assert not erin.seen(event="incoming_call"), erin.events
    assert not frank.seen(event="call", state="ringing"), frank.events
    for phone in (frank, erin):
        phone.quit()


def test_lan_only_without_lan_flag_announces_nothing(lab: LanLab, tmp_path: Path) -> None:
    """Without --lan nothing is announced; with --lan-announce off the phone browses but is not seen."""
    quiet = LanPhone(lab, "h1", "quiet", tmp_path, "--lan-announce", "off", name="Quiet", listen=("0.0.0.0:5060",))
    loud = LanPhone(lab, "h2", "loud" + secrets.token_hex(2), tmp_path, name="Loud", listen=("0.0.0.0:5060",))
    quiet.wait_for(event="lan_peer", name="Loud", state="up", timeout=20)
    time.sleep(3)
    assert not loud.seen(event="lan_peer"), loud.events
    assert not quiet.seen(event="lan_announce")
    for phone in (quiet, loud):
        phone.quit()

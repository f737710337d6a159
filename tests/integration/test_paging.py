"""Multicast paging between softphone-cli processes on the bridged LAN of tests/netns_lab.py.

Each phone runs in its own namespace with no server (``--no-register``); senders play a tone of their own
(``--play``), listeners record what they hear (``--record``: the first page to ``heard.wav``, later ones to
``heard-pN.wav``) and the recordings are checked by FFT. Bad input is sent from a raw socket in a namespace.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration.test_cli import CliProcess
from tests.netns_lab import LanLab
from tests.ua.test_media_wiring import dominant_frequency, read_wav, write_tone

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

GROUP_A = "239.255.10.1:5004"
GROUP_B = "239.255.10.2:5006"
GROUP_V6 = "[ff05::10:1]:5004"


@pytest.fixture
def lab() -> Iterator[LanLab]:
    with LanLab(hosts=4) as lab:
        yield lab


class Phone:
    """A softphone-cli in ``host`` of the lab; plays ``tone`` Hz when it pages, records what it hears."""

    def __init__(self, lab: LanLab, host: str, *extra: str, tone: float | None = None) -> None:
        self.host = host
        self.recording = lab.workdir / f"{host}-heard.wav"
        play = () if tone is None else ("--play", str(write_tone(lab.workdir / f"{host}-{int(tone)}.wav", tone)))
        self.cli = CliProcess(
            None,
            *play, "--record", str(self.recording), *extra,
            audio=(),
            prefix=lab.command(host, []),
            listen=f"{lab.address(host)}:5060",
        )  # fmt: skip
        lab.processes.append(self.cli.proc)

    def wait_for(self, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        return self.cli.wait_for(timeout, **fields)

    def ready(self) -> None:
        """Wait until the process reads commands (an unknown one answers with an error event)."""
        self.cli.send("ping")
        self.wait_for(event="error")

    def heard(self, page_id: str | None = None) -> Path:
        if page_id is None:
            return self.recording
        return self.recording.with_name(f"{self.recording.stem}-{page_id}{self.recording.suffix}")

    def close(self) -> None:
        self.cli.close()


def tone_of(path: Path) -> tuple[float, float]:
    """Dominant frequency and RMS of the loudest half second of a recording."""
    samples, rate = read_wav(path)
    assert samples.size >= rate // 2, f"{path} holds {samples.size} samples"
    half = rate // 2
    starts = range(0, samples.size - half + 1, half // 2)
    best = max(starts, key=lambda s: float(np.sqrt(np.mean(samples[s : s + half] ** 2))))
    window = samples[best : best + half]
    return dominant_frequency(window, rate), float(np.sqrt(np.mean(window**2)))


def wait_until(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


@pytest.mark.parametrize(("group", "interface"), [(GROUP_A, ()), (GROUP_V6, ("--page-interface", "eth0"))])
def test_a_page_reaches_two_phones_with_its_tone_and_ends_by_itself(
    lab: LanLab, group: str, interface: tuple[str, ...]
) -> None:
    listeners = [Phone(lab, host, "--page-listen", group, *interface) for host in ("h2", "h3")]
    sender = Phone(lab, "h1", *interface, tone=700.0)
    for phone in (*listeners, sender):
        phone.ready()
    sender.cli.send(f"page {group} g722")
    sent = sender.wait_for(event="page_started", direction="outgoing")
    started = [phone.wait_for(event="page_started", direction="incoming") for phone in listeners]
    for event in started:
        assert event["source"] == lab.address("h1", ipv6=group.startswith("["))
        assert event["codec"] == "G722"
        assert event["group"] == group
    time.sleep(1.5)
    sender.cli.send("endpage")
    sender.wait_for(event="page_ended", page_id=sent["page_id"])
    for phone, event in zip(listeners, started, strict=True):
        ended = phone.wait_for(event="page_ended", page_id=event["page_id"])
        assert ended["reason"] == "stopped"
        phone.close()
        frequency, level = tone_of(phone.heard())
        assert abs(frequency - 700.0) < 20.0, frequency
        assert level > 0.05
    sender.close()


def wait_new(phone: Phone, seen: int, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
    """The first event with ``fields`` after the first ``seen`` events of ``phone``."""
    deadline = time.monotonic() + timeout
    while True:
        new = [e for e in phone.cli.events[seen:] if all(e.get(k) == v for k, v in fields.items())]
        if new:
            return new[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"{phone.host}: no event {fields}; got {phone.cli.events[seen:]}")
        with contextlib.suppress(AssertionError):
            phone.wait_for(0.2, event="(none)")


def never_together(events: list[dict[str, Any]], higher: str, lower: str) -> bool:
    """No page of group ``lower`` started while one of ``higher`` played (whatever a busy machine paused)."""
    playing: set[str] = set()
    for event in events:
        if event.get("event") == "page_started" and event["direction"] == "incoming":
            if event["group"] == lower and any(p.startswith(higher) for p in playing):
                return False
            playing.add(f"{event['group']} {event['page_id']}")
        elif event.get("event") == "page_ended" and event["direction"] == "incoming":
            playing.discard(f"{event['group']} {event['page_id']}")
    return bool(events)


def no_event(phone: Phone, seconds: float, **fields: Any) -> None:
    """``phone`` reports no new event with ``fields`` for ``seconds``."""
    seen = len(phone.cli.events)
    with contextlib.suppress(AssertionError):
        phone.wait_for(seconds, event="(none)")  # takes in what arrives meanwhile
    new = [e for e in phone.cli.events[seen:] if all(e.get(k) == v for k, v in fields.items())]
    assert not new, f"{phone.host} reported {new}"


def test_a_page_of_higher_priority_preempts_and_one_of_lower_priority_interrupts_nothing(lab: LanLab) -> None:
    listener = Phone(lab, "h4", "--page-listen", f"{GROUP_A}/5", "--page-listen", f"{GROUP_B}/20")
    dnd = Phone(lab, "h3", "--busy", "--page-listen", f"{GROUP_A}/5", "--page-listen", f"{GROUP_B}/20")
    low = Phone(lab, "h1", tone=700.0)
    high = Phone(lab, "h2", tone=1100.0)
    for phone in (listener, dnd, low, high):
        phone.ready()
    low.cli.send(f"page {GROUP_A} pcmu")
    first = listener.wait_for(event="page_started", group=GROUP_A)
    assert (first["priority"], first["codec"], first["source"]) == (5, "PCMU", lab.address("h1"))
    time.sleep(1.0)
    high.cli.send(f"page {GROUP_B} opus")
    second = listener.wait_for(event="page_started", group=GROUP_B)
    assert (second["priority"], second["codec"]) == (20, "opus")
    preempted = listener.wait_for(event="page_ended", page_id=first["page_id"])
    assert preempted["reason"] == "preempted"
    time.sleep(1.0)
    high.cli.send("endpage")
    low.cli.send("endpage")
    assert listener.wait_for(event="page_ended", page_id=second["page_id"])["reason"] == "stopped"
    time.sleep(1.5)
    # Now the other way round: a page of lower priority does not interrupt one of higher.
    seen = len(listener.cli.events)
    high.cli.send(f"page {GROUP_B} g722")
    third = wait_new(listener, seen, event="page_started", group=GROUP_B)
    low.cli.send(f"page {GROUP_A} pcma")
    time.sleep(2.0)
    high.cli.send("endpage")
    low.cli.send("endpage")
    listener.wait_for(event="page_ended", page_id=third["page_id"])
    with contextlib.suppress(AssertionError):
        listener.wait_for(1.5, event="(none)")  # takes in what is still coming
    assert never_together(listener.cli.events[seen:], GROUP_B, GROUP_A)
    no_event(dnd, 0.1, event="page_started")  # do-not-disturb: nothing heard all along
    for phone in (listener, dnd, low, high):
        phone.close()
    assert not dnd.recording.exists()
    assert abs(tone_of(listener.heard())[0] - 700.0) < 20.0
    assert abs(tone_of(listener.heard(second["page_id"]))[0] - 1100.0) < 20.0
    assert abs(tone_of(listener.heard(third["page_id"]))[0] - 1100.0) < 20.0


@pytest.mark.parametrize("during_call", ["hold", "mix"])
def test_a_page_during_a_call_holds_it_or_is_mixed_into_it(lab: LanLab, during_call: str) -> None:
    listener = Phone(lab, "h2", "--page-listen", GROUP_A, "--page-during-call", during_call, tone=400.0)
    peer = Phone(lab, "h3", "--auto-answer", tone=500.0)
    pager = Phone(lab, "h1", tone=900.0)
    for phone in (listener, peer, pager):
        phone.ready()
    listener.cli.send(f"call sip:{peer.cli.user}@{lab.address('h3')}:5060")
    call = listener.wait_for(event="call", state="confirmed")
    peer.wait_for(event="call", state="confirmed")
    pager.cli.send(f"page {GROUP_A}")
    page = listener.wait_for(event="page_started", direction="incoming")
    if during_call == "hold":
        listener.wait_for(event="call", call_id=call["call_id"], state="held")
    time.sleep(1.5)
    pager.cli.send("endpage")
    ended = listener.wait_for(event="page_ended", page_id=page["page_id"])
    if during_call == "hold":
        wait_new(listener, listener.cli.events.index(ended), event="call", call_id=call["call_id"], state="confirmed")
    else:
        time.sleep(1.0)
        assert not [e for e in listener.cli.events if e.get("event") == "call" and e.get("state") == "held"]
    listener.cli.send("hangup")
    listener.wait_for(event="call", state="ended")
    for phone in (listener, peer, pager):
        phone.close()
    if during_call == "hold":
        # The call was recorded first (heard.wav, the peer's 500 Hz), the page on its own (heard-p1.wav).
        assert abs(tone_of(listener.heard())[0] - 500.0) < 20.0
        assert abs(tone_of(listener.heard(page["page_id"]))[0] - 900.0) < 20.0
    else:
        # Mixed into the call's own output: the call's recording holds the peer and the page at once.
        assert both_tones(listener.heard(), 500.0, 900.0)
        assert not listener.heard(page["page_id"]).exists()


def both_tones(path: Path, first: float, second: float) -> bool:
    """Some half second of ``path`` carries both tones, each within 10 dB of the other."""
    samples, rate = read_wav(path)
    half = rate // 2
    freqs = np.fft.rfftfreq(half, 1.0 / rate)

    def level(spectrum: np.ndarray, tone: float) -> float:
        return float(spectrum[np.abs(freqs - tone) < 15.0].max())

    for start in range(0, samples.size - half + 1, half // 2):
        spectrum = np.abs(np.fft.rfft(samples[start : start + half] * np.hanning(half)))
        a, b = level(spectrum, first), level(spectrum, second)
        if min(a, b) > 0.3 * max(a, b) and min(a, b) > 100 * float(np.median(spectrum)):
            return True
    return False


GARBAGE = (
    "import os, socket, struct\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "group, port = '{group}', {port}\n"
    "for n in range(300):\n"
    "    s.sendto(os.urandom(n % 200), (group, port))\n"
    "    s.sendto(bytes([0x80, 96]) + struct.pack('!HII', n, n * 160, 7) + os.urandom(160), (group, port))\n"
    "    s.sendto(bytes([0x80, 0]) + struct.pack('!HII', n, n * 160, 8) + os.urandom(1600), (group, port))\n"
)


def test_garbage_and_unknown_senders_are_counted_and_dropped(lab: LanLab) -> None:
    allowed = lab.address("h1")
    listener = Phone(lab, "h4", "--page-listen", f"{GROUP_A}/7={allowed}", "--page-listen", f"{GROUP_B}+pcmu,pcma")
    stranger = Phone(lab, "h2", tone=300.0)
    pager = Phone(lab, "h1", tone=800.0)
    for phone in (listener, stranger, pager):
        phone.ready()
    stranger.cli.send(f"page {GROUP_A}")
    stranger.wait_for(event="page_started")
    no_event(listener, 2.0, event="page_started")
    stranger.cli.send("endpage")
    # A group that takes G.711 only hears nothing of a G.722 page.
    stranger.cli.send(f"page {GROUP_B} g722")
    no_event(listener, 2.0, event="page_started")
    stranger.cli.send("endpage")
    host, port = GROUP_B.split(":")
    sent = lab.python("h1", GARBAGE.format(group=host, port=port))
    assert sent.returncode == 0, sent.stderr
    no_event(listener, 1.0, event="page_started")
    listener.cli.send("pages")
    listing = {g["group"]: g for g in listener.wait_for(event="pages")["groups"]}
    assert listing[GROUP_A]["sources"] == [allowed]
    assert listing[GROUP_A]["dropped"]["unknown_source"] > 0
    assert listing[GROUP_B]["codecs"] == ["pcmu", "pcma"]
    refused = listing[GROUP_B]["dropped"]
    assert refused["malformed"] > 0 and refused["unknown_pt"] > 100 and refused["oversize"] > 0, refused
    pager.cli.send(f"page {GROUP_A}")
    page = listener.wait_for(event="page_started", group=GROUP_A)
    assert page["source"] == allowed
    time.sleep(1.0)
    pager.cli.send("endpage")
    listener.wait_for(event="page_ended", page_id=page["page_id"])
    for phone in (listener, stranger, pager):
        phone.close()
    assert listener.cli.proc.returncode == 0
    assert abs(tone_of(listener.heard())[0] - 800.0) < 20.0


MULTICAST_INVITE = r"""
import json, re, secrets, socket, struct, sys, time
import numpy as np
from softphone.media.codecs import PcmuCodec
from softphone.media.rtp import RtpSender

me, callee, user, group, port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sip.bind((me, 5070))
sip.settimeout(10)
call_id, tag = secrets.token_hex(8), secrets.token_hex(4)
body = (f"v=0\r\no=pager 1 1 IN IP4 {me}\r\ns=page\r\nc=IN IP4 {group}/1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n")

def request(method, uri, cseq, to, extra="", content=""):
    return (f"{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me}:5070;branch=z9hG4bK{secrets.token_hex(6)};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:pager@{me}:5070>;tag={tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq} {method}\r\nContact: <sip:pager@{me}:5070>\r\n{extra}"
            f"Content-Length: {len(content)}\r\n\r\n{content}").encode()

target = f"sip:{user}@{callee}:5060"
sip.sendto(request("INVITE", target, 1, f"<{target}>", "Content-Type: application/sdp\r\n", body), (callee, 5060))
while True:
    reply = sip.recv(65535).decode()
    if reply.startswith("SIP/2.0 200"):
        break
    assert reply.startswith("SIP/2.0 1"), reply
head, _, answer = reply.partition("\r\n\r\n")
to = re.search(r"^To: (.*)$", head, re.M | re.I).group(1).strip()
contact = re.search(r"^Contact: .*?<([^>]+)>", head, re.M | re.I).group(1)
sip.sendto(request("ACK", contact, 1, to), (callee, 5060))

listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listen.bind(("", port))
listen.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton("0.0.0.0"))
listen.setblocking(False)
send = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
send.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
rtp, codec = RtpSender(0, 8000), PcmuCodec()
t = np.arange(160) / 8000.0
from_callee = 0
start = time.monotonic()
for n in range(125):
    pcm = (8000 * np.sin(2 * np.pi * 1000.0 * (t + n * 0.02))).astype(np.int16)
    send.sendto(rtp.packetize(codec.encode(pcm), 160), (group, port))
    while True:
        try:
            _data, addr = listen.recvfrom(2048)
        except BlockingIOError:
            break
        from_callee += addr[0] == callee
    time.sleep(max(0.0, start + (n + 1) * 0.02 - time.monotonic()))
sip.sendto(request("BYE", contact, 2, to), (callee, 5060))
for _ in range(10):
    bye = sip.recv(65535).decode()
    if re.search(r"^CSeq: 2 BYE", bye, re.M | re.I):
        break
    print(bye, file=sys.stderr)
print(json.dumps({"answer": answer, "bye": bye.split("\r\n")[0], "from_callee": from_callee}), flush=True)
"""


def test_an_invite_with_multicast_sdp_is_received_from_the_group_and_never_answered_with_rtp(lab: LanLab) -> None:
    callee = Phone(lab, "h2", "--auto-answer")
    callee.ready()
    group, port = "239.255.30.1", 5010
    result = lab.run(
        "h1",
        [
            sys.executable,
            "-c",
            MULTICAST_INVITE,
            lab.address("h1"),
            lab.address("h2"),
            callee.cli.user,
            group,
            str(port),
        ],
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    answer = outcome["answer"]
    assert f"m=audio {port} RTP/AVP 0" in answer
    assert f"c=IN IP4 {group}/1" in answer
    assert "a=sendonly" in answer
    assert outcome["bye"].startswith("SIP/2.0 200")
    assert outcome["from_callee"] == 0
    call = callee.wait_for(event="call", state="confirmed")
    callee.wait_for(event="call", call_id=call["call_id"], state="ended")
    callee.close()
    frequency, level = tone_of(callee.heard())
    assert abs(frequency - 1000.0) < 20.0 and level > 0.05


TTL_PROBE = (
    "import socket, struct, sys\n"
    "group, port, v6 = sys.argv[1], int(sys.argv[2]), ':' in sys.argv[1]\n"
    "s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('', port)); s.settimeout(15)\n"
    "if v6:\n"
    "    index = socket.if_nametoindex('eth0')\n"
    "    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, group)"
    " + struct.pack('@I', index))\n"
    "    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)\n"
    "else:\n"
    "    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + bytes(4))\n"
    "    s.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL (Linux), which the socket module does not name\n"
    "print('joined', flush=True)\n"
    "_data, ancillary, _flags, _addr = s.recvmsg(2048, 64)\n"
    "print(struct.unpack('@i', ancillary[0][2][:4])[0], flush=True)\n"
)


@pytest.mark.parametrize(("group", "interface"), [(GROUP_A, ()), (GROUP_V6, ("--page-interface", "eth0"))])
def test_pages_leave_with_the_ttl_set(lab: LanLab, group: str, interface: tuple[str, ...]) -> None:
    address, port = group.rsplit(":", 1)
    probe = lab.popen("h2", [sys.executable, "-c", TTL_PROBE, address.strip("[]"), port], stdout=-1, stderr=-1)
    assert probe.stdout is not None and probe.stdout.readline().strip() == "joined"
    sender = Phone(lab, "h1", "--page-ttl", "7", *interface, tone=500.0)
    sender.ready()
    sender.cli.send(f"page {group} pcmu")
    out, err = probe.communicate(timeout=30)
    assert out.strip() == "7", err
    sender.cli.send("endpage")
    sender.wait_for(event="page_ended")
    sender.close()

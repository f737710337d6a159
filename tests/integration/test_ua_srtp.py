"""Encrypted calls between UserAgents through the real Kamailio over TLS: each suite, each key exchange.

The tone is checked by FFT at the callee; a capture of loopback (tshark, or a raw
packet socket for the replay) shows that no RTP payload crossed in clear.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from softphone.media.dtls import new_identity
from softphone.media.engine import PIPELINE_RATE, ArraySink, ToneSource
from softphone.media.rtp import RtpPacket
from softphone.media.srtp import SrtpTransform
from softphone.sip.offer_answer import AudioConfig, pcmu_codec
from softphone.sip.srtp_sdp import SUITES
from softphone.store import Store
from softphone.ua import Call, CallEvent, IncomingCallEvent
from softphone.ua.call_security import DtlsIdentities
from tests.integration.test_cli import CliProcess
from tests.integration.test_ua_calls import Phone, call_state, new_account, phones
from tests.kamailio_server import Kamailio
from tests.tshark import Capture, distinct_payload_bytes
from tests.ua.test_media_wiring import dominant_frequency

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

TONE = 1000.0


class ToneFactory:
    """A media factory: a tone out, what is heard kept per call."""

    def __init__(self, frequency: float = TONE) -> None:
        self.frequency = frequency
        self.sinks: dict[str, ArraySink] = {}

    def __call__(self, call_id: str, warn: Callable[[str], None]) -> tuple[ToneSource, ArraySink]:
        sink = ArraySink()
        self.sinks[call_id] = sink
        return ToneSource(self.frequency), sink

    def hears(self, call_id: str, frequency: float, seconds: float = 0.5) -> bool:
        sink = self.sinks.get(call_id)
        window = int(seconds * PIPELINE_RATE)
        if sink is None or len(sink) < window:
            return False
        tail = sink.samples(window)
        loud = float(np.sqrt(np.mean(tail.astype(np.float64) ** 2))) > 0.02
        return loud and abs(dominant_frequency(tail, PIPELINE_RATE) - frequency) < 20.0


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)


def srtp_account(kamailio: Kamailio, keys: str, suite: str | None = None, **options: Any) -> Any:
    suites = (suite,) if suite else tuple(SUITES)
    return new_account(kamailio, "tls", srtp="mandatory", srtp_keys=keys, srtp_suites=suites, **options)


async def connect(alice: Phone, bob: Phone) -> tuple[Call, str]:
    call = await alice.ua.call(bob.user)
    incoming = await bob.events.wait(lambda e: isinstance(e, IncomingCallEvent))
    assert isinstance(incoming, IncomingCallEvent)
    await alice.events.wait(call_state("confirmed"))
    await bob.events.wait(call_state("confirmed"))
    return call, incoming.call_id


def encrypted(phone: Phone, call_id: str) -> Callable[[object], bool]:
    def check(event: object) -> bool:
        return (
            isinstance(event, CallEvent)
            and event.call_id == call_id
            and event.encryption is not None
            and event.encryption.encrypted
        )

    return check


def pcmu_ua(**options: Any) -> dict[str, Any]:
    return {"audio": AudioConfig(codecs=[pcmu_codec()]), **options}


def run_pair(kamailio: Kamailio, scenario: Callable[..., Any], *accounts: Any, **options: Any) -> None:
    async def main() -> None:
        async with phones(*accounts, **options) as started:
            await scenario(*started)

    asyncio.run(main())


CASES = [("sdes", suite) for suite in SUITES] + [("dtls", suite) for suite in SUITES]


@pytest.mark.parametrize(("keys", "suite"), CASES)
def test_encrypted_call_carries_the_tone_and_nothing_in_clear(kamailio: Kamailio, keys: str, suite: str) -> None:
    tones = ToneFactory()
    capture = Capture()

    async def scenario(alice: Phone, bob: Phone) -> None:
        call, bob_id = await connect(alice, bob)
        ready = await alice.events.wait(encrypted(alice, call.id))
        assert isinstance(ready, CallEvent) and ready.encryption is not None
        assert ready.encryption.suite == suite and ready.encryption.key_exchange == keys
        assert ready.encryption.verified
        await bob.events.wait(encrypted(bob, bob_id))
        await until(lambda: tones.hears(bob_id, TONE) and tones.hears(call.id, TONE))
        ports = {call.media_port.port, bob.ua.find_call(bob_id).media_port.port}
        await alice.ua.hangup(call.id)
        await bob.events.wait(call_state("ended"))
        await bob.ua.wait_media_stopped()
        capture.ports = ports

    with capture:
        run_pair(
            kamailio,
            scenario,
            srtp_account(kamailio, keys, suite),
            srtp_account(kamailio, keys, auto_answer=0.1),
            **pcmu_ua(media=tones),
        )
    payloads = capture.rtp_payloads()
    assert len(payloads) > 25, f"the capture holds {len(payloads)} RTP packets of the call"
    # A tone in PCMU is a handful of byte values repeated; ciphertext looks like noise.
    worst = min(distinct_payload_bytes(p) for p in payloads if len(p) >= 160)
    assert worst > 80, f"an RTP payload with only {worst} distinct byte values crossed loopback"


def test_plain_call_shows_the_tone_in_the_capture(kamailio: Kamailio) -> None:
    """The check above is worth something: without SRTP the same capture finds the tone's payload."""
    tones = ToneFactory()
    capture = Capture()

    async def scenario(alice: Phone, bob: Phone) -> None:
        call, bob_id = await connect(alice, bob)
        await until(lambda: tones.hears(bob_id, TONE))
        capture.ports = {call.media_port.port, bob.ua.find_call(bob_id).media_port.port}
        await alice.ua.hangup(call.id)
        await bob.events.wait(call_state("ended"))

    with capture:
        run_pair(
            kamailio,
            scenario,
            new_account(kamailio, "tls", srtp="off"),
            new_account(kamailio, "tls", srtp="off", auto_answer=0.1),
            **pcmu_ua(media=tones),
        )
    payloads = [p for p in capture.rtp_payloads() if len(p) >= 160]
    assert payloads and min(distinct_payload_bytes(p) for p in payloads) < 40


def sniff_one(port: int, timeout: float = 5.0) -> bytes:
    """One UDP payload sent to ``port`` on loopback, taken off the wire with a packet socket (root)."""
    sniffer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    try:
        sniffer.bind(("lo", 0))
        sniffer.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = sniffer.recv(65535)
            if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
                continue
            header = (frame[14] & 0x0F) * 4
            udp = frame[14 + header :]
            if struct.unpack("!H", udp[2:4])[0] == port and len(udp) > 20 and 128 <= udp[8] <= 191:
                return bytes(udp[8:])
        raise AssertionError(f"no RTP to port {port} within {timeout} s")
    finally:
        sniffer.close()


@pytest.mark.parametrize("keys", ["sdes", "dtls"])
def test_injected_forged_and_replayed_packets_are_dropped(kamailio: Kamailio, keys: str) -> None:
    tones = ToneFactory()

    async def scenario(alice: Phone, bob: Phone) -> None:
        call, bob_id = await connect(alice, bob)
        await bob.events.wait(encrypted(bob, bob_id))
        await until(lambda: tones.hears(bob_id, TONE))
        bob_call = bob.ua.find_call(bob_id)
        session = bob_call.media_session
        assert session is not None
        port = bob_call.media_port.port
        genuine = await asyncio.get_running_loop().run_in_executor(None, sniff_one, port)
        attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            plain = RtpPacket(0, 1234, 5678, 0x0BAD, payload=b"\x7f" * 160).to_bytes()
            forged = SrtpTransform("AES_CM_128_HMAC_SHA1_80", os.urandom(30), os.urandom(30)).protect(plain)
            before = session.stats().dropped
            for datagram in (plain, forged, genuine):
                attacker.sendto(datagram, ("127.0.0.1", port))
            await until(lambda: session.stats().dropped["srtp_replay"] > before["srtp_replay"])
            await until(lambda: session.stats().dropped["srtp_auth"] >= before["srtp_auth"] + 2)
        finally:
            attacker.close()
        assert tones.hears(bob_id, TONE)  # never played: the tone goes on undisturbed
        await alice.ua.hangup(call.id)
        await bob.events.wait(call_state("ended"))

    run_pair(
        kamailio,
        scenario,
        srtp_account(kamailio, keys),
        srtp_account(kamailio, keys, auto_answer=0.1),
        **pcmu_ua(media=tones),
    )


def test_reinvite_with_new_keys_mid_call(kamailio: Kamailio) -> None:
    tones = ToneFactory()

    async def scenario(alice: Phone, bob: Phone) -> None:
        call, bob_id = await connect(alice, bob)
        await until(lambda: tones.hears(bob_id, TONE) and tones.hears(call.id, TONE))
        before = call.media.crypto if call.media is not None else None
        assert before is not None
        bob_session = bob.ua.find_call(bob_id).media_session
        assert bob_session is not None
        await alice.ua.rekey(call.id)
        after = call.media.crypto if call.media is not None else None
        assert after is not None and after.local_key != before.local_key and after.remote_key != before.remote_key
        # Both sides decrypt under the new keys: the counter goes on and the tone is still heard.
        count = bob_session.stats().extra["srtp_unprotected"]
        await until(lambda: bob_session.stats().extra["srtp_unprotected"] > count + 50)
        await until(lambda: tones.hears(bob_id, TONE) and tones.hears(call.id, TONE))
        await alice.ua.hangup(call.id)
        await bob.events.wait(call_state("ended"))

    run_pair(
        kamailio,
        scenario,
        srtp_account(kamailio, "sdes"),
        srtp_account(kamailio, "sdes", auto_answer=0.1),
        **pcmu_ua(media=tones),
    )


def test_mandatory_to_a_plain_only_peer_fails_with_a_reason(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone, bob: Phone) -> None:
        await alice.ua.call(bob.user)
        ended = await alice.events.wait(call_state("ended"))
        assert isinstance(ended, CallEvent) and ended.code == 488
        assert "refused encrypted media" in ended.reason
        assert "SRTP is off" in ended.reason  # the peer's Warning says why

    run_pair(kamailio, scenario, srtp_account(kamailio, "sdes"), new_account(kamailio, "tls", srtp="off"))


def test_plain_caller_to_a_mandatory_callee_is_refused(kamailio: Kamailio) -> None:
    async def scenario(alice: Phone, bob: Phone) -> None:
        await alice.ua.call(bob.user)
        ended = await alice.events.wait(call_state("ended"))
        assert isinstance(ended, CallEvent) and ended.code == 488

    run_pair(
        kamailio, scenario, new_account(kamailio, "udp", srtp="off"), new_account(kamailio, "udp", srtp="mandatory")
    )


def test_optional_to_a_plain_only_peer_connects_unencrypted(kamailio: Kamailio) -> None:
    tones = ToneFactory()

    async def scenario(alice: Phone, bob: Phone) -> None:
        call, bob_id = await connect(alice, bob)
        confirmed = [e for e in alice.events.events if isinstance(e, CallEvent) and e.state == "confirmed"]
        assert confirmed[-1].encryption is not None and not confirmed[-1].encryption.encrypted
        assert confirmed[-1].encryption.reason == "the peer answered without encryption"
        await until(lambda: tones.hears(bob_id, TONE))
        await alice.ua.hangup(call.id)

    run_pair(
        kamailio,
        scenario,
        new_account(kamailio, "udp"),
        new_account(kamailio, "udp", srtp="off", auto_answer=0.1),
        **pcmu_ua(media=tones),
    )


def test_optional_over_udp_between_phones_uses_dtls(kamailio: Kamailio) -> None:
    """The default on a UDP account: optional, and no keys in clear SDP, so DTLS-SRTP it is."""
    tones = ToneFactory()

    async def scenario(alice: Phone, bob: Phone) -> None:
        call, bob_id = await connect(alice, bob)
        ready = await alice.events.wait(encrypted(alice, call.id))
        assert isinstance(ready, CallEvent) and ready.encryption is not None
        assert ready.encryption.key_exchange == "dtls" and ready.encryption.suite == "AEAD_AES_256_GCM"
        assert "a=crypto" not in (call.machine.local_sdp.to_bytes().decode() if call.machine.local_sdp else "")
        await until(lambda: tones.hears(bob_id, TONE))
        await alice.ua.hangup(call.id)

    run_pair(
        kamailio,
        scenario,
        new_account(kamailio, "udp"),
        new_account(kamailio, "udp", auto_answer=0.1),
        **pcmu_ua(media=tones),
    )


def test_dtls_peer_that_never_answers_the_handshake_fails_the_call(kamailio: Kamailio) -> None:
    """Bob's media never starts (no media factory): Alice's handshake times out and the call ends, saying why."""

    async def main() -> None:
        alice_account = srtp_account(kamailio, "dtls")
        bob_account = srtp_account(kamailio, "dtls", auto_answer=0.1)
        async with phones(alice_account, media=ToneFactory(), audio=AudioConfig(codecs=[pcmu_codec()])) as (alice,):
            async with phones(bob_account, media=None) as (bob,):
                alice.ua.call_manager.media.dtls_timeout = 1.5
                await alice.ua.call(bob.user)
                ended = await alice.events.wait(call_state("ended"), timeout=15)
                assert isinstance(ended, CallEvent)
                assert "DTLS handshake did not finish within 1.5 s" in ended.reason
                await bob.events.wait(call_state("ended"))

    asyncio.run(main())


def test_call_history_records_the_encryption(kamailio: Kamailio, tmp_path: Path) -> None:
    async def main() -> None:
        with Store(tmp_path / "history.db") as store:
            options = pcmu_ua(media=ToneFactory())
            async with phones(srtp_account(kamailio, "sdes"), store=store, **options) as (alice,):
                async with phones(srtp_account(kamailio, "sdes", auto_answer=0.1), **options) as (bob,):
                    call, _ = await connect(alice, bob)
                    await alice.ua.hangup(call.id)
                    await alice.events.wait(call_state("ended"))
                    await bob.events.wait(call_state("ended"))
            (kept,) = store.history.list()
            assert kept.encrypted is True
            assert kept.encryption == "SRTP AES-GCM-256, keys by SDES over TLS"

    asyncio.run(main())


def test_cli_flags_and_the_encryption_object_of_its_events(kamailio: Kamailio) -> None:
    """softphone-cli --srtp mandatory --srtp-keys dtls: the call and quality events say how the media is protected."""
    options = ("--srtp", "mandatory", "--srtp-keys", "dtls", "--srtp-suites", "AEAD_AES_128_GCM")
    alice = CliProcess(kamailio, *options)
    bob = CliProcess(kamailio, *options, "--auto-answer=0.1")
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"call {bob.user}")
        confirmed = alice.wait_for(event="call", state="confirmed")

        # The first reports may come while the handshake runs (pending); a verified one follows.
        for _ in range(10):
            quality = alice.wait_for(event="quality", call_id=confirmed["call_id"])
            if (quality.get("encryption") or {}).get("verified"):
                break
            alice.events.remove(quality)
        assert quality["encryption"] == {
            "encrypted": True,
            "suite": "AEAD_AES_128_GCM",
            "key_exchange": "dtls",
            "verified": True,
            "pending": False,
            "reason": "",
        }
        calls = [e for e in alice.events if e.get("event") == "call" and (e.get("encryption") or {}).get("verified")]
        assert calls and calls[-1]["call_id"] == confirmed["call_id"]
        alice.send("quit")
        bob.wait_for(event="call", state="ended")
    finally:
        alice.close()
        bob.close()


def test_dtls_certificate_that_does_not_match_the_sdp_fails_the_call(kamailio: Kamailio) -> None:
    """Bob's SDP names one certificate and his media shows another (a man in the middle would): the call ends."""

    async def scenario(alice: Phone, bob: Phone) -> None:
        named, shown = new_identity(), new_identity()
        bob.ua.call_manager.dtls = DtlsIdentities(identity=named)
        bob.ua.call_manager.media.identity = lambda: shown
        await alice.ua.call(bob.user)
        ended = await alice.events.wait(call_state("ended"), timeout=20)
        assert isinstance(ended, CallEvent)
        assert ended.reason == (
            "media encryption failed: the DTLS peer's certificate does not match the fingerprint in its SDP"
        )
        await bob.events.wait(call_state("ended"))

    run_pair(
        kamailio,
        scenario,
        srtp_account(kamailio, "dtls"),
        srtp_account(kamailio, "dtls", auto_answer=0.1),
        **pcmu_ua(media=ToneFactory()),
    )

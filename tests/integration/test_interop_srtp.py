"""SRTP interop with baresip (Debian package), both directions: SDES (mediaenc srtp-mand) and DTLS (dtls_srtp).

The calls are direct, over UDP on loopback. SDES keys then travel in clear SDP,
which the phone does only when told to (``srtp_clear_keys``); DTLS-SRTP needs no
such permission. Each side's tone is checked by FFT at the other: ours in
baresip's sndfile recording, baresip's in our sink.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from softphone.sip.offer_answer import AudioConfig, pcmu_codec
from softphone.ua import Account, CallEvent, IncomingCallEvent
from tests.baresip_peer import Baresip
from tests.integration.test_ua_srtp import TONE, ToneFactory, until
from tests.ua import Recorder, make_ua
from tests.ua.test_media_wiring import dominant_frequency, sip_port, write_tone

THEIR_TONE = 600.0
# "best-effort": SRTP offered inside RTP/AVP (our optional policy, baresip's plain "srtp").
MEDIAENC = {"sdes": "srtp-mand", "dtls": "dtls_srtp", "best-effort": "srtp"}


@pytest.fixture
def baresip_wav(tmp_path: Path) -> Path:
    return write_tone(tmp_path / "baresip.wav", frequency=THEIR_TONE, seconds=60.0, rate=8000)


@pytest.fixture
def peers() -> Iterator[list[Baresip]]:
    made: list[Baresip] = []
    yield made
    for peer in made:
        peer.close()


def heard_by_baresip(peer: Baresip) -> float:
    """The dominant frequency of the last second baresip decoded."""
    (path,) = peer.recordings()
    with wave.open(str(path), "rb") as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768
    assert samples.size > rate // 2, f"baresip recorded {samples.size} samples"
    return dominant_frequency(samples[-rate:], rate)


def account(keys: str) -> Account:
    policy = "optional" if keys == "best-effort" else "mandatory"
    exchange = "sdes" if keys == "best-effort" else keys
    return Account("sip:alice@127.0.0.1", register=False, srtp=policy, srtp_keys=exchange, srtp_clear_keys=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("keys", ["sdes", "dtls", "best-effort"])
@pytest.mark.parametrize("caller", ["softphone", "baresip"])
def test_encrypted_call_with_baresip(keys: str, caller: str, baresip_wav: Path, peers: list[Baresip]) -> None:
    peer = Baresip(baresip_wav, mediaenc=MEDIAENC[keys], answer=caller == "softphone")
    peers.append(peer)
    tones = ToneFactory()

    async def main() -> None:
        ua = make_ua(account(keys), media=tones, audio=AudioConfig(codecs=[pcmu_codec()]))
        events = Recorder(ua)
        await ua.start()
        try:
            if caller == "softphone":
                call_id = (await ua.call(peer.uri)).id
            else:
                peer.command("dial", f"sip:alice@127.0.0.1:{sip_port(ua)}")
                incoming = await events.wait(lambda e: isinstance(e, IncomingCallEvent))
                assert isinstance(incoming, IncomingCallEvent)
                call_id = incoming.call_id
                await ua.answer(call_id)

            def secured(event: object) -> bool:
                return (
                    isinstance(event, CallEvent)
                    and event.call_id == call_id
                    and event.encryption is not None
                    and event.encryption.encrypted
                )

            secure = await events.wait(secured, timeout=15)
            assert isinstance(secure, CallEvent) and secure.encryption is not None
            assert secure.encryption.key_exchange == ("sdes" if keys == "best-effort" else keys)
            if keys == "dtls":
                assert secure.encryption.verified  # baresip's certificate matched its fingerprint
            await until(lambda: tones.hears(call_id, THEIR_TONE), 15)
            await asyncio.get_running_loop().run_in_executor(None, peer.wait, "CALL_ESTABLISHED")
            session = ua.find_call(call_id).media_session
            assert session is not None
            # Every packet baresip protected authenticates. In best-effort mode baresip sends one plain RTCP
            # APP "PING" before its SRTP starts (and a plain RTCP BYE when it stops), which the phone rightly
            # refuses (once in a few dozen SDES calls one packet was refused too, when is not known): the count
            # starts once baresip's protected media flows, and nothing may be refused while 100 more packets come.
            first = session.stats()
            refused = first.dropped["srtp_auth"]
            await until(lambda: session.stats().packets_sent > 100, 15)
            await until(lambda: session.stats().packets_received > first.packets_received + 100, 15)
            assert session.stats().dropped["srtp_auth"] == refused, (refused, session.stats().dropped)
            await ua.hangup(call_id)
            await asyncio.get_running_loop().run_in_executor(None, peer.wait, "CALL_CLOSED")
        finally:
            await ua.stop()

    asyncio.run(main())
    assert abs(heard_by_baresip(peer) - TONE) < 20.0
    log = peer.log()
    if keys != "dtls":
        assert "SRTP is Enabled" in log
    else:
        assert "verified sha-256 fingerprint OK" in log and "DTLS-SRTP complete" in log

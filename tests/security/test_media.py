"""RTP sprayed at a call's port by a stranger, before and after the answer: never heard."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import numpy as np

from softphone.media.codecs import PcmuCodec
from softphone.media.engine import PIPELINE_RATE
from softphone.media.rtp import RtpPacket
from softphone.sip.offer_answer import AudioConfig, pcmu_codec
from softphone.ua import Account, IncomingCallEvent, wav_media
from tests.integration.test_ua_calls import call_state
from tests.security.attacker import ATTACKER
from tests.ua import Recorder, make_ua
from tests.ua.test_media_wiring import read_wav, write_tone

SPRAY_HZ = 2500.0
PEER_HZ = 700.0


def tone_level(samples: np.ndarray, rate: int, frequency: float) -> float:
    """The share of the signal's energy within 40 Hz of ``frequency``."""
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    band = (freqs > frequency - 40) & (freqs < frequency + 40)
    return float(spectrum[band].sum() / max(spectrum.sum(), 1e-12))


class Sprayer:
    """A stranger sending a steady PCMU stream of a 2.5 kHz tone at a port, as a latching attack does."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ATTACKER, 0))
        self.target = target
        codec = PcmuCodec()
        t = np.arange(160) / 8000
        self.payload = codec.encode((np.sin(2 * np.pi * SPRAY_HZ * t) * 12000).astype(np.int16))
        self.sequence = 1000
        self.sent = 0

    def burst(self, count: int) -> None:
        for _ in range(count):
            self.sequence += 1
            packet = RtpPacket(0, self.sequence & 0xFFFF, self.sequence * 160, 0x5A5A5A5A, self.payload)
            self.sock.sendto(packet.to_bytes(), self.target)
            self.sent += 1

    def close(self) -> None:
        self.sock.close()


def test_rtp_sprayed_before_and_after_the_answer_is_never_heard(tmp_path: Path) -> None:
    heard = tmp_path / "alice-heard.wav"
    bob_tone = write_tone(tmp_path / "bob.wav", frequency=PEER_HZ)
    pcmu = AudioConfig(codecs=[pcmu_codec()])

    async def main() -> None:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False), media=wav_media(record=heard), audio=pcmu)
        bob = make_ua(Account("sip:bob@127.0.0.1", register=False), media=wav_media(play=bob_tone), audio=pcmu)
        a_events, b_events = Recorder(alice), Recorder(bob)
        await alice.start()
        await bob.start()
        sprayer: Sprayer | None = None
        try:
            bob_port = bob.stack.transport.local_address("UDP")[1]
            call = await alice.call(f"sip:bob@127.0.0.1:{bob_port}")
            incoming = await b_events.wait(lambda e: isinstance(e, IncomingCallEvent))
            assert isinstance(incoming, IncomingCallEvent) and call.local_sdp is not None
            # The attacker read the port in the INVITE's SDP and sprays it while the call rings.
            sprayer = Sprayer(("127.0.0.1", call.local_sdp.media[0].port))
            for _ in range(10):
                sprayer.burst(5)
                await asyncio.sleep(0.02)
            await bob.answer(incoming.call_id)
            await a_events.wait(call_state("confirmed", call.id))
            # And after the answer, a steady stream with an SSRC of its own.
            for _ in range(60):
                sprayer.burst(1)
                await asyncio.sleep(0.02)
            session = call.media_session
            assert session is not None
            dropped = session.stats().dropped
            assert sum(dropped.values()) >= sprayer.sent // 2, dropped
            await alice.hangup(call.id)
            await b_events.wait(call_state("ended"))
            await alice.wait_media_stopped()
        finally:
            if sprayer is not None:
                sprayer.close()
            await alice.stop()
            await bob.stop()

    asyncio.run(main())
    samples, rate = read_wav(heard)
    assert samples.size > PIPELINE_RATE // 2
    assert tone_level(samples, rate, PEER_HZ) > 0.5, "the real peer is heard"
    assert tone_level(samples, rate, SPRAY_HZ) < 0.01, "the stranger never is"

"""Calls with media through the real Kamailio: user agents, and softphone-cli processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from softphone.media.engine import PIPELINE_RATE
from softphone.sip.offer_answer import AudioConfig, g722_codec, pcma_codec, pcmu_codec
from softphone.ua import DtmfEvent, wav_media
from tests.integration.test_cli import CliProcess
from tests.integration.test_ua_calls import call_state, new_account, registered_and_connected
from tests.integration.test_ua_srtp import ToneFactory, until
from tests.kamailio_server import Kamailio
from tests.ua import Recorder, make_ua
from tests.ua.test_media_wiring import dominant_frequency, quality_events, read_wav, write_tone

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel


def test_tone_through_kamailio_with_pcmu_on_one_side(kamailio: Kamailio, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.wav", seconds=0.5, rate=16000)
    recording = tmp_path / "heard.wav"
    alice_account, bob_account = new_account(kamailio), new_account(kamailio, auto_answer=0.1)

    async def main() -> None:
        alice = make_ua(alice_account, media=wav_media(play=tone))
        bob = make_ua(bob_account, media=wav_media(record=recording), audio=AudioConfig(codecs=[pcmu_codec()]))
        a_events, b_events = Recorder(alice), Recorder(bob)
        try:
            call, incoming = await registered_and_connected(alice, a_events, bob, b_events, bob_account.user)
            assert call.media is not None and call.media.codec.name == "PCMU"
            b_quality = await quality_events(b_events, incoming.call_id, 2)
            a_quality = await quality_events(a_events, call.id, 2)
            assert b_quality[-1].packets_received > 0 and a_quality[-1].packets_sent > 0
            await alice.send_dtmf(call.id, "9")
            dtmf = await b_events.wait(lambda e: isinstance(e, DtmfEvent))
            assert isinstance(dtmf, DtmfEvent) and dtmf.method == "rtp" and dtmf.digit == "9"
            await alice.hangup(call.id)
            await b_events.wait(call_state("ended"))
            await bob.wait_media_stopped()
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())
    samples, rate = read_wav(recording)
    assert samples.size > PIPELINE_RATE
    last = samples[-PIPELINE_RATE:]
    assert float(np.sqrt(np.mean(last**2))) > 0.02
    assert abs(dominant_frequency(last, rate) - 1000.0) < 20.0


def test_g722_call_through_kamailio_carries_wideband_tones_both_ways(kamailio: Kamailio) -> None:
    """A phone without Opus (G.722, then G.711) answers a default phone: G.722 wins, 6 and 5 kHz get through."""
    alice_account, bob_account = new_account(kamailio), new_account(kamailio, auto_answer=0.1)
    alice_tones, bob_tones = ToneFactory(6000.0), ToneFactory(5000.0)

    async def main() -> None:
        alice = make_ua(alice_account, media=alice_tones)
        bob = make_ua(
            bob_account, media=bob_tones, audio=AudioConfig(codecs=[g722_codec(), pcmu_codec(), pcma_codec()])
        )
        a_events, b_events = Recorder(alice), Recorder(bob)
        try:
            call, incoming = await registered_and_connected(alice, a_events, bob, b_events, bob_account.user)
            bob_call = bob.find_call(incoming.call_id)
            for media in (call.media, bob_call.media):
                assert media is not None
                assert (media.codec.name, media.codec.clock_rate, media.payload_type) == ("G722", 8000, 9)
            await until(lambda: bob_tones.hears(incoming.call_id, 6000.0) and alice_tones.hears(call.id, 5000.0), 15)
            await alice.send_dtmf(call.id, "7")
            dtmf = await b_events.wait(lambda e: isinstance(e, DtmfEvent))
            assert isinstance(dtmf, DtmfEvent) and dtmf.method == "rtp" and dtmf.digit == "7"
            for ua, call_id in ((alice, call.id), (bob, incoming.call_id)):
                session = ua.find_call(call_id).media_session
                assert session is not None
                stats = session.stats()
                assert stats.failures == 0 and stats.decode_errors == 0 and stats.frames_decoded > 0
            await alice.hangup(call.id)
            await b_events.wait(call_state("ended"))
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())


def test_cli_plays_and_records_with_quality_events(kamailio: Kamailio, tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.wav")
    recording = tmp_path / "heard.wav"
    alice = CliProcess(kamailio, "--play", str(tone), audio=())
    bob = CliProcess(kamailio, "--record", str(recording), "--auto-answer=0.1", audio=())
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"call {bob.user}")
        confirmed = alice.wait_for(event="call", state="confirmed")
        bob_call = bob.wait_for(event="call", state="confirmed")
        quality = bob.wait_for(event="quality", call_id=bob_call["call_id"])
        assert set(quality) >= {"packets_sent", "packets_received", "loss_percent", "jitter_ms", "mos"}
        alice.wait_for(event="quality", call_id=confirmed["call_id"])
        # A second report from bob: about two seconds of audio recorded.
        bob.events.remove(quality)
        bob.wait_for(event="quality", call_id=bob_call["call_id"])
        alice.send(f"hangup {confirmed['call_id']}")
        bob.wait_for(event="call", state="ended")
        alice.send("quit")
        bob.send("quit")
        assert alice.proc.wait(timeout=15) == 0
        assert bob.proc.wait(timeout=15) == 0
    finally:
        alice.close()
        bob.close()
    assert not [e for e in alice.events + bob.events if e.get("event") == "media_warning"]
    samples, rate = read_wav(recording)
    assert samples.size > PIPELINE_RATE // 2
    last = samples[-PIPELINE_RATE // 2 :]
    assert abs(dominant_frequency(last, rate) - 1000.0) < 20.0


def test_cli_codecs_g722_plays_and_records_wideband_both_ways(kamailio: Kamailio, tmp_path: Path) -> None:
    """softphone-cli --codecs: a G.722-only callee, a caller preferring G.722; 6 and 5 kHz cross in WAV files."""
    heard = {"alice": tmp_path / "alice-heard.wav", "bob": tmp_path / "bob-heard.wav"}
    alice = CliProcess(
        kamailio,
        "--codecs",
        "g722,pcmu",
        "--play",
        str(write_tone(tmp_path / "six.wav", 6000.0, rate=16000)),
        "--record",
        str(heard["alice"]),
        audio=(),
    )
    bob = CliProcess(
        kamailio,
        "--codecs",
        "G722",
        "--play",
        str(write_tone(tmp_path / "five.wav", 5000.0)),
        "--record",
        str(heard["bob"]),
        "--auto-answer=0.1",
        audio=(),
    )
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"call {bob.user}")
        confirmed = alice.wait_for(event="call", state="confirmed")
        bob_call = bob.wait_for(event="call", state="confirmed")
        # Two quality reports from each: about two seconds recorded on both sides.
        for cli, call_id in ((alice, confirmed["call_id"]), (bob, bob_call["call_id"])):
            cli.events.remove(cli.wait_for(event="quality", call_id=call_id))
            cli.wait_for(event="quality", call_id=call_id)
        alice.send(f"hangup {confirmed['call_id']}")
        bob.wait_for(event="call", state="ended")
        alice.send("quit")
        bob.send("quit")
        assert alice.proc.wait(timeout=15) == 0
        assert bob.proc.wait(timeout=15) == 0
    finally:
        alice.close()
        bob.close()
    for who, frequency in (("alice", 5000.0), ("bob", 6000.0)):
        samples, rate = read_wav(heard[who])
        assert samples.size > PIPELINE_RATE // 2, who
        last = samples[-PIPELINE_RATE // 2 :]
        assert float(np.sqrt(np.mean(last**2))) > 0.02, who
        assert abs(dominant_frequency(last, rate) - frequency) < 20.0, who


def test_cli_no_audio_streams_silence_and_sends_rtp_dtmf(kamailio: Kamailio) -> None:
    """--no-audio still streams (silence): quality events come and DTMF goes as telephone-events."""
    alice = CliProcess(kamailio)
    bob = CliProcess(kamailio, "--auto-answer=0.1")
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"call {bob.user}")
        confirmed = alice.wait_for(event="call", state="confirmed")
        alice.wait_for(event="quality", call_id=confirmed["call_id"])
        alice.send(f"dtmf {confirmed['call_id']} 5")
        digit = bob.wait_for(event="dtmf")
        assert digit["digit"] == "5" and digit["method"] == "rtp"
        alice.send("quit")
        assert alice.proc.wait(timeout=15) == 0
        bob.wait_for(event="call", state="ended")
    finally:
        alice.close()
        bob.close()

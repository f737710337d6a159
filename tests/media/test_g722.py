"""G.722: the codec through FFmpeg (tones by FFT, garbage payloads), and a media session on the wire."""

from __future__ import annotations

import itertools
import random
import socket
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from softphone.media.codecs import G722Codec, codec_for
from softphone.media.engine import PIPELINE_RATE, ArraySink, MediaSession, ToneSource
from softphone.media.errors import MediaError
from softphone.media.rtp import RtpPacket
from softphone.sip.offer_answer import Codec, g722_codec, pcmu_codec
from tests.media.test_engine import LOOPBACK, dominant_frequency, even_socket, negotiated, rms, wait_until

RATE = 16000
FRAME = RATE * 20 // 1000


def tone(frequency: float, seconds: float = 1.0, level: float = 0.3) -> npt.NDArray[np.int16]:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.rint(level * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def peak(samples: npt.NDArray[np.int16] | npt.NDArray[np.float32], rate: int) -> tuple[float, float]:
    """The dominant frequency and how much of the energy lies within 50 Hz of it."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(samples.size))) ** 2
    spectrum[:5] = 0.0
    freqs = np.fft.rfftfreq(samples.size, 1.0 / rate)
    top = float(freqs[int(np.argmax(spectrum))])
    near = np.abs(freqs - top) <= 50.0
    return top, float(spectrum[near].sum() / spectrum.sum())


@pytest.mark.parametrize("frequency", [1000.0, 6000.0])
def test_round_trip_keeps_the_tone(frequency: float) -> None:
    encoder, decoder = codec_for("G722", 8000, 1), codec_for("g722", 8000, 1)
    assert isinstance(encoder, G722Codec) and isinstance(decoder, G722Codec)
    assert (encoder.clock_rate, encoder.sample_rate, encoder.frame_samples(20)) == (8000, 16000, 320)
    pcm = tone(frequency)
    payloads = [encoder.encode(pcm[i : i + FRAME]) for i in range(0, pcm.size, FRAME)]
    assert {len(p) for p in payloads} == {160}  # 64 kbit/s: one octet per sample pair
    out = np.concatenate([decoder.decode(p) for p in payloads])
    assert out.dtype == np.int16 and out.size == pcm.size
    top, share = peak(out[RATE // 2 :], RATE)
    assert abs(top - frequency) < 10.0 and share > 0.95, (top, share)
    level = float(np.sqrt(np.mean(out[RATE // 2 :].astype(np.float64) ** 2)))
    assert 0.7 < level / (0.3 * 32767 / np.sqrt(2)) < 1.3


def test_other_ptimes_keep_the_sample_pairs() -> None:
    encoder, decoder = G722Codec(), G722Codec()
    for ptime in (10, 30, 20):
        frame = encoder.frame_samples(ptime)
        payload = encoder.encode(tone(1000.0, ptime / 1000))
        assert len(payload) == frame // 2
        assert decoder.decode(payload).size == frame
    with pytest.raises(MediaError):
        encoder.encode(np.zeros(321, dtype=np.int16))


def test_garbage_payloads_decode_and_the_decoder_recovers() -> None:
    decoder, encoder = G722Codec(), G722Codec()
    rng = random.Random(722)
    for _ in range(300):
        garbage = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400)))
        pcm = decoder.decode(garbage)
        assert pcm.dtype == np.int16 and pcm.size == 2 * len(garbage)
    with pytest.raises(MediaError):
        decoder.decode(b"")
    concealed = decoder.conceal(FRAME)
    assert concealed.size == FRAME
    # Good packets again: the ADPCM state adapts back and the tone comes through.
    out = np.concatenate([decoder.decode(encoder.encode(f)) for f in tone(1000.0).reshape(-1, FRAME)])
    top, share = peak(out[RATE // 2 :], RATE)
    assert abs(top - 1000.0) < 10.0 and share > 0.95


def test_concealment_repeats_then_fades_to_silence() -> None:
    decoder, encoder = G722Codec(), G722Codec()
    assert not decoder.conceal(FRAME).any()  # nothing heard yet
    for frame in tone(1000.0, 0.2).reshape(-1, FRAME):
        last = decoder.decode(encoder.encode(frame))
    first = decoder.conceal(FRAME)
    assert np.abs(first[:16].astype(int) - last[:16].astype(int)).max() < 200  # repeats the last frame
    assert decoder.decode_fec(b"\x00" * 160, FRAME).size == FRAME  # no redundancy: concealment again
    assert np.abs(decoder.conceal(FRAME)).max() < np.abs(first).max()  # fading
    assert not decoder.conceal(FRAME).any()  # after 60 ms of concealment: silence


def test_media_session_speaks_g722_on_the_wire() -> None:
    """Payload type 9, 160 octets and 160 timestamp ticks per 20 ms packet; garbage payloads are survived."""
    ours = even_socket()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((LOOPBACK, 0))
    peer.settimeout(5.0)
    sink = ArraySink()
    session = MediaSession(ours, negotiated(g722_codec(), peer.getsockname()), ToneSource(1000.0), sink, seed=1)
    session.start()
    try:
        packets: list[RtpPacket] = []
        while len(packets) < 10:
            data, _ = peer.recvfrom(2048)
            if len(data) >= 12 and data[1] & 0x7F == 9:
                packets.append(RtpPacket.parse(data))
        # RFC 3551 4.5.2: the RTP clock runs at 8000 Hz, so 20 ms (320 samples, 160 octets) is 160 ticks.
        steps = {(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)}
        assert 160 in steps and all(step % 160 == 0 and step < 8000 for step in steps), steps
        assert {len(p.payload) for p in packets} == {160}
        decoder = G722Codec()
        heard = np.concatenate([decoder.decode(p.payload) for p in packets])
        assert abs(peak(heard[FRAME:], RATE)[0] - 1000.0) < 30.0

        # What the peer sends: first garbage in well-formed RTP, then a 6 kHz tone.
        target = session.local_address
        rng = random.Random(9)
        ssrc, seq, ts = 0x722, 1, 0
        for _ in range(25):
            payload = bytes(rng.getrandbits(8) for _ in range(rng.choice((1, 7, 160, 161, 320))))
            peer.sendto(RtpPacket(9, seq, ts, ssrc, payload).to_bytes(), (target[0], target[1]))
            seq, ts = seq + 1, ts + 160
            time.sleep(0.02)
        assert wait_until(lambda: session.stats().frames_decoded >= 20, 3.0), session.stats()
        encoder = G722Codec()
        for frame in tone(6000.0, 1.5).reshape(-1, FRAME):
            peer.sendto(RtpPacket(9, seq, ts, ssrc, encoder.encode(frame)).to_bytes(), (target[0], target[1]))
            seq, ts = seq + 1, ts + 160
            time.sleep(0.02)
        tail = sink.samples(PIPELINE_RATE)
        assert abs(dominant_frequency(tail) - 6000.0) < 30.0 and rms(tail) > 0.05
        stats = session.stats()
        assert stats.failures == 0 and session.running
    finally:
        session.stop()
        peer.close()


@pytest.mark.parametrize(("codec", "carried"), [(g722_codec, True), (pcmu_codec, False)])
def test_six_khz_needs_wideband(codec: Callable[[], Codec], carried: bool) -> None:
    """The same 6 kHz tone through a whole media session: G.722 carries it, G.711's 8 kHz sampling cannot."""
    made = codec()
    sock_a, sock_b = even_socket(), even_socket()
    sink = ArraySink()
    sender = MediaSession(sock_a, negotiated(made, sock_b.getsockname()), ToneSource(6000.0), ArraySink(), seed=1)
    receiver = MediaSession(sock_b, negotiated(made, sock_a.getsockname()), ToneSource(600.0), sink, seed=2)
    receiver.start()
    sender.start()
    try:
        assert wait_until(lambda: receiver.stats().frames_decoded > 40, 5.0)
        tail = sink.samples(PIPELINE_RATE // 2)
        if carried:
            assert abs(dominant_frequency(tail) - 6000.0) < 30.0 and rms(tail) > 0.1
        else:
            assert rms(tail) < 0.01
    finally:
        sender.stop()
        receiver.stop()

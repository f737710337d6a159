"""G.711 bit-exactness, G.711 concealment, Opus behaviour and SDP mapping."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from softphone.media.codecs import (
    ALAW_DECODE_TABLE,
    ALAW_ENCODE_TABLE,
    ULAW_DECODE_TABLE,
    ULAW_ENCODE_TABLE,
    Codec,
    OpusCodec,
    PcmaCodec,
    PcmuCodec,
    alaw_decode,
    alaw_encode,
    codec_for,
    ulaw_decode,
    ulaw_encode,
)
from softphone.media.errors import MediaError

# ---------------------------------------------------------------------------
# Straightforward per-sample G.711 reference (segment search over the tables)
# ---------------------------------------------------------------------------

# G.711 Table 2a: µ-law segment end points on the 14-bit biased magnitude scale.
_ULAW_SEG_END = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
# G.711 Table 1a: A-law segment end points on the 11-bit magnitude scale.
_ALAW_SEG_END = (0x0F, 0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF)


def ref_ulaw_encode(x: int) -> int:
    magnitude = (~x if x < 0 else x) >> 2  # 14-bit, one's complement for negatives
    magnitude = min(magnitude + 33, 0x1FFF)  # bias 33 (= 0x84 >> 2), clip at the top
    seg = 0
    while magnitude > _ULAW_SEG_END[seg]:
        seg += 1
    mantissa = (magnitude >> (seg + 1)) & 0x0F
    code = (seg << 4) | mantissa
    if x < 0:
        code |= 0x80
    return code ^ 0xFF


def ref_ulaw_decode(code: int) -> int:
    code ^= 0xFF
    seg = (code >> 4) & 7
    mantissa = code & 0x0F
    value = ((2 * mantissa + 33) << seg) - 33  # 14-bit interval midpoint minus bias
    value <<= 2
    return -value if code & 0x80 else value


def ref_alaw_encode(x: int) -> int:
    magnitude = (~x if x < 0 else x) >> 4  # 12-bit sign-magnitude input, magnitude 0..2047
    seg = 0
    while magnitude > _ALAW_SEG_END[seg]:
        seg += 1
    mantissa = (magnitude >> max(seg - 1, 0)) & 0x0F  # segments 0 and 1 share the step size
    code = (seg << 4) | mantissa
    if x >= 0:
        code |= 0x80
    return code ^ 0x55


def ref_alaw_decode(code: int) -> int:
    code ^= 0x55
    seg = (code >> 4) & 7
    mantissa = code & 0x0F
    if seg == 0:
        value = (2 * mantissa + 1) << 3
    else:
        value = (2 * mantissa + 33) << (seg + 2)
    return value if code & 0x80 else -value


def test_reference_alaw_segments_match_g711_table() -> None:
    # Sanity of the reference itself: the A-law magnitude 16..31 is segment 1.
    assert ref_alaw_encode(16 << 4) ^ 0x55 == 0x80 | 0x10
    assert ref_alaw_encode(32 << 4) ^ 0x55 == 0x80 | 0x20
    assert ref_alaw_encode(0x7FF << 4) ^ 0x55 == 0xFF


def test_ulaw_encode_table_is_bit_exact_for_all_inputs() -> None:
    expected = np.array([ref_ulaw_encode(x) for x in range(-32768, 32768)], dtype=np.uint8)
    pcm = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    assert np.array_equal(ULAW_ENCODE_TABLE[pcm.view(np.uint16)], expected)
    assert ULAW_ENCODE_TABLE.shape == (65536,)


def test_alaw_encode_table_is_bit_exact_for_all_inputs() -> None:
    expected = np.array([ref_alaw_encode(x) for x in range(-32768, 32768)], dtype=np.uint8)
    pcm = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    assert np.array_equal(ALAW_ENCODE_TABLE[pcm.view(np.uint16)], expected)


def test_decode_tables_are_bit_exact_for_all_codes() -> None:
    assert [int(v) for v in ULAW_DECODE_TABLE] == [ref_ulaw_decode(c) for c in range(256)]
    assert [int(v) for v in ALAW_DECODE_TABLE] == [ref_alaw_decode(c) for c in range(256)]


def test_known_values() -> None:
    zero = np.zeros(1, dtype=np.int16)
    assert ulaw_encode(zero) == b"\xff"
    assert alaw_encode(zero) == b"\xd5"
    assert int(ulaw_decode(b"\xff")[0]) == 0
    assert int(ulaw_decode(b"\x00")[0]) == -32124
    assert int(ulaw_decode(b"\x80")[0]) == 32124
    assert int(alaw_decode(b"\xd5")[0]) == 8
    assert int(alaw_decode(b"\xaa")[0]) == 32256
    assert int(alaw_decode(b"\x2a")[0]) == -32256


@pytest.mark.parametrize(("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_decode_of_encode_is_idempotent(encode: object, decode: object) -> None:
    # Every code decodes to a value that re-encodes to an equivalent code (G.711 is a quantiser).
    assert callable(encode) and callable(decode)
    values = decode(bytes(range(256)))
    assert np.array_equal(decode(encode(values)), values)


@pytest.mark.parametrize("codec_type", [PcmuCodec, PcmaCodec])
def test_g711_codec_roundtrip_snr(codec_type: type[PcmuCodec] | type[PcmaCodec]) -> None:
    codec = codec_type()
    n = codec.frame_samples(20)
    assert n == 160
    t = np.arange(n)
    pcm = np.rint(10000 * np.sin(2 * np.pi * 1000 * t / 8000)).astype(np.int16)
    payload = codec.encode(pcm)
    assert len(payload) == n
    out = codec.decode(payload)
    assert out.dtype == np.int16
    err = out.astype(np.float64) - pcm
    snr = 10 * np.log10(np.sum(pcm.astype(np.float64) ** 2) / np.sum(err**2))
    assert snr > 30  # G.711 gives about 38 dB for a loud tone


def test_g711_concealment_fades_to_silence() -> None:
    codec = PcmuCodec()
    pcm = np.full(160, 8000, dtype=np.int16)
    decoded = codec.decode(codec.encode(pcm))
    frames = [codec.conceal(160) for _ in range(5)]
    first = frames[0].astype(np.float64)
    assert abs(first[0] - decoded[0]) <= 1  # starts at the last frame's level
    energy = [float(np.sum(f.astype(np.float64) ** 2)) for f in frames]
    assert energy[0] > energy[1] > energy[2] > 0
    assert energy[3] == energy[4] == 0
    joined = np.concatenate(frames).astype(np.float64)
    assert np.max(np.abs(np.diff(joined))) < 200  # a ramp, not steps
    # A good frame resets concealment.
    codec.decode(codec.encode(pcm))
    assert np.max(np.abs(codec.conceal(160))) > 7000


def test_g711_conceal_before_any_frame_is_silence() -> None:
    assert not np.any(PcmaCodec().conceal(160))


def test_g711_rejects_bad_input() -> None:
    codec = PcmuCodec()
    with pytest.raises(MediaError):
        codec.encode(np.zeros(160, dtype=np.float32))
    with pytest.raises(MediaError):
        codec.frame_samples(0)


# ---------------------------------------------------------------------------
# Opus
# ---------------------------------------------------------------------------


def _sine(freq: float, n: int, rate: int = 48000, amp: float = 8000) -> npt.NDArray[np.int16]:
    t = np.arange(n)
    return np.rint(amp * np.sin(2 * np.pi * freq * t / rate)).astype(np.int16)


def _encode_all(codec: OpusCodec, pcm: npt.NDArray[np.int16], frame: int = 960) -> list[bytes]:
    return [codec.encode(pcm[i : i + frame]) for i in range(0, pcm.size, frame)]


def test_opus_sine_roundtrip_frequency_and_correlation() -> None:
    codec = OpusCodec()
    assert (codec.clock_rate, codec.sample_rate, codec.frame_samples(20)) == (48000, 48000, 960)
    pcm = _sine(1000, 960 * 25)
    out = np.concatenate([codec.decode(p) for p in _encode_all(codec, pcm)]).astype(np.float64)
    assert out.size == pcm.size
    tail = out[-960 * 10 :]
    spectrum = np.abs(np.fft.rfft(tail * np.hanning(tail.size)))
    peak_hz = np.argmax(spectrum) * 48000 / tail.size
    assert abs(peak_hz - 1000) < 10
    # Align for the codec delay, then compare.
    ref = pcm.astype(np.float64)
    best = max(
        float(np.corrcoef(out[960 * 5 + d : 960 * 20 + d], ref[960 * 5 : 960 * 20])[0, 1]) for d in range(0, 800)
    )
    assert best > 0.98


def test_opus_fec_beats_concealment() -> None:
    frame = 960
    rng = np.random.default_rng(7)
    t = np.arange(frame * 30)
    # A voiced-like signal: harmonics of a slowly varying pitch plus a little noise.
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.7 * t / 48000)
    phase = 2 * np.cumsum(np.pi * f0 / 48000)
    signal = sum(np.sin(k * phase) / k for k in range(1, 8)) * 6000 + rng.normal(0, 200, t.size)
    pcm = np.rint(signal).astype(np.int16)
    encoder = OpusCodec(expected_loss=20)
    packets = _encode_all(encoder, pcm, frame)

    def run(lost: int, use_fec: bool) -> npt.NDArray[np.float64]:
        decoder = OpusCodec()
        out = []
        for i, packet in enumerate(packets):
            if i == lost:
                out.append(decoder.decode_fec(packets[i + 1], frame) if use_fec else decoder.conceal(frame))
            else:
                out.append(decoder.decode(packet))
        return np.concatenate(out).astype(np.float64)

    clean = run(-1, False)
    lost = 15
    window = slice(lost * frame, (lost + 1) * frame)
    err_fec = float(np.sum((run(lost, True)[window] - clean[window]) ** 2))
    err_plc = float(np.sum((run(lost, False)[window] - clean[window]) ** 2))
    assert err_fec < err_plc * 0.5


def test_opus_dtx_gives_tiny_packets_on_silence() -> None:
    codec = OpusCodec(dtx=True)
    packets = _encode_all(codec, np.zeros(960 * 30, dtype=np.int16))
    assert max(len(p) for p in packets[10:]) <= 3
    assert all(codec.decode(p).size == 960 for p in packets if p)


def test_opus_bitrate_changes_packet_size() -> None:
    rng = np.random.default_rng(1)
    pcm = np.rint(rng.normal(0, 4000, 960 * 20)).astype(np.int16)
    sizes = []
    for bitrate in (12000, 64000):
        codec = OpusCodec()
        codec.set_bitrate(bitrate)
        assert codec.bitrate == bitrate
        sizes.append(np.mean([len(p) for p in _encode_all(codec, pcm)[5:]]))
    assert sizes[1] > 2 * sizes[0]


def test_opus_adaptation_and_validation() -> None:
    codec = OpusCodec()
    codec.set_expected_loss(15)
    with pytest.raises(MediaError):
        codec.set_expected_loss(101)
    with pytest.raises(MediaError):
        codec.set_bitrate(1000)
    with pytest.raises(MediaError):
        codec.encode(np.zeros(100, dtype=np.int16))
    with pytest.raises(MediaError):
        codec.decode(b"")
    with pytest.raises(MediaError):
        codec.decode(b"\xff\xff\xff")  # a code-3 packet with no frame count byte content
    with pytest.raises(MediaError):
        codec.frame_samples(7)
    assert codec.conceal(960).size == 960
    assert codec.decode_fec(b"", 480).size == 480


def test_opus_other_sample_rate() -> None:
    codec = OpusCodec(sample_rate=16000)
    assert codec.frame_samples(20) == 320
    out = codec.decode(codec.encode(_sine(500, 320, rate=16000)))
    assert out.size == 320


# ---------------------------------------------------------------------------
# SDP mapping
# ---------------------------------------------------------------------------


def test_codec_for_sdp_names() -> None:
    pcmu = codec_for("PCMU", 8000, 1, {})
    pcma = codec_for("pcma", 8000, 1, {})
    opus = codec_for("opus", 48000, 2, {"maxaveragebitrate": "20000", "usedtx": "1"})
    assert isinstance(pcmu, PcmuCodec) and isinstance(pcma, PcmaCodec) and isinstance(opus, OpusCodec)
    assert isinstance(opus, Codec)
    assert opus.bitrate == 20000
    assert opus.supports_fec and not pcmu.supports_fec


def test_maxplaybackrate_limits_bandwidth() -> None:
    rng = np.random.default_rng(5)
    noise = np.rint(rng.normal(0, 6000, 960 * 20)).astype(np.int16)

    def high_band_energy(codec: Codec) -> float:
        decoder = OpusCodec()
        out = np.concatenate([decoder.decode(codec.encode(noise[i : i + 960])) for i in range(0, noise.size, 960)])
        spectrum = np.abs(np.fft.rfft(out[960 * 5 :].astype(np.float64))) ** 2
        freqs = np.fft.rfftfreq(out.size - 960 * 5, 1 / 48000)
        return float(np.sum(spectrum[freqs > 5000]) / np.sum(spectrum))

    narrow = codec_for("opus", 48000, 2, {"maxplaybackrate": "8000"})
    full = codec_for("opus", 48000, 2, {})
    assert high_band_energy(narrow) < 0.01 < high_band_energy(full)
    assert PcmuCodec.static_payload_type == 0 and PcmaCodec.static_payload_type == 8
    assert OpusCodec.static_payload_type is None


@pytest.mark.parametrize(
    ("name", "rate", "channels"),
    [("telephone-event", 8000, 1), ("PCMU", 16000, 1), ("opus", 16000, 2), ("G729", 8000, 1)],
)
def test_codec_for_rejects(name: str, rate: int, channels: int) -> None:
    with pytest.raises(MediaError):
        codec_for(name, rate, channels, {})


def test_codec_for_bad_fmtp() -> None:
    with pytest.raises(MediaError):
        codec_for("opus", 48000, 2, {"maxaveragebitrate": "lots"})


@pytest.mark.parametrize("kind", ["int16", "float"])
def test_opus_direct_calls_give_what_opuslib_gives(kind: str) -> None:
    """Encode and decode go to libopus without opuslib's per-call buffers, the pipeline's float samples
    through its float API: the same octets and samples as opuslib's calls."""
    ours, reference = OpusCodec(), OpusCodec()
    encoder, decoder = reference._lib._encoder, reference._lib._decoder
    rng = np.random.default_rng(7)
    t = np.arange(48000 * 2) / 48000
    speechlike = 0.2 * np.sin(2 * np.pi * 300 * t * (1 + 0.3 * np.sin(2 * np.pi * 0.7 * t))) + rng.normal(
        0, 0.02, t.size
    )
    if kind == "int16":
        signal: npt.NDArray[Any] = (speechlike * 30000).astype(np.int16)
        encode, reference_encode = ours.encode, encoder.encode
        decode, conceal, decode_fec = ours.decode, ours.conceal, ours.decode_fec
        reference_decode, dtype = decoder.decode, np.int16
    else:
        signal = speechlike.astype(np.float32)
        encode, reference_encode = ours.encode_float, encoder.encode_float
        decode, conceal, decode_fec = ours.decode_float, ours.conceal_float, ours.decode_fec_float
        reference_decode, dtype = decoder.decode_float, np.float32
    packets = []
    for start in range(0, signal.size - 960 + 1, 960):
        frame = signal[start : start + 960]
        packet = encode(frame)
        assert packet == bytes(reference_encode(frame.tobytes(), 960))
        packets.append(packet)
    for index, packet in enumerate(packets):
        if index % 7 == 3:
            got, want = conceal(960), reference_decode(b"", 960)
        elif index % 7 == 4:
            got, want = decode_fec(packet, 960), reference_decode(packet, 960, decode_fec=True)
        else:
            got, want = decode(packet), reference_decode(packet, 5760)
        assert got.dtype == dtype
        assert np.array_equal(got, np.frombuffer(bytes(want), dtype=dtype))


def test_float_and_int16_paths_agree() -> None:
    """The float methods hear what the int16 ones do: Opus alike (its encoder's choices move with a 16-bit
    quantisation of the input, so not to the sample), G.711 exactly."""
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(960 * 10) / 48000)).astype(np.float32)
    as_int16 = np.clip(np.rint(samples.astype(np.float64) * 32767), -32768, 32767).astype(np.int16)
    by_float, by_int = OpusCodec(), OpusCodec()
    heard_float = np.concatenate(
        [by_float.decode_float(by_float.encode_float(samples[s : s + 960])) for s in range(0, samples.size, 960)]
    )
    heard_int = np.concatenate(
        [by_int.decode(by_int.encode(as_int16[s : s + 960])) for s in range(0, samples.size, 960)]
    ).astype(np.float64)
    assert float(np.corrcoef(heard_float, heard_int)[0, 1]) > 0.999
    assert float(np.max(np.abs(heard_float - heard_int / 32768))) < 0.03
    narrow = samples[::6].copy()
    pcmu = PcmuCodec()
    assert pcmu.encode_float(narrow) == pcmu.encode(
        np.clip(np.rint(narrow.astype(np.float64) * 32767), -32768, 32767).astype(np.int16)
    )
    payload = pcmu.encode_float(narrow)
    assert np.array_equal(pcmu.decode_float(payload), pcmu.decode(payload).astype(np.float32) / 32768)
    assert pcmu.conceal_float(160).dtype == np.float32


def test_opus_float_input_is_checked() -> None:
    codec = OpusCodec()
    with pytest.raises(MediaError):
        codec.encode_float(np.zeros(960, dtype=np.float64))  # type: ignore[arg-type]
    with pytest.raises(MediaError):
        codec.encode_float(np.zeros(1000, dtype=np.float32))
    with pytest.raises(MediaError):
        codec.decode_float(b"")


def test_opus_float_encoder_survives_a_frame_of_nan_and_infinity() -> None:
    """Float samples reach libopus unchecked: a broken frame (NaN, infinity) must not spoil the stream after it."""
    encoder, decoder = OpusCodec(), OpusCodec()
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(960 * 20) / 48000)).astype(np.float32)
    broken = tone[:960].copy()
    broken[100:200] = np.nan
    broken[300] = np.inf
    heard = np.concatenate(
        [
            decoder.decode_float(encoder.encode_float(broken if i == 5 else tone[i * 960 : (i + 1) * 960]))
            for i in range(20)
        ]
    )
    assert np.isfinite(heard).all()
    tail = heard[-960 * 5 :].astype(np.float64)
    assert 0.15 < float(np.sqrt(np.mean(tail**2))) < 0.3  # the tone again (its RMS is 0.21)

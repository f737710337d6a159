"""Audio sources and sinks of the media pipeline: tones, silence, arrays, WAV files."""

from __future__ import annotations

import os

import numpy as np

from softphone.media.sources import PIPELINE_RATE, ArraySink, SilenceSource, ToneSource, wav_sink, wav_source
from tests.media.test_engine import dominant_frequency


def test_array_sink_grows_and_keeps_order() -> None:
    sink = ArraySink(initial_seconds=0.001)
    for value in range(10):
        sink.write(np.full(100, value, dtype=np.float32))
    data = sink.samples()
    assert len(sink) == 1000 and data.size == 1000
    assert data[0] == 0 and data[-1] == 9
    assert np.array_equal(sink.samples(100), np.full(100, 9, dtype=np.float32))


def test_tone_and_silence_sources() -> None:
    tone = ToneSource(1000.0).read(4800)
    assert tone.dtype == np.float32 and tone.size == 4800
    assert abs(dominant_frequency(tone) - 1000.0) < 15
    silence = SilenceSource().read(960)
    assert silence.dtype == np.float32 and not silence.any()


def test_wav_adapters_round_trip(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "tone.wav")
    sink = wav_sink(path)
    sink.write(ToneSource(800.0).read(PIPELINE_RATE // 2))
    sink.close()  # type: ignore[attr-defined]
    source = wav_source(path, loop=True)
    block = source.read(PIPELINE_RATE // 4)
    assert block.size == PIPELINE_RATE // 4
    assert abs(dominant_frequency(block) - 800.0) < 15


def test_engine_still_exports_the_pipeline_names() -> None:
    # softphone.ua imports these from the engine module.
    from softphone.media import engine, events, parameters, sources

    for name in ("PIPELINE_RATE", "ArraySink", "AudioSink", "AudioSource", "NullSink", "SilenceSource", "ToneSource"):
        assert getattr(engine, name) is getattr(sources, name)
    assert engine.wav_source is sources.wav_source and engine.wav_sink is sources.wav_sink
    for name in ("DtmfReceived", "MediaEvent", "MediaFailure", "OneWayAudio", "RemoteBye"):
        assert getattr(engine, name) is getattr(events, name)
    assert engine.MediaParameters is parameters.MediaParameters
    assert engine.CodecDescription is parameters.CodecDescription
    assert set(engine.__all__) >= {"MediaSession", "SessionStats"}

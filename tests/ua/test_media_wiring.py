"""Two user agents calling each other directly on loopback, with real media sessions."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from softphone.cli import build_parser, describe, media_for
from softphone.media.audio import AudioStream
from softphone.media.engine import PIPELINE_RATE, ArraySink, NullSink, SilenceSource, ToneSource
from softphone.ua import (
    Account,
    CallAudio,
    CallEvent,
    DtmfEvent,
    Event,
    IncomingCallEvent,
    MediaWarningEvent,
    QualityEvent,
    RecordingEvent,
    UserAgent,
    UserAgentError,
    device_media,
    silence_media,
    wav_media,
)
from softphone.ua.media import _CaptureSource, _PlaybackSink
from tests.ua import Recorder, make_ua


def write_tone(path: Path, frequency: float = 1000.0, seconds: float = 1.0, rate: int = PIPELINE_RATE) -> Path:
    """A 16-bit mono WAV of a sine at about -12 dBFS."""
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.25 * 32767 * np.sin(2 * np.pi * frequency * t)).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return path


def read_wav(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return data, rate


def dominant_frequency(samples: npt.NDArray[np.float32], rate: int) -> float:
    window = samples * np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(window))
    spectrum[:5] = 0.0  # no DC
    return float(np.fft.rfftfreq(samples.size, 1.0 / rate)[int(np.argmax(spectrum))])


def last_heard(samples: npt.NDArray[np.float32], rate: int, seconds: float = 0.5) -> npt.NDArray[np.float32]:
    """The last ``seconds`` of a recording before its trailing silence: a call's recording goes on until its
    BYE arrives, some time after the other side stopped sending, and that quiet end says nothing."""
    loud = np.flatnonzero(np.abs(samples) > 0.01 * float(np.max(np.abs(samples), initial=0.0)))
    end = int(loud[-1]) + 1 if loud.size else samples.size
    return samples[max(0, end - int(seconds * rate)) : end]


def sip_port(ua: UserAgent) -> int:
    return ua.stack.transport.local_address("UDP")[1]


def is_state(state: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, CallEvent) and e.state == state


def quality_of(call_id: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, QualityEvent) and e.call_id == call_id


async def quality_events(recorder: Recorder, call_id: str, count: int, timeout: float = 10.0) -> list[QualityEvent]:
    index = 0
    found: list[QualityEvent] = []
    while len(found) < count:
        event = await recorder.wait(quality_of(call_id), timeout, after=index)
        index = recorder.events.index(event) + 1
        assert isinstance(event, QualityEvent)
        found.append(event)
    return found


async def direct_call(caller: UserAgent, callee: UserAgent) -> tuple[Recorder, Recorder, str, str]:
    """Caller calls callee straight at its SIP port; returns both recorders and both call ids once confirmed."""
    a_events, b_events = Recorder(caller), Recorder(callee)
    await callee.start()
    await caller.start()
    # No server: the caller's requests go straight to the callee, as to an outbound proxy.
    caller.accounts[0].outbound_proxy = f"sip:127.0.0.1:{sip_port(callee)}"
    call = await caller.call("sip:bob@127.0.0.1")
    incoming = await b_events.wait(lambda e: isinstance(e, IncomingCallEvent))
    assert isinstance(incoming, IncomingCallEvent)
    await callee.answer(incoming.call_id)
    await a_events.wait(is_state("confirmed"))
    await b_events.wait(is_state("confirmed"))
    return a_events, b_events, call.id, incoming.call_id


def test_tone_is_recorded_with_quality_and_rtp_dtmf(tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.wav")
    recording = tmp_path / "heard.wav"

    async def main() -> None:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False), media=wav_media(play=tone))
        bob = make_ua(Account("sip:bob@127.0.0.1", register=False), media=wav_media(record=recording))
        try:
            a_events, b_events, a_call, b_call = await direct_call(alice, bob)
            # About two seconds of audio, as two quality reports on each side.
            a_quality = await quality_events(a_events, a_call, 2)
            b_quality = await quality_events(b_events, b_call, 2)
            assert a_quality[-1].packets_sent > 0
            assert b_quality[-1].packets_received > 0
            assert b_quality[-1].to_json()["event"] == "quality"
            assert b_quality[-1].to_json()["call_id"] == b_call

            mark = b_events.mark()
            await alice.send_dtmf(a_call, "15#")
            digits = []
            for _ in range(3):
                event = await b_events.wait(lambda e: isinstance(e, DtmfEvent), after=mark)
                assert isinstance(event, DtmfEvent)
                assert event.method == "rtp" and event.call_id == b_call
                digits.append(event.digit)
                mark = b_events.events.index(event) + 1
            assert "".join(digits) == "15#"
            # No INFO went out: the digits went in the RTP stream.
            assert alice.stack.sent["INFO"] == 0
            # The sequence numbers the events took are not loss to the jitter buffer.
            await quality_events(b_events, b_call, 1)
            session = bob.find_call(b_call).media_session
            assert session is not None
            assert session.stats().extra["jitter_lost"] == 0

            await alice.hangup(a_call)
            await b_events.wait(is_state("ended"))
            await bob.wait_media_stopped()
            warnings = [e for e in (*a_events.events, *b_events.events) if isinstance(e, MediaWarningEvent)]
            assert not warnings
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())
    samples, rate = read_wav(recording)
    assert rate == PIPELINE_RATE
    assert samples.size > PIPELINE_RATE  # more than a second was heard
    # The last second (the start holds jitter-buffer silence).
    last = samples[-PIPELINE_RATE:]
    assert float(np.sqrt(np.mean(last**2))) > 0.02
    assert abs(dominant_frequency(last, rate) - 1000.0) < 20.0


def test_without_a_media_factory_no_session_starts() -> None:
    async def main() -> None:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False))
        bob = make_ua(Account("sip:bob@127.0.0.1", register=False))
        try:
            a_events, b_events, a_call, _ = await direct_call(alice, bob)
            assert alice.find_call(a_call).media_session is None
            assert not alice.find_call(a_call).media_port.closed  # the port stays reserved
            await alice.send_dtmf(a_call, "7")  # SIP INFO, as before
            event = await b_events.wait(lambda e: isinstance(e, DtmfEvent))
            assert isinstance(event, DtmfEvent) and event.method == "info"
            await alice.hangup(a_call)
        finally:
            await alice.stop()
            await bob.stop()
        assert not [e for e in a_events.events if isinstance(e, QualityEvent)]

    asyncio.run(main())


def test_hold_and_resume_update_the_session_and_hangup_stops_it() -> None:
    async def main() -> None:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False), media=silence_media())
        bob = make_ua(Account("sip:bob@127.0.0.1", register=False), media=silence_media())
        try:
            a_events, b_events, a_call, b_call = await direct_call(alice, bob)
            await quality_events(a_events, a_call, 1)  # the session starts just after the call is confirmed
            session = alice.find_call(a_call).media_session
            assert session is not None and session.running
            await alice.hold(a_call)
            await b_events.wait(is_state("held"))
            b_session = bob.find_call(b_call).media_session
            assert b_session is not None and b_session.running
            mark = b_events.mark()
            await alice.resume(a_call)
            await b_events.wait(is_state("confirmed"), after=mark)
            assert alice.find_call(a_call).media_session is session  # the same stream, updated
            await quality_events(b_events, b_call, 1)
            await bob.hangup(b_call)
            await a_events.wait(is_state("ended"))
            await alice.wait_media_stopped()
            await bob.wait_media_stopped()  # bob's session stops off his loop, as alice's does off hers
            assert not session.running
            assert not b_session.running
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())


def test_a_failing_factory_leaves_the_call_up() -> None:
    def broken(call_id: str, warn: object) -> None:
        raise OSError("no such device")

    async def main() -> None:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False), media=broken)
        bob = make_ua(Account("sip:bob@127.0.0.1", register=False), media=silence_media())
        try:
            a_events, _, a_call, _ = await direct_call(alice, bob)
            warning = await a_events.wait(lambda e: isinstance(e, MediaWarningEvent))
            assert isinstance(warning, MediaWarningEvent) and warning.warning == "device"
            assert warning.to_json()["kind"] == "device"
            event: Event = alice.find_call(a_call).event()
            assert isinstance(event, CallEvent) and event.state == "confirmed"
            await alice.hangup(a_call)
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())


def test_cli_media_options_and_readable_events(tmp_path: Path) -> None:
    parser = build_parser()
    assert media_for(parser.parse_args(["--account", "sip:a@example.com", "--no-audio"])) is not None
    args = parser.parse_args(["--account", "sip:a@example.com", "--play", "x.wav", "--record", "y.wav"])
    assert (args.play, args.record) == ("x.wav", "y.wav")
    args = parser.parse_args(["--account", "sip:a@example.com", "--input-device", "2", "--output-device", "Speakers"])
    assert (args.input_device, args.output_device) == ("2", "Speakers")
    quality = QualityEvent("c1", 50, 49, 2.0, 3.5, 12.0, 40.0, 0.0, 4.3, 92.0)
    assert quality.to_json()["event"] == "quality" and quality.to_json()["mos"] == 4.3
    assert describe(quality).startswith("quality of c1: MOS 4.30, loss 2.0 %")
    warning = MediaWarningEvent("c1", "one_way_audio", "no audio received for 3.0 s")
    assert warning.to_json() == {
        "event": "media_warning",
        "call_id": "c1",
        "kind": "one_way_audio",
        "message": "no audio received for 3.0 s",
        "active": True,
    }
    assert describe(warning) == "media warning on c1: one way audio: no audio received for 3.0 s"
    saved = RecordingEvent("c1", "/tmp/c1.wav", False, 12.34)
    assert saved.to_json() == {
        "event": "recording",
        "call_id": "c1",
        "path": "/tmp/c1.wav",
        "active": False,
        "seconds": 12.34,
        "error": None,
    }
    assert describe(saved) == "recording of c1 saved: /tmp/c1.wav, 12.3 s"
    assert describe(RecordingEvent("c1", "/tmp/c1.wav", True)) == "recording c1 to /tmp/c1.wav"


def test_device_media_reports_a_missing_device_and_goes_on_with_silence() -> None:
    warnings: list[str] = []
    audio = device_media("no-such-device-for-this-test", None)("c1", warnings.append)
    assert audio is not None and not isinstance(audio, tuple)
    try:
        assert len(warnings) == 1 and "no-such-device-for-this-test" in warnings[0]
        assert not np.any(audio.source.read(960))
    finally:
        audio.close()


def test_device_source_and_sink_use_the_stream_rings() -> None:
    stream = AudioStream()  # not started: only its rings are used
    warnings: list[str] = []
    source, sink = _CaptureSource(stream, warnings.append), _PlaybackSink(stream)
    stream.capture.write(np.full(480, 0.5, dtype=np.float32))
    frame = source.read(960)
    assert frame.shape == (960,) and np.all(frame[:480] == 0.5) and not np.any(frame[480:])
    sink.write(np.full(960, 0.25, dtype=np.float32))
    assert stream.playback.available() == 960
    for _ in range(60):  # a second of frames: the health check runs, and a closed stream is no error
        source.read(960)
    assert warnings == []


def spectrum_peaks(samples: npt.NDArray[np.float32], rate: int, frequencies: list[float]) -> list[float]:
    """The magnitude at each frequency relative to the spectrum's median."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    freqs = np.fft.rfftfreq(samples.size, 1.0 / rate)
    floor = float(np.median(spectrum)) + 1e-12
    return [float(spectrum[np.abs(freqs - f) < 10].max()) / floor for f in frequencies]


def test_call_recording_mixes_both_directions_on_command(tmp_path: Path) -> None:
    first = tmp_path / "first.wav"
    second = tmp_path / "second.wav"

    async def main() -> None:
        alice = make_ua(
            Account("sip:alice@127.0.0.1", register=False), media=wav_media(play=write_tone(tmp_path / "a.wav", 1000.0))
        )
        bob = make_ua(
            Account("sip:bob@127.0.0.1", register=False), media=wav_media(play=write_tone(tmp_path / "b.wav", 600.0))
        )
        try:
            _, b_events, a_call, b_call = await direct_call(alice, bob)
            mark = b_events.mark()
            assert await bob.record(b_call, first) == first
            started = await b_events.wait(lambda e: isinstance(e, RecordingEvent), after=mark)
            assert isinstance(started, RecordingEvent) and started.active and started.path == str(first)
            await quality_events(b_events, b_call, 3)  # about two seconds
            mark = b_events.mark()
            await bob.stop_recording(b_call)
            done = await b_events.wait(lambda e: isinstance(e, RecordingEvent) and not e.active, after=mark)
            assert isinstance(done, RecordingEvent)
            assert done.error is None and done.seconds > 1.0

            # Not recording any more; a bad path is refused with the reason; the call goes on.
            for attempt in (bob.stop_recording(b_call), bob.record(b_call, tmp_path / "missing-dir" / "x.wav")):
                try:
                    await attempt
                except UserAgentError as exc:
                    assert b_call in str(exc)
                else:
                    raise AssertionError("expected UserAgentError")

            # A recording running at hang-up is finished and reported.
            mark = b_events.mark()
            await bob.record(None, second)
            await b_events.wait(quality_of(b_call), after=mark)
            mark = b_events.mark()
            await alice.hangup(a_call)
            await b_events.wait(is_state("ended"))
            await bob.wait_media_stopped()
            ended = await b_events.wait(lambda e: isinstance(e, RecordingEvent) and not e.active, after=mark)
            assert isinstance(ended, RecordingEvent) and ended.path == str(second) and ended.seconds > 0.5
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())
    samples, rate = read_wav(first)
    assert rate == PIPELINE_RATE
    last = samples[-PIPELINE_RATE:]
    # Both directions: bob's own 600 Hz and alice's 1000 Hz, each far above the noise floor.
    heard, own = spectrum_peaks(last, rate, [1000.0, 600.0])
    assert heard > 100 and own > 100
    assert read_wav(second)[0].size > PIPELINE_RATE // 2


def test_mute_sends_silence_but_keeps_rtp_flowing() -> None:
    heard = ArraySink()

    def tone_factory(call_id: str, warn: Callable[[str], None]) -> CallAudio:
        return CallAudio(ToneSource(1000.0), NullSink())

    def listening_factory(call_id: str, warn: Callable[[str], None]) -> CallAudio:
        return CallAudio(SilenceSource(), heard)

    def loud(last: int = PIPELINE_RATE // 2) -> bool:
        return len(heard) >= last and float(np.sqrt(np.mean(heard.samples(last) ** 2))) > 0.05

    async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if check():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("condition not reached")

    async def main() -> None:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False), media=tone_factory)
        bob = make_ua(Account("sip:bob@127.0.0.1", register=False), media=listening_factory)
        try:
            _, b_events, a_call, b_call = await direct_call(alice, bob)
            await until(loud)
            alice.set_mute(a_call, True)
            await until(lambda: not loud())
            before = (await quality_events(b_events, b_call, 1))[0].packets_received
            mark = b_events.mark()
            after = await b_events.wait(quality_of(b_call), after=mark)
            assert isinstance(after, QualityEvent) and after.packets_received > before
            alice.set_mute(a_call, False)
            await until(loud)
            assert alice.audio_levels(a_call) is None  # not a sound device
        finally:
            await alice.stop()
            await bob.stop()

    asyncio.run(main())

"""Media engine figures: mouth-to-ear latency, CPU per call, and speech quality (WB-PESQ).

Run from the repository root::

    .venv/bin/python -m benchmarks.media            # full run, about 7 minutes
    .venv/bin/python -m benchmarks.media --quick    # smoke run, about a minute

Needs the bench-only packages of ``benchmarks/requirements.txt`` (``pesq``) and
the Debian packages ``espeak-ng`` (the speech) and ``baresip`` (the CPU
comparison; without it that row says "not measured" and why). Everything runs
on 127.0.0.1 only. All three parts take real time: the media engine runs on its
own deadline clock, so nothing here is faster than real time.

1. Mouth-to-ear latency of the pipeline (devices excluded)
   Two :class:`MediaSession` on loopback, 20 ms ptime, no relay (no jitter, no
   loss), RTCP multiplexed. The sending side's source is the real
   ``softphone.ua.media._CaptureSource`` over the capture ring of an
   :class:`AudioStream` that is never started (so no device is opened); a
   thread calls that stream's real input callback (``_input_callback``) every
   block period on a deadline clock, handing it a block of silence or, at known
   blocks, a burst (10 ms of 1 kHz at -6 dBFS starting at the block's first
   sample). The far side plays into the real ``_PlaybackSink`` of a second
   unstarted :class:`AudioStream`, and a thread calls its real output callback
   (``_output_callback``) every block period. Latency of one burst: from the
   moment the capture callback has written the block holding the burst's
   first sample into the capture ring, to the moment the far end's playback
   callback has taken out the block in which the burst first rises above
   0.1 (full scale 1.0). The phases of the four clocks (capture callback, the
   two media threads, playback callback) are drawn at random for each of
   ``--latency-runs`` set-ups, with 3 bursts each (0.3 s apart, after 0.6 s of
   silence); median and p90 over all bursts. Also shown, as medians, where
   the time goes: capture ring (callback write to the sending media thread's
   read), engine (that read to the receiving media thread's write into the
   playback ring: encode, RTP over loopback, jitter buffer, decode) and
   playback ring (to the playback callback). Block size 960 (20 ms) is what
   ``AudioStream`` uses by default, so it is what a call uses; 240 (5 ms) shows
   what a smaller device block would give.

2. CPU seconds per 10 s of a call, per process
   Two ``softphone-cli`` processes (``python -m softphone.cli``) call each
   other directly (``--no-register``; the caller's ``--registrar`` is the
   callee, which answers by itself with ``--auto-answer``), each sending the
   speech below as a 48 kHz mono 16-bit WAV (``--play``, looped) and playing
   nothing (no ``--record``: what is received is decoded and discarded). Both
   offer Opus first, so the call runs Opus at its defaults
   (``DEFAULT_OPUS_BITRATE`` and ``DEFAULT_OPUS_COMPLEXITY`` of
   softphone/media/codecs.py, FEC, 20 ms). Once both report the call confirmed
   and 2 s have passed, user+system CPU of each process is read from
   ``/proc/PID/stat`` at the start and end of a ``--cpu-seconds`` window and
   scaled to 10 s of wall time. softphone-cli runs with its defaults (Opus as
   above and DTLS-SRTP, which two of them negotiate), with ``--srtp off``
   (plain RTP), and on G.722 and G.711 µ-law (``--codecs``). The same for two
   ``baresip`` processes (Debian package) with a temporary config each: SIP
   and RTP on 127.0.0.1, only the ``opus``, ``aufile``, ``aubridge``, ``menu``
   and (caller) ``ctrl_tcp`` modules (and ``dtls_srtp`` for its encrypted
   row), the same WAV as source (``aufile``) and an ``aubridge`` player with no
   peer as sink (received audio is still decoded, into nowhere); the callee
   answers by itself (``answermode=auto``) and the caller dials over
   ``ctrl_tcp``. baresip runs with our Opus encoder's settings
   (``BARESIP_EQUAL_OPUS``: bitrate, complexity, application VOIP, in-band FEC,
   5 % expected loss), with DTLS-SRTP and without, and at its own defaults
   (application AUDIO, no FEC, complexity 10, plain RTP). The ratios printed
   compare like with like: equal settings encrypted, equal settings plain, and
   each side's defaults.

   ``--parts devices``: the same on sound devices. A private PulseAudio server
   (``tests/pulse_server.py``) gives each end a virtual microphone, into which
   the speech is played (``pacat``), and a null sink as speaker; softphone-cli
   opens them by their ALSA names (``--input-device``/``--output-device``),
   baresip through its ``pulse`` module. softphone-cli runs with its
   microphone processing (echo canceller, noise suppression, gain control,
   high-pass: on by default), without it (``--aec off --ns off --agc off
   --hpf off``; baresip has none unless a module adds it), and without it on
   plain RTP; baresip as above. The equal-settings ratios use the rows
   without processing, the defaults ratio the row with it.

3. WB-PESQ of speech through the whole path, against the codec alone
   Speech: ``benchmarks/speech/text.txt`` read by ``espeak-ng`` (generated at
   run time into a cache directory under the system temp dir), about 40 s,
   resampled once to 48 kHz with ``softphone.media.resample``. Whole path: one
   :class:`MediaSession` sends it (sendonly; its source hands out the 48 kHz
   samples frame by frame), through a seeded :class:`LossyRelay` (random
   loss, a uniform 10-40 ms delay per datagram, i.e. a 30 ms delay spread that
   also reorders, no duplication), to a second session (recvonly) whose jitter
   buffer, FEC/concealment and decoder produce what it plays into an
   :class:`ArraySink`. RTCP of both sessions goes to a socket that never
   answers, so the sender keeps the default encoder settings (no loss
   feedback, no bitrate stepping) and both rows below use the same encoder
   configuration. Codec alone: the same 48 kHz frames through an Opus encoder
   and decoder made by ``codec_for`` the way the engine makes them, with the
   relay's dropped RTP packets (the relay records them, ``record_drops``)
   treated as lost: decoded from the next packet's FEC when that one was not
   lost, concealed otherwise; 200 ms of silence follow the speech, as they do
   on the wire, so the codec's own delay is flushed. Both outputs and the
   reference are resampled to 16 kHz, the output aligned to the reference by
   cross-correlation (the pipeline delays it), and scored with
   ``pesq(16000, ref, deg, "wb")``. Beside the scores: what the receiving
   session did (frames decoded, FEC, concealed, late), the overall delay and
   the spread of the delays of each second of speech (a jitter buffer that
   stretches or compresses the playout time-warps the speech, which PESQ
   punishes), and the sender's late ticks (a clock that was held up, e.g. by
   other load on the machine). Last, the codec alone, clean, in two other
   configurations a peer can ask for (wideband only; 48 kbit/s), to show what
   bounds the score. All of this for the three codecs of the default offer:
   Opus, G.722 and G.711 µ-law (G.722 and G.711 resampled to and from their
   16 and 8 kHz as the engine does; no FEC, so lost packets are concealed).

4. Many calls at once, and a five-party local conference
   The host is a real :class:`UserAgent` in this process (``tests/many_calls.py``, the
   machinery ``tests/ua/test_many_calls.py`` runs with three calls), sending the same WAV
   on every call (``wav_media``, looped) and discarding what it hears; the callee is one
   ``softphone-cli --auto-answer --play`` process taking every call. The host places the
   calls one after the other (Opus, as in part 2), waits 2 s, then reads its own CPU and
   the callee's from ``/proc`` over ``--cpu-seconds``, scaled to 10 s: one call, then ten
   at once (goal: ten cost at most ten times one). Then a five-party conference: four
   calls merged at the host (the host's microphone, the WAV of the first call, and the
   four callee ends), run for ``--conference-seconds``, with the late wake-ups of the
   host's media threads (a tick handled more than a ptime after its deadline) and the
   conference mixer's ring underruns and overruns counted over that time (goal: none).

The load average is printed at the start and the end: the latency and PESQ
parts are real-time measurements, and other processes competing for the CPU
hold up the media clocks (``--nice -10``, as root, shields them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine_line
from softphone.media.audio import AudioStream
from softphone.media.codecs import DEFAULT_OPUS_BITRATE, DEFAULT_OPUS_COMPLEXITY, codec_for
from softphone.media.engine import (
    PIPELINE_RATE,
    ArraySink,
    AudioSink,
    AudioSource,
    MediaSession,
    NullSink,
    SilenceSource,
)
from softphone.media.resample import resample
from softphone.media.wav import WavSource
from softphone.sip.offer_answer import Codec, NegotiatedMedia, g722_codec, opus_codec, pcmu_codec
from softphone.ua.media import MediaPort, _CaptureSource, _PlaybackSink, wav_media
from tests.baresip_peer import free_port, udp_bound
from tests.echo_path import ArraySource
from tests.many_calls import Host, Window
from tests.media_relay import LossyRelay

Samples = npt.NDArray[np.float32]

ROOT = Path(__file__).resolve().parent.parent
TEXT = Path(__file__).resolve().parent / "speech" / "text.txt"
LOOPBACK = "127.0.0.1"
PTIME_MS = 20
FRAME = PIPELINE_RATE * PTIME_MS // 1000

TARGET_LATENCY_MS = 45.0
TARGET_CLEAN_GAP = 0.1
TARGET_LOSS_GAP = 0.3
TARGET_CLEAN_PESQ = 3.9
BARESIP_REFERENCE = "about 0.25 s per 10 s per process"

BURST_LEVEL = 0.5
BURST_MS = 10
ONSET_THRESHOLD = 0.1
BURSTS_PER_RUN = 3
BURST_SPACING = 0.3
LATENCY_WARMUP = 0.6

RELAY_DELAY_MS = (10.0, 40.0)
LOSSES = (0.0, 0.05, 0.10)


class BenchError(RuntimeError):
    """Something the benchmark needs is missing or did not work."""


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def negotiated(
    codec: Codec, remote: tuple[str, int], *, direction: str = "sendrecv", rtcp_port: int | None = None
) -> NegotiatedMedia:
    """What offer/answer would agree for ``codec`` towards ``remote``; rtcp-mux unless ``rtcp_port`` is given."""
    assert codec.payload_type is not None
    mux = rtcp_port is None
    return NegotiatedMedia(
        remote_address=remote[0],
        remote_addrtype="IP4",
        remote_port=remote[1],
        remote_rtcp_port=remote[1] if rtcp_port is None else rtcp_port,
        codec=codec,
        payload_type=codec.payload_type,
        codecs=[codec],
        receive_codecs={codec.payload_type: codec},
        telephone_event=None,
        telephone_events={},
        ptime=PTIME_MS,
        direction=direction,  # type: ignore[arg-type]
        on_hold=False,
        rtcp_mux=mux,
    )


def media_socket(port: MediaPort) -> socket.socket:
    sock = port.socket
    if sock is None:
        raise BenchError("media port closed")
    port.socket = None  # the session takes it over and closes it
    return sock


# ==========================================================================================
# 1. Latency
# ==========================================================================================


@dataclass
class Burst:
    written: float  # the capture callback wrote the block holding the burst's first sample
    engine_read: float | None = None  # the sending media thread read it from the capture ring
    engine_played: float | None = None  # the receiving media thread wrote it into the playback ring
    taken_out: float | None = None  # the playback callback took it out


@dataclass
class OnsetWatch:
    """Marks, for the latest burst, when it first shows up (|x| > threshold) in a stream of blocks."""

    bursts: list[Burst]
    attribute: str
    armed: bool = True

    def observe(self, block: Samples, when: float) -> None:
        loud = block.size > 0 and float(np.max(np.abs(block))) > ONSET_THRESHOLD
        if not loud:
            self.armed = True
            return
        if not self.armed or not self.bursts:
            return
        self.armed = False
        burst = self.bursts[-1]
        if getattr(burst, self.attribute) is None:
            setattr(burst, self.attribute, when)


class WatchedSource:
    """The capture source as the sending media thread sees it, timing the burst on its way in."""

    def __init__(self, inner: AudioSource, watch: OnsetWatch) -> None:
        self.inner = inner
        self._watch = watch

    def read(self, frames: int) -> Samples:
        block = self.inner.read(frames)
        self._watch.observe(block, time.monotonic())
        return block


class WatchedSink:
    """The playback sink as the receiving media thread sees it, timing the burst on its way out."""

    def __init__(self, inner: AudioSink, watch: OnsetWatch) -> None:
        self._inner = inner
        self._watch = watch

    def write(self, block: Samples) -> None:
        self._inner.write(block)
        self._watch.observe(block, time.monotonic())


class PacedCallback(threading.Thread):
    """Calls ``step(n)`` every ``period`` seconds on a deadline clock, like a sound card's callback."""

    def __init__(self, name: str, period: float, first: float, steps: int, step: Callable[[int], None]) -> None:
        super().__init__(name=name, daemon=True)
        self.period = period
        self.first = first
        self.steps = steps
        self.step = step
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            deadline = self.first
            for n in range(self.steps):
                if self.stop_event.is_set():
                    return
                wait = deadline - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self.step(n)
                deadline += self.period
        except BaseException as exc:  # reported by the caller
            self.error = exc


@dataclass
class LatencyResult:
    label: str
    blocksize: int
    total: list[float] = field(default_factory=list)
    capture_ring: list[float] = field(default_factory=list)
    engine: list[float] = field(default_factory=list)
    playback_ring: list[float] = field(default_factory=list)
    missed: int = 0


def latency_run(codec: Codec, blocksize: int, rng: random.Random, result: LatencyResult) -> None:
    period = blocksize / PIPELINE_RATE
    burst = np.zeros(blocksize, dtype=np.float32)
    length = min(blocksize, PIPELINE_RATE * BURST_MS // 1000)
    t = np.arange(length) / PIPELINE_RATE
    burst[:length] = (BURST_LEVEL * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    silence = np.zeros((blocksize, 1), dtype=np.float32)
    loud = burst.reshape(-1, 1)
    warm_blocks = round(LATENCY_WARMUP / period)
    spacing_blocks = round(BURST_SPACING / period)
    # A random place within the engine's 20 ms frame for each burst (when a frame spans several blocks).
    per_frame = max(1, FRAME // blocksize)
    burst_blocks = {warm_blocks + i * spacing_blocks + rng.randrange(per_frame) for i in range(BURSTS_PER_RUN)}
    steps = warm_blocks + BURSTS_PER_RUN * spacing_blocks + round(0.4 / period)

    bursts: list[Burst] = []
    capture_stream = AudioStream(blocksize=blocksize)  # never started: no device is opened
    playback_stream = AudioStream(blocksize=blocksize)
    out_watch = OnsetWatch(bursts, "taken_out")

    def capture_step(n: int) -> None:
        if n not in burst_blocks:
            capture_stream._input_callback(silence, blocksize, None, None)
            return
        burst = Burst(time.monotonic())
        bursts.append(burst)  # before the write, so that no watcher can see the burst before it is listed
        capture_stream._input_callback(loud, blocksize, None, None)
        burst.written = time.monotonic()

    outdata = np.zeros((blocksize, 1), dtype=np.float32)

    def playback_step(n: int) -> None:
        playback_stream._output_callback(outdata, blocksize, None, None)
        out_watch.observe(outdata[:, 0], time.monotonic())

    port_a, port_b = MediaPort(LOOPBACK), MediaPort(LOOPBACK)
    source = WatchedSource(SilenceSource(), OnsetWatch(bursts, "engine_read"))
    sink = WatchedSink(_PlaybackSink(playback_stream), OnsetWatch(bursts, "engine_played"))
    sender = MediaSession(
        media_socket(port_a), negotiated(codec, (LOOPBACK, port_b.port)), source, NullSink(), seed=rng.getrandbits(32)
    )
    receiver = MediaSession(
        media_socket(port_b),
        negotiated(codec, (LOOPBACK, port_a.port)),
        SilenceSource(),
        sink,
        seed=rng.getrandbits(32),
    )
    player = PacedCallback(
        "playback-callback", period, time.monotonic() + rng.uniform(0, period), steps + 40, playback_step
    )
    capturer = PacedCallback("capture-callback", period, 0.0, steps, capture_step)
    try:
        player.start()  # the device runs before the call's media starts, as with device_media()
        receiver.start()
        time.sleep(rng.uniform(0, PTIME_MS / 1000))
        capturer.first = time.monotonic() + rng.uniform(0, period)
        capturer.start()
        time.sleep(rng.uniform(0, period))
        # What device_media() and the UA do: the capture source clears the ring, then the session starts.
        source.inner = _CaptureSource(capture_stream, lambda message: None)
        sender.start()
        capturer.join(steps * period + 5.0)
        time.sleep(0.2)
    finally:
        capturer.stop_event.set()
        player.stop_event.set()
        sender.stop()
        receiver.stop()
        capturer.join(2.0)
        player.join(2.0)
    for thread in (capturer, player):
        if thread.error is not None:
            raise BenchError(f"{thread.name} failed: {thread.error!r}")
    for b in bursts:
        if b.taken_out is None or b.engine_read is None or b.engine_played is None:
            result.missed += 1
            continue
        result.total.append((b.taken_out - b.written) * 1000)
        result.capture_ring.append((b.engine_read - b.written) * 1000)
        result.engine.append((b.engine_played - b.engine_read) * 1000)
        result.playback_ring.append((b.taken_out - b.engine_played) * 1000)


def measure_latency(runs: int, seed: int) -> list[LatencyResult]:
    rng = random.Random(seed)
    results: list[LatencyResult] = []
    for label, codec, blocksize in (
        ("opus", opus_codec(), 960),
        ("opus", opus_codec(), 240),
        ("PCMU", pcmu_codec(), 960),
    ):
        result = LatencyResult(label, blocksize)
        for _ in range(runs):
            latency_run(codec, blocksize, rng, result)
        results.append(result)
    return results


def print_latency(results: list[LatencyResult], runs: int) -> None:
    print(
        f"1. Mouth-to-ear latency of the pipeline, {PTIME_MS} ms ptime, loopback, no jitter, devices excluded"
        f" ({runs} set-ups x {BURSTS_PER_RUN} bursts, ms)"
    )
    print(
        f"   {'codec':6} {'block':>6} {'median':>7} {'p90':>7} {'min':>7} {'max':>7} {'n':>4}"
        f"   {'capture ring':>12} {'engine':>7} {'playback ring':>13} (medians)"
    )
    for r in results:
        if not r.total:
            print(f"   {r.label:6} {r.blocksize:6d}  no burst came through ({r.missed} missed)")
            continue
        missed = f"  ({r.missed} missed)" if r.missed else ""
        print(
            f"   {r.label:6} {r.blocksize:6d} {statistics.median(r.total):7.1f} {percentile(r.total, 0.9):7.1f}"
            f" {min(r.total):7.1f} {max(r.total):7.1f} {len(r.total):4d}"
            f"   {statistics.median(r.capture_ring):12.1f} {statistics.median(r.engine):7.1f}"
            f" {statistics.median(r.playback_ring):13.1f}{missed}"
        )
    main = next((r for r in results if r.label == "opus" and r.blocksize == 960 and r.total), None)
    if main is not None:
        median = statistics.median(main.total)
        verdict = "met" if median <= TARGET_LATENCY_MS else "NOT met"
        print(
            f"   target: Opus at the default device block (960), median <= {TARGET_LATENCY_MS:.0f} ms:"
            f" {verdict} ({median:.1f} ms)"
        )


# ==========================================================================================
# 2. CPU per call
# ==========================================================================================


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc/PID/stat (fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    if not predicate():
        raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop_process(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Wait for a process asked to leave; terminate, then kill it (by its PID) if it does not."""
    for action in (None, proc.terminate, proc.kill):
        if action is not None and proc.poll() is None:
            action()
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class CpuResult:
    name: str
    per_10s: list[float] | None  # caller, callee
    note: str = ""


class JsonLines(threading.Thread):
    """Collects the JSON events a softphone-cli prints."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.events: list[dict[str, Any]] = []

    def run(self) -> None:
        for line in self.stream:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def has(self, predicate: Callable[[dict[str, Any]], bool]) -> bool:
        return any(predicate(e) for e in list(self.events))


def confirmed(event: dict[str, Any]) -> bool:
    return event.get("event") == "call" and event.get("state") == "confirmed"


def measure_window(pids: list[int], settle: float, window: float) -> list[float]:
    time.sleep(settle)
    start = [cpu_seconds(pid) for pid in pids]
    begun = time.monotonic()
    time.sleep(window)
    end = [cpu_seconds(pid) for pid in pids]
    wall = time.monotonic() - begun
    return [(e - s) / wall * 10.0 for s, e in zip(start, end, strict=True)]


# On sound devices: the private PulseAudio server's virtual devices (tests/pulse_server.py), speech played
# into each end's microphone feed; ALSA names for softphone-cli (sounddevice), PulseAudio names for baresip.
SOFTPHONE_DEVICES = {"caller": ("test_mic", "test_speaker"), "callee": ("test_mic2", "test_speaker2")}
BARESIP_DEVICES = {"a": ("mic", "speaker"), "b": ("mic2", "speaker2")}


def cpu_softphone(
    wav: Path,
    workdir: Path,
    settle: float,
    window: float,
    extra: Sequence[str] = (),
    name: str = "softphone-cli",
    devices: bool = False,
) -> CpuResult:
    """``devices``: the call's audio on the PulseAudio devices of ``SOFTPHONE_DEVICES``, not ``wav``."""
    callee_port, caller_port = free_port(), free_port()
    source = [] if devices else ["--play", str(wav)]
    base = [sys.executable, "-m", "softphone.cli", "--no-register", "--json", *source, *extra]
    ends = {
        role: ["--input-device", mic, "--output-device", speaker] if devices else []
        for role, (mic, speaker) in SOFTPHONE_DEVICES.items()
    }
    commands = {
        "callee": [
            *base,
            *ends["callee"],
            "--account",
            "sip:bob@127.0.0.1",
            "--listen",
            f"{LOOPBACK}:{callee_port}",
            "--auto-answer",
        ],
        "caller": [
            *base,
            *ends["caller"],
            "--account",
            "sip:alice@127.0.0.1",
            "--registrar",
            f"sip:{LOOPBACK}:{callee_port}",
            "--listen",
            f"{LOOPBACK}:{caller_port}",
        ],
    }
    procs: dict[str, subprocess.Popen[str]] = {}
    readers: dict[str, JsonLines] = {}
    try:
        for role in ("callee", "caller"):
            with open(workdir / f"softphone-{role}.err", "w", encoding="utf-8") as err:
                proc = subprocess.Popen(
                    commands[role], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True
                )
            procs[role] = proc
            assert proc.stdout is not None
            readers[role] = JsonLines(proc.stdout)
            readers[role].start()
            port = callee_port if role == "callee" else caller_port
            wait_for(functools.partial(udp_bound, port), 20.0, f"softphone-cli {role} to listen on UDP {port}")
        caller_in = procs["caller"].stdin
        assert caller_in is not None
        caller_in.write(f"call sip:bob@{LOOPBACK}:{callee_port}\n")
        caller_in.flush()
        wait_for(
            lambda: all(r.has(confirmed) for r in readers.values()), 15.0, "the softphone-cli call to be confirmed"
        )
        figures = measure_window([procs["caller"].pid, procs["callee"].pid], settle, window)
        received = [
            max((e.get("packets_received", 0) for e in readers[r].events if e.get("event") == "quality"), default=0)
            for r in ("caller", "callee")
        ]
        if min(received) == 0:
            raise BenchError("softphone-cli call confirmed but no RTP arrived")
        return CpuResult(name, figures, f"RTP packets received: caller {received[0]}, callee {received[1]}")
    finally:
        for proc in procs.values():
            with contextlib.suppress(OSError, ValueError):
                if proc.stdin is not None:
                    proc.stdin.write("quit\n")
                    proc.stdin.close()
        for proc in procs.values():
            stop_process(proc)


def baresip_modules() -> Path | None:
    needed = ("opus", "aufile", "aubridge", "pulse", "ctrl_tcp", "menu", "account")
    for candidate in ("/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules", "/usr/lib64/baresip/modules"):
        path = Path(candidate)
        if all((path / f"{m}.so").exists() for m in needed):
            return path
    return None


def baresip_config(
    directory: Path,
    name: str,
    sip_port: int,
    wav: Path,
    modules: Path,
    ctrl_port: int | None,
    answer: bool,
    mediaenc: str | None = None,
    opus: Sequence[str] = (),
    devices: tuple[str, str] | None = None,
) -> None:
    """``opus``: the opus module's settings; none gives baresip's own defaults. ``devices``: the PulseAudio
    source and sink to use instead of ``wav`` and a player into nowhere."""
    directory.mkdir(parents=True, exist_ok=True)
    if devices is None:
        audio = [
            f"audio_player aubridge,nowhere-{name}",
            f"audio_alert aubridge,nowhere-{name}",
            f"audio_source aufile,{wav}",
        ]
        audio_modules = ["module aufile.so", "module aubridge.so"]
    else:
        mic, speaker = devices
        audio = [f"audio_player pulse,{speaker}", f"audio_alert pulse,{speaker}", f"audio_source pulse,{mic}"]
        audio_modules = ["module pulse.so"]
    lines = [
        "poll_method epoll",
        f"sip_listen {LOOPBACK}:{sip_port}",
        f"net_interface {LOOPBACK}",
        "call_local_timeout 120",
        *audio,
        "ausrc_channels 1",
        "auplay_channels 1",
        "audio_buffer 200",
        "jitter_buffer_delay 5-10",
        "rtcp_mux no",
        *opus,
        "opus_stereo no",
        "opus_sprop_stereo no",
        f"module_path {modules}",
        "module opus.so",
        *audio_modules,
        "module_tmp account.so",
        "module_app menu.so",
    ]
    if ctrl_port is not None:
        lines += ["module_app ctrl_tcp.so", f"ctrl_tcp_listen {LOOPBACK}:{ctrl_port}"]
    if mediaenc is not None:
        lines.append("module srtp.so" if mediaenc.startswith("srtp") else "module dtls_srtp.so")
    (directory / "config").write_text("\n".join(lines) + "\n", encoding="utf-8")
    params = ";regint=0;answermode=auto" if answer else ";regint=0"
    if mediaenc is not None:
        params += f";mediaenc={mediaenc}"
    (directory / "accounts").write_text(f"<sip:{name}@{LOOPBACK}>{params}\n", encoding="utf-8")


def netstrings(buffer: bytearray) -> Iterator[bytes]:
    """Complete netstrings (``len:payload,``) taken off the front of ``buffer``."""
    while True:
        colon = buffer.find(b":")
        if colon <= 0 or not buffer[:colon].isdigit():
            return
        size = int(buffer[:colon])
        end = colon + 1 + size
        if len(buffer) < end + 1:
            return
        payload = bytes(buffer[colon + 1 : end])
        del buffer[: end + 1]
        yield payload


def baresip_bitrates(log: Path) -> str:
    """The last "audio=TX/RX (bit/s)" status of a baresip log, for the record."""
    try:
        text = log.read_bytes().decode("utf-8", "replace").replace("\r", "\n")
    except OSError:
        return "?"
    found = [line.strip() for line in text.splitlines() if "audio=" in line]
    return found[-1].split("audio=", 1)[1].split()[0] if found else "?"


# Our Opus encoder's settings in baresip's words (softphone/media/codecs.py: OpusCodec, application VOIP,
# in-band FEC, 5 % expected loss). baresip's own defaults are application AUDIO, no FEC, complexity 10: at
# 48 kbit/s that is CELT alone, a fifth of the encoder's CPU, and it scored WB-PESQ 3.18 against 4.02.
BARESIP_EQUAL_OPUS = (
    f"opus_bitrate {DEFAULT_OPUS_BITRATE}",
    f"opus_complexity {DEFAULT_OPUS_COMPLEXITY}",
    "opus_application voip",
    "opus_inbandfec yes",
    "opus_packet_loss 5",
)


def cpu_baresip(
    wav: Path,
    workdir: Path,
    settle: float,
    window: float,
    mediaenc: str | None = None,
    opus: Sequence[str] = BARESIP_EQUAL_OPUS,
    label: str = "",
    devices: bool = False,
) -> CpuResult:
    exe = shutil.which("baresip")
    if exe is None:
        return CpuResult("baresip", None, "not installed (apt-get install -y baresip)")
    modules = baresip_modules()
    if modules is None:
        return CpuResult("baresip", None, "modules opus/aufile/aubridge/ctrl_tcp/menu/account not found")
    version = "baresip"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run([exe, "-h"], capture_output=True, text=True, timeout=5, check=False)
        first = (head.stdout + head.stderr).split()
        if len(first) > 1 and first[0] == "baresip":
            version = f"baresip {first[1].lstrip('v')}"
    callee_port, caller_port, ctrl_port = free_port(), free_port(), free_port()
    if mediaenc is not None:
        version += f" {mediaenc}"
    version += label
    for directory, name, port, ctrl_at, answer in (
        ("baresip-b", "b", callee_port, None, True),
        ("baresip-a", "a", caller_port, ctrl_port, False),
    ):
        config = workdir / directory
        ends = BARESIP_DEVICES[name] if devices else None
        baresip_config(
            config, name, port, wav, modules, ctrl_at, answer=answer, mediaenc=mediaenc, opus=opus, devices=ends
        )
    lifetime = str(int(settle + window + 40))  # -t: baresip leaves by itself after that many seconds
    procs: dict[str, subprocess.Popen[bytes]] = {}
    ctrl: socket.socket | None = None
    try:
        for role, directory, port in (("callee", "baresip-b", callee_port), ("caller", "baresip-a", caller_port)):
            with open(workdir / f"{directory}.log", "wb") as log:
                procs[role] = subprocess.Popen(
                    [exe, "-f", str(workdir / directory), "-t", lifetime],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            wait_for(functools.partial(udp_bound, port), 10.0, f"baresip {role} to listen on UDP {port}")
        deadline = time.monotonic() + 10.0
        while ctrl is None:
            try:
                ctrl = socket.create_connection((LOOPBACK, ctrl_port), timeout=1.0)
            except OSError:
                if time.monotonic() > deadline or procs["caller"].poll() is not None:
                    raise BenchError("baresip's ctrl_tcp did not open") from None
                time.sleep(0.1)
        command = json.dumps(
            {"command": "dial", "params": f"sip:b@{LOOPBACK}:{callee_port}", "token": "bench"}
        ).encode()
        ctrl.sendall(str(len(command)).encode() + b":" + command + b",")
        buffer = bytearray()
        established = False
        deadline = time.monotonic() + 15.0
        ctrl.settimeout(0.5)
        while not established and time.monotonic() < deadline:
            try:
                data = ctrl.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            buffer += data
            for payload in netstrings(buffer):
                with contextlib.suppress(ValueError):
                    message = json.loads(payload)
                    if message.get("type") == "CALL_ESTABLISHED":
                        established = True
                    elif message.get("type") in ("CALL_CLOSED", "CALL_FAILED"):
                        raise BenchError(f"baresip call failed: {message.get('param')}")
        if not established:
            raise BenchError("baresip call not established within 15 s")
        figures = measure_window([procs["caller"].pid, procs["callee"].pid], settle, window)
        rates = ", ".join(
            f"{role} {baresip_bitrates(workdir / f'{d}.log')}"
            for role, d in (("caller", "baresip-a"), ("callee", "baresip-b"))
        )
        return CpuResult(version, figures, f"Opus 48000/1, bit/s TX/RX at the end: {rates}")
    except BenchError as exc:
        return CpuResult(version, None, f"not measured: {exc}")
    finally:
        if ctrl is not None:
            with contextlib.suppress(OSError):
                quit_command = json.dumps({"command": "quit", "params": "", "token": "bye"}).encode()
                ctrl.sendall(str(len(quit_command)).encode() + b":" + quit_command + b",")
            ctrl.close()
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # baresip leaves cleanly on SIGTERM
        for proc in procs.values():
            stop_process(proc)


# softphone-cli's calls: its defaults (Opus, DTLS-SRTP), plain RTP, and the other codecs chosen with --codecs.
CPU_CALLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("softphone-cli", ()),
    ("softphone-cli plain RTP", ("--srtp", "off")),
    ("softphone-cli G.722", ("--codecs", "g722")),
    ("softphone-cli G.711", ("--codecs", "pcmu")),
)
# baresip's calls: our Opus settings with DTLS-SRTP and plain, and its own defaults (plain RTP, as it comes).
BARESIP_CALLS: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    (", our Opus settings", "dtls_srtp", BARESIP_EQUAL_OPUS),
    (", our Opus settings, plain RTP", None, BARESIP_EQUAL_OPUS),
    (", its own defaults, plain RTP", None, ()),
)


# (our row, the end of baresip's row, what the pair compares)
WAV_PAIRS = (
    ("softphone-cli", ", our Opus settings", "equal settings (Opus, DTLS-SRTP)"),
    ("softphone-cli plain RTP", ", our Opus settings, plain RTP", "equal settings, plain RTP"),
    ("softphone-cli", ", its own defaults, plain RTP", "each side's defaults"),
)

# On devices, softphone-cli's calls with its microphone processing (on by default) and without it (baresip
# has none unless a module is loaded); baresip's as with WAV sources.
NO_PROCESSING = ("--aec", "off", "--ns", "off", "--agc", "off", "--hpf", "off")
DEVICE_CALLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("softphone-cli on devices", ()),
    ("softphone-cli on devices, no processing", NO_PROCESSING),
    ("softphone-cli on devices, no processing, plain RTP", (*NO_PROCESSING, "--srtp", "off")),
)
DEVICE_PAIRS = (
    ("softphone-cli on devices, no processing", ", our Opus settings, devices", "equal settings (Opus, DTLS-SRTP)"),
    (
        "softphone-cli on devices, no processing, plain RTP",
        ", our Opus settings, plain RTP, devices",
        "equal settings, plain RTP",
    ),
    ("softphone-cli on devices", ", its own defaults, plain RTP, devices", "each side's defaults"),
)


def cpu_ratios(results: list[CpuResult], pairs: Sequence[tuple[str, str, str]] = WAV_PAIRS) -> list[tuple[str, float]]:
    """softphone against baresip, mean per process, for the pairs that compare like with like."""
    means = {r.name: sum(r.per_10s) / 2 for r in results if r.per_10s}
    found = []
    for ours, theirs, what in pairs:
        mine = means.get(ours)
        other = next((v for k, v in means.items() if k.startswith("baresip") and k.endswith(theirs)), None)
        if mine is not None and other:
            found.append((what, mine / other))
    return found


def cpu_on_devices(reference: Samples, wav: Path, workdir: Path, window: float) -> list[CpuResult]:
    """The CPU rows again with each end on sound devices: a private PulseAudio server, speech into each mic."""
    from tests.pulse_server import PulseAudio

    results: list[CpuResult] = []
    with PulseAudio() as pulse:

        def measured(run: Callable[[], CpuResult], name: str) -> CpuResult:
            feeds = [pulse.pacat_play(feed, reference) for feed in ("micfeed", "micfeed2")]
            try:
                return run()
            except BenchError as exc:
                return CpuResult(name, None, f"not measured: {exc}")
            finally:
                for feed_process in feeds:
                    pulse.end(feed_process)

        for name, extra in DEVICE_CALLS:
            results.append(
                measured(functools.partial(cpu_softphone, wav, workdir, 2.0, window, extra, name, True), name)
            )
        for label, mediaenc, opus in BARESIP_CALLS:
            run = functools.partial(cpu_baresip, wav, workdir, 2.0, window, mediaenc, opus, label + ", devices", True)
            results.append(measured(run, "baresip" + label))
    return results


def print_cpu(
    results: list[CpuResult], window: float, pairs: Sequence[tuple[str, str, str]] = WAV_PAIRS, what: str = "WAV"
) -> None:
    print()
    print(
        f"2. CPU seconds per 10 s of an established call (Opus unless named), per process, {what}"
        f" (user+sys from /proc/PID/stat over {window:.0f} s, two processes calling each other on loopback)"
    )
    width = max(len(r.name) for r in results)
    print(f"   {'client':{width}} {'caller':>7} {'callee':>7} {'mean':>7}")
    for r in results:
        if r.per_10s is None:
            print(f"   {r.name:{width}} not measured: {r.note.removeprefix('not measured: ')}")
            if r.name.startswith("baresip"):
                print(f"   {'':{width}} reference for baresip: {BARESIP_REFERENCE}")
            continue
        caller, callee = r.per_10s
        print(f"   {r.name:{width}} {caller:7.3f} {callee:7.3f} {(caller + callee) / 2:7.3f}   {r.note}")
    for compared, ratio in cpu_ratios(results, pairs):
        print(f"   softphone-cli / baresip, {compared}: {ratio:.2f}x (goal <= 1.0x)")


def print_processing_cpu() -> None:
    """What the microphone processing adds to a call on sound devices (the CLI runs above use WAV files)."""
    from benchmarks.echo import processing_cpu
    from tests.echo_path import SpeechMissing

    try:
        rows = processing_cpu()
    except SpeechMissing as exc:
        print(f"   microphone processing: not measured ({exc})")
        return
    print("   plus, on sound devices, the microphone processing per 10 s (benchmarks/echo.py):")
    for label, used in rows:
        print(f"     {label:38} {used:.3f} s")


# ==========================================================================================
# 3. WB-PESQ
# ==========================================================================================


def speech_wav(text: Path) -> Path:
    """espeak-ng reading ``text``, cached in the temp dir by text and espeak-ng version."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise BenchError("espeak-ng is not installed (apt-get install -y espeak-ng)")
    version = subprocess.run([espeak, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    key = hashlib.sha256(text.read_bytes() + version.encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / "softphone-bench-speech"
    cache.mkdir(exist_ok=True)
    path = cache / f"speech-{key}.wav"
    if not path.exists():
        partial = cache / f"speech-{key}.{os.getpid()}.tmp.wav"
        subprocess.run([espeak, "-f", str(text), "-w", str(partial)], check=True, timeout=120, capture_output=True)
        os.replace(partial, path)
    return path


def speech_48k(path: Path, seconds: float | None) -> Samples:
    """The speech at 48 kHz float32, cut to whole 20 ms frames (and to ``seconds`` if given)."""
    source = WavSource(path)
    data = source.read(source.frames)
    pcm48 = resample(data, source.samplerate, PIPELINE_RATE) if source.samplerate != PIPELINE_RATE else data
    if seconds is not None:
        pcm48 = pcm48[: int(seconds * PIPELINE_RATE)]
    frames = pcm48.size // FRAME
    return np.ascontiguousarray(pcm48[: frames * FRAME], dtype=np.float32)


def write_wav48(samples: Samples, path: Path) -> None:
    pcm = np.clip(np.rint(samples.astype(np.float64) * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(PIPELINE_RATE)
        out.writeframes(pcm.tobytes())


@dataclass
class PathRun:
    output: Samples
    lost: set[int]
    sent: int
    stats: dict[str, float]


def whole_path(reference: Samples, loss: float, seed: int, codec: Codec) -> PathRun:
    port_a, port_b = MediaPort(LOOPBACK), MediaPort(LOOPBACK)
    # RTCP of both sides goes here and is never read: no loss feedback reaches the encoder.
    rtcp_sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp_sink.bind((LOOPBACK, 0))
    rtcp_port = int(rtcp_sink.getsockname()[1])
    relay = LossyRelay(
        (LOOPBACK, port_a.port),
        (LOOPBACK, port_b.port),
        loss=loss,
        duplicate=0.0,
        reorder=0.0,
        delay_ms=RELAY_DELAY_MS,
        seed=seed,
        record_drops=True,
    )
    source = ArraySource(reference)
    sink = ArraySink(reference.size / PIPELINE_RATE + 5.0)
    sender = MediaSession(
        media_socket(port_a),
        negotiated(codec, relay.address_a[:2], direction="sendonly", rtcp_port=rtcp_port),
        source,
        NullSink(),
        seed=seed,
    )
    receiver = MediaSession(
        media_socket(port_b),
        negotiated(codec, relay.address_b[:2], direction="recvonly", rtcp_port=rtcp_port),
        SilenceSource(),
        sink,
        seed=seed + 1,
    )
    try:
        receiver.start()
        sender.start()
        limit = time.monotonic() + reference.size / PIPELINE_RATE + 30.0
        while not source.done and time.monotonic() < limit:
            time.sleep(0.1)
        time.sleep(1.0)  # what is still in the relay and the jitter buffer
    finally:
        sender.stop()
        receiver.stop()
        relay.close()
        rtcp_sink.close()
    sender_stats = sender.stats()
    sent = sender_stats.packets_sent
    stats = receiver.stats()
    lost: set[int] = set()
    first_seq: int | None = None
    for item in relay.dropped_datagrams():
        if item.side != "a" or item.reason != "loss":
            continue
        seq = int.from_bytes(item.data[2:4], "big")
        base = (seq - item.index) & 0xFFFF  # every datagram from A is one audio RTP packet
        if first_seq is None:
            first_seq = base
        elif base != first_seq:
            raise BenchError("dropped RTP sequence numbers do not follow the relay's datagram order")
        lost.add(item.index)
    return PathRun(
        sink.samples(),
        lost,
        sent,
        {
            "frames_decoded": stats.frames_decoded,
            "fec": stats.fec_decoded,
            "concealed": stats.concealed,
            "late": stats.extra.get("jitter_late", 0),
            "jb_ms": stats.jitter_buffer_ms,
            "sender_late_ticks": sender_stats.late_ticks,
        },
    )


def codec_alone(reference: Samples, lost: set[int], codec: Codec) -> Samples:
    """Encode/decode of the same frames, with the same packets lost (FEC from the next one where the codec has
    it, else concealment), at the codec's own rate with the engine's resampling on either side.

    ``codec``: as offer/answer gives it, its fmtp the peer's parameters (for Opus, what softphone offers).
    """
    encoder = codec_for(codec.name, codec.clock_rate, codec.channels, dict(codec.fmtp))
    decoder = codec_for(codec.name, codec.clock_rate, codec.channels, dict(codec.fmtp))
    rate = encoder.sample_rate
    frame = rate * PTIME_MS // 1000
    # Silence after the speech, as the sending session goes on sending: it flushes the codec's delay
    # (without it the last 6.5 ms of speech never come out, and PESQ punishes a cut-off end hard).
    padded = np.concatenate((reference, np.zeros(10 * FRAME, dtype=np.float32)))
    pcm = padded if rate == PIPELINE_RATE else resample(padded, PIPELINE_RATE, rate)
    frames = pcm[: pcm.size // frame * frame].reshape(-1, frame)
    # The float calls, as the engine makes them.
    payloads = [encoder.encode_float(np.ascontiguousarray(f, dtype=np.float32)) for f in frames]
    out: list[Samples] = []
    for i, payload in enumerate(payloads):
        if i not in lost:
            decoded = decoder.decode_float(payload)
        elif i + 1 < len(payloads) and i + 1 not in lost:
            decoded = decoder.decode_fec_float(payloads[i + 1], frame)
        else:
            decoded = decoder.conceal_float(frame)
        out.append(decoded)
    joined = np.concatenate(out)
    return joined if rate == PIPELINE_RATE else resample(joined, rate, PIPELINE_RATE)


def best_lag(reference: npt.NDArray[Any], degraded: npt.NDArray[Any], max_lag: int) -> int:
    """The delay of ``degraded`` against ``reference`` (0..max_lag samples) that correlates best."""
    n = 1 << math.ceil(math.log2(reference.size + degraded.size))
    spectrum = np.fft.rfft(degraded.astype(np.float64), n) * np.conj(np.fft.rfft(reference.astype(np.float64), n))
    correlation = np.fft.irfft(spectrum, n)[: max_lag + 1]
    return int(np.argmax(correlation))


def local_lags(reference: npt.NDArray[Any], degraded: npt.NDArray[Any], lag: int, rate: int) -> list[float]:
    """Delay (ms) of each 1 s stretch of speech in ``degraded``, searched within -100..+300 ms of ``lag``.

    A jitter buffer that stretches or compresses the playout moves these: their spread shows how much
    the received speech was time-warped against the reference.
    """
    lags: list[float] = []
    window, before, after = rate, rate // 10, 3 * rate // 10
    loudness = float(np.sqrt(np.mean(reference**2))) if reference.size else 0.0
    for start in range(0, reference.size - window, window):
        piece = reference[start : start + window]
        if float(np.sqrt(np.mean(piece**2))) < 0.3 * loudness:
            continue  # mostly silence: no reliable delay
        low = max(0, start + lag - before)
        region = degraded[low : start + lag + after + window]
        if region.size < window:
            continue
        found = best_lag(piece, region, region.size - window)
        lags.append((low + found - start) * 1000 / rate)
    return lags


@dataclass
class Score:
    pesq: float
    delay_ms: float
    warp_ms: float  # spread (max - min) of the per-second delays


def wb_pesq(reference48: Samples, output48: Samples) -> Score:
    """WB-PESQ of ``output48`` against ``reference48`` after 16 kHz resampling and alignment."""
    try:
        from pesq import pesq  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise BenchError(f"{exc}: pip install -r benchmarks/requirements.txt") from exc

    ref16 = resample(reference48, PIPELINE_RATE, 16000).astype(np.float64)
    deg16 = resample(output48, PIPELINE_RATE, 16000).astype(np.float64)
    lag = best_lag(ref16, deg16, 16000)
    aligned = np.zeros(ref16.size)
    piece = deg16[lag : lag + ref16.size]
    aligned[: piece.size] = piece
    lags = local_lags(ref16, deg16, lag, 16000)
    warp = max(lags) - min(lags) if lags else 0.0
    return Score(float(pesq(16000, ref16, aligned, "wb")), lag / 16.0, warp)


@dataclass
class PesqRow:
    codec: str
    loss: float
    sent: int
    lost: int
    whole: Score
    alone: Score
    stats: dict[str, float]


# Opus alone, clean, in other configurations a peer can ask for (RFC 7587 fmtp), for comparison.
CODEC_VARIANTS = (
    ("32 kbit/s, maxplaybackrate=16000 (wideband only)", {"useinbandfec": "1", "maxplaybackrate": "16000"}),
    ("32 kbit/s (maxaveragebitrate=32000)", {"useinbandfec": "1", "maxaveragebitrate": "32000"}),
)
# The codecs of the default offer, each through the whole path; the same relay seed per loss for all.
PESQ_CODECS: tuple[tuple[str, Callable[[], Codec]], ...] = (
    (f"Opus {DEFAULT_OPUS_BITRATE // 1000} kbit/s, FEC", opus_codec),
    ("G.722", g722_codec),
    ("G.711 µ-law", pcmu_codec),
)


def measure_pesq(reference: Samples, seed: int) -> tuple[list[PesqRow], list[tuple[str, float]]]:
    rows: list[PesqRow] = []
    for label, make in PESQ_CODECS:
        for loss in LOSSES:
            run = whole_path(reference, loss, seed + round(loss * 1000), make())
            whole = wb_pesq(reference, run.output)
            alone = wb_pesq(reference, codec_alone(reference, run.lost, make()))
            rows.append(PesqRow(label, loss, run.sent, len(run.lost), whole, alone, run.stats))
    variants = [
        (name, wb_pesq(reference, codec_alone(reference, set(), replace(opus_codec(), fmtp=fmtp))).pesq)
        for name, fmtp in CODEC_VARIANTS
    ]
    return rows, variants


def print_pesq(rows: list[PesqRow], variants: list[tuple[str, float]], seconds: float) -> None:
    print()
    low, high = RELAY_DELAY_MS
    print(
        f"3. WB-PESQ, {seconds:.1f} s of espeak-ng speech, {PTIME_MS} ms;"
        f" relay delay {low:.0f}-{high:.0f} ms (30 ms spread), seeded loss"
    )
    print(
        f"   {'codec':22} {'loss':>5} {'lost/sent':>10} {'whole path':>10} {'codec alone':>11} {'gap':>6}"
        f"  {'target':24} {'verdict':8}"
    )
    for row in rows:
        gap = row.alone.pesq - row.whole.pesq
        opus = row.codec.startswith("Opus")
        if row.loss == 0:
            ok = abs(gap) <= TARGET_CLEAN_GAP and (row.whole.pesq >= TARGET_CLEAN_PESQ or not opus)
            target = f"|gap|<={TARGET_CLEAN_GAP}" + (f", whole>={TARGET_CLEAN_PESQ}" if opus else "")
        else:
            ok = gap <= TARGET_LOSS_GAP
            target = f"gap<={TARGET_LOSS_GAP}"
        print(
            f"   {row.codec:22} {row.loss * 100:4.0f}% {row.lost:4d}/{row.sent:<5d} {row.whole.pesq:10.2f}"
            f" {row.alone.pesq:11.2f} {gap:6.2f}  {target:24} {'met' if ok else 'NOT met':8}"
        )
    print("   whole path, receiving session: frames decoded / FEC / concealed / late; jitter buffer delay at the end;")
    print("   delay of the output against the input (overall; spread of the per-second delays); sender late ticks")
    for row in rows:
        s = row.stats
        print(
            f"   {row.codec:22} {row.loss * 100:4.0f}%  {s['frames_decoded']:.0f} / {s['fec']:.0f}"
            f" / {s['concealed']:.0f} / {s['late']:.0f};"
            f" {s['jb_ms']:.0f} ms; {row.whole.delay_ms:.0f} ms (spread {row.whole.warp_ms:.0f} ms);"
            f" {s['sender_late_ticks']:.0f}"
        )
    print("   Opus alone, clean, other settings:")
    for name, score in variants:
        print(f"     {name:52} {score:5.2f}")


# ==========================================================================================
# 4. Many calls at once, a five-party conference
# ==========================================================================================

MANY_CALLS = 10
CONFERENCE_CALLS = 4  # with the host: five parties
MANY_SETTLE = 2.0


@dataclass
class ManyResult:
    name: str
    host: Window | None
    callee_per_10s: float = 0.0
    note: str = ""


async def many_run(wav: Path, workdir: Path, calls: int, merge: bool, window: float, name: str) -> ManyResult:
    """``calls`` calls from a host UA here to one softphone-cli answering them all; optionally merged."""
    port = free_port()
    command = [
        *(sys.executable, "-m", "softphone.cli", "--no-register", "--play", str(wav), "--auto-answer"),
        *("--account", "sip:bob@127.0.0.1", "--listen", f"{LOOPBACK}:{port}"),
    ]
    with open(workdir / "many-callee.log", "w", encoding="utf-8") as log_file:
        callee = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=log_file, stderr=subprocess.STDOUT, text=True
        )
    try:
        wait_for(functools.partial(udp_bound, port), 20.0, f"softphone-cli callee to listen on UDP {port}")
        async with Host(wav_media(wav)) as host:
            ids = await host.place([f"sip:bob@{LOOPBACK}:{port}"] * calls)
            if merge:
                await host.merge(ids)
            await asyncio.sleep(MANY_SETTLE)
            before = cpu_seconds(callee.pid)
            figures = await host.window(window)
            callee_cpu = cpu_seconds(callee.pid) - before
        if min(figures.packets_received, default=0) == 0:
            return ManyResult(name, None, note="not measured: a call received no RTP")
        return ManyResult(name, figures, callee_cpu / figures.seconds * 10.0)
    except (BenchError, AssertionError, OSError) as exc:
        return ManyResult(name, None, note=f"not measured: {exc}")
    finally:
        with contextlib.suppress(OSError, ValueError):
            if callee.stdin is not None:
                callee.stdin.write("quit\n")
                callee.stdin.close()
        stop_process(callee)


def measure_many(wav: Path, workdir: Path, window: float, conference_seconds: float) -> list[ManyResult]:
    runs = [
        ("1 call", 1, False, window),
        (f"{MANY_CALLS} calls", MANY_CALLS, False, window),
        (f"{CONFERENCE_CALLS + 1}-party conference", CONFERENCE_CALLS, True, conference_seconds),
    ]
    return [asyncio.run(many_run(wav, workdir, calls, merge, seconds, name)) for name, calls, merge, seconds in runs]


def print_many(results: list[ManyResult]) -> None:
    print()
    print(
        "4. Many calls at once: CPU seconds per 10 s of each process (host: a UserAgent in this process;"
        " callee: one softphone-cli answering every call), Opus, WAV sources"
    )
    print(
        f"   {'run':22} {'window':>7} {'host':>7} {'callee':>7} {'host/call':>9} {'ms/tick':>7}"
        f" {'late wake-ups':>16} {'underruns':>9} {'overruns':>8}"
    )
    for r in results:
        w = r.host
        if w is None:
            print(f"   {r.name:22} {r.note}")
            continue
        print(
            f"   {r.name:22} {w.seconds:6.1f}s {w.cpu_per_10s:7.3f} {r.callee_per_10s:7.3f}"
            f" {w.cpu_per_10s / w.calls:9.3f} {w.cpu / max(1, w.ticks) * 1000:7.3f}"
            f" {w.late_ticks:6d} of {w.ticks:6d} {w.underruns:9d} {w.overruns:8d}"
        )
    one, many = results[0].host, results[1].host
    if one is not None and many is not None and one.cpu > 0 and results[0].callee_per_10s > 0:
        host_ratio = many.cpu_per_10s / one.cpu_per_10s
        callee_ratio = results[1].callee_per_10s / results[0].callee_per_10s
        verdict = "met" if max(host_ratio, callee_ratio) <= MANY_CALLS else "NOT met"
        print(
            f"   {MANY_CALLS} calls against 1: host {host_ratio:.1f}x, callee {callee_ratio:.1f}x"
            f" (goal <= {MANY_CALLS}x): {verdict}"
        )
    print(
        "   ms/tick: the host's CPU per tick of one call (20 ms of its audio), which stays comparable when a"
        " loaded machine drops ticks"
    )
    conference = results[2].host
    if conference is not None:
        clean = conference.late_ticks == conference.underruns == conference.overruns == 0
        print(
            f"   {CONFERENCE_CALLS + 1}-party conference over {conference.seconds:.0f} s: late wake-ups, underruns"
            f" and overruns (goal: none): {'met' if clean else 'NOT met'}"
        )


# ==========================================================================================


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: fewer set-ups, 5 s CPU windows and conference, 8 s speech"
    )
    parser.add_argument("--latency-runs", type=int, default=None, help="set-ups per latency row (default 8, 2 quick)")
    parser.add_argument("--cpu-seconds", type=float, default=None, help="CPU window (default 20, 5 quick)")
    parser.add_argument("--speech-seconds", type=float, default=None, help="cut the speech (default all, 8 quick)")
    parser.add_argument(
        "--parts",
        default="latency,cpu,devices,pesq,many",
        help="comma-separated subset of latency,cpu,devices,pesq,many (default all)",
    )
    parser.add_argument(
        "--conference-seconds", type=float, default=None, help="five-party conference run (default 60, 5 quick)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the random phases and the relay (default 1)")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="add this to the process's niceness first, e.g. -10 (root) so other load disturbs the clocks less",
    )
    args = parser.parse_args(argv)
    runs = args.latency_runs if args.latency_runs is not None else (2 if args.quick else 8)
    window = args.cpu_seconds if args.cpu_seconds is not None else (5.0 if args.quick else 20.0)
    speech_seconds = args.speech_seconds if args.speech_seconds is not None else (8.0 if args.quick else None)
    conference_seconds = (
        args.conference_seconds if args.conference_seconds is not None else (5.0 if args.quick else 60.0)
    )
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if runs < 1 or window <= 0 or conference_seconds <= 0 or not parts <= {"latency", "cpu", "devices", "pesq", "many"}:
        parser.error("--latency-runs and --cpu-seconds must be positive; --parts from latency,cpu,devices,pesq,many")

    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.nice:
        os.nice(args.nice)
    started = time.monotonic()
    print(machine_line(), flush=True)
    print(f"load average at start {load_line()}; niceness {os.nice(0)}", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="softphone-bench-media-") as tmp:
            workdir = Path(tmp)
            reference: Samples | None = None
            if parts & {"cpu", "devices", "pesq", "many"}:
                reference = speech_48k(speech_wav(TEXT), speech_seconds)
            wav48 = workdir / "speech48k.wav"
            if parts & {"cpu", "devices", "many"}:
                assert reference is not None
                write_wav48(reference, wav48)
            if "latency" in parts:
                print_latency(measure_latency(runs, args.seed), runs)
                sys.stdout.flush()
            if "cpu" in parts:
                results: list[CpuResult] = []
                for name, extra in CPU_CALLS:
                    try:
                        results.append(cpu_softphone(wav48, workdir, 2.0, window, extra, name))
                    except BenchError as exc:
                        results.append(CpuResult(name, None, f"not measured: {exc}"))
                for label, mediaenc, opus in BARESIP_CALLS:
                    results.append(cpu_baresip(wav48, workdir, 2.0, window, mediaenc, opus, label))
                print_cpu(results, window, what="WAV sources")
                print_processing_cpu()
                sys.stdout.flush()
            if "devices" in parts:
                assert reference is not None
                print_cpu(cpu_on_devices(reference, wav48, workdir, window), window, DEVICE_PAIRS, "PulseAudio devices")
                sys.stdout.flush()
            if "many" in parts:
                print_many(measure_many(wav48, workdir, window, conference_seconds))
                sys.stdout.flush()
            if "pesq" in parts:
                assert reference is not None
                rows, variants = measure_pesq(reference, args.seed)
                print_pesq(rows, variants, reference.size / PIPELINE_RATE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print()
    print(f"load average at end {load_line()}; total run time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

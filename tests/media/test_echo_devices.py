"""Echo cancellation over a real echo path: PulseAudio virtual devices, module-loopback from the
speaker's monitor into the microphone feed (80 ms, -10 dB, moved to 140 ms mid-call), the far end's
speech from a media session on loopback, the near end's speech played into the microphone at times.

Everything is measured on the recorded frames (``tests/echo_path.py``), never on timing. The
bounds are below what was measured on a 2-core machine (in brackets), with room for a loaded one:

- steady-state ERLE (the median of 0.5 s windows, 5-10 s) >= 25 dB [33-40 dB], convergence <= 6 s
  after the call starts [1-2 s] and after the delay moves [2-3.5 s];
- near-end speech during double talk, WB-PESQ against the near end alone: >= 1.5 [1.9-2.4] and at
  least 0.4 above the same call without processing [1.2] (the goal, 3.5, is not reached: see
  docs/architecture.md);
- without processing the same call carries the echo (ERLE < 3 dB). That call starts where the
  delay has already moved (the echo path at 140 ms, the far end's speech UNPROCESSED_FROM seconds
  in): the near end talks over the same far-end words through the same path as in the call with
  processing, which is all the comparison needs, in 10 s less;
- an echo-free device (a headset): the near end, talking over the far end, passes (WB-PESQ >= 4.0).
"""

from __future__ import annotations

import numpy as np
import pytest

from softphone.media.processing import ProcessingConfig
from tests.echo_path import EchoPath, EchoRun, SpeechMissing, echo_call, near_speech, wb_pesq
from tests.pulse_server import PulseAudio

SECONDS = 29.0
MOVE_AT = 10.0
NEAR_AT = 17.5  # the 6 s allowed for convergence after the move fit before the near end starts
UNPROCESSED_FROM = 10.0  # where the call without processing starts in the one with it (after the move)
ECHO_ONLY = ProcessingConfig(
    echo_cancellation=True, noise_suppression="off", high_pass_filter=False, gain_control=False
)


def _near() -> np.ndarray:
    try:
        return near_speech() * np.float32(0.7)
    except SpeechMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def without_processing(pulse: PulseAudio) -> tuple[EchoRun, float]:
    near = _near()
    with EchoPath(pulse, "speaker.monitor", "micfeed", delay_ms=140, gain_db=-10):
        run = echo_call(
            pulse,
            ProcessingConfig.off(),
            seconds=SECONDS - UNPROCESSED_FROM,
            near=near,
            near_at=NEAR_AT - UNPROCESSED_FROM,
            far_from=UNPROCESSED_FROM,
        )
    return run, wb_pesq(near, run.near_segment())


def test_the_canceller_removes_the_echo_and_keeps_the_near_end(
    pulse: PulseAudio, without_processing: tuple[EchoRun, float]
) -> None:
    near = _near()
    with EchoPath(pulse, "speaker.monitor", "micfeed", delay_ms=80, gain_db=-10) as path:
        run = echo_call(
            pulse, ECHO_ONLY, seconds=SECONDS, near=near, near_at=NEAR_AT, path=path, move_at=MOVE_AT, move_to=140
        )
    assert run.move_at is not None and run.near_start is not None
    windows = [(t, round(e, 1)) for t, e in run.erle_windows(0, NEAR_AT)]
    steady = run.median_erle(5.0, MOVE_AT)
    assert steady >= 25.0, f"steady-state ERLE {steady:.1f} dB; windows {windows}"
    started = run.convergence(0.0, MOVE_AT)
    assert started is not None and started <= 6.0, f"no convergence within 6 s of the start: {windows}"
    moved = run.convergence(run.move_at, run.near_start)
    assert moved is not None and moved <= 6.0, f"no convergence within 6 s of the delay change: {windows}"
    pesq = wb_pesq(near, run.near_segment())
    _, unprocessed = without_processing
    assert pesq >= 1.5 and pesq >= unprocessed + 0.4, f"double talk WB-PESQ {pesq:.2f} (unprocessed {unprocessed:.2f})"
    figures = [s for _, s in run.stats if s.erle_db is not None and s.echo_delay_ms is not None]
    assert figures, f"the processor never reported ERLE and echo delay: {run.stats}"


def test_without_processing_the_echo_is_there(without_processing: tuple[EchoRun, float]) -> None:
    run, _ = without_processing
    assert run.near_start is not None
    assert run.erle(2.0, run.near_start) < 3.0


def test_an_echo_free_device_is_left_alone(pulse: PulseAudio) -> None:
    near = _near()
    run = echo_call(pulse, ECHO_ONLY, seconds=18.0, near=near, near_at=5.0)
    pesq = wb_pesq(near, run.near_segment())
    assert pesq >= 4.0, f"near-end WB-PESQ through the canceller with no echo, the far end talking: {pesq:.2f}"

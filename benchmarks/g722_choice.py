"""Two ways to G.722: FFmpeg's codec through PyAV (what the phone uses) against G.722 on numpy and Python.

Run from the repository root::

    .venv/bin/python -m benchmarks.g722_choice

Both code the same speech (``benchmarks/speech/text.txt`` read by espeak-ng, as in
benchmarks/media.py, resampled to 16 kHz) in 20 ms frames. Printed for each: the CPU
seconds (``time.process_time``, this process alone, best of three) to encode and to
decode 10 s of audio, and the WB-PESQ of the decoded speech against the input; then
whether the two give the same octets and the same samples (G.722 is bit-exact by
design, so any difference is a bug in one of them).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.g722_python import G722Decoder, G722Encoder
from benchmarks.machine import machine_line
from benchmarks.media import PIPELINE_RATE, TEXT, BenchError, speech_48k, speech_wav, wb_pesq
from softphone.media.codecs import G722Codec
from softphone.media.resample import resample

RATE = 16000
FRAME = RATE * 20 // 1000
Pcm = npt.NDArray[np.int16]


def best_cpu(work: Callable[[], object], runs: int = 3) -> tuple[float, object]:
    """The least process CPU time of ``runs`` calls, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.process_time()
        result = work()
        best = min(best, time.process_time() - start)
    return best, result


Encoder = Callable[[], Callable[[Pcm], bytes]]
Decoder = Callable[[], Callable[[bytes], Pcm]]


def run(
    name: str, make_encoder: Encoder, make_decoder: Decoder, frames: list[Pcm], reference48: npt.NDArray[np.float32]
) -> tuple[bytes, Pcm]:
    seconds = len(frames) * FRAME / RATE

    def encode_all() -> list[bytes]:
        encode = make_encoder()
        return [encode(f) for f in frames]

    def decode_all(payloads: list[bytes]) -> Pcm:
        decode = make_decoder()
        return np.concatenate([decode(p) for p in payloads])

    encode_cpu, payloads = best_cpu(encode_all)
    assert isinstance(payloads, list)
    decode_cpu, decoded = best_cpu(lambda: decode_all(payloads))
    assert isinstance(decoded, np.ndarray)
    output48 = resample(decoded.astype(np.float32) / 32768.0, RATE, PIPELINE_RATE)
    score = wb_pesq(reference48, output48)
    per10 = 10.0 / seconds
    print(
        f"   {name:28} {encode_cpu * per10:8.3f} {decode_cpu * per10:8.3f} {(encode_cpu + decode_cpu) * per10:8.3f}"
        f" {score.pesq:8.2f}"
    )
    return b"".join(payloads), decoded


def main() -> int:
    print(machine_line())
    try:
        reference48 = speech_48k(speech_wav(TEXT), None)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    pcm = np.clip(np.rint(resample(reference48, PIPELINE_RATE, RATE) * 32767.0), -32768, 32767).astype(np.int16)
    frames = list(pcm[: pcm.size // FRAME * FRAME].reshape(-1, FRAME))
    print(f"G.722 at 64 kbit/s, {len(frames) * FRAME / RATE:.1f} s of espeak-ng speech at 16 kHz, 20 ms frames")
    print(f"   {'implementation':28} {'encode':>8} {'decode':>8} {'both':>8} {'WB-PESQ':>8}   (CPU s per 10 s)")

    def ffmpeg_encoder() -> Callable[[Pcm], bytes]:
        return G722Codec().encode

    def ffmpeg_decoder() -> Callable[[bytes], Pcm]:
        return G722Codec().decode

    ff_octets, ff_samples = run("FFmpeg g722 through PyAV", ffmpeg_encoder, ffmpeg_decoder, frames, reference48)
    py_octets, py_samples = run(
        "numpy + Python", lambda: G722Encoder().encode, lambda: G722Decoder().decode, frames, reference48
    )
    same_octets = ff_octets == py_octets
    same_samples = np.array_equal(ff_samples, py_samples)
    print(f"   same octets: {'yes' if same_octets else 'NO'}; same decoded samples: {'yes' if same_samples else 'NO'}")
    return 0 if same_octets and same_samples else 1


if __name__ == "__main__":
    sys.exit(main())

"""What SRTP costs: per packet in libsrtp, and per call in whole processes, against plain RTP and baresip.

Run from the repository root::

    .venv/bin/python -m benchmarks.srtp            # about 3 minutes
    .venv/bin/python -m benchmarks.srtp --quick    # about a minute

1. Per packet: ``SrtpTransform`` (pylibsrtp) protecting and then checking one
   RTP packet of a 20 ms frame (PCMU: 160 octets, Opus at 48 kbit/s: 120),
   per suite, and the same through ``MediaProtection`` as the media thread
   calls it; the median of ``--rounds`` runs of 5,000 packets. A 10 s call
   sends and receives 500 packets each way: 500 such pairs.
2. Per call: two ``softphone-cli`` processes calling each other directly on
   loopback (the way benchmarks/media.py measures CPU per call: Opus, the
   caller's WAV looped), once per protection: plain RTP, SDES with
   AES_CM_128_HMAC_SHA1_80, SDES with AEAD_AES_128_GCM, DTLS-SRTP (the suite
   it picks: AEAD_AES_256_GCM). SDES over a direct UDP call needs
   ``--srtp-clear-keys`` (on loopback nothing else sees them). Then two
   ``baresip`` processes (Debian package) the same way: plain, ``srtp-mand``
   (SDES) and ``dtls_srtp``. User+system CPU per 10 s of an established call,
   per process, from /proc/PID/stat.

Everything runs on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from benchmarks.machine import machine_line
from benchmarks.media import CpuResult, cpu_baresip, cpu_softphone
from softphone.media.rtp import RtpPacket
from softphone.media.srtp import SUITE_KEY_LENGTHS, MediaProtection, SrtpTransform
from softphone.sip.srtp_sdp import MediaCrypto

SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM", "AEAD_AES_256_GCM")
PACKETS = 5000


def per_packet_us(suite: str, payload: int, rounds: int) -> float:
    """Median microseconds to protect one packet and check it at the other end."""
    length = SUITE_KEY_LENGTHS[suite]
    key_a, key_b = os.urandom(length), os.urandom(length)
    results = []
    for _ in range(rounds):
        sender = SrtpTransform(suite, key_a, key_b)
        receiver = SrtpTransform(suite, key_b, key_a)
        packets = [RtpPacket(0, n, n * 160, 0x1234, payload=b"\x55" * payload).to_bytes() for n in range(PACKETS)]
        start = time.perf_counter()
        for packet in packets:
            receiver.unprotect(sender.protect(packet))
        results.append((time.perf_counter() - start) / PACKETS * 1e6)
    return statistics.median(results)


def engine_path_us(suite: str, payload: int, rounds: int) -> float:
    """The same through :class:`MediaProtection`, as the media thread calls it (counters and checks included)."""
    length = SUITE_KEY_LENGTHS[suite]
    key_a, key_b = os.urandom(length), os.urandom(length)
    results = []
    for _ in range(rounds):
        sender = MediaProtection(MediaCrypto("sdes", suite, (suite,), local_key=key_a, remote_key=key_b), None)
        receiver = MediaProtection(MediaCrypto("sdes", suite, (suite,), local_key=key_b, remote_key=key_a), None)
        packets = [RtpPacket(111, n, n * 960, 0x1234, payload=b"\x55" * payload).to_bytes() for n in range(PACKETS)]
        start = time.perf_counter()
        for packet in packets:
            protected = sender.protect(packet)
            assert protected is not None
            receiver.unprotect(protected)
        results.append((time.perf_counter() - start) / PACKETS * 1e6)
    return statistics.median(results)


def tone_wav(path: Path, seconds: float = 5.0) -> Path:
    t = np.arange(int(48000 * seconds)) / 48000
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(pcm.tobytes())
    return path


def print_row(result: CpuResult, plain: float | None) -> None:
    if result.per_10s is None:
        print(f"   {result.name:34} not measured: {result.note.removeprefix('not measured: ')}")
        return
    caller, callee = result.per_10s
    mean = (caller + callee) / 2
    extra = f"{(mean - plain) * 1000:+8.1f}" if plain is not None else f"{'':8}"
    print(f"   {result.name:34} {caller:7.3f} {callee:7.3f} {mean:7.3f} {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter windows and fewer rounds")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    window = 5.0 if args.quick else args.cpu_seconds
    settle = 2.0
    print(f"SRTP cost on {machine_line()}")
    print()
    print(f"1. Per packet, protect + check (median of {rounds} x {PACKETS} packets); per 10 s: 500 packets each way")
    print(f"   {'suite':26} {'libsrtp PCMU':>12} {'libsrtp Opus':>12} {'engine Opus':>12} {'per 10 s call':>14}")
    for suite in SUITES:
        pcmu, opus = per_packet_us(suite, 160, rounds), per_packet_us(suite, 120, rounds)
        engine = engine_path_us(suite, 120, rounds)
        print(f"   {suite:26} {pcmu:9.2f} µs {opus:9.2f} µs {engine:9.2f} µs {engine * 500 / 1000:11.2f} ms")
    print()
    print(
        f"2. CPU seconds per 10 s of an established Opus call, per process (user+sys over {window:.0f} s,"
        " two processes calling each other on loopback); last column: ms per 10 s above plain"
    )
    print(f"   {'client':34} {'caller':>7} {'callee':>7} {'mean':>7} {'vs plain':>8}")
    with tempfile.TemporaryDirectory(prefix="srtp-bench-") as tmp:
        workdir = Path(tmp)
        wav = tone_wav(workdir / "tone.wav")
        rows = [
            ("softphone-cli plain RTP", ["--srtp", "off"]),
            (
                "softphone-cli SDES AES-CM-128-80",
                [
                    "--srtp",
                    "mandatory",
                    "--srtp-keys",
                    "sdes",
                    "--srtp-clear-keys",
                    "--srtp-suites",
                    "AES_CM_128_HMAC_SHA1_80",
                ],
            ),
            (
                "softphone-cli SDES AES-GCM-128",
                [
                    "--srtp",
                    "mandatory",
                    "--srtp-keys",
                    "sdes",
                    "--srtp-clear-keys",
                    "--srtp-suites",
                    "AEAD_AES_128_GCM",
                ],
            ),
            ("softphone-cli DTLS AES-GCM-256", ["--srtp", "mandatory", "--srtp-keys", "dtls"]),
        ]
        plain: float | None = None
        for name, extra in rows:
            result = cpu_softphone(wav, workdir, settle, window, extra, name)
            print_row(result, plain)
            if plain is None and result.per_10s is not None:
                plain = sum(result.per_10s) / 2
        plain = None
        for mediaenc in (None, "srtp-mand", "dtls_srtp"):
            result = cpu_baresip(wav, workdir, settle, window, mediaenc)
            if mediaenc is None:
                result.name = "baresip plain RTP"
            print_row(result, plain)
            if plain is None and result.per_10s is not None:
                plain = sum(result.per_10s) / 2


if __name__ == "__main__":
    main()

"""A flood of mutated SIP against a listening phone: does it keep answering, and what does it cost?

For softphone-cli and for baresip (Debian's package) in the same run, each
listening on 127.0.0.1 with a LAN account that takes direct calls:

* 20,000 mutated datagrams (the benchmark corpus with bytes flipped, lines
  dropped or repeated, numbers blown up, bodies cut) sent at full speed from
  127.0.0.99;
* meanwhile a legitimate client on 127.0.0.1 sends an OPTIONS every 50 ms and
  counts those answered within 1 s;
* the target's CPU seconds over the flood, its peak RSS, and its descriptors
  after it.

Run: ``python -m benchmarks.attack`` (``make bench`` runs it too). Traffic stays on
loopback; the loops are bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.corpus import CORPUS
from benchmarks.machine import machine_line

ATTACKER = "127.0.0.99"
LEGIT = "127.0.0.1"
PROBE_EVERY = 0.05
ANSWER_WITHIN = 1.0


@dataclass
class Result:
    name: str
    answered: float | None = None
    cpu_seconds: float | None = None
    peak_rss_mb: float | None = None
    descriptors: int | None = None
    note: str = ""


def mutations(count: int, seed: int = 20261207) -> list[bytes]:
    """``count`` mutated datagrams from the corpus (seeded: the same flood every run)."""
    rng = random.Random(seed)
    messages = [m if isinstance(m, bytes) else m.encode() for m in CORPUS.values()]
    out: list[bytes] = []
    for _ in range(count):
        data = bytearray(rng.choice(messages))
        kind = rng.randrange(6)
        if kind == 0:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:
            lines = bytes(data).split(b"\r\n")
            del lines[rng.randrange(1, max(2, len(lines) - 2))]
            data = bytearray(b"\r\n".join(lines))
        elif kind == 2:
            lines = bytes(data).split(b"\r\n")
            line = lines[rng.randrange(1, max(2, len(lines) - 2))]
            data = bytearray(bytes(data).replace(line, (line + b"\r\n") * rng.randint(2, 400), 1))
        elif kind == 3:
            for name in (b"CSeq: ", b"Content-Length: ", b"Max-Forwards: "):
                data = bytearray(bytes(data).replace(name, name + b"9" * rng.choice((12, 500, 5000)), 1))
        elif kind == 4:
            data = data[: rng.randrange(1, len(data))]
        else:
            data = bytearray(bytes(data).replace(b"z9hG4bK", b"z9hG4bK" + secrets.token_hex(4).encode(), 1))
        out.append(bytes(data[:65000]))
    return out


def free_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((LEGIT, 0))
            port: int = udp.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind((LEGIT, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def options(port: int, source: tuple[str, int], seq: int) -> bytes:
    host, sport = source
    return (
        f"OPTIONS sip:alice@{LEGIT}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{sport};branch=z9hG4bKprobe{seq}x{secrets.token_hex(3)};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@{host}>;tag=p{seq}\r\nTo: <sip:alice@{LEGIT}:{port}>\r\n"
        f"Call-ID: probe{seq}@{host}\r\nCSeq: {seq} OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def answered_options(port: int, timeout: float = 10.0) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LEGIT, 0))
        sock.settimeout(0.2)
        deadline = time.monotonic() + timeout
        seq = 0
        while time.monotonic() < deadline:
            seq += 1
            sock.sendto(options(port, sock.getsockname(), seq), (LEGIT, port))
            with contextlib.suppress(TimeoutError, socket.timeout):
                if sock.recv(65535).startswith(b"SIP/2.0 200"):
                    return True
    return False


def proc_figures(pid: int) -> tuple[float, float, int]:
    """CPU seconds so far, peak RSS in MB and open descriptors of ``pid``."""
    ticks = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = 0.0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return cpu, peak, len(os.listdir(f"/proc/{pid}/fd"))


def flood(port: int, datagrams: list[bytes]) -> tuple[int, int]:
    """Send the flood while probing with OPTIONS; (probes answered within 1 s, probes sent)."""
    done = threading.Event()
    counts = [0, 0]

    def probe() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((LEGIT, 0))
            sock.setblocking(False)
            # seq -> (first sent, last sent, the request): a client sends again after T1 (RFC 3261 17.1.2.2).
            pending: dict[int, tuple[float, float, bytes]] = {}
            seq = 1000
            next_probe = time.monotonic()
            while not done.is_set() or pending:
                now = time.monotonic()
                if not done.is_set() and now >= next_probe:
                    seq += 1
                    request = options(port, sock.getsockname(), seq)
                    pending[seq] = (now, now, request)
                    counts[1] += 1
                    sock.sendto(request, (LEGIT, port))
                    next_probe = now + PROBE_EVERY
                for number, (first, last, request) in list(pending.items()):
                    if now - last >= 0.5:
                        pending[number] = (first, now, request)
                        sock.sendto(request, (LEGIT, port))
                with contextlib.suppress(BlockingIOError):
                    while True:
                        data = sock.recv(65535)
                        for line in data.split(b"\r\n"):
                            if line.startswith(b"CSeq: "):
                                number = int(line.split()[1])
                                sent = pending.pop(number, None)
                                ok = data.startswith(b"SIP/2.0 200")
                                if sent is not None and ok and now - sent[0] <= ANSWER_WITHIN:
                                    counts[0] += 1
                for number in [n for n, (first, _, _) in pending.items() if now - first > ANSWER_WITHIN]:
                    del pending[number]
                time.sleep(0.005)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
        attacker.bind((ATTACKER, 0))
        for data in datagrams:
            with contextlib.suppress(OSError):
                attacker.sendto(data, (LEGIT, port))
    time.sleep(ANSWER_WITHIN)
    done.set()
    prober.join(10)
    return counts[0], counts[1]


def measure(name: str, proc: subprocess.Popen[bytes], port: int, datagrams: list[bytes]) -> Result:
    if not answered_options(port):
        return Result(name, note="did not answer OPTIONS before the flood")
    cpu0, _, _ = proc_figures(proc.pid)
    ok, sent = flood(port, datagrams)
    alive = proc.poll() is None
    if not alive:
        return Result(name, ok / sent if sent else None, note=f"died during the flood (exit {proc.returncode})")
    cpu1, peak, fds = proc_figures(proc.pid)
    after = "answers after" if answered_options(port, 5.0) else "NO answer after the flood"
    return Result(name, ok / sent if sent else None, cpu1 - cpu0, peak, fds, f"{ok}/{sent} probes; {after}")


def run_softphone(workdir: Path, datagrams: list[bytes]) -> Result:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "softphone.cli",
            "--account", f"sip:alice@{LEGIT}", "--no-register",
            "--listen", f"{LEGIT}:{port}", "--no-audio", "--json", "--db", str(workdir / "softphone.db"),
        ],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return measure("softphone-cli", proc, port, datagrams)
    finally:
        stop(proc)


def run_baresip(workdir: Path, datagrams: list[bytes]) -> Result:
    exe = shutil.which("baresip")
    if exe is None:
        return Result("baresip", note="not installed (apt-get install -y baresip)")
    port = free_port()
    config = workdir / "baresip"
    config.mkdir()
    (config / "config").write_text(
        f"poll_method epoll\nsip_listen {LEGIT}:{port}\nnet_interface {LEGIT}\n"
        "module_path /usr/lib/baresip/modules\nmodule_tmp account.so\n",
        encoding="utf-8",
    )
    (config / "accounts").write_text(f"<sip:alice@{LEGIT}>;regint=0\n", encoding="utf-8")
    proc = subprocess.Popen(
        [exe, "-f", str(config), "-t", "600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return measure("baresip", proc, port, datagrams)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datagrams", type=int, default=20_000)
    args = parser.parse_args(argv)
    datagrams = mutations(args.datagrams)
    print(machine_line())
    print(f"{args.datagrams:,} mutated datagrams at full speed from {ATTACKER}; an OPTIONS every 50 ms from {LEGIT}")
    print()
    workdir = Path(tempfile.mkdtemp(prefix="attack-bench-"))
    try:
        results = [run_softphone(workdir, datagrams), run_baresip(workdir, datagrams)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'target':15} {'answered <1 s':>13} {'CPU s':>7} {'peak RSS MB':>12} {'fds after':>10}  note")
    for r in results:
        answered = f"{r.answered:.0%}" if r.answered is not None else "-"
        cpu = f"{r.cpu_seconds:.2f}" if r.cpu_seconds is not None else "-"
        rss = f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb is not None else "-"
        fds = str(r.descriptors) if r.descriptors is not None else "-"
        print(f"{r.name:15} {answered:>13} {cpu:>7} {rss:>12} {fds:>10}  {r.note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

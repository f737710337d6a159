"""The PyInstaller bundle next to a virtual environment: size on disk and start-up time.

Run from the repository root after ``make dist``::

    python benchmarks/bundle.py            # 7 starts of each program in each form
    python benchmarks/bundle.py --quick    # 3
    python benchmarks/bundle.py --venv DIR # compare with an existing environment instead

What is compared: ``dist/bundle/softphone`` against a fresh virtual environment holding only the
wheel and its dependencies (what ``pipx install`` makes), created here in a temporary folder with
this Python and deleted afterwards. Each start is a new process with a clean environment (system
PATH, a fresh HOME), the file cache warm: one start of each program is made and left out before the
measured ones, so both forms read their files from memory, as on a second start of the day. The
starts take turns (bundle, venv, bundle, ...) so that the machine's load weighs on both alike; the
CPU time of each start (user + system, up to the window's exposure for the GUI) moves less with load
than the wall time does.

``softphone-cli --version``
    wall time from spawn to exit, and the process's CPU time: interpreter or bootloader start and
    the imports of the CLI (the user agent, numpy), argument parsing.
``GUI start -> main window``
    wall time from spawn to the main window's first exposure (``$SOFTPHONE_REPORT``), with a LAN-only
    account, on an X server of its own (``Xvfb :N``, stopped by PID), then SIGTERM.
``size``
    bytes of the files in the folder (``du --apparent-size``), and the files a user downloads.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.gui import Xvfb, dies_with_parent, write_settings
from benchmarks.machine import machine_line

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def version() -> str:
    from softphone import __version__

    return __version__


def folder_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size >= 10e6 else f"{size / 1e6:.1f} MB"


def make_venv(where: Path, wheel: Path) -> Path:
    """A virtual environment with the wheel and its dependencies, as pipx would make it."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
    )
    return where


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    return {"PATH": SYSTEM_PATH, "HOME": str(home), "LANG": "C.UTF-8", **extra}


Sample = tuple[float, float]  # wall seconds, CPU seconds (user + system) of the process


def time_version(program: Path, env: dict[str, str]) -> Sample:
    start = time.perf_counter()
    proc = subprocess.Popen([str(program), "--version"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{program} --version failed with {proc.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    """User + system time of a running process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_window(program: Path, env: dict[str, str], workdir: Path, n: int) -> Sample:
    """Spawn the GUI and wait for its ``shown`` line: the time from spawn to it, and its CPU time then."""
    settings = workdir / "settings.json"
    if not settings.exists():
        write_settings(settings, {"aor": "sip:alice@127.0.0.1", "register": False})
    args = [
        str(program),
        "--config",
        str(settings),
        "--db",
        str(workdir / f"softphone-{n}.db"),
        "--instance-name",
        f"softphone-bench-{os.getpid()}-{n}",
        "--no-tray",
        "--no-ring",
        "--listen",
        "127.0.0.1",
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(
        dies_with_parent(args),
        env={**env, "SOFTPHONE_REPORT": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the child prints nothing else; it ends the loop by exiting if it fails
            if line.startswith("shown "):
                return time.perf_counter() - start, cpu_seconds(proc.pid)
        raise RuntimeError(f"{program} exited with {proc.wait()} before its main window was shown")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def measure(forms: dict[str, dict[str, Path]], env: dict[str, str], scratch: Path, runs: int) -> dict[str, Any]:
    """Each form's starts, taken in turns (bundle, venv, bundle, ...) so that a change in the machine's
    load falls on both alike; one start of each program first, not counted, to warm the file cache."""
    times: dict[str, dict[str, list[Sample]]] = {name: {"cli": [], "gui": []} for name in forms}
    for name, programs in forms.items():
        (scratch / f"run-{name}").mkdir()
        time_version(programs["cli"], env)
        time_window(programs["gui"], env, scratch / f"run-{name}", 0)
    for n in range(1, runs + 1):
        for name, programs in forms.items():
            times[name]["cli"].append(time_version(programs["cli"], env))
            times[name]["gui"].append(time_window(programs["gui"], env, scratch / f"run-{name}", n))
    return times


def figure(samples: list[Sample]) -> str:
    wall = [w for w, _ in samples]
    cpu = statistics.median(c for _, c in samples)
    return f"{statistics.median(wall):.2f} s ({min(wall):.2f}–{max(wall):.2f}), CPU {cpu:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="3 starts of each instead of 7")
    parser.add_argument("--venv", type=Path, help="an environment with the softphone installed (default: a new one)")
    args = parser.parse_args(argv)
    runs = 3 if args.quick else 7
    ver = version()
    bundle = DIST / "bundle" / "softphone"
    wheel = DIST / f"softphone-{ver}-py3-none-any.whl"
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=False).stdout.strip()
    deb = DIST / f"softphone_{ver}_{arch}.deb"
    tarball = DIST / f"softphone-{ver}-linux-{os.uname().machine}.tar.gz"
    missing = [str(p) for p in (bundle, wheel, deb, tarball) if not p.exists()]
    if missing:
        print(f"not built: {', '.join(missing)}; run make dist", file=sys.stderr)
        return 1

    scratch = Path(tempfile.mkdtemp(prefix="softphone-bench-bundle-"))
    xvfb = Xvfb()
    try:
        venv = args.venv or make_venv(scratch / "venv", wheel)
        home = scratch / "home"
        home.mkdir()
        runtime = scratch / "runtime"
        runtime.mkdir(mode=0o700)
        env = clean_env(home, DISPLAY=xvfb.start(), XDG_RUNTIME_DIR=str(runtime))
        forms = {
            "bundle": {"cli": bundle / "softphone-cli", "gui": bundle / "softphone"},
            "venv": {"cli": venv / "bin" / "softphone-cli", "gui": venv / "bin" / "softphone"},
        }
        times = measure(forms, env, scratch, runs)
        sizes = {"bundle": folder_bytes(bundle), "venv": folder_bytes(venv)}
    finally:
        xvfb.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    print(machine_line())
    print(f"softphone {ver}; wall time: median of {runs} starts (min–max), and median CPU time; warm file cache\n")
    print("| | PyInstaller bundle | virtual environment (wheel + dependencies) |")
    print("| --- | ---: | ---: |")
    print(f"| size on disk | {mb(sizes['bundle'])} | {mb(sizes['venv'])} |")
    print(
        f"| download | {mb(tarball.stat().st_size)} (.tar.gz), {mb(deb.stat().st_size)} (.deb) "
        f"| {mb(wheel.stat().st_size)} (wheel) + dependencies from PyPI |"
    )
    print(f"| `softphone-cli --version` | {figure(times['bundle']['cli'])} | {figure(times['venv']['cli'])} |")
    print(f"| GUI start → main window shown | {figure(times['bundle']['gui'])} | {figure(times['venv']['gui'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The desktop application as a user meets it: cold start, memory, idle CPU, and a presence burst.

Run from the repository root::

    python benchmarks/gui.py              # 5 cold starts, 60 s idle
    python benchmarks/gui.py --quick      # 3 cold starts, 10 s idle
    python benchmarks/gui.py --platform offscreen

Every figure comes from the real application, ``python -m softphone.gui.app``,
run as a child process with a fresh settings file and database in a
temporary directory, on an X server of its own (``Xvfb :N``, started and
stopped here by PID) or Qt's offscreen platform. The child is told to report
through ``$SOFTPHONE_REPORT`` (a small hook in ``softphone/gui/app.py``): it
prints ``shown <unix time>`` once its main window is exposed and, with
``SOFTPHONE_REPORT=stalls``, every second the longest gap between ticks of a
10 ms timer on its GUI thread (``stall <ms>``). Its password comes from an
in-memory keyring backend defined below (``PYTHON_KEYRING_BACKEND``), so no
desktop secret service is involved.

What the table measures:

``cold start -> window shown``
    wall time from just before the child is spawned to its ``shown`` line:
    interpreter start, imports (PySide6, numpy, the UA), settings, store,
    the UA's core thread, the main window and its first exposure. One account
    registers with a private Kamailio (``tests/kamailio_server.Kamailio``).
``idle RSS``
    ``VmRSS`` of ``/proc/PID/status`` a few seconds after start, registered.
``idle CPU``
    user + system time of the child (``/proc/PID/stat``) over ``--idle-seconds``
    while registered and idle (no heartbeat timer), as a percentage of one core.
``GUI stall, 1,000 NOTIFYs``
    the buddy list holds 1,000 contacts with presence, all served
    by one headless ``UserAgent`` in this process, which stands in for a
    presence server: it is the app's outbound proxy (an account without
    registration), so its NOTIFYs are not held to the request rate limit
    strangers are. Two bursts: the 1,000
    initial NOTIFYs that follow the 1,000 SUBSCRIBEs of the start, then the
    peer changes its state and sends 1,000 NOTIFYs at once. The figure is the
    longest heartbeat gap the child reported from the burst's start until two
    seconds after the peer had the last 200 OK (the GUI catches up on events
    after the UA has answered).

Everything started is stopped on the way out, also on Ctrl-C or an error: the
children (SIGTERM, then SIGKILL after 10 s, by PID), the peer UA, Kamailio and
Xvfb (by PID).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine_line
from tests.child_process import dies_with_parent

try:  # the child imports this module only for the keyring backend below
    import keyring.backend

    _KeyringBase: Any = keyring.backend.KeyringBackend
except ImportError:  # pragma: no cover - keyring is a dependency of the application
    _KeyringBase = object

ROOT = Path(__file__).resolve().parent.parent
TARGET_START_S = 1.0
TARGET_RSS_MB = 150.0
TARGET_CPU_PERCENT = 0.2
TARGET_STALL_MS = 50.0
BUDDIES = 1000
PASSWORD_VARIABLE = "SOFTPHONE_BENCH_PASSWORD"


class BenchKeyring(_KeyringBase):  # type: ignore[misc]
    """Read-only keyring for the child: the one password comes from ``$SOFTPHONE_BENCH_PASSWORD``."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        return os.environ.get(PASSWORD_VARIABLE)

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("the benchmark keyring is read-only")

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("the benchmark keyring is read-only")


# --- processes -----------------------------------------------------------------------------------


def free_display() -> int:
    for number in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number between :90 and :199")


class Xvfb:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.display = ""

    def start(self) -> str:
        number = free_display()
        self.display = f":{number}"
        self.proc = subprocess.Popen(
            dies_with_parent(["Xvfb", self.display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Xvfb {self.display} did not start")
            time.sleep(0.02)
        return self.display

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class App:
    """One run of ``python -m softphone.gui.app`` whose report lines are read on a thread."""

    def __init__(self, workdir: Path, env: dict[str, str], args: list[str]) -> None:
        self.workdir = workdir
        self.lines: list[tuple[float, str]] = []
        self.spawned = time.time()
        self.proc = subprocess.Popen(
            dies_with_parent([sys.executable, "-m", "softphone.gui.app", *args]),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=open(workdir / "app-stderr.log", "ab"),
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.time(), line.strip()))

    def wait_for(self, prefix: str, timeout: float = 30.0) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for when, line in list(self.lines):
                if line.startswith(prefix):
                    return when, line
            if self.proc.poll() is not None:
                break
            time.sleep(0.005)
        log = (self.workdir / "app-stderr.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the application did not print {prefix!r} (exit {self.proc.poll()}):\n{log}")

    def shown_after(self) -> float:
        _when, line = self.wait_for("shown ")
        return float(line.split()[1]) - self.spawned

    def stalls(self, start: float, end: float) -> list[float]:
        return [
            float(line.split()[1])
            for when, line in list(self.lines)
            if line.startswith("stall ") and start <= when <= end
        ]

    def collections(self, start: float, end: float) -> str:
        """The longest collection of each generation the child reported between ``start`` and ``end``."""
        longest = [0.0, 0.0, 0.0]
        for when, line in list(self.lines):
            if line.startswith("gc ") and start <= when <= end:
                longest = [max(a, float(b)) for a, b in zip(longest, line.split()[1:], strict=True)]
        return ", ".join(f"gen{g} {ms:.1f} ms" for g, ms in enumerate(longest))

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)


def child_env(workdir: Path, platform: str, display: str, password: str, report: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[name] = str(workdir / name.lower())
    env["PYTHON_KEYRING_BACKEND"] = "benchmarks.gui.BenchKeyring"
    env[PASSWORD_VARIABLE] = password
    env["SOFTPHONE_REPORT"] = report
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if platform == "offscreen":
        env["QT_QPA_PLATFORM"] = "offscreen"
    else:
        env["QT_QPA_PLATFORM"] = "xcb"
        env["DISPLAY"] = display
    return env


def write_settings(path: Path, account: dict[str, Any]) -> None:
    from softphone.store import AccountSettings, Settings, save_settings

    save_settings(Settings(accounts=[AccountSettings(**account)]), path)


def app_args(workdir: Path, name: str) -> list[str]:
    return [
        "--config",
        str(workdir / f"{name}.json"),
        "--db",
        str(workdir / f"{name}.db"),
        "--instance-name",
        f"softphone-bench-{os.getpid()}-{name}",
        "--listen",
        "127.0.0.1",
        "--no-tray",
        "--no-ring",
    ]


def log_size(server: Any) -> int:
    try:
        return int(server.log_path.stat().st_size)
    except OSError:
        return 0


def registered_at(server: Any, offset: int, timeout: float = 15.0) -> bool:
    """True once Kamailio logged two REGISTERs after ``offset`` (the challenged one and the one with credentials)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(server.log_path, "rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
        if sum(1 for line in text.splitlines() if "REGISTER sip:" in line) >= 2:
            return True
        time.sleep(0.1)
    return False


# --- the presence burst ----------------------------------------------------------------------------


class PresencePeer:
    """A headless UserAgent serving 1,000 presentities (any user part at its address) on a thread."""

    def __init__(self, watcher: str) -> None:
        self.watcher = watcher
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-peer", daemon=True)
        self.ua: Any = None
        self.notify_ok = 0
        self.subscribes = 0

    def start(self) -> None:
        from softphone.ua import Account, UserAgent
        from softphone.ua.limits import Limits

        self.thread.start()

        async def boot() -> None:
            # It stands in for a presence server: an account per presentity (a request for a user no
            # account has gets 404) and no request rate limit (the app sends all 1,000 SUBSCRIBEs).
            ua = UserAgent(
                [Account(f"sip:b{i:04d}@127.0.0.1:{self.port}", register=False) for i in range(BUDDIES)],
                listen=[("UDP", "127.0.0.1", self.port)],
                limits=Limits(requests_per_second=1e6, request_burst=1_000_000),
            )
            self.ua = ua
            await ua.start()
            for account in ua.accounts:
                ua.presence.allow(self.watcher, account.aor)
            ua.trace.enable()
            ua.trace.listeners.append(self._count)

        asyncio.run_coroutine_threadsafe(boot(), self.loop).result(15)

    def _count(self, record: Any) -> None:
        if record.direction == "received" and record.status_code == 200 and record.method == "NOTIFY":
            self.notify_ok += 1
        elif record.direction == "received" and record.method == "SUBSCRIBE" and record.status_code is None:
            self.subscribes += 1

    def set_status(self, basic: str, activity: str | None) -> None:
        async def change() -> None:
            self.ua.presence.set_status(basic, activity, "benchmark")

        asyncio.run_coroutine_threadsafe(change(), self.loop).result(15)

    def stop(self) -> None:
        if self.ua is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.ua.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def wait_count(get: Any, wanted: int, timeout: float) -> float:
    """Seconds until ``get() >= wanted``; raises after ``timeout``."""
    start = time.monotonic()
    while get() < wanted:
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"only {get()} of {wanted} after {timeout:.0f} s")
        time.sleep(0.02)
    return time.monotonic() - start


def presence_burst(workdir: Path, platform: str, display: str) -> list[str]:
    from softphone.store import Contact, Store

    app_aor = "sip:benchapp@127.0.0.1"
    peer = PresencePeer(app_aor)
    app: App | None = None
    rows: list[str] = []
    try:
        peer.start()
        store = Store(workdir / "burst.db")
        try:
            for i in range(BUDDIES):
                store.contacts.add(
                    Contact(f"Buddy {i:04d}", uris=[f"sip:b{i:04d}@127.0.0.1:{peer.port}"], subscribe_presence=True)
                )
        finally:
            store.close()
        # The peer is the app's outbound proxy, as a presence server would be: NOTIFYs from the account's own
        # server are not rate-limited, while a stranger's 1,000 would be.
        write_settings(
            workdir / "burst.json",
            {"aor": app_aor, "register": False, "outbound_proxy": f"sip:127.0.0.1:{peer.port}"},
        )
        env = child_env(workdir, platform, display, "", "stalls")
        app = App(workdir, env, app_args(workdir, "burst"))
        app.wait_for("shown ")
        start = time.time()
        took = wait_count(lambda: peer.notify_ok, BUDDIES, 120)
        time.sleep(2.0)
        initial = app.stalls(start, time.time())
        initial_gc = app.collections(start, time.time())
        rows.append(
            f"{'1,000 initial NOTIFYs':34} {max(initial, default=0):8.1f} ms  "
            f"({peer.subscribes} SUBSCRIBEs received with retransmissions; NOTIFYs answered in {took:.1f} s)"
        )
        before = peer.notify_ok
        start = time.time()
        peer.set_status("open", "busy")
        took = wait_count(lambda: peer.notify_ok - before, BUDDIES, 120)
        time.sleep(2.0)
        change = app.stalls(start, time.time())
        change_gc = app.collections(start, time.time())
        rows.append(
            f"{'1,000 NOTIFYs of a state change':34} {max(change, default=0):8.1f} ms  (all answered in {took:.2f} s)"
        )
        rows.append(f"{'  longest collections, initial':34} {initial_gc}")
        rows.append(f"{'  longest collections, change':34} {change_gc}")
        worst = max(initial + change, default=0.0)
        verdict = "met" if worst <= TARGET_STALL_MS else "NOT met"
        rows.append(f"target: longest GUI-thread stall < {TARGET_STALL_MS:.0f} ms: {verdict} ({worst:.1f} ms)")
    finally:
        if app is not None:
            app.stop()
        peer.stop()
    return rows


# --- the run ---------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    from tests.kamailio_server import Kamailio

    xvfb = Xvfb()
    server = Kamailio(debug=2)
    apps: list[App] = []
    with tempfile.TemporaryDirectory(prefix="softphone-gui-bench-") as tmp:
        workdir = Path(tmp)
        try:
            display = xvfb.start() if args.platform == "xvfb" else ""
            server.start()
            user, password = f"gui{secrets.token_hex(3)}", secrets.token_hex(8)
            server.add_user(user, password)
            account = {"aor": server.aor(user), "registrar": server.proxy_uri("udp"), "expires": 600}
            where = f"Xvfb {display}" if display else "Qt offscreen"
            print(f"Kamailio pid {server.pid} on 127.0.0.1:{server.udp_port}; the application on {where}")

            if not args.burst_only:
                starts: list[float] = []
                for run_index in range(args.starts):
                    name = f"start{run_index}"
                    write_settings(workdir / f"{name}.json", account)
                    env = child_env(workdir, args.platform, display, password, "shown")
                    offset = log_size(server)
                    app = App(workdir, env, app_args(workdir, name))
                    apps.append(app)
                    try:
                        starts.append(app.shown_after())
                        if run_index < args.starts - 1:
                            continue
                        # The last one stays: registered and idle.
                        if not registered_at(server, offset):
                            print("warning: no REGISTER with credentials seen at the server", file=sys.stderr)
                        time.sleep(3.0)
                        rss = app.rss_mb()
                        cpu0, wall0 = app.cpu_seconds(), time.monotonic()
                        time.sleep(args.idle_seconds)
                        cpu = app.cpu_seconds() - cpu0
                        wall = time.monotonic() - wall0
                    finally:
                        app.stop()
                        apps.remove(app)

                print()
                print(f"{'the desktop application':34} {'median':>8} {'max':>8} {'min':>8} {'runs':>5}")
                print(
                    f"{'cold start -> window shown (s)':34} {statistics.median(starts):8.3f} {max(starts):8.3f} "
                    f"{min(starts):8.3f} {len(starts):5d}"
                )
                print(f"{'idle RSS, registered (MB)':34} {rss:8.1f}")
                print(f"{'idle CPU, registered (% of a core)':34} {cpu / wall * 100:8.3f}   over {wall:.0f} s")
                median = statistics.median(starts)
                for label, value, target, unit in (
                    ("cold start median", median, TARGET_START_S, " s"),
                    ("idle RSS", rss, TARGET_RSS_MB, " MB"),
                    ("idle CPU", cpu / wall * 100, TARGET_CPU_PERCENT, " %"),
                ):
                    verdict = "met" if value < target else "NOT met"
                    print(f"target: {label} < {target:g}{unit}: {verdict} ({value:.3g}{unit})")

            if not args.no_burst:
                print()
                print(f"{'longest GUI-thread stall during':34} {'':>8}")
                for line in presence_burst(workdir, args.platform, display):
                    print(line)
        finally:
            for app in apps:
                app.stop()
            server.stop()
            xvfb.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--starts", type=int, default=5, help="cold starts to time (default 5)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="registered-and-idle period (default 60)")
    parser.add_argument(
        "--platform",
        choices=("xvfb", "offscreen"),
        default="xvfb" if subprocess.run(["which", "Xvfb"], capture_output=True).returncode == 0 else "offscreen",
        help="where the application shows its window (default: Xvfb when installed)",
    )
    parser.add_argument("--no-burst", action="store_true", help="skip the 1,000-NOTIFY presence burst")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 starts, 10 s idle")
    parser.add_argument("--burst-only", action="store_true", help="only the presence burst (no starts, no idle)")
    args = parser.parse_args(argv)
    if args.quick:
        args.starts, args.idle_seconds = 3, 10.0
    if args.starts < 1 or args.idle_seconds <= 0:
        parser.error("--starts and --idle-seconds must be positive")
    print(machine_line())
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

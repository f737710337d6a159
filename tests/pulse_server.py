"""A private PulseAudio server with virtual devices, so sounddevice tests run with no sound card.

Usage::

    with PulseAudio() as pulse:   # sets the environment of this process while running
        ...                       # sounddevice now sees devices "pulse" and "default"
        pulse.pacat_play("micfeed", samples)     # what the default input hears
        rec = pulse.parec_start("speaker.monitor")  # what the default output played

What ``start()`` does:

- makes a temporary directory holding a private ``XDG_RUNTIME_DIR`` (mode
  700), the server's ``.pa`` script, its log, and an ALSA config
  ``alsa/asoundrc`` (``XDG_CONFIG_HOME`` points there) that names the test
  devices as ALSA PCMs (``test_mic``, ``test_speaker``, ``test_mic2``,
  ``test_speaker2``);
- runs ``pulseaudio -n -F SCRIPT --daemonize=no --exit-idle-time=-1
  --disallow-exit`` (user mode, as whoever runs the tests, root included) and
  waits until ``pactl info`` answers (bounded; otherwise it stops what it
  started and raises with the log tail);
- loads null sinks ``speaker`` (the default sink: what the app plays lands
  there, ``speaker.monitor`` records it) and ``micfeed`` (what is played into
  it is what the app's default source ``mic``, a remap of
  ``micfeed.monitor``, hears), plus ``micfeed2``/``mic2`` as a second,
  removable input (``unload_mic2()``), and ``speaker2`` as a second output
  (recorded from ``speaker2.monitor``), for two phones in one process;
- keeps the null sinks awake with one ``pacat`` each playing zeros, and
  waits ``settle`` seconds (default 2 s), since a sleeping null sink stalls
  each new stream by about a second;
- sets ``XDG_RUNTIME_DIR``, ``PULSE_SERVER`` and ``XDG_CONFIG_HOME`` in
  ``os.environ`` (restored by ``stop()``).

PortAudio enumerates devices once, when it is initialised: start this before
``sounddevice`` is imported, or re-initialise PortAudio afterwards
(``softphone.media.audio.refresh_devices()``). Streams must use 48000 Hz.

Nothing is skipped: if a program is missing, ``start()`` raises
``RuntimeError`` naming the Debian packages to install. ``stop()`` ends the
processes it started by PID and deletes the directory
(``PULSE_KEEP_FILES=1`` keeps it).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from tests.child_process import dies_with_parent

#: Debian packages the virtual devices need (PortAudio itself is libportaudio2).
APT_PACKAGES = ("pulseaudio", "pulseaudio-utils", "libasound2-plugins", "libportaudio2")
RATE = 48000
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

PA_SCRIPT = """\
load-module module-native-protocol-unix auth-anonymous=1
load-module module-cli-protocol-unix
load-module module-null-sink sink_name=speaker rate=48000 channels=1
load-module module-null-sink sink_name=micfeed rate=48000 channels=1
load-module module-remap-source master=micfeed.monitor source_name=mic
load-module module-null-sink sink_name=micfeed2 rate=48000 channels=1
load-module module-remap-source master=micfeed2.monitor source_name=mic2
load-module module-null-sink sink_name=speaker2 rate=48000 channels=1
set-default-sink speaker
set-default-source mic
"""

ASOUNDRC = """\
pcm.test_mic { type pulse; device "mic"; hint { show on; description "Test microphone" } }
pcm.test_speaker { type pulse; device "speaker"; hint { show on; description "Test speaker" } }
pcm.test_mic2 { type pulse; device "mic2"; hint { show on; description "Removable test microphone" } }
pcm.test_speaker2 { type pulse; device "speaker2"; hint { show on; description "Second test speaker" } }
"""

_ALSA_PULSE_PLUGIN_GLOBS = (
    "/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so",
    "/usr/lib/alsa-lib/libasound_module_pcm_pulse.so",
)

_running: weakref.WeakSet[PulseAudio] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()


def missing_packages() -> list[str]:
    """The Debian packages from ``APT_PACKAGES`` that are not installed."""
    import ctypes.util
    import glob

    missing: list[str] = []
    if shutil.which("pulseaudio") is None:
        missing.append("pulseaudio")
    if not all(shutil.which(tool) for tool in ("pactl", "pacat", "parec")):
        missing.append("pulseaudio-utils")
    if not any(glob.glob(pattern) for pattern in _ALSA_PULSE_PLUGIN_GLOBS):
        missing.append("libasound2-plugins")
    if ctypes.util.find_library("portaudio") is None:
        missing.append("libportaudio2")
    return missing


def _end(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM one process we started, SIGKILL after a bound."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def tone(freq: float, seconds: float, amplitude: float = 0.5, rate: int = RATE) -> npt.NDArray[np.float32]:
    """A sine tone, float32 mono."""
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def to_s16le(samples: npt.NDArray[np.float32]) -> bytes:
    return bytes(np.clip(np.rint(samples * 32767.0), -32768, 32767).astype("<i2").tobytes())


def from_s16le(data: bytes) -> npt.NDArray[np.float32]:
    usable = len(data) - len(data) % 2
    return np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0


class PulseAudio:
    """One private PulseAudio server with null sinks ``speaker``/``micfeed`` and source ``mic``."""

    def __init__(self, *, settle: float = 2.0, binary: str = "pulseaudio") -> None:
        self.settle = settle
        self.binary = binary
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._helpers: list[subprocess.Popen[bytes]] = []
        self._saved_env: dict[str, str | None] = {}
        self._clips = 0

    # ----- properties ---------------------------------------------------------

    @property
    def workdir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("PulseAudio has not been started")
        return self._dir

    @property
    def runtime_dir(self) -> Path:
        return self.workdir / "runtime"

    @property
    def config_home(self) -> Path:
        return self.workdir / "config"

    @property
    def socket_path(self) -> Path:
        return self.runtime_dir / "pulse" / "native"

    @property
    def log_path(self) -> Path:
        return self.workdir / "pulseaudio.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def env(self) -> dict[str, str]:
        """The environment a child process needs to reach this server."""
        env = dict(os.environ)
        env["XDG_RUNTIME_DIR"] = str(self.runtime_dir)
        env["PULSE_SERVER"] = f"unix:{self.socket_path}"
        env["XDG_CONFIG_HOME"] = str(self.config_home)
        return env

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, RuntimeError):
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # ----- life cycle ---------------------------------------------------------

    def start(self) -> PulseAudio:
        if self._proc is not None:
            raise RuntimeError("PulseAudio is already started")
        missing = missing_packages()
        if missing:
            raise RuntimeError(
                "PulseAudio test devices cannot start: missing Debian packages "
                + ", ".join(missing)
                + " (install with: apt-get install -y "
                + " ".join(APT_PACKAGES)
                + ")"
            )
        self._dir = Path(tempfile.mkdtemp(prefix="pulse-test-"))
        try:
            self.runtime_dir.mkdir(mode=0o700)
            self.runtime_dir.chmod(0o700)
            (self.config_home / "alsa").mkdir(parents=True)
            (self.config_home / "alsa" / "asoundrc").write_text(ASOUNDRC)
            script = self.workdir / "pulse-test.pa"
            script.write_text(PA_SCRIPT)
            env = self.env()
            with self.log_path.open("ab") as log:
                self._proc = subprocess.Popen(
                    dies_with_parent(
                        [
                            self.binary,
                            "-n",
                            "-F",
                            str(script),
                            "--daemonize=no",
                            "--exit-idle-time=-1",
                            "--disallow-exit",
                            "--log-target=stderr",
                        ]
                    ),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    env=env,
                    start_new_session=True,
                )
            _running.add(self)
            self._wait_ready()
            for sink in ("speaker", "micfeed", "micfeed2"):
                self._helpers.append(self._keep_awake(sink))
            self._set_env()
            time.sleep(self.settle)
            for helper in self._helpers:
                if helper.poll() is not None:
                    raise RuntimeError(f"pacat keeping a null sink awake exited:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """End the processes started here (by PID), restore the environment, delete the directory."""
        for helper in self._helpers:
            _end(helper)
        self._helpers.clear()
        proc, self._proc = self._proc, None
        _running.discard(self)
        if proc is not None:
            _end(proc)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self._dir is not None and os.environ.get("PULSE_KEEP_FILES") != "1":
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def __enter__(self) -> PulseAudio:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----- tools for tests ----------------------------------------------------

    def pactl(self, *args: str) -> str:
        """Run ``pactl ARGS`` against this server; return its output (raises on failure)."""
        result = subprocess.run(
            ["pactl", *args], env=self.env(), capture_output=True, text=True, timeout=10, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def pacat_play(self, sink: str, samples: npt.NDArray[np.float32]) -> subprocess.Popen[bytes]:
        """Start ``pacat`` playing samples (48 kHz mono) into a sink; returns at once; stop it with ``end()``."""
        self._clips += 1
        clip = self.workdir / f"clip-{self._clips}.raw"
        clip.write_bytes(to_s16le(samples))
        with clip.open("rb") as data:
            proc = subprocess.Popen(
                dies_with_parent(_raw_stream("pacat", sink, 20)),
                stdin=data,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self.env(),
            )
        self._helpers.append(proc)
        return proc

    def parec_start(self, source: str) -> subprocess.Popen[bytes]:
        """Start ``parec`` recording a source (e.g. ``speaker.monitor``) as raw s16le on stdout."""
        proc = subprocess.Popen(
            dies_with_parent(_raw_stream("parec", source, 20)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self.env(),
        )
        self._helpers.append(proc)
        return proc

    def end(self, proc: subprocess.Popen[bytes]) -> None:
        """End a helper process started by this object."""
        _end(proc)
        with contextlib.suppress(ValueError):
            self._helpers.remove(proc)

    def pacmd(self, *args: str) -> str:
        """Run ``pacmd ARGS`` (the server's CLI protocol: has commands pactl lacks, e.g. kill-source-output)."""
        result = subprocess.run(
            ["pacmd", *args], env=self.env(), capture_output=True, text=True, timeout=10, check=False
        )
        if result.returncode != 0 or ">>> " in result.stdout or result.stdout.startswith("No "):
            raise RuntimeError(f"pacmd {' '.join(args)} failed: {(result.stdout + result.stderr).strip()}")
        return result.stdout

    def kill_streams_on(self, source: str) -> int:
        """Kill every recording stream on a source (as if the device died); return how many."""
        sources = {
            fields[0]: fields[1]
            for fields in (line.split("\t") for line in self.pactl("list", "short", "sources").splitlines())
            if len(fields) >= 2
        }
        killed = 0
        for line in self.pactl("list", "short", "source-outputs").splitlines():
            fields = line.split("\t")
            if len(fields) >= 2 and sources.get(fields[1]) == source:
                self.pacmd("kill-source-output", fields[0])
                killed += 1
        return killed

    def unload_mic2(self) -> None:
        """Remove source ``mic2`` (its remap module), as if that device were unplugged."""
        modules = self.pactl("list", "short", "modules")
        for line in modules.splitlines():
            fields = line.split("\t")
            if len(fields) >= 3 and fields[1] == "module-remap-source" and "source_name=mic2" in fields[2]:
                self.pactl("unload-module", fields[0])
                return
        raise RuntimeError("source mic2 is not loaded")

    # ----- internals ----------------------------------------------------------

    def _set_env(self) -> None:
        env = self.env()
        for key in ("XDG_RUNTIME_DIR", "PULSE_SERVER", "XDG_CONFIG_HOME"):
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = env[key]

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"pulseaudio exited with status {self._proc.returncode} while starting:\n{self.log_tail()}"
                )
            if self.socket_path.exists():
                result = subprocess.run(["pactl", "info"], env=self.env(), capture_output=True, timeout=5, check=False)
                if result.returncode == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"pulseaudio did not answer 'pactl info' within {START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def _keep_awake(self, sink: str) -> subprocess.Popen[bytes]:
        # A null sink that nobody plays to suspends, and every new stream then stalls.
        with open("/dev/zero", "rb") as zeros:
            return subprocess.Popen(
                dies_with_parent(_raw_stream("pacat", sink, 10)),
                stdin=zeros,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self.env(),
            )


def _raw_stream(tool: str, device: str, latency_ms: int) -> list[str]:
    """``pacat`` (playing into ``device``) or ``parec`` (recording from it), 48 kHz mono s16le on stdin/stdout."""
    mode = ["--playback"] if tool == "pacat" else []
    return [tool, *mode, "-d", device, "--raw", "--format=s16le", f"--rate={RATE}", "--channels=1",
            f"--latency-msec={latency_ms}"]  # fmt: skip


class MonitorRecording:
    """``parec`` on a source (a sink's monitor), read on a thread; ``latest(n)`` is the last n samples.

    Keeps at most ``keep`` samples (the oldest are dropped).
    """

    def __init__(self, pulse: PulseAudio, source: str, keep: int = 16 * RATE) -> None:
        self.source = source
        self._pulse = pulse
        self._keep_bytes = 2 * keep
        self._proc = pulse.parec_start(source)
        self._data = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        with contextlib.suppress(OSError):
            while chunk := os.read(fd, 4096):
                with self._lock:
                    self._data += chunk
                    if len(self._data) > 2 * self._keep_bytes:
                        del self._data[: -self._keep_bytes]

    def latest(self, n: int) -> npt.NDArray[np.float32]:
        with self._lock:
            data = bytes(self._data[-2 * n :])
        return from_s16le(data)

    @property
    def state(self) -> str:
        code = self._proc.poll()
        return "parec running" if code is None else f"parec exited with status {code}"

    def stop(self) -> None:
        self._proc.terminate()  # parec exits, the reader sees end of file
        self._thread.join(timeout=2)
        self._pulse.end(self._proc)
        assert self._proc.poll() is not None

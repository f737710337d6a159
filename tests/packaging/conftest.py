"""What the package tests share: the artefacts of ``make dist``, a clean environment, an X server and a
Secret Service of their own.

The tests of the artefacts (``test_wheel.py``, ``test_bundle.py``, ``test_deb.py``) run when
``tests/packaging`` is named on the command line, as ``make test-dist`` does after building; the plain
``pytest`` of ``make test`` leaves them out, since it builds nothing. Named, they never skip: a missing
artefact, tool or Debian package is a failure that says what to do.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from softphone import __version__
from tests.conftest import ROOT

HERE = Path(__file__).resolve().parent
ARTEFACT_TESTS = {"test_wheel.py", "test_bundle.py", "test_deb.py"}
DIST = ROOT / "dist"
#: Screenshots and logs of the package tests, kept for people to look at.
OUTPUT = ROOT / "build" / "test-dist"
#: PATH of the processes that must not see the project's virtual environment.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _named(config: pytest.Config) -> bool:
    """True when the command line names this folder or something in it."""
    base = Path(config.invocation_params.dir)
    for arg in config.invocation_params.args:
        if arg.startswith("-"):
            continue
        path = (base / arg.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name in ARTEFACT_TESTS and not _named(config):
        return True
    return None


# --- the artefacts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Artefacts:
    wheel: Path
    sdist: Path
    bundle: Path  # the folder with softphone, softphone-cli and _internal/
    tarball: Path
    deb: Path

    @property
    def gui(self) -> Path:
        return self.bundle / "softphone"

    @property
    def cli(self) -> Path:
        return self.bundle / "softphone-cli"


def deb_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="session")
def artefacts() -> Artefacts:
    found = Artefacts(
        wheel=DIST / f"softphone-{__version__}-py3-none-any.whl",
        sdist=DIST / f"softphone-{__version__}.tar.gz",
        bundle=DIST / "bundle" / "softphone",
        tarball=DIST / f"softphone-{__version__}-linux-{os.uname().machine}.tar.gz",
        deb=DIST / f"softphone_{__version__}_{deb_arch()}.deb",
    )
    missing = [str(path) for path in vars(found).values() if not path.exists()]
    if missing:
        pytest.fail(f"not built: {', '.join(missing)}; run `make dist` (or `make test-dist`)", pytrace=False)
    return found


def need_tools(*tools: str) -> None:
    """Fail, naming the Debian packages, when a program the test drives is not installed."""
    packages = {
        "Xvfb": "xvfb",
        "import": "imagemagick",
        "xdg-mime": "xdg-utils",
        "desktop-file-validate": "desktop-file-utils",
        "update-desktop-database": "desktop-file-utils",
        "appstreamcli": "appstream",
        "debootstrap": "debootstrap",
        "dbus-daemon": "dbus",
        "gnome-keyring-daemon": "gnome-keyring",
        "secret-tool": "libsecret-tools",
        "readelf": "binutils",
    }
    missing = [tool for tool in tools if shutil.which(tool, path=SYSTEM_PATH) is None]
    if missing:
        wanted = " ".join(sorted({packages.get(tool, tool) for tool in missing}))
        pytest.fail(f"missing programs {', '.join(missing)}: apt-get install {wanted} (make test-dist does)")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment as a fresh login has it: system PATH, its own HOME, a UTF-8 locale; no venv."""
    env = {"PATH": SYSTEM_PATH, "HOME": str(home), "LANG": "C.UTF-8"}
    env.update(extra)
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def output() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


# --- processes -------------------------------------------------------------------------------------


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 15.0) -> int:
    """SIGTERM, then SIGKILL after ``timeout``; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Lines:
    """The lines a child writes to a pipe, read on a thread."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._stream = stream
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:  # type: ignore[attr-defined]
            self.lines.append(line.rstrip("\n"))

    def first(self, pattern: str) -> re.Match[str] | None:
        for line in list(self.lines):
            match = re.search(pattern, line)
            if match:
                return match
        return None


def mapped_files(pid: int) -> set[str]:
    """The files a process has mapped (its loaded libraries), from /proc/PID/maps."""
    files = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].startswith("/"):
            files.add(parts[5])
    return files


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    """An X server of the tests' own (``Xvfb :N``, 1280x800x24); yields the DISPLAY."""
    need_tools("Xvfb", "import")
    from benchmarks.gui import Xvfb

    server = Xvfb()
    try:
        display = server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield display
    finally:
        server.stop()


def screenshot(display: str, path: Path) -> Path:
    """The whole screen of ``display`` as PNG (ImageMagick ``import``)."""
    subprocess.run(
        ["import", "-display", display, "-window", "root", str(path)], check=True, timeout=60, capture_output=True
    )
    return path


def assert_shows_a_window(path: Path) -> None:
    """The screenshot is not a black screen: a good part of it is drawn, in many colours."""
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull(), f"{path} is not an image"
    step = 4
    colours: set[int] = set()
    lit = total = 0
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            rgb = image.pixel(x, y) & 0xFFFFFF
            colours.add(rgb)
            total += 1
            lit += rgb != 0
    assert lit / total > 0.05, f"{path}: {lit / total:.1%} of the screen is drawn; is the window there?"
    assert len(colours) > 20, f"{path}: only {len(colours)} colours on the screen"


def lan_settings(path: Path) -> Path:
    """A settings file with one LAN-only account (no server, nothing registers), so no wizard comes up."""
    from softphone.store import AccountSettings, Settings, save_settings

    save_settings(Settings(accounts=[AccountSettings(aor="sip:alice@127.0.0.1", register=False)]), path)
    return path


@contextlib.contextmanager
def gui_running(
    command: list[str], env: dict[str, str], workdir: Path, timeout: float = 60.0, root: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    """Start the desktop application with a LAN-only account and wait until its main window is exposed
    (the ``$SOFTPHONE_REPORT`` line); stopped with SIGTERM on the way out, and it must exit cleanly.
    With ``root`` the command runs chrooted there, and ``workdir`` (inside it) is named as it sees it."""

    def seen(path: Path) -> str:
        return str(path) if root is None else "/" + str(path.relative_to(root))

    settings = lan_settings(workdir / "settings.json")
    stderr = (workdir / "gui-stderr.log").open("w")
    proc = subprocess.Popen(
        [
            *command,
            "--config",
            seen(settings),
            "--db",
            seen(workdir / "softphone.db"),
            "--instance-name",
            f"softphone-test-{os.getpid()}-{time.monotonic_ns()}",
            "--no-tray",
            "--no-ring",
            "--listen",
            "127.0.0.1",
        ],
        env={**env, "SOFTPHONE_REPORT": "1"},
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    lines = Lines(proc.stdout)
    try:
        deadline = time.monotonic() + timeout
        while lines.first(r"^shown ") is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (workdir / "gui-stderr.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"the main window was not shown (exit status {proc.poll()}):\n{log}", pytrace=False)
            time.sleep(0.05)
        yield proc
    finally:
        status = stop(proc, timeout=20)
        stderr.close()
    assert status == 0, f"the application exited with {status} on SIGTERM"


# --- a Secret Service of our own -------------------------------------------------------------------


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={socket_dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass
class SecretService:
    """gnome-keyring on a private D-Bus session bus, its login keyring unlocked."""

    env: dict[str, str]

    def store(self, service: str, username: str, password: str) -> None:
        """Store a password as Python's keyring library does (attributes ``service`` and ``username``)."""
        subprocess.run(
            ["secret-tool", "store", "--label", f"{service} {username}", "service", service, "username", username],
            input=password,
            text=True,
            env=self.env,
            check=True,
            timeout=30,
            capture_output=True,
        )


@pytest.fixture(scope="module")
def secret_service() -> Iterator[SecretService]:
    need_tools("dbus-daemon", "gnome-keyring-daemon", "secret-tool")
    workdir = Path(tempfile.mkdtemp(prefix="softphone-secrets-"))
    runtime = workdir / "run"
    runtime.mkdir(mode=0o700)
    env = clean_env(workdir / "home", XDG_RUNTIME_DIR=str(runtime), XDG_DATA_HOME=str(workdir / "data"))
    (workdir / "home").mkdir()
    # A session bus without service activation: a client asking for the Secret Service before
    # gnome-keyring has taken its name must not make the bus start a second, locked one.
    config = workdir / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket_dir=workdir), encoding="utf-8")
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    keyring: subprocess.Popen[str] | None = None
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        if not address:
            pytest.fail("dbus-daemon printed no address", pytrace=False)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        keyring = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "gnome-keyring.log").open("w"),
            text=True,
            env=env,
        )
        assert keyring.stdin is not None
        keyring.stdin.write("test keyring password")
        keyring.stdin.close()
        service = SecretService(env)
        deadline = time.monotonic() + 30
        while True:
            try:
                service.store("softphone-test", "ready", "x")
                break
            except subprocess.CalledProcessError:
                if keyring.poll() is not None or time.monotonic() > deadline:
                    log = (workdir / "gnome-keyring.log").read_text(errors="replace")
                    pytest.fail(f"gnome-keyring did not serve the Secret Service:\n{log}", pytrace=False)
                time.sleep(0.1)
        yield service
    finally:
        if keyring is not None:
            stop(keyring)
        stop(bus)
        shutil.rmtree(workdir, ignore_errors=True)

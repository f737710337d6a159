"""The PyInstaller bundle (dist/bundle/softphone) on its own: no virtual environment, no source tree.

Every process here runs from the bundle with a clean environment (system PATH, a fresh HOME), and
what it loaded is read from /proc/PID/maps: Qt's xcb platform and SVG icon engine, PortAudio and
libopus must come from the bundle. Two bundled softphone-cli processes call each other through a
private Kamailio with Opus, one on PulseAudio's virtual sound devices through PortAudio; a password
comes from a real Secret Service through the bundled keyring.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import subprocess
import tarfile
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from softphone import __version__
from tests.integration.test_lan_discovery import LanPhone
from tests.kamailio_server import Kamailio
from tests.netns_lab import LanLab
from tests.packaging.conftest import (
    Artefacts,
    SecretService,
    assert_shows_a_window,
    clean_env,
    gui_running,
    mapped_files,
    need_tools,
    screenshot,
    stop,
)
from tests.pulse_server import RATE, MonitorRecording, PulseAudio, tone


def internal(artefacts: Artefacts) -> Path:
    return artefacts.bundle / "_internal"


def test_one_folder_with_both_programs_and_what_they_load(artefacts: Artefacts) -> None:
    bundle = artefacts.bundle
    assert sorted(p.name for p in bundle.iterdir()) == ["_internal", "softphone", "softphone-cli"]
    for program in (artefacts.gui, artefacts.cli):
        assert os.access(program, os.X_OK), f"{program} is not executable"
    qt = internal(artefacts) / "PySide6" / "Qt"
    for plugin in (
        "plugins/platforms/libqxcb.so",
        "plugins/platforms/libqwayland.so",
        "plugins/platforms/libqoffscreen.so",
        "plugins/iconengines/libqsvgicon.so",
        "plugins/imageformats/libqsvg.so",
        "lib/libQt6Svg.so.6",
    ):
        assert (qt / plugin).is_file(), f"Qt's {plugin} is not in the bundle"
    for library in ("libopus.so.0", "libportaudio.so.2"):
        assert (internal(artefacts) / library).is_file(), f"{library} is not in the bundle"
    assert list(internal(artefacts).glob("keyring-*.dist-info/entry_points.txt")), "keyring's backends list"
    assert (internal(artefacts) / "softphone" / "resources" / "icons" / "softphone.svg").is_file()
    assert (internal(artefacts) / "softphone" / "resources" / "desktop" / "softphone.desktop").is_file()
    resources = internal(artefacts) / "softphone" / "resources"
    assert (resources / "translations" / "softphone_de.qm").is_file(), "the German translation"
    assert sorted(p.stem for p in (resources / "sounds").glob("*.wav")), "the ringtones"
    left_out = [p.name for p in qt.rglob("*") if p.name.startswith(("libqeglfs", "libqvnc", "libqgtk3"))]
    assert not left_out, f"plugins the spec leaves out are there: {left_out}"
    assert not list(internal(artefacts).glob("libgtk-3*")), "GTK came along with its Qt theme"


def test_tarball_holds_the_bundle(artefacts: Artefacts) -> None:
    with tarfile.open(artefacts.tarball) as tar:
        names = set(tar.getnames())
    for name in ("softphone/softphone", "softphone/softphone-cli", "softphone/_internal/libopus.so.0"):
        assert name in names, f"{name} is not in {artefacts.tarball.name}"


def test_every_library_finds_what_it_links_to(artefacts: Artefacts) -> None:
    """ldd of each ELF file of the bundle, with the bundle's folder searched first as the bootloader does:
    nothing "not found" (a library the bundle should carry or this system should have). And none of them
    carries debug information any more (the build strips it)."""
    need_tools("readelf")
    problems = []
    checked = 0
    for path in sorted(artefacts.bundle.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.read_bytes()[:4] != b"\x7fELF":
            continue
        out = subprocess.run(
            ["ldd", str(path)],
            env={"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(internal(artefacts))},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        checked += 1
        sections = subprocess.run(["readelf", "-S", str(path)], capture_output=True, text=True, check=False).stdout
        if ".debug_info" in sections:
            problems.append(f"{path.relative_to(artefacts.bundle)}: debug information left in")
        problems += [
            f"{path.relative_to(artefacts.bundle)}: {line.strip()}"
            for line in out.stdout.splitlines()
            if "not found" in line
        ]
    assert checked > 100, f"only {checked} ELF files in the bundle"
    assert not problems, "\n".join(problems)


def test_versions_with_no_virtual_environment(artefacts: Artefacts, home: Path) -> None:
    env = clean_env(home)
    assert "VIRTUAL_ENV" not in env and ".venv" not in env["PATH"]
    for program, name in ((artefacts.cli, "softphone-cli"), (artefacts.gui, "softphone")):
        out = subprocess.run(
            [str(program), "--version"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"{name} {__version__}"


def test_desktop_files_from_the_bundle(artefacts: Artefacts, home: Path, tmp_path: Path) -> None:
    """For a bundle unpacked by hand: its own desktop entry, pointing at its executable."""
    data = tmp_path / "data"
    env = clean_env(home, XDG_DATA_HOME=str(data))
    out = subprocess.run(
        [str(artefacts.gui), "--install-desktop-files"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    entry = (data / "applications" / "softphone.desktop").read_text(encoding="utf-8").splitlines()
    assert f"Exec={artefacts.gui} %u" in entry
    assert (data / "icons/hicolor/scalable/apps/softphone.svg").is_file()
    out = subprocess.run(
        [str(artefacts.gui), "--uninstall-desktop-files"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and not (data / "applications" / "softphone.desktop").exists()


def test_gui_opens_its_main_window_on_x11(
    artefacts: Artefacts, xvfb: str, home: Path, tmp_path: Path, output: Path
) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = clean_env(home, DISPLAY=xvfb, XDG_RUNTIME_DIR=str(runtime))
    with gui_running([str(artefacts.gui)], env, tmp_path) as proc:
        shot = screenshot(xvfb, output / "bundle-main-window.png")
        loaded = mapped_files(proc.pid)
    assert_shows_a_window(shot)
    plugins = internal(artefacts) / "PySide6" / "Qt" / "plugins"
    for plugin in ("platforms/libqxcb.so", "iconengines/libqsvgicon.so"):
        assert str(plugins / plugin) in loaded, f"{plugin} was not loaded from the bundle"
    outside = sorted(path for path in loaded if "/.venv/" in path or "site-packages" in path)
    assert not outside, f"loaded from a Python environment: {outside}"


# --- softphone-cli from the bundle, on the network and on sound devices ----------------------------

SRTP = ("--srtp", "mandatory", "--srtp-keys", "dtls")


class BundledCli:
    """``softphone-cli --json`` from the bundle, registered at the test Kamailio; events read on a thread."""

    def __init__(
        self,
        program: Path,
        server: Kamailio,
        user: str,
        env: dict[str, str],
        workdir: Path,
        *options: str,
    ) -> None:
        self.user = user
        self.workdir = workdir
        self.stderr_path = workdir / f"{user}.err"
        self.proc = subprocess.Popen(
            [
                str(program),
                "--account",
                server.aor(user),
                "--registrar",
                server.proxy_uri(),
                "--listen",
                "127.0.0.1:0",
                "--json",
                "--db",
                str(workdir / f"{user}.db"),
                *options,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_path.open("w"),
            text=True,
            env=env,
        )
        self.events: list[dict[str, Any]] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait(self, matches: Callable[[dict[str, Any]], bool], what: str, timeout: float = 20.0) -> dict[str, Any]:
        """The first event (already seen or still to come) that ``matches``."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if matches(event):
                    return event
            seen = len(self.events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"{self.user}: no {what} within {timeout} s; last events {self.events[-5:]}\n{self.log()}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"{self.user} ended before {what}; last events {self.events[-5:]}\n{self.log()}")
            self.events.append(json.loads(line))

    def wait_for(self, timeout: float = 20.0, **fields: Any) -> dict[str, Any]:
        return self.wait(lambda e: all(e.get(k) == v for k, v in fields.items()), f"event {fields}", timeout)

    def wait_quality(self, packets: int, timeout: float = 30.0) -> None:
        """Until a quality event counts ``packets`` received: audio has flowed for a while."""
        self.wait(
            lambda e: e.get("event") == "quality" and e.get("packets_received", 0) >= packets,
            f"{packets} RTP packets received",
            timeout,
        )

    def wait_encrypted(self, timeout: float = 30.0) -> dict[str, object]:
        """The encryption of the first quality event that reports the media encrypted."""
        event = self.wait(
            lambda e: e.get("event") == "quality" and bool((e.get("encryption") or {}).get("encrypted")),
            "a quality event with encrypted media",
            timeout,
        )
        encryption: dict[str, object] = event["encryption"]
        return encryption

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def quit(self) -> int:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        return stop(self.proc)


def new_user(server: Kamailio) -> tuple[str, str]:
    user, password = "u" + secrets.token_hex(4), secrets.token_hex(8)
    server.add_user(user, password)
    return user, password


def write_wav(path: Path, samples: npt.NDArray[np.float32]) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2), f"{path}: not 16-bit mono"
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768
        return data, wav.getframerate()


def dominant_hz(samples: npt.NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum[1:])) + 1])


def rms(samples: npt.NDArray[np.float32]) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if len(samples) else 0.0


def answered_codec(trace: str) -> str:
    """The first codec of the SDP in the 200 OK to the INVITE that a ``--trace`` log shows sent."""
    for message in trace.split("softphone.sip.trace: sent")[1:]:
        lines = [line.removesuffix("\\x0d") for line in message.splitlines()[1:]]
        if (
            not lines
            or not lines[0].startswith("SIP/2.0 200")
            or not any(re.match(r"CSeq: \d+ INVITE", line) for line in lines)
        ):
            continue
        for line in lines:
            if line.startswith("m=audio"):
                payload = line.split()[3]
                for rtpmap in lines:
                    if rtpmap.startswith(f"a=rtpmap:{payload} "):
                        return rtpmap.split(" ", 1)[1]
    pytest.fail(f"no 200 OK with SDP to an INVITE in the trace:\n{trace[-2000:]}")


def test_keyring_password_from_the_secret_service(
    artefacts: Artefacts, kamailio: Kamailio, secret_service: SecretService, tmp_path: Path
) -> None:
    """The bundled keyring reads the account's password from gnome-keyring over D-Bus (SecretStorage,
    jeepney, cryptography); without the session bus the same client has no password and is refused."""
    user, password = new_user(kamailio)
    secret_service.store("softphone", kamailio.aor(user), password)
    with_keyring = BundledCli(artefacts.cli, kamailio, user, secret_service.env, tmp_path, "--no-audio")
    try:
        with_keyring.wait_for(event="registration", state="registered")
    finally:
        with_keyring.quit()
    env = {key: value for key, value in secret_service.env.items() if key != "DBUS_SESSION_BUS_ADDRESS"}
    (tmp_path / "without").mkdir()
    without = BundledCli(artefacts.cli, kamailio, user, env, tmp_path / "without", "--no-audio")
    try:
        failed = without.wait_for(event="registration", state="failed")
        assert failed["code"] in (401, 403, 407), failed
    finally:
        without.quit()


def test_call_with_opus_between_bundled_clients_on_sound_devices(
    artefacts: Artefacts, kamailio: Kamailio, pulse: PulseAudio, tmp_path: Path
) -> None:
    """Alice plays a 440 Hz tone from a WAV file and records what she hears; Bob answers on the sound
    devices (PortAudio on PulseAudio's virtual devices), whose microphone hears 1000 Hz. Bob's speaker
    must play 440 Hz and Alice's recording hold 1000 Hz: Opus both ways, numpy, PortAudio, all bundled.
    Both insist on DTLS-SRTP (pyOpenSSL, libsrtp) and Bob's microphone goes through the echo canceller
    and WebRTC's noise suppression (pywebrtc-audio): the bundle carries them too."""
    home = tmp_path / "home"
    home.mkdir()
    alice_user, alice_password = new_user(kamailio)
    bob_user, bob_password = new_user(kamailio)
    played = write_wav(tmp_path / "a440.wav", tone(440, 2.0))
    heard = tmp_path / "alice-heard.wav"
    pulse_env = pulse.env()
    bob_env = clean_env(
        home,
        SOFTPHONE_PW=bob_password,
        PULSE_SERVER=pulse_env["PULSE_SERVER"],
        XDG_RUNTIME_DIR=pulse_env["XDG_RUNTIME_DIR"],
        XDG_CONFIG_HOME=pulse_env["XDG_CONFIG_HOME"],
    )
    alice_env = clean_env(home, SOFTPHONE_PW=alice_password)
    mic = pulse.pacat_play("micfeed", tone(1000, 30.0))
    speaker = MonitorRecording(pulse, "speaker.monitor")
    bob = BundledCli(
        artefacts.cli,
        kamailio,
        bob_user,
        bob_env,
        tmp_path,
        "--password-env",
        "SOFTPHONE_PW",
        "--auto-answer=0",
        "--trace",
        *SRTP,
    )
    alice = BundledCli(
        artefacts.cli,
        kamailio,
        alice_user,
        alice_env,
        tmp_path,
        "--password-env",
        "SOFTPHONE_PW",
        "--play",
        str(played),
        "--record",
        str(heard),
        *SRTP,
    )
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"call {bob_user}")
        alice.wait_for(event="call", state="confirmed")
        bob.wait_for(event="call", state="confirmed")
        bob.wait_quality(packets=150)
        alice.wait_quality(packets=150)
        encrypted = [alice.wait_encrypted(), bob.wait_encrypted()]
        bob_loaded, alice_loaded = mapped_files(bob.proc.pid), mapped_files(alice.proc.pid)
        on_speaker = speaker.latest(RATE)
        alice.send("hangup")
        alice.wait_for(event="call", state="ended")
        bob.wait_for(event="call", state="ended")
    finally:
        alice_status, bob_status = alice.quit(), bob.quit()
        speaker.stop()
        pulse.end(mic)
    assert (alice_status, bob_status) == (0, 0), f"{alice.log()}\n{bob.log()}"

    for encryption in encrypted:
        assert encryption["key_exchange"] == "dtls" and encryption["verified"], encryption
    lib = internal(artefacts)
    for library in ("libportaudio.so.2", "libopus.so.0"):
        assert str(lib / library) in bob_loaded, f"Bob did not load the bundle's {library}"
    for module in ("pywebrtc_audio/_webrtc_audio", "pylibsrtp/_binding"):
        loaded = [path for path in bob_loaded if module in path]
        assert loaded and all(path.startswith(str(lib)) for path in loaded), f"Bob's {module}: {loaded}"
    assert str(lib / "libopus.so.0") in alice_loaded, "Alice did not load the bundle's libopus"

    codec = answered_codec(bob.stderr_path.read_text(errors="replace"))
    assert codec.startswith("opus/48000"), f"Bob answered with {codec}, not Opus"

    assert rms(on_speaker) > 0.05, f"Bob's speaker is silent (RMS {rms(on_speaker):.4f})"
    assert abs(dominant_hz(on_speaker, RATE) - 440) < 15, "Bob's speaker does not play Alice's 440 Hz"
    samples, rate = read_wav(heard)
    assert len(samples) > 2 * rate, f"Alice recorded {len(samples) / rate:.1f} s"
    second = samples[-2 * rate : -rate]  # a second well inside the call
    assert rms(second) > 0.05, f"Alice's recording is silent (RMS {rms(second):.4f})"
    assert abs(dominant_hz(second, rate) - 1000) < 15, "Alice did not hear Bob's 1000 Hz microphone"


def test_call_with_g722_between_bundled_clients(artefacts: Artefacts, kamailio: Kamailio, tmp_path: Path) -> None:
    """Two bundled softphone-cli with ``--codecs g722`` play 6 and 5 kHz from WAV files and record each
    other: tones above G.711's band, so the call is G.722 both ways, through the FFmpeg in the bundle."""
    home = tmp_path / "home"
    home.mkdir()
    alice_user, alice_password = new_user(kamailio)
    bob_user, bob_password = new_user(kamailio)
    heard = {"alice": tmp_path / "alice-heard.wav", "bob": tmp_path / "bob-heard.wav"}
    common = ("--password-env", "SOFTPHONE_PW", "--codecs", "g722", "--trace")
    bob = BundledCli(
        artefacts.cli,
        kamailio,
        bob_user,
        clean_env(home, SOFTPHONE_PW=bob_password),
        tmp_path,
        *common,
        "--auto-answer=0",
        "--play",
        str(write_wav(tmp_path / "five.wav", tone(5000, 2.0))),
        "--record",
        str(heard["bob"]),
    )
    alice = BundledCli(
        artefacts.cli,
        kamailio,
        alice_user,
        clean_env(home, SOFTPHONE_PW=alice_password),
        tmp_path,
        *common,
        "--play",
        str(write_wav(tmp_path / "six.wav", tone(6000, 2.0))),
        "--record",
        str(heard["alice"]),
    )
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send(f"call {bob_user}")
        alice.wait_for(event="call", state="confirmed")
        bob.wait_for(event="call", state="confirmed")
        bob.wait_quality(packets=150)
        alice.wait_quality(packets=150)
        loaded = [mapped_files(bob.proc.pid), mapped_files(alice.proc.pid)]
        alice.send("hangup")
        alice.wait_for(event="call", state="ended")
        bob.wait_for(event="call", state="ended")
    finally:
        alice_status, bob_status = alice.quit(), bob.quit()
    assert (alice_status, bob_status) == (0, 0), f"{alice.log()}\n{bob.log()}"

    lib = internal(artefacts)
    for files in loaded:
        codec_libraries = [path for path in files if "libavcodec" in path]
        assert codec_libraries and all(path.startswith(str(lib)) for path in codec_libraries), codec_libraries
    assert answered_codec(bob.stderr_path.read_text(errors="replace")) == "G722/8000"
    for who, frequency in (("alice", 5000), ("bob", 6000)):
        samples, rate = read_wav(heard[who])
        assert len(samples) > 2 * rate, f"{who} recorded {len(samples) / rate:.1f} s"
        second = samples[-2 * rate : -rate]
        assert rms(second) > 0.05, f"{who}'s recording is silent (RMS {rms(second):.4f})"
        assert abs(dominant_hz(second, rate) - frequency) < 15, f"{who} did not hear {frequency} Hz"


def test_bundled_clients_find_each_other_on_a_lan(artefacts: Artefacts, tmp_path: Path) -> None:
    """zeroconf is compiled (Cython) and imports its own modules from C: two bundled ``softphone-cli --lan`` in
    the bridged LAN lab announce themselves and list each other, with the bundle's zeroconf."""
    lab = LanLab(hosts=2).start()
    try:
        phones = []
        for host, user in (("h1", "alice"), ("h2", "bob")):
            home = tmp_path / user
            home.mkdir()
            phone = LanPhone(
                lab, host, user, tmp_path, name=user.title(), listen=("0.0.0.0:5060",),
                program=(str(artefacts.cli),), env=clean_env(home),
            )  # fmt: skip
            phones.append(phone)
        alice, bob = phones
        alice.wait_for(event="lan_peer", name="Bob", state="up", timeout=30)
        bob.wait_for(event="lan_peer", name="Alice", state="up", timeout=30)
        loaded = mapped_files(alice.proc.pid)
        assert any(str(internal(artefacts)) in path and "zeroconf" in path for path in loaded), loaded
        for phone in phones:
            phone.quit()
    finally:
        lab.stop()

"""baresip (Debian package) as a peer on loopback: a config directory, its ctrl_tcp JSON, its recordings.

Driven the way benchmarks/media.py drives it: ``aufile`` plays a WAV as the
microphone, ``sndfile`` writes what it hears to WAV files, ``ctrl_tcp``
takes ``dial``/``hangup`` and reports call events. Media encryption is the
account's ``mediaenc`` (``srtp-mand`` for SDES, ``dtls_srtp`` for DTLS-SRTP);
its one audio codec is ``codec`` as baresip names it (``PCMU``; ``G722/16000/1``, the g722
module, whose 16 kHz audio rides an 8 kHz RTP clock).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["Baresip", "free_port", "udp_bound"]

LOOPBACK = "127.0.0.1"
MODULES = Path("/usr/lib/baresip/modules")
VIDEO_MODULES = ("fakevideo", "snapshot")


def free_port() -> int:
    """A loopback port free for both UDP and TCP at the moment."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((LOOPBACK, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((LOOPBACK, port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free loopback port")


def udp_bound(port: int, *, ipv6: bool = False) -> bool:
    """Whether some process in this network namespace has a UDP socket bound to ``port`` (IPv4, or also IPv6:
    a program listening on ``[::]`` takes IPv4 there too)."""
    for name in ("/proc/net/udp", "/proc/net/udp6") if ipv6 else ("/proc/net/udp",):
        try:
            with open(name, encoding="ascii") as table:
                next(table)
                if any(line.split()[1].endswith(f":{port:04X}") for line in table):
                    return True
        except (OSError, StopIteration, IndexError):
            continue
    return False


class Baresip:
    """One baresip process; ``mediaenc`` is its account's media encryption (None: plain RTP)."""

    def __init__(
        self,
        wav: Path,
        *,
        mediaenc: str | None,
        answer: bool = True,
        name: str = "b",
        codec: str = "PCMU",
        video: bool = False,
        video_codec: str = "VP8",
        medianat: str | None = None,
        host: str = LOOPBACK,
        video_size: tuple[int, int] = (320, 240),
        video_fps: int = 15,
        video_bitrate: int = 300_000,
        video_file: Path | None = None,
    ) -> None:
        """``video``: ``video_codec`` too (VP8: the vp8 module; H264: avcodec), ``fakevideo`` as camera and
        display, ``snapshot`` to save a received picture; ``video_file``: that file as the camera instead
        (the ``avformat`` module plays it in real time, in a loop)."""
        exe = shutil.which("baresip")
        needed = ("g711", "g722", "aufile", "sndfile", "ctrl_tcp", "menu", "account", "srtp", "dtls_srtp")
        video_modules = (*VIDEO_MODULES, "avcodec" if video_codec == "H264" else "vp8")
        if video_file is not None:
            video_modules += ("avformat",)
        if video:
            needed += video_modules
        if exe is None or not all((MODULES / f"{m}.so").exists() for m in needed):
            raise AssertionError("baresip and its modules are missing: apt-get install baresip")
        self.name = name
        self.host = host
        self.dir = Path(tempfile.mkdtemp(prefix="baresip-"))
        self.records = self.dir / "heard"
        self.records.mkdir()
        self.sip_port, self.ctrl_port = free_port(), free_port()
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        lines = [
            "poll_method epoll",
            f"sip_listen {host}:{self.sip_port}",
            f"net_interface {host}",
            "call_local_timeout 120",
            "audio_player aufile,/dev/null",
            "audio_alert aufile,/dev/null",
            f"audio_source aufile,{wav}",
            "ausrc_channels 1",
            "auplay_channels 1",
            "rtcp_mux yes",
            f"snd_path {self.records}",
            f"module_path {MODULES}",
            "module g711.so",
            "module g722.so",
            "module aufile.so",
            "module sndfile.so",
            "module srtp.so",
            "module dtls_srtp.so",
            *(["module ice.so", "module stun.so", "module turn.so", "ice_debug yes"] if medianat else []),
            "module_tmp account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen {LOOPBACK}:{self.ctrl_port}",
        ]
        if video:
            lines += [f"module {m}.so" for m in video_modules]
            lines += [
                f"video_source avformat,{video_file}" if video_file is not None else "video_source fakevideo,nil",
                "video_display fakevideo,nil",
                f"video_size {video_size[0]}x{video_size[1]}",
                f"video_bitrate {video_bitrate}",
                f"video_fps {video_fps}",
            ]
        (self.dir / "config").write_text("\n".join(lines) + "\n", encoding="utf-8")
        params = f";regint=0;audio_codecs={codec}" + (f";video_codecs={video_codec}" if video else "")
        if answer:
            params += ";answermode=auto"
        if mediaenc:
            params += f";mediaenc={mediaenc}"
        if medianat:
            params += f";medianat={medianat}"
        (self.dir / "accounts").write_text(f"<sip:{name}@{host}>{params}\n", encoding="utf-8")
        self.log_path = self.dir / "baresip.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [exe, "-f", str(self.dir), "-t", "120"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10.0
        while not udp_bound(self.sip_port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"baresip did not start: {self.log()}")
            time.sleep(0.05)
        self.ctrl = self._connect()
        self._reader = threading.Thread(target=self._read, name="baresip-ctrl", daemon=True)
        self._reader.start()

    @property
    def uri(self) -> str:
        return f"sip:{self.name}@{self.host}:{self.sip_port}"

    def log(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace").replace("\r", "\n")

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + 10.0
        while True:
            try:
                return socket.create_connection((LOOPBACK, self.ctrl_port), timeout=1.0)
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError(f"baresip's ctrl_tcp did not open: {self.log()}") from None
                time.sleep(0.1)

    def command(self, command: str, params: str = "") -> None:
        data = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.ctrl.sendall(str(len(data)).encode() + b":" + data + b",")

    def _read(self) -> None:
        buffer = bytearray()
        self.ctrl.settimeout(None)
        while True:
            try:
                data = self.ctrl.recv(65536)
            except OSError:
                return
            if not data:
                return
            buffer += data
            while True:
                colon = buffer.find(b":")
                if colon <= 0 or not buffer[:colon].isdigit():
                    break
                size = int(buffer[:colon])
                end = colon + 1 + size
                if len(buffer) < end + 1:
                    break
                payload = bytes(buffer[colon + 1 : end])
                del buffer[: end + 1]
                with contextlib.suppress(ValueError), self._lock:
                    self.events.append(json.loads(payload))

    def has(self, kind: str) -> dict[str, Any] | None:
        with self._lock:
            return next((e for e in self.events if e.get("type") == kind), None)

    def wait(self, kind: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.has(kind)
            if found is not None:
                return found
            if time.monotonic() > deadline or self.proc.poll() is not None:
                with self._lock:
                    seen = [e.get("type") for e in self.events]
                raise AssertionError(f"baresip: no {kind} within {timeout} s (events {seen}); log:\n{self.log()}")
            time.sleep(0.05)

    def recordings(self) -> list[Path]:
        """What baresip heard: sndfile's decoded-audio WAVs."""
        return sorted(p for p in self.records.glob("*.wav") if "dec" in p.name)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.command("quit")
        with contextlib.suppress(OSError):
            self.ctrl.close()
        for action in (None, self.proc.terminate, self.proc.kill):
            if action is not None and self.proc.poll() is None:
                action()
            try:
                self.proc.wait(5)
                break
            except subprocess.TimeoutExpired:
                continue
        shutil.rmtree(self.dir, ignore_errors=True)

"""An encrypted call between softphone-cli and linphonec (Debian's linphone-cli), run inside a private
network namespace: ``unshare -n python -m tests.linphone_interop KEYS CALLER DIR``.

linphonec runs only where it cannot reach any network but a private loopback (it has been seen to
send IPv6 neighbour discovery out of the host's). Both programs play a tone from a WAV file and record
what they hear (linphonec through its "soundcard use files"); the driver waits on events, not on
time: the ports bound, our JSON events, linphonec's call states in its log. It prints one JSON line:
our call events' encryption, how many packets we received, and the dominant frequency and level of
what each side recorded. ``KEYS`` is ``sdes`` or ``dtls``; ``CALLER`` is ``softphone`` or
``linphone``.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from tests.baresip_peer import udp_bound
from tests.ua.test_media_wiring import write_tone

OUR_PORT = 5080
THEIR_PORT = 5077
OUR_TONE = 1000.0
THEIR_TONE = 600.0
PACKETS = 150  # 3 s of 20 ms packets before hanging up
STEP_TIMEOUT = 20.0

LINPHONE_CONFIG = """\
[sip]
sip_port={port}
sip_tcp_port=-1
sip_tls_port=-1
media_encryption={encryption}
media_encryption_mandatory=1
[rtp]
audio_rtp_port=17000
[net]
ipv6=0
[sound]
"""


def heard(path: Path) -> dict[str, float]:
    """The dominant frequency and RMS of the second before the last of a recording."""
    with wave.open(str(path), "rb") as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64) / 32768
    mono = data.reshape(-1, channels)[:, 0]
    second = mono[-2 * rate : -rate] if mono.size > 3 * rate else mono
    if second.size == 0:
        return {"seconds": 0.0, "hz": 0.0, "rms": 0.0}
    spectrum = np.abs(np.fft.rfft(second))
    return {
        "seconds": mono.size / rate,
        "hz": float(np.fft.rfftfreq(second.size, 1 / rate)[int(np.argmax(spectrum))]),
        "rms": float(np.sqrt(np.mean(second**2))),
    }


def wait(condition: Any, what: str, timeout: float = STEP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout} s")
        time.sleep(0.05)


class Lines:
    """A process's output lines, read on a thread."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def drain(self) -> None:
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is not None:
                self.lines.append(line)


def main(keys: str, caller: str, work: Path) -> dict[str, Any]:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    home = work / "home"
    (home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
    config = work / "linphonerc"
    config.write_text(LINPHONE_CONFIG.format(port=THEIR_PORT, encryption="srtp" if keys == "sdes" else "dtls"))
    ours = write_tone(work / "ours.wav", OUR_TONE, seconds=2.0, rate=48000)
    theirs = write_tone(work / "theirs.wav", THEIR_TONE, seconds=60.0, rate=8000)
    our_recording, their_recording = work / "softphone-heard.wav", work / "linphone-heard.wav"
    srtp = ["--srtp", "mandatory", "--srtp-keys", keys]
    if keys == "sdes":
        srtp.append("--srtp-clear-keys")  # no TLS inside the namespace: keys in clear SDP, on purpose
    softphone_log = open(work / "softphone.log", "w")
    linphone_log = open(work / "linphonec.log", "w")
    softphone = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "softphone.cli",
            "--account",
            "sip:alice@127.0.0.1",
            "--no-register",
            "--listen",
            f"127.0.0.1:{OUR_PORT}",
            "--direct-calls",
            "on",
            "--auto-answer=0",
            "--play",
            str(ours),
            "--record",
            str(our_recording),
            "--json",
            "--db",
            str(work / "softphone.db"),
            *srtp,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=softphone_log,
        text=True,
    )
    linphone = subprocess.Popen(
        ["linphonec", *(["-a"] if caller == "softphone" else []), "-c", str(config), "-d", "2"],
        stdin=subprocess.PIPE,
        stdout=linphone_log,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, HOME=str(home)),
    )
    assert softphone.stdout is not None and softphone.stdin is not None and linphone.stdin is not None
    events = Lines(softphone.stdout)

    def ours_say(**fields: Any) -> Any:
        def seen() -> bool:
            events.drain()
            return any(all(json.loads(line).get(k) == v for k, v in fields.items()) for line in events.lines)

        return seen

    def tell_linphone(command: str) -> None:
        assert linphone.stdin is not None
        linphone.stdin.write(command + "\n")
        linphone.stdin.flush()

    def tell_softphone(command: str) -> None:
        assert softphone.stdin is not None
        softphone.stdin.write(command + "\n")
        softphone.stdin.flush()

    def received() -> int:
        events.drain()
        counts = [json.loads(line).get("packets_received", 0) for line in events.lines if '"quality"' in line]
        return max(counts, default=0)

    try:
        wait(lambda: udp_bound(OUR_PORT), "softphone-cli listening")
        wait(lambda: udp_bound(THEIR_PORT, ipv6=True), "linphonec listening")
        for command in ("soundcard use files", f"play {theirs}", f"record {their_recording}"):
            tell_linphone(command)
        if caller == "softphone":
            tell_softphone(f"call sip:linphone@127.0.0.1:{THEIR_PORT}")
        else:
            tell_linphone(f"call sip:alice@127.0.0.1:{OUR_PORT}")
        wait(ours_say(event="call", state="confirmed"), "confirmed call")
        wait(lambda: received() >= PACKETS, f"{PACKETS} packets received")
        if caller == "softphone":
            tell_softphone("hangup")
        else:
            tell_linphone("terminate")
        wait(ours_say(event="call", state="ended"), "the call's end")
    finally:
        for process, quit_command in ((linphone, "quit"), (softphone, None)):
            if process.poll() is None and process.stdin is not None:
                if quit_command:
                    process.stdin.write(quit_command + "\n")
                process.stdin.close()
        for process in (linphone, softphone):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        linphone_log.close()
        softphone_log.close()
    events.drain()
    parsed = [json.loads(line) for line in events.lines]
    return {
        "encryption": [e["encryption"] for e in parsed if e.get("event") == "call" and e.get("state") == "confirmed"],
        "packets_received": received(),
        "softphone_heard": heard(our_recording),
        "linphone_heard": heard(their_recording),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))))

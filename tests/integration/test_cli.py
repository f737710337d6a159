"""softphone-cli processes calling each other through the real Kamailio."""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.kamailio_server import Kamailio

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel


class CliProcess:
    """A softphone-cli process registered as a fresh user; ``audio`` are its media options."""

    def __init__(
        self,
        server: Kamailio | None,
        *extra: str,
        audio: tuple[str, ...] = ("--no-audio",),
        prefix: Sequence[str] = (),
        listen: str = "127.0.0.1:0",
    ) -> None:
        """``prefix`` runs the process under another command (a network namespace of tests/nat_lab.py).

        Without a ``server`` the phone registers nowhere: its account is ``sip:USER@`` the ``listen`` host.
        """
        self.user = "u" + secrets.token_hex(4)
        password = secrets.token_hex(6)
        if server is not None:
            server.add_user(self.user, password)
            account = ["--account", server.aor(self.user), "--registrar", server.proxy_uri()]
        else:
            host = listen.rpartition(":")[0]
            account = ["--account", f"sip:{self.user}@{host}", "--no-register"]
        env = dict(os.environ, SOFTPHONE_TEST_PASSWORD=password)
        self.db = Path(tempfile.mkdtemp(prefix="softphone-cli-")) / "softphone.db"
        self.proc = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-m",
                "softphone.cli",
                *account,
                "--password-env",
                "SOFTPHONE_TEST_PASSWORD",
                "--listen",
                listen,
                *audio,
                "--json",
                "--db",
                str(self.db),
                *extra,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait_for(self, timeout: float = 10.0, after: int = 0, **fields: Any) -> dict[str, Any]:
        """The first event with ``fields`` among those from index ``after`` on, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        for event in self.events[after:]:
            if all(event.get(k) == v for k, v in fields.items()):
                return event
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no event {fields} within {timeout} s; got {self.events}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the process ended before event {fields}; got {self.events}")
            parsed: dict[str, Any] = json.loads(line)
            self.events.append(parsed)
            if all(parsed.get(k) == v for k, v in fields.items()):
                return parsed

    def close(self) -> int:
        try:
            if self.proc.poll() is None:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            return self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self.db.parent, ignore_errors=True)


def test_two_clis_call_each_other(kamailio: Kamailio) -> None:
    alice = CliProcess(kamailio)
    bob = CliProcess(kamailio, "--auto-answer=0.2")
    try:
        alice.wait_for(event="registration", state="registered")
        bob.wait_for(event="registration", state="registered")
        alice.send("bogus command")
        alice.wait_for(event="error")
        alice.send(f"call {bob.user}")
        alice.wait_for(event="call", state="ringing")
        incoming = bob.wait_for(event="incoming_call")
        assert incoming["remote_uri"] == kamailio.aor(alice.user)
        confirmed = alice.wait_for(event="call", state="confirmed")
        bob.wait_for(event="call", state="confirmed")
        alice.send("calls")
        listing = alice.wait_for(event="calls")
        assert [c["state"] for c in listing["calls"]] == ["confirmed"]
        alice.send(f"hangup {confirmed['call_id']}")
        alice.wait_for(event="call", state="ended")
        bob.wait_for(event="call", state="ended")
        alice.send("quit")
        assert alice.proc.wait(timeout=15) == 0
        alice.wait_for(event="registration", state="unregistered")
    finally:
        alice_rc = alice.close()
        bob_rc = bob.close()
    assert alice_rc == 0
    assert bob_rc == 0
    bob.wait_for(event="registration", state="unregistered")

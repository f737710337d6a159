"""Terminal escapes from the network never reach softphone-cli's terminal as escapes.

softphone-cli runs as a process with plain-text output (no ``--json``), peer to peer on loopback.
The attacker writes a message full of ANSI sequences (clear screen, window title, colours) and a
bidi override, and calls with an escape in its display name (a quoted-pair, valid SIP). The CLI's
output shows them as ``\\x1b`` text: not one ESC, BEL or override octet comes out.
"""

from __future__ import annotations

import asyncio
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

from softphone.sip.message import Response
from tests.integration.test_message_crash import free_port
from tests.security.attacker import Attacker, attacker, sip_request

ESC = "\x1b"
BODY = f"hello {ESC}[2J{ESC}[H{ESC}]0;pwned\x07 {ESC}[31mred{ESC}[0m \u202eevil\u202c \x9b6n".encode()
FORBIDDEN = (b"\x1b", b"\x07", "\u202e".encode(), "\x9b".encode())


class PlainCli:
    """softphone-cli with its plain-text output, peer to peer at ``port``; its stdout kept as bytes."""

    def __init__(self, port: int, db: Path, logs: Path) -> None:
        self.stderr_path = logs / "cli.err"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "softphone.cli",
                "--account",
                "sip:bob@127.0.0.1",
                "--password-env",
                "SOFTPHONE_TEST_PASSWORD",
                "--no-register",
                "--listen",
                f"127.0.0.1:{port}",
                "--no-audio",
                "--db",
                str(db),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=dict(os.environ, SOFTPHONE_TEST_PASSWORD="unused"),
        )
        self.output = b""
        self._chunks: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self._chunks.put(line)

    async def wait_for(self, needle: bytes, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not printed; output so far: {self.output!r}")
            try:
                self.output += self._chunks.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.02)

    def quit(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"quit\n")
        self.proc.stdin.flush()
        code = self.proc.wait(timeout=30)
        while not self._chunks.empty():
            self.output += self._chunks.get_nowait()
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


async def until_answered(mallory: Attacker, port: int, timeout: float = 30.0) -> None:
    """Until the CLI answers an OPTIONS (it is listening)."""
    deadline = time.monotonic() + timeout
    while True:
        options = sip_request("OPTIONS", port, from_uri="sip:probe@127.0.0.1", local_port=mallory.port)
        try:
            await mallory.ask(options, port, timeout=1.0)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def test_escapes_in_a_message_and_a_display_name_are_printed_as_text(tmp_path: Path) -> None:
    port = free_port()
    cli = PlainCli(port, tmp_path / "cli.db", tmp_path)

    async def main() -> None:
        mallory = await attacker()
        try:
            await until_answered(mallory, port)
            message = sip_request(
                "MESSAGE",
                port,
                from_uri="sip:mallory@127.0.0.1",
                local_port=mallory.port,
                body=BODY,
                content_type="text/plain;charset=UTF-8",
            )
            assert (await mallory.ask(message, port)).status_code == 200
            await cli.wait_for(b"message request from sip:mallory@127.0.0.1")
            await cli.wait_for(b"\\x1b[2J")

            # A call whose display name holds an escape, as a quoted-pair (RFC 3261 25.1).
            branch, call_id, tag = f"z9hG4bK{secrets.token_hex(8)}", secrets.token_hex(10), secrets.token_hex(4)
            fields = {"from_uri": "sip:mallory@127.0.0.1", "local_port": mallory.port, "call_id": call_id}
            invite = sip_request("INVITE", port, display_name="\\\x1b[2JBoss", branch=branch, from_tag=tag, **fields)
            mallory.send(invite, port)
            await cli.wait_for(b"incoming call")
            cancel = sip_request("CANCEL", port, display_name="\\\x1b[2JBoss", branch=branch, from_tag=tag, **fields)
            assert (await mallory.ask(cancel, port)).status_code == 200
            refused = await until_final(mallory, invite)
            assert refused.status_code == 487
            ack = sip_request("ACK", port, branch=branch, from_tag=tag, to_tag=refused.to.tag, **fields)
            mallory.send(ack, port)
        finally:
            mallory.close()

    try:
        asyncio.run(main())
        assert cli.quit() == 0
    finally:
        cli.close()
    out = cli.output
    assert b"\\x1b[2J" in out and b"\\x07" in out and b"\\u202e" in out
    assert b'incoming call c1 from "\\x1b[2JBoss" <sip:mallory@127.0.0.1>' in out
    for octets in FORBIDDEN:
        assert octets not in out, f"{octets!r} reached the terminal: {out!r}"
    assert b"\x1b" not in cli.stderr_path.read_bytes()


async def until_final(mallory: Attacker, request: bytes, timeout: float = 15.0) -> Response:
    deadline = time.monotonic() + timeout
    while (response := mallory.final(request)) is None:
        if time.monotonic() > deadline:
            raise AssertionError("no final response to the INVITE")
        await asyncio.sleep(0.02)
    return response

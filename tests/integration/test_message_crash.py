"""A softphone-cli receiving a burst of MESSAGEs is killed with SIGKILL: every 200 it sent stands for a stored message.

The sender is a plain UDP socket in the test: 400 MESSAGEs with unique Call-IDs, a window of 64 requests
under way, each retransmitted until it is answered (RFC 3261 17.1.2.2, loosely). The kill comes after 150
answers, with a full window in flight: enough for the 100 answered requests sent again below and for
the burst to be cut in the middle (each stored message costs a commit, so 1,000 proved no more in 2.5x
the time). The receiver runs peer to
peer on loopback (no server) with a database in tmp_path, where the sender is a contact (a stranger's
messages would be message requests, limited). After the kill the database must hold every
message the sender saw answered with 200, none twice; a restarted receiver then gets some answered
requests again (lost 200s, as the sender sees it) plus the rest of the burst, and stores each once.
"""

from __future__ import annotations

import collections
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from softphone.sip.message import Response
from softphone.sip.parser import parse_message
from softphone.store import Contact, Direction, Store

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

COUNT = 400
KILL_AFTER = 150  # answered messages before the SIGKILL
WINDOW = 64
RETRANSMIT = 0.5
RECEIVER = "sip:bob@127.0.0.1"
SENDER = "sip:burst@127.0.0.1"
DEADLINE = 240.0


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (the CLI listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port on 127.0.0.1")


class Receiver:
    def __init__(self, db: Path, port: int, logs: Path) -> None:
        self.port = port
        self.stdout = (logs / f"receiver-{port}-{time.monotonic_ns()}.out").open("w")
        self.stderr_path = logs / f"receiver-{port}-{time.monotonic_ns()}.err"
        self.stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "softphone.cli",
                "--account",
                RECEIVER,
                "--password-env",
                "SOFTPHONE_TEST_PASSWORD",
                "--no-register",
                "--listen",
                f"127.0.0.1:{port}",
                "--no-audio",
                "--json",
                "--db",
                str(db),
            ],
            stdin=subprocess.PIPE,
            stdout=self.stdout,
            stderr=self.stderr,
            env=dict(os.environ, SOFTPHONE_TEST_PASSWORD="unused"),
        )

    def wait_ready(self, sock: socket.socket) -> None:
        """Until the receiver answers an OPTIONS."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the receiver exited: {self.stderr_path.read_text()}")
            call_id = f"ping-{secrets.token_hex(6)}"
            sock.sendto(options(self.port, sock.getsockname()[1], call_id), ("127.0.0.1", self.port))
            sock.settimeout(0.2)
            try:
                while True:
                    data = sock.recv(65535)
                    message = parse_message(data)
                    if isinstance(message, Response) and message.call_id == call_id:
                        return
            except TimeoutError:
                continue
        raise AssertionError("the receiver never answered OPTIONS")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def quit(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stdout.close()
        self.stderr.close()


def options(port: int, local_port: int, call_id: str) -> bytes:
    return (
        f"OPTIONS sip:bob@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <{SENDER}>;tag=ping\r\n"
        f"To: <{RECEIVER}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def message(n: int, port: int, local_port: int, call_id: str, branch: str | None = None) -> bytes:
    body = text_of(n).encode()
    return (
        f"MESSAGE sip:bob@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch={branch or 'z9hG4bK' + secrets.token_hex(8)};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <{SENDER}>;tag=burst{n}\r\n"
        f"To: <{RECEIVER}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 MESSAGE\r\n"
        "Content-Type: text/plain;charset=UTF-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def text_of(n: int) -> str:
    return f"burst {n:04d} — Grüße 👋"


def send_all(
    sock: socket.socket,
    port: int,
    requests: dict[int, bytes],
    call_ids: dict[str, int],
    *,
    kill: Receiver | None = None,
) -> set[int]:
    """Send ``requests`` with a window and retransmissions; the numbers answered 200.

    With ``kill``, the receiver is killed once KILL_AFTER are answered; responses already on their way
    are still read, and the numbers not answered by then are left.
    """
    answered: set[int] = set()
    waiting = collections.deque(sorted(requests))
    outstanding: dict[int, float] = {}
    deadline = time.monotonic() + DEADLINE
    sock.settimeout(0.05)
    while waiting or outstanding:
        assert time.monotonic() < deadline, f"the burst did not finish: {len(answered)} answered"
        now = time.monotonic()
        while waiting and len(outstanding) < WINDOW:
            n = waiting.popleft()
            sock.sendto(requests[n], ("127.0.0.1", port))
            outstanding[n] = now
        for n, sent in list(outstanding.items()):
            if now - sent >= RETRANSMIT:
                sock.sendto(requests[n], ("127.0.0.1", port))
                outstanding[n] = now
        try:
            data = sock.recv(65535)
        except TimeoutError:
            continue
        response = parse_message(data)
        if not isinstance(response, Response) or response.call_id not in call_ids:
            continue
        n = call_ids[response.call_id]
        if response.status_code == 200 and n in outstanding:
            answered.add(n)
            del outstanding[n]
        if kill is not None and len(answered) >= KILL_AFTER:
            kill.kill()
            # What the dead process sent before it died still counts as answered.
            sock.settimeout(0.5)
            try:
                while True:
                    late = parse_message(sock.recv(65535))
                    if isinstance(late, Response) and late.status_code == 200 and late.call_id in call_ids:
                        answered.add(call_ids[late.call_id])
            except TimeoutError:
                pass
            return answered
    return answered


def stored_texts(db: Path) -> collections.Counter[str]:
    with Store(db) as store:
        page = store.messages.page(RECEIVER, SENDER, limit=10 * COUNT)
    assert all(m.direction == Direction.IN for m in page)
    return collections.Counter(m.text for m in page)


def test_sigkill_mid_burst_loses_no_answered_message_and_stores_none_twice(tmp_path: Path) -> None:
    db = tmp_path / "receiver.db"
    with Store(db) as store:
        store.contacts.add(Contact("Burst", uris=[SENDER]))
    port = free_port()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    local_port = int(sock.getsockname()[1])
    token = secrets.token_hex(4)
    call_ids = {f"burst-{n}-{token}@test": n for n in range(COUNT)}
    by_number = {n: call_id for call_id, n in call_ids.items()}
    requests = {n: message(n, port, local_port, by_number[n]) for n in range(COUNT)}
    receiver = Receiver(db, port, tmp_path)
    try:
        receiver.wait_ready(sock)
        answered = send_all(sock, port, requests, call_ids, kill=receiver)
        assert receiver.proc.returncode == -signal.SIGKILL

        stored = stored_texts(db)
        assert len(answered) >= KILL_AFTER
        assert len(stored) < COUNT, "the receiver was killed after the burst, not in the middle of it"
        assert [text for text, times in stored.items() if times > 1] == []
        missing = sorted(n for n in answered if text_of(n) not in stored)
        assert missing == [], f"answered with 200 but not stored: {missing[:20]}"
        assert set(stored) <= {text_of(n) for n in range(COUNT)}

        # Restarted on the same database: answered requests arrive again (identical retransmissions and
        # new transactions of the same requests), with the ones never answered.
        receiver = Receiver(db, port, tmp_path)
        receiver.wait_ready(sock)
        again = sorted(answered)[:100]
        resend = {n: requests[n] for n in again[:50]}
        resend.update({n: message(n, port, local_port, by_number[n]) for n in again[50:]})
        resend.update({n: requests[n] for n in range(COUNT) if n not in answered})
        answered_now = send_all(sock, port, resend, call_ids)
        assert answered_now == set(resend)
        assert receiver.quit() == 0

        stored = stored_texts(db)
        assert [text for text, times in stored.items() if times > 1] == []
        assert set(stored) == {text_of(n) for n in range(COUNT)}
    finally:
        receiver.close()
        sock.close()

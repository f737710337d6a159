"""Out of file descriptors: the listener survives, outbound attempts fail with a clear TransportError,
and service resumes once descriptors are free. Run in a child process with a lowered RLIMIT_NOFILE."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import threading
from typing import Any

from tests.conftest import ROOT
from tests.transport.test_manager import raw_request_bytes

WAIT = 15.0

# The child: a TransportManager on UDP and TCP that answers every request 200, then every descriptor taken.
CHILD = r"""
import asyncio, json, os, resource, socket, sys, logging, threading
from softphone.transport import Target, TransportError, TransportManager, VIA_PLACEHOLDER
from tests.transport.test_manager import request, response_to

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

def say(**event):
    print(json.dumps(event), flush=True)

async def main():
    loop = asyncio.get_running_loop()
    tasks = set()
    def answer(message, source):
        say(event="request", transport=source.transport)
        task = loop.create_task(manager.send(response_to(message), source))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    manager = TransportManager([("udp", "127.0.0.1", 0), ("tcp", "127.0.0.1", 0)], on_message=answer)
    await manager.start()
    elsewhere = socket.socket()
    elsewhere.bind(("127.0.0.1", 0))
    elsewhere.listen()
    lines = asyncio.Queue()
    def read_stdin():
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.strip())
    threading.Thread(target=read_stdin, daemon=True).start()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
    hoard = []
    for _ in range(256):
        try:
            hoard.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            break
    say(event="exhausted", tcp=manager.local_address("tcp")[1], udp=manager.local_address("udp")[1])

    via = f"SIP/2.0/TCP {VIA_PLACEHOLDER};branch=z9hG4bK-out"
    try:
        await manager.send(request(via=via), Target("TCP", "127.0.0.1", elsewhere.getsockname()[1]))
        say(event="outbound", error=None)
    except TransportError as exc:
        say(event="outbound", error=str(exc))
    except Exception as exc:
        say(event="outbound", error=f"not a TransportError: {exc!r}")

    while (line := await lines.get()) != "release":
        if line == "await-accept-failure":
            for _ in range(400):
                if manager._limit_log.total:
                    break
                await asyncio.sleep(0.025)
            listening = not any(task.done() for task in manager._accepting)
            say(event="accept-failed", total=manager._limit_log.total, listening=listening)
    for fd in hoard:
        os.close(fd)
    say(event="released")
    await lines.get()
    await manager.close()

asyncio.run(main())
"""


class Child:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def event(self, name: str) -> dict[str, Any]:
        while True:
            try:
                event = self.events.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"the child never said {name!r}; stderr: {self.stop()}") from None
            if event["event"] == name:
                return event

    def tell(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=WAIT)
        assert self.process.stderr is not None
        return self.process.stderr.read()


def test_out_of_descriptors_the_listener_survives_and_service_resumes() -> None:
    child = Child()
    try:
        ports = child.event("exhausted")
        outbound = child.event("outbound")
        assert outbound["error"] is not None and "out of file descriptors" in outbound["error"], outbound

        # UDP needs no new descriptor: it is answered while the process has none.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(WAIT)
            udp.bind(("127.0.0.1", 0))
            via = f"SIP/2.0/UDP 127.0.0.1:{udp.getsockname()[1]};branch=z9hG4bK-u"
            udp.sendto(raw_request_bytes(via), ("127.0.0.1", ports["udp"]))
            assert udp.recv(65536).startswith(b"SIP/2.0 200 OK\r\n")

        # A TCP peer waits in the backlog: accept() fails with EMFILE and the listener keeps trying.
        with socket.create_connection(("127.0.0.1", ports["tcp"]), timeout=WAIT) as tcp:
            tcp.sendall(raw_request_bytes("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-t"))
            child.tell("await-accept-failure")
            failed = child.event("accept-failed")
            assert failed["total"] >= 1 and failed["listening"], failed
            child.tell("release")
            child.event("released")
            assert tcp.recv(65536).startswith(b"SIP/2.0 200 OK\r\n")
        child.tell("stop")
        assert child.process.stdin is not None
        child.process.stdin.close()
        assert child.process.wait(timeout=WAIT) == 0
    finally:
        stderr = child.stop()
    assert "Traceback" not in stderr, stderr
    # One line when it starts; retries every half second only add to the summary (one at close, at most).
    accept_lines = [line for line in stderr.splitlines() if "cannot accept TCP connections" in line]
    first = [line for line in accept_lines if "more of this is summarised" in line]
    assert len(first) == 1 and "out of file descriptors" in first[0] and len(accept_lines) <= 2, stderr

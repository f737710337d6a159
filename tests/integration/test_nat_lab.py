"""The NAT lab itself: sealed off from the real network, NATs that translate, and nothing left behind."""

from __future__ import annotations

import os
import sys

import pytest

import tests.nat_lab as nat_lab
from tests.nat_lab import LAN_HOST, NAT_PUBLIC, PUBLIC, NatLab

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

ECHO = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('{host}', 9999)); s.settimeout(15)\n"
    "print('bound', flush=True)\n"
    "data, addr = s.recvfrom(100); s.sendto(addr[0].encode(), addr); print(addr[0])\n"
)
SEND = (
    "import socket\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)\n"
    "for _ in range(20):\n"
    "    s.sendto(b'x', ('{host}', 9999))\n"
    "    try:\n        print(s.recvfrom(100)[0].decode()); break\n"
    "    except TimeoutError:\n        pass\n"
)


def test_lab_translates_isolates_and_cleans_up() -> None:
    lab = NatLab("eim", "symmetric").start()
    try:
        holder = lab.holder
        assert holder is not None
        # Nothing in the lab has a route out: not the public segment, not a NAT, not a LAN past its NAT.
        for namespace in ("pub", "natA", "natB"):
            result = lab.run(namespace, ["ip", "route", "get", "8.8.8.8"])
            assert result.returncode != 0 and "unreachable" in result.stderr, (namespace, result)
        # A datagram from LAN A reaches the public host from the NAT's address.
        echo = lab.popen("pub", [sys.executable, "-c", ECHO.format(host=PUBLIC)], stdout=-1, stderr=-1)
        assert echo.stdout is not None and echo.stdout.readline().strip() == "bound"
        sent = lab.python("lanA", SEND.format(host=PUBLIC))
        out, err = echo.communicate(timeout=10)
        assert out.strip() == NAT_PUBLIC["A"], (out, err, sent)  # the first line was read above
        assert sent.stdout.strip() == NAT_PUBLIC["A"]
        # LAN B's private address is not reachable from the public side.
        result = lab.run("pub", ["ip", "route", "get", LAN_HOST["B"]])
        assert result.returncode != 0
        pids = [holder.pid, echo.pid]
    finally:
        lab.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not lab.workdir.exists()


def test_a_lab_that_cannot_be_built_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nat_lab, "_setup_script", lambda a, b: "ip link add x type no-such-kind\necho READY\n")
    lab = NatLab()
    with pytest.raises(RuntimeError, match=r"could not be built: (.|\n)*no-such-kind"):
        lab.start()
    assert lab.holder is None

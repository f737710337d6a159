"""The bridged LAN lab: multicast reaches every host, IPv4 and IPv6, and nothing leaves the lab."""

from __future__ import annotations

import os
import sys

import pytest

from tests.netns_lab import LanLab

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

RECEIVE = (
    "import socket, struct\n"
    "v6 = {v6}\n"
    "s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('', 5004)); s.settimeout(15)\n"
    "if v6:\n"
    "    mreq = socket.inet_pton(socket.AF_INET6, '{group}') + struct.pack('@I', socket.if_nametoindex('eth0'))\n"
    "    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)\n"
    "else:\n"
    "    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,"
    " socket.inet_aton('{group}') + socket.inet_aton('0.0.0.0'))\n"
    "print('joined', flush=True)\n"
    "data, addr = s.recvfrom(100); print(data.decode(), addr[0])\n"
)
SEND = (
    "import socket, time\n"
    "v6 = {v6}\n"
    "s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)\n"
    "if v6:\n"
    "    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex('eth0'))\n"
    "for _ in range(3):\n"
    "    s.sendto(b'page', ('{group}', 5004)); time.sleep(0.05)\n"
)


@pytest.mark.parametrize(("group", "v6"), [("239.255.0.1", False), ("ff05::1:3", True)])
def test_multicast_reaches_every_other_host_and_nothing_leaves(group: str, v6: bool) -> None:
    lab = LanLab(hosts=3).start()
    try:
        for host in lab.hosts:
            for target in ("8.8.8.8", "2001:4860:4860::8888"):
                result = lab.run(host, ["ip", "route", "get", target])
                assert result.returncode != 0, (host, target, result)
        listeners = [
            lab.popen(host, [sys.executable, "-c", RECEIVE.format(group=group, v6=v6)], stdout=-1, stderr=-1)
            for host in ("h2", "h3")
        ]
        for listener in listeners:
            assert listener.stdout is not None and listener.stdout.readline().strip() == "joined"
        sent = lab.python("h1", SEND.format(group=group, v6=v6))
        assert sent.returncode == 0, sent.stderr
        for listener in listeners:
            out, err = listener.communicate(timeout=15)
            assert out.split() == ["page", lab.address("h1", ipv6=v6)], err
        pids = [p.pid for p in listeners]
        workdir = lab.workdir
    finally:
        lab.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not workdir.exists()

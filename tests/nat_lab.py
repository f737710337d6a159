"""A NAT lab: network namespaces, veth pairs and nftables NATs, sealed off from the real network.

It is a :class:`~tests.netns_lab.NamespaceLab` (one holder process, nothing linked to the
machine's network) with these namespaces::

    pub   203.0.113.1 and .2 on a bridge: Kamailio, coturn (two IPs: RFC 5780), public hosts;
          203.0.113.3 for a second coturn that relays (TURN, long-term credentials)
    natA  203.0.113.10 | 198.51.100.1    masquerade (endpoint-independent) or random,fully-random
    lanA  198.51.100.2                    default route via natA
    natB  203.0.113.20 | 192.0.2.1        likewise
    lanB  192.0.2.2

Each NAT drops unsolicited packets from the public side in its input hook, as home routers do. Without
that, a peer's packet arriving before our first one leaves a conntrack entry that takes our mapping's
port, and masquerade gives our outgoing flow another: two phones punching towards each other's
STUN-learned addresses would each lose the race half the time.

When the lab cannot be built it raises with the command that failed and its output; it never skips.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Literal

from tests.kamailio_server import Kamailio, make_self_signed_certificate, sip_options_ping
from tests.netns_lab import NamespaceLab

NatKind = Literal["eim", "symmetric"]

PUBLIC = "203.0.113.1"
PUBLIC_ALT = "203.0.113.2"
TURN_HOST = "203.0.113.3"
TURN_USER, TURN_PASSWORD, TURN_REALM = "alice", "turn-secret", "lab.invalid"
NAT_PUBLIC = {"A": "203.0.113.10", "B": "203.0.113.20"}
LAN_HOST = {"A": "198.51.100.2", "B": "192.0.2.2"}
LAN_GATEWAY = {"A": "198.51.100.1", "B": "192.0.2.1"}
STUN_PORT = 3478
TURN_TLS_PORT = 5349
_MASQUERADE = {"eim": "masquerade", "symmetric": "masquerade random,fully-random"}
_READY_TIMEOUT = 30.0  # a bound on start-up, not a measurement: generous for a loaded machine


def missing_tools() -> list[str]:
    wanted = {"unshare": "util-linux", "nsenter": "util-linux", "ip": "iproute2", "nft": "nftables"}
    wanted |= {"turnserver": "coturn", "kamailio": "kamailio"}
    return sorted({pkg for tool, pkg in wanted.items() if shutil.which(tool) is None})


def _setup_script(nat_a: NatKind, nat_b: NatKind) -> str:
    lines = [
        "mkdir -p /run/netns",
        "mount -t tmpfs none /run/netns",
        "ip link set lo up",
        "for n in pub natA lanA natB lanB; do ip netns add $n; ip -n $n link set lo up;"
        " ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done",
        "ip -n pub link add br0 type bridge",
        f"ip -n pub addr add {PUBLIC}/24 dev br0",
        f"ip -n pub addr add {PUBLIC_ALT}/24 dev br0",
        f"ip -n pub addr add {TURN_HOST}/24 dev br0",
        "ip -n pub link set br0 up",
    ]
    for side, kind in (("A", nat_a), ("B", nat_b)):
        s = side.lower()
        nat, lan = f"nat{side}", f"lan{side}"
        lines += [
            f"ip link add {s}-pub netns {nat} type veth peer name pub-{s} netns pub",
            f"ip -n pub link set pub-{s} master br0 up",
            f"ip -n {nat} addr add {NAT_PUBLIC[side]}/24 dev {s}-pub",
            f"ip -n {nat} link set {s}-pub up",
            f"ip link add {s}-lan netns {nat} type veth peer name lan-{s} netns {lan}",
            f"ip -n {nat} addr add {LAN_GATEWAY[side]}/24 dev {s}-lan",
            f"ip -n {nat} link set {s}-lan up",
            f"ip -n {lan} addr add {LAN_HOST[side]}/24 dev lan-{s}",
            f"ip -n {lan} link set lan-{s} up",
            f"ip -n {lan} route add default via {LAN_GATEWAY[side]}",
            f"ip netns exec {nat} sysctl -qw net.ipv4.ip_forward=1",
            f"ip netns exec {nat} nft add table ip nat",
            f"ip netns exec {nat} nft 'add chain ip nat post {{ type nat hook postrouting priority 100 ; }}'",
            f"ip netns exec {nat} nft add rule ip nat post oifname {s}-pub {_MASQUERADE[kind]}",
            # Like a home router: drop what nobody asked for from the public side, before conntrack confirms it.
            f"ip netns exec {nat} nft add table ip fw",
            f"ip netns exec {nat} nft 'add chain ip fw input {{ type filter hook input priority 0 ; }}'",
            f"ip netns exec {nat} nft add rule ip fw input iifname {s}-pub ct state new drop",
        ]
    # Ready, then hold the namespaces until the test closes our stdin.
    lines += ["echo READY", "read -r _ || true"]
    return "\n".join(lines) + "\n"


class NatLab(NamespaceLab):
    """The NAT lab; :meth:`start` builds it (about 0.3 s), :meth:`stop` tears every part of it down."""

    name = "NAT lab"

    def __init__(self, nat_a: NatKind = "eim", nat_b: NatKind = "eim") -> None:
        super().__init__()
        self.nat_a = nat_a
        self.nat_b = nat_b
        self.kamailio: Kamailio | None = None
        self.turn_ca: Path | None = None

    def setup_script(self) -> str:
        return _setup_script(self.nat_a, self.nat_b)

    def missing(self) -> list[str]:
        return missing_tools()

    def stop(self) -> None:
        if self.kamailio is not None:
            self.kamailio.stop()
            self.kamailio = None
        super().stop()

    def __enter__(self) -> NatLab:
        self.start()
        return self

    # --- the servers on the public segment -------------------------------------------------

    def start_stun(self) -> tuple[str, int]:
        """coturn on 203.0.113.1 and .2 (two addresses: RFC 5780 tests), STUN only; its primary address."""
        log = self.workdir / "turnserver.log"
        proc = self.popen(
            "pub",
            [
                "turnserver", "-n", "--stun-only", "--no-tls", "--no-dtls", "--no-tcp", "--no-cli",
                f"--listening-ip={PUBLIC}", f"--listening-ip={PUBLIC_ALT}", f"--listening-port={STUN_PORT}",
                f"--alt-listening-port={STUN_PORT + 1}", f"--pidfile={self.workdir / 'turnserver.pid'}",
                "--log-file=stdout", "--simple-log", "--no-stdout-log",
            ],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_for_stun(proc, log, PUBLIC)
        return PUBLIC, STUN_PORT

    def start_turn(self, streams: bool = False) -> tuple[str, int]:
        """coturn on 203.0.113.3 relaying UDP (RFC 8656) for TURN_USER with TURN_PASSWORD; its address.

        ``streams``: clients may also reach it over TCP (port 3478) and TLS (port 5349) with a self-signed
        certificate for 203.0.113.3 made now (:attr:`turn_ca`, to give the clients as their CA file)."""
        log = self.workdir / "turnserver-relay.log"
        if streams:
            self.turn_ca = self.workdir / "turn-cert.pem"
            key = self.workdir / "turn-key.pem"
            make_self_signed_certificate(self.turn_ca, key, TURN_HOST, ips=(TURN_HOST,))
            listeners = ["--no-dtls", f"--tls-listening-port={TURN_TLS_PORT}", f"--cert={self.turn_ca}",
                         f"--pkey={key}", "--no-tlsv1", "--no-tlsv1_1"]  # fmt: skip
        else:
            listeners = ["--no-tls", "--no-dtls", "--no-tcp"]
        proc = self.popen(
            "pub",
            [
                "turnserver", "-n", *listeners, "--no-tcp-relay", "--no-cli",
                f"--listening-ip={TURN_HOST}", f"--relay-ip={TURN_HOST}", f"--listening-port={STUN_PORT}",
                "--min-port=49152", "--max-port=49652", "--lt-cred-mech", f"--user={TURN_USER}:{TURN_PASSWORD}",
                f"--realm={TURN_REALM}", f"--pidfile={self.workdir / 'turnserver-relay.pid'}",
                "--log-file=stdout", "--simple-log", "--no-stdout-log", "--verbose",
            ],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_for_stun(proc, log, TURN_HOST)
        return TURN_HOST, STUN_PORT

    def block_udp(self, side: str) -> None:
        """The NAT of ``side`` ("A" or "B") forwards no UDP from its LAN to the public side (TCP still goes)."""
        nat, lan_if = f"nat{side}", f"{side.lower()}-lan"
        for rule in (
            ["nft", "add", "chain", "ip", "fw", "forward", "{ type filter hook forward priority 0 ; }"],
            ["nft", "add", "rule", "ip", "fw", "forward", "iifname", lan_if, "meta", "l4proto", "udp", "drop"],
        ):
            result = self.run(nat, rule)
            if result.returncode != 0:
                raise RuntimeError(f"{' '.join(rule)} in {nat} failed:\n{result.stdout}{result.stderr}")

    def move_public(self, side: str, address: str) -> None:
        """The NAT of ``side`` ("A" or "B") gets a new public address in place of its own: what a laptop meets
        when it changes network. Removing the old address drops the NAT's mappings (masquerade forgets them),
        so every flow from that LAN leaves from ``address`` from now on."""
        nat, public_if = f"nat{side}", f"{side.lower()}-pub"
        for step in (
            # Without this, removing an interface's primary address removes the others of its subnet too.
            ["sysctl", "-qw", f"net.ipv4.conf.{public_if}.promote_secondaries=1"],
            ["ip", "addr", "add", f"{address}/24", "dev", public_if],
            ["ip", "addr", "del", f"{NAT_PUBLIC[side]}/24", "dev", public_if],
        ):
            result = self.run(nat, step)
            if result.returncode != 0:
                raise RuntimeError(f"{' '.join(step)} in {nat} failed:\n{result.stdout}{result.stderr}")

    def move_host(self, side: str, address: str) -> None:
        """The phone's own host in LAN ``side`` gets ``address`` in place of its own (same LAN, same NAT): what
        a laptop meets when it moves between networks. Sockets bound to the old address can no longer send."""
        lan, lan_if = f"lan{side}", f"lan-{side.lower()}"
        for step in (
            ["sysctl", "-qw", f"net.ipv4.conf.{lan_if}.promote_secondaries=1"],
            ["ip", "addr", "add", f"{address}/24", "dev", lan_if],
            ["ip", "addr", "del", f"{LAN_HOST[side]}/24", "dev", lan_if],
            ["ip", "route", "replace", "default", "via", LAN_GATEWAY[side]],
        ):
            result = self.run(lan, step)
            if result.returncode != 0:
                raise RuntimeError(f"{' '.join(step)} in {lan} failed:\n{result.stdout}{result.stderr}")

    def turn_log(self) -> str:
        """What the relaying coturn logged (``--verbose``: each session's allocation, permissions, refreshes)."""
        path = self.workdir / "turnserver-relay.log"
        return path.read_text() if path.exists() else ""

    def _wait_for_stun(self, proc: subprocess.Popen[str], log: Path, host: str) -> None:
        probe = (
            "import asyncio, socket, sys\n"
            "from softphone.transport.stun import binding, StunError, Retransmission\n"
            "async def main():\n"
            f"    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('{PUBLIC}', 0))\n"
            f"    await binding(s, ('{host}', {STUN_PORT}), retransmission=Retransmission(0.1, 2, 2))\n"
            "try:\n    asyncio.run(main())\nexcept StunError:\n    sys.exit(1)\n"
        )
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"coturn exited ({proc.returncode}) while starting:\n{log.read_text()[-2000:]}")
            if self.python("pub", probe).returncode == 0:
                return
        raise RuntimeError(f"coturn did not answer within {_READY_TIMEOUT:.0f} s:\n{log.read_text()[-2000:]}")

    def start_kamailio(self) -> Kamailio:
        """The test Kamailio listening on the public address 203.0.113.1:5060."""
        server = LabKamailio(self)
        server.start()
        self.kamailio = server
        return server


class LabKamailio(Kamailio):
    """tests/kamailio_server.py's Kamailio, run in the lab's public namespace on fixed ports (the namespace is new:
    every port is free) and probed from inside it."""

    host = PUBLIC
    domain = PUBLIC

    def __init__(self, lab: NatLab) -> None:
        wrapper = lab.workdir / "kamailio-in-pub"
        wrapper.write_text("#!/bin/sh\nexec " + " ".join(lab.command("pub", ["kamailio"])) + ' "$@"\n')
        wrapper.chmod(0o755)
        super().__init__(ipv6=False, binary=str(wrapper))
        self.lab = lab

    def _choose_ports(self, tried: set[int]) -> tuple[int, int]:
        return 5060, 5061

    def _wait_ready(self) -> None:
        assert self._proc is not None
        probe = (
            "import sys\nfrom tests.kamailio_server import sip_options_ping\n"
            f"sys.exit(0 if sip_options_ping('{self.host}', {self.udp_port}, timeout=0.2) else 1)\n"
        )
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"Kamailio exited with status {self._proc.returncode}:\n{self.log_tail()}")
            if self.lab.python("pub", probe).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"Kamailio did not answer in the lab within {_READY_TIMEOUT:.0f} s:\n{self.log_tail()}")


__all__ = [
    "LAN_HOST",
    "NAT_PUBLIC",
    "PUBLIC",
    "PUBLIC_ALT",
    "TURN_HOST",
    "TURN_PASSWORD",
    "TURN_REALM",
    "TURN_TLS_PORT",
    "TURN_USER",
    "LabKamailio",
    "NatLab",
    "sip_options_ping",
]

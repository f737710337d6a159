"""Labs of network namespaces, sealed off from the real network: the holder they share, and a bridged LAN.

One ``unshare -n -m --propagation private`` process (the *holder*) owns a
network namespace with nothing but loopback and a private mount namespace
in which ``/run/netns`` is a fresh tmpfs. In it a lab creates named
namespaces; nothing in them has a link to the machine's own network.
:class:`NamespaceLab` is that holder and the way to run programs in its
namespaces; a subclass gives the script that builds the namespaces
(:class:`~tests.nat_lab.NatLab`, :class:`LanLab`).

Programs run in a namespace with :meth:`NamespaceLab.command` (a prefix of
``nsenter`` into the holder's namespaces and ``ip netns exec``; both exec,
so the PID Popen gives is the program's). The lab keeps every process it
starts and ends each by PID at :meth:`NamespaceLab.stop`, then ends the
holder, whose end frees every namespace. When a lab cannot be built it
raises with the command that failed and its output; it never skips.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# A LAN of hosts on one bridge: IPv4 from TEST-NET-1 and IPv6 from the documentation prefix (RFC 3849).
LAN_V4 = "192.0.2.{}"
LAN_V6 = "2001:db8:1::{}"


class NamespaceLab:
    """A holder of namespaces; subclasses give :meth:`setup_script`. :meth:`start` builds, :meth:`stop` ends all."""

    name = "namespace lab"

    def __init__(self) -> None:
        self.holder: subprocess.Popen[str] | None = None
        self.processes: list[subprocess.Popen[bytes] | subprocess.Popen[str]] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="netns-lab-"))

    def setup_script(self) -> str:
        """Shell run in the holder (``bash -ex``): build the namespaces, ``echo READY``, then ``read`` to hold them."""
        raise NotImplementedError

    def missing(self) -> list[str]:
        """Debian packages this lab needs that are not installed."""
        wanted = {"unshare": "util-linux", "nsenter": "util-linux", "ip": "iproute2"}
        return sorted({pkg for tool, pkg in wanted.items() if shutil.which(tool) is None})

    # --- building and tearing down ---------------------------------------------------------

    def start(self) -> NamespaceLab:
        if os.geteuid() != 0:
            raise RuntimeError(f"the {self.name} needs root (network namespaces)")
        missing = self.missing()
        if missing:
            raise RuntimeError(f"the {self.name} needs: apt-get install -y {' '.join(missing)}")
        self.holder = subprocess.Popen(
            # -e: stop at the first failure; -x: each command on stderr, so the error says which one failed.
            ["unshare", "-n", "-m", "--propagation", "private", "bash", "-ex", "-c", self.setup_script()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline()
        if line.strip() != "READY":
            errors = self._holder_errors()
            self.stop()
            raise RuntimeError(f"the {self.name} could not be built: {errors}")
        return self

    def _holder_errors(self) -> str:
        holder = self.holder
        if holder is None or holder.stderr is None:
            return "no holder process"
        with contextlib.suppress(subprocess.TimeoutExpired):
            holder.wait(timeout=5)
        return holder.stderr.read() if holder.poll() is not None else "(holder still running)"

    def stop(self) -> None:
        """End every process the lab started (by PID), then the holder: the namespaces go with it."""
        for proc in reversed(self.processes):
            end_process(proc)
        self.processes.clear()
        holder, self.holder = self.holder, None
        if holder is not None:
            if holder.stdin is not None:
                with contextlib.suppress(OSError):
                    holder.stdin.close()
            end_process(holder)
            for stream in (holder.stdout, holder.stderr):
                if stream is not None:
                    stream.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> NamespaceLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- running things in it --------------------------------------------------------------

    def command(self, namespace: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run in ``namespace`` of this lab."""
        holder = self.holder
        if holder is None or holder.poll() is not None:
            raise RuntimeError(f"the {self.name} is not running")
        return [
            "nsenter",
            "-t",
            str(holder.pid),
            "-n",
            "-m",
            f"--wd={REPO}",
            "--",
            "ip",
            "netns",
            "exec",
            namespace,
            *argv,
        ]

    def run(self, namespace: str, argv: Sequence[str], timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(namespace, argv), capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False
        )

    def popen(self, namespace: str, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[str]:
        proc: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
            self.command(namespace, argv), cwd=REPO, text=True, **kwargs
        )
        self.processes.append(proc)
        return proc

    def python(self, namespace: str, code: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        return self.run(namespace, [sys.executable, "-c", code], timeout)


class LanLab(NamespaceLab):
    """``hosts`` namespaces ``h1``…``hN`` on one bridge (in namespace ``sw``), with multicast, IPv4 and IPv6.

    Host *n* has ``192.0.2.n`` and ``2001:db8:1::n`` on ``eth0``; multicast (224.0.0.0/4 and ff00::/8) goes out
    of ``eth0``, and the bridge floods it to every host (snooping off). Nothing has a default route.
    """

    name = "LAN lab"

    def __init__(self, hosts: int = 3) -> None:
        super().__init__()
        self.hosts = [f"h{n}" for n in range(1, hosts + 1)]

    def address(self, host: str, ipv6: bool = False) -> str:
        n = self.hosts.index(host) + 1
        return (LAN_V6 if ipv6 else LAN_V4).format(n)

    def setup_script(self) -> str:
        lines = [
            "mkdir -p /run/netns",
            "mount -t tmpfs none /run/netns",
            "ip link set lo up",
            "ip netns add sw",
            "ip -n sw link set lo up",
            "ip -n sw link add br0 type bridge",
            "ip -n sw link set br0 type bridge mcast_snooping 0",
            "ip -n sw link set br0 up",
        ]
        for n, host in enumerate(self.hosts, start=1):
            lines += [
                f"ip netns add {host}",
                f"ip -n {host} link set lo up",
                f"ip link add eth0 netns {host} type veth peer name p-{host} netns sw",
                f"ip -n sw link set p-{host} master br0 up",
                f"ip -n {host} addr add {LAN_V4.format(n)}/24 dev eth0",
                # nodad: the address is usable at once, not after duplicate address detection's second.
                f"ip -n {host} addr add {LAN_V6.format(n)}/64 dev eth0 nodad",
                f"ip -n {host} link set eth0 up",
                f"ip -n {host} route add 224.0.0.0/4 dev eth0",
            ]
        lines += ["echo READY", "read -r _ || true"]
        return "\n".join(lines) + "\n"

    def __enter__(self) -> LanLab:
        self.start()
        return self


def end_process(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL after 5 s; waits for the end."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=5)


__all__ = ["LAN_V4", "LAN_V6", "REPO", "LanLab", "NamespaceLab", "end_process"]

"""Time from `call` to audio flowing across the NAT lab: host, srflx, latched and relay paths, with and without ICE.

Run from the repository root, as root (it builds tests/nat_lab.py's namespaces; Debian packages
``nftables``, ``coturn``, ``kamailio`` and ``kamailio-sqlite-modules``)::

    python benchmarks/nat_setup.py             # 10 calls per path
    python benchmarks/nat_setup.py --quick     # 3 calls per path
    python benchmarks/nat_setup.py --video     # video calls: the time to the first picture too

Per path, two phones (benchmarks/nat_phone.py, one UserAgent each, SRTP with SDES keys) register at
the lab's Kamailio; the caller places one call after the other, each hung up once both sides heard
the other's tone. The paths:

``host``
    both phones on the public segment, no NAT, no STUN: the SDP names their own addresses.
``srflx``
    each phone behind its own endpoint-independent NAT with coturn as STUN server: each call first asks
    the STUN server for the media port's mapping, the SDP names it, and the NATs open as both send
    (``--no-ice``: no ICE, the media starts at the SDP addresses).
``srflx-ice``
    the same with ICE: the checks find the server-reflexive pair, and media starts once it is nominated.
``latched``
    the caller behind a symmetric NAT with no STUN, the callee public: the callee's RTP to the caller's
    private SDP address is lost until it latches onto the caller's SRTP (RFC 4961).
``relay``
    both phones behind symmetric NATs, where STUN alone gets no audio through; the caller allocates a
    relay on coturn (TURN, long-term credentials: the 401 round trip, then the Allocate) for each call and
    its SDP names the relayed address; the callee has STUN. No ICE: media goes through the relay both ways.
``relay-ice``
    the same NATs with TURN on both sides and ICE: the reflexive pairs fail, the relayed ones connect.
``relay-tcp-ice``, ``relay-tls-ice``
    the caller's NAT forwards no UDP (endpoint-independent NATs otherwise): its SIP goes over TCP and it
    reaches coturn over TCP, or TLS (the handshake too), for each call's relay; the callee has STUN. ICE
    picks the relay.

Columns, in milliseconds from just before ``ua.call()`` (``time.monotonic()``, one clock for all
processes): the caller's ``confirmed`` event; the first block louder than -34 dBFS played at the caller
(the callee's tone) and at the callee (the caller's tone) — jitter buffer included. With ``--video`` the
calls have VP8 video (the test pattern both ways; the video port gathers its own address, relay and
candidates and runs ICE of its own), and two more columns say when each side decoded the other's first
picture.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.nat_lab import LAN_HOST, PUBLIC, STUN_PORT, TURN_HOST, TURN_PASSWORD, TURN_USER, NatLab  # noqa: E402

STUN = f"{PUBLIC}:{STUN_PORT}"
TURN = ["--turn", f"{TURN_HOST}:{STUN_PORT}", "--turn-user", TURN_USER, "--turn-password", TURN_PASSWORD]
PATHS: dict[str, tuple[str, str, str, str, list[str], list[str]]] = {
    # name: (NAT A, NAT B, caller namespace, callee namespace, the caller's options, the callee's)
    "host": ("eim", "eim", "pub", "pub", [], []),
    "srflx": ("eim", "eim", "lanA", "lanB", ["--stun", STUN, "--no-ice"], ["--stun", STUN, "--no-ice"]),
    "srflx-ice": ("eim", "eim", "lanA", "lanB", ["--stun", STUN], ["--stun", STUN]),
    "latched": ("symmetric", "eim", "lanA", "pub", [], []),
    "relay": (
        "symmetric",
        "symmetric",
        "lanA",
        "lanB",
        ["--stun", STUN, *TURN, "--no-ice"],
        ["--stun", STUN, "--no-ice"],
    ),
    "relay-ice": ("symmetric", "symmetric", "lanA", "lanB", ["--stun", STUN, *TURN], ["--stun", STUN, *TURN]),
    "relay-tcp-ice": ("eim", "eim", "lanA", "lanB", [*TURN, "--turn-transport", "tcp"], ["--stun", STUN]),
    "relay-tls-ice": (
        "eim",
        "eim",
        "lanA",
        "lanB",
        [*TURN[:1], TURN_HOST, *TURN[2:], "--turn-transport", "tls"],
        ["--stun", STUN],
    ),
}
# Paths where the caller's LAN has no UDP out: its SIP goes over TCP, its TURN over a stream.
NO_UDP = {"relay-tcp-ice", "relay-tls-ice"}
HOSTS = {"lanA": LAN_HOST["A"], "lanB": LAN_HOST["B"], "pub": PUBLIC}


class Phone:
    def __init__(
        self, lab: NatLab, namespace: str, role: str, options: list[str], sip: str = "udp", video: bool = False
    ) -> None:
        assert lab.kamailio is not None
        self.user = "b" + secrets.token_hex(4)
        password = secrets.token_hex(6)
        lab.kamailio.add_user(self.user, password)
        argv = [
            sys.executable, "-m", "benchmarks.nat_phone", "--role", role,
            "--account", lab.kamailio.aor(self.user), "--password", password,
            "--registrar", lab.kamailio.proxy_uri(sip), "--listen", HOSTS[namespace], "--transport", sip,
            "--tone", "440" if role == "caller" else "1000",
            *(["--video"] if video else []), *options,
        ]  # fmt: skip
        self.proc = lab.popen(namespace, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.read()  # ready

    def read(self) -> dict[str, float | None]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"a phone ended early (exit status {self.proc.wait(timeout=10)})")
        parsed: dict[str, float | None] = json.loads(line)
        return parsed

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()


def measure(name: str, calls: int, video: bool = False) -> list[tuple[float, ...]]:
    nat_a, nat_b, caller_ns, callee_ns, caller_options, callee_options = PATHS[name]
    rows = []
    with NatLab(nat_a, nat_b) as lab:
        lab.start_stun()
        if name.startswith("relay"):
            lab.start_turn(streams=name in NO_UDP)
        if name in NO_UDP:
            lab.block_udp("A")
            assert lab.turn_ca is not None
            caller_options = [*caller_options, "--ca-file", str(lab.turn_ca)]
        lab.start_kamailio()
        assert lab.kamailio is not None
        callee = Phone(lab, callee_ns, "callee", callee_options, video=video)
        caller = Phone(lab, caller_ns, "caller", caller_options, "tcp" if name in NO_UDP else "udp", video)
        for _ in range(calls):
            caller.send(f"call {lab.kamailio.aor(callee.user)}")
            times = caller.read()
            at_callee = callee.read()
            start = times["placed"]
            assert start is not None
            columns = [times["confirmed"], times["heard"], at_callee["heard"]]
            if video:
                columns += [times["seen"], at_callee["seen"]]
            rows.append(tuple(1000 * (value - start) for value in columns if value is not None))
        for phone in (caller, callee):
            phone.send("")
            phone.proc.wait(timeout=20)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 calls per path")
    parser.add_argument("--video", action="store_true", help="video calls; columns for the first picture too")
    parser.add_argument("paths", nargs="*", metavar="PATH", help=f"only these of {', '.join(PATHS)} (default: all)")
    args = parser.parse_args()
    unknown = [name for name in args.paths if name not in PATHS]
    if unknown:
        parser.error(f"no path named {', '.join(unknown)}")
    calls = 3 if args.quick else args.calls
    what = "audio and video" if args.video else "audio"
    print(f"time from call to {what} across the NAT lab, ms: median [min-max] of {calls} calls")
    heads = ["confirmed", "audio at caller", "audio at callee"]
    heads += ["picture at caller", "picture at callee"] if args.video else []
    print(f"{'path':<13} " + " ".join(f"{head:>22}" for head in heads))
    for name in args.paths or PATHS:
        rows = measure(name, calls, args.video)
        cells = []
        for column in zip(*rows, strict=True):
            cells.append(f"{statistics.median(column):7.0f} [{min(column):4.0f}-{max(column):4.0f}]")
        print(f"{name:<13} " + " ".join(f"{cell:>22}" for cell in cells))


if __name__ == "__main__":
    main()

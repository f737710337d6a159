"""How long a call is broken when the network changes under it: detection, ICE restart, media back.

Run from the repository root, as root (it builds tests/nat_lab.py's namespaces; Debian packages
``nftables``, ``coturn``, ``kamailio`` and ``kamailio-sqlite-modules``)::

    python benchmarks/network_change.py            # 5 moves per case
    python benchmarks/network_change.py --quick    # 2 moves per case

Per move: a fresh lab, Alice (``--network-check 1``) behind NAT A calls Bob behind NAT B, both hear
each other, then the network changes under Alice:

``nat``
    NAT A takes a new public address (endpoint-independent NATs, STUN, ICE);
``host``
    Alice's own address changes (she listens on every address; her NAT maps her to new ports);
``relayed``
    symmetric NATs, both phones with a TURN server, NAT A takes a new public address.

Columns, in milliseconds from the change (``time.monotonic()`` in this process, when it reads each
JSON event line of the two ``softphone-cli``): Alice's ``network_change`` event (her flow check runs
every second, so up to 1 s of this is the check's interval; the default is 30 s); the new ``media_path``
at Alice and at Bob (ICE found the new way after the re-INVITE); and the first ``quality`` event at Bob
counting packets on the new path (quality events come once a second: a bound, 1 s coarse).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.test_nat import STUN, Phone  # noqa: E402
from tests.nat_lab import TURN_HOST, TURN_PASSWORD, TURN_USER, NatLab  # noqa: E402

TURN = ["--turn", TURN_HOST, "--turn-user", TURN_USER, "--turn-password-env", "BENCH_TURN_PASSWORD"]
CASES = ("nat", "host", "relayed")


def arrivals(wanted: dict[str, tuple[Phone, int, dict[str, object]]], timeout: float = 30.0) -> dict[str, float]:
    """When each wanted event was read (both phones' output read in turn, a few ms apart), by name."""
    got: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(got) < len(wanted):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {sorted(set(wanted) - set(got))} within {timeout:.0f} s")
        for name, (phone, after, fields) in wanted.items():
            if name in got:
                continue
            try:
                phone.cli.wait_for(0.005, after=after, **fields)
            except AssertionError:
                continue
            got[name] = time.monotonic()
    return got


def move_once(case: str) -> tuple[float, float, float, float]:
    relayed = case == "relayed"
    with (
        tempfile.TemporaryDirectory(prefix="network-change-") as tmp,
        NatLab(*(("symmetric", "symmetric") if relayed else ("eim", "eim"))) as lab,
    ):
        lab.start_stun()
        if relayed:
            lab.start_turn()
        lab.start_kamailio()
        turn = TURN if relayed else []
        listen = "0.0.0.0:0" if case == "host" else None
        alice = Phone(lab, "lanA", 440.0, Path(tmp), "--stun", STUN, *turn, "--network-check", "1", listen=listen)
        bob = Phone(lab, "lanB", 1000.0, Path(tmp), "--stun", STUN, *turn, "--auto-answer=0.1")
        try:
            alice.cli.send(f"call {bob.cli.user}")
            alice_call = alice.cli.wait_for(15, event="call", state="confirmed")["call_id"]
            bob_call = bob.cli.wait_for(15, event="call", state="confirmed")["call_id"]
            alice.wait_received(str(alice_call), 50)
            bob.wait_received(str(bob_call), 50)
            marks = {p.cli.user: len(p.cli.events) for p in (alice, bob)}
            start = time.monotonic()
            if case == "host":
                lab.move_host("A", "198.51.100.3")
            else:
                lab.move_public("A", "203.0.113.11")
            seen = arrivals(
                {
                    "detected": (alice, marks[alice.cli.user], {"event": "network_change"}),
                    "alice": (alice, marks[alice.cli.user], {"event": "media_path", "call_id": alice_call}),
                    "bob": (bob, marks[bob.cli.user], {"event": "media_path", "call_id": bob_call}),
                }
            )
            detected, path_alice, path_bob = seen["detected"], seen["alice"], seen["bob"]
            path = bob.cli.wait_for(1, after=marks[bob.cli.user], event="media_path", call_id=bob_call)
            after = next(i for i in range(len(bob.cli.events) - 1, -1, -1) if bob.cli.events[i] is path)
            first = bob.cli.wait_for(10, after=after + 1, event="quality", call_id=bob_call)
            packets = int(first["packets_received"])
            while True:
                index = next(i for i in range(len(bob.cli.events) - 1, -1, -1) if bob.cli.events[i] is first)
                first = bob.cli.wait_for(10, after=index + 1, event="quality", call_id=bob_call)
                if int(first["packets_received"]) > packets:
                    break
            flowing = time.monotonic()
            alice.cli.send(f"hangup {alice_call}")
            bob.cli.wait_for(15, event="call", state="ended")
        finally:
            alice.close()
            bob.close()
    return tuple(1000 * (t - start) for t in (detected, path_alice, path_bob, flowing))  # type: ignore[return-value]


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 moves per case")
    parser.add_argument("cases", nargs="*", metavar="CASE", help=f"only these of {', '.join(CASES)} (default: all)")
    args = parser.parse_args()
    unknown = [name for name in args.cases if name not in CASES]
    if unknown:
        parser.error(f"no case named {', '.join(unknown)}")
    os.environ["BENCH_TURN_PASSWORD"] = TURN_PASSWORD
    moves = 2 if args.quick else args.moves
    print(f"a network change mid-call, ms after it: median [min-max] of {moves} moves")
    print(f"{'case':<9} {'detected':>18} {'path at Alice':>18} {'path at Bob':>18} {'audio at Bob':>18}")
    for case in args.cases or CASES:
        rows = [move_once(case) for _ in range(moves)]
        cells = [f"{statistics.median(c):6.0f} [{min(c):5.0f}-{max(c):5.0f}]" for c in zip(*rows, strict=True)]
        print(f"{case:<9} " + " ".join(f"{cell:>18}" for cell in cells))


if __name__ == "__main__":
    main()

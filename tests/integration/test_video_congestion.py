"""A video call through a bottleneck that queues rather than drops: the sender slows to what gets through.

Two softphone-cli processes on the bridged LAN of tests/netns_lab.py call each other with no server. The
bridge's port towards Bob (``p-h2`` in the switch's namespace) is a token bucket (Linux ``tbf``) of
BOTTLENECK_KBPS with a queue of megabytes, as a router with a deep buffer: Alice's packets wait there for
seconds before one is dropped (minutes, here), so a sender that reacts only to loss keeps sending at its
maximum while the delay grows without bound. The queue is on the way, not on Alice's host, where her own
socket's send buffer would fill and drop her packets as loss.
Alice sends the moving test pattern at up to 600 kbit/s. Her phone must lower its target below what the
bottleneck carries, from the round trips in Bob's reports, with Bob still decoding pictures.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_cli import CliProcess
from tests.netns_lab import LanLab

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

BOTTLENECK_KBPS = 150
MAXIMUM_KBPS = 600


@pytest.fixture
def lab() -> Iterator[LanLab]:
    with LanLab(hosts=2) as lab:
        yield lab


def phone(lab: LanLab, host: str, *extra: str) -> CliProcess:
    video = [
        "--video", "--video-source", "pattern", "--video-size", "320x240", "--video-fps", "15",
        "--video-bitrate", str(MAXIMUM_KBPS),
    ]  # fmt: skip
    cli = CliProcess(None, *video, *extra, prefix=lab.command(host, []), listen=f"{lab.address(host)}:5060")
    lab.processes.append(cli.proc)
    cli.send("ping")  # listening once it reads commands: an unknown one answers with an error event
    cli.wait_for(20, event="error")
    return cli


def next_quality(cli: CliProcess, after: int) -> tuple[dict[str, Any], int]:
    event = cli.wait_for(15, after=after, event="video_quality")
    return event, cli.events.index(event) + 1


def test_a_video_sender_slows_to_a_queueing_bottleneck_before_anything_is_lost(lab: LanLab) -> None:
    shaped = lab.run(
        "sw",
        ["tc", "qdisc", "add", "dev", "p-h2", "root", "tbf", "rate", f"{BOTTLENECK_KBPS}kbit", "burst", "4kb",
         "limit", "4mb"],
    )  # fmt: skip
    assert shaped.returncode == 0, f"tc could not shape the lab's link: {shaped.stderr}"
    alice = phone(lab, "h1")
    bob = phone(lab, "h2", "--auto-answer")
    try:
        alice.send(f"call sip:{bob.user}@{lab.address('h2')}:5060")
        alice.wait_for(20, event="call", state="confirmed")
        # At first she sends more than the link carries, and the queue grows.
        seen: list[dict[str, Any]] = []
        after = 0
        while not any(e["send_bitrate_kbps"] > BOTTLENECK_KBPS for e in seen):
            assert len(seen) < 20, f"alice never sent faster than the bottleneck: {seen}"
            event, after = next_quality(alice, after)
            seen.append(event)
        # Then her target falls below what the link carries (bounded wait: 60 reports).
        while seen[-1]["target_bitrate_kbps"] >= BOTTLENECK_KBPS:
            assert len(seen) < 60, (
                f"alice's target stayed above the bottleneck: {[e['target_bitrate_kbps'] for e in seen]}"
            )
            event, after = next_quality(alice, after)
            seen.append(event)
        # Bob kept decoding pictures, and none of alice's packets was dropped at the bottleneck.
        decoded = bob.wait_for(15, event="video_quality")["frames_decoded"]
        later = decoded
        bob_after = 0
        for _ in range(10):
            event, bob_after = next_quality(bob, bob_after)
            later = event["frames_decoded"]
            if later > decoded + 15:
                break
        assert later > decoded + 15, f"bob stopped decoding alice's pictures: {decoded} -> {later}"
        print(
            "alice's sent / target kbit/s by second:",
            [(e["send_bitrate_kbps"], e["target_bitrate_kbps"]) for e in seen],
        )
        statistics = lab.run("sw", ["tc", "-s", "qdisc", "show", "dev", "p-h2"]).stdout
        dropped = re.search(r"dropped (\d+)", statistics)
        assert dropped is not None and dropped.group(1) == "0", statistics
    finally:
        alice.close()
        bob.close()

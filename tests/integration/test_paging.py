"""Multicast paging between softphone-cli processes on the bridged LAN of tests/netns_lab.py.

Each phone runs in its own namespace with no server (``--no-register``); senders play a tone of their own
(``--play``), listeners record what they hear (``--record``: the first page to ``heard.wav``, later ones to
``heard-pN.wav``) and the recordings are checked by FFT. Bad input is sent from a raw socket in a namespace.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration.test_cli import CliProcess
from tests.netns_lab import LanLab
from tests.ua.test_media_wiring import dominant_frequency, read_wav, write_tone

GROUP_A = "239.255.10.1:5004"
GROUP_B = "239.255.10.2:5006"
GROUP_V6 = "[ff05::10:1]:5004"


@pytest.fixture
def lab() -> Iterator[LanLab]:
    lab = LanLab(hosts=4).start()
    try:
        yield lab
    finally:
        lab.stop()


class Phone:
    """A softphone-cli in ``host`` of the lab; plays ``tone`` Hz when it pages, records what it hears."""

    def __init__(self, lab: LanLab, host: str, *extra: str, tone: float | None = None) -> None:
        self.host = host
        self.recording = lab.workdir / f"{host}-heard.wav"
        play = () if tone is None else ("--play", str(write_tone(lab.workdir / f"{host}-{int(tone)}.wav", tone)))
        self.cli = CliProcess(
            None,
            *play, "--record", str(self.recording), *extra,
            audio=(),
            prefix=lab.command(host, []),
            listen=f"{lab.address(host)}:5060",
        )  # fmt: skip
        lab.processes.append(self.cli.proc)

    def wait_for(self, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        return self.cli.wait_for(timeout, **fields)

    def ready(self) -> None:
        """Wait until the process reads commands (an unknown one answers with an error event)."""
        self.cli.send("ping")
        self.wait_for(event="error")

    def heard(self, page_id: str | None = None) -> Path:
        if page_id is None:
            return self.recording
        return self.recording.with_name(f"{self.recording.stem}-{page_id}{self.recording.suffix}")

    def close(self) -> None:
        self.cli.close()


def tone_of(path: Path) -> tuple[float, float]:
    """Dominant frequency and RMS of the loudest half second of a recording."""
    samples, rate = read_wav(path)
    assert samples.size >= rate // 2, f"{path} holds {samples.size} samples"
    half = rate // 2
    starts = range(0, samples.size - half + 1, half // 2)
    best = max(starts, key=lambda s: float(np.sqrt(np.mean(samples[s : s + half] ** 2))))
    window = samples[best : best + half]
    return dominant_frequency(window, rate), float(np.sqrt(np.mean(window**2)))


def wait_until(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


@pytest.mark.parametrize(("group", "interface"), [(GROUP_A, ()), (GROUP_V6, ("--page-interface", "eth0"))])
def test_a_page_reaches_two_phones_with_its_tone_and_ends_by_itself(
    lab: LanLab, group: str, interface: tuple[str, ...]
) -> None:
    listeners = [Phone(lab, host, "--page-listen", group, *interface) for host in ("h2", "h3")]
    sender = Phone(lab, "h1", *interface, tone=700.0)
    for phone in (*listeners, sender):
        phone.ready()
    sender.cli.send(f"page {group} g722")
    sent = sender.wait_for(event="page_started", direction="outgoing")
    started = [phone.wait_for(event="page_started", direction="incoming") for phone in listeners]
    for event in started:
        assert event["source"] == lab.address("h1", ipv6=group.startswith("["))
        assert event["codec"] == "G722"
        assert event["group"] == group
    time.sleep(1.5)
    sender.cli.send("endpage")
    sender.wait_for(event="page_ended", page_id=sent["page_id"])
    for phone, event in zip(listeners, started, strict=True):
        ended = phone.wait_for(event="page_ended", page_id=event["page_id"])
        assert ended["reason"] == "stopped"
        phone.close()
        frequency, level = tone_of(phone.heard())
        assert abs(frequency - 700.0) < 20.0, frequency
        assert level > 0.05
    sender.close()

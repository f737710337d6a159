"""The fixtures for real servers (Kamailio, PulseAudio) live in tests/conftest.py, for every folder; the NAT lab's
is here, for the NAT and TURN tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.nat_lab import NatKind, NatLab


@pytest.fixture
def make_lab() -> Iterator[Callable[..., NatLab]]:
    labs: list[NatLab] = []

    def make(nat_a: NatKind = "eim", nat_b: NatKind = "eim", *, stun: bool = True) -> NatLab:
        lab = NatLab(nat_a, nat_b)
        labs.append(lab)
        lab.start()
        if stun:
            lab.start_stun()
        lab.start_kamailio()
        return lab

    yield make
    for lab in labs:
        lab.stop()

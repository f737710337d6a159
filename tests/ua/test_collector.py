"""The collector policy: no automatic full collections, collect and freeze when quiet, sweep now and then."""

from __future__ import annotations

import asyncio
import gc
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from softphone import cli
from softphone.cli import build_parser
from softphone.ua import Account, UserAgent, manage_collector
from softphone.ua.collector import NO_AUTOMATIC_FULL, CollectorPolicy


@pytest.fixture(autouse=True)
def collector_state() -> Iterator[None]:
    """Every test leaves the process's collector as it found it."""
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()


def young_collections(count: int) -> None:
    """Make the process look busy: real young collections, as a burst of allocations runs them."""
    for _ in range(count):
        gc.collect(0)


def installed(policy: CollectorPolicy) -> None:
    loop = asyncio.new_event_loop()
    try:
        policy.install(loop, now=0.0)
    finally:
        loop.close()  # the periodic check is driven by hand here


def test_install_turns_automatic_full_collections_off_and_freezes_startup() -> None:
    before = gc.get_threshold()
    policy = CollectorPolicy()
    installed(policy)
    assert policy.installed
    assert gc.get_threshold() == (before[0], before[1], NO_AUTOMATIC_FULL)
    assert gc.get_freeze_count() > 0
    policy.uninstall()
    assert gc.get_threshold() == before and not policy.installed


def test_quiet_process_collects_and_freezes_what_was_promoted() -> None:
    policy = CollectorPolicy(quiet_seconds=2.0, quiet_rate=3.0)
    installed(policy)
    young_collections(10)
    assert policy.check(1.0) is None  # 10 young collections in a second: busy
    assert policy.check(2.0) is None  # quiet since 2.0
    assert policy.check(3.0) is None
    kept: list[object] = [[] for _ in range(100)]  # survivors of the burst
    frozen = gc.get_freeze_count()
    assert policy.check(4.0) == "collect"
    assert gc.get_freeze_count() >= frozen + len(kept)
    # Nothing was made since: nothing to do while it stays quiet.
    assert policy.check(5.0) is None and policy.check(9.0) is None


def test_no_collection_while_a_call_is_up_until_longest_busy() -> None:
    calls = [object()]
    policy = CollectorPolicy(busy=lambda: bool(calls), quiet_seconds=2.0, longest_busy=60.0)
    installed(policy)
    young_collections(1)
    assert [policy.check(float(t)) for t in range(1, 60)] == [None] * 59
    assert policy.check(60.0) == "collect"  # what one busy stretch made, not a scan of everything
    calls.clear()
    young_collections(1)
    assert policy.check(61.0) is None
    assert policy.check(63.0) == "collect"


def test_sweep_unfreezes_everything_now_and_then_when_quiet() -> None:
    policy = CollectorPolicy(quiet_seconds=1.0, sweep_every=600.0)
    installed(policy)
    assert policy.check(599.0) is None
    full = gc.get_stats()[2]["collections"]
    assert policy.check(600.0) == "sweep"
    # One full collection over everything, then frozen again.
    assert gc.get_stats()[2]["collections"] == full + 1
    assert gc.get_freeze_count() > 0
    assert policy.check(601.0) is None


def test_the_user_agent_installs_it_on_its_loop_and_counts_calls_as_busy() -> None:
    async def run() -> CollectorPolicy:
        ua = UserAgent([Account("sip:alice@127.0.0.1", register=False)], listen=[("UDP", "127.0.0.1", 0)])
        await ua.start()
        try:
            policy = manage_collector(ua)
            assert gc.get_threshold()[2] == NO_AUTOMATIC_FULL
            assert not policy.busy()  # no call up
            await asyncio.sleep(policy.check_every * 1.5)  # the periodic check runs on the loop
            return policy
        finally:
            await ua.stop()

    policy = asyncio.run(run())
    assert policy.installed
    policy.uninstall()


def test_softphone_cli_runs_with_the_policy(tmp_path: Path) -> None:
    """The headless client installs it once its UA has started (the GUI does the same through the bridge)."""
    args = build_parser().parse_args(
        ["--account", "sip:alice@127.0.0.1", "--no-register", "--listen", "127.0.0.1:0", "--db", str(tmp_path / "db")]
    )
    thresholds: list[int] = []

    async def run_and_look() -> int:
        stdin = io.StringIO("")  # end of input: the client leaves as on `quit`
        original = cli.manage_collector

        def spy(ua: UserAgent) -> CollectorPolicy:
            policy = original(ua)
            thresholds.append(gc.get_threshold()[2])
            return policy

        cli.manage_collector = spy  # type: ignore[assignment]
        try:
            return await cli.run(args, stdin, io.StringIO())
        finally:
            cli.manage_collector = original  # type: ignore[assignment]

    assert asyncio.run(run_and_look()) == 0
    assert thresholds == [NO_AUTOMATIC_FULL]

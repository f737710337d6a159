"""Many calls at once from one user agent, and a local conference of them.

Shared by tests/ua/test_many_calls.py (three calls, tones checked by FFT) and part 4 of
benchmarks/media.py (one call against ten, a five-party conference). The host is a real
:class:`UserAgent` on loopback in this process, with whatever media factory the caller
gives it; the peers are whatever answers at the target URIs (user agents in this process,
or a ``softphone-cli --auto-answer`` process). :meth:`Host.window` reads the counters the
host's media threads keep (ticks, late ticks, packets), the conference mixer's
underruns and overruns, and this process's CPU time, before and after a wait.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from softphone.media.engine import MediaSession
from softphone.ua import Account, CallEvent, ConferenceEvent, Event, UserAgent
from softphone.ua.media import MediaFactory
from tests.ua import Recorder

CALL_TIMEOUT = 15.0


def process_cpu(pid: int | None = None) -> float:
    """User + system CPU seconds of a process so far, from /proc/PID/stat (fields 14 and 15)."""
    with open(f"/proc/{pid or os.getpid()}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Counters:
    """What the host's media threads and the conference mixer counted, at one moment."""

    cpu: float
    when: float
    ticks: int
    late_ticks: int
    resyncs: int
    packets_received: dict[str, int]
    underruns: int
    overruns: int


@dataclass(frozen=True)
class Window:
    """The difference of two :class:`Counters`: what happened during a wait."""

    calls: int
    seconds: float
    cpu: float
    ticks: int
    late_ticks: int
    resyncs: int
    packets_received: tuple[int, ...]
    underruns: int
    overruns: int

    @property
    def cpu_per_10s(self) -> float:
        return self.cpu / self.seconds * 10.0


def _confirmed(call_id: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, CallEvent) and e.call_id == call_id and e.state == "confirmed"


class Host:
    """One user agent placing calls on loopback; use as ``async with Host(media) as host``."""

    def __init__(self, media: MediaFactory, user: str = "host") -> None:
        self.ua = UserAgent(
            [Account(f"sip:{user}@127.0.0.1", register=False)], listen=[("UDP", "127.0.0.1", 0)], media=media
        )
        self.events = Recorder(self.ua)
        self.call_ids: list[str] = []

    async def __aenter__(self) -> Host:
        await self.ua.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ua.stop()

    async def place(self, targets: Sequence[str]) -> list[str]:
        """Call each target in turn (one ringing at a time, as a peer's limits expect); the new call ids."""
        placed: list[str] = []
        for target in targets:
            call = await self.ua.call(target)
            await self.events.wait(_confirmed(call.id), CALL_TIMEOUT)
            placed.append(call.id)
        await self._until(lambda: all(self._session(c) is not None for c in placed), "every call has its media")
        self.call_ids.extend(placed)
        return placed

    async def merge(self, call_ids: Sequence[str]) -> None:
        """Join the calls into the local conference."""
        mark = self.events.mark()
        await self.ua.conference(call_ids)
        await self.events.wait(lambda e: isinstance(e, ConferenceEvent) and e.active, CALL_TIMEOUT, after=mark)

    def counters(self) -> Counters:
        sessions = {c: self._session(c) for c in self.call_ids}
        ended = [c for c, s in sessions.items() if s is None]
        if ended:
            raise AssertionError(f"calls ended: {self._endings(ended)}")
        stats = {c: s.stats() for c, s in sessions.items() if s is not None}
        mixer = self.ua.call_manager.media.conference_mixer
        return Counters(
            cpu=process_cpu(),
            when=time.monotonic(),
            ticks=sum(s.ticks for s in stats.values()),
            late_ticks=sum(s.late_ticks for s in stats.values()),
            resyncs=sum(s.resyncs for s in stats.values()),
            packets_received={c: s.packets_received for c, s in stats.items()},
            underruns=0 if mixer is None else mixer.underruns,
            overruns=0 if mixer is None else mixer.overruns,
        )

    async def window(self, seconds: float) -> Window:
        """Wait ``seconds`` and return what the counters say happened meanwhile."""
        start = self.counters()
        await asyncio.sleep(seconds)
        end = self.counters()
        return Window(
            calls=len(self.call_ids),
            seconds=end.when - start.when,
            cpu=end.cpu - start.cpu,
            ticks=end.ticks - start.ticks,
            late_ticks=end.late_ticks - start.late_ticks,
            resyncs=end.resyncs - start.resyncs,
            packets_received=tuple(end.packets_received[c] - start.packets_received[c] for c in self.call_ids),
            underruns=end.underruns - start.underruns,
            overruns=end.overruns - start.overruns,
        )

    def _endings(self, call_ids: Sequence[str]) -> str:
        """How these calls ended, from the host's events."""
        ends = [
            f"{e.call_id} ({e.reason or e.state})"
            for e in self.events.events
            if isinstance(e, CallEvent) and e.call_id in call_ids and e.state == "ended"
        ]
        return ", ".join(ends) or ", ".join(call_ids)

    def _session(self, call_id: str) -> MediaSession | None:
        for call in self.ua.calls:
            if call.id == call_id:
                return call.media_session
        return None

    async def _until(self, check: Callable[[], bool], what: str, timeout: float = CALL_TIMEOUT) -> None:
        for _ in range(int(timeout / 0.05)):
            if check():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not reached within {timeout:.0f} s: {what}")

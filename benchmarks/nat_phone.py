"""One phone of benchmarks/nat_setup.py, run inside a namespace of the NAT lab (not meant to be run by hand).

It registers, then, as the caller, places a call for each ``call USER`` line on
standard input and prints when it was placed, confirmed and first heard the
other side's tone; as the callee it answers at once and prints when it first
heard the caller in each call. With ``--video`` both send the test pattern (VP8)
and say when they first decoded the other's picture (``seen``) too. Times are ``time.monotonic()``, one clock for
every process of the machine. Lines out are JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time

import numpy as np

from softphone.media.sources import Samples, ToneSource
from softphone.ua import Account, CallEvent, Event, RegistrationEvent, UserAgent
from softphone.ua.call_video import VideoSettings
from softphone.ua.media import CallAudio, MediaFactory, Warn


class FirstSound:
    """A sink that notes when the first block louder than -34 dBFS arrives (the media thread writes it)."""

    def __init__(self) -> None:
        self.heard: float | None = None
        self.event = threading.Event()

    def write(self, block: Samples) -> None:
        if self.heard is None and block.size and float(np.sqrt(np.mean(block**2))) > 0.02:
            self.heard = time.monotonic()
            self.event.set()


class FirstPicture:
    """When each call first decoded a picture of the other side (its video thread notes it)."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def frame(self, call_id: str, picture: object) -> None:
        self.seen.setdefault(call_id, time.monotonic())


def media(tone: float, sinks: list[FirstSound]) -> MediaFactory:
    def factory(call_id: str, warn: Warn) -> CallAudio:
        sink = FirstSound()
        sinks.append(sink)
        return CallAudio(ToneSource(tone), sink)

    return factory


def emit(item: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(item) + "\n")
    sys.stdout.flush()


async def run(args: argparse.Namespace) -> None:
    sinks: list[FirstSound] = []
    account = Account(
        args.account,
        args.password,
        registrar=args.registrar,
        stun_server=args.stun,
        turn_server=args.turn,
        turn_user=args.turn_user,
        turn_password=args.turn_password,
        turn_transport=args.turn_transport,
        ca_file=args.ca_file,
        transport=args.transport,
        ice=False if args.no_ice else None,
        auto_answer=0.0 if args.role == "callee" else None,
        srtp="mandatory",
        srtp_keys="sdes",
        srtp_clear_keys=True,
    )
    listen = [("UDP", args.listen, 0)] if args.transport == "udp" else [("TCP", args.listen, 0)]
    pictures = FirstPicture()
    video = VideoSettings(source="pattern", codecs=("VP8",), on_frame=pictures.frame) if args.video else None
    ua = UserAgent([account], listen=listen, media=media(args.tone, sinks), video=video)
    events: asyncio.Queue[Event] = asyncio.Queue()
    ua.subscribe(events.put_nowait)
    await ua.start()
    loop = asyncio.get_running_loop()
    try:
        await ua.register()
        while True:
            event = await asyncio.wait_for(events.get(), 15)
            if isinstance(event, RegistrationEvent) and event.state in ("registered", "failed"):
                if event.state == "failed":
                    raise RuntimeError(f"registration failed: {event}")
                break
        emit({"ready": True})
        if args.role == "callee":
            await callee(ua, sinks, pictures if args.video else None, loop)
        else:
            await caller(ua, sinks, pictures if args.video else None, events, loop)
    finally:
        await ua.stop()


async def callee(
    ua: UserAgent, sinks: list[FirstSound], pictures: FirstPicture | None, loop: asyncio.AbstractEventLoop
) -> None:
    reported = 0
    reader = loop.run_in_executor(None, sys.stdin.readline)
    while not reader.done():
        while reported < len(sinks) and sinks[reported].heard is not None:
            if pictures is not None and len(pictures.seen) <= reported:
                break
            seen = list(pictures.seen.values())[reported] if pictures is not None else None
            emit({"heard": sinks[reported].heard, "seen": seen})
            reported += 1
        await asyncio.sleep(0.005)


async def caller(
    ua: UserAgent,
    sinks: list[FirstSound],
    pictures: FirstPicture | None,
    events: asyncio.Queue[Event],
    loop: asyncio.AbstractEventLoop,
) -> None:
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line.strip():
            return
        target = line.split()[1]
        before = len(sinks)
        placed = time.monotonic()
        call = await ua.call(target)
        confirmed = None
        while confirmed is None:
            event = await asyncio.wait_for(events.get(), 15)
            if isinstance(event, CallEvent) and event.call_id == call.id and event.state in ("confirmed", "ended"):
                if event.state == "ended":
                    raise RuntimeError(f"call ended before it was confirmed: {event}")
                confirmed = time.monotonic()
        deadline = time.monotonic() + 15
        while len(sinks) == before or sinks[-1].heard is None or (pictures and call.id not in pictures.seen):
            if time.monotonic() > deadline:
                raise RuntimeError("no audio or no picture within 15 s")
            await asyncio.sleep(0.005)
        seen = pictures.seen[call.id] if pictures is not None else None
        emit({"placed": placed, "confirmed": confirmed, "heard": sinks[-1].heard, "seen": seen})
        await asyncio.sleep(0.5 if pictures is None else 1.5)  # the callee hears (and sees) us too before we hang up
        await ua.hangup(call.id)
        while True:
            event = await asyncio.wait_for(events.get(), 15)
            if isinstance(event, CallEvent) and event.call_id == call.id and event.state == "ended":
                break


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--account", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--registrar", required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--stun")
    parser.add_argument("--turn")
    parser.add_argument("--turn-user")
    parser.add_argument("--turn-password")
    parser.add_argument("--turn-transport", choices=("udp", "tcp", "tls"), default="udp")
    parser.add_argument("--ca-file")
    parser.add_argument("--transport", choices=("udp", "tcp"), default="udp", help="SIP's")
    parser.add_argument("--no-ice", action="store_true")
    parser.add_argument("--role", choices=("caller", "callee"), required=True)
    parser.add_argument("--tone", type=float, default=1000.0)
    parser.add_argument("--video", action="store_true", help="video calls: the VP8 test pattern both ways")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

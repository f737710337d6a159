"""softphone-cli's multicast paging: the ``--page-*`` options, the ``page``/``endpage`` commands, event lines."""

from __future__ import annotations

import argparse
from typing import Any

from softphone.media.paging import PAGING_CODECS
from softphone.ua import PageEndedEvent, PageStartedEvent, UserAgent, UserAgentError
from softphone.ua.paging import PageGroup, PagingConfig, parse_listen

COMMANDS = """\
  page GROUP:PORT [CODEC]  send a multicast page (the microphone, or --play's file) to GROUP:PORT
                           (239.1.1.1:5004, [ff05::1]:5004) in CODEC: g722 (default), pcmu, pcma or opus
  endpage                  stop sending the page
  pages                    the groups listened on (priority, senders allowed, datagrams refused) and our page
"""


def _listen(text: str) -> PageGroup:
    try:
        return parse_listen(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _ttl(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 255:
        raise argparse.ArgumentTypeError(f"a TTL is 0-255, not {text!r}")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--page-listen",
        metavar="GROUP:PORT[/PRIORITY][=SOURCES][+CODECS]",
        type=_listen,
        action="append",
        default=[],
        help="hear multicast pages sent to GROUP:PORT (repeatable); a page of higher PRIORITY (1-255, default 10)"
        " interrupts one of lower; SOURCES (comma-separated IP addresses) are the only senders taken, CODECS"
        " (comma-separated: g722, opus, pcmu, pcma; default all) the only codecs",
    )
    parser.add_argument(
        "--page-ttl", type=_ttl, default=1, metavar="N", help="TTL (IPv6: hop limit) of pages we send (default 1)"
    )
    parser.add_argument("--page-interface", metavar="NAME", help="network interface for pages (default: by route)")
    parser.add_argument(
        "--page-during-call",
        choices=("hold", "mix"),
        default="hold",
        help="a page during a call holds the call until the page ends, or plays with it (default hold)",
    )


def config_for(args: argparse.Namespace) -> PagingConfig:
    return PagingConfig(
        listen=tuple(args.page_listen),
        ttl=args.page_ttl,
        interface=args.page_interface,
        during_call=args.page_during_call,
    )


async def page(ua: UserAgent, args: list[str]) -> None:
    if not 1 <= len(args) <= 2:
        raise UserAgentError(f"usage: page GROUP:PORT [{'|'.join(PAGING_CODECS)}]")
    await ua.paging.page(args[0], args[1] if len(args) == 2 else None)


async def endpage(ua: UserAgent, args: list[str]) -> None:
    if args:
        raise UserAgentError("usage: endpage")
    if not await ua.paging.end_page():
        raise UserAgentError("no page is being sent")


def listing(ua: UserAgent) -> dict[str, Any]:
    dropped = ua.paging.dropped()
    groups = [
        {
            "group": g.label,
            "priority": g.priority,
            "sources": list(g.sources),
            "codecs": list(g.codecs),
            "dropped": dropped.get(g.label, {}),
        }
        for g in ua.paging.listening
    ]
    return {"event": "pages", "groups": groups, "sending": ua.paging.sending}


def listing_text(item: dict[str, Any]) -> list[str]:
    lines = []
    for g in item["groups"]:
        sources = ", ".join(g["sources"]) or "anyone"
        refused = ", ".join(f"{k} {v}" for k, v in g["dropped"].items() if v) or "none"
        lines.append(f"listening on {g['group']}, priority {g['priority']}, from {sources}; refused: {refused}")
    if item["sending"]:
        lines.append(f"sending page {item['sending']}")
    return lines or ["no paging groups"]


def describe(event: PageStartedEvent | PageEndedEvent) -> str:
    if event.direction == "outgoing":
        what = "started" if isinstance(event, PageStartedEvent) else "ended"
        return f"page {event.page_id} to {event.group} ({event.codec}) {what}"
    if isinstance(event, PageStartedEvent):
        return f"page {event.page_id} on {event.group} from {event.source} ({event.codec}, priority {event.priority})"
    return f"page {event.page_id} on {event.group} from {event.source} ended ({event.reason})"

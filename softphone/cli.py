"""softphone-cli: the headless client over the same user-agent facade as the GUI.

It registers the account, then reads one command per line on standard input
and reports every event on standard output (one JSON object per line with
``--json``). Calls are named by the short ids the events show (``c1``,
``c2`` ...); a SIP Call-ID works too, and a command without one acts on the
only or most recent call.

What arrived from the network is printed as text, never as terminal
commands: the plain-text output and the log show control characters (ANSI
escapes and the like) and bidirectional overrides as ``\\xNN`` escapes (JSON
escapes them by itself).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import shlex
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TextIO

from softphone import __version__, cli_paging
from softphone.cli_text import PrintableFormatter, describe, printable
from softphone.sip.offer_answer import AudioConfig, Codec, codecs_named
from softphone.sip.srtp_sdp import DEFAULT_SUITES, KEY_EXCHANGES, SRTP_POLICIES, SUITES
from softphone.sip.video_offer_answer import video_codecs_named
from softphone.store import Store, StoreError
from softphone.ua import (
    Account,
    AccountError,
    ErrorEvent,
    Event,
    Forwarding,
    MediaFactory,
    ProcessingConfig,
    UserAgent,
    UserAgentError,
    device_media,
    password_from_env,
    password_from_file,
    password_from_keyring,
    silence_media,
    wav_media,
)
from softphone.ua.call_video import VideoSettings, video_cameras
from softphone.ua.capabilities import USER_AGENT
from softphone.ua.collector import manage_collector
from softphone.ua.limits import Limits
from softphone.ua.nat import nat_test_main
from softphone.ua.presence import parse_status

COMMANDS = f"""\
commands (one per line on standard input; CALL is an id such as c1 from the events, or the SIP Call-ID;
without it the only or most recent call is meant):
  call URI                 call someone (sip:bob@example.com, bob@example.com, just bob, or with --lan
                           the name of a phone nearby: call "Bob's phone")
  answer [CALL]            answer a ringing call
  decline [CALL]           turn a ringing call down (603)
  hangup [CALL]            end a call (CANCEL, decline or BYE as the state requires)
  hold [CALL] / resume [CALL]
  rekey [CALL]                  new SRTP keys for an encrypted call (re-INVITE)
  video on|off [CALL]      add video to the call or drop it (re-INVITE; needs --video)
  video camera on|off [CALL]  our video sends, or only receives (re-INVITE with sendrecv or recvonly)
  video source SPEC [CALL] send from pattern, screen[:DISPLAY], camera[:DEVICE] or a file; none: nothing
  transfer CALL URI        blind transfer (REFER)
  atransfer CALL OTHER     attended transfer: CALL's peer takes over OTHER (REFER with Replaces)
  conference CALL CALL...  merge calls into a three-way (or larger) call mixed here
  split CALL               take a call out of the conference
  dtmf CALL DIGITS         send DTMF digits (RTP telephone-event when negotiated, else SIP INFO)
  record [CALL] FILE.wav   record the call, both directions mixed, to a WAV file
  stoprecord [CALL]        stop recording (the file is complete when the 'recording' event says so)
  register / unregister
  calls                    list the calls in progress
  message URI TEXT...      send an instant message; TEXT is the rest of the line as typed (URI may be
                           a nearby phone's name, as for call)
  messages URI             the last messages with URI (history; message requests marked)
  requests                 message requests: senders who are not (verified) contacts, waiting for you
  accept URI / dismiss URI take URI's message requests into your conversations, or delete them
  status open|closed|away|busy [NOTE]
                           our presence: away/busy (or another RPID activity word) mean open with
                           that activity; closed hides us; NOTE is free text
  subscribe URI / unsubscribe URI
                           watch (or stop watching) a buddy's presence
  buddies                  each watched buddy's presence and subscription state
  allow URI [details] / block URI
                           let a watcher see our presence and busy lamp (with details: also our calls'
                           identifiers, for call pickup), or refuse it for good
  blf URI / unblf URI      show (or stop showing) a buddy's busy lamp (RFC 4235 dialog state)
  callback URI [redial]    say when URI is free again (after a 486 Busy Here); with redial, call it then
  nocallback URI           withdraw that request
  mwi                      the latest message-waiting summary (voicemail)
  peers                    the phones found on the LAN (with --lan)
{cli_paging.COMMANDS}  quit                     unregister and exit (so does end of input)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="softphone-cli",
        description="Headless SIP softphone: reads commands on standard input, reports events on standard output.",
        epilog=COMMANDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"softphone-cli {__version__}")
    parser.add_argument("--account", metavar="URI", help="address of record, e.g. sip:alice@example.com")
    parser.add_argument("--auth-user", metavar="NAME", help="digest user name (default: the user part of --account)")
    parser.add_argument("--display-name", metavar="NAME", help="display name in From")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    secret.add_argument("--password-file", metavar="F", help="read the password from the first line of this file")
    parser.add_argument("--registrar", metavar="URI", help="registrar (default: the account's domain)")
    parser.add_argument("--outbound-proxy", metavar="URI", help="send every request through this proxy")
    parser.add_argument(
        "--stun", metavar="HOST[:PORT]", help="STUN server: behind a NAT the SDP names the media's public address"
    )
    parser.add_argument(
        "--turn", metavar="HOST[:PORT]", help="TURN server: relayed candidates (with --no-ice: every call relayed)"
    )
    parser.add_argument("--turn-user", metavar="NAME", help="user name at the TURN server")
    parser.add_argument(
        "--turn-password-env", metavar="VAR", help="read the TURN server's password from this environment variable"
    )
    parser.add_argument(
        "--turn-transport",
        choices=("udp", "tcp", "tls"),
        default="udp",
        help="reach the TURN server over UDP, TCP or TLS (default port 5349 with tls); tcp/tls where UDP is blocked",
    )
    ice = parser.add_mutually_exclusive_group()
    ice.add_argument(
        "--ice",
        action="store_true",
        default=None,
        help="find the media path with ICE (RFC 8445); the default when --stun or --turn is given",
    )
    ice.add_argument("--no-ice", dest="ice", action="store_false", help="no ICE: the SDP's address, then latching")
    parser.add_argument(
        "--network-check",
        type=_non_negative_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how often the flow to the registrar is checked for a network change (0: never; default 30)",
    )
    parser.add_argument(
        "--nat-test", action="store_true", help="report the NAT's mapping and filtering behaviour (RFC 5780) and exit"
    )
    parser.add_argument("--transport", choices=("udp", "tcp", "tls"), default="udp")
    parser.add_argument(
        "--srtp",
        choices=SRTP_POLICIES,
        help="media encryption: off, optional (plain RTP if the peer has none) or mandatory"
        " (default: mandatory with --transport tls, else optional)",
    )
    parser.add_argument(
        "--srtp-keys",
        choices=KEY_EXCHANGES,
        default="any",
        help="SRTP keys by SDES (a=crypto, only over TLS), DTLS-SRTP, or any (default)",
    )
    parser.add_argument(
        "--srtp-suites",
        metavar="LIST",
        type=_suites,
        default=DEFAULT_SUITES,
        help=f"SRTP suites in order of preference, comma-separated (default: {','.join(DEFAULT_SUITES)})",
    )
    parser.add_argument(
        "--srtp-clear-keys",
        action="store_true",
        help="put SDES keys into SDP even when the signalling is not TLS (anyone on the path can read them)",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        action="append",
        help="local address for UDP and TCP, may be given twice (IPv4 and IPv6; default 0.0.0.0:0, any free"
        " port, and with --lan [::] too on the same port; IPv6 as [::1]:5060)",
    )
    parser.add_argument(
        "--lan",
        action="store_true",
        help="LAN discovery (mDNS/DNS-SD): announce the account to the LAN unless --lan-announce off, and"
        " list the phones found there ('peers', 'lan_peer' events)",
    )
    parser.add_argument(
        "--lan-announce",
        choices=("on", "off"),
        help="announce the account to the LAN with --lan (default: on without a server, off with one)",
    )
    parser.add_argument("--expires", type=int, default=600, metavar="SECONDS", help="registration lifetime")
    parser.add_argument(
        "--auto-answer",
        nargs="?",
        const=0.0,
        type=float,
        metavar="SECONDS",
        help="answer incoming calls by themselves (after SECONDS, default at once)",
    )
    parser.add_argument("--photo-url", metavar="URL", help="picture sent with our calls (Call-Info purpose=icon)")
    parser.add_argument("--no-register", action="store_true", help="don't register at start")
    parser.add_argument("--busy", action="store_true", help="answer every incoming call with 486 Busy Here")
    parser.add_argument(
        "--100rel",
        dest="rel100",
        choices=("off", "supported", "required"),
        default="supported",
        help="reliable provisional responses, RFC 3262 (default supported: used when the peer asks)",
    )
    parser.add_argument(
        "--ring-timeout",
        type=float,
        default=Limits().ring_timeout,
        metavar="SECONDS",
        help="an unanswered incoming call ends as missed after this long (default %(default)s)",
    )
    parser.add_argument(
        "--max-ringing",
        type=int,
        default=Limits().max_ringing,
        metavar="N",
        help="incoming calls ringing at once; more get 486 Busy Here (default %(default)s)",
    )
    parser.add_argument(
        "--direct-calls",
        choices=("on", "off"),
        help="take calls, messages and subscriptions straight from any address (default: on without a server)",
    )
    parser.add_argument(
        "--user-agent",
        metavar="TEXT",
        default=USER_AGENT,
        help="the User-Agent of our requests ('' for none; responses never carry one)",
    )
    parser.add_argument(
        "--early-media",
        action="store_true",
        help="answer incoming calls with a 183 and our audio while they ring (reliable when the caller supports it)",
    )
    parser.add_argument("--forward", metavar="URI", help="forward incoming calls there (302 Moved Temporarily)")
    parser.add_argument(
        "--forward-on",
        choices=("always", "busy", "no-answer"),
        default="always",
        help="when --forward applies (default always)",
    )
    parser.add_argument(
        "--forward-after", type=float, default=20.0, metavar="SECONDS", help="ringing time before no-answer forwarding"
    )
    parser.add_argument(
        "--codecs",
        metavar="LIST",
        type=_codecs,
        default=None,
        help="audio codecs in order of preference, comma-separated (default: opus,g722,pcmu,pcma)",
    )
    parser.add_argument(
        "--no-audio", action="store_true", help="no audio devices: send silence, play nothing (RTP still flows)"
    )
    parser.add_argument("--play", metavar="FILE.wav", help="send this 16-bit WAV file (looped), not the microphone")
    parser.add_argument("--record", metavar="FILE.wav", help="record what the other side sends to this WAV file")
    parser.add_argument(
        "--video",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="offer and accept a VP8 video stream next to the audio (--no-video, the default: audio only)",
    )
    parser.add_argument(
        "--video-source",
        metavar="pattern|screen[:DISPLAY]|camera[:DEVICE]|FILE",
        default="pattern",
        help="what video calls send: 'pattern' (a test pattern with a frame counter), an X11 screen, a camera"
        " (the first one found, or /dev/videoN), or a video file or picture, looped",
    )
    parser.add_argument(
        "--video-codecs",
        metavar="LIST",
        type=_video_codecs,
        default=("VP8", "H264"),
        help="video codecs in order of preference, comma-separated (default: vp8,h264)",
    )
    parser.add_argument(
        "--video-size",
        type=_video_size,
        default=(320, 240),
        metavar="WIDTHxHEIGHT",
        help="the size of the picture sent (default 320x240; even numbers, 16x16 to 1920x1080)",
    )
    parser.add_argument(
        "--video-fps", type=_bounded_int(1, 60, "frames per second"), default=15, help="frames per second (default 15)"
    )
    parser.add_argument(
        "--video-bitrate",
        type=_bounded_int(30, 8000, "kbit/s"),
        default=300,
        metavar="KBIT/S",
        help="the most the video sends, in kbit/s (default 300; the sender adapts below it to loss)",
    )
    parser.add_argument(
        "--record-video", metavar="FILE.mkv", help="write the video the other side sends to this Matroska file"
    )
    parser.add_argument("--input-device", metavar="NAME", help="microphone (name or index; default: the system's)")
    parser.add_argument("--output-device", metavar="NAME", help="speaker (name or index; default: the system's)")
    parser.add_argument(
        "--aec", choices=("on", "off"), default="on", help="cancel the speaker's echo in the microphone (default on)"
    )
    parser.add_argument(
        "--ns",
        choices=("on", "off", "low", "high"),
        default="on",
        help="noise suppression: on (moderate, at most 12 dB), low (6 dB), high (18 dB) or off (default on)",
    )
    parser.add_argument(
        "--agc", choices=("on", "off"), default="on", help="automatic gain control of the microphone (default on)"
    )
    parser.add_argument(
        "--hpf", choices=("on", "off"), default="on", help="high-pass filter on the microphone (default on)"
    )
    parser.add_argument("--json", action="store_true", help="print events as one JSON object per line")
    parser.add_argument(
        "--db",
        metavar="FILE",
        help="the database of messages, contacts and call history (default: softphone.db in the user data directory)",
    )
    parser.add_argument("--config-dir", metavar="DIR", help="settings directory (accepted; nothing is stored yet)")
    parser.add_argument("--ca-file", metavar="F", help="CA certificates (PEM) to verify TLS servers with")
    parser.add_argument(
        "--tls-cert",
        metavar="F",
        help="client certificate (PEM, with its key unless --tls-key) for the account's servers",
    )
    parser.add_argument("--tls-key", metavar="F", help="the client certificate's private key (PEM)")
    parser.add_argument("--trace", action="store_true", help="log every SIP message to standard error")
    cli_paging.add_arguments(parser)
    return parser


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"--listen wants HOST:PORT, not {text!r}")
    host = host.strip("[]")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"bad port in --listen {text!r}") from None
    if not 0 <= port < 65536:
        raise ValueError(f"port out of range in --listen {text!r}")
    return host, port


def listen_addresses(texts: Sequence[str] | None, *, lan: bool = False) -> list[tuple[str, int]]:
    """The (host, port) pairs to listen on from ``--listen`` options. Without any: 0.0.0.0 on a free port,
    and with ``lan`` [::] on the same port too (a DNS-SD record names one port for IPv4 and IPv6)."""
    if texts:
        if len(texts) > 2:
            raise ValueError("--listen may be given at most twice (an IPv4 and an IPv6 address)")
        return [parse_listen(text) for text in texts]
    if not lan or not socket.has_ipv6:
        return [("0.0.0.0", 0)]
    port = _free_dual_port()
    return [("0.0.0.0", port), ("::", port)] if port else [("0.0.0.0", 0)]


def _free_dual_port() -> int:
    """A port free for UDP and TCP on both IPv4 and IPv6 (0 when none was found in a few tries)."""
    for _ in range(20):
        held: list[socket.socket] = []
        try:
            first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            held.append(first)
            first.bind(("0.0.0.0", 0))
            port = int(first.getsockname()[1])
            for family, kind in (
                (socket.AF_INET, socket.SOCK_STREAM),
                (socket.AF_INET6, socket.SOCK_DGRAM),
                (socket.AF_INET6, socket.SOCK_STREAM),
            ):
                sock = socket.socket(family, kind)
                held.append(sock)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
            return port
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    return 0


def _suites(text: str) -> tuple[str, ...]:
    suites = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in suites if name not in SUITES]
    if unknown or not suites:
        raise argparse.ArgumentTypeError(
            f"unknown SRTP suite {unknown[0] if unknown else text!r}; known: {', '.join(SUITES)}"
        )
    return suites


def _non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more, not {text}")
    return value


def _video_size(text: str) -> tuple[int, int]:
    width, x, height = text.lower().partition("x")
    if not (x and width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"not WIDTHxHEIGHT: {text!r}")
    size = int(width), int(height)
    # Encoders want even sizes (4:2:0 chroma); the bounds keep one picture's memory reasonable.
    if any(n % 2 or not 16 <= n <= limit for n, limit in zip(size, (1920, 1080), strict=True)):
        raise argparse.ArgumentTypeError(f"{text}: even numbers from 16x16 to 1920x1080")
    return size


def _bounded_int(low: int, high: int, unit: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{text}: {low} to {high} {unit}")
        return int(text)

    return parse


def _codecs(text: str) -> list[Codec]:
    try:
        return codecs_named(text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _video_codecs(text: str) -> tuple[str, ...]:
    try:
        return tuple(dict.fromkeys(codec.name for codec in video_codecs_named(text.split(","))))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def make_account(args: argparse.Namespace) -> Account:
    if args.account is None:
        raise AccountError("--account is required")
    if args.password_env is not None:
        password = password_from_env(args.password_env)
    elif args.password_file is not None:
        password = password_from_file(args.password_file)
    else:
        password = password_from_keyring(args.account) or ""
    return Account(
        args.account,
        password,
        auth_user=args.auth_user,
        registrar=args.registrar,
        outbound_proxy=args.outbound_proxy,
        transport=args.transport,
        display_name=args.display_name,
        expires=args.expires,
        photo_url=args.photo_url,
        auto_answer=args.auto_answer,
        ca_file=args.ca_file,
        register=not args.no_register,
        busy=args.busy,
        forwarding=_forwarding(args),
        direct_calls=None if args.direct_calls is None else args.direct_calls == "on",
        lan_announce=None if args.lan_announce is None else args.lan_announce == "on",
        srtp=args.srtp,
        srtp_keys=args.srtp_keys,
        srtp_suites=args.srtp_suites,
        srtp_clear_keys=args.srtp_clear_keys,
        tls_certificate=args.tls_cert,
        tls_key=args.tls_key,
        stun_server=args.stun,
        turn_server=args.turn,
        turn_user=args.turn_user,
        turn_password=None if args.turn_password_env is None else password_from_env(args.turn_password_env),
        turn_transport=args.turn_transport,
        ice=args.ice,
    )


def _forwarding(args: argparse.Namespace) -> Forwarding | None:
    if args.forward is None:
        return None
    return Forwarding(
        args.forward,
        always=args.forward_on == "always",
        busy=args.forward_on == "busy",
        no_answer=args.forward_after if args.forward_on == "no-answer" else None,
    )


def media_for(args: argparse.Namespace) -> MediaFactory:
    """The audio of calls the options ask for."""
    if args.no_audio:
        return silence_media()
    if args.play is not None or args.record is not None:
        return wav_media(args.play, args.record)
    return device_media(_device(args.input_device), _device(args.output_device), processing_for(args))


def video_for(args: argparse.Namespace) -> VideoSettings | None:
    """The video of calls the options ask for (None: audio only)."""
    if not args.video:
        if args.record_video is not None:
            raise AccountError("--record-video needs --video")
        return None
    screen = args.video_source == "screen" or args.video_source.startswith("screen:")
    camera = args.video_source == "camera" or args.video_source.startswith("camera:")
    if camera:
        cameras, problem = video_cameras()
        if args.video_source != "camera" and all(c.source != args.video_source for c in cameras):
            problem = f"no camera found at {args.video_source.partition(':')[2]}"
        if problem is not None:
            # The calls go on: the video stream is offered, and we receive the peer's picture.
            print(f"softphone-cli: --video-source camera: {problem}; calls send no picture", file=sys.stderr)
    elif args.video_source != "pattern" and not screen and not Path(args.video_source).is_file():
        raise AccountError(f"--video-source: no such file {args.video_source!r}")
    record = None if args.record_video is None else Path(args.record_video)
    if record is not None and record.suffix.lower() not in (".mkv", ".webm"):
        raise AccountError("--record-video writes a Matroska file: give it a name ending in .mkv")
    width, height = args.video_size
    return VideoSettings(
        source=args.video_source,
        width=width,
        height=height,
        fps=args.video_fps,
        bitrate=args.video_bitrate * 1000,
        record=record,
        codecs=args.video_codecs,
    )


def processing_for(args: argparse.Namespace) -> ProcessingConfig:
    """The microphone processing the options ask for (sound devices only)."""
    return ProcessingConfig(
        echo_cancellation=args.aec == "on",
        noise_suppression="moderate" if args.ns == "on" else args.ns,
        high_pass_filter=args.hpf == "on",
        gain_control=args.agc == "on",
    )


def _device(name: str | None) -> str | int | None:
    return int(name) if name is not None and name.isdigit() else name


class Cli:
    """The command loop: lines in, events out."""

    def __init__(self, ua: UserAgent, out: TextIO, as_json: bool) -> None:
        self.ua = ua
        self.out = out
        self.as_json = as_json
        ua.subscribe(self.print_event)

    def print_event(self, event: Event) -> None:
        self.write(event.to_json() if self.as_json else describe(event))

    def write(self, item: dict[str, Any] | str) -> None:
        text = json.dumps(item) if isinstance(item, dict) else printable(item)
        self.out.write(text + "\n")
        self.out.flush()

    async def run_line(self, line: str) -> bool:
        """Carry out one command; False when it was ``quit``."""
        line = _free_text(line)
        try:
            words = shlex.split(line)
        except ValueError as exc:
            self.ua_error(f"cannot read {line.strip()!r}: {exc}")
            return True
        if not words:
            return True
        name, args = words[0].lower(), words[1:]
        if name in ("quit", "exit"):
            return False
        handler = self.commands.get(name)
        if handler is None:
            self.ua_error(f"unknown command {name!r} (known: {', '.join(sorted([*self.commands, 'quit']))})")
            return True
        try:
            await handler(self, args)
        except (UserAgentError, AccountError, ValueError) as exc:
            self.ua_error(str(exc))
        except Exception as exc:  # a command never ends the program
            logging.getLogger("softphone.cli").exception("command %r failed", line)
            self.ua_error(f"{name} failed: {exc}")
        return True

    def ua_error(self, message: str) -> None:
        self.print_event(ErrorEvent(message))

    @staticmethod
    def _arity(args: list[str], low: int, high: int, usage: str) -> None:
        if not low <= len(args) <= high:
            raise UserAgentError(f"usage: {usage}")

    async def _call(self, args: list[str]) -> None:
        self._arity(args, 1, 1, "call URI")
        await self.ua.call(self.ua.lan.resolve_target(args[0]))

    async def _answer(self, args: list[str]) -> None:
        self._arity(args, 0, 1, "answer [CALL]")
        await self.ua.answer(args[0] if args else None)

    async def _decline(self, args: list[str]) -> None:
        self._arity(args, 0, 1, "decline [CALL]")
        await self.ua.decline(args[0] if args else None)

    async def _hangup(self, args: list[str]) -> None:
        self._arity(args, 0, 1, "hangup [CALL]")
        await self.ua.hangup(args[0] if args else None)

    async def _hold(self, args: list[str]) -> None:
        self._arity(args, 0, 1, "hold [CALL]")
        await self.ua.hold(args[0] if args else None)

    async def _resume(self, args: list[str]) -> None:
        self._arity(args, 0, 1, "resume [CALL]")
        await self.ua.resume(args[0] if args else None)

    async def _rekey(self, args: list[str]) -> None:
        self._arity(args, 0, 1, "rekey [CALL]")
        await self.ua.rekey(args[0] if args else None)

    async def _video(self, args: list[str]) -> None:
        usage = (
            "video on|off [CALL], video camera on|off [CALL],"
            " or video source pattern|screen[:DISPLAY]|camera[:DEVICE]|FILE|none [CALL]"
        )
        if args[:1] == ["camera"]:
            self._arity(args, 2, 3, usage)
            if args[1] not in ("on", "off"):
                raise UserAgentError(f"usage: {usage}")
            await self.ua.set_camera(args[2] if len(args) > 2 else None, args[1] == "on")
            return
        if args[:1] == ["source"]:
            self._arity(args, 2, 3, usage)
            source = None if args[1] == "none" else args[1]
            await self.ua.set_video_source(args[2] if len(args) > 2 else None, source)
            return
        self._arity(args, 1, 2, usage)
        if args[0] not in ("on", "off"):
            raise UserAgentError(f"usage: {usage}")
        await self.ua.set_video(args[1] if len(args) > 1 else None, args[0] == "on")

    async def _transfer(self, args: list[str]) -> None:
        self._arity(args, 2, 2, "transfer CALL URI")
        await self.ua.transfer(args[0], args[1])

    async def _atransfer(self, args: list[str]) -> None:
        self._arity(args, 2, 2, "atransfer CALL OTHER_CALL")
        await self.ua.attended_transfer(args[0], args[1])

    async def _conference(self, args: list[str]) -> None:
        if len(args) < 2:
            raise UserAgentError("usage: conference CALL CALL...")
        await self.ua.conference(args)

    async def _split(self, args: list[str]) -> None:
        self._arity(args, 1, 1, "split CALL")
        await self.ua.split(args[0])

    async def _dtmf(self, args: list[str]) -> None:
        self._arity(args, 1, 2, "dtmf [CALL] DIGITS")
        call, digits = (args[0], args[1]) if len(args) == 2 else (None, args[0])
        await self.ua.send_dtmf(call, digits)

    async def _record(self, args: list[str]) -> None:
        self._arity(args, 1, 2, "record [CALL] FILE.wav")
        call, path = (args[0], args[1]) if len(args) == 2 else (None, args[0])
        await self.ua.record(call, path)

    async def _stoprecord(self, args: list[str]) -> None:
        self._arity(args, 0, 1, "stoprecord [CALL]")
        await self.ua.stop_recording(args[0] if args else None)

    async def _register(self, args: list[str]) -> None:
        self._arity(args, 0, 0, "register")
        await self.ua.register()

    async def _unregister(self, args: list[str]) -> None:
        self._arity(args, 0, 0, "unregister")
        await self.ua.unregister()

    async def _calls(self, args: list[str]) -> None:
        self._arity(args, 0, 0, "calls")
        calls = [
            {
                "call_id": c.id,
                "sip_call_id": c.sip_call_id,
                "direction": c.direction,
                "remote_uri": str(c.remote.uri),
                "state": c.state,
            }
            for c in self.ua.calls
        ]
        if self.as_json:
            self.write({"event": "calls", "calls": calls})
        elif not calls:
            self.write("no calls")
        else:
            for c in calls:
                self.write(f"{c['call_id']} {c['direction']} {c['remote_uri']} {c['state']} ({c['sip_call_id']})")

    async def _status(self, args: list[str]) -> None:
        basic, activity, note = parse_status(args)
        self.ua.presence.set_status(basic, activity, note)

    async def _subscribe(self, args: list[str]) -> None:
        self._arity(args, 1, 1, "subscribe URI")
        self.ua.presence.watch(args[0])

    async def _unsubscribe(self, args: list[str]) -> None:
        self._arity(args, 1, 1, "unsubscribe URI")
        if not await self.ua.presence.unwatch(args[0]):
            raise UserAgentError(f"not watching {args[0]}")

    async def _buddies(self, args: list[str]) -> None:
        self._arity(args, 0, 0, "buddies")
        buddies = self.ua.presence.buddies()
        if self.as_json:
            self.write({"event": "buddies", "buddies": [b.to_json() for b in buddies]})
        elif not buddies:
            self.write("no buddies")
        else:
            for b in buddies:
                extra = "".join(f", {part}" for part in (b.activity, b.note) if part)
                self.write(f"{b.uri} {b.basic}{extra} (subscription {b.subscription})")

    async def _allow(self, args: list[str]) -> None:
        self._arity(args, 1, 2, "allow URI [details]")
        if len(args) == 2 and args[1].lower() != "details":
            raise UserAgentError("usage: allow URI [details]")
        self.ua.dialog_state.allow(args[0], details=len(args) == 2)

    async def _block(self, args: list[str]) -> None:
        self._arity(args, 1, 1, "block URI")
        self.ua.presence.block(args[0])

    async def _blf(self, args: list[str]) -> None:
        self._arity(args, 1, 1, "blf URI")
        await self.ua.dialog_state.watch(args[0])

    async def _unblf(self, args: list[str]) -> None:
        self._arity(args, 1, 1, "unblf URI")
        await self.ua.dialog_state.unwatch(args[0])

    async def _callback(self, args: list[str]) -> None:
        self._arity(args, 1, 2, "callback URI [redial]")
        if len(args) == 2 and args[1].lower() != "redial":
            raise UserAgentError("usage: callback URI [redial]")
        uri = await self.ua.dialog_state.callback(args[0], redial=len(args) == 2)
        self.write({"event": "callback_requested", "uri": uri} if self.as_json else f"waiting for {uri} to be free")

    async def _nocallback(self, args: list[str]) -> None:
        self._arity(args, 1, 1, "nocallback URI")
        if not await self.ua.dialog_state.cancel_callback(args[0]):
            raise UserAgentError(f"no callback request for {args[0]}")

    async def _mwi(self, args: list[str]) -> None:
        self._arity(args, 0, 0, "mwi")
        summary = self.ua.mwi.summary()
        if summary is not None:
            self.print_event(summary)
        elif self.as_json:
            self.write({"event": "mwi", "account": self.ua.account().aor, "new": None, "old": None})
        else:
            self.write("no message-waiting summary yet")

    async def _message(self, args: list[str]) -> None:
        if len(args) < 2:
            raise UserAgentError("usage: message URI TEXT...")
        await self.ua.messaging.send(self.ua.lan.resolve_target(args[0]), " ".join(args[1:]))

    async def _messages(self, args: list[str]) -> None:
        self._arity(args, 1, 1, "messages URI")
        page = self.ua.messaging.history(args[0], requests=None)
        if self.as_json:
            items = [
                {
                    "id": m.id,
                    "direction": m.direction.value,
                    "text": m.text,
                    "time": m.time,
                    "state": m.state.value,
                    "request": m.from_stranger,
                }
                for m in page
            ]
            self.write({"event": "messages", "uri": args[0], "messages": items})
        elif not page:
            self.write(f"no messages with {args[0]}")
        else:
            for m in page:
                request = " [message request]" if m.from_stranger else ""
                self.write(f"{m.id} {'>' if m.direction.value == 'out' else '<'}{request} {m.text} ({m.state.value})")

    async def _requests(self, args: list[str]) -> None:
        self._arity(args, 0, 0, "requests")
        requests = self.ua.messaging.requests()
        if self.as_json:
            items = [{"from": c.peer, "last": c.last.text, "time": c.time, "unread": c.unread} for c in requests]
            self.write({"event": "requests", "requests": items})
        elif not requests:
            self.write("no message requests")
        else:
            for c in requests:
                self.write(f"message request from {c.peer} ({c.unread} unread): {c.last.text}")

    async def _accept(self, args: list[str]) -> None:
        self._arity(args, 1, 1, "accept URI")
        self.ua.messaging.accept(args[0])

    async def _dismiss(self, args: list[str]) -> None:
        self._arity(args, 1, 1, "dismiss URI")
        self.ua.messaging.decline(args[0])

    async def _page(self, args: list[str]) -> None:
        await cli_paging.page(self.ua, args)

    async def _endpage(self, args: list[str]) -> None:
        await cli_paging.endpage(self.ua, args)

    async def _pages(self, args: list[str]) -> None:
        self._arity(args, 0, 0, "pages")
        item = cli_paging.listing(self.ua)
        for line in [item] if self.as_json else cli_paging.listing_text(item):
            self.write(line)

    async def _peers(self, args: list[str]) -> None:
        self._arity(args, 0, 0, "peers")
        peers = self.ua.lan.peers()
        if self.as_json:
            self.write({"event": "peers", "running": self.ua.lan.running, "peers": [p.to_json() for p in peers]})
        elif not self.ua.lan.running:
            self.write("LAN discovery is off (start with --lan)")
        elif not peers:
            self.write("no phones found on the LAN")
        else:
            for p in peers:
                calls = "" if p.accepts_calls else " (takes no direct calls)"
                self.write(f"{p.name}: {p.uri}{calls}")

    commands: ClassVar[dict[str, Callable[[Cli, list[str]], Any]]] = {
        "call": _call,
        "answer": _answer,
        "decline": _decline,
        "hangup": _hangup,
        "hold": _hold,
        "resume": _resume,
        "rekey": _rekey,
        "video": _video,
        "transfer": _transfer,
        "atransfer": _atransfer,
        "conference": _conference,
        "split": _split,
        "dtmf": _dtmf,
        "record": _record,
        "stoprecord": _stoprecord,
        "register": _register,
        "unregister": _unregister,
        "calls": _calls,
        "message": _message,
        "messages": _messages,
        "requests": _requests,
        "accept": _accept,
        "dismiss": _dismiss,
        "status": _status,
        "subscribe": _subscribe,
        "unsubscribe": _unsubscribe,
        "buddies": _buddies,
        "allow": _allow,
        "block": _block,
        "blf": _blf,
        "unblf": _unblf,
        "callback": _callback,
        "nocallback": _nocallback,
        "mwi": _mwi,
        "page": _page,
        "endpage": _endpage,
        "pages": _pages,
        "peers": _peers,
    }


def _free_text(line: str) -> str:
    """``message URI TEXT...`` with TEXT quoted for shlex, so that it stays as typed (apostrophes too)."""
    parts = line.strip().split(None, 2)
    if len(parts) == 3 and parts[0].lower() == "message":
        return f"message {shlex.quote(parts[1])} {shlex.quote(parts[2])}"
    return line


def _start_reader(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None], stream: TextIO) -> None:
    """Feed the lines of ``stream`` to ``queue`` from a thread, so the loop never blocks on input."""

    def read() -> None:
        try:
            for line in stream:
                loop.call_soon_threadsafe(queue.put_nowait, line)
        except (OSError, ValueError, RuntimeError):
            pass
        try:
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:
            pass  # the loop is gone already

    threading.Thread(target=read, name="stdin", daemon=True).start()


async def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    account = make_account(args)
    listen = listen_addresses(args.listen, lan=args.lan)
    try:
        store = Store(args.db)
    except StoreError as exc:
        raise RuntimeError(f"cannot open the database: {exc}") from exc
    ua = UserAgent(
        [account],
        listen=[(transport, host, port) for host, port in listen for transport in ("UDP", "TCP")],
        media=media_for(args),
        video=video_for(args),
        audio=None if args.codecs is None else AudioConfig(codecs=args.codecs),
        store=store,
        rel100=args.rel100,
        early_media=args.early_media,
        limits=dataclasses.replace(Limits(), ring_timeout=args.ring_timeout, max_ringing=args.max_ringing),
        user_agent=args.user_agent or None,
        network_check=args.network_check or None,
    )
    cli = Cli(ua, stdout, args.json)
    try:
        await ua.start()
        await ua.paging.start(cli_paging.config_for(args))
    except BaseException:
        store.close()
        raise
    if args.lan:
        try:
            await ua.lan.start()
        except Exception as exc:  # the phone works without it; say why
            cli.ua_error(f"LAN discovery is off: {exc}")
    # Full collections when the phone is quiet, not in a presence burst (softphone.ua.collector).
    manage_collector(ua)
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    _start_reader(loop, queue, stdin)
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Interrupted or terminated: leave like `quit` (hang up, unregister).
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, queue.put_nowait, None)
    try:
        if account.register:
            await ua.register()
        else:
            await ua.presence.load_buddies()  # registering loads them itself
        while True:
            line = await queue.get()
            if line is None or not await cli.run_line(line):
                break
    finally:
        await ua.stop()
        store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    if args.trace:
        logging.getLogger("softphone.sip.trace").setLevel(logging.DEBUG)
    if args.nat_test:
        if args.stun is None:
            parser.error("--nat-test needs --stun HOST[:PORT]")
        host = parse_listen((args.listen or ["0.0.0.0:0"])[0])[0]
        return asyncio.run(nat_test_main(args.stun, host, sys.stdout, as_json=args.json))
    if args.account is None:
        parser.error("--account is required")
    try:
        return asyncio.run(run(args, sys.stdin, sys.stdout))
    except (AccountError, ValueError) as exc:
        print(f"softphone-cli: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"softphone-cli: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Bad input at a running UserAgent: the RFC 4475 / RFC 5118 torture messages, then random garbage.

One ``UserAgent`` listens on UDP 127.0.0.1 and runs its asyncio loop in a
thread of its own, so that the test can talk to it with plain blocking
sockets (``settimeout`` bounds every wait). No server is involved: the
account's registrar is never used.

How the answers reach the test socket: the UA sends a response to the top
Via (RFC 3261 18.2.2): to its ``received`` address, which the UA stamps with
the source IP whenever the sent-by host differs from it (18.2.1, checked to
work: every sent-by host below is some other host), at the sent-by port
(default 5060), since most torture messages carry no ``rport`` (RFC 3581).
So the one change made to a request is in its top Via: the sent-by port
becomes the test socket's and the transport token ``UDP`` (a TCP/TLS Via
would send the answer over a connection), in place, keeping the SIP-version,
the sent-by host, the line folding and every via-parm (branch, the junk of
badinv01, the ``received`` of the RFC 5118 4.5 messages, which the UA must
overwrite). Responses are sent unmodified and a second time with the top
Via naming the UA's own address, so that they get past the transport's
"is this Via ours" check (RFC 3261 18.1.2) into the transaction layer.

Each message goes from a socket of its own: many messages share a branch
(``z9hG4bKkdjuw``), and with one sent-by for all the UA would rightly take
the later ones for retransmissions of an earlier transaction.

A safety fence wraps the UA's datagram sender and its TCP connector: nothing
may leave it except towards the test's own sockets (the torture messages
name hosts such as 192.0.2.x and 255.255.255.255 in Vias and Contacts).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from softphone.transport import TransportError
from softphone.ua import Account, CallEvent, UserAgent
from tests.conftest import torture_dir
from tests.ua import make_ua

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

HOST = "127.0.0.1"
WAIT = 1.0  # how long a message may take to be answered (final, or 180 for an INVITE)
QUIET = 0.5  # how long to listen for "no response at all" (the UA answers on loopback in milliseconds)
NO_RESPONSE = None


# --- the expectation table ------------------------------------------------------------------

RING = 180  # a valid INVITE at a UA without auto-answer: 100 Trying then 180 Ringing
NOT_SERVED = frozenset({405, 501})  # RFC 3261 8.2.1: a method the UA does not serve, with Allow


@dataclass(frozen=True)
class Expect:
    """What an endpoint (UA) must do with one torture message.

    ``codes``: the status codes that pass (None: no response at all); for an
    INVITE, 180 means the UA took the call and rang. ``allow``: the response
    must carry Allow. ``check``: a further check of the response (returns a
    complaint or None). ``why``: the RFC's reason, for the failure report.
    """

    codes: frozenset[int | None]
    why: str
    allow: bool = False
    check: Callable[[Reply], str | None] | None = None


def expect(
    *codes: int | None, why: str, allow: bool = False, check: Callable[[Reply], str | None] | None = None
) -> Expect:
    return Expect(frozenset(codes), why, allow, check)


def has_header(name: str, *needles: str) -> Callable[[Reply], str | None]:
    def check(reply: Reply) -> str | None:
        values = reply.header(name)
        if values is None:
            return f"no {name} header"
        missing = [n for n in needles if n.lower() not in values.lower()]
        return f"{name}: {values!r} lacks {', '.join(missing)}" if missing else None

    return check


EXPECTED: dict[str, Expect] = {
    # RFC 4475 3.1.1: valid messages. INVITEs ring; OPTIONS get 200 with Allow; REGISTER and
    # MESSAGE, which a UA does not serve, get 405 (known method) or 501 with Allow.
    # wsinv's To has a tag: an INVITE for a dialog the UA doesn't know gets 481 (RFC 3261 12.2.2),
    # unless the UA chooses to recreate the dialog (then it rings).
    "wsinv": expect(481, RING, why="3.1.1.1 valid INVITE (folding, odd whitespace) with a To tag"),
    "intmeth": expect(501, allow=True, why="3.1.1.2 unknown method: an endpoint answers 501 with Allow"),
    "esc01": expect(RING, why="3.1.1.3 valid INVITE with %HEX escapes"),
    "escnull": expect(
        *NOT_SERVED, allow=True, why="3.1.1.4 valid REGISTER (%00 escapes); a UA does not serve REGISTER"
    ),
    "esc02": expect(501, allow=True, why="3.1.1.5 RE%47IST%45R is an unknown method: 501 with Allow"),
    "lwsdisp": expect(200, allow=True, why="3.1.1.6 valid OPTIONS (no LWS before '<')"),
    "longreq": expect(RING, why="3.1.1.7 valid INVITE with very long values and 34 Vias"),
    # dblreq: one REGISTER; the INVITE after it in the datagram is noise (checked: no second answer).
    "dblreq": expect(*NOT_SERVED, allow=True, why="3.1.1.8 one REGISTER, the rest of the datagram ignored"),
    "semiuri": expect(200, allow=True, why="3.1.1.9 valid OPTIONS (';' in the R-URI user part)"),
    "transports": expect(200, allow=True, why="3.1.1.10 valid OPTIONS (Vias with SCTP, TLS, UNKNOWN)"),
    "mpart01": expect(
        415,
        check=has_header("Accept", "text/plain"),
        why="3.1.1.11 valid MESSAGE framed by Content-Length; a multipart body this UA does not take (RFC 3428 7)",
    ),
    "unreason": expect(NO_RESPONSE, why="3.1.1.12 a response: never answered"),
    "noreason": expect(NO_RESPONSE, why="3.1.1.13 a response: never answered"),
    # RFC 4475 3.1.2: invalid messages. The RFC grades some: where it lets "a liberal element"
    # accept the message, the UA's normal answer to the repaired message passes as well.
    "badinv01": expect(
        400, why="3.1.2.1 extraneous ';' ',' in Via and Contact: 400 (the sent-by is intact, so it is routable)"
    ),
    "clerr": expect(400, why="3.1.2.2 Content-Length larger than the datagram: over UDP, 400"),
    "ncl": expect(400, why="3.1.2.3 negative Content-Length: 400"),
    "scalar02": expect(400, why="3.1.2.4 CSeq number > 2**32-1: 400"),
    "scalarlg": expect(NO_RESPONSE, why="3.1.2.5 a response with overlarge values: silently discarded"),
    "quotbal": expect(400, RING, why="3.1.2.6 unterminated quote in To: 400 (a liberal element may infer the quote)"),
    "ltgtruri": expect(400, RING, why="3.1.2.7 R-URI in <>: 400 (a liberal element may ignore the brackets)"),
    # lwsruri's To has a tag: accepted liberally it is a request in an unknown dialog, 481.
    "lwsruri": expect(400, 481, why="3.1.2.8 LWS in the R-URI: 400 (may ignore the LWS where unambiguous)"),
    "lwsstart": expect(400, 200, why="3.1.2.9 several SP in the Request-Line: acceptable to reject (400), may accept"),
    "trws": expect(400, 200, why="3.1.2.10 SP after SIP-Version: acceptable to reject (400), may ignore"),
    "escruri": expect(
        400, RING, why="3.1.2.11 escaped headers in the R-URI: acceptable to reject with 400, may ignore them"
    ),
    "baddate": expect(
        RING, 400, why="3.1.2.12 non-GMT Date: ignore it (Date doesn't matter to a UA); rejecting is allowed"
    ),
    "regbadct": expect(
        400, *NOT_SERVED, why="3.1.2.13 Contact with escaped header but no <>: 400 (may infer the <>; then 405/501)"
    ),
    "badaspec": expect(
        400, 200, why="3.1.2.14 spaces in the To addr-spec: reasonable to reject with 400, may ignore them"
    ),
    # baddn: the RFC's archive copy has no empty line after the headers; over UDP the datagram ends the message.
    "baddn": expect(400, 200, why="3.1.2.15 unquoted ',' in display names: 400 (may infer the quotes)"),
    "badvers": expect(505, why="3.1.2.16 SIP/7.0: 505 Version Not Supported"),
    "mismatch01": expect(400, why="3.1.2.17 Request-Line method OPTIONS vs CSeq INVITE: 400"),
    "mismatch02": expect(501, 400, why="3.1.2.18 unknown method vs CSeq INVITE: 501 (400 acceptable)"),
    "bigcode": expect(NO_RESPONSE, why="3.1.2.19 a response with status 4294967301: dropped"),
    # RFC 4475 3.2, 3.3, 3.4.
    "badbranch": expect(200, 400, why="3.2.1 branch is the bare cookie: must not break; serve it, or reject with 400"),
    # insuf: Call-ID, From, To missing. The RFC: "must not break ... Ideally, it will respond with a
    # 400" - the Via and CSeq a response needs for routing and matching are there.
    "insuf": expect(400, why="3.3.1 Call-ID, From, To missing: ideally 400"),
    "unkscm": expect(416, why="3.3.2 unknown R-URI scheme: 416"),
    "novelsc": expect(416, why="3.3.3 soap.beep R-URI scheme, never acceptable to a SIP UA: 416"),
    "unksm2": expect(*NOT_SERVED, allow=True, why="3.3.4 REGISTER at a UA (non-SIP To/From/Contact schemes): 405/501"),
    "bext01": expect(
        420,
        why="3.3.5 unknown Require options: 420 with Unsupported listing both",
        check=has_header("Unsupported", "nothingSupportsThis", "nothingSupportsThisEither"),
    ),
    "invut": expect(
        415,
        why="3.3.6 body application/unknownformat: 415 with Accept: application/sdp",
        check=has_header("Accept", "application/sdp"),
    ),
    "regaut01": expect(
        *NOT_SERVED, allow=True, why="3.3.7 REGISTER with unknown auth scheme: a non-registrar may answer 405"
    ),
    "multi01": expect(400, why="3.3.8 several values in single-value headers: 400"),
    "mcl01": expect(400, why="3.3.9 two conflicting Content-Length values: 400"),
    "bcast": expect(NO_RESPONSE, why="3.3.10 a 200 with a broadcast 2nd Via: endpoints discard it"),
    "zeromf": expect(200, allow=True, why="3.3.11 Max-Forwards 0 at an endpoint: processed normally"),
    "cparam01": expect(*NOT_SERVED, allow=True, why="3.3.12 valid REGISTER: not served by a UA"),
    "cparam02": expect(*NOT_SERVED, allow=True, why="3.3.13 valid REGISTER: not served by a UA"),
    "regescrt": expect(*NOT_SERVED, allow=True, why="3.3.14 valid REGISTER: not served by a UA"),
    "sdp01": expect(406, 400, why="3.3.15 Accept without application/sdp: 406 (or 400)"),
    "inv2543": expect(RING, why="3.4.1 RFC 2543 INVITE (no branch, no From tag): accepted"),
    # RFC 5118.
    "ipv6-good": expect(*NOT_SERVED, allow=True, why="5118 4.1 valid REGISTER with IPv6 references"),
    "ipv6-bad": expect(400, why="5118 4.2 R-URI IPv6 address without []: 400"),
    "port-ambiguous": expect(*NOT_SERVED, allow=True, why="5118 4.3 valid REGISTER ([...:5070] is all address)"),
    "port-unambiguous": expect(*NOT_SERVED, allow=True, why="5118 4.4 valid REGISTER"),
    # Two BYEs without a To tag and matching no dialog: 481 (RFC 3261 15.1.2).
    "via-received-param-with-delim": expect(481, why="5118 4.5 valid BYE outside any dialog: 481"),
    "via-received-param-no-delim": expect(200, allow=True, why="5118 4.5 valid OPTIONS (received= without [])"),
    # An IPv6-only offer at a UA whose media is IPv4: ringing, or 488 for the media it can't use.
    "ipv6-in-sdp": expect(RING, 488, why="5118 4.6 valid INVITE, IN IP6 SDP"),
    "mult-ip-in-header": expect(481, why="5118 4.7 valid BYE outside any dialog: 481"),
    "mult-ip-in-sdp": expect(RING, why="5118 4.8 valid INVITE, one IP4 and one IP6 media line"),
    "ipv4-mapped-ipv6": expect(RING, 488, why="5118 4.9 valid INVITE, IPv4-mapped IPv6 in SDP"),
    "ipv6-bug-abnf-3-colons": expect(200, allow=True, why="5118 4.10 tolerate the 3-colon form: valid OPTIONS"),
    "ipv6-correct-abnf-2-colons": expect(200, allow=True, why="5118 4.10 valid OPTIONS"),
}


# --- messages -----------------------------------------------------------------------------------


def torture_messages() -> dict[str, bytes]:
    folder = torture_dir()
    names = [line.split("\t", 1)[0] for line in (folder / "manifest.tsv").read_text().splitlines()[1:] if line.strip()]
    messages: dict[str, bytes] = {}
    for name in names:
        paths = [p for p in (folder / "rfc4475" / f"{name}.dat", folder / "rfc5118" / f"{name}.dat") if p.is_file()]
        assert len(paths) == 1, f"{name}: message file not found"
        messages[name] = Path(paths[0]).read_bytes()
    return messages


VIA_NAME = re.compile(rb"(?im)^(?:via|v)[ \t]*:")
# sent-protocol (any version, folding allowed around '/') then the sent-by host and optional port.
SENT_BY = re.compile(
    rb"SIP\s*/\s*[^/\s]+\s*/\s*(?P<transport>[!-~]+?)\s+(?P<sentby>\[[^\]\s]*\]|[^\s;:,\[]+)(?:\s*:\s*\d+)?"
)


def is_response(message: bytes) -> bool:
    return message.startswith(b"SIP/")


def point_via_at(message: bytes, port: int, host: str | None = None) -> bytes:
    """The message with its top Via's transport made UDP and its sent-by port ``port`` (and host ``host``)."""
    name = VIA_NAME.search(message)
    if name is None:
        return message
    value = name.end() + len(message[name.end() :]) - len(message[name.end() :].lstrip())
    match = SENT_BY.match(message, value)
    if match is None:
        return message
    sent_by = (host.encode() if host is not None else match.group("sentby")) + b":%d" % port
    message = message[: match.start("sentby")] + sent_by + message[match.end() :]
    return message[: match.start("transport")] + b"UDP" + message[match.end("transport") :]


def headers_of(message: bytes) -> list[tuple[str, str]]:
    head = message.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    lines = head.split("\r\n")[1:]
    fields: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
        elif ":" in line:
            name, _, value = line.partition(":")
            fields.append((name.strip(), value.strip()))
    return fields


COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length"}


@dataclass
class Reply:
    """One response as the test socket got it."""

    code: int
    raw: bytes
    fields: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes) -> Reply:
        first = data.split(b"\r\n", 1)[0].split()
        code = int(first[1]) if len(first) >= 2 and first[0] == b"SIP/2.0" and first[1].isdigit() else -1
        return cls(code, data, headers_of(data))

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.fields if COMPACT.get(n.lower(), n.lower()) == name.lower()]
        return ", ".join(values) if values else None

    @property
    def summary(self) -> str:
        return self.raw.split(b"\r\n", 1)[0].decode("utf-8", "replace")


def ack_for(reply: Reply, ua_port: int) -> bytes | None:
    """The ACK of a non-2xx final response to an INVITE (RFC 3261 17.1.1.3), or None if it can't be built."""
    via = next((v for n, v in reply.fields if COMPACT.get(n.lower(), n.lower()) == "via"), None)
    needed = {name: reply.header(name) for name in ("from", "to", "call-id", "cseq")}
    if via is None or any(v is None for v in needed.values()):
        return None
    cseq = (needed["cseq"] or "").split()
    if len(cseq) != 2 or cseq[1] != "INVITE":
        return None
    return (
        f"ACK sip:{HOST}:{ua_port} SIP/2.0\r\nVia: {via.split(',')[0]}\r\nMax-Forwards: 70\r\n"
        f"From: {needed['from']}\r\nTo: {needed['to']}\r\nCall-ID: {needed['call-id']}\r\n"
        f"CSeq: {cseq[0]} ACK\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def options(ua_port: int, test_port: int, tag: str) -> bytes:
    return (
        f"OPTIONS sip:user@{HOST}:{ua_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {HOST}:{test_port};branch=z9hG4bK-{tag}\r\n"
        f"Max-Forwards: 70\r\nTo: <sip:user@{HOST}>\r\nFrom: <sip:tester@{HOST}>;tag={tag}\r\n"
        f"Call-ID: {tag}@{HOST}\r\nCSeq: 1 OPTIONS\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n"
    ).encode()


# --- a UA on a loop of its own ----------------------------------------------------------------------


class ErrorLog(logging.Handler):
    """ERROR records of the softphone loggers: a handler that failed, a task that died."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class RunningUA:
    """A UserAgent on UDP 127.0.0.1 whose asyncio loop runs in a thread; the test drives it with blocking calls."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop_errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda loop, context: self.loop_errors.append(context))
        self.thread = threading.Thread(target=self.loop.run_forever, name="ua-loop", daemon=True)
        self.allowed_ports: set[int] = set()
        self.blocked: list[str] = []
        self.events: list[Any] = []
        self.uas: list[UserAgent] = []

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 5.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> UserAgent:
        self.thread.start()
        account = Account("sip:user@example.com", registrar="sip:127.0.0.1:9", register=False)
        # The other users the RFC 4475 messages are addressed to (a user the phone does not have gets 404).
        others = [
            Account(aor, register=False)
            for aor in (
                "sip:sips%3Auser%40example.com@example.net",
                "sip:user;par=u%40example.net@example.com",
                "sip:UserB@example.com",
            )
        ]

        async def make() -> UserAgent:
            ua = make_ua(account, *others, listen=[("UDP", HOST, 0)])
            await ua.start()
            return ua

        ua = self.run(make())
        self.uas.append(ua)
        ua.subscribe(self.events.append)
        self.fence(ua)
        return ua

    def fence(self, ua: UserAgent) -> None:
        """Let the UA send to the test's own ports on loopback only; record anything else and drop it."""
        manager = ua.stack.transport
        send_datagram = manager._send_datagram

        def guarded_send(endpoint: Any, data: bytes, target: Any, **kwargs: Any) -> None:
            if target.host != HOST or target.port not in self.allowed_ports:
                self.blocked.append(f"{target} {data[:60]!r}")
                return
            send_datagram(endpoint, data, target, **kwargs)

        async def guarded_connect(target: Any) -> Any:
            self.blocked.append(f"connection to {target}")
            raise TransportError(f"the test allows no connection to {target}", target)

        manager._send_datagram = guarded_send  # type: ignore[method-assign]
        manager._connection_to = guarded_connect  # type: ignore[method-assign]

    def calls(self, ua: UserAgent) -> list[Any]:
        async def get() -> list[Any]:
            return list(ua.calls)

        return self.run(get())

    def hang_up_all(self, ua: UserAgent) -> list[str]:
        async def hang_up() -> list[str]:
            ended = []
            for call in list(ua.calls):
                ended.append(call.sip_call_id)
                await ua.hangup(call.id)
            return ended

        return self.run(hang_up())

    def stop(self) -> None:
        try:
            for ua in reversed(self.uas):
                self.run(ua.stop(), timeout=10.0)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5.0)
            if not self.thread.is_alive():
                self.loop.close()


@pytest.fixture
def running() -> Iterator[tuple[RunningUA, UserAgent, ErrorLog]]:
    errors = ErrorLog()
    logger = logging.getLogger("softphone")
    logger.addHandler(errors)
    harness = RunningUA()
    try:
        ua = harness.start()
        yield harness, ua, errors
    finally:
        logger.removeHandler(errors)
        harness.stop()


def open_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    return sock


def receive(sock: socket.socket, deadline: float) -> Reply | None:
    """The next response on ``sock`` before ``deadline`` (monotonic), or None."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    sock.settimeout(remaining)
    try:
        data = sock.recv(65535)
    except TimeoutError:
        return None
    return Reply.parse(data)


def exchange(sock: socket.socket, ua_port: int, message: bytes, *, quiet: bool) -> list[Reply]:
    """Send ``message``; the responses until a final one or a 180/183 (or, if ``quiet``, all within QUIET s)."""
    sock.sendto(message, (HOST, ua_port))
    deadline = time.monotonic() + (QUIET if quiet else WAIT)
    replies: list[Reply] = []
    while (reply := receive(sock, deadline)) is not None:
        replies.append(reply)
        if not quiet and (reply.code >= 200 or reply.code in (180, 183) or reply.code < 0):
            break
    return replies


def barrier(sock: socket.socket, ua_port: int, port: int, tag: str) -> list[Reply]:
    """Send a valid OPTIONS and wait for its 200: the UA reads its socket in order, so what was sent before is handled.

    Returns the other responses that arrived meanwhile.
    """
    sock.sendto(options(ua_port, port, tag), (HOST, ua_port))
    deadline = time.monotonic() + 2.0
    others: list[Reply] = []
    while (reply := receive(sock, deadline)) is not None:
        if reply.code == 200 and tag in (reply.header("call-id") or ""):
            return others
        others.append(reply)
    pytest.fail(f"no 200 to a valid OPTIONS ({tag})")


def ua_port_of(ua: UserAgent) -> int:
    return ua.stack.transport.local_address("UDP")[1]


def assert_serves_options(harness: RunningUA, ua: UserAgent, tag: str) -> None:
    with open_socket() as sock:
        port = sock.getsockname()[1]
        harness.allowed_ports.add(port)
        replies = exchange(sock, ua_port_of(ua), options(ua_port_of(ua), port, tag), quiet=False)
    finals = [r for r in replies if r.code >= 200]
    assert finals and finals[0].code == 200, f"a valid OPTIONS got {[r.summary for r in replies] or 'no response'}"
    assert finals[0].header("allow"), "the 200 to OPTIONS has no Allow"


# --- test 1: the torture messages -------------------------------------------------------------------


def outcome_of(replies: list[Reply]) -> int | None:
    """The status that counts: the first final one, else a 180/183, else a 100 alone (100), else None."""
    for reply in replies:
        if reply.code >= 200 or reply.code < 0:
            return reply.code
    for reply in replies:
        if reply.code > 100:
            return reply.code
    return replies[0].code if replies else None


def test_torture_messages_get_the_rfc_answers(running: tuple[RunningUA, UserAgent, ErrorLog]) -> None:
    harness, ua, errors = running
    messages = torture_messages()
    assert set(messages) == set(EXPECTED), "the expectation table and the manifest disagree"
    ua_port = ua_port_of(ua)
    problems: list[str] = []
    outcomes: list[str] = []
    sockets: list[socket.socket] = []
    try:
        for name, original in messages.items():
            want = EXPECTED[name]
            variants = [original]
            if is_response(original):
                variants.append(point_via_at(original, ua_port, HOST))  # past the transport's Via check
            for variant in variants:
                sock = open_socket()
                sockets.append(sock)  # kept open to the end: late retransmissions land in a buffer, not an ICMP error
                port = sock.getsockname()[1]
                harness.allowed_ports.add(port)
                message = variant if is_response(variant) else point_via_at(variant, port)
                replies = exchange(sock, ua_port, message, quiet=NO_RESPONSE in want.codes and len(want.codes) == 1)
                got = outcome_of(replies)
                shown = replies[-1].summary if replies else "no response"
                outcomes.append(f"{name:30} {shown}")
                reply = next((r for r in replies if r.code == got), None)
                complaint = None
                if got not in want.codes:
                    complaint = f"got {shown!r}"
                elif reply is not None and want.allow and reply.header("allow") is None:
                    complaint = f"{reply.summary!r} has no Allow header"
                elif reply is not None and want.check is not None:
                    complaint = want.check(reply)
                if name == "dblreq" and complaint is None:
                    extra = _more(sock)
                    if extra:
                        complaint = f"the noise after the REGISTER was answered: {[r.summary for r in extra]}"
                # Clean up: decline any call the message started, and ACK final responses to INVITEs.
                for _ in harness.hang_up_all(ua):
                    replies += _until_final(sock)
                for r in replies:
                    if r.code >= 300 and (ack := ack_for(r, ua_port)) is not None:
                        sock.sendto(ack, (HOST, ua_port))
                if complaint is not None:
                    problems.append(f"{name}: {complaint}; expected {sorted(want.codes, key=str)} ({want.why})")
                left = harness.calls(ua)
                if left:
                    problems.append(f"{name}: calls left after hangup: {[c.state for c in left]}")
        # The UA still serves after all of it.
        assert_serves_options(harness, ua, "after-torture")
    finally:
        for sock in sockets:
            sock.close()
    print("\n".join(outcomes))
    assert not harness.blocked, f"the UA tried to send elsewhere than the test sockets: {harness.blocked}"
    assert not harness.loop_errors, f"unhandled exceptions on the UA's loop: {harness.loop_errors}"
    assert not errors.records, f"errors logged: {[r.getMessage() for r in errors.records]}"
    assert not problems, "answers that differ from the RFC's:\n" + "\n".join(problems)


def _more(sock: socket.socket) -> list[Reply]:
    """Responses within QUIET s to anything but the REGISTER (dblreq's noise is an INVITE)."""
    deadline = time.monotonic() + QUIET
    extra: list[Reply] = []
    while (reply := receive(sock, deadline)) is not None:
        if not (reply.header("cseq") or "").upper().endswith("REGISTER"):
            extra.append(reply)
    return extra


def _until_final(sock: socket.socket) -> list[Reply]:
    deadline = time.monotonic() + WAIT
    got: list[Reply] = []
    while (reply := receive(sock, deadline)) is not None:
        got.append(reply)
        if reply.code >= 200:
            break
    return got


# --- test 1b: what an attack run sends ---------------------------------------------------------------

HUGE = "9" * 5000  # int() refuses more than 4300 digits


def attack_options(port: int, tag: str, *, replace: tuple[str, str] | None = None, extra: str = "") -> bytes:
    message = options(0, port, tag).decode().replace(f"{HOST}:0 ", f"{HOST} ")
    if replace is not None:
        message = message.replace(*replace)
    return message.replace("Content-Length: 0\r\n", f"{extra}Content-Length: 0\r\n").encode()


def test_attack_messages_are_answered_without_tracebacks(running: tuple[RunningUA, UserAgent, ErrorLog]) -> None:
    """5,000-digit numbers get a 400, a client-written rport and a TCP Via get their answer over UDP to the
    datagram's source, 12,000 header fields are dropped at once; nothing logs an error and the UA goes on."""
    harness, ua, errors = running
    ua_port = ua_port_of(ua)
    cases: dict[str, tuple[Callable[[int], bytes], int | None]] = {
        "CSeq": (lambda p: attack_options(p, "cseq", replace=("CSeq: 1 ", f"CSeq: {HUGE} ")), 400),
        "Max-Forwards": (lambda p: attack_options(p, "mf", replace=("Max-Forwards: 70", f"Max-Forwards: {HUGE}")), 400),
        "Content-Length": (
            lambda p: attack_options(p, "cl", replace=("Content-Length: 0", f"Content-Length: {HUGE}")),
            400,
        ),
        "rport": (lambda p: attack_options(p, "rport", replace=(";branch", f";rport={HUGE};branch")), 200),
        "TCP Via": (lambda p: attack_options(p, "tcp", replace=("SIP/2.0/UDP", "SIP/2.0/TCP")), 200),
        "12,000 fields": (lambda p: attack_options(p, "fields", extra="a:\r\n" * 12_000), None),
    }
    problems = []
    for name, (build, want) in cases.items():
        with open_socket() as sock:
            port = sock.getsockname()[1]
            harness.allowed_ports.add(port)
            got = outcome_of(exchange(sock, ua_port, build(port), quiet=want is None))
            if got != want:
                problems.append(f"{name}: expected {want}, got {got}")
    assert_serves_options(harness, ua, "after-attack")
    assert not problems, problems
    assert not ua.stack.transport.connections, "a UDP request made the UA open a connection"
    assert not harness.blocked, f"the UA tried to send elsewhere than the test sockets: {harness.blocked}"
    assert not harness.loop_errors, f"unhandled exceptions on the UA's loop: {harness.loop_errors}"
    assert not errors.records, f"errors logged: {[r.getMessage() for r in errors.records]}"


def test_a_call_still_works_after_the_torture(running: tuple[RunningUA, UserAgent, ErrorLog]) -> None:
    """Torture messages, then a real call to the UA from a second UA on loopback (no server between them)."""
    harness, ua, errors = running
    ua_port = ua_port_of(ua)
    with open_socket() as sock:
        port = sock.getsockname()[1]
        harness.allowed_ports.add(port)
        for message in torture_messages().values():
            sock.sendto(message if is_response(message) else point_via_at(message, port), (HOST, ua_port))
        barrier(sock, ua_port, port, "after-blast")  # every message before it has been handled
        harness.hang_up_all(ua)
    caller_account = Account("sip:caller@127.0.0.1", registrar=f"sip:{HOST}:{ua_port}", register=False)

    async def make() -> UserAgent:
        caller = make_ua(caller_account, listen=[("UDP", HOST, 0)])
        await caller.start()
        return caller

    caller = harness.run(make())
    harness.uas.append(caller)
    harness.allowed_ports.add(ua_port_of(caller))
    seen: list[Any] = []
    caller.subscribe(seen.append)
    call = harness.run(caller.call(f"sip:user@{HOST}:{ua_port}"))

    def wait_for(predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 5.0
        while not predicate():
            assert time.monotonic() < deadline, f"{what}: events {seen}"
            time.sleep(0.01)

    def incoming() -> list[Any]:
        return [c for c in harness.calls(ua) if c.sip_call_id == call.sip_call_id]

    wait_for(lambda: any(c.state == "ringing" for c in incoming()), "the UA never rang")
    assert len(harness.calls(ua)) == 1, "calls of the torture messages are still there"
    harness.run(ua.answer(incoming()[0].id))
    wait_for(lambda: any(isinstance(e, CallEvent) and e.state == "confirmed" for e in seen), "never confirmed")
    harness.run(caller.hangup(call.id))
    wait_for(lambda: not harness.calls(ua), "the UA's call did not end")
    assert not harness.blocked, f"the UA tried to send elsewhere than the test sockets: {harness.blocked}"
    assert not harness.loop_errors, f"unhandled exceptions on the UA's loop: {harness.loop_errors}"
    assert not errors.records, f"errors logged: {[r.getMessage() for r in errors.records]}"


# --- test 2: garbage and mutants ------------------------------------------------------------------------

FUZZ_COUNT = 300
FUZZ_SEED = 4475


def mutate(rng: random.Random, message: bytes, keep: tuple[int, int]) -> bytes:
    """1-5 random edits (flip, insert, delete, duplicate a line, truncate, huge number) outside ``keep``."""
    head, body, tail = message[: keep[0]], message[keep[0] : keep[1]], message[keep[1] :]
    parts = [bytearray(head), bytearray(tail)]
    for _ in range(rng.randint(1, 5)):
        part = rng.choice(parts)
        if not part:
            continue
        at = rng.randrange(len(part))
        op = rng.randrange(7)
        if op == 0:
            part[at] = rng.randrange(256)
        elif op == 1:
            part[at:at] = rng.choice([b"\r\n", b"\x00", b":", b";", b",", b"<", b">", b'"', b" ", b"\r\n ", b"%", b"="])
        elif op == 2:
            del part[at : at + rng.randint(1, 40)]
        elif op == 3:
            start = part.rfind(b"\n", 0, at) + 1
            end = part.find(b"\n", at)
            line = part[start : (end + 1 if end >= 0 else len(part))]
            part[start:start] = line
        elif op == 4:
            del part[at:]
        elif op == 5:
            part[at:at] = str(rng.choice([2**32, 2**64, -1, 10**40, 0])).encode()
        else:
            part[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    return bytes(parts[0]) + body + bytes(parts[1])


def fuzz_datagrams(rng: random.Random, port: int) -> Iterator[bytes]:
    bases = []
    for message in torture_messages().values():
        if is_response(message):
            bases.append((message, (0, 0)))
            continue
        # The top Via names the test socket and carries rport, and the edits stay off it, so answers come back here.
        message = point_via_at(message, port)
        name = VIA_NAME.search(message)
        assert name is not None
        end = message.find(b"\r\n", name.end())
        message = message[:end] + b";rport" + message[end:]
        bases.append((message, (name.start() - 2, end + 8)))
    for index in range(FUZZ_COUNT):
        kind = index % 3
        if kind == 0:
            yield bytes(rng.randrange(256) for _ in range(rng.randint(0, 1400)))
        elif kind == 1:
            # Printable-ish noise that looks like a request, to get past the first line.
            words = [
                b"INVITE",
                b"OPTIONS",
                b"SIP/2.0",
                b"sip:",
                b"Via:",
                b"To:",
                b"CSeq:",
                b"\r\n",
                b" ",
                b";",
                b"@",
                b":",
            ]
            yield b"".join(rng.choice(words) for _ in range(rng.randint(1, 60)))
        else:
            base, keep = rng.choice(bases)
            yield mutate(rng, base, keep)


def test_garbage_does_not_break_the_ua(running: tuple[RunningUA, UserAgent, ErrorLog]) -> None:
    harness, ua, errors = running
    rng = random.Random(FUZZ_SEED)
    ua_port = ua_port_of(ua)
    with open_socket() as sock:
        port = sock.getsockname()[1]
        harness.allowed_ports.add(port)
        barriers = sent = answered = 0
        for index, datagram in enumerate(fuzz_datagrams(rng, port)):
            sent += 1
            sock.sendto(datagram, (HOST, ua_port))
            if index % 25 == 24:
                # A barrier every 25 datagrams: the UA reads its socket in order, so once this OPTIONS is
                # answered the datagrams before it have been handled (and none was lost to a full buffer).
                answered += len(barrier(sock, ua_port, port, f"barrier{index}"))
                barriers += 1
                harness.hang_up_all(ua)
    assert sent == FUZZ_COUNT and barriers == FUZZ_COUNT // 25
    assert answered > 0, "no mutated message was answered: the fuzzing never got past the parser"
    print(f"{sent} datagrams, {answered} responses to them, {len(harness.blocked)} sends fenced off")
    assert harness.thread.is_alive() and harness.loop.is_running(), "the UA's loop has stopped"
    assert_serves_options(harness, ua, "after-fuzz")
    harness.hang_up_all(ua)
    assert not harness.loop_errors, f"unhandled exceptions on the UA's loop: {harness.loop_errors}"
    assert not errors.records, f"errors logged: {[r.getMessage() for r in errors.records]}"

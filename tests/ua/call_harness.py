"""Driving a CallMachine without sockets or a loop: the peer's messages are built here, effects inspected."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from softphone.sip.addr import NameAddr
from softphone.sip.auth import DigestClient
from softphone.sip.message import Request, Response
from softphone.sip.parser import parse_message
from softphone.sip.transaction import ServerTransaction, TimerSettings, make_response
from softphone.sip.transaction_layer import TransactionLayer
from softphone.sip.uri import SipUri, parse_uri
from softphone.transport import Target
from softphone.ua.call_effects import (
    CallConfig,
    CallEffect,
    CallTimer,
    Emit,
    LocalParty,
    SendAck,
    SendRequest,
    SendResponse,
    StartTimer,
)
from softphone.ua.call_machine import CallMachine
from softphone.ua.call_state import CallPhase, ModifyTrigger, Trigger
from softphone.ua.capabilities import ALLOW
from softphone.ua.events import CallEvent, Event

TARGET = Target("UDP", "192.0.2.10", 5060)
OUR_CONTACT = NameAddr(uri=parse_uri("sip:alice@192.0.2.1:5070"))
PEER_CONTACT = "<sip:bob@192.0.2.20:5080>"
CALL_ID = "a84b4c76e66710@192.0.2.1"


def sdp(port: int = 42000, direction: str = "sendrecv", codecs: str = "0 101", version: int = 1) -> str:
    lines = [
        "v=0",
        f"o=- 7 {version} IN IP4 192.0.2.20",
        "s=-",
        "c=IN IP4 192.0.2.20",
        "t=0 0",
        f"m=audio {port} RTP/AVP {codecs}",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        f"a={direction}",
    ]
    return "\r\n".join(lines) + "\r\n"


class TracedMachine(CallMachine):
    """A CallMachine that records every transition of both tables."""

    def __init__(self, **kwargs: object) -> None:
        self.trace: list[tuple[object, object, object]] = []
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def go(self, trigger: Trigger) -> None:
        before = self.phase
        super().go(trigger)
        self.trace.append((before, trigger, self.phase))

    def go_modify(self, trigger: ModifyTrigger) -> None:
        before = self.modify
        super().go_modify(trigger)
        self.trace.append((before, trigger, self.modify))


def new_machine(direction: str, **config: object) -> TracedMachine:
    options: dict[str, object] = {"allow": ALLOW, "t1": 0.5, "t2": 4.0}
    options.update(config)
    video_port = options.pop("video_port", 0)
    local = LocalParty(
        uri=parse_uri("sip:alice@example.com"),  # type: ignore[arg-type]
        display_name="Alice",
        outbound_proxy=None,
        digest=DigestClient("alice", "secret"),
    )
    return TracedMachine(
        id="c1",
        call_id=CALL_ID,
        local_tag="ltag",
        direction=direction,
        local=local,
        remote=NameAddr(uri=parse_uri("sip:bob@example.com")),
        config=CallConfig(**options),  # type: ignore[arg-type]
        media_host="192.0.2.1",
        media_port=40000,
        contact_for=lambda target: OUR_CONTACT,
        rng=random.Random(7),
        video_port=video_port,  # type: ignore[arg-type]
    )


# --- reading effects ---------------------------------------------------------------------


def requests(effects: Sequence[CallEffect], method: str | None = None) -> list[Request]:
    return [e.request for e in effects if isinstance(e, SendRequest) and (method is None or e.request.method == method)]


def request(effects: Sequence[CallEffect], method: str) -> Request:
    found = requests(effects, method)
    assert len(found) == 1, f"expected one {method} in {effects}"
    return found[0]


def responses(effects: Sequence[CallEffect]) -> list[Response]:
    return [e.response for e in effects if isinstance(e, SendResponse)]


def codes(effects: Sequence[CallEffect]) -> list[int]:
    return [r.status_code for r in responses(effects)]


def acks(effects: Sequence[CallEffect]) -> list[Request]:
    return [e.ack for e in effects if isinstance(e, SendAck)]


def events(effects: Sequence[CallEffect]) -> list[Event]:
    return [e.event for e in effects if isinstance(e, Emit)]


def states(effects: Sequence[CallEffect]) -> list[str]:
    return [e.state for e in events(effects) if isinstance(e, CallEvent)]


def timers(effects: Sequence[CallEffect]) -> dict[CallTimer, float]:
    return {e.timer: e.delay for e in effects if isinstance(e, StartTimer)}


def of_type(effects: Sequence[CallEffect], kind: type) -> list[CallEffect]:
    return [e for e in effects if isinstance(e, kind)]


# --- an outgoing call ------------------------------------------------------------------------


class Uac:
    """Our outgoing call and the callee's side, played by the test."""

    def __init__(self, **config: object) -> None:
        self.m = new_machine("outgoing", **config)
        self.effects = self.m.dial([TARGET])
        self.invite = request(self.effects, "INVITE")

    def respond(
        self,
        code: int,
        tag: str | None = "btag",
        *,
        body: str = "",
        headers: Sequence[tuple[str, str]] = (),
        to: Request | None = None,
    ) -> list[CallEffect]:
        sent = to if to is not None else self.invite
        fields = [("Contact", PEER_CONTACT)] if 100 < code < 300 else []
        fields += list(headers)
        if body:
            fields.append(("Content-Type", "application/sdp"))
        response = make_response(sent, code, to_tag=tag if code > 100 else None, headers=fields, body=body.encode())
        effects = self.m.receive_response(sent, response)
        invites = requests(effects, "INVITE")
        if invites and to is None:
            self.invite = invites[-1]
        return effects

    def answer(self, tag: str = "btag", **kwargs: object) -> list[CallEffect]:
        return self.respond(200, tag, body=sdp(), **kwargs)  # type: ignore[arg-type]

    def peer_request(self, method: str, cseq: int, *, tag: str = "btag", body: str = "", extra: str = "") -> Request:
        return peer_request(method, cseq, from_tag=tag, to_tag="ltag", body=body, extra=extra, uac=True)


# --- an incoming call ----------------------------------------------------------------------


@dataclass
class Uas:
    """An incoming call: the caller's side played by the test, through a real transaction layer."""

    offer: str = field(default_factory=sdp)
    extra: str = ""
    config: dict[str, object] = field(default_factory=dict)
    reliable: bool = False

    def __post_init__(self) -> None:
        self.m = new_machine("incoming", **self.config)
        self.layer = TransactionLayer(TimerSettings())
        self.invite = peer_request("INVITE", 1, from_tag="ptag", body=self.offer, extra=self.extra)
        self.tx = self.server(self.invite)
        self.effects = self.m.incoming(self.invite, self.tx, OUR_CONTACT)

    def server(self, message: Request) -> ServerTransaction:
        return self.layer.create_server(message, 0.0, reliable=self.reliable, destination=None)

    def send(self, message: Request) -> list[CallEffect]:
        if message.method == "ACK":
            return self.m.receive_request(message, None)
        return self.m.receive_request(message, self.server(message))

    def request(self, method: str, cseq: int, *, body: str = "", extra: str = "") -> Request:
        return peer_request(method, cseq, from_tag="ptag", to_tag="ltag", body=body, extra=extra)

    def ack(self, cseq: int = 1, body: str = "") -> list[CallEffect]:
        return self.send(self.request("ACK", cseq, body=body))

    def cancel(self) -> list[CallEffect]:
        cancel = peer_request("CANCEL", 1, from_tag="ptag", branch=self.invite.via.branch)
        return self.m.receive_cancel(self.server(cancel))

    def answered(self) -> list[CallEffect]:
        effects = self.m.answer()
        assert self.m.phase is CallPhase.ACCEPTED
        return effects


def peer_request(
    method: str,
    cseq: int,
    *,
    from_tag: str,
    to_tag: str | None = None,
    body: str = "",
    extra: str = "",
    branch: str | None = None,
    uac: bool = False,
) -> Request:
    """A request of the peer, as it would arrive (``uac``: in the dialog of our outgoing call)."""
    if uac:
        sender, receiver = "<sip:bob@example.com>", "<sip:alice@example.com>"
    else:
        sender, receiver = "<sip:carol@example.org>", "<sip:alice@example.com>"
    to = receiver + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} sip:alice@192.0.2.1:5070 SIP/2.0",
        f"Via: SIP/2.0/UDP 192.0.2.20:5080;branch={branch or 'z9hG4bK' + method.lower() + str(cseq)}",
        "Max-Forwards: 70",
        f"From: {sender};tag={from_tag}",
        f"To: {to}",
        f"Call-ID: {CALL_ID}",
        f"CSeq: {cseq} {method}",
        f"Contact: {PEER_CONTACT}",
    ]
    if extra:
        lines += extra.strip("\r\n").split("\r\n")
    if body:
        content_type = "application/sdp" if body.startswith("v=0") else "application/dtmf-relay"
        if method == "NOTIFY":
            content_type = "message/sipfrag;version=2.0"
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body.encode())}")
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n" + body).encode())
    assert isinstance(message, Request)
    return message


def sip_uri(text: str) -> SipUri:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    return uri

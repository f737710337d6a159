"""Transfer in both roles (RFC 3515 REFER, RFC 3891 Replaces, RFC 3892 Referred-By) and INFO DTMF."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.transaction import ServerTransaction
from softphone.sip.uri import SipUri
from softphone.ua.call_effects import CallTimer, PlaceCall, Purpose
from softphone.ua.call_state import Trigger
from softphone.ua.events import DtmfEvent, TransferEvent

if TYPE_CHECKING:
    from softphone.ua.call_machine import CallMachine

__all__ = [
    "DTMF_DIGITS",
    "DTMF_RELAY",
    "SIPFRAG",
    "TRANSFER_BYE_GRACE",
    "Transfers",
    "dtmf_digit",
    "escape_header",
    "refer_notify",
    "sipfrag_status",
]

DTMF_RELAY = "application/dtmf-relay"
DTMF_DIGITS = frozenset("0123456789*#ABCDabcd")
SIPFRAG = "message/sipfrag"
# How long a transferor waits for the transferee's BYE after a successful transfer.
TRANSFER_BYE_GRACE = 2.0


class Transfers:
    """REFER and its NOTIFYs inside the call's dialog, as transferor and as transferee; INFO both ways."""

    def __init__(self, machine: CallMachine) -> None:
        self.m = machine
        # As transferor: whom we referred the peer to (for the events).
        self.shown = ""

    # --- transferor ------------------------------------------------------------------------

    def refer(self, op: int, refer_to: str, shown: str) -> None:
        m = self.m
        if not m.answered:
            m.complete(op, f"call {m.id} is not established")
            return
        m.emit(TransferEvent(m.id, "trying", None, shown))
        self.shown = shown
        headers = [("Refer-To", refer_to), ("Referred-By", f"<{m.local.uri}>")]
        if m.send_in_dialog("refer", "REFER", op=op, headers=headers) is None:
            m.emit(TransferEvent(m.id, "failed", None, shown))
            m.complete(op)

    def response(self, purpose: Purpose, response: Response) -> None:
        m = self.m
        code = response.status_code
        if purpose.kind == "notify-final":
            self.hang_up_transferred()
        elif purpose.kind == "refer":
            m.emit(TransferEvent(m.id, "failed" if code >= 300 else "accepted", code, self.shown))
            m.complete(purpose.op)
        elif code >= 300:
            m.complete(purpose.op, f"refused ({code})", code)
        else:
            m.complete(purpose.op)

    def _notify(self, request: Request, tx: ServerTransaction) -> None:
        m = self.m
        event = request.event
        if event is None or event.package.lower() != "refer":
            m.reply(tx, 489)
            return
        m.reply(tx, 200)
        code = sipfrag_status(request.body)
        if code is None:
            return
        if code < 200:
            m.emit(TransferEvent(m.id, "progress", code, self.shown))
        elif code < 300:
            m.emit(TransferEvent(m.id, "succeeded", code, self.shown))
            # RFC 5589 6.1: the transferee ends the old call; if it does not, we do.
            if not m.ended:
                m.start_timer(CallTimer.TRANSFER_BYE, TRANSFER_BYE_GRACE)
        else:
            m.emit(TransferEvent(m.id, "failed", code, self.shown))

    def bye_timer(self) -> None:
        self.hang_up_transferred()

    def hang_up_transferred(self) -> None:
        m = self.m
        if m.can(Trigger.HANGUP) and m.answered:
            m.bye()
            m.end(Trigger.HANGUP, None, "transferred")

    # --- transferee ------------------------------------------------------------------------

    def _refer(self, request: Request, tx: ServerTransaction) -> None:
        m = self.m
        try:
            refer_to = request.refer_to
        except SipParseError:
            refer_to = None
        if refer_to is None or not isinstance(refer_to.uri, SipUri):
            m.reply(tx, 400, "Missing or unusable Refer-To")
            return
        m.reply(tx, 202)
        uri = refer_to.uri
        m.emit(TransferEvent(m.id, "requested", None, str(uri.replace(headers=[]))))
        self._send_notify("100 Trying", active=True)
        m.add(PlaceCall(uri.replace(headers=[]), referred_headers(uri, request.headers.get("Referred-By"))))

    def outcome(self, succeeded: bool, code: int | None, reason: str, target: str | None) -> None:
        """RFC 3515 2.4.5: the final NOTIFY; a transfer that worked ends the referred call.

        ``target`` None: the new call could not even be placed (no event then).
        """
        m = self.m
        status = "200 OK" if succeeded else f"{code or 500} {reason or 'Failed'}"
        sent = self._send_notify(status, active=False, final=succeeded)
        if target is not None:
            if succeeded:
                # The BYE follows the answer to that NOTIFY, or the grace period: the transferor must
                # hear that the transfer worked before the call ends (RFC 5589 6.1).
                if sent:
                    m.start_timer(CallTimer.TRANSFER_BYE, TRANSFER_BYE_GRACE)
                else:
                    self.hang_up_transferred()
            m.emit(TransferEvent(m.id, "succeeded" if succeeded else "failed", 200 if succeeded else code, target))

    def _send_notify(self, status: str, *, active: bool, final: bool = False) -> bool:
        headers, body, content_type = refer_notify(status, active=active)
        kind = "notify-final" if final else "notify"
        request = self.m.send_in_dialog(kind, "NOTIFY", body=body, content_type=content_type, headers=headers)
        return request is not None

    # --- INFO --------------------------------------------------------------------------------

    def send_info(self, op: int, body: bytes, content_type: str) -> None:
        m = self.m
        if m.send_in_dialog("info", "INFO", op=op, body=body, content_type=content_type) is None:
            m.complete(op, "could not be sent")

    def _info(self, request: Request, tx: ServerTransaction) -> None:
        m = self.m
        digit = dtmf_digit(request)
        if digit is None:
            m.reply(tx, 200 if not request.body else 415, headers=[("Accept", DTMF_RELAY)])
            return
        m.reply(tx, 200)
        m.emit(DtmfEvent(m.id, digit, "info"))

    def request(self, request: Request, tx: ServerTransaction) -> None:
        method = request.method
        if method == "INFO":
            self._info(request, tx)
        elif method == "REFER":
            self._refer(request, tx)
        else:
            self._notify(request, tx)


def refer_notify(status: str, *, active: bool) -> tuple[list[tuple[str, str]], bytes, str]:
    """The headers, body and Content-Type of a NOTIFY reporting a REFER's progress (RFC 3515 2.4.5)."""
    state = "active;expires=60" if active else "terminated;reason=noresource"
    headers = [("Event", "refer"), ("Subscription-State", state)]
    return headers, f"SIP/2.0 {status}\r\n".encode(), SIPFRAG + ";version=2.0"


def referred_headers(uri: SipUri, referred_by: str | None) -> tuple[tuple[str, str], ...]:
    """The headers of the INVITE a REFER asks for: its Refer-To's Replaces, and Referred-By (RFC 3892 3)."""
    extra: list[tuple[str, str]] = []
    for name, value in uri.headers:
        if name.lower() == "replaces":
            extra.append(("Replaces", unquote(value)))
    if referred_by is not None:
        extra.append(("Referred-By", referred_by))
    return tuple(extra)


def dtmf_digit(request: Request) -> str | None:
    text = request.body.decode("utf-8", "replace")
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name.strip().lower() == "signal":
            digit = value.strip()
            if len(digit) == 1 and digit in DTMF_DIGITS:
                return digit.upper()
    content_type = request.content_type
    if content_type is not None and content_type.mime.lower() == "application/dtmf":
        digit = text.strip()
        if len(digit) == 1 and digit in DTMF_DIGITS:
            return digit.upper()
    return None


def sipfrag_status(body: bytes) -> int | None:
    first = body.decode("utf-8", "replace").split("\r\n", 1)[0].split("\n", 1)[0].split()
    if len(first) >= 2 and first[0].upper().startswith("SIP/") and first[1].isdigit() and len(first[1]) == 3:
        return int(first[1])
    return None


def escape_header(value: str) -> str:
    """``value`` escaped for a header parameter of a SIP URI (RFC 3261 19.1.1)."""
    out = []
    for char in value:
        if char.isalnum() or char in "-_.!~*'()[]/:+$":
            out.append(char)
        else:
            out.append("".join(f"%{b:02X}" for b in char.encode()))
    return "".join(out)

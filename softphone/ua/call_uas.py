"""Their INVITE (RFC 3261 13.3): ringing, reliable provisionals (RFC 3262 3), answer, CANCEL, 2xx until ACK."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from softphone.sip import rel100
from softphone.sip.addr import NameAddr
from softphone.sip.dialog import Dialog
from softphone.sip.errors import SipParseError
from softphone.sip.headers import RAck
from softphone.sip.message import Request, Response
from softphone.sip.offer_answer import (
    NegotiatedMedia,
    create_answer,
    create_offer,
    negotiate_answer,
    refusal_reason,
)
from softphone.sip.sdp import SessionDescription, parse_sdp
from softphone.sip.transaction import ServerTransaction, make_response
from softphone.ua.call_effects import CallTimer
from softphone.ua.call_state import CallPhase, Modify, Trigger
from softphone.ua.events import IncomingCallEvent
from softphone.ua.session_timer import UasDecision, uas_decide

if TYPE_CHECKING:
    from softphone.ua.call_machine import CallMachine

__all__ = ["UasInvite", "identity", "record_routes"]

log = logging.getLogger("softphone.ua")

SDP = "application/sdp"
RINGING_PHASES = (CallPhase.INCOMING, CallPhase.INCOMING_EARLY)
_RING_TIMERS = (CallTimer.AUTO_ANSWER, CallTimer.FORWARD, CallTimer.RING_TIMEOUT)


class UasInvite:
    """The INVITE we received: from the first ring to the ACK of our 2xx (also the 2xx of re-INVITEs)."""

    def __init__(self, machine: CallMachine) -> None:
        self.m = machine
        self.tx: ServerTransaction | None = None
        self.invite: Request | None = None
        self.contact: NameAddr | None = None
        self.decision: UasDecision | None = None
        self.forward_to: str | None = None
        # RFC 3262 3: whether our provisionals are reliable, the last RSeq, and the one awaiting PRACK.
        self.reliable = False
        self.rseq = 0
        self.unacked: Response | None = None
        self._interval_1xx = 0.0
        # An INVITE without an offer: ours goes in the 2xx (or a reliable 1xx) and the answer in the ACK (or PRACK).
        self.offered_in_response = False
        # A 2xx of ours (to the INVITE or a re-INVITE) sent again until its ACK (RFC 3261 13.3.1.4).
        self.pending_tx: ServerTransaction | None = None
        self.pending_2xx: Response | None = None
        self._interval_2xx = 0.0

    # --- their INVITE ---------------------------------------------------------------------

    def incoming(
        self,
        request: Request,
        tx: ServerTransaction,
        contact: NameAddr,
        *,
        auto_answer: float | None,
        forward: tuple[float, str] | None,
        ring_timeout: float | None,
    ) -> None:
        m = self.m
        self.tx, self.invite, self.contact = tx, request, contact
        m.photo_url, m.asserted_identity = identity(request)
        if not self._accept(request, tx):
            return
        m.go(Trigger.INVITE_RECEIVED)
        m.reply(tx, 100)
        if not request.contacts:
            # RFC 2543 let a caller leave Contact out: its From address is then the remote target.
            request.headers.add("Contact", f"<{request.from_.uri}>")
        m.dialog = Dialog.from_uas(request, m.local_tag, contact, early=True)
        m.learn_allow(request)
        if m.config.early_media and m.local_sdp is not None:
            self._provisional(183, m.local_sdp.to_bytes())
            m.go(Trigger.EARLY_MEDIA_SENT)
        else:
            self._provisional(180)
        video = m.local_sdp is not None and any(d.media == "video" and d.port != 0 for d in m.local_sdp.media)
        m.emit(
            IncomingCallEvent(
                m.id, str(m.remote.uri), m.remote.display_name, m.photo_url, m.asserted_identity, video=video
            )
        )
        m.emit_state()
        m.sync_media()
        if auto_answer is not None:
            m.start_timer(CallTimer.AUTO_ANSWER, auto_answer)
        if forward is not None:
            self.forward_to = forward[1]
            m.start_timer(CallTimer.FORWARD, forward[0])
        if ring_timeout is not None:
            m.start_timer(CallTimer.RING_TIMEOUT, ring_timeout)

    def _accept(self, request: Request, tx: ServerTransaction) -> bool:
        """Check the INVITE and answer its offer; refuse it (ending the call unannounced) when it can't be taken."""
        m = self.m
        config = m.config
        peer_requires = rel100.requires_100rel(request)
        if config.rel100 == "required" and not rel100.supports_100rel(request):
            # RFC 3262 3: a UAS that insists on reliable provisionals refuses a caller without 100rel.
            return self._refuse(tx, 421, headers=[("Require", rel100.OPTION_TAG)])
        self.reliable = config.rel100 != "off" and (
            peer_requires or (rel100.supports_100rel(request) and (config.rel100 == "required" or config.early_media))
        )
        decision = uas_decide(request, preferred=config.session_expires, minimum=config.min_se)
        if decision.too_small is not None:
            return self._refuse(tx, 422, headers=decision.headers)
        self.decision = decision
        if request.body:
            try:
                offer = parse_sdp(request.body)
            except SipParseError as exc:
                return self._refuse(tx, 400, f"Bad SDP - {str(exc)[:80]}")
            answer, media = self.answer_sdp(offer, session_id=m.rng.randrange(1, 2**31), version=1)
            if media is None:
                return self.refuse_offer(tx, offer)
            m.remote_sdp, m.local_sdp, m.media = offer, answer, media
        return True

    def refuse_offer(self, tx: ServerTransaction, offer: SessionDescription) -> bool:
        """488 for an offer with nothing we can take, saying why in a Warning (RFC 3261 20.43)."""
        why = refusal_reason(offer, self.m.config.audio)
        response = make_response(tx.request, 488, headers=[("Warning", warning(why))])
        self.m.respond(tx, response)
        self.m.end(Trigger.REFUSED, 488, why)
        return False

    def _refuse(
        self, tx: ServerTransaction, code: int, reason: str | None = None, headers: list[tuple[str, str]] | None = None
    ) -> bool:
        response = make_response(tx.request, code, reason, headers=headers)
        self.m.respond(tx, response)
        self.m.end(Trigger.REFUSED, code, response.reason)
        return False

    def answer_sdp(
        self, offer: SessionDescription, *, session_id: int, version: int
    ) -> tuple[SessionDescription, NegotiatedMedia | None]:
        m = self.m
        crypto = m.media.crypto if m.media is not None else None
        answer, media = create_answer(
            offer,
            m.config.audio,
            address=m.media_host,
            port=m.media_port,
            session_id=session_id,
            session_version=version,
            direction="sendonly" if m.local_hold else "sendrecv",
            dtls_role=crypto.dtls_role if crypto is not None else None,
        )
        return (m.answer_with_video(offer, answer) if media is not None else answer), media

    def _provisional(self, code: int, body: bytes = b"") -> None:
        m = self.m
        tx, invite, contact = self.tx, self.invite, self.contact
        assert tx is not None and invite is not None and contact is not None
        headers = [*record_routes(invite), ("Contact", str(contact)), *m.common_headers()]
        if self.reliable:
            self.rseq = self.rseq + 1 if self.rseq else m.rng.randrange(1, 2**31)
            headers += [("Require", rel100.OPTION_TAG), ("RSeq", str(self.rseq))]
        if body:
            headers.append(("Content-Type", SDP))
        response = make_response(invite, code, to_tag=m.local_tag, headers=headers, body=body)
        m.respond(tx, response)
        if self.reliable:
            self.unacked = response
            self._interval_1xx = m.config.t1
            if not tx.reliable:
                m.start_timer(CallTimer.RETRANSMIT_1XX, self._interval_1xx)
            m.start_timer(CallTimer.PRACK_WAIT, 64 * m.config.t1)

    def _acked_1xx(self) -> None:
        self.unacked = None
        self.m.stop_timer(CallTimer.RETRANSMIT_1XX)
        self.m.stop_timer(CallTimer.PRACK_WAIT)

    # --- user commands and timers ----------------------------------------------------------

    def answer(self) -> None:
        m = self.m
        if m.phase not in RINGING_PHASES:
            return
        for timer in _RING_TIMERS:
            m.stop_timer(timer)
        if self.unacked is not None and self.unacked.body:
            # RFC 3262 3: no 2xx while a reliable provisional with SDP awaits its PRACK.
            m.go(Trigger.AWAIT_PRACK)
            return
        self._send_2xx(Trigger.ANSWER)

    def _send_2xx(self, trigger: Trigger) -> None:
        m = self.m
        tx, invite, dialog = self.tx, self.invite, m.dialog
        assert tx is not None and invite is not None and dialog is not None
        if m.local_sdp is None:
            # An INVITE without an offer: we offer in the 200, the answer comes in the ACK (RFC 3264 4).
            m.local_sdp = m.with_video(
                create_offer(
                    m.config.audio,
                    address=m.media_host,
                    port=m.media_port,
                    session_id=m.rng.randrange(1, 2**31),
                    session_version=1,
                )
            )
            self.offered_in_response = True
        response = make_response(
            invite,
            200,
            to_tag=m.local_tag,
            headers=[
                *record_routes(invite),
                ("Contact", str(dialog.local_contact)),
                *m.common_headers(),
                *(self.decision.headers if self.decision is not None else []),
                ("Content-Type", SDP),
            ],
            body=m.local_sdp.to_bytes(),
        )
        dialog.send_response(response)
        self._acked_1xx()
        self.send_2xx(tx, response)
        m.advance(trigger)
        m.sync_media()
        m.start_session_timer(self.decision.timer if self.decision is not None else None)

    def send_2xx(self, tx: ServerTransaction, response: Response) -> None:
        """RFC 3261 13.3.1.4: the 2xx goes again at T1, 2T1 ... T2 until the ACK comes, for 64*T1 at most."""
        m = self.m
        m.respond(tx, response)
        self.pending_tx, self.pending_2xx = tx, response
        self._interval_2xx = m.config.t1
        if not tx.reliable:
            m.start_timer(CallTimer.RETRANSMIT_2XX, self._interval_2xx)
        m.start_timer(CallTimer.ACK_WAIT, 64 * m.config.t1)

    def final(self, code: int, reason: str | None = None, headers: list[tuple[str, str]] | None = None) -> Response:
        """A final non-2xx response to the INVITE (decline, CANCEL, forward, timeouts)."""
        m = self.m
        tx = self.tx
        assert tx is not None
        response = make_response(tx.request, code, reason, to_tag=m.local_tag, headers=headers)
        if m.dialog is not None:
            m.dialog.send_response(response)
        m.respond(tx, response)
        self._acked_1xx()
        return response

    def decline(self, code: int) -> None:
        if self.m.phase not in (*RINGING_PHASES, CallPhase.ANSWERING):
            return
        response = self.final(code)
        self.m.end(Trigger.DECLINE, code, response.reason)

    def cancelled(self) -> None:
        if self.m.phase in (*RINGING_PHASES, CallPhase.ANSWERING):
            self.final(487)
            self.m.end(Trigger.CANCEL_RECEIVED, 487, "cancelled")

    def ring_timer(self, timer: CallTimer) -> None:
        m = self.m
        if m.phase not in RINGING_PHASES:
            return
        if timer is CallTimer.AUTO_ANSWER:
            self.answer()
        elif timer is CallTimer.FORWARD and self.forward_to is not None:
            self.final(302, headers=[("Contact", f"<{self.forward_to}>")])
            m.end(Trigger.DECLINE, 302, "forwarded")
        elif timer is CallTimer.RING_TIMEOUT:
            self.final(480, "No Answer")
            m.end(Trigger.DECLINE, 480, "no answer")

    # --- PRACK (RFC 3262 3) -------------------------------------------------------------

    def prack(self, request: Request, tx: ServerTransaction) -> None:
        m = self.m
        invite = self.invite
        try:
            rack = request.rack
        except SipParseError as exc:
            m.reply(tx, 400, f"Bad RAck - {str(exc)[:60]}")
            return
        unacked = self.unacked
        if rack is None or unacked is None or invite is None or rack != RAck(self.rseq, invite.cseq.seq, "INVITE"):
            m.reply(tx, 481)
            return
        self._acked_1xx()
        body: bytes | None = b""
        if request.body:
            body = self._prack_sdp(request, tx)
            if body is None:
                return
        headers = [("Content-Type", SDP)] if body else []
        m.respond(tx, make_response(request, 200, headers=headers, body=body or b""))
        if m.phase is CallPhase.ANSWERING:
            self._send_2xx(Trigger.PRACK_RECEIVED)

    def _prack_sdp(self, request: Request, tx: ServerTransaction) -> bytes | None:
        """The SDP of a PRACK: the answer to our offer in the reliable 1xx, or a new offer answered in the 200."""
        m = self.m
        try:
            sdp = parse_sdp(request.body)
            if self.offered_in_response and m.remote_sdp is None:
                assert m.local_sdp is not None
                m.media = negotiate_answer(m.local_sdp, sdp, m.config.audio)
                m.remote_sdp = sdp
                m.sync_media()
                return b""
        except SipParseError as exc:
            m.reply(tx, exc.status_code if exc.status_code != 400 else 488, str(exc)[:80])
            return None
        answer = m.session.answer_offer(sdp)
        if answer is None:
            m.reply(tx, 488)
            return None
        m.sync_media()
        return answer.to_bytes()

    def prack_timer(self, timer: CallTimer) -> None:
        m = self.m
        unacked, tx = self.unacked, self.tx
        if unacked is None or tx is None or m.phase not in (*RINGING_PHASES, CallPhase.ANSWERING):
            return
        if timer is CallTimer.RETRANSMIT_1XX:
            m.respond(tx, unacked)
            self._interval_1xx *= 2
            m.start_timer(CallTimer.RETRANSMIT_1XX, self._interval_1xx)
        else:
            # RFC 3262 3: no PRACK within 64*T1: the INVITE is refused with a 5xx.
            self.final(504, "No PRACK")
            m.end(Trigger.PRACK_TIMEOUT, 504, "no PRACK")

    # --- the ACK of our 2xx -----------------------------------------------------------------

    def ack(self, request: Request) -> None:
        m = self.m
        pending = self.pending_2xx
        if pending is None or request.cseq.seq != pending.cseq.seq:
            return
        self.stop_2xx()
        if m.phase is CallPhase.BYE_PENDING:
            m.bye()
            m.end(Trigger.ACK_RECEIVED, m.code, m.reason)
            return
        if m.phase is not CallPhase.ACCEPTED:
            return
        m.go(Trigger.ACK_RECEIVED)
        if request.body and m.remote_sdp is None and m.local_sdp is not None:
            try:
                answer = parse_sdp(request.body)
                m.media = negotiate_answer(m.local_sdp, answer, m.config.audio)
                m.remote_sdp = answer
            except SipParseError as exc:
                log.info("bad SDP answer in the ACK of %s: %s", m.id, exc)
                m.bye()
                m.end(Trigger.HANGUP, 488, "bad SDP in ACK")
                return
            m.remote_hold = bool(m.media is not None and m.media.on_hold)
            m.emit_state()
            m.sync_media()

    def stop_2xx(self) -> None:
        self.pending_2xx = self.pending_tx = None
        self.m.stop_timer(CallTimer.RETRANSMIT_2XX)
        self.m.stop_timer(CallTimer.ACK_WAIT)

    def ack_timer(self, timer: CallTimer) -> None:
        m = self.m
        tx, pending = self.pending_tx, self.pending_2xx
        if tx is None or pending is None:
            return
        if timer is CallTimer.RETRANSMIT_2XX:
            m.respond(tx, pending)
            self._interval_2xx = min(self._interval_2xx * 2, m.config.t2)
            m.start_timer(CallTimer.RETRANSMIT_2XX, self._interval_2xx)
            return
        log.info("call %s: no ACK for our 2xx; ending it", m.id)
        self.stop_2xx()
        m.bye()
        if m.modify is Modify.REINVITED:
            m.session.ack_timeout()
        elif m.phase is CallPhase.BYE_PENDING:
            m.end(Trigger.ACK_TIMEOUT, m.code, m.reason)
        elif m.phase is CallPhase.ACCEPTED:
            m.end(Trigger.ACK_TIMEOUT, 408, "no ACK")


def warning(text: str) -> str:
    """A Warning header value (RFC 3261 20.43: 399 is a miscellaneous warning) with ``text`` made safe to quote."""
    safe = "".join(ch for ch in text if ch.isprintable() and ch not in '"\\')[:120]
    return f'399 softphone "{safe}"'


def record_routes(request: Request) -> list[tuple[str, str]]:
    # RFC 3261 12.1.1: a UAS copies Record-Route into the responses that make a dialog.
    return [("Record-Route", value) for value in request.headers.get_all("Record-Route")]


def identity(request: Request) -> tuple[str | None, str | None]:
    """The caller's photo (Call-Info purpose=icon) and P-Asserted-Identity, when present and readable."""
    photo = asserted = None
    try:
        for info in request.call_info:
            if info.purpose == "icon":
                photo = info.uri
                break
    except SipParseError:
        pass
    try:
        identities = request.asserted_identities
        if identities:
            first = identities[0]
            asserted = str(first.uri) if first.display_name is None else f"{first.display_name} <{first.uri}>"
    except SipParseError:
        pass
    return photo, asserted

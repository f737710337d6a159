"""Our INVITE (RFC 3261 13.2): CANCEL, digest, redirection, failover, forks and PRACK (RFC 3262 4)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from softphone.sip import rel100
from softphone.sip.addr import NameAddr
from softphone.sip.dialog import Dialog, DialogSet, ForkedAnswer, via_placeholder
from softphone.sip.errors import SipParseError
from softphone.sip.headers import RAck
from softphone.sip.message import Request, Response
from softphone.sip.offer_answer import create_offer, negotiate_answer
from softphone.sip.sdp import parse_sdp
from softphone.sip.transaction import is_failover, make_cancel, new_branch
from softphone.sip.uri import AbsoluteUri
from softphone.transport import Target
from softphone.ua.call_effects import Purpose, SendAck
from softphone.ua.call_state import CallPhase, Trigger
from softphone.ua.session_timer import min_se, uac_headers, uac_result

if TYPE_CHECKING:
    from softphone.ua.call_machine import CallMachine

__all__ = ["MAX_REDIRECTS", "UacInvite"]

log = logging.getLogger("softphone.ua")

MAX_REDIRECTS = 5
SDP = "application/sdp"
_WAITING = (CallPhase.CALLING, CallPhase.RINGING, CallPhase.EARLY)


class UacInvite:
    """The INVITE we send and everything that answers it, until the call is confirmed or has failed."""

    def __init__(self, machine: CallMachine) -> None:
        self.m = machine
        self.targets: list[Target] = []
        self.target: Target | None = None
        self.invite: Request | None = None
        self.dialog_set: DialogSet | None = None
        self._old_sets: list[DialogSet] = []
        self.cseq = 0
        self.auth_rounds = 0
        self.redirects = 0
        self.visited: set[str] = set()
        self.requested_se: int | None = machine.config.session_expires
        self.extra_headers: list[tuple[str, str]] = []
        # RFC 3261 9.1: a CANCEL waits for a provisional response.
        self.provisional = False
        self.cancel_sent = False
        # The ACK of the winning 2xx, sent again for each retransmission of it.
        self.ack: Request | None = None
        # RFC 3262 4: the RSeq of the last reliable provisional we PRACKed, per early dialog.
        self.rseq: dict[str, int] = {}
        # The early dialog whose SDP we took (an UPDATE before the answer goes in it, RFC 3311 5.1).
        self.early_dialog: Dialog | None = None

    # --- sending ---------------------------------------------------------------------

    def dial(self, targets: Sequence[Target], headers: Sequence[tuple[str, str]]) -> None:
        m = self.m
        self.targets = list(targets)
        self.extra_headers = list(headers)
        m.local_sdp = m.with_video(
            create_offer(
                m.config.audio,
                address=m.media_host,
                port=m.media_port,
                session_id=m.rng.randrange(1, 2**31),
                session_version=1,
            )
        )
        m.advance(Trigger.DIAL)
        self._send(self.targets[0])

    def _send(self, target: Target, authorization: tuple[str, str] | None = None) -> None:
        m = self.m
        local = m.local
        self.target = target
        self.cseq += 1
        sender = NameAddr(uri=local.uri.replace(params={}, headers=[]), display_name=local.display_name)
        sender.params["tag"] = m.local_tag
        fields = [("Via", via_placeholder(new_branch()))]
        proxy = local.outbound_proxy
        if proxy is not None:
            fields.append(("Route", f"<{proxy.replace(params={**proxy.params, 'lr': None})}>"))
        fields += [
            ("Max-Forwards", "70"),
            ("From", str(sender)),
            ("To", str(NameAddr(uri=m.remote.uri, display_name=m.remote.display_name))),
            ("Call-ID", m.call_id),
            ("CSeq", f"{self.cseq} INVITE"),
            ("Contact", str(m.contact_for(target))),
            *m.common_headers(),
        ]
        if m.config.rel100 == "required":
            fields.append(("Require", rel100.OPTION_TAG))
        if local.photo_url:
            fields.append(("Call-Info", f"<{local.photo_url}>;purpose=icon"))
        fields += self.extra_headers
        fields += uac_headers(self.requested_se, m.config.min_se)
        if authorization is not None:
            fields.append(authorization)
        fields.append(("Content-Type", SDP))
        assert m.local_sdp is not None
        request = Request("INVITE", m.remote.uri, fields, m.local_sdp.to_bytes())
        if self.dialog_set is not None:
            self._old_sets.append(self.dialog_set)
        self.invite = request
        self.dialog_set = DialogSet(request)
        self.provisional = False
        self.rseq.clear()
        m.send(request, Purpose("invite"), target)

    def _retry(self, target: Target, authorization: tuple[str, str] | None = None) -> None:
        self.m.advance(Trigger.RETRY)
        self._send(target, authorization)

    def cancel(self, trigger: Trigger = Trigger.HANGUP) -> None:
        """The user hangs up before the answer (or the callee BYEd an early dialog)."""
        m = self.m
        m.go(trigger)
        m.cancelled = True
        if self.provisional:
            self._send_cancel()

    def _send_cancel(self) -> None:
        if self.cancel_sent or self.invite is None or self.target is None:
            return
        self.cancel_sent = True
        target = self.target
        used = self.invite.via.transport.upper()
        if used != target.transport:
            # RFC 3261 9.1: the CANCEL goes where the INVITE went, by its transport (a large INVITE took TCP).
            target = Target(used, target.host, target.port)
        self.m.send(make_cancel(self.invite), Purpose("cancel"), target)

    # --- responses ---------------------------------------------------------------------

    def response(self, request: Request, response: Response) -> None:
        if request is not self.invite:
            self._late(request, response)
            return
        dialog_set = self.dialog_set
        assert dialog_set is not None
        try:
            result = dialog_set.receive_response(response)
        except (ValueError, SipParseError) as exc:
            log.info("ignored a %d response to INVITE: %s", response.status_code, exc)
            return
        code = response.status_code
        if code < 200:
            self._provisional(response, result)
        elif code < 300:
            self._success(response, result)
        else:
            self._failure(response)

    def _provisional(self, response: Response, result: Dialog | ForkedAnswer | None) -> None:
        m = self.m
        self.provisional = True
        if m.phase is CallPhase.CANCELLING:
            # RFC 3261 9.1: the CANCEL the user asked for waited for this provisional response.
            self._send_cancel()
            return
        code = response.status_code
        if code == 100 or m.phase not in _WAITING:
            return
        if isinstance(result, Dialog) and rel100.is_reliable(response) and not self._prack(response, result):
            return
        m.learn_allow(response)
        if response.body and self._early_answer(response):
            if isinstance(result, Dialog):
                self.early_dialog = result
            if m.phase is not CallPhase.EARLY:
                m.advance(Trigger.EARLY_MEDIA)
            m.sync_media()
        elif code in (180, 181, 182) and m.phase is CallPhase.CALLING:
            m.advance(Trigger.PROVISIONAL)
        elif code == 183 and m.phase is CallPhase.CALLING:
            m.advance(Trigger.EARLY_MEDIA)

    def _prack(self, response: Response, dialog: Dialog) -> bool:
        """RFC 3262 4: PRACK a reliable provisional response; False for one to ignore (repeated, out of order)."""
        try:
            rseq = response.rseq
        except SipParseError as exc:
            log.info("call %s: reliable provisional with a bad RSeq: %s", self.m.id, exc)
            return False
        if rseq is None:
            return True  # Require: 100rel without RSeq: taken as an unreliable one
        last = self.rseq.get(dialog.remote_tag)
        if last is not None and rseq != last + 1:
            return False
        self.rseq[dialog.remote_tag] = rseq
        assert self.invite is not None
        rack = RAck(rseq, self.invite.cseq.seq, "INVITE")
        self.m.send_in_dialog("prack", "PRACK", dialog=dialog, headers=[("RAck", str(rack))])
        return True

    def _early_answer(self, response: Response) -> bool:
        try:
            self.take_answer(response.body)
        except SipParseError as exc:
            log.info("ignored the early SDP of %s: %s", self.m.id, exc)
            return False
        return True

    def take_answer(self, body: bytes) -> None:
        m = self.m
        assert m.local_sdp is not None
        answer = parse_sdp(body)
        media = negotiate_answer(m.local_sdp, answer, m.config.audio)
        m.remote_sdp = answer
        m.media = media
        m.remote_hold = bool(media is not None and media.on_hold and not m.local_hold)

    def _success(self, response: Response, result: Dialog | ForkedAnswer | None) -> None:
        m = self.m
        if isinstance(result, ForkedAnswer):
            self._end_fork(result)
            return
        if not isinstance(result, Dialog):
            return
        if m.dialog is result:
            if self.ack is not None:
                m.add(SendAck(self.ack))
            return
        m.dialog = result
        assert self.invite is not None
        self.ack = result.create_ack(self.invite.cseq.seq)
        m.add(SendAck(self.ack))
        m.learn_allow(response)
        problem = None
        if response.body:
            try:
                self.take_answer(response.body)
            except SipParseError as exc:
                problem = str(exc)
        elif m.media is None:
            problem = "the 2xx has no SDP answer"
        if m.phase is CallPhase.CANCELLING or problem is not None:
            # RFC 3261 15: a call we no longer want (or cannot use) is ended with BYE after the ACK.
            m.bye()
            trigger = Trigger.ANSWERED if m.phase is CallPhase.CANCELLING else Trigger.REJECTED
            m.end(trigger, 488 if problem else 487, problem or "cancelled")
            return
        m.advance(Trigger.ANSWERED)
        m.sync_media()
        m.start_session_timer(uac_result(response))

    def _end_fork(self, answer: ForkedAnswer) -> None:
        m = self.m
        m.add(SendAck(answer.ack))
        if answer.bye is not None:
            m.send(answer.bye, Purpose("fork-bye", dialog=answer.dialog))

    def _late(self, request: Request, response: Response) -> None:
        """A response to an INVITE we replaced (auth retry, failover): a 2xx to it is ACKed and ended."""
        if not 200 <= response.status_code < 300 or not response.to.tag:
            return
        for dialog_set in self._old_sets:
            if dialog_set.request is request:
                try:
                    result = dialog_set.receive_response(response)
                except (ValueError, SipParseError):
                    return
                if isinstance(result, Dialog):
                    result = ForkedAnswer(result, result.create_ack(request.cseq.seq), result.create_request("BYE"))
                if isinstance(result, ForkedAnswer):
                    self._end_fork(result)
                return

    def stray_2xx(self, response: Response) -> None:
        dialog = self.m.dialog
        if self.ack is None or dialog is None:
            return
        if response.to.tag == dialog.remote_tag and response.cseq.seq == self.ack.cseq.seq:
            self.m.add(SendAck(self.ack))

    def _failure(self, response: Response) -> None:
        m = self.m
        code = response.status_code
        if m.phase not in (*_WAITING, CallPhase.CANCELLING):
            return
        cancelling = m.phase is CallPhase.CANCELLING
        if not cancelling and self._try_again(response):
            return
        m.end(Trigger.REJECTED, code, self._reason(response))

    def _reason(self, response: Response) -> str:
        """The words for a refused call; a refusal of our encrypted offer says so (and the peer's Warning)."""
        srtp = self.m.config.audio.srtp
        if response.status_code not in (488, 606) or srtp.policy != "mandatory":
            return response.reason
        warning = warning_text(response)
        detail = f": {warning}" if warning else ""
        return f"the peer refused encrypted media ({response.status_code} {response.reason}){detail}"

    def _try_again(self, response: Response) -> bool:
        code = response.status_code
        target = self.target
        if target is None or self.invite is None:
            return False
        if code in (401, 407) and self.auth_rounds < 2:
            authorization = self.m.authorization(self.invite, response)
            if authorization is not None and (self.auth_rounds == 0 or _stale(response)):
                self.auth_rounds += 1
                self._retry(target, authorization)
                return True
            return False
        if 300 <= code < 400:
            return self._redirect(response, target)
        if code == 422:
            # RFC 4028 7.4: the interval was too small; ask again with the peer's Min-SE.
            try:
                minimum = min_se(response)
            except SipParseError:
                minimum = None
            if minimum is not None and (self.requested_se is None or minimum > self.requested_se):
                self.requested_se = minimum
                self.auth_rounds = 0
                self._retry(target)
                return True
            return False
        if is_failover(response) and not self.provisional:
            remaining = self.targets[self.targets.index(target) + 1 :] if target in self.targets else []
            if remaining:
                self.auth_rounds = 0
                self._retry(remaining[0])
                return True
        return False

    def _redirect(self, response: Response, target: Target) -> bool:
        """RFC 3261 8.1.3.4: try the Contacts of a 3xx, at most MAX_REDIRECTS times, never the same URI twice."""
        m = self.m
        if self.redirects >= MAX_REDIRECTS:
            return False
        try:
            contacts = sorted(response.contacts, key=lambda c: -(c.q if c.q is not None else 1.0))
        except SipParseError:
            return False
        self.visited.add(str(m.remote.uri))
        for contact in contacts:
            if isinstance(contact.uri, AbsoluteUri) or str(contact.uri) in self.visited:
                continue
            self.redirects += 1
            self.visited.add(str(contact.uri))
            m.remote = NameAddr(uri=contact.uri, display_name=m.remote.display_name)
            self.auth_rounds = 0
            self._retry(target)
            return True
        return False

    # --- dialogs -----------------------------------------------------------------------

    def all_dialogs(self) -> Iterator[Dialog]:
        for dialog_set in (*self._old_sets, *((self.dialog_set,) if self.dialog_set else ())):
            yield from dialog_set.dialogs.values()

    def is_current_early(self, dialog: Dialog) -> bool:
        """True for an early dialog of our current INVITE while no 2xx has come."""
        dialog_set = self.dialog_set
        return (
            dialog_set is not None
            and self.m.phase in _WAITING
            and dialog_set.dialogs.get(dialog.remote_tag) is dialog
            and not dialog.terminated
        )


def warning_text(response: Response) -> str:
    """The text of the first Warning header (RFC 3261 20.43: ``code agent "text"``), clipped; empty without one."""
    for value in response.headers.get_all("Warning"):
        start, end = value.find('"'), value.rfind('"')
        if 0 <= start < end:
            return value[start + 1 : end][:120]
    return ""


def _stale(response: Response) -> bool:
    try:
        challenges = response.www_authenticate if response.status_code == 401 else response.proxy_authenticate
    except SipParseError:
        return False
    return any(challenge.stale for challenge in challenges)

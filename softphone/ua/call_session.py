"""Changing a session: re-INVITE (RFC 3261 14) and UPDATE (RFC 3311) both ways, glare, hold, session timers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from softphone.ice.agent import Credentials
from softphone.sip.dialog import Dialog
from softphone.sip.errors import SipParseError
from softphone.sip.ice_sdp import IceDescription, moved_offer, offered_ice
from softphone.sip.message import Request, Response
from softphone.sip.offer_answer import (
    NegotiatedMedia,
    hold_offer,
    keep_dtls_role,
    negotiate_answer,
    next_offer,
    refusal_reason,
    resume_offer,
)
from softphone.sip.sdp import SessionDescription, parse_sdp
from softphone.sip.srtp_offer_answer import refresh_keys
from softphone.sip.transaction import ServerTransaction, make_response
from softphone.sip.video_offer_answer import with_video_sending, without_video
from softphone.ua.call_effects import CallTimer, Purpose, SendAck
from softphone.ua.call_state import CallPhase, Modify, ModifyTrigger, Trigger
from softphone.ua.call_uas import warning
from softphone.ua.session_timer import uac_headers, uac_result, uas_decide

if TYPE_CHECKING:
    from softphone.ua.call_machine import CallMachine

__all__ = ["SessionChanges"]

log = logging.getLogger("softphone.ua")

SDP = "application/sdp"
_ANSWERED = (CallPhase.ACCEPTED, CallPhase.CONFIRMED)
_EARLY = (CallPhase.EARLY, CallPhase.INCOMING_EARLY)
# RFC 3261 14.1: how long the owner of the Call-ID (the caller) and the other side wait after a 491.
OWNER_BACKOFF = (2.1, 4.0)
OTHER_BACKOFF = (0.0, 2.0)
# A longer Retry-After than RFC 3261 14.2's 10 s is not about an ACK in flight: the change fails instead.
MAX_RETRY_AFTER = 10


@dataclass(slots=True)
class _Change:
    """What our re-INVITE or UPDATE is for: a hold state to reach, or a session refresh (RFC 4028)."""

    hold: bool
    op: int | None
    refresh: bool = False
    rekey: bool = False
    attempts: int = 0
    # Adding (True) or dropping (False) the video stream.
    video: bool | None = None
    # Our video sending (True) or not (False, the camera off), the stream kept.
    video_send: bool | None = None
    # Our audio moved (a network change): its new address and port, and new ICE (a restart) when the call has it.
    moved: tuple[str, int, IceDescription | None] | None = None
    # Our video moved with it: its new address, port and ICE.
    moved_video: tuple[str, int, IceDescription | None] | None = None


class SessionChanges:
    def __init__(self, machine: CallMachine) -> None:
        self.m = machine
        self.change: _Change | None = None
        self.request: Request | None = None
        self.offer: SessionDescription | None = None
        # The ACK of our last re-INVITE's 2xx, sent again for each retransmission of that 2xx.
        self.last_ack: Request | None = None
        # Their offerless re-INVITE: our offer went in the 2xx; the answer comes in the ACK.
        self.offered_in_2xx = False

    # --- our changes ---------------------------------------------------------------------

    def change_hold(self, op: int, hold: bool) -> None:
        m = self.m
        if m.local_sdp is None or not (m.phase in _ANSWERED or self._early_update_possible()):
            m.complete(op, f"call {m.id} is not established")
            return
        if m.local_hold == hold:
            m.complete(op)
            return
        if m.modify is not Modify.IDLE:
            m.complete(op, f"call {m.id} has a re-INVITE in progress")
            return
        self.change = _Change(hold, op)
        self._send()

    def rekey(self, op: int) -> None:
        """A re-INVITE with new SDES keys (RFC 4568 7.1.4), the session otherwise unchanged."""
        if self._may_reinvite(op):
            self._start(_Change(self.m.local_hold, op, rekey=True))

    def change_video(self, op: int, on: bool) -> None:
        """A re-INVITE that adds a video stream to the call or declines it (port 0, RFC 3264 8.2)."""
        if self._may_reinvite(op):
            self._start(_Change(self.m.local_hold, op, video=on))

    def change_video_send(self, op: int, send: bool) -> None:
        """A re-INVITE whose video line says whether we send (camera on) or only receive (RFC 3264 8.4)."""
        m = self.m
        if m.local_sdp is None or m.phase is not CallPhase.CONFIRMED:
            m.complete(op, f"call {m.id} is not established")
            return
        if not any(d.media.casefold() == "video" and d.port != 0 for d in m.local_sdp.media):
            m.complete(op)  # no video now: the choice holds for when it is added
            return
        if m.modify is not Modify.IDLE:
            m.complete(op, f"call {m.id} has a re-INVITE in progress")
            return
        self.change = _Change(m.local_hold, op, video_send=send)
        self._send()

    def move(
        self,
        op: int,
        host: str,
        port: int,
        ice: IceDescription | None,
        video: tuple[str, int, IceDescription | None] | None = None,
    ) -> None:
        """A re-INVITE with our media at its new address, and new ICE credentials and candidates (RFC 8445 9):
        our network changed under the call. ``video``: the video's new address, port and ICE. The dialog's
        Contact follows (a target refresh, RFC 3261 12.2)."""
        m = self.m
        if not self._may_reinvite(op):
            return
        m.media_host, m.media_port = host, port
        audio = m.config.audio
        if ice is not None and audio.ice is not None:
            m.config = replace(m.config, audio=replace(audio, ice=ice))
        else:
            ice = None
        if video is not None and m.config.video is not None:
            video_host, m.video_port, video_ice = video
            m.video_host = None if video_host == host else video_host
            if m.config.video.ice is None:
                video = (video_host, m.video_port, None)
            else:
                m.config = replace(m.config, video=replace(m.config.video, ice=video_ice))
        self._start(_Change(m.local_hold, op, moved=(host, port, ice), moved_video=video))

    def _may_reinvite(self, op: int) -> bool:
        """True when the established call may change by re-INVITE now; else ``op`` completes with why not."""
        m = self.m
        if m.local_sdp is None or m.phase is not CallPhase.CONFIRMED:
            m.complete(op, f"call {m.id} is not established")
            return False
        if m.modify is not Modify.IDLE:
            m.complete(op, f"call {m.id} has a re-INVITE in progress")
            return False
        return True

    def _start(self, change: _Change) -> None:
        self.change = change
        self._send()

    def _early_update_possible(self) -> bool:
        m = self.m
        return m.phase in _EARLY and "UPDATE" in m.peer_allow and m.remote_sdp is not None

    def _send(self) -> None:
        m = self.m
        change = self.change
        assert change is not None and m.local_sdp is not None
        early = m.phase in _EARLY
        use_update = early or (change.refresh and "UPDATE" in m.peer_allow)
        offer: SessionDescription | None
        if change.refresh:
            # RFC 4028 10: a refresh by re-INVITE re-offers the session unchanged; by UPDATE it carries none.
            offer = None if use_update else next_offer(m.local_sdp, m.local_sdp)
        elif change.video is not None:
            offer = m.with_video(m.local_sdp) if change.video else without_video(m.local_sdp)
            offer = next_offer(m.local_sdp, keep_dtls_role(offer, m.media))
        elif change.video_send is not None:
            offer = with_video_sending(m.local_sdp, change.video_send)
            offer = next_offer(m.local_sdp, keep_dtls_role(offer, m.media))
        elif change.moved is not None:
            moved = moved_offer(m.local_sdp, *change.moved, video=change.moved_video)
            offer = next_offer(m.local_sdp, keep_dtls_role(moved, m.media))
        elif change.rekey:
            offer = next_offer(m.local_sdp, keep_dtls_role(refresh_keys(m.local_sdp, m.config.audio.srtp), m.media))
        else:
            # A new offer, new SDES keys (RFC 4568 7.1.4); DTLS keeps its association and role (RFC 8842 5.5).
            offer = hold_offer(m.local_sdp) if change.hold else resume_offer(m.local_sdp)
            if not m.video_send:
                offer = with_video_sending(offer, False)  # resuming does not turn the camera on
            offer = next_offer(m.local_sdp, keep_dtls_role(refresh_keys(offer, m.config.audio.srtp), m.media))

        interval = m.session_timer.interval if m.session_timer is not None else None
        headers = [("Supported", ", ".join(m.config.supported))]
        if not early:
            headers += uac_headers(interval, m.config.min_se)
        dialog = m.dialog if m.dialog is not None else m.uac.early_dialog
        m.go_modify(ModifyTrigger.SEND_UPDATE if use_update else ModifyTrigger.SEND_REINVITE)
        self.offer = offer
        self.request = m.send_in_dialog(
            "update" if use_update else "reinvite",
            "UPDATE" if use_update else "INVITE",
            op=change.op,
            dialog=dialog,
            body=offer.to_bytes() if offer is not None else b"",
            content_type=SDP if offer is not None else None,
            headers=headers,
        )
        if self.request is None:
            m.go_modify(ModifyTrigger.FAILED)
            self.change = None
            m.complete(change.op, f"cannot reach the peer of call {m.id}")

    def resent(self, request: Request) -> None:
        """Our re-INVITE or UPDATE went again with credentials."""
        self.request = request

    def response(self, request: Request, purpose: Purpose, response: Response) -> None:
        m = self.m
        code = response.status_code
        if request is not self.request:
            if purpose.kind == "reinvite" and 200 <= code < 300 and self.last_ack is not None:
                if response.cseq.seq == self.last_ack.cseq.seq:
                    m.add(SendAck(self.last_ack))
            return
        change = self.change
        assert change is not None
        self.request = None
        if 200 <= code < 300:
            if request.method == "INVITE" and purpose.dialog is not None:
                self.last_ack = purpose.dialog.create_ack(request.cseq.seq)
                m.add(SendAck(self.last_ack))
            m.go_modify(ModifyTrigger.ACCEPTED)
            self.change = None
            self._accepted(change, response)
        elif code == 491 and change.attempts == 0 and not m.ended:
            m.go_modify(ModifyTrigger.GLARE)
            change.attempts += 1
            owner = m.direction == "outgoing"
            low, high = OWNER_BACKOFF if owner else OTHER_BACKOFF
            m.start_timer(CallTimer.GLARE_RETRY, m.rng.uniform(low, high))
        elif (delay := _retry_later(request, response)) is not None and change.attempts == 0 and not m.ended:
            m.go_modify(ModifyTrigger.RETRY_LATER)
            change.attempts += 1
            m.start_timer(CallTimer.GLARE_RETRY, delay)
        else:
            m.go_modify(ModifyTrigger.FAILED)
            self.change = None
            if code in (408, 481):
                m.complete(change.op)  # the call ends (RFC 3261 12.2.1.2)
            elif change.refresh:
                log.info("session refresh of %s failed: %d %s", m.id, code, response.reason)
            else:
                m.complete(change.op, f"re-INVITE of call {m.id} failed: {code} {response.reason}")

    def _accepted(self, change: _Change, response: Response) -> None:
        m = self.m
        offer = self.offer
        if offer is not None:
            try:
                answer = parse_sdp(response.body)
                media = negotiate_answer(offer, answer, m.config.audio)
                downgrade(m.media, media)
            except SipParseError as exc:
                m.complete(change.op, f"bad SDP answer to the re-INVITE: {exc}")
                return
            m.local_sdp, m.remote_sdp, m.media = offer, answer, media
            if not change.refresh:
                m.local_hold = change.hold
            m.remote_hold = bool(media is not None and media.on_hold and not m.local_hold)
        m.emit_state()
        m.sync_media()
        if m.phase in _ANSWERED:
            m.start_session_timer(uac_result(response))
        m.complete(change.op)

    def timer(self, timer: CallTimer) -> None:
        m = self.m
        if m.ended:
            return
        if timer is CallTimer.GLARE_RETRY:
            if m.modify is Modify.BACKOFF:
                m.go_modify(ModifyTrigger.RETRY_DUE)
            if self.change is None:
                return
            if m.modify is not Modify.IDLE:
                # Their re-INVITE (accepted during our back-off) still waits for its ACK.
                m.start_timer(CallTimer.GLARE_RETRY, m.config.t1)
                return
            if m.local_sdp is None or not (m.phase in _ANSWERED or self._early_update_possible()):
                op, self.change = self.change.op, None
                m.complete(op, f"call {m.id} is not established")
                return
            self._send()
        elif timer in (CallTimer.SESSION_REFRESH, CallTimer.REFRESH_RETRY):
            if m.local_sdp is None or m.phase not in _ANSWERED:
                return
            if m.modify is not Modify.IDLE:
                m.start_timer(CallTimer.REFRESH_RETRY, 1.0)
                return
            self.change = _Change(m.local_hold, None, refresh=True)
            self._send()
        elif timer is CallTimer.SESSION_EXPIRY:
            m.bye()
            m.end(Trigger.DIALOG_LOST, 408, "session expired")

    # --- their changes --------------------------------------------------------------------

    def _offer_pending(self) -> bool:
        """True while an offer of ours waits for its answer (RFC 3311 5.2)."""
        m = self.m
        return (
            (m.modify in (Modify.REINVITING, Modify.UPDATING) and self.offer is not None)
            or (m.modify is Modify.REINVITED and self.offered_in_2xx)
            or (m.uas.offered_in_response and m.remote_sdp is None)
        )

    def reinvite_received(self, request: Request, tx: ServerTransaction) -> None:
        m = self.m
        if m.modify in (Modify.REINVITING, Modify.UPDATING):
            # RFC 3261 14.2: a re-INVITE while ours is pending gets 491.
            m.reply(tx, 491)
            return
        if m.modify is Modify.REINVITED or m.phase is not CallPhase.CONFIRMED:
            # RFC 3261 14.2: an INVITE while another is unfinished gets 500 with Retry-After.
            m.reply(tx, 500, headers=[("Retry-After", str(m.rng.randint(0, 10)))])
            return
        decision = uas_decide(request, preferred=None, minimum=m.config.min_se)
        if decision.too_small is not None:
            m.reply(tx, 422, headers=decision.headers)
            return
        if request.body:
            body = self._answer_request(request, tx)
            if body is None:
                return
        else:
            # An offerless re-INVITE: our offer goes in the 200 (RFC 3264 8).
            m.remote_sdp = None
            self.offered_in_2xx = True
            body = m.local_sdp.to_bytes() if m.local_sdp is not None else b""
        response = self._ok(request, body, decision.headers)
        m.go_modify(ModifyTrigger.REINVITE_RECEIVED)
        m.uas.send_2xx(tx, response)
        m.emit_state()
        m.sync_media()
        m.start_session_timer(decision.timer)

    def update_received(self, request: Request, tx: ServerTransaction, dialog: Dialog) -> None:
        m = self.m
        if request.body:
            if self._offer_pending():
                m.reply(tx, 491)
                return
            if m.phase in (CallPhase.INCOMING, CallPhase.ANSWERING) or (
                m.phase is CallPhase.INCOMING_EARLY and not m.uas.reliable
            ):
                # RFC 3311 5.2: their INVITE's offer is not answered yet.
                m.reply(tx, 500, headers=[("Retry-After", str(m.rng.randint(0, 10)))])
                return
        answered = m.phase in _ANSWERED
        decision = uas_decide(request, preferred=None, minimum=m.config.min_se)
        if answered and decision.too_small is not None:
            m.reply(tx, 422, headers=decision.headers)
            return
        m.learn_allow(request)
        body = b""
        if request.body:
            answer = self._answer_request(request, tx)
            if answer is None:
                return
            body = answer
        m.respond(tx, self._ok(request, body, decision.headers if answered else []))
        m.emit_state()
        m.sync_media()
        if answered:
            m.start_session_timer(decision.timer)

    def _answer_request(self, request: Request, tx: ServerTransaction) -> bytes | None:
        try:
            offer = parse_sdp(request.body)
        except SipParseError as exc:
            self.m.reply(tx, 400, f"Bad SDP - {str(exc)[:80]}")
            return None
        answer = self.answer_offer(offer)
        if answer is None:
            why = self.refusal(offer)
            self.m.reply(tx, 488, headers=[("Warning", warning(why))])
            return None
        return answer.to_bytes()

    def refusal(self, offer: SessionDescription) -> str:
        m = self.m
        if m.media is not None and m.media.crypto is not None:
            _, media = m.uas.answer_sdp(offer, session_id=1, version=1)
            if media is not None and media.crypto is None:
                return "encryption cannot be turned off during the call"
        return refusal_reason(offer, m.config.audio)

    def answer_offer(self, offer: SessionDescription) -> SessionDescription | None:
        """Answer a new offer in the call (hold, resume, new address); None when nothing in it is usable."""
        m = self.m
        previous = m.local_sdp
        version = (previous.origin.sess_version + 1) if previous is not None else 1
        session_id = previous.origin.sess_id if previous is not None else m.rng.randrange(1, 2**31)
        self._follow_ice_restart(offer)
        answer, media = m.uas.answer_sdp(offer, session_id=session_id, version=version)
        if media is None or (m.media is not None and m.media.crypto is not None and media.crypto is None):
            # Never a quiet step down from SRTP to plain RTP in the middle of a call.
            return None
        if previous is not None:
            answer = next_offer(previous, answer)
        m.local_sdp, m.remote_sdp, m.media = answer, offer, media
        m.remote_hold = media.on_hold
        return answer

    def _follow_ice_restart(self, offer: SessionDescription) -> None:
        """New ICE credentials in their offer restart ICE (RFC 8445 9): our answer brings new ones too."""
        m = self.m
        ours = m.config.audio.ice
        current = m.media.ice if m.media is not None else None
        theirs = offered_ice(offer)
        if ours is not None and current is not None and theirs is not None and not _same(theirs, current.remote):
            m.config = replace(m.config, audio=replace(m.config.audio, ice=_renewed(ours)))
        video = m.config.video
        theirs = offered_ice(offer, "video")
        previous = offered_ice(m.remote_sdp, "video") if m.remote_sdp is not None else None
        if video is not None and video.ice is not None and theirs is not None and previous is not None:
            if not _same(theirs, previous):
                m.config = replace(m.config, video=replace(video, ice=_renewed(video.ice)))

    def _ok(self, request: Request, body: bytes, timer_headers: list[tuple[str, str]]) -> Response:
        m = self.m
        headers = [("Contact", str(m.dialog.local_contact))] if m.dialog is not None else []
        headers += [*m.common_headers(), *timer_headers]
        if body:
            headers.append(("Content-Type", SDP))
        return make_response(request, 200, headers=headers, body=body)

    def ack(self, request: Request) -> None:
        """The ACK of our 2xx to their re-INVITE (with the answer, if ours was the offer)."""
        m = self.m
        pending = m.uas.pending_2xx
        if pending is None or request.cseq.seq != pending.cseq.seq:
            return
        m.uas.stop_2xx()
        m.go_modify(ModifyTrigger.ACK_RECEIVED)
        offered, self.offered_in_2xx = self.offered_in_2xx, False
        if offered and request.body and m.local_sdp is not None:
            try:
                answer = parse_sdp(request.body)
                media = negotiate_answer(m.local_sdp, answer, m.config.audio)
                downgrade(m.media, media)
            except SipParseError as exc:
                log.info("bad SDP answer in the ACK of %s: %s", m.id, exc)
                return
            m.remote_sdp, m.media = answer, media
            m.remote_hold = bool(media is not None and media.on_hold)
            m.emit_state()
            m.sync_media()

    def ack_timeout(self) -> None:
        self.offered_in_2xx = False
        self.m.go_modify(ModifyTrigger.ACK_TIMEOUT)
        self.m.end(Trigger.DIALOG_LOST, 408, "no ACK")


def _retry_later(request: Request, response: Response) -> float | None:
    """The wait a 500 to our re-INVITE asks for with Retry-After (RFC 3261 14.2: 0-10 s), else None."""
    if request.method != "INVITE" or response.status_code != 500:
        return None
    try:
        seconds = response.retry_after
    except SipParseError:
        return None
    return float(seconds) if seconds is not None and seconds <= MAX_RETRY_AFTER else None


def downgrade(current: NegotiatedMedia | None, new: NegotiatedMedia | None) -> None:
    """Raise 488 when an answer would take an encrypted call back to plain RTP."""
    if current is not None and current.crypto is not None and new is not None and new.crypto is None:
        raise SipParseError("the answer drops the encryption of the call", 488)


def _same(one: IceDescription, other: IceDescription) -> bool:
    return (one.ufrag, one.pwd) == (other.ufrag, other.pwd)


def _renewed(ice: IceDescription) -> IceDescription:
    """``ice`` with new credentials: our side of a restart the peer began (RFC 8445 9)."""
    credentials = Credentials.new()
    return replace(ice, ufrag=credentials.ufrag, pwd=credentials.pwd)

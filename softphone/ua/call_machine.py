"""One call as a sans-I/O state machine: the INVITE dialog usage of RFC 3261 13-15.

A :class:`CallMachine` is fed what happens to the call (a request or
response, a user command, a timer, a media event) and answers each input
with a list of effects (:mod:`softphone.ua.call_effects`) for its driver to
carry out. It imports no asyncio, sockets or clock: the tests drive it
with plain messages.

The machine is a core (this module: identity, dialogs, the phase table,
sending, ending) and four roles, each in its own module:
:class:`~softphone.ua.call_uac.UacInvite` (our INVITE: CANCEL, digest,
3xx, failover, forks, PRACK), :class:`~softphone.ua.call_uas.UasInvite`
(their INVITE: reliable provisionals, answer, CANCEL, 2xx until ACK),
:class:`~softphone.ua.call_session.SessionChanges` (re-INVITE and UPDATE
both ways, glare, hold, session timers) and
:class:`~softphone.ua.call_transfer.Transfers` (REFER both ways, INFO).
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable, Sequence

from softphone.sip.addr import NameAddr
from softphone.sip.auth import choose_challenge
from softphone.sip.dialog import Dialog, error_response
from softphone.sip.errors import SipParseError
from softphone.sip.ice_sdp import IceDescription
from softphone.sip.message import Request, Response
from softphone.sip.offer_answer import NegotiatedMedia
from softphone.sip.sdp import SessionDescription
from softphone.sip.transaction import ServerTransaction, make_response
from softphone.sip.video_offer_answer import (
    VideoConfig,
    answer_video,
    negotiated_video,
    offer_video,
    without_video,
)
from softphone.transport import Target
from softphone.ua.call_effects import (
    CallConfig,
    CallEffect,
    CallTimer,
    Completed,
    Emit,
    Ended,
    LocalParty,
    Purpose,
    SendRequest,
    SendResponse,
    StartMedia,
    StartTimer,
    StopMedia,
    StopTimer,
    UpdateMedia,
)
from softphone.ua.call_security import encryption_of
from softphone.ua.call_session import SessionChanges
from softphone.ua.call_state import (
    MODIFY_TRANSITIONS,
    PHASE_TRANSITIONS,
    CallPhase,
    InvalidTransition,
    Modify,
    ModifyTrigger,
    Trigger,
    public_state,
)
from softphone.ua.call_transfer import Transfers
from softphone.ua.call_uac import UacInvite
from softphone.ua.call_uas import UasInvite
from softphone.ua.events import CallEvent, CallState, Direction, Encryption, Event
from softphone.ua.session_timer import SessionTimer

__all__ = ["CallMachine"]

log = logging.getLogger("softphone.ua")

SDP = "application/sdp"
# The phases in which a call is answered and its dialog confirmed (or about to be, for a UAS awaiting the ACK).
ANSWERED_PHASES = frozenset({CallPhase.ACCEPTED, CallPhase.CONFIRMED})
EARLY_PHASES = frozenset({CallPhase.EARLY, CallPhase.INCOMING_EARLY})


class CallMachine:
    """The INVITE dialog usage of one call, from the first INVITE to the last BYE.

    ``id`` is the call's short name in events (``c1``); ``call_id`` the
    SIP Call-ID. ``contact_for`` gives our Contact for a transport target.
    ``media_host``/``media_port`` is the RTP address our SDP names.
    """

    def __init__(
        self,
        *,
        id: str,
        call_id: str,
        local_tag: str,
        direction: Direction,
        local: LocalParty,
        remote: NameAddr,
        config: CallConfig,
        media_host: str,
        media_port: int,
        contact_for: Callable[[Target], NameAddr],
        rng: random.Random | None = None,
        video_port: int = 0,
        video_host: str | None = None,
    ) -> None:
        self.id = id
        self.call_id = call_id
        self.local_tag = local_tag
        self.direction: Direction = direction
        self.local = local
        self.remote = remote
        self.config = config
        self.media_host = media_host
        self.media_port = media_port
        # Our video RTP port (0: no video, whatever the configuration says).
        self.video_port = video_port
        # Where our SDP says the video is, when not at the audio's address (its own NAT mapping or relay).
        self.video_host = video_host
        # The user called or answered without video, or dropped it: we neither offer video nor accept the
        # peer's until set_video(True).
        self.video_declined = False
        # The user turned the camera off: our video line says recvonly (inactive on hold) until it is on again.
        self.video_send = True
        self.contact_for = contact_for
        self.rng = rng if rng is not None else random.Random()
        self.phase = CallPhase.IDLE
        self.modify = Modify.IDLE
        self.public: CallState | None = None
        self.code: int | None = None
        self.reason = ""
        self.photo_url: str | None = None
        self.asserted_identity: str | None = None
        # The dialog of the call: the confirmed one (UAC), or the one our responses make (UAS).
        self.dialog: Dialog | None = None
        self.local_sdp: SessionDescription | None = None
        self.remote_sdp: SessionDescription | None = None
        self.media: NegotiatedMedia | None = None
        self.local_hold = False
        self.remote_hold = False
        self.session_timer: SessionTimer | None = None
        # The methods the peer said it allows (Allow of its INVITE or responses).
        self.peer_allow: frozenset[str] = frozenset()
        self.timers: set[CallTimer] = set()
        # The user hung up before the answer (for the call history: cancelled, not failed).
        self.cancelled = False
        self.media_started = False
        # What the media reported of a DTLS handshake (for the association ``_dtls_key`` names).
        self._dtls_status: Encryption | None = None
        self._dtls_key: tuple[object, ...] | None = None
        self._sent: dict[int, tuple[Request, Purpose]] = {}
        self._effects: list[CallEffect] = []
        self.uac = UacInvite(self)
        self.uas = UasInvite(self)
        self.session = SessionChanges(self)
        self.transfers = Transfers(self)

    # --- what the driver and the UA read -----------------------------------------

    @property
    def ended(self) -> bool:
        return self.phase in (CallPhase.ENDED, CallPhase.BYE_PENDING)

    @property
    def answered(self) -> bool:
        return self.phase in ANSWERED_PHASES

    @property
    def state(self) -> CallState:
        return public_state(self.phase, self.public or "calling", self.held)

    @property
    def held(self) -> bool:
        return self.local_hold or self.remote_hold

    @property
    def encryption(self) -> Encryption | None:
        """The media's protection as users see it; None before offer/answer agreed on media."""
        if self._dtls_status is not None:
            return self._dtls_status
        return encryption_of(self.media, self.config.audio.srtp)

    def event(self) -> CallEvent:
        return CallEvent(
            self.id,
            self.direction,
            str(self.remote.uri),
            self.remote.display_name,
            self.state,
            self.code,
            self.reason,
            self.photo_url,
            self.asserted_identity,
            self.encryption,
        )

    def owns(self, request: Request) -> bool:
        """True when ``request`` is in one of this call's dialogs (its To tag is ours)."""
        return request.call_id == self.call_id and request.to.tag == self.local_tag

    # --- inputs ------------------------------------------------------------------------

    def dial(self, targets: Sequence[Target], headers: Sequence[tuple[str, str]] = ()) -> list[CallEffect]:
        """Start the outgoing call: INVITE the first of ``targets`` (the rest are failover)."""
        self.uac.dial(targets, headers)
        return self._flush()

    def incoming(
        self,
        request: Request,
        tx: ServerTransaction,
        contact: NameAddr,
        *,
        auto_answer: float | None = None,
        forward: tuple[float, str] | None = None,
        ring_timeout: float | None = None,
    ) -> list[CallEffect]:
        """Their INVITE: ring (or refuse it at once, then :attr:`phase` is ENDED and no event was emitted)."""
        self.uas.incoming(request, tx, contact, auto_answer=auto_answer, forward=forward, ring_timeout=ring_timeout)
        return self._flush()

    def receive_request(self, request: Request, tx: ServerTransaction | None) -> list[CallEffect]:
        """A request in one of the call's dialogs (an ACK has no transaction)."""
        if tx is None:
            self._on_ack(request)
        else:
            self._on_request(request, tx)
        return self._flush()

    def receive_cancel(self, cancel_tx: ServerTransaction) -> list[CallEffect]:
        """A CANCEL that the transaction layer matched to our INVITE server transaction."""
        self.respond(cancel_tx, make_response(cancel_tx.request, 200))
        self.uas.cancelled()
        return self._flush()

    def receive_response(self, request: Request, response: Response) -> list[CallEffect]:
        """A response (or a made-up 408/503) to a request this machine sent."""
        sent = self._sent.get(id(request))
        if sent is not None:
            purpose = sent[1]
            # INVITEs stay: their 2xx may come again (forks, retransmissions) and be ACKed again.
            if response.status_code >= 200 and purpose.kind not in ("invite", "reinvite"):
                self._sent.pop(id(request), None)
            self._on_response(request, purpose, response)
        return self._flush()

    def receive_stray_response(self, response: Response) -> list[CallEffect]:
        """A 2xx to our INVITE after its transaction ended (RFC 3261 13.2.2.4: ACK it again)."""
        self.uac.stray_2xx(response)
        return self._flush()

    def timer_fired(self, timer: CallTimer) -> list[CallEffect]:
        self.timers.discard(timer)
        if timer in (CallTimer.RETRANSMIT_2XX, CallTimer.ACK_WAIT):
            self.uas.ack_timer(timer)
        elif timer in (CallTimer.RETRANSMIT_1XX, CallTimer.PRACK_WAIT):
            self.uas.prack_timer(timer)
        elif timer in (CallTimer.AUTO_ANSWER, CallTimer.FORWARD, CallTimer.RING_TIMEOUT):
            self.uas.ring_timer(timer)
        elif timer is CallTimer.TRANSFER_BYE:
            self.transfers.bye_timer()
        else:
            self.session.timer(timer)
        return self._flush()

    def media_encrypted(self, key_exchange: str, suite: str, verified: bool) -> list[CallEffect]:
        """The media's DTLS handshake is through: the peer showed the certificate its SDP named."""
        if key_exchange == "dtls" and not self.ended:
            self._dtls_status = Encryption(True, suite, "dtls", verified=verified)
            self.emit(self.event())
        return self._flush()

    def media_encryption_failed(self, reason: str) -> list[CallEffect]:
        """The media could not be protected (handshake timeout, wrong certificate): end the call, saying why."""
        reason = f"media encryption failed: {reason}"
        log.info("call %s: %s", self.id, reason)
        if self.phase is CallPhase.CONFIRMED:
            self.bye()
            self.end(Trigger.HANGUP, None, reason)
        elif not self.ended:
            self.hangup(reason)
            self.reason = reason
        return self._flush()

    def remote_media_ended(self) -> list[CallEffect]:
        """The peer's RTP stream said goodbye (RTCP BYE): the media path is done; the call goes on."""
        log.info("call %s: the peer ended its RTP stream (RTCP BYE)", self.id)
        return self._flush()

    # --- user commands (``op`` numbers the Completed effect that reports the outcome) --------

    def answer(self, video: bool = True) -> list[CallEffect]:
        """Answer a ringing call; ``video`` False declines an offered video stream (port 0, RFC 3264 6)."""
        if not video:
            self.video_declined = True
            # An answer already given in a 183 stays what it was (RFC 3264 5: one answer per offer).
            if self.local_sdp is not None and self.phase is CallPhase.INCOMING:
                self.local_sdp = without_video(self.local_sdp)
        self.uas.answer()
        return self._flush()

    def decline(self, code: int = 603) -> list[CallEffect]:
        self.uas.decline(code)
        return self._flush()

    def hangup(self, reason: str = "hangup") -> list[CallEffect]:
        """End the call whatever its phase: CANCEL, decline or BYE."""
        phase = self.phase
        if phase in (CallPhase.INCOMING, CallPhase.INCOMING_EARLY, CallPhase.ANSWERING):
            self.uas.decline(603)
        elif phase in (CallPhase.CALLING, CallPhase.RINGING, CallPhase.EARLY):
            self.uac.cancel()
        elif phase is CallPhase.ACCEPTED:
            # RFC 3261 15: the callee's BYE waits for the ACK (or its timeout).
            self.code, self.reason = None, reason
            self.go(Trigger.HANGUP)
            self._emit_state()
        elif phase is CallPhase.CONFIRMED:
            self.bye()
            self.end(Trigger.HANGUP, None, reason)
        return self._flush()

    def hold(self, op: int, hold: bool = True) -> list[CallEffect]:
        self.session.change_hold(op, hold)
        return self._flush()

    def set_video(self, op: int, on: bool) -> list[CallEffect]:
        """Add video to the call, or drop it, by re-INVITE."""
        if on and (self.config.video is None or not self.video_port):
            self.complete(op, f"call {self.id} cannot have video (video is off, or the call is encrypted)")
        else:
            self.video_declined = not on
            self.session.change_video(op, on)
        return self._flush()

    def move(
        self,
        op: int,
        host: str,
        port: int,
        ice: IceDescription | None,
        contact: NameAddr | None,
        video: tuple[str, int, IceDescription | None] | None = None,
    ) -> list[CallEffect]:
        """Re-INVITE with our media at ``host``:``port`` (and an ICE restart with ``ice``), our video at ``video``'s
        address and port (with its own restart), and the dialog's Contact at ``contact`` (a target refresh, RFC
        3261 12.2.1.1): our network changed."""
        dialog = self.dialog
        if dialog is not None and contact is not None and self.phase is CallPhase.CONFIRMED:
            dialog.local_contact = contact
        self.session.move(op, host, port, ice, video)
        return self._flush()

    def set_video_send(self, op: int, send: bool) -> list[CallEffect]:
        """Camera on or off: our video sends, or only receives, by re-INVITE (the stream stays)."""
        if self.config.video is None or not self.video_port:
            self.complete(op, f"call {self.id} cannot have video (video is off, or the call is encrypted)")
        else:
            self.video_send = send
            self.session.change_video_send(op, send)
        return self._flush()

    def rekey(self, op: int) -> list[CallEffect]:
        """Re-INVITE with new SRTP keys, nothing else changed."""
        self.session.rekey(op)
        return self._flush()

    def send_info(self, op: int, body: bytes, content_type: str) -> list[CallEffect]:
        self.transfers.send_info(op, body, content_type)
        return self._flush()

    def refer(self, op: int, refer_to: str, shown: str) -> list[CallEffect]:
        self.transfers.refer(op, refer_to, shown)
        return self._flush()

    def transfer_outcome(self, succeeded: bool, code: int | None, reason: str, target: str | None) -> list[CallEffect]:
        """As the transferee: how the call to the Refer-To target went (RFC 3515 2.4.5)."""
        self.transfers.outcome(succeeded, code, reason, target)
        return self._flush()

    def stop(self) -> list[CallEffect]:
        """The user agent is stopping: end the call here without a word to the peer or the user."""
        if self.phase is not CallPhase.ENDED:
            self._finish(Trigger.STOP, None, "stopped", notify=False)
        return self._flush()

    # --- the core, used by the roles -------------------------------------------------------

    def go(self, trigger: Trigger) -> None:
        """Change phase as :data:`PHASE_TRANSITIONS` says."""
        target = PHASE_TRANSITIONS.get((self.phase, trigger))
        if target is None:
            raise InvalidTransition(f"call {self.id}: {trigger.name} in {self.phase.name}")
        self.phase = target

    def can(self, trigger: Trigger) -> bool:
        return (self.phase, trigger) in PHASE_TRANSITIONS

    def go_modify(self, trigger: ModifyTrigger) -> None:
        target = MODIFY_TRANSITIONS.get((self.modify, trigger))
        if target is None:
            raise InvalidTransition(f"call {self.id}: {trigger.name} while {self.modify.name}")
        self.modify = target

    def can_modify(self, trigger: ModifyTrigger) -> bool:
        return (self.modify, trigger) in MODIFY_TRANSITIONS

    def advance(self, trigger: Trigger) -> None:
        """Change phase and tell the user when the state they see changed."""
        self.go(trigger)
        self.code, self.reason = None, ""
        self._emit_state()

    def end(self, trigger: Trigger, code: int | None, reason: str) -> None:
        """Change phase to ENDED by ``trigger`` and report the end with its reason."""
        self._finish(trigger, code, reason, notify=True)

    def _finish(self, trigger: Trigger, code: int | None, reason: str, *, notify: bool) -> None:
        self.go(trigger)
        if self.phase is not CallPhase.ENDED:
            raise InvalidTransition(f"call {self.id}: {trigger.name} does not end the call")
        self.code, self.reason = code, reason
        for timer in sorted(self.timers, key=lambda t: t.value):
            self._effects.append(StopTimer(timer))
        self.timers.clear()
        self._effects.append(StopMedia())
        for dialog in self.uac.all_dialogs():
            if not dialog.terminated and dialog is not self.dialog:
                dialog.terminate()
        if self.dialog is not None and not self.dialog.terminated:
            self.dialog.terminate()
        if notify and self.public not in (None, "ended"):
            self.public = "ended"
            self._effects.append(Emit(self.event()))
        self._effects.append(Ended(code, reason))

    def emit_state(self) -> None:
        self._emit_state()

    def _emit_state(self) -> None:
        state = self.state
        if state != self.public:
            self.public = state
            self._effects.append(Emit(self.event()))

    def emit(self, event: Event) -> None:
        self._effects.append(Emit(event))

    def add(self, effect: CallEffect) -> None:
        self._effects.append(effect)

    def start_timer(self, timer: CallTimer, delay: float) -> None:
        self.timers.add(timer)
        self._effects.append(StartTimer(timer, delay))

    def stop_timer(self, timer: CallTimer) -> None:
        if timer in self.timers:
            self.timers.discard(timer)
            self._effects.append(StopTimer(timer))

    def complete(self, op: int | None, error: str | None = None, code: int | None = None) -> None:
        if op is not None:
            self._effects.append(Completed(op, error, code))

    def respond(self, tx: ServerTransaction, response: Response) -> None:
        self._effects.append(SendResponse(tx, response))

    def reply(
        self, tx: ServerTransaction, code: int, reason: str | None = None, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.respond(tx, make_response(tx.request, code, reason, headers=list(headers)))

    def send(self, request: Request, purpose: Purpose, target: Target | None = None) -> None:
        self._sent[id(request)] = (request, purpose)
        self._effects.append(SendRequest(request, target))

    def forget(self, request: Request) -> None:
        self._sent.pop(id(request), None)

    def send_in_dialog(
        self,
        kind: str,
        method: str,
        *,
        op: int | None = None,
        dialog: Dialog | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Request | None:
        """A request in ``dialog`` (the call's own by default); None when the dialog is over."""
        dialog = dialog if dialog is not None else self.dialog
        if dialog is None or dialog.terminated:
            return None
        request = dialog.create_request(method, body=body, content_type=content_type, extra_headers=headers)
        self.send(request, Purpose(kind, op, dialog, body, content_type, tuple(headers)))
        return request

    def bye(self) -> None:
        """BYE the call's dialog (it is terminated at once; the answer does not matter)."""
        dialog = self.dialog
        if dialog is None or dialog.terminated:
            return
        self.send_in_dialog("bye", "BYE")
        dialog.terminate()

    def authorization(self, request: Request, response: Response) -> tuple[str, str] | None:
        """The credentials for a 401/407 to ``request`` (None: no usable challenge)."""
        try:
            challenges = response.www_authenticate if response.status_code == 401 else response.proxy_authenticate
            challenge = choose_challenge(challenges)
        except SipParseError:
            return None
        if challenge is None:
            return None
        name = "Authorization" if response.status_code == 401 else "Proxy-Authorization"
        try:
            value = self.local.digest.authorization(challenge, request.method, str(request.uri), request.body)
        except SipParseError:
            return None
        return name, value

    def learn_allow(self, message: Request | Response) -> None:
        try:
            allow = message.allow
        except SipParseError:
            return
        if allow:
            self.peer_allow = frozenset(method.upper() for method in allow)

    def common_headers(self) -> list[tuple[str, str]]:
        headers = [("Allow", self.config.allow), ("Supported", ", ".join(self.config.supported))]
        if self.config.user_agent:
            headers.append(("User-Agent", self.config.user_agent))
        return headers

    def sync_media(self) -> None:
        """Tell the driver what offer/answer agreed, whenever it or the hold state changed."""
        media = self.media
        if media is None or self.ended:
            return
        answered = self.answered
        # Before the answer we hear the callee's early media; our voice goes out only in early media we offer.
        send = answered or self.direction == "incoming"
        crypto = media.crypto
        key = None if crypto is None else (crypto.key_exchange, crypto.dtls_role, crypto.remote_fingerprint)
        if key != self._dtls_key:
            # A new DTLS association (or none): what the last one proved no longer holds.
            self._dtls_key, self._dtls_status = key, None
        controlling = media.ice.controlling if media.ice is not None else None
        video = (
            negotiated_video(self.local_sdp, self.remote_sdp, self.config.video, self.config.audio.srtp, controlling)
            if self.video_port
            else None
        )
        if self.media_started:
            self._effects.append(UpdateMedia(media, answered, self.local_hold, send, crypto, video))
        else:
            self.media_started = True
            self._effects.append(StartMedia(media, answered, self.local_hold, send, crypto, video))

    def with_video(self, offer: SessionDescription) -> SessionDescription:
        """Our new offer with the video m= line added, when this call may have video."""
        if self.config.video is None or not self.video_port or self.video_declined:
            return offer
        config = self._video_config(self.config.video)
        return offer_video(offer, config, self.video_port, self.config.audio.srtp, self.video_host)

    def _video_config(self, config: VideoConfig) -> VideoConfig:
        return dataclasses.replace(config, send=config.send and self.video_send)

    def answer_with_video(self, offer: SessionDescription, answer: SessionDescription) -> SessionDescription:
        """Our answer accepting the offer's video stream, when this call may have video (else it stays declined)."""
        config = self.config.video if self.video_port and not self.video_declined else None
        if config is not None:
            config = self._video_config(config)
        return answer_video(
            offer,
            answer,
            config,
            self.video_port,
            "sendonly" if self.local_hold else "sendrecv",
            self.config.audio.srtp,
            self.video_host,
        )

    def start_session_timer(self, timer: SessionTimer | None) -> None:
        self.stop_timer(CallTimer.SESSION_REFRESH)
        self.stop_timer(CallTimer.SESSION_EXPIRY)
        self.session_timer = timer
        if timer is None or self.ended:
            return
        if timer.we_refresh:
            self.start_timer(CallTimer.SESSION_REFRESH, timer.refresh_after)
        else:
            self.start_timer(CallTimer.SESSION_EXPIRY, timer.expire_after)

    # --- dispatch ------------------------------------------------------------------------

    def _dialog_of(self, request: Request) -> Dialog | None:
        remote_tag = request.from_.tag
        if self.dialog is not None and self.dialog.remote_tag == remote_tag:
            return self.dialog
        for dialog in self.uac.all_dialogs():
            if dialog.remote_tag == remote_tag:
                return dialog
        return None

    def _on_ack(self, request: Request) -> None:
        if not self.owns(request) or request.from_.tag != (self.dialog.remote_tag if self.dialog else None):
            return
        if self.modify is Modify.REINVITED:
            self.session.ack(request)
        else:
            self.uas.ack(request)

    def _on_request(self, request: Request, tx: ServerTransaction) -> None:
        dialog = self._dialog_of(request)
        if dialog is None:
            self.reply(tx, 481)
            return
        current = dialog is self.dialog or self.uac.is_current_early(dialog)
        code = dialog.receive_request(request)
        if code is not None:
            self.respond(tx, error_response(request, code))
            return
        method = request.method
        if not current:
            # A dialog of a fork we are ending.
            self.reply(tx, 200 if method == "BYE" else 481)
            return
        if method == "BYE":
            self._on_bye(tx)
        elif method == "INVITE":
            self.session.reinvite_received(request, tx)
        elif method == "UPDATE":
            self.session.update_received(request, tx, dialog)
        elif method == "PRACK":
            self.uas.prack(request, tx)
        elif method in ("INFO", "REFER", "NOTIFY"):
            self.transfers.request(request, tx)
        else:
            self.reply(tx, 405, headers=[("Allow", self.config.allow)])

    def _on_bye(self, tx: ServerTransaction) -> None:
        self.reply(tx, 200)
        phase = self.phase
        if phase in (CallPhase.CALLING, CallPhase.RINGING, CallPhase.EARLY):
            self.uac.cancel(trigger=Trigger.BYE_RECEIVED)
        elif phase in (CallPhase.INCOMING, CallPhase.INCOMING_EARLY, CallPhase.ANSWERING):
            self.uas.final(487)
            self.end(Trigger.BYE_RECEIVED, 487, "cancelled")
        elif phase is CallPhase.BYE_PENDING:
            self.uas.stop_2xx()
            self.end(Trigger.BYE_RECEIVED, self.code, self.reason)
        elif self.can(Trigger.BYE_RECEIVED):
            self.end(Trigger.BYE_RECEIVED, None, "remote hangup")

    def _on_response(self, request: Request, purpose: Purpose, response: Response) -> None:
        kind = purpose.kind
        if kind == "invite":
            self.uac.response(request, response)
            return
        if response.status_code < 200:
            return
        dialog = purpose.dialog
        if dialog is not None:
            try:
                dialog.receive_response(response)
            except ValueError:
                pass
        if (
            response.status_code in (401, 407)
            and not purpose.authorized
            and self._resend_authorized(request, purpose, response)
        ):
            return
        if kind in ("reinvite", "update"):
            self.session.response(request, purpose, response)
        elif kind in ("info", "refer", "notify-final"):
            self.transfers.response(purpose, response)
        elif kind == "prack" and response.status_code >= 300:
            log.info("call %s: PRACK answered %d", self.id, response.status_code)
        if kind not in ("bye", "fork-bye") and response.status_code in (408, 481) and self.can(Trigger.DIALOG_LOST):
            # RFC 3261 12.2.1.2: the dialog is gone; so is the call.
            self.end(Trigger.DIALOG_LOST, response.status_code, response.reason)

    def _resend_authorized(self, request: Request, purpose: Purpose, response: Response) -> bool:
        dialog = purpose.dialog
        authorization = self.authorization(request, response)
        if authorization is None or dialog is None or dialog.terminated:
            return False
        headers = (*purpose.headers, authorization)
        again = dialog.create_request(
            request.method, body=purpose.body, content_type=purpose.content_type, extra_headers=headers
        )
        self._sent.pop(id(request), None)
        self.send(again, Purpose(purpose.kind, purpose.op, dialog, purpose.body, purpose.content_type, headers, True))
        if purpose.kind in ("reinvite", "update"):
            self.session.resent(again)
        return True

    def _flush(self) -> list[CallEffect]:
        effects, self._effects = self._effects, []
        return effects

"""The state of one call, as the UserAgent keeps it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from softphone.sip.addr import NameAddr
from softphone.sip.dialog import Dialog, DialogSet
from softphone.sip.message import Request, Response
from softphone.sip.offer_answer import NegotiatedMedia
from softphone.sip.sdp import SessionDescription
from softphone.sip.transaction import ClientTransaction, ServerTransaction
from softphone.store.history import QualitySummary
from softphone.transport import Target
from softphone.ua.account import Account
from softphone.ua.events import CallEvent, CallState, Direction
from softphone.ua.media import CallAudio, MediaPort

if TYPE_CHECKING:
    from softphone.media.engine import MediaSession
    from softphone.media.recorder import CallRecorder
from softphone.ua.session_timer import SessionTimer, UasDecision


@dataclass(eq=False)
class Call:
    """One call. ``id`` is the short name (``c1``) shown in events; ``sip_call_id`` the Call-ID.

    ``media`` is what offer/answer agreed (None until an answer arrived) and
    ``media_port`` the local RTP port reserved for it: what a media engine
    needs to start streaming.
    """

    id: str
    sip_call_id: str
    account: Account
    direction: Direction
    remote: NameAddr
    local_tag: str
    media_port: MediaPort
    state: CallState = "calling"
    code: int | None = None
    reason: str = ""
    photo_url: str | None = None
    asserted_identity: str | None = None
    dialog: Dialog | None = None
    media: NegotiatedMedia | None = None
    local_sdp: SessionDescription | None = None
    remote_sdp: SessionDescription | None = None
    local_hold: bool = False
    muted: bool = False
    remote_hold: bool = False
    # Outgoing: the INVITE now in progress, its transaction and forks.
    invite: Request | None = None
    invite_tx: ClientTransaction | None = None
    dialog_set: DialogSet | None = None
    cseq: int = 0
    targets: list[Target] = field(default_factory=list)
    target: Target | None = None
    provisional: bool = False
    cancel_requested: bool = False
    cancel_sent: bool = False
    auth_rounds: int = 0
    redirects: int = 0
    visited: set[str] = field(default_factory=set)
    ack: Request | None = None
    # Incoming: their INVITE and its server transaction.
    server_tx: ServerTransaction | None = None
    final_sent: bool = False
    # A 2xx of ours (to an INVITE) waiting for its ACK.
    pending_2xx: Response | None = None
    awaiting_ack: bool = False
    # A re-INVITE of ours in progress (RFC 3261 14.1: one at a time).
    reinvite_pending: bool = False
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    extra_headers: list[tuple[str, str]] = field(default_factory=list)
    # RFC 4028 session timer: what we ask for, what was agreed, the pending refresh or expiry.
    requested_se: int | None = None
    session_timer: SessionTimer | None = None
    session_handle: asyncio.TimerHandle | None = None
    uas_timer: UasDecision | None = None
    transfer_target: str = ""
    # The media session streaming ``media`` (None without a media factory), its audio and
    # the parameters it was last given.
    media_session: MediaSession | None = None
    audio: CallAudio | None = None
    # A recording asked for before the media session started; attached when it does.
    pending_recorder: CallRecorder | None = None
    media_applied: NegotiatedMedia | None = None
    media_tried: bool = False
    # For the call history: when it began and was answered (wall clock), and its quality over time.
    started_at: float = field(default_factory=time.time)
    answered_at: float | None = None
    quality: QualitySummary = field(default_factory=QualitySummary)
    replaced_by: Call | None = None
    transfer_from: Call | None = None

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    @property
    def confirmed(self) -> bool:
        return self.state in ("confirmed", "held")

    def event(self) -> CallEvent:
        remote_uri = str(self.remote.uri)
        return CallEvent(
            self.id,
            self.direction,
            remote_uri,
            self.remote.display_name,
            self.state,
            self.code,
            self.reason,
            self.photo_url,
            self.asserted_identity,
        )

    def cancel_timers(self) -> None:
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()
        if self.session_handle is not None:
            self.session_handle.cancel()
            self.session_handle = None

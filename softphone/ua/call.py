"""One call as the user agent keeps it: its machine, and what the driver holds for it (timers, media)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from softphone.sip.addr import NameAddr
from softphone.sip.dialog import Dialog
from softphone.sip.offer_answer import NegotiatedMedia
from softphone.sip.sdp import SessionDescription
from softphone.store.history import QualitySummary
from softphone.ua.account import Account
from softphone.ua.call_effects import CallTimer
from softphone.ua.call_machine import CallMachine
from softphone.ua.events import CallEvent, CallState, Direction
from softphone.ua.media import CallAudio, MediaPort
from softphone.ua.session_timer import SessionTimer

if TYPE_CHECKING:
    from softphone.media.engine import MediaSession
    from softphone.media.recorder import CallRecorder
    from softphone.media.video import VideoSession
    from softphone.sip.video_offer_answer import NegotiatedVideo


@dataclass(eq=False)
class Call:
    """One call. ``id`` is the short name (``c1``) shown in events; ``sip_call_id`` the Call-ID.

    The protocol state lives in :attr:`machine` (:class:`~softphone.ua.call_machine.CallMachine`);
    the rest is what carrying out its effects needs: the reserved RTP port, the running timers,
    the media session and its audio, and what the call history keeps.
    """

    machine: CallMachine
    account: Account
    media_port: MediaPort
    # Where their INVITE came from (an incoming call): its peer may send from there.
    peer_source: tuple[str, int] | None = None
    # The SDP names the NAT's address of the media port (learned by STUN): keep that mapping open.
    reflexive: bool = False
    # Its media goes through a TURN relay (with ICE: a relayed candidate was offered).
    relayed: bool = False
    timers: dict[CallTimer, asyncio.TimerHandle] = field(default_factory=dict)
    # The media session streaming ``media`` (None without a media factory) and its audio.
    media_session: MediaSession | None = None
    audio: CallAudio | None = None
    media_tried: bool = False
    media_applied: NegotiatedMedia | None = None
    # A recording asked for before the media session started; attached when it does.
    pending_recorder: CallRecorder | None = None
    muted: bool = False
    # The even UDP port reserved for video (None: this call offers and accepts no video) and its session.
    video_port: MediaPort | None = None
    video_session: VideoSession | None = None
    video_applied: NegotiatedVideo | None = None
    # What this call's video sends when the user chose (video_source_chosen): a source spec, None for nothing.
    video_source: str | None = None
    video_source_chosen: bool = False
    # For the call history: when it began and was answered (wall clock), and its quality over time.
    started_at: float = field(default_factory=time.time)
    answered_at: float | None = None
    quality: QualitySummary = field(default_factory=QualitySummary)
    # As a transferee: the call whose REFER made us place this one.
    transfer_from: Call | None = None
    # Placed for a REFER outside any dialog: the dialog its NOTIFYs go in.
    refer_dialog: Dialog | None = None
    replaced_by: Call | None = None

    # --- read from the machine ----------------------------------------------------------

    @property
    def id(self) -> str:
        return self.machine.id

    @property
    def sip_call_id(self) -> str:
        return self.machine.call_id

    @property
    def local_tag(self) -> str:
        return self.machine.local_tag

    @property
    def direction(self) -> Direction:
        return self.machine.direction

    @property
    def remote(self) -> NameAddr:
        return self.machine.remote

    @property
    def state(self) -> CallState:
        return self.machine.state

    @property
    def code(self) -> int | None:
        return self.machine.code

    @property
    def reason(self) -> str:
        return self.machine.reason

    @property
    def dialog(self) -> Dialog | None:
        return self.machine.dialog

    @property
    def media(self) -> NegotiatedMedia | None:
        return self.machine.media

    @property
    def local_sdp(self) -> SessionDescription | None:
        return self.machine.local_sdp

    @property
    def remote_sdp(self) -> SessionDescription | None:
        return self.machine.remote_sdp

    @property
    def local_hold(self) -> bool:
        return self.machine.local_hold

    @property
    def remote_hold(self) -> bool:
        return self.machine.remote_hold

    @property
    def session_timer(self) -> SessionTimer | None:
        return self.machine.session_timer

    @property
    def session_handle(self) -> asyncio.TimerHandle | None:
        """The running RFC 4028 refresh or expiry timer."""
        return self.timers.get(CallTimer.SESSION_REFRESH) or self.timers.get(CallTimer.SESSION_EXPIRY)

    @property
    def photo_url(self) -> str | None:
        return self.machine.photo_url

    @property
    def asserted_identity(self) -> str | None:
        return self.machine.asserted_identity

    @property
    def ended(self) -> bool:
        return self.machine.ended

    @property
    def confirmed(self) -> bool:
        return self.machine.answered and not self.ended

    @property
    def ringing(self) -> bool:
        """An incoming call not answered or refused yet."""
        return self.direction == "incoming" and self.state in ("ringing", "early") and not self.ended

    def event(self) -> CallEvent:
        return self.machine.event()

    def cancel_timers(self) -> None:
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()

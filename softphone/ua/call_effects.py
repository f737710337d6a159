"""What a call machine asks its driver to do, and what it is configured with.

The machine (:mod:`softphone.ua.call_machine`) never touches a socket, a
loop or a clock: each input returns a list of these effects, which the
driver (:mod:`softphone.ua.calls`) carries out in order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal

from softphone.sip.auth import DigestClient
from softphone.sip.dialog import Dialog
from softphone.sip.message import Request, Response
from softphone.sip.offer_answer import AudioConfig, NegotiatedMedia
from softphone.sip.srtp_sdp import MediaCrypto
from softphone.sip.transaction import ServerTransaction
from softphone.sip.uri import SipUri, Uri
from softphone.sip.video_offer_answer import NegotiatedVideo, VideoConfig
from softphone.transport import Target
from softphone.ua.events import Event

__all__ = [
    "CallConfig",
    "CallEffect",
    "CallTimer",
    "Completed",
    "Emit",
    "Ended",
    "LocalParty",
    "PlaceCall",
    "Purpose",
    "Rel100",
    "SendAck",
    "SendRequest",
    "SendResponse",
    "StartMedia",
    "StartTimer",
    "StopMedia",
    "StopTimer",
    "UpdateMedia",
]

Rel100 = Literal["off", "supported", "required"]


class CallTimer(enum.Enum):
    """The timers of one call; starting one that runs replaces it."""

    RETRANSMIT_2XX = "2xx retransmission"  # RFC 3261 13.3.1.4
    ACK_WAIT = "ACK wait"  # 64*T1 for the ACK of our 2xx
    RETRANSMIT_1XX = "reliable 1xx retransmission"  # RFC 3262 3
    PRACK_WAIT = "PRACK wait"
    AUTO_ANSWER = "auto answer"
    FORWARD = "forward on no answer"
    RING_TIMEOUT = "ring timeout"
    SESSION_REFRESH = "session refresh"  # RFC 4028 10
    SESSION_EXPIRY = "session expiry"
    GLARE_RETRY = "glare back-off"  # RFC 3261 14.1
    REFRESH_RETRY = "session refresh postponed"
    TRANSFER_BYE = "BYE after a transfer"  # RFC 5589 6.1


@dataclass(frozen=True)
class CallConfig:
    """What every call of a user agent shares.

    ``rel100``: ``off`` never uses reliable provisional responses;
    ``supported`` (the default) uses them when the peer requires them (and
    for our early media when the peer supports them); ``required`` demands
    them of every peer (RFC 3262). ``early_media``: an incoming call is
    answered with a 183 carrying our SDP while it rings, and media starts.
    """

    audio: AudioConfig = field(default_factory=AudioConfig)
    # Video next to the audio (None: audio only; offered video streams are declined with port 0).
    video: VideoConfig | None = None
    session_expires: int | None = 1800
    min_se: int = 90
    rel100: Rel100 = "supported"
    early_media: bool = False
    user_agent: str | None = None
    allow: str = ""
    t1: float = 0.5
    t2: float = 4.0

    @property
    def supported(self) -> tuple[str, ...]:
        options = ["replaces", "timer"]
        if self.rel100 != "off":
            options.append("100rel")
        return tuple(options)


@dataclass
class LocalParty:
    """Our side of a call: the account's address, next hop and credentials."""

    uri: SipUri
    display_name: str | None
    outbound_proxy: SipUri | None
    digest: DigestClient
    photo_url: str | None = None


@dataclass(slots=True)
class Purpose:
    """Why the machine sent a request: what its responses are fed to, and how to send it again with credentials."""

    kind: str
    op: int | None = None
    dialog: Dialog | None = None
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    authorized: bool = False


# --- effects ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendRequest:
    """Send ``request`` in a new client transaction and hand every response back to the machine.

    ``target`` None: inside a dialog, to the hop its Route set or Request-URI names.
    """

    request: Request
    target: Target | None = None


@dataclass(frozen=True, slots=True)
class SendResponse:
    transaction: ServerTransaction
    response: Response


@dataclass(frozen=True, slots=True)
class SendAck:
    """An ACK for a 2xx, outside any transaction (RFC 3261 13.2.2.4), to the dialog's next hop."""

    ack: Request


@dataclass(frozen=True, slots=True)
class Emit:
    event: Event


@dataclass(frozen=True, slots=True)
class StartMedia:
    """Start streaming ``media``.

    ``answered`` False for early media (no latching onto other sources yet); ``send`` False while
    only the peer's early media is heard; ``hold`` while we hold the call. ``crypto``: the SRTP
    keys (SDES) or the DTLS role and the peer's fingerprint that offer/answer agreed; None for plain RTP.
    """

    media: NegotiatedMedia
    answered: bool
    hold: bool = False
    send: bool = True
    crypto: MediaCrypto | None = None
    # The video stream offer/answer agreed next to the audio (None: none).
    video: NegotiatedVideo | None = None


@dataclass(frozen=True, slots=True)
class UpdateMedia:
    """What the latest offer/answer or hold change means for the running media (new keys included)."""

    media: NegotiatedMedia
    answered: bool
    hold: bool = False
    send: bool = True
    crypto: MediaCrypto | None = None
    video: NegotiatedVideo | None = None


@dataclass(frozen=True, slots=True)
class StopMedia:
    pass


@dataclass(frozen=True, slots=True)
class StartTimer:
    timer: CallTimer
    delay: float


@dataclass(frozen=True, slots=True)
class StopTimer:
    timer: CallTimer


@dataclass(frozen=True, slots=True)
class Completed:
    """The user command numbered ``op`` has finished; ``error`` says why it failed."""

    op: int
    error: str | None = None
    code: int | None = None


@dataclass(frozen=True, slots=True)
class PlaceCall:
    """As a transferee (RFC 3515 2.4.4): call ``uri`` with ``headers`` and report back with the outcome."""

    uri: Uri
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Ended:
    """The call has ended (its ``ended`` CallEvent, if any, was emitted just before)."""

    code: int | None
    reason: str


CallEffect = (
    SendRequest
    | SendResponse
    | SendAck
    | Emit
    | StartMedia
    | UpdateMedia
    | StopMedia
    | StartTimer
    | StopTimer
    | Completed
    | PlaceCall
    | Ended
)

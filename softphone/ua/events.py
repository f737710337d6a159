"""The typed events a :class:`~softphone.ua.agent.UserAgent` emits.

Every event is a frozen dataclass with a ``to_json()`` giving a plain dict
whose ``"event"`` key names the type; the CLI prints them one per line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias

RegistrationState = Literal["registered", "unregistered", "failed", "registering"]
CallState = Literal["calling", "ringing", "early", "confirmed", "held", "ended"]
Direction = Literal["outgoing", "incoming"]


class _Event:
    kind: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.kind}
        data.update(dataclasses.asdict(self))  # type: ignore[call-overload]
        return data


# The words users see for each SRTP suite (RFC 4568 6.2, RFC 7714 12).
SUITE_LABELS = {
    "AEAD_AES_256_GCM": "AES-GCM-256",
    "AEAD_AES_128_GCM": "AES-GCM-128",
    "AES_CM_128_HMAC_SHA1_80": "AES-CM-128 HMAC-SHA1-80",
    "AES_CM_128_HMAC_SHA1_32": "AES-CM-128 HMAC-SHA1-32",
}


@dataclass(frozen=True, slots=True)
class Encryption:
    """Whether a call's media is encrypted, with what, and how its keys were agreed.

    ``suite`` is the RFC name (``AEAD_AES_256_GCM`` ...), ``key_exchange``
    ``sdes`` or ``dtls``. ``verified``: for DTLS, the peer's certificate
    matched the fingerprint in its SDP; for SDES, the keys crossed the
    first hop only over TLS. ``encrypted`` False with ``reason`` saying why
    not (or, while a DTLS handshake runs, ``pending`` True).
    """

    encrypted: bool
    suite: str | None = None
    key_exchange: Literal["sdes", "dtls"] | None = None
    verified: bool = False
    pending: bool = False
    reason: str = ""

    def describe(self) -> str:
        """One line for people: ``SRTP AES-GCM-256, keys by DTLS, fingerprint verified``."""
        if self.pending:
            return "SRTP: DTLS handshake in progress"
        if not self.encrypted:
            return f"Not encrypted: {self.reason}" if self.reason else "Not encrypted"
        words = f"SRTP {SUITE_LABELS.get(self.suite or '', self.suite or '')}".strip()
        if self.key_exchange == "dtls":
            check = "fingerprint verified" if self.verified else "fingerprint not verified"
            return f"{words}, keys by DTLS, {check}"
        check = "over TLS" if self.verified else "in clear SDP"
        return f"{words}, keys by SDES {check}"


def _without_empty_encryption(data: dict[str, Any]) -> dict[str, Any]:
    """``encryption`` appears in JSON once there is something to say about it."""
    if data.get("encryption", True) is None:
        del data["encryption"]
    return data


@dataclass(frozen=True, slots=True)
class RegistrationEvent(_Event):
    """``tls_problem`` (``untrusted``, ``name-mismatch``, ``expired`` …) and ``fingerprint`` (SHA-256 of the
    server's certificate) when the registrar's certificate did not verify: what the user needs to decide
    whether to trust it. A ``failed`` registration says when it is tried again (``retry_in`` seconds; None:
    not by itself) and whether the registrar wants a password we do not have or refused ours
    (``needs_password``; without any password it waits for one, or for a ``register``)."""

    kind: ClassVar[str] = "registration"
    account: str
    state: RegistrationState
    code: int | None = None
    reason: str = ""
    expires: int | None = None
    tls_problem: str | None = None
    fingerprint: str | None = None
    retry_in: float | None = None
    needs_password: bool = False


@dataclass(frozen=True, slots=True)
class CallEvent(_Event):
    kind: ClassVar[str] = "call"
    call_id: str
    direction: Direction
    remote_uri: str
    remote_display_name: str | None
    state: CallState
    code: int | None = None
    reason: str = ""
    photo_url: str | None = None
    asserted_identity: str | None = None
    # None until offer/answer has agreed on the media.
    encryption: Encryption | None = None

    def to_json(self) -> dict[str, Any]:
        return _without_empty_encryption(_Event.to_json(self))


@dataclass(frozen=True, slots=True)
class IncomingCallEvent(_Event):
    kind: ClassVar[str] = "incoming_call"
    call_id: str
    remote_uri: str
    remote_display_name: str | None
    photo_url: str | None = None
    asserted_identity: str | None = None
    # The offer has a video stream we could take (answer(video=False) declines it).
    video: bool = False


@dataclass(frozen=True, slots=True)
class TransferEvent(_Event):
    """Progress of a transfer: ``state`` is ``trying``, ``accepted``, ``progress``, ``succeeded`` or ``failed``."""

    kind: ClassVar[str] = "transfer"
    call_id: str
    state: str
    code: int | None = None
    target: str = ""


@dataclass(frozen=True, slots=True)
class DtmfEvent(_Event):
    kind: ClassVar[str] = "dtmf"
    call_id: str
    digit: str
    method: Literal["info", "rtp"] = "info"


@dataclass(frozen=True, slots=True)
class QualityEvent(_Event):
    """Once a second per call with media: the figures of :class:`~softphone.media.quality.QualitySnapshot`."""

    kind: ClassVar[str] = "quality"
    call_id: str
    packets_sent: int
    packets_received: int
    loss_percent: float
    jitter_ms: float
    rtt_ms: float | None
    jitter_buffer_ms: float
    concealed_ms: float
    mos: float
    r_factor: float | None = None
    encryption: Encryption | None = None
    # While the echo canceller runs: its echo return loss enhancement (dB) and the echo's delay (ms).
    erle_db: float | None = None
    echo_delay_ms: float | None = None
    # The way media takes (host, srflx, relay by ICE; direct or relay without it) and its two ends.
    path: str | None = None
    path_local: str | None = None
    path_remote: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _without_empty_encryption(_Event.to_json(self))


@dataclass(frozen=True, slots=True)
class VideoQualityEvent(_Event):
    """Once a second per call with video: what is received (size, frame rate, bitrate, loss) and sent."""

    kind: ClassVar[str] = "video_quality"
    call_id: str
    codec: str
    width: int
    height: int
    fps: float
    bitrate_kbps: float
    send_bitrate_kbps: float
    frames_decoded: int
    frames_sent: int
    freezes: int
    loss_percent: float
    keyframes_requested: int
    keyframes_sent: int
    nacks_sent: int
    retransmitted: int
    packets_dropped: int
    # SRTP: the keys are in place; packets refused by SRTP (failed authentication, replays, plain ones).
    encrypted: bool = False
    srtp_dropped: int = 0
    # What we send: the target bitrate from the peer's reports (loss, TMMBR, REMB), the size and rate it pays for.
    target_bitrate_kbps: float = 0.0
    send_width: int = 0
    send_height: int = 0
    send_fps: int = 0
    # Lip sync (RFC 3550 6.4.1): ms the picture is shown after the sound taken with it (None: not known yet).
    av_offset_ms: float | None = None


@dataclass(frozen=True, slots=True)
class VideoEvent(_Event):
    """A call's video started (``active``), changed what it sends, or stopped. ``source``: what we send
    from (``pattern``, ``screen``, ``camera``, a file; None: nothing). ``sending``: the camera is on (our
    video line sends); off, it says recvonly and nothing of ours goes out."""

    kind: ClassVar[str] = "video"
    call_id: str
    active: bool
    source: str | None = None
    sending: bool = True


@dataclass(frozen=True, slots=True)
class MediaPathEvent(_Event):
    """ICE chose the way a call's media takes: ``path`` host, srflx or relay, from ``local`` to ``remote``;
    ``stream`` says whose: the ``audio``'s or the ``video``'s (each stream runs ICE of its own)."""

    kind: ClassVar[str] = "media_path"
    call_id: str
    path: str
    local: str
    remote: str
    stream: str = "audio"


@dataclass(frozen=True, slots=True)
class NetworkChangeEvent(_Event):
    """The account's flow to its registrar moved (``reason``): it registered again from where it is now, and
    the ``calls`` listed are being moved by re-INVITE (with an ICE restart where they have ICE)."""

    kind: ClassVar[str] = "network_change"
    account: str
    reason: str
    calls: tuple[str, ...] = ()


MediaWarningKind = Literal["one_way_audio", "media_failure", "device", "stun", "turn", "ice"]


@dataclass(frozen=True, slots=True)
class MediaWarningEvent(_Event):
    """A media problem of a call; ``active`` False when it has cleared (one-way audio only)."""

    kind: ClassVar[str] = "media_warning"
    call_id: str
    warning: MediaWarningKind
    message: str
    active: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "call_id": self.call_id,
            "kind": self.warning,
            "message": self.message,
            "active": self.active,
        }


@dataclass(frozen=True, slots=True)
class ConferenceEvent(_Event):
    """The local conference now joins ``call_ids`` (``active``), or ended (the calls left are in ``call_ids``)."""

    kind: ClassVar[str] = "conference"
    call_ids: list[str]
    active: bool


@dataclass(frozen=True, slots=True)
class RecordingEvent(_Event):
    """A call recording started (``active``) or finished; ``error`` says why it stopped early or failed."""

    kind: ClassVar[str] = "recording"
    call_id: str
    path: str
    active: bool
    seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionEvent(_Event):
    """Our subscription to ``event`` at ``uri`` changed state (RFC 6665); ``reason``/``code`` say why it ended."""

    kind: ClassVar[str] = "subscription"
    account: str
    uri: str
    event: str
    state: Literal["pending", "active", "terminated"]
    reason: str | None = None
    code: int | None = None

    def to_json(self) -> dict[str, Any]:
        # The event package goes out as "package": "event" names the kind of every JSON event.
        return {
            "event": self.kind,
            "account": self.account,
            "uri": self.uri,
            "package": self.event,
            "state": self.state,
            "reason": self.reason,
            "code": self.code,
        }


@dataclass(frozen=True, slots=True)
class PresenceEvent(_Event):
    """A buddy's presence (RFC 3863/4480), or our own as published (``uri`` is then our AOR)."""

    kind: ClassVar[str] = "presence"
    uri: str
    basic: Literal["open", "closed", "unknown"]
    activity: str | None = None
    note: str | None = None
    account: str = ""


WatcherState = Literal["pending", "allowed", "blocked", "active", "terminated"]


@dataclass(frozen=True, slots=True)
class WatcherEvent(_Event):
    """Someone subscribed to our presence or dialog state: ``pending`` waits for the user's allow or block.

    ``verified`` False: nobody vouches that the request came from ``uri`` (it only claims to).
    """

    kind: ClassVar[str] = "watcher"
    uri: str
    state: WatcherState
    account: str = ""
    verified: bool = True


MessageStatus = Literal["queued", "sending", "sent", "failed"]


@dataclass(frozen=True, slots=True)
class MessageEvent(_Event):
    """An instant message arrived (RFC 3428), already stored when this is emitted."""

    kind: ClassVar[str] = "message"
    sender: str
    text: str
    time: float
    account: str = ""
    message_id: int | None = None
    call_id: str | None = None
    from_stranger: bool = False
    """A message request: ``sender`` is not verified as a contact (see ``MessagingService``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "from": self.sender,
            "text": self.text,
            "time": self.time,
            "account": self.account,
            "message_id": self.message_id,
            "call_id": self.call_id,
            "from_stranger": self.from_stranger,
        }


@dataclass(frozen=True, slots=True)
class MessageStatusEvent(_Event):
    """Delivery state of a message we wrote."""

    kind: ClassVar[str] = "message_status"
    message_id: int
    to: str
    status: MessageStatus
    code: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ComposingEvent(_Event):
    """The peer is typing (``active``) or stopped (RFC 3994)."""

    kind: ClassVar[str] = "composing"
    uri: str
    active: bool
    account: str = ""


@dataclass(frozen=True, slots=True)
class MwiEvent(_Event):
    """Message-waiting summary (RFC 3842) of ``account``: voice messages new and old, all classes in ``counts``."""

    kind: ClassVar[str] = "mwi"
    account: str
    new: int
    old: int
    waiting: bool = False
    voicemail_uri: str | None = None
    counts: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)


BusyLampState = Literal["idle", "ringing", "busy", "unknown"]


@dataclass(frozen=True, slots=True)
class DialogStateEvent(_Event):
    """A buddy's busy lamp (RFC 4235 dialog state)."""

    kind: ClassVar[str] = "dialog_state"
    uri: str
    state: BusyLampState
    account: str = ""


@dataclass(frozen=True, slots=True)
class CallbackReadyEvent(_Event):
    """The callee of an automatic-callback request is free now (``redialled``: the call was placed again)."""

    kind: ClassVar[str] = "callback_ready"
    uri: str
    redialled: bool = False
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class PageStartedEvent(_Event):
    """A multicast page began: heard here (``incoming``, ``source`` the sender's address) or sent by us."""

    kind: ClassVar[str] = "page_started"
    page_id: str
    group: str
    source: str
    codec: str
    direction: Direction
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class PageEndedEvent(_Event):
    """A multicast page ended. ``reason``: ``stopped`` (nothing for a second, or our own page ended),
    ``preempted`` (a page of higher priority took over) or ``closed`` (the listener stopped)."""

    kind: ClassVar[str] = "page_ended"
    page_id: str
    group: str
    source: str
    codec: str
    direction: Direction
    reason: str = "stopped"


@dataclass(frozen=True, slots=True)
class LanPeerEvent(_Event):
    """A phone found on the LAN by mDNS/DNS-SD (``up``), changed (``up`` again) or gone (``down``).

    ``name`` is its DNS-SD instance name, ``uri`` where calls and messages to it go; ``display_name``,
    ``aor`` and ``accepts_calls`` are what it says of itself (claims, not proof).
    """

    kind: ClassVar[str] = "lan_peer"
    name: str
    uri: str
    state: Literal["up", "down"]
    display_name: str = ""
    aor: str | None = None
    accepts_calls: bool = True


@dataclass(frozen=True, slots=True)
class LanAnnounceEvent(_Event):
    """Our account ``account`` is announced on the LAN as ``name`` (``requested`` was taken when they differ),
    or no longer (``withdrawn``), or could not be (``failed``, with ``reason``)."""

    kind: ClassVar[str] = "lan_announce"
    account: str
    name: str
    requested: str
    state: Literal["announced", "withdrawn", "failed"]
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ErrorEvent(_Event):
    kind: ClassVar[str] = "error"
    message: str


Event: TypeAlias = (
    RegistrationEvent
    | CallEvent
    | IncomingCallEvent
    | TransferEvent
    | DtmfEvent
    | QualityEvent
    | VideoQualityEvent
    | VideoEvent
    | MediaPathEvent
    | NetworkChangeEvent
    | MediaWarningEvent
    | RecordingEvent
    | ConferenceEvent
    | SubscriptionEvent
    | PresenceEvent
    | WatcherEvent
    | MessageEvent
    | MessageStatusEvent
    | ComposingEvent
    | MwiEvent
    | DialogStateEvent
    | CallbackReadyEvent
    | PageStartedEvent
    | PageEndedEvent
    | LanPeerEvent
    | LanAnnounceEvent
    | ErrorEvent
)

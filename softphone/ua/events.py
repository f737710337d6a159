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


@dataclass(frozen=True, slots=True)
class RegistrationEvent(_Event):
    kind: ClassVar[str] = "registration"
    account: str
    state: RegistrationState
    code: int | None = None
    reason: str = ""
    expires: int | None = None


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


@dataclass(frozen=True, slots=True)
class IncomingCallEvent(_Event):
    kind: ClassVar[str] = "incoming_call"
    call_id: str
    remote_uri: str
    remote_display_name: str | None
    photo_url: str | None = None
    asserted_identity: str | None = None


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


MediaWarningKind = Literal["one_way_audio", "media_failure", "device"]


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
class RecordingEvent(_Event):
    """A call recording started (``active``) or finished; ``error`` says why it stopped early or failed."""

    kind: ClassVar[str] = "recording"
    call_id: str
    path: str
    active: bool
    seconds: float = 0.0
    error: str | None = None


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
    | MediaWarningEvent
    | RecordingEvent
    | ErrorEvent
)

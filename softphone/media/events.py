"""What a media session reports besides quality: DTMF, one-way audio, the peer's RTCP BYE, encryption, failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from softphone.media.quality import QualitySnapshot

__all__ = [
    "DtmfReceived",
    "EncryptionFailed",
    "EncryptionReady",
    "EventCallback",
    "IceConnected",
    "IceFailure",
    "MediaEvent",
    "MediaFailure",
    "OneWayAudio",
    "QualityCallback",
    "RemoteBye",
]


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    digit: str


@dataclass(frozen=True, slots=True)
class OneWayAudio:
    """``active`` True: no RTP for ``silent_for`` seconds; False: RTP flows again."""

    active: bool
    silent_for: float


@dataclass(frozen=True, slots=True)
class RemoteBye:
    """The peer sent RTCP BYE (RFC 3550 6.6)."""

    reason: str | None


@dataclass(frozen=True, slots=True)
class MediaFailure:
    message: str


@dataclass(frozen=True, slots=True)
class EncryptionReady:
    """SRTP keys are in place: ``verified`` when the peer proved the certificate its SDP named (DTLS)."""

    key_exchange: str
    suite: str
    verified: bool


@dataclass(frozen=True, slots=True)
class EncryptionFailed:
    """The media could not be protected (DTLS handshake timeout, fingerprint mismatch ...): the call must end."""

    reason: str


@dataclass(frozen=True, slots=True)
class IceConnected:
    """ICE selected a path (RFC 8445 8): ``kind`` host, srflx or relay, between ``local`` and ``remote``."""

    kind: str
    local: tuple[str, int]
    remote: tuple[str, int]


@dataclass(frozen=True, slots=True)
class IceFailure:
    """No candidate pair works, or the selected one lost consent (RFC 7675): media cannot flow."""

    reason: str


MediaEvent: TypeAlias = (
    DtmfReceived
    | OneWayAudio
    | RemoteBye
    | MediaFailure
    | EncryptionReady
    | EncryptionFailed
    | IceConnected
    | IceFailure
)

QualityCallback = Callable[[QualitySnapshot], None]
EventCallback = Callable[[MediaEvent], None]

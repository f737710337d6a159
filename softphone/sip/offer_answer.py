"""The SDP offer/answer model (RFC 3264) for one audio stream.

:func:`create_offer` builds our offer, :func:`create_answer` answers a remote
offer, :func:`negotiate_answer` checks the answer to our offer, and
:func:`hold_offer` / :func:`resume_offer` / :func:`next_offer` build the
re-offers of a running session. What both sides agreed for the audio stream
comes back as a :class:`NegotiatedMedia`.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from softphone.sip.errors import SipParseError
from softphone.sip.ice_sdp import IceDescription, NegotiatedIce, ice_attributes, remote_ice
from softphone.sip.sdp import (
    DIRECTIONS,
    Attribute,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    RtpMap,
    SessionDescription,
    format_fmtp_params,
)
from softphone.sip.srtp_offer_answer import (
    answer_security,
    answered_crypto,
    dtls_view,
    keep_role,
    offer_security,
)
from softphone.sip.srtp_sdp import DTLS_PROTOS, SAVP_PROTOS, MediaCrypto, SrtpConfig

TELEPHONE_EVENT = "telephone-event"
FIRST_DYNAMIC_PAYLOAD_TYPE = 96
LAST_DYNAMIC_PAYLOAD_TYPE = 127
NOT_ACCEPTABLE_HERE = 488


@dataclass
class Codec:
    """An RTP audio format: encoding name, clock rate, channels, payload type and fmtp parameters.

    In an :class:`AudioConfig` the payload type is the static number (PCMU 0,
    PCMA 8, G722 9) or the preferred dynamic one; in a :class:`NegotiatedMedia` it is
    the number the peer gave it, and ``fmtp`` holds the peer's parameters.
    """

    name: str
    clock_rate: int
    channels: int = 1
    payload_type: int | None = None
    fmtp: dict[str, str] = field(default_factory=dict)

    @property
    def is_static(self) -> bool:
        return self.payload_type is not None and self.payload_type < FIRST_DYNAMIC_PAYLOAD_TYPE

    @property
    def rtpmap(self) -> RtpMap:
        return RtpMap(self.name, self.clock_rate, self.channels)

    def matches(self, rtpmap: RtpMap) -> bool:
        """Same encoding name (case-insensitive), clock rate and channel count."""
        if self.name.casefold() != rtpmap.encoding.casefold() or self.clock_rate != rtpmap.clock_rate:
            return False
        # RFC 7587 7: opus is always opus/48000/2; take a missing channel count leniently.
        if self.name.casefold() == "opus":
            return True
        return self.channels == rtpmap.channels


def opus_codec(
    *,
    payload_type: int = 111,
    useinbandfec: bool = True,
    usedtx: bool = False,
    maxaveragebitrate: int | None = None,
    stereo: bool = False,
) -> Codec:
    """Opus with the RFC 7587 7.1 parameters that describe what we like to receive."""
    fmtp: dict[str, str] = {}
    if useinbandfec:
        fmtp["useinbandfec"] = "1"
    if usedtx:
        fmtp["usedtx"] = "1"
    if maxaveragebitrate is not None:
        fmtp["maxaveragebitrate"] = str(maxaveragebitrate)
    if stereo:
        fmtp["stereo"] = "1"
        fmtp["sprop-stereo"] = "1"
    return Codec("opus", 48000, 2, payload_type, fmtp)


def g722_codec() -> Codec:
    # RFC 3551 4.5.2: G722/8000 although the audio is sampled at 16 kHz.
    return Codec("G722", 8000, 1, 9)


def pcmu_codec() -> Codec:
    return Codec("PCMU", 8000, 1, 0)


def pcma_codec() -> Codec:
    return Codec("PCMA", 8000, 1, 8)


def default_codecs() -> list[Codec]:
    return [opus_codec(), g722_codec(), pcmu_codec(), pcma_codec()]


_AUDIO_CODECS: dict[str, Callable[[], Codec]] = {
    "opus": opus_codec,
    "g722": g722_codec,
    "pcmu": pcmu_codec,
    "pcma": pcma_codec,
}


def codecs_named(names: Iterable[str]) -> list[Codec]:
    """Our codecs by encoding name (``opus``, ``G722``, ``PCMU``, ``PCMA``; any case), in the order given."""
    codecs: list[Codec] = []
    for name in names:
        make = _AUDIO_CODECS.get(name.strip().lower())
        if make is None:
            raise ValueError(f"unknown codec {name.strip()!r}; known: opus, G722, PCMU, PCMA")
        if all(c.name.lower() != name.strip().lower() for c in codecs):
            codecs.append(make())
    if not codecs:
        raise ValueError("no codec named")
    return codecs


@dataclass
class AudioConfig:
    """What we can do for audio, in order of preference.

    ``telephone_event`` adds RFC 4733 telephone-event at each clock rate of
    the codecs (so telephone-event/48000 goes with opus, /8000 with G.722 and G.711),
    announcing ``dtmf_events``. ``ptime`` is the packetization we ask to
    receive.
    """

    codecs: list[Codec] = field(default_factory=default_codecs)
    telephone_event: bool = True
    dtmf_events: str = "0-16"
    ptime: int = 20
    maxptime: int | None = None
    rtcp_mux: bool = False
    protos: tuple[str, ...] = ("RTP/AVP",)
    srtp: SrtpConfig = field(default_factory=SrtpConfig)
    # Our ICE credentials and candidates (RFC 8839); None: no ICE.
    ice: IceDescription | None = None

    @property
    def accepted_protos(self) -> tuple[str, ...]:
        """The m= transport protocols we answer: the plain ones, and the SRTP ones unless SRTP is off."""
        if not self.srtp.enabled:
            return self.protos
        return (*self.protos, *SAVP_PROTOS, *DTLS_PROTOS)

    def find_codec(self, rtpmap: RtpMap) -> Codec | None:
        for codec in self.codecs:
            if codec.matches(rtpmap):
                return codec
        return None


MediaCapabilities = AudioConfig


@dataclass
class NegotiatedMedia:
    """The agreed audio stream, from our point of view.

    ``codec`` is what we send: the first common codec, with the payload type
    and fmtp parameters of the peer. ``receive_codecs`` maps the payload
    types the peer will send us to codecs. ``direction`` says what we may do
    (``sendonly``: we send, the peer doesn't). ``on_hold`` is True when the
    peer has put us on hold (RFC 3264 8.4).
    """

    remote_address: str
    remote_addrtype: str
    remote_port: int
    remote_rtcp_port: int
    codec: Codec
    payload_type: int
    codecs: list[Codec]
    receive_codecs: dict[int, Codec]
    telephone_event: int | None
    telephone_events: dict[int, int]
    ptime: int
    direction: Direction
    on_hold: bool
    rtcp_mux: bool
    crypto: MediaCrypto | None = None
    # Why the stream is plain RTP, in words for the user (empty when it is encrypted).
    plain_reason: str = ""
    # The one SSRC the peer's SDP declares for the stream (RFC 5576 4.1), if it declares exactly one.
    remote_ssrc: int | None = None
    # Both sides' ICE, when both do it.
    ice: NegotiatedIce | None = None
    # The offer named a multicast group: we join it and only receive (``remote_address`` is the group).
    multicast: bool = False

    @property
    def send(self) -> bool:
        return self.direction in ("sendrecv", "sendonly")

    @property
    def receive(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


def reverse_direction(direction: Direction) -> Direction:
    """The same stream seen from the other end."""
    if direction == "sendonly":
        return "recvonly"
    if direction == "recvonly":
        return "sendonly"
    return direction


def _direction_from(send: bool, receive: bool) -> Direction:
    if send and receive:
        return "sendrecv"
    if send:
        return "sendonly"
    if receive:
        return "recvonly"
    return "inactive"


def _intersect(first: Direction, second: Direction) -> Direction:
    return _direction_from(
        first in ("sendrecv", "sendonly") and second in ("sendrecv", "sendonly"),
        first in ("sendrecv", "recvonly") and second in ("sendrecv", "recvonly"),
    )


def _check_direction(direction: str) -> Direction:
    for known in DIRECTIONS:
        if direction == known:
            return known
    raise ValueError(f"not an SDP direction: {direction!r}")


def _addrtype(address: str) -> str:
    try:
        return "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"
    except ValueError:
        return "IP6" if ":" in address else "IP4"


def _check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 0-65535")


def _session(*, address: str, session_id: int, session_version: int, username: str) -> SessionDescription:
    addrtype = _addrtype(address)
    return SessionDescription(
        origin=Origin(username, session_id, session_version, "IN", addrtype, address),
        session_name="-",
        connection=Connection("IN", addrtype, address),
    )


def _rtp_attributes(payload_type: int, codec: Codec | RtpMap, fmtp: dict[str, str] | str | None) -> list[Attribute]:
    rtpmap = codec.rtpmap if isinstance(codec, Codec) else codec
    attributes = [Attribute("rtpmap", f"{payload_type} {rtpmap}")]
    if fmtp:
        attributes.append(Attribute("fmtp", f"{payload_type} {format_fmtp_params(fmtp)}"))
    return attributes


def _telephone_event_rates(codecs: list[Codec]) -> list[int]:
    rates: list[int] = []
    for codec in codecs:
        if codec.clock_rate not in rates:
            rates.append(codec.clock_rate)
    return rates


def _allocate(preferred: int | None, used: set[int]) -> int:
    if preferred is not None and preferred not in used:
        used.add(preferred)
        return preferred
    for candidate in range(FIRST_DYNAMIC_PAYLOAD_TYPE, LAST_DYNAMIC_PAYLOAD_TYPE + 1):
        if candidate not in used:
            used.add(candidate)
            return candidate
    raise ValueError("more codecs than dynamic RTP payload types")


def create_offer(
    local: AudioConfig,
    *,
    address: str,
    port: int,
    session_id: int,
    session_version: int,
    direction: Direction = "sendrecv",
    username: str = "-",
) -> SessionDescription:
    """Our offer of one audio stream (RFC 3264 5) at ``address``:``port``."""
    _check_port(port)
    direction = _check_direction(direction)
    if not local.codecs or not local.protos:
        raise ValueError("no audio codecs or transport protocols configured")
    sd = _session(address=address, session_id=session_id, session_version=session_version, username=username)
    used = {codec.payload_type for codec in local.codecs if codec.is_static and codec.payload_type is not None}
    formats: list[str] = []
    attributes: list[Attribute] = []
    for codec in local.codecs:
        payload_type = codec.payload_type if codec.is_static and codec.payload_type is not None else None
        if payload_type is None:
            payload_type = _allocate(codec.payload_type, used)
        formats.append(str(payload_type))
        attributes.extend(_rtp_attributes(payload_type, codec, codec.fmtp))
    if local.telephone_event:
        for rate in _telephone_event_rates(local.codecs):
            payload_type = _allocate(101 if rate == 8000 else None, used)
            formats.append(str(payload_type))
            attributes.extend(_rtp_attributes(payload_type, RtpMap(TELEPHONE_EVENT, rate), local.dtmf_events))
    proto, security = offer_security(local.srtp, local.protos[0])
    attributes.extend(security)
    rtcp_mux = local.rtcp_mux or local.ice is not None or any(a.name == "fingerprint" for a in security)
    if local.ice is not None:
        attributes.extend(ice_attributes(local.ice))
    attributes.extend(_common_attributes(local, direction, rtcp_mux))
    sd.media.append(MediaDescription("audio", port, None, proto, formats, attributes=attributes))
    return sd


def keep_dtls_role(sd: SessionDescription, media: NegotiatedMedia | None) -> SessionDescription:
    """``sd`` with the DTLS role ``media`` agreed in its a=setup lines (see :func:`keep_role`)."""
    return keep_role(sd, media.crypto if media is not None else None)


def _common_attributes(local: AudioConfig, direction: Direction, rtcp_mux: bool) -> list[Attribute]:
    attributes = [Attribute("ptime", str(local.ptime))]
    if local.maxptime is not None:
        attributes.append(Attribute("maxptime", str(local.maxptime)))
    if rtcp_mux:
        attributes.append(Attribute("rtcp-mux"))
    attributes.append(Attribute(direction))
    return attributes


def _rejected(media: MediaDescription) -> MediaDescription:
    # RFC 3264 6: a stream is declined by answering its m= line with port 0.
    return MediaDescription(media.media, 0, None, media.proto, list(media.formats))


def _fmtp_dict(media: MediaDescription, payload_type: int) -> dict[str, str]:
    params = media.fmtp.get(payload_type)
    return dict(params) if isinstance(params, dict) else {}


def _remote_rtcp_port(media: MediaDescription, rtcp_mux: bool) -> int:
    if rtcp_mux or media.port == 0:
        return media.port
    rtcp = media.rtcp
    if rtcp is not None:
        return rtcp.port
    # RFC 3550 11: without a=rtcp, RTCP goes to the next port up.
    return media.port + 1


@dataclass
class _Match:
    """The formats of one offered m= line that we can use, in the offerer's order."""

    codecs: list[tuple[int, Codec, Codec]]
    telephone_events: dict[int, int]


def _match_offer(media: MediaDescription, local: AudioConfig) -> _Match:
    codecs: list[tuple[int, Codec, Codec]] = []
    events: dict[int, int] = {}
    used_local: list[Codec] = []
    for payload_type in media.payload_types:
        rtpmap = media.rtpmap_for(payload_type)
        if rtpmap is None:
            continue
        if rtpmap.encoding.casefold() == TELEPHONE_EVENT:
            events.setdefault(rtpmap.clock_rate, payload_type)
            continue
        ours = local.find_codec(rtpmap)
        if ours is None or any(ours is seen for seen in used_local):
            continue
        used_local.append(ours)
        theirs = Codec(
            rtpmap.encoding, rtpmap.clock_rate, rtpmap.channels, payload_type, _fmtp_dict(media, payload_type)
        )
        codecs.append((payload_type, ours, theirs))
    rates = {theirs.clock_rate for _, _, theirs in codecs}
    # RFC 4733 7.1.1: telephone-event runs at the clock rate of the audio codec it goes with.
    kept = {rate: pt for rate, pt in events.items() if rate in rates} if local.telephone_event and codecs else {}
    return _Match(codecs, kept)


def create_answer(
    offer: SessionDescription,
    local: AudioConfig,
    *,
    address: str,
    port: int,
    session_id: int,
    session_version: int,
    direction: Direction = "sendrecv",
    username: str = "-",
    dtls_role: Literal["active", "passive"] | None = None,
) -> tuple[SessionDescription, NegotiatedMedia | None]:
    """Answer ``offer`` (RFC 3264 6), accepting its first usable audio stream.

    ``direction`` is our preference (``sendonly`` while we hold the call); the
    answered direction is the part of it the offer allows. Every other m=
    line is declined with port 0. The second value is None when no audio
    stream could be accepted (a UAS then usually answers 488 instead;
    :func:`refusal_reason` says why). ``dtls_role`` is the DTLS role to keep
    when a re-offer says actpass.
    """
    _check_port(port)
    preference = _check_direction(direction)
    answer = _session(address=address, session_id=session_id, session_version=session_version, username=username)
    # RFC 3264 6: the t= line of the answer equals that of the offer.
    if offer.times:
        answer.times = copy.deepcopy(offer.times)
    negotiated: NegotiatedMedia | None = None
    for media in offer.media:
        accepted = None
        if negotiated is None:
            accepted = _answer_audio(offer, media, local, port, preference, dtls_role)
        if accepted is None:
            answer.media.append(_rejected(media))
        else:
            answer.media.append(accepted[0])
            negotiated = accepted[1]
    return answer, negotiated


def _answer_audio(
    offer: SessionDescription,
    media: MediaDescription,
    local: AudioConfig,
    port: int,
    preference: Direction,
    dtls_role: Literal["active", "passive"] | None = None,
) -> tuple[MediaDescription, NegotiatedMedia] | None:
    if media.media.casefold() != "audio" or media.port == 0 or media.proto not in local.accepted_protos:
        return None
    security = answer_security(dtls_view(media, offer), local.srtp, dtls_role)
    if isinstance(security, str):
        return None
    remote = offer.connection_for(media)
    if remote is None or remote.nettype.upper() != "IN" or remote.addrtype.upper() not in ("IP4", "IP6"):
        return None
    match = _match_offer(media, local)
    if not match.codecs:
        return None
    if remote.is_multicast:
        return _answer_multicast(offer, media, local, match, security)
    offered = media.direction(offer)
    # RFC 3264 8.4: c=0.0.0.0 means send neither RTP nor RTCP there: treat it as sendonly.
    held = offered in ("sendonly", "inactive") or remote.is_unspecified
    if remote.is_unspecified:
        offered = _intersect(offered, "sendonly")
    # RFC 3264 6.1: sendonly is answered recvonly, recvonly sendonly, inactive inactive.
    answered = _intersect(reverse_direction(offered), preference)
    crypto, security_attributes, plain_reason = security
    # RFC 5764 5.1.2 and RFC 7983: DTLS-SRTP shares one port with RTP; we take rtcp-mux whenever it is offered then.
    rtcp_mux = media.rtcp_mux and (
        local.rtcp_mux or local.ice is not None or (crypto is not None and crypto.key_exchange == "dtls")
    )
    theirs_ice = remote_ice(media, offer) if local.ice is not None else None

    formats: list[str] = []
    attributes: list[Attribute] = []
    receive: dict[int, Codec] = {}
    for payload_type, ours, theirs in match.codecs:
        formats.append(str(payload_type))
        # RFC 7587 7.1: our fmtp in the answer says what we want to receive.
        attributes.extend(_rtp_attributes(payload_type, theirs.rtpmap, ours.fmtp))
        receive[payload_type] = replace(ours, payload_type=payload_type, fmtp=dict(theirs.fmtp))
    for rate, payload_type in match.telephone_events.items():
        formats.append(str(payload_type))
        attributes.extend(_rtp_attributes(payload_type, RtpMap(TELEPHONE_EVENT, rate), local.dtmf_events))
        receive[payload_type] = Codec(TELEPHONE_EVENT, rate, 1, payload_type)
    attributes.extend(security_attributes)
    if theirs_ice is not None and local.ice is not None:
        # RFC 8839 4.2.2: only an offer with ICE is answered with ICE.
        attributes.extend(ice_attributes(local.ice))
    attributes.extend(_common_attributes(local, answered, rtcp_mux))
    answer_media = MediaDescription("audio", port, None, media.proto, formats, attributes=attributes)

    send_codec = match.codecs[0][2]
    negotiated = NegotiatedMedia(
        remote_address=remote.address,
        remote_addrtype=remote.addrtype.upper(),
        remote_port=media.port,
        remote_rtcp_port=_remote_rtcp_port(media, rtcp_mux),
        codec=send_codec,
        payload_type=match.codecs[0][0],
        codecs=[theirs for _, _, theirs in match.codecs],
        receive_codecs=receive,
        telephone_event=match.telephone_events.get(send_codec.clock_rate),
        telephone_events=dict(match.telephone_events),
        ptime=_send_ptime(media, local),
        direction=answered,
        on_hold=held,
        rtcp_mux=rtcp_mux,
        crypto=crypto,
        plain_reason=plain_reason,
        remote_ssrc=_remote_ssrc(media),
        # RFC 8445 6.1.1: the answerer is controlled, unless the offerer is lite.
        ice=None
        if theirs_ice is None or local.ice is None
        else NegotiatedIce(local.ice, theirs_ice, controlling=theirs_ice.lite),
    )
    return answer_media, negotiated


def _answer_multicast(
    offer: SessionDescription,
    media: MediaDescription,
    local: AudioConfig,
    match: _Match,
    security: tuple[MediaCrypto | None, list[Attribute], str],
) -> tuple[MediaDescription, NegotiatedMedia] | None:
    """A stream to a multicast group, which we only receive (the group hears nothing from us)."""
    crypto, _attributes, plain_reason = security
    if crypto is not None:
        return None  # keys for a group would have to be shared by all its members: not supported
    remote = offer.connection_for(media)
    assert remote is not None
    offered = media.direction(offer)
    formats: list[str] = []
    attributes: list[Attribute] = []
    receive: dict[int, Codec] = {}
    for payload_type, ours, theirs in match.codecs:
        formats.append(str(payload_type))
        attributes.extend(_rtp_attributes(payload_type, theirs.rtpmap, ours.fmtp))
        receive[payload_type] = replace(ours, payload_type=payload_type, fmtp=dict(theirs.fmtp))
    attributes.extend(_common_attributes(local, offered, False))
    # RFC 3264 6.2: an accepted multicast stream is answered with the offer's address, port and direction.
    answer_media = MediaDescription(
        "audio", media.port, None, media.proto, formats, connection=copy.deepcopy(remote), attributes=attributes
    )
    send_codec = match.codecs[0][2]
    negotiated = NegotiatedMedia(
        remote_address=remote.address,
        remote_addrtype=remote.addrtype.upper(),
        remote_port=media.port,
        remote_rtcp_port=_remote_rtcp_port(media, False),
        codec=send_codec,
        payload_type=match.codecs[0][0],
        codecs=[theirs for _, _, theirs in match.codecs],
        receive_codecs=receive,
        telephone_event=None,
        telephone_events={},
        ptime=_send_ptime(media, local),
        direction="recvonly" if offered in ("sendrecv", "sendonly") else "inactive",
        on_hold=offered in ("recvonly", "inactive"),
        rtcp_mux=False,
        plain_reason=plain_reason,
        remote_ssrc=_remote_ssrc(media),
        multicast=True,
    )
    return answer_media, negotiated


def refusal_reason(offer: SessionDescription, local: AudioConfig) -> str:
    """Why :func:`create_answer` accepted no audio stream of ``offer``, in words for a user and a 488."""
    for media in offer.media:
        if media.media.casefold() != "audio" or media.port == 0:
            continue
        if media.proto in (*SAVP_PROTOS, *DTLS_PROTOS) or media.proto in local.accepted_protos:
            security = answer_security(dtls_view(media, offer), local.srtp, None)
            if isinstance(security, str):
                return security
        if media.proto not in local.accepted_protos:
            return f"media transport {media.proto} not supported"
        if not _match_offer(media, local).codecs:
            return "no audio codec in common"
    return "no usable audio stream"


def _send_ptime(remote: MediaDescription, local: AudioConfig) -> int:
    ptime = remote.ptime or local.ptime
    maxptime = remote.maxptime
    return min(ptime, maxptime) if maxptime is not None else ptime


def _not_acceptable(message: str) -> SipParseError:
    return SipParseError(message, NOT_ACCEPTABLE_HERE)


def negotiate_answer(
    offer: SessionDescription, answer: SessionDescription, local: AudioConfig
) -> NegotiatedMedia | None:
    """Check the answer to our ``offer`` (RFC 3264 7) and return the agreed audio stream.

    None when the answer declines the audio stream (port 0). Raises
    :class:`SipParseError` with status 488 when the answer breaks RFC 3264 6:
    a different number of m= lines, another media type, or formats that
    were not offered.
    """
    if len(answer.media) != len(offer.media):
        raise _not_acceptable(f"answer has {len(answer.media)} m= lines, the offer had {len(offer.media)}")
    for index, (offered, answered) in enumerate(zip(offer.media, answer.media, strict=True), start=1):
        if offered.media != answered.media:
            raise _not_acceptable(
                f"m= line {index} of the answer is {answered.media!r}, the offer's is {offered.media!r}"
            )
        if answered.port != 0 and offered.port == 0:
            raise _not_acceptable(f"m= line {index}: the answer accepts a stream the offer disabled")
        if answered.port != 0 and answered.proto != offered.proto:
            raise _not_acceptable(
                f"m= line {index}: answer transport {answered.proto!r} differs from the offer's {offered.proto!r}"
            )
    for index, (offered, answered) in enumerate(zip(offer.media, answer.media, strict=True), start=1):
        if offered.media.casefold() == "audio" and offered.port != 0 and offered.proto in local.accepted_protos:
            if answered.port == 0:
                return None
            return _negotiate_audio(offer, offered, answer, answered, local, index)
    return None


def _negotiate_audio(
    offer: SessionDescription,
    offered: MediaDescription,
    answer: SessionDescription,
    answered: MediaDescription,
    local: AudioConfig,
    index: int,
) -> NegotiatedMedia:
    where = f"m= line {index} of the answer"
    offered_pts = set(offered.payload_types)
    codecs: list[Codec] = []
    send_payload_type = -1
    receive: dict[int, Codec] = {}
    events: dict[int, int] = {}
    for payload_type in answered.payload_types:
        rtpmap = answered.rtpmap_for(payload_type)
        offered_map = offered.rtpmap_for(payload_type) if payload_type in offered_pts else None
        if rtpmap is None:
            rtpmap = offered_map
        if rtpmap is None:
            raise _not_acceptable(f"{where}: payload type {payload_type} has no rtpmap and was not offered")
        if offered_map is not None and not _same_format(offered_map, rtpmap):
            raise _not_acceptable(f"{where}: payload type {payload_type} is {rtpmap}, the offer's is {offered_map}")
        offered_pt = payload_type if offered_map is not None else _offered_payload_type(offered, rtpmap)
        if offered_pt is None:
            raise _not_acceptable(f"{where}: {rtpmap} (payload type {payload_type}) was not in the offer")
        if rtpmap.encoding.casefold() == TELEPHONE_EVENT:
            events.setdefault(rtpmap.clock_rate, payload_type)
            receive[offered_pt] = Codec(TELEPHONE_EVENT, rtpmap.clock_rate, 1, offered_pt)
            continue
        ours = local.find_codec(rtpmap)
        if ours is None:
            continue
        if not codecs:
            send_payload_type = payload_type
        codecs.append(
            Codec(rtpmap.encoding, rtpmap.clock_rate, rtpmap.channels, payload_type, _fmtp_dict(answered, payload_type))
        )
        receive[offered_pt] = replace(ours, payload_type=offered_pt, fmtp=_fmtp_dict(answered, payload_type))
    if not codecs:
        raise _not_acceptable(f"{where}: no audio codec of the offer was accepted")

    remote = answer.connection_for(answered)
    if remote is None or remote.nettype.upper() != "IN" or remote.addrtype.upper() not in ("IP4", "IP6"):
        raise _not_acceptable(f"{where}: no IN IP4/IP6 connection address")
    ours_direction = offered.direction(offer)
    theirs = answered.direction(answer)
    if remote.is_unspecified:
        theirs = _intersect(theirs, "sendonly")
    # RFC 3264 6.1 lets the answer narrow the offered direction, never widen it.
    direction = _intersect(ours_direction, reverse_direction(theirs))
    on_hold = remote.is_unspecified or (
        ours_direction in ("sendrecv", "sendonly") and theirs in ("sendonly", "inactive")
    )
    rtcp_mux = offered.rtcp_mux and answered.rtcp_mux
    crypto, plain_reason = answered_crypto(offered, dtls_view(answered, answer), local.srtp, where)
    theirs_ice = remote_ice(answered, answer) if local.ice is not None else None
    send_codec = codecs[0]
    return NegotiatedMedia(
        remote_address=remote.address,
        remote_addrtype=remote.addrtype.upper(),
        remote_port=answered.port,
        remote_rtcp_port=_remote_rtcp_port(answered, rtcp_mux),
        codec=send_codec,
        payload_type=send_payload_type,
        codecs=codecs,
        receive_codecs=receive,
        telephone_event=events.get(send_codec.clock_rate),
        telephone_events=events,
        ptime=_send_ptime(answered, local),
        direction=direction,
        on_hold=on_hold,
        rtcp_mux=rtcp_mux,
        crypto=crypto,
        plain_reason=plain_reason,
        remote_ssrc=_remote_ssrc(answered),
        ice=None if theirs_ice is None or local.ice is None else NegotiatedIce(local.ice, theirs_ice, controlling=True),
    )


def _remote_ssrc(media: MediaDescription) -> int | None:
    ssrcs: set[int] = set()
    for attribute in media.attributes:
        if attribute.name.lower() == "ssrc" and attribute.value:
            token = attribute.value.split(None, 1)[0]
            if token.isdigit() and len(token) <= 10 and int(token) < 2**32:
                ssrcs.add(int(token))
    return ssrcs.pop() if len(ssrcs) == 1 else None


def _same_format(first: RtpMap, second: RtpMap) -> bool:
    return (
        first.encoding.casefold() == second.encoding.casefold()
        and first.clock_rate == second.clock_rate
        and (first.channels == second.channels or first.encoding.casefold() == "opus")
    )


def _offered_payload_type(offered: MediaDescription, rtpmap: RtpMap) -> int | None:
    for payload_type in offered.payload_types:
        candidate = offered.rtpmap_for(payload_type)
        if candidate is not None and _same_format(candidate, rtpmap):
            return payload_type
    return None


def next_offer(previous: SessionDescription, candidate: SessionDescription) -> SessionDescription:
    """``candidate`` with the o= line of ``previous``, its version bumped only if something changed.

    RFC 3264 8: a new offer keeps the o= line of the previous SDP except
    sess-version, which grows by one when the description differs and
    stays the same when it does not.
    """
    result = copy.deepcopy(candidate)
    result.origin = copy.deepcopy(previous.origin)
    if result != previous:
        result.origin.sess_version = previous.origin.sess_version + 1
    return result


def _with_directions(previous: SessionDescription, change: dict[Direction, Direction]) -> SessionDescription:
    candidate = copy.deepcopy(previous)
    for media in candidate.media:
        if media.port != 0:
            media.set_direction(change[media.direction(previous)])
    candidate.attributes = [a for a in candidate.attributes if a.name not in DIRECTIONS]
    return next_offer(previous, candidate)


def hold_offer(previous: SessionDescription) -> SessionDescription:
    """The re-offer that puts every active stream of ``previous`` (our last SDP) on hold.

    RFC 3264 8.4: sendrecv becomes sendonly, recvonly becomes inactive.
    """
    return _with_directions(
        previous,
        {"sendrecv": "sendonly", "sendonly": "sendonly", "recvonly": "inactive", "inactive": "inactive"},
    )


def resume_offer(previous: SessionDescription) -> SessionDescription:
    """The re-offer that takes every active stream of ``previous`` off hold (back to sendrecv)."""
    return _with_directions(
        previous,
        {"sendrecv": "sendrecv", "sendonly": "sendrecv", "recvonly": "sendrecv", "inactive": "sendrecv"},
    )

"""Offer/answer (RFC 3264) of a video stream next to the audio one.

The audio stream is negotiated by :mod:`softphone.sip.offer_answer`, which
declines every other m= line with port 0; this module adds the video m= line
to our offers (:func:`offer_video`), accepts the first video line of an offer
in our answer (:func:`answer_video`), and reads what both sides agreed from
our SDP and the peer's (:func:`negotiated_video`), whichever side offered.
With ICE (RFC 8839) the video line carries credentials and candidates of its own
(component 1, rtcp-mux, as the audio line does), answered with ICE only when
the offer's video line has it; when the video's address differs from the
session's (its own NAT mapping or TURN relay) the line gets a c= of its own.
The video line is keyed as the audio line is (the same SRTP policy): SDES
with a=crypto lines and keys of its own (RFC 4568), or DTLS-SRTP with the
same certificate in a handshake of its own on the video port (RFC 5763,
5764). A call whose audio is encrypted never carries clear video: a video
line without agreed keys is declined (or, agreed plain, not used).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from softphone.ice.candidate import IceDescription, NegotiatedIce
from softphone.sip.ice_sdp import ice_attributes, remote_ice
from softphone.sip.offer_answer import (
    FIRST_DYNAMIC_PAYLOAD_TYPE,
    LAST_DYNAMIC_PAYLOAD_TYPE,
    Codec,
    reverse_direction,
)
from softphone.sip.sdp import (
    Attribute,
    Connection,
    Direction,
    MediaDescription,
    SessionDescription,
    format_fmtp_params,
)
from softphone.sip.srtp_offer_answer import answer_security, dtls_view, negotiated_crypto, offer_security
from softphone.sip.srtp_sdp import DTLS_PROTOS, PLAIN_PROTOS, SAVP_PROTOS, MediaCrypto, SrtpConfig

__all__ = [
    "VIDEO_CLOCK_RATE",
    "NegotiatedVideo",
    "VideoConfig",
    "answer_video",
    "h264_acceptable",
    "h264_codec",
    "negotiated_video",
    "offer_video",
    "video_codecs_named",
    "vp8_codec",
    "without_video",
]

# RFC 7741 6.1: VP8 uses a 90 kHz RTP clock.
VIDEO_CLOCK_RATE = 90000
# RFC 4585 4.2 and RFC 5104 7.1: generic NACK, picture loss indication, full intra request, and the bitrate
# bounds we honour: TMMBR (RFC 5104 7.1: a peer sends it only when told) and REMB.
DEFAULT_FEEDBACK = ("nack", "nack pli", "ccm fir", "ccm tmmbr", "goog-remb")
_VIDEO_PROTOS = (*PLAIN_PROTOS, *SAVP_PROTOS, *DTLS_PROTOS)
_PLAIN = SrtpConfig()
H264_PROFILE_LEVEL_ID = "42e01f"


def vp8_codec(payload_type: int = 96) -> Codec:
    return Codec("VP8", VIDEO_CLOCK_RATE, 1, payload_type)


def h264_codec(payload_type: int = 97, packetization_mode: str = "1") -> Codec:
    """H.264 Constrained Baseline, level 3.1, packetization-mode 1 or 0 (RFC 6184 8.1)."""
    fmtp = {"profile-level-id": H264_PROFILE_LEVEL_ID, "level-asymmetry-allowed": "1"}
    if packetization_mode != "0":
        fmtp["packetization-mode"] = packetization_mode
    return Codec("H264", VIDEO_CLOCK_RATE, 1, payload_type, fmtp)


def video_codecs_named(names: Iterable[str]) -> list[Codec]:
    """Our video codecs by name (``VP8``, ``H264``; any case), in the order given.

    H264 is offered twice: packetization-mode 1, then 0 for peers that only do that (RFC 6184 8.2.2 wants the
    mode to match, and some phones offer and answer only mode 0).
    """
    codecs: list[Codec] = []
    for raw in names:
        name = raw.strip().lower()
        if name not in ("vp8", "h264"):
            raise ValueError(f"unknown video codec {raw.strip()!r}; known: VP8, H264")
        if any(c.name.lower() == name for c in codecs):
            continue
        if name == "vp8":
            codecs.append(vp8_codec(96 + len(codecs)))
        else:
            codecs.append(h264_codec(96 + len(codecs)))
            codecs.append(h264_codec(96 + len(codecs), "0"))
    if not codecs:
        raise ValueError("no video codec named")
    return codecs


def h264_acceptable(fmtp: Mapping[str, str]) -> bool:
    """An H.264 format we can send and receive: packetization-mode 0 or 1, a profile a Constrained Baseline
    stream conforms to (RFC 6184 8.1: Baseline, or any profile with constraint_set1_flag, as 42e01f and 640c1f
    say), any level (level-asymmetry, RFC 6184 8.2.2: our 320x240 stream is below every level a call uses)."""
    if fmtp.get("packetization-mode", "0").strip() not in ("0", "1"):
        return False
    value = fmtp.get("profile-level-id", "42000a").strip()  # RFC 6184 8.1: Baseline level 1 when absent
    if len(value) != 6 or any(c not in "0123456789abcdefABCDEF" for c in value):
        return False
    profile, iop = int(value[0:2], 16), int(value[2:4], 16)
    return profile == 0x42 or bool(iop & 0x40)


@dataclass
class VideoConfig:
    """What we can do for video. ``send`` False (no camera, no source): the stream is recvonly."""

    codecs: list[Codec] = field(default_factory=lambda: video_codecs_named(["vp8", "h264"]))
    feedback: tuple[str, ...] = DEFAULT_FEEDBACK
    rtcp_mux: bool = True
    send: bool = True
    # Our ICE credentials and candidates for the video port (RFC 8839); None: no ICE for video.
    ice: IceDescription | None = None

    def find_codec(self, encoding: str, clock_rate: int, fmtp: Mapping[str, str] | None = None) -> Codec | None:
        for codec in self.codecs:
            if codec.name.casefold() == encoding.casefold() and codec.clock_rate == clock_rate:
                if codec.name.upper() == "H264" and not h264_acceptable(fmtp or {}):
                    continue
                return codec
        return None


@dataclass(frozen=True)
class NegotiatedVideo:
    """The agreed video stream, from our point of view.

    ``payload_type`` is what we send ``codec`` with (the peer's number);
    ``receive_codecs`` maps the payload types we may receive. ``feedback``
    holds the RTCP feedback the peer said it understands (``nack``,
    ``nack pli``, ``ccm fir``); ``crypto`` the keys of the stream (None: plain RTP); ``max_bitrate`` the
    most the peer's ``b=`` line lets us send, in bit/s (None: it sets none).
    """

    remote_address: str
    remote_port: int
    remote_rtcp_port: int
    rtcp_mux: bool
    codec: Codec
    payload_type: int
    receive_codecs: dict[int, Codec]
    feedback: frozenset[str]
    direction: Direction
    crypto: MediaCrypto | None = None
    max_bitrate: int | None = None
    # Both sides' ICE for the video stream, when both do it.
    ice: NegotiatedIce | None = None

    @property
    def send(self) -> bool:
        return self.direction in ("sendrecv", "sendonly")

    @property
    def receive(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


def _video_media(
    config: VideoConfig,
    port: int,
    direction: Direction,
    payload_types: list[int],
    proto: str = "RTP/AVP",
    security: list[Attribute] | None = None,
    *,
    ice: IceDescription | None = None,
    connection: Connection | None = None,
) -> MediaDescription:
    attributes: list[Attribute] = list(security or ())
    if ice is not None:
        attributes.extend(ice_attributes(ice))
    for payload_type, codec in zip(payload_types, config.codecs, strict=True):
        attributes.append(Attribute("rtpmap", f"{payload_type} {codec.rtpmap}"))
        if codec.fmtp:
            attributes.append(Attribute("fmtp", f"{payload_type} {format_fmtp_params(codec.fmtp)}"))
        attributes.extend(Attribute("rtcp-fb", f"{payload_type} {fb}") for fb in config.feedback)
    # Our candidates are component 1 only: with ICE, RTCP shares the port (RFC 8839 5.1).
    if config.rtcp_mux or ice is not None:
        attributes.append(Attribute("rtcp-mux"))
    attributes.append(Attribute(direction))
    formats = [str(pt) for pt in payload_types]
    return MediaDescription("video", port, None, proto, formats, connection=connection, attributes=attributes)


def _connection(sd: SessionDescription, host: str | None) -> Connection | None:
    """A c= line of the video's own when ``host`` is not the session's address (RFC 8866 5.7)."""
    if host is None or (sd.connection is not None and sd.connection.address == host):
        return None
    return Connection("IN", "IP6" if ":" in host else "IP4", host)


def _our_direction(config: VideoConfig, wanted: Direction = "sendrecv") -> Direction:
    # Without a source we only receive (the stream stays, as recvonly).
    if config.send:
        return wanted
    return "recvonly" if wanted in ("sendrecv", "recvonly") else "inactive"


def offer_video(
    sd: SessionDescription, config: VideoConfig, port: int, srtp: SrtpConfig | None = None, host: str | None = None
) -> SessionDescription:
    """``sd`` (our audio offer) with a video m= line at ``host``:``port``; unchanged when it has an active one.

    ``host`` None: the session's address. ``config.ice``: the line carries our video ICE (RFC 8839 5.1).

    RFC 3264 8.1: the new line takes the place of a declined (port 0) video line, else it goes after the others.
    ``srtp`` is the audio's policy: the video line gets the same protocol and keying, with keys of its own.
    """
    if _first_video(sd) is not None:
        return sd
    if not 0 < port <= 65535:
        raise ValueError(f"video port {port} is out of range 1-65535")
    if not config.codecs:
        raise ValueError("no video codecs configured")
    result = copy.deepcopy(sd)
    used = {pt for media in result.media if media.media.casefold() != "video" for pt in media.payload_types}
    payload_types: list[int] = []
    for codec in config.codecs:
        candidates = [codec.payload_type] if codec.payload_type is not None else []
        candidates += list(range(FIRST_DYNAMIC_PAYLOAD_TYPE, LAST_DYNAMIC_PAYLOAD_TYPE + 1))
        free = next((pt for pt in candidates if pt not in used and pt not in payload_types), None)
        if free is None:
            raise ValueError("no dynamic RTP payload type left for video")
        payload_types.append(free)
    direction = _our_direction(config, result.media[0].direction(result) if result.media else "sendrecv")
    proto, security = offer_security(srtp or _PLAIN, "RTP/AVP")
    video = _video_media(
        config, port, direction, payload_types, proto, security, ice=config.ice, connection=_connection(result, host)
    )
    declined = [i for i, m in enumerate(result.media) if m.media.casefold() == "video" and m.port == 0]
    if declined:
        result.media[declined[0]] = video
    else:
        result.media.append(video)
    return result


def _first_video(sd: SessionDescription) -> int | None:
    for index, media in enumerate(sd.media):
        if media.media.casefold() == "video" and media.port != 0:
            return index
    return None


def answer_video(
    offer: SessionDescription,
    answer: SessionDescription,
    config: VideoConfig | None,
    port: int,
    preference: Direction = "sendrecv",
    srtp: SrtpConfig | None = None,
    host: str | None = None,
) -> SessionDescription:
    """``answer`` (our audio answer, other lines declined) accepting the offer's first video line.

    ``host`` None: the video is at the session's address. ``config.ice`` goes in the answer only when the
    offered video line has ICE (RFC 8839 4.2.2).

    Nothing changes when ``config`` is None (an audio-only user: the line stays declined with port 0,
    RFC 3264 6), when the audio stream was declined, when no offered video codec is ours, or when the video
    line cannot be protected as ``srtp`` (the audio's policy) asks, or as well as the answered audio is.
    """
    index = _first_video(offer)
    if config is None or index is None or index >= len(answer.media) or port == 0:
        return answer
    audio = next((m for m in answer.media if m.media.casefold() == "audio" and m.port != 0), None)
    if audio is None:
        return answer
    offered = offer.media[index]
    remote = offer.connection_for(offered)
    if offered.proto not in _VIDEO_PROTOS or remote is None or remote.nettype.upper() != "IN":
        return answer
    setup = audio.get_attribute("setup")
    # The video's DTLS role is the audio's (a re-offer's answer keeps it, RFC 8842 5.5).
    role: Literal["active", "passive"] | None = None
    if setup is not None and setup.value in ("active", "passive"):
        role = "active" if setup.value == "active" else "passive"
    security = answer_security(dtls_view(offered, offer), srtp or _PLAIN, role)
    if isinstance(security, str):
        return answer
    crypto, security_attributes, _ = security
    if crypto is None and (audio.has_attribute("crypto") or audio.has_attribute("fingerprint")):
        return answer  # the audio is encrypted: no picture in clear beside it
    matched: list[int] = []
    codecs: list[Codec] = []
    taken: list[Codec] = []
    for payload_type in offered.payload_types:
        rtpmap = offered.rtpmap_for(payload_type)
        fmtp = _fmtp(offered, payload_type)
        ours = None if rtpmap is None else config.find_codec(rtpmap.encoding, rtpmap.clock_rate, fmtp)
        if ours is not None and all(c is not ours for c in taken):
            taken.append(ours)
            matched.append(payload_type)
            codecs.append(_answered_codec(ours, fmtp))
    if not matched:
        return answer
    # RFC 3264 6.1: sendonly is answered recvonly, recvonly sendonly.
    direction = _intersect(reverse_direction(offered.direction(offer)), _our_direction(config, preference))
    # The video does ICE when the audio does (our answer's audio line has ICE) and the offered video line has it.
    theirs_ice = remote_ice(offered, offer) if config.ice is not None and audio.has_attribute("ice-ufrag") else None
    ice = config.ice if theirs_ice is not None and theirs_ice.candidates else None
    # With ICE we offer only component 1: RTCP rides on the RTP port when the offer allows it.
    mux = offered.rtcp_mux and (config.rtcp_mux or ice is not None)
    own = VideoConfig(codecs=codecs, feedback=config.feedback, rtcp_mux=mux)
    result = copy.deepcopy(answer)
    connection = _connection(result, host)
    result.media[index] = _video_media(
        own, port, direction, matched, offered.proto, security_attributes, ice=ice, connection=connection
    )
    return result


def _answered_codec(ours: Codec, offered: dict[str, str]) -> Codec:
    if ours.name.upper() != "H264":
        return ours
    # RFC 6184 8.2.2: the answer keeps the offer's packetization-mode and profile.
    fmtp = {"profile-level-id": offered.get("profile-level-id", H264_PROFILE_LEVEL_ID)}
    mode = offered.get("packetization-mode", "0")
    if mode != "0":
        fmtp["packetization-mode"] = mode
    return Codec(ours.name, ours.clock_rate, 1, ours.payload_type, fmtp)


def _fmtp(media: MediaDescription, payload_type: int) -> dict[str, str]:
    params = media.fmtp.get(payload_type)
    return {k.lower(): v for k, v in params.items()} if isinstance(params, dict) else {}


def with_video_sending(sd: SessionDescription, send: bool) -> SessionDescription:
    """``sd`` with its video stream sending or not, receiving as before (camera off: sendrecv becomes recvonly,
    sendonly inactive, RFC 3264 8.4; on: back again); the other streams unchanged."""
    result = copy.deepcopy(sd)
    for media in result.media:
        if media.media.casefold() == "video" and media.port != 0:
            receive = media.direction(result) in ("sendrecv", "recvonly")
            if send:
                media.set_direction("sendrecv" if receive else "sendonly")
            else:
                media.set_direction("recvonly" if receive else "inactive")
    return result


def without_video(sd: SessionDescription) -> SessionDescription:
    """``sd`` with its video streams declined (port 0), e.g. to drop video by re-offer (RFC 3264 8.2)."""
    result = copy.deepcopy(sd)
    for index, media in enumerate(result.media):
        if media.media.casefold() == "video" and media.port != 0:
            result.media[index] = MediaDescription(media.media, 0, None, media.proto, list(media.formats))
    return result


def _intersect(first: Direction, second: Direction) -> Direction:
    send = first in ("sendrecv", "sendonly") and second in ("sendrecv", "sendonly")
    receive = first in ("sendrecv", "recvonly") and second in ("sendrecv", "recvonly")
    if send and receive:
        return "sendrecv"
    return "sendonly" if send else "recvonly" if receive else "inactive"


def _feedback(media: MediaDescription, payload_type: int) -> frozenset[str]:
    found: set[str] = set()
    for attribute in media.get_attributes("rtcp-fb"):
        parts = attribute.value.split(None, 1) if attribute.value else []
        if len(parts) == 2 and parts[0] in ("*", str(payload_type)):
            found.add(" ".join(parts[1].lower().split()))
    return frozenset(found)


def _keys(local: SessionDescription, remote: SessionDescription, index: int, srtp: SrtpConfig) -> MediaCrypto | None:
    return negotiated_crypto(local.media[index], dtls_view(remote.media[index], remote), srtp)


def negotiated_video(
    local: SessionDescription | None,
    remote: SessionDescription | None,
    config: VideoConfig | None,
    srtp: SrtpConfig | None = None,
    ice_controlling: bool | None = None,
) -> NegotiatedVideo | None:
    """The video stream our SDP and the peer's agree on (offer and answer in either role); None without one.

    ``srtp`` is the audio's policy; a video line without agreed keys beside encrypted audio is not used.
    ``ice_controlling``: our ICE role as the audio's ICE agreed it (None: the call has no ICE); the video's ICE
    is what both video lines say, credentials of their own or the session's (RFC 8839 5.4).
    """
    if local is None or remote is None or config is None:
        return None
    index = _first_video(local)
    if index is None or index >= len(remote.media):
        return None
    ours, theirs = local.media[index], remote.media[index]
    if theirs.media.casefold() != "video" or theirs.port == 0 or theirs.proto != ours.proto:
        return None
    connection = remote.connection_for(theirs)
    if connection is None or connection.nettype.upper() != "IN" or connection.addrtype.upper() not in ("IP4", "IP6"):
        return None
    send: tuple[int, Codec] | None = None
    receive: dict[int, Codec] = {}
    for payload_type in theirs.payload_types:
        rtpmap = theirs.rtpmap_for(payload_type)
        fmtp = _fmtp(theirs, payload_type)
        codec = None if rtpmap is None else config.find_codec(rtpmap.encoding, rtpmap.clock_rate, fmtp)
        if codec is None or rtpmap is None:
            continue
        # The peer's fmtp: how it wants to receive (packetization-mode) and its parameter sets.
        agreed = Codec(codec.name, codec.clock_rate, 1, payload_type, fmtp)
        if send is not None and agreed.name != send[1].name:
            continue
        if send is None:
            send = payload_type, agreed
        receive[payload_type] = agreed
    for payload_type in ours.payload_types:
        rtpmap = ours.rtpmap_for(payload_type)
        if rtpmap is not None and send is not None and rtpmap.encoding.casefold() == send[1].name.casefold():
            receive.setdefault(payload_type, Codec(send[1].name, send[1].clock_rate, 1, payload_type))
    if send is None:
        return None
    rtcp_mux = ours.rtcp_mux and theirs.rtcp_mux
    rtcp = theirs.rtcp
    # RFC 3550 11: without a=rtcp, RTCP goes to the next port up.
    rtcp_port = theirs.port if rtcp_mux else rtcp.port if rtcp is not None else theirs.port + 1
    direction = _intersect(ours.direction(local), reverse_direction(theirs.direction(remote)))
    if connection.is_unspecified:
        direction = _intersect(direction, "recvonly")
    policy = srtp or _PLAIN
    crypto = _keys(local, remote, index, policy)
    audio = next((i for i, m in enumerate(local.media) if m.media.casefold() == "audio" and m.port != 0), None)
    if crypto is None and audio is not None and audio < len(remote.media):
        if _keys(local, remote, audio, policy) is not None:
            return None
    return NegotiatedVideo(
        remote_address=connection.address,
        remote_port=theirs.port,
        remote_rtcp_port=rtcp_port,
        rtcp_mux=rtcp_mux,
        codec=send[1],
        payload_type=send[0],
        receive_codecs=receive,
        feedback=_feedback(theirs, send[0]),
        direction=direction,
        crypto=crypto,
        max_bitrate=_max_bitrate(theirs),
        ice=_negotiated_ice(ours, local, theirs, remote, ice_controlling),
    )


def _negotiated_ice(
    ours: MediaDescription,
    local: SessionDescription,
    theirs: MediaDescription,
    remote: SessionDescription,
    controlling: bool | None,
) -> NegotiatedIce | None:
    if controlling is None:
        return None
    mine, peer = remote_ice(ours, local), remote_ice(theirs, remote)
    # Credentials from the session level alone, on a video line without candidates: no ICE for the video.
    if mine is None or peer is None or not peer.candidates:
        return None
    return NegotiatedIce(mine, peer, controlling=controlling)


def _max_bitrate(media: MediaDescription) -> int | None:
    """RFC 3890 6.2: b=TIAS in bit/s, else RFC 8866 5.8: b=AS in kbit/s; None without one (or a 0)."""
    found = {b.bwtype.upper(): b.bandwidth for b in media.bandwidths}
    if found.get("TIAS"):
        return found["TIAS"]
    if found.get("AS"):
        return found["AS"] * 1000
    return None

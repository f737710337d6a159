"""ICE in SDP (RFC 8839): our credentials and candidates on the audio and video m= lines, and reading
the peer's.

An offer or answer from us carries a=ice-ufrag, a=ice-pwd and one
a=candidate per candidate (component 1 only: we always offer rtcp-mux) on
each stream that does ICE; the video's credentials and candidates are its
own (media-level, RFC 8839 5.4). A peer's are read from its m= line, falling back to the session level (RFC
8839 5.4). Candidate lines that cannot be used (TCP, host names, bad
numbers) are skipped, at most :data:`MAX_CANDIDATE_LINES` are read, and
credentials of the wrong length or alphabet mean the peer does not do ICE
with us. Sans-I/O like the rest of ``sip/``.
"""

from __future__ import annotations

import copy

from softphone.ice.candidate import Candidate, IceDescription, NegotiatedIce, parse_candidate
from softphone.sip.sdp import Attribute, Connection, MediaDescription, SessionDescription

__all__ = [
    "MAX_CANDIDATE_LINES",
    "IceDescription",
    "NegotiatedIce",
    "ice_attributes",
    "moved_offer",
    "offered_ice",
    "remote_ice",
]

_ICE_NAMES = frozenset({"ice-ufrag", "ice-pwd", "candidate", "remote-candidates", "ice-mismatch"})

MAX_CANDIDATE_LINES = 32
_ICE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/")


def ice_attributes(ice: IceDescription) -> list[Attribute]:
    return [
        Attribute("ice-ufrag", ice.ufrag),
        Attribute("ice-pwd", ice.pwd),
        *(Attribute("candidate", candidate.sdp()) for candidate in ice.candidates),
    ]


def _value(media: MediaDescription, session: SessionDescription, name: str) -> str | None:
    attribute = media.get_attribute(name) or session.get_attribute(name)
    return None if attribute is None or attribute.value is None else attribute.value.strip()


def _credential(text: str | None, shortest: int) -> bool:
    # RFC 8839 5.4: ice-ufrag is 4-256 ice-chars, ice-pwd 22-256.
    return text is not None and shortest <= len(text) <= 256 and set(text) <= _ICE_CHARS


def remote_ice(media: MediaDescription, session: SessionDescription) -> IceDescription | None:
    """The peer's ICE for ``media``, or None when it does not do ICE (or did it wrong, or says ice-mismatch)."""
    ufrag, pwd = _value(media, session, "ice-ufrag"), _value(media, session, "ice-pwd")
    if not (_credential(ufrag, 4) and _credential(pwd, 22)) or media.has_attribute("ice-mismatch"):
        return None
    assert ufrag is not None and pwd is not None
    candidates: list[Candidate] = []
    for attribute in media.get_attributes("candidate")[:MAX_CANDIDATE_LINES]:
        try:
            candidates.append(parse_candidate(attribute.value or ""))
        except ValueError:
            continue
    return IceDescription(ufrag, pwd, tuple(candidates), lite=session.has_attribute("ice-lite"))


def moved_offer(
    previous: SessionDescription,
    host: str,
    port: int,
    ice: IceDescription | None,
    video: tuple[str, int, IceDescription | None] | None = None,
) -> SessionDescription:
    """``previous`` (our last SDP) with the audio stream at ``host``:``port``: the re-offer after our network
    changed. With ``ice`` its new credentials and candidates replace the old ones: an ICE restart (RFC 8445 9,
    RFC 8839 4.4.1.1.1). ``video`` moves the active video stream likewise (its address, port and ICE). The
    caller bumps the version (RFC 3264 8)."""
    result = copy.deepcopy(previous)
    addrtype = "IP6" if ":" in host else "IP4"
    audio = next((m for m in result.media if m.media.casefold() == "audio" and m.port != 0), None)
    if audio is not None:
        _move(audio, host, port, ice)
    moving = next((m for m in result.media if m.media.casefold() == "video" and m.port != 0), None)
    if video is not None and moving is not None:
        _move(moving, *video)
    if all(m.connection is not None or m.port == 0 for m in result.media):
        result.connection = None if result.connection is None else Connection("IN", addrtype, host)
    result.origin.addrtype, result.origin.address = addrtype, host
    return result


def _move(media: MediaDescription, host: str, port: int, ice: IceDescription | None) -> None:
    media.port = port
    media.connection = Connection("IN", "IP6" if ":" in host else "IP4", host)
    kept = [a for a in media.attributes if a.name not in _ICE_NAMES]
    media.attributes = kept + (ice_attributes(ice) if ice is not None else [])


def offered_ice(offer: SessionDescription, kind: str = "audio") -> IceDescription | None:
    """The ICE of the first active ``kind`` (audio, video) stream of ``offer`` (None: it has none, or no such
    stream)."""
    for media in offer.media:
        if media.media.casefold() == kind and media.port != 0:
            return remote_ice(media, offer)
    return None

"""SRTP in offer/answer: what our offer carries, how an offered stream is protected, what an answer agreed.

The rules of :mod:`softphone.sip.offer_answer` for keys: an ``SrtpConfig``
says what we may do, the functions here turn it into SDP attributes and a
:class:`~softphone.sip.srtp_sdp.MediaCrypto`, and say in words why a stream
cannot be taken (the text of a 488's Warning). Sans-I/O like the rest.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Literal

from softphone.sip.errors import SipParseError
from softphone.sip.sdp import Attribute, MediaDescription, SessionDescription
from softphone.sip.srtp_sdp import (
    DTLS_PROTOS,
    FINGERPRINT_HASHES,
    MAX_CRYPTO_LINES,
    SAVP_PROTOS,
    SUITES,
    CryptoAttribute,
    Fingerprint,
    MediaCrypto,
    SrtpConfig,
    format_crypto,
    parse_crypto,
    parse_fingerprint,
)

__all__ = [
    "Security",
    "answer_security",
    "answered_crypto",
    "crypto_lines",
    "dtls_attributes",
    "dtls_view",
    "keep_role",
    "negotiated_crypto",
    "not_acceptable",
    "offer_security",
    "refresh_keys",
]


def not_acceptable(message: str) -> SipParseError:
    return SipParseError(message, 488)


def offer_security(srtp: SrtpConfig, plain_proto: str) -> tuple[str, list[Attribute]]:
    """The m= protocol and the key attributes of our offer, as the SRTP policy asks.

    ``optional`` offers SRTP inside RTP/AVP (the best-effort form common phones
    use: a peer that knows a=crypto or a=fingerprint takes it, one that doesn't
    ignores it); ``mandatory`` offers RTP/SAVP or UDP/TLS/RTP/SAVP, which a
    plain-only peer must refuse. SDES keys go only into SDP that leaves over
    TLS (or when the user forced it); otherwise DTLS-SRTP is offered.
    """
    mandatory = srtp.policy == "mandatory"
    if srtp.sdes_allowed and (srtp.key_exchange == "sdes" or srtp.key_exchange == "any"):
        lines = [
            Attribute("crypto", format_crypto(CryptoAttribute(tag, suite, srtp.new_key(suite))))
            for tag, suite in enumerate(srtp.suites, start=1)
        ]
        return ("RTP/SAVP" if mandatory else plain_proto), lines
    if srtp.dtls_allowed and srtp.fingerprint is not None:
        # RFC 5763 5: the offerer says actpass and lets the answerer choose to be the DTLS client.
        lines = [Attribute("fingerprint", str(srtp.fingerprint)), Attribute("setup", "actpass")]
        return ("UDP/TLS/RTP/SAVP" if mandatory else plain_proto), lines
    return plain_proto, []


def refresh_keys(sd: SessionDescription, srtp: SrtpConfig) -> SessionDescription:
    """``sd`` with a new SDES key in each a=crypto line (RFC 4568 7.1.4: a re-offer may re-key)."""
    result = copy.deepcopy(sd)
    for media in result.media:
        kept: list[Attribute] = []
        for attribute in media.attributes:
            if attribute.name == "crypto" and attribute.value is not None:
                try:
                    old = parse_crypto(attribute.value)
                except SipParseError:
                    continue
                if old.suite in SUITES:
                    attribute = Attribute("crypto", format_crypto(replace(old, key_salt=srtp.new_key(old.suite))))
            kept.append(attribute)
        media.attributes = kept
    return result


def keep_role(sd: SessionDescription, crypto: MediaCrypto | None) -> SessionDescription:
    """A re-offer keeps the DTLS role agreed (RFC 8842 5.5: a changed role means a new association)."""
    if crypto is None or crypto.dtls_role is None:
        return sd
    for description in sd.media:
        description.attributes = [
            Attribute("setup", crypto.dtls_role) if a.name == "setup" else a for a in description.attributes
        ]
    return sd


def crypto_lines(media: MediaDescription) -> tuple[list[CryptoAttribute], list[str]]:
    """The a=crypto lines of a media description that parse, and what was wrong with the others."""
    lines: list[CryptoAttribute] = []
    problems: list[str] = []
    for attribute in media.get_attributes("crypto")[:MAX_CRYPTO_LINES]:
        try:
            lines.append(parse_crypto(attribute.value or ""))
        except SipParseError as exc:
            problems.append(str(exc))
    return lines, problems


def dtls_view(media: MediaDescription, session: SessionDescription) -> MediaDescription:
    """``media`` with the session-level a=fingerprint and a=setup it inherits (RFC 8122 5, RFC 4145 4)."""
    inherited = [
        a for a in session.attributes if a.name in ("fingerprint", "setup") and not media.has_attribute(a.name)
    ]
    if not inherited:
        return media
    return replace(media, attributes=[*media.attributes, *inherited])


def dtls_attributes(media: MediaDescription) -> tuple[Fingerprint | None, str | None]:
    fingerprint = media.get_attribute("fingerprint")
    setup = media.get_attribute("setup")
    return (
        parse_fingerprint(fingerprint.value or "") if fingerprint is not None else None,
        (setup.value or "").strip().lower() if setup is not None else None,
    )


Security = tuple[MediaCrypto | None, list[Attribute], str]


def answer_security(
    media: MediaDescription, srtp: SrtpConfig, dtls_role: Literal["active", "passive"] | None
) -> Security | str:
    """How we protect an offered stream: (crypto, attributes for the answer, why plain), or why we refuse it."""
    proto = media.proto
    offers_sdes = media.has_attribute("crypto")
    offers_dtls = media.has_attribute("fingerprint")
    if not srtp.enabled:
        if proto in (*SAVP_PROTOS, *DTLS_PROTOS):
            return "encrypted media offered, and SRTP is off"
        return None, [], "SRTP is off"
    if proto in DTLS_PROTOS:
        return _answer_dtls(media, srtp, dtls_role)
    if proto in SAVP_PROTOS:
        return _answer_sdes(media, srtp)
    # A plain profile: SRTP inside RTP/AVP is the best-effort offer of common phones.
    if offers_sdes and srtp.sdes_allowed:
        return _answer_sdes(media, srtp)
    if offers_dtls and srtp.dtls_allowed:
        return _answer_dtls(media, srtp, dtls_role)
    if offers_sdes:
        lines, problems = crypto_lines(media)
        if problems and not lines:
            # Broken key lines are a failure of the call, never a quiet step down to plain RTP.
            return f"no usable a=crypto line: {problems[0]}"
    if srtp.policy == "mandatory":
        return "the offer has no encryption and SRTP is mandatory"
    if offers_sdes and not srtp.sdes_allowed:
        return None, [], "SDES keys are not sent over signalling that is not TLS"
    return None, [], "the peer offered no encryption"


def _answer_dtls(
    media: MediaDescription, srtp: SrtpConfig, dtls_role: Literal["active", "passive"] | None
) -> Security | str:
    if not srtp.dtls_allowed or srtp.fingerprint is None:
        return "DTLS-SRTP is not allowed by the SRTP settings"
    try:
        fingerprint, setup = dtls_attributes(media)
    except SipParseError as exc:
        return str(exc)
    if fingerprint is None:
        return "the offer has no a=fingerprint for DTLS-SRTP"
    if fingerprint.hash_function not in FINGERPRINT_HASHES:
        return f"unsupported fingerprint hash {fingerprint.hash_function!r}"
    # RFC 5763 5: actpass (or no a=setup, RFC 4145 4) lets us choose; the answerer is active by preference.
    role: Literal["active", "passive"]
    if setup in (None, "actpass"):
        role = dtls_role or "active"
    elif setup == "active":
        role = "passive"
    elif setup == "passive":
        role = "active"
    else:
        return f"unusable a=setup:{setup}"
    crypto = MediaCrypto(
        "dtls",
        None,
        suites=srtp.suites,
        dtls_role=role,
        remote_fingerprint=fingerprint,
        secure_signalling=srtp.secure_signalling,
    )
    return crypto, [Attribute("fingerprint", str(srtp.fingerprint)), Attribute("setup", role)], ""


def _answer_sdes(media: MediaDescription, srtp: SrtpConfig) -> Security | str:
    if not srtp.sdes_allowed:
        if srtp.key_exchange == "dtls":
            return "SDES keys are not allowed by the SRTP settings"
        return "SDES keys would cross the network in clear SDP (the signalling is not TLS)"
    lines, problems = crypto_lines(media)
    for line in lines:
        if line.suite in srtp.suites:
            # RFC 4568 7.1.2: the answer takes one line of the offer, with its tag and suite, and our own key.
            ours = CryptoAttribute(line.tag, line.suite, srtp.new_key(line.suite))
            crypto = MediaCrypto(
                "sdes",
                line.suite,
                suites=(line.suite,),
                local_key=ours.key_salt,
                remote_key=line.key_salt,
                secure_signalling=srtp.secure_signalling,
            )
            return crypto, [Attribute("crypto", format_crypto(ours))], ""
    if problems:
        return f"no usable a=crypto line: {problems[0]}"
    offered = ", ".join(line.suite for line in lines) or "none"
    return f"no SRTP suite in common (offered: {offered})"


def answered_crypto(
    offered: MediaDescription, answered: MediaDescription, srtp: SrtpConfig, where: str
) -> tuple[MediaCrypto | None, str]:
    """What the answer to our offer agreed about encryption; 488 when it breaks the rules or our policy."""
    crypto: MediaCrypto | None = None
    if offered.has_attribute("crypto") and answered.has_attribute("crypto"):
        ours = {line.tag: line for line in crypto_lines(offered)[0]}
        value = answered.get_attributes("crypto")[0].value or ""
        theirs = parse_crypto(value)
        mine = ours.get(theirs.tag)
        # RFC 4568 7.1.3: the answer names one of our tags, with the suite we gave it.
        if mine is None or mine.suite != theirs.suite or theirs.suite not in SUITES:
            raise not_acceptable(f"{where}: a=crypto tag {theirs.tag} {theirs.suite} was not offered")
        crypto = MediaCrypto(
            "sdes",
            theirs.suite,
            suites=(theirs.suite,),
            local_key=mine.key_salt,
            remote_key=theirs.key_salt,
            secure_signalling=srtp.secure_signalling,
        )
    elif offered.has_attribute("fingerprint") and answered.has_attribute("fingerprint"):
        fingerprint, setup = dtls_attributes(answered)
        assert fingerprint is not None
        if fingerprint.hash_function not in FINGERPRINT_HASHES:
            raise not_acceptable(f"{where}: unsupported fingerprint hash {fingerprint.hash_function!r}")
        # RFC 5763 5: the answerer picks active or passive; we take the other role.
        # RFC 4145 4.1: an answer without a=setup means active.
        if setup in ("active", None):
            role: Literal["active", "passive"] = "passive"
        elif setup == "passive":
            role = "active"
        else:
            raise not_acceptable(f"{where}: a=setup:{setup} is not an answer's (active or passive)")
        crypto = MediaCrypto(
            "dtls",
            None,
            suites=srtp.suites,
            dtls_role=role,
            remote_fingerprint=fingerprint,
            secure_signalling=srtp.secure_signalling,
        )
    elif offered.proto in (*SAVP_PROTOS, *DTLS_PROTOS):
        raise not_acceptable(f"{where}: {answered.proto} without keys")
    if crypto is None and srtp.policy == "mandatory":
        raise not_acceptable("the peer answered without encryption, and SRTP is mandatory")
    if crypto is not None:
        return crypto, ""
    if offered.has_attribute("crypto") or offered.has_attribute("fingerprint"):
        return None, "the peer answered without encryption"
    return None, "SRTP is off" if not srtp.enabled else "encryption was not offered"


def negotiated_crypto(ours: MediaDescription, theirs: MediaDescription, srtp: SrtpConfig) -> MediaCrypto | None:
    """What our m= line and the peer's agree about keys, whichever of them was the offer; None: no keys agreed.

    For a stream whose offer and answer were already checked (the audio's, by :func:`answer_security` and
    :func:`answered_crypto`), or one that may be dropped when this finds nothing usable (the video's).
    ``theirs`` carries the session-level attributes it inherits (:func:`dtls_view`).
    """
    if not srtp.enabled:
        return None
    if ours.has_attribute("crypto") and theirs.has_attribute("crypto"):
        # RFC 4568 7.1.2: the answer's one line names the tag and suite of one line of the offer.
        for mine in crypto_lines(ours)[0]:
            for line in crypto_lines(theirs)[0]:
                if (mine.tag, mine.suite) == (line.tag, line.suite) and mine.suite in srtp.suites:
                    return MediaCrypto(
                        "sdes",
                        mine.suite,
                        suites=(mine.suite,),
                        local_key=mine.key_salt,
                        remote_key=line.key_salt,
                        secure_signalling=srtp.secure_signalling,
                    )
        return None
    if not (ours.has_attribute("fingerprint") and theirs.has_attribute("fingerprint")):
        return None
    try:
        _, own_setup = dtls_attributes(ours)
        fingerprint, setup = dtls_attributes(theirs)
    except SipParseError:
        return None
    if fingerprint is None or fingerprint.hash_function not in FINGERPRINT_HASHES:
        return None
    role: Literal["active", "passive"]
    if own_setup in ("active", "passive"):
        role = "active" if own_setup == "active" else "passive"
    elif own_setup == "actpass" and setup in ("active", None):
        role = "passive"  # RFC 4145 4.1: an answer without a=setup is active
    elif own_setup == "actpass" and setup == "passive":
        role = "active"
    else:
        return None
    return MediaCrypto(
        "dtls",
        None,
        suites=srtp.suites,
        dtls_role=role,
        remote_fingerprint=fingerprint,
        secure_signalling=srtp.secure_signalling,
    )

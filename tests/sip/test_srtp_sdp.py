"""SRTP in SDP: a=crypto (RFC 4568), a=fingerprint/a=setup (RFC 5763), and the policies in offer/answer."""

from __future__ import annotations

import base64

import pytest

from softphone.sip.errors import SipParseError
from softphone.sip.offer_answer import (
    AudioConfig,
    create_answer,
    create_offer,
    hold_offer,
    keep_dtls_role,
    negotiate_answer,
    refusal_reason,
)
from softphone.sip.sdp import SessionDescription, parse_sdp
from softphone.sip.srtp_offer_answer import refresh_keys
from softphone.sip.srtp_sdp import SUITES, CryptoAttribute, Fingerprint, SrtpConfig, parse_crypto, parse_fingerprint

FINGERPRINT = Fingerprint("sha-256", ":".join(["AB"] * 32))
OTHER_FINGERPRINT = Fingerprint("sha-256", ":".join(["CD"] * 32))


def config(
    policy: str = "optional",
    keys: str = "any",
    *,
    tls: bool = True,
    fingerprint: Fingerprint | None = FINGERPRINT,
    suites: tuple[str, ...] = tuple(SUITES),
) -> AudioConfig:
    srtp = SrtpConfig(policy, keys, suites, secure_signalling=tls, fingerprint=fingerprint)  # type: ignore[arg-type]
    return AudioConfig(srtp=srtp)


def offer_of(local: AudioConfig, port: int = 30000) -> SessionDescription:
    sd = create_offer(local, address="127.0.0.1", port=port, session_id=1, session_version=1)
    assert parse_sdp(sd.to_bytes()) == sd
    return sd


def answer_of(offer: SessionDescription, local: AudioConfig, **kw: object) -> tuple[SessionDescription, object]:
    return create_answer(offer, local, address="127.0.0.1", port=40000, session_id=2, session_version=1, **kw)  # type: ignore[arg-type]


# --- the attributes --------------------------------------------------------------------------


def test_crypto_line_round_trips() -> None:
    key = bytes(range(30))
    line = CryptoAttribute(1, "AES_CM_128_HMAC_SHA1_80", key, lifetime="2^31")
    parsed = parse_crypto(str(line))
    assert parsed == line
    assert str(line).startswith("1 AES_CM_128_HMAC_SHA1_80 inline:")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("garbage", "is not"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:%%%%", "is not 'inline"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.b64encode(b"x" * 20).decode(), "20 bytes"),
        ("1 AEAD_AES_256_GCM inline:" + base64.b64encode(b"x" * 30).decode(), "needs 44"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.b64encode(b"x" * 30).decode() + "|2^20", "too short"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.b64encode(b"x" * 30).decode() + "|1:4", "MKI"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:QUFB;inline:QUFB", "more than one key"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:QUFB=QUFB", "not base64"),
    ],
)
def test_bad_crypto_lines_are_refused_with_a_reason(value: str, words: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_crypto(value)
    assert info.value.status_code == 488
    assert words in str(info.value)


def test_unknown_suite_parses_for_the_answerer_to_skip() -> None:
    assert parse_crypto("3 F8_128_HMAC_SHA1_80 inline:QUFB").suite == "F8_128_HMAC_SHA1_80"


def test_fingerprint_parses_and_normalises() -> None:
    parsed = parse_fingerprint("SHA-256 " + ":".join(["ab"] * 32))
    assert parsed == FINGERPRINT
    assert parsed.digest == b"\xab" * 32
    with pytest.raises(SipParseError):
        parse_fingerprint("sha-256 not-hex")


# --- offers ----------------------------------------------------------------------------------


def test_policy_off_offers_plain_rtp() -> None:
    media = offer_of(AudioConfig()).media[0]
    assert media.proto == "RTP/AVP"
    assert not media.has_attribute("crypto") and not media.has_attribute("fingerprint")


def test_mandatory_over_tls_offers_savp_with_a_key_per_suite() -> None:
    media = offer_of(config("mandatory", "sdes")).media[0]
    assert media.proto == "RTP/SAVP"
    suites = [parse_crypto(a.value or "").suite for a in media.get_attributes("crypto")]
    assert suites == list(SUITES)
    keys = {parse_crypto(a.value or "").key_salt for a in media.get_attributes("crypto")}
    assert len(keys) == len(suites)  # a fresh key for every line


def test_optional_over_tls_offers_keys_inside_rtp_avp() -> None:
    media = offer_of(config("optional", "sdes")).media[0]
    assert media.proto == "RTP/AVP"
    assert media.has_attribute("crypto")


def test_keys_never_go_into_sdp_without_tls() -> None:
    for policy in ("optional", "mandatory"):
        media = offer_of(config(policy, "any", tls=False)).media[0]
        assert not media.has_attribute("crypto")
        assert media.get_attribute("fingerprint") is not None
        assert media.get_attribute("setup").value == "actpass"  # type: ignore[union-attr]
        assert media.rtcp_mux
    assert offer_of(config("mandatory", "any", tls=False)).media[0].proto == "UDP/TLS/RTP/SAVP"
    # SDES only, no TLS, nothing forced: nothing to offer but plain RTP.
    assert not offer_of(config("optional", "sdes", tls=False)).media[0].has_attribute("crypto")


def test_clear_keys_when_the_user_forces_it() -> None:
    srtp = SrtpConfig("mandatory", "sdes", secure_signalling=False, allow_clear_keys=True)
    assert offer_of(AudioConfig(srtp=srtp)).media[0].has_attribute("crypto")


def test_refresh_keys_changes_every_key() -> None:
    local = config("mandatory", "sdes")
    offer = offer_of(local)
    again = refresh_keys(offer, local.srtp)
    before = [parse_crypto(a.value or "") for a in offer.media[0].get_attributes("crypto")]
    after = [parse_crypto(a.value or "") for a in again.media[0].get_attributes("crypto")]
    assert [(c.tag, c.suite) for c in before] == [(c.tag, c.suite) for c in after]
    assert all(b.key_salt != a.key_salt for b, a in zip(before, after, strict=True))


# --- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", list(SUITES))
def test_sdes_offer_and_answer_agree_on_each_suite(suite: str) -> None:
    caller = config("mandatory", "sdes", suites=(suite,))
    callee = config("mandatory", "sdes")
    offer = offer_of(caller)
    answer, media = answer_of(offer, callee)
    assert media is not None and media.crypto is not None  # type: ignore[attr-defined]
    theirs = media.crypto  # type: ignore[attr-defined]
    assert answer.media[0].proto == "RTP/SAVP"
    ours = negotiate_answer(offer, answer, caller)
    assert ours is not None and ours.crypto is not None
    assert ours.crypto.suite == theirs.suite == suite
    assert ours.crypto.local_key == theirs.remote_key
    assert ours.crypto.remote_key == theirs.local_key
    assert ours.crypto.local_key != ours.crypto.remote_key


def test_answerer_takes_the_first_offered_suite_it_allows() -> None:
    offer = offer_of(config("mandatory", "sdes"))
    _, media = answer_of(offer, config("mandatory", "sdes", suites=("AES_CM_128_HMAC_SHA1_32",)))
    assert media.crypto.suite == "AES_CM_128_HMAC_SHA1_32"  # type: ignore[attr-defined]


def test_dtls_offer_answer_roles_and_fingerprints() -> None:
    caller = config("mandatory", "dtls", tls=False)
    callee = config("mandatory", "dtls", tls=False, fingerprint=OTHER_FINGERPRINT)
    offer = offer_of(caller)
    answer, media = answer_of(offer, callee)
    assert answer.media[0].get_attribute("setup").value == "active"  # type: ignore[union-attr]
    assert media.crypto.dtls_role == "active"  # type: ignore[attr-defined]
    assert media.crypto.remote_fingerprint == FINGERPRINT  # type: ignore[attr-defined]
    assert media.rtcp_mux  # type: ignore[attr-defined]
    ours = negotiate_answer(offer, answer, caller)
    assert ours is not None and ours.crypto is not None
    assert ours.crypto.dtls_role == "passive"
    assert ours.crypto.remote_fingerprint == OTHER_FINGERPRINT


def test_dtls_re_offer_keeps_the_role() -> None:
    caller = config("mandatory", "dtls", tls=False)
    offer = offer_of(caller)
    answer, _ = answer_of(offer, config("mandatory", "dtls", tls=False))
    media = negotiate_answer(offer, answer, caller)
    again = keep_dtls_role(hold_offer(offer), media)
    assert again.media[0].get_attribute("setup").value == "passive"  # type: ignore[union-attr]
    _, theirs = answer_of(offer, config("mandatory", "dtls", tls=False), dtls_role="passive")
    assert theirs.crypto.dtls_role == "passive"  # type: ignore[attr-defined]


def test_optional_to_a_plain_peer_falls_back_with_a_reason() -> None:
    caller = config("optional", "sdes")
    offer = offer_of(caller)
    answer, _ = answer_of(offer, AudioConfig())
    assert not answer.media[0].has_attribute("crypto")
    media = negotiate_answer(offer, answer, caller)
    assert media is not None and media.crypto is None
    assert media.plain_reason == "the peer answered without encryption"


def test_mandatory_refuses_a_plain_answer() -> None:
    caller = config("mandatory", "sdes")
    offer = offer_of(caller)
    # A peer that answers RTP/AVP keys-less to our RTP/SAVP breaks RFC 3264 as well.
    plain = answer_of(offer_of(AudioConfig()), AudioConfig())[0]
    with pytest.raises(SipParseError) as info:
        negotiate_answer(offer, plain, caller)
    assert info.value.status_code == 488


def test_mandatory_answerer_refuses_a_plain_offer() -> None:
    offer = offer_of(AudioConfig())
    callee = config("mandatory", "any")
    answer, media = answer_of(offer, callee)
    assert media is None and answer.media[0].port == 0
    assert refusal_reason(offer, callee) == "the offer has no encryption and SRTP is mandatory"


def test_policy_off_refuses_savp() -> None:
    offer = offer_of(config("mandatory", "sdes"))
    _, media = answer_of(offer, AudioConfig())
    assert media is None
    assert refusal_reason(offer, AudioConfig()) == "encrypted media offered, and SRTP is off"


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", "bytes"),
        ("1 NULL_CIPHER inline:" + base64.b64encode(b"k" * 30).decode(), "no SRTP suite in common"),
        ("zzz", "no usable a=crypto line"),
    ],
)
def test_bad_offered_keys_fail_the_call_never_plain(line: str, words: str) -> None:
    for proto in ("RTP/SAVP", "RTP/AVP"):
        offer = parse_sdp(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio 5000 {proto} 0\r\na=crypto:{line}\r\n"
        )
        local = config("optional", "sdes")
        _, media = answer_of(offer, local)
        assert media is None
        assert words in refusal_reason(offer, local)


def test_sdes_offer_over_clear_signalling_is_not_answered_with_keys() -> None:
    offer = offer_of(config("mandatory", "sdes"))
    local = config("optional", "sdes", tls=False)
    _, media = answer_of(offer, local)
    assert media is None
    assert "not TLS" in refusal_reason(offer, local)


def test_forged_answer_tag_is_refused() -> None:
    caller = config("mandatory", "sdes", suites=("AES_CM_128_HMAC_SHA1_80",))
    offer = offer_of(caller)
    answer, _ = answer_of(offer, config("mandatory", "sdes"))
    line = answer.media[0].get_attribute("crypto")
    assert line is not None
    line.value = (line.value or "").replace("1 AES_CM_128_HMAC_SHA1_80", "7 AES_CM_128_HMAC_SHA1_80")
    with pytest.raises(SipParseError, match="was not offered"):
        negotiate_answer(offer, answer, caller)


def test_answer_with_actpass_is_refused() -> None:
    caller = config("mandatory", "dtls", tls=False)
    offer = offer_of(caller)
    answer, _ = answer_of(offer, config("mandatory", "dtls", tls=False))
    setup = answer.media[0].get_attribute("setup")
    assert setup is not None
    setup.value = "actpass"
    with pytest.raises(SipParseError, match="a=setup:actpass"):
        negotiate_answer(offer, answer, caller)

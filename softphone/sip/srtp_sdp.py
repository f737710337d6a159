"""SRTP in SDP: SDES ``a=crypto`` (RFC 4568), DTLS-SRTP ``a=fingerprint``/``a=setup`` (RFC 5763, 8122).

Sans-I/O like the rest of :mod:`softphone.sip`: it parses and formats the
attributes, says what a policy offers and answers, and describes what was
agreed as a :class:`MediaCrypto` for the media engine. Key material comes
from ``SrtpConfig.random`` (the OS's random source unless a test gives
another); nothing here encrypts a packet.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from softphone.sip.errors import SipParseError

__all__ = [
    "DEFAULT_SUITES",
    "DTLS_PROTOS",
    "FINGERPRINT_HASHES",
    "KEY_EXCHANGES",
    "MAX_CRYPTO_LINES",
    "PLAIN_PROTOS",
    "SAVP_PROTOS",
    "SRTP_POLICIES",
    "SUITES",
    "CryptoAttribute",
    "Fingerprint",
    "KeyExchange",
    "MediaCrypto",
    "SetupRole",
    "SrtpConfig",
    "SrtpPolicy",
    "SuiteInfo",
    "default_srtp_config",
    "format_crypto",
    "parse_crypto",
    "parse_fingerprint",
]

SrtpPolicy = Literal["off", "optional", "mandatory"]
KeyExchange = Literal["sdes", "dtls", "any"]
SetupRole = Literal["active", "passive", "actpass", "holdconn"]
SRTP_POLICIES: tuple[SrtpPolicy, ...] = ("off", "optional", "mandatory")
KEY_EXCHANGES: tuple[KeyExchange, ...] = ("sdes", "dtls", "any")

# RFC 4568 3.1: the profiles that carry keys in a=crypto; RFC 5764 8: the DTLS-SRTP ones.
SAVP_PROTOS = ("RTP/SAVP", "RTP/SAVPF")
DTLS_PROTOS = ("UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF")
PLAIN_PROTOS = ("RTP/AVP", "RTP/AVPF")
FINGERPRINT_HASHES = ("sha-256", "sha-384", "sha-512", "sha-1")


@dataclass(frozen=True)
class SuiteInfo:
    """One SRTP crypto-suite: its SDES name, key and salt lengths, and its RFC 5764 4.1.2 profile id."""

    name: str
    key_length: int
    salt_length: int
    dtls_profile: str
    label: str

    @property
    def key_salt_length(self) -> int:
        return self.key_length + self.salt_length


SUITES: dict[str, SuiteInfo] = {
    info.name: info
    for info in (
        # RFC 7714 12 (GCM); RFC 4568 6.2 (AES-CM). Preference order: strongest first.
        SuiteInfo("AEAD_AES_256_GCM", 32, 12, "SRTP_AEAD_AES_256_GCM", "AES-GCM-256"),
        SuiteInfo("AEAD_AES_128_GCM", 16, 12, "SRTP_AEAD_AES_128_GCM", "AES-GCM-128"),
        SuiteInfo("AES_CM_128_HMAC_SHA1_80", 16, 14, "SRTP_AES128_CM_SHA1_80", "AES-CM-128 HMAC-SHA1-80"),
        SuiteInfo("AES_CM_128_HMAC_SHA1_32", 16, 14, "SRTP_AES128_CM_SHA1_32", "AES-CM-128 HMAC-SHA1-32"),
    )
}
DEFAULT_SUITES: tuple[str, ...] = tuple(SUITES)
MAX_CRYPTO_LINES = 16

_CRYPTO_RE = re.compile(r"^(\d{1,9})\s+([A-Za-z0-9_]+)\s+(\S+)(?:\s+(.*))?$")
_INLINE_RE = re.compile(r"^inline:([A-Za-z0-9+/=]+)(?:\|([^|]+))?(?:\|([^|]+))?$")
_FINGERPRINT_RE = re.compile(r"^([A-Za-z0-9-]{1,16})\s+((?:[0-9A-Fa-f]{2}:)*[0-9A-Fa-f]{2})$")


def _bad(message: str) -> SipParseError:
    # RFC 4568 6.1 asks for 488 when no crypto line of an offer is acceptable; a broken one is no better.
    return SipParseError(message, 488)


@dataclass(frozen=True)
class CryptoAttribute:
    """``a=crypto:<tag> <suite> inline:<key||salt>[|lifetime][|MKI:length] [session-params]`` (RFC 4568 9.1)."""

    tag: int
    suite: str
    key_salt: bytes
    lifetime: str | None = None
    mki: str | None = None
    session_params: str = ""

    def __str__(self) -> str:
        return format_crypto(self)


def format_crypto(crypto: CryptoAttribute) -> str:
    """The value of the ``a=crypto`` attribute (without ``crypto:``)."""
    inline = "inline:" + base64.b64encode(crypto.key_salt).decode("ascii")
    if crypto.lifetime:
        inline += f"|{crypto.lifetime}"
    if crypto.mki:
        inline += f"|{crypto.mki}"
    text = f"{crypto.tag} {crypto.suite} {inline}"
    return f"{text} {crypto.session_params}" if crypto.session_params else text


def parse_crypto(value: str) -> CryptoAttribute:
    """Parse one ``a=crypto`` value; :class:`SipParseError` (488) says what is wrong with it.

    An unknown suite parses (the offer/answer step skips it); a known suite
    with a key of the wrong length, a second key (RFC 4568 allows several;
    we use one), an MKI (libsrtp here keys without one) or a lifetime
    shorter than a call does not.
    """
    match = _CRYPTO_RE.match(value.strip())
    if match is None:
        raise _bad(f"a=crypto {_clip(value)!r} is not '<tag> <suite> inline:<key>'")
    tag = int(match.group(1))
    suite = match.group(2)
    key_params = match.group(3)
    if ";" in key_params:
        raise _bad("a=crypto with more than one key is not supported")
    inline = _INLINE_RE.match(key_params)
    if inline is None:
        raise _bad(f"a=crypto key parameter {_clip(key_params)!r} is not 'inline:<base64>'")
    try:
        key_salt = base64.b64decode(inline.group(1), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad(f"a=crypto key is not base64: {exc}") from exc
    lifetime, mki = None, None
    for part in (inline.group(2), inline.group(3)):
        if part is None:
            continue
        if ":" in part:
            mki = part
        else:
            lifetime = part
    info = SUITES.get(suite)
    if info is not None:
        if len(key_salt) != info.key_salt_length:
            raise _bad(f"a=crypto {suite} key is {len(key_salt)} bytes, the suite needs {info.key_salt_length}")
        if mki is not None:
            raise _bad("a=crypto with an MKI is not supported")
        if lifetime is not None and _lifetime(lifetime) < 2**31:
            raise _bad(f"a=crypto key lifetime {lifetime} is too short for a call")
    return CryptoAttribute(tag, suite, key_salt, lifetime, mki, match.group(4) or "")


def _lifetime(text: str) -> int:
    try:
        if text.startswith("2^"):
            exponent = int(text[2:])
            return int(2 ** min(exponent, 64))
        return int(text)
    except ValueError as exc:
        raise _bad(f"a=crypto key lifetime {text!r} is not a number") from exc


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:80] + "…"


@dataclass(frozen=True)
class Fingerprint:
    """``a=fingerprint:<hash> <hex:hex:...>`` (RFC 8122 5): the certificate the DTLS peer must show."""

    hash_function: str
    value: str

    def __str__(self) -> str:
        return f"{self.hash_function} {self.value}"

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.value.replace(":", ""))


def parse_fingerprint(value: str) -> Fingerprint:
    match = _FINGERPRINT_RE.match(value.strip())
    if match is None:
        raise _bad(f"a=fingerprint {_clip(value)!r} is not '<hash> <hex:hex:...>'")
    return Fingerprint(match.group(1).lower(), match.group(2).upper())


@dataclass(frozen=True)
class MediaCrypto:
    """What offer/answer agreed to protect a stream (the audio, or the video beside it) with.

    SDES: ``local_key``/``remote_key`` are the key||salt we send and receive
    with. DTLS: ``dtls_role`` is our side of the handshake (``active`` is
    the DTLS client, RFC 5763 5) and ``remote_fingerprint`` the certificate
    the peer must show; the suite is chosen by the handshake (``suites``
    lists those we allow). ``secure_signalling`` says whether the SDP
    crossed the first hop over TLS.
    """

    key_exchange: Literal["sdes", "dtls"]
    suite: str | None
    suites: tuple[str, ...] = ()
    local_key: bytes = field(default=b"", repr=False)
    remote_key: bytes = field(default=b"", repr=False)
    dtls_role: Literal["active", "passive"] | None = None
    remote_fingerprint: Fingerprint | None = None
    secure_signalling: bool = False

    @property
    def label(self) -> str:
        info = SUITES.get(self.suite or "")
        return info.label if info is not None else (self.suite or "")


@dataclass(frozen=True)
class SrtpConfig:
    """How a call protects its media.

    ``policy``: ``off`` (plain RTP only), ``optional`` (offer SRTP with a
    plain fallback, accept either), ``mandatory`` (no plain RTP: a plain
    offer is refused with 488, a plain answer ends the call).
    ``key_exchange``: which of SDES and DTLS-SRTP we use. SDES keys travel in
    the SDP, so they are put in it only when ``secure_signalling`` (the next
    hop is reached over TLS) or ``allow_clear_keys`` (the user forced it).
    ``fingerprint`` is our DTLS certificate's (None: no DTLS).
    """

    policy: SrtpPolicy = "off"
    key_exchange: KeyExchange = "any"
    suites: tuple[str, ...] = DEFAULT_SUITES
    secure_signalling: bool = False
    allow_clear_keys: bool = False
    fingerprint: Fingerprint | None = None
    random: Callable[[int], bytes] = field(default=secrets.token_bytes, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.policy not in SRTP_POLICIES:
            raise ValueError(f"SRTP policy must be one of {', '.join(SRTP_POLICIES)}, not {self.policy!r}")
        if self.key_exchange not in KEY_EXCHANGES:
            raise ValueError(f"SRTP keys must be one of {', '.join(KEY_EXCHANGES)}, not {self.key_exchange!r}")
        unknown = [suite for suite in self.suites if suite not in SUITES]
        if unknown:
            raise ValueError(f"unknown SRTP suite {unknown[0]!r}; known: {', '.join(SUITES)}")

    @property
    def enabled(self) -> bool:
        return self.policy != "off"

    @property
    def sdes_allowed(self) -> bool:
        return (
            self.enabled
            and self.key_exchange in ("sdes", "any")
            and (self.secure_signalling or self.allow_clear_keys)
            and bool(self.suites)
        )

    @property
    def dtls_allowed(self) -> bool:
        return self.enabled and self.key_exchange in ("dtls", "any") and self.fingerprint is not None

    def new_key(self, suite: str) -> bytes:
        return self.random(SUITES[suite].key_salt_length)


def default_srtp_config() -> SrtpConfig:
    return SrtpConfig()

"""SRTP and SRTCP (RFC 3711, RFC 7714) through libsrtp (pylibsrtp), and the media's protection state.

:class:`SrtpTransform` holds the two libsrtp sessions of one key pair: ours
protects what we send, the peer's checks what arrives (authentication and
the replay window are libsrtp's). :class:`MediaProtection` is what a
:class:`~softphone.media.engine.MediaSession` asks before a packet leaves
and after one arrives: SDES keys from the SDP at once, DTLS-SRTP keys once
its handshake (:mod:`softphone.media.dtls`) is through. Nothing leaves in
clear while protection is on, and nothing that fails its check is played:
such packets are counted by reason (:data:`DROP_REASONS`).

It runs on the media thread only; nothing here blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import pylibsrtp

from softphone.media.dtls import DtlsIdentity, DtlsSrtp
from softphone.media.events import EncryptionFailed, EncryptionReady, MediaEvent
from softphone.media.parameters import CryptoParameters

__all__ = [
    "DROP_REASONS",
    "SUITE_KEY_LENGTHS",
    "MediaProtection",
    "SrtpError",
    "SrtpTransform",
    "check_crypto",
    "is_dtls",
]

log = logging.getLogger(__name__)

# RFC 4568 6.2 and RFC 7714 12: key and salt lengths of each suite, and its libsrtp profile.
_PROFILES: Mapping[str, tuple[int, int]] = {
    "AES_CM_128_HMAC_SHA1_80": (pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30),
    "AES_CM_128_HMAC_SHA1_32": (pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32, 30),
    "AEAD_AES_128_GCM": (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28),
    "AEAD_AES_256_GCM": (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 44),
}
SUITE_KEY_LENGTHS: Mapping[str, int] = {name: length for name, (_, length) in _PROFILES.items()}
# Why an arriving datagram was refused by the protection layer.
DROP_REASONS = ("srtp_auth", "srtp_replay", "srtp_plain", "srtp_not_ready", "dtls_wrong_source")


class SrtpError(Exception):
    """A packet that failed SRTP processing; ``reason`` is ``auth`` or ``replay``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_crypto(crypto: CryptoParameters) -> None:
    """Raise ValueError when ``crypto`` cannot key a session (unknown suite, wrong key length, no DTLS peer)."""
    if crypto.key_exchange == "sdes":
        length = SUITE_KEY_LENGTHS.get(crypto.suite or "")
        if length is None:
            raise ValueError(f"unknown SRTP suite {crypto.suite!r}")
        if len(crypto.local_key) != length or len(crypto.remote_key) != length:
            raise ValueError(f"{crypto.suite} keys must be {length} bytes")
    elif crypto.key_exchange == "dtls":
        if crypto.dtls_role is None or crypto.remote_fingerprint is None:
            raise ValueError("DTLS-SRTP needs a role and the peer's fingerprint")
    else:
        raise ValueError(f"unknown SRTP key exchange {crypto.key_exchange!r}")


def is_dtls(data: bytes) -> bool:
    """RFC 7983 7: a first octet of 20-63 is DTLS (RTP and RTCP start at 128-191)."""
    return len(data) >= 1 and 20 <= data[0] <= 63


def _is_rtp_or_rtcp(data: bytes) -> bool:
    return len(data) >= 12 and 128 <= data[0] <= 191


def _is_rtcp(data: bytes) -> bool:
    # RFC 5761 4: the second octet of RTCP is 192-223.
    return len(data) >= 8 and 192 <= data[1] <= 223


class SrtpTransform:
    """One suite with our key||salt (sending) and the peer's (receiving)."""

    def __init__(self, suite: str, local_key: bytes, remote_key: bytes) -> None:
        try:
            profile, length = _PROFILES[suite]
        except KeyError:
            raise ValueError(f"unknown SRTP suite {suite!r}") from None
        for which, key in (("our", local_key), ("the peer's", remote_key)):
            if len(key) != length:
                raise ValueError(f"{which} {suite} key is {len(key)} bytes, not {length}")
        self.suite = suite
        self._tx = pylibsrtp.Session(
            pylibsrtp.Policy(key=local_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile)
        )
        self._rx = pylibsrtp.Session(
            pylibsrtp.Policy(key=remote_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile)
        )
        self._keys = (local_key, remote_key)

    def same_keys(self, suite: str, local_key: bytes, remote_key: bytes) -> bool:
        return self.suite == suite and self._keys == (local_key, remote_key)

    def protect(self, packet: bytes) -> bytes:
        return self._tx.protect(packet)

    def protect_rtcp(self, packet: bytes) -> bytes:
        return self._tx.protect_rtcp(packet)

    def unprotect(self, packet: bytes) -> bytes:
        return self._unprotect(self._rx.unprotect, packet)

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        return self._unprotect(self._rx.unprotect_rtcp, packet)

    @staticmethod
    def _unprotect(step: object, packet: bytes) -> bytes:
        try:
            return step(packet)  # type: ignore[operator, no-any-return]
        except pylibsrtp.Error as exc:
            text = str(exc)
            raise SrtpError("replay" if "replay" in text else "auth", text) from None


@dataclass(frozen=True, slots=True)
class ProtectionStatus:
    """What protects the media now: the suite, how its keys came, whether the peer is who its SDP said."""

    key_exchange: str
    suite: str | None
    ready: bool
    verified: bool
    failure: str | None = None


class MediaProtection:
    """SRTP for one media session: keys from SDES at once, or from a DTLS handshake on the media socket."""

    def __init__(
        self,
        crypto: CryptoParameters,
        identity: DtlsIdentity | None,
        *,
        handshake_timeout: float = 10.0,
    ) -> None:
        self._identity = identity
        self._timeout = handshake_timeout
        self.crypto = crypto
        self.transform: SrtpTransform | None = None
        self._previous: SrtpTransform | None = None
        self.dtls: DtlsSrtp | None = None
        self.dropped = dict.fromkeys(DROP_REASONS, 0)
        self.protected = 0
        self.unprotected = 0
        self.failure: str | None = None
        self._configure(crypto)

    # --- keys ----------------------------------------------------------------------------

    def update(self, crypto: CryptoParameters) -> None:
        """A new offer/answer: new SDES keys re-key at once; DTLS goes on unless its role or peer changed."""
        self.crypto = crypto
        self._configure(crypto)

    def _configure(self, crypto: CryptoParameters) -> None:
        if crypto.key_exchange == "sdes":
            self.dtls = None
            suite = crypto.suite or ""
            current = self.transform
            if current is not None and current.same_keys(suite, crypto.local_key, crypto.remote_key):
                return
            # RFC 4568 7.1.4: packets under the old key may still be in flight; they are still taken.
            self._previous = current
            self.transform = SrtpTransform(suite, crypto.local_key, crypto.remote_key)
            return
        if crypto.key_exchange != "dtls" or crypto.dtls_role is None or crypto.remote_fingerprint is None:
            raise ValueError(f"unusable media crypto parameters: {crypto.key_exchange}")
        if self._identity is None:
            raise ValueError("DTLS-SRTP needs a certificate (DtlsIdentity)")
        dtls = self.dtls
        if (
            dtls is not None
            and dtls.role == crypto.dtls_role
            and dtls.remote_fingerprint.digest == crypto.remote_fingerprint.digest
        ):
            return
        self.transform = self._previous = None
        self.failure = None
        self.dtls = DtlsSrtp(
            self._identity,
            crypto.dtls_role,
            crypto.remote_fingerprint,
            tuple(crypto.suites),
            timeout=self._timeout,
        )

    # --- DTLS on the media socket ------------------------------------------------------------

    def start(self, now: float) -> list[bytes]:
        return self.dtls.start(now) if self.dtls is not None else []

    def handle_dtls(self, data: bytes, now: float) -> tuple[list[bytes], MediaEvent | None]:
        dtls = self.dtls
        if dtls is None:
            return [], None
        was_ready = dtls.connected
        out = dtls.handle(data, now)
        return out, self._after_dtls(was_ready)

    def poll(self, now: float) -> tuple[list[bytes], MediaEvent | None]:
        dtls = self.dtls
        if dtls is None:
            return [], None
        was_ready, had_failed = dtls.connected, dtls.failure is not None
        out = dtls.poll(now)
        if dtls.failure is not None and not had_failed:
            return out, self._failed(dtls.failure)
        return out, self._after_dtls(was_ready)

    def _after_dtls(self, was_ready: bool) -> MediaEvent | None:
        dtls = self.dtls
        assert dtls is not None
        if dtls.failure is not None and self.failure is None:
            return self._failed(dtls.failure)
        if dtls.connected and not was_ready and dtls.keys is not None:
            suite, local_key, remote_key = dtls.keys
            self.transform = SrtpTransform(suite, local_key, remote_key)
            log.info("DTLS-SRTP ready: %s, peer's fingerprint verified", suite)
            return EncryptionReady("dtls", suite, verified=True)
        return None

    def _failed(self, reason: str) -> MediaEvent:
        self.failure = reason
        log.warning("media encryption failed: %s", reason)
        return EncryptionFailed(reason)

    def next_deadline(self) -> float | None:
        return self.dtls.next_deadline() if self.dtls is not None else None

    # --- packets -----------------------------------------------------------------------------

    def receive(
        self, data: bytes, now: float, *, from_peer: bool
    ) -> tuple[bytes | None, list[bytes], MediaEvent | None]:
        """An arriving datagram on the RTP socket (RFC 7983): (the plain RTP/RTCP packet or None, DTLS datagrams
        to send back, an event). DTLS goes to the handshake when it comes ``from_peer``; SRTP/SRTCP is checked."""
        if is_dtls(data):
            if self.dtls is None:
                self.dropped["srtp_plain"] += 1
                return None, [], None
            if not from_peer:
                self.dropped["dtls_wrong_source"] += 1
                return None, [], None
            out, event = self.handle_dtls(data, now)
            return None, out, event
        result = self.unprotect(data)
        return (None if result is None else result[0]), [], None

    @property
    def ready(self) -> bool:
        return self.transform is not None

    def status(self) -> ProtectionStatus:
        crypto = self.crypto
        transform = self.transform
        suite = transform.suite if transform is not None else crypto.suite
        verified = self.dtls is not None and self.dtls.connected
        return ProtectionStatus(crypto.key_exchange, suite, transform is not None, verified, self.failure)

    def protect(self, packet: bytes, *, rtcp: bool = False) -> bytes | None:
        """The packet to send, or None while there are no keys yet (nothing goes out in clear)."""
        transform = self.transform
        if transform is None:
            return None
        self.protected += 1
        return transform.protect_rtcp(packet) if rtcp else transform.protect(packet)

    def unprotect(self, data: bytes) -> tuple[bytes, bool] | None:
        """(plain packet, is RTCP) of an arriving SRTP/SRTCP datagram; None when it was refused (and counted)."""
        transform = self.transform
        if not _is_rtp_or_rtcp(data):
            self.dropped["srtp_plain"] += 1
            return None
        if transform is None:
            self.dropped["srtp_not_ready"] += 1
            return None
        rtcp = _is_rtcp(data)
        for candidate in (transform, self._previous):
            if candidate is None:
                continue
            try:
                plain = candidate.unprotect_rtcp(data) if rtcp else candidate.unprotect(data)
            except SrtpError as exc:
                error = exc
                continue
            self.unprotected += 1
            return plain, rtcp
        self.dropped["srtp_replay" if error.reason == "replay" else "srtp_auth"] += 1
        return None

"""Media encryption for calls: each call's SRTP settings, what users are told about it, the DTLS identity.

The policy is per account (:attr:`Account.srtp_policy`); whether SDES keys
may go into the SDP depends on the call's first hop (TLS, or a ``sips:``
target). The call machine (sans-I/O) carries the result through offer/answer
and reports :class:`~softphone.ua.events.Encryption` on its events; the media
session gets the keys with ``StartMedia``/``UpdateMedia``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from softphone.media.dtls import DtlsIdentity, load_or_create_identity, new_identity
from softphone.sip.offer_answer import NegotiatedMedia
from softphone.sip.srtp_sdp import Fingerprint, SrtpConfig
from softphone.sip.uri import SipUri
from softphone.transport import Target
from softphone.ua.account import Account
from softphone.ua.events import Encryption

__all__ = ["IDENTITY_NAME", "DtlsIdentities", "encryption_of", "secure_hop", "srtp_config"]

log = logging.getLogger("softphone.ua")

IDENTITY_NAME = "dtls-identity.pem"


def secure_hop(target: Target | None, uri: SipUri | None = None) -> bool:
    """Whether SDP sent to ``target`` crosses the first hop encrypted (TLS, or a sips: URI)."""
    return (target is not None and target.transport.upper() == "TLS") or (uri is not None and uri.scheme == "sips")


def srtp_config(account: Account, *, secure_signalling: bool, fingerprint: Fingerprint | None) -> SrtpConfig:
    return SrtpConfig(
        policy=account.srtp_policy,
        key_exchange=account.srtp_keys,
        suites=account.srtp_suites,
        secure_signalling=secure_signalling,
        allow_clear_keys=account.srtp_clear_keys,
        fingerprint=fingerprint,
    )


def encryption_of(media: NegotiatedMedia | None, srtp: SrtpConfig) -> Encryption | None:
    """What offer/answer agreed, as users see it (a DTLS call is pending until its handshake is through)."""
    if media is None:
        return None
    crypto = media.crypto
    if crypto is None:
        return Encryption(False, reason=media.plain_reason or ("SRTP is off" if not srtp.enabled else ""))
    if crypto.key_exchange == "dtls":
        return Encryption(False, key_exchange="dtls", pending=True, reason="DTLS handshake in progress")
    return Encryption(True, crypto.suite, "sdes", verified=crypto.secure_signalling)


class DtlsIdentities:
    """This installation's DTLS certificate, loaded (or made) once, from a file in the user data dir.

    ``path`` None keeps a certificate for this process only (tests, throw-away user agents).
    """

    def __init__(self, path: Path | None = None, identity: DtlsIdentity | None = None) -> None:
        self.path = path
        self._identity = identity
        self._lock = threading.Lock()

    @classmethod
    def beside(cls, database: Path | None) -> DtlsIdentities:
        """The identity kept next to the store's database (the user data dir), or one for this process."""
        if database is None or str(database) == ":memory:":
            return cls()
        return cls(database.parent / IDENTITY_NAME)

    def get(self) -> DtlsIdentity:
        with self._lock:
            if self._identity is None:
                if self.path is None:
                    self._identity = new_identity()
                else:
                    try:
                        self._identity = load_or_create_identity(self.path)
                    except OSError as exc:
                        log.warning(
                            "cannot keep the DTLS certificate in %s (%s); using one for this run", self.path, exc
                        )
                        self._identity = new_identity()
            return self._identity

    def fingerprint(self) -> Fingerprint:
        return Fingerprint("sha-256", self.get().fingerprint)

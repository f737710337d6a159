"""DTLS-SRTP (RFC 5763, RFC 5764): the handshake on the media socket and the SRTP keys it exports.

:class:`DtlsSrtp` is sans-socket: datagrams in, datagrams out, timers from a
``now`` the media thread passes. It runs OpenSSL's DTLS through pyOpenSSL
with memory BIOs, offers the SRTP protection profiles of the ``use_srtp``
extension (RFC 5764 4.1), checks that the peer's certificate is the one
whose fingerprint the SDP carried (RFC 5763 5; the certificate itself is
self-signed, so the fingerprint is the only trust), and exports the keys
(RFC 5764 4.2). A handshake that does not finish within ``timeout`` fails.

:class:`DtlsIdentity` is this installation's certificate and key, made once
and kept in a file (:func:`load_or_create_identity`).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

with warnings.catch_warnings():
    # pyOpenSSL names cryptography's deprecated DSA types (at import and when given a key); we use none.
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    from OpenSSL import SSL

__all__ = ["DtlsIdentity", "DtlsSrtp", "load_or_create_identity", "new_identity"]

log = logging.getLogger(__name__)

# RFC 5764 4.1.2 profile names, as OpenSSL spells them, for the SDES-named suites.
PROFILE_FOR_SUITE = {
    "AEAD_AES_256_GCM": "SRTP_AEAD_AES_256_GCM",
    "AEAD_AES_128_GCM": "SRTP_AEAD_AES_128_GCM",
    "AES_CM_128_HMAC_SHA1_80": "SRTP_AES128_CM_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32": "SRTP_AES128_CM_SHA1_32",
}
SUITE_FOR_PROFILE = {profile: suite for suite, profile in PROFILE_FOR_SUITE.items()}
_KEY_SALT = {
    "AEAD_AES_256_GCM": (32, 12),
    "AEAD_AES_128_GCM": (16, 12),
    "AES_CM_128_HMAC_SHA1_80": (16, 14),
    "AES_CM_128_HMAC_SHA1_32": (16, 14),
}
_HASHES = {"sha-1": "sha1", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512"}
# Datagrams carry whole DTLS records, at most this many bytes (well under a 1500-byte path MTU).
MAX_DATAGRAM = 1200
_RECORD_HEADER = 13
CERTIFICATE_DAYS = 3650
_LABEL = b"EXTRACTOR-dtls_srtp"  # RFC 5764 4.2


class FingerprintLike(Protocol):
    @property
    def hash_function(self) -> str: ...
    @property
    def digest(self) -> bytes: ...


@dataclass(frozen=True)
class DtlsIdentity:
    """Our DTLS certificate and key (PEM), with the SHA-256 fingerprint that goes into our SDP."""

    certificate_pem: bytes
    key_pem: bytes

    @property
    def fingerprint(self) -> str:
        """``AB:CD:...`` (RFC 8122 5) of the certificate's DER encoding."""
        cert = x509.load_pem_x509_certificate(self.certificate_pem)
        return _colon_hex(cert.fingerprint(hashes.SHA256()))

    def not_after(self) -> datetime.datetime:
        return x509.load_pem_x509_certificate(self.certificate_pem).not_valid_after_utc


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in digest)


def new_identity(common_name: str = "softphone") -> DtlsIdentity:
    """A new self-signed ECDSA P-256 certificate (RFC 5763 5: self-signed is the rule; the fingerprint is the trust)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
        .sign(key, hashes.SHA256())
    )
    return DtlsIdentity(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def load_or_create_identity(path: Path) -> DtlsIdentity:
    """This installation's identity from ``path`` (key and certificate in one PEM file, mode 0600).

    Made anew when the file is missing, unreadable or within 30 days of expiry.
    """
    try:
        data = path.read_bytes()
        key_end = data.index(b"-----END PRIVATE KEY-----") + len(b"-----END PRIVATE KEY-----\n")
        identity = DtlsIdentity(data[key_end:], data[:key_end])
        serialization.load_pem_private_key(identity.key_pem, None)
        expiry = identity.not_after() - datetime.timedelta(days=30)
        if expiry > datetime.datetime.now(datetime.UTC):
            return identity
    except (OSError, ValueError, TypeError):
        pass
    identity = new_identity()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dtls-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(identity.key_pem + identity.certificate_pem)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise
    return identity


def _records(data: bytes) -> list[bytes]:
    """Split a run of DTLS records (RFC 6347 4.1: a 13-octet header with the length last)."""
    records: list[bytes] = []
    offset = 0
    while offset + _RECORD_HEADER <= len(data):
        length = int.from_bytes(data[offset + 11 : offset + 13], "big")
        end = offset + _RECORD_HEADER + length
        records.append(data[offset:end])
        offset = end
    if offset < len(data):
        records.append(data[offset:])
    return records


def _datagrams(data: bytes) -> list[bytes]:
    """Whole records packed into datagrams of at most :data:`MAX_DATAGRAM` bytes."""
    out: list[bytes] = []
    current = b""
    for record in _records(data):
        if current and len(current) + len(record) > MAX_DATAGRAM:
            out.append(current)
            current = b""
        current += record
    if current:
        out.append(current)
    return out


class DtlsSrtp:
    """One DTLS association that keys SRTP. ``role`` ``active`` is the client (RFC 5763 5)."""

    def __init__(
        self,
        identity: DtlsIdentity,
        role: Literal["active", "passive"],
        remote_fingerprint: FingerprintLike,
        suites: tuple[str, ...],
        *,
        timeout: float = 10.0,
    ) -> None:
        self.role = role
        self.remote_fingerprint = remote_fingerprint
        profiles = [PROFILE_FOR_SUITE[s] for s in suites if s in PROFILE_FOR_SUITE]
        if not profiles:
            raise ValueError("no SRTP suite usable with DTLS-SRTP")
        context = SSL.Context(SSL.DTLS_METHOD)
        context.use_certificate(x509.load_pem_x509_certificate(identity.certificate_pem))
        key = serialization.load_pem_private_key(identity.key_pem, None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="DSA is deprecated")
            context.use_privatekey(key)
        context.check_privatekey()
        # Self-signed certificates: OpenSSL's chain check is replaced by the fingerprint check after the handshake.
        context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *_: True)
        context.set_tlsext_use_srtp(":".join(profiles).encode("ascii"))
        self._connection = SSL.Connection(context, None)
        if role == "active":
            self._connection.set_connect_state()
        else:
            self._connection.set_accept_state()
        self._timeout = timeout
        self._started: float | None = None
        self._retransmit_at: float | None = None
        self.connected = False
        self.failure: str | None = None
        self.keys: tuple[str, bytes, bytes] | None = None
        self.suite: str | None = None
        self.received = 0

    # --- inputs ------------------------------------------------------------------------------

    def start(self, now: float) -> list[bytes]:
        """Start the clock; the client sends its ClientHello, the server waits for it."""
        if self._started is not None:
            return []
        self._started = now
        if self.role == "passive":
            return []
        return self._step(now)

    def handle(self, data: bytes, now: float) -> list[bytes]:
        """A DTLS datagram from the peer."""
        if self._started is None:
            self._started = now
        if self.failure is not None:
            return []
        self.received += 1
        try:
            self._connection.bio_write(data)
        except SSL.Error as exc:
            self._fail(f"DTLS error: {_words(exc)}")
            return []
        if self.connected:
            # After the handshake: a retransmitted last flight of the peer, or an alert.
            try:
                self._connection.recv(2048)
            except SSL.WantReadError:
                pass
            except SSL.ZeroReturnError:
                log.info("the peer closed its DTLS association")
            except SSL.Error as exc:
                log.info("DTLS after the handshake: %s", _words(exc))
            return self._flush()
        return self._step(now)

    def poll(self, now: float) -> list[bytes]:
        """Retransmit a lost flight when OpenSSL's timer says so; fail past the handshake timeout."""
        if self.connected or self.failure is not None or self._started is None:
            return []
        if now - self._started >= self._timeout:
            self._fail(f"the DTLS handshake did not finish within {self._timeout:g} s")
            return []
        if self._retransmit_at is not None and now >= self._retransmit_at:
            try:
                self._connection.DTLSv1_handle_timeout()
            except SSL.Error as exc:
                self._fail(f"DTLS error: {_words(exc)}")
                return []
            out = self._flush()
            self._arm(now)
            return out
        return []

    def next_deadline(self) -> float | None:
        if self.connected or self.failure is not None or self._started is None:
            return None
        end = self._started + self._timeout
        return min(end, self._retransmit_at) if self._retransmit_at is not None else end

    # --- the handshake ------------------------------------------------------------------------

    def _step(self, now: float) -> list[bytes]:
        try:
            self._connection.do_handshake()
        except SSL.WantReadError:
            out = self._flush()
            self._arm(now)
            return out
        except SSL.Error as exc:
            out = self._flush()  # an alert for the peer
            self._fail(f"DTLS handshake failed: {_words(exc)}")
            return out
        out = self._flush()
        self._handshake_done()
        return out

    def _arm(self, now: float) -> None:
        timeout = self._connection.DTLSv1_get_timeout()
        self._retransmit_at = None if timeout is None else now + timeout

    def _flush(self) -> list[bytes]:
        pending = b""
        while True:
            try:
                chunk = self._connection.bio_read(65536)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            pending += chunk
        return _datagrams(pending) if pending else []

    def _handshake_done(self) -> None:
        connection = self._connection
        certificate = connection.get_peer_certificate(as_cryptography=True)
        if certificate is None:
            self._fail("the DTLS peer showed no certificate")
            return
        der = certificate.public_bytes(serialization.Encoding.DER)
        algorithm = _HASHES.get(self.remote_fingerprint.hash_function.lower())
        if algorithm is None:
            self._fail(f"unsupported fingerprint hash {self.remote_fingerprint.hash_function}")
            return
        # RFC 5763 5: the certificate must match the fingerprint of the SDP, or the media is someone else's.
        if hashlib.new(algorithm, der).digest() != self.remote_fingerprint.digest:
            self._fail("the DTLS peer's certificate does not match the fingerprint in its SDP")
            return
        profile = connection.get_selected_srtp_profile().decode("ascii")
        suite = SUITE_FOR_PROFILE.get(profile)
        if suite is None:
            self._fail(f"the DTLS peer chose no SRTP profile we offered ({profile or 'none'})")
            return
        key_length, salt_length = _KEY_SALT[suite]
        material = connection.export_keying_material(_LABEL, 2 * (key_length + salt_length))
        # RFC 5764 4.2: client key, server key, client salt, server salt.
        client_key = material[:key_length]
        server_key = material[key_length : 2 * key_length]
        client_salt = material[2 * key_length : 2 * key_length + salt_length]
        server_salt = material[2 * key_length + salt_length :]
        client, server = client_key + client_salt, server_key + server_salt
        local, remote = (client, server) if self.role == "active" else (server, client)
        self.keys = (suite, local, remote)
        self.suite = suite
        self.connected = True
        self._retransmit_at = None

    def _fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
            self._retransmit_at = None


def _words(exc: SSL.Error) -> str:
    parts = []
    for item in exc.args[0] if exc.args and isinstance(exc.args[0], list) else []:
        if isinstance(item, tuple) and item:
            parts.append(str(item[-1]))
    return ", ".join(parts) or str(exc) or type(exc).__name__

"""TLS settings: a server certificate for the TLS listener, and how servers are verified."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

from softphone.transport.errors import TransportError


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """Certificates for TLS.

    ``certfile``/``keyfile`` (PEM) serve the TLS listener and are offered
    as the client certificate when a server asks for one, unless an
    account has its own for that server (``identities``). Servers are
    verified against ``cafile`` (PEM bundle) or, when it is None, the
    system's trust store; ``verify=False`` turns verification off and is
    for testing only. ``pinned`` holds SHA-256 fingerprints (as
    :func:`certificate_fingerprint` writes them) of server certificates
    the user chose to trust although they do not verify (self-signed, for
    another name, expired): a server presenting exactly that certificate is
    accepted. It may grow while connections are made.
    """

    certfile: str | None = None
    keyfile: str | None = None
    cafile: str | None = None
    verify: bool = True
    pinned: set[str] = field(default_factory=set)
    # Client certificates of accounts, by the name of their server (RFC 5922: the domain the URI that
    # was resolved names, lower case): (certfile, keyfile). Other servers get the listener's.
    identities: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def identity_for(self, server_name: str | None) -> tuple[str | None, str | None]:
        """The certificate and key offered to ``server_name`` when it asks for one."""
        if server_name is not None:
            found = self.identities.get(server_name.lower())
            if found is not None:
                return found
        return self.certfile, self.keyfile

    def add_identity(self, server_names: Iterable[str], certfile: str, keyfile: str | None = None) -> None:
        """Offer ``certfile`` (PEM; its key in it or in ``keyfile``) to these servers; raises
        :class:`TransportError` in words when it cannot be loaded."""
        try:
            ssl.create_default_context().load_cert_chain(certfile, keyfile)
        except FileNotFoundError as exc:
            raise TransportError(f"the client certificate {certfile} does not exist") from exc
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(
                f"the client certificate {certfile} cannot be used (a PEM file with the certificate and, "
                f"unless given apart, its key): {exc}"
            ) from exc
        for name in server_names:
            self.identities[name.lower()] = (certfile, keyfile)

    def client_context(self, server_name: str | None = None) -> ssl.SSLContext:
        certfile, keyfile = self.identity_for(server_name)
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.cafile)
            if certfile is not None:
                context.load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(f"cannot load TLS client settings: {exc}") from exc
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def unverified_context(self, server_name: str | None = None) -> ssl.SSLContext:
        """A client context that verifies nothing: only to read the certificate of a server that failed."""
        context = self.client_context(server_name)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    def server_context(self) -> ssl.SSLContext:
        if self.certfile is None:
            raise TransportError("a TLS listener needs a certificate (TlsSettings.certfile)")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.certfile, self.keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(f"cannot load the TLS server certificate {self.certfile}: {exc}") from exc
        return context


def certificate_fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as ``AB:CD:...``, the form ``openssl x509 -fingerprint -sha256`` prints."""
    return hashlib.sha256(der).digest().hex(":").upper()

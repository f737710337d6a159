"""The exception family of the transport layer."""

from __future__ import annotations

import errno
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from softphone.transport.base import Target


class TransportError(Exception):
    """A message could not be sent, or a connection or flow failed.

    ``target`` is the remote address concerned, when known.
    """

    def __init__(self, message: str, target: Target | None = None) -> None:
        super().__init__(message)
        self.target = target


class ResolveError(TransportError):
    """RFC 3263 server location found no address to send to."""


class TlsReason(StrEnum):
    """Why a TLS connection to a server failed."""

    UNTRUSTED = "untrusted"  # no trusted authority signed the certificate (self-signed, unknown CA)
    NAME_MISMATCH = "name-mismatch"  # the certificate names other hosts (RFC 5922 7.2)
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    INVALID = "invalid"  # any other verification failure (revoked, bad signature, wrong purpose ...)
    HANDSHAKE = "handshake"  # no certificate to judge: the TLS handshake itself failed


class TlsError(TransportError):
    """A TLS connection failed; ``reason`` says why.

    ``fingerprint`` is the SHA-256 of the server's certificate (DER) as
    colon-separated upper-case hex (``openssl x509 -fingerprint -sha256``),
    when it could be read: what a user compares before trusting it.
    ``server_name`` is the name the certificate was checked against.
    """

    def __init__(
        self,
        message: str,
        target: Target | None = None,
        *,
        reason: TlsReason,
        fingerprint: str | None = None,
        server_name: str | None = None,
    ) -> None:
        super().__init__(message, target)
        self.reason = reason
        self.fingerprint = fingerprint
        self.server_name = server_name


def os_error_text(exc: OSError) -> str:
    """What an OSError means, saying so plainly when the process or system is out of file descriptors."""
    text = exc.strerror or str(exc)
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return f"out of file descriptors ({text})"
    return text

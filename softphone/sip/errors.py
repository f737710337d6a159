"""The one exception family of the sans-I/O SIP layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from softphone.sip.message import Request, Response


class SipParseError(ValueError):
    """Bytes or a header value that break the SIP grammar.

    ``status_code`` is what an element answers a request that fails this way
    (400 unless a more specific code applies, e.g. 505 for the version).
    ``partial`` is the message as far as it could be read when its framing and
    start line were sound, so that a UA can still build that response from
    its Via, From, To, Call-ID and CSeq (RFC 3261 8.2.6.2).
    """

    def __init__(
        self,
        message: str,
        status_code: int = 400,
        partial: Request | Response | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.partial = partial


class BodyError(SipParseError):
    """A message body (PIDF, dialog-info, message-summary, is-composing ...) that cannot be read.

    Raised for malformed or oversized bodies and for XML that tries entity
    expansion, external entities or a DTD; a UA answers such a request 400.
    """

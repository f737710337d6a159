"""Reliable provisional responses (RFC 3262): the 100rel option tag (RSeq and RAck are typed views of messages)."""

from __future__ import annotations

from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response

__all__ = ["OPTION_TAG", "is_reliable", "requires_100rel", "supports_100rel"]

OPTION_TAG = "100rel"


def _tags(values: list[str]) -> bool:
    return any(option.lower() == OPTION_TAG for option in values)


def requires_100rel(message: Request | Response) -> bool:
    try:
        return _tags(message.require)
    except SipParseError:
        return False


def supports_100rel(message: Request | Response) -> bool:
    try:
        return _tags(message.supported) or _tags(message.require)
    except SipParseError:
        return False


def is_reliable(response: Response) -> bool:
    """RFC 3262 4: a 101-199 response with Require: 100rel (its RSeq is read with :func:`parse_rseq`)."""
    return 100 < response.status_code < 200 and requires_100rel(response)

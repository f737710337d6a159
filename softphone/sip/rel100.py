"""Reliable provisional responses (RFC 3262): the RSeq and RAck headers and the 100rel option tag."""

from __future__ import annotations

import re
from dataclasses import dataclass

from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response

__all__ = ["OPTION_TAG", "RAck", "is_reliable", "parse_rack", "parse_rseq", "requires_100rel", "supports_100rel"]

OPTION_TAG = "100rel"
# RFC 3262 7.1: response-num is 1*DIGIT below 2**32.
_MAX_RSEQ = 2**32 - 1
_NUMBER = re.compile(r"[0-9]{1,10}")
_RACK = re.compile(r"\s*([0-9]{1,10})\s+([0-9]{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)\s*")


@dataclass(frozen=True, slots=True)
class RAck:
    """RFC 3262 7.2: the reliable provisional response a PRACK acknowledges."""

    rseq: int
    cseq: int
    method: str

    def __str__(self) -> str:
        return f"{self.rseq} {self.cseq} {self.method}"


def _number(text: str, what: str) -> int:
    if not _NUMBER.fullmatch(text):
        raise SipParseError(f"malformed {what}: {text!r}")
    value = int(text)
    if value > _MAX_RSEQ:
        raise SipParseError(f"{what} out of range: {text!r}")
    return value


def parse_rseq(message: Response) -> int | None:
    value = message.headers.get("RSeq")
    return None if value is None else _number(value.strip(), "RSeq")


def parse_rack(request: Request) -> RAck | None:
    value = request.headers.get("RAck")
    if value is None:
        return None
    match = _RACK.fullmatch(value)
    if match is None:
        raise SipParseError(f"malformed RAck: {value!r}")
    return RAck(_number(match.group(1), "RAck"), _number(match.group(2), "RAck CSeq"), match.group(3).upper())


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

"""Canonical text of SIP and tel URIs for keys and look-ups in the store.

:func:`normalise_uri` reduces a name-addr or addr-spec to the one string the
store keys conversations, call peers and contact addresses by: scheme and host
in lower case, display name, password, URI parameters and headers dropped, the
user part kept as written (RFC 3261 19.1.4 compares it case-sensitively) with
escapes of unreserved characters decoded. A tel URI keeps its number without
visual separators (RFC 3966 5.1.1). Text with no scheme is taken as ``sip:``
when it has an ``@``, as ``tel:`` when it looks like a phone number.

The function never raises: the store must be able to key whatever arrived.
"""

from __future__ import annotations

import re

__all__ = ["normalise_uri", "phone_digits", "uri_user"]

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")
_VISUAL_SEPARATORS_RE = re.compile(r"[\s\-.()\[\]/]")
_PHONE_RE = re.compile(r"\+?[\d\s\-.()/\[\]]*\d[\d\s\-.()/\[\]]*")
_KNOWN_SCHEMES = frozenset({"sip", "sips", "tel"})


def _escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _decode_unreserved(text: str) -> str:
    while True:
        decoded = _ESCAPE_RE.sub(_escape, text)
        if decoded == text:
            return text
        text = decoded


def _addr_spec(text: str) -> str:
    """The URI inside ``"Name" <uri>`` or ``Name <uri>``; ``text`` itself when it is a bare URI."""
    if text.startswith('"'):
        i = 1
        while i < len(text):
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == '"':
                break
            i += 1
        rest = text[i + 1 :]
        start = rest.find("<")
        if start < 0:
            return rest.strip()
        end = rest.find(">", start)
        return rest[start + 1 : end if end >= 0 else len(rest)].strip()
    start = text.find("<")
    if start >= 0 and ":" not in text[:start]:
        end = text.find(">", start)
        return text[start + 1 : end if end >= 0 else len(text)].strip()
    return text


def normalise_uri(text: str) -> str:
    """The store's canonical form of a SIP, SIPS or tel URI (or name-addr); see the module docstring."""
    spec = _addr_spec(text.strip())
    match = _SCHEME_RE.match(spec)
    scheme = match.group(1).lower() if match else ""
    if match:
        rest = spec[match.end() :]
    elif _PHONE_RE.fullmatch(spec):
        scheme, rest = "tel", spec
    else:
        scheme, rest = "sip", spec
    if scheme == "tel":
        number = rest.split(";", 1)[0]
        return "tel:" + _VISUAL_SEPARATORS_RE.sub("", number)
    if scheme not in _KNOWN_SCHEMES:
        return f"{scheme}:{rest.strip()}"
    rest = rest.split("?", 1)[0]
    user, at, hostport = rest.rpartition("@")
    hostport = hostport.split(";", 1)[0].strip().lower()
    if at:
        user = _decode_unreserved(user.split(":", 1)[0])
        return f"{scheme}:{user}@{hostport}"
    return f"{scheme}:{hostport}"


def uri_user(uri: str) -> str:
    """The user part of a normalised ``sip:``/``sips:`` URI, or the number of a ``tel:`` URI ('' if none)."""
    scheme, _, rest = uri.partition(":")
    if scheme == "tel":
        return rest
    user, at, _ = rest.rpartition("@")
    return user.split(";", 1)[0] if at else ""


def phone_digits(number: str) -> str:
    """A phone number as ``+`` (when international) and its digits: the form numbers are compared in."""
    text = number.strip()
    if text.lower().startswith("tel:"):
        text = text[4:].split(";", 1)[0]
    digits = "".join(ch for ch in text if ch.isdigit() and ch.isascii())
    if text.lstrip().startswith("+") and digits:
        return "+" + digits
    if text.startswith("00") and len(digits) > 2:
        return "+" + digits[2:]
    return digits

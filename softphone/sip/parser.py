"""Turning bytes into SIP messages: datagrams and byte streams (RFC 3261 7, 18.3).

:func:`parse_message` frames one message out of a datagram by Content-Length,
reads the start line, splits the header fields, and validates the headers
every element needs to match transactions (Via, From, To, Call-ID, CSeq,
Max-Forwards). Other headers are parsed when the program reads them.
:class:`StreamParser` does the same for TCP/TLS byte streams in any chunking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from softphone.sip.addr import match_everyday_name_addr, parse_name_addr
from softphone.sip.errors import SipParseError
from softphone.sip.headers import (
    KNOWN_METHODS,
    TOKEN_RE,
    VIA_FAST_RE,
    CSeq,
    check_call_id,
    clip,
    parse_cseq,
    parse_max_forwards,
    parse_via_list,
)
from softphone.sip.message import (
    KEY_CACHE,
    SIP_VERSION,
    Headers,
    Request,
    Response,
    canonical_name,
    field_name_slow,
    field_names,
)
from softphone.sip.uri import AbsoluteUri, SipUri, Uri, parse_uri

MAX_HEADER_BYTES = 65536
MAX_BODY_BYTES = 1 << 20
# Header fields (lines, after unfolding) in one message: 70 Vias and 70 Record-Routes of a
# Max-Forwards-long path fit, 12,000 one-letter fields in a datagram do not.
MAX_HEADER_FIELDS = 256

_FOLD_RE = re.compile(r"\r\n[ \t]+")
_VERSION_RE = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
_STATUS_RE = re.compile(r"[0-9]{3}")


def _split_head(head: str, max_fields: int = MAX_HEADER_FIELDS) -> tuple[str, list[str], dict[str, tuple[str, ...]]]:
    """Start line, header lines, and the field values by lookup key; linear in the number of fields."""
    lines = head.split("\r\n")
    crlf = len(lines) - 1
    # Counting is cheaper than searching: a bare CR or LF makes one count differ from the line breaks.
    if head.count("\n") != crlf or head.count("\r") != crlf:
        raise SipParseError("bare CR or LF inside the header section")
    if crlf > max_fields:
        if "\r\n " in head or "\r\n\t" in head:
            return _split_head(_FOLD_RE.sub(" ", head), max_fields)
        raise SipParseError(f"too many header fields: {crlf}, the limit is {max_fields}")
    start = lines[0]
    del lines[0]
    index: dict[str, tuple[str, ...]] = {}
    repeated: dict[str, list[str]] | None = None
    known = KEY_CACHE
    for line in lines:
        try:
            name, value = line.split(":", 1)
            key = known[name][0]
        except (ValueError, KeyError):
            if line.startswith((" ", "\t")):
                # RFC 3261 7.3.1: a folded line continues the previous field value.
                return _split_head(_FOLD_RE.sub(" ", head), max_fields)
            name, value = field_name_slow(line)
            key = field_names(name)[0]
        value = value.strip(" \t")
        if key in index:
            # Repeats gather in a list: appending to a tuple copies it, quadratic in the repeats.
            if repeated is None:
                repeated = {}
            values = repeated.get(key)
            if values is None:
                repeated[key] = [*index[key], value]
            else:
                values.append(value)
        else:
            index[key] = (value,)
    if repeated is not None:
        # Tuples, not lists: of strings only, the collector stops tracking them (a kept message is cheaper).
        for key, values in repeated.items():
            index[key] = tuple(values)
    return start, lines, index


def _content_length(index: dict[str, tuple[str, ...]]) -> int | None:
    values = index.get("content-length")
    if values is None:
        return None
    found: int | None = None
    for value in values:
        if not value.isdigit() or not value.isascii():
            if value.startswith("-") and value[1:].isdigit():
                raise SipParseError(f"negative Content-Length: {clip(value)!r}")
            raise SipParseError(f"malformed Content-Length: {clip(value)!r}")
        if len(value) > 20:
            # int() refuses more than 4300 digits (a ValueError); no body is this long anyway.
            value = value.lstrip("0") or "0"
            if len(value) > 20:
                raise SipParseError(f"Content-Length out of range: {clip(value)!r}")
        length = int(value)
        if found is not None and found != length:
            raise SipParseError(f"conflicting Content-Length values: {found} and {length}")
        found = length
    return found


def _decode(head: bytes) -> str:
    # surrogateescape keeps any octet, so bytes(msg) gives back what arrived.
    return head.decode("utf-8", "surrogateescape")


def _build(start: str, lines: list[str], index: dict[str, tuple[str, ...]], body: bytes) -> Request | Response:
    headers = Headers._from_lines(lines, index)
    if start[:4].upper() == "SIP/":
        return _build_response(start, headers, body)
    return _build_request(start, headers, body)


def _single(index: dict[str, tuple[str, ...]], key: str) -> str:
    values = index.get(key)
    if values is None:
        raise SipParseError(f"missing {canonical_name(key)} header")
    if len(values) > 1:
        # RFC 3261 7.3.1: these headers take exactly one value.
        raise SipParseError(f"{canonical_name(key)} appears {len(values)} times")
    return values[0]


def _check_transaction_headers(headers: Headers, request: bool) -> CSeq:
    """Validate what every element reads to match transactions; cache the cheap views."""
    index = headers._lookup()
    cache = headers._cache
    vias = index.get("via")
    if not vias:
        raise SipParseError("missing Via header")
    for via in vias:
        fast = VIA_FAST_RE.fullmatch(via)
        if fast is None:
            parse_via_list(via)
        elif via is vias[0]:
            cache["via:match"] = fast  # the top Via is built from it when read
    get = index.get
    # RFC 3261 7.3.1: From, To, Call-ID, CSeq and Max-Forwards take exactly one value; _single says what is wrong.
    values = get("from")
    value = values[0] if values is not None and len(values) == 1 else _single(index, "from")
    everyday = match_everyday_name_addr(value)
    if everyday is None:
        cache["from"] = parse_name_addr(value)
    else:
        cache["from:match"] = everyday
    values = get("to")
    value = values[0] if values is not None and len(values) == 1 else _single(index, "to")
    everyday = match_everyday_name_addr(value)
    if everyday is None:
        cache["to"] = parse_name_addr(value)
    else:
        cache["to:match"] = everyday
    values = get("call-id")
    cache["call-id"] = check_call_id(
        values[0] if values is not None and len(values) == 1 else _single(index, "call-id")
    )
    values = get("cseq")
    cseq = cache["cseq"] = parse_cseq(values[0] if values is not None and len(values) == 1 else _single(index, "cseq"))
    if request:
        forwards = get("max-forwards")
        if forwards is None:
            cache["max-forwards"] = None
        elif len(forwards) == 1:
            cache["max-forwards"] = parse_max_forwards(forwards[0])
        else:
            _single(index, "max-forwards")  # raises: Max-Forwards appears N times
    return cseq


def _build_response(start: str, headers: Headers, body: bytes) -> Response:
    parts = start.split(" ", 2)
    if len(parts) < 3:
        if len(parts) == 2 and _STATUS_RE.fullmatch(parts[1]):
            parts.append("")  # a missing reason phrase is tolerated
        else:
            raise SipParseError(f"malformed Status-Line: {start[:80]!r}")
    version, code, reason = parts
    if _STATUS_RE.fullmatch(code) is None or code[0] == "0":
        raise SipParseError(f"status code is not three digits from 100 to 699: {code[:20]!r}")
    if version.upper() != SIP_VERSION:
        raise SipParseError(f"unsupported SIP version in response: {version!r}", 505)
    response = Response._trusted(int(code), reason, headers, body)
    try:
        _check_transaction_headers(headers, False)
    except SipParseError as exc:
        raise SipParseError(f"{exc} (in {code} response)", exc.status_code, response) from None
    return response


# RFC 3261 8.2.6.2: what a response copies from its request.
_RESPONSE_NEEDS = ("via", "from", "to", "call-id", "cseq")


def _request_line(start: str) -> tuple[str, str, str, Uri]:
    parts = start.split(" ")
    # RFC 3261 25.1: Request-Line = Method SP Request-URI SP SIP-Version, single spaces.
    if len(parts) != 3:
        raise SipParseError(f"malformed Request-Line (needs 'METHOD URI SIP/2.0' with single spaces): {start[:120]!r}")
    method, uri_text, version = parts
    if method not in KNOWN_METHODS and TOKEN_RE.fullmatch(method) is None:
        raise SipParseError(f"malformed method in Request-Line: {method[:40]!r}")
    if version != SIP_VERSION:
        if _VERSION_RE.fullmatch(version) is None:
            raise SipParseError(f"malformed SIP version in Request-Line: {version[:40]!r}")
        version = version.upper()
    return method, uri_text, version, parse_uri(uri_text)


def _partial_request(start: str, headers: Headers) -> Request | None:
    """What can be read of a request whose framing or Request-Line is broken.

    Its headers are as received and its URI is a stand-in: it exists so that a
    UA can still answer 400 from Via, From, To, Call-ID and CSeq.
    """
    method = start.split(" ", 1)[0]
    if start[:4].upper() == "SIP/" or TOKEN_RE.fullmatch(method) is None:
        return None
    index = headers._lookup()
    if any(key not in index for key in _RESPONSE_NEEDS):
        return None
    return Request._trusted(method, AbsoluteUri(scheme="unparsed", opaque=""), headers, b"", SIP_VERSION)


def _build_request(start: str, headers: Headers, body: bytes) -> Request:
    try:
        method, uri_text, version, uri = _request_line(start)
    except SipParseError as exc:
        raise SipParseError(str(exc), exc.status_code, _partial_request(start, headers)) from None
    request = Request._trusted(method, uri, headers, body, version)
    try:
        if isinstance(uri, SipUri) and uri.headers:
            # RFC 4475 3.1.2.11: escaped headers have no meaning in a Request-URI.
            raise SipParseError(f"Request-URI carries escaped headers: {uri_text[:120]!r}")
        if version != SIP_VERSION:
            raise SipParseError(f"SIP version {version!r} is not supported", 505)
        cseq = _check_transaction_headers(headers, True)
        if cseq.method != method:
            # RFC 4475 3.1.2.18: for a method we don't know, 501 says more than 400.
            status = 400 if method in KNOWN_METHODS else 501
            raise SipParseError(f"CSeq method {cseq.method!r} does not match request method {method!r}", status)
    except SipParseError as exc:
        raise SipParseError(f"{exc} (in {method} request)", exc.status_code, request) from None
    return request


def _find_head_end(data: bytes, start: int) -> tuple[int, int]:
    """(end of the header section, start of the body), or (-1, -1)."""
    end = data.find(b"\r\n\r\n", start)
    if end >= 0:
        return end, end + 4
    end = data.find(b"\n\n", start)
    if end >= 0:
        return end, end + 2
    return -1, -1


def _head_text(data: bytes, start: int, end: int) -> str:
    head = _decode(data[start:end])
    if "\r\n" not in head and "\n" in head:
        head = head.replace("\n", "\r\n")  # tolerate bare LF line ends
    return head


def parse_message(data: bytes, max_header_fields: int = MAX_HEADER_FIELDS) -> Request | Response:
    """Parse the first SIP message of a datagram; trailing octets are ignored.

    Raises :class:`SipParseError` saying what is wrong; when the message could
    be framed, the error's ``partial`` holds it and ``status_code`` is the
    response a request deserves. A message of more than ``max_header_fields``
    header fields is refused (400) before its fields are looked at.
    """
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end, body_start = _find_head_end(data, start)
    if end < 0:
        if not data[start:].strip():
            raise SipParseError("empty message")
        # RFC 4475 3.1.2.15: when the headers can still be read, a 400 can still be sent.
        raise SipParseError(
            "header section is not ended by an empty line",
            400,
            _readable_partial(data, start, len(data.rstrip()), max_header_fields),
        )
    start_line, lines, index = _split_head(_head_text(data, start, end), max_header_fields)
    try:
        length = _content_length(index)
        available = len(data) - body_start
        if length is not None and length > available:
            raise SipParseError(f"Content-Length {length} exceeds the {available} octets of body in the datagram")
    except SipParseError as exc:
        raise SipParseError(str(exc), 400, _partial_request(start_line, Headers._from_lines(lines, index))) from None
    if length is None:
        # RFC 3261 18.3: over UDP the body runs to the end of the datagram.
        body = data[body_start:]
    else:
        body = data[body_start : body_start + length]
    if not start_line:
        raise SipParseError("empty start line")
    return _build(start_line, lines, index, body)


def _readable_partial(data: bytes, start: int, end: int, max_fields: int) -> Request | None:
    try:
        start_line, lines, index = _split_head(_head_text(data, start, end), max_fields)
    except SipParseError:
        return None
    return _partial_request(start_line, Headers._from_lines(lines, index))


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """CRLFs between messages on a stream: RFC 5626 3.5.1 ping (two) or pong (one)."""

    crlfs: int

    @property
    def is_ping(self) -> bool:
        return self.crlfs >= 2


StreamItem = Request | Response | KeepAlive | SipParseError


class StreamParser:
    """Frames messages out of a TCP/TLS byte stream, in any chunking.

    :meth:`feed` returns what became complete: messages, keep-alives, and a
    :class:`SipParseError` for a message that was framed but is invalid (the
    stream goes on). A framing error (no, negative, conflicting or huge
    Content-Length, an endless header section) raises :class:`SipParseError`:
    the stream can't be resynchronised and the connection should be closed.
    """

    def __init__(
        self,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_header_fields: int = MAX_HEADER_FIELDS,
    ) -> None:
        self._buffer = bytearray()
        self._max_header = max_header_bytes
        self._max_body = max_body_bytes
        self._max_fields = max_header_fields
        self._pending: tuple[str, list[str], dict[str, tuple[str, ...]], int] | None = None

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def in_message(self) -> bool:
        """Part of a message has arrived (keep-alive CRLFs between messages don't count)."""
        return self._pending is not None or bool(self._buffer)

    @property
    def headers_complete(self) -> bool:
        """The current message's header section is complete; its body is still arriving."""
        return self._pending is not None

    def feed(self, data: bytes) -> list[StreamItem]:
        self._buffer += data
        items: list[StreamItem] = []
        while True:
            item = self._next()
            if item is None:
                return items
            items.append(item)

    def _next(self) -> StreamItem | None:
        buf = self._buffer
        if self._pending is None:
            crlfs = 0
            while buf.startswith(b"\r\n", crlfs * 2):
                crlfs += 1
            if crlfs:
                del buf[: crlfs * 2]
                return KeepAlive(crlfs)
            if buf[:1] == b"\r" and len(buf) == 1:
                return None
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self._max_header:
                    raise SipParseError(f"header section longer than {self._max_header} octets")
                return None
            if end > self._max_header:
                raise SipParseError(f"header section longer than {self._max_header} octets")
            start_line, lines, index = _split_head(_decode(bytes(buf[:end])), self._max_fields)
            length = _content_length(index)
            if length is None:
                # RFC 3261 18.3: Content-Length is mandatory on stream transports.
                raise SipParseError("message on a stream transport without Content-Length")
            if length > self._max_body:
                raise SipParseError(f"Content-Length {length} exceeds the limit of {self._max_body} octets")
            del buf[: end + 4]
            self._pending = (start_line, lines, index, length)
        start_line, lines, index, length = self._pending
        if len(buf) < length:
            return None
        body = bytes(buf[:length])
        del buf[:length]
        self._pending = None
        try:
            if not start_line:
                raise SipParseError("empty start line")
            return _build(start_line, lines, index, body)
        except SipParseError as exc:
            return exc

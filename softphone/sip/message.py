"""SIP message model: requests, responses and their ordered header fields.

Header values are kept as the text that arrived (unfolded, trimmed); typed
views (``msg.via``, ``msg.from_``, ``msg.cseq`` ...) are parsed on first read,
cached until the headers change, and raise :class:`SipParseError` when the
value breaks the grammar without affecting the rest of the message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from softphone.sip import headers as h
from softphone.sip.addr import ContactStar, NameAddr, name_addr_from_match, parse_contact_list, parse_name_addr
from softphone.sip.errors import SipParseError
from softphone.sip.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri

if TYPE_CHECKING:
    from softphone.sip.auth import Challenge, Credentials

T = TypeVar("T")

SIP_VERSION = "SIP/2.0"

# RFC 3261 7.3.3 and the compact forms registered since (RFC 3265, 3515, 3892, 4028, 3841).
COMPACT_FORMS = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "n": "identity-info",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}

_CANONICAL_NAMES = [
    "Accept",
    "Accept-Contact",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "Identity",
    "Identity-Info",
    "In-Reply-To",
    "Max-Forwards",
    "MIME-Version",
    "Min-Expires",
    "Min-SE",
    "Organization",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Priority",
    "Privacy",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "RAck",
    "Reason",
    "Record-Route",
    "Refer-To",
    "Referred-By",
    "Reject-Contact",
    "Replaces",
    "Reply-To",
    "Request-Disposition",
    "Require",
    "Retry-After",
    "Route",
    "RSeq",
    "Server",
    "Session-Expires",
    "SIP-ETag",
    "SIP-If-Match",
    "Subject",
    "Subscription-State",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
]
CANONICAL_NAMES = {name.lower(): name for name in _CANONICAL_NAMES}

# RFC 3261 7.3.1: headers whose grammar allows only one field value.
SINGLE_VALUE = frozenset({"call-id", "cseq", "from", "to", "max-forwards", "content-length", "content-type", "expires"})

REASON_PHRASES = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    199: "Early Dialog Terminated",
    200: "OK",
    202: "Accepted",
    204: "No Notification",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    412: "Conditional Request Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    493: "Undecipherable",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


def header_key(name: str) -> str:
    """The lookup key of a header name: lower case, compact form expanded."""
    key = name.lower()
    return COMPACT_FORMS.get(key, key) if len(key) == 1 else key


def canonical_name(name: str) -> str:
    key = header_key(name)
    return CANONICAL_NAMES.get(key, name)


# Header names as written -> (lookup key, stored name); bounded, so that
# random names from the network can't grow it without limit.
KEY_CACHE: dict[str, tuple[str, str]] = {}


def field_names(name: str) -> tuple[str, str]:
    """(lookup key, stored name) for a header name as written, memoised."""
    cached = KEY_CACHE.get(name)
    if cached is not None:
        return cached
    key = name.lower()
    if len(key) == 1:
        key = COMPACT_FORMS.get(key, key)
    result = (key, canonical_name(name))
    if len(KEY_CACHE) < 4096:
        KEY_CACHE[name] = result
    return result


def field_name_slow(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    if not colon:
        raise SipParseError(f"header line without a colon: {line[:80]!r}")
    # RFC 3261 7.3.1: whitespace may sit between the name and the colon.
    stripped = name.rstrip(" \t")
    if h.TOKEN_RE.fullmatch(stripped) is None:
        raise SipParseError(f"malformed header name: {name[:80]!r}")
    names = field_names(stripped)
    if len(KEY_CACHE) < 4096:
        KEY_CACHE[name] = names  # the spelling as written, spaces included
    return stripped, value


def split_field(line: str) -> tuple[str, str, str]:
    """One header line as (lookup key, stored name, value)."""
    try:
        name, value = line.split(":", 1)
        key, canonical = KEY_CACHE[name]
    except (ValueError, KeyError):
        name, value = field_name_slow(line)
        key, canonical = field_names(name)
    return key, canonical, value.strip(" \t")


class Headers:
    """Ordered header fields; lookup by any case and by compact form.

    ``headers["v"]`` is the first Via field value; :meth:`get_all` returns
    every field value of a name in order. Names are stored in canonical
    spelling for known headers and as written otherwise.
    """

    __slots__ = ("_cache", "_field_list", "_index", "_lines")

    def __init__(self, fields: list[tuple[str, str]] | None = None) -> None:
        self._field_list: list[tuple[str, str, str]] | None = [
            (header_key(name), canonical_name(name), value) for name, value in fields or ()
        ]
        self._lines: list[str] | None = None
        self._index: dict[str, tuple[str, ...]] | None = None
        self._cache: dict[str, Any] = {}

    @classmethod
    def _trusted(cls, fields: list[tuple[str, str, str]]) -> Headers:
        """Fields already as (key, name, value)."""
        self = cls.__new__(cls)
        self._field_list = fields
        self._lines = None
        self._index = None
        self._cache = {}
        return self

    @classmethod
    def _from_lines(cls, lines: list[str], index: dict[str, tuple[str, ...]]) -> Headers:
        """The parser's header lines (unfolded) and values by key; fields are split when first needed."""
        self = cls.__new__(cls)
        self._field_list = None
        self._lines = lines
        self._index = index
        self._cache = {}
        return self

    @property
    def _fields(self) -> list[tuple[str, str, str]]:
        fields = self._field_list
        if fields is None:
            fields = self._field_list = [split_field(line) for line in self._lines or ()]
            self._lines = None
        return fields

    @_fields.setter
    def _fields(self, fields: list[tuple[str, str, str]]) -> None:
        self._field_list = fields
        self._lines = None

    def _changed(self) -> None:
        self._index = None
        self._cache.clear()

    def _lookup(self) -> dict[str, tuple[str, ...]]:
        index = self._index
        if index is None:
            grouped: dict[str, list[str]] = {}
            for key, _, value in self._fields:
                values = grouped.get(key)
                if values is None:
                    grouped[key] = [value]
                else:
                    values.append(value)
            # Tuples, not lists: of strings only, the collector stops tracking them.
            index = self._index = {key: tuple(values) for key, values in grouped.items()}
        return index

    def __getitem__(self, name: str) -> str:
        values = self._lookup().get(header_key(name))
        if not values:
            raise KeyError(name)
        return values[0]

    def get(self, name: str, default: T | None = None) -> str | T | None:
        values = self._lookup().get(header_key(name))
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        return list(self._lookup().get(header_key(name), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and header_key(name) in self._lookup()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter([(name, value) for _, name, value in self._fields])

    def __len__(self) -> int:
        return len(self._fields)

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        """Append a field (or put it before the others of its name, e.g. a new top Via)."""
        self._changed()
        key = header_key(name)
        field = (key, canonical_name(name), value)
        if first:
            for i, existing in enumerate(self._fields):
                if existing[0] == key:
                    self._fields.insert(i, field)
                    return
        self._fields.append(field)

    def __setitem__(self, name: str, value: str) -> None:
        """Replace every field of this name by one, in the place of the first."""
        self._changed()
        key = header_key(name)
        field = (key, canonical_name(name), value)
        out: list[tuple[str, str, str]] = []
        placed = False
        for existing in self._fields:
            if existing[0] == key:
                if not placed:
                    out.append(field)
                    placed = True
            else:
                out.append(existing)
        if not placed:
            out.append(field)
        self._fields = out

    def __delitem__(self, name: str) -> None:
        self.remove(name)

    def remove(self, name: str) -> None:
        self._changed()
        key = header_key(name)
        self._fields = [f for f in self._fields if f[0] != key]

    def pop_first(self, name: str) -> str | None:
        """Remove and return the first field of a name (a proxy's top Via, a Route)."""
        key = header_key(name)
        for i, existing in enumerate(self._fields):
            if existing[0] == key:
                self._changed()
                del self._fields[i]
                return existing[2]
        return None

    def copy(self) -> Headers:
        return Headers._trusted(list(self._fields))

    def comparable(self) -> list[tuple[str, str]]:
        """Fields as compared for equality: keys normalised, Content-Length left out (it frames the body)."""
        return [(key, value) for key, _, value in self._fields if key != "content-length"]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self.comparable() == other.comparable()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({[(n, v) for _, n, v in self._fields]!r})"

    def serialize(self, content_length: int) -> list[str]:
        """Header lines with Content-Length set to the body's real length."""
        lines = []
        have_length = False
        for key, name, value in self._fields:
            if key == "content-length":
                if have_length:
                    continue
                value, have_length = str(content_length), True
            lines.append(f"{name}: {value}")
        if not have_length:
            lines.append(f"Content-Length: {content_length}")
        return lines

    def parsed(self, key: str, parse: Callable[[], T]) -> T:
        """Cache of typed views, dropped whenever the fields change."""
        cache = self._cache
        if key in cache:
            return cache[key]  # type: ignore[no-any-return]
        value = parse()
        cache[key] = value
        return value


def _one(headers: Headers, key: str) -> str:
    values = headers._lookup().get(key)
    if not values:
        raise SipParseError(f"missing {canonical_name(key)} header")
    if len(values) > 1:
        raise SipParseError(f"{canonical_name(key)} appears {len(values)} times")
    return values[0]


class Message:
    """What requests and responses share: headers, body and the typed views."""

    __slots__ = ("body", "headers", "version")

    def __init__(self, headers: Headers | None, body: bytes, version: str) -> None:
        self.headers = headers if headers is not None else Headers()
        self.body = body
        self.version = version

    def start_line(self) -> str:
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        lines = [self.start_line(), *self.headers.serialize(len(self.body)), "\r\n"]
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + self.body

    def _view(self, key: str, parse: Callable[[], T]) -> T:
        return self.headers.parsed(key, parse)

    # --- the headers every transaction needs (validated by the parser) ---

    @property
    def call_id(self) -> str:
        cache = self.headers._cache
        if "call-id" in cache:
            return cache["call-id"]  # type: ignore[no-any-return]
        return self._view("call-id", lambda: h.check_call_id(_one(self.headers, "call-id")))

    @property
    def cseq(self) -> h.CSeq:
        cache = self.headers._cache
        if "cseq" in cache:
            return cache["cseq"]  # type: ignore[no-any-return]
        return self._view("cseq", lambda: h.parse_cseq(_one(self.headers, "cseq")))

    @property
    def vias(self) -> list[h.Via]:
        cache = self.headers._cache
        if "via" in cache:
            return cache["via"]  # type: ignore[no-any-return]

        def parse() -> list[h.Via]:
            out: list[h.Via] = []
            for value in self.headers._lookup().get("via", ()):
                out.extend(h.parse_via_list(value))
            return out

        return self._view("via", parse)

    @property
    def via(self) -> h.Via:
        """The top Via (parsed alone when it has a field line of its own)."""
        cache = self.headers._cache
        top: h.Via | None = cache.get("via:top")
        if top is None:
            # The parser leaves the match of an everyday-shaped top Via to build from (no comma: one via-parm).
            match = cache.pop("via:match", None)
            if match is not None:
                top = h.via_from_match(match)
            if top is None:
                values = self.headers._lookup().get("via")
                if not values:
                    raise SipParseError("missing Via header")
                top = h.parse_via(values[0]) if "," not in values[0] else self.vias[0]
            cache["via:top"] = top
        return top

    def _address(self, key: str) -> NameAddr:
        cache = self.headers._cache
        value: NameAddr | None = cache.get(key)
        if value is None:
            # The parser leaves the match of an everyday-shaped From/To to build from.
            match = cache.pop(key + ":match", None)
            if match is not None:
                value = cache[key] = name_addr_from_match(match)
            else:
                value = self._view(key, lambda: _name_addr(_one(self.headers, key)))
        return value

    @property
    def from_(self) -> NameAddr:
        return self._address("from")

    @property
    def to(self) -> NameAddr:
        return self._address("to")

    @property
    def max_forwards(self) -> int | None:
        def parse() -> int | None:
            values = self.headers.get_all("max-forwards")
            if not values:
                return None
            return h.parse_max_forwards(_one(self.headers, "max-forwards"))

        return self._view("max-forwards", parse)

    # --- everything else, parsed when read ---

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact addresses; empty for ``Contact: *`` (see :attr:`contact_star`)."""
        return [c for c in self._contact_list() if isinstance(c, NameAddr)]

    @property
    def contact_star(self) -> bool:
        items = self._contact_list()
        return bool(items) and not isinstance(items[0], NameAddr)

    def _contact_list(self) -> list[NameAddr | ContactStar]:
        def parse() -> list[NameAddr | ContactStar]:
            out: list[NameAddr | ContactStar] = []
            for value in self.headers.get_all("contact"):
                out.extend(parse_contact_list(value))
            # RFC 3261 10.2.2: "*" stands alone.
            if len(out) > 1 and any(not isinstance(c, NameAddr) for c in out):
                raise SipParseError("Contact '*' mixed with other contacts")
            return out

        return self._view("contact", parse)

    def _addresses(self, name: str) -> list[NameAddr]:
        from softphone.sip.addr import parse_name_addr_list

        def parse() -> list[NameAddr]:
            out: list[NameAddr] = []
            for value in self.headers.get_all(name):
                out.extend(parse_name_addr_list(value))
            return out

        return self._view(name, parse)

    @property
    def routes(self) -> list[NameAddr]:
        return self._addresses("route")

    @property
    def record_routes(self) -> list[NameAddr]:
        return self._addresses("record-route")

    @property
    def asserted_identities(self) -> list[NameAddr]:
        """RFC 3325 P-Asserted-Identity (read-only use)."""
        return self._addresses("p-asserted-identity")

    @property
    def refer_to(self) -> NameAddr | None:
        return self._optional("refer-to", _name_addr)

    @property
    def referred_by(self) -> NameAddr | None:
        return self._optional("referred-by", _name_addr)

    def _optional(self, name: str, parse: Callable[[str], T]) -> T | None:
        def view() -> T | None:
            values = self.headers.get_all(name)
            if not values:
                return None
            if len(values) > 1:
                raise SipParseError(f"{canonical_name(name)} appears {len(values)} times")
            return parse(values[0])

        return self._view(name, view)

    def _list(self, name: str, parse: Callable[[str], list[T]]) -> list[T]:
        def view() -> list[T]:
            out: list[T] = []
            for value in self.headers.get_all(name):
                out.extend(parse(value))
            return out

        return self._view(name, view)

    def _tokens(self, name: str) -> list[str]:
        return self._list(name, lambda v: h.parse_token_list(v, canonical_name(name)))

    @property
    def content_type(self) -> h.MediaType | None:
        return self._optional("content-type", h.parse_media_type)

    @property
    def accept(self) -> list[h.MediaType] | None:
        """None when there is no Accept header (RFC 3261 20.1: application/sdp then)."""
        if "accept" not in self.headers:
            return None
        return self._list("accept", h.parse_accept)

    @property
    def expires(self) -> int | None:
        return self._optional("expires", lambda v: h.parse_uint(v, "Expires"))

    @property
    def min_expires(self) -> int | None:
        return self._optional("min-expires", lambda v: h.parse_uint(v, "Min-Expires"))

    @property
    def allow(self) -> list[str]:
        return self._tokens("allow")

    @property
    def supported(self) -> list[str]:
        return self._tokens("supported")

    @property
    def require(self) -> list[str]:
        return self._tokens("require")

    @property
    def proxy_require(self) -> list[str]:
        return self._tokens("proxy-require")

    @property
    def unsupported(self) -> list[str]:
        return self._tokens("unsupported")

    @property
    def allow_events(self) -> list[str]:
        return self._tokens("allow-events")

    @property
    def event(self) -> h.Event | None:
        return self._optional("event", h.parse_event)

    @property
    def subscription_state(self) -> h.SubscriptionState | None:
        return self._optional("subscription-state", h.parse_subscription_state)

    @property
    def call_info(self) -> list[h.CallInfo]:
        return self._list("call-info", h.parse_call_info)

    @property
    def replaces(self) -> h.Replaces | None:
        return self._optional("replaces", h.parse_replaces)

    @property
    def session_expires(self) -> h.SessionExpires | None:
        return self._optional("session-expires", h.parse_session_expires)

    @property
    def retry_after(self) -> int | None:
        return self._optional("retry-after", h.parse_retry_after)

    @property
    def min_se(self) -> int | None:
        """RFC 4028 Min-SE in seconds."""
        return self._optional("min-se", h.parse_min_se)

    @property
    def rseq(self) -> int | None:
        """RFC 3262 RSeq of a reliable provisional response."""
        return self._optional("rseq", h.parse_rseq)

    @property
    def rack(self) -> h.RAck | None:
        """RFC 3262 RAck of a PRACK."""
        return self._optional("rack", h.parse_rack)

    @property
    def authorization(self) -> list[Credentials]:
        return self._credentials("authorization")

    @property
    def proxy_authorization(self) -> list[Credentials]:
        return self._credentials("proxy-authorization")

    def _credentials(self, name: str) -> list[Credentials]:
        from softphone.sip.auth import parse_credentials

        return self._list(name, lambda v: [parse_credentials(v)])

    @property
    def www_authenticate(self) -> list[Challenge]:
        return self._challenges("www-authenticate")

    @property
    def proxy_authenticate(self) -> list[Challenge]:
        return self._challenges("proxy-authenticate")

    def _challenges(self, name: str) -> list[Challenge]:
        from softphone.sip.auth import parse_challenge

        return self._list(name, lambda v: [parse_challenge(v)])


def _name_addr(value: str) -> NameAddr:
    return parse_name_addr(value)


class Request(Message):
    __slots__ = ("method", "uri")

    def __init__(
        self,
        method: str,
        uri: Uri | str,
        headers: Headers | list[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = SIP_VERSION,
    ) -> None:
        if not isinstance(headers, Headers):
            headers = Headers(headers)
        super().__init__(headers, body, version)
        self.method = method
        self.uri: Uri = parse_uri(uri) if isinstance(uri, str) else uri

    @classmethod
    def _trusted(cls, method: str, uri: Uri, headers: Headers, body: bytes, version: str) -> Request:
        self = cls.__new__(cls)
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.version = version
        return self

    def start_line(self) -> str:
        return f"{self.method} {self.uri} {self.version}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return (
            self.method == other.method
            and str(self.uri) == str(other.uri)
            and self.version == other.version
            and self.headers == other.headers
            and self.body == other.body
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"


class Response(Message):
    __slots__ = ("reason", "status_code")

    def __init__(
        self,
        status_code: int,
        reason: str | None = None,
        headers: Headers | list[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = SIP_VERSION,
    ) -> None:
        if not isinstance(headers, Headers):
            headers = Headers(headers)
        super().__init__(headers, body, version)
        self.status_code = status_code
        self.reason = REASON_PHRASES.get(status_code, "") if reason is None else reason

    @classmethod
    def _trusted(cls, status_code: int, reason: str, headers: Headers, body: bytes) -> Response:
        self = cls.__new__(cls)
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.body = body
        self.version = SIP_VERSION
        return self

    def start_line(self) -> str:
        return f"{self.version} {self.status_code} {self.reason}"

    @property
    def is_provisional(self) -> bool:
        return self.status_code < 200

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (
            self.status_code == other.status_code
            and self.reason == other.reason
            and self.version == other.version
            and self.headers == other.headers
            and self.body == other.body
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Response {self.status_code} {self.reason}>"


__all__ = [
    "AbsoluteUri",
    "Headers",
    "Message",
    "Request",
    "Response",
    "SipUri",
    "TelUri",
    "canonical_name",
    "header_key",
]

"""Typed views of SIP header values (RFC 3261 20, RFC 3265/6665, RFC 3891, ...).

Each ``parse_*`` function takes one header field value (already unfolded and
stripped) and returns a small value object, raising :class:`SipParseError`
with the offending text when the value breaks the grammar. Address headers
(From, To, Contact, Route, Refer-To ...) live in :mod:`softphone.sip.addr`;
authentication headers in :mod:`softphone.sip.auth`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from softphone.sip.addr import split_comma_list
from softphone.sip.errors import SipParseError
from softphone.sip.uri import is_valid_host

TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
_TOKEN = rf"[{TOKEN_CHARS}]+"
TOKEN_RE = re.compile(_TOKEN)
_LWS = r"[ \t]*"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
# gen-value of RFC 3261 25.1 (token / host / quoted-string); IPv6 references
# are bracketed, and RFC 5118 4.5 asks us to take received= without brackets too.
_GEN_VALUE = rf"(?:{_QUOTED}|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]+|[{TOKEN_CHARS}]+)"
_PARAM = rf"{_LWS};{_LWS}({_TOKEN})(?:{_LWS}={_LWS}({_GEN_VALUE}))?"
_PARAM_RE = re.compile(_PARAM)
_PARAMS_RE = re.compile(rf"(?:{_PARAM})*")

MAX_CSEQ = 2**32 - 1
MAX_PORT = 65535
# RFC 3261 25.1: delta-seconds, and the other plain numbers of SIP, fit in 32 bits.
MAX_UINT32 = 2**32 - 1


def parse_params(text: str, where: str) -> dict[str, str | None]:
    """Parse ``*( SEMI generic-param )``; names keep their case, values their quotes."""
    if not text:
        return {}
    if _PARAMS_RE.fullmatch(text) is None:
        raise SipParseError(f"malformed parameters in {where}: {clip(text)!r}")
    return {m.group(1): m.group(2) for m in _PARAM_RE.finditer(text)}


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1], flags=re.DOTALL)
    return value


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clip(text: str, limit: int = 200) -> str:
    """Text from the network as quoted in an error: long values cut, so one message can't flood a log."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _param_lookup(params: dict[str, str | None], name: str) -> tuple[bool, str | None]:
    for key, value in params.items():
        if key.lower() == name:
            return True, value
    return False, None


# --- Via (RFC 3261 20.42) -------------------------------------------------

_HOST = r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+"
_VIA_RE = re.compile(
    rf"({_TOKEN}){_LWS}/{_LWS}({_TOKEN}){_LWS}/{_LWS}({_TOKEN})[ \t]+"
    rf"({_HOST})(?:{_LWS}:{_LWS}([0-9]{{1,5}}))?((?:{_PARAM})*){_LWS}"
)


@dataclass(slots=True)
class Via:
    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return _param_lookup(self.params, "branch")[1]

    @property
    def received(self) -> str | None:
        value = _param_lookup(self.params, "received")[1]
        if value is not None and value.startswith("["):
            return value[1:-1]
        return value

    @property
    def rport(self) -> int | bool | None:
        """RFC 3581: True when requested (flag), the port when filled in, None when absent."""
        present, value = _param_lookup(self.params, "rport")
        if not present:
            return None
        if value is None:
            return True
        if not value.isdigit() or not value.isascii():
            raise SipParseError(f"Via rport is not a port: {clip(value)!r}")
        return parse_uint(value, "Via rport", MAX_PORT)

    @property
    def seen_at(self) -> tuple[str, int | None]:
        """Where the next hop saw the request come from: received and a filled-in rport (RFC 3261 18.2.1,
        RFC 3581 4), each falling back to the sent-by."""
        rport = self.rport
        return self.received or self.host, rport if isinstance(rport, int) and rport is not True else self.port

    @property
    def maddr(self) -> str | None:
        return _param_lookup(self.params, "maddr")[1]

    @property
    def ttl(self) -> int | None:
        value = _param_lookup(self.params, "ttl")[1]
        # RFC 3261 25.1: ttl = 1*3DIGIT, 0-255.
        return None if value is None else parse_uint(value, "Via ttl", 255)

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.host, self.port

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        return f"{self.protocol}/{self.transport} {self.host}{port}{format_params(self.params)}"


_FAST_TOKEN = rf"[{TOKEN_CHARS}]+"
# The everyday shape of one Via value (host and port checked when built);
# anything else takes the full grammar.
VIA_FAST_RE = re.compile(
    rf"SIP/2\.0/(UDP|TCP|TLS|SCTP|WS|WSS) ([A-Za-z0-9.\-]+)(?::([0-9]{{1,5}}))?"
    rf"((?:;{_FAST_TOKEN}(?:={_FAST_TOKEN})?)*)"
)


def via_from_match(fast: re.Match[str]) -> Via | None:
    """The Via of a :data:`VIA_FAST_RE` match; None when the host or port is out of range."""
    transport, host, port_text, fast_params = fast.groups()
    if not is_valid_host(host) or (port_text is not None and int(port_text) > 65535):
        return None
    params: dict[str, str | None] = {}
    for item in fast_params.split(";")[1:]:
        name, eq, param_value = item.partition("=")
        params[name] = param_value if eq else None
    return Via(transport, host, None if port_text is None else int(port_text), params)


def parse_via(value: str) -> Via:
    """One via-parm (a Via header may carry several, split by commas first)."""
    fast = VIA_FAST_RE.fullmatch(value)
    if fast is not None:
        via = via_from_match(fast)
        if via is not None:
            return via
    m = _VIA_RE.fullmatch(value)
    if m is None:
        raise SipParseError(f"malformed Via: {clip(value)!r}")
    name, version, transport, host, port, param_text = m.group(1, 2, 3, 4, 5, 6)
    port_number = None
    if port is not None:
        port_number = int(port)
        if port_number > 65535:
            raise SipParseError(f"Via port out of range: {clip(value)!r}")
    return Via(
        transport=transport.upper(),
        host=host,
        port=port_number,
        params={p.group(1): p.group(2) for p in _PARAM_RE.finditer(param_text)} if param_text else {},
        protocol=f"{name}/{version}".upper(),
    )


def parse_via_list(value: str) -> list[Via]:
    return [parse_via(p) for p in split_comma_list(value)]


# --- CSeq, Max-Forwards, integers (RFC 3261 20.16, 20.22) ------------------

_CSEQ_RE = re.compile(rf"([0-9]+)[ \t]+({_TOKEN})")


@dataclass(slots=True, frozen=True)
class CSeq:
    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


# The methods this stack knows (RFC 3261 and its extensions).
KNOWN_METHODS = frozenset(
    {
        "ACK",
        "BYE",
        "CANCEL",
        "INFO",
        "INVITE",
        "MESSAGE",
        "NOTIFY",
        "OPTIONS",
        "PRACK",
        "PUBLISH",
        "REFER",
        "REGISTER",
        "SUBSCRIBE",
        "UPDATE",
    }
)


def parse_cseq(value: str) -> CSeq:
    number, space, method = value.partition(" ")
    if space and method in KNOWN_METHODS and number.isdigit() and number.isascii() and len(number) <= 10:
        seq = int(number)
        if seq <= MAX_CSEQ:
            return CSeq(seq, method)
    m = _CSEQ_RE.fullmatch(value)
    if m is None:
        raise SipParseError(f"malformed CSeq: {clip(value)!r}")
    digits = m.group(1)
    if len(digits) > 10:
        digits = digits.lstrip("0") or "0"
    # RFC 3261 8.1.1.5: the sequence number is a 32-bit unsigned integer.
    if len(digits) > 10 or int(digits) > MAX_CSEQ:
        raise SipParseError(f"CSeq number larger than 2**32-1: {clip(value)!r}")
    return CSeq(int(digits), m.group(2))


def parse_uint(value: str, name: str, maximum: int = MAX_UINT32, minimum: int = 0) -> int:
    """A decimal number of ASCII digits from ``minimum`` to ``maximum``, else SipParseError (400)."""
    if not value.isdigit() or not value.isascii():
        raise SipParseError(f"{name} is not a number: {clip(value)!r}")
    if len(value) > 10:
        # int() refuses more than 4300 digits with a ValueError (CVE-2020-10735): strip, then bound.
        value = value.lstrip("0") or "0"
        if len(value) > len(str(maximum)):
            raise SipParseError(f"{name} out of range ({minimum}-{maximum}): {clip(value)!r}")
    number = int(value)
    if minimum <= number <= maximum:
        return number
    raise SipParseError(f"{name} out of range ({minimum}-{maximum}): {clip(value)!r}")


def parse_max_forwards(value: str) -> int:
    # RFC 3261 20.22: an integer in the range 0-255.
    if len(value) <= 3 and value.isdigit() and value.isascii():
        number = int(value)
        if number <= 255:
            return number
    return parse_uint(value, "Max-Forwards", 255)


_CALL_ID_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+)?")


def check_call_id(value: str) -> str:
    if _CALL_ID_RE.fullmatch(value) is None:
        raise SipParseError(f"malformed Call-ID: {clip(value)!r}")
    return value


# --- token lists: Allow, Supported, Require, Unsupported (RFC 3261 20.5 ...) -


def parse_token_list(value: str, name: str) -> list[str]:
    if not value.strip():
        return []
    items = [item.strip() for item in value.split(",")]
    for item in items:
        if TOKEN_RE.fullmatch(item) is None:
            raise SipParseError(f"malformed {name} token list: {clip(value)!r}")
    return items


# --- Content-Type / Accept (RFC 3261 20.15, 20.1) --------------------------

_MEDIA_TYPE_RE = re.compile(rf"({_TOKEN}){_LWS}/{_LWS}({_TOKEN})((?:{_PARAM})*){_LWS}")


@dataclass(slots=True)
class MediaType:
    type: str
    subtype: str
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def mime(self) -> str:
        return f"{self.type}/{self.subtype}".lower()

    def param(self, name: str) -> str | None:
        value = _param_lookup(self.params, name.lower())[1]
        return None if value is None else unquote(value)

    def __str__(self) -> str:
        return f"{self.type}/{self.subtype}{format_params(self.params)}"


def parse_media_type(value: str) -> MediaType:
    m = _MEDIA_TYPE_RE.fullmatch(value)
    if m is None:
        raise SipParseError(f"malformed media type: {clip(value)!r}")
    params = parse_params(m.group(3), "media type")
    return MediaType(m.group(1), m.group(2), params)


def parse_accept(value: str) -> list[MediaType]:
    if not value.strip():
        return []
    out = []
    for item in split_comma_list(value):
        # RFC 3261 20.1: "*/*" and "type/*" ranges are tokens in this grammar.
        out.append(parse_media_type(item))
    return out


# --- Event, Subscription-State (RFC 6665 8.2.1, 8.2.3) ----------------------

_EVENT_RE = re.compile(rf"({_TOKEN})((?:{_PARAM})*){_LWS}")


@dataclass(slots=True)
class Event:
    package: str
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def id(self) -> str | None:
        return _param_lookup(self.params, "id")[1]

    def __str__(self) -> str:
        return f"{self.package}{format_params(self.params)}"


def parse_event(value: str) -> Event:
    m = _EVENT_RE.fullmatch(value)
    if m is None:
        raise SipParseError(f"malformed Event: {clip(value)!r}")
    return Event(m.group(1), parse_params(m.group(2), "Event"))


@dataclass(slots=True)
class SubscriptionState:
    state: str
    params: dict[str, str | None] = field(default_factory=dict)

    def _int(self, name: str) -> int | None:
        value = _param_lookup(self.params, name)[1]
        return None if value is None else parse_uint(value, f"Subscription-State {name}")

    @property
    def expires(self) -> int | None:
        return self._int("expires")

    @property
    def retry_after(self) -> int | None:
        return self._int("retry-after")

    @property
    def reason(self) -> str | None:
        return _param_lookup(self.params, "reason")[1]

    def __str__(self) -> str:
        return f"{self.state}{format_params(self.params)}"


def parse_subscription_state(value: str) -> SubscriptionState:
    m = _EVENT_RE.fullmatch(value)
    if m is None:
        raise SipParseError(f"malformed Subscription-State: {clip(value)!r}")
    return SubscriptionState(m.group(1).lower(), parse_params(m.group(2), "Subscription-State"))


# --- Call-Info (RFC 3261 20.9), Replaces (RFC 3891 6.1) ---------------------

_INFO_RE = re.compile(rf"{_LWS}<([^<>\s]+)>((?:{_PARAM})*){_LWS}")


@dataclass(slots=True)
class CallInfo:
    uri: str
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def purpose(self) -> str | None:
        value = _param_lookup(self.params, "purpose")[1]
        return None if value is None else value.lower()

    def __str__(self) -> str:
        return f"<{self.uri}>{format_params(self.params)}"


def parse_call_info(value: str) -> list[CallInfo]:
    out = []
    for item in split_comma_list(value):
        m = _INFO_RE.fullmatch(item)
        if m is None:
            raise SipParseError(f"malformed Call-Info: {clip(item)!r}")
        out.append(CallInfo(m.group(1), parse_params(m.group(2), "Call-Info")))
    return out


_REPLACES_RE = re.compile(rf"({_CALL_ID_RE.pattern})((?:{_PARAM})*){_LWS}")


@dataclass(slots=True)
class Replaces:
    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False

    def __str__(self) -> str:
        early = ";early-only" if self.early_only else ""
        return f"{self.call_id};to-tag={self.to_tag};from-tag={self.from_tag}{early}"


def parse_replaces(value: str) -> Replaces:
    m = _REPLACES_RE.fullmatch(value)
    if m is None:
        raise SipParseError(f"malformed Replaces: {clip(value)!r}")
    params = {k.lower(): v for k, v in parse_params(m.group(2), "Replaces").items()}
    to_tag, from_tag = params.get("to-tag"), params.get("from-tag")
    # RFC 3891 6.1: to-tag and from-tag are mandatory.
    if not to_tag or not from_tag:
        raise SipParseError(f"Replaces without to-tag and from-tag: {clip(value)!r}")
    return Replaces(m.group(1), to_tag, from_tag, "early-only" in params)


# --- Session-Expires (RFC 4028 4), Retry-After (RFC 3261 20.33) -------------


@dataclass(slots=True)
class SessionExpires:
    delta: int
    refresher: str | None = None

    def __str__(self) -> str:
        return f"{self.delta}" + (f";refresher={self.refresher}" if self.refresher else "")


def parse_session_expires(value: str) -> SessionExpires:
    m = _EVENT_RE.fullmatch(value)
    if m is None:
        raise SipParseError(f"malformed Session-Expires: {clip(value)!r}")
    params = parse_params(m.group(2), "Session-Expires")
    refresher = _param_lookup(params, "refresher")[1]
    return SessionExpires(parse_uint(m.group(1), "Session-Expires"), refresher)


def parse_min_se(value: str) -> int:
    """RFC 4028 5: Min-SE = delta-seconds *(SEMI generic-param)."""
    m = _EVENT_RE.fullmatch(value)
    if m is None:
        raise SipParseError(f"malformed Min-SE: {clip(value)!r}")
    parse_params(m.group(2), "Min-SE")
    return parse_uint(m.group(1), "Min-SE")


# --- RSeq, RAck (RFC 3262 7.1, 7.2) ------------------------------------------


def parse_rseq(value: str) -> int:
    # RFC 3262 3: response numbers start between 1 and 2**31-1 and never wrap.
    return parse_uint(value, "RSeq", MAX_UINT32, 1)


_RACK_RE = re.compile(rf"([0-9]+)[ \t]+([0-9]+)[ \t]+({_TOKEN})")


@dataclass(slots=True, frozen=True)
class RAck:
    rseq: int
    cseq: int
    method: str

    def __str__(self) -> str:
        return f"{self.rseq} {self.cseq} {self.method}"


def parse_rack(value: str) -> RAck:
    m = _RACK_RE.fullmatch(value)
    if m is None:
        raise SipParseError(f"malformed RAck: {clip(value)!r}")
    return RAck(
        parse_uint(m.group(1), "RAck response-num", MAX_UINT32, 1), parse_uint(m.group(2), "RAck CSeq"), m.group(3)
    )


_RETRY_RE = re.compile(rf"([0-9]+)(?:{_LWS}\([^()]*\))?((?:{_PARAM})*){_LWS}")


def parse_retry_after(value: str) -> int:
    m = _RETRY_RE.fullmatch(value)
    if m is None:
        raise SipParseError(f"malformed Retry-After: {clip(value)!r}")
    return parse_uint(m.group(1), "Retry-After")

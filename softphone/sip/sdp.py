"""SDP, the Session Description Protocol (RFC 8866): parse and serialize.

:func:`parse_sdp` turns a body into a :class:`SessionDescription`;
:meth:`SessionDescription.to_bytes` and ``str(sd)`` give its canonical form:
CRLF line ends, fields in the order of RFC 8866 5, single spaces between
sub-fields. For every description the parser accepts,
``parse_sdp(sd.to_bytes()) == sd``.

The parser is liberal in what it takes (bare LF line ends, blank lines, runs
of blanks between sub-fields, session-level fields after ``o=``/``s=`` in any
order, bracketed IPv6 addresses) and strict about what would be misread
(unknown type letters, session-only fields inside a media description,
repeated single-occurrence fields, bad numbers, ports and addresses).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from softphone.sip.errors import SipParseError

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
DIRECTIONS: tuple[Direction, ...] = ("sendrecv", "sendonly", "recvonly", "inactive")

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
_PROTO_RE = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+(?:/[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+)*")
_DIGITS_RE = re.compile(r"[0-9]{1,64}")
_FQDN_RE = re.compile(r"[A-Za-z0-9\-.]+")
_NON_WS_RE = re.compile(r"[^\x00-\x20\x7f\s]+")
_TYPED_TIME_RE = re.compile(r"[0-9]{1,64}[dhms]?")
_BLANKS_RE = re.compile(r"[ \t]+")
_PTIME_RE = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?")

_SESSION_ONLY = frozenset("vosuepzrt")
_KNOWN_TYPES = frozenset("vosiuepcbtrzkam")

MAX_PORT = 65535


class RtpMap(NamedTuple):
    """``a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`` (RFC 8866 6.6)."""

    encoding: str
    clock_rate: int
    channels: int = 1

    def __str__(self) -> str:
        if self.channels != 1:
            return f"{self.encoding}/{self.clock_rate}/{self.channels}"
        return f"{self.encoding}/{self.clock_rate}"


# RFC 3551 6: the static payload types, usable without a=rtpmap.
STATIC_PAYLOAD_TYPES: dict[int, RtpMap] = {
    0: RtpMap("PCMU", 8000),
    3: RtpMap("GSM", 8000),
    4: RtpMap("G723", 8000),
    5: RtpMap("DVI4", 8000),
    6: RtpMap("DVI4", 16000),
    7: RtpMap("LPC", 8000),
    8: RtpMap("PCMA", 8000),
    9: RtpMap("G722", 8000),
    10: RtpMap("L16", 44100, 2),
    11: RtpMap("L16", 44100),
    12: RtpMap("QCELP", 8000),
    13: RtpMap("CN", 8000),
    14: RtpMap("MPA", 90000),
    15: RtpMap("G728", 8000),
    16: RtpMap("DVI4", 11025),
    17: RtpMap("DVI4", 22050),
    18: RtpMap("G729", 8000),
    25: RtpMap("CelB", 90000),
    26: RtpMap("JPEG", 90000),
    28: RtpMap("nv", 90000),
    31: RtpMap("H261", 90000),
    32: RtpMap("MPV", 90000),
    33: RtpMap("MP2T", 90000),
    34: RtpMap("H263", 90000),
}


class Bandwidth(NamedTuple):
    """``b=<bwtype>:<bandwidth>`` (RFC 8866 5.8); bandwidth in kbit/s for CT and AS."""

    bwtype: str
    bandwidth: int


@dataclass
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``."""

    username: str
    sess_id: int
    sess_version: int
    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return f"{self.username} {self.sess_id} {self.sess_version} {self.nettype} {self.addrtype} {self.address}"


@dataclass
class Connection:
    """``c=<nettype> <addrtype> <connection-address>`` (RFC 8866 5.7).

    ``ttl`` is only used by IP4 multicast; ``count`` is the number of
    addresses of a multicast group (``/<ttl>/<count>`` for IP4, ``/<count>``
    for IP6).
    """

    nettype: str
    addrtype: str
    address: str
    ttl: int | None = None
    count: int | None = None

    def __str__(self) -> str:
        text = f"{self.nettype} {self.addrtype} {self.address}"
        if self.ttl is not None:
            text += f"/{self.ttl}"
        if self.count is not None:
            text += f"/{self.count}"
        return text

    @property
    def is_ip6(self) -> bool:
        return self.addrtype.upper() == "IP6"

    @property
    def is_multicast(self) -> bool:
        """True for a group address (224.0.0.0/4, ff00::/8): a multicast session (RFC 8866 5.7)."""
        try:
            return ipaddress.ip_address(self.address).is_multicast
        except ValueError:
            return False

    @property
    def is_unspecified(self) -> bool:
        """True for 0.0.0.0 (or ::), the RFC 2543 way of saying "send nothing here"."""
        try:
            return ipaddress.ip_address(self.address).is_unspecified
        except ValueError:
            return False


@dataclass
class TimeDescription:
    """``t=<start-time> <stop-time>`` and its ``r=`` lines (kept as written)."""

    start: int = 0
    stop: int = 0
    repeats: list[str] = field(default_factory=list)


@dataclass
class Attribute:
    """``a=<attribute-name>[:<attribute-value>]``; ``value`` is None for a flag."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass
class Rtcp:
    """``a=rtcp:<port> [<nettype> <addrtype> <connection-address>]`` (RFC 3605)."""

    port: int
    connection: Connection | None = None


def parse_fmtp_params(text: str) -> dict[str, str] | str:
    """``k=v;k=v`` format parameters as a dict, anything else (e.g. ``0-16``) as the raw string."""
    params: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            return text.strip()
        params[key.strip()] = value.strip()
    return params


def format_fmtp_params(params: dict[str, str] | str) -> str:
    if isinstance(params, str):
        return params
    return ";".join(f"{key}={value}" for key, value in params.items())


class _Attributes:
    attributes: list[Attribute]

    def get_attribute(self, name: str) -> Attribute | None:
        """The first attribute called ``name`` (names are case-sensitive)."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None

    def get_attributes(self, name: str) -> list[Attribute]:
        return [attribute for attribute in self.attributes if attribute.name == name]

    def has_attribute(self, name: str) -> bool:
        return self.get_attribute(name) is not None

    def _explicit_direction(self) -> Direction | None:
        found: Direction | None = None
        for attribute in self.attributes:
            if attribute.name in DIRECTIONS:
                found = attribute.name
        return found

    def set_direction(self, direction: Direction) -> None:
        """Replace every direction attribute with ``a=<direction>``."""
        if direction not in DIRECTIONS:
            raise ValueError(f"not an SDP direction: {direction!r}")
        kept: list[Attribute] = []
        placed = False
        for attribute in self.attributes:
            if attribute.name in DIRECTIONS:
                if not placed:
                    kept.append(Attribute(direction))
                    placed = True
            else:
                kept.append(attribute)
        if not placed:
            kept.append(Attribute(direction))
        self.attributes = kept


@dataclass
class MediaDescription(_Attributes):
    """One ``m=`` section (RFC 8866 5.14) with its i=, c=, b=, k= and a= lines."""

    media: str
    port: int
    port_count: int | None
    proto: str
    formats: list[str]
    information: str | None = None
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)

    @property
    def is_rtp(self) -> bool:
        return "RTP/" in self.proto.upper()

    @property
    def rtpmap(self) -> dict[int, RtpMap]:
        """Payload type -> explicit ``a=rtpmap`` (malformed lines are skipped)."""
        result: dict[int, RtpMap] = {}
        for attribute in self.get_attributes("rtpmap"):
            parsed = _parse_rtpmap(attribute.value or "")
            if parsed is not None and parsed[0] not in result:
                result[parsed[0]] = parsed[1]
        return result

    def rtpmap_for(self, payload_type: int) -> RtpMap | None:
        """The explicit rtpmap of ``payload_type``, else its RFC 3551 static assignment."""
        explicit = self.rtpmap.get(payload_type)
        if explicit is not None:
            return explicit
        return STATIC_PAYLOAD_TYPES.get(payload_type)

    @property
    def payload_types(self) -> list[int]:
        """The formats that are RTP payload type numbers, in m= order."""
        return [int(fmt) for fmt in self.formats if _DIGITS_RE.fullmatch(fmt) and int(fmt) <= 127]

    @property
    def fmtp(self) -> dict[int, dict[str, str] | str]:
        """Payload type -> ``a=fmtp`` parameters (dict for ``k=v;...``, else the raw string)."""
        result: dict[int, dict[str, str] | str] = {}
        for attribute in self.get_attributes("fmtp"):
            fmt, _, params = (attribute.value or "").strip().partition(" ")
            if _DIGITS_RE.fullmatch(fmt) and int(fmt) not in result:
                result[int(fmt)] = parse_fmtp_params(params)
        return result

    @property
    def ptime(self) -> int | None:
        """``a=ptime`` in milliseconds (RFC 8866 6.4), rounded; None when absent or unreadable."""
        return self._milliseconds("ptime")

    @property
    def maxptime(self) -> int | None:
        return self._milliseconds("maxptime")

    def _milliseconds(self, name: str) -> int | None:
        attribute = self.get_attribute(name)
        if attribute is None or attribute.value is None:
            return None
        text = attribute.value.strip()
        if _PTIME_RE.fullmatch(text) is None:
            return None
        value = round(float(text))
        return value if value > 0 else None

    def direction(self, session: SessionDescription | None = None) -> Direction:
        """The media-level direction, else the session-level one, else sendrecv (RFC 8866 6.7)."""
        explicit = self._explicit_direction()
        if explicit is not None:
            return explicit
        if session is not None:
            return session.direction
        return "sendrecv"

    @property
    def rtcp_mux(self) -> bool:
        return self.has_attribute("rtcp-mux")

    @property
    def rtcp(self) -> Rtcp | None:
        attribute = self.get_attribute("rtcp")
        if attribute is None or attribute.value is None:
            return None
        parts = _BLANKS_RE.split(attribute.value.strip())
        port = _small_int(parts[0], MAX_PORT)
        if port is None:
            return None
        if len(parts) == 1:
            return Rtcp(port)
        if len(parts) != 4:
            return None
        try:
            connection = _parse_connection(" ".join(parts[1:]), 0, "")
        except SipParseError:
            return None
        return Rtcp(port, connection)

    def to_lines(self) -> list[str]:
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        lines = [" ".join(["m=" + self.media, port, self.proto, *self.formats])]
        if self.information is not None:
            lines.append(f"i={self.information}")
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines.extend(f"b={b.bwtype}:{b.bandwidth}" for b in self.bandwidths)
        if self.key is not None:
            lines.append(f"k={self.key}")
        lines.extend(f"a={attribute}" for attribute in self.attributes)
        return lines


@dataclass(kw_only=True)
class SessionDescription(_Attributes):
    """A whole SDP body (RFC 8866 5)."""

    version: int = 0
    origin: Origin
    session_name: str = "-"
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    times: list[TimeDescription] = field(default_factory=lambda: [TimeDescription()])
    timezone: str | None = None
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    @property
    def direction(self) -> Direction:
        """The session-level direction attribute, sendrecv when there is none."""
        return self._explicit_direction() or "sendrecv"

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """The c= that applies to ``media``: its own, else the session-level one."""
        return media.connection if media.connection is not None else self.connection

    def to_lines(self) -> list[str]:
        lines = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        if self.information is not None:
            lines.append(f"i={self.information}")
        if self.uri is not None:
            lines.append(f"u={self.uri}")
        lines.extend(f"e={email}" for email in self.emails)
        lines.extend(f"p={phone}" for phone in self.phones)
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines.extend(f"b={b.bwtype}:{b.bandwidth}" for b in self.bandwidths)
        for timing in self.times:
            lines.append(f"t={timing.start} {timing.stop}")
            lines.extend(f"r={repeat}" for repeat in timing.repeats)
        if self.timezone is not None:
            lines.append(f"z={self.timezone}")
        if self.key is not None:
            lines.append(f"k={self.key}")
        lines.extend(f"a={attribute}" for attribute in self.attributes)
        for media in self.media:
            lines.extend(media.to_lines())
        return lines

    def __str__(self) -> str:
        return "".join(line + "\r\n" for line in self.to_lines())

    def to_bytes(self) -> bytes:
        return str(self).encode("utf-8")


def _small_int(text: str, maximum: int) -> int | None:
    if _DIGITS_RE.fullmatch(text) is None:
        return None
    value = int(text)
    return value if value <= maximum else None


def _parse_rtpmap(value: str) -> tuple[int, RtpMap] | None:
    fmt, _, mapping = value.strip().partition(" ")
    payload_type = _small_int(fmt, 127)
    parts = mapping.strip().split("/")
    if payload_type is None or len(parts) not in (2, 3) or not parts[0]:
        return None
    clock_rate = _small_int(parts[1], 2**32)
    channels = _small_int(parts[2], 255) if len(parts) == 3 else 1
    if not clock_rate or not channels:
        return None
    return payload_type, RtpMap(parts[0], clock_rate, channels)


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


class _Line:
    """One ``<type>=<value>`` line and where it was, for error messages."""

    def __init__(self, number: int, text: str) -> None:
        self.number = number
        self.text = text
        self.type = text[0]
        self.value = text[2:]

    def error(self, what: str) -> SipParseError:
        return SipParseError(f"SDP line {self.number}: {what}: {_clip(self.text)!r}")


def _number(text: str, what: str, line: _Line, maximum: int | None = None, minimum: int = 0) -> int:
    if _DIGITS_RE.fullmatch(text) is None:
        if re.fullmatch(r"[0-9]+", text):
            raise line.error(f"{what} has more than 64 digits")
        raise line.error(f"{what} {_clip(text)!r} is not a number")
    value = int(text)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"{minimum}-{maximum}" if maximum is not None else f">= {minimum}"
        raise line.error(f"{what} {value} is out of range {bound}")
    return value


def _fields(line: _Line) -> list[str]:
    text = line.value.strip(" \t")
    return _BLANKS_RE.split(text) if text else []


def _token(text: str, what: str, line: _Line) -> str:
    if _TOKEN_RE.fullmatch(text) is None:
        raise line.error(f"{what} {_clip(text)!r} is not a token")
    return text


def _check_address(address: str, addrtype: str, what: str, line: _Line) -> str:
    """Validate an IN address of type IP4 or IP6 (a literal or a domain name); return it unbracketed."""
    kind = addrtype.upper()
    if kind == "IP6" and address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    if not address:
        raise line.error(f"{what} is empty")
    if kind == "IP4":
        if re.fullmatch(r"[0-9.]+", address):
            try:
                ipaddress.IPv4Address(address)
            except ValueError:
                raise line.error(f"{what} {_clip(address)!r} is not an IPv4 address") from None
        elif _FQDN_RE.fullmatch(address) is None:
            raise line.error(f"{what} {_clip(address)!r} is neither an IPv4 address nor a domain name")
    elif kind == "IP6":
        if ":" in address:
            try:
                ipaddress.IPv6Address(address)
            except ValueError:
                raise line.error(f"{what} {_clip(address)!r} is not an IPv6 address") from None
        elif _FQDN_RE.fullmatch(address) is None or re.fullmatch(r"[0-9.]+", address):
            raise line.error(f"{what} {_clip(address)!r} is neither an IPv6 address nor a domain name")
    return address


def _is_ip_family(nettype: str, addrtype: str) -> bool:
    return nettype.upper() == "IN" and addrtype.upper() in ("IP4", "IP6")


def _parse_origin(line: _Line) -> Origin:
    parts = _fields(line)
    if len(parts) < 6:
        raise line.error("o= needs <username> <sess-id> <sess-version> <nettype> <addrtype> <address>")
    # Some agents put blanks in the user name; everything before the last five sub-fields is it.
    username = " ".join(parts[:-5])
    sess_id_text, sess_version_text, nettype, addrtype, address = parts[-5:]
    sess_id = _number(sess_id_text, "sess-id", line)
    sess_version = _number(sess_version_text, "sess-version", line)
    _token(nettype, "nettype", line)
    _token(addrtype, "addrtype", line)
    if _is_ip_family(nettype, addrtype):
        address = _check_address(address, addrtype, "o= address", line)
    return Origin(username, sess_id, sess_version, nettype, addrtype, address)


def _parse_connection(text: str, number: int, raw: str) -> Connection:
    line = _Line(number, raw if raw else "c=" + text)
    parts = _BLANKS_RE.split(text.strip(" \t")) if text.strip(" \t") else []
    if len(parts) != 3:
        raise line.error("c= needs <nettype> <addrtype> <connection-address>")
    nettype, addrtype, address = parts
    _token(nettype, "nettype", line)
    _token(addrtype, "addrtype", line)
    if not _is_ip_family(nettype, addrtype):
        if _NON_WS_RE.fullmatch(address) is None:
            raise line.error("bad connection address")
        return Connection(nettype, addrtype, address)
    ttl: int | None = None
    count: int | None = None
    host, *suffix = address.split("/")
    if addrtype.upper() == "IP4":
        if len(suffix) > 2:
            raise line.error("IP4 connection address takes at most /<ttl>/<count>")
        if suffix:
            ttl = _number(suffix[0], "multicast TTL", line, 255)
        if len(suffix) == 2:
            count = _number(suffix[1], "number of addresses", line, None, 1)
    else:
        if len(suffix) > 1:
            raise line.error("IP6 connection address takes at most /<count>")
        if suffix:
            count = _number(suffix[0], "number of addresses", line, None, 1)
    host = _check_address(host, addrtype, "connection address", line)
    return Connection(nettype, addrtype, host, ttl, count)


def _parse_media(line: _Line) -> MediaDescription:
    parts = _fields(line)
    if len(parts) < 3:
        raise line.error("m= needs <media> <port> <proto> <fmt> ...")
    media, port_text, proto, *formats = parts
    _token(media, "media type", line)
    port_part, slash, count_part = port_text.partition("/")
    port = _number(port_part, "port", line, MAX_PORT)
    port_count = _number(count_part, "number of ports", line, None, 1) if slash else None
    if _PROTO_RE.fullmatch(proto) is None:
        raise line.error(f"transport protocol {_clip(proto)!r} is malformed")
    description = MediaDescription(media, port, port_count, proto, formats)
    for fmt in formats:
        _token(fmt, "media format", line)
        if description.is_rtp:
            _number(fmt, "RTP payload type", line, 127)
    return description


def _parse_bandwidth(line: _Line) -> Bandwidth:
    bwtype, colon, value = line.value.strip(" \t").partition(":")
    if not colon:
        raise line.error("b= needs <bwtype>:<bandwidth>")
    return Bandwidth(_token(bwtype, "bwtype", line), _number(value, "bandwidth", line))


def _parse_timing(line: _Line) -> TimeDescription:
    parts = _fields(line)
    if len(parts) != 2:
        raise line.error("t= needs <start-time> <stop-time>")
    return TimeDescription(_number(parts[0], "start-time", line), _number(parts[1], "stop-time", line))


def _check_repeat(line: _Line) -> str:
    parts = _fields(line)
    if len(parts) < 3 or any(_TYPED_TIME_RE.fullmatch(part) is None for part in parts):
        raise line.error("r= needs <repeat interval> <active duration> <offsets>")
    return line.value


def _parse_attribute(line: _Line) -> Attribute:
    name, colon, value = line.value.partition(":")
    if not colon:
        name = name.strip(" \t")
    if _TOKEN_RE.fullmatch(name) is None:
        raise line.error("attribute name is not a token")
    return Attribute(name, value if colon else None)


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise SipParseError(
                f"SDP text has a character that is not encodable as UTF-8 at index {exc.start}"
            ) from None
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        number = data.count(b"\n", 0, exc.start) + 1
        raise SipParseError(f"SDP line {number}: not valid UTF-8 at byte {exc.start}") from None


def _lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    # RFC 8866 5: CRLF ends a line, but a parser should also take a bare LF.
    for number, raw in enumerate(text.split("\n"), start=1):
        if raw.endswith("\r"):
            raw = raw[:-1]
        if not raw:
            continue
        if "\r" in raw or "\x00" in raw:
            raise SipParseError(f"SDP line {number}: stray CR or NUL: {_clip(raw)!r}")
        if len(raw) < 2 or raw[1] != "=" or not ("a" <= raw[0] <= "z"):
            raise SipParseError(f"SDP line {number}: not a <type>=<value> line: {_clip(raw)!r}")
        if raw[0] not in _KNOWN_TYPES:
            # RFC 8866 5: a description with a type letter we do not understand is rejected.
            raise SipParseError(f"SDP line {number}: unknown type letter {raw[0]!r}: {_clip(raw)!r}")
        lines.append(_Line(number, raw))
    return lines


class _SessionBuilder:
    def __init__(self) -> None:
        self.origin: Origin | None = None
        self.session_name: str | None = None
        self.values: dict[str, str] = {}
        self.emails: list[str] = []
        self.phones: list[str] = []
        self.connection: Connection | None = None
        self.bandwidths: list[Bandwidth] = []
        self.times: list[TimeDescription] = []
        self.attributes: list[Attribute] = []
        self.media: list[MediaDescription] = []
        self.seen: set[str] = set()
        self.previous = "v"

    def session_line(self, line: _Line) -> None:
        kind = line.type
        if kind == "v":
            raise line.error("repeated v= line")
        if self.origin is None and kind != "o":
            raise line.error("o= must follow v=")
        if kind in "osiuczk" and kind in self.seen:
            raise line.error(f"repeated {kind}= line")
        self.seen.add(kind)
        if kind == "o":
            self.origin = _parse_origin(line)
        elif kind == "s":
            if self.previous != "o":
                raise line.error("s= must follow o=")
            self.session_name = line.value
        elif kind in "iuzk":
            self.values[kind] = line.value
        elif kind == "e":
            self.emails.append(line.value)
        elif kind == "p":
            self.phones.append(line.value)
        elif kind == "c":
            self.connection = _parse_connection(line.value, line.number, line.text)
        elif kind == "b":
            self.bandwidths.append(_parse_bandwidth(line))
        elif kind == "t":
            self.times.append(_parse_timing(line))
        elif kind == "r":
            if self.previous not in "tr":
                raise line.error("r= must follow t= or r=")
            self.times[-1].repeats.append(_check_repeat(line))
        elif kind == "a":
            self.attributes.append(_parse_attribute(line))
        self.previous = kind

    def media_line(self, line: _Line, media: MediaDescription, seen: set[str]) -> None:
        kind = line.type
        if kind in _SESSION_ONLY:
            raise line.error(f"{kind}= is not allowed in a media description")
        if kind in "ick" and kind in seen:
            raise line.error(f"repeated {kind}= line in a media description")
        seen.add(kind)
        if kind == "i":
            media.information = line.value
        elif kind == "c":
            media.connection = _parse_connection(line.value, line.number, line.text)
        elif kind == "b":
            media.bandwidths.append(_parse_bandwidth(line))
        elif kind == "k":
            media.key = line.value
        elif kind == "a":
            media.attributes.append(_parse_attribute(line))


def parse_sdp(data: bytes | str) -> SessionDescription:
    """Parse an SDP body; raise :class:`SipParseError` (400) naming the line for anything malformed."""
    lines = _lines(_decode(data))
    if not lines:
        raise SipParseError("SDP is empty")
    first = lines[0]
    if first.type != "v":
        raise first.error("SDP must start with v=")
    if first.value.strip(" \t") != "0":
        raise first.error("unsupported SDP version")
    builder = _SessionBuilder()
    media: MediaDescription | None = None
    media_seen: set[str] = set()
    for line in lines[1:]:
        if line.type == "m":
            if builder.origin is None:
                raise line.error("m= before o=")
            media = _parse_media(line)
            media_seen = set()
            builder.media.append(media)
        elif media is None:
            builder.session_line(line)
        else:
            builder.media_line(line, media, media_seen)
    if builder.origin is None:
        raise SipParseError("SDP has no o= line")
    if builder.session_name is None:
        raise SipParseError("SDP has no s= line")
    return SessionDescription(
        origin=builder.origin,
        session_name=builder.session_name,
        information=builder.values.get("i"),
        uri=builder.values.get("u"),
        emails=builder.emails,
        phones=builder.phones,
        connection=builder.connection,
        bandwidths=builder.bandwidths,
        times=builder.times,
        timezone=builder.values.get("z"),
        key=builder.values.get("k"),
        attributes=builder.attributes,
        media=builder.media,
    )

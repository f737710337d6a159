"""SIP, SIPS, tel and other URIs (RFC 3261 19.1 and 25.1, RFC 3966, RFC 5118).

:func:`parse_uri` turns the text of one URI into a :class:`SipUri` (``sip:``
and ``sips:``), a :class:`TelUri` (``tel:``) or an :class:`AbsoluteUri` (any
other scheme, kept so that a UA can answer 416). The parse is strict: no
whitespace, no ``<>``, bracketed IPv6 only. Fields keep the text as written
(escapes included; the one rewrite is RFC 5118 4.10's ``[2001:db8:::192.0.2.1]``,
kept as ``[2001:db8::192.0.2.1]``) so that ``parse_uri(str(u))`` gives back the
same fields. Comparisons follow RFC 3261 19.1.4 and RFC 3966 4; where 19.1.4
equates an escape with its character, only characters outside RFC 2396's
reserved set count (``%75`` is ``u``, but ``%3B`` is not ``;``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from softphone.sip.errors import SipParseError

__all__ = ["AbsoluteUri", "SipUri", "TelUri", "Uri", "parse_uri", "unescape"]

_MAX_QUOTE = 200

_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
_HEX = r"[0-9A-Fa-f]"
_ESC = rf"%{_HEX}{_HEX}"


def _chars(extra: str, *, empty: bool = False) -> str:
    """``1*( unreserved / extra / escaped )`` without nested backtracking."""
    return rf"(?:[{_UNRESERVED}{extra}]++|{_ESC})" + ("*" if empty else "+")


_USER = _chars(r"&=+$,;?/")
_PASSWORD = _chars(r"&=+$,", empty=True)
_PARAMCHARS = _chars(r"\[\]/:&+$")
_HNAME = _chars(r"\[\]/?:+$")
_HVALUE = _chars(r"\[\]/?:+$", empty=True)
_LABEL = r"(?>[A-Za-z0-9][A-Za-z0-9\-]*+)(?<=[A-Za-z0-9])"
_TOPLABEL = r"(?>[A-Za-z][A-Za-z0-9\-]*+)(?<=[A-Za-z0-9])"
_HOSTNAME = rf"(?:{_LABEL}\.)*{_TOPLABEL}\.?"
_OCTET = r"(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])"
_IPV4 = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
_IPV6_REF = r"\[[0-9A-Fa-f:.]+\]"
_HOST = rf"(?:{_IPV6_REF}|{_IPV4}|{_HOSTNAME})"
_URI_PARAM = rf";{_PARAMCHARS}(?:={_PARAMCHARS})?"
_HEADER = rf"{_HNAME}={_HVALUE}"

_SIP_RE = re.compile(
    rf"(?P<scheme>[Ss][Ii][Pp][Ss]?):"
    rf"(?:(?P<user>{_USER})(?::(?P<password>{_PASSWORD}))?@)?"
    rf"(?P<host>{_HOST})"
    r"(?::(?P<port>[0-9]+))?"
    rf"(?P<params>(?:{_URI_PARAM})*+)"
    rf"(?:\?(?P<headers>{_HEADER}(?:&{_HEADER})*+))?"
)
_URI_PARAM_RE = re.compile(rf";({_PARAMCHARS})(?:=({_PARAMCHARS}))?")

# The everyday shape of a SIP URI, a strict subset of the grammar above (no
# escapes, password, IPv6 or headers), built without the general machinery.
_EVERYDAY_CHARS = r"[A-Za-z0-9\-_.!~*'()]"
# Host and port are only shaped here; everyday_sip_uri checks them in full.
EVERYDAY_SIP_URI = (
    r"(sips?):(?:([A-Za-z0-9\-_.!~*'()&=+$,;?/]+)@)?([A-Za-z0-9.\-]+)(?::([0-9]{1,5}))?"
    rf"((?:;{_EVERYDAY_CHARS}+(?:={_EVERYDAY_CHARS}+)?)*)"
)
_EVERYDAY_SIP_RE = re.compile(EVERYDAY_SIP_URI)


def split_params(text: str) -> dict[str, str | None] | None:
    """``;a;b=c`` (no quoting, no escapes) as a dict; None when a name repeats (RFC 3261 19.1.1)."""
    params: dict[str, str | None] = {}
    for item in text[1:].split(";"):
        name, eq, value = item.partition("=")
        params[name] = value if eq else None
    if len({name.lower() for name in params}) != text.count(";"):
        return None
    return params


# Hosts that matched the host grammar: the same few (the proxy, the domain, the peer) are in every
# message. Bounded, so that hosts made up by a sender cannot grow it.
_HOSTS_SEEN: set[str] = set()
_HOSTS_SEEN_LIMIT = 1024


def _host_shaped(host: str) -> bool:
    if host in _HOSTS_SEEN:
        return True
    if _HOST_RE.fullmatch(host) is None:
        return False
    if len(_HOSTS_SEEN) < _HOSTS_SEEN_LIMIT:
        _HOSTS_SEEN.add(host)
    return True


def is_valid_host(host: str) -> bool:
    """RFC 3261 25.1 host: hostname, IPv4address or a bracketed IPv6 reference."""
    if not _host_shaped(host):
        return False
    return host[0] != "[" or _ipv6_address(host[1:-1]) is not None


def everyday_sip_uri(scheme: str, user: str | None, host: str, port: str | None, params: str) -> SipUri | None:
    """The SipUri of an :data:`EVERYDAY_SIP_URI` match's groups; None when the full grammar must judge."""
    if not _host_shaped(host) or (port is not None and int(port) > 65535):
        return None
    param_dict: dict[str, str | None] = {}
    if params:
        found = split_params(params)
        if found is None:
            return None
        param_dict = found
    return SipUri(host=host, user=user, port=None if port is None else int(port), params=param_dict, scheme=scheme)


_HOST_RE = re.compile(_HOST)
_HOSTNAME_RE = re.compile(_HOSTNAME)
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
# RFC 2396 uric plus the RFC 2732 brackets, as absoluteURI of RFC 3261 25.1 uses it.
_OPAQUE_CHARS = rf"{_UNRESERVED};/?:@&=+$,\[\]"
_OPAQUE_RE = re.compile(rf"(?:[{_OPAQUE_CHARS}]++|{_ESC})+")
_ESCAPE_RUN_RE = re.compile(rf"(?:{_ESC})+")
_ESCAPE_RE = re.compile(rf"%({_HEX}{_HEX})")
_BAD_ESCAPE_RE = re.compile(rf"%(?!{_HEX}{_HEX})")

_VISUAL_SEPARATORS = "-.()"
_GLOBAL_NUMBER = r"\+(?=[\-.()]*+[0-9])[0-9\-.()]+"
_LOCAL_NUMBER = r"(?=[\-.()]*+[0-9A-Fa-f*#])[0-9A-Fa-f*#\-.()]+"
_TEL_PARAM = rf";[A-Za-z0-9\-]+(?:={_PARAMCHARS})?"
_TEL_RE = re.compile(
    rf"(?P<scheme>[Tt][Ee][Ll]):(?P<number>{_GLOBAL_NUMBER}|{_LOCAL_NUMBER})(?P<params>(?:{_TEL_PARAM})*+)"
)
_TEL_PARAM_RE = re.compile(rf";([A-Za-z0-9\-]+)(?:=({_PARAMCHARS}))?")
_GLOBAL_NUMBER_RE = re.compile(_GLOBAL_NUMBER)
_LOCAL_NUMBER_RE = re.compile(_LOCAL_NUMBER)
_PHONEDIGITS_RE = re.compile(r"(?=[\-.()]*+[0-9])[0-9\-.()]+")
_SEPARATORS_TABLE = str.maketrans("", "", _VISUAL_SEPARATORS)

_UNRESERVED_SET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")
# RFC 3261 19.1.4: the user, ttl, method, maddr and transport parameters must match when either URI has them.
_MUST_MATCH_PARAMS = frozenset({"user", "ttl", "method", "maddr", "transport"})


def _quote(text: str) -> str:
    if len(text) > _MAX_QUOTE:
        return repr(text[:_MAX_QUOTE]) + "..."
    return repr(text)


def unescape(text: str) -> str:
    """Decode ``%HH`` escapes (as UTF-8); escapes that don't decode stay as written."""
    if "%" not in text:
        return text
    return _ESCAPE_RUN_RE.sub(_decode_run, text)


def _decode_run(match: re.Match[str]) -> str:
    run = match.group()
    data = bytes.fromhex(run.replace("%", ""))
    out = []
    while data:
        try:
            out.append(data.decode("utf-8"))
            break
        except UnicodeDecodeError as exc:
            out.append(data[: exc.start].decode("utf-8"))
            out.append(run[3 * exc.start : 3 * exc.end])
            data = data[exc.end :]
            run = run[3 * exc.end :]
    return "".join(out)


def _canon_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED_SET else "%" + match.group(1).upper()


def _canon(text: str) -> str:
    """Comparison form: RFC 3261 19.1.4 equates an escape with its character only outside the reserved set."""
    if "%" not in text:
        return text
    return _ESCAPE_RE.sub(_canon_escape, text)


def _host_key(host: str) -> str:
    if host.startswith("["):
        address = _ipv6_address(host[1:-1])
        if address is not None:
            return "[" + address.compressed + "]"
    return host.lower()


def _ipv6_address(text: str) -> ipaddress.IPv6Address | None:
    # RFC 5118 4.10: RFC 3261's ABNF admits "::" written as ":::" before an embedded IPv4 address.
    if ":::" in text:
        text = text.replace(":::", "::", 1)
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


def _find_param(params: dict[str, str | None], name: str) -> tuple[bool, str | None]:
    """Look up a parameter by its lower-case name; names compare case-insensitively and unescaped."""
    if name in params:
        return True, params[name]
    for key, value in params.items():
        if _canon(key).lower() == name:
            return True, value
    return False, None


@dataclass(slots=True, eq=False, kw_only=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI (RFC 3261 19.1.1); text fields keep their escapes.

    ``host`` keeps the brackets of an IPv6 reference; a bare IPv6 address set by
    hand is bracketed when the URI is written out.
    """

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)
    scheme: str = "sip"

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(self.user)
            if self.password is not None:
                parts.append(":")
                parts.append(self.password)
            parts.append("@")
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        parts.append(host)
        if self.port is not None:
            parts.append(f":{self.port}")
        for name, value in self.params.items():
            parts.append(f";{name}" if value is None else f";{name}={value}")
        if self.headers:
            parts.append("?")
            parts.append("&".join(f"{name}={value}" for name, value in self.headers))
        return "".join(parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SipUri):
            return NotImplemented
        if (
            self.scheme.lower() != other.scheme.lower()
            or self.port != other.port
            or _canon(self._userinfo()) != _canon(other._userinfo())
            or _host_key(self.host) != _host_key(other.host)
        ):
            return False
        return self._params_match(other) and self._headers_key() == other._headers_key()

    def __hash__(self) -> int:
        return hash((self.scheme.lower(), _canon(self.user or ""), _host_key(self.host), self.port))

    def _userinfo(self) -> str:
        if self.user is None:
            return "" if self.password is None else ":" + self.password
        return self.user if self.password is None else f"{self.user}:{self.password}"

    def _params_key(self) -> dict[str, str | None]:
        return {
            _canon(name).lower(): None if value is None else _canon(value).lower()
            for name, value in self.params.items()
        }

    def _params_match(self, other: SipUri) -> bool:
        if not self.params and not other.params:
            return True
        mine, theirs = self._params_key(), other._params_key()
        for name, value in mine.items():
            if name in theirs:
                if theirs[name] != value:
                    return False
            elif name in _MUST_MATCH_PARAMS:
                return False
        return all(name in mine for name in theirs if name in _MUST_MATCH_PARAMS)

    def _headers_key(self) -> frozenset[tuple[str, str]]:
        return frozenset((_canon(name).lower(), _canon(value)) for name, value in self.headers)

    def replace(self, **changes: Any) -> SipUri:
        """A copy with some fields changed (``params`` and ``headers`` are copied, not shared)."""
        changes.setdefault("params", dict(self.params))
        changes.setdefault("headers", list(self.headers))
        return dataclasses.replace(self, **changes)

    @property
    def transport(self) -> str | None:
        value = _find_param(self.params, "transport")[1]
        return None if value is None else value.lower()

    @property
    def lr(self) -> bool:
        return _find_param(self.params, "lr")[0]

    @property
    def maddr(self) -> str | None:
        return _find_param(self.params, "maddr")[1]

    @property
    def user_param(self) -> str | None:
        """The ``user=`` URI parameter (e.g. ``phone``), as written."""
        return _find_param(self.params, "user")[1]

    @property
    def method(self) -> str | None:
        return _find_param(self.params, "method")[1]

    @property
    def ttl(self) -> int | None:
        value = _find_param(self.params, "ttl")[1]
        if value is None:
            return None
        # RFC 3261 25.1: ttl = 1*3DIGIT, 0-255.
        if not (value.isascii() and value.isdigit() and len(value) <= 3 and int(value) <= 255):
            raise SipParseError(f"ttl parameter is not 0-255: {_quote(value)}")
        return int(value)

    @property
    def host_port(self) -> tuple[str, int | None]:
        """Host as written (IPv6 with its brackets) and the explicit port, if any."""
        return self.host, self.port

    @property
    def is_ipv6(self) -> bool:
        return self.host.startswith("[")


@dataclass(slots=True, eq=False, kw_only=True)
class TelUri:
    """A ``tel:`` URI (RFC 3966); ``number`` keeps its visual separators, ``params`` follow it."""

    number: str
    params: dict[str, str | None] = field(default_factory=dict)

    def __str__(self) -> str:
        params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        return f"tel:{self.number}{params}"

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")

    @property
    def phone_context(self) -> str | None:
        return _find_param(self.params, "phone-context")[1]

    def _key(self) -> tuple[str, frozenset[tuple[str, str | None]]]:
        params = []
        for name, value in self.params.items():
            lname = name.lower()
            if value is not None:
                value = _canon(value).lower()
                if lname in ("phone-context", "ext") and _PHONEDIGITS_RE.fullmatch(value.lstrip("+")):
                    value = value.translate(_SEPARATORS_TABLE)
            params.append((lname, value))
        return self.number.translate(_SEPARATORS_TABLE).lower(), frozenset(params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TelUri):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(slots=True, eq=False, kw_only=True)
class AbsoluteUri:
    """A URI of any other scheme; ``opaque`` is everything after the first ``:``."""

    scheme: str
    opaque: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.opaque}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AbsoluteUri):
            return NotImplemented
        return self.scheme.lower() == other.scheme.lower() and self.opaque == other.opaque

    def __hash__(self) -> int:
        return hash((self.scheme.lower(), self.opaque))


Uri = SipUri | TelUri | AbsoluteUri


def parse_uri(text: str) -> Uri:
    """Parse one URI; raises :class:`SipParseError` saying what is wrong and where."""
    everyday = _EVERYDAY_SIP_RE.fullmatch(text)
    if everyday is not None:
        uri = everyday_sip_uri(*everyday.groups())
        if uri is not None:
            return uri
    m = _SIP_RE.fullmatch(text)
    if m is not None:
        return _build_sip(text, m)
    colon = text.find(":")
    if colon <= 0:
        if text.startswith("<") or text.endswith(">"):
            raise SipParseError(f"URI must not be enclosed in '<>': {_quote(text)}")
        raise SipParseError(f"URI has no scheme: {_quote(text)}")
    scheme = text[:colon]
    if _SCHEME_RE.fullmatch(scheme) is None:
        if scheme.startswith("<"):
            raise SipParseError(f"URI must not be enclosed in '<>': {_quote(text)}")
        raise SipParseError(f"malformed URI scheme {_quote(scheme)} in {_quote(text)}")
    lscheme = scheme.lower()
    if lscheme in ("sip", "sips"):
        raise SipParseError(_diagnose_sip(text, colon + 1))
    if lscheme == "tel":
        return _parse_tel(text)
    opaque = text[colon + 1 :]
    if _OPAQUE_RE.fullmatch(opaque) is None:
        reason = _first_bad(opaque, _OPAQUE_RE, _OPAQUE_CHARS)
        raise SipParseError(f"malformed {scheme}: URI {_quote(text)}: {reason}")
    return AbsoluteUri(scheme=scheme, opaque=opaque)


def _port_ok(port_text: str) -> bool:
    digits = port_text.lstrip("0")
    return len(digits) <= 5 and (not digits or int(digits) <= 65535)


def _build_sip(text: str, m: re.Match[str]) -> SipUri:
    scheme, user, password, host, port_text, params_text, headers_text = m.groups()
    if host[0] == "[":
        if _ipv6_address(host[1:-1]) is None:
            raise SipParseError(f"invalid IPv6 address {_quote(host)} in {_quote(text)}")
        if ":::" in host:
            # RFC 5118 4.10: accept the three-colon form, but generate only the two-colon one.
            host = host.replace(":::", "::", 1)
    port = None
    if port_text is not None:
        port = int(port_text) if len(port_text) < 5 else _port(port_text, text)
    params: dict[str, str | None] = {}
    if params_text:
        pairs = _URI_PARAM_RE.findall(params_text)
        # pvalue is 1*paramchar, so an empty group means a flag parameter.
        params = {name: value or None for name, value in pairs}
        if len(pairs) > 1 and _distinct_names(params, "%" in params_text) != len(pairs):
            _raise_duplicate(pairs, text)
    headers: list[tuple[str, str]] = []
    if headers_text is not None:
        for item in headers_text.split("&"):
            name, _, value = item.partition("=")
            headers.append((name, value))
    return SipUri(
        scheme=scheme.lower(),
        user=user,
        password=password,
        host=host,
        port=port,
        params=params,
        headers=headers,
    )


def _port(port_text: str, text: str) -> int:
    if not _port_ok(port_text):
        raise SipParseError(f"port {_quote(port_text)} out of range 0-65535 in {_quote(text)}")
    return int(port_text.lstrip("0") or "0")


def _distinct_names(params: dict[str, str | None], escaped: bool) -> int:
    if escaped:
        return len({_canon(name).lower() for name in params})
    return len({name.lower() for name in params})


def _raise_duplicate(pairs: list[tuple[str, str]], text: str) -> None:
    """Reject a parameter given twice: it has no single meaning (and the dict keeps one value)."""
    seen: set[str] = set()
    for name, _ in pairs:
        key = _canon(name).lower()
        if key in seen:
            raise SipParseError(f"parameter {_quote(name)} appears twice in {_quote(text)}")
        seen.add(key)


def _first_bad(part: str, pattern: re.Pattern[str], allowed: str) -> str:
    """Say where ``part`` breaks ``pattern``; ``allowed`` is a character class of what may appear at all."""
    stray = re.search(f"[^{allowed}%]", part)
    escape = _BAD_ESCAPE_RE.search(part)
    if escape is not None and (stray is None or escape.start() < stray.start()):
        return f"bad escape {_quote(part[escape.start() : escape.start() + 3])} at offset {escape.start()}"
    if stray is not None:
        if stray.group().isspace():
            return f"whitespace at offset {stray.start()}"
        return f"unexpected {_quote(stray.group())} at offset {stray.start()}"
    m = pattern.match(part)
    end = 0 if m is None else m.end()
    if end >= len(part):
        return "ends too early"
    return f"unexpected {_quote(part[end])} at offset {end}"


_USER_RE = re.compile(_USER)
_SPACE_RE = re.compile(r"\s")
_PASSWORD_RE = re.compile(_PASSWORD)
_PARAMS_TEXT_RE = re.compile(rf"(?:{_URI_PARAM})*+")
_HEADERS_TEXT_RE = re.compile(rf"{_HEADER}(?:&{_HEADER})*+")


def _diagnose_sip(text: str, start: int) -> str:
    """Explain why ``text`` is not a SIP URI (slow path, errors only)."""
    where = _quote(text)
    rest = text[start:]
    space = _SPACE_RE.search(text)
    if space is not None:
        return f"whitespace at offset {space.start()} in SIP URI {where}"
    if text.endswith(">"):
        return f"'>' in SIP URI {where} (enclosing '<>' are not part of a URI)"
    if not rest:
        return f"SIP URI has no host: {where}"
    at = rest.find("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, sep, password = userinfo.partition(":")
        if not user:
            return f"empty user part in SIP URI {where}"
        if _USER_RE.fullmatch(user) is None:
            reason = _first_bad(user, _USER_RE, _UNRESERVED + "&=+$,;?/")
            return f"malformed user part {_quote(user)} in SIP URI {where}: {reason}"
        if sep and _PASSWORD_RE.fullmatch(password) is None:
            reason = _first_bad(password, _PASSWORD_RE, _UNRESERVED + "&=+$,")
            return f"malformed password in SIP URI {where}: {reason}"
    hostport_end = len(rest)
    for delimiter in ";?":
        i = rest.find(delimiter)
        if 0 <= i < hostport_end:
            hostport_end = i
    hostport, tail = rest[:hostport_end], rest[hostport_end:]
    if not hostport:
        return f"SIP URI has no host: {where}"
    if not hostport.startswith("[") and hostport.count(":") >= 2:
        # RFC 5118 4.2: an IPv6 address in a SIP URI must be bracketed.
        return f"IPv6 address {_quote(hostport)} must be enclosed in '[]' in SIP URI {where}"
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            return f"unterminated IPv6 reference {_quote(hostport)} in SIP URI {where}"
        host, port_part = hostport[: close + 1], hostport[close + 1 :]
    else:
        host, colon, port_part = hostport.partition(":")
        port_part = colon + port_part
    if _HOST_RE.fullmatch(host) is None:
        stray = re.search(r"[^A-Za-z0-9\-.:\[\]]", host)
        if stray is not None:
            return f"unexpected {_quote(stray.group())} in host {_quote(host)} of SIP URI {where}"
        return f"malformed host {_quote(host)} in SIP URI {where}"
    if port_part:
        if not port_part.startswith(":") or not port_part[1:].isascii() or not port_part[1:].isdigit():
            return f"malformed port {_quote(port_part)} in SIP URI {where}"
    params_text, question, headers_text = tail.partition("?")
    if ";;" in params_text or params_text.endswith(";"):
        return f"empty URI parameter in SIP URI {where}"
    if _PARAMS_TEXT_RE.fullmatch(params_text) is None:
        reason = _first_bad(params_text, _PARAMS_TEXT_RE, _UNRESERVED + r"\[\]/:&+$;=")
        return f"malformed URI parameters {_quote(params_text)} in SIP URI {where}: {reason}"
    if question and _HEADERS_TEXT_RE.fullmatch(headers_text) is None:
        reason = _first_bad(headers_text, _HEADERS_TEXT_RE, _UNRESERVED + r"\[\]/?:+$&=")
        return f"malformed URI headers {_quote(headers_text)} in SIP URI {where}: {reason}"
    return f"malformed SIP URI {where}"


def _parse_tel(text: str) -> TelUri:
    m = _TEL_RE.fullmatch(text)
    if m is None:
        number, _, _ = text[4:].partition(";")
        if not number:
            raise SipParseError(f"tel URI has no number: {_quote(text)}")
        if not (_GLOBAL_NUMBER_RE.fullmatch(number) or _LOCAL_NUMBER_RE.fullmatch(number)):
            raise SipParseError(f"malformed telephone number {_quote(number)} in tel URI {_quote(text)}")
        raise SipParseError(f"malformed parameters in tel URI {_quote(text)}")
    number = m.group("number")
    pairs = _TEL_PARAM_RE.findall(m.group("params"))
    params: dict[str, str | None] = {name: value or None for name, value in pairs}
    if len(pairs) > 1 and _distinct_names(params, "%" in text) != len(pairs):
        _raise_duplicate(pairs, text)
    for name, value in params.items():
        lname = name.lower()
        if lname == "phone-context":
            # RFC 3966 3: descriptor = domainname / global-number-digits.
            if value is None or not (_GLOBAL_NUMBER_RE.fullmatch(value) or _HOSTNAME_RE.fullmatch(value)):
                raise SipParseError(f"malformed phone-context {_quote(str(value))} in tel URI {_quote(text)}")
        elif lname == "ext":
            if value is None or _PHONEDIGITS_RE.fullmatch(value) is None:
                raise SipParseError(f"malformed ext {_quote(str(value))} in tel URI {_quote(text)}")
        elif lname == "isub" and value is None:
            raise SipParseError(f"isub without a value in tel URI {_quote(text)}")
    if not number.startswith("+") and not _find_param(params, "phone-context")[0]:
        # RFC 3966 5.1: local numbers MUST be tagged with a phone-context.
        raise SipParseError(f"local number without phone-context in tel URI {_quote(text)}")
    return TelUri(number=number, params=params)

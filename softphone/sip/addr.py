"""Addresses as From, To, Contact, Route, Record-Route, Refer-To, Reply-To and
P-Asserted-Identity carry them (RFC 3261 20.10 and 25.1).

:func:`parse_name_addr` reads one value, ``name-addr`` (``"Alice" <sip:a@h>``)
or ``addr-spec`` (``sip:a@h``), followed by its header parameters; in the
addr-spec form everything after the first ``;`` is a header parameter, never
a URI parameter (RFC 3261 20.10). :func:`parse_name_addr_list` reads a
comma-separated list (Contact, Route, Record-Route ...). A :class:`NameAddr`
always serialises in the name-addr form, ``<uri>``.

The wildcard ``Contact: *`` (RFC 3261 10.2.2) is not an address: for it
:func:`parse_contact_list` returns ``[ContactStar()]``, and ``*`` together
with any other contact in the same value is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from softphone.sip.errors import SipParseError
from softphone.sip.uri import EVERYDAY_SIP_URI, Uri, everyday_sip_uri, parse_uri, split_params

__all__ = [
    "ContactStar",
    "NameAddr",
    "parse_contact_list",
    "parse_name_addr",
    "parse_name_addr_list",
    "quote_display_name",
    "split_comma_list",
]

_MAX_QUOTE = 200
_MAX_DELTA_DIGITS = 4000

_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]++"
_LWS = r"(?:[ \t]*+\r?\n)?[ \t]++"
_SWS = rf"(?:{_LWS})?"
# RFC 3261 25.1: qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
_QDTEXT = r"[^\"\\\x00-\x08\x0a-\x1f\x7f]++"
# RFC 3261 25.1: quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
_QUOTED_PAIR = r"\\[\x00-\x09\x0b\x0c\x0e-\x7f]"
_QUOTED = rf'"((?:{_QDTEXT}|{_QUOTED_PAIR}|\r?\n[ \t])*+)"'
_GEN_VALUE = rf'(?:{_TOKEN}|"(?:{_QDTEXT}|{_QUOTED_PAIR})*+"|\[[0-9A-Fa-f:.]++\])'
_PARAM = rf"{_SWS};{_SWS}({_TOKEN})(?:{_SWS}={_SWS}({_GEN_VALUE}))?"

# Fast path for the usual spelling: no LWS but single spaces, no quoted-pairs.
_SIMPLE_PARAM = r""";([A-Za-z0-9\-.!%*_+`'~]++)(?:=([A-Za-z0-9\-.!%*_+`'~]++|"[^"\\\x00-\x1f\x7f]*+"))?"""
_COMMON_RE = re.compile(
    r"""(?:"([^"\\\x00-\x1f\x7f]*+)" ?|([A-Za-z0-9\-.!%*_+`'~]++(?: [A-Za-z0-9\-.!%*_+`'~]++)*+) ?)?"""
    rf"<([^<>\s]++)>((?:{_SIMPLE_PARAM})*+)"
)
_COMMON_SPEC_RE = re.compile(rf"([^\s;,<>\"?]++)((?:{_SIMPLE_PARAM})*+)")
_SIMPLE_PARAM_RE = re.compile(_SIMPLE_PARAM)
_SWS_RE = re.compile(_SWS)
_QUOTED_RE = re.compile(_QUOTED)
_TOKENS_LAQUOT_RE = re.compile(rf"({_TOKEN}(?:{_LWS}{_TOKEN})*+){_SWS}<")
_TOKEN_SEQUENCE_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+(?: [A-Za-z0-9\-.!%*_+`'~]+)*")
_LWS_RE = re.compile(_LWS)
_FOLD_RE = re.compile(r"[ \t]*\r?\n[ \t]+")
_FOLD_START_RE = re.compile(r"\r?\n[ \t]")
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
_NEEDS_BACKSLASH_RE = re.compile(r'[\\"\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')
_PARAM_RE = re.compile(_PARAM)
_PARAMS_RE = re.compile(rf"(?:{_PARAM})*+{_SWS}")
_ADDR_SPEC_RE = re.compile(r"[^ \t\r\n;]*+")
_ELEMENT_RE = re.compile(r'(?:[^,"<>]++|"(?:[^"\\]++|\\.)*+"|<[^<>]*+>)*+', re.DOTALL)
_QVALUE_RE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
_LWS_CHARS = " \t\r\n"


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """End of ``pattern`` (which may match empty) matched at ``pos``."""
    m = pattern.match(text, pos)
    return pos if m is None else m.end()


def _quote(text: str) -> str:
    if len(text) > _MAX_QUOTE:
        return repr(text[:_MAX_QUOTE]) + "..."
    return repr(text)


class ContactStar:
    """The ``*`` of ``Contact: *`` (RFC 3261 10.2.2: remove all bindings)."""

    __slots__ = ()

    def __str__(self) -> str:
        return "*"

    def __repr__(self) -> str:
        return "ContactStar()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContactStar)

    def __hash__(self) -> int:
        return hash("*")


def _find(params: dict[str, str | None], name: str) -> tuple[str | None, str | None]:
    """The parameter's name as written and its value; names compare case-insensitively."""
    if name in params:
        return name, params[name]
    for key, value in params.items():
        if key.lower() == name:
            return key, value
    return None, None


@dataclass(slots=True, eq=False)
class NameAddr:
    """One address with its header parameters; ``params`` values keep their quotes."""

    uri: Uri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    def __str__(self) -> str:
        head = f"<{self.uri}>" if self.display_name is None else f"{quote_display_name(self.display_name)} <{self.uri}>"
        if not self.params:
            return head
        return head + "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NameAddr):
            return NotImplemented
        return (
            self.display_name == other.display_name
            and self.uri == other.uri
            and {k.lower(): v for k, v in self.params.items()} == {k.lower(): v for k, v in other.params.items()}
        )

    @property
    def tag(self) -> str | None:
        return _find(self.params, "tag")[1]

    @tag.setter
    def tag(self, value: str | None) -> None:
        key = _find(self.params, "tag")[0]
        if value is None:
            if key is not None:
                del self.params[key]
        else:
            self.params[key or "tag"] = value

    @property
    def expires(self) -> int | None:
        """The ``expires`` contact parameter in seconds (RFC 3261 20.10); not clamped."""
        key, value = _find(self.params, "expires")
        if key is None:
            return None
        if value is None:
            raise SipParseError(f"expires parameter {_quote(key)} without a value")
        if not (value.isascii() and value.isdigit()) or len(value) > _MAX_DELTA_DIGITS:
            raise SipParseError(f"expires parameter is not delta-seconds: {_quote(value)}")
        return int(value)

    @property
    def q(self) -> float | None:
        key, value = _find(self.params, "q")
        if key is None:
            return None
        if value is None or _QVALUE_RE.fullmatch(value) is None:
            raise SipParseError(f"q parameter is not a qvalue (0 to 1.000): {_quote(str(value))}")
        return float(value)


def quote_display_name(name: str) -> str:
    """``name`` as a display-name: a token sequence when it is one, else a quoted-string."""
    if _TOKEN_SEQUENCE_RE.fullmatch(name):
        return name
    if "\r" in name or "\n" in name:
        # RFC 3261 25.1: quoted-pair cannot carry CR or LF.
        raise SipParseError(f"display name contains CR or LF: {_quote(name)}")
    return '"' + _NEEDS_BACKSLASH_RE.sub(_backslash, name) + '"'


def _backslash(match: re.Match[str]) -> str:
    return "\\" + match.group()


def _unquote(content: str) -> str:
    if "\n" in content:
        content = _FOLD_RE.sub(" ", content)
    if "\\" in content:
        content = _QUOTED_PAIR_RE.sub(r"\1", content)
    return content


_EVERYDAY_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]"
# The everyday From/To/Contact shape of RFC 3261 name-addr: no escapes,
# quoted-pairs, IPv6, passwords or URI headers. A match is well-formed once its
# parameter names are distinct (host and port are checked when it is built);
# anything else takes the full grammar.
EVERYDAY_NAME_ADDR_RE = re.compile(
    rf'(?:"([^"\\\x00-\x1f\x7f]*)" ?|({_EVERYDAY_TOKEN}+(?: {_EVERYDAY_TOKEN}+)*) ?)?'
    rf"<{EVERYDAY_SIP_URI}>"
    rf"((?:;{_EVERYDAY_TOKEN}+(?:={_EVERYDAY_TOKEN}+)?)*)"
)


def match_everyday_name_addr(text: str) -> re.Match[str] | None:
    """The match when ``text`` has the everyday shape and is valid, else None."""
    m = EVERYDAY_NAME_ADDR_RE.fullmatch(text)
    if m is None:
        return None
    uri_params, header_params = m.group(7, 8)
    if (uri_params.count(";") > 1 and split_params(uri_params) is None) or (
        header_params.count(";") > 1 and split_params(header_params) is None
    ):
        return None
    return m


def name_addr_from_match(m: re.Match[str]) -> NameAddr:
    """Build the NameAddr of a :func:`match_everyday_name_addr` match without re-parsing."""
    quoted, tokens, scheme, user, host, port, uri_params, header_params = m.groups()
    uri = everyday_sip_uri(scheme, user, host, port, uri_params)
    if uri is None:
        return _parse_name_addr(m.string)
    return NameAddr(
        uri=uri,
        display_name=quoted if tokens is None else tokens,
        params=(split_params(header_params) or {}) if header_params else {},
    )


def parse_name_addr(text: str) -> NameAddr:
    """Parse one name-addr or addr-spec with its header parameters."""
    everyday = match_everyday_name_addr(text)
    if everyday is not None:
        return name_addr_from_match(everyday)
    m = _COMMON_RE.fullmatch(text)
    if m is not None:
        quoted, tokens, uri_text, params_text = m.group(1, 2, 3, 4)
        return NameAddr(
            uri=parse_uri(uri_text),
            display_name=quoted if tokens is None else tokens,
            params=_params_from_pairs(_SIMPLE_PARAM_RE.findall(params_text), text) if params_text else {},
        )
    m = _COMMON_SPEC_RE.fullmatch(text)
    if m is not None:
        uri_text, params_text = m.group(1, 2)
        return NameAddr(
            uri=parse_uri(uri_text),
            params=_params_from_pairs(_SIMPLE_PARAM_RE.findall(params_text), text) if params_text else {},
        )
    return _parse_name_addr(text)


def _parse_name_addr(text: str) -> NameAddr:
    pos = _skip(_SWS_RE, text, 0)
    display_name: str | None = None
    first = text[pos : pos + 1]
    if first == '"':
        m = _QUOTED_RE.match(text, pos)
        if m is None:
            raise SipParseError(_diagnose_quoted(text, pos))
        display_name = _unquote(m.group(1))
        pos = _skip(_SWS_RE, text, m.end())
        if text[pos : pos + 1] != "<":
            raise SipParseError(f"expected '<' after the quoted display name in {_quote(text)}")
    elif first != "<":
        m = _TOKENS_LAQUOT_RE.match(text, pos)
        if m is None:
            if "<" in text:
                display = text[pos : text.index("<")].rstrip(_LWS_CHARS)
                # RFC 3261 25.1: display-name = *(token LWS) / quoted-string.
                raise SipParseError(
                    f"display name {_quote(display)} is neither a token sequence nor a quoted string in {_quote(text)}"
                )
            return _parse_addr_spec(text, pos)
        display_name = _LWS_RE.sub(" ", m.group(1))
        pos = m.end() - 1
    end = text.find(">", pos + 1)
    if end < 0:
        raise SipParseError(f"'<' without a closing '>' in {_quote(text)}")
    uri_text = text[pos + 1 : end]
    if not uri_text:
        raise SipParseError(f"empty URI in '<>' in {_quote(text)}")
    if uri_text[0] in _LWS_CHARS or uri_text[-1] in _LWS_CHARS:
        # RFC 4475 3.1.2.14: no whitespace between the angle brackets and the URI.
        raise SipParseError(f"whitespace inside '<...>' in {_quote(text)}")
    return NameAddr(uri=parse_uri(uri_text), display_name=display_name, params=_parse_params(text, end + 1))


def _parse_addr_spec(text: str, pos: int) -> NameAddr:
    end = _skip(_ADDR_SPEC_RE, text, pos)
    uri_text = text[pos:end]
    if not uri_text:
        raise SipParseError(f"no address in {_quote(text)}")
    # RFC 3261 20.10: an addr-spec with ',', '?' or ';' in its URI must be written as a name-addr.
    if "?" in uri_text:
        raise SipParseError(f"URI with '?' must be enclosed in '<>': {_quote(uri_text)} in {_quote(text)}")
    if "," in uri_text:
        raise SipParseError(f"',' in addr-spec {_quote(uri_text)} (enclose the URI in '<>' or split the list)")
    return NameAddr(uri=parse_uri(uri_text), params=_parse_params(text, end))


def _parse_params(text: str, pos: int) -> dict[str, str | None]:
    if pos >= len(text):
        return {}
    m = _PARAMS_RE.fullmatch(text, pos)
    if m is None:
        raise SipParseError(_diagnose_params(text, pos))
    pairs = _PARAM_RE.findall(text, pos)
    return _params_from_pairs(pairs, text)


def _params_from_pairs(pairs: list[tuple[str, str]], text: str) -> dict[str, str | None]:
    # gen-value is never empty, so an empty group means a flag parameter.
    params: dict[str, str | None] = {name: value or None for name, value in pairs}
    if len(pairs) > 1 and len({name.lower() for name in params}) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name.lower() in seen:
                # A parameter given twice has no single meaning (and the dict keeps one value).
                raise SipParseError(f"header parameter {_quote(name)} appears twice in {_quote(text)}")
            seen.add(name.lower())
    return params


def _diagnose_quoted(text: str, pos: int) -> str:
    i = pos + 1
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 < len(text) and text[i + 1] in "\r\n":
                return f"quoted-pair cannot escape CR or LF at offset {i} in {_quote(text)}"
            i += 2
            continue
        if char == '"':
            break
        if char in "\r\n":
            fold = _FOLD_START_RE.match(text, i)
            if fold is None:
                return f"line break inside the quoted display name at offset {i} in {_quote(text)}"
            i = fold.end()
            continue
        if char != "\t" and (char < " " or char == "\x7f"):
            return f"control character {_quote(char)} in the quoted display name at offset {i} in {_quote(text)}"
        i += 1
    else:
        return f"unterminated quoted display name in {_quote(text)}"
    return f"malformed quoted display name in {_quote(text)}"


def _diagnose_params(text: str, pos: int) -> str:
    where = _quote(text)
    end = _skip(_PARAMS_RE, text, pos)
    rest = text[end:]
    if rest.startswith(";"):
        after = _skip(_SWS_RE, text, end + 1)
        if after >= len(text) or text[after] in ";,":
            return f"empty parameter at offset {end} in {where}"
        return f"malformed parameter {_quote(rest[:60])} in {where}"
    if rest.lstrip(_LWS_CHARS).startswith("="):
        return f"malformed parameter value {_quote(rest[:60])} at offset {end} in {where}"
    if rest.startswith(","):
        return f"unexpected ',' at offset {end} (one address expected) in {where}"
    return f"unexpected {_quote(rest[:60])} after the address in {where}"


def split_comma_list(value: str) -> list[str]:
    """Split a header value on commas outside quoted strings and ``<...>``; strips LWS around elements."""
    if '"' not in value and "<" not in value and ">" not in value:
        parts = value.split(",")
    else:
        parts = []
        pos = 0
        while True:
            end = _skip(_ELEMENT_RE, value, pos)
            if end == len(value):
                parts.append(value[pos:end])
                break
            char = value[end]
            if char == ",":
                parts.append(value[pos:end])
                pos = end + 1
            elif char == '"':
                raise SipParseError(f"unterminated quoted string at offset {end} in {_quote(value)}")
            elif char == "<":
                raise SipParseError(f"'<' without a closing '>' at offset {end} in {_quote(value)}")
            else:
                raise SipParseError(f"'>' without an opening '<' at offset {end} in {_quote(value)}")
    out = []
    for part in parts:
        part = part.strip(_LWS_CHARS)
        if not part:
            raise SipParseError(f"empty element in comma-separated list {_quote(value)}")
        out.append(part)
    return out


def parse_name_addr_list(value: str) -> list[NameAddr]:
    """Parse a comma-separated list of addresses (Contact, Route, Record-Route ...)."""
    if "," not in value:
        return [parse_name_addr(value)]
    return [parse_name_addr(item) for item in split_comma_list(value)]


def parse_contact_list(value: str) -> list[NameAddr | ContactStar]:
    """Parse a Contact value: addresses, or the lone ``*`` as ``[ContactStar()]``."""
    if "," not in value:
        if value.strip(_LWS_CHARS) == "*":
            return [ContactStar()]
        return [parse_name_addr(value)]
    items = split_comma_list(value)
    if "*" in items:
        if len(items) > 1:
            # RFC 3261 10.2.2: "*" stands alone.
            raise SipParseError(f"Contact '*' mixed with addresses in {_quote(value)}")
        return [ContactStar()]
    return [parse_name_addr(item) for item in items]

"""HTTP Digest authentication for SIP (RFC 3261 22, RFC 7616, RFC 8760, RFC 2617).

Parses ``WWW-Authenticate`` / ``Proxy-Authenticate`` challenges and
``Authorization`` / ``Proxy-Authorization`` credentials, answers Digest
challenges and checks Digest credentials.  Sans-I/O: no clock, no sockets;
the client nonce comes from an injectable factory.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_to_bytes

from softphone.sip.errors import SipParseError

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "Challenge",
    "Credentials",
    "DigestClient",
    "choose_challenge",
    "digest_response",
    "parse_challenge",
    "parse_credentials",
    "verify_credentials",
]

SUPPORTED_ALGORITHMS: tuple[str, ...] = (
    "SHA-512-256",
    "SHA-512-256-sess",
    "SHA-256",
    "SHA-256-sess",
    "MD5",
    "MD5-sess",
)

_DIGEST = "digest"
_SESS = "-sess"


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha512_256(data: bytes) -> str:
    # RFC 7616 3.2: SHA-512/256 of FIPS 180-4 (own initial hash value), not truncated SHA-512.
    return hashlib.new("sha512_256", data).hexdigest()


_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": _md5,
    "SHA-256": _sha256,
    "SHA-512-256": _sha512_256,
}

# RFC 8760 2.4 lets local policy override topmost-first; strongest-first resists the downgrade of RFC 8760 3.
_STRENGTH: dict[str, int] = {"MD5": 1, "SHA-256": 2, "SHA-512-256": 3}

# RFC 3261 25.1 token plus the extra tchar of RFC 7230 3.2.6.
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "-.!%*_+`'~#$&^|")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 3261 7.3.1: a CRLF followed by whitespace is folding and means one SP.
_FOLDING = re.compile(r"\r?\n(?=[ \t])")
# RFC 8187 3.2.1 attr-char and pct-encoded.
_EXT_VALUE_CHARS = re.compile(r"(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])*")
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"
_SECRET_PARAMS = frozenset({"response"})
_MAX_QUOTED = 60
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` or ``Proxy-Authenticate`` value.

    The named fields are only meaningful for the Digest scheme; ``params``
    holds every auth-param of any scheme, unquoted, with lower-cased names.
    """

    scheme: str
    realm: str | None = None
    nonce: str | None = None
    opaque: str | None = None
    algorithm: str = "MD5"
    qop: list[str] = field(default_factory=list)
    stale: bool = False
    domain: str | None = None
    userhash: bool = False
    charset: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == _DIGEST


@dataclass(frozen=True)
class Credentials:
    """A parsed ``Authorization`` or ``Proxy-Authorization`` value.

    ``username`` is the decoded ``username*`` when that form was sent, and
    the hex userhash when ``userhash`` is true.
    """

    scheme: str
    username: str | None = None
    realm: str | None = None
    nonce: str | None = None
    uri: str | None = None
    response: str | None = field(default=None, repr=False)
    algorithm: str = "MD5"
    cnonce: str | None = None
    nc: str | None = None
    qop: str | None = None
    opaque: str | None = None
    userhash: bool = False
    params: dict[str, str] = field(default_factory=dict, repr=False)
    token68: str | None = field(default=None, repr=False)

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == _DIGEST


# --------------------------------------------------------------------------- parsing


class _AuthParser:
    """Reads ``auth-scheme LWS auth-param *(COMMA auth-param)`` (RFC 3261 25.1)."""

    def __init__(self, value: str, what: str, *, echo_value: bool) -> None:
        self.original = value
        self.text = _FOLDING.sub(" ", value)
        self.pos = 0
        self.what = what
        self.echo_value = echo_value
        self.param: str | None = None

    def fail(self, problem: str) -> SipParseError:
        if self.param in _SECRET_PARAMS and not self.echo_value:
            return SipParseError(f'{self.what}: malformed value of "{self.param}"')
        if self.echo_value:
            return SipParseError(f"{self.what}: {problem} in {_quoted(self.original)}")
        return SipParseError(f"{self.what}: {problem}")

    def at(self) -> str:
        """The offending text at the cursor: one run of non-separators."""
        end = self.pos
        while end < len(self.text) and self.text[end] not in ' \t,="' and end - self.pos < 20:
            end += 1
        found = self.text[self.pos : max(end, self.pos + 1)]
        return _quoted(found) if found else "end of text"

    def skip_ws(self) -> int:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1
        return self.pos - start

    def token(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _TOKEN_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def quoted_string(self) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "\\":
                if self.pos + 1 >= len(self.text):
                    break
                escaped = self.text[self.pos + 1]
                if escaped in "\r\n":
                    raise self.fail(f"CR or LF after a backslash in the value of {_quoted(self.param)}")
                out.append(escaped)
                self.pos += 2
                continue
            if (ord(char) < 0x20 and char != "\t") or char == "\x7f":
                raise self.fail(f"control character {char!r} in the quoted value of {_quoted(self.param)}")
            out.append(char)
            self.pos += 1
        raise self.fail(f"unterminated quoted-string in the value of {_quoted(self.param)}")

    def parse(self) -> tuple[str, dict[str, str], str | None]:
        text = self.text
        self.skip_ws()
        scheme = self.token()
        if not scheme:
            raise self.fail(f"expected an auth-scheme, found {self.at()}")
        if self.pos < len(text) and text[self.pos] not in " \t":
            raise self.fail(f"expected whitespace after the auth-scheme, found {self.at()}")
        self.skip_ws()
        if self.pos >= len(text):
            if scheme.lower() == _DIGEST:
                raise self.fail("Digest without auth-params")
            return scheme, {}, None
        rest = text[self.pos :].rstrip(" \t")
        if scheme.lower() != _DIGEST and _TOKEN68.fullmatch(rest):
            return scheme, {}, rest
        params: dict[str, str] = {}
        while True:
            self.param = None
            name = self.token()
            if not name:
                raise self.fail(f"expected an auth-param name, found {self.at()}")
            key = name.lower()
            self.skip_ws()
            if self.pos >= len(text) or text[self.pos] != "=":
                raise self.fail(f"expected '=' after {_quoted(name)}, found {self.at()}")
            self.pos += 1
            self.skip_ws()
            self.param = key
            if self.pos < len(text) and text[self.pos] == '"':
                value = self.quoted_string()
            else:
                value = self.token()
                if not value:
                    raise self.fail(f"expected a token or quoted-string after {_quoted(name + '=')}")
            if key in params:
                raise self.fail(f"auth-param {_quoted(name)} appears twice")
            params[key] = value
            self.skip_ws()
            if self.pos >= len(text):
                return scheme, params, None
            if text[self.pos] != ",":
                raise self.fail(f"expected ',' after the value of {_quoted(name)}, found {self.at()}")
            self.param = None
            self.pos += 1
            self.skip_ws()


def parse_challenge(value: str) -> Challenge:
    """Parse a ``WWW-Authenticate`` / ``Proxy-Authenticate`` header value."""
    scheme, params, token68 = _AuthParser(value, "challenge", echo_value=True).parse()
    return Challenge(
        scheme=scheme,
        realm=params.get("realm"),
        nonce=params.get("nonce"),
        opaque=params.get("opaque"),
        algorithm=_normalise_algorithm(params.get("algorithm", "MD5")),
        qop=[q.strip(" \t").lower() for q in params.get("qop", "").split(",") if q.strip(" \t")],
        stale=params.get("stale", "").lower() == "true",
        domain=params.get("domain"),
        userhash=params.get("userhash", "").lower() == "true",
        charset=params.get("charset"),
        params=params,
        token68=token68,
    )


def parse_credentials(value: str) -> Credentials:
    """Parse an ``Authorization`` / ``Proxy-Authorization`` header value.

    Error messages never quote the whole value, which carries the response.
    """
    scheme, params, token68 = _AuthParser(value, "credentials", echo_value=False).parse()
    username = params.get("username")
    if "username*" in params:
        if username is not None:
            # RFC 7616 3.4.4: username and username* MUST NOT both be present.
            raise SipParseError("credentials: both username and username* are present")
        username = _decode_ext_value(params["username*"])
    return Credentials(
        scheme=scheme,
        username=username,
        realm=params.get("realm"),
        nonce=params.get("nonce"),
        uri=params.get("uri"),
        response=params.get("response"),
        algorithm=_normalise_algorithm(params.get("algorithm", "MD5")),
        cnonce=params.get("cnonce"),
        nc=params.get("nc"),
        qop=params.get("qop"),
        opaque=params.get("opaque"),
        userhash=params.get("userhash", "").lower() == "true",
        params=params,
        token68=token68,
    )


def _decode_ext_value(value: str) -> str:
    """Decode an RFC 8187 ext-value such as ``UTF-8''J%C3%A4s%C3%B8n``."""
    parts = value.split("'", 2)
    if len(parts) != 3:
        raise SipParseError(f"credentials: username* is not charset'language'value: {_quoted(value)}")
    charset, _language, encoded = parts
    codec = {"utf-8": "utf-8", "iso-8859-1": "iso-8859-1"}.get(charset.lower())
    if codec is None:
        raise SipParseError(f"credentials: unsupported charset {_quoted(charset)} in username*")
    if not _EXT_VALUE_CHARS.fullmatch(encoded):
        raise SipParseError(f"credentials: invalid characters in username* value {_quoted(encoded)}")
    try:
        return unquote_to_bytes(encoded).decode(codec)
    except UnicodeDecodeError:
        raise SipParseError(f"credentials: username* is not valid {charset}: {_quoted(encoded)}") from None


def _encode_ext_value(value: str) -> str:
    return "UTF-8''" + quote(value.encode("utf-8", "surrogatepass"), safe=_ATTR_CHAR_SAFE)


def _normalise_algorithm(value: str) -> str:
    upper = value.upper()
    if upper.endswith(_SESS.upper()):
        return upper[: -len(_SESS)] + _SESS
    return upper


def _quoted(value: str | None) -> str:
    """``value`` in double quotes for a message, shortened, control characters escaped."""
    text = "" if value is None else value
    if len(text) > _MAX_QUOTED:
        text = text[:_MAX_QUOTED] + "..."
    return '"' + _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text) + '"'


# --------------------------------------------------------------------------- hashing


def _hash_for(algorithm: str) -> tuple[Callable[[bytes], str], bool]:
    normalised = _normalise_algorithm(algorithm)
    sess = normalised.endswith(_SESS)
    base = normalised[: -len(_SESS)] if sess else normalised
    hasher = _HASHES.get(base)
    if hasher is None:
        raise SipParseError(f"unsupported digest algorithm {_quoted(algorithm)}")
    return hasher, sess


def _h(hasher: Callable[[bytes], str], *parts: str) -> str:
    return hasher(":".join(parts).encode("utf-8", "surrogatepass"))


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None,
    nc: str | None,
    cnonce: str | None,
    body: bytes = b"",
) -> str:
    """The request-digest in lower-case hex (RFC 7616 3.4.1, RFC 2617 3.2.2.1).

    ``qop=None`` is the RFC 2069 form without nonce count and client nonce.
    All strings are hashed as UTF-8.
    """
    hasher, sess = _hash_for(algorithm)
    ha1 = _h(hasher, username, realm, password)
    if sess:
        if cnonce is None:
            raise SipParseError(f"algorithm {_quoted(algorithm)} needs a cnonce")
        # RFC 7616 3.4.2: A1 of a -sess algorithm adds the nonce and cnonce.
        ha1 = _h(hasher, ha1, nonce, cnonce)
    qop_lower = None if qop is None else qop.lower()
    if qop_lower == "auth-int":
        # RFC 7616 3.4.3: auth-int adds H(entity-body) to A2.
        ha2 = _h(hasher, method, uri, hasher(body))
    elif qop_lower is None or qop_lower == "auth":
        ha2 = _h(hasher, method, uri)
    else:
        raise SipParseError(f"unsupported qop {_quoted(qop)}")
    if qop is None:
        return _h(hasher, ha1, nonce, ha2)
    if nc is None or cnonce is None:
        raise SipParseError(f"qop {_quoted(qop)} needs both nc and cnonce")
    return _h(hasher, ha1, nonce, nc, cnonce, qop, ha2)


def verify_credentials(
    credentials: Credentials,
    *,
    password: str,
    method: str,
    body: bytes = b"",
    username: str | None = None,
) -> bool:
    """Check Digest credentials against a known password (server side).

    ``username`` is the account the password belongs to; it is required when
    the credentials carry a userhash, and when given it must match.  The
    caller still checks realm, nonce freshness, nonce count and that ``uri``
    names the Request-URI (RFC 3261 22.4).
    """
    c = credentials
    if not c.is_digest or c.response is None or c.realm is None or c.nonce is None:
        return False
    if c.username is None or c.uri is None or c.algorithm not in SUPPORTED_ALGORITHMS:
        return False
    hasher, _sess = _hash_for(c.algorithm)
    if c.userhash:
        if username is None:
            return False
        # RFC 7616 3.4.4: the userhash is H(unq(username) ":" unq(realm)).
        expected_user = _h(hasher, username, c.realm)
        if not hmac.compare_digest(expected_user.encode(), c.username.lower().encode("utf-8", "surrogatepass")):
            return False
        account = username
    else:
        if username is not None and username != c.username:
            return False
        account = c.username
    try:
        expected = digest_response(
            algorithm=c.algorithm,
            username=account,
            realm=c.realm,
            password=password,
            method=method,
            uri=c.uri,
            nonce=c.nonce,
            qop=c.qop,
            nc=c.nc,
            cnonce=c.cnonce,
            body=body,
        )
    except SipParseError:
        return False
    return hmac.compare_digest(expected.encode(), c.response.lower().encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------- client


def _unusable_reason(challenge: Challenge) -> str | None:
    if not challenge.is_digest:
        return f"scheme {_quoted(challenge.scheme)} is not Digest"
    if challenge.algorithm not in SUPPORTED_ALGORITHMS:
        return f"unsupported digest algorithm {_quoted(challenge.algorithm)}"
    if challenge.realm is None:
        return "challenge has no realm"
    if not challenge.nonce:
        return "challenge has no nonce"
    if challenge.qop and not {"auth", "auth-int"} & set(challenge.qop):
        return f"no supported qop in {_quoted(', '.join(challenge.qop))}"
    if not challenge.qop and challenge.algorithm.endswith(_SESS):
        # RFC 2617 3.2.2: a cnonce is sent only with qop, and -sess needs one.
        return f"algorithm {_quoted(challenge.algorithm)} without qop"
    return None


def choose_challenge(challenges: list[Challenge]) -> Challenge | None:
    """The usable Digest challenge with the strongest algorithm, else None.

    SHA-512-256 beats SHA-256 beats MD5, a -sess variant ranking with its
    hash; among equals the first (topmost) one wins.
    """
    best: Challenge | None = None
    best_strength = 0
    for challenge in challenges:
        if _unusable_reason(challenge) is not None:
            continue
        strength = _STRENGTH[challenge.algorithm.removesuffix(_SESS)]
        if strength > best_strength:
            best, best_strength = challenge, strength
    return best


def _quote_value(name: str, value: str) -> str:
    """``value`` as a quoted-string (RFC 3261 25.1); CR and LF cannot be carried."""
    if "\r" in value or "\n" in value:
        raise SipParseError(f"{name} contains CR or LF")
    out: list[str] = []
    for char in value:
        if char in '"\\' or (ord(char) < 0x20 and char != "\t") or char == "\x7f":
            out.append("\\")
        out.append(char)
    return '"' + "".join(out) + '"'


def _needs_ext_value(value: str) -> bool:
    return not value.isascii() or any(ord(c) < 0x20 or c == "\x7f" for c in value)


def _default_cnonce() -> str:
    return secrets.token_hex(16)


class DigestClient:
    """Answers challenges for one set of credentials.

    Keeps a nonce count per nonce (RFC 7616 3.4: nc increments for each
    request sent with the same nonce), for the most recent nonces only.
    """

    max_nonces = 32

    def __init__(
        self,
        username: str,
        password: str,
        *,
        cnonce_factory: Callable[[], str] | None = None,
    ) -> None:
        self.username = username
        self._password = password
        self._cnonce_factory = cnonce_factory if cnonce_factory is not None else _default_cnonce
        self._nonce_counts: OrderedDict[str, int] = OrderedDict()

    def __repr__(self) -> str:
        return f"DigestClient(username={self.username!r})"

    def nonce_count(self, nonce: str) -> int:
        """How many requests have been answered with ``nonce`` so far."""
        return self._nonce_counts.get(nonce, 0)

    def _next_nc(self, nonce: str) -> str:
        count = self._nonce_counts.pop(nonce, 0) + 1
        self._nonce_counts[nonce] = count
        while len(self._nonce_counts) > self.max_nonces:
            self._nonce_counts.popitem(last=False)
        return f"{count:08x}"

    def authorization(self, challenge: Challenge, method: str, uri: str, body: bytes = b"") -> str:
        """The ``Authorization`` / ``Proxy-Authorization`` value answering ``challenge``.

        ``uri`` is the Request-URI and ``body`` the message body, hashed only
        for qop=auth-int.  Raises SipParseError for a challenge that cannot
        be answered (see choose_challenge).
        """
        reason = _unusable_reason(challenge)
        realm, nonce, algorithm = challenge.realm, challenge.nonce, challenge.algorithm
        if reason is not None or realm is None or nonce is None:
            raise SipParseError(f"cannot answer challenge: {reason}")

        qop: str | None = None
        if challenge.qop:
            qop = "auth" if "auth" in challenge.qop else "auth-int"
        nc: str | None = None
        cnonce: str | None = None
        if qop is not None:
            cnonce = self._cnonce_factory()
            if not cnonce:
                raise SipParseError("cnonce factory returned an empty cnonce")
            nc = self._next_nc(nonce)

        response = digest_response(
            algorithm=algorithm,
            username=self.username,
            realm=realm,
            password=self._password,
            method=method,
            uri=uri,
            nonce=nonce,
            qop=qop,
            nc=nc,
            cnonce=cnonce,
            body=body,
        )

        hasher, _sess = _hash_for(algorithm)
        if challenge.userhash:
            # RFC 7616 3.4.4: send H(username:realm) instead of the name.
            user_param = "username=" + _quote_value("username", _h(hasher, self.username, realm))
        elif _needs_ext_value(self.username) and (challenge.charset or "").upper() == "UTF-8":
            # RFC 7616 3.4.4: username* carries names a quoted-string cannot.
            user_param = "username*=" + _encode_ext_value(self.username)
        else:
            user_param = "username=" + _quote_value("username", self.username)

        parts = [
            user_param,
            "realm=" + _quote_value("realm", realm),
            "nonce=" + _quote_value("nonce", nonce),
            "uri=" + _quote_value("uri", uri),
            f'response="{response}"',
            "algorithm=" + algorithm,
        ]
        if cnonce is not None:
            parts.append("cnonce=" + _quote_value("cnonce", cnonce))
        if challenge.opaque is not None:
            parts.append("opaque=" + _quote_value("opaque", challenge.opaque))
        if qop is not None and nc is not None:
            parts.append("qop=" + qop)
            parts.append("nc=" + nc)
        if challenge.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)

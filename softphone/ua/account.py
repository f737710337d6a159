"""Accounts: who we are at which SIP service, and how to reach it."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from softphone.sip.errors import SipParseError
from softphone.sip.srtp_sdp import DEFAULT_SUITES, KEY_EXCHANGES, SRTP_POLICIES, SUITES, KeyExchange, SrtpPolicy
from softphone.sip.uri import SipUri, parse_uri
from softphone.transport.errors import TransportError
from softphone.transport.stun import StunError, parse_server
from softphone.transport.tls import TlsSettings

TransportName = Literal["udp", "tcp", "tls"]
TRANSPORT_NAMES: tuple[TransportName, ...] = ("udp", "tcp", "tls")


class AccountError(ValueError):
    """An account setting that cannot be used."""


@dataclass
class Forwarding:
    """Call forwarding answered with 302 (RFC 3261 21.3.3): ``always``, on ``busy``, or after ``no_answer`` seconds."""

    target: str
    always: bool = False
    busy: bool = False
    no_answer: float | None = None


@dataclass
class Account:
    """One SIP identity.

    ``aor`` is the address of record (``sip:alice@example.com``);
    ``registrar`` defaults to its domain and is also the next hop of
    requests outside dialogs unless ``outbound_proxy`` is set (then every
    request goes there, with a pre-loaded Route). ``auto_answer`` is a delay
    in seconds, None to ring until answered. ``direct_calls``: whether calls,
    messages and subscriptions may come straight from any address ("IP calls")
    instead of only through the account's own server; None means yes for an
    account without a server (LAN only) and no for one with a registrar or proxy.
    ``lan_announce``: whether the account is announced to the LAN by mDNS/DNS-SD
    (:mod:`softphone.ua.lan`) while LAN discovery runs; None means yes without a
    server and no with one.
    ``srtp``: media encryption ``off``, ``optional`` or ``mandatory``; None
    means mandatory on a TLS account and optional elsewhere. ``srtp_keys``:
    SDES (keys in the SDP, only over TLS unless ``srtp_clear_keys``),
    DTLS-SRTP or either; ``srtp_suites`` in order of preference.
    """

    aor: str
    password: str = field(default="", repr=False)
    auth_user: str | None = None
    registrar: str | None = None
    outbound_proxy: str | None = None
    transport: TransportName = "udp"
    display_name: str | None = None
    expires: int = 600
    photo_url: str | None = None
    auto_answer: float | None = None
    ca_file: str | None = None
    register: bool = True
    busy: bool = False
    forwarding: Forwarding | None = None
    direct_calls: bool | None = None
    lan_announce: bool | None = None
    # SHA-256 fingerprints of server certificates the user chose to trust although they do not verify.
    tls_fingerprints: tuple[str, ...] = ()
    srtp: SrtpPolicy | None = None
    srtp_keys: KeyExchange = "any"
    srtp_suites: tuple[str, ...] = DEFAULT_SUITES
    srtp_clear_keys: bool = False
    # A client certificate for TLS to this account's servers (PEM, with its key unless tls_key names it).
    tls_certificate: str | None = None
    tls_key: str | None = None
    # HOST[:PORT] of a STUN server (RFC 8489): the SDP names the media port's public address behind a NAT.
    stun_server: str | None = None
    # HOST[:PORT] of a TURN server (RFC 8656) and its long-term credentials: calls relay their media through it.
    turn_server: str | None = None
    turn_user: str | None = None
    turn_password: str | None = field(default=None, repr=False)
    # How to reach the TURN server (RFC 8656 3.1): "udp", or "tcp"/"tls" for networks that block UDP.
    turn_transport: TransportName = "udp"
    # ICE (RFC 8445) for calls: None means on when a STUN or TURN server is set.
    ice: bool | None = None

    @property
    def ice_enabled(self) -> bool:
        if self.ice is not None:
            return self.ice
        return self.stun_server is not None or self.turn_server is not None

    def __post_init__(self) -> None:
        # What people type (``alice@example.com``, ``127.0.0.1:5060``) becomes a URI here, once.
        self.aor = sip_address(self.aor, "address")
        uri = self.uri
        if self.transport not in TRANSPORT_NAMES:
            raise AccountError(f"the transport must be one of {', '.join(TRANSPORT_NAMES)}, not {self.transport!r}")
        if uri.user is None:
            raise AccountError(f"the address {_shown(self.aor)} has no user name (type it as user@host)")
        if self.registrar is not None:
            self.registrar = sip_address(self.registrar, "registrar")
        if self.outbound_proxy is not None:
            self.outbound_proxy = sip_address(self.outbound_proxy, "outbound proxy")
        if self.stun_server is not None:
            self.stun_server = _stun_server(self.stun_server)
        if self.turn_server is not None:
            self.turn_server = _stun_server(self.turn_server.strip().removeprefix("turn:"), "TURN")
        if self.turn_transport not in TRANSPORT_NAMES:
            raise AccountError(
                f"the TURN transport must be one of {', '.join(TRANSPORT_NAMES)}, not {self.turn_transport!r}"
            )
        if self.turn_server is not None and not (self.turn_user and self.turn_password is not None):
            raise AccountError(f"the TURN server {self.turn_server} needs a user name and a password")
        if self.expires < 0:
            raise AccountError("the registration interval must not be negative")
        if self.srtp is not None and self.srtp not in SRTP_POLICIES:
            raise AccountError(f"srtp must be one of {', '.join(SRTP_POLICIES)}, not {self.srtp!r}")
        if self.srtp_keys not in KEY_EXCHANGES:
            raise AccountError(f"srtp keys must be one of {', '.join(KEY_EXCHANGES)}, not {self.srtp_keys!r}")
        for suite in self.srtp_suites:
            if suite not in SUITES:
                raise AccountError(f"unknown SRTP suite {suite!r}; known: {', '.join(SUITES)}")
        if self.tls_certificate is not None:
            try:
                TlsSettings().add_identity((), self.tls_certificate, self.tls_key)
            except TransportError as exc:
                raise AccountError(str(exc)) from None

    @property
    def server_names(self) -> tuple[str, ...]:
        """The names of this account's servers as TLS knows them (RFC 5922): its domain, registrar and proxy."""
        names = [self.domain, self.registrar_uri.host]
        if self.outbound_proxy_uri is not None:
            names.append(self.outbound_proxy_uri.host)
        return tuple(dict.fromkeys(name.lower().strip("[]").rstrip(".") for name in names))

    @property
    def srtp_policy(self) -> SrtpPolicy:
        """The media encryption policy in force: mandatory on TLS accounts and optional elsewhere, unless set."""
        if self.srtp is not None:
            return self.srtp
        secure = self.transport == "tls" or self.uri.scheme == "sips"
        return "mandatory" if secure else "optional"

    @property
    def has_server(self) -> bool:
        return self.register or self.outbound_proxy is not None

    @property
    def accepts_direct(self) -> bool:
        """True when requests may reach this account from anywhere, not only through its server."""
        return self.direct_calls if self.direct_calls is not None else not self.has_server

    @property
    def announces_on_lan(self) -> bool:
        """True when LAN discovery announces this account (see ``lan_announce``)."""
        return self.lan_announce if self.lan_announce is not None else not self.has_server

    @property
    def uri(self) -> SipUri:
        return _sip_uri(self.aor, "address of record")

    @property
    def user(self) -> str:
        return self.uri.user or ""

    @property
    def domain(self) -> str:
        return self.uri.host

    @property
    def username(self) -> str:
        """The digest user name: ``auth_user``, else the AOR's user part."""
        return self.auth_user or self.user

    @property
    def registrar_uri(self) -> SipUri:
        if self.registrar is not None:
            return _sip_uri(self.registrar, "registrar")
        uri = self.uri
        return SipUri(scheme=uri.scheme, host=uri.host, port=uri.port)

    @property
    def outbound_proxy_uri(self) -> SipUri | None:
        return None if self.outbound_proxy is None else _sip_uri(self.outbound_proxy, "outbound proxy")

    @property
    def next_hop(self) -> SipUri:
        """Where requests outside a dialog go first, with our transport unless the URI names one."""
        uri = self.outbound_proxy_uri or self.registrar_uri
        if uri.transport is None and self.transport != "udp" and uri.scheme == "sip":
            uri = uri.replace(params={**uri.params, "transport": self.transport})
        return uri

    def __str__(self) -> str:
        return self.aor


# ``scheme:`` as RFC 3986 spells it; ``host:5060`` is told apart by its digits-only port.
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_PORT_RE = re.compile(r"^[0-9]{1,5}(?:[;?].*)?$", re.DOTALL)


def sip_address(text: str, what: str = "address") -> str:
    """``text`` as a ``sip:``/``sips:`` URI: a full URI, or ``host``, ``host:port``, ``user@host[:port]``,
    ``[2001:db8::1]:5060`` or a bare IPv6 address, which get ``sip:`` in front. Raises :class:`AccountError`
    in plain words (``what`` names the field) for anything else."""
    value = text.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    if not value:
        raise AccountError(f"the {what} is empty")
    scheme, colon, rest = value.partition(":")
    if colon and scheme.lower() in ("sip", "sips"):
        value = f"{scheme.lower()}:{rest}"
    elif colon and "@" not in scheme and _SCHEME_RE.match(value) and not _PORT_RE.match(rest):
        if value.count(":") >= 2 and _bare_ipv6(value):
            value = f"sip:[{value}]"
        else:
            raise AccountError(
                f"the {what} {_shown(text)} is not a SIP address (type a host name, host:port or a sip: address)"
            )
    elif _bare_ipv6(value):
        value = f"sip:[{value}]"
    else:
        value = f"sip:{value}"
    _sip_uri(value, what, typed=text)
    return value


def _stun_server(text: str, kind: str = "STUN") -> str | None:
    """A STUN (or TURN) server as typed, checked; an empty one is none."""
    if not text.strip():
        return None
    try:
        parse_server(text)
    except StunError as exc:
        raise AccountError(str(exc).replace("STUN", kind, 1)) from exc
    return text.strip()


def _bare_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text.split("@")[-1])
    except ValueError:
        return False
    return "@" not in text


def _shown(text: str) -> str:
    """Typed text quoted for a message: on one line and not too long."""
    flat = " ".join(text.split())
    return f"“{flat[:80]}…”" if len(flat) > 80 else f"“{flat}”"


def _sip_uri(text: str, what: str, *, typed: str | None = None) -> SipUri:
    try:
        uri = parse_uri(text)
    except SipParseError as exc:
        raise AccountError(
            f"the {what} {_shown(typed if typed is not None else text)} is not an address that can be used "
            "(type a host name, host:port or a sip: address)"
        ) from exc
    if not isinstance(uri, SipUri):
        raise AccountError(f"the {what} {_shown(typed or text)} is not a SIP address")
    return uri


def password_from_env(variable: str) -> str:
    try:
        return os.environ[variable]
    except KeyError:
        raise AccountError(f"environment variable {variable} is not set") from None


def password_from_file(path: str | Path) -> str:
    """The first line of a file (without its line ending)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AccountError(f"cannot read the password file {path}: {exc.strerror or exc}") from exc
    lines = text.splitlines()
    return lines[0] if lines else ""


def password_to_file(path: str | Path, password: str) -> Path:
    """Keep ``password`` as the one line of ``path``, readable and writable by the user alone (mode 0600, in a
    directory only the user may enter when it is created here); written to a temporary file and renamed, so a
    crash leaves the old file or the new one. Raises :class:`AccountError` saying why it could not."""
    path = Path(path)
    if "\n" in password or "\r" in password:
        raise AccountError("a password cannot span lines")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                tmp.write(password + "\n")
                tmp.flush()
                os.fsync(tmp.fileno())
            os.chmod(tmp_name, 0o600)
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
    except OSError as exc:
        raise AccountError(f"cannot write the password file {path}: {exc.strerror or exc}") from exc
    return path


def remove_password_file(path: str | Path) -> None:
    """Delete a password file kept with :func:`password_to_file` (nothing when it is gone already)."""
    with contextlib.suppress(FileNotFoundError):
        Path(path).unlink()


def keyring_problem(service: str = "softphone") -> str | None:
    """Why the desktop keyring cannot keep passwords (no keyring package, no Secret Service …), or None.

    Reads one entry that does not exist: nothing is written, and a keyring that is there but locked may
    ask the user to unlock it, as it would for the first password read.
    """
    try:
        import keyring  # type: ignore[import-not-found,unused-ignore]
        from keyring.backends import fail  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return "the keyring package is not installed"
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return "no system keyring (Secret Service) is running"
    try:
        keyring.get_password(service, "softphone-keyring-probe")
    except Exception as exc:
        return f"the system keyring does not answer ({exc or type(exc).__name__})"
    return None


def password_to_keyring(aor: str, password: str, service: str = "softphone") -> None:
    """Keep ``password`` for ``aor`` in the desktop keyring; raises :class:`AccountError` saying why it can't."""
    try:
        import keyring  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise AccountError("the keyring package is not installed") from exc
    try:
        keyring.set_password(service, aor, password)
    except Exception as exc:
        raise AccountError(f"the keyring refused the password: {exc or type(exc).__name__}") from exc


def forget_keyring_password(aor: str, service: str = "softphone") -> None:
    """Delete ``aor``'s password from the desktop keyring, when there is one to delete (never raises)."""
    try:
        import keyring  # type: ignore[import-not-found,unused-ignore]

        keyring.delete_password(service, aor)
    except Exception:
        return


def password_from_keyring(aor: str, service: str = "softphone") -> str | None:
    """The password stored in the desktop keyring for ``aor``, when the keyring package is installed."""
    try:
        import keyring  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        value = keyring.get_password(service, aor)
    except Exception:
        return None
    return value if isinstance(value, str) else None

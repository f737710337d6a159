"""Addresses, events and logging shared by the transport modules."""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from dataclasses import dataclass, field
from typing import TypeAlias

from softphone.sip.dialog import VIA_PLACEHOLDER_HOST
from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.transport.errors import TransportError

log = logging.getLogger("softphone.transport")
trace = logging.getLogger("softphone.sip.trace")

# The top Via host a UA writes when it leaves the sent-by to the transport.
VIA_PLACEHOLDER = VIA_PLACEHOLDER_HOST

TRANSPORTS = ("UDP", "TCP", "TLS")
RELIABLE = frozenset({"TCP", "TLS"})

Message: TypeAlias = Request | Response


def default_port(transport: str) -> int:
    # RFC 3261 19.1.2: 5060 for UDP and TCP, 5061 for TLS.
    return 5061 if transport.upper() == "TLS" else 5060


def normalize_transport(transport: str) -> str:
    name = transport.upper()
    if name not in TRANSPORTS:
        raise TransportError(f"unsupported transport {transport!r} (expected one of {', '.join(TRANSPORTS)})")
    return name


def ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of an IP literal (IPv6 with or without brackets), None for a host name."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def normalize_host(host: str) -> str:
    """Canonical text of an IP literal without brackets; a host name in lower case."""
    address = ip_address(host)
    if address is None:
        return host.lower()
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def address_family(host: str) -> socket.AddressFamily:
    address = ip_address(host)
    if address is None:
        raise TransportError(f"{host!r} is not an IP address; resolve it first (RFC 3263)")
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


def host_port(host: str, port: int) -> str:
    """host:port as written in a Via or URI (IPv6 in brackets)."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send: a transport and a resolved IP address and port.

    ``server_name`` is the name a TLS server's certificate must match
    (RFC 5922: the domain of the URI that was resolved); ``host`` is used
    when it is None. It takes no part in comparisons: a target is its address.
    """

    transport: str
    host: str
    port: int
    server_name: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "transport", normalize_transport(self.transport))
        if ip_address(self.host) is None:
            raise TransportError(f"target host {self.host!r} is not an IP address; resolve it first (RFC 3263)")
        object.__setattr__(self, "host", normalize_host(self.host))
        if not 0 < self.port < 65536:
            raise TransportError(f"target port {self.port} is out of range")

    @property
    def key(self) -> tuple[str, str, int]:
        return self.transport, self.host, self.port

    @property
    def reliable(self) -> bool:
        """Whether transactions over it skip retransmissions (RFC 3261 17.1.1.2)."""
        return self.transport in RELIABLE

    def __str__(self) -> str:
        return f"{self.transport} {host_port(self.host, self.port)}"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a message came from.

    ``connection_id`` names the TCP/TLS connection it arrived on, or for UDP
    the local socket that received it; pass the Source back to
    :meth:`TransportManager.send` to answer over the same connection or
    from the same socket (RFC 3261 18.2.2, RFC 3581 4).
    """

    transport: str
    remote_host: str
    remote_port: int
    connection_id: int

    @property
    def target(self) -> Target:
        return Target(self.transport, self.remote_host, self.remote_port)

    @property
    def reliable(self) -> bool:
        return self.transport in RELIABLE

    def __str__(self) -> str:
        return f"{self.transport} {host_port(self.remote_host, self.remote_port)}"


@dataclass(frozen=True, slots=True)
class Received:
    """A message arrived (requests carry received/rport already, RFC 3261 18.2.1)."""

    message: Message
    source: Source


@dataclass(frozen=True, slots=True)
class BadRequest:
    """A request that was framed but is invalid; ``error.partial`` is the request, ``error.status_code`` the answer."""

    error: SipParseError
    source: Source


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """A failure outside any :meth:`TransportManager.send`: ICMP errors, lost flows, failed keep-alives."""

    error: TransportError


TransportEvent: TypeAlias = Received | BadRequest | TransportFailed

_SECRET_RE = re.compile(rb"^((?:Proxy-)?Authorization[ \t]*:)[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.I | re.M)


# RFC 4568 9.1: the key||salt of an SDES line (and of any further keys after ';').
_SDES_KEY_RE = re.compile(rb"(inline:)([A-Za-z0-9+/=]+)")
_CRYPTO_LINE_RE = re.compile(rb"^a=crypto:[^\r\n]*", re.M)


def _hide_keys(line: re.Match[bytes]) -> bytes:
    # Same length, so the Content-Length of a traced or exported message still holds.
    return _SDES_KEY_RE.sub(lambda key: key.group(1) + b"*" * len(key.group(2)), line.group(0))


def redacted(data: bytes) -> str:
    """The message as text with Authorization and Proxy-Authorization values and SDES keys (a=crypto) hidden."""
    head, sep, body = data.partition(b"\r\n\r\n")
    head = _SECRET_RE.sub(rb"\1 <redacted>", head)
    body = _CRYPTO_LINE_RE.sub(_hide_keys, body)
    return (head + sep + body).decode("utf-8", "replace")


def trace_message(direction: str, peer: str, data: bytes) -> None:
    if trace.isEnabledFor(logging.DEBUG):
        trace.debug("%s %s (%d bytes)\n%s", direction, peer, len(data), redacted(data))

"""ICE candidates (RFC 8445 5.1) and their SDP attribute (RFC 8839 5.1).

A phone has one UDP socket per call (rtcp-mux), so its candidates share one
*base*: the host candidate, the server-reflexive one the STUN server saw, and
the relayed one a TURN server allocated from that same socket. :func:`local_candidates`
builds them with RFC 8445 5.1.2 priorities; :func:`parse_candidate` reads a
peer's a=candidate value and raises :class:`ValueError` for anything it cannot
use, so a bad line is skipped rather than failing the call.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

__all__ = [
    "Candidate",
    "CandidateType",
    "IceDescription",
    "NegotiatedIce",
    "local_candidates",
    "pair_priority",
    "parse_candidate",
    "priority",
]

Address = tuple[str, int]

_MAX_FOUNDATION = 32
_ICE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/")


class CandidateType(enum.Enum):
    HOST = "host"
    SRFLX = "srflx"
    PRFLX = "prflx"
    RELAY = "relay"

    @property
    def preference(self) -> int:
        """RFC 8445 5.1.2.2: the recommended type preferences."""
        return {"host": 126, "prflx": 110, "srflx": 100, "relay": 0}[self.value]


@dataclass(frozen=True, slots=True)
class Candidate:
    foundation: str
    component: int
    priority: int
    host: str
    port: int
    type: CandidateType
    related: Address | None = None

    @property
    def address(self) -> Address:
        return (self.host, self.port)

    def sdp(self) -> str:
        """The value of an a=candidate line (RFC 8839 5.1)."""
        text = f"{self.foundation} {self.component} UDP {self.priority} {self.host} {self.port} typ {self.type.value}"
        if self.related is not None:
            text += f" raddr {self.related[0]} rport {self.related[1]}"
        return text


@dataclass(frozen=True, slots=True)
class IceDescription:
    """One side's ICE: credentials, candidates, and whether it is a lite implementation (RFC 8445 2.5)."""

    ufrag: str
    pwd: str
    candidates: tuple[Candidate, ...]
    lite: bool = False


@dataclass(frozen=True, slots=True)
class NegotiatedIce:
    """Both sides' ICE for a stream, and our role (RFC 8445 6.1.1: the full offerer controls)."""

    local: IceDescription
    remote: IceDescription
    controlling: bool


def priority(kind: CandidateType, component: int = 1, local_preference: int = 65535) -> int:
    """RFC 8445 5.1.2.1."""
    return (kind.preference << 24) + (local_preference << 8) + (256 - component)


def pair_priority(controlling: int, controlled: int) -> int:
    """RFC 8445 6.1.2.3: G is the controlling agent's candidate priority, D the controlled one's."""
    g, d = controlling, controlled
    return (1 << 32) * min(g, d) + 2 * max(g, d) + (1 if g > d else 0)


def local_candidates(
    host: Address, reflexive: Address | None = None, relayed: Address | None = None
) -> tuple[Candidate, ...]:
    """Our component-1 candidates: host, server-reflexive when it differs from host, relayed."""
    found = [Candidate("1", 1, priority(CandidateType.HOST), host[0], host[1], CandidateType.HOST)]
    if reflexive is not None and reflexive != host:
        found.append(Candidate("2", 1, priority(CandidateType.SRFLX), *reflexive, CandidateType.SRFLX, related=host))
    if relayed is not None:
        related = reflexive if reflexive is not None else host
        found.append(Candidate("3", 1, priority(CandidateType.RELAY), *relayed, CandidateType.RELAY, related=related))
    return tuple(found)


def parse_candidate(value: str) -> Candidate:
    """A peer's a=candidate value; ValueError for what is malformed or not a UDP candidate with an IP address."""
    fields = value.split()
    if len(fields) < 8 or fields[6] != "typ":
        raise ValueError("a candidate needs foundation, component, transport, priority, address, port, typ, type")
    foundation, component, transport, prio, host, port = fields[:6]
    if not 1 <= len(foundation) <= _MAX_FOUNDATION or not set(foundation) <= _ICE_CHARS:
        raise ValueError("bad foundation")
    if transport.upper() != "UDP":
        raise ValueError(f"transport {transport[:10]!r} is not UDP")
    if not (component.isdigit() and len(component) <= 3 and 1 <= int(component) <= 256):
        raise ValueError("bad component ID")
    if not (prio.isdigit() and len(prio) <= 10 and 1 <= int(prio) < 2**31):
        raise ValueError("bad priority")
    try:
        kind = CandidateType(fields[7])
    except ValueError:
        raise ValueError(f"unknown candidate type {fields[7][:10]!r}") from None
    # Host names (RFC 8839 5.1 allows FQDNs, browsers send .local mDNS names) are not resolved: skipped.
    address = _ip(host)
    related: Address | None = None
    rest = fields[8:]
    extensions = dict(zip(rest[::2], rest[1::2], strict=False))
    if "raddr" in extensions and "rport" in extensions:
        try:
            related = (_ip(extensions["raddr"]), _port(extensions["rport"], allow_zero=True))
        except ValueError:
            related = None
    return Candidate(foundation, int(component), int(prio), address, _port(port), kind, related)


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not an IP address") from None


def _port(text: str, *, allow_zero: bool = False) -> int:
    if not (text.isdigit() and len(text) <= 5 and (0 if allow_zero else 1) <= int(text) <= 65535):
        raise ValueError(f"bad port {text[:10]!r}")
    return int(text)

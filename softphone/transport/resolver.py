"""Locating SIP servers (RFC 3263 4): NAPTR, SRV (RFC 2782) and A/AAAA, with dnspython's asyncio resolver.

:func:`resolve` returns every target in failover order. The UA sends to the
first and moves to the next on a :class:`TransportError`, a transaction
timeout or a 503 (RFC 3263 4.3), each try being a new transaction.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdata
import dns.resolver
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.NAPTR import NAPTR
from dns.rdtypes.IN.SRV import SRV

from softphone.sip.errors import SipParseError
from softphone.sip.uri import SipUri, parse_uri
from softphone.transport.base import Target, default_port, ip_address, log, normalize_transport
from softphone.transport.errors import ResolveError, os_error_text

# RFC 3263 4.1: the NAPTR services of SIP and the transport each stands for.
NAPTR_SERVICES = {"SIP+D2U": "UDP", "SIP+D2T": "TCP", "SIPS+D2T": "TLS"}


class RandInt(Protocol):
    def randint(self, a: int, b: int) -> int: ...


@dataclass(frozen=True, slots=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str


def srv_order(records: Sequence[SrvRecord], rng: RandInt) -> list[SrvRecord]:
    """Order SRV records for trying: by priority, and within one by weighted random choice (RFC 2782)."""
    ordered: list[SrvRecord] = []
    for priority in sorted({r.priority for r in records}):
        # RFC 2782: zero-weight records first, so that they are chosen only by a draw of 0; then a fixed
        # order, so that the outcome depends on the draws alone and not on the order of the DNS answer.
        group = sorted((r for r in records if r.priority == priority), key=lambda r: (r.weight != 0, r.target, r.port))
        while group:
            total = sum(r.weight for r in group)
            draw = rng.randint(0, total)
            running = 0
            for index, record in enumerate(group):
                running += record.weight
                if running >= draw:
                    ordered.append(group.pop(index))
                    break
    return ordered


@dataclass
class _Lookup:
    """What one resolution asked and what went wrong, for the error message."""

    uri: str
    problems: list[str] = field(default_factory=list)


class _NoSuchDomain(Exception):
    pass


class _Unanswered(Exception):
    pass


class SipResolver:
    """RFC 3263 server location with a configurable resolver.

    ``nameservers`` (IP addresses) and ``port`` select the DNS servers;
    None uses the system's configuration. ``transports`` are the ones the
    UA supports, in the order SRV records are tried when a domain has no
    NAPTR records. ``prefer_ipv6`` puts AAAA addresses before A ones;
    ``ipv4``/``ipv6`` drop a family. ``rng`` draws the SRV weights.
    """

    def __init__(
        self,
        *,
        nameservers: Sequence[str] | None = None,
        port: int = 53,
        timeout: float = 5.0,
        transports: Sequence[str] = ("TLS", "TCP", "UDP"),
        prefer_ipv6: bool = True,
        ipv4: bool = True,
        ipv6: bool = True,
        rng: RandInt | None = None,
    ) -> None:
        try:
            self._resolver = dns.asyncresolver.Resolver(configure=nameservers is None)
        except dns.resolver.NoResolverConfiguration as exc:
            raise ResolveError(f"no DNS servers configured: {exc}") from exc
        # The port first: some dnspython versions bind it to the nameservers when they are set.
        self._resolver.port = port
        if nameservers is not None:
            try:
                self._resolver.nameservers = list(nameservers)
            except ValueError as exc:
                raise ResolveError(f"bad DNS server address: {exc}") from exc
        self._resolver.lifetime = timeout
        self._resolver.timeout = min(timeout, 2.0)
        self._transports = [normalize_transport(t) for t in transports]
        self._prefer_ipv6 = prefer_ipv6
        self._families = [f for f, on in (("AAAA", ipv6), ("A", ipv4)) if on]
        if not prefer_ipv6:
            self._families.reverse()
        self._rng: RandInt = rng if rng is not None else random.SystemRandom()

    async def resolve(self, uri: SipUri | str, *, outbound_proxy: SipUri | str | None = None) -> list[Target]:
        """Targets for a request to ``uri`` in failover order; raise ResolveError when there are none.

        An outbound proxy replaces the URI's host entirely; for a ``sips:``
        URI it is reached over TLS too (RFC 3261 26.2.2).
        """
        request_uri = _sip_uri(uri)
        secure = request_uri.scheme.lower() == "sips"
        next_hop = request_uri if outbound_proxy is None else _sip_uri(outbound_proxy)
        lookup = _Lookup(str(next_hop))
        try:
            targets = await self._locate(next_hop, secure or next_hop.scheme.lower() == "sips", lookup)
        except _NoSuchDomain as exc:
            raise ResolveError(f"cannot resolve {next_hop}: {exc} does not exist (NXDOMAIN)") from None
        except _Unanswered as exc:
            # Every further query would wait as long, so the resolution ends here.
            raise ResolveError(f"cannot resolve {next_hop}: {exc}") from None
        unique = list(dict.fromkeys(targets))
        if not unique:
            detail = "; ".join(dict.fromkeys(lookup.problems)) or "no usable DNS records"
            raise ResolveError(f"cannot resolve {next_hop}: {detail}")
        log.debug("%s resolves to %s", next_hop, ", ".join(map(str, unique)))
        return unique

    async def _locate(self, uri: SipUri, secure: bool, lookup: _Lookup) -> list[Target]:
        # RFC 3263 4: maddr, when present, is the target.
        host = uri.maddr or uri.host
        transport = _transport_param(uri, secure)
        if ip_address(host) is not None:
            chosen = transport or ("TLS" if secure else "UDP")
            return [Target(chosen, host, uri.port or default_port(chosen))]
        name = host.lower().rstrip(".")
        if uri.port is not None:
            # RFC 3263 4.2: an explicit port means A/AAAA only.
            chosen = transport or ("TLS" if secure else self._unsecure_default())
            return await self._addresses(name, uri.port, chosen, name, lookup)
        if transport is not None:
            records = await self._srv(_srv_name(transport, name), lookup)
            if records is not None:
                return await self._srv_targets(records, transport, name, lookup)
            return await self._addresses(name, default_port(transport), transport, name, lookup)
        targets: list[Target] = []
        naptr = await self._naptr(name, secure, lookup)
        if naptr:
            for service_transport, replacement in naptr:
                records = await self._srv(replacement, lookup)
                if records:
                    targets += await self._srv_targets(records, service_transport, name, lookup)
        else:
            # RFC 3263 4.1: no NAPTR, so an SRV query for each transport the client supports.
            for candidate in self._transports:
                if secure and candidate != "TLS":
                    continue
                records = await self._srv(_srv_name(candidate, name), lookup)
                if records:
                    targets += await self._srv_targets(records, candidate, name, lookup)
        if targets:
            return targets
        # RFC 3263 4.2: no SRV records, so A/AAAA at the transport's default port.
        chosen = "TLS" if secure else self._unsecure_default()
        return await self._addresses(name, default_port(chosen), chosen, name, lookup)

    def _unsecure_default(self) -> str:
        return "UDP" if "UDP" in self._transports else self._transports[0]

    async def _query(self, name: str, rdtype: str, lookup: _Lookup, *, domain: bool = False) -> list[dns.rdata.Rdata]:
        """The records of a name; NXDOMAIN of the URI's own domain, or a DNS server that is silent, ends it all."""
        try:
            answer = await self._resolver.resolve(dns.name.from_text(name), rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            if domain:
                raise _NoSuchDomain(name) from None
            if rdtype != "SRV":
                lookup.problems.append(f"{name} does not exist (NXDOMAIN)")
            return []
        except dns.resolver.NoAnswer:
            return []
        except dns.exception.Timeout:
            raise _Unanswered(f"{rdtype} query for {name} timed out") from None
        except (dns.resolver.NoNameservers, dns.exception.DNSException) as exc:
            lookup.problems.append(f"{rdtype} query for {name} failed: {exc}")
            return []
        except OSError as exc:
            # No socket for the query (out of file descriptors): this lookup fails, the caller goes on.
            lookup.problems.append(f"{rdtype} query for {name} failed: {os_error_text(exc)}")
            return []
        return list(answer)

    async def _naptr(self, name: str, secure: bool, lookup: _Lookup) -> list[tuple[str, str]]:
        """(transport, SRV name) of the usable NAPTR records, in order and preference (RFC 3263 4.1)."""
        usable: list[tuple[int, int, str, str]] = []
        for record in await self._query(name, "NAPTR", lookup, domain=True):
            if not isinstance(record, NAPTR):
                continue
            flags = _text(record.flags).lower()
            service = _text(record.service).upper()
            transport = NAPTR_SERVICES.get(service)
            if flags != "s" or transport is None or transport not in self._transports:
                continue
            # RFC 3263 4.1: a SIPS URI keeps only SIPS services.
            if secure and not service.startswith("SIPS+"):
                continue
            replacement = str(record.replacement).rstrip(".")
            if replacement:
                usable.append((record.order, record.preference, transport, replacement))
        usable.sort(key=lambda r: (r[0], r[1]))
        return [(transport, replacement) for _, _, transport, replacement in usable]

    async def _srv(self, name: str, lookup: _Lookup) -> list[SrvRecord] | None:
        """The SRV records of a name, None when there are none; empty when the service is declared absent."""
        records = [
            SrvRecord(r.priority, r.weight, r.port, str(r.target).rstrip("."))
            for r in await self._query(name, "SRV", lookup)
            if isinstance(r, SRV)
        ]
        if not records:
            return None
        # RFC 2782: a single record with target "." means the service is not offered.
        offered = [r for r in records if r.target]
        if not offered:
            lookup.problems.append(f"{name} says the service is not offered (SRV target '.')")
        return offered

    async def _srv_targets(
        self, records: list[SrvRecord], transport: str, server_name: str, lookup: _Lookup
    ) -> list[Target]:
        targets: list[Target] = []
        for record in srv_order(records, self._rng):
            targets += await self._addresses(record.target, record.port, transport, server_name, lookup)
        return targets

    async def _addresses(self, name: str, port: int, transport: str, server_name: str, lookup: _Lookup) -> list[Target]:
        answers = await asyncio.gather(*(self._query(name, family, lookup) for family in self._families))
        # RFC 5922 4.1: a TLS server is verified against the domain that was resolved.
        tls_name = server_name if transport == "TLS" else None
        targets = [
            Target(transport, record.address, port, tls_name)
            for records in answers
            for record in records
            if isinstance(record, (A, AAAA))
        ]
        if not targets:
            lookup.problems.append(f"no {'/'.join(self._families)} records for {name}")
        return targets


def _text(value: object) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _sip_uri(uri: SipUri | str) -> SipUri:
    if isinstance(uri, str):
        try:
            parsed = parse_uri(uri)
        except SipParseError as exc:
            raise ResolveError(f"cannot resolve {uri!r}: {exc}") from exc
    else:
        parsed = uri
    if not isinstance(parsed, SipUri):
        raise ResolveError(f"cannot resolve {uri}: only sip: and sips: URIs name a SIP server")
    return parsed


def _transport_param(uri: SipUri, secure: bool) -> str | None:
    value = uri.transport
    if value is None:
        return None
    if value == "udp":
        if secure:
            raise ResolveError(f"cannot resolve {uri}: a sips: URI can't use transport=udp")
        return "UDP"
    if value == "tcp":
        # RFC 3261 26.2.2: sips over TCP means TLS.
        return "TLS" if secure else "TCP"
    if value == "tls":
        return "TLS"
    raise ResolveError(f"cannot resolve {uri}: transport={value} is not supported")


def _srv_name(transport: str, name: str) -> str:
    return {"TLS": "_sips._tcp.", "TCP": "_sip._tcp.", "UDP": "_sip._udp."}[transport] + name


async def resolve(
    uri: SipUri | str,
    *,
    outbound_proxy: SipUri | str | None = None,
    nameservers: Sequence[str] | None = None,
    port: int = 53,
    timeout: float = 5.0,
    transports: Sequence[str] = ("TLS", "TCP", "UDP"),
    prefer_ipv6: bool = True,
    rng: RandInt | None = None,
) -> list[Target]:
    """RFC 3263 targets for ``uri`` in failover order (see :class:`SipResolver`)."""
    resolver = SipResolver(
        nameservers=nameservers,
        port=port,
        timeout=timeout,
        transports=transports,
        prefer_ipv6=prefer_ipv6,
        rng=rng,
    )
    return await resolver.resolve(uri, outbound_proxy=outbound_proxy)

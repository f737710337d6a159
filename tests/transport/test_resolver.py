"""RFC 3263 server location against a small authoritative DNS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset
import dns.zone
import pytest

from softphone.transport import ResolveError, SipResolver, Target, resolve
from softphone.transport.resolver import SrvRecord, srv_order

T = TypeVar("T")

# Addresses from the documentation ranges: resolved here, never contacted.
ZONE = """
$ORIGIN test.
$TTL 60
@               SOA   ns hostmaster 1 60 60 60 60
@               NS    ns
ns              A     127.0.0.1

naptr           NAPTR 20 10 "s" "SIP+D2U" "" _sip._udp.naptr.test.
naptr           NAPTR 10 20 "s" "SIP+D2T" "" _sip._tcp.naptr.test.
naptr           NAPTR 10 10 "s" "SIPS+D2T" "" _sips._tcp.naptr.test.
naptr           NAPTR 5 10 "u" "E2U+sip" "!^.*$!sip:x@naptr.test!" .
naptr           NAPTR 30 10 "s" "SIP+D2S" "" _sip._sctp.naptr.test.
_sips._tcp.naptr SRV  10 0 5061 tls.naptr.test.
_sip._tcp.naptr SRV   10 0 5060 tcp.naptr.test.
_sip._udp.naptr SRV   10 0 5060 udp.naptr.test.
tls.naptr       A     192.0.2.10
tcp.naptr       A     192.0.2.11
udp.naptr       A     192.0.2.12
udp.naptr       AAAA  2001:db8::12

srv             A     192.0.2.99
_sip._udp.srv   SRV   20 0 5070 c.srv.test.
_sip._udp.srv   SRV   10 60 5071 a.srv.test.
_sip._udp.srv   SRV   10 40 5072 b.srv.test.
_sip._tcp.srv   SRV   10 0 5080 a.srv.test.
a.srv           A     192.0.2.1
a.srv           AAAA  2001:db8::1
b.srv           A     192.0.2.2
c.srv           AAAA  2001:db8::3

plain           A     192.0.2.50
plain           AAAA  2001:db8::50

closed          A     192.0.2.60
_sip._udp.closed SRV  0 0 0 .

proxy           A     192.0.2.70
"""


def run(coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


class DnsServer(asyncio.DatagramProtocol):
    """Answers queries from a zone, authoritatively; remembers what was asked."""

    def __init__(self, zone: dns.zone.Zone) -> None:
        self.zone = zone
        self.queries: list[tuple[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        self.queries.append((question.name.to_text(omit_final_dot=True), dns.rdatatype.to_text(question.rdtype)))
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        origin = self.zone.origin
        node = self.zone.get_node(question.name) if origin and question.name.is_subdomain(origin) else None
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            rdataset = node.get_rdataset(question.rdclass, question.rdtype)
            if rdataset is not None:
                response.answer.append(dns.rrset.from_rdata_list(question.name, rdataset.ttl, list(rdataset)))
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@asynccontextmanager
async def dns_server() -> AsyncIterator[tuple[DnsServer, int]]:
    zone = dns.zone.from_text(ZONE, origin="test.", relativize=False)
    server = DnsServer(zone)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: server, local_addr=("127.0.0.1", 0)
    )
    try:
        yield server, transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


class Draw:
    """An RFC 2782 draw that always takes the lowest (0) or the highest number."""

    def __init__(self, highest: bool) -> None:
        self.highest = highest

    def randint(self, a: int, b: int) -> int:
        return b if self.highest else a


def resolver(port: int, **kwargs: Any) -> SipResolver:
    return SipResolver(nameservers=["127.0.0.1"], port=port, timeout=3.0, **kwargs)


def test_naptr_srv_a_path_in_naptr_order() -> None:
    async def scenario() -> None:
        async with dns_server() as (_, port):
            targets = await resolver(port).resolve("sip:alice@naptr.test")
            # Order 10 before 20; within order 10, preference 10 (SIPS+D2T) before 20.
            assert targets == [
                Target("TLS", "192.0.2.10", 5061, "naptr.test"),
                Target("TCP", "192.0.2.11", 5060),
                Target("UDP", "2001:db8::12", 5060),
                Target("UDP", "192.0.2.12", 5060),
            ]
            assert targets[0].server_name == "naptr.test"
            # A SIPS URI keeps only the SIPS services (RFC 3263 4.1).
            assert await resolver(port).resolve("sips:alice@naptr.test") == [Target("TLS", "192.0.2.10", 5061)]
            # A client without TLS drops that service; IPv4 first when asked.
            no_tls = resolver(port, transports=("UDP", "TCP"), prefer_ipv6=False)
            assert await no_tls.resolve("sip:naptr.test") == [
                Target("TCP", "192.0.2.11", 5060),
                Target("UDP", "192.0.2.12", 5060),
                Target("UDP", "2001:db8::12", 5060),
            ]

    run(scenario())


def test_srv_without_naptr_priority_and_weights() -> None:
    async def scenario() -> None:
        async with dns_server() as (server, port):
            low = await resolver(port, rng=Draw(highest=False), transports=("UDP",)).resolve("sip:srv.test")
            assert [(t.host, t.port) for t in low] == [
                ("2001:db8::1", 5071),
                ("192.0.2.1", 5071),
                ("192.0.2.2", 5072),
                ("2001:db8::3", 5070),
            ]
            high = await resolver(port, rng=Draw(highest=True), transports=("UDP",)).resolve("sip:srv.test")
            assert [t.port for t in high] == [5072, 5071, 5071, 5070]
            # All transports: _sips._tcp (absent), then _sip._tcp, then _sip._udp.
            server.queries.clear()
            every = await resolver(port, rng=Draw(highest=False)).resolve("sip:srv.test")
            assert every[0] == Target("TCP", "2001:db8::1", 5080) and every[2].transport == "UDP"
            srv_queries = [name for name, kind in server.queries if kind == "SRV"]
            assert srv_queries == ["_sips._tcp.srv.test", "_sip._tcp.srv.test", "_sip._udp.srv.test"]

    run(scenario())


def test_transport_param_explicit_port_and_no_srv() -> None:
    async def scenario() -> None:
        async with dns_server() as (server, port):
            r = resolver(port, rng=Draw(highest=False))
            # transport= selects the SRV service of that transport only.
            assert await r.resolve("sip:srv.test;transport=tcp") == [
                Target("TCP", "2001:db8::1", 5080),
                Target("TCP", "192.0.2.1", 5080),
            ]
            # An explicit port: A/AAAA only, no NAPTR nor SRV (RFC 3263 4.2).
            server.queries.clear()
            assert await r.resolve("sip:bob@srv.test:5999") == [Target("UDP", "192.0.2.99", 5999)]
            assert {kind for _, kind in server.queries} == {"A", "AAAA"}
            assert await r.resolve("sips:bob@plain.test:6000") == [
                Target("TLS", "2001:db8::50", 6000),
                Target("TLS", "192.0.2.50", 6000),
            ]
            # No NAPTR, no SRV: A/AAAA at 5060 (UDP) or 5061 (TLS for sips).
            assert await r.resolve("sip:plain.test") == [
                Target("UDP", "2001:db8::50", 5060),
                Target("UDP", "192.0.2.50", 5060),
            ]
            secure = await r.resolve("sips:plain.test")
            assert secure[0] == Target("TLS", "2001:db8::50", 5061) and secure[0].server_name == "plain.test"
            assert all(t.server_name is None for t in await r.resolve("sip:plain.test;transport=tcp"))
            assert await r.resolve("sip:plain.test;transport=tcp") == [
                Target("TCP", "2001:db8::50", 5060),
                Target("TCP", "192.0.2.50", 5060),
            ]

    run(scenario())


def test_numeric_hosts_bypass_dns() -> None:
    async def scenario() -> None:
        async with dns_server() as (server, port):
            r = resolver(port)
            assert await r.resolve("sip:bob@192.0.2.5") == [Target("UDP", "192.0.2.5", 5060)]
            assert await r.resolve("sip:bob@192.0.2.5:5080;transport=tcp") == [Target("TCP", "192.0.2.5", 5080)]
            assert await r.resolve("sips:bob@[2001:db8::7]") == [Target("TLS", "2001:db8::7", 5061)]
            assert await r.resolve("sips:bob@[2001:db8::7];transport=tcp") == [Target("TLS", "2001:db8::7", 5061)]
            assert await r.resolve("sip:bob@[::1]:5062") == [Target("UDP", "::1", 5062)]
            assert await r.resolve("sip:bob@plain.test;maddr=192.0.2.8") == [Target("UDP", "192.0.2.8", 5060)]
            assert server.queries == []

    run(scenario())


def test_outbound_proxy_replaces_the_host() -> None:
    async def scenario() -> None:
        async with dns_server() as (_, port):
            targets = await resolve(
                "sip:carol@naptr.test", outbound_proxy="sip:proxy.test;lr", nameservers=["127.0.0.1"], port=port
            )
            assert targets == [Target("UDP", "192.0.2.70", 5060)]
            # The request needs TLS all the way: the proxy is reached over TLS.
            secure = await resolve(
                "sips:carol@naptr.test", outbound_proxy="sip:proxy.test", nameservers=["127.0.0.1"], port=port
            )
            assert secure == [Target("TLS", "192.0.2.70", 5061)] and secure[0].server_name == "proxy.test"
            numeric = await resolve(
                "sip:carol@naptr.test",
                outbound_proxy="sip:192.0.2.71:5090;transport=tcp",
                nameservers=["127.0.0.1"],
                port=port,
            )
            assert numeric == [Target("TCP", "192.0.2.71", 5090)]

    run(scenario())


def test_resolve_errors() -> None:
    async def scenario() -> None:
        async with dns_server() as (_, port):
            r = resolver(port)
            with pytest.raises(ResolveError, match=r"nothere\.test does not exist \(NXDOMAIN\)"):
                await r.resolve("sip:bob@nothere.test")
            with pytest.raises(ResolveError, match=r"nothere\.test does not exist"):
                await r.resolve("sip:bob@nothere.test:5060")
            with pytest.raises(ResolveError, match=r"no AAAA records for ns\.test"):
                await resolver(port, ipv4=False).resolve("sip:ns.test:5060")
            # RFC 2782: an SRV target of "." says the service is not offered here.
            with pytest.raises(ResolveError, match="not offered"):
                await r.resolve("sip:closed.test;transport=udp")
            with pytest.raises(ResolveError, match="only sip: and sips:"):
                await r.resolve("tel:+15551234567")
            with pytest.raises(ResolveError, match="transport=udp"):
                await r.resolve("sips:plain.test;transport=udp")
            with pytest.raises(ResolveError, match="not supported"):
                await r.resolve("sip:plain.test;transport=sctp")
        # A DNS server that doesn't answer: a timeout, reported as such.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            mute = SipResolver(nameservers=["127.0.0.1"], port=silent.getsockname()[1], timeout=0.3)
            with pytest.raises(ResolveError, match="timed out"):
                await mute.resolve("sip:plain.test:5060")

    run(scenario())


def test_srv_order_follows_the_weights() -> None:
    records = [SrvRecord(10, 60, 1, "a"), SrvRecord(10, 40, 2, "b"), SrvRecord(5, 0, 3, "c"), SrvRecord(10, 0, 4, "z")]
    rng = random.Random(3263)
    first: dict[str, int] = {}
    for _ in range(2000):
        ordered = srv_order(records, rng)
        assert ordered[0].target == "c" and sorted(r.target for r in ordered) == ["a", "b", "c", "z"]
        first[ordered[1].target] = first.get(ordered[1].target, 0) + 1
    # Within priority 10 the zero-weight record is first only on a draw of 0.
    assert 0.53 < first["a"] / 2000 < 0.67 and 0.33 < first["b"] / 2000 < 0.47
    assert first.get("z", 0) < 40

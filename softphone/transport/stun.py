"""STUN over asyncio UDP: the public address of a socket, and RFC 5780 NAT behaviour tests.

The driver of :class:`~softphone.stun.BindingTransaction`: it sends what the
transaction says, waits until its next deadline for datagrams, and hands the
transaction only those from the server's addresses. Every wait is bounded by
the transaction's :class:`~softphone.stun.Retransmission` schedule.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass

from softphone.stun import Attr, BindingTransaction, Class, Method, Retransmission, StunMessage
from softphone.stun.behaviour import Behaviour, NatTestResults, filtering_behaviour, mapping_behaviour
from softphone.stun.message import Address, ChangeRequest
from softphone.stun.transaction import Failed, Send, Succeeded, TimedOut
from softphone.transport.errors import TransportError

__all__ = [
    "DEFAULT_PORT",
    "QUICK",
    "NatReport",
    "StunError",
    "binding",
    "nat_test",
    "parse_server",
    "reflexive_address",
    "resolve_server",
]

log = logging.getLogger("softphone.transport.stun")

DEFAULT_PORT = 3478
SOFTWARE = "softphone"
# For a call being set up: give up after 1.75 s rather than RFC 8489's 39.5 s.
QUICK = Retransmission(rto=0.25, rc=3, rm=4)
_MAX_DATAGRAM = 2048


class StunError(TransportError):
    """A STUN server that does not answer, answers with an error, or cannot be found."""


def parse_server(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``HOST[:PORT]`` (``[v6]:PORT`` for IPv6) as typed in settings or on the command line."""
    text = text.strip().removeprefix("stun:")
    if not text:
        raise StunError("empty STUN server address")
    host, port = text, default_port
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise StunError(f"STUN server {text!r}: unclosed [")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise StunError(f"STUN server {text!r}: junk after ]")
            port = _port(rest[1:], text)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = _port(port_text, text)
    if not host or any(c.isspace() for c in host):
        raise StunError(f"STUN server {text!r}: no host")
    return host, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise StunError(f"STUN server {whole!r}: bad port {text!r}")
    return int(text)


async def resolve_server(
    text: str, family: int = socket.AF_INET, *, kind: str = "STUN", default_port: int = DEFAULT_PORT
) -> Address:
    """The server's address for ``family``: an IP literal as it is, a name through the resolver; errors name it
    a ``kind`` server (STUN or TURN)."""
    host, port = parse_server(text, default_port)
    try:
        ipaddress.ip_address(host)
        return host, port
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, family=family, type=socket.SOCK_DGRAM), 5.0)
    except (OSError, TimeoutError) as exc:
        raise StunError(f"cannot resolve {kind} server {host}: {exc}") from exc
    if not infos:
        raise StunError(f"{kind} server {host} has no address")
    sockaddr = infos[0][4]
    return str(sockaddr[0]), int(sockaddr[1])


async def binding(
    sock: socket.socket,
    server: Address,
    *,
    retransmission: Retransmission = QUICK,
    change: ChangeRequest | None = None,
    accept_from: frozenset[Address] | None = None,
) -> StunMessage:
    """One Binding transaction from ``sock`` to ``server``; the success response, else :class:`StunError`.

    Answers are taken only from ``server`` (or the addresses in ``accept_from``);
    other datagrams arriving on ``sock`` meanwhile are dropped.
    """
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    request = StunMessage(Method.BINDING, Class.REQUEST).add(Attr.SOFTWARE, SOFTWARE)
    if change is not None:
        request.add(Attr.CHANGE_REQUEST, change)
    tx = BindingTransaction(request, retransmission)
    sources = accept_from if accept_from is not None else frozenset({server})
    effects = tx.start(loop.time())
    while True:
        for effect in effects:
            if isinstance(effect, Send):
                try:
                    await loop.sock_sendto(sock, effect.data, server)
                except OSError as exc:
                    log.debug("STUN request to %s:%d not sent: %s", *server, exc)
            elif isinstance(effect, Succeeded):
                return effect.response
            elif isinstance(effect, Failed):
                raise StunError(f"STUN server {server[0]}:{server[1]} refused: {effect.reason}")
            elif isinstance(effect, TimedOut):
                raise StunError(
                    f"STUN server {server[0]}:{server[1]} did not answer "
                    f"({effect.requests} requests in {retransmission.timeout:.2f} s)"
                )
        deadline = tx.next_deadline
        assert deadline is not None
        received = await datagram_before(sock, deadline)
        if received is None:
            effects = tx.on_timer(loop.time())
            continue
        data, addr = received
        effects = tx.receive(data, loop.time()) if (addr[0], addr[1]) in sources else []
        effects += tx.on_timer(loop.time())


async def reflexive_address(sock: socket.socket, server: Address, retransmission: Retransmission = QUICK) -> Address:
    """The address and port ``sock``'s packets to ``server`` leave the last NAT with (RFC 8489 3)."""
    response = await binding(sock, server, retransmission=retransmission)
    address = response.reflexive_address
    assert address is not None  # the transaction fails a Binding success without one
    return address


@dataclass
class NatReport:
    results: NatTestResults
    mapping: Behaviour
    filtering: Behaviour

    def lines(self) -> list[str]:
        r = self.results
        out = [
            f"local address: {r.local[0]}:{r.local[1]}",
            f"STUN server: {r.server[0]}:{r.server[1]}" + (f" ({r.software})" if r.software else ""),
        ]
        if r.mapped is None:
            out.append(f"mapped address: none ({r.note})")
        else:
            out.append(f"mapped address: {r.mapped[0]}:{r.mapped[1]}")
        if r.other_address is not None:
            out.append(f"server's other address: {r.other_address[0]}:{r.other_address[1]}")
        if r.mapped is not None and not r.rfc5780 and self.mapping is not Behaviour.NO_NAT:
            out.append("the server does not support RFC 5780 (no OTHER-ADDRESS): behaviour cannot be told")
        out.append(f"mapping behaviour: {self.mapping.value}")
        out.append(f"filtering behaviour: {self.filtering.value}")
        return out


def _local_address(sock: socket.socket, server: Address) -> Address:
    """The address our packets to ``server`` leave with: the bound one, or the route's source for a wildcard."""
    host, port = sock.getsockname()[:2]
    if host not in ("0.0.0.0", "::"):
        return str(host), int(port)
    probe = socket.socket(sock.family, socket.SOCK_DGRAM)
    try:
        probe.connect(server)  # a UDP connect sends nothing; it picks the route
        return str(probe.getsockname()[0]), int(port)
    except OSError:
        return str(host), int(port)
    finally:
        probe.close()


async def nat_test(server: Address, local_host: str = "0.0.0.0", retransmission: Retransmission = QUICK) -> NatReport:
    """RFC 5780 4.3 (mapping) and 4.4 (filtering) from one fresh UDP socket; as much as the server allows."""
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((local_host, 0))
        results = NatTestResults(local=_local_address(sock, server), server=server)
        await _run_tests(sock, results, retransmission)
    finally:
        sock.close()
    return NatReport(results, mapping_behaviour(results), filtering_behaviour(results))


async def _run_tests(sock: socket.socket, results: NatTestResults, retransmission: Retransmission) -> None:
    server = results.server
    try:
        first = await binding(sock, server, retransmission=retransmission)
    except StunError as exc:
        results.note = str(exc)
        return
    results.mapped = first.reflexive_address
    results.other_address = first.other_address
    results.response_origin = first.response_origin
    results.software = first.software
    if not results.rfc5780:
        return
    other = results.other_address
    assert other is not None
    alternates = frozenset({server, other, (other[0], server[1]), (server[0], other[1])})
    # RFC 5780 4.3 test II: the alternate IP with the primary port; test III: the alternate IP and port.
    try:
        second = await binding(sock, (other[0], server[1]), retransmission=retransmission)
        results.mapped_alt_ip = second.reflexive_address
        if results.mapped_alt_ip != results.mapped:
            third = await binding(sock, other, retransmission=retransmission)
            results.mapped_alt = third.reflexive_address
    except StunError as exc:
        results.note = str(exc)
    # RFC 5780 4.4 test II: answer from the other IP and port; test III: from the other port only.
    results.filter_change_both = await _answered(
        sock, server, ChangeRequest(ip=True, port=True), alternates, retransmission
    )
    if not results.filter_change_both:
        results.filter_change_port = await _answered(
            sock, server, ChangeRequest(ip=False, port=True), alternates, retransmission
        )


async def _answered(
    sock: socket.socket,
    server: Address,
    change: ChangeRequest,
    accept_from: frozenset[Address],
    retransmission: Retransmission,
) -> bool:
    try:
        await binding(sock, server, retransmission=retransmission, change=change, accept_from=accept_from)
    except StunError:
        return False
    return True


async def datagram_before(sock: socket.socket, deadline: float) -> tuple[bytes, tuple[str, int]] | None:
    """The next datagram on ``sock`` before ``deadline`` (loop time), or None when there is none by then."""
    loop = asyncio.get_running_loop()
    try:
        data, addr = await asyncio.wait_for(loop.sock_recvfrom(sock, _MAX_DATAGRAM), max(0.0, deadline - loop.time()))
    except TimeoutError:
        return None
    except OSError:
        # ICMP unreachable from an earlier send: wait on until the schedule gives up.
        await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))
        return None
    return data, (addr[0], addr[1])

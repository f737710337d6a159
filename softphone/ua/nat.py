"""The address a call's SDP names for its media: a TURN relay (RFC 8656), the STUN-learned public one, or local.

:func:`media_address` runs one Binding transaction from the media port's own
socket, so the answer is the mapping the call's RTP will use. When the
mapped address differs from the local one the account is behind a NAT and
the SDP names the mapped address. A server that does not answer costs at
most :data:`~softphone.transport.stun.QUICK`'s 1.75 s; the call then goes
out with its host address and a warning says why.

With a TURN server on the account, :func:`media_address` first allocates a
relay from the same socket and, once it has one, swaps the port's socket for
a :class:`~softphone.transport.turn.RelayedSocket`: the SDP names the relayed
address. Without ICE every media packet then goes through the relay. With
ICE (the account's default when it has a STUN or TURN server) the relayed
socket also passes traffic around the relay, and :attr:`MediaAddress.candidates`
gives the host, server-reflexive (the Allocate answer's mapped address, or
STUN's) and relayed candidates for the SDP; ICE picks the best that works.
A TURN server that refuses (a wrong password) or does not answer costs at
most 3.5 s and a warning; the call then goes on without a relay, with STUN
if the account has it.

With ``turn_transport`` "tcp" or "tls" (RFC 8656 3.1, for networks that block
UDP) the allocation runs over a TCP or TLS connection to the server (TLS on
port 5349 unless the account gives one, its certificate verified against the
system's CAs or the account's CA file); the relayed socket carries the relay's
traffic over that connection and keeps the UDP socket for ICE's direct paths.
The Allocate's mapped address is then the TCP connection's, useless for UDP,
so the server-reflexive candidate comes from the STUN server, if any (asked while
the allocation runs). Connecting with the TLS handshake, and each request, are
bounded by 3.5 s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
from dataclasses import asdict, dataclass
from typing import TextIO

from softphone.ice.candidate import Candidate, local_candidates
from softphone.stun.turn import TurnClient, TurnError
from softphone.transport.errors import TransportError
from softphone.transport.stun import QUICK, StunError, nat_test, parse_server, reflexive_address, resolve_server
from softphone.transport.tls import TlsSettings
from softphone.transport.turn import RelayedSocket, allocate
from softphone.transport.turn_stream import TurnStream, allocate_stream, open_stream
from softphone.ua.account import Account
from softphone.ua.events import MediaWarningKind
from softphone.ua.media import MediaPort

__all__ = ["MediaAddress", "media_address", "nat_test_main", "nat_test_text"]

log = logging.getLogger("softphone.ua")

TURN_TLS_PORT = 5349  # RFC 8656 3.1: TURN over TLS
TURN_PORT = 3478


@dataclass(frozen=True, slots=True)
class MediaAddress:
    """What the SDP names: ``host``/``port``; ``reflexive`` True when STUN or TURN put a public address there
    (``relayed`` for a TURN relay's); ``warning`` says what did not work."""

    host: str
    port: int
    reflexive: bool = False
    warning: str | None = None
    relayed: bool = False
    warning_kind: MediaWarningKind = "stun"
    # ICE candidates (RFC 8445 5.1.1) for the media port, best first; empty without ICE.
    candidates: tuple[Candidate, ...] = ()


async def media_address(account: Account, port: MediaPort) -> MediaAddress:
    """The address our SDP should give for ``port``: a TURN relay's, else the STUN-learned one, else the host one.

    With ICE on the account the answer carries the candidates too.
    """
    address = await _media_address(account, port)
    if not account.ice_enabled:
        return address
    host = (port.host, port.port)
    if address.relayed:
        sock = port.socket
        mapped = sock.client.mapped if isinstance(sock, RelayedSocket) else None
        candidates = local_candidates(host, mapped, (address.host, address.port))
    else:
        candidates = local_candidates(host, (address.host, address.port) if address.reflexive else None)
    return dataclasses.replace(address, candidates=candidates)


async def _media_address(account: Account, port: MediaPort) -> MediaAddress:
    warning = None
    if account.turn_server is not None:
        relayed, warning = await _relay(account, port)
        if relayed is not None:
            return relayed
    address = await _reflexive(account.stun_server, port)
    if warning is None:
        return address
    both = warning if address.warning is None else f"{warning}; {address.warning}"
    return MediaAddress(address.host, address.port, address.reflexive, both, warning_kind="turn")


async def _relay(account: Account, port: MediaPort) -> tuple[MediaAddress | None, str | None]:
    sock = port.socket
    assert account.turn_server is not None and account.turn_user is not None and account.turn_password is not None
    if sock is None:
        return None, None
    family = socket.AF_INET6 if ":" in port.host else socket.AF_INET
    transport = account.turn_transport
    client = TurnClient(account.turn_user, account.turn_password, stream=transport != "udp")
    default_port = TURN_TLS_PORT if transport == "tls" else TURN_PORT
    stream: TurnStream | None = None
    try:
        server = await resolve_server(account.turn_server, family, kind="TURN", default_port=default_port)
        client.server = f"TURN server {server[0]}:{server[1]}"
        if transport == "udp":
            allocated = await allocate(sock, server, client)
        else:
            client.server += f" over {transport.upper()}"
            stream = await _connect(account, server, client.server)
            # The Allocate's XOR-MAPPED-ADDRESS is the TCP connection's mapping, no UDP candidate: ask STUN
            # from the UDP port meanwhile.
            mapping = asyncio.create_task(_udp_mapping(account, port))
            try:
                allocated = await allocate_stream(stream, client)
            except BaseException:
                mapping.cancel()
                await asyncio.wait([mapping])
                raise
            client.mapped = await mapping
    except (StunError, TurnError) as exc:
        if stream is not None:
            stream.close()
        message = f"{exc}; the call goes out without a relay"
        log.warning("%s", message)
        return None, message
    port.socket = RelayedSocket(sock, server, client, direct=account.ice_enabled, stream=stream)
    host, relayed_port = allocated.relayed
    log.info("media port %s:%d relayed at %s:%d by %s", port.host, port.port, host, relayed_port, client.server)
    return MediaAddress(host, relayed_port, reflexive=True, relayed=True), None


async def _connect(account: Account, server: tuple[str, int], label: str) -> TurnStream:
    if account.turn_transport != "tls":
        return await open_stream(server, label)
    assert account.turn_server is not None
    try:
        context = TlsSettings(cafile=account.ca_file).client_context()
    except TransportError as exc:
        raise TurnError(f"{label}: {exc}") from exc
    name = parse_server(account.turn_server)[0]
    return await open_stream(server, label, context, name)


async def _udp_mapping(account: Account, port: MediaPort) -> tuple[str, int] | None:
    """The media port's public UDP address from the account's STUN server (for ICE), or None."""
    if not account.ice_enabled or account.stun_server is None:
        return None
    address = await _reflexive(account.stun_server, port)
    return (address.host, address.port) if address.reflexive else None


async def _reflexive(stun_server: str | None, port: MediaPort) -> MediaAddress:
    host = MediaAddress(port.host, port.port)
    sock = port.socket
    if stun_server is None or sock is None:
        return host
    family = socket.AF_INET6 if ":" in port.host else socket.AF_INET
    try:
        server = await resolve_server(stun_server, family)
        mapped = await reflexive_address(sock, server, QUICK)
    except StunError as exc:
        message = f"{exc}; the call uses its local address {port.host}:{port.port}"
        log.warning("%s", message)
        return MediaAddress(port.host, port.port, warning=message)
    if mapped == (port.host, port.port):
        return host
    log.info("media port %s:%d is seen as %s:%d from the STUN server", port.host, port.port, *mapped)
    return MediaAddress(mapped[0], mapped[1], reflexive=True)


async def nat_test_text(stun_server: str, local_host: str = "0.0.0.0") -> str:
    """The network test of the account dialog: RFC 5780's findings against ``stun_server``, in lines of words."""
    family = socket.AF_INET6 if ":" in local_host or stun_server.startswith("[") else socket.AF_INET
    try:
        server = await resolve_server(stun_server, family)
    except StunError as exc:
        return f"network test: {exc}"
    report = await nat_test(server, local_host if family == socket.AF_INET else "::")
    return "\n".join(report.lines())


async def nat_test_main(stun_server: str, local_host: str, out: TextIO, *, as_json: bool = False) -> int:
    """``softphone-cli --nat-test``: RFC 5780's tests against ``stun_server``; 0 when it answered, else 1."""
    family = socket.AF_INET6 if ":" in local_host else socket.AF_INET
    try:
        server = await resolve_server(stun_server, family)
    except StunError as exc:
        out.write(f"nat test: {exc}\n")
        return 1
    report = await nat_test(server, local_host)
    if as_json:
        results = asdict(report.results)
        out.write(
            json.dumps(
                {
                    "event": "nat_test",
                    **results,
                    "mapping": report.mapping.name.lower(),
                    "filtering": report.filtering.name.lower(),
                }
            )
            + "\n"
        )
    else:
        out.write("".join(f"{line}\n" for line in report.lines()))
    out.flush()
    return 0 if report.results.mapped is not None else 1

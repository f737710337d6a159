"""The public address of a call's media port, learned from the account's STUN server (RFC 8489).

:func:`media_address` runs one Binding transaction from the media port's own
socket, so the answer is the mapping the call's RTP will use. When the
mapped address differs from the local one the account is behind a NAT and
the SDP names the mapped address. A server that does not answer costs at
most :data:`~softphone.transport.stun.QUICK`'s 1.75 s; the call then goes
out with its host address and a warning says why.
"""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import asdict, dataclass
from typing import TextIO

from softphone.transport.stun import QUICK, StunError, nat_test, reflexive_address, resolve_server
from softphone.ua.media import MediaPort

__all__ = ["MediaAddress", "media_address", "nat_test_main"]

log = logging.getLogger("softphone.ua")


@dataclass(frozen=True, slots=True)
class MediaAddress:
    """What the SDP names: ``host``/``port``; ``reflexive`` True when STUN put a NAT's address there."""

    host: str
    port: int
    reflexive: bool = False
    warning: str | None = None


async def media_address(stun_server: str | None, port: MediaPort) -> MediaAddress:
    """The address our SDP should give for ``port``: the STUN-learned one behind a NAT, else the host one."""
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

"""The Via rules of the transport layer (RFC 3261 18.1.1, 18.1.2, 18.2.1, 18.2.2; RFC 3581)."""

from __future__ import annotations

import dataclasses

from softphone.sip.errors import SipParseError
from softphone.sip.headers import Via, parse_via_list
from softphone.sip.message import Message, Request
from softphone.transport.base import VIA_PLACEHOLDER, default_port, ip_address, normalize_host


def top_via_text(message: Message) -> str:
    """The first Via header field value (it may hold several via-parms), checked to parse."""
    values = message.headers.get_all("via")
    if not values:
        raise SipParseError("missing Via header")
    parse_via_list(values[0])
    return values[0]


def set_top_via_text(message: Message, text: str) -> None:
    """Replace the first Via header field value, keeping its place among the headers."""
    if len(message.headers.get_all("via")) == 1:
        message.headers["Via"] = text
    else:
        message.headers.pop_first("via")
        message.headers.add("Via", text, first=True)


def _replace_top_via(message: Message, via: Via) -> None:
    vias = parse_via_list(message.headers.get_all("via")[0])
    vias[0] = via
    set_top_via_text(message, ", ".join(str(v) for v in vias))


def _param_name(via: Via, name: str) -> str | None:
    for key in via.params:
        if key.lower() == name:
            return key
    return None


def prepare_request(request: Request, transport: str, local_host: str, local_port: int) -> tuple[str, int]:
    """Fill a placeholder sent-by and align the Via transport with the one used; return the sent-by.

    A placeholder Via gets this socket's address and, on UDP, an empty
    ``rport`` (RFC 3581 3). The transport of the top Via always names the
    transport the request leaves on (RFC 3261 18.1.1).
    """
    via = request.via
    host, port, params = via.host, via.port, via.params
    if host.lower() == VIA_PLACEHOLDER:
        host, port = (f"[{local_host}]" if ":" in local_host else local_host), local_port
        if transport == "UDP" and _param_name(via, "rport") is None:
            params = {**params, "rport": None}
    updated = Via(transport, host, port, params, via.protocol)
    if updated != via:
        _replace_top_via(request, updated)
    return sent_by_key(updated)


def sent_by_key(via: Via) -> tuple[str, int]:
    return normalize_host(via.host), via.port or default_port(via.transport)


def stamp_received(request: Request, source_host: str, source_port: int) -> None:
    """RFC 3261 18.2.1 received, RFC 3581 4 rport: note where the request really came from."""
    via = request.via
    rport_name = _param_name(via, "rport")
    params = dict(via.params)
    changed = False
    # RFC 3581 4: rport is the source port; a value the client wrote itself would aim our answers elsewhere.
    if rport_name is not None and params[rport_name] != str(source_port):
        params[rport_name] = str(source_port)
        changed = True
    sent_by = ip_address(via.host)
    source = ip_address(source_host)
    # RFC 3581 4: with rport, received is added even when it equals the sent-by host.
    if changed or sent_by is None or sent_by != source:
        received_name = _param_name(via, "received") or "received"
        params[received_name] = normalize_host(source_host)
        changed = True
    if changed:
        _replace_top_via(request, dataclasses.replace(via, params=params))


def response_address(via: Via) -> tuple[str, int]:
    """Where a response goes over UDP (RFC 3261 18.2.2, RFC 3581 4); the host may be a name."""
    port = via.port or default_port(via.transport)
    maddr = via.maddr
    if maddr is not None:
        return maddr, port
    received = via.received
    rport = via.rport
    if received is not None:
        if isinstance(rport, int) and not isinstance(rport, bool):
            return received, rport
        return received, port
    return via.host, port

"""Comparing where a request came from with where it may come from.

A request inside a dialog must come from the dialog's peer: the address of
its remote target (Contact), the first hop of its route set (the proxy that
record-routed), our own server, or the address its first request came from.
Over UDP that is an address and port; over TCP and TLS, where a source cannot
be forged and peers connect from ephemeral ports, the address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from softphone.sip.dialog import Dialog
from softphone.sip.uri import SipUri, Uri
from softphone.transport import Source

__all__ = ["Address", "dialog_addresses", "from_addresses", "same_address", "uri_address"]

Address = tuple[str, int]


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def same_address(host: str, address: str) -> bool:
    """True when ``host`` (from a URI, perhaps ``[v6]``) is the IP ``address`` a packet came from."""
    first, second = _ip(host), _ip(address)
    return first is not None and first == second


def uri_address(uri: Uri) -> Address | None:
    """The IP address and port a SIP URI names (RFC 3261 default ports); None for a host name."""
    if not isinstance(uri, SipUri):
        return None
    maddr = uri.params.get("maddr")
    host = maddr if maddr else uri.host
    ip = _ip(host)
    if ip is None:
        return None
    port = uri.port
    if port is None:
        transport = (uri.params.get("transport") or "").lower()
        port = 5061 if uri.scheme == "sips" or transport == "tls" else 5060
    return str(ip), port


def dialog_addresses(dialog: Dialog) -> set[Address]:
    """Where the peer of ``dialog`` sends from: its remote target and the first hop of the route set."""
    found: set[Address] = set()
    for uri in (dialog.remote_target, *(route.uri for route in dialog.route_set[:1])):
        address = uri_address(uri)
        if address is not None:
            found.add(address)
    return found


def from_addresses(source: Source, allowed: Iterable[Address]) -> bool:
    """True when ``source`` is one of ``allowed`` (the address alone on a connection)."""
    ip = _ip(source.remote_host)
    if ip is None:
        return False
    for host, port in allowed:
        if _ip(host) == ip and (source.reliable or port == source.remote_port):
            return True
    return False

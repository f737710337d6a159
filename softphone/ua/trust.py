"""Comparing where a request came from with where it claims to come from."""

from __future__ import annotations

import ipaddress

__all__ = ["same_address"]


def same_address(host: str, address: str) -> bool:
    """True when ``host`` (from a URI, perhaps ``[v6]``) is the IP ``address`` a packet came from."""
    try:
        return ipaddress.ip_address(host.strip("[]")) == ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False

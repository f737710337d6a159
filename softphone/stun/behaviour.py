"""NAT behaviour discovery (RFC 5780 section 4), sans-I/O: from test answers to a verdict.

The driver (:func:`softphone.transport.stun.nat_test`) runs the tests and
fills a :class:`NatTestResults`; :func:`mapping_behaviour` and
:func:`filtering_behaviour` read them the way RFC 5780 4.3 and 4.4 do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from softphone.stun.message import Address

__all__ = ["Behaviour", "NatTestResults", "filtering_behaviour", "mapping_behaviour"]


class Behaviour(enum.Enum):
    NO_NAT = "no NAT (the mapped address is the local address)"
    ENDPOINT_INDEPENDENT = "endpoint-independent"
    ADDRESS_DEPENDENT = "address-dependent"
    ADDRESS_AND_PORT_DEPENDENT = "address-and-port-dependent"
    UNKNOWN = "unknown"


@dataclass
class NatTestResults:
    """What each test of RFC 5780 4.3/4.4 saw; None where a test was not run or had no answer.

    ``mapped`` is test I's mapped address (to the primary address), ``mapped_alt_ip``
    test II's (alternate IP, primary port), ``mapped_alt`` test III's (alternate IP
    and port). ``filter_change_both``/``filter_change_port``: whether an answer came
    back to a request with CHANGE-REQUEST for IP and port, for the port only.
    """

    local: Address
    server: Address
    mapped: Address | None = None
    other_address: Address | None = None
    response_origin: Address | None = None
    mapped_alt_ip: Address | None = None
    mapped_alt: Address | None = None
    filter_change_both: bool | None = None
    filter_change_port: bool | None = None
    software: str | None = None
    note: str = ""

    @property
    def rfc5780(self) -> bool:
        """Whether the server gave an OTHER-ADDRESS that differs from its own in IP and port (RFC 5780 4.2)."""
        other = self.other_address
        return other is not None and other[0] != self.server[0] and other[1] != self.server[1]


def mapping_behaviour(results: NatTestResults) -> Behaviour:
    """RFC 5780 4.3: compare the mapped addresses towards the primary, alternate-IP and alternate addresses."""
    if results.mapped is None:
        return Behaviour.UNKNOWN
    if results.mapped == results.local:
        return Behaviour.NO_NAT
    if results.mapped_alt_ip is None:
        return Behaviour.UNKNOWN
    if results.mapped_alt_ip == results.mapped:
        return Behaviour.ENDPOINT_INDEPENDENT
    if results.mapped_alt is None:
        return Behaviour.UNKNOWN
    if results.mapped_alt == results.mapped_alt_ip:
        return Behaviour.ADDRESS_DEPENDENT
    return Behaviour.ADDRESS_AND_PORT_DEPENDENT


def filtering_behaviour(results: NatTestResults) -> Behaviour:
    """RFC 5780 4.4: which answers from the server's other address or port get through."""
    if results.mapped is None or results.filter_change_both is None:
        return Behaviour.UNKNOWN
    if results.filter_change_both:
        return Behaviour.NO_NAT if results.mapped == results.local else Behaviour.ENDPOINT_INDEPENDENT
    if results.filter_change_port is None:
        return Behaviour.UNKNOWN
    if results.filter_change_port:
        return Behaviour.ADDRESS_DEPENDENT
    return Behaviour.ADDRESS_AND_PORT_DEPENDENT

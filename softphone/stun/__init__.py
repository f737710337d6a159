"""STUN (RFC 8489) and NAT behaviour discovery (RFC 5780), sans-I/O.

:mod:`~softphone.stun.message` reads and writes STUN messages;
:mod:`~softphone.stun.transaction` is the Binding client transaction with its
retransmission schedule; :mod:`~softphone.stun.behaviour` turns the answers
of RFC 5780's tests into a mapping and filtering verdict. Like ``sip/``, none
of it touches sockets, threads, ``asyncio`` or the clock: it takes bytes and a
``now`` and returns bytes, results and deadlines. The asyncio driver is
:mod:`softphone.transport.stun`.
"""

from softphone.stun.message import (
    Address,
    Attr,
    Class,
    ErrorCode,
    Method,
    StunMessage,
    StunParseError,
    is_stun,
    long_term_key,
    short_term_key,
)
from softphone.stun.transaction import BindingTransaction, Retransmission

__all__ = [
    "Address",
    "Attr",
    "BindingTransaction",
    "Class",
    "ErrorCode",
    "Method",
    "Retransmission",
    "StunMessage",
    "StunParseError",
    "is_stun",
    "long_term_key",
    "short_term_key",
]

"""The network transport of the softphone: UDP, TCP and TLS sockets and RFC 3263 DNS.

A thin asyncio layer under the sans-I/O core in :mod:`softphone.sip`: it
frames messages, applies the transport rules of RFC 3261 18 (Via sent-by,
received, response routing, connection reuse), RFC 3581 (rport) and RFC 5626
(CRLF keep-alives), and builds no SIP message of its own.

* :class:`TransportManager` owns the sockets of one user agent and
  delivers what arrives as ``(message, Source)``.
* :func:`resolve` turns a SIP URI into an ordered list of :class:`Target`
  (RFC 3263). The UA tries them in order, moving to the next on a
  :class:`TransportError`, a timeout or a 503 (RFC 3263 4.3), each try a
  new transaction whose top Via host is :data:`VIA_PLACEHOLDER`.
* :class:`TransportLimits` bounds what peers may cost: connections in all,
  from peers and per address, idle and slow connections, bytes buffered per
  connection, header fields per message. Past a limit the manager refuses
  or closes, and logs one summary line a minute.
* A TLS failure is a :class:`TlsError` whose ``reason`` (:class:`TlsReason`:
  untrusted, name mismatch, expired ...) and ``fingerprint`` (SHA-256 of the
  server's certificate) let a user decide whether to trust it.
* A ``sips:`` URI needs TLS on every hop (RFC 3261 26.2.2): :func:`resolve`
  returns only TLS targets for it, and a UA that builds a :class:`Target`
  itself must choose transport ``"TLS"``.

Logging: ``softphone.transport`` for the layer's events, and
``softphone.sip.trace`` at DEBUG for every message sent and received
(Authorization and Proxy-Authorization values redacted).
"""

from softphone.transport.base import (
    VIA_PLACEHOLDER,
    BadRequest,
    Received,
    Source,
    Target,
    TransportEvent,
    TransportFailed,
    default_port,
)
from softphone.transport.errors import ResolveError, TlsError, TlsReason, TransportError
from softphone.transport.limits import LimitLog, TransportLimits
from softphone.transport.manager import TransportManager
from softphone.transport.resolver import SipResolver, resolve
from softphone.transport.tls import TlsSettings

__all__ = [
    "VIA_PLACEHOLDER",
    "BadRequest",
    "LimitLog",
    "Received",
    "ResolveError",
    "SipResolver",
    "Source",
    "Target",
    "TlsError",
    "TlsReason",
    "TlsSettings",
    "TransportError",
    "TransportEvent",
    "TransportFailed",
    "TransportLimits",
    "TransportManager",
    "default_port",
    "resolve",
]

"""What offer/answer agreed for one audio stream, as the media engine reads it.

Structurally what :class:`softphone.sip.offer_answer.NegotiatedMedia` holds, so
the media layer does not import the SIP layer.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypeAlias

from softphone.ice.candidate import NegotiatedIce

__all__ = [
    "Address",
    "CodecDescription",
    "CryptoParameters",
    "MediaParameters",
    "StreamParameters",
    "address_key",
    "is_unspecified",
]

Address: TypeAlias = tuple[Any, ...]


class CodecDescription(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def clock_rate(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def fmtp(self) -> Mapping[str, str]: ...


class FingerprintDescription(Protocol):
    @property
    def hash_function(self) -> str: ...
    @property
    def digest(self) -> bytes: ...


class CryptoParameters(Protocol):
    """How the stream is protected (``softphone.sip.srtp_sdp.MediaCrypto`` fits it).

    ``sdes``: ``suite`` with ``local_key``/``remote_key`` (key||salt). ``dtls``:
    ``dtls_role`` (``active`` is the client), the peer's ``remote_fingerprint``
    and the ``suites`` the handshake may choose from.
    """

    @property
    def key_exchange(self) -> str: ...
    @property
    def suite(self) -> str | None: ...
    @property
    def suites(self) -> tuple[str, ...]: ...
    @property
    def local_key(self) -> bytes: ...
    @property
    def remote_key(self) -> bytes: ...
    @property
    def dtls_role(self) -> Literal["active", "passive"] | None: ...
    @property
    def remote_fingerprint(self) -> FingerprintDescription | None: ...


class StreamParameters(Protocol):
    """What every agreed RTP stream has, audio or video, from our point of view."""

    @property
    def remote_address(self) -> str: ...
    @property
    def remote_port(self) -> int: ...
    @property
    def remote_rtcp_port(self) -> int: ...
    @property
    def codec(self) -> CodecDescription: ...
    @property
    def payload_type(self) -> int: ...
    @property
    def receive_codecs(self) -> Mapping[int, CodecDescription]: ...
    @property
    def direction(self) -> str: ...
    @property
    def rtcp_mux(self) -> bool: ...


class MediaParameters(StreamParameters, Protocol):
    """The agreed audio stream from our point of view (``NegotiatedMedia`` fits it)."""

    @property
    def telephone_event(self) -> int | None: ...
    @property
    def telephone_events(self) -> Mapping[int, int]: ...
    @property
    def ptime(self) -> int: ...
    @property
    def remote_ssrc(self) -> int | None: ...
    @property
    def ice(self) -> NegotiatedIce | None: ...


@functools.lru_cache(maxsize=256)  # asked at every tick; parsing the address each time was 2 % of the media thread
def is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def address_key(host: str, port: int, family: int = socket.AF_INET) -> tuple[str, int]:
    """``(host, port)`` spelt as ``recvfrom`` on a socket of ``family`` reports a datagram from there.

    IPv6 addresses come back compressed and in lower case, IPv4 ones on an IPv6
    socket as v4-mapped. A host name stays as given (no datagram comes from it).
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return (host, port)
    if family == socket.AF_INET6 and ip.version == 4:
        return (f"::ffff:{ip}", port)
    return (str(ip), port)

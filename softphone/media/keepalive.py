"""Keeping a NAT's mapping of a media port open while no RTP goes out (RFC 6263).

While a call is on hold or muted into silence suppression, no RTP may leave
the media port for minutes and the NAT in front of it forgets the mapping the
SDP gave out. :class:`MediaKeepalive` says when to send something anyway: a
STUN Binding indication (RFC 6263 4.4, RFC 8489 6.1), which a peer drops as
not RTP (RFC 7983) and which asks no answer of anyone. The first one goes
out at once: it opens our NAT towards the peer before the peer's first
packet arrives, which matters when we wait for the peer to speak first (the
passive side of a DTLS handshake).
"""

from __future__ import annotations

from softphone.stun.message import Attr, Class, Method, StunMessage

__all__ = ["DEFAULT_INTERVAL", "MediaKeepalive"]

# RFC 6263 4: Tr, the time without a packet after which a keep-alive goes out; 15 s recommended.
DEFAULT_INTERVAL = 15.0


class MediaKeepalive:
    """When to send a keep-alive on a media port: at the first poll, then after ``interval`` of quiet; None: never."""

    def __init__(self, interval: float | None, now: float) -> None:
        if interval is not None and not interval > 0:
            raise ValueError(f"keep-alive interval must be positive, not {interval}")
        self.interval = interval
        self.last_sent = now if interval is None else now - interval
        self.sent = 0

    def note_sent(self, now: float) -> None:
        """Any packet left the port (RTP or a keep-alive): the mapping is fresh."""
        self.last_sent = now

    def poll(self, now: float) -> bytes | None:
        """A keep-alive datagram when one is due, else None."""
        if self.interval is None or now - self.last_sent < self.interval:
            return None
        self.last_sent = now
        self.sent += 1
        return StunMessage(Method.BINDING, Class.INDICATION).add(Attr.SOFTWARE, "softphone").encode()

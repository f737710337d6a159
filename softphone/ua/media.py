"""Local media ports: one even UDP port per call, held open until the call ends.

There is no media engine yet; the port is reserved so that the SDP we send
names a port that is really ours, and the engine can take the socket over.
"""

from __future__ import annotations

import socket

from softphone.transport import TransportError


class MediaPort:
    """An even UDP port (RFC 3550 11: RTP on even ports, RTCP on the next odd one) bound on ``host``."""

    def __init__(self, host: str, attempts: int = 64) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        kept: list[socket.socket] = []
        try:
            for _ in range(attempts):
                sock = socket.socket(family, socket.SOCK_DGRAM)
                try:
                    sock.bind((host, 0))
                except OSError as exc:
                    sock.close()
                    raise TransportError(f"cannot bind a media port on {host}: {exc.strerror or exc}") from exc
                port = sock.getsockname()[1]
                if port % 2 == 0:
                    self.socket: socket.socket | None = sock
                    self.port: int = port
                    return
                kept.append(sock)  # odd: keep it bound until we find an even one, so it is not handed out again
            raise TransportError(f"no even UDP port free on {host}")
        finally:
            for sock in kept:
                sock.close()

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    @property
    def closed(self) -> bool:
        return self.socket is None

"""The exception family of the transport layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from softphone.transport.base import Target


class TransportError(Exception):
    """A message could not be sent, or a connection or flow failed.

    ``target`` is the remote address concerned, when known.
    """

    def __init__(self, message: str, target: Target | None = None) -> None:
        super().__init__(message)
        self.target = target


class ResolveError(TransportError):
    """RFC 3263 server location found no address to send to."""

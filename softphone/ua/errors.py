"""The user agent layer's exception family."""

from __future__ import annotations


class UserAgentError(Exception):
    """A command that cannot be carried out (unknown call, bad URI, wrong state)."""


__all__ = ["UserAgentError"]

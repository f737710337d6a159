"""The media layer's exception family."""

from __future__ import annotations


class MediaError(ValueError):
    """A malformed or unusable media packet, or an invalid value for one."""

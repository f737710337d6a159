"""STUN and ChannelData framed on a TCP or TLS stream to a TURN server (RFC 8656 12.5), sans-I/O.

On a stream there are no datagram boundaries: each frame says its own
length. A STUN message (first two bits 00) is its 20-byte header plus the
length in the header; a ChannelData message (first two bits 01) is its
4-byte header plus the data, padded to a multiple of four bytes (RFC 8656
12.5: over TCP and TLS the padding is sent, and counted by the reader,
though the length field does not include it).

:class:`FrameReader` is fed the bytes as they arrive, in pieces of any size,
and hands back whole frames. A frame that cannot be one — other leading
bits, a STUN header without the magic cookie, a length that is not a
multiple of four, a reserved channel number, a frame longer than
:data:`MAX_FRAME` — raises :class:`StreamFramingError`: a stream has no way
to find the next frame after garbage, so the connection is done. The reader
never holds more than one frame's worth of bytes plus the piece it was just
given, so what a server that sends garbage costs us is bounded.
"""

from __future__ import annotations

from softphone.stun.message import HEADER_SIZE, MAGIC_COOKIE, StunParseError

__all__ = ["MAX_FRAME", "FrameReader", "StreamFramingError", "frame_size", "padded"]

# The largest frame taken from a TURN server: a media datagram (at most 2048 bytes here) in a Data
# indication with its attributes fits with room to spare; anything longer is not ours.
MAX_FRAME = 4096
CHANNEL_HEADER = 4
FIRST_CHANNEL, LAST_CHANNEL = 0x4000, 0x4FFF


class StreamFramingError(StunParseError):
    """The stream does not carry STUN or ChannelData frames (or one longer than we accept); the message says how."""


def padded(length: int) -> int:
    """``length`` rounded up to a multiple of four (RFC 8656 12.5)."""
    return (length + 3) & ~3


def frame_size(header: bytes) -> int | None:
    """The size on the stream of the frame that starts with ``header``; None until four bytes are there
    (twenty for a STUN header's cookie check). Raises :class:`StreamFramingError` for what is not a frame."""
    if len(header) < CHANNEL_HEADER:
        return None
    first = header[0] >> 6
    length = int.from_bytes(header[2:4], "big")
    if first == 0b01:
        channel = int.from_bytes(header[:2], "big")
        if not FIRST_CHANNEL <= channel <= LAST_CHANNEL:
            # RFC 8656 12: 0x5000-0x7FFF are reserved; a server does not send them.
            raise StreamFramingError(f"ChannelData with the reserved channel number 0x{channel:04X}")
        size = CHANNEL_HEADER + padded(length)
    elif first == 0b00:
        if length % 4:
            raise StreamFramingError(f"a STUN message length of {length}, not a multiple of 4")
        if len(header) < HEADER_SIZE:
            return None
        if int.from_bytes(header[4:8], "big") != MAGIC_COOKIE:
            raise StreamFramingError("a STUN header without the magic cookie")
        size = HEADER_SIZE + length
    else:
        raise StreamFramingError(f"a frame starting with 0x{header[0]:02X}, neither STUN nor ChannelData")
    if size > MAX_FRAME:
        raise StreamFramingError(f"a frame of {size} bytes, more than the {MAX_FRAME} accepted")
    return size


class FrameReader:
    """Whole frames out of a stream's bytes; see the module documentation."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.broken: StreamFramingError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for a frame not yet complete."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """The frames ``data`` completes, in order; a ChannelData frame comes without its padding.

        Raises :class:`StreamFramingError` at the first byte that cannot start a frame (once frames before it
        have been returned), and again on every later call."""
        if self.broken is not None:
            raise self.broken
        self._buffer += data
        frames: list[bytes] = []
        while True:
            try:
                size = frame_size(bytes(self._buffer[:HEADER_SIZE]))
            except StreamFramingError as exc:
                self.broken = exc
                self._buffer.clear()
                if frames:
                    return frames  # the good frames first; the next feed raises
                raise
            if size is None or len(self._buffer) < size:
                return frames
            frame = bytes(self._buffer[:size])
            del self._buffer[:size]
            if frame[0] >> 6 == 0b01:
                frame = frame[: CHANNEL_HEADER + int.from_bytes(frame[2:4], "big")]
            frames.append(frame)

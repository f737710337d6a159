"""STUN messages (RFC 8489 section 5 and 14, RFC 5780 section 7): parse and serialize.

A :class:`StunMessage` is a method, a class, a 96-bit transaction ID and its
attributes in order, each kept as raw bytes and, for the attributes this
module knows, checked and decoded at parse time. :meth:`StunMessage.parse`
takes any bytes and either returns a message or raises
:class:`StunParseError` — nothing else — and refuses anything longer than
:data:`MAX_MESSAGE_SIZE`. :meth:`StunMessage.encode` writes a message with
MESSAGE-INTEGRITY (short-term or long-term key, see :func:`short_term_key`
and :func:`long_term_key`) and FINGERPRINT when asked.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import secrets
import struct
import unicodedata
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = [
    "MAGIC_COOKIE",
    "MAX_MESSAGE_SIZE",
    "Address",
    "Attr",
    "ChangeRequest",
    "Class",
    "ErrorCode",
    "Method",
    "StunMessage",
    "StunParseError",
    "is_stun",
    "long_term_key",
    "short_term_key",
]

MAGIC_COOKIE = 0x2112A442
HEADER_SIZE = 20
# Larger than any STUN message this phone sends or expects (RFC 8489 6.1: messages fit the path MTU).
MAX_MESSAGE_SIZE = 1500
_FINGERPRINT_XOR = 0x5354554E
_MAX_TEXT = 763  # RFC 8489 14.9/14.10/14.12: reason phrase, REALM, NONCE, SOFTWARE < 763 bytes
_MAX_USERNAME = 513

Address = tuple[str, int]


class StunParseError(ValueError):
    """Bytes that are not a well-formed STUN message, or a value that cannot be encoded."""


class Class(enum.IntEnum):
    REQUEST = 0
    INDICATION = 1
    SUCCESS = 2
    ERROR = 3


class Method(enum.IntEnum):
    BINDING = 0x001
    ALLOCATE = 0x003  # RFC 8656 18
    REFRESH = 0x004
    SEND = 0x006
    DATA = 0x007
    CREATE_PERMISSION = 0x008
    CHANNEL_BIND = 0x009


class Attr(enum.IntEnum):
    MAPPED_ADDRESS = 0x0001
    CHANGE_REQUEST = 0x0003  # RFC 5780 7.2
    USERNAME = 0x0006
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    CHANNEL_NUMBER = 0x000C  # RFC 8656 18
    LIFETIME = 0x000D
    XOR_PEER_ADDRESS = 0x0012
    DATA = 0x0013
    REALM = 0x0014
    NONCE = 0x0015
    XOR_RELAYED_ADDRESS = 0x0016
    REQUESTED_ADDRESS_FAMILY = 0x0017
    EVEN_PORT = 0x0018
    REQUESTED_TRANSPORT = 0x0019
    DONT_FRAGMENT = 0x001A
    XOR_MAPPED_ADDRESS = 0x0020
    RESERVATION_TOKEN = 0x0022
    PRIORITY = 0x0024  # RFC 8445 16.1
    USE_CANDIDATE = 0x0025
    PADDING = 0x0026  # RFC 5780 7.6
    RESPONSE_PORT = 0x0027  # RFC 5780 7.5
    SOFTWARE = 0x8022
    ALTERNATE_SERVER = 0x8023
    FINGERPRINT = 0x8028
    RESPONSE_ORIGIN = 0x802B  # RFC 5780 7.3
    ICE_CONTROLLED = 0x8029  # RFC 8445 16.1
    ICE_CONTROLLING = 0x802A
    OTHER_ADDRESS = 0x802C  # RFC 5780 7.4


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """RFC 5780 7.2: ask the server to answer from its other IP address and/or port."""

    ip: bool = False
    port: bool = False


def is_stun(data: bytes) -> bool:
    """Whether a datagram on a media port looks like STUN (RFC 7983 7: first byte 0-3, and the cookie)."""
    return (
        len(data) >= HEADER_SIZE
        and data[0] < 4
        and int.from_bytes(data[4:8], "big") == MAGIC_COOKIE
        and (len(data) - HEADER_SIZE) == int.from_bytes(data[2:4], "big")
        and len(data) % 4 == 0
    )


def _opaque(password: str) -> bytes:
    """RFC 8265 OpaqueString as far as RFC 8489 9.2.2 needs it: non-ASCII spaces to U+0020, then NFC."""
    mapped = "".join(" " if unicodedata.category(c) == "Zs" else c for c in password)
    return unicodedata.normalize("NFC", mapped).encode("utf-8")


def short_term_key(password: str) -> bytes:
    """RFC 8489 9.1.1: the key is the OpaqueString-processed password."""
    return _opaque(password)


def long_term_key(username: str, realm: str, password: str) -> bytes:
    """RFC 8489 9.2.2: MD5(username ":" realm ":" password)."""
    text = username.encode("utf-8") + b":" + realm.encode("utf-8") + b":" + _opaque(password)
    return hashlib.md5(text, usedforsecurity=False).digest()


# --- attribute values ----------------------------------------------------------------------------


def _decode_address(value: bytes, xor: bytes | None) -> Address:
    if len(value) < 4 or value[0] != 0:
        raise StunParseError("address attribute too short or with a non-zero first byte")
    family, port = value[1], int.from_bytes(value[2:4], "big")
    raw = value[4:]
    if family == 1 and len(raw) == 4:
        pass
    elif family == 2 and len(raw) == 16:
        pass
    else:
        raise StunParseError(f"address attribute of family {family} with {len(raw)} address bytes")
    if xor is not None:
        port ^= MAGIC_COOKIE >> 16
        raw = bytes(a ^ b for a, b in zip(raw, xor, strict=False))
    return (str(ipaddress.ip_address(raw)), port)


def _encode_address(address: Address, xor: bytes | None) -> bytes:
    host, port = address
    try:
        ip = ipaddress.ip_address(host)
    except ValueError as exc:
        raise StunParseError(f"not an IP address: {host!r}") from exc
    if not 0 <= port <= 0xFFFF:
        raise StunParseError(f"port {port} out of range")
    raw = ip.packed
    if xor is not None:
        port ^= MAGIC_COOKIE >> 16
        raw = bytes(a ^ b for a, b in zip(raw, xor, strict=False))
    return bytes([0, 1 if ip.version == 4 else 2]) + port.to_bytes(2, "big") + raw


def _decode_text(value: bytes, limit: int) -> str:
    if len(value) > limit:
        raise StunParseError(f"text attribute of {len(value)} bytes (at most {limit})")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StunParseError("text attribute is not UTF-8") from exc


def _decode_error(value: bytes) -> ErrorCode:
    # RFC 8489 14.8: 21 reserved bits, class (3..6) and number (0..99).
    if len(value) < 4 or value[0] != 0 or value[1] != 0:
        raise StunParseError("ERROR-CODE too short or with reserved bits set")
    klass, number = value[2] & 0x07, value[3]
    if not 3 <= klass <= 6 or number > 99:
        raise StunParseError(f"ERROR-CODE {klass}{number:02} out of range")
    return ErrorCode(klass * 100 + number, _decode_text(value[4:], _MAX_TEXT))


def _encode_error(error: ErrorCode) -> bytes:
    if not 300 <= error.code <= 699:
        raise StunParseError(f"error code {error.code} out of range")
    return bytes([0, 0, error.code // 100, error.code % 100]) + error.reason.encode("utf-8")


def _decode_change(value: bytes) -> ChangeRequest:
    if len(value) != 4:
        raise StunParseError("CHANGE-REQUEST is not 4 bytes")
    flags = value[3]
    return ChangeRequest(ip=bool(flags & 0x04), port=bool(flags & 0x02))


def _decode_unknown(value: bytes) -> tuple[int, ...]:
    if len(value) % 2:
        raise StunParseError("UNKNOWN-ATTRIBUTES of odd length")
    return tuple(int.from_bytes(value[i : i + 2], "big") for i in range(0, len(value), 2))


def _decode_port(value: bytes) -> int:
    if len(value) != 4:
        raise StunParseError("RESPONSE-PORT is not 4 bytes")
    return int.from_bytes(value[:2], "big")


def _decode_u32(name: str) -> Callable[[bytes, bytes], object]:
    def decode(value: bytes, _xor: bytes) -> int:
        if len(value) != 4:
            raise StunParseError(f"{name} is not 4 bytes")
        return int.from_bytes(value, "big")

    return decode


def _decode_tiebreaker(value: bytes) -> int:
    if len(value) != 8:
        raise StunParseError("ICE-CONTROLLED/ICE-CONTROLLING is not 8 bytes")
    return int.from_bytes(value, "big")


def _decode_channel(value: bytes) -> int:
    # RFC 8656 14.1: a channel number in 0x4000-0x4FFF, then two reserved zero bytes.
    if len(value) != 4:
        raise StunParseError("CHANNEL-NUMBER is not 4 bytes")
    number = int.from_bytes(value[:2], "big")
    if not 0x4000 <= number <= 0x4FFF:
        raise StunParseError(f"channel number 0x{number:04x} outside 0x4000-0x4FFF")
    return number


def _decode_transport(value: bytes) -> int:
    # RFC 8656 14.7: the IP protocol number, then three reserved bytes.
    if len(value) != 4:
        raise StunParseError("REQUESTED-TRANSPORT is not 4 bytes")
    return value[0]


Decoder = Callable[[bytes, bytes], object]

_DECODERS: dict[int, Decoder] = {
    Attr.MAPPED_ADDRESS: lambda v, _x: _decode_address(v, None),
    Attr.ALTERNATE_SERVER: lambda v, _x: _decode_address(v, None),
    Attr.RESPONSE_ORIGIN: lambda v, _x: _decode_address(v, None),
    Attr.OTHER_ADDRESS: lambda v, _x: _decode_address(v, None),
    Attr.XOR_MAPPED_ADDRESS: _decode_address,
    Attr.CHANGE_REQUEST: lambda v, _x: _decode_change(v),
    Attr.USERNAME: lambda v, _x: _decode_text(v, _MAX_USERNAME),
    Attr.REALM: lambda v, _x: _decode_text(v, _MAX_TEXT),
    Attr.NONCE: lambda v, _x: _decode_text(v, _MAX_TEXT),
    Attr.SOFTWARE: lambda v, _x: _decode_text(v, _MAX_TEXT),
    Attr.ERROR_CODE: lambda v, _x: _decode_error(v),
    Attr.UNKNOWN_ATTRIBUTES: lambda v, _x: _decode_unknown(v),
    Attr.RESPONSE_PORT: lambda v, _x: _decode_port(v),
    Attr.PADDING: lambda v, _x: v,
    Attr.XOR_PEER_ADDRESS: _decode_address,
    Attr.XOR_RELAYED_ADDRESS: _decode_address,
    Attr.LIFETIME: _decode_u32("LIFETIME"),
    Attr.CHANNEL_NUMBER: lambda v, _x: _decode_channel(v),
    Attr.REQUESTED_TRANSPORT: lambda v, _x: _decode_transport(v),
    Attr.DATA: lambda v, _x: v,
    Attr.PRIORITY: _decode_u32("PRIORITY"),
    Attr.USE_CANDIDATE: lambda v, _x: v,
    Attr.ICE_CONTROLLED: lambda v, _x: _decode_tiebreaker(v),
    Attr.ICE_CONTROLLING: lambda v, _x: _decode_tiebreaker(v),
}
_XOR_ADDRESSES = (Attr.XOR_MAPPED_ADDRESS, Attr.XOR_PEER_ADDRESS, Attr.XOR_RELAYED_ADDRESS)


def _encode_value(attr: int, value: object, xor: bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    if attr in _XOR_ADDRESSES and isinstance(value, tuple):
        return _encode_address(value, xor)
    if attr in (Attr.MAPPED_ADDRESS, Attr.ALTERNATE_SERVER, Attr.RESPONSE_ORIGIN, Attr.OTHER_ADDRESS):
        if isinstance(value, tuple):
            return _encode_address(value, None)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, ErrorCode):
        return _encode_error(value)
    if isinstance(value, ChangeRequest):
        return bytes([0, 0, 0, (4 if value.ip else 0) | (2 if value.port else 0)])
    if attr == Attr.UNKNOWN_ATTRIBUTES and isinstance(value, tuple):
        return b"".join(int(t).to_bytes(2, "big") for t in value)
    if attr == Attr.RESPONSE_PORT and isinstance(value, int):
        return value.to_bytes(2, "big") + b"\0\0"
    if attr in (Attr.LIFETIME, Attr.PRIORITY) and isinstance(value, int) and 0 <= value <= 0xFFFFFFFF:
        return value.to_bytes(4, "big")
    if attr in (Attr.ICE_CONTROLLED, Attr.ICE_CONTROLLING) and isinstance(value, int) and 0 <= value < 2**64:
        return value.to_bytes(8, "big")
    if attr == Attr.CHANNEL_NUMBER and isinstance(value, int) and 0x4000 <= value <= 0x4FFF:
        return value.to_bytes(2, "big") + b"\0\0"
    if attr == Attr.REQUESTED_TRANSPORT and isinstance(value, int) and 0 <= value <= 0xFF:
        return bytes([value, 0, 0, 0])
    raise StunParseError(f"cannot encode {value!r} as attribute 0x{attr:04x}")


def _pad(length: int) -> int:
    return (4 - length % 4) % 4


def _message_type(method: int, klass: Class) -> int:
    # RFC 8489 5: the class bits C1 C0 sit at bits 8 and 4 of the method.
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((klass & 1) << 4)
        | ((klass & 2) << 7)
    )


def _split_type(message_type: int) -> tuple[int, Class]:
    method = (message_type & 0x000F) | ((message_type & 0x00E0) >> 1) | ((message_type & 0x3E00) >> 2)
    klass = Class(((message_type >> 4) & 1) | ((message_type >> 7) & 2))
    return method, klass


# --- the message ---------------------------------------------------------------------------------


@dataclass
class StunMessage:
    """One STUN message. ``attributes`` holds (type, raw value) pairs in wire order.

    Parsed messages also carry ``raw`` (the datagram) and ``integrity_offset``
    (where MESSAGE-INTEGRITY starts) so :meth:`check_integrity` can verify it.
    """

    method: int
    cls: Class
    transaction_id: bytes = field(default_factory=lambda: secrets.token_bytes(12))
    attributes: list[tuple[int, bytes]] = field(default_factory=list)
    values: dict[int, object] = field(default_factory=dict, repr=False)
    raw: bytes = field(default=b"", repr=False)
    integrity_offset: int | None = field(default=None, repr=False)
    fingerprinted: bool = False

    def __post_init__(self) -> None:
        if len(self.transaction_id) != 12:
            raise StunParseError("a transaction ID has 12 bytes")
        if not 0 <= self.method <= 0xFFF:
            raise StunParseError(f"method 0x{self.method:x} out of range")

    # --- building ---------------------------------------------------------------------------

    def add(self, attr: int, value: object) -> StunMessage:
        """Append an attribute: an address tuple, str, :class:`ErrorCode`, :class:`ChangeRequest` or raw bytes."""
        raw = _encode_value(attr, value, self._xor())
        if len(raw) > 0xFFFF:
            raise StunParseError(f"attribute 0x{attr:04x} too long")
        self.attributes.append((attr, raw))
        self.values.setdefault(attr, value if not isinstance(value, bytes) else _decode_or_raw(attr, raw, self._xor()))
        return self

    def _xor(self) -> bytes:
        return MAGIC_COOKIE.to_bytes(4, "big") + self.transaction_id

    def encode(self, key: bytes | None = None, *, fingerprint: bool = True) -> bytes:
        """The wire form; with ``key`` a MESSAGE-INTEGRITY (RFC 8489 14.5), then FINGERPRINT (14.7) if wanted."""
        body = bytearray()
        for attr, value in self.attributes:
            if attr in (Attr.MESSAGE_INTEGRITY, Attr.FINGERPRINT):
                continue
            body += struct.pack("!HH", attr, len(value)) + value + b"\0" * _pad(len(value))
        head = struct.pack("!HHI", _message_type(self.method, self.cls), 0, MAGIC_COOKIE) + self.transaction_id
        if key is not None:
            length = len(body) + 24
            mac = hmac.new(key, _with_length(head, length) + body, hashlib.sha1).digest()
            body += struct.pack("!HH", Attr.MESSAGE_INTEGRITY, 20) + mac
        if fingerprint:
            length = len(body) + 8
            crc = (zlib.crc32(_with_length(head, length) + body) ^ _FINGERPRINT_XOR) & 0xFFFFFFFF
            body += struct.pack("!HHI", Attr.FINGERPRINT, 4, crc)
        data = _with_length(head, len(body)) + body
        if len(data) > MAX_MESSAGE_SIZE:
            raise StunParseError(f"message of {len(data)} bytes (at most {MAX_MESSAGE_SIZE})")
        return data

    # --- reading ------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes) -> StunMessage:
        """Read one datagram; :class:`StunParseError` for anything that is not a sound STUN message."""
        if len(data) > MAX_MESSAGE_SIZE:
            raise StunParseError(f"datagram of {len(data)} bytes (at most {MAX_MESSAGE_SIZE})")
        if len(data) < HEADER_SIZE:
            raise StunParseError(f"datagram of {len(data)} bytes is shorter than a STUN header")
        message_type, length, cookie = struct.unpack_from("!HHI", data)
        if message_type & 0xC000:
            raise StunParseError("the two top bits of a STUN message are not zero")
        if cookie != MAGIC_COOKIE:
            raise StunParseError("no STUN magic cookie")
        if length % 4 or length != len(data) - HEADER_SIZE:
            raise StunParseError(
                f"length field {length} does not match the {len(data) - HEADER_SIZE} bytes after the header"
            )
        method, klass = _split_type(message_type)
        message = cls(method, klass, bytes(data[8:20]), raw=bytes(data))
        xor = message._xor()
        offset = HEADER_SIZE
        while offset < len(data):
            if offset + 4 > len(data):
                raise StunParseError(f"attribute header cut short at byte {offset}")
            attr, size = struct.unpack_from("!HH", data, offset)
            end = offset + 4 + size
            if end > len(data):
                raise StunParseError(f"attribute 0x{attr:04x} at byte {offset} runs past the message")
            value = bytes(data[offset + 4 : end])
            if message.fingerprinted:
                raise StunParseError("an attribute after FINGERPRINT")
            if attr == Attr.FINGERPRINT:
                message._check_fingerprint(data, offset, value)
            elif message.integrity_offset is not None:
                pass  # RFC 8489 14.5: what follows MESSAGE-INTEGRITY (but FINGERPRINT) is ignored
            elif attr == Attr.MESSAGE_INTEGRITY:
                if size != 20:
                    raise StunParseError("MESSAGE-INTEGRITY is not 20 bytes")
                message.integrity_offset = offset
                message.attributes.append((attr, value))
            else:
                message.attributes.append((attr, value))
                decoder = _DECODERS.get(attr)
                if decoder is not None and attr not in message.values:
                    message.values[attr] = decoder(value, xor)
            offset = end + _pad(size)
        if offset != len(data):
            raise StunParseError("attribute padding runs past the message")
        return message

    def _check_fingerprint(self, data: bytes, offset: int, value: bytes) -> None:
        if len(value) != 4:
            raise StunParseError("FINGERPRINT is not 4 bytes")
        if offset + 8 != len(data):
            raise StunParseError("FINGERPRINT is not the last attribute")
        crc = (zlib.crc32(data[:offset]) ^ _FINGERPRINT_XOR) & 0xFFFFFFFF
        if crc != int.from_bytes(value, "big"):
            raise StunParseError("FINGERPRINT does not match")
        self.fingerprinted = True

    def check_integrity(self, key: bytes) -> bool:
        """Whether MESSAGE-INTEGRITY is present and right for ``key`` (RFC 8489 14.5)."""
        offset = self.integrity_offset
        if offset is None or not self.raw:
            return False
        head = _with_length(self.raw[:HEADER_SIZE], offset - HEADER_SIZE + 24)
        mac = hmac.new(key, head + self.raw[HEADER_SIZE:offset], hashlib.sha1).digest()
        return hmac.compare_digest(mac, self.raw[offset + 4 : offset + 24])

    def get(self, attr: int) -> object | None:
        return self.values.get(attr)

    def _address(self, attr: Attr) -> Address | None:
        value = self.values.get(attr)
        return value if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) else None

    @property
    def xor_mapped_address(self) -> Address | None:
        return self._address(Attr.XOR_MAPPED_ADDRESS)

    @property
    def mapped_address(self) -> Address | None:
        return self._address(Attr.MAPPED_ADDRESS)

    @property
    def reflexive_address(self) -> Address | None:
        """XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS (RFC 8489 14.1: kept for old servers)."""
        return self.xor_mapped_address or self.mapped_address

    @property
    def relayed_address(self) -> Address | None:
        return self._address(Attr.XOR_RELAYED_ADDRESS)

    @property
    def peer_address(self) -> Address | None:
        return self._address(Attr.XOR_PEER_ADDRESS)

    @property
    def lifetime(self) -> int | None:
        value = self.values.get(Attr.LIFETIME)
        return value if isinstance(value, int) else None

    @property
    def other_address(self) -> Address | None:
        return self._address(Attr.OTHER_ADDRESS)

    @property
    def response_origin(self) -> Address | None:
        return self._address(Attr.RESPONSE_ORIGIN)

    @property
    def error_code(self) -> ErrorCode | None:
        value = self.values.get(Attr.ERROR_CODE)
        return value if isinstance(value, ErrorCode) else None

    @property
    def software(self) -> str | None:
        value = self.values.get(Attr.SOFTWARE)
        return value if isinstance(value, str) else None

    @property
    def change_request(self) -> ChangeRequest | None:
        value = self.values.get(Attr.CHANGE_REQUEST)
        return value if isinstance(value, ChangeRequest) else None

    def unknown_required(self, known: Iterable[int] = tuple(Attr)) -> list[int]:
        """Comprehension-required attributes (type below 0x8000) this side does not know (RFC 8489 14)."""
        known_set = set(known)
        return [attr for attr, _ in self.attributes if attr < 0x8000 and attr not in known_set]


def _decode_or_raw(attr: int, raw: bytes, xor: bytes) -> object:
    decoder = _DECODERS.get(attr)
    return raw if decoder is None else decoder(raw, xor)


def _with_length(head: bytes, length: int) -> bytes:
    return head[:2] + length.to_bytes(2, "big") + head[4:HEADER_SIZE]

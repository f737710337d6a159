"""STUN messages: the RFC 5769 test vectors, round trips, integrity and fingerprint, and refusals."""

from __future__ import annotations

import pytest

from softphone.stun import (
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
from softphone.stun.message import MAX_MESSAGE_SIZE, ChangeRequest

# RFC 5769 2.1: a request with short-term credentials, SOFTWARE, ICE attributes, MESSAGE-INTEGRITY, FINGERPRINT.
RFC5769_REQUEST = bytes.fromhex(
    "000100582112a442b7e7a701bc34d686fa87dfae"
    "802200105354554e20746573742063"
    "6c69656e74"
    "002400046e0001ff"
    "80290008932ff9b151263b36"
    "000600096576746a3a68367659202020"
    "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004e57a3bcf"
)
RFC5769_PASSWORD = "VOkJxbRl1RmTxUk/WvJxBt"

# RFC 5769 2.2: the IPv4 response, XOR-MAPPED-ADDRESS 192.0.2.1:32853.
RFC5769_RESPONSE = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96"
)


def test_rfc5769_request_parses_and_its_integrity_checks() -> None:
    message = StunMessage.parse(RFC5769_REQUEST)
    assert (message.method, message.cls) == (Method.BINDING, Class.REQUEST)
    assert message.transaction_id == bytes.fromhex("b7e7a701bc34d686fa87dfae")
    assert message.software == "STUN test client"
    assert message.get(Attr.USERNAME) == "evtj:h6vY"
    assert message.fingerprinted
    assert message.check_integrity(short_term_key(RFC5769_PASSWORD))
    assert not message.check_integrity(short_term_key("wrong"))
    # RFC 5769 2.1's request is an ICE check: PRIORITY and ICE-CONTROLLED, now known and decoded.
    assert message.unknown_required() == []
    assert message.get(Attr.PRIORITY) == 0x6E0001FF
    assert message.get(Attr.ICE_CONTROLLED) == 0x932FF9B151263B36


def test_rfc5769_response_gives_the_mapped_address() -> None:
    message = StunMessage.parse(RFC5769_RESPONSE)
    assert message.cls is Class.SUCCESS
    assert message.xor_mapped_address == ("192.0.2.1", 32853)
    assert message.reflexive_address == ("192.0.2.1", 32853)
    assert message.check_integrity(short_term_key(RFC5769_PASSWORD))


def test_encoding_the_rfc5769_response_gives_the_same_bytes() -> None:
    message = StunMessage(Method.BINDING, Class.SUCCESS, bytes.fromhex("b7e7a701bc34d686fa87dfae"))
    message.add(Attr.SOFTWARE, "test vector")
    message.add(Attr.XOR_MAPPED_ADDRESS, ("192.0.2.1", 32853))
    # RFC 5769 pads SOFTWARE with a space, we pad with zero: only the padding byte, MAC and CRC differ.
    ours = StunMessage.parse(message.encode(short_term_key(RFC5769_PASSWORD)))
    assert ours.xor_mapped_address == ("192.0.2.1", 32853)
    assert ours.check_integrity(short_term_key(RFC5769_PASSWORD))


def test_round_trip_of_every_attribute_with_long_term_credentials() -> None:
    key = long_term_key("alice", "test.invalid", "turnpw")
    message = StunMessage(Method.BINDING, Class.ERROR)
    message.add(Attr.XOR_MAPPED_ADDRESS, ("2001:db8::1", 5060))
    message.add(Attr.MAPPED_ADDRESS, ("203.0.113.7", 1))
    message.add(Attr.OTHER_ADDRESS, ("203.0.113.2", 3479))
    message.add(Attr.RESPONSE_ORIGIN, ("203.0.113.1", 3478))
    message.add(Attr.CHANGE_REQUEST, ChangeRequest(ip=True, port=False))
    message.add(Attr.ERROR_CODE, ErrorCode(420, "Unknown Attribute"))
    message.add(Attr.UNKNOWN_ATTRIBUTES, (0x0024, 0x0025))
    message.add(Attr.USERNAME, "alice")
    message.add(Attr.REALM, "test.invalid")
    message.add(Attr.NONCE, "abc")
    message.add(Attr.SOFTWARE, "softphone")
    message.add(Attr.RESPONSE_PORT, 4000)
    data = message.encode(key)
    back = StunMessage.parse(data)
    assert is_stun(data)
    assert back.cls is Class.ERROR and back.transaction_id == message.transaction_id
    assert back.xor_mapped_address == ("2001:db8::1", 5060)
    assert back.mapped_address == ("203.0.113.7", 1)
    assert back.other_address == ("203.0.113.2", 3479)
    assert back.response_origin == ("203.0.113.1", 3478)
    assert back.change_request == ChangeRequest(ip=True, port=False)
    assert back.error_code == ErrorCode(420, "Unknown Attribute")
    assert back.get(Attr.UNKNOWN_ATTRIBUTES) == (0x0024, 0x0025)
    assert back.get(Attr.RESPONSE_PORT) == 4000
    assert back.check_integrity(key)
    assert not back.check_integrity(long_term_key("alice", "test.invalid", "other"))


def test_method_and_class_bits_round_trip() -> None:
    for method in (0x001, 0x003, 0x00F, 0x0FF, 0xFFF):
        for klass in Class:
            back = StunMessage.parse(StunMessage(method, klass).encode())
            assert (back.method, back.cls) == (method, klass)


def test_attributes_after_message_integrity_are_ignored() -> None:
    key = short_term_key("pw")
    data = (
        StunMessage(Method.BINDING, Class.SUCCESS)
        .add(Attr.XOR_MAPPED_ADDRESS, ("192.0.2.1", 1))
        .encode(key, fingerprint=False)
    )
    # Append a MAPPED-ADDRESS after MESSAGE-INTEGRITY and fix the length: it must not be read.
    extra = bytes.fromhex("0001000800010002c0000202")
    tampered = data[:2] + (len(data) - 20 + len(extra)).to_bytes(2, "big") + data[4:] + extra
    message = StunMessage.parse(tampered)
    assert message.mapped_address is None
    assert message.check_integrity(key)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "shorter"),
        (b"\x00\x01\x00\x00" + b"\x00" * 16, "cookie"),
        (b"\xc0\x01\x00\x00\x21\x12\xa4\x42" + b"\x00" * 12, "top bits"),
        (b"\x00\x01\x00\x04\x21\x12\xa4\x42" + b"\x00" * 12, "length field"),
        (b"\x00\x01\x00\x03\x21\x12\xa4\x42" + b"\x00" * 15, "length field"),
        (b"\x00\x01\x00\x04\x21\x12\xa4\x42" + b"\x00" * 12 + b"\x00\x20\x00\x08", "runs past"),
        (b"\x00\x01\x00\x08\x21\x12\xa4\x42" + b"\x00" * 12 + b"\x00\x20\x00\x04\x00\x03\x00\x00", "family"),
        (b"\x00\x01\x00\x0c\x21\x12\xa4\x42" + b"\x00" * 12 + b"\x00\x09\x00\x08\x00\x00\x07\x00abcd", "ERROR-CODE"),
        (b"\x00\x01\x00\x08\x21\x12\xa4\x42" + b"\x00" * 12 + b"\x80\x28\x00\x04\x00\x00\x00\x00", "FINGERPRINT"),
        (b"\x00\x01\x00\x08\x21\x12\xa4\x42" + b"\x00" * 12 + b"\x80\x22\x00\x04\xff\xfe\xfd\xfc", "UTF-8"),
        (b"\x00" * (MAX_MESSAGE_SIZE + 1), "at most"),
    ],
)
def test_malformed_messages_raise_stun_parse_error_saying_why(data: bytes, why: str) -> None:
    with pytest.raises(StunParseError, match=why):
        StunMessage.parse(data)


def test_a_changed_byte_breaks_the_fingerprint() -> None:
    data = bytearray(StunMessage(Method.BINDING, Class.REQUEST).add(Attr.SOFTWARE, "x").encode())
    data[25] ^= 1
    with pytest.raises(StunParseError, match="FINGERPRINT"):
        StunMessage.parse(bytes(data))


def test_unencodable_values_raise_stun_parse_error() -> None:
    with pytest.raises(StunParseError):
        StunMessage(Method.BINDING, Class.REQUEST).add(Attr.XOR_MAPPED_ADDRESS, ("example.com", 1))
    with pytest.raises(StunParseError):
        StunMessage(Method.BINDING, Class.REQUEST).add(Attr.ERROR_CODE, ErrorCode(200))
    with pytest.raises(StunParseError):
        StunMessage(Method.BINDING, Class.REQUEST, b"short")
    with pytest.raises(StunParseError, match="at most"):
        StunMessage(Method.BINDING, Class.REQUEST).add(Attr.PADDING, b"\0" * 2000).encode()


def test_rtp_and_dtls_are_not_stun() -> None:
    assert not is_stun(b"\x80\x00" + b"\x00" * 30)  # RTP version 2
    assert not is_stun(b"\x16\xfe\xfd" + b"\x00" * 30)  # DTLS
    assert is_stun(StunMessage(Method.BINDING, Class.INDICATION).encode())

"""Property tests: no bytes make the STUN parser raise anything but StunParseError; round trips hold."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softphone.stun import Attr, BindingTransaction, Class, StunMessage, StunParseError, is_stun
from softphone.stun.message import MAX_MESSAGE_SIZE, ChangeRequest, ErrorCode

SETTINGS = settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_SEED = StunMessage(0x001, Class.SUCCESS, b"\x01" * 12)
_SEED.add(Attr.XOR_MAPPED_ADDRESS, ("203.0.113.10", 4000)).add(Attr.OTHER_ADDRESS, ("203.0.113.2", 3479))
_SEED.add(Attr.SOFTWARE, "x").add(Attr.ERROR_CODE, ErrorCode(401, "u"))
SEED = _SEED.encode(b"key")


def _exercise(data: bytes) -> None:
    try:
        message = StunMessage.parse(data)
    except StunParseError:
        return
    assert len(data) <= MAX_MESSAGE_SIZE
    for attr in Attr:
        message.get(attr)
    _ = (message.reflexive_address, message.other_address, message.response_origin, message.error_code)
    message.check_integrity(b"key")
    message.unknown_required()
    assert is_stun(data) == (data[0] < 4)  # RFC 7983 demultiplexes only methods below 0x040


@SETTINGS
@given(st.binary(max_size=2 * MAX_MESSAGE_SIZE))
def test_random_bytes(data: bytes) -> None:
    _exercise(data)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)), max_size=8))
def test_mutated_valid_message(flips: list[tuple[int, int]]) -> None:
    data = bytearray(SEED)
    for index, value in flips:
        data[index] = value
    _exercise(bytes(data))


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)),
        max_size=12,
    ),
    st.integers(0, 0xFFF),
    st.sampled_from(list(Class)),
)
def test_any_attribute_list_with_a_sound_header(attrs: list[tuple[int, bytes]], method: int, klass: Class) -> None:
    """Well-framed messages with arbitrary attribute values: parse or StunParseError, and a driver never crashes."""
    message = StunMessage(method, klass, b"\x02" * 12, attributes=list(attrs))
    data = message.encode(fingerprint=False)
    _exercise(data)
    tx = BindingTransaction()
    tx.start(0.0)
    tx.request.transaction_id = b"\x02" * 12
    tx.receive(data, 0.1)


@SETTINGS
@given(
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
    st.integers(0, 0xFFFF),
    st.booleans(),
    st.booleans(),
    st.text(max_size=60),
)
def test_round_trip(ip: tuple[int, int, int, int], port: int, change_ip: bool, change_port: bool, text: str) -> None:
    address = (".".join(map(str, ip)), port)
    message = StunMessage(0x001, Class.REQUEST)
    message.add(Attr.XOR_MAPPED_ADDRESS, address).add(Attr.MAPPED_ADDRESS, address)
    message.add(Attr.CHANGE_REQUEST, ChangeRequest(change_ip, change_port)).add(Attr.SOFTWARE, text)
    back = StunMessage.parse(message.encode(b"k"))
    assert back.xor_mapped_address == address and back.mapped_address == address
    assert back.change_request == ChangeRequest(change_ip, change_port)
    assert back.software == text
    assert back.check_integrity(b"k")

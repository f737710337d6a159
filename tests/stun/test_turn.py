"""The sans-I/O TURN client (RFC 8656) against a scripted server: the 401 challenge, 438, refresh, permissions,
channels, Data/Send indications, deallocation and the words of its errors; a fuzz of the TURN attributes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.stun import Attr, Class, ErrorCode, Method, StunMessage, StunParseError, long_term_key
from softphone.stun.transaction import Send
from softphone.stun.turn import (
    CHANNEL_REFRESH,
    PERMISSION_REFRESH,
    Allocated,
    Failed,
    Received,
    TurnClient,
    TurnState,
    channel_data,
    parse_channel_data,
)

USER, PASSWORD, REALM = "alice", "turnpw", "lab.invalid"
KEY = long_term_key(USER, REALM, PASSWORD)
RELAYED = ("203.0.113.1", 50000)
MAPPED = ("203.0.113.10", 40000)
PEER = ("203.0.113.20", 6000)


def sent(effects: list[object]) -> list[StunMessage]:
    return [StunMessage.parse(e.data) for e in effects if isinstance(e, Send)]


def answer(
    request: StunMessage, cls: Class = Class.SUCCESS, *attrs: tuple[int, object], key: bytes | None = KEY
) -> bytes:
    response = StunMessage(request.method, cls, request.transaction_id)
    for attr, value in attrs:
        response.add(attr, value)
    return response.encode(key)


def challenge(request: StunMessage, code: int = 401, nonce: str = "n1") -> bytes:
    return answer(
        request, Class.ERROR, (Attr.ERROR_CODE, ErrorCode(code, "Unauthorized")), (Attr.REALM, REALM),
        (Attr.NONCE, nonce), key=None,
    )  # fmt: skip


def allocated(client: TurnClient, lifetime: int = 600) -> StunMessage:
    """Run the client through the 401 challenge to an allocation; the signed Allocate it sent."""
    (first,) = sent(client.start(0.0))
    assert first.method == Method.ALLOCATE and first.get(Attr.USERNAME) is None
    assert first.get(Attr.REQUESTED_TRANSPORT) == 17
    (signed,) = sent(client.receive(challenge(first), 0.1))
    assert signed.get(Attr.USERNAME) == USER and signed.get(Attr.REALM) == REALM and signed.get(Attr.NONCE) == "n1"
    assert signed.check_integrity(KEY)
    effects = client.receive(
        answer(signed, Class.SUCCESS, (Attr.XOR_RELAYED_ADDRESS, RELAYED), (Attr.XOR_MAPPED_ADDRESS, MAPPED),
               (Attr.LIFETIME, lifetime)),
        0.2,
    )  # fmt: skip
    assert effects == [Allocated(RELAYED, MAPPED, lifetime)]
    assert client.state is TurnState.ALLOCATED
    return signed


def test_allocate_answers_the_challenge_and_refreshes_a_minute_before_the_end() -> None:
    client = TurnClient(USER, PASSWORD, channels=False)
    allocated(client)
    assert client.next_deadline == pytest.approx(0.2 + 540)
    assert client.on_timer(500.0) == []
    (refresh,) = sent(client.on_timer(540.2))
    assert refresh.method == Method.REFRESH and refresh.lifetime == 600 and refresh.check_integrity(KEY)
    assert client.receive(answer(refresh, Class.SUCCESS, (Attr.LIFETIME, 300)), 541.0) == []
    assert client.next_deadline == pytest.approx(541.0 + 240)


def test_a_wrong_password_is_a_401_after_credentials_and_says_so() -> None:
    client = TurnClient(USER, "wrong", server="TURN server 203.0.113.1:3478")
    (first,) = sent(client.start(0.0))
    (signed,) = sent(client.receive(challenge(first), 0.1))
    (failure,) = client.receive(challenge(signed, nonce="n2"), 0.2)
    assert isinstance(failure, Failed) and failure.fatal
    assert "refused the credentials of user 'alice'" in str(failure.error)
    assert "wrong user name or password" in str(failure.error)
    assert client.state is TurnState.FAILED and client.next_deadline is None
    assert "wrong" not in repr(client)  # the password stays out of logs


def test_a_stale_nonce_is_retried_with_the_new_one_a_bounded_number_of_times() -> None:
    client = TurnClient(USER, PASSWORD)
    (first,) = sent(client.start(0.0))
    (signed,) = sent(client.receive(challenge(first), 0.1))
    for attempt in range(3):
        (signed,) = sent(client.receive(challenge(signed, 438, f"stale{attempt}"), 0.2))
        assert signed.get(Attr.NONCE) == f"stale{attempt}" and signed.check_integrity(KEY)
    (failure,) = client.receive(challenge(signed, 438, "again"), 0.3)
    assert isinstance(failure, Failed) and "438" in str(failure.error)


def test_a_silent_server_times_out_within_the_setup_schedule() -> None:
    client = TurnClient(USER, PASSWORD, server="TURN server 203.0.113.99:3478")
    effects = client.start(0.0)
    now = 0.0
    while client.next_deadline is not None:
        now = client.next_deadline
        effects += client.on_timer(now)
    assert now == pytest.approx(1.75)
    assert len(sent(effects)) == 3
    failure = effects[-1]
    assert isinstance(failure, Failed) and "203.0.113.99:3478 did not answer ALLOCATE" in str(failure.error)


def test_an_allocation_without_a_relayed_address_fails_in_words() -> None:
    client = TurnClient(USER, PASSWORD)
    (first,) = sent(client.start(0.0))
    (signed,) = sent(client.receive(challenge(first), 0.1))
    (failure,) = client.receive(answer(signed, Class.SUCCESS, (Attr.LIFETIME, 600)), 0.2)
    assert isinstance(failure, Failed) and "XOR-RELAYED-ADDRESS" in str(failure.error)


def test_a_success_that_fails_integrity_is_ignored() -> None:
    client = TurnClient(USER, PASSWORD)
    (first,) = sent(client.start(0.0))
    (signed,) = sent(client.receive(challenge(first), 0.1))
    forged = answer(signed, Class.SUCCESS, (Attr.XOR_RELAYED_ADDRESS, RELAYED), key=b"not the key")
    assert client.receive(forged, 0.2) == []
    assert client.state is TurnState.ALLOCATING


def test_permission_channel_send_and_data() -> None:
    client = TurnClient(USER, PASSWORD)
    allocated(client)
    permission, bind = sent(client.permit(PEER, 1.0))
    assert permission.method == Method.CREATE_PERMISSION and permission.peer_address == (PEER[0], 0)
    assert bind.method == Method.CHANNEL_BIND and bind.get(Attr.CHANNEL_NUMBER) == 0x4000
    assert client.permit(PEER, 1.0) == []
    # Until the channel is confirmed, data goes out in Send indications.
    indication = StunMessage.parse(client.wrap(b"rtp", PEER))
    assert (indication.method, indication.cls) == (Method.SEND, Class.INDICATION)
    assert indication.peer_address == PEER and indication.get(Attr.DATA) == b"rtp"
    client.receive(answer(permission), 1.1)
    client.receive(answer(bind), 1.1)
    assert client.wrap(b"rtp", PEER) == channel_data(0x4000, b"rtp")
    data = StunMessage(Method.DATA, Class.INDICATION).add(Attr.XOR_PEER_ADDRESS, PEER).add(Attr.DATA, b"hello")
    assert client.receive(data.encode(), 2.0) == [Received(b"hello", PEER)]
    assert client.receive(channel_data(0x4000, b"hi"), 2.0) == [Received(b"hi", PEER)]
    # Permissions are refreshed every four minutes, channels before their ten minutes run out.
    (again,) = sent(client.on_timer(1.1 + PERMISSION_REFRESH))
    assert again.method == Method.CREATE_PERMISSION
    client.receive(answer(again), 1.2 + PERMISSION_REFRESH)
    (rebind,) = [m for m in sent(client.on_timer(1.1 + CHANNEL_REFRESH)) if m.method == Method.CHANNEL_BIND]
    assert rebind.get(Attr.CHANNEL_NUMBER) == 0x4000


def test_data_from_a_peer_without_permission_and_unknown_channels_are_dropped() -> None:
    client = TurnClient(USER, PASSWORD)
    allocated(client)
    stranger = ("198.51.100.7", 9)
    data = StunMessage(Method.DATA, Class.INDICATION).add(Attr.XOR_PEER_ADDRESS, stranger).add(Attr.DATA, b"x")
    assert client.receive(data.encode(), 1.0) == []
    assert client.receive(channel_data(0x4123, b"x"), 1.0) == []
    assert client.receive(b"\x80" + bytes(40), 1.0) == []
    assert client.ignored == 3


def test_a_refused_permission_is_not_fatal() -> None:
    client = TurnClient(USER, PASSWORD, channels=False)
    allocated(client)
    (permission,) = sent(client.permit(PEER, 1.0))
    (failure,) = client.receive(answer(permission, Class.ERROR, (Attr.ERROR_CODE, ErrorCode(403, "Forbidden IP"))), 1.1)
    assert isinstance(failure, Failed) and not failure.fatal and "403 Forbidden IP" in str(failure.error)
    assert client.state is TurnState.ALLOCATED and not client.permitted(PEER)


def test_close_deletes_the_allocation_with_lifetime_zero() -> None:
    client = TurnClient(USER, PASSWORD)
    allocated(client)
    (refresh,) = sent(client.close(3.0))
    assert refresh.method == Method.REFRESH and refresh.lifetime == 0 and refresh.check_integrity(KEY)
    assert client.state is TurnState.CLOSED and client.next_deadline is not None  # its retransmission only
    assert TurnClient(USER, PASSWORD).close(0.0) == []


def test_garbage_before_the_allocation_is_ignored() -> None:
    client = TurnClient(USER, PASSWORD)
    client.start(0.0)
    assert client.receive(b"garbage", 0.1) == [] and client.receive(b"", 0.1) == []
    assert client.state is TurnState.ALLOCATING


def test_turn_attributes_round_trip_and_refuse_bad_values() -> None:
    message = StunMessage(Method.ALLOCATE, Class.SUCCESS)
    message.add(Attr.XOR_RELAYED_ADDRESS, RELAYED).add(Attr.XOR_PEER_ADDRESS, ("2001:db8::1", 5))
    message.add(Attr.LIFETIME, 3600).add(Attr.CHANNEL_NUMBER, 0x4FFF).add(Attr.REQUESTED_TRANSPORT, 17)
    parsed = StunMessage.parse(message.encode())
    assert parsed.relayed_address == RELAYED and parsed.peer_address == ("2001:db8::1", 5)
    assert parsed.lifetime == 3600 and parsed.get(Attr.CHANNEL_NUMBER) == 0x4FFF
    assert parsed.get(Attr.REQUESTED_TRANSPORT) == 17
    with pytest.raises(StunParseError):
        StunMessage(Method.CHANNEL_BIND, Class.REQUEST).add(Attr.CHANNEL_NUMBER, 0x3FFF)
    with pytest.raises(StunParseError, match="channel number"):
        StunMessage.parse(raw(Attr.CHANNEL_NUMBER, b"\x30\x00\x00\x00"))
    with pytest.raises(StunParseError, match="LIFETIME"):
        StunMessage.parse(raw(Attr.LIFETIME, b"\0\0"))
    with pytest.raises(StunParseError, match="ChannelData"):
        parse_channel_data(b"\x40\x00\x00\x09abc")


def raw(attr: int, value: bytes) -> bytes:
    """A message with one attribute written as it is, unchecked."""
    message = StunMessage(Method.ALLOCATE, Class.SUCCESS)
    message.attributes.append((attr, value))
    return message.encode()


_TURN_ATTRS = [
    Attr.XOR_RELAYED_ADDRESS, Attr.XOR_PEER_ADDRESS, Attr.LIFETIME, Attr.CHANNEL_NUMBER,
    Attr.REQUESTED_TRANSPORT, Attr.DATA,
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_TURN_ATTRS), st.binary(max_size=40))
def test_fuzz_turn_attribute_values_parse_or_raise_the_one_error(attr: Attr, value: bytes) -> None:
    try:
        parsed = StunMessage.parse(raw(attr, value))
    except StunParseError:
        return
    assert parsed.attributes[0] == (attr, value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_the_allocated_client_takes_any_datagram_without_raising(data: bytes) -> None:
    client = TurnClient(USER, PASSWORD)
    allocated(client)
    client.permit(PEER, 1.0)
    for effect in client.receive(data, 2.0):
        assert isinstance(effect, Received) and effect.peer == PEER
    try:
        number, payload = parse_channel_data(data)
    except StunParseError:
        return
    assert 0x4000 <= number <= 0x4FFF and len(payload) <= len(data) - 4

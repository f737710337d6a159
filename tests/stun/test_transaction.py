"""The Binding client transaction: RFC 8489 6.2.1 retransmissions, matching, integrity, outcomes."""

from __future__ import annotations

import pytest

from softphone.stun import (
    Attr,
    BindingTransaction,
    Class,
    ErrorCode,
    Method,
    Retransmission,
    StunMessage,
    short_term_key,
)
from softphone.stun.transaction import Failed, Send, State, Succeeded, TimedOut


def _answer(tx: BindingTransaction, klass: Class = Class.SUCCESS, **attrs: object) -> StunMessage:
    message = StunMessage(Method.BINDING, klass, tx.transaction_id)
    for name, value in attrs.items():
        message.add(Attr[name.upper()], value)
    return message


def test_default_schedule_is_the_rfc_one() -> None:
    """RFC 8489 6.2.1: with RTO 500 ms, requests at 0, 500, 1500, 3500, 7500, 15500, 31500 ms; fail at 39500 ms."""
    tx = BindingTransaction()
    sent = [0.0] if isinstance(tx.start(0.0)[0], Send) else []
    outcome: list[object] = []
    while tx.next_deadline is not None:
        now = tx.next_deadline
        for effect in tx.on_timer(now):
            if isinstance(effect, Send):
                sent.append(now)
            else:
                outcome.append((effect, now))
    assert sent == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert outcome == [(TimedOut(7), 39.5)]
    assert tx.state is State.TIMED_OUT
    assert Retransmission().timeout == 39.5


def test_short_schedule_and_a_late_timer_call_sends_once() -> None:
    tx = BindingTransaction(retransmission=Retransmission(rto=0.1, rc=2, rm=3))
    assert len(tx.start(10.0)) == 1
    assert tx.on_timer(10.05) == []
    assert [type(e) for e in tx.on_timer(10.5)] == [Send]
    assert tx.next_deadline == pytest.approx(10.1 + 0.3)
    assert tx.on_timer(11.0) == [TimedOut(2)]
    assert tx.on_timer(12.0) == []
    assert Retransmission(rto=0.1, rc=2, rm=3).timeout == pytest.approx(0.4)


def test_success_ends_the_transaction_and_others_answers_are_ignored() -> None:
    tx = BindingTransaction()
    tx.start(0.0)
    stranger = StunMessage(Method.BINDING, Class.SUCCESS).add(Attr.XOR_MAPPED_ADDRESS, ("192.0.2.9", 9))
    assert tx.receive(stranger.encode(), 0.1) == []
    assert tx.receive(b"garbage", 0.1) == []
    request_echo = StunMessage(Method.BINDING, Class.REQUEST, tx.transaction_id)
    assert tx.receive(request_echo.encode(), 0.1) == []
    answer = _answer(tx, xor_mapped_address=("203.0.113.10", 40000))
    [effect] = tx.receive(answer.encode(), 0.2)
    assert isinstance(effect, Succeeded)
    assert effect.response.reflexive_address == ("203.0.113.10", 40000)
    assert tx.done and tx.next_deadline is None
    assert tx.receive(answer.encode(), 0.3) == []


def test_error_response_fails_with_its_code() -> None:
    tx = BindingTransaction()
    tx.start(0.0)
    [effect] = tx.receive(_answer(tx, Class.ERROR, error_code=ErrorCode(400, "Bad Request")).encode(), 0.1)
    assert isinstance(effect, Failed) and effect.error == ErrorCode(400, "Bad Request")
    assert effect.reason == "400 Bad Request"


def test_success_without_an_address_or_with_unknown_required_attributes_fails() -> None:
    tx = BindingTransaction()
    tx.start(0.0)
    [effect] = tx.receive(_answer(tx).encode(), 0.1)
    assert isinstance(effect, Failed) and "mapped address" in effect.reason
    tx = BindingTransaction()
    tx.start(0.0)
    answer = _answer(tx, xor_mapped_address=("192.0.2.1", 1))
    answer.attributes.append((0x7FFF, b"\0\0\0\0"))
    [effect] = tx.receive(answer.encode(), 0.1)
    assert isinstance(effect, Failed) and "0x7fff" not in effect.reason and "32767" in effect.reason


def test_with_a_key_only_answers_that_check_are_taken() -> None:
    key = short_term_key("secret")
    tx = BindingTransaction(key=key)
    [send] = tx.start(0.0)
    assert isinstance(send, Send) and StunMessage.parse(send.data).check_integrity(key)
    answer = _answer(tx, xor_mapped_address=("192.0.2.1", 1))
    assert tx.receive(answer.encode(), 0.1) == []
    assert tx.receive(answer.encode(short_term_key("other")), 0.1) == []
    assert tx.state is State.WAITING
    [effect] = tx.receive(answer.encode(key), 0.2)
    assert isinstance(effect, Succeeded)


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError):
        Retransmission(rto=0)
    with pytest.raises(ValueError):
        Retransmission(rc=0)
    tx = BindingTransaction()
    tx.start(0.0)
    with pytest.raises(RuntimeError):
        tx.start(1.0)

"""RFC 3261 section 17 transactions (with RFC 6026) driven by a fake clock."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.sip import Request, Response, SipParseError, parse_message
from softphone.sip.transaction import (
    MAGIC_COOKIE,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    Deliver,
    Effect,
    Send,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    State,
    Terminated,
    TimedOut,
    Timer,
    TimerSettings,
    TransportFailure,
    cancelled_key,
    client_key,
    make_ack,
    make_cancel,
    make_response,
    new_branch,
    server_key,
)
from softphone.sip.transaction_layer import TransactionLayer

T = TimerSettings()


def request(
    method: str = "INVITE",
    *,
    branch: str | None = "z9hG4bKabc",
    sent_by: str = "192.0.2.1:5060",
    transport: str = "UDP",
    to_tag: str | None = None,
    call_id: str = "c1",
    seq: int = 1,
    cseq_method: str | None = None,
    uri: str = "sip:bob@example.com",
    extra: list[tuple[str, str]] | None = None,
) -> Request:
    via = f"SIP/2.0/{transport} {sent_by}" + (f";branch={branch}" if branch is not None else "")
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    return Request(
        method,
        uri,
        [
            ("Via", via),
            ("Via", "SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKproxy"),
            ("Max-Forwards", "70"),
            ("From", '"Alice" <sip:alice@example.org>;tag=ft1'),
            ("To", to),
            ("Call-ID", call_id),
            ("CSeq", f"{seq} {cseq_method or method}"),
            *(extra or []),
        ],
    )


def reply(req: Request, code: int, to_tag: str | None = "tt1") -> Response:
    return make_response(req, code, to_tag=None if code == 100 else to_tag)


def sent(effects: list[Effect]) -> list[Request | Response]:
    out: list[Request | Response] = []
    for effect in effects:
        if isinstance(effect, Send):
            assert isinstance(effect.message, Request | Response)
            out.append(effect.message)
    return out


def kinds(effects: list[Effect]) -> list[type]:
    return [type(effect) for effect in effects]


def retransmission_times(
    tx: ClientInviteTransaction | ClientNonInviteTransaction | ServerInviteTransaction, until: float
) -> tuple[list[float], list[Effect]]:
    """Step the clock from deadline to deadline, noting when something was sent."""
    times: list[float] = []
    effects: list[Effect] = []
    while (deadline := tx.next_deadline) is not None and deadline <= until:
        step = tx.on_timer(deadline)
        effects += step
        if sent(step):
            times.append(deadline)
    return times, effects


# --- timer settings ----------------------------------------------------------


def test_timer_defaults_and_derived_durations() -> None:
    assert (T.T1, T.T2, T.T4, T.D) == (0.5, 4.0, 5.0, 32.0)
    for timer in (Timer.B, Timer.F, Timer.H, Timer.L, Timer.M):
        assert T.duration(timer, reliable=False) == T.duration(timer, reliable=True) == 32.0
    assert T.duration(Timer.J, reliable=False) == 32.0
    assert T.duration(Timer.D, reliable=False) == 32.0
    assert T.duration(Timer.I, reliable=False) == T.duration(Timer.K, reliable=False) == 5.0
    for timer in (Timer.D, Timer.I, Timer.J, Timer.K):
        assert T.duration(timer, reliable=True) == 0.0
    assert T.duration(Timer.A, reliable=False) == 0.5
    assert T.duration(Timer.TRYING, reliable=False) == 0.2


def test_timer_settings_are_configurable_and_checked() -> None:
    fast = TimerSettings(T1=0.1, T2=0.4, T4=1.0)
    assert fast.duration(Timer.B, False) == pytest.approx(6.4)
    assert fast.duration(Timer.K, False) == 1.0
    with pytest.raises(ValueError):
        TimerSettings(T1=0)
    with pytest.raises(ValueError):
        TimerSettings(T1=1.0, T2=0.5)
    with pytest.raises(ValueError):
        TimerSettings(T4=-1)


# --- client INVITE -----------------------------------------------------------


def started_client_invite(
    reliable: bool = False, transport: str = "UDP", extra: list[tuple[str, str]] | None = None
) -> ClientInviteTransaction:
    tx = ClientInviteTransaction(request("INVITE", transport=transport, extra=extra), reliable, T, 0.0)
    effects = tx.start(0.0)
    assert effects == [Send(tx.request)]
    return tx


def test_client_invite_timer_a_doubles_without_cap_until_timer_b() -> None:
    tx = started_client_invite()
    assert tx.state is State.CALLING
    assert tx.deadline(Timer.A) == 0.5 and tx.deadline(Timer.B) == 32.0
    times, effects = retransmission_times(tx, until=100)
    assert times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert all(m is tx.request for m in sent(effects))
    assert effects[-2:] == [TimedOut(), Terminated()]
    assert tx.state is State.TERMINATED and tx.next_deadline is None


def test_client_invite_late_clock_fires_due_timers_in_order() -> None:
    tx = started_client_invite()
    effects = tx.on_timer(40.0)
    assert kinds(effects) == [Send, TimedOut, Terminated]
    assert tx.on_timer(100.0) == []


def test_client_invite_timer_not_due_does_nothing() -> None:
    tx = started_client_invite()
    assert tx.on_timer(0.49) == []
    assert tx.next_deadline == 0.5


def test_client_invite_provisional_stops_retransmissions() -> None:
    tx = started_client_invite()
    ringing = reply(tx.request, 180)
    assert tx.receive(ringing, 0.3) == [Deliver(ringing)]
    assert tx.state is State.PROCEEDING
    assert tx.next_deadline is None
    trying = reply(tx.request, 100)
    assert tx.receive(trying, 0.4) == [Deliver(trying)]
    assert tx.on_timer(1000.0) == []
    assert tx.state is State.PROCEEDING


def test_client_invite_non_2xx_builds_and_retransmits_ack() -> None:
    route = [("Route", "<sip:p1.example.com;lr>"), ("Route", "<sip:p2.example.com;lr>")]
    tx = started_client_invite(extra=[*route, ("Contact", "<sip:alice@192.0.2.1>")])
    tx.receive(reply(tx.request, 180), 0.1)
    busy = reply(tx.request, 486, to_tag="callee")
    effects = tx.receive(busy, 1.0)
    assert kinds(effects) == [Send, Deliver]
    assert effects[1] == Deliver(busy)
    ack = sent(effects)[0]
    assert isinstance(ack, Request)
    assert ack.method == "ACK" and str(ack.uri) == "sip:bob@example.com"
    assert ack.headers.get_all("Via") == ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc"]
    assert ack.headers.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert ack.headers["From"] == tx.request.headers["From"]
    assert ack.to.tag == "callee" and ack.headers["To"] == busy.headers["To"]
    assert ack.call_id == "c1" and str(ack.cseq) == "1 ACK"
    assert "Contact" not in ack.headers and ack.body == b""
    assert tx.ack is ack
    assert tx.state is State.COMPLETED and tx.deadline(Timer.D) == 33.0
    # RFC 3261 17.1.1.2: each retransmitted final response gets the same ACK again.
    assert tx.receive(busy, 2.0) == [Send(ack)]
    assert tx.receive(reply(tx.request, 180), 2.5) == []
    assert tx.on_timer(32.9) == []
    assert tx.on_timer(33.0) == [Terminated()]
    assert tx.receive(busy, 34.0) == []


def test_client_invite_non_2xx_in_calling_stops_timer_a() -> None:
    tx = started_client_invite()
    effects = tx.receive(reply(tx.request, 503), 0.2)
    assert kinds(effects) == [Send, Deliver]
    assert tx.deadline(Timer.A) is None and tx.deadline(Timer.B) is None
    assert tx.next_deadline == pytest.approx(32.2)


def test_client_invite_reliable_has_no_timer_a_and_zero_timer_d() -> None:
    tx = started_client_invite(reliable=True, transport="TCP")
    assert tx.deadline(Timer.A) is None and tx.deadline(Timer.B) == 32.0
    assert tx.on_timer(31.9) == []
    effects = tx.receive(reply(tx.request, 404), 1.0)
    assert kinds(effects) == [Send, Deliver, Terminated]
    assert tx.state is State.TERMINATED


def test_client_invite_reliable_timer_b() -> None:
    tx = started_client_invite(reliable=True, transport="TCP")
    assert tx.on_timer(32.0) == [TimedOut(), Terminated()]


def test_client_invite_2xx_goes_to_accepted_with_timer_m() -> None:
    tx = started_client_invite()
    ok = reply(tx.request, 200, to_tag="fork1")
    assert tx.receive(ok, 2.0) == [Deliver(ok)]
    assert tx.state is State.ACCEPTED
    assert tx.deadline(Timer.A) is None and tx.deadline(Timer.B) is None
    assert tx.deadline(Timer.M) == 34.0
    assert tx.ack is None
    # RFC 6026 7.2: retransmissions and other forks' 2xx go to the TU, which ACKs them.
    assert tx.receive(ok, 2.5) == [Deliver(ok)]
    other = reply(tx.request, 200, to_tag="fork2")
    assert tx.receive(other, 3.0) == [Deliver(other)]
    assert tx.receive(reply(tx.request, 180), 3.1) == []
    assert tx.receive(reply(tx.request, 486), 3.2) == []
    assert tx.on_timer(33.9) == []
    assert tx.on_timer(34.0) == [Terminated()]
    assert tx.receive(ok, 35.0) == []


def test_client_invite_2xx_on_reliable_transport_keeps_timer_m() -> None:
    tx = started_client_invite(reliable=True, transport="TCP")
    tx.receive(reply(tx.request, 200), 1.0)
    assert tx.state is State.ACCEPTED and tx.deadline(Timer.M) == 33.0


def test_client_invite_transport_error() -> None:
    tx = started_client_invite()
    assert tx.on_transport_error(0.1) == [TransportFailure(), Terminated()]
    assert tx.state is State.TERMINATED and tx.next_deadline is None
    assert tx.on_transport_error(0.2) == []
    assert tx.on_timer(100.0) == []


def test_client_invite_transport_error_while_completed() -> None:
    tx = started_client_invite()
    tx.receive(reply(tx.request, 500), 0.1)
    assert tx.on_transport_error(0.2) == [TransportFailure(), Terminated()]


def test_client_transactions_check_method_and_start_once() -> None:
    with pytest.raises(ValueError):
        ClientInviteTransaction(request("OPTIONS"), False, T, 0.0)
    with pytest.raises(ValueError):
        ClientNonInviteTransaction(request("INVITE"), False, T, 0.0)
    with pytest.raises(ValueError):
        ClientNonInviteTransaction(request("ACK"), False, T, 0.0)
    tx = started_client_invite()
    with pytest.raises(RuntimeError):
        tx.start(1.0)


def test_effects_carry_their_transaction_and_destination() -> None:
    tx = ClientInviteTransaction(request(), False, None, 0.0, destination=("192.0.2.9", 5060, "UDP"))
    assert tx.timers == TimerSettings()
    (effect,) = tx.start(0.0)
    assert isinstance(effect, Send)
    assert effect.destination == ("192.0.2.9", 5060, "UDP") and effect.transaction is tx
    assert effect != Send(tx.request)
    (deliver,) = tx.receive(reply(tx.request, 180), 0.1)
    assert deliver.transaction is tx
    assert repr(tx) == "<ClientInviteTransaction INVITE Proceeding>" and tx.method == "INVITE"


# --- client non-INVITE -------------------------------------------------------


def started_client_non_invite(reliable: bool = False, timers: TimerSettings = T) -> ClientNonInviteTransaction:
    tx = ClientNonInviteTransaction(request("OPTIONS"), reliable, timers, 0.0)
    assert tx.start(0.0) == [Send(tx.request)]
    assert tx.state is State.TRYING
    return tx


def test_client_non_invite_timer_e_doubles_to_t2_then_timer_f() -> None:
    tx = started_client_non_invite()
    assert tx.deadline(Timer.E) == 0.5 and tx.deadline(Timer.F) == 32.0
    times, effects = retransmission_times(tx, until=100)
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert effects[-2:] == [TimedOut(), Terminated()]
    assert tx.state is State.TERMINATED


def test_client_non_invite_retransmits_every_t2_in_proceeding() -> None:
    tx = started_client_non_invite()
    trying = reply(tx.request, 100)
    assert tx.receive(trying, 0.2) == [Deliver(trying)]
    assert tx.state is State.PROCEEDING
    assert tx.deadline(Timer.E) == 0.5
    times, _ = retransmission_times(tx, until=20)
    assert times == [0.5, 4.5, 8.5, 12.5, 16.5]
    assert tx.on_timer(32.0)[-2:] == [TimedOut(), Terminated()]


def test_client_non_invite_final_response_then_timer_k() -> None:
    tx = started_client_non_invite()
    tx.on_timer(0.5)
    ok = reply(tx.request, 200)
    assert tx.receive(ok, 1.0) == [Deliver(ok)]
    assert tx.state is State.COMPLETED
    assert tx.deadline(Timer.E) is None and tx.deadline(Timer.F) is None
    assert tx.deadline(Timer.K) == 6.0
    assert tx.receive(ok, 2.0) == []
    assert tx.receive(reply(tx.request, 100), 2.0) == []
    assert tx.on_timer(5.9) == []
    assert tx.on_timer(6.0) == [Terminated()]


def test_client_non_invite_final_from_proceeding() -> None:
    tx = started_client_non_invite()
    tx.receive(reply(tx.request, 100), 0.1)
    forbidden = reply(tx.request, 403)
    assert tx.receive(forbidden, 0.3) == [Deliver(forbidden)]
    assert tx.state is State.COMPLETED


def test_client_non_invite_reliable() -> None:
    tx = started_client_non_invite(reliable=True)
    assert tx.deadline(Timer.E) is None
    assert tx.next_deadline == 32.0
    effects = tx.receive(reply(tx.request, 200), 1.0)
    assert kinds(effects) == [Deliver, Terminated]


def test_client_non_invite_reliable_timer_f() -> None:
    tx = started_client_non_invite(reliable=True)
    assert tx.on_timer(32.0) == [TimedOut(), Terminated()]


def test_client_non_invite_transport_error() -> None:
    tx = started_client_non_invite()
    tx.receive(reply(tx.request, 100), 0.1)
    assert tx.on_transport_error(0.2) == [TransportFailure(), Terminated()]
    assert tx.receive(reply(tx.request, 200), 0.3) == []


@settings(max_examples=40, deadline=None)
@given(t1=st.sampled_from([0.05, 0.1, 0.25, 0.5, 1.0]), factor=st.integers(1, 20))
def test_client_non_invite_intervals_follow_min_2n_t1_t2(t1: float, factor: int) -> None:
    timers = TimerSettings(T1=t1, T2=t1 * factor)
    tx = started_client_non_invite(timers=timers)
    times, _ = retransmission_times(tx, until=64 * t1)
    intervals = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    expected = [min(t1 * 2**n, timers.T2) for n in range(len(intervals))]
    assert intervals == pytest.approx(expected)
    assert tx.state is State.TERMINATED


# --- server INVITE -----------------------------------------------------------


def server_invite(
    reliable: bool = False,
    auto_trying: bool = False,
    transport: str = "UDP",
    extra: list[tuple[str, str]] | None = None,
) -> ServerInviteTransaction:
    req = request("INVITE", transport=transport, extra=extra)
    tx = ServerInviteTransaction(req, reliable, T, 0.0, auto_trying=auto_trying)
    assert tx.state is State.PROCEEDING
    return tx


def test_server_invite_retransmitted_invite_gets_last_provisional() -> None:
    tx = server_invite()
    assert tx.next_deadline is None
    assert tx.receive(tx.request, 0.1) == []
    ringing = reply(tx.request, 180)
    assert tx.send_response(ringing, 0.2) == [Send(ringing)]
    assert tx.state is State.PROCEEDING and tx.next_deadline is None
    assert tx.receive(tx.request, 0.5) == [Send(ringing)]


def test_server_invite_auto_trying_after_200_ms() -> None:
    tx = server_invite(auto_trying=True, extra=[("Timestamp", "54.3")])
    assert tx.deadline(Timer.TRYING) == 0.2
    assert tx.on_timer(0.1) == []
    (effect,) = tx.on_timer(0.2)
    assert isinstance(effect, Send) and isinstance(effect.message, Response)
    trying = effect.message
    assert trying.status_code == 100 and trying.headers["Timestamp"] == "54.3"
    assert trying.to.tag is None
    assert tx.last_response is trying
    assert tx.receive(tx.request, 0.5) == [Send(trying)]


def test_server_invite_auto_trying_skipped_when_tu_answers_first() -> None:
    tx = server_invite(auto_trying=True)
    ringing = reply(tx.request, 180)
    tx.send_response(ringing, 0.1)
    assert tx.deadline(Timer.TRYING) is None
    assert tx.on_timer(1.0) == []


def test_server_invite_timer_g_doubles_to_t2_and_timer_h_times_out() -> None:
    tx = server_invite()
    busy = reply(tx.request, 486)
    assert tx.send_response(busy, 0.0) == [Send(busy)]
    assert tx.state is State.COMPLETED
    assert tx.deadline(Timer.G) == 0.5 and tx.deadline(Timer.H) == 32.0
    times, effects = retransmission_times(tx, until=100)
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert all(m is busy for m in sent(effects))
    assert effects[-2:] == [TimedOut(), Terminated()]


def test_server_invite_retransmitted_invite_in_completed_gets_final_again() -> None:
    tx = server_invite()
    tx.send_response(reply(tx.request, 180), 0.0)
    busy = reply(tx.request, 486)
    tx.send_response(busy, 1.0)
    assert tx.receive(tx.request, 1.2) == [Send(busy)]
    assert tx.send_response(reply(tx.request, 500), 1.3) == []


def test_server_invite_ack_confirms_then_timer_i() -> None:
    tx = server_invite()
    busy = reply(tx.request, 486)
    tx.send_response(busy, 0.0)
    tx.on_timer(0.5)
    ack = make_ack(tx.request, busy)
    assert tx.receive(ack, 1.0) == []
    assert tx.state is State.CONFIRMED
    assert tx.deadline(Timer.G) is None and tx.deadline(Timer.H) is None
    assert tx.deadline(Timer.I) == 6.0
    assert tx.receive(ack, 2.0) == []
    assert tx.receive(tx.request, 2.0) == []
    assert tx.on_timer(5.9) == []
    assert tx.on_timer(6.0) == [Terminated()]


def test_server_invite_reliable_no_timer_g_and_zero_timer_i() -> None:
    tx = server_invite(reliable=True, transport="TCP")
    busy = reply(tx.request, 603)
    tx.send_response(busy, 0.0)
    assert tx.deadline(Timer.G) is None and tx.deadline(Timer.H) == 32.0
    assert tx.receive(make_ack(tx.request, busy), 0.3) == [Terminated()]
    assert tx.state is State.TERMINATED


def test_server_invite_reliable_timer_h() -> None:
    tx = server_invite(reliable=True, transport="TCP")
    tx.send_response(reply(tx.request, 480), 0.0)
    assert tx.on_timer(32.0) == [TimedOut(), Terminated()]


def test_server_invite_2xx_accepted_with_timer_l() -> None:
    tx = server_invite(auto_trying=True)
    ok = reply(tx.request, 200)
    assert tx.send_response(ok, 1.0) == [Send(ok)]
    assert tx.state is State.ACCEPTED
    assert tx.deadline(Timer.TRYING) is None and tx.deadline(Timer.L) == 33.0
    # RFC 6026 7.1: the core retransmits its 2xx; the transaction only forwards it.
    assert tx.on_timer(1.5) == []
    assert tx.send_response(ok, 1.5) == [Send(ok)]
    assert tx.receive(tx.request, 1.6) == []
    ack = request("ACK", to_tag="tt1")
    assert tx.receive(ack, 2.0) == [Deliver(ack)]
    assert tx.send_response(reply(tx.request, 500), 2.1) == []
    assert tx.on_timer(32.9) == []
    assert tx.on_timer(33.0) == [Terminated()]
    assert tx.send_response(ok, 34.0) == []


def test_server_invite_ack_or_other_request_in_proceeding_is_ignored() -> None:
    tx = server_invite()
    assert tx.receive(request("ACK"), 0.1) == []
    assert tx.receive(request("CANCEL"), 0.1) == []
    assert tx.state is State.PROCEEDING


def test_server_invite_transport_error() -> None:
    tx = server_invite()
    tx.send_response(reply(tx.request, 486), 0.0)
    assert tx.on_transport_error(0.5) == [TransportFailure(), Terminated()]
    assert tx.next_deadline is None


def test_server_transactions_check_method() -> None:
    with pytest.raises(ValueError):
        ServerInviteTransaction(request("BYE"), False, T, 0.0)
    with pytest.raises(ValueError):
        ServerNonInviteTransaction(request("INVITE"), False, T, 0.0)
    with pytest.raises(ValueError):
        ServerNonInviteTransaction(request("ACK"), False, T, 0.0)


# --- server non-INVITE -------------------------------------------------------


def test_server_non_invite_absorbs_in_trying_then_repeats_responses() -> None:
    tx = ServerNonInviteTransaction(request("MESSAGE"), False, T, 0.0)
    assert tx.state is State.TRYING
    assert tx.receive(tx.request, 0.1) == []
    trying = reply(tx.request, 100)
    assert tx.send_response(trying, 0.2) == [Send(trying)]
    assert tx.state is State.PROCEEDING
    assert tx.receive(tx.request, 0.3) == [Send(trying)]
    ok = reply(tx.request, 200)
    assert tx.send_response(ok, 1.0) == [Send(ok)]
    assert tx.state is State.COMPLETED and tx.deadline(Timer.J) == 33.0
    assert tx.receive(tx.request, 2.0) == [Send(ok)]
    assert tx.send_response(reply(tx.request, 500), 2.0) == []
    assert tx.on_timer(32.9) == []
    assert tx.on_timer(33.0) == [Terminated()]
    assert tx.receive(tx.request, 34.0) == []


def test_server_non_invite_final_from_trying() -> None:
    tx = ServerNonInviteTransaction(request("OPTIONS"), False, T, 0.0)
    ok = reply(tx.request, 200)
    assert tx.send_response(ok, 0.1) == [Send(ok)]
    assert tx.receive(tx.request, 0.2) == [Send(ok)]


def test_server_non_invite_reliable_zero_timer_j() -> None:
    tx = ServerNonInviteTransaction(request("BYE", transport="TCP"), True, T, 0.0)
    ok = reply(tx.request, 200)
    assert tx.send_response(ok, 0.1) == [Send(ok), Terminated()]


def test_server_non_invite_transport_error() -> None:
    tx = ServerNonInviteTransaction(request("BYE"), False, T, 0.0)
    tx.send_response(reply(tx.request, 200), 0.0)
    assert tx.on_transport_error(0.1) == [TransportFailure(), Terminated()]


# --- matching ----------------------------------------------------------------


def test_client_key_is_branch_and_cseq_method() -> None:
    inv = request("INVITE")
    assert client_key(inv) == ("z9hG4bKabc", "INVITE")
    assert client_key(reply(inv, 180)) == client_key(inv)
    cancel = make_cancel(inv)
    assert client_key(cancel) == ("z9hG4bKabc", "CANCEL")
    assert client_key(reply(cancel, 200)) != client_key(inv)
    assert client_key(reply(request(branch="z9hG4bKother"), 200)) != client_key(inv)


def test_server_key_rfc3261_ack_and_cancel() -> None:
    inv = request("INVITE")
    key = server_key(inv)
    assert key == (MAGIC_COOKIE, "z9hG4bKabc", "192.0.2.1", 5060, "INVITE")
    assert server_key(make_ack(inv, reply(inv, 486))) == key
    cancel = make_cancel(inv)
    assert server_key(cancel) != key
    assert cancelled_key(cancel) == key
    assert server_key(request("INVITE", sent_by="192.0.2.2:5060")) != key
    assert server_key(request("INVITE", sent_by="192.0.2.1")) != key
    assert server_key(request("INVITE", sent_by="HOST.example.com")) == server_key(
        request("INVITE", sent_by="host.EXAMPLE.com")
    )
    assert server_key(request("INVITE", branch="z9hG4bKxyz")) != key
    assert ServerInviteTransaction(inv, False, T, 0.0).ack_key == key
    # A different Call-ID or To tag does not matter when the branch has the cookie.
    assert server_key(request("INVITE", call_id="other", to_tag="x")) == key


def test_server_key_rfc2543_fallback() -> None:
    inv = request("INVITE", branch="1234")
    key = server_key(inv)
    assert key[0] == "rfc2543"
    assert server_key(request("INVITE", branch="1234")) == key
    assert server_key(request("INVITE", branch=None)) != key
    assert server_key(request("INVITE", branch=None)) == server_key(request("INVITE", branch=None))
    # Request-URI compared by the RFC 3261 19.1.4 rules, not as text.
    assert server_key(request("INVITE", branch="1234", uri="sip:bob@EXAMPLE.com")) == key
    for changed in (
        request("INVITE", branch="1234", uri="sip:carol@example.com"),
        request("INVITE", branch="1234", call_id="c2"),
        request("INVITE", branch="1234", seq=2),
        request("INVITE", branch="1234", to_tag="zz"),
        request("INVITE", branch="1234", sent_by="192.0.2.1:5070"),
    ):
        assert server_key(changed) != key
    cancel = make_cancel(inv)
    assert server_key(cancel) != key
    assert cancelled_key(cancel) == key
    # An ACK carries the To tag of the response, so only ack_key finds its INVITE.
    tx = ServerInviteTransaction(inv, False, T, 0.0)
    assert tx.ack_key == key
    busy = reply(inv, 486, to_tag="srv")
    tx.send_response(busy, 0.0)
    ack = make_ack(inv, busy)
    assert server_key(ack) != key
    assert server_key(ack) == tx.ack_key
    assert server_key(make_ack(inv, reply(inv, 486, to_tag="other"))) != tx.ack_key


def test_server_key_rfc2543_reinvite_ack_has_the_invite_key() -> None:
    inv = request("INVITE", branch="legacy", to_tag="dlg")
    tx = ServerInviteTransaction(inv, False, T, 0.0)
    busy = reply(inv, 491)
    tx.send_response(busy, 0.0)
    assert server_key(make_ack(inv, busy)) == tx.key == tx.ack_key


# --- the layer ---------------------------------------------------------------


def test_layer_routes_responses_to_client_transactions() -> None:
    layer = TransactionLayer(T)
    inv = request("INVITE")
    tx, effects = layer.send_request(inv, 0.0, reliable=False, destination="peer")
    assert isinstance(tx, ClientInviteTransaction)
    assert effects == [Send(inv, "peer")]
    opt_tx, _ = layer.send_request(request("OPTIONS", branch="z9hG4bKopt"), 0.0, reliable=False)
    assert isinstance(opt_tx, ClientNonInviteTransaction)
    assert len(layer) == 2
    ringing = reply(inv, 180)
    assert layer.receive_response(ringing, 0.1) == [Deliver(ringing)]
    ok = reply(inv, 200)
    assert layer.receive_response(ok, 1.0) == [Deliver(ok)]
    # RFC 6026: the 2xx retransmission is matched by the Accepted transaction.
    assert layer.receive_response(ok, 1.5) == [Deliver(ok)]
    assert layer.find_client(ok) is tx
    assert layer.receive_response(reply(request(branch="z9hG4bKnone"), 200), 1.6) is None
    # A response to a CANCEL with the INVITE's branch is not the INVITE's.
    assert layer.receive_response(reply(make_cancel(inv), 200), 1.7) is None


def test_layer_refuses_ack_and_duplicates() -> None:
    layer = TransactionLayer()
    with pytest.raises(ValueError):
        layer.send_request(request("ACK"), 0.0, reliable=False)
    with pytest.raises(ValueError):
        layer.create_server(request("ACK"), 0.0, reliable=False)
    layer.send_request(request("INVITE"), 0.0, reliable=False)
    with pytest.raises(ValueError):
        layer.send_request(request("INVITE"), 0.0, reliable=False)
    layer.create_server(request("INVITE"), 0.0, reliable=False)
    with pytest.raises(ValueError):
        layer.create_server(request("INVITE"), 0.0, reliable=False)


def test_layer_routes_requests_to_server_transactions() -> None:
    layer = TransactionLayer(T)
    inv = request("INVITE")
    assert layer.receive_request(inv, 0.0) is None
    tx = layer.create_server(inv, 0.0, reliable=False, destination="conn1", auto_trying=True)
    assert isinstance(tx, ServerInviteTransaction)
    assert layer.receive_request(inv, 0.1) == []
    (trying,) = layer.on_timer(0.2)
    assert isinstance(trying, Send) and trying.destination == "conn1"
    assert layer.receive_request(inv, 0.3) == [trying]
    cancel = make_cancel(inv)
    assert layer.receive_request(cancel, 0.4) is None
    assert layer.find_cancelled(cancel) is tx
    cancel_tx = layer.create_server(cancel, 0.4, reliable=False)
    assert isinstance(cancel_tx, ServerNonInviteTransaction)
    cancel_tx.send_response(reply(cancel, 200), 0.4)
    terminated = reply(inv, 487)
    tx.send_response(terminated, 0.4)
    ack = make_ack(inv, terminated)
    assert layer.find_server(ack) is tx
    assert layer.receive_request(ack, 0.5) == []
    assert tx.state is State.CONFIRMED
    assert layer.receive_request(cancel, 0.6) == [Send(reply(cancel, 200), None)]
    assert layer.find_cancelled(request("CANCEL", branch="z9hG4bKelse")) is None
    assert layer.find_cancelled(request("OPTIONS")) is None


def test_layer_rfc2543_ack_finds_its_invite() -> None:
    layer = TransactionLayer(T)
    inv = request("INVITE", branch=None)
    tx = layer.create_server(inv, 0.0, reliable=False)
    assert layer.receive_request(inv, 0.1) == []
    busy = reply(inv, 486, to_tag="srv")
    tx.send_response(busy, 0.2)
    assert layer.receive_request(make_ack(inv, reply(inv, 486, to_tag="nope")), 0.3) is None
    assert layer.receive_request(make_ack(inv, busy), 0.3) == []
    assert tx.state is State.CONFIRMED


def test_layer_ack_for_2xx_with_a_new_branch_is_not_matched() -> None:
    layer = TransactionLayer(T)
    inv = request("INVITE")
    tx = layer.create_server(inv, 0.0, reliable=False)
    tx.send_response(reply(inv, 200), 0.1)
    assert layer.receive_request(request("ACK", branch="z9hG4bKnew", to_tag="tt1"), 0.2) is None
    same_branch_ack = request("ACK", to_tag="tt1")
    assert layer.receive_request(same_branch_ack, 0.2) == [Deliver(same_branch_ack)]


def test_layer_aggregates_deadlines_fires_timers_and_forgets_terminated() -> None:
    layer = TransactionLayer(T)
    assert layer.next_deadline is None and layer.on_timer(10.0) == []
    inv_tx, _ = layer.send_request(request("INVITE"), 0.0, reliable=False)
    opt_tx, _ = layer.send_request(request("OPTIONS", branch="z9hG4bKo"), 0.2, reliable=False)
    srv = layer.create_server(request("BYE", branch="z9hG4bKb"), 0.0, reliable=False)
    assert layer.next_deadline == 0.5
    effects = layer.on_timer(0.5)
    assert [e.transaction for e in effects] == [inv_tx]
    assert layer.next_deadline == pytest.approx(0.7)
    effects = layer.on_timer(1.5)
    assert {e.transaction for e in effects} == {inv_tx, opt_tx}
    srv.send_response(reply(srv.request, 200), 2.0)
    assert layer.next_deadline == pytest.approx(2.5)
    effects = layer.on_timer(34.0)
    assert [type(e) for e in effects if e.transaction is srv] == [Terminated]
    assert {e.transaction for e in effects if isinstance(e, TimedOut)} == {inv_tx, opt_tx}
    assert len(layer) == 0 and list(layer) == []
    assert layer.next_deadline is None


def test_layer_forgets_terminated_transactions_on_lookup() -> None:
    layer = TransactionLayer(T)
    inv = request("OPTIONS")
    tx = layer.create_server(inv, 0.0, reliable=True)
    tx.send_response(reply(inv, 200), 0.0)
    assert tx.terminated
    assert layer.receive_request(inv, 0.1) is None
    assert list(layer) == []
    assert layer.create_server(inv, 0.1, reliable=True) is not tx


def test_layer_reliable_client_transport_error() -> None:
    layer = TransactionLayer(T)
    tx, _ = layer.send_request(request("REGISTER", transport="TCP"), 0.0, reliable=True)
    assert layer.next_deadline == 32.0
    assert tx.on_transport_error(0.1) == [TransportFailure(), Terminated()]
    assert layer.next_deadline is None
    assert layer.receive_response(reply(tx.request, 200), 0.2) is None


# --- message helpers ---------------------------------------------------------


def test_make_response_copies_the_rfc_3261_8_2_6_2_headers() -> None:
    req = Request(
        "INVITE",
        "sip:bob@example.com",
        [
            ("v", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1, SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK2"),
            ("Via", "SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK3;received=192.0.2.3"),
            ("f", "<sip:a@x>;tag=1"),
            ("t", "Bob <sip:bob@example.com>"),
            ("i", "call-9"),
            ("CSeq", "7 INVITE"),
            ("Timestamp", "100.5 0.2"),
            ("Contact", "<sip:a@10.0.0.1>"),
            ("Subject", "hi"),
        ],
        b"v=0\r\n",
    )
    resp = make_response(req, 180, to_tag="abc")
    assert resp.status_code == 180 and resp.reason == "Ringing"
    assert resp.headers.get_all("Via") == req.headers.get_all("Via")
    assert [v.branch for v in resp.vias] == ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"]
    assert resp.headers["From"] == "<sip:a@x>;tag=1"
    assert resp.headers["To"] == "Bob <sip:bob@example.com>;tag=abc" and resp.to.tag == "abc"
    assert resp.call_id == "call-9" and str(resp.cseq) == "7 INVITE"
    for absent in ("Timestamp", "Contact", "Subject", "Content-Type"):
        assert absent not in resp.headers
    assert resp.body == b""
    trying = make_response(req, 100)
    assert trying.headers["Timestamp"] == "100.5 0.2" and trying.to.tag is None
    parsed = parse_message(bytes(resp))
    assert isinstance(parsed, Response) and parsed == resp


def test_make_response_keeps_an_existing_to_tag_and_takes_extras() -> None:
    req = request("BYE", to_tag="mine")
    resp = make_response(req, 486, "Busy Now", to_tag="new", headers=[("Retry-After", "60")], body=b"x")
    assert resp.reason == "Busy Now" and resp.to.tag == "mine"
    assert resp.headers["Retry-After"] == "60" and resp.body == b"x"


def test_make_response_rejects_a_request_without_from() -> None:
    req = request("OPTIONS")
    req.headers.remove("From")
    with pytest.raises(SipParseError, match="From"):
        make_response(req, 200)


def test_make_response_rejects_a_request_without_via() -> None:
    req = Request(
        "OPTIONS",
        "sip:a@b",
        [("From", "<sip:a@x>;tag=1"), ("To", "<sip:b@x>"), ("Call-ID", "c"), ("CSeq", "1 OPTIONS")],
    )
    with pytest.raises(SipParseError, match="Via"):
        make_response(req, 200)


def test_make_cancel_follows_rfc_3261_9_1() -> None:
    inv = Request(
        "INVITE",
        "sip:bob@example.com;transport=udp",
        [
            ("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKc1;rport, SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKx"),
            ("Via", "SIP/2.0/UDP 10.1.1.2;branch=z9hG4bKy"),
            ("Route", "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>"),
            ("Max-Forwards", "69"),
            ("From", "<sip:alice@example.org>;tag=a1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "cid"),
            ("CSeq", "42 INVITE"),
            ("Contact", "<sip:alice@192.0.2.1>"),
            ("Content-Type", "application/sdp"),
        ],
        b"v=0\r\n",
    )
    cancel = make_cancel(inv)
    assert cancel.method == "CANCEL" and cancel.uri == inv.uri and cancel.uri is not inv.uri
    assert cancel.headers.get_all("Via") == ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKc1;rport"]
    assert cancel.headers.get_all("Route") == ["<sip:p1.example.com;lr>, <sip:p2.example.com;lr>"]
    assert cancel.headers["From"] == inv.headers["From"] and cancel.headers["To"] == inv.headers["To"]
    assert cancel.call_id == "cid" and str(cancel.cseq) == "42 CANCEL"
    assert cancel.max_forwards == 69
    assert "Contact" not in cancel.headers and "Content-Type" not in cancel.headers
    assert cancel.body == b""
    assert isinstance(parse_message(bytes(cancel)), Request)
    with pytest.raises(ValueError):
        make_cancel(cancel)
    with pytest.raises(ValueError):
        make_cancel(request("ACK"))


def test_make_ack_without_route_or_max_forwards() -> None:
    inv = Request(
        "INVITE",
        "sip:bob@example.com",
        [
            ("Via", "SIP/2.0/TCP h.example.com;branch=z9hG4bKq"),
            ("From", "<sip:a@x>;tag=1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "c"),
            ("CSeq", "5 INVITE"),
        ],
    )
    ack = make_ack(inv, make_response(inv, 404, to_tag="z"))
    assert "Route" not in ack.headers and ack.max_forwards == 70
    assert ack.to.tag == "z" and str(ack.cseq) == "5 ACK"


def test_new_branch_has_the_magic_cookie_and_takes_a_random_source() -> None:
    calls: list[int] = []

    def fixed(n: int) -> bytes:
        calls.append(n)
        return bytes(range(n))

    assert new_branch(fixed) == "z9hG4bK000102030405060708090a0b"
    assert calls == [12]
    a, b = new_branch(), new_branch()
    assert a.startswith(MAGIC_COOKIE) and a != b
    assert request(branch=a).via.branch == a


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["client", "server", "respond", "tick"]),
            st.sampled_from(["INVITE", "OPTIONS", "BYE"]),
            st.floats(min_value=0.0, max_value=5.0),
            st.sampled_from([100, 180, 200, 486]),
        ),
        max_size=40,
    )
)
def test_layer_timer_heap_agrees_with_a_scan_of_every_transaction(
    steps: list[tuple[str, str, float, int]],
) -> None:
    layer = TransactionLayer(T)
    now = 0.0
    servers: list[ServerTransaction] = []
    fired: list[object] = []
    for n, (action, method, advance, code) in enumerate(steps):
        now += advance
        if action == "client":
            layer.send_request(request(method, branch=f"z9hG4bKc{n}"), now, reliable=n % 3 == 0)
        elif action == "server":
            servers.append(layer.create_server(request(method, branch=f"z9hG4bKs{n}"), now, reliable=n % 2 == 0))
        elif action == "respond" and servers:
            tx = servers[n % len(servers)]
            if not tx.terminated and (code >= 200 or tx.method == "INVITE"):
                with contextlib.suppress(Exception):
                    tx.send_response(reply(tx.request, code), now)
        else:
            fired += layer.on_timer(now)
        everyone = [*layer._clients.values(), *layer._servers.values()]
        live = [d for tx in everyone if (d := tx.next_deadline) is not None and not tx.terminated]
        assert layer.next_deadline == (min(live) if live else None)

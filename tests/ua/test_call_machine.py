"""The call machine without sockets or a loop: one scenario per transition of its tables, then the races.

Each scenario drives a machine into the row's phase, applies the row's
trigger, and checks the effects that make the transition mean something;
the parametrised test then checks the machine really took that row.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from softphone.sip.message import Request
from softphone.sip.offer_answer import AudioConfig, pcmu_codec
from softphone.sip.srtp_sdp import SUITES, Fingerprint, SrtpConfig
from softphone.sip.transaction import LocalResponse, TimerSettings, make_response
from softphone.sip.transaction_layer import TransactionLayer
from softphone.ua.call_effects import (
    CallEffect,
    CallTimer,
    Completed,
    Ended,
    PlaceCall,
    StartMedia,
    StopMedia,
    UpdateMedia,
)
from softphone.ua.call_machine import CallMachine
from softphone.ua.call_state import (
    MODIFY_TRANSITIONS,
    PHASE_TRANSITIONS,
    CallPhase,
    InvalidTransition,
    Modify,
    ModifyTrigger,
    Trigger,
    table_markdown,
)
from softphone.ua.events import CallEvent, DtmfEvent, IncomingCallEvent, TransferEvent
from tests.ua.call_harness import (
    TracedMachine,
    Uac,
    Uas,
    acks,
    codes,
    events,
    of_type,
    request,
    requests,
    responses,
    sdp,
    states,
    timers,
)

P, T, M, MT = CallPhase, Trigger, Modify, ModifyTrigger
REL100 = "Supported: 100rel\r\n"
REQUIRE_100REL = "Require: 100rel\r\n"

Scenario = Callable[[], CallMachine]
SCENARIOS: dict[tuple[object, object], Scenario] = {}


def scenario(*rows: tuple[object, object]) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        for row in rows:
            assert row not in SCENARIOS, f"two scenarios for {row}"
            SCENARIOS[row] = function
        return function

    return register


def ended_with(effects: list[CallEffect], code: int | None, reason: str | None = None) -> None:
    ended = of_type(effects, Ended)
    assert len(ended) == 1, effects
    end = ended[0]
    assert isinstance(end, Ended) and end.code == code
    if reason is not None:
        assert end.reason == reason
    assert of_type(effects, StopMedia)


# --- outgoing --------------------------------------------------------------------------------------


@scenario((P.IDLE, T.DIAL))
def dial() -> CallMachine:
    uac = Uac()
    invite = uac.invite
    assert invite.headers["Content-Type"] == "application/sdp" and b"m=audio 40000" in invite.body
    assert "100rel" in invite.headers["Supported"] and "PRACK" in invite.headers["Allow"]
    assert states(uac.effects) == ["calling"]
    return uac.m


@scenario((P.CALLING, T.PROVISIONAL))
def ringing() -> CallMachine:
    uac = Uac()
    assert uac.respond(100) == []
    effects = uac.respond(180)
    assert states(effects) == ["ringing"] and uac.m.phase is P.RINGING
    return uac.m


@scenario((P.CALLING, T.EARLY_MEDIA))
def early_media() -> CallMachine:
    uac = Uac()
    effects = uac.respond(183, body=sdp())
    assert states(effects) == ["early"]
    start = of_type(effects, StartMedia)
    assert len(start) == 1 and isinstance(start[0], StartMedia)
    # Early media of the callee is heard; our microphone does not go out before the answer.
    assert not start[0].answered and not start[0].send
    return uac.m


@scenario((P.RINGING, T.EARLY_MEDIA))
def ringing_then_early_media() -> CallMachine:
    uac = Uac()
    uac.respond(180)
    effects = uac.respond(183, body=sdp())
    assert states(effects) == ["early"] and of_type(effects, StartMedia)
    return uac.m


@scenario((P.CALLING, T.ANSWERED))
def answered() -> CallMachine:
    uac = Uac()
    effects = uac.answer()
    assert states(effects) == ["confirmed"]
    [ack] = acks(effects)
    assert ack.cseq.seq == uac.invite.cseq.seq and ack.to.tag == "btag"
    start = of_type(effects, StartMedia)
    assert start and isinstance(start[0], StartMedia) and start[0].answered and start[0].send
    assert uac.m.media is not None and uac.m.media.remote_port == 42000
    return uac.m


@scenario((P.RINGING, T.ANSWERED))
def ringing_answered() -> CallMachine:
    uac = Uac()
    uac.respond(180)
    assert states(uac.answer()) == ["confirmed"]
    return uac.m


@scenario((P.EARLY, T.ANSWERED))
def early_answered() -> CallMachine:
    uac = Uac()
    uac.respond(183, body=sdp())
    effects = uac.answer()
    assert states(effects) == ["confirmed"]
    update = of_type(effects, UpdateMedia)
    assert update and isinstance(update[0], UpdateMedia) and update[0].answered and update[0].send
    return uac.m


@scenario((P.CALLING, T.REJECTED))
def busy() -> CallMachine:
    uac = Uac()
    effects = uac.respond(486)
    assert states(effects) == ["ended"]
    ended_with(effects, 486, "Busy Here")
    return uac.m


@scenario((P.RINGING, T.REJECTED))
def ringing_declined() -> CallMachine:
    uac = Uac()
    uac.respond(180)
    ended_with(uac.respond(603), 603)
    return uac.m


@scenario((P.EARLY, T.REJECTED))
def early_then_busy() -> CallMachine:
    uac = Uac()
    uac.respond(183, body=sdp())
    effects = uac.respond(486)
    ended_with(effects, 486)
    assert states(effects) == ["ended"]
    return uac.m


@scenario((P.CALLING, T.RETRY))
def digest_challenge() -> CallMachine:
    uac = Uac()
    first = uac.invite
    challenge = 'Digest realm="example.com", nonce="abc", qop="auth", algorithm=MD5'
    effects = uac.respond(407, headers=[("Proxy-Authenticate", challenge)])
    again = request(effects, "INVITE")
    assert again.cseq.seq == first.cseq.seq + 1 and "Proxy-Authorization" in again.headers
    assert uac.m.phase is P.CALLING and states(effects) == []
    # A second challenge that is not stale is not answered again: the call fails.
    effects = uac.respond(407, headers=[("Proxy-Authenticate", challenge)])
    ended_with(effects, 407)
    return uac.m


@scenario((P.RINGING, T.RETRY))
def ringing_redirected() -> CallMachine:
    uac = Uac()
    uac.respond(180)
    effects = uac.respond(302, headers=[("Contact", "<sip:bob@192.0.2.99>")])
    again = request(effects, "INVITE")
    assert str(again.uri) == "sip:bob@192.0.2.99" and states(effects) == ["calling"]
    return uac.m


@scenario((P.EARLY, T.RETRY))
def early_redirected() -> CallMachine:
    uac = Uac()
    uac.respond(183, body=sdp())
    effects = uac.respond(301, headers=[("Contact", "<sip:bob@192.0.2.98>")])
    assert str(request(effects, "INVITE").uri) == "sip:bob@192.0.2.98"
    return uac.m


@scenario((P.CALLING, T.HANGUP))
def hangup_before_provisional() -> CallMachine:
    uac = Uac()
    effects = uac.m.hangup()
    # RFC 3261 9.1: no CANCEL before a provisional response.
    assert requests(effects) == [] and uac.m.phase is P.CANCELLING
    effects = uac.respond(100)
    assert request(effects, "CANCEL").cseq.seq == uac.invite.cseq.seq
    return uac.m


@scenario((P.RINGING, T.HANGUP))
def ringing_cancelled() -> CallMachine:
    uac = Uac()
    uac.respond(180)
    cancel = request(uac.m.hangup(), "CANCEL")
    assert cancel.via.branch == uac.invite.via.branch
    return uac.m


@scenario((P.EARLY, T.HANGUP))
def early_cancelled() -> CallMachine:
    uac = Uac()
    uac.respond(183, body=sdp())
    request(uac.m.hangup(), "CANCEL")
    return uac.m


@scenario((P.RINGING, T.BYE_RECEIVED))
def bye_on_ringing_dialog() -> CallMachine:
    uac = Uac()
    uac.respond(180)
    assert request(_bye_in_early(uac), "CANCEL")
    return uac.m


def _bye_in_early(uac: Uac) -> list[CallEffect]:
    effects = _send(uac, uac.peer_request("BYE", 1))
    assert codes(effects) == [200]
    return effects


@scenario((P.EARLY, T.BYE_RECEIVED))
def bye_on_early_dialog() -> CallMachine:
    uac = Uac()
    uac.respond(183, body=sdp())
    assert request(_bye_in_early(uac), "CANCEL")
    return uac.m


@scenario((P.CALLING, T.STOP), (P.RINGING, T.STOP), (P.EARLY, T.STOP), (P.CANCELLING, T.STOP))
def outgoing_stopped() -> CallMachine:
    machines = []
    for steps in ([], [(180, "")], [(183, sdp())]):
        uac = Uac()
        for code, body in steps:
            uac.respond(code, body=body)
        effects = uac.m.stop()
        assert states(effects) == [] and of_type(effects, Ended)
        machines.append(uac.m)
    uac = Uac()
    uac.respond(180)
    uac.m.hangup()
    uac.m.stop()
    merged = machines[0]
    assert isinstance(merged, TracedMachine)
    for other in [*machines[1:], uac.m]:
        merged.trace += other.trace  # type: ignore[attr-defined]
    return merged


@scenario((P.CANCELLING, T.ANSWERED))
def cancel_crosses_200() -> CallMachine:
    uac = Uac()
    uac.respond(180)
    uac.m.hangup()
    effects = uac.answer()
    # RFC 3261 9.1/15: the 2xx that crossed our CANCEL is ACKed, then the call is ended with BYE.
    assert acks(effects) and request(effects, "BYE")
    ended_with(effects, 487, "cancelled")
    assert states(effects) == ["ended"]
    return uac.m


@scenario((P.CANCELLING, T.REJECTED))
def cancelled_487() -> CallMachine:
    uac = Uac()
    uac.respond(180)
    uac.m.hangup()
    effects = uac.respond(487)
    ended_with(effects, 487)
    assert uac.m.cancelled
    return uac.m


# --- incoming --------------------------------------------------------------------------------------


@scenario((P.IDLE, T.INVITE_RECEIVED))
def incoming() -> CallMachine:
    uas = Uas()
    assert codes(uas.effects) == [100, 180]
    ringing = responses(uas.effects)[1]
    assert ringing.to.tag == "ltag" and "RSeq" not in ringing.headers
    kinds = events(uas.effects)
    assert isinstance(kinds[0], IncomingCallEvent) and states(uas.effects) == ["ringing"]
    return uas.m


@scenario((P.IDLE, T.REFUSED))
def refused() -> CallMachine:
    uas = Uas(offer=sdp(codecs="3", version=1).replace("a=rtpmap:0 PCMU/8000\r\n", ""))  # GSM only
    assert codes(uas.effects) == [488] and events(uas.effects) == []
    ended_with(uas.effects, 488)
    # A UAS that insists on 100rel refuses a caller without it (RFC 3262 3).
    strict = Uas(config={"rel100": "required"})
    assert codes(strict.effects) == [421] and responses(strict.effects)[0].headers["Require"] == "100rel"
    return uas.m


@scenario((P.INCOMING, T.EARLY_MEDIA_SENT))
def incoming_early_media() -> CallMachine:
    uas = Uas(config={"early_media": True})
    assert codes(uas.effects) == [100, 183]
    assert responses(uas.effects)[1].body.startswith(b"v=0")
    start = of_type(uas.effects, StartMedia)
    assert start and isinstance(start[0], StartMedia) and start[0].send and not start[0].answered
    assert states(uas.effects) == ["early"]
    return uas.m


@scenario((P.INCOMING, T.ANSWER))
def answer() -> CallMachine:
    uas = Uas()
    effects = uas.answered()
    [ok] = responses(effects)
    assert ok.status_code == 200 and ok.body.startswith(b"v=0") and ok.to.tag == "ltag"
    assert states(effects) == ["confirmed"]
    assert set(timers(effects)) >= {CallTimer.RETRANSMIT_2XX, CallTimer.ACK_WAIT}
    return uas.m


@scenario((P.INCOMING_EARLY, T.ANSWER))
def answer_after_early_media() -> CallMachine:
    uas = Uas(config={"early_media": True})
    effects = uas.answered()
    assert codes(effects) == [200] and of_type(effects, UpdateMedia)
    return uas.m


def reliable_early() -> Uas:
    uas = Uas(extra=REL100, config={"early_media": True})
    [_, session_progress] = responses(uas.effects)
    assert session_progress.headers["Require"] == "100rel" and session_progress.headers["RSeq"]
    return uas


@scenario((P.INCOMING_EARLY, T.AWAIT_PRACK))
def answer_waits_for_prack() -> CallMachine:
    uas = reliable_early()
    effects = uas.m.answer()
    assert responses(effects) == [] and uas.m.phase is P.ANSWERING
    return uas.m


@scenario((P.ANSWERING, T.PRACK_RECEIVED))
def prack_releases_the_answer() -> CallMachine:
    uas = reliable_early()
    uas.m.answer()
    rseq = responses(uas.effects)[1].headers["RSeq"]
    effects = uas.send(uas.request("PRACK", 2, extra=f"RAck: {rseq} 1 INVITE\r\n"))
    assert codes(effects) == [200, 200]  # the PRACK's, then the INVITE's
    assert responses(effects)[1].cseq.method == "INVITE" and states(effects) == ["confirmed"]
    return uas.m


@scenario(
    (P.INCOMING, T.DECLINE),
    (P.INCOMING_EARLY, T.DECLINE),
    (P.ANSWERING, T.DECLINE),
)
def declined() -> CallMachine:
    machines = []
    for uas in (Uas(), Uas(config={"early_media": True})):
        effects = uas.m.decline(486)
        assert codes(effects) == [486] and states(effects) == ["ended"]
        ended_with(effects, 486)
        machines.append(uas.m)
    uas = reliable_early()
    uas.m.answer()
    effects = uas.m.hangup()
    assert codes(effects) == [603]
    machines.append(uas.m)
    return _merged(machines)


@scenario(
    (P.INCOMING, T.CANCEL_RECEIVED),
    (P.INCOMING_EARLY, T.CANCEL_RECEIVED),
    (P.ANSWERING, T.CANCEL_RECEIVED),
)
def cancelled_while_ringing() -> CallMachine:
    machines = []
    for uas in (Uas(), Uas(config={"early_media": True}), reliable_early()):
        if uas.m.phase is P.INCOMING_EARLY and uas.m.uas.reliable:
            uas.m.answer()
        effects = uas.cancel()
        assert codes(effects) == [200, 487]
        ended_with(effects, 487, "cancelled")
        machines.append(uas.m)
    return _merged(machines)


@scenario(
    (P.INCOMING, T.PRACK_TIMEOUT),
    (P.INCOMING_EARLY, T.PRACK_TIMEOUT),
    (P.ANSWERING, T.PRACK_TIMEOUT),
)
def no_prack() -> CallMachine:
    machines = []
    required = Uas(extra=REQUIRE_100REL)
    assert responses(required.effects)[1].headers["Require"] == "100rel"
    assert set(timers(required.effects)) >= {CallTimer.RETRANSMIT_1XX, CallTimer.PRACK_WAIT}
    # RFC 3262 3: the reliable provisional goes again at T1, 2T1, 4T1 ...
    again = required.m.timer_fired(CallTimer.RETRANSMIT_1XX)
    assert codes(again) == [180] and timers(again)[CallTimer.RETRANSMIT_1XX] == 1.0
    for uas in (required, reliable_early(), reliable_early()):
        if uas.m.phase is P.INCOMING_EARLY and len(machines) == 2:
            uas.m.answer()
        effects = uas.m.timer_fired(CallTimer.PRACK_WAIT)
        assert codes(effects) == [504]
        ended_with(effects, 504, "no PRACK")
        machines.append(uas.m)
    return _merged(machines)


@scenario(
    (P.INCOMING, T.BYE_RECEIVED),
    (P.INCOMING_EARLY, T.BYE_RECEIVED),
    (P.ANSWERING, T.BYE_RECEIVED),
)
def bye_while_ringing() -> CallMachine:
    machines = []
    for uas in (Uas(), Uas(config={"early_media": True}), reliable_early()):
        if uas.m.uas.reliable:
            uas.m.answer()
        effects = uas.send(uas.request("BYE", 2))
        # RFC 3261 15.1.2: 200 to the BYE, 487 to the INVITE.
        assert sorted(codes(effects)) == [200, 487]
        ended_with(effects, 487)
        machines.append(uas.m)
    return _merged(machines)


@scenario(
    (P.INCOMING, T.STOP),
    (P.INCOMING_EARLY, T.STOP),
    (P.ANSWERING, T.STOP),
    (P.ACCEPTED, T.STOP),
    (P.BYE_PENDING, T.STOP),
    (P.CONFIRMED, T.STOP),
)
def incoming_stopped() -> CallMachine:
    machines = []
    for setup in ("ringing", "early", "answering", "accepted", "bye-pending", "confirmed"):
        uas = reliable_early() if setup == "answering" else Uas(config={"early_media": setup == "early"})
        if setup == "answering":
            uas.m.answer()
        if setup in ("accepted", "bye-pending", "confirmed"):
            uas.answered()
        if setup == "bye-pending":
            uas.m.hangup()
        if setup == "confirmed":
            uas.ack()
        effects = uas.m.stop()
        assert uas.m.phase is P.ENDED and states(effects) == [] and of_type(effects, Ended)
        machines.append(uas.m)
    return _merged(machines)


@scenario((P.ACCEPTED, T.ACK_RECEIVED))
def acked() -> CallMachine:
    uas = Uas()
    uas.answered()
    effects = uas.ack()
    assert uas.m.phase is P.CONFIRMED and states(effects) == []
    # The 2xx retransmission and its deadline stop.
    assert uas.m.timers.isdisjoint({CallTimer.RETRANSMIT_2XX, CallTimer.ACK_WAIT})
    return uas.m


@scenario((P.ACCEPTED, T.ACK_TIMEOUT))
def no_ack() -> CallMachine:
    uas = Uas()
    uas.answered()
    # RFC 3261 13.3.1.4: the 2xx goes again at T1, 2T1 ... up to T2 until the ACK comes.
    delays = []
    for _ in range(5):
        effects = uas.m.timer_fired(CallTimer.RETRANSMIT_2XX)
        assert codes(effects) == [200]
        delays.append(timers(effects)[CallTimer.RETRANSMIT_2XX])
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0]
    effects = uas.m.timer_fired(CallTimer.ACK_WAIT)
    assert request(effects, "BYE")
    ended_with(effects, 408, "no ACK")
    return uas.m


@scenario((P.ACCEPTED, T.HANGUP))
def hangup_before_ack() -> CallMachine:
    uas = Uas()
    uas.answered()
    effects = uas.m.hangup()
    # RFC 3261 15: no BYE before the ACK; the user sees the call end at once.
    assert requests(effects) == [] and states(effects) == ["ended"] and uas.m.phase is P.BYE_PENDING
    return uas.m


@scenario((P.BYE_PENDING, T.ACK_RECEIVED))
def bye_after_ack() -> CallMachine:
    uas = Uas()
    uas.answered()
    uas.m.hangup()
    effects = uas.ack()
    assert request(effects, "BYE") and states(effects) == []
    ended_with(effects, None, "hangup")
    return uas.m


@scenario((P.BYE_PENDING, T.ACK_TIMEOUT))
def bye_after_ack_timeout() -> CallMachine:
    uas = Uas()
    uas.answered()
    uas.m.hangup()
    effects = uas.m.timer_fired(CallTimer.ACK_WAIT)
    assert request(effects, "BYE") and states(effects) == []
    ended_with(effects, None, "hangup")
    return uas.m


@scenario((P.BYE_PENDING, T.BYE_RECEIVED))
def their_bye_while_ours_waits() -> CallMachine:
    uas = Uas()
    uas.answered()
    uas.m.hangup()
    effects = uas.send(uas.request("BYE", 2))
    assert codes(effects) == [200] and requests(effects) == []
    ended_with(effects, None, "hangup")
    return uas.m


@scenario((P.ACCEPTED, T.BYE_RECEIVED))
def bye_before_ack() -> CallMachine:
    uas = Uas()
    uas.answered()
    effects = uas.send(uas.request("BYE", 2))
    assert codes(effects) == [200] and states(effects) == ["ended"]
    ended_with(effects, None, "remote hangup")
    # The ACK that was overtaken changes nothing.
    assert uas.ack() == []
    return uas.m


@scenario((P.ACCEPTED, T.DIALOG_LOST))
def session_expires_before_ack() -> CallMachine:
    uas = Uas(extra="Supported: timer\r\nSession-Expires: 90\r\n")
    uas.answered()
    assert uas.m.session_timer is not None
    effects = uas.m.timer_fired(CallTimer.SESSION_EXPIRY)
    ended_with(effects, 408, "session expired")
    return uas.m


def confirmed_uac(**config: object) -> Uac:
    uac = Uac(**config)
    uac.answer(headers=[("Allow", "INVITE, ACK, BYE, CANCEL, UPDATE, REFER, NOTIFY")])
    return uac


@scenario((P.CONFIRMED, T.HANGUP))
def hangup() -> CallMachine:
    uac = confirmed_uac()
    effects = uac.m.hangup()
    assert request(effects, "BYE").to.tag == "btag" and states(effects) == ["ended"]
    ended_with(effects, None, "hangup")
    return uac.m


@scenario((P.CONFIRMED, T.BYE_RECEIVED))
def remote_hangup() -> CallMachine:
    uac = confirmed_uac()
    effects = _bye_in_early(uac)
    ended_with(effects, None, "remote hangup")
    return uac.m


@scenario((P.CONFIRMED, T.DIALOG_LOST))
def dialog_lost() -> CallMachine:
    uac = confirmed_uac()
    effects = uac.m.send_info(1, b"Signal=5\r\n", "application/dtmf-relay")
    info = request(effects, "INFO")
    effects = uac.respond(481, to=info)
    # RFC 3261 12.2.1.2: a 481 to a request in the dialog ends it.
    assert Completed(1, "refused (481)", 481) in effects
    ended_with(effects, 481)
    return uac.m


# --- session changes -------------------------------------------------------------------------------


@scenario((M.IDLE, MT.SEND_REINVITE), (M.REINVITING, MT.ACCEPTED))
def hold() -> CallMachine:
    uac = confirmed_uac()
    effects = uac.m.hold(7)
    reinvite = request(effects, "INVITE")
    assert b"a=sendonly" in reinvite.body and uac.m.modify is M.REINVITING
    effects = uac.respond(200, body=sdp(direction="recvonly"), to=reinvite)
    assert acks(effects)[0].cseq.seq == reinvite.cseq.seq
    assert states(effects) == ["held"] and Completed(7) in effects
    update = of_type(effects, UpdateMedia)
    assert update and isinstance(update[0], UpdateMedia) and update[0].hold
    # A retransmission of that 2xx is ACKed again.
    assert acks(uac.respond(200, body=sdp(direction="recvonly"), to=reinvite))
    return uac.m


@scenario((M.REINVITING, MT.FAILED))
def hold_refused() -> CallMachine:
    uac = confirmed_uac()
    reinvite = request(uac.m.hold(3), "INVITE")
    effects = uac.respond(488, to=reinvite)
    assert Completed(3, "re-INVITE of call c1 failed: 488 Not Acceptable Here") in effects
    assert not uac.m.local_hold and uac.m.phase is P.CONFIRMED
    return uac.m


@scenario((M.REINVITING, MT.GLARE), (M.BACKOFF, MT.RETRY_DUE))
def glare() -> CallMachine:
    uac = confirmed_uac()
    reinvite = request(uac.m.hold(4), "INVITE")
    # Their re-INVITE crosses ours: 491 (RFC 3261 14.2).
    theirs = uac.peer_request("INVITE", 2, body=sdp(version=2))
    assert codes(_send(uac, theirs)) == [491]
    effects = uac.respond(491, to=reinvite)
    delay = timers(effects)[CallTimer.GLARE_RETRY]
    assert 2.1 <= delay <= 4.0  # we own the Call-ID: RFC 3261 14.1
    effects = uac.m.timer_fired(CallTimer.GLARE_RETRY)
    again = request(effects, "INVITE")
    assert again.cseq.seq > reinvite.cseq.seq and b"a=sendonly" in again.body
    assert Completed(4) in uac.respond(200, body=sdp(direction="recvonly"), to=again)
    return uac.m


@scenario((M.REINVITING, MT.RETRY_LATER))
def retry_after_500() -> CallMachine:
    uac = confirmed_uac()
    reinvite = request(uac.m.hold(4), "INVITE")
    # Our re-INVITE overtook the ACK of their last one: 500 with Retry-After (RFC 3261 14.2); we wait and retry.
    effects = uac.respond(500, to=reinvite, headers=[("Retry-After", "3")])
    assert timers(effects)[CallTimer.GLARE_RETRY] == 3.0 and uac.m.modify is M.BACKOFF
    again = request(uac.m.timer_fired(CallTimer.GLARE_RETRY), "INVITE")
    assert again.cseq.seq > reinvite.cseq.seq and b"a=sendonly" in again.body
    # Once only: a second 500 fails the change.
    effects = uac.respond(500, to=again, headers=[("Retry-After", "3")])
    assert Completed(4, "re-INVITE of call c1 failed: 500 Server Internal Error") in effects
    assert uac.m.modify is M.IDLE
    return uac.m


@scenario((M.BACKOFF, MT.REINVITE_RECEIVED))
def their_retry_during_backoff() -> CallMachine:
    uac = confirmed_uac()
    reinvite = request(uac.m.hold(4), "INVITE")
    uac.respond(491, to=reinvite)
    effects = _send(uac, uac.peer_request("INVITE", 2, body=sdp(direction="sendonly", version=2)))
    assert codes(effects) == [200] and uac.m.modify is M.REINVITED and uac.m.remote_hold
    # Our retry waits for their ACK.
    assert requests(uac.m.timer_fired(CallTimer.GLARE_RETRY)) == []
    uac.m.receive_request(uac.peer_request("ACK", 2), None)
    assert request(uac.m.timer_fired(CallTimer.GLARE_RETRY), "INVITE")
    return uac.m


@scenario((M.IDLE, MT.REINVITE_RECEIVED), (M.REINVITED, MT.ACK_RECEIVED))
def held_by_peer() -> CallMachine:
    uas = Uas()
    uas.answered()
    uas.ack()
    effects = uas.send(uas.request("INVITE", 2, body=sdp(direction="sendonly", version=2)))
    [ok] = responses(effects)
    assert ok.status_code == 200 and b"a=recvonly" in ok.body and states(effects) == ["held"]
    assert uas.m.modify is M.REINVITED
    # A re-INVITE before the ACK of the last one: 500 with Retry-After (RFC 3261 14.2).
    early = uas.send(uas.request("INVITE", 3, body=sdp(version=3)))
    assert codes(early) == [500] and responses(early)[0].headers["Retry-After"]
    uas.ack(2)
    assert uas.m.modify is M.IDLE
    return uas.m


@scenario((M.REINVITED, MT.ACK_TIMEOUT))
def reinvite_never_acked() -> CallMachine:
    uas = Uas()
    uas.answered()
    uas.ack()
    uas.send(uas.request("INVITE", 2, body=sdp(version=2)))
    effects = uas.m.timer_fired(CallTimer.ACK_WAIT)
    assert request(effects, "BYE")
    ended_with(effects, 408, "no ACK")
    return uas.m


def early_uac_with_update() -> Uac:
    uac = Uac()
    effects = uac.respond(
        183,
        body=sdp(),
        headers=[("Require", "100rel"), ("RSeq", "1"), ("Allow", "INVITE, ACK, BYE, CANCEL, PRACK, UPDATE")],
    )
    assert request(effects, "PRACK").headers["RAck"] == f"1 {uac.invite.cseq.seq} INVITE"
    return uac


@scenario((M.IDLE, MT.SEND_UPDATE), (M.UPDATING, MT.ACCEPTED))
def early_hold_by_update() -> CallMachine:
    uac = early_uac_with_update()
    effects = uac.m.hold(9)
    update = request(effects, "UPDATE")
    assert b"a=sendonly" in update.body and update.to.tag == "btag"
    effects = uac.respond(200, body=sdp(direction="recvonly"), to=update)
    assert Completed(9) in effects and uac.m.local_hold and acks(effects) == []
    return uac.m


@scenario((M.UPDATING, MT.FAILED))
def update_refused() -> CallMachine:
    uac = early_uac_with_update()
    update = request(uac.m.hold(9), "UPDATE")
    effects = uac.respond(500, to=update)
    assert of_type(effects, Completed) and not uac.m.local_hold
    return uac.m


@scenario((M.UPDATING, MT.GLARE))
def update_glare() -> CallMachine:
    uac = early_uac_with_update()
    update = request(uac.m.hold(9), "UPDATE")
    effects = uac.respond(491, to=update)
    assert CallTimer.GLARE_RETRY in timers(effects) and uac.m.modify is M.BACKOFF
    assert request(uac.m.timer_fired(CallTimer.GLARE_RETRY), "UPDATE")
    return uac.m


def _send(uac: Uac, message: Request) -> list[CallEffect]:
    tx = TransactionLayer(TimerSettings()).create_server(message, 0.0, reliable=False, destination=None)
    return uac.m.receive_request(message, tx)


def _merged(machines: list[CallMachine]) -> CallMachine:
    first = machines[0]
    assert isinstance(first, TracedMachine)
    for other in machines[1:]:
        assert isinstance(other, TracedMachine)
        first.trace += other.trace
    return first


# --- the table and its scenarios --------------------------------------------------------------------


def test_every_transition_has_a_scenario() -> None:
    rows = set(PHASE_TRANSITIONS) | set(MODIFY_TRANSITIONS)
    assert set(SCENARIOS) == rows, f"missing {rows - set(SCENARIOS)}, extra {set(SCENARIOS) - rows}"


ROWS = sorted(SCENARIOS, key=lambda row: (type(row[0]).__name__, str(row[0]), str(row[1])))


@pytest.mark.parametrize("row", ROWS, ids=[f"{a.name}-{b.name}" for a, b in ROWS])  # type: ignore[attr-defined]
def test_transition(row: tuple[object, object]) -> None:
    machine = SCENARIOS[row]()
    assert isinstance(machine, TracedMachine)
    table: dict[tuple[object, object], object] = {**PHASE_TRANSITIONS, **MODIFY_TRANSITIONS}
    assert (row[0], row[1], table[row]) in machine.trace


def test_table_prints_every_row() -> None:
    text = table_markdown()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line and "trigger" not in line]
    assert len(rows) == len(PHASE_TRANSITIONS) + len(MODIFY_TRANSITIONS)
    assert "| CANCELLING | 2xx received | ENDED |" in text


def test_the_architecture_document_shows_the_tables_as_they_are() -> None:
    document = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    assert table_markdown() in document


def test_a_transition_outside_the_table_is_a_bug() -> None:
    uac = Uac()
    with pytest.raises(InvalidTransition):
        uac.m.go(Trigger.ACK_RECEIVED)


# --- races and rules beyond single rows ---------------------------------------------------------------


def test_forked_2xx_is_acked_and_ended_and_a_retransmission_acked_again() -> None:
    uac = Uac()
    uac.respond(180, "fork1")
    uac.respond(180, "fork2")
    effects = uac.answer("fork1")
    assert acks(effects)[0].to.tag == "fork1"
    effects = uac.answer("fork2")
    [ack] = acks(effects)
    bye = request(effects, "BYE")
    assert ack.to.tag == "fork2" and bye.to.tag == "fork2"
    assert uac.m.dialog is not None and uac.m.dialog.remote_tag == "fork1" and uac.m.phase is P.CONFIRMED
    assert acks(uac.answer("fork1"))[0].to.tag == "fork1"
    # After the transaction: the stray 2xx is ACKed again too.
    stray = make_response(uac.invite, 200, to_tag="fork1", headers=[("Contact", "<sip:bob@192.0.2.20>")])
    assert acks(uac.m.receive_stray_response(stray))


def test_reliable_provisionals_are_pracked_in_order_only() -> None:
    uac = Uac()
    seq = uac.invite.cseq.seq
    first = uac.respond(180, headers=[("Require", "100rel"), ("RSeq", "5")])
    assert request(first, "PRACK").headers["RAck"] == f"5 {seq} INVITE"
    assert requests(uac.respond(180, headers=[("Require", "100rel"), ("RSeq", "5")])) == []  # a retransmission
    assert requests(uac.respond(183, headers=[("Require", "100rel"), ("RSeq", "7")])) == []  # out of order
    assert request(uac.respond(183, headers=[("Require", "100rel"), ("RSeq", "6")]), "PRACK")
    assert requests(uac.respond(180, headers=[("Require", "100rel"), ("RSeq", "x")])) == []  # garbage


def test_prack_that_matches_nothing_gets_481_and_bad_rack_400() -> None:
    uas = Uas(extra=REQUIRE_100REL)
    rseq = int(responses(uas.effects)[1].headers["RSeq"])
    assert codes(uas.send(uas.request("PRACK", 2, extra=f"RAck: {rseq + 1} 1 INVITE\r\n"))) == [481]
    assert codes(uas.send(uas.request("PRACK", 3, extra="RAck: 99999999999999 1 INVITE\r\n"))) == [400]
    effects = uas.send(uas.request("PRACK", 4, extra=f"RAck: {rseq} 1 INVITE\r\n"))
    assert codes(effects) == [200] and uas.m.timers.isdisjoint({CallTimer.RETRANSMIT_1XX, CallTimer.PRACK_WAIT})
    assert codes(uas.send(uas.request("PRACK", 5, extra=f"RAck: {rseq} 1 INVITE\r\n"))) == [481]


def test_update_offer_rules() -> None:
    # RFC 3311 5.2: an offer while ours is outstanding gets 491; before their offer is answered, 500.
    uac = confirmed_uac()
    uac.m.hold(1)
    assert codes(_send(uac, uac.peer_request("UPDATE", 2, body=sdp(version=2)))) == [491]
    ringing = Uas()
    effects = ringing.send(ringing.request("UPDATE", 2, body=sdp(version=2)))
    assert codes(effects) == [500] and responses(effects)[0].headers["Retry-After"]
    # In an early dialog whose offer was answered reliably, an UPDATE changes the early media.
    early = reliable_early()
    rseq = responses(early.effects)[1].headers["RSeq"]
    early.send(early.request("PRACK", 2, extra=f"RAck: {rseq} 1 INVITE\r\n"))
    effects = early.send(early.request("UPDATE", 3, body=sdp(port=43000, version=2)))
    assert codes(effects) == [200] and b"m=audio 40000" in responses(effects)[0].body
    assert early.m.media is not None and early.m.media.remote_port == 43000 and of_type(effects, UpdateMedia)


def test_update_without_sdp_refreshes_the_session() -> None:
    uas = Uas(extra="Supported: timer\r\n")
    uas.answered()
    uas.ack()
    effects = uas.send(uas.request("UPDATE", 2, extra="Supported: timer\r\nSession-Expires: 120;refresher=uac\r\n"))
    [ok] = responses(effects)
    assert ok.status_code == 200 and ok.headers["Session-Expires"] == "120;refresher=uac" and not ok.body
    assert timers(effects)[CallTimer.SESSION_EXPIRY] == 120 - 32


def test_session_refresh_uses_update_when_the_peer_allows_it_else_reinvite() -> None:
    for allow, method in (("INVITE, ACK, BYE, UPDATE", "UPDATE"), ("INVITE, ACK, BYE", "INVITE")):
        uac = Uac()
        effects = uac.answer(headers=[("Allow", allow), ("Session-Expires", "90;refresher=uac")])
        assert timers(effects)[CallTimer.SESSION_REFRESH] == 45
        refresh = request(uac.m.timer_fired(CallTimer.SESSION_REFRESH), method)
        assert refresh.headers["Session-Expires"] == "90"
        assert (refresh.body == b"") == (method == "UPDATE")
        effects = uac.respond(
            200, to=refresh, body="" if method == "UPDATE" else sdp(), headers=[("Session-Expires", "90;refresher=uac")]
        )
        assert timers(effects)[CallTimer.SESSION_REFRESH] == 45


def test_offerless_reinvite_takes_the_answer_from_the_ack() -> None:
    uas = Uas()
    uas.answered()
    uas.ack()
    effects = uas.send(uas.request("INVITE", 2))
    [ok] = responses(effects)
    assert ok.body.startswith(b"v=0") and uas.m.remote_sdp is None
    effects = uas.ack(2, body=sdp(port=44000, direction="sendonly", version=2))
    assert uas.m.media is not None and uas.m.media.remote_port == 44000 and states(effects) == ["held"]


def test_reinvite_challenged_is_sent_again_with_credentials() -> None:
    uac = confirmed_uac()
    reinvite = request(uac.m.hold(2), "INVITE")
    effects = uac.respond(401, to=reinvite, headers=[("WWW-Authenticate", 'Digest realm="x", nonce="n"')])
    again = request(effects, "INVITE")
    assert "Authorization" in again.headers and again.cseq.seq == reinvite.cseq.seq + 1
    assert Completed(2) in uac.respond(200, body=sdp(direction="recvonly"), to=again)


def test_made_up_timeout_of_a_reinvite_ends_the_call() -> None:
    uac = confirmed_uac()
    reinvite = request(uac.m.hold(2), "INVITE")
    local = make_response(reinvite, 408, "Request Timeout")
    effects = uac.m.receive_response(reinvite, LocalResponse(408, "Request Timeout", local.headers))
    assert Completed(2) in effects
    ended_with(effects, 408)


def test_transfer_as_transferor() -> None:
    uac = confirmed_uac()
    refer = request(uac.m.refer(5, "<sip:carol@example.org>", "sip:carol@example.org"), "REFER")
    assert refer.headers["Refer-To"] == "<sip:carol@example.org>" and refer.headers["Referred-By"]
    effects = uac.respond(202, to=refer)
    assert [e.state for e in events(effects) if isinstance(e, TransferEvent)] == ["accepted"]
    assert Completed(5) in effects
    notify = uac.peer_request(
        "NOTIFY", 2, body="SIP/2.0 200 OK\r\n", extra="Event: refer\r\nSubscription-State: terminated\r\n"
    )
    effects = _send(uac, notify)
    assert codes(effects) == [200] and CallTimer.TRANSFER_BYE in timers(effects)
    effects = uac.m.timer_fired(CallTimer.TRANSFER_BYE)
    assert request(effects, "BYE")
    ended_with(effects, None, "transferred")


def test_transfer_as_transferee() -> None:
    uac = confirmed_uac()
    refer = uac.peer_request(
        "REFER", 2, extra="Refer-To: <sip:carol@example.org?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2>\r\n"
    )
    effects = _send(uac, refer)
    assert codes(effects) == [202]
    notify = request(effects, "NOTIFY")
    assert notify.body == b"SIP/2.0 100 Trying\r\n" and notify.headers["Event"] == "refer"
    [place] = of_type(effects, PlaceCall)
    assert isinstance(place, PlaceCall) and str(place.uri) == "sip:carol@example.org"
    assert ("Replaces", "abc;to-tag=1;from-tag=2") in place.headers
    effects = uac.m.transfer_outcome(True, 200, "OK", "sip:carol@example.org")
    final = request(effects, "NOTIFY")
    assert final.body == b"SIP/2.0 200 OK\r\n" and final.headers["Subscription-State"].startswith("terminated")
    # The BYE waits for the answer to that NOTIFY, so the transferor hears of the success first.
    assert requests(effects, "BYE") == [] and CallTimer.TRANSFER_BYE in timers(effects)
    effects = uac.respond(200, to=final)
    assert request(effects, "BYE")
    ended_with(effects, None, "transferred")
    # Without an answer, the grace period ends the call all the same.
    silent = confirmed_uac()
    _send(silent, silent.peer_request("REFER", 2, extra="Refer-To: <sip:carol@example.org>\r\n"))
    silent.m.transfer_outcome(True, 200, "OK", "sip:carol@example.org")
    effects = silent.m.timer_fired(CallTimer.TRANSFER_BYE)
    assert request(effects, "BYE")
    ended_with(effects, None, "transferred")
    bad = Uac()
    bad.answer()
    assert codes(_send(bad, bad.peer_request("REFER", 2))) == [400]


def test_info_dtmf_both_ways() -> None:
    uac = confirmed_uac()
    effects = _send(uac, uac.peer_request("INFO", 2, body="Signal=7\r\nDuration=160\r\n"))
    assert codes(effects) == [200]
    [dtmf] = [e for e in events(effects) if isinstance(e, DtmfEvent)]
    assert dtmf.digit == "7" and dtmf.method == "info"
    info = request(uac.m.send_info(3, b"Signal=1\r\n", "application/dtmf-relay"), "INFO")
    assert Completed(3, "refused (415)", 415) in uac.respond(415, to=info)


def test_ringing_timers_answer_forward_and_give_up() -> None:
    auto = Uas()
    assert codes(auto.m.timer_fired(CallTimer.AUTO_ANSWER)) == [200] and auto.m.phase is P.ACCEPTED
    forward = Uas()
    forward.m.uas.forward_to = "sip:voicemail@example.com"
    effects = forward.m.timer_fired(CallTimer.FORWARD)
    assert codes(effects) == [302] and responses(effects)[0].headers["Contact"] == "<sip:voicemail@example.com>"
    ended_with(effects, 302, "forwarded")
    timeout = Uas()
    effects = timeout.m.timer_fired(CallTimer.RING_TIMEOUT)
    assert codes(effects) == [480]
    ended_with(effects, 480, "no answer")


# --- SRTP in offer/answer (no new rows: keys are material for the media effects) -------------------


def srtp_audio(policy: str = "mandatory", keys: str = "sdes", *, tls: bool = True) -> AudioConfig:
    fingerprint = Fingerprint("sha-256", ":".join(["AB"] * 32))
    srtp = SrtpConfig(policy, keys, secure_signalling=tls, fingerprint=fingerprint)  # type: ignore[arg-type]
    return AudioConfig(codecs=[pcmu_codec()], srtp=srtp)


def crypto_sdp(
    *lines: str, proto: str = "RTP/SAVP", port: int = 42000, direction: str = "sendrecv", version: int = 1
) -> str:
    return sdp(port=port, direction=direction, version=version).replace("RTP/AVP", proto) + "".join(
        f"a={line}\r\n" for line in lines
    )


def answer_line(offer: bytes, tag: int = 1) -> str:
    """The peer's a=crypto answer to the offered line ``tag``, with a key of its own."""
    for line in offer.decode().split("\r\n"):
        if line.startswith(f"a=crypto:{tag} "):
            suite = line.split()[1]
            return f"crypto:{tag} {suite} inline:" + base64.b64encode(b"k" * SUITES[suite].key_salt_length).decode()
    raise AssertionError(f"no a=crypto:{tag} in {offer!r}")


def test_sdes_offer_and_answer_give_the_media_its_keys() -> None:
    uac = Uac(audio=srtp_audio())
    assert b"RTP/SAVP" in uac.invite.body and uac.invite.body.count(b"a=crypto:") == len(SUITES)
    effects = uac.respond(200, body=crypto_sdp(answer_line(uac.invite.body)))
    [start] = of_type(effects, StartMedia)
    assert isinstance(start, StartMedia) and start.crypto is not None
    assert start.crypto.suite == "AEAD_AES_256_GCM" and start.crypto.remote_key == b"k" * 44
    [event] = [e for e in events(effects) if isinstance(e, CallEvent)]
    assert event.encryption is not None and event.encryption.encrypted and event.encryption.verified
    assert event.encryption.describe() == "SRTP AES-GCM-256, keys by SDES over TLS"


def test_mandatory_caller_ends_a_call_answered_in_plain() -> None:
    uac = Uac(audio=srtp_audio())
    effects = uac.respond(200, body=sdp())
    assert acks(effects) and request(effects, "BYE")
    ended_with(effects, 488)
    assert "'RTP/SAVP'" in uac.m.reason
    uac = Uac(audio=srtp_audio())
    effects = uac.respond(200, body=sdp().replace("RTP/AVP", "RTP/SAVP"))
    ended_with(effects, 488)
    assert uac.m.reason == "m= line 1 of the answer: RTP/SAVP without keys"


def test_refused_encrypted_offer_says_why() -> None:
    uac = Uac(audio=srtp_audio())
    effects = uac.respond(488, headers=[("Warning", '399 bob "encrypted media offered, and SRTP is off"')])
    ended_with(effects, 488)
    assert uac.m.reason == (
        "the peer refused encrypted media (488 Not Acceptable Here): encrypted media offered, and SRTP is off"
    )


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=", "no usable a=crypto line"),
        ("crypto:garbage", "no usable a=crypto line"),
        ("crypto:1 NO_SUCH_SUITE inline:" + base64.b64encode(b"x" * 30).decode(), "no SRTP suite in common"),
    ],
)
def test_incoming_offer_with_bad_keys_is_refused_with_a_warning(line: str, why: str) -> None:
    uas = Uas(offer=crypto_sdp(line), config={"audio": srtp_audio("optional")})
    assert 488 in codes(uas.effects)
    [refusal] = [r for r in responses(uas.effects) if r.status_code == 488]
    assert why in refusal.headers["Warning"]
    assert uas.m.phase is P.ENDED and why in uas.m.reason


def test_incoming_plain_offer_under_mandatory_policy_is_refused() -> None:
    uas = Uas(config={"audio": srtp_audio("mandatory", "any")})
    [refusal] = [r for r in responses(uas.effects) if r.status_code == 488]
    assert "SRTP is mandatory" in refusal.headers["Warning"]


def test_incoming_sdes_offer_is_answered_with_our_key() -> None:
    key = base64.b64encode(b"p" * 30).decode()
    uas = Uas(offer=crypto_sdp(f"crypto:3 AES_CM_128_HMAC_SHA1_32 inline:{key}"), config={"audio": srtp_audio()})
    effects = uas.answered()
    [ok] = [r for r in responses(effects) if r.status_code == 200]
    assert b"RTP/SAVP" in ok.body and b"a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:" in ok.body
    [start] = of_type(uas.effects, StartMedia)
    assert isinstance(start, StartMedia) and start.crypto is not None
    assert start.crypto.remote_key == b"p" * 30 and len(start.crypto.local_key) == 30
    assert [u.crypto for u in of_type(effects, UpdateMedia) if isinstance(u, UpdateMedia)] == [start.crypto]


def confirmed_srtp_call() -> Uac:
    uac = Uac(audio=srtp_audio())
    uac.respond(200, body=crypto_sdp(answer_line(uac.invite.body)))
    assert uac.m.phase is P.CONFIRMED
    return uac


def test_hold_re_offer_carries_new_keys() -> None:
    uac = confirmed_srtp_call()
    old = uac.m.media.crypto if uac.m.media else None
    effects = uac.m.hold(1)
    reinvite = request(effects, "INVITE")
    assert b"a=sendonly" in reinvite.body and reinvite.body.count(b"a=crypto:") == len(SUITES)
    assert answer_line(reinvite.body) and reinvite.body != uac.invite.body
    answer = crypto_sdp(answer_line(reinvite.body).replace("kkkk", "jjjj"), direction="recvonly", version=2)
    effects = uac.respond(200, body=answer, to=reinvite)
    [update] = of_type(effects, UpdateMedia)
    assert isinstance(update, UpdateMedia) and update.crypto is not None and old is not None
    assert update.crypto.local_key != old.local_key


def test_rekey_sends_a_re_invite_with_new_keys_only() -> None:
    uac = confirmed_srtp_call()
    effects = uac.m.rekey(5)
    reinvite = request(effects, "INVITE")
    assert b"a=sendrecv" in reinvite.body and b"o=- " in reinvite.body
    assert uac.m.local_sdp is not None and reinvite.body != uac.m.local_sdp.to_bytes()
    effects = uac.respond(200, body=crypto_sdp(answer_line(reinvite.body), version=2), to=reinvite)
    assert of_type(effects, UpdateMedia) and Completed(5) in effects


def test_their_re_offer_in_plain_cannot_drop_encryption() -> None:
    uac = confirmed_srtp_call()
    reinvite = uac.peer_request("INVITE", 10, body=sdp(version=2).replace("RTP/AVP", "RTP/SAVP"))
    layer = TransactionLayer(TimerSettings())
    effects = uac.m.receive_request(reinvite, layer.create_server(reinvite, 0.0, reliable=False, destination=None))
    [refusal] = responses(effects)
    assert refusal.status_code == 488 and "a=crypto" not in refusal.headers["Warning"]
    plain = uac.peer_request("INVITE", 11, body=sdp(version=2))
    effects = uac.m.receive_request(plain, layer.create_server(plain, 0.0, reliable=False, destination=None))
    [refusal] = responses(effects)
    assert refusal.status_code == 488
    assert "turned off" in refusal.headers["Warning"] or "mandatory" in refusal.headers["Warning"]
    assert uac.m.phase is P.CONFIRMED


def test_dtls_call_is_pending_until_the_media_proves_the_fingerprint() -> None:
    uac = Uac(audio=srtp_audio("mandatory", "dtls", tls=False))
    assert b"UDP/TLS/RTP/SAVP" in uac.invite.body and b"a=setup:actpass" in uac.invite.body
    answer = crypto_sdp(
        "fingerprint:sha-256 " + ":".join(["CD"] * 32), "setup:active", "rtcp-mux", proto="UDP/TLS/RTP/SAVP"
    )
    effects = uac.respond(200, body=answer)
    [start] = of_type(effects, StartMedia)
    assert isinstance(start, StartMedia) and start.crypto is not None and start.crypto.dtls_role == "passive"
    assert uac.m.encryption is not None and uac.m.encryption.pending
    effects = uac.m.media_encrypted("dtls", "AEAD_AES_128_GCM", True)
    [event] = events(effects)
    assert isinstance(event, CallEvent) and event.encryption is not None
    assert event.encryption.describe() == "SRTP AES-GCM-128, keys by DTLS, fingerprint verified"


def test_failed_media_encryption_ends_the_call_saying_why() -> None:
    uac = confirmed_srtp_call()
    effects = uac.m.media_encryption_failed("the DTLS handshake did not finish within 10 s")
    assert request(effects, "BYE")
    ended_with(effects, None, "media encryption failed: the DTLS handshake did not finish within 10 s")

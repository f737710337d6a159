"""The states of a call and the tables of their transitions.

A call is two machines. :class:`CallPhase` follows the INVITE dialog usage
from the first INVITE to the end (RFC 3261 13-15, RFC 3262, RFC 6026);
:class:`Modify` follows the session changes inside it: re-INVITE and
UPDATE in either direction, and the RFC 3261 14.1 back-off after a glare.
Every change of state goes through :data:`PHASE_TRANSITIONS` or
:data:`MODIFY_TRANSITIONS`; a pair missing from a table is a bug, not an
input to ignore. :func:`table_markdown` prints them for the documentation.
"""

from __future__ import annotations

import enum

from softphone.ua.events import CallState

__all__ = [
    "MODIFY_TRANSITIONS",
    "PHASE_TRANSITIONS",
    "CallPhase",
    "InvalidTransition",
    "Modify",
    "ModifyTrigger",
    "Trigger",
    "public_state",
    "table_markdown",
]


class CallPhase(enum.Enum):
    IDLE = "idle"
    # Outgoing (we are the UAC of the INVITE).
    CALLING = "calling"
    RINGING = "ringing"
    EARLY = "early"
    CANCELLING = "cancelling"
    # Incoming (we are the UAS).
    INCOMING = "incoming"
    INCOMING_EARLY = "incoming-early"
    ANSWERING = "answering"
    ACCEPTED = "accepted"
    BYE_PENDING = "bye-pending"
    # Both.
    CONFIRMED = "confirmed"
    ENDED = "ended"


class Trigger(enum.Enum):
    DIAL = "dial"
    INVITE_RECEIVED = "INVITE received"
    REFUSED = "INVITE refused before ringing"
    PROVISIONAL = "1xx received"
    EARLY_MEDIA = "1xx with SDP or 183 received"
    RETRY = "INVITE sent again (auth, 3xx, 422, failover)"
    ANSWERED = "2xx received"
    REJECTED = "3xx-6xx received or INVITE failed"
    HANGUP = "user hangs up"
    EARLY_MEDIA_SENT = "183 with SDP sent"
    ANSWER = "user answers"
    AWAIT_PRACK = "user answers, PRACK outstanding"
    PRACK_RECEIVED = "PRACK received"
    PRACK_TIMEOUT = "no PRACK within 64*T1"
    DECLINE = "user declines, forwards or ring timeout"
    CANCEL_RECEIVED = "CANCEL received"
    ACK_RECEIVED = "ACK received"
    ACK_TIMEOUT = "no ACK within 64*T1"
    BYE_RECEIVED = "BYE received"
    DIALOG_LOST = "408/481 in dialog or session expired"
    STOP = "user agent stops"


_P = CallPhase
_T = Trigger
_UAC_WAITING = (_P.CALLING, _P.RINGING, _P.EARLY)
_UAS_RINGING = (_P.INCOMING, _P.INCOMING_EARLY)


def _rows() -> dict[tuple[CallPhase, Trigger], CallPhase]:
    rows: dict[tuple[CallPhase, Trigger], CallPhase] = {
        (_P.IDLE, _T.DIAL): _P.CALLING,
        (_P.IDLE, _T.INVITE_RECEIVED): _P.INCOMING,
        # 421, 422, 400 or 488 at once: the call never rang and no event tells of it.
        (_P.IDLE, _T.REFUSED): _P.ENDED,
        (_P.CALLING, _T.PROVISIONAL): _P.RINGING,
        (_P.CALLING, _T.EARLY_MEDIA): _P.EARLY,
        (_P.RINGING, _T.EARLY_MEDIA): _P.EARLY,
        # RFC 3261 9.1: a CANCEL crossing the 2xx; the call is ACKed, then ended with BYE.
        (_P.CANCELLING, _T.ANSWERED): _P.ENDED,
        (_P.CANCELLING, _T.REJECTED): _P.ENDED,
        (_P.CANCELLING, _T.STOP): _P.ENDED,
        (_P.INCOMING, _T.EARLY_MEDIA_SENT): _P.INCOMING_EARLY,
        # RFC 3262 3: a 2xx waits for the PRACK of a reliable provisional that carried SDP.
        (_P.ANSWERING, _T.PRACK_RECEIVED): _P.ACCEPTED,
        (_P.ACCEPTED, _T.ACK_RECEIVED): _P.CONFIRMED,
        (_P.ACCEPTED, _T.ACK_TIMEOUT): _P.ENDED,
        # RFC 3261 15: the callee sends no BYE before the ACK (or Timer H); it waits in BYE_PENDING.
        (_P.ACCEPTED, _T.HANGUP): _P.BYE_PENDING,
        (_P.ACCEPTED, _T.BYE_RECEIVED): _P.ENDED,
        (_P.ACCEPTED, _T.DIALOG_LOST): _P.ENDED,
        (_P.ACCEPTED, _T.STOP): _P.ENDED,
        (_P.BYE_PENDING, _T.ACK_RECEIVED): _P.ENDED,
        (_P.BYE_PENDING, _T.ACK_TIMEOUT): _P.ENDED,
        (_P.BYE_PENDING, _T.BYE_RECEIVED): _P.ENDED,
        (_P.BYE_PENDING, _T.STOP): _P.ENDED,
        (_P.CONFIRMED, _T.HANGUP): _P.ENDED,
        (_P.CONFIRMED, _T.BYE_RECEIVED): _P.ENDED,
        (_P.CONFIRMED, _T.DIALOG_LOST): _P.ENDED,
        (_P.CONFIRMED, _T.STOP): _P.ENDED,
    }
    for phase in _UAC_WAITING:
        rows[phase, _T.ANSWERED] = _P.CONFIRMED
        rows[phase, _T.REJECTED] = _P.ENDED
        rows[phase, _T.RETRY] = _P.CALLING
        rows[phase, _T.HANGUP] = _P.CANCELLING
        rows[phase, _T.STOP] = _P.ENDED
    for phase in (_P.RINGING, _P.EARLY):
        # RFC 3261 15: a callee must not BYE an early dialog; one that does gets its INVITE cancelled.
        rows[phase, _T.BYE_RECEIVED] = _P.CANCELLING
    for phase in (*_UAS_RINGING, _P.ANSWERING):
        rows[phase, _T.DECLINE] = _P.ENDED
        rows[phase, _T.CANCEL_RECEIVED] = _P.ENDED
        rows[phase, _T.PRACK_TIMEOUT] = _P.ENDED
        # RFC 3261 15.1.2: a BYE on the early dialog ends the unanswered INVITE (487).
        rows[phase, _T.BYE_RECEIVED] = _P.ENDED
        rows[phase, _T.STOP] = _P.ENDED
    for phase in _UAS_RINGING:
        rows[phase, _T.ANSWER] = _P.ACCEPTED
    rows[_P.INCOMING_EARLY, _T.AWAIT_PRACK] = _P.ANSWERING
    return rows


PHASE_TRANSITIONS: dict[tuple[CallPhase, Trigger], CallPhase] = _rows()


class Modify(enum.Enum):
    IDLE = "idle"
    REINVITING = "re-INVITE sent"
    UPDATING = "UPDATE sent"
    BACKOFF = "glare back-off"
    REINVITED = "re-INVITE answered, ACK awaited"


class ModifyTrigger(enum.Enum):
    SEND_REINVITE = "send re-INVITE"
    SEND_UPDATE = "send UPDATE"
    ACCEPTED = "2xx received"
    GLARE = "491 received"
    RETRY_LATER = "500 with Retry-After received"
    FAILED = "other final response"
    RETRY_DUE = "back-off elapsed"
    REINVITE_RECEIVED = "re-INVITE answered with 2xx"
    ACK_RECEIVED = "ACK received"
    ACK_TIMEOUT = "no ACK within 64*T1"


_M = Modify
_MT = ModifyTrigger

MODIFY_TRANSITIONS: dict[tuple[Modify, ModifyTrigger], Modify] = {
    (_M.IDLE, _MT.SEND_REINVITE): _M.REINVITING,
    (_M.IDLE, _MT.SEND_UPDATE): _M.UPDATING,
    (_M.IDLE, _MT.REINVITE_RECEIVED): _M.REINVITED,
    (_M.REINVITING, _MT.ACCEPTED): _M.IDLE,
    (_M.REINVITING, _MT.FAILED): _M.IDLE,
    # RFC 3261 14.1: after a 491 the change is tried again once a random interval has passed.
    (_M.REINVITING, _MT.GLARE): _M.BACKOFF,
    # RFC 3261 14.2: a 500 with Retry-After (their re-INVITE still waits for its ACK) asks us to try again.
    (_M.REINVITING, _MT.RETRY_LATER): _M.BACKOFF,
    (_M.UPDATING, _MT.ACCEPTED): _M.IDLE,
    (_M.UPDATING, _MT.FAILED): _M.IDLE,
    (_M.UPDATING, _MT.GLARE): _M.BACKOFF,
    (_M.BACKOFF, _MT.RETRY_DUE): _M.IDLE,
    # The other side's retry after the glare is answered while ours waits.
    (_M.BACKOFF, _MT.REINVITE_RECEIVED): _M.REINVITED,
    (_M.REINVITED, _MT.ACK_RECEIVED): _M.IDLE,
    (_M.REINVITED, _MT.ACK_TIMEOUT): _M.IDLE,
}


class InvalidTransition(RuntimeError):
    """A state change that the tables do not allow: a bug in the call machine."""


def public_state(phase: CallPhase, previous: CallState, held: bool) -> CallState:
    """The state events show (``calling``, ``ringing``, ``early``, ``confirmed``, ``held``, ``ended``)."""
    if phase in (CallPhase.IDLE, CallPhase.CALLING):
        return "calling"
    if phase in (CallPhase.RINGING, CallPhase.INCOMING):
        return "ringing"
    if phase in (CallPhase.EARLY, CallPhase.INCOMING_EARLY):
        return "early"
    if phase in (CallPhase.CANCELLING, CallPhase.ANSWERING):
        return previous
    if phase in (CallPhase.ACCEPTED, CallPhase.CONFIRMED):
        return "held" if held else "confirmed"
    return "ended"


def table_markdown() -> str:
    """Both transition tables as Markdown, as docs/architecture.md shows them."""
    phases, triggers = list(CallPhase), list(Trigger)
    lines = ["| phase | trigger | next phase |", "| --- | --- | --- |"]
    for phase, trigger in sorted(PHASE_TRANSITIONS, key=lambda k: (phases.index(k[0]), triggers.index(k[1]))):
        lines.append(f"| {phase.name} | {trigger.value} | {PHASE_TRANSITIONS[phase, trigger].name} |")
    states, modify_triggers = list(Modify), list(ModifyTrigger)
    lines += ["", "| session change | trigger | next |", "| --- | --- | --- |"]
    for state, mt in sorted(MODIFY_TRANSITIONS, key=lambda k: (states.index(k[0]), modify_triggers.index(k[1]))):
        lines.append(f"| {state.name} | {mt.value} | {MODIFY_TRANSITIONS[state, mt].name} |")
    return "\n".join(lines)

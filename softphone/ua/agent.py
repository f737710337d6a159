"""The UserAgent facade: accounts, registration and calls over one asyncio loop.

Commands are coroutines (``await ua.call(uri)``); what happens is reported
as typed events (:mod:`softphone.ua.events`) on :attr:`UserAgent.events`
and to the callbacks given to :meth:`UserAgent.subscribe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import random
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from softphone.media.conference import ConferenceMixer
from softphone.media.engine import (
    DtmfReceived,
    MediaEvent,
    MediaFailure,
    MediaSession,
    NullSink,
    OneWayAudio,
    RemoteBye,
    SilenceSource,
)
from softphone.media.errors import MediaError
from softphone.media.quality import QualitySnapshot
from softphone.media.recorder import CallRecorder
from softphone.sip.addr import NameAddr, parse_name_addr
from softphone.sip.auth import DigestClient, choose_challenge
from softphone.sip.dialog import (
    Dialog,
    DialogSet,
    DialogTable,
    ForkedAnswer,
    dialog_id_for_request,
    error_response,
    needs_481,
    new_tag,
    via_placeholder,
)
from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.offer_answer import (
    AudioConfig,
    create_answer,
    create_offer,
    hold_offer,
    negotiate_answer,
    next_offer,
    resume_offer,
)
from softphone.sip.sdp import SessionDescription, parse_sdp
from softphone.sip.transaction import (
    ClientTransaction,
    ServerInviteTransaction,
    ServerTransaction,
    TimerSettings,
    make_cancel,
    make_response,
    new_branch,
)
from softphone.sip.transaction import (
    State as TransactionState,
)
from softphone.sip.uri import AbsoluteUri, SipUri, Uri, parse_uri
from softphone.store import CallOutcome, CallRecord, Store, StoreError
from softphone.store.messages import Direction
from softphone.transport import ResolveError, SipResolver, Source, Target, TlsSettings, TransportError
from softphone.ua.account import Account
from softphone.ua.call import Call
from softphone.ua.dialog_state import DialogStateService
from softphone.ua.events import (
    CallEvent,
    CallState,
    ConferenceEvent,
    DtmfEvent,
    ErrorEvent,
    Event,
    IncomingCallEvent,
    MediaWarningEvent,
    MediaWarningKind,
    QualityEvent,
    RecordingEvent,
    RegistrationEvent,
    TransferEvent,
)
from softphone.ua.media import CallAudio, MediaFactory, MediaPort
from softphone.ua.messaging import MessagingService
from softphone.ua.mwi import MwiService
from softphone.ua.presence import PresenceService
from softphone.ua.registration import ALLOW, USER_AGENT, Registration, RetryPolicy
from softphone.ua.session_timer import (
    DEFAULT_MIN_SE,
    DEFAULT_SESSION_EXPIRES,
    SessionTimer,
    min_se,
    uac_headers,
    uac_result,
    uas_decide,
)
from softphone.ua.stack import LocalResponse, SipStack, is_failover
from softphone.ua.subscription import Subscriptions
from softphone.ua.trace import SipTrace

log = logging.getLogger("softphone.ua")

SUPPORTED_METHODS = frozenset(m.strip() for m in ALLOW.split(","))
# RFC 3261 8.2.1: methods we know but do not serve get 405; anything else 501.
KNOWN_METHODS = frozenset({"REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE", "PRACK"})
PIDF = "application/pidf+xml"
MESSAGE_SUMMARY = "application/simple-message-summary"
DIALOG_INFO = "application/dialog-info+xml"
TEXT_PLAIN = "text/plain"
IS_COMPOSING = "application/im-iscomposing+xml"
SUPPORTED_OPTIONS = ("replaces", "timer")
SDP = "application/sdp"
DTMF_RELAY = "application/dtmf-relay"
SIPFRAG = "message/sipfrag"
ACCEPTED_TYPES: dict[str, tuple[str, ...]] = {
    "INVITE": (SDP,),
    "UPDATE": (SDP,),
    "ACK": (SDP,),
    "INFO": (DTMF_RELAY, "application/dtmf"),
    "NOTIFY": (SIPFRAG, PIDF, MESSAGE_SUMMARY, DIALOG_INFO),
    "MESSAGE": (TEXT_PLAIN, IS_COMPOSING),
}
# Handles a request outside the calls' dialogs: answers it (True) or leaves it to the UA (False).
RequestHandler = Callable[[Request, ServerTransaction, Source, Account], bool]
DTMF_DIGITS = frozenset("0123456789*#ABCDabcd")
MAX_REDIRECTS = 5
EVENT_QUEUE_SIZE = 1000
# How long a transferor waits for the transferee's BYE after a successful transfer.
TRANSFER_BYE_GRACE = 2.0

Subscriber = Callable[[Event], None]
_AWAITING_FINAL = frozenset({TransactionState.CALLING, TransactionState.TRYING, TransactionState.PROCEEDING})


class UserAgentError(Exception):
    """A command that cannot be carried out (unknown call, bad URI, wrong state)."""


class UserAgent:
    """Accounts, registrations and calls of one user.

    ``listen``: ``(transport, ip, port)`` to listen on (default UDP and TCP
    on every IPv4 address, ephemeral ports). ``retry`` is the registration
    back-off; ``timers`` the RFC 3261 timer values; ``audio`` the codecs
    offered. ``busy`` answers every new call with 486. ``session_expires``
    is the RFC 4028 session interval we ask for (None: no session timer
    unless the peer asks) and ``min_se`` the shortest we accept (422 below).
    ``keepalive`` is the RFC 5626 CRLF keep-alive interval towards each
    registrar (None: off); a TCP/TLS flow that fails makes us register again.
    ``media`` gives each confirmed call its audio (see :mod:`softphone.ua.media`);
    None: no media session at all, only signalling.
    """

    def __init__(
        self,
        accounts: Sequence[Account] = (),
        *,
        listen: Sequence[tuple[str, str, int]] | None = None,
        audio: AudioConfig | None = None,
        timers: TimerSettings | None = None,
        retry: RetryPolicy | None = None,
        tls: TlsSettings | None = None,
        media_host: str | None = None,
        busy: bool = False,
        session_expires: int | None = DEFAULT_SESSION_EXPIRES,
        min_se: int = DEFAULT_MIN_SE,
        keepalive: float | None = 30.0,
        media: MediaFactory | None = None,
        store: Store | None = None,
    ) -> None:
        self.accounts: list[Account] = list(accounts)
        self.store = store
        if listen is None:
            listen = [("UDP", "0.0.0.0", 0), ("TCP", "0.0.0.0", 0)]
        if tls is None:
            cafile = next((a.ca_file for a in self.accounts if a.ca_file), None)
            tls = TlsSettings(cafile=cafile)
        self.audio = audio if audio is not None else AudioConfig()
        self.retry = retry if retry is not None else RetryPolicy()
        self.media_host = media_host
        self.busy = busy
        self.session_expires = session_expires
        self.min_se = min_se
        self.keepalive = keepalive
        self.media = media
        self._media_stops: set[asyncio.Future[None]] = set()
        # The local conference: its mixer, the shared microphone/speaker and its calls (see conference()).
        self._mixer: ConferenceMixer | None = None
        self._conference_audio: CallAudio | None = None
        self._conference_calls: list[Call] = []
        # The newest events for a consumer that reads the queue; the oldest are dropped when nobody does.
        self.events: asyncio.Queue[Event] = asyncio.Queue(maxsize=EVENT_QUEUE_SIZE)
        self.stack = SipStack(
            listen,
            on_request=self._on_request,
            on_stray_response=self._on_stray_response,
            on_flow_failed=self._on_flow_failed,
            timers=timers,
            tls=tls,
        )
        self._subscribers: list[Subscriber] = []
        self._registrations: dict[str, Registration] = {}
        self._digests: dict[str, DigestClient] = {}
        self._calls: dict[str, Call] = {}
        self._by_key: dict[tuple[str, str], Call] = {}
        self._dialogs = DialogTable()
        self.subscriptions = Subscriptions(self)
        self.trace = SipTrace(self.stack.transport)
        self._request_handlers: dict[str, list[RequestHandler]] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []
        # -- services: each takes its requests and events through the hooks above --
        self.mwi = MwiService(self)
        self.dialog_state = DialogStateService(self)
        self.messaging = MessagingService(self)
        self.presence = PresenceService(self)
        self._ids = itertools.count(1)
        self._resolver: SipResolver | None = None
        self._started = False

    # --- life cycle -------------------------------------------------------------

    async def start(self) -> None:
        """Open the sockets; then :meth:`register` the accounts."""
        if self._started:
            return
        await self.stack.start()
        self._started = True

    async def stop(self) -> None:
        """Hang up every call, unregister every account and close the sockets."""
        if not self._started:
            return
        for call in list(self._calls.values()):
            try:
                await self.hangup(call.id)
            except UserAgentError:
                pass
        for closer in reversed(self._closers):
            try:
                await closer()
            except Exception:
                log.exception("closing a service failed")
        await self.subscriptions.close()
        await asyncio.gather(*(r.stop() for r in self._registrations.values()), return_exceptions=True)
        # Give BYEs a moment to be answered.
        deadline = self.stack.now() + 2.0
        while self.stack.now() < deadline:
            if not any(
                tx.method in ("BYE", "CANCEL", "REGISTER", "NOTIFY", "SUBSCRIBE", "PUBLISH")
                and tx.state in _AWAITING_FINAL
                for tx in self.stack.transactions
                if isinstance(tx, ClientTransaction)
            ):
                break
            await asyncio.sleep(0.05)
        for call in list(self._calls.values()):
            self._end(call, None, "stopped", notify=False)
        if self._media_stops:
            await asyncio.gather(*self._media_stops, return_exceptions=True)
        self._started = False
        await self.stack.close()

    async def __aenter__(self) -> UserAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- events -----------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` on the loop for every event; returns the function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def emit(self, event: Event) -> None:
        """Hand ``event`` to every subscriber (for the UA's services; on the loop thread)."""
        self._emit(event)

    def account(self, aor: str | None = None) -> Account:
        """The account with address of record ``aor`` (any spelling of it), or the first one."""
        return self._account(aor)

    def _emit(self, event: Event) -> None:
        if self.events.full():
            self.events.get_nowait()
        self.events.put_nowait(event)
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber failed")

    def _error(self, message: str) -> None:
        self._emit(ErrorEvent(message))

    # --- accounts and registration -------------------------------------------------

    def add_account(self, account: Account) -> None:
        self.accounts.append(account)

    def _account(self, aor: str | None) -> Account:
        if not self.accounts:
            raise UserAgentError("no account configured")
        if aor is None:
            return self.accounts[0]
        for account in self.accounts:
            if account.aor == aor or str(account.uri) == aor:
                return account
        raise UserAgentError(f"no account {aor}")

    def registration(self, aor: str | None = None) -> Registration:
        account = self._account(aor)
        registration = self._registrations.get(account.aor)
        if registration is None:
            registration = Registration(
                self.stack,
                account,
                resolve=lambda uri: self._resolve(uri, account),
                contact_for=lambda target: self._contact(account, target),
                emit=self._emit,
                retry=self.retry,
                keepalive=self.keepalive,
            )
            self._registrations[account.aor] = registration
        return registration

    async def register(self, aor: str | None = None) -> None:
        """Start registering (all accounts that register when ``aor`` is None); refreshes run by themselves."""
        accounts = [self._account(aor)] if aor is not None else [a for a in self.accounts if a.register]
        for account in accounts:
            self.registration(account.aor).start()

    async def unregister(self, aor: str | None = None) -> None:
        accounts = [self._account(aor)] if aor is not None else list(self.accounts)
        for account in accounts:
            registration = self._registrations.get(account.aor)
            if registration is not None:
                await registration.stop()

    def _on_flow_failed(self, error: TransportError) -> None:
        for registration in self._registrations.values():
            if registration.target is not None and registration.target == error.target:
                registration.kick()

    def _digest(self, account: Account) -> DigestClient:
        client = self._digests.get(account.aor)
        if client is None:
            client = self._digests[account.aor] = DigestClient(account.username, account.password)
        return client

    # --- addresses ----------------------------------------------------------------

    async def _resolve(self, uri: SipUri, account: Account | None = None) -> list[Target]:
        if self._resolver is None:
            try:
                self._resolver = SipResolver(transports=_preference(account))
            except ResolveError:
                self._resolver = SipResolver(nameservers=["127.0.0.1"], transports=_preference(account))
        return await self._resolver.resolve(uri)

    def _contact(self, account: Account, target: Target) -> NameAddr:
        transport = target.transport
        try:
            host, port = self.stack.transport.local_address_for(target)
        except TransportError:
            if transport != "TLS":
                raise
            # No TLS listener: the server reaches us over the connection we opened (it aliases the Contact).
            host, port = self.stack.transport.local_address_for(Target("TCP", target.host, target.port))
        params: dict[str, str | None] = {}
        if transport != "UDP":
            params["transport"] = transport.lower()
        scheme = "sips" if account.uri.scheme == "sips" else "sip"
        return NameAddr(uri=SipUri(scheme=scheme, user=account.user, host=host, port=port, params=params))

    def _media_host(self, target: Target) -> str:
        if self.media_host is not None:
            return self.media_host
        return self.stack.transport.local_address_for(
            target if target.transport != "TLS" else Target("TCP", target.host, target.port)
        )[0]

    # --- calls: commands -------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """The calls that have not ended, oldest first."""
        return [c for c in self._calls.values() if not c.ended]

    def find_call(self, call_id: str | None = None) -> Call:
        """A call by short id or SIP Call-ID; without one, the only or most recent call."""
        calls = self.calls
        if call_id is None:
            if not calls:
                raise UserAgentError("no call")
            return calls[-1]
        call = self._calls.get(call_id)
        if call is None:
            call = next((c for c in calls if c.sip_call_id == call_id), None)
        if call is None or call.ended:
            raise UserAgentError(f"no call {call_id}")
        return call

    def target_uri(self, text: str, account: Account, purpose: str = "call") -> Uri:
        """What the user typed as the address to ``purpose``: a SIP or tel URI, ``<…>``, ``user@host`` or ``user``
        (at the account's domain). Raises :class:`UserAgentError` saying what is wrong with it."""
        text = text.strip()
        if text.startswith("<") and text.endswith(">"):
            text = text[1:-1].strip()
        if not text:
            raise UserAgentError(f"no address to {purpose}")
        if not text.lower().startswith(("sip:", "sips:", "tel:")) and ":" not in text.split("@")[0]:
            text = f"sip:{text}" if "@" in text else f"sip:{text}@{account.domain}"
        try:
            uri = parse_uri(text)
        except SipParseError as exc:
            raise UserAgentError(f"bad address {text!r}: {exc}") from exc
        if isinstance(uri, AbsoluteUri):
            raise UserAgentError(f"cannot {purpose} a {uri.scheme}: URI")
        return uri

    async def call(self, uri: str, account: str | None = None, *, headers: Sequence[tuple[str, str]] = ()) -> Call:
        """Call ``uri`` (``sip:bob@example.com``, ``bob@example.com`` or ``bob`` at the account's domain)."""
        acc = self._account(account)
        target_uri = self.target_uri(uri, acc)
        hop = self._first_hop(acc, target_uri)
        try:
            targets = await self._resolve(hop, acc)
        except TransportError as exc:
            raise UserAgentError(f"cannot reach {hop}: {exc}") from exc
        try:
            media_port = MediaPort(self._media_host(targets[0]))
        except TransportError as exc:
            raise UserAgentError(f"no local media port: {exc}") from exc
        call = Call(
            id=f"c{next(self._ids)}",
            sip_call_id=f"{secrets.token_hex(12)}@softphone",
            account=acc,
            direction="outgoing",
            remote=NameAddr(uri=target_uri),
            local_tag=new_tag(),
            media_port=media_port,
            targets=targets,
            requested_se=self.session_expires,
        )
        call.extra_headers = list(headers)
        self._calls[call.id] = call
        self._by_key[(call.sip_call_id, call.local_tag)] = call
        call.local_sdp = create_offer(
            self.audio,
            address=self._media_host(targets[0]),
            port=media_port.port,
            session_id=random.randrange(1, 2**31),
            session_version=1,
        )
        self._emit(call.event())
        try:
            self._send_invite(call, targets[0])
        except TransportError as exc:
            self._end(call, None, str(exc))
            raise UserAgentError(f"cannot call {target_uri}: {exc}") from exc
        return call

    def _send_invite(self, call: Call, target: Target, authorization: tuple[str, str] | None = None) -> None:
        acc = call.account
        call.target = target
        call.cseq += 1
        local = NameAddr(uri=acc.uri.replace(params={}, headers=[]), display_name=acc.display_name)
        local.params["tag"] = call.local_tag
        fields = [("Via", via_placeholder(new_branch()))]
        proxy = acc.outbound_proxy_uri
        if proxy is not None:
            fields.append(("Route", f"<{proxy.replace(params={**proxy.params, 'lr': None})}>"))
        fields += [
            ("Max-Forwards", "70"),
            ("From", str(local)),
            ("To", str(NameAddr(uri=call.remote.uri, display_name=call.remote.display_name))),
            ("Call-ID", call.sip_call_id),
            ("CSeq", f"{call.cseq} INVITE"),
            ("Contact", str(self._contact(acc, target))),
            ("Allow", ALLOW),
            ("Supported", ", ".join(SUPPORTED_OPTIONS)),
            ("User-Agent", USER_AGENT),
        ]
        if acc.photo_url:
            fields.append(("Call-Info", f"<{acc.photo_url}>;purpose=icon"))
        fields += call.extra_headers
        fields += uac_headers(call.requested_se, self.min_se)
        if authorization is not None:
            fields.append(authorization)
        fields.append(("Content-Type", SDP))
        assert call.local_sdp is not None
        request = Request("INVITE", call.remote.uri, fields, call.local_sdp.to_bytes())
        if call.dialog_set is not None:
            self._dialogs.discard_set(call.dialog_set)
        call.invite = request
        call.dialog_set = DialogSet(request)
        call.provisional = False
        self._dialogs.add_set(call.dialog_set)
        call.invite_tx = self.stack.send_request(request, target, lambda r: self._on_invite_response(call, request, r))

    async def answer(self, call_id: str | None = None) -> None:
        """Answer a ringing incoming call (200 with our SDP answer)."""
        call = self._ringing(call_id)
        self._answer(call)

    def _ringing(self, call_id: str | None) -> Call:
        if call_id is None:
            ringing = [c for c in self.calls if c.direction == "incoming" and not c.final_sent]
            if not ringing:
                raise UserAgentError("no ringing call")
            return ringing[-1]
        call = self.find_call(call_id)
        if call.direction != "incoming" or call.final_sent:
            raise UserAgentError(f"call {call.id} is not ringing")
        return call

    async def decline(self, call_id: str | None = None, code: int = 603) -> None:
        """Turn down a ringing incoming call (603 Decline, or ``code``)."""
        call = self._ringing(call_id)
        self._reject(call, code)

    async def hangup(self, call_id: str | None = None) -> None:
        """End a call whatever its state: CANCEL, decline or BYE."""
        call = self.find_call(call_id)
        if call.direction == "incoming" and not call.final_sent:
            self._reject(call, 603)
            return
        if call.direction == "outgoing" and not call.confirmed:
            call.cancel_requested = True
            if call.provisional and call.dialog is None:
                self._send_cancel(call)
            return
        await self._bye(call)
        self._end(call, None, "hangup")

    async def hold(self, call_id: str | None = None) -> None:
        call = self.find_call(call_id)
        if not call.confirmed or call.local_sdp is None:
            raise UserAgentError(f"call {call.id} is not established")
        if call.local_hold:
            return
        await self._reinvite(call, hold_offer(call.local_sdp), hold=True)

    async def resume(self, call_id: str | None = None) -> None:
        call = self.find_call(call_id)
        if not call.confirmed or call.local_sdp is None:
            raise UserAgentError(f"call {call.id} is not established")
        if not call.local_hold:
            return
        await self._reinvite(call, resume_offer(call.local_sdp), hold=False)

    def set_mute(self, call_id: str | None, muted: bool) -> None:
        """Mute or unmute our microphone in a call (RTP keeps flowing with silence)."""
        call = self.find_call(call_id)
        call.muted = muted
        if call.media_session is not None:
            call.media_session.set_muted(muted)

    def audio_levels(self, call_id: str | None = None) -> tuple[float, float] | None:
        """The call's microphone and speaker levels (RMS, 0..1) for meters; None without sound devices."""
        call = self.find_call(call_id)
        if call in self._conference_calls and self._conference_audio is not None:
            return self._conference_audio.levels()
        return call.audio.levels() if call.audio is not None else None

    @property
    def conference_calls(self) -> list[str]:
        """The ids of the calls in the local conference (empty without one)."""
        return [c.id for c in self._conference_calls]

    async def conference(self, call_ids: Sequence[str]) -> None:
        """Merge established calls into one conference mixed here (or add them to the one running).

        Held calls are resumed. Each member sends our microphone plus the other members, and
        what all members send is played once on our speaker. The microphone and speaker are
        the first call's audio (the existing conference's, when adding); the other calls' own
        audio is closed, so a sound device is never opened twice. A ``ConferenceEvent`` follows.
        """
        calls: list[Call] = []
        for call_id in call_ids:
            call = self.find_call(call_id)
            if call not in calls:
                calls.append(call)
        if len(calls) + len([c for c in self._conference_calls if c not in calls]) < 2:
            raise UserAgentError("a conference needs two calls or more")
        if self.media is None:
            raise UserAgentError("no media: calls cannot be mixed")
        for call in calls:
            if not call.confirmed or call.ended:
                raise UserAgentError(f"call {call.id} is not established")
        for call in calls:
            if call.local_hold:
                await self.resume(call.id)
        for _ in range(100):  # a call confirmed a moment ago is still opening its audio (bounded: 2 s)
            if all(c.media_session is not None or c.ended for c in calls):
                break
            await asyncio.sleep(0.02)
        for call in calls:
            if call.ended or call.media_session is None:
                raise UserAgentError(f"call {call.id} has no media to mix")
        if self._mixer is None:
            shared = calls[0].audio or CallAudio(SilenceSource(), NullSink())
            calls[0].audio = None
            self._conference_audio = shared
            self._mixer = ConferenceMixer(shared.source, shared.sink)
        closing: list[tuple[threading.Event, CallAudio]] = []
        for call in calls:
            if call in self._conference_calls or call.media_session is None:
                continue
            member = self._mixer.add(call.id)
            applied = call.media_session.set_audio(member, member)
            if call.audio is not None:
                closing.append((applied, call.audio))
                call.audio = None
            self._conference_calls.append(call)
        if closing:
            await self.stack.loop.run_in_executor(None, self._close_after_swap, closing)
        self._emit(ConferenceEvent(self.conference_calls, True))

    async def split(self, call_id: str | None = None) -> None:
        """Take a call out of the local conference.

        The call goes on with silence both ways (hold, resume or hang up as you like): the
        conference keeps the microphone and speaker. When one call is left, the conference
        ends and that call gets the microphone and speaker back.
        """
        call = self.find_call(call_id)
        if call not in self._conference_calls:
            raise UserAgentError(f"call {call.id} is not in a conference")
        self._leave_conference(call, ended=False)

    @staticmethod
    def _close_after_swap(closing: list[tuple[threading.Event, CallAudio]]) -> None:
        for applied, audio in closing:
            applied.wait(1.0)
            UserAgent._close_audio(audio)

    def _leave_conference(self, call: Call, *, ended: bool) -> None:
        mixer, shared = self._mixer, self._conference_audio
        if mixer is None or shared is None:
            return
        self._conference_calls.remove(call)
        mixer.remove(call.id)
        if not ended and call.media_session is not None:
            call.media_session.set_audio(SilenceSource(), NullSink())
        if len(self._conference_calls) > 1:
            self._emit(ConferenceEvent(self.conference_calls, True))
            return
        # One call left (or none): it takes the microphone and speaker back.
        left = self._conference_calls
        self._mixer = None
        self._conference_audio = None
        self._conference_calls = []
        last = left[0] if left else None
        if last is not None and last.media_session is not None and not last.ended:
            last.media_session.set_audio(shared.source, shared.sink)
            last.audio = shared
        else:
            self.stack.loop.run_in_executor(None, self._close_audio, shared)
        self._emit(ConferenceEvent([c.id for c in left], False))

    async def send_dtmf(self, call_id: str | None, digits: str) -> None:
        """Send DTMF digits: RFC 4733 telephone-events when the call streams media with them, else SIP INFO."""
        call = self.find_call(call_id)
        if not call.confirmed or call.dialog is None:
            raise UserAgentError(f"call {call.id} is not established")
        bad = [d for d in digits if d not in DTMF_DIGITS]
        if bad or not digits:
            raise UserAgentError(f"not DTMF digits: {digits!r}")
        session = call.media_session
        if session is not None and call.media is not None and call.media.telephone_event is not None:
            try:
                session.send_dtmf(digits)
            except MediaError as exc:
                raise UserAgentError(f"cannot send DTMF {digits!r}: {exc}") from exc
            return
        for digit in digits:
            body = f"Signal={digit.upper()}\r\nDuration=160\r\n".encode()
            response = await self._in_dialog(call, "INFO", body=body, content_type=DTMF_RELAY)
            if response is None or response.status_code >= 300:
                code = None if response is None else response.status_code
                raise UserAgentError(f"DTMF {digit} was refused ({code})")

    async def record(self, call_id: str | None, path: str | Path) -> Path:
        """Record both directions of a call, mixed, to the WAV file ``path`` (replacing a recording running)."""
        call = self.find_call(call_id)
        if self.media is None or call.media is None or not call.confirmed or call.ended:
            raise UserAgentError(f"call {call.id} has no audio to record")
        loop = self.stack.loop
        try:
            recorder = await loop.run_in_executor(None, CallRecorder, Path(path))
        except MediaError as exc:
            raise UserAgentError(f"cannot record call {call.id}: {exc}") from exc
        if call.ended:
            await loop.run_in_executor(None, recorder.close)
            raise UserAgentError(f"call {call.id} ended before the recording started")
        previous = self._take_recorder(call)
        if call.media_session is not None:
            call.media_session.start_recording(recorder)
        else:
            call.pending_recorder = recorder  # the media session is starting: it takes it over
        if previous is not None:
            await self._finish_recording(call, previous)
        self._emit(RecordingEvent(call.id, str(recorder.path), True))
        return recorder.path

    async def stop_recording(self, call_id: str | None = None) -> None:
        call = self.find_call(call_id)
        recorder = self._take_recorder(call)
        if recorder is None:
            raise UserAgentError(f"call {call.id} is not being recorded")
        await self._finish_recording(call, recorder)

    @staticmethod
    def _take_recorder(call: Call) -> CallRecorder | None:
        recorder, call.pending_recorder = call.pending_recorder, None
        if call.media_session is not None:
            recorder = call.media_session.stop_recording() or recorder
        return recorder

    async def _finish_recording(self, call: Call, recorder: CallRecorder) -> None:
        await self.stack.loop.run_in_executor(None, recorder.close)
        self._emit(RecordingEvent(call.id, str(recorder.path), False, recorder.seconds, recorder.error))

    # --- outgoing INVITE responses -----------------------------------------------------

    def _on_invite_response(self, call: Call, request: Request, response: Response) -> None:
        if request is not call.invite:
            return self._late_response(call, request, response)
        code = response.status_code
        dialog_set = call.dialog_set
        assert dialog_set is not None
        try:
            result = dialog_set.receive_response(response) if not isinstance(response, LocalResponse) else None
        except (ValueError, SipParseError) as exc:
            log.info("ignored a %d response to INVITE: %s", code, exc)
            return
        if code < 200:
            call.provisional = True
            if call.cancel_requested:
                # RFC 3261 9.1: the CANCEL the user asked for waited for this provisional response.
                self._send_cancel(call)
                return
            if code == 100:
                return
            if response.body and self._early_media(call, response):
                if call.state != "early":
                    self._set_state(call, "early")
            elif code in (180, 181, 182) and call.state == "calling":
                self._set_state(call, "ringing")
            elif code == 183 and call.state == "calling":
                self._set_state(call, "early")
            return
        if code < 300:
            if isinstance(result, ForkedAnswer):
                self.stack.spawn(self._end_fork(result))
                return
            if not isinstance(result, Dialog):
                return
            if call.dialog is result:
                if call.ack is not None:
                    self.stack.spawn(self._send_ack(call, call.ack))
                return
            call.dialog = result
            self._by_key[(result.call_id, result.local_tag)] = call
            self.stack.spawn(self._confirm_outgoing(call, result, response))
            return
        self._invite_failed(call, response)

    async def _confirm_outgoing(self, call: Call, dialog: Dialog, response: Response) -> None:
        assert call.invite is not None
        call.ack = dialog.create_ack(call.invite.cseq.seq)
        await self._send_ack(call, call.ack)
        problem = None
        if response.body:
            try:
                self._take_answer(call, parse_sdp(response.body))
            except SipParseError as exc:
                problem = str(exc)
        elif call.media is None:
            problem = "the 2xx has no SDP answer"
        if call.cancel_requested or problem is not None:
            # RFC 3261 15: a call we no longer want (or cannot use) is ended with BYE after the ACK.
            await self._bye(call)
            self._end(call, 488 if problem else 487, problem or "cancelled")
            return
        self._set_state(call, "held" if call.remote_hold else "confirmed")
        self._start_session_timer(call, uac_result(response))

    def _early_media(self, call: Call, response: Response) -> bool:
        try:
            self._take_answer(call, parse_sdp(response.body))
        except SipParseError as exc:
            log.info("ignored the early SDP of %s: %s", call.id, exc)
            return False
        return True

    def _take_answer(self, call: Call, answer: SessionDescription) -> None:
        assert call.local_sdp is not None
        media = negotiate_answer(call.local_sdp, answer, self.audio)
        call.remote_sdp = answer
        call.media = media
        call.remote_hold = bool(media is not None and media.on_hold and not call.local_hold)

    def _invite_failed(self, call: Call, response: Response) -> None:
        code = response.status_code
        if call.ended:
            return
        if code in (401, 407) and not call.cancel_requested and call.auth_rounds < 2:
            authorization = self._authorize(call.account, call.invite, response, call.auth_rounds > 0)
            if authorization is not None and call.target is not None:
                call.auth_rounds += 1
                self._resend_invite(call, call.target, authorization)
                return
        if 300 <= code < 400 and not call.cancel_requested and self._redirect(call, response):
            return
        if code == 422 and not call.cancel_requested and call.target is not None:
            # RFC 4028 7.4: the interval was too small; ask again with the peer's Min-SE.
            try:
                minimum = min_se(response)
            except SipParseError:
                minimum = None
            if minimum is not None and (call.requested_se is None or minimum > call.requested_se):
                call.requested_se = minimum
                call.auth_rounds = 0
                self._resend_invite(call, call.target)
                return
        if is_failover(response) and not call.provisional and not call.cancel_requested:
            remaining = call.targets[call.targets.index(call.target) + 1 :] if call.target in call.targets else []
            if remaining:
                call.auth_rounds = 0
                self._resend_invite(call, remaining[0])
                return
        self._end(call, code, response.reason)

    def _resend_invite(self, call: Call, target: Target, authorization: tuple[str, str] | None = None) -> None:
        try:
            self._send_invite(call, target, authorization)
        except TransportError as exc:
            self._end(call, None, str(exc))

    def _authorize(
        self, account: Account, request: Request | None, response: Response, retried: bool
    ) -> tuple[str, str] | None:
        if request is None:
            return None
        try:
            challenges = response.www_authenticate if response.status_code == 401 else response.proxy_authenticate
            challenge = choose_challenge(challenges)
        except SipParseError:
            return None
        if challenge is None or (retried and not challenge.stale):
            return None
        name = "Authorization" if response.status_code == 401 else "Proxy-Authorization"
        try:
            return name, self._digest(account).authorization(challenge, request.method, str(request.uri), request.body)
        except SipParseError:
            return None

    def _redirect(self, call: Call, response: Response) -> bool:
        """RFC 3261 8.1.3.4: try the Contacts of a 3xx, at most MAX_REDIRECTS times, never the same URI twice."""
        if call.redirects >= MAX_REDIRECTS or call.target is None:
            return False
        try:
            contacts = sorted(response.contacts, key=lambda c: -(c.q if c.q is not None else 1.0))
        except SipParseError:
            return False
        call.visited.add(str(call.remote.uri))
        for contact in contacts:
            if isinstance(contact.uri, AbsoluteUri) or str(contact.uri) in call.visited:
                continue
            call.redirects += 1
            call.visited.add(str(contact.uri))
            call.remote = NameAddr(uri=contact.uri, display_name=call.remote.display_name)
            call.auth_rounds = 0
            self._resend_invite(call, call.target)
            return True
        return False

    def _late_response(self, call: Call, request: Request, response: Response) -> None:
        """A response to an INVITE we replaced (auth retry, failover): a 2xx to it is ACKed and ended."""
        if 200 <= response.status_code < 300 and response.to.tag:
            dialog = Dialog.from_uac(request, response)
            ack = dialog.create_ack(request.cseq.seq)
            bye = dialog.create_request("BYE")
            self.stack.spawn(self._end_fork(ForkedAnswer(dialog, ack, bye)))

    async def _end_fork(self, answer: ForkedAnswer) -> None:
        target = await self._dialog_target(answer.dialog)
        if target is None:
            return
        self.stack.send_stateless(answer.ack, target)
        if answer.bye is not None:
            await self.stack.request(answer.bye, target)

    def _send_cancel(self, call: Call) -> None:
        if call.cancel_sent or call.invite is None or call.target is None:
            return
        call.cancel_sent = True
        cancel = make_cancel(call.invite)
        self.stack.request(cancel, call.target)

    async def _send_ack(self, call: Call, ack: Request) -> None:
        assert call.dialog is not None
        target = await self._dialog_target(call.dialog)
        if target is not None:
            self.stack.send_stateless(ack, target)

    def _on_stray_response(self, response: Response, source: Source) -> None:
        # A 2xx to an INVITE retransmitted after its transaction ended: ACK it again.
        if not (200 <= response.status_code < 300) or response.cseq.method != "INVITE":
            return
        call = self._by_key.get((response.call_id, response.from_.tag or ""))
        if call is not None and call.ack is not None and call.dialog is not None:
            if response.to.tag == call.dialog.remote_tag and response.cseq.seq == call.ack.cseq.seq:
                self.stack.spawn(self._send_ack(call, call.ack))

    # --- in-dialog requests of ours ---------------------------------------------------------

    async def _dialog_target(self, dialog: Dialog) -> Target | None:
        account = self._by_key.get((dialog.call_id, dialog.local_tag))
        proxy = account.account.outbound_proxy_uri if account is not None else None
        uri, routes = dialog.request_target()
        hop: Uri = proxy if proxy is not None else (routes[0].uri if routes else uri)
        if not isinstance(hop, SipUri):
            log.info("cannot send in dialog %s: next hop %s is not a SIP URI", dialog.id, hop)
            return None
        try:
            targets = await self._resolve(hop, account.account if account is not None else None)
        except TransportError as exc:
            log.info("cannot resolve %s: %s", hop, exc)
            return None
        return targets[0]

    async def _in_dialog(
        self,
        call: Call,
        method: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Response | None:
        """Send a request in the call's dialog and wait for its final response (None if it can't be sent)."""
        dialog = call.dialog
        if dialog is None or dialog.terminated:
            return None
        if method != "INVITE":
            try:
                return await self.request_in_dialog(
                    call.account, dialog, method, headers=headers, body=body, content_type=content_type
                )
            except UserAgentError:
                return None
        request = dialog.create_request(method, body=body, content_type=content_type, extra_headers=headers)
        target = await self._dialog_target(dialog)
        if target is None:
            return None
        future: asyncio.Future[Response] = self.stack.loop.create_future()
        ack_holder: list[Request] = []

        def handler(response: Response) -> None:
            if response.status_code < 200:
                return
            if not future.done():
                future.set_result(response)
            elif 200 <= response.status_code < 300 and ack_holder:
                self.stack.send_stateless(ack_holder[0], target)

        self.stack.send_request(request, target, handler)
        response = await future
        if 200 <= response.status_code < 300:
            ack = dialog.create_ack(request.cseq.seq)
            ack_holder.append(ack)
            call.ack = ack
            self.stack.send_stateless(ack, target)
        self._dialog_response(dialog, response)
        return response

    def _dialog_response(self, dialog: Dialog, response: Response) -> None:
        try:
            dialog.receive_response(response)
        except ValueError:
            if response.status_code in (408, 481):
                dialog.terminate()

    async def _bye(self, call: Call) -> None:
        dialog = call.dialog
        if dialog is None or dialog.terminated:
            return
        request = dialog.create_request("BYE")
        dialog.terminate()
        target = await self._dialog_target(dialog)
        if target is not None:
            self.stack.request(request, target)

    async def _reinvite(self, call: Call, offer: SessionDescription, *, hold: bool) -> None:
        if call.reinvite_pending:
            raise UserAgentError(f"call {call.id} has a re-INVITE in progress")
        call.reinvite_pending = True
        try:
            for attempt in range(2):
                interval = call.session_timer.interval if call.session_timer is not None else None
                headers = [("Supported", ", ".join(SUPPORTED_OPTIONS)), *uac_headers(interval, self.min_se)]
                response = await self._in_dialog(
                    call, "INVITE", body=offer.to_bytes(), content_type=SDP, headers=headers
                )
                if response is None or response.status_code != 491 or attempt or call.ended:
                    break
                # RFC 3261 14.1: after a glare, the owner of the Call-ID waits 2.1-4 s, the other side 0-2 s.
                owner = call.direction == "outgoing"
                await asyncio.sleep(random.uniform(2.1, 4.0) if owner else random.uniform(0.0, 2.0))
        finally:
            call.reinvite_pending = False
        if response is None:
            raise UserAgentError(f"cannot reach the peer of call {call.id}")
        code = response.status_code
        if 200 <= code < 300:
            previous = call.local_sdp
            call.local_sdp = offer
            call.local_hold = hold
            try:
                self._take_answer(call, parse_sdp(response.body))
            except SipParseError as exc:
                call.local_sdp = previous
                raise UserAgentError(f"bad SDP answer to the re-INVITE: {exc}") from exc
            self._update_hold_state(call)
            self._sync_media(call)
            self._start_session_timer(call, uac_result(response))
        elif code in (408, 481):
            await self._bye(call)
            self._end(call, code, response.reason)
        else:
            raise UserAgentError(f"re-INVITE of call {call.id} failed: {code} {response.reason}")

    # --- incoming requests ------------------------------------------------------------

    def _on_request(self, request: Request, tx: ServerTransaction | None, source: Source) -> None:
        method = request.method
        if tx is None:
            self._on_ack(request)
            return
        problem = self._check_request(request, tx)
        if problem is not None:
            self.stack.respond(tx, problem)
            return
        if method == "CANCEL":
            self._on_cancel(request, tx)
            return
        if method == "NOTIFY" and self.subscriptions.handle_notify(request, tx):
            return
        if method not in ("INVITE", "BYE", "ACK") and self._dispatch(request, tx, source):
            return
        if request.to.tag is not None or method == "BYE":
            if needs_481(request, self._dialogs) or request.to.tag is None:
                self.stack.reply(tx, 481)
                return
            self._on_in_dialog(request, tx, source)
            return
        if method == "INVITE":
            assert isinstance(tx, ServerInviteTransaction)
            self._on_invite(request, tx, source)
        elif method == "OPTIONS":
            self._reply_options(tx)
        elif method == "REFER":
            # RFC 3515 allows a REFER outside a dialog; this UA only follows those of its calls.
            self.stack.reply(tx, 403, "Out-of-dialog REFER not accepted")
        else:
            self.stack.reply(tx, 481 if method in ("INFO", "UPDATE", "NOTIFY") else 405, headers=[("Allow", ALLOW)])

    def add_closer(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run ``closer`` at :meth:`stop`, before subscriptions end and accounts unregister (last added first)."""
        self._closers.append(closer)

    def add_request_handler(self, method: str, handler: RequestHandler) -> None:
        """Let ``handler`` take ``method`` requests before the UA's own handling (see :data:`RequestHandler`)."""
        self._request_handlers.setdefault(method, []).append(handler)

    def _dispatch(self, request: Request, tx: ServerTransaction, source: Source) -> bool:
        method = request.method
        account = self._account_for(request)
        if method == "SUBSCRIBE":
            if account is None:
                self.stack.reply(tx, 404)
            else:
                self.subscriptions.handle_subscribe(request, tx, source, account)
            return True
        handlers = self._request_handlers.get(method, ())
        if account is not None:
            for handler in handlers:
                try:
                    if handler(request, tx, source, account):
                        return True
                except Exception:
                    log.exception("%s handler failed", method)
                    self.stack.reply(tx, 500)
                    return True
        if method == "MESSAGE" or (method == "NOTIFY" and request.to.tag is None):
            self.stack.reply(tx, 404 if account is None else 489 if method == "NOTIFY" else 405)
            return True
        return False

    # --- requests of other modules (subscriptions, presence, messaging) ---------------------------

    @staticmethod
    def _first_hop(account: Account, uri: Uri) -> SipUri:
        """The outbound proxy; else the registrar of a registering account; else (no server) the URI itself."""
        if account.outbound_proxy is not None or account.register or not isinstance(uri, SipUri):
            return account.next_hop
        return uri.replace(headers=[])

    def contact_for(self, account: Account, target: Target) -> NameAddr:
        return self._contact(account, target)

    def keep_dialog(self, dialog: Dialog) -> None:
        if self._dialogs.get(dialog.id) is None:
            self._dialogs.add(dialog)

    def forget_dialog(self, dialog: Dialog) -> None:
        self._dialogs.discard(dialog.id)

    async def request_out_of_dialog(
        self,
        account: Account,
        method: str,
        uri: Uri,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        call_id: str | None = None,
        from_tag: str | None = None,
        contact: bool = False,
        sent: Callable[[Request], None] | None = None,
    ) -> tuple[Request, Response]:
        """Send a non-INVITE request outside any dialog by the account's next hop, answering one digest challenge.

        ``sent`` sees each request as it goes out (the retry after a challenge is a new one).
        Raises :class:`UserAgentError` when it cannot be sent at all.
        """
        hop = self._first_hop(account, uri)
        try:
            targets = await self._resolve(hop, account)
        except TransportError as exc:
            raise UserAgentError(f"cannot reach {hop}: {exc}") from exc
        target = targets[0]
        call_id = call_id or f"{secrets.token_hex(12)}@softphone"
        local = NameAddr(uri=account.uri.replace(params={}, headers=[]), display_name=account.display_name)
        local.params["tag"] = from_tag or new_tag()
        authorization: tuple[str, str] | None = None
        cseq = 0
        for attempt in range(2):
            cseq += 1
            fields = [("Via", via_placeholder(new_branch()))]
            proxy = account.outbound_proxy_uri
            if proxy is not None:
                fields.append(("Route", f"<{proxy.replace(params={**proxy.params, 'lr': None})}>"))
            fields += [
                ("Max-Forwards", "70"),
                ("From", str(local)),
                ("To", str(NameAddr(uri=uri))),
                ("Call-ID", call_id),
                ("CSeq", f"{cseq} {method}"),
            ]
            if contact:
                fields.append(("Contact", str(self._contact(account, target))))
            fields += [("User-Agent", USER_AGENT), *headers]
            if authorization is not None:
                fields.append(authorization)
            if body or content_type:
                fields.append(("Content-Type", content_type or TEXT_PLAIN))
            request = Request(method, uri, fields, body)
            if sent is not None:
                sent(request)
            try:
                response = await self.stack.request(request, target)
            except TransportError as exc:
                raise UserAgentError(f"cannot send {method} to {uri}: {exc}") from exc
            if response.status_code in (401, 407) and attempt == 0:
                authorization = self._authorize(account, request, response, False)
                if authorization is not None:
                    continue
            return request, response
        raise AssertionError("unreachable")

    async def request_in_dialog(
        self,
        account: Account,
        dialog: Dialog,
        method: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Response:
        """Send a non-INVITE request in ``dialog`` and return its final response (one digest challenge answered).

        Raises :class:`UserAgentError` when the dialog is over or its target unreachable.
        """
        if dialog.terminated:
            raise UserAgentError(f"the dialog of this {method} has ended")
        target = await self._dialog_target(dialog)
        if target is None:
            raise UserAgentError(f"cannot reach the peer of the dialog for {method}")
        request = dialog.create_request(method, body=body, content_type=content_type, extra_headers=headers)
        try:
            response = await self.stack.request(request, target)
            if response.status_code in (401, 407):
                authorization = self._authorize(account, request, response, False)
                if authorization is not None and not dialog.terminated:
                    request = dialog.create_request(
                        method, body=body, content_type=content_type, extra_headers=[*headers, authorization]
                    )
                    response = await self.stack.request(request, target)
        except TransportError as exc:
            raise UserAgentError(f"cannot send {method}: {exc}") from exc
        self._dialog_response(dialog, response)
        return response

    def _check_request(self, request: Request, tx: ServerTransaction) -> Response | None:
        """RFC 3261 8.2.1-8.2.3: the response to a request we cannot take, or None."""
        method = request.method
        if method not in SUPPORTED_METHODS:
            code = 405 if method in KNOWN_METHODS else 501
            return make_response(request, code, headers=[("Allow", ALLOW)])
        if not isinstance(request.uri, SipUri):
            if isinstance(request.uri, AbsoluteUri) or method != "INVITE":
                return make_response(request, 416)
        if method != "CANCEL":
            unknown = [option for option in request.require if option.lower() not in SUPPORTED_OPTIONS]
            if unknown:
                return make_response(request, 420, headers=[("Unsupported", ", ".join(unknown))])
        if method == "INVITE" and not _accepts_sdp(request):
            # RFC 3261 21.4.7: the caller can't take the SDP our responses would carry.
            return make_response(request, 406, headers=[("Accept", SDP)])
        if request.body and not (method == "NOTIFY" and self.subscriptions.owns(request)):
            content_type = request.content_type
            accepted = ACCEPTED_TYPES.get(method, ())
            encoding = request.headers.get("Content-Encoding")
            if (
                content_type is None
                or content_type.mime.lower() not in accepted
                or (encoding is not None and encoding.strip().lower() != "identity")
            ):
                return make_response(request, 415, headers=[("Accept", ", ".join(accepted or (SDP,)))])
        return None

    def _reply_options(self, tx: ServerTransaction) -> None:
        self.stack.reply(
            tx,
            200,
            headers=[
                ("Allow", ALLOW),
                ("Accept", SDP),
                ("Supported", ", ".join(SUPPORTED_OPTIONS)),
                ("Allow-Events", self.subscriptions.allow_events or "refer"),
                ("User-Agent", USER_AGENT),
            ],
        )

    def _account_for(self, request: Request) -> Account | None:
        uri = request.uri
        user = uri.user if isinstance(uri, SipUri) else None
        for account in self.accounts:
            if account.user == user:
                return account
        to_uri = request.to.uri
        for account in self.accounts:
            if isinstance(to_uri, SipUri) and to_uri.user == account.user:
                return account
        return self.accounts[0] if self.accounts else None

    def _on_invite(self, request: Request, tx: ServerInviteTransaction, source: Source) -> None:
        account = self._account_for(request)
        if account is None:
            self.stack.reply(tx, 480)
            return
        forwarding = account.forwarding
        if forwarding is not None and forwarding.always:
            self._forward(request, tx, forwarding.target, account)
            return
        if self.busy or account.busy:
            if forwarding is not None and forwarding.busy:
                self._forward(request, tx, forwarding.target, account)
            else:
                self.stack.reply(tx, 486)
            return
        if request.replaces is not None:
            self._on_replaces(request, tx, source, account)
            return
        decision = uas_decide(request, preferred=self.session_expires, minimum=self.min_se)
        if decision.too_small is not None:
            self.stack.reply(tx, 422, headers=decision.headers)
            return
        offer: SessionDescription | None = None
        if request.body:
            try:
                offer = parse_sdp(request.body)
            except SipParseError as exc:
                self.stack.reply(tx, 400, f"Bad SDP - {str(exc)[:80]}")
                return
        try:
            contact = self._contact(account, source.target)
            media_port = MediaPort(self._media_host(source.target))
        except TransportError as exc:
            log.info("cannot take a call: %s", exc)
            self.stack.reply(tx, 500)
            return
        remote = request.from_
        call = Call(
            id=f"c{next(self._ids)}",
            sip_call_id=request.call_id,
            account=account,
            direction="incoming",
            remote=NameAddr(uri=remote.uri, display_name=remote.display_name),
            local_tag=new_tag(),
            media_port=media_port,
            state="ringing",
        )
        call.server_tx = tx
        call.invite = request
        call.uas_timer = decision
        call.photo_url, call.asserted_identity = _identity(request)
        if offer is not None:
            call.remote_sdp = offer
            answer, media = self._answer_sdp(call, offer, session_id=random.randrange(1, 2**31), version=1)
            if media is None:
                media_port.close()
                self.stack.reply(tx, 488)
                return
            call.local_sdp, call.media = answer, media
        self.stack.reply(tx, 100)
        if not request.contacts:
            # RFC 2543 let a caller leave Contact out: its From address is then the remote target.
            request.headers.add("Contact", f"<{request.from_.uri}>")
        try:
            dialog = Dialog.from_uas(request, call.local_tag, contact, early=True)
        except SipParseError:
            media_port.close()
            self.stack.reply(tx, 400, "Missing Contact")
            return
        call.dialog = dialog
        self._dialogs.add(dialog)
        self._calls[call.id] = call
        self._by_key[(call.sip_call_id, call.local_tag)] = call
        self.stack.reply(tx, 180, to_tag=call.local_tag, headers=[*_record_routes(request), ("Contact", str(contact))])
        self._emit(
            IncomingCallEvent(
                call.id, str(call.remote.uri), call.remote.display_name, call.photo_url, call.asserted_identity
            )
        )
        self._emit(call.event())
        loop = self.stack.loop
        if account.auto_answer is not None:
            call.timers.append(loop.call_later(account.auto_answer, self._auto_answer, call))
        if forwarding is not None and forwarding.no_answer is not None:
            call.timers.append(loop.call_later(forwarding.no_answer, self._forward_unanswered, call))

    def _auto_answer(self, call: Call) -> None:
        if not call.ended and not call.final_sent:
            self._answer(call)

    def _forward_unanswered(self, call: Call) -> None:
        forwarding = call.account.forwarding
        if call.ended or call.final_sent or forwarding is None or call.server_tx is None:
            return
        call.final_sent = True
        self._forward(call.server_tx.request, call.server_tx, forwarding.target, call.account, call.local_tag)
        self._end(call, 302, "forwarded")

    def _forward(
        self, request: Request, tx: ServerTransaction, target: str, account: Account, to_tag: str | None = None
    ) -> None:
        try:
            uri = self.target_uri(target, account)
        except UserAgentError:
            self.stack.reply(tx, 480)
            return
        self.stack.reply(tx, 302, to_tag=to_tag or new_tag(), headers=[("Contact", f"<{uri}>")])

    def _answer_sdp(
        self, call: Call, offer: SessionDescription, *, session_id: int, version: int
    ) -> tuple[SessionDescription, Any]:
        return create_answer(
            offer,
            self.audio,
            address=call.media_port.host,
            port=call.media_port.port,
            session_id=session_id,
            session_version=version,
            direction="sendonly" if call.local_hold else "sendrecv",
        )

    def _answer(self, call: Call) -> None:
        tx = call.server_tx
        dialog = call.dialog
        if tx is None or dialog is None or call.final_sent:
            return
        call.cancel_timers()
        if call.local_sdp is None:
            # An INVITE without an offer: we offer in the 200, the answer comes in the ACK (RFC 3264 4).
            call.local_sdp = create_offer(
                self.audio,
                address=call.media_port.host,
                port=call.media_port.port,
                session_id=random.randrange(1, 2**31),
                session_version=1,
            )
        response = make_response(
            tx.request,
            200,
            to_tag=call.local_tag,
            headers=[
                *_record_routes(tx.request),
                ("Contact", str(dialog.local_contact)),
                ("Allow", ALLOW),
                ("Supported", ", ".join(SUPPORTED_OPTIONS)),
                *(call.uas_timer.headers if call.uas_timer is not None else []),
                ("Content-Type", SDP),
            ],
            body=call.local_sdp.to_bytes(),
        )
        call.final_sent = True
        dialog.send_response(response)
        self._send_2xx(call, tx, response)
        self._set_state(call, "held" if call.remote_hold else "confirmed")
        self._start_session_timer(call, call.uas_timer.timer if call.uas_timer is not None else None)

    def _send_2xx(self, call: Call, tx: ServerTransaction, response: Response) -> None:
        """RFC 3261 13.3.1.4: the 2xx goes again at T1, 2T1 ... T2 until the ACK comes, for 64*T1 at most."""
        self.stack.respond(tx, response)
        call.pending_2xx = response
        call.awaiting_ack = True
        self.stack.spawn(self._retransmit_2xx(call, tx, response), name=f"2xx {call.id}")

    async def _retransmit_2xx(self, call: Call, tx: ServerTransaction, response: Response) -> None:
        timers = self.stack.timers
        interval = timers.T1
        deadline = self.stack.now() + 64 * timers.T1
        while call.awaiting_ack and call.pending_2xx is response and not call.ended:
            await asyncio.sleep(interval)
            if not call.awaiting_ack or call.pending_2xx is not response or call.ended:
                return
            if self.stack.now() >= deadline:
                log.info("call %s: no ACK for our 2xx; ending it", call.id)
                call.awaiting_ack = False
                await self._bye(call)
                self._end(call, 408, "no ACK")
                return
            if not tx.reliable:
                self.stack.respond(tx, response)
            interval = min(interval * 2, timers.T2)

    def _reject(self, call: Call, code: int) -> None:
        tx = call.server_tx
        if tx is None or call.final_sent:
            return
        call.final_sent = True
        response = make_response(tx.request, code, to_tag=call.local_tag)
        if call.dialog is not None:
            call.dialog.send_response(response)
        self.stack.respond(tx, response)
        self._end(call, code, response.reason)

    def _on_ack(self, request: Request) -> None:
        dialog_id = dialog_id_for_request(request)
        if dialog_id is None:
            return
        call = self._by_key.get((dialog_id.call_id, dialog_id.local_tag))
        if call is None or call.pending_2xx is None or not call.awaiting_ack:
            return
        if request.cseq.seq != call.pending_2xx.cseq.seq:
            return
        call.awaiting_ack = False
        call.pending_2xx = None
        if request.body and call.remote_sdp is None:
            try:
                self._take_answer(call, parse_sdp(request.body))
            except SipParseError as exc:
                log.info("bad SDP answer in the ACK of %s: %s", call.id, exc)
                self.stack.spawn(self._bye(call))
                self._end(call, 488, "bad SDP in ACK")
                return
            self._sync_media(call)

    def _on_cancel(self, request: Request, tx: ServerTransaction) -> None:
        invite_tx = self.stack.transactions.find_cancelled(request)
        if invite_tx is None:
            self.stack.reply(tx, 481)
            return
        self.stack.reply(tx, 200)
        call = next((c for c in self._calls.values() if c.server_tx is invite_tx), None)
        if call is None or call.final_sent:
            return
        call.final_sent = True
        response = make_response(invite_tx.request, 487, to_tag=call.local_tag)
        if call.dialog is not None:
            call.dialog.send_response(response)
        self.stack.respond(invite_tx, response)
        self._end(call, 487, "cancelled")

    def _on_in_dialog(self, request: Request, tx: ServerTransaction, source: Source) -> None:
        dialog = self._dialogs.match_request(request)
        if dialog is None:
            self.stack.reply(tx, 481)
            return
        call = self._by_key.get((dialog.call_id, dialog.local_tag))
        method = request.method
        code = dialog.receive_request(request)
        if code is not None:
            self.stack.respond(tx, error_response(request, code))
            return
        if call is None or call.dialog is not dialog:
            # A dialog of a fork we are ending, or one without a call.
            self.stack.reply(tx, 200 if method == "BYE" else 481)
            return
        if method == "BYE":
            self.stack.reply(tx, 200)
            self._end(call, None, "remote hangup")
        elif method in ("INVITE", "UPDATE"):
            self._on_reoffer(call, request, tx)
        elif method == "INFO":
            self._on_info(call, request, tx)
        elif method == "OPTIONS":
            self._reply_options(tx)
        elif method == "REFER":
            self._on_refer(call, request, tx)
        elif method == "NOTIFY":
            self._on_notify(call, request, tx)
        else:
            self.stack.reply(tx, 405, headers=[("Allow", ALLOW)])

    def _on_reoffer(self, call: Call, request: Request, tx: ServerTransaction) -> None:
        """A re-INVITE or UPDATE: answer its offer (hold, resume, new address) or make one in the 200."""
        if call.reinvite_pending and request.method == "INVITE":
            # RFC 3261 14.2: a re-INVITE while ours is pending gets 491.
            self.stack.reply(tx, 491)
            return
        if call.direction == "incoming" and not call.final_sent:
            self.stack.reply(tx, 500, headers=[("Retry-After", "2")])
            return
        decision = uas_decide(request, preferred=None, minimum=self.min_se)
        if decision.too_small is not None:
            self.stack.reply(tx, 422, headers=decision.headers)
            return
        previous = call.local_sdp
        version = (previous.origin.sess_version + 1) if previous is not None else 1
        session_id = previous.origin.sess_id if previous is not None else random.randrange(1, 2**31)
        if request.body:
            offer = parse_sdp(request.body)
            answer, media = self._answer_sdp(call, offer, session_id=session_id, version=version)
            if media is None:
                self.stack.reply(tx, 488)
                return
            if previous is not None:
                answer = next_offer(previous, answer)
            call.local_sdp, call.remote_sdp, call.media = answer, offer, media
            call.remote_hold = media.on_hold
        elif previous is not None:
            # An offerless re-INVITE: our offer goes in the 200 (RFC 3264 8).
            call.remote_sdp = None
        body = call.local_sdp.to_bytes() if call.local_sdp is not None else b""
        headers = [("Contact", str(call.dialog.local_contact))] if call.dialog is not None else []
        headers += [("Allow", ALLOW), ("Supported", ", ".join(SUPPORTED_OPTIONS)), *decision.headers]
        if body:
            headers.append(("Content-Type", SDP))
        response = make_response(request, 200, headers=headers, body=body)
        if request.method == "INVITE":
            self._send_2xx(call, tx, response)
        else:
            self.stack.respond(tx, response)
        self._update_hold_state(call)
        self._sync_media(call)
        self._start_session_timer(call, decision.timer)

    def _update_hold_state(self, call: Call) -> None:
        state: CallState = "held" if (call.local_hold or call.remote_hold) else "confirmed"
        if call.state != state:
            self._set_state(call, state)

    def _on_info(self, call: Call, request: Request, tx: ServerTransaction) -> None:
        digit = _dtmf_digit(request)
        if digit is None:
            self.stack.reply(tx, 200 if not request.body else 415, headers=[("Accept", DTMF_RELAY)])
            return
        self.stack.reply(tx, 200)
        self._emit(DtmfEvent(call.id, digit, "info"))

    # --- transfer (RFC 3515, 3891) ----------------------------------------------------------

    async def transfer(self, call_id: str | None, target: str) -> None:
        """Blind transfer: REFER the peer of ``call_id`` to ``target``; progress comes as TransferEvents."""
        call = self.find_call(call_id)
        if not call.confirmed:
            raise UserAgentError(f"call {call.id} is not established")
        uri = self.target_uri(target, call.account)
        await self._refer(call, f"<{uri}>", str(uri))

    async def attended_transfer(self, call_id: str, other_call_id: str) -> None:
        """Attended transfer: the peer of ``call_id`` replaces our call ``other_call_id`` with the latter's peer."""
        call = self.find_call(call_id)
        other = self.find_call(other_call_id)
        if not call.confirmed or not other.confirmed or other.dialog is None:
            raise UserAgentError("both calls must be established")
        dialog = other.dialog
        replaces = f"{dialog.call_id};to-tag={dialog.remote_tag};from-tag={dialog.local_tag}"
        uri = dialog.remote_target if isinstance(dialog.remote_target, SipUri) else other.remote.uri
        if isinstance(uri, SipUri):
            uri = uri.replace(params={}, headers=[("Replaces", _escape_header(replaces))])
        await self._refer(call, f"<{uri}>", str(other.remote.uri))

    async def _refer(self, call: Call, refer_to: str, shown: str) -> None:
        account = call.account
        headers = [("Refer-To", refer_to), ("Referred-By", f"<{account.uri}>")]
        self._emit(TransferEvent(call.id, "trying", None, shown))
        call.transfer_target = shown
        response = await self._in_dialog(call, "REFER", headers=headers)
        if response is None or response.status_code >= 300:
            code = None if response is None else response.status_code
            self._emit(TransferEvent(call.id, "failed", code, shown))
            return
        self._emit(TransferEvent(call.id, "accepted", response.status_code, shown))

    def _on_notify(self, call: Call, request: Request, tx: ServerTransaction) -> None:
        event = request.event
        if event is None or event.package.lower() != "refer":
            self.stack.reply(tx, 489)
            return
        self.stack.reply(tx, 200)
        shown = call.transfer_target
        code = _sipfrag_status(request.body)
        if code is None:
            return
        if code < 200:
            self._emit(TransferEvent(call.id, "progress", code, shown))
            return
        if code < 300:
            self._emit(TransferEvent(call.id, "succeeded", code, shown))
            # RFC 5589 6.1: the transferee ends the old call; if it does not, we do.
            if not call.ended:
                call.timers.append(self.stack.loop.call_later(TRANSFER_BYE_GRACE, self._end_transferred, call))
        else:
            self._emit(TransferEvent(call.id, "failed", code, shown))

    def _end_transferred(self, call: Call) -> None:
        if not call.ended:
            self.stack.spawn(self._hangup_quietly(call))

    async def _hangup_quietly(self, call: Call) -> None:
        if not call.ended:
            await self._bye(call)
            self._end(call, None, "transferred")

    def _on_refer(self, call: Call, request: Request, tx: ServerTransaction) -> None:
        refer_to = request.refer_to
        if refer_to is None or not isinstance(refer_to.uri, SipUri):
            self.stack.reply(tx, 400, "Missing or unusable Refer-To")
            return
        self.stack.reply(tx, 202)
        self._emit(TransferEvent(call.id, "requested", None, str(refer_to.uri.replace(headers=[]))))
        referred_by = request.headers.get("Referred-By")
        self.stack.spawn(self._follow_refer(call, refer_to.uri, referred_by))

    async def _follow_refer(self, call: Call, uri: SipUri, referred_by: str | None) -> None:
        """RFC 3515 2.4: call the Refer-To target, report in NOTIFYs, then end the referred call."""
        await self._notify_refer(call, "100 Trying", active=True)
        extra: list[tuple[str, str]] = []
        for name, value in uri.headers:
            if name.lower() == "replaces":
                extra.append(("Replaces", _unescape_header(value)))
        if referred_by is not None:
            # RFC 3892 3: the new INVITE says who referred us.
            extra.append(("Referred-By", referred_by))
        target = uri.replace(headers=[])
        try:
            new_call = await self.call(str(target), call.account.aor, headers=extra)
        except UserAgentError as exc:
            log.info("transfer of %s failed: %s", call.id, exc)
            await self._notify_refer(call, "503 Service Unavailable", active=False)
            return
        new_call.transfer_from = call
        self._emit(TransferEvent(call.id, "calling", None, str(target)))

    async def _notify_refer(self, call: Call, status: str, *, active: bool) -> None:
        state = "active;expires=60" if active else "terminated;reason=noresource"
        headers = [("Event", "refer"), ("Subscription-State", state)]
        body = f"SIP/2.0 {status}\r\n".encode()
        await self._in_dialog(call, "NOTIFY", body=body, content_type=SIPFRAG + ";version=2.0", headers=headers)

    def _transfer_outcome(self, new_call: Call) -> None:
        original = new_call.transfer_from
        if original is None or original.ended:
            return
        new_call.transfer_from = None
        if new_call.confirmed:
            status = "200 OK"
        else:
            status = f"{new_call.code or 500} {new_call.reason or 'Failed'}"

        async def report() -> None:
            await self._notify_refer(original, status, active=False)
            if new_call.confirmed:
                # RFC 3515 2.4.5 / RFC 5589 6.1: the transfer worked, so the referred call ends.
                await self._hangup_quietly(original)
            self._emit(
                TransferEvent(
                    original.id,
                    "succeeded" if new_call.confirmed else "failed",
                    new_call.code if not new_call.confirmed else 200,
                    str(new_call.remote.uri),
                )
            )

        self.stack.spawn(report())

    def _on_replaces(self, request: Request, tx: ServerInviteTransaction, source: Source, account: Account) -> None:
        replaces = request.replaces
        assert replaces is not None
        old = self._by_key.get((replaces.call_id, replaces.to_tag))
        if (
            old is None
            or old.ended
            or old.dialog is None
            or old.dialog.remote_tag != replaces.from_tag
            or (replaces.early_only and old.confirmed)
        ):
            self.stack.reply(tx, 481)
            return
        # Take the new call as an incoming one answered at once, then end the old one (RFC 3891 3).
        request.headers.remove("Replaces")
        self._on_invite(request, tx, source)
        new = next((c for c in self._calls.values() if c.server_tx is tx), None)
        if new is None:
            return
        old.replaced_by = new
        self._answer(new)
        self.stack.spawn(self._hangup_quietly(old))

    def _forget(self, key: tuple[str, str], call: Call) -> None:
        if self._by_key.get(key) is call:
            del self._by_key[key]

    # --- session timers (RFC 4028) ---------------------------------------------------

    def _start_session_timer(self, call: Call, timer: SessionTimer | None) -> None:
        if call.session_handle is not None:
            call.session_handle.cancel()
            call.session_handle = None
        call.session_timer = timer
        if timer is None or call.ended:
            return
        loop = self.stack.loop
        if timer.we_refresh:
            call.session_handle = loop.call_later(timer.refresh_after, self._refresh_session, call)
        else:
            call.session_handle = loop.call_later(timer.expire_after, self._session_expired, call)

    def _refresh_session(self, call: Call) -> None:
        call.session_handle = None
        if call.ended or call.local_sdp is None:
            return
        if call.reinvite_pending:
            call.session_handle = self.stack.loop.call_later(1.0, self._refresh_session, call)
            return

        async def refresh() -> None:
            assert call.local_sdp is not None
            try:
                # RFC 4028 10: the refresh re-offers the session unchanged.
                await self._reinvite(call, next_offer(call.local_sdp, call.local_sdp), hold=call.local_hold)
            except UserAgentError as exc:
                log.info("session refresh of %s failed: %s", call.id, exc)

        self.stack.spawn(refresh(), name=f"session refresh {call.id}")

    def _session_expired(self, call: Call) -> None:
        call.session_handle = None
        if call.ended:
            return

        async def expire() -> None:
            await self._bye(call)
            self._end(call, 408, "session expired")

        self.stack.spawn(expire(), name=f"session expiry {call.id}")

    # --- state ---------------------------------------------------------------------

    def _set_state(self, call: Call, state: CallState, code: int | None = None, reason: str = "") -> None:
        if call.ended:
            return
        call.state = state
        call.code = code
        call.reason = reason
        if state in ("confirmed", "held") and call.answered_at is None:
            call.answered_at = time.time()
        self._emit(call.event())
        if state in ("confirmed", "held"):
            self._sync_media(call)
        if state in ("confirmed", "held") and call.transfer_from is not None:
            self._transfer_outcome(call)

    def _end(self, call: Call, code: int | None, reason: str, *, notify: bool = True) -> None:
        if call.ended:
            return
        call.cancel_timers()
        call.awaiting_ack = False
        self._stop_media(call)
        call.media_port.close()
        if call.dialog is not None:
            call.dialog.terminate()
            self._dialogs.discard(call.dialog.id)
        if call.dialog_set is not None:
            for dialog in call.dialog_set.dialogs.values():
                if dialog.state.value == "early":
                    dialog.terminate()
            self._dialogs.discard_set(call.dialog_set)
        call.state = "ended"
        call.code = code
        call.reason = reason
        self._record_history(call)
        if notify:
            self._emit(call.event())
        self._calls.pop(call.id, None)
        # Keep the Call-ID/tag mapping a while for retransmitted 2xx and late in-dialog requests (64*T1).
        key = (call.sip_call_id, call.local_tag)
        self.stack.loop.call_later(64 * self.stack.timers.T1, self._forget, key, call)
        if call.transfer_from is not None:
            self._transfer_outcome(call)

    def _record_history(self, call: Call) -> None:
        """Keep the ended call, with its quality over time, in the store's call history."""
        if self.store is None:
            return
        record = CallRecord(
            account=call.account.aor,
            direction=Direction.IN if call.direction == "incoming" else Direction.OUT,
            peer=str(call.remote.uri),
            peer_name=call.remote.display_name,
            started=call.started_at,
            answered=call.answered_at,
            ended=time.time(),
            outcome=call_outcome(call),
            sip_code=call.code,
            reason=call.reason or None,
            call_id=call.sip_call_id,
            quality=call.quality.summary(),
        )
        try:
            self.store.history.add_call(record)
        except StoreError as exc:
            log.warning("call %s not kept in the history: %s", call.id, exc)

    # --- media ------------------------------------------------------------------------

    def _sync_media(self, call: Call) -> None:
        """Start the call's media session, or give it what the latest offer/answer agreed."""
        if self.media is None or call.ended or not call.confirmed or call.media is None:
            return
        session = call.media_session
        if session is None:
            if not call.media_tried:
                call.media_tried = True
                self.stack.spawn(self._start_media(call), name=f"media {call.id}")
            return
        if call.media is not call.media_applied:
            try:
                session.update(call.media)
            except MediaError as exc:
                self._media_warning(call, "media_failure", f"cannot apply the new media parameters: {exc}")
            call.media_applied = call.media
        if call.local_hold:
            session.hold()
        else:
            session.resume()

    async def _start_media(self, call: Call) -> None:
        factory = self.media
        assert factory is not None
        loop = self.stack.loop

        def post(event: Event) -> None:
            # Runs on the loop: what comes after the call ended (a stopping session) is dropped.
            if not call.ended:
                if isinstance(event, QualityEvent):
                    call.quality.add(event)
                self._emit(event)

        def from_thread(event: Event) -> None:
            try:
                loop.call_soon_threadsafe(post, event)
            except RuntimeError:
                pass  # the loop is closed: the UA is gone

        def warn(message: str) -> None:
            from_thread(MediaWarningEvent(call.id, "device", message))
            from_thread(ErrorEvent(f"call {call.id}: {message}"))

        def on_quality(snapshot: QualitySnapshot) -> None:
            from_thread(QualityEvent(call.id, **dataclasses.asdict(snapshot)))

        def on_event(event: MediaEvent) -> None:
            if isinstance(event, DtmfReceived):
                from_thread(DtmfEvent(call.id, event.digit, "rtp"))
            elif isinstance(event, OneWayAudio):
                message = (
                    f"no audio received for {event.silent_for:.1f} s" if event.active else "audio is received again"
                )
                from_thread(MediaWarningEvent(call.id, "one_way_audio", message, event.active))
            elif isinstance(event, MediaFailure):
                from_thread(MediaWarningEvent(call.id, "media_failure", event.message))
            elif isinstance(event, RemoteBye):
                log.info("call %s: the peer ended its RTP stream (RTCP BYE)", call.id)

        # Off the loop: opening an audio device can take a while.
        pending = loop.run_in_executor(None, factory, call.id, warn)
        try:
            made = await asyncio.shield(pending)
        except asyncio.CancelledError:
            pending.add_done_callback(_close_unused_audio)  # the UA is closing: don't leak what was opened
            raise
        except Exception as exc:
            log.warning("call %s: no audio: %s", call.id, exc)
            if not call.ended:
                self._media_warning(call, "device", f"no audio: {exc}")
                self._error(f"call {call.id}: no audio: {exc}")
            return
        if made is None:
            return
        audio = made if isinstance(made, CallAudio) else CallAudio(*made)
        sock = call.media_port.socket
        if call.ended or call.media is None or sock is None:
            self._close_audio(audio)  # the call ended meanwhile
            return
        call.audio = audio
        try:
            session = MediaSession(sock, call.media, audio.source, audio.sink, on_quality=on_quality, on_event=on_event)
            call.media_port.socket = None  # the session owns (and closes) the socket from now on
            session.start()
        except Exception as exc:
            log.warning("call %s: media session failed to start: %s", call.id, exc)
            self._media_warning(call, "media_failure", f"media did not start: {exc}")
            call.audio = None
            self._close_audio(audio)
            return
        call.media_session = session
        call.media_applied = call.media
        if call.pending_recorder is not None:
            session.start_recording(call.pending_recorder)
            call.pending_recorder = None
        if call.muted:
            session.set_muted(True)
        self._sync_media(call)  # a re-INVITE or hold may have come meanwhile

    def _media_warning(self, call: Call, kind: MediaWarningKind, message: str) -> None:
        self._emit(MediaWarningEvent(call.id, kind, message))

    def _stop_media(self, call: Call) -> None:
        """Stop the call's media off the loop (the thread join and RTCP BYE can take a while)."""
        if call in self._conference_calls:
            self._leave_conference(call, ended=True)
        session, audio, pending = call.media_session, call.audio, call.pending_recorder
        call.media_session = None
        call.audio = None
        call.pending_recorder = None
        if session is None and audio is None and pending is None:
            return

        loop = self.stack.loop

        def stop() -> None:
            recorder = pending
            if session is not None:
                session.stop(timeout=1.0)
                recorder = session.stop_recording() or recorder
            if recorder is not None:
                recorder.close()
                event = RecordingEvent(call.id, str(recorder.path), False, recorder.seconds, recorder.error)
                with contextlib.suppress(RuntimeError):  # the loop is closed: the UA is gone
                    loop.call_soon_threadsafe(self._emit, event)
            if audio is not None:
                self._close_audio(audio)

        future = self.stack.loop.run_in_executor(None, stop)
        self._media_stops.add(future)
        future.add_done_callback(self._media_stopped)

    def _media_stopped(self, future: asyncio.Future[None]) -> None:
        self._media_stops.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.warning("stopping a media session failed: %s", future.exception())

    @staticmethod
    def _close_audio(audio: CallAudio) -> None:
        try:
            audio.close()
        except Exception as exc:
            log.warning("closing the audio of a call failed: %s", exc)

    async def wait_media_stopped(self) -> None:
        """Wait until the media of ended calls is stopped (recordings closed)."""
        while self._media_stops:
            await asyncio.gather(*list(self._media_stops), return_exceptions=True)


def _close_unused_audio(future: asyncio.Future[Any]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    made = future.result()
    if isinstance(made, CallAudio):
        UserAgent._close_audio(made)


def call_outcome(call: Call) -> CallOutcome:
    """How an ended call went, for the call history."""
    code = call.code
    if call.answered_at is not None:
        return CallOutcome.ANSWERED
    if code in (486, 600):
        return CallOutcome.BUSY
    if code in (301, 302):
        return CallOutcome.FORWARDED
    if call.direction == "incoming":
        # 487: the caller gave up (CANCEL) before we answered.
        return CallOutcome.MISSED if code in (None, 487, 408) else CallOutcome.DECLINED
    if code == 603:
        return CallOutcome.DECLINED
    if call.cancel_requested or code == 487:
        return CallOutcome.CANCELLED
    return CallOutcome.FAILED


def _accepts_sdp(request: Request) -> bool:
    accept = request.accept
    if accept is None:
        return True
    mimes = {media.mime.lower() for media in accept}
    return bool(mimes & {SDP, "application/*", "*/*"})


def _record_routes(request: Request) -> list[tuple[str, str]]:
    # RFC 3261 12.1.1: a UAS copies Record-Route into the responses that make a dialog.
    return [("Record-Route", value) for value in request.headers.get_all("Record-Route")]


def _preference(account: Account | None) -> tuple[str, ...]:
    order = ["UDP", "TCP", "TLS"]
    if account is not None:
        preferred = account.transport.upper()
        order.remove(preferred)
        order.insert(0, preferred)
    return tuple(order)


def _identity(request: Request) -> tuple[str | None, str | None]:
    photo = asserted = None
    try:
        for info in request.call_info:
            if info.purpose == "icon":
                photo = info.uri
                break
    except SipParseError:
        pass
    try:
        identities = request.asserted_identities
        if identities:
            first = identities[0]
            asserted = str(first.uri) if first.display_name is None else f"{first.display_name} <{first.uri}>"
    except SipParseError:
        pass
    return photo, asserted


def _dtmf_digit(request: Request) -> str | None:
    text = request.body.decode("utf-8", "replace")
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name.strip().lower() == "signal":
            digit = value.strip()
            if len(digit) == 1 and digit in DTMF_DIGITS:
                return digit.upper()
    content_type = request.content_type
    if content_type is not None and content_type.mime.lower() == "application/dtmf":
        digit = text.strip()
        if len(digit) == 1 and digit in DTMF_DIGITS:
            return digit.upper()
    return None


def _sipfrag_status(body: bytes) -> int | None:
    first = body.decode("utf-8", "replace").split("\r\n", 1)[0].split("\n", 1)[0].split()
    if len(first) >= 2 and first[0].upper().startswith("SIP/") and first[1].isdigit():
        return int(first[1])
    return None


def _escape_header(value: str) -> str:
    out = []
    for char in value:
        if char.isalnum() or char in "-_.!~*'()[]/:+$":
            out.append(char)
        else:
            out.append("".join(f"%{b:02X}" for b in char.encode()))
    return "".join(out)


def _unescape_header(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def parse_address(text: str) -> NameAddr:
    """A display-name and URI as typed (``"Bob" <sip:bob@example.com>``)."""
    return parse_name_addr(text)


__all__ = [
    "CallEvent",
    "RegistrationEvent",
    "UserAgent",
    "UserAgentError",
]

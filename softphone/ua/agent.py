"""The UserAgent facade: accounts, registration, calls and services over one asyncio loop.

Commands are coroutines (``await ua.call(uri)``); what happens is reported
as typed events (:mod:`softphone.ua.events`) on :attr:`UserAgent.events`
and to the callbacks given to :meth:`UserAgent.subscribe`.

The UserAgent is a driver: it routes incoming requests to the calls
(:mod:`softphone.ua.calls`, whose protocol is the sans-I/O
:mod:`softphone.ua.call_machine`), to subscriptions and to its services,
and it gives those services the narrow :class:`~softphone.ua.host.ServiceHost`
interface to send and answer requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Literal, TypeVar

from softphone.sip.addr import NameAddr, parse_name_addr
from softphone.sip.dialog import Dialog
from softphone.sip.offer_answer import AudioConfig
from softphone.sip.transaction import (
    ClientTransaction,
    TimerSettings,
)
from softphone.store import Store
from softphone.transport import (
    Target,
    TlsSettings,
    TransportError,
    TransportLimits,
)
from softphone.ua import capabilities
from softphone.ua.account import Account
from softphone.ua.call import Call
from softphone.ua.call_effects import Rel100
from softphone.ua.call_moves import move_call
from softphone.ua.call_video import VideoSettings
from softphone.ua.calls import CallManager
from softphone.ua.capabilities import ALLOW
from softphone.ua.dialog_state import DialogStateService
from softphone.ua.endpoint import AWAITING_FINAL, SipEndpoint
from softphone.ua.errors import UserAgentError
from softphone.ua.events import CallEvent, ErrorEvent, Event, NetworkChangeEvent, RegistrationEvent
from softphone.ua.host import RequestHandler
from softphone.ua.lan import LanDiscovery
from softphone.ua.limits import Limits
from softphone.ua.media import MediaFactory
from softphone.ua.messaging import MessagingService
from softphone.ua.mwi import MwiService
from softphone.ua.paging import Pager
from softphone.ua.presence import PresenceService
from softphone.ua.registration import Registration, RetryPolicy
from softphone.ua.router import RequestRouter
from softphone.ua.session_timer import DEFAULT_MIN_SE, DEFAULT_SESSION_EXPIRES
from softphone.ua.stack import SipStack
from softphone.ua.subscription import Subscriptions
from softphone.ua.trace import SipTrace
from softphone.ua.video_pictures import VideoPictures

log = logging.getLogger("softphone.ua")

EVENT_QUEUE_SIZE = 1000
UNREGISTER_WAIT = 4.0  # ua.stop(): the longest wait for the un-REGISTERs

Subscriber = Callable[[Event], None]
_T = TypeVar("_T")


class UserAgent(SipEndpoint):
    """Accounts, registrations, calls and services of one user.

    ``listen``: ``(transport, ip, port)`` to listen on (default UDP and TCP
    on every IPv4 address, ephemeral ports). ``retry`` is the registration
    back-off; ``timers`` the RFC 3261 timer values; ``audio`` the codecs
    offered. ``busy`` answers every new call with 486. ``session_expires``
    is the RFC 4028 session interval we ask for (None: no session timer
    unless the peer asks) and ``min_se`` the shortest we accept (422 below).
    ``keepalive`` is the RFC 5626 CRLF keep-alive interval towards each
    registrar (None: off); a TCP/TLS flow that fails makes us register again.
    ``media`` gives each call its audio (see :mod:`softphone.ua.media`);
    None: no media session at all, only signalling. ``rel100`` is the
    RFC 3262 policy (``off``, ``supported``, ``required``); ``early_media``
    answers incoming calls with a 183 and our media while they ring;
    ``limits`` bounds what others may make the phone spend (:class:`~softphone.ua.limits.Limits`),
    ``transport_limits`` what their connections may (:class:`~softphone.transport.TransportLimits`).
    ``user_agent`` is the User-Agent of our requests (None: none); responses carry none.
    ``out_of_dialog_refer`` says whose REFER outside a call makes us place a call: ``server``
    (only through an account's registrar or proxy flow), ``anyone`` or ``never``.
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
        network_check: float | None = 30.0,
        media: MediaFactory | None = None,
        video: VideoSettings | None = None,
        store: Store | None = None,
        rel100: Rel100 = "supported",
        early_media: bool = False,
        limits: Limits | None = None,
        transport_limits: TransportLimits | None = None,
        user_agent: str | None = capabilities.USER_AGENT,
        out_of_dialog_refer: Literal["never", "server", "anyone"] = "server",
    ) -> None:
        accounts = list(accounts)
        self.store = store
        if listen is None:
            listen = [("UDP", "0.0.0.0", 0), ("TCP", "0.0.0.0", 0)]
        if tls is None:
            cafile = next((a.ca_file for a in accounts if a.ca_file), None)
            tls = TlsSettings(cafile=cafile)
        self.tls = tls
        for account in accounts:
            self._trust_settings(account)
        self.audio = audio if audio is not None else AudioConfig()
        self.retry = retry if retry is not None else RetryPolicy()
        self.busy = busy
        self.session_expires = session_expires
        self.min_se = min_se
        self.keepalive = keepalive
        # How often a registered flow is checked for a network change (None: never).
        self.network_check = network_check
        self.media = media
        # Video calls (None: audio only, video offers are answered with the video stream declined).
        self.video = video
        self.rel100: Rel100 = rel100
        self.early_media = early_media
        self.limits = limits if limits is not None else Limits()
        self.out_of_dialog_refer = out_of_dialog_refer
        self.allow = ALLOW
        # The newest events for a consumer that reads the queue; the oldest are dropped when nobody does.
        self.events: asyncio.Queue[Event] = asyncio.Queue(maxsize=EVENT_QUEUE_SIZE)
        stack = SipStack(
            listen,
            on_request=lambda request, tx, source: self.router.on_request(request, tx, source),
            on_stray_response=lambda response, source: self.call_manager.stray_response(response),
            on_flow_failed=self._on_flow_failed,
            timers=timers,
            tls=tls,
            screen=lambda request, source: self.router.screen(request, source),
            limits=transport_limits,
        )
        super().__init__(accounts, stack, media_host=media_host, user_agent=user_agent)
        self._subscribers: list[Subscriber] = []
        self._registrations: dict[str, Registration] = {}
        self._starters: list[Callable[[], None]] = []
        self.router = RequestRouter(self)
        self.call_manager = CallManager(self)
        self.subscriptions = Subscriptions(self)
        self.trace = SipTrace(self.stack.transport)
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._account_added: list[Callable[[Account], None]] = []
        self._account_removed: list[Callable[[Account], Awaitable[None]]] = []
        # -- services: each takes its requests and events through the hooks above --
        self.mwi = MwiService(self)
        self.dialog_state = DialogStateService(self)
        self.messaging = MessagingService(self)
        self.presence = PresenceService(self)
        self.paging = Pager(self)
        # LAN discovery (mDNS/DNS-SD) runs only once started: ``await ua.lan.start()`` after ``ua.start()``.
        self.lan = LanDiscovery(self)
        self._started = False

    # --- life cycle -------------------------------------------------------------

    async def start(self) -> None:
        """Open the sockets; then :meth:`register` the accounts."""
        if self._started:
            return
        await self.stack.start()
        self._started = True
        for starter in self._starters:
            starter()

    async def stop(self) -> None:
        """Hang up every call, unregister every account and close the sockets."""
        if not self._started:
            return
        await self.call_manager.hangup_all()
        # The services say goodbye side by side, each within its own bound.
        for result in await asyncio.gather(*(closer() for closer in self._closers), return_exceptions=True):
            if isinstance(result, Exception):
                log.error("closing a service failed", exc_info=result)
        await self.subscriptions.close()
        # A registrar that died meanwhile would hold each un-REGISTER for Timer F (32 s).
        unregistering = [asyncio.ensure_future(r.stop()) for r in self._registrations.values()]
        if unregistering:
            _, late = await asyncio.wait(unregistering, timeout=UNREGISTER_WAIT)
            for task in late:
                task.cancel()
            await asyncio.gather(*unregistering, return_exceptions=True)
        # Give BYEs a moment to be answered.
        deadline = self.stack.now() + 2.0
        while self.stack.now() < deadline:
            if not any(
                tx.method in ("BYE", "CANCEL", "REGISTER", "NOTIFY", "SUBSCRIBE", "PUBLISH")
                and tx.state in AWAITING_FINAL
                for tx in self.stack.transactions
                if isinstance(tx, ClientTransaction)
            ):
                break
            await asyncio.sleep(0.05)
        self.call_manager.abandon_all()
        await self.call_manager.media.wait_stopped()
        self.router.dropped.close()
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
        """Hand ``event`` to the queue and every subscriber (on the loop thread)."""
        if self.events.full():
            self.events.get_nowait()
        self.events.put_nowait(event)
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber failed")

    def _error(self, message: str) -> None:
        self.emit(ErrorEvent(message))

    # --- accounts and registration -------------------------------------------------

    def add_account(self, account: Account) -> None:
        """Add ``account``; a started UA registers it at once (when it registers), as it does all at start."""
        if any(a.aor == account.aor for a in self.accounts):
            raise UserAgentError(f"there is already an account {account.aor}")
        self.accounts.append(account)
        self._admit(account)

    async def replace_account(self, aor: str, account: Account) -> None:
        """Put ``account`` in the place of the account ``aor`` (edited settings, a new address, a new password).

        The old binding is removed (REGISTER with Expires: 0), its services let go of it (publications
        withdrawn, its subscriptions ended), and the new account registers. A call in progress keeps the
        account it was placed or taken with until it ends; calls on other accounts are not touched.
        """
        old = self.account(aor)
        if account.aor != old.aor and any(a.aor == account.aor for a in self.accounts):
            raise UserAgentError(f"there is already an account {account.aor}")
        await self._retire(old)
        self.accounts[self.accounts.index(old)] = account
        self._admit(account)

    async def remove_account(self, aor: str) -> None:
        """Unregister the account ``aor`` and forget it; its calls in progress go on until they end."""
        old = self.account(aor)
        await self._retire(old)
        self.accounts.remove(old)

    def set_password(self, aor: str, password: str) -> None:
        """Use ``password`` for ``aor`` from now on, and register again with it at once."""
        account = self.account(aor)
        account.password = password
        self._digests.pop(account.aor, None)
        registration = self._registrations.get(account.aor)
        if registration is not None:
            registration.set_password(password)
        elif self._started and account.register:
            self.registration(account.aor).start()

    def add_account_hooks(
        self, added: Callable[[Account], None], removed: Callable[[Account], Awaitable[None]]
    ) -> None:
        """Services follow accounts added (``added``, on a started UA) and taken away (``removed``, awaited
        before the account unregisters); a replaced account is one removed and one added."""
        self._account_added.append(added)
        self._account_removed.append(removed)

    def _trust_settings(self, account: Account) -> None:
        """The account's pinned server certificates and its client certificate go to the TLS settings."""
        self.tls.pinned.update(account.tls_fingerprints)
        if account.tls_certificate is not None:
            try:
                self.tls.add_identity(account.server_names, account.tls_certificate, account.tls_key)
            except TransportError as exc:  # checked when the account was made; the file went away since
                log.warning("account %s: %s", account.aor, exc)

    def _admit(self, account: Account) -> None:
        self._trust_settings(account)
        if not self._started:
            return  # start() and register() take it up with the others
        for added in self._account_added:
            try:
                added(account)
            except Exception:
                log.exception("a service could not take account %s", account.aor)
        if account.register:
            self.registration(account.aor).start()

    async def _retire(self, account: Account) -> None:
        registration = self._registrations.pop(account.aor, None)
        if self._started:
            for removed in self._account_removed:
                try:
                    await removed(account)
                except Exception:
                    log.exception("a service could not let go of account %s", account.aor)
            self.subscriptions.end_served(account)
        if registration is not None:
            await registration.stop()
        self._digests.pop(account.aor, None)
        self._server_addresses.pop(account.aor, None)

    def account(self, aor: str | None = None) -> Account:
        """The account with address of record ``aor`` (any spelling of it), or the first one."""
        if not self.accounts:
            raise UserAgentError("no account configured")
        if aor is None:
            return self.accounts[0]
        for account in self.accounts:
            if account.aor == aor or str(account.uri) == aor:
                return account
        raise UserAgentError(f"no account {aor}")

    def registration(self, aor: str | None = None) -> Registration:
        account = self.account(aor)
        registration = self._registrations.get(account.aor)
        if registration is None:
            registration = Registration(
                self.stack,
                account,
                resolve=lambda uri: self.resolve(uri, account),
                contact_for=lambda target: self.contact_for(account, target),
                emit=self.emit,
                retry=self.retry,
                keepalive=self.keepalive,
                probe=self.network_check,
                learn_public=lambda target, address: self.learn_public(account, target, address),
                on_moved=lambda reason: self._network_moved(account, reason),
            )
            self._registrations[account.aor] = registration
        return registration

    def trust_certificate(self, aor: str, fingerprint: str) -> None:
        """Trust the server certificate with this SHA-256 fingerprint for ``aor`` (the user saw it and said yes);
        registration is tried again at once."""
        account = self.account(aor)
        fingerprint = fingerprint.strip().upper()
        if fingerprint not in account.tls_fingerprints:
            account.tls_fingerprints = (*account.tls_fingerprints, fingerprint)
        self.tls.pinned.add(fingerprint)
        registration = self._registrations.get(account.aor)
        if registration is not None:
            if registration.running:
                registration.kick()
            else:
                registration.start()

    def registration_target(self, aor: str) -> Target | None:
        """Where the registration of ``aor`` goes (its flow), None while it has none."""
        registration = self._registrations.get(aor)
        return registration.target if registration is not None else None

    def registration_contact(self, aor: str) -> NameAddr | None:
        """The Contact our registration for ``aor`` uses (None while it has none)."""
        registration = self._registrations.get(self.account(aor).aor)
        return registration.contact if registration is not None else None

    async def register(self, aor: str | None = None) -> None:
        """Start registering (all accounts that register when ``aor`` is None); refreshes run by themselves."""
        accounts = [self.account(aor)] if aor is not None else [a for a in self.accounts if a.register]
        for account in accounts:
            self.registration(account.aor).start()

    async def unregister(self, aor: str | None = None) -> None:
        accounts = [self.account(aor)] if aor is not None else list(self.accounts)
        for account in accounts:
            registration = self._registrations.get(account.aor)
            if registration is not None:
                await registration.stop()

    def _network_moved(self, account: Account, reason: str) -> None:
        """The registration of ``account`` found its flow moved and registered again: move its calls too."""
        calls = [call for call in self.calls if call.account is account and call.confirmed]
        # Connections we opened through the NAT died with its mapping: the next request opens a new one.
        for connection_id, _, _, outbound in self.stack.transport.connections:
            if outbound:
                self.stack.transport.close_connection(connection_id)
        self.emit(NetworkChangeEvent(account.aor, reason, tuple(call.id for call in calls)))
        for call in calls:
            self.spawn(move_call(self, call), name=f"move {call.id}")

    def _on_flow_failed(self, error: TransportError) -> None:
        for registration in self._registrations.values():
            if registration.target is not None and registration.target == error.target:
                registration.kick()

    # --- calls ---------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """The calls that have not ended, oldest first."""
        return self.call_manager.calls

    def find_call(self, call_id: str | None = None) -> Call:
        """A call by short id or SIP Call-ID; without one, the only or most recent call."""
        return self.call_manager.find(call_id)

    async def call(
        self, uri: str, account: str | None = None, *, headers: Sequence[tuple[str, str]] = (), video: bool = True
    ) -> Call:
        """Call ``uri`` (``sip:bob@example.com``, ``bob@example.com`` or ``bob`` at the account's domain).

        ``video`` False: no video stream in the offer even when video is on (``set_video`` adds it later)."""
        return await self.call_manager.dial(uri, self.account(account), headers, video=video)

    async def answer(self, call_id: str | None = None, *, video: bool = True) -> None:
        """Answer a ringing incoming call (200 with our SDP answer); ``video`` False declines its video stream."""
        call = self.call_manager.ringing(call_id)
        self.call_manager.run(call, call.machine.answer(video))

    async def decline(self, call_id: str | None = None, code: int = 603) -> None:
        """Turn down a ringing incoming call (603 Decline, or ``code``)."""
        call = self.call_manager.ringing(call_id)
        self.call_manager.run(call, call.machine.decline(code))

    async def hangup(self, call_id: str | None = None) -> None:
        """End a call whatever its state: CANCEL, decline or BYE."""
        call = self.find_call(call_id)
        self.call_manager.run(call, call.machine.hangup())

    async def hold(self, call_id: str | None = None) -> None:
        await self.call_manager.hold(self.find_call(call_id), True)

    async def resume(self, call_id: str | None = None) -> None:
        await self.call_manager.hold(self.find_call(call_id), False)

    async def rekey(self, call_id: str | None = None) -> None:
        """New SRTP keys for an encrypted call (a re-INVITE; RFC 4568 7.1.4)."""
        await self.call_manager.rekey(self.find_call(call_id))

    async def set_video(self, call_id: str | None, on: bool) -> None:
        """Add video to an established call, or drop it, by re-INVITE (the audio goes on either way)."""
        await self.call_manager.set_video(self.find_call(call_id), on)

    async def set_camera(self, call_id: str | None, on: bool) -> None:
        """Camera on or off in a call with video: our video line becomes recvonly (RFC 3264 8.4) by re-INVITE
        and nothing of ours is sent, or sendrecv again; we receive throughout."""
        await self.call_manager.set_video_send(self.find_call(call_id), on)

    async def set_video_source(self, call_id: str | None, source: str | None) -> None:
        """What the call's video sends from now on: ``pattern``, ``screen[:DISPLAY]``, ``camera[:DEVICE]``, a
        file, or None for nothing (our camera off; the stream stays and we still receive)."""
        await self.call_manager.media.video.set_source(self.find_call(call_id), source)

    @property
    def video_pictures(self) -> VideoPictures:
        """The newest decoded picture of each call's peer and of our own, for a video window."""
        return self.call_manager.media.video.pictures

    def set_mute(self, call_id: str | None, muted: bool) -> None:
        """Mute or unmute our microphone in a call (RTP keeps flowing with silence)."""
        self.call_manager.media.set_mute(self.find_call(call_id), muted)

    def audio_levels(self, call_id: str | None = None) -> tuple[float, float] | None:
        """The call's microphone and speaker levels (RMS, 0..1) for meters; None without sound devices."""
        return self.call_manager.media.levels(self.find_call(call_id))

    @property
    def conference_calls(self) -> list[str]:
        """The ids of the calls in the local conference (empty without one)."""
        return self.call_manager.media.conference_calls

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
        for call in calls:
            if not call.confirmed:
                raise UserAgentError(f"call {call.id} is not established")
        for call in calls:
            if call.local_hold:
                await self.resume(call.id)
        await self.call_manager.media.conference(calls)

    async def split(self, call_id: str | None = None) -> None:
        """Take a call out of the local conference.

        The call goes on with silence both ways (hold, resume or hang up as you like): the
        conference keeps the microphone and speaker. When one call is left, the conference
        ends and that call gets the microphone and speaker back.
        """
        self.call_manager.media.split(self.find_call(call_id))

    async def send_dtmf(self, call_id: str | None, digits: str) -> None:
        """Send DTMF digits: RFC 4733 telephone-events when the call streams media with them, else SIP INFO."""
        await self.call_manager.send_dtmf(self.find_call(call_id), digits)

    async def record(self, call_id: str | None, path: str | Path) -> Path:
        """Record both directions of a call, mixed, to the WAV file ``path`` (replacing a recording running)."""
        return await self.call_manager.record(self.find_call(call_id), path)

    async def stop_recording(self, call_id: str | None = None) -> None:
        await self.call_manager.media.stop_recording(self.find_call(call_id))

    async def wait_media_stopped(self) -> None:
        """Wait until the media of ended calls is stopped (recordings closed)."""
        await self.call_manager.media.wait_stopped()

    async def transfer(self, call_id: str | None, target: str) -> None:
        """Blind transfer: REFER the peer of ``call_id`` to ``target``; progress comes as TransferEvents."""
        await self.call_manager.transfer(self.find_call(call_id), target)

    async def attended_transfer(self, call_id: str, other_call_id: str) -> None:
        """Attended transfer: the peer of ``call_id`` replaces our call ``other_call_id`` with the latter's peer."""
        await self.call_manager.attended_transfer(self.find_call(call_id), self.find_call(other_call_id))

    # --- hooks for services ----------------------------------------------------------

    def add_starter(self, starter: Callable[[], None]) -> None:
        """Run ``starter`` once :meth:`start` has opened the sockets (work a service queued before then)."""
        self._starters.append(starter)

    def add_closer(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run ``closer`` at :meth:`stop`, alongside the other services', before subscriptions end and accounts
        unregister; it bounds its own time."""
        self._closers.append(closer)

    # --- the services' dialogs, for routing ---

    def keep_dialog(self, dialog: Dialog) -> None:
        """Route requests of ``dialog`` (a subscription's) to the services instead of answering 481."""
        if self.router.dialogs.get(dialog.id) is None:
            self.router.dialogs.add(dialog)

    def forget_dialog(self, dialog: Dialog) -> None:
        self.router.dialogs.discard(dialog.id)

    def add_request_handler(self, method: str, handler: RequestHandler) -> None:
        """Let ``handler`` take ``method`` requests before the UA's own handling (see :data:`RequestHandler`)."""
        self.router.add_handler(method, handler)


def parse_address(text: str) -> NameAddr:
    """A display-name and URI as typed (``"Bob" <sip:bob@example.com>``)."""
    return parse_name_addr(text)


__all__ = [
    "CallEvent",
    "RegistrationEvent",
    "UserAgent",
    "UserAgentError",
]

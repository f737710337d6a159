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
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from softphone.sip.addr import NameAddr, parse_name_addr
from softphone.sip.auth import DigestClient, choose_challenge
from softphone.sip.dialog import Dialog, new_tag, via_placeholder
from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.offer_answer import AudioConfig
from softphone.sip.transaction import (
    ClientTransaction,
    ServerTransaction,
    TimerSettings,
    new_branch,
)
from softphone.sip.transaction import State as TransactionState
from softphone.sip.uri import AbsoluteUri, SipUri, Uri, parse_uri
from softphone.store import Store
from softphone.transport import (
    ResolveError,
    SipResolver,
    Source,
    Target,
    TlsSettings,
    TransportError,
    TransportLimits,
)
from softphone.ua import capabilities
from softphone.ua.account import Account
from softphone.ua.call import Call
from softphone.ua.call_effects import Rel100
from softphone.ua.calls import CallManager
from softphone.ua.capabilities import ALLOW, TEXT_PLAIN
from softphone.ua.dialog_state import DialogStateService
from softphone.ua.errors import UserAgentError
from softphone.ua.events import CallEvent, ErrorEvent, Event, RegistrationEvent
from softphone.ua.host import RequestHandler
from softphone.ua.limits import Limits
from softphone.ua.media import MediaFactory
from softphone.ua.messaging import MessagingService
from softphone.ua.mwi import MwiService
from softphone.ua.presence import PresenceService
from softphone.ua.registration import Registration, RetryPolicy
from softphone.ua.router import RequestRouter
from softphone.ua.session_timer import DEFAULT_MIN_SE, DEFAULT_SESSION_EXPIRES
from softphone.ua.stack import SipStack
from softphone.ua.subscription import Subscriptions
from softphone.ua.trace import SipTrace
from softphone.ua.trust import from_addresses, same_address, uri_address

log = logging.getLogger("softphone.ua")

EVENT_QUEUE_SIZE = 1000

Subscriber = Callable[[Event], None]
_T = TypeVar("_T")
_AWAITING_FINAL = frozenset({TransactionState.CALLING, TransactionState.TRYING, TransactionState.PROCEEDING})


class UserAgent:
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
        media: MediaFactory | None = None,
        store: Store | None = None,
        rel100: Rel100 = "supported",
        early_media: bool = False,
        limits: Limits | None = None,
        transport_limits: TransportLimits | None = None,
        user_agent: str | None = capabilities.USER_AGENT,
        out_of_dialog_refer: Literal["never", "server", "anyone"] = "server",
    ) -> None:
        self.accounts: list[Account] = list(accounts)
        self.store = store
        if listen is None:
            listen = [("UDP", "0.0.0.0", 0), ("TCP", "0.0.0.0", 0)]
        if tls is None:
            cafile = next((a.ca_file for a in self.accounts if a.ca_file), None)
            tls = TlsSettings(cafile=cafile)
        for account in self.accounts:
            tls.pinned.update(account.tls_fingerprints)
        self.tls = tls
        self.audio = audio if audio is not None else AudioConfig()
        self.retry = retry if retry is not None else RetryPolicy()
        self.media_host = media_host
        self.busy = busy
        self.session_expires = session_expires
        self.min_se = min_se
        self.keepalive = keepalive
        self.media = media
        self.rel100: Rel100 = rel100
        self.early_media = early_media
        self.limits = limits if limits is not None else Limits()
        self.user_agent = user_agent
        self.out_of_dialog_refer = out_of_dialog_refer
        self.allow = ALLOW
        # The newest events for a consumer that reads the queue; the oldest are dropped when nobody does.
        self.events: asyncio.Queue[Event] = asyncio.Queue(maxsize=EVENT_QUEUE_SIZE)
        self.stack = SipStack(
            listen,
            on_request=lambda request, tx, source: self.router.on_request(request, tx, source),
            on_stray_response=lambda response, source: self.call_manager.stray_response(response),
            on_flow_failed=self._on_flow_failed,
            timers=timers,
            tls=tls,
            screen=lambda request, source: self.router.screen(request, source),
            limits=transport_limits,
        )
        self._subscribers: list[Subscriber] = []
        self._registrations: dict[str, Registration] = {}
        self._digests: dict[str, DigestClient] = {}
        self.router = RequestRouter(self)
        self.call_manager = CallManager(self)
        self.subscriptions = Subscriptions(self)
        self.trace = SipTrace(self.stack.transport)
        self._closers: list[Callable[[], Awaitable[None]]] = []
        # -- services: each takes its requests and events through the hooks above --
        self.mwi = MwiService(self)
        self.dialog_state = DialogStateService(self)
        self.messaging = MessagingService(self)
        self.presence = PresenceService(self)
        self._resolver: SipResolver | None = None
        # Where each account's server resolved to: (host, port) pairs its relayed requests come from.
        self._server_addresses: dict[str, set[tuple[str, int]]] = {}
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
        await self.call_manager.hangup_all()
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

    # --- the loop, for services -------------------------------------------------------

    def now(self) -> float:
        return self.stack.now()

    @property
    def running(self) -> bool:
        return self._started

    def call_later(self, delay: float, callback: Callable[..., object], *args: object) -> asyncio.TimerHandle:
        return self.stack.loop.call_later(delay, callback, *args)

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        return self.stack.spawn(coroutine, name)

    async def run_blocking(self, function: Callable[..., _T], *args: object) -> _T:
        """Run ``function(*args)`` on a worker thread (a store write, a file) and wait for it."""
        return await self.stack.loop.run_in_executor(None, function, *args)

    def requests_pending(self, method: str) -> bool:
        """True while a ``method`` request of ours still waits for its final response."""
        return any(
            isinstance(tx, ClientTransaction) and tx.method == method and tx.state in _AWAITING_FINAL
            for tx in self.stack.transactions
        )

    # --- accounts and registration -------------------------------------------------

    def add_account(self, account: Account) -> None:
        self.accounts.append(account)

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
        return self.registration(aor).contact

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

    def _on_flow_failed(self, error: TransportError) -> None:
        for registration in self._registrations.values():
            if registration.target is not None and registration.target == error.target:
                registration.kick()

    def digest(self, account: Account) -> DigestClient:
        client = self._digests.get(account.aor)
        if client is None:
            client = self._digests[account.aor] = DigestClient(account.username, account.password)
        return client

    # --- addresses ----------------------------------------------------------------

    async def resolve(self, uri: SipUri, account: Account | None = None) -> list[Target]:
        if self._resolver is None:
            try:
                self._resolver = SipResolver(transports=_preference(account))
            except ResolveError:
                self._resolver = SipResolver(nameservers=["127.0.0.1"], transports=_preference(account))
        targets = await self._resolver.resolve(uri)
        if account is not None and account.has_server and uri == account.next_hop:
            # What the account's server resolves to is where its requests may come from.
            self._server_addresses.setdefault(account.aor, set()).update((t.host, t.port) for t in targets)
        return targets

    # --- whom we trust -------------------------------------------------------------

    def from_server(self, source: Source, account: Account) -> bool:
        """True when ``source`` is ``account``'s own registrar or outbound proxy (its address and port).

        A request relayed by our server arrives from the address we send to (UDP) or over the
        connection we opened to it (TCP/TLS); anything else is someone else.
        """
        if not account.has_server:
            return False
        addresses = set(self._server_addresses.get(account.aor, ()))
        named = uri_address(account.next_hop)  # a server named by its IP address needs no lookup
        if named is not None:
            addresses.add(named)
        return from_addresses(source, addresses)

    def may_reach(self, source: Source, account: Account) -> bool:
        """True when a request from ``source`` may reach ``account`` outside a dialog: its server, or
        anyone when the account takes direct ("IP") calls."""
        return account.accepts_direct or self.from_server(source, account)

    def verified_identity(self, request: Request, source: Source, account: Account) -> str | None:
        """Who sent ``request``, as far as it can be known; None when nobody vouches for its From.

        Through our server: the P-Asserted-Identity it added (RFC 3325), else a From in the account's
        own domain (the server authenticates its own users; one of another domain it only relays).
        Directly (an account that takes IP calls): the From only when its host is the address the
        request came from. A From alone is never proof.
        """
        if self.from_server(source, account):
            try:
                asserted = request.asserted_identities
            except SipParseError:
                asserted = []
            if asserted:
                return str(asserted[0].uri)
            claimed = request.from_.uri
            if isinstance(claimed, SipUri) and claimed.host.lower() == account.domain.lower():
                return str(claimed)
            return None
        if not account.accepts_direct:
            return None
        uri = request.from_.uri
        if isinstance(uri, SipUri) and same_address(uri.host, source.remote_host):
            return str(uri)
        return None

    def contact_for(self, account: Account, target: Target) -> NameAddr:
        """Our Contact for requests of ``account`` sent to ``target``."""
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

    def media_host_for(self, target: Target) -> str:
        """The address our SDP offers for media when signalling goes to ``target``."""
        if self.media_host is not None:
            return self.media_host
        return self.stack.transport.local_address_for(
            target if target.transport != "TLS" else Target("TCP", target.host, target.port)
        )[0]

    @staticmethod
    def first_hop(account: Account, uri: Uri) -> SipUri:
        """The outbound proxy; else the registrar of a registering account; else (no server) the URI itself."""
        if account.outbound_proxy is not None or account.register or not isinstance(uri, SipUri):
            return account.next_hop
        return uri.replace(headers=[])

    async def hop_target(self, request: Request, account: Account, *, via_proxy: bool = True) -> Target | None:
        """Where an in-dialog ``request`` goes: the account's outbound proxy (calls keep their flow through it,
        ``via_proxy``), else its first Route, else its Request-URI."""
        proxy = account.outbound_proxy_uri if via_proxy else None
        hop: Uri = request.uri
        if proxy is not None:
            hop = proxy
        else:
            routes = request.routes
            if routes:
                hop = routes[0].uri
        if not isinstance(hop, SipUri):
            log.info("cannot send %s: next hop %s is not a SIP URI", request.method, hop)
            return None
        try:
            targets = await self.resolve(hop, account)
        except TransportError as exc:
            log.info("cannot resolve %s: %s", hop, exc)
            return None
        return targets[0]

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

    # --- calls ---------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """The calls that have not ended, oldest first."""
        return self.call_manager.calls

    def find_call(self, call_id: str | None = None) -> Call:
        """A call by short id or SIP Call-ID; without one, the only or most recent call."""
        return self.call_manager.find(call_id)

    async def call(self, uri: str, account: str | None = None, *, headers: Sequence[tuple[str, str]] = ()) -> Call:
        """Call ``uri`` (``sip:bob@example.com``, ``bob@example.com`` or ``bob`` at the account's domain)."""
        return await self.call_manager.dial(uri, self.account(account), headers)

    async def answer(self, call_id: str | None = None) -> None:
        """Answer a ringing incoming call (200 with our SDP answer)."""
        call = self.call_manager.ringing(call_id)
        self.call_manager.run(call, call.machine.answer())

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

    def add_closer(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run ``closer`` at :meth:`stop`, before subscriptions end and accounts unregister (last added first)."""
        self._closers.append(closer)

    def add_request_handler(self, method: str, handler: RequestHandler) -> None:
        """Let ``handler`` take ``method`` requests before the UA's own handling (see :data:`RequestHandler`)."""
        self.router.add_handler(method, handler)

    # --- requests of services (subscriptions, presence, messaging) ---------------------------

    def reply(self, tx: ServerTransaction, status_code: int, reason: str | None = None, **kwargs: Any) -> Response:
        """Answer a request a service took."""
        return self.stack.reply(tx, status_code, reason, **kwargs)

    def respond(self, tx: ServerTransaction, response: Response) -> None:
        self.stack.respond(tx, response)

    def keep_dialog(self, dialog: Dialog) -> None:
        """Route requests of ``dialog`` (a subscription's) to the services instead of answering 481."""
        if self.router.dialogs.get(dialog.id) is None:
            self.router.dialogs.add(dialog)

    def forget_dialog(self, dialog: Dialog) -> None:
        self.router.dialogs.discard(dialog.id)

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
        hop = self.first_hop(account, uri)
        try:
            targets = await self.resolve(hop, account)
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
                fields.append(("Contact", str(self.contact_for(account, target))))
            if self.user_agent:
                fields.append(("User-Agent", self.user_agent))
            fields += headers
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
                authorization = self._authorize(account, request, response)
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
        request = dialog.create_request(method, body=body, content_type=content_type, extra_headers=headers)
        target = await self.hop_target(request, account, via_proxy=False)
        if target is None:
            raise UserAgentError(f"cannot reach the peer of the dialog for {method}")
        try:
            response = await self.stack.request(request, target)
            if response.status_code in (401, 407):
                authorization = self._authorize(account, request, response)
                if authorization is not None and not dialog.terminated:
                    request = dialog.create_request(
                        method, body=body, content_type=content_type, extra_headers=[*headers, authorization]
                    )
                    response = await self.stack.request(request, target)
        except TransportError as exc:
            raise UserAgentError(f"cannot send {method}: {exc}") from exc
        try:
            dialog.receive_response(response)
        except ValueError:
            if response.status_code in (408, 481):
                dialog.terminate()
        return response

    def _authorize(self, account: Account, request: Request, response: Response) -> tuple[str, str] | None:
        try:
            challenges = response.www_authenticate if response.status_code == 401 else response.proxy_authenticate
            challenge = choose_challenge(challenges)
        except SipParseError:
            return None
        if challenge is None:
            return None
        name = "Authorization" if response.status_code == 401 else "Proxy-Authorization"
        try:
            return name, self.digest(account).authorization(challenge, request.method, str(request.uri), request.body)
        except SipParseError:
            return None


def _preference(account: Account | None) -> tuple[str, ...]:
    order = ["UDP", "TCP", "TLS"]
    if account is not None:
        preferred = account.transport.upper()
        order.remove(preferred)
        order.insert(0, preferred)
    return tuple(order)


def parse_address(text: str) -> NameAddr:
    """A display-name and URI as typed (``"Bob" <sip:bob@example.com>``)."""
    return parse_name_addr(text)


__all__ = [
    "CallEvent",
    "RegistrationEvent",
    "UserAgent",
    "UserAgentError",
]

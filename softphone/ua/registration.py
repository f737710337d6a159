"""Registration of one account (RFC 3261 10): digest, refresh, 423, failover and back-off.

Behind a NAT, and over UDP, the Contact we register names the address the
registrar saw the REGISTER come from (the top Via's received and rport, RFC
3581), so that requests reach us through the NAT whether or not the server
fixes NATed contacts itself. Between refreshes the flow is checked every
``probe`` seconds: our local address towards the registrar, and (UDP) where
the registrar sees us, from the Via of an OPTIONS it answers (RFC 3261 11).
When either changed (a laptop that changed network, a NAT that lost its
mapping) the account registers again at once with the new Contact, removing
the old one, and ``on_moved`` tells the user agent, which moves its calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from softphone.sip.addr import NameAddr
from softphone.sip.auth import DigestClient, choose_challenge
from softphone.sip.dialog import new_tag, via_placeholder
from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.transaction import LocalResponse, new_branch
from softphone.sip.uri import SipUri
from softphone.transport import Target, TlsError, TransportError
from softphone.ua.account import Account
from softphone.ua.events import RegistrationEvent, RegistrationState
from softphone.ua.stack import SipStack, is_failover

log = logging.getLogger("softphone.ua.registration")

MAX_AUTH_ROUNDS = 3
MAX_MIN_EXPIRES_ROUNDS = 2


@dataclass(frozen=True)
class RetryPolicy:
    """Back-off after a failed registration: ``first`` seconds, doubling up to ``maximum``."""

    first: float = 2.0
    maximum: float = 60.0

    def delays(self) -> Callable[[], float]:
        current = self.first

        def step() -> float:
            nonlocal current
            delay = current
            current = min(current * 2, self.maximum)
            return delay

        return step


def refresh_interval(expires: int) -> float:
    """When to refresh a binding granted for ``expires`` seconds: half-way, or 5 s early for short ones."""
    if expires >= 60:
        return expires / 2
    return max(expires - 5, expires / 2, 0.5)


@dataclass
class Outcome:
    ok: bool
    code: int | None
    reason: str
    expires: int | None = None
    # The registrar wants credentials we do not have, or refused the ones we sent.
    needs_password: bool = False


PASSWORD_NEEDED = "a password is needed"


class Registration:
    """The REGISTER client of one account; runs as one task between :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        stack: SipStack,
        account: Account,
        *,
        resolve: Callable[[SipUri], Awaitable[list[Target]]],
        contact_for: Callable[[Target], NameAddr],
        emit: Callable[[RegistrationEvent], None],
        retry: RetryPolicy,
        keepalive: float | None = None,
        probe: float | None = None,
        learn_public: Callable[[Target, tuple[str, int] | None], None] | None = None,
        on_moved: Callable[[str], None] | None = None,
    ) -> None:
        self.stack = stack
        self.account = account
        self._resolve = resolve
        self._contact_for = contact_for
        self._emit_event = emit
        self.retry = retry
        self.keepalive = keepalive
        self._keepalive_target: Target | None = None
        self.probe = probe
        self._learn_public = learn_public
        self._on_moved = on_moved
        # Where the registrar sees our UDP flow (None: where we think we are), and our side of the flow.
        self.public: tuple[str, int] | None = None
        self._local: tuple[str, int] | None = None
        # Why the flow moved, until the registration that follows succeeds and the user agent is told.
        self._moved: str | None = None
        # The Contact registered before the flow moved, to remove with the next registration.
        self._stale: NameAddr | None = None
        self.digest = DigestClient(account.username, account.password)
        self.call_id = f"{secrets.token_hex(12)}@softphone"
        self.from_tag = new_tag()
        self.cseq = 0
        self.state: RegistrationState = "unregistered"
        self.expires: int | None = None
        self.target: Target | None = None
        self.contact: NameAddr | None = None
        # Why the last attempt could not use TLS (reason, certificate fingerprint), until one succeeds.
        self.tls_error: TlsError | None = None
        self._requested = account.expires
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    # --- commands -------------------------------------------------------------

    def start(self) -> None:
        """Register now and keep the binding fresh (or re-register now when already running)."""
        if self._task is None or self._task.done():
            self._task = self.stack.spawn(self._run(), name=f"register {self.account}")
        else:
            self._wake.set()

    def kick(self) -> None:
        """Re-register at once (the flow to the registrar failed)."""
        if self._task is not None and not self._task.done():
            self._wake.set()

    def set_password(self, password: str) -> None:
        """Use ``password`` from now on (the account's is updated by the caller); registers again at once."""
        self.digest = DigestClient(self.account.username, password)
        self.start()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop refreshing and remove the binding (Expires: 0) if there is one."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._stop_keepalive()
        if self.state == "registered":
            async with self._lock:
                outcome = await self._register_once(0)
            self.expires = None
            self.target = None
            self._set("unregistered", outcome.code, outcome.reason)
        elif self.state != "unregistered":
            self._set("unregistered", None, "stopped")

    # --- the loop ---------------------------------------------------------------

    async def _run(self) -> None:
        next_delay = self.retry.delays()
        while True:
            if self.state != "registered":
                self._set("registering", None, "")
            async with self._lock:
                outcome = await self._register_once(self._requested)
            wait: float | None
            if outcome.ok:
                next_delay = self.retry.delays()
                self._start_keepalive()
                self.expires = outcome.expires
                self._set("registered", outcome.code, outcome.reason, outcome.expires)
                wait = refresh_interval(outcome.expires or self._requested)
                moved, self._moved = self._moved, None
                if moved is not None and self._on_moved is not None:
                    self._on_moved(moved)
            else:
                self.expires = None
                # Without a password nothing would change: the next try waits for one (or for register()).
                # Refused credentials are tried again after the back-off: servers do refuse good ones
                # now and then (a locked user database), and the back-off keeps a lockout away.
                wait = None if outcome.needs_password and not self.account.password else next_delay()
                self._set("failed", outcome.code, outcome.reason, retry_in=wait, needs_password=outcome.needs_password)
                log.info(
                    "registration of %s failed (%s %s); %s",
                    self.account,
                    outcome.code,
                    outcome.reason,
                    "waiting for a password" if wait is None else f"retry in {wait:.1f} s",
                )
            self._wake.clear()
            await self._wait(wait, probing=outcome.ok)

    async def _wait(self, wait: float | None, *, probing: bool) -> None:
        """Until the next registration is due, or wanted (:meth:`kick`, :meth:`start`, a moved flow)."""
        loop = asyncio.get_running_loop()
        deadline = None if wait is None else loop.time() + wait
        while True:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return
            step = left if not probing or self.probe is None else min(self.probe, left or self.probe)
            try:
                await asyncio.wait_for(self._wake.wait(), step)
                return
            except TimeoutError:
                pass
            if probing and self.probe is not None and (deadline is None or loop.time() < deadline):
                async with self._lock:
                    moved = await self._probe()
                if moved is not None:
                    log.info("%s: %s; registering again", self.account, moved)
                    self._moved = moved
                    return

    async def _probe(self) -> str | None:
        """Why the flow to the registrar is no longer where we registered it, or None."""
        target = self.target
        if target is None:
            return None
        try:
            local = self.stack.transport.local_address_for(target)
        except TransportError as exc:
            return f"no way to the registrar any more ({exc})"
        if self._local is not None and local != self._local:
            self._stale = self.contact
            self._set_public(target, None)
            return f"our address changed from {_shown(self._local)} to {_shown(local)}"
        if target.transport != "UDP":
            return None
        response = await self.stack.request(self._options(target), target)
        if isinstance(response, LocalResponse):
            return f"the registrar does not answer ({response.status_code} {response.reason})"
        seen = _seen_at(response)
        if seen is not None and self.public is not None and seen != self.public:
            old, self._stale = self.public, self.contact
            self._set_public(target, seen)
            return f"the registrar sees us at {_shown(seen)} now, not at {_shown(old)}"
        return None

    def _set_public(self, target: Target, address: tuple[str, int] | None) -> None:
        self.public = address
        if self._learn_public is not None:
            self._learn_public(target, address)

    def _options(self, target: Target) -> Request:
        """An OPTIONS to the registrar itself (RFC 3261 11): its answer's Via says where it sees us."""
        self.cseq += 1
        account = self.account
        aor = NameAddr(uri=account.uri.replace(params={}, headers=[]))
        fields = [
            ("Via", via_placeholder(new_branch())),
            ("Max-Forwards", "70"),
            ("From", str(NameAddr(uri=aor.uri, params={"tag": self.from_tag}))),
            ("To", f"<{account.registrar_uri}>"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} OPTIONS"),
            ("Accept", "application/sdp"),
            ("User-Agent", USER_AGENT),
        ]
        return Request("OPTIONS", account.registrar_uri, fields)

    def _start_keepalive(self) -> None:
        """RFC 5626 4.4.1: keep the flow to the registrar alive, and learn soon when it fails."""
        if self.keepalive is None or self.target is None or self.target == self._keepalive_target:
            return
        self._stop_keepalive()
        try:
            self.stack.transport.start_keepalive(self.target, self.keepalive)
        except TransportError as exc:
            log.info("no keep-alive to %s: %s", self.target, exc)
            return
        self._keepalive_target = self.target

    def _stop_keepalive(self) -> None:
        if self._keepalive_target is not None:
            self.stack.transport.stop_keepalive(self._keepalive_target)
            self._keepalive_target = None

    def _set(
        self,
        state: RegistrationState,
        code: int | None,
        reason: str,
        expires: int | None = None,
        *,
        retry_in: float | None = None,
        needs_password: bool = False,
    ) -> None:
        self.state = state
        problem = self.tls_error if state == "failed" else None
        self._emit_event(
            RegistrationEvent(
                self.account.aor,
                state,
                code,
                reason,
                expires,
                str(problem.reason) if problem is not None else None,
                problem.fingerprint if problem is not None else None,
                retry_in,
                needs_password,
            )
        )

    # --- one registration ---------------------------------------------------------

    async def _register_once(self, expires: int) -> Outcome:
        try:
            targets = await self._resolve(self.account.next_hop)
        except TransportError as exc:
            return Outcome(False, None, str(exc))
        if self.target is not None and self.target in targets:
            # Stay with the registrar that holds our binding.
            targets.remove(self.target)
            targets.insert(0, self.target)
        last = Outcome(False, None, "no registrar to send to")
        tls_failure: Outcome | None = None
        for target in targets:
            if target.transport == "TLS":
                try:
                    await self.stack.transport.connect(target)
                except TlsError as exc:
                    # An untrusted, misnamed or expired certificate is for the user to judge, not "no answer".
                    log.info("registrar %s: %s", target, exc)
                    self.tls_error = exc
                    tls_failure = tls_failure or Outcome(False, None, str(exc))
                    continue
                except TransportError:
                    pass  # the REGISTER meets the same failure and fails over
            outcome = await self._register_at(target, expires)
            if outcome is not None:
                if outcome.ok:
                    self.target = target
                    self.tls_error = None
                return outcome
            last = Outcome(False, 503, self.stack.transport.tls_ending(target) or f"no answer from {target}")
        return tls_failure or last

    async def _register_at(self, target: Target, expires: int) -> Outcome | None:
        """The outcome at one registrar; None to try the next one (RFC 3263 4.3)."""
        try:
            contact = self._contact_for(target)
        except TransportError as exc:
            return Outcome(False, None, str(exc))
        self.contact = contact
        authorization: tuple[str, str] | None = None
        used_nonces: set[str] = set()
        auth_rounds = min_expires_rounds = 0
        stale, self._stale = self._stale, None
        # Contacts of ours that nobody can reach any more: removed (expires=0) in the same REGISTER.
        removed = [stale] if stale is not None and stale.uri != contact.uri and expires != 0 else []
        rewritten = False
        while True:
            request = self._build(target, contact, expires, authorization, removed)
            response = await self.stack.request(request, target)
            code = response.status_code
            if is_failover(response):
                log.info("registrar %s: %d %s", target, code, response.reason)
                return None
            if code in (401, 407):
                try:
                    challenges = response.www_authenticate if code == 401 else response.proxy_authenticate
                    challenge = choose_challenge(challenges)
                except SipParseError:
                    challenge = None
                if challenge is None or challenge.nonce is None:
                    return Outcome(False, code, f"{response.reason} (no usable challenge)")
                if not self.account.password:
                    # Credentials made of an empty password are wrong ones: ask for the password instead.
                    return Outcome(False, code, PASSWORD_NEEDED, needs_password=True)
                # A challenge after our credentials that is not stale=true means they were wrong.
                stale_retry = authorization is not None and challenge.stale
                if (authorization is not None and not stale_retry) or challenge.nonce in used_nonces:
                    return Outcome(False, code, response.reason or "authentication failed", needs_password=True)
                auth_rounds += 1
                if auth_rounds > MAX_AUTH_ROUNDS:
                    return Outcome(False, code, response.reason)
                used_nonces.add(challenge.nonce)
                name = "Authorization" if code == 401 else "Proxy-Authorization"
                try:
                    value = self.digest.authorization(challenge, "REGISTER", str(request.uri))
                except SipParseError as exc:
                    return Outcome(False, code, str(exc))
                authorization = (name, value)
                continue
            if code == 423 and expires != 0:
                minimum = _min_expires(response)
                min_expires_rounds += 1
                if minimum is None or minimum <= expires or min_expires_rounds > MAX_MIN_EXPIRES_ROUNDS:
                    return Outcome(False, code, response.reason)
                # RFC 3261 10.2.8: retry with at least Min-Expires.
                expires = self._requested = minimum
                continue
            if 200 <= code < 300:
                if expires != 0 and not rewritten:
                    moved = self._public_contact(target, contact, response)
                    if moved is not None:
                        # Register where the registrar sees us, and take the unreachable Contact away.
                        rewritten = True
                        removed.append(contact)
                        contact = moved
                        self.contact = contact
                        continue
                try:
                    self._local = self.stack.transport.local_address_for(target)
                except TransportError:
                    self._local = None
                return Outcome(True, code, response.reason, self._granted(response, contact, expires))
            return Outcome(False, code, response.reason)

    def _public_contact(self, target: Target, contact: NameAddr, response: Response) -> NameAddr | None:
        """The Contact to register instead of ``contact`` when the registrar saw the REGISTER come from another
        address (a NAT on the way); None when ``contact`` is right."""
        seen = _seen_at(response) if target.transport == "UDP" else None
        uri = contact.uri
        if seen is None or not isinstance(uri, SipUri) or (uri.host, uri.port) == seen:
            return None
        if self.public is not None and self.public != seen and self._moved is None:
            self._moved = f"the registrar sees us at {_shown(seen)} now, not at {_shown(self.public)}"
        log.info("%s: the registrar sees us at %s, not %s:%s", self.account, _shown(seen), uri.host, uri.port)
        self._set_public(target, seen)
        try:
            moved = self._contact_for(target)
        except TransportError:
            return None
        return None if moved.uri == uri else moved

    def _build(
        self,
        target: Target,
        contact: NameAddr,
        expires: int,
        authorization: tuple[str, str] | None,
        removed: Sequence[NameAddr] = (),
    ) -> Request:
        self.cseq += 1
        account = self.account
        aor = NameAddr(uri=account.uri.replace(params={}, headers=[]), display_name=account.display_name)
        from_ = NameAddr(uri=aor.uri, display_name=aor.display_name, params={"tag": self.from_tag})
        fields = [("Via", via_placeholder(new_branch()))]
        proxy = account.outbound_proxy_uri
        if proxy is not None:
            fields.append(("Route", f"<{proxy.replace(params={**proxy.params, 'lr': None})}>"))
        fields += [
            ("Max-Forwards", "70"),
            ("From", str(from_)),
            ("To", str(aor)),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} REGISTER"),
            ("Contact", str(contact)),
            *(("Contact", f"{stale};expires=0") for stale in removed),
            ("Expires", str(expires)),
            ("Allow", ALLOW),
            ("User-Agent", USER_AGENT),
        ]
        if authorization is not None:
            fields.append(authorization)
        return Request("REGISTER", account.registrar_uri, fields)

    def _granted(self, response: Response, contact: NameAddr, requested: int) -> int:
        try:
            contacts = response.contacts
            for item in contacts:
                if item.uri == contact.uri and item.expires is not None:
                    return item.expires
            header = response.expires
        except SipParseError:
            return requested
        if header is not None:
            return header
        if len(contacts) == 1 and contacts[0].expires is not None:
            return contacts[0].expires
        return requested


def _seen_at(response: Response) -> tuple[str, int] | None:
    """Where the registrar saw our request come from (its Via received/rport), when it says."""
    try:
        host, port = response.via.seen_at
    except SipParseError:
        return None
    return (host, port) if port is not None else None


def _shown(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _min_expires(response: Response) -> int | None:
    try:
        return response.min_expires
    except SipParseError:
        return None


ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, SUBSCRIBE, MESSAGE"
USER_AGENT = "softphone"

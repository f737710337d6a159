"""A SIP endpoint: its addresses, whom it trusts, and the requests it sends outside calls.

:class:`SipEndpoint` is the base of :class:`~softphone.ua.agent.UserAgent`:
server location and digest credentials per account, our Contact and media
address for a target, the next hop of a request in or out of a dialog, what
the user typed as an address, which sources are an account's own server and
whose identity is vouched for, and the requests the services send (one
digest challenge answered). It also lends the services the loop's clock.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import socket
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from softphone.sip.addr import NameAddr
from softphone.sip.auth import DigestClient, choose_challenge
from softphone.sip.dialog import Dialog, new_tag, via_placeholder
from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response
from softphone.sip.transaction import ClientTransaction, ServerTransaction, new_branch
from softphone.sip.transaction import State as TransactionState
from softphone.sip.uri import AbsoluteUri, SipUri, Uri, parse_uri
from softphone.transport import ResolveError, SipResolver, Source, Target, TransportError
from softphone.ua.account import Account
from softphone.ua.capabilities import TEXT_PLAIN
from softphone.ua.errors import UserAgentError
from softphone.ua.stack import SipStack
from softphone.ua.trust import from_addresses, same_address, uri_address

__all__ = ["SipEndpoint"]

log = logging.getLogger("softphone.ua")

_T = TypeVar("_T")
# An IP address, or a host with a port, typed without a user: the address of a device, not a user name.
_HOST_RE = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?|[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?::[0-9]{1,5})?|[A-Za-z0-9.\-]+:[0-9]{1,5})$"
)
AWAITING_FINAL = frozenset({TransactionState.CALLING, TransactionState.TRYING, TransactionState.PROCEEDING})


class SipEndpoint:
    """Addresses, trust and outgoing requests of the accounts on one :class:`SipStack`."""

    def __init__(
        self, accounts: list[Account], stack: SipStack, *, media_host: str | None, user_agent: str | None
    ) -> None:
        self.accounts = accounts
        self.stack = stack
        self.media_host = media_host
        self.user_agent = user_agent
        self._digests: dict[str, DigestClient] = {}
        self._resolver: SipResolver | None = None
        # Where each account's server resolved to: (host, port) pairs its relayed requests come from.
        self._server_addresses: dict[str, set[tuple[str, int]]] = {}
        # Where each account's registrar sees its UDP flow, when that is not our own address (a NAT).
        self._public: dict[tuple[str, tuple[str, str, int]], tuple[str, int]] = {}
        self._started = False

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
            isinstance(tx, ClientTransaction) and tx.method == method and tx.state in AWAITING_FINAL
            for tx in self.stack.transactions
        )

    def digest(self, account: Account) -> DigestClient:
        client = self._digests.get(account.aor)
        if client is None:
            client = self._digests[account.aor] = DigestClient(account.username, account.password)
        return client

    # --- addresses ----------------------------------------------------------------

    def listening(self, transport: str, ipv6: bool = False) -> tuple[str, int] | None:
        """The (address, port) we listen on for ``transport`` (``UDP``, ``TCP``) over IPv4 or IPv6; None when
        we do not (a wildcard address stays a wildcard)."""
        family = socket.AF_INET6 if ipv6 else socket.AF_INET
        try:
            return self.stack.transport.local_address(transport, family)
        except TransportError:
            return None

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

    def contact_for(self, account: Account, target: Target, *, secure: bool = False) -> NameAddr:
        """Our Contact for requests of ``account`` sent to ``target``; a ``sips:`` one when the account's
        address is one or ``secure`` (RFC 3261 8.1.1.8, 12.1.1: the request's URI was ``sips:``)."""
        transport = target.transport
        public = self._public.get((account.aor, target.key)) if transport == "UDP" else None
        try:
            host, port = public or self.stack.transport.local_address_for(target)
        except TransportError:
            if transport != "TLS":
                raise
            # No TLS listener: the server reaches us over the connection we opened (it aliases the Contact).
            host, port = self.stack.transport.local_address_for(Target("TCP", target.host, target.port))
        scheme = "sips" if account.uri.scheme == "sips" or secure else "sip"
        params: dict[str, str | None] = {}
        # RFC 5630 3.2: a sips: URI says TLS by itself; transport=tls is deprecated.
        if transport != "UDP" and not (scheme == "sips" and transport == "TLS"):
            params["transport"] = transport.lower()
        return NameAddr(uri=SipUri(scheme=scheme, user=account.user, host=host, port=port, params=params))

    def learn_public(self, account: Account, target: Target, address: tuple[str, int] | None) -> None:
        """Our Contact towards ``target`` names ``address`` from now on (where the server sees us through a
        NAT, RFC 3581); None: our own address again."""
        if address is None:
            self._public.pop((account.aor, target.key), None)
        else:
            self._public[(account.aor, target.key)] = address

    def media_host_for(self, target: Target) -> str:
        """The address our SDP offers for media when signalling goes to ``target``."""
        if self.media_host is not None:
            return self.media_host
        try:
            return self.stack.transport.local_address_for(target)[0]
        except TransportError:
            if target.transport != "TLS":
                raise
            # No TLS listener: the address of the TCP one (the same host either way).
            return self.stack.transport.local_address_for(Target("TCP", target.host, target.port))[0]

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
            raise UserAgentError("there is no address")
        typed = text
        if not text.lower().startswith(("sip:", "sips:", "tel:")):
            if "@" not in text and _HOST_RE.match(text):
                text = f"sip:{text}"  # a device by its address: 192.0.2.7, 192.0.2.7:5062, [2001:db8::7]
            elif ":" not in text.split("@")[0]:
                text = f"sip:{text}" if "@" in text else f"sip:{text}@{account.domain}"
        try:
            uri = parse_uri(text)
        except SipParseError as exc:
            shown = " ".join(typed.split())[:80]
            raise UserAgentError(
                f"“{shown}” is not an address (type a name, a number, user@host, host:port or a sip: address)"
            ) from exc
        if isinstance(uri, AbsoluteUri):
            raise UserAgentError(f"a {uri.scheme}: address is not something to {purpose}")
        return uri

    # --- requests of services (subscriptions, presence, messaging) ---------------------------

    def reply(self, tx: ServerTransaction, status_code: int, reason: str | None = None, **kwargs: Any) -> Response:
        """Answer a request a service took."""
        return self.stack.reply(tx, status_code, reason, **kwargs)

    def respond(self, tx: ServerTransaction, response: Response) -> None:
        self.stack.respond(tx, response)

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
                sips = isinstance(uri, SipUri) and uri.scheme == "sips"
                fields.append(("Contact", str(self.contact_for(account, target, secure=sips))))
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

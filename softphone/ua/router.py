"""Where each incoming request goes: checks of RFC 3261 8.2, then calls, subscriptions or services."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from softphone.sip.dialog import DialogTable, needs_481
from softphone.sip.message import Request, Response
from softphone.sip.transaction import ServerInviteTransaction, ServerTransaction, make_response
from softphone.sip.uri import AbsoluteUri, SipUri
from softphone.transport import LimitLog, Source
from softphone.ua.account import Account
from softphone.ua.capabilities import ACCEPTED_TYPES, KNOWN_METHODS, SDP, SUPPORTED_METHODS
from softphone.ua.host import RequestHandler
from softphone.ua.limits import RateLimiter

if TYPE_CHECKING:
    from softphone.ua.agent import UserAgent

__all__ = ["CALL_METHODS", "RequestRouter"]

log = logging.getLogger("softphone.ua")

# Methods a call's dialog takes; other requests with a To tag go to the services' dialogs.
CALL_METHODS = frozenset({"INVITE", "BYE", "UPDATE", "PRACK", "INFO", "REFER", "NOTIFY"})


class RequestRouter:
    """Answers what no one may take, and hands the rest to the calls, the subscriptions or a service."""

    def __init__(self, ua: UserAgent) -> None:
        self.ua = ua
        # Dialogs of subscriptions and services (the calls keep their own), for RFC 3261 12.2.2's 481.
        self.dialogs = DialogTable()
        self._handlers: dict[str, list[RequestHandler]] = {}
        limits = ua.limits
        self._rate = RateLimiter(limits.requests_per_second, limits.request_burst, limits.sources)
        self.dropped = LimitLog(limits.log_interval)

    def screen(self, request: Request, source: Source) -> bool:
        """Whether a new request gets an answer at all (see :class:`~softphone.ua.stack.SipStack`).

        Dropped without a word: requests outside our dialogs from a source no account may be
        reached from (a scanner finds nothing), and a source sending faster than its token
        bucket allows (our own servers are not limited).
        """
        ua = self.ua
        now = ua.stack.now()
        trusted = any(ua.from_server(source, account) for account in ua.accounts)
        if not trusted and not self._rate.allow(source.remote_host, now):
            self.dropped.note("requests dropped: over the rate limit", str(source))
            return False
        if trusted or any(account.accepts_direct for account in ua.accounts) or self._known_dialog(request):
            return True
        self.dropped.note("requests from strangers dropped", str(source))
        return False

    def _known_dialog(self, request: Request) -> bool:
        to_tag = request.to.tag
        if to_tag is None:
            return request.method == "CANCEL" and self.ua.stack.transactions.find_cancelled(request) is not None
        if self.ua.call_manager.by_dialog(request.call_id, to_tag) is not None:
            return True
        return (
            self.dialogs.match_request(request) is not None
            or self.dialogs.find_set(request.call_id, to_tag) is not None
        )

    def add_handler(self, method: str, handler: RequestHandler) -> None:
        self._handlers.setdefault(method, []).append(handler)

    def on_request(self, request: Request, tx: ServerTransaction | None, source: Source) -> None:
        ua = self.ua
        calls = ua.call_manager
        method = request.method
        if tx is None:
            calls.ack(request, source)
            return
        problem = self.check(request)
        if problem is not None:
            ua.stack.respond(tx, problem)
            return
        if method == "CANCEL":
            calls.cancel(request, tx, source)
            return
        if method == "NOTIFY" and ua.subscriptions.handle_notify(request, tx):
            return
        if request.to.tag is None and method != "BYE":
            account = self.account_for(request)
            if account is None:
                if method == "OPTIONS" and isinstance(request.uri, SipUri) and request.uri.user is None:
                    # A question about the device, not about a user (a server's keep-alive, RFC 3261 11).
                    self.reply_options(tx)
                elif method == "SUBSCRIBE" and not self._serves(request):
                    # RFC 6665 4.2.1.1: a package nobody here serves is a Bad Event, whoever it is for.
                    ua.stack.reply(tx, 489, headers=[("Allow-Events", ua.subscriptions.allow_events)])
                else:
                    ua.stack.reply(tx, 404)
                return
            if not ua.may_reach(source, account):
                # The account takes requests only from its server.
                self.dropped.note(f"{method}s for {account.aor} not through its server dropped", str(source))
                ua.stack.transactions.discard(tx)
                return
        if method not in ("INVITE", "BYE") and self._dispatch(request, tx, source):
            return
        if request.to.tag is not None or method == "BYE":
            self._in_dialog(request, tx, source)
            return
        if method == "INVITE":
            assert account is not None and isinstance(tx, ServerInviteTransaction)
            calls.incoming(request, tx, source, account)
        elif method == "OPTIONS":
            self.reply_options(tx)
        elif method == "REFER" and account is not None:
            calls.refer_out_of_dialog(request, tx, source, account)
        else:
            code = 481 if method in ("INFO", "UPDATE", "NOTIFY", "PRACK") else 405
            ua.stack.reply(tx, code, headers=[("Allow", ua.allow)])

    def _in_dialog(self, request: Request, tx: ServerTransaction, source: Source) -> None:
        ua = self.ua
        method = request.method
        if ua.call_manager.by_dialog(request.call_id, request.to.tag or "") is not None:
            if method in CALL_METHODS:
                ua.call_manager.in_dialog(request, tx, source)
            elif method == "OPTIONS":
                self.reply_options(tx)
            else:
                ua.stack.reply(tx, 405, headers=[("Allow", ua.allow)])
        elif needs_481(request, self.dialogs) or request.to.tag is None:
            ua.stack.reply(tx, 481)
        else:
            # A dialog of a subscription that no service took this request for.
            ua.stack.reply(tx, 200 if method == "BYE" else 481)

    def _dispatch(self, request: Request, tx: ServerTransaction, source: Source) -> bool:
        ua = self.ua
        method = request.method
        account = self.account_for(request) if request.to.tag is None else self._dialog_account(request)
        if method == "SUBSCRIBE":
            if account is None:
                ua.stack.reply(tx, 404)
            else:
                ua.subscriptions.handle_subscribe(request, tx, source, account)
            return True
        if account is not None:
            for handler in self._handlers.get(method, ()):
                try:
                    if handler(request, tx, source, account):
                        return True
                except Exception:
                    log.exception("%s handler failed", method)
                    ua.stack.reply(tx, 500)
                    return True
        if method == "MESSAGE" or (method == "NOTIFY" and request.to.tag is None):
            ua.stack.reply(tx, 404 if account is None else 489 if method == "NOTIFY" else 405)
            return True
        return False

    def check(self, request: Request) -> Response | None:
        """RFC 3261 8.2.1-8.2.3: the response to a request we cannot take, or None."""
        ua = self.ua
        method = request.method
        if method not in SUPPORTED_METHODS:
            code = 405 if method in KNOWN_METHODS else 501
            return make_response(request, code, headers=[("Allow", ua.allow)])
        if not isinstance(request.uri, SipUri):
            if isinstance(request.uri, AbsoluteUri) or method != "INVITE":
                return make_response(request, 416)
        if method != "CANCEL":
            supported = ua.call_manager.config().supported
            unknown = [option for option in request.require if option.lower() not in supported]
            if unknown:
                return make_response(request, 420, headers=[("Unsupported", ", ".join(unknown))])
        if method == "INVITE" and not _accepts_sdp(request):
            # RFC 3261 21.4.7: the caller can't take the SDP our responses would carry.
            return make_response(request, 406, headers=[("Accept", SDP)])
        if request.body and not (method == "NOTIFY" and ua.subscriptions.owns(request)):
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

    def reply_options(self, tx: ServerTransaction) -> None:
        ua = self.ua
        headers = [
            ("Allow", ua.allow),
            ("Accept", SDP),
            ("Supported", ", ".join(ua.call_manager.config().supported)),
            ("Allow-Events", ua.subscriptions.allow_events or "refer"),
        ]
        ua.stack.reply(tx, 200, headers=headers)

    def account_for(self, request: Request) -> Account | None:
        """The account a request outside a dialog is for: its Request-URI's user (our AOR or Contact
        both carry it); a Request-URI without a user reaches a LAN account ("IP calls"). None: nobody here."""
        accounts = self.ua.accounts
        uri = request.uri
        if isinstance(uri, SipUri) and uri.user is None:
            return next((account for account in accounts if account.accepts_direct), None)
        user = uri.user if isinstance(uri, SipUri) else None
        if user is None:
            # A tel: Request-URI (RFC 3966): the To says whom it is for.
            to_uri = request.to.uri
            user = to_uri.user if isinstance(to_uri, SipUri) else None
        return next((account for account in accounts if account.user == user), None)

    def _serves(self, request: Request) -> bool:
        event = request.event
        served = {name.strip() for name in self.ua.subscriptions.allow_events.split(",")}
        return event is not None and event.package.lower() in served

    def _dialog_account(self, request: Request) -> Account | None:
        """In a dialog, the account is the one the dialog's To (our side) names, else the only one."""
        to_uri = request.to.uri
        user = to_uri.user if isinstance(to_uri, SipUri) else None
        accounts = self.ua.accounts
        return next((a for a in accounts if a.user == user), accounts[0] if len(accounts) == 1 else None)


def _accepts_sdp(request: Request) -> bool:
    accept = request.accept
    if accept is None:
        return True
    mimes = {media.mime.lower() for media in accept}
    return bool(mimes & {SDP, "application/*", "*/*"})

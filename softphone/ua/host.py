"""What a service of the user agent may use of it: :class:`ServiceHost`.

Presence, messaging, message-waiting, dialog state and the subscription
engine reach the user agent only through this protocol: the accounts and
the store, the event bus, sending and answering requests, dialogs kept for
routing, the calls they report on, and the loop's clock and timers. The
:class:`~softphone.ua.agent.UserAgent` implements it; a test may give a
service anything else that does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from softphone.sip.addr import NameAddr
from softphone.sip.dialog import Dialog
from softphone.sip.message import Request, Response
from softphone.sip.transaction import ServerTransaction
from softphone.sip.uri import Uri
from softphone.store import Store
from softphone.transport import Source, Target
from softphone.ua.account import Account
from softphone.ua.events import Event

if TYPE_CHECKING:
    from softphone.ua.call import Call
    from softphone.ua.subscription import Subscriptions

__all__ = ["RequestHandler", "ServiceHost"]

_T = TypeVar("_T")
# Handles a request outside the calls' dialogs: answers it (True) or leaves it to the UA (False).
RequestHandler = Callable[[Request, ServerTransaction, Source, Account], bool]


class ServiceHost(Protocol):
    accounts: list[Account]
    store: Store | None

    @property
    def subscriptions(self) -> Subscriptions: ...

    def account(self, aor: str | None = None) -> Account: ...

    # --- events and hooks ---

    def emit(self, event: Event) -> None: ...

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]: ...

    def add_request_handler(self, method: str, handler: RequestHandler) -> None: ...

    def add_starter(self, starter: Callable[[], None]) -> None: ...

    def add_closer(self, closer: Callable[[], Awaitable[None]]) -> None: ...

    def add_account_hooks(
        self, added: Callable[[Account], None], removed: Callable[[Account], Awaitable[None]]
    ) -> None: ...

    # --- whom to trust ---

    def from_server(self, source: Source, account: Account) -> bool: ...

    def may_reach(self, source: Source, account: Account) -> bool: ...

    def verified_identity(self, request: Request, source: Source, account: Account) -> str | None: ...

    # --- answering requests ---

    def reply(self, tx: ServerTransaction, status_code: int, reason: str | None = None, **kwargs: Any) -> Response: ...

    def respond(self, tx: ServerTransaction, response: Response) -> None: ...

    # --- sending requests ---

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
    ) -> tuple[Request, Response]: ...

    async def request_in_dialog(
        self,
        account: Account,
        dialog: Dialog,
        method: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Response: ...

    def requests_pending(self, method: str) -> bool: ...

    def keep_dialog(self, dialog: Dialog) -> None: ...

    def forget_dialog(self, dialog: Dialog) -> None: ...

    def contact_for(self, account: Account, target: Target, *, secure: bool = False) -> NameAddr: ...

    def registration_contact(self, aor: str) -> NameAddr | None: ...

    def target_uri(self, text: str, account: Account, purpose: str = "call") -> Uri: ...

    # --- calls ---

    @property
    def calls(self) -> list[Call]: ...

    def find_call(self, call_id: str | None = None) -> Call: ...

    async def call(self, uri: str, account: str | None = None, *, headers: Sequence[tuple[str, str]] = ()) -> Call: ...

    # --- the loop ---

    @property
    def running(self) -> bool: ...

    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[..., object], *args: object) -> asyncio.TimerHandle: ...

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]: ...

    async def run_blocking(self, function: Callable[..., _T], *args: object) -> _T: ...

"""Event state publication (RFC 3903): PUBLISH with entity-tags, refresh, modify and remove.

A :class:`Publication` holds one piece of our event state (our presence, our
dialog state) at the account's event state compositor. :meth:`Publication.publish`
sends a new body (initial or modify), refreshes are scheduled before the
granted expiry with ``SIP-If-Match`` and no body, and :meth:`Publication.remove`
withdraws it (``Expires: 0``). A 412 (the compositor lost our entity-tag)
re-publishes the whole state, a 423 retries with ``Min-Expires``. A compositor
that does not take the package (405, 489, 501) makes the publication
``unsupported``: the caller falls back to serving the state itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from softphone.sip.message import Response
from softphone.sip.uri import Uri
from softphone.ua.account import Account
from softphone.ua.subscription import int_header, refresh_delay

if TYPE_CHECKING:
    from softphone.ua.host import ServiceHost

__all__ = ["Publication", "PublicationState"]

log = logging.getLogger(__name__)

PublicationState = Literal["idle", "publishing", "published", "unsupported", "failed", "removed"]

DEFAULT_EXPIRES = 3600
_RETRY_MIN = 5.0
_RETRY_MAX = 600.0
UNSUPPORTED_CODES = frozenset({403, 404, 405, 489, 501})


class Publication:
    """One event state of ``account`` published to ``target`` (the account's AOR by default)."""

    def __init__(
        self,
        ua: ServiceHost,
        account: Account,
        event: str,
        content_type: str,
        *,
        target: Uri | None = None,
        expires: int = DEFAULT_EXPIRES,
        on_state: Callable[[Publication], None] | None = None,
    ) -> None:
        self._ua = ua
        self.account = account
        self.event = event
        self.content_type = content_type
        self.target: Uri = target if target is not None else account.uri.replace(params={}, headers=[])
        self.expires = expires
        self.on_state = on_state
        self.state: PublicationState = "idle"
        self.etag: str | None = None
        self.code: int | None = None
        self.reason: str | None = None
        self.body: bytes | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()
        self._failures = 0

    async def publish(self, body: bytes) -> PublicationState:
        """Publish ``body`` as our new state (modifying the published one); returns the resulting state."""
        self.body = body
        async with self._lock:
            await self._send(body)
        return self.state

    async def remove(self) -> None:
        """RFC 3903 4.5: withdraw the published state."""
        self._cancel()
        async with self._lock:
            if self.etag is not None:
                try:
                    await self._request(None, 0)
                except Exception as exc:
                    log.info("removing %s publication failed: %s", self.event, exc)
            self.etag = None
            self.body = None
            self._set("removed", self.code, None)

    def close(self) -> None:
        self._cancel()

    async def _request(self, body: bytes | None, expires: int) -> Response:
        headers = [("Event", self.event), ("Expires", str(expires))]
        if self.etag is not None:
            headers.append(("SIP-If-Match", self.etag))
        _, response = await self._ua.request_out_of_dialog(
            self.account,
            "PUBLISH",
            self.target,
            headers=headers,
            body=body or b"",
            content_type=self.content_type if body else None,
        )
        return response

    async def _send(self, body: bytes | None) -> None:
        """Initial or modifying PUBLISH (``body``), or a refresh (None)."""
        self._cancel()
        if self.state not in ("published",):
            self._set("publishing", self.code, None)
        expires = self.expires
        for _ in range(3):
            try:
                response = await self._request(body, expires)
            except Exception as exc:
                self._retry_later(None, str(exc))
                return
            code, reason = response.status_code, response.reason or str(response.status_code)
            if code == 412 and body is None and self.body is not None:
                # RFC 3903 4.4: the compositor forgot us; publish the whole state afresh.
                self.etag = None
                body = self.body
                continue
            if code == 412:
                self.etag = None
                continue
            if code == 423:
                minimum = int_header(response, "Min-Expires")
                if minimum is not None and minimum > expires:
                    expires = minimum
                    continue
            break
        if 200 <= code < 300:
            self._failures = 0
            etag = response.headers.get("SIP-ETag")
            if etag:
                self.etag = etag.strip()
            self.expires = int_header(response, "Expires") or expires
            self._set("published", code, None)
            self._timer = self._ua.call_later(refresh_delay(self.expires), self._refresh)
        elif code in UNSUPPORTED_CODES:
            self.etag = None
            self._set("unsupported", code, reason)
        else:
            self._retry_later(code, reason)

    def _refresh(self) -> None:
        self._timer = None

        async def refresh() -> None:
            async with self._lock:
                await self._send(None if self.etag is not None else self.body)

        self._ua.spawn(refresh(), name=f"PUBLISH refresh {self.event}")

    def _retry_later(self, code: int | None, reason: str) -> None:
        self._failures += 1
        self._set("failed", code, reason)
        delay = min(_RETRY_MAX, _RETRY_MIN * 2 ** (self._failures - 1))
        self._timer = self._ua.call_later(delay, self._refresh)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _set(self, state: PublicationState, code: int | None, reason: str | None) -> None:
        changed = state != self.state
        self.state, self.code, self.reason = state, code, reason
        if changed and self.on_state is not None:
            try:
                self.on_state(self)
            except Exception:
                log.exception("publication state handler failed")

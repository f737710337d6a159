"""Session timers (RFC 4028): which side refreshes, how often, and the headers that say so."""

from __future__ import annotations

from dataclasses import dataclass

from softphone.sip.errors import SipParseError
from softphone.sip.message import Request, Response

# RFC 4028 4: Min-SE is never below 90 seconds on the wire; tests may configure less for the UA itself.
DEFAULT_SESSION_EXPIRES = 1800
DEFAULT_MIN_SE = 90


@dataclass(frozen=True)
class SessionTimer:
    """An agreed session interval; ``we_refresh`` says whether our side sends the refreshes."""

    interval: int
    we_refresh: bool

    @property
    def refresh_after(self) -> float:
        # RFC 4028 10: the refresher refreshes half-way through the interval.
        return self.interval / 2

    @property
    def expire_after(self) -> float:
        # RFC 4028 10: without a refresh, the other side ends the session min(32, interval/3) before it expires.
        return self.interval - min(32.0, self.interval / 3)


def min_se(message: Request | Response) -> int | None:
    """The Min-SE of ``message`` (raises :class:`SipParseError` when malformed or out of range)."""
    return message.min_se


def supports_timer(message: Request | Response) -> bool:
    try:
        return "timer" in (o.lower() for o in [*message.supported, *message.require])
    except SipParseError:
        return False


@dataclass(frozen=True)
class UasDecision:
    """What a UAS answers a session-refresh request: 422 (``too_small`` set) or the headers of its 2xx."""

    timer: SessionTimer | None
    headers: list[tuple[str, str]]
    too_small: int | None = None


def uas_decide(request: Request, *, preferred: int | None, minimum: int) -> UasDecision:
    """RFC 4028 9: the session timer a UAS grants for an INVITE or UPDATE."""
    expires = request.session_expires
    uac_supports = supports_timer(request)
    if expires is None:
        if preferred is None or not uac_supports:
            return UasDecision(None, [])
        interval = max(preferred, min_se(request) or 0, minimum)
        refresher = "uac"
    else:
        if expires.delta < minimum:
            return UasDecision(None, [("Min-SE", str(minimum))], too_small=minimum)
        interval = expires.delta
        refresher = (expires.refresher or "").lower()
        if refresher not in ("uac", "uas"):
            refresher = "uac" if uac_supports else "uas"
    headers = [("Session-Expires", f"{interval};refresher={refresher}")]
    if refresher == "uac":
        headers.append(("Require", "timer"))
    return UasDecision(SessionTimer(interval, we_refresh=refresher == "uas"), headers)


def uac_result(response: Response) -> SessionTimer | None:
    """RFC 4028 7.2: the session timer a 2xx to our INVITE or UPDATE grants (we sent it: we are the uac)."""
    try:
        expires = response.session_expires
    except SipParseError:
        return None
    if expires is None:
        return None
    refresher = (expires.refresher or "uac").lower()
    return SessionTimer(expires.delta, we_refresh=refresher == "uac")


def uac_headers(interval: int | None, minimum: int) -> list[tuple[str, str]]:
    """The headers of a session-refresh request of ours."""
    if interval is None:
        return []
    return [("Session-Expires", str(interval)), ("Min-SE", str(minimum))]

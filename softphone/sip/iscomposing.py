"""Message composition indication: ``application/im-iscomposing+xml`` (RFC 3994).

::

    <isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">
      <state>active</state>
      <contenttype>text/plain</contenttype>
      <refresh>60</refresh>
    </isComposing>
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from softphone.sip.errors import BodyError
from softphone.sip.xmlbody import (
    MAX_BODY_SIZE,
    child_text,
    escape_text,
    format_datetime,
    local_name,
    parse_datetime,
    parse_xml,
)

ISCOMPOSING_CONTENT_TYPE = "application/im-iscomposing+xml"
ISCOMPOSING_NS = "urn:ietf:params:xml:ns:im-iscomposing"

# RFC 3994 3.3: without a refresh element, a receiver lets an active state lapse after 120 s.
ACTIVE_TIMEOUT = 120
# RFC 3994 3.2: a composer that stops typing goes idle after 15 s.
IDLE_TIMEOUT = 15

ComposingState = Literal["active", "idle"]

_REFRESH_RE = re.compile(r"[0-9]{1,9}")


@dataclass(slots=True, frozen=True)
class IsComposing:
    state: ComposingState
    lastactive: datetime | None = None
    contenttype: str | None = None
    refresh: int | None = None

    @property
    def active(self) -> bool:
        return self.state == "active"

    @property
    def expires_after(self) -> int:
        """Seconds after which a receiver takes an active state as idle (RFC 3994 3.3)."""
        return self.refresh or ACTIVE_TIMEOUT


def parse_iscomposing(data: bytes, charset: str | None = None, *, max_size: int = MAX_BODY_SIZE) -> IsComposing:
    """Parse an RFC 3994 body; an unreadable ``lastactive`` or ``refresh`` is left out."""
    root = parse_xml(data, charset, what="is-composing body", max_size=max_size)
    if local_name(root.tag).lower() != "iscomposing":
        raise BodyError(f"is-composing body: root element is <{local_name(root.tag)}>, not <isComposing>")
    state_text = (child_text(root, "state") or "").lower()
    if state_text not in ("active", "idle"):
        raise BodyError(f"is-composing body: state must be active or idle, got {state_text[:40]!r}")
    refresh_text = (child_text(root, "refresh") or "").strip()
    refresh = int(refresh_text) if _REFRESH_RE.fullmatch(refresh_text) else None
    return IsComposing(
        state="active" if state_text == "active" else "idle",
        lastactive=parse_datetime(child_text(root, "lastactive")),
        contenttype=child_text(root, "contenttype") or None,
        refresh=refresh or None,
    )


def build_iscomposing(
    state: ComposingState,
    *,
    lastactive: datetime | None = None,
    contenttype: str | None = None,
    refresh: int | None = None,
) -> bytes:
    """An RFC 3994 document (UTF-8); ``refresh`` only with the active state (RFC 3994 3.2)."""
    if state not in ("active", "idle"):
        raise ValueError(f"state must be 'active' or 'idle', got {state!r}")
    if refresh is not None and (state != "active" or not 0 < refresh <= 999_999_999):
        raise ValueError(f"refresh must be a positive number of seconds with the active state, got {refresh!r}")
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<isComposing xmlns="{ISCOMPOSING_NS}">\n',
        f"<state>{state}</state>\n",
    ]
    if lastactive is not None:
        parts.append(f"<lastactive>{format_datetime(lastactive)}</lastactive>\n")
    if contenttype:
        parts.append(f"<contenttype>{escape_text(contenttype)}</contenttype>\n")
    if refresh is not None:
        parts.append(f"<refresh>{int(refresh)}</refresh>\n")
    parts.append("</isComposing>\n")
    return "".join(parts).encode("utf-8")

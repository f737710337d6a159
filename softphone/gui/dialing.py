"""What the user typed or clicked, turned into something the UA can call.

The UA itself accepts ``sip:``, ``sips:`` and ``tel:`` URIs, ``user@host``
and a bare user or number at the account's domain. Here: ``callto:`` links
(and ``callto://``), phone numbers with the usual separators, and trimming.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

URI_SCHEMES = ("sip:", "sips:", "tel:", "callto:")
_PHONE_RE = re.compile(r"^\+?[\d\s\-.()/]+$")


def is_call_uri(text: str) -> bool:
    """True for a ``sip:``/``sips:``/``tel:``/``callto:`` link (what the URL handler receives)."""
    return text.strip().lower().startswith(URI_SCHEMES)


def dial_target(text: str) -> str:
    """The address to hand to ``UserAgent.call``; raises ValueError for nothing usable."""
    value = text.strip()
    lower = value.lower()
    if lower.startswith("callto:"):
        value = unquote(value[len("callto:") :]).lstrip("/")
        lower = value.lower()
    elif lower.startswith(("sip:", "sips:", "tel:")):
        scheme, _, rest = value.partition(":")
        value = f"{scheme.lower()}:{rest}"
        lower = value.lower()
    if lower.startswith("tel:"):
        value = "tel:" + re.sub(r"[\s()]", "", value[4:])
    elif not lower.startswith(("sip:", "sips:")) and _PHONE_RE.match(value):
        value = re.sub(r"[\s\-.()/]", "", value)
    if not value or value in ("sip:", "sips:", "tel:"):
        raise ValueError("nothing to call")
    if any(ch.isspace() for ch in value) and not value.startswith(("sip:", "sips:")):
        raise ValueError(f"cannot call {text.strip()!r}: an address has no spaces")
    return value

"""Problems in plain words, said one way everywhere: ``Cannot <do what>: <why> (<code>).``

``Cannot register alice@example.com: the password was not accepted (401).``
``Cannot call bob@example.com: busy (486).``
``Cannot send the message to bob@example.com: there is no such user (404).``

The GUI shows these sentences; the status code stays at the end, in brackets,
for whoever has to ask the provider. A reason the user agent wrote itself
(it starts with a small letter: ``no answer from UDP 192.0.2.1:5060``) is
already in words and is kept; a reason phrase from the network (``Busy
Here``) is replaced by the words for its status code.
"""

from __future__ import annotations

__all__ = ["address_shown", "call_problem", "cannot", "message_problem", "registration_problem", "why"]

STATUS_WORDS: dict[int, str] = {
    300: "the address has several possible destinations",
    301: "the address has moved",
    302: "the address has moved",
    305: "the call must go through another proxy",
    380: "another service was suggested",
    400: "the other side did not understand the request",
    401: "the password was not accepted",
    402: "payment is required",
    403: "the server refused it",
    404: "there is no such user",
    405: "the other side does not allow it",
    406: "the other side cannot answer in an acceptable form",
    407: "the password was not accepted",
    408: "there was no answer in time",
    410: "the user is gone",
    413: "it is too large",
    414: "the address is too long",
    415: "the other side cannot read this kind of content",
    416: "the other side cannot use this kind of address",
    420: "the other side needs a feature this phone does not have",
    421: "the other side needs a feature this phone does not have",
    423: "the registration interval is too short",
    480: "the user is not available right now",
    481: "the other side no longer knows this call",
    482: "the request went round in a loop",
    483: "the request went through too many servers",
    484: "the address is incomplete",
    485: "the address is ambiguous",
    486: "busy",
    487: "it was cancelled",
    488: "there is no audio format in common",
    489: "the other side does not offer this service",
    491: "a request crossed ours",
    493: "the other side cannot decrypt the request",
    500: "the server had an internal error",
    501: "the other side does not support it",
    502: "a server on the way failed",
    503: "the service is unavailable",
    504: "a server on the way did not answer in time",
    505: "the other side speaks another SIP version",
    513: "the message is too large",
    600: "busy everywhere",
    603: "declined",
    604: "the user does not exist anywhere",
    606: "the call was not acceptable",
}

_CLASS_WORDS = {
    3: "the address was redirected",
    4: "the request was refused",
    5: "the server failed",
    6: "it was refused everywhere",
}


def address_shown(uri: str) -> str:
    """An address as people read it: ``alice@example.com`` for ``<sip:alice@example.com;transport=tcp>``."""
    text = uri.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    scheme, colon, rest = text.partition(":")
    if colon and scheme.lower() in ("sip", "sips", "tel"):
        text = rest
    return text.split(";", 1)[0].split("?", 1)[0] or uri


def why(code: int | None, reason: str = "") -> str:
    """Why something failed, in words, with the status code in brackets: ``busy (486)``."""
    reason = " ".join(reason.split())
    if reason and reason[0].islower():
        words = reason  # already the user agent's own words
    elif code is not None and code in STATUS_WORDS:
        words = STATUS_WORDS[code]
    elif code is not None and reason:
        words = f"the other side answered “{reason}”"
    elif code is not None:
        words = _CLASS_WORDS.get(code // 100, "it failed")
    else:
        words = reason or "it failed for a reason nobody gave"
    return f"{words} ({code})" if code is not None else words


def cannot(action: str, reason: str) -> str:
    """The one sentence shape: ``Cannot <action>: <reason>.``"""
    reason = reason.strip().rstrip(".")
    return f"Cannot {action}: {reason}."


def registration_problem(aor: str, code: int | None, reason: str) -> str:
    return cannot(f"register {address_shown(aor)}", why(code, reason))


def call_problem(peer: str, code: int | None, reason: str) -> str:
    return cannot(f"call {address_shown(peer)}", why(code, reason))


def message_problem(peer: str, code: int | None, reason: str) -> str:
    return cannot(f"send the message to {address_shown(peer)}", why(code, reason))

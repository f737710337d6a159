"""Message-waiting bodies: ``application/simple-message-summary`` (RFC 3842).

::

    Messages-Waiting: yes
    Message-Account: sip:alice@vmail.example.com
    Voice-Message: 2/8 (0/2)

Parsing is liberal (any case, extra whitespace, CRLF or LF line ends, the
status line anywhere in the first block, unknown lines skipped); the optional
message headers after the first blank line (RFC 3842 3.5) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from softphone.sip.errors import BodyError

MESSAGE_SUMMARY_CONTENT_TYPE = "application/simple-message-summary"
MAX_BODY_SIZE = 64 * 1024

# RFC 3458 message-context-class values used by RFC 3842 3.5.
MESSAGE_CONTEXT_CLASSES = (
    "voice-message",
    "fax-message",
    "pager-message",
    "multimedia-message",
    "text-message",
    "none",
)

_CANONICAL_CLASS_NAMES = {name: "-".join(p.capitalize() for p in name.split("-")) for name in MESSAGE_CONTEXT_CLASSES}

_HEADER_RE = re.compile(r"([A-Za-z0-9\-._!%*+`'~]+)[ \t]*:[ \t]*(.*?)[ \t]*")
# newmsgs SLASH oldmsgs [ LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN ]
_COUNTS_RE = re.compile(
    r"([0-9]{1,9})[ \t]*/[ \t]*([0-9]{1,9})(?:[ \t]*\([ \t]*([0-9]{1,9})[ \t]*/[ \t]*([0-9]{1,9})[ \t]*\))?"
)
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")


@dataclass(slots=True, frozen=True)
class MessageCounts:
    """New and old messages of one message-context-class, with the urgent ones when the server says."""

    new: int = 0
    old: int = 0
    new_urgent: int | None = None
    old_urgent: int | None = None

    def __str__(self) -> str:
        text = f"{self.new}/{self.old}"
        if self.new_urgent is not None or self.old_urgent is not None:
            text += f" ({self.new_urgent or 0}/{self.old_urgent or 0})"
        return text


@dataclass(slots=True)
class MessageSummary:
    messages_waiting: bool
    account: str | None = None
    counts: dict[str, MessageCounts] = field(default_factory=dict)
    """By message-context-class in lower case (``voice-message`` ...)."""

    @property
    def voice(self) -> MessageCounts | None:
        return self.counts.get("voice-message")

    @property
    def new_messages(self) -> int:
        return sum(c.new for c in self.counts.values())

    @property
    def old_messages(self) -> int:
        return sum(c.old for c in self.counts.values())


def parse_message_summary(data: bytes, charset: str | None = None, *, max_size: int = MAX_BODY_SIZE) -> MessageSummary:
    """Parse an RFC 3842 body; :class:`BodyError` when it is not one."""
    if not isinstance(data, bytes | bytearray):
        raise BodyError(f"message-summary body: expected bytes, got {type(data).__name__}")
    if len(data) > max_size:
        raise BodyError(f"message-summary body is {len(data)} bytes, more than the limit of {max_size}")
    try:
        text = bytes(data).decode(charset or "utf-8")
    except (LookupError, UnicodeError, ValueError) as exc:
        raise BodyError(f"message-summary body cannot be decoded as {charset or 'utf-8'}: {exc}") from None
    waiting: bool | None = None
    account: str | None = None
    counts: dict[str, MessageCounts] = {}
    started = False
    for number, line in enumerate(_NEWLINE_RE.split(text.lstrip("\ufeff")), start=1):
        if not line.strip():
            if started:
                # RFC 3842 3.5: the optional message headers follow a blank line.
                break
            continue
        started = True
        m = _HEADER_RE.fullmatch(line.strip())
        if m is None:
            if line[0] in " \t":
                continue
            raise BodyError(f"message-summary body line {number} is not a header: {line[:80]!r}")
        name, value = m.group(1).lower(), m.group(2)
        if name == "messages-waiting":
            if value.lower() not in ("yes", "no"):
                raise BodyError(f"Messages-Waiting must be yes or no, got {value[:80]!r}")
            waiting = value.lower() == "yes"
        elif name == "message-account":
            account = value or None
        elif (counts_match := _COUNTS_RE.fullmatch(value)) is not None:
            new, old, new_urgent, old_urgent = counts_match.groups()
            counts[name] = MessageCounts(
                int(new),
                int(old),
                None if new_urgent is None else int(new_urgent),
                None if old_urgent is None else int(old_urgent),
            )
        elif name in MESSAGE_CONTEXT_CLASSES:
            raise BodyError(f"malformed message counts in {m.group(1)}: {value[:80]!r}")
    if waiting is None:
        raise BodyError("message-summary body has no Messages-Waiting line")
    return MessageSummary(waiting, account, counts)


def build_message_summary(
    messages_waiting: bool | MessageSummary,
    account: str | None = None,
    counts: Mapping[str, MessageCounts] | None = None,
) -> bytes:
    """An RFC 3842 body with CRLF line ends; ``counts`` by message-context-class."""
    if isinstance(messages_waiting, MessageSummary):
        summary = messages_waiting
        messages_waiting, account, counts = summary.messages_waiting, summary.account, summary.counts
    lines = [f"Messages-Waiting: {'yes' if messages_waiting else 'no'}"]
    if account:
        if any(c in account for c in "\r\n"):
            raise ValueError(f"Message-Account must be one line: {account!r}")
        lines.append(f"Message-Account: {account}")
    for name, value in (counts or {}).items():
        if _HEADER_RE.fullmatch(f"{name}: x") is None or name.lower() in ("messages-waiting", "message-account"):
            raise ValueError(f"not a message-context-class: {name!r}")
        for number in (value.new, value.old, value.new_urgent, value.old_urgent):
            if number is not None and not 0 <= number <= 999_999_999:
                raise ValueError(f"message count out of range in {name}: {value}")
        lines.append(f"{_CANONICAL_CLASS_NAMES.get(name.lower(), name)}: {value}")
    return "".join(line + "\r\n" for line in lines).encode("utf-8")

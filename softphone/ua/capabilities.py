"""What this user agent can do, as its requests and responses announce it (Allow, Supported, Accept)."""

from __future__ import annotations

__all__ = [
    "ACCEPTED_TYPES",
    "ALLOW",
    "DIALOG_INFO",
    "DTMF_RELAY",
    "IS_COMPOSING",
    "KNOWN_METHODS",
    "MESSAGE_SUMMARY",
    "PIDF",
    "SDP",
    "SIPFRAG",
    "SUPPORTED_METHODS",
    "TEXT_PLAIN",
    "USER_AGENT",
]

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, SUBSCRIBE, MESSAGE"
USER_AGENT = "softphone"
SUPPORTED_METHODS = frozenset(m.strip() for m in ALLOW.split(","))
# RFC 3261 8.2.1: methods we know but do not serve get 405; anything else 501.
KNOWN_METHODS = frozenset({"REGISTER", "PUBLISH"})

SDP = "application/sdp"
PIDF = "application/pidf+xml"
MESSAGE_SUMMARY = "application/simple-message-summary"
DIALOG_INFO = "application/dialog-info+xml"
TEXT_PLAIN = "text/plain"
IS_COMPOSING = "application/im-iscomposing+xml"
DTMF_RELAY = "application/dtmf-relay"
SIPFRAG = "message/sipfrag"
ACCEPTED_TYPES: dict[str, tuple[str, ...]] = {
    "INVITE": (SDP,),
    "UPDATE": (SDP,),
    "PRACK": (SDP,),
    "ACK": (SDP,),
    "INFO": (DTMF_RELAY, "application/dtmf"),
    "NOTIFY": (SIPFRAG, PIDF, MESSAGE_SUMMARY, DIALOG_INFO),
    "MESSAGE": (TEXT_PLAIN, IS_COMPOSING),
}

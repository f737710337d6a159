"""Sans-I/O SIP: messages, URIs, headers, digest authentication, SDP.

Nothing here opens a socket, starts a thread or reads the clock: it takes
bytes (and, for transactions, a ``now``) and returns messages and events.
"""

from softphone.sip.addr import NameAddr, parse_name_addr
from softphone.sip.errors import SipParseError
from softphone.sip.headers import CSeq, Via
from softphone.sip.message import Headers, Message, Request, Response
from softphone.sip.parser import KeepAlive, StreamParser, parse_message
from softphone.sip.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri

__all__ = [
    "AbsoluteUri",
    "CSeq",
    "Headers",
    "KeepAlive",
    "Message",
    "NameAddr",
    "Request",
    "Response",
    "SipParseError",
    "SipUri",
    "StreamParser",
    "TelUri",
    "Uri",
    "Via",
    "parse_message",
    "parse_name_addr",
    "parse_uri",
]

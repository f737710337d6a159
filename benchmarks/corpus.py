"""Shared corpus of realistic SIP messages for benchmarks and tests.

Eleven messages of one call, one registration and one presence subscription,
as a softphone at 192.0.2.10 (alice@example.com) sees them on the wire behind
an outbound proxy at 203.0.113.5, with bob@example.com at 198.51.100.20:

========================  ====================================================
``invite``                INVITE with SDP (Opus, PCMU, PCMA, telephone-event),
                          2 Vias, Record-Route, Contact, Allow, Supported,
                          User-Agent (as received by the callee)
``trying``                100 Trying (To without tag)
``ringing``               180 Ringing
``ok_invite``             200 OK with SDP answer
``ack``                   ACK for the 2xx, with Route
``bye``                   BYE from the callee, 2 Vias
``register``              REGISTER with Authorization (Digest, qop=auth) and an
                          RFC 5626 Contact (``+sip.instance="<urn:uuid:...>"``)
``unauthorized``          401 with WWW-Authenticate (the challenge to CSeq 1)
``subscribe``             SUBSCRIBE, Event: presence
``notify``                NOTIFY with a PIDF body (application/pidf+xml)
``message``               MESSAGE with a text/plain body (no Contact)
========================  ====================================================

Every message uses CRLF line ends and an exact Content-Length.

``EXPECTED[name]`` holds what a parser must report for each message. Both
``method`` and ``status`` are always present; the one that does not apply is
``None`` (requests have a method, responses a status code). ``to_tag`` and
``contact_uri`` are ``None`` where the message has no To tag or no Contact.
URIs are given exactly as they appear between the angle brackets.

Importable as ``benchmarks.corpus`` from the repository root, or as
``corpus`` when ``benchmarks/`` itself is on ``sys.path``; it imports nothing.
"""

from __future__ import annotations

__all__ = ["CORPUS", "EXPECTED", "FIELDS"]

# The order of the fields in EXPECTED entries.
FIELDS: tuple[str, ...] = (
    "method",
    "status",
    "call_id",
    "cseq_num",
    "cseq_method",
    "from_tag",
    "via_branch",
    "to_uri",
    "to_tag",
    "contact_uri",
)

CORPUS: dict[str, bytes] = {
    "invite": (
        b"INVITE sip:bob@198.51.100.20:5060 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK7f3a9c1d.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;received=192.0.2.10;rport=5060"
        b";branch=z9hG4bKPj3b9d8e2a4c1f4a6e\r\n"
        b"Record-Route: <sip:203.0.113.5;lr>\r\n"
        b"Max-Forwards: 69\r\n"
        b'From: "Alice Liddell" <sip:alice@example.com>;tag=9fxced76sl\r\n'
        b"To: <sip:bob@example.com>\r\n"
        b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
        b"CSeq: 314159 INVITE\r\n"
        b"Contact: <sip:alice@192.0.2.10:5060;ob>\r\n"
        b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE, "
        b"SUBSCRIBE, PRACK\r\n"
        b"Supported: replaces, 100rel, timer, norefersub\r\n"
        b"Session-Expires: 1800\r\n"
        b"Min-SE: 90\r\n"
        b"User-Agent: Softphone/0.1.0 (Linux x86_64)\r\n"
        b"Content-Type: application/sdp\r\n"
        b"Content-Length: 291\r\n"
        b"\r\n"
        b"v=0\r\n"
        b"o=- 3912345678 3912345678 IN IP4 192.0.2.10\r\n"
        b"s=-\r\n"
        b"c=IN IP4 192.0.2.10\r\n"
        b"t=0 0\r\n"
        b"m=audio 4000 RTP/AVP 111 0 8 101\r\n"
        b"a=rtpmap:111 opus/48000/2\r\n"
        b"a=fmtp:111 useinbandfec=1\r\n"
        b"a=rtpmap:0 PCMU/8000\r\n"
        b"a=rtpmap:8 PCMA/8000\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\n"
        b"a=fmtp:101 0-16\r\n"
        b"a=ptime:20\r\n"
        b"a=sendrecv\r\n"
    ),
    "trying": (
        b"SIP/2.0 100 Trying\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;received=192.0.2.10;rport=5060"
        b";branch=z9hG4bKPj3b9d8e2a4c1f4a6e\r\n"
        b'From: "Alice Liddell" <sip:alice@example.com>;tag=9fxced76sl\r\n'
        b"To: <sip:bob@example.com>\r\n"
        b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
        b"CSeq: 314159 INVITE\r\n"
        b"Server: ExampleProxy/5.8\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    ),
    "ringing": (
        b"SIP/2.0 180 Ringing\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;received=192.0.2.10;rport=5060"
        b";branch=z9hG4bKPj3b9d8e2a4c1f4a6e\r\n"
        b"Record-Route: <sip:203.0.113.5;lr>\r\n"
        b'From: "Alice Liddell" <sip:alice@example.com>;tag=9fxced76sl\r\n'
        b"To: <sip:bob@example.com>;tag=8321234356\r\n"
        b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
        b"CSeq: 314159 INVITE\r\n"
        b"Contact: <sip:bob@198.51.100.20:5060>\r\n"
        b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE, "
        b"SUBSCRIBE, PRACK\r\n"
        b"User-Agent: ExamplePhone/2.4.1\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    ),
    "ok_invite": (
        b"SIP/2.0 200 OK\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;received=192.0.2.10;rport=5060"
        b";branch=z9hG4bKPj3b9d8e2a4c1f4a6e\r\n"
        b"Record-Route: <sip:203.0.113.5;lr>\r\n"
        b'From: "Alice Liddell" <sip:alice@example.com>;tag=9fxced76sl\r\n'
        b"To: <sip:bob@example.com>;tag=8321234356\r\n"
        b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
        b"CSeq: 314159 INVITE\r\n"
        b"Contact: <sip:bob@198.51.100.20:5060>\r\n"
        b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE, "
        b"SUBSCRIBE, PRACK\r\n"
        b"Supported: replaces, timer\r\n"
        b"Session-Expires: 1800;refresher=uac\r\n"
        b"Require: timer\r\n"
        b"User-Agent: ExamplePhone/2.4.1\r\n"
        b"Content-Type: application/sdp\r\n"
        b"Content-Length: 250\r\n"
        b"\r\n"
        b"v=0\r\n"
        b"o=- 1733829401 1733829402 IN IP4 198.51.100.20\r\n"
        b"s=-\r\n"
        b"c=IN IP4 198.51.100.20\r\n"
        b"t=0 0\r\n"
        b"m=audio 31874 RTP/AVP 111 101\r\n"
        b"a=rtpmap:111 opus/48000/2\r\n"
        b"a=fmtp:111 useinbandfec=1\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\n"
        b"a=fmtp:101 0-16\r\n"
        b"a=ptime:20\r\n"
        b"a=sendrecv\r\n"
    ),
    "ack": (
        b"ACK sip:bob@198.51.100.20:5060 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bKPj9e0c4b7d2f6a4e81\r\n"
        b"Route: <sip:203.0.113.5;lr>\r\n"
        b"Max-Forwards: 70\r\n"
        b'From: "Alice Liddell" <sip:alice@example.com>;tag=9fxced76sl\r\n'
        b"To: <sip:bob@example.com>;tag=8321234356\r\n"
        b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
        b"CSeq: 314159 ACK\r\n"
        b"User-Agent: Softphone/0.1.0 (Linux x86_64)\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    ),
    "bye": (
        b"BYE sip:alice@192.0.2.10:5060;ob SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK2d4790.1\r\n"
        b"Via: SIP/2.0/UDP 198.51.100.20:5060;rport=5060;branch=z9hG4bK74b43a1f\r\n"
        b"Max-Forwards: 69\r\n"
        b"From: <sip:bob@example.com>;tag=8321234356\r\n"
        b'To: "Alice Liddell" <sip:alice@example.com>;tag=9fxced76sl\r\n'
        b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
        b"CSeq: 231 BYE\r\n"
        b'Reason: Q.850;cause=16;text="Normal call clearing"\r\n'
        b"User-Agent: ExamplePhone/2.4.1\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    ),
    "register": (
        b"REGISTER sip:example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bKPj5c8e1f3a7b2d4c60\r\n"
        b"Max-Forwards: 70\r\n"
        b"From: <sip:alice@example.com>;tag=a73kszlfl\r\n"
        b"To: <sip:alice@example.com>\r\n"
        b"Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.10\r\n"
        b"CSeq: 2 REGISTER\r\n"
        b"Contact: <sip:alice@192.0.2.10:5060;ob>;expires=3600;reg-id=1"
        b';+sip.instance="<urn:uuid:00000000-0000-0000-0000-0000c0ffee01>"\r\n'
        b'Authorization: Digest username="alice", realm="example.com", '
        b'nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sip:example.com", '
        b'response="dfe56131d1958046689d83306477ecc3", algorithm=MD5, cnonce="0a4f113b", '
        b'qop=auth, nc=00000001, opaque="5ccc069c403ebaf9f0171e9517f40e41"\r\n'
        b"Expires: 3600\r\n"
        b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE, "
        b"SUBSCRIBE, PRACK\r\n"
        b"Supported: outbound, path, gruu\r\n"
        b"User-Agent: Softphone/0.1.0 (Linux x86_64)\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    ),
    "unauthorized": (
        b"SIP/2.0 401 Unauthorized\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;received=192.0.2.10;rport=5060"
        b";branch=z9hG4bKPj1f7d3b9e0c6a2e45\r\n"
        b"From: <sip:alice@example.com>;tag=a73kszlfl\r\n"
        b"To: <sip:alice@example.com>;tag=as6e0b4c21\r\n"
        b"Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.10\r\n"
        b"CSeq: 1 REGISTER\r\n"
        b'WWW-Authenticate: Digest realm="example.com", '
        b'nonce="ea9c8e88df84f1cec4341ae6cbe5a359", '
        b'opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm=MD5, qop="auth"\r\n'
        b"Server: ExampleRegistrar/18.2\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    ),
    "subscribe": (
        b"SUBSCRIBE sip:bob@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bKPj0b6e2d8f4a1c7e93\r\n"
        b"Max-Forwards: 70\r\n"
        b'From: "Alice Liddell" <sip:alice@example.com>;tag=4e1bd2c7a9\r\n'
        b"To: <sip:bob@example.com>\r\n"
        b"Call-ID: 5f2a8c0e9d4b1a7c@192.0.2.10\r\n"
        b"CSeq: 17 SUBSCRIBE\r\n"
        b"Contact: <sip:alice@192.0.2.10:5060;ob>\r\n"
        b"Event: presence\r\n"
        b"Accept: application/pidf+xml\r\n"
        b"Expires: 3600\r\n"
        b"Allow-Events: presence, message-summary, refer\r\n"
        b"User-Agent: Softphone/0.1.0 (Linux x86_64)\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    ),
    "notify": (
        b"NOTIFY sip:alice@192.0.2.10:5060;ob SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK9c1e7a.0\r\n"
        b"Max-Forwards: 70\r\n"
        b"From: <sip:bob@example.com>;tag=zx81b6d3\r\n"
        b'To: "Alice Liddell" <sip:alice@example.com>;tag=4e1bd2c7a9\r\n'
        b"Call-ID: 5f2a8c0e9d4b1a7c@192.0.2.10\r\n"
        b"CSeq: 1203 NOTIFY\r\n"
        b"Contact: <sip:203.0.113.5:5060;transport=udp>\r\n"
        b"Event: presence\r\n"
        b"Subscription-State: active;expires=3599\r\n"
        b"Server: ExamplePresence/3.1\r\n"
        b"Content-Type: application/pidf+xml\r\n"
        b"Content-Length: 316\r\n"
        b"\r\n"
        b'<?xml version="1.0" encoding="UTF-8"?>\r\n'
        b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:bob@example.com">\r\n'
        b'  <tuple id="t8a6f2c">\r\n'
        b"    <status>\r\n"
        b"      <basic>open</basic>\r\n"
        b"    </status>\r\n"
        b'    <contact priority="0.8">sip:bob@198.51.100.20:5060</contact>\r\n'
        b"    <note>Available</note>\r\n"
        b"  </tuple>\r\n"
        b"</presence>\r\n"
    ),
    "message": (
        b"MESSAGE sip:bob@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bKPj6a2f9c4e8d0b3f17\r\n"
        b"Max-Forwards: 70\r\n"
        b'From: "Alice Liddell" <sip:alice@example.com>;tag=c05e7f12d8\r\n'
        b"To: <sip:bob@example.com>\r\n"
        b"Call-ID: 8d3e6b1f0a5c2e94@192.0.2.10\r\n"
        b"CSeq: 5 MESSAGE\r\n"
        b"Content-Type: text/plain\r\n"
        b"User-Agent: Softphone/0.1.0 (Linux x86_64)\r\n"
        b"Content-Length: 43\r\n"
        b"\r\n"
        b"Hi Bob, are you free for a quick call at 3?"
    ),
}


def _expect(
    method: str | None,
    status: int | None,
    call_id: str,
    cseq: str,
    from_tag: str | None,
    via_branch: str | None,
    to_uri: str,
    to_tag: str | None,
    contact_uri: str | None,
) -> dict[str, object]:
    num, cseq_method = cseq.split()
    return {
        "method": method,
        "status": status,
        "call_id": call_id,
        "cseq_num": int(num),
        "cseq_method": cseq_method,
        "from_tag": from_tag,
        "via_branch": via_branch,
        "to_uri": to_uri,
        "to_tag": to_tag,
        "contact_uri": contact_uri,
    }


_CALL = "3848276298220188511@192.0.2.10"
_REG = "1j9FpLxk3uxtm8tn@192.0.2.10"
_SUB = "5f2a8c0e9d4b1a7c@192.0.2.10"
_ALICE = "sip:alice@example.com"
_BOB = "sip:bob@example.com"
_ALICE_CONTACT = "sip:alice@192.0.2.10:5060;ob"
_BOB_CONTACT = "sip:bob@198.51.100.20:5060"
_UAC_BRANCH = "z9hG4bKPj3b9d8e2a4c1f4a6e"

EXPECTED: dict[str, dict[str, object]] = {
    "invite": _expect(
        "INVITE",
        None,
        _CALL,
        "314159 INVITE",
        "9fxced76sl",
        "z9hG4bK7f3a9c1d.0",
        _BOB,
        None,
        _ALICE_CONTACT,
    ),
    "trying": _expect(
        None,
        100,
        _CALL,
        "314159 INVITE",
        "9fxced76sl",
        _UAC_BRANCH,
        _BOB,
        None,
        None,
    ),
    "ringing": _expect(
        None,
        180,
        _CALL,
        "314159 INVITE",
        "9fxced76sl",
        _UAC_BRANCH,
        _BOB,
        "8321234356",
        _BOB_CONTACT,
    ),
    "ok_invite": _expect(
        None,
        200,
        _CALL,
        "314159 INVITE",
        "9fxced76sl",
        _UAC_BRANCH,
        _BOB,
        "8321234356",
        _BOB_CONTACT,
    ),
    "ack": _expect(
        "ACK",
        None,
        _CALL,
        "314159 ACK",
        "9fxced76sl",
        "z9hG4bKPj9e0c4b7d2f6a4e81",
        _BOB,
        "8321234356",
        None,
    ),
    "bye": _expect(
        "BYE",
        None,
        _CALL,
        "231 BYE",
        "8321234356",
        "z9hG4bK2d4790.1",
        _ALICE,
        "9fxced76sl",
        None,
    ),
    "register": _expect(
        "REGISTER",
        None,
        _REG,
        "2 REGISTER",
        "a73kszlfl",
        "z9hG4bKPj5c8e1f3a7b2d4c60",
        _ALICE,
        None,
        _ALICE_CONTACT,
    ),
    "unauthorized": _expect(
        None,
        401,
        _REG,
        "1 REGISTER",
        "a73kszlfl",
        "z9hG4bKPj1f7d3b9e0c6a2e45",
        _ALICE,
        "as6e0b4c21",
        None,
    ),
    "subscribe": _expect(
        "SUBSCRIBE",
        None,
        _SUB,
        "17 SUBSCRIBE",
        "4e1bd2c7a9",
        "z9hG4bKPj0b6e2d8f4a1c7e93",
        _BOB,
        None,
        _ALICE_CONTACT,
    ),
    "notify": _expect(
        "NOTIFY",
        None,
        _SUB,
        "1203 NOTIFY",
        "zx81b6d3",
        "z9hG4bK9c1e7a.0",
        _ALICE,
        "4e1bd2c7a9",
        "sip:203.0.113.5:5060;transport=udp",
    ),
    "message": _expect(
        "MESSAGE",
        None,
        "8d3e6b1f0a5c2e94@192.0.2.10",
        "5 MESSAGE",
        "c05e7f12d8",
        "z9hG4bKPj6a2f9c4e8d0b3f17",
        _BOB,
        None,
        None,
    ),
}

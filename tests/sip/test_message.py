"""The message model, the datagram parser and the stream parser."""

from __future__ import annotations

import pytest

from softphone.sip import (
    Headers,
    KeepAlive,
    Request,
    Response,
    SipParseError,
    StreamParser,
    parse_message,
)

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'To: "Bob" <sip:bob@example.com>\r\n'
    b'From: "Alice" <sip:alice@example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.example.com>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)

OK = (
    b"SIP/2.0 200 OK\r\n"
    b"v: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
    b"t: <sip:bob@example.com>;tag=a6c85cf\r\n"
    b"f: <sip:alice@example.com>;tag=1928301774\r\n"
    b"i: a84b4c76e66710@pc33.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"m: <sip:bob@192.0.2.4>\r\n"
    b"l: 0\r\n"
    b"\r\n"
)


def test_request_fields_and_typed_views() -> None:
    m = parse_message(INVITE)
    assert isinstance(m, Request)
    assert m.method == "INVITE" and str(m.uri) == "sip:bob@example.com"
    assert m.call_id == "a84b4c76e66710@pc33.example.com"
    assert (m.cseq.seq, m.cseq.method) == (314159, "INVITE")
    assert m.from_.tag == "1928301774" and m.to.tag is None
    assert m.from_.display_name == "Alice"
    assert m.via.branch == "z9hG4bK776asdhds" and m.via.rport is True
    assert m.via.sent_by == ("pc33.example.com", 5060)
    assert m.max_forwards == 70
    assert m.body == b"v=0\n"
    assert m.content_type is not None and m.content_type.mime == "application/sdp"


def test_compact_and_any_case_lookup() -> None:
    m = parse_message(OK)
    assert isinstance(m, Response) and m.status_code == 200 and m.reason == "OK"
    assert m.headers["v"] == m.headers["VIA"] == m.headers["via"]
    assert m.headers["Call-ID"] == "a84b4c76e66710@pc33.example.com"
    assert m.headers["i"] == m.headers["call-id"]
    assert "Contact" in m.headers and "m" in m.headers and "Route" not in m.headers
    assert m.via.received == "192.0.2.1"
    assert str(m.contacts[0].uri) == "sip:bob@192.0.2.4"


def test_serialization_is_canonical() -> None:
    text = bytes(parse_message(OK)).decode()
    assert text.startswith("SIP/2.0 200 OK\r\n")
    assert "\r\nVia: SIP/2.0/UDP" in text and "\r\nCall-ID: " in text and "\r\nContent-Length: 0\r\n\r\n" in text
    assert "\r\nv:" not in text


def test_round_trip_equal() -> None:
    for raw in (INVITE, OK):
        m = parse_message(raw)
        assert parse_message(bytes(m)) == m


def test_content_length_follows_the_body() -> None:
    m = parse_message(INVITE)
    m.body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"
    again = parse_message(bytes(m))
    assert again.body == m.body
    assert again.headers["Content-Length"] == str(len(m.body))


def test_folded_header_is_unfolded() -> None:
    raw = INVITE.replace(b"Max-Forwards: 70\r\n", b"Subject: one\r\n two\r\n\tthree\r\nMax-Forwards: 70\r\n")
    assert parse_message(raw).headers["Subject"] == "one two three"


def test_building_a_request() -> None:
    r = Request("OPTIONS", "sip:example.com")
    r.headers.add("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc")
    r.headers.add("From", "<sip:a@example.com>;tag=1")
    r.headers.add("To", "<sip:example.com>")
    r.headers.add("Call-ID", "x@y")
    r.headers.add("CSeq", "1 OPTIONS")
    r.headers.add("Max-Forwards", "70")
    r.headers.add("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKtop", first=True)
    again = parse_message(bytes(r))
    assert again == r
    assert again.via.host == "proxy.example.com"


def test_headers_mutation_drops_cached_views() -> None:
    m = parse_message(INVITE)
    assert m.cseq.seq == 314159
    m.headers["CSeq"] = "314160 INVITE"
    assert m.cseq.seq == 314160
    del m.headers["Contact"]
    assert m.contacts == []


def test_headers_equality_ignores_case_and_compact_form() -> None:
    assert Headers([("v", "x"), ("call-id", "y")]) == Headers([("Via", "x"), ("Call-ID", "y")])
    assert Headers([("Via", "x")]) != Headers([("Via", "y")])


def test_bad_value_breaks_only_its_view() -> None:
    raw = INVITE.replace(b"Content-Type: application/sdp", b"Content-Type: not a type; ;")
    m = parse_message(raw)
    with pytest.raises(SipParseError, match="media type"):
        m.content_type  # noqa: B018
    assert m.call_id == "a84b4c76e66710@pc33.example.com"


def test_response_without_reason_phrase_space_is_tolerated() -> None:
    m = parse_message(OK.replace(b"200 OK", b"200"))
    assert isinstance(m, Response) and m.reason == ""


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "empty"),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n", "empty line"),
        (INVITE.replace(b"Content-Length: 4", b"Content-Length: 400"), "exceeds"),
        (INVITE.replace(b"Content-Length: 4", b"Content-Length: -4"), "negative"),
        (INVITE.replace(b"Content-Length: 4", b"Content-Length: 4\r\nl: 5"), "conflicting"),
        (INVITE.replace(b"CSeq: 314159 INVITE\r\n", b""), "CSeq"),
        (INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards 70"), "colon"),
        (OK.replace(b"200 OK", b"2000 OK"), "three digits"),
        (INVITE.replace(b";rport\r\n", b";rport\r\r\n"), "bare CR"),
        (INVITE.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\nSubject: x\r\n"), "bare CR or LF"),
    ],
)
def test_errors_say_what_is_wrong(raw: bytes, fragment: str) -> None:
    with pytest.raises(SipParseError, match=fragment):
        parse_message(raw)


def test_stream_parser_any_chunking() -> None:
    stream = b"\r\n\r\n" + INVITE + OK + b"\r\n" + INVITE
    for size in (1, 2, 3, 7, 64, len(stream)):
        parser = StreamParser()
        items = []
        for i in range(0, len(stream), size):
            items.extend(parser.feed(stream[i : i + size]))
        messages = [x for x in items if isinstance(x, Request | Response)]
        keepalives = [x for x in items if isinstance(x, KeepAlive)]
        assert [type(x) for x in messages] == [Request, Response, Request]
        assert messages[0] == parse_message(INVITE) and messages[1] == parse_message(OK)
        assert sum(k.crlfs for k in keepalives) == 3
        assert parser.buffered == 0


def test_stream_parser_reports_invalid_but_framed_message_and_goes_on() -> None:
    bad = INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE")
    items = StreamParser().feed(bad + OK)
    assert isinstance(items[0], SipParseError) and items[0].status_code == 400
    assert isinstance(items[0].partial, Request)
    assert isinstance(items[1], Response)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (INVITE.replace(b"Content-Length: 4\r\n", b""), "without Content-Length"),
        (INVITE.replace(b"Content-Length: 4", b"Content-Length: -1"), "negative"),
        (INVITE.replace(b"Content-Length: 4", b"Content-Length: 4\r\nContent-Length: 9"), "conflicting"),
        (INVITE.replace(b"Content-Length: 4", b"Content-Length: 99999999999"), "exceeds the limit"),
    ],
)
def test_stream_framing_errors(raw: bytes, fragment: str) -> None:
    with pytest.raises(SipParseError, match=fragment):
        StreamParser().feed(raw)


def test_stream_endless_header_section() -> None:
    parser = StreamParser(max_header_bytes=1000)
    parser.feed(b"INVITE sip:a@b SIP/2.0\r\n")
    with pytest.raises(SipParseError, match="longer than"):
        parser.feed(b"X-Filler: " + b"a" * 2000)


@pytest.mark.parametrize(
    ("params", "seen"),
    [
        (";rport=40000;received=203.0.113.10", ("203.0.113.10", 40000)),  # behind a NAT (RFC 3581 4)
        (";rport", ("192.0.2.5", 5062)),  # asked for but not filled in: the sent-by
        (";received=[2001:db8::9]", ("2001:db8::9", 5062)),  # RFC 5118 4.5
        ("", ("192.0.2.5", 5062)),
    ],
)
def test_via_seen_at_is_where_the_next_hop_saw_the_request(params: str, seen: tuple[str, int]) -> None:
    via = parse_message(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.5:5062;branch=z9hG4bK1"
        + params.encode()
        + b"\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n"
    ).via
    assert via.seen_at == seen

"""Property tests: no input makes the parser raise anything but SipParseError, and round trips hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.corpus import CORPUS
from softphone.sip import Request, Response, SipParseError, StreamParser, addr, parse_message, uri
from softphone.sip.headers import VIA_FAST_RE, parse_via
from tests.conftest import torture_dir

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VIEWS = (
    "call_id", "cseq", "vias", "from_", "to", "max_forwards", "contacts", "contact_star", "routes",
    "record_routes", "asserted_identities", "refer_to", "referred_by", "content_type", "accept", "expires",
    "min_expires", "allow", "supported", "require", "proxy_require", "unsupported", "allow_events", "event",
    "subscription_state", "call_info", "replaces", "session_expires", "retry_after", "authorization",
    "proxy_authorization", "www_authenticate", "proxy_authenticate",
)


def _seeds() -> list[bytes]:
    seeds = list(CORPUS.values())
    base = torture_dir()
    seeds += [p.read_bytes() for p in sorted(Path(base).glob("rfc*/*.dat"))]
    return seeds


SEEDS = _seeds()


def _exercise(data: bytes) -> None:
    """Parse and read every typed view; only SipParseError may come out."""
    try:
        message = parse_message(data)
    except SipParseError:
        return
    for view in VIEWS:
        try:
            getattr(message, view)
        except SipParseError:
            pass
    try:
        vias = message.vias
    except SipParseError:
        vias = []
    if vias:
        assert message.via == vias[0]
    again = parse_message(bytes(message))
    assert again == message
    assert bytes(again) == bytes(message)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.sampled_from([b";", b",", b"<", b">", b'"', b"\\", b":", b" ", b"\r\n", b"\r\n ",
                                                  b"%", b"[", b"]", b"@", b"=", b"\x00", b"\xff", b"-"]))
        elif kind == "delete" and data:
            del data[pos : pos + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[pos:]
        elif kind == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 40))]
    return bytes(data)


@SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_sip_parse_error(data: bytes) -> None:
    _exercise(data)


@SETTINGS
@given(st.lists(st.sampled_from([b"INVITE ", b"SIP/2.0", b" 200 OK", b"\r\n", b"Via: ", b"Content-Length: ",
                                 b"sip:a@b", b";tag=", b"<", b">", b"1", b"-1", b"CSeq: 1 INVITE", b": "]),
                max_size=40).map(b"".join))
def test_sip_shaped_noise_only_raises_sip_parse_error(data: bytes) -> None:
    _exercise(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_messages_only_raise_sip_parse_error(data: bytes) -> None:
    _exercise(data)


TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~", min_size=1,
                max_size=12)
USER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._!~*'()&=+$,;?/", min_size=1, max_size=12)
HOST = st.sampled_from(["example.com", "192.0.2.1", "[2001:db8::1]", "a-b.example.org"])
VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=0, max_size=30).map(
    str.strip
)


@st.composite
def generated_message(draw: st.DrawFn) -> Request | Response:
    call_id = draw(TOKEN) + "@" + draw(HOST)
    fields = [
        ("Via", f"SIP/2.0/{draw(st.sampled_from(['UDP', 'TCP', 'TLS']))} {draw(HOST)};branch=z9hG4bK{draw(TOKEN)}"),
        ("From", f'"{draw(TOKEN)}" <sip:{draw(USER)}@{draw(HOST)}>;tag={draw(TOKEN)}'),
        ("To", f"<sip:{draw(USER)}@{draw(HOST)}>"),
        ("Call-ID", call_id),
    ]
    extra = draw(st.lists(st.tuples(st.sampled_from(["X-" + "Custom", "Subject", "User-Agent", "Warning"]), VALUE),
                          max_size=5))
    body = draw(st.binary(max_size=200))
    if draw(st.booleans()):
        method = draw(st.sampled_from(["INVITE", "OPTIONS", "MESSAGE", "NEWMETHOD"]))
        fields += [("CSeq", f"{draw(st.integers(0, 2**32 - 1))} {method}"), ("Max-Forwards", "70")]
        return Request(method, f"sip:{draw(USER)}@{draw(HOST)}", fields + extra, body)
    fields.append(("CSeq", f"{draw(st.integers(0, 2**32 - 1))} INVITE"))
    reason = draw(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\r\n"),
                          max_size=20)).strip()
    return Response(draw(st.integers(100, 699)), reason, fields + extra, body)


@SETTINGS
@given(generated_message())
def test_generated_messages_round_trip(message: Request | Response) -> None:
    again = parse_message(bytes(message))
    assert again == message
    assert again.call_id == message.call_id and again.body == message.body


@SETTINGS
@given(st.lists(st.sampled_from(list(CORPUS.values())), min_size=1, max_size=4), st.data())
def test_stream_parser_any_chunking(messages: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    parser = StreamParser()
    items = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        items.extend(parser.feed(stream[prev:cut]))
        prev = cut
    assert items == [parse_message(m) for m in messages]


def _full_name_addr(value: str) -> addr.NameAddr | None:
    try:
        return addr._parse_name_addr(value)
    except SipParseError:
        return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.from_regex(addr.EVERYDAY_NAME_ADDR_RE, fullmatch=True))
def test_everyday_address_fast_path_agrees_with_the_full_grammar(value: str) -> None:
    """The everyday-shape fast path builds what the full grammar builds, and refuses what it refuses."""
    full = _full_name_addr(value)
    match = addr.match_everyday_name_addr(value)
    if match is None:
        return
    if full is None:
        with pytest.raises(SipParseError):
            addr.name_addr_from_match(match)
        return
    fast = addr.name_addr_from_match(match)
    assert fast == full and str(fast) == str(full) and str(fast.uri) == str(full.uri)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.from_regex(VIA_FAST_RE, fullmatch=True))
def test_fast_via_check_accepts_only_valid_values(value: str) -> None:
    try:
        via = parse_via(value)
    except SipParseError:
        return
    assert parse_via(str(via)) == via


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.from_regex(uri._EVERYDAY_SIP_RE, fullmatch=True))
def test_everyday_uri_fast_path_agrees_with_the_full_grammar(text: str) -> None:
    full_match = uri._SIP_RE.fullmatch(text)
    fast = uri.everyday_sip_uri(*uri._EVERYDAY_SIP_RE.fullmatch(text).groups())  # type: ignore[union-attr]
    try:
        full = None if full_match is None else uri._build_sip(text, full_match)
    except SipParseError:
        full = None
    if full is None:
        assert fast is None
        return
    assert fast is not None
    assert fast == full and str(fast) == str(full)
    assert (fast.user, fast.host, fast.port, fast.params) == (full.user, full.host, full.port, full.params)

"""URIs: RFC 3261 19.1, RFC 3966, RFC 5118 and the RFC 4475 torture values."""

from __future__ import annotations

import itertools
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.sip.errors import SipParseError
from softphone.sip.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri, unescape
from tests.sip import strategies


def sip(text: str) -> SipUri:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    return uri


def fields(uri: Uri) -> tuple[object, ...]:
    if isinstance(uri, SipUri):
        return (uri.scheme, uri.user, uri.password, uri.host, uri.port, list(uri.params.items()), uri.headers)
    if isinstance(uri, TelUri):
        return (uri.number, list(uri.params.items()))
    return (uri.scheme, uri.opaque)


# --- parsing ---------------------------------------------------------------


def test_fields_of_a_full_uri() -> None:
    uri = sip("sips:alice:secretword@Atlanta.COM:5061;transport=TCP;lr;maddr=239.255.255.1;ttl=15?subject=x&to=a")
    assert uri.scheme == "sips"
    assert uri.user == "alice"
    assert uri.password == "secretword"
    assert uri.host == "Atlanta.COM"
    assert uri.port == 5061
    assert uri.params == {"transport": "TCP", "lr": None, "maddr": "239.255.255.1", "ttl": "15"}
    assert uri.headers == [("subject", "x"), ("to", "a")]
    assert uri.transport == "tcp"
    assert uri.lr is True
    assert uri.maddr == "239.255.255.1"
    assert uri.ttl == 15
    assert uri.host_port == ("Atlanta.COM", 5061)
    assert uri.is_ipv6 is False


def test_minimal_uri_defaults() -> None:
    uri = sip("sip:example.com")
    assert (uri.user, uri.password, uri.port, uri.params, uri.headers) == (None, None, None, {}, [])
    assert uri.transport is None and uri.lr is False and uri.maddr is None and uri.ttl is None
    assert uri.user_param is None and uri.method is None


@pytest.mark.parametrize(
    "text",
    [
        # RFC 3261 19.1.3 examples
        "sip:alice@atlanta.com",
        "sip:alice:secretword@atlanta.com;transport=tcp",
        "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:+1-212-555-1212:1234@gateway.com;user=phone",
        "sips:1212@gateway.com",
        "sip:alice@192.0.2.4",
        "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
        "sip:alice;day=tuesday@atlanta.com",
        # RFC 4475 request-URIs and header URIs
        "sip:vivekg@chair-dnrc.example.com;unknownparam",
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com",
        "sip:sips%3Auser%40example.com@example.net",
        "sip:%75se%72@example.com",
        "sip:I%20have%20spaces@example.net",
        "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31",
        "sip:null-%00-null@example.com",
        "sip:%00@host5.example.com",
        "sip:%00%00@host5.example.com",
        "sip:user;par=u%40example.net@example.com",
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
        "sip:services.example.com;lr;unknownwith=value;unknown-no-value",
        "sip:+19725552222@gw1.example.net;unknownparam",
        "sip:127.0.0.1:5080",
        "sip:fluffy@127.0.0.1:5070",
        "sip:UserB@example.com;maddr=ss1.example.com",
        "sip:+13035551111@ift.client.example.net;user=phone",
        "sip:user@example.com:6000;unknownparam1=verylonglonglonglonglongvalue;shortname=shortvalue;NoValue",
        # RFC 5118
        "sip:[2001:db8::10]",
        "sip:[2001:db8::10]:5070",
        "sip:[2001:db8::10:5070]",
        "sip:caller@[2001:db8::1]",
        "sip:ted@[::ffff:192.0.2.2]",
        "sip:user@[2001:db8::192.0.2.1]",
        "sip:example.com.",
        "SIP:ALICE@AtLanTa.CoM;Transport=udp",
    ],
)
def test_valid_sip_uris_round_trip(text: str) -> None:
    uri = sip(text)
    again = parse_uri(str(uri))
    assert fields(again) == fields(uri)
    assert again == uri
    if not text.startswith("SIP"):
        assert str(uri) == text


def test_escapes_are_kept_as_written() -> None:
    uri = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31")
    assert uri.user == "cal%6Cer"
    assert uri.params == {"%6C%72": None, "n%61me": "v%61lue%25%34%31"}
    # RFC 3261 19.1.4: parameter names compare with their escapes decoded.
    assert uri.lr is True


def test_semicolon_and_escaped_at_in_user_part() -> None:
    # RFC 4475 3.1.1.9
    uri = sip("sip:user;par=u%40example.net@example.com")
    assert uri.user == "user;par=u%40example.net"
    assert uri.host == "example.com"
    assert uri.params == {}
    assert unescape(uri.user) == "user;par=u@example.net"


def test_odd_but_legal_userinfo() -> None:
    # RFC 4475 3.1.1.2
    uri = sip(
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com"
    )
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com"


def test_escaped_headers_are_kept() -> None:
    # RFC 4475 3.3.14
    uri = sip("sip:user@example.com?Route=%3Csip:sip.example.com%3E")
    assert uri.headers == [("Route", "%3Csip:sip.example.com%3E")]
    assert unescape(uri.headers[0][1]) == "<sip:sip.example.com>"


def test_ipv6_references() -> None:
    # RFC 5118 4.3 / 4.4: the port is only outside the brackets.
    ambiguous = sip("sip:[2001:db8::10:5070]")
    assert ambiguous.host == "[2001:db8::10:5070]" and ambiguous.port is None
    assert ambiguous.is_ipv6
    explicit = sip("sip:[2001:db8::10]:5070")
    assert explicit.host == "[2001:db8::10]" and explicit.port == 5070
    assert explicit.host_port == ("[2001:db8::10]", 5070)
    assert ambiguous != explicit


def test_ipv6_three_colon_form_is_tolerated_and_fixed() -> None:
    # RFC 5118 4.10
    three = sip("sip:user@[2001:db8:::192.0.2.1]")
    two = sip("sip:user@[2001:db8::192.0.2.1]")
    assert three.host == "[2001:db8::192.0.2.1]"
    assert str(three) == "sip:user@[2001:db8::192.0.2.1]"
    assert three == two and hash(three) == hash(two)


def test_ipv6_hosts_compare_as_addresses() -> None:
    a = sip("sip:caller@[2001:DB8:0:0::1]")
    b = sip("sip:caller@[2001:db8::1]")
    assert a == b and hash(a) == hash(b)
    assert sip("sip:[::ffff:192.0.2.2]") != sip("sip:192.0.2.2")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("sip:2001:db8::10", "'[]'"),  # RFC 5118 4.2
        ("<sip:user@example.com>", "'<>'"),  # RFC 4475 3.1.2.7
        ("sip:user@example.com; lr", "whitespace"),  # RFC 4475 3.1.2.8
        ("sip:user@example.com ", "whitespace"),
        (" sip:user@example.com", "scheme"),
        ("sip:user@example.com>", "'>'"),
        ("sip:a@b:99999", "'99999'"),
        ("sip:a@b:65536", "'65536'"),
        ("sip:a@b:", "port"),
        ("sip:a@b:x1", "port"),
        ("sip:a@256.1.1.1", "'256.1.1.1'"),
        ("sip:a@[2001:db8::g]", "'[2001:db8::g]'"),
        ("sip:a@[2001:db8::1", "'[2001:db8::1'"),
        ("sip:a@[1:2:3:4:5:6:7:8:9]", "'[1:2:3:4:5:6:7:8:9]'"),
        ("sip:a@b;;", "empty"),
        ("sip:a@b;", "empty"),
        ("sip:a@b;=x", "';=x'"),
        ("sip:a@b;x=", "';x='"),
        ("sip:@example.com", "empty user"),
        ("sip:a%zz@b", "'%zz'"),
        ("sip:a%4@b", "'%4'"),
        ("sip:", "no host"),
        ("sip:user@", "no host"),
        ("sip:a@b@c", "'b@c'"),
        ("sip:a@b?", "headers"),
        ("sip:a@b?x", "'x'"),
        ("sip:a@-b.com", "'-b.com'"),
        ("sip:a@b-.com", "'b-.com'"),
        ("sip:a@b..com", "'b..com'"),
        ("sip:a@example.123", "'example.123'"),
        ("sip:a@b;lr;LR", "'LR'"),
        ("sip:a@b;transport=tcp;transport=udp", "'transport'"),
        ("sip:a@b\x00", "'\\x00'"),
        ("sip:a@b;p=\u00e9", "'\u00e9'"),
        ("", "no scheme"),
        ("example.com", "no scheme"),
        (":foo", "no scheme"),
        ("1sip:a@b", "'1sip'"),
        ("s_p:foo", "'s_p'"),
        ("http:", "http:"),
        ("isbn:12 34", "whitespace"),
        ("isbn:<x>", "'<'"),
        ("isbn:%g1", "'%g1'"),
    ],
)
def test_invalid_uris(text: str, fragment: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_uri(text)
    assert fragment in str(info.value)
    assert info.value.status_code == 400


def test_port_boundaries() -> None:
    assert sip("sip:a@b:0").port == 0
    assert sip("sip:a@b:65535").port == 65535
    assert sip("sip:a@b:05060").port == 5060


def test_ttl_property() -> None:
    assert sip("sip:a@b;ttl=255").ttl == 255
    with pytest.raises(SipParseError, match="'256'"):
        sip("sip:a@b;ttl=256").ttl  # noqa: B018
    with pytest.raises(SipParseError, match="'x'"):
        sip("sip:a@b;ttl=x").ttl  # noqa: B018


def test_param_properties_are_case_insensitive() -> None:
    uri = sip("sip:a@b;Transport=UDP;LR;MADDR=10.0.0.1;User=phone;Method=INVITE")
    assert uri.transport == "udp"
    assert uri.lr
    assert uri.maddr == "10.0.0.1"
    assert uri.user_param == "phone"
    assert uri.method == "INVITE"


# --- other schemes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "opaque"),
    [
        ("isbn:2983792873", "isbn", "2983792873"),  # RFC 4475 3.3.4
        ("http://www.example.com", "http", "//www.example.com"),
        ("name:John_Smith", "name", "John_Smith"),
        ("soap.beep://192.0.2.103:3002", "soap.beep", "//192.0.2.103:3002"),  # RFC 4475 3.3.3
        ("nobodyKnowsThisScheme:totallyopaquecontent", "nobodyKnowsThisScheme", "totallyopaquecontent"),  # 3.3.2
        ("mailto:a@example.com?subject=hi%20there", "mailto", "a@example.com?subject=hi%20there"),
        ("urn:service:sos", "urn", "service:sos"),
    ],
)
def test_absolute_uris(text: str, scheme: str, opaque: str) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, AbsoluteUri)
    assert (uri.scheme, uri.opaque) == (scheme, opaque)
    assert str(uri) == text


def test_absolute_uri_equality() -> None:
    assert parse_uri("ISBN:2983792873") == parse_uri("isbn:2983792873")
    assert hash(parse_uri("ISBN:2983792873")) == hash(parse_uri("isbn:2983792873"))
    assert parse_uri("isbn:2983792873") != parse_uri("isbn:2983792874")
    assert parse_uri("name:John_Smith") != parse_uri("name:john_smith")
    assert parse_uri("isbn:1") != parse_uri("sip:isbn")


# --- tel URIs (RFC 3966) ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number", "params", "is_global"),
    [
        # RFC 3966 6
        ("tel:+1-201-555-0123", "+1-201-555-0123", {}, True),
        ("tel:7042;phone-context=example.com", "7042", {"phone-context": "example.com"}, False),
        ("tel:863-1234;phone-context=+1-914-555", "863-1234", {"phone-context": "+1-914-555"}, False),
        ("tel:+1-212-555-1212;ext=1234", "+1-212-555-1212", {"ext": "1234"}, True),
        ("tel:+358-555-1234567;postd=pp22", "+358-555-1234567", {"postd": "pp22"}, True),
        ("tel:+(1)201.555.0123;isub=12345;unknown", "+(1)201.555.0123", {"isub": "12345", "unknown": None}, True),
        ("tel:*21#;phone-context=+1", "*21#", {"phone-context": "+1"}, False),
        ("TEL:+4930123", "+4930123", {}, True),
    ],
)
def test_tel_uris(text: str, number: str, params: dict[str, str | None], is_global: bool) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, TelUri)
    assert uri.number == number
    assert uri.params == params
    assert uri.is_global is is_global
    assert uri.phone_context == params.get("phone-context")
    assert parse_uri(str(uri)) == uri
    assert fields(parse_uri(str(uri))) == fields(uri)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("tel:7042", "phone-context"),  # RFC 3966 5.1: local numbers need a context
        ("tel:", "no number"),
        ("tel:+", "'+'"),
        ("tel:+-.()", "'+-.()'"),
        ("tel:+1 201", "'+1 201'"),
        ("tel:12x;phone-context=example.com", "'12x'"),
        ("tel:1234;phone-context=", "malformed"),
        ("tel:1234;phone-context=-bad.example", "'-bad.example'"),
        ("tel:+1234;ext=12a", "'12a'"),
        ("tel:+1234;isub", "isub"),
        ("tel:+1234;ext=1;ext=2", "'ext'"),
        ("tel:+1234;;x", "malformed"),
        ("tel:+1234;a_b=1", "malformed"),
    ],
)
def test_invalid_tel_uris(text: str, fragment: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_uri(text)
    assert fragment in str(info.value)


def test_tel_comparison() -> None:
    # RFC 3966 4: visual separators don't count, case doesn't count, parameter order doesn't count.
    assert parse_uri("tel:+1-201-555-0123") == parse_uri("tel:+12015550123")
    assert parse_uri("tel:+1(201)555.0123") == parse_uri("tel:+12015550123")
    assert hash(parse_uri("tel:+1-201-555-0123")) == hash(parse_uri("tel:+12015550123"))
    assert parse_uri("tel:7042;phone-context=EXAMPLE.com") == parse_uri("tel:7042;Phone-Context=example.com")
    assert parse_uri("tel:863-1234;phone-context=+1-914-555") == parse_uri("tel:8631234;phone-context=+1914555")
    assert parse_uri("tel:abc;phone-context=x.com") == parse_uri("tel:ABC;phone-context=x.com")
    assert parse_uri("tel:+1234;ext=1;isub=2") == parse_uri("tel:+1234;isub=2;ext=1")
    assert parse_uri("tel:+1234;ext=1-2") == parse_uri("tel:+1234;ext=12")
    assert parse_uri("tel:+1234") != parse_uri("tel:+1234;ext=1")
    assert parse_uri("tel:+1234;a=1") != parse_uri("tel:+1234;b=1")
    assert parse_uri("tel:1234;phone-context=+1") != parse_uri("tel:+11234")
    assert parse_uri("tel:+1234") != parse_uri("sip:+1234@example.com;user=phone")


# --- RFC 3261 19.1.4 comparison --------------------------------------------

EQUIVALENT_SETS = [
    ["sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"],
    ["sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"],
    [
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ],
    [
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ],
    # RFC 4475 3.1.1.3
    ["sip:%75se%72@example.com", "sip:user@example.com"],
]

DIFFERENT_PAIRS = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    # further rules of 19.1.4
    ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
    ("sip:alice@atlanta.com", "sip:alice:pw@atlanta.com"),
    ("sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com"),
    ("sip:carol@chicago.com;security=off", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;user=phone"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;ttl=1"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;method=INVITE"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;maddr=239.255.255.1"),
    ("sip:carol@chicago.com;lr", "sip:carol@chicago.com;lr=on"),
    ("sip:carol@chicago.com?Subject=a", "sip:carol@chicago.com?Subject=b"),
    ("sip:carol@chicago.com?Subject=a", "sip:carol@chicago.com?Subject=a&Priority=urgent"),
    ("sip:carol@chicago.com", "sip:chicago.com"),
    # RFC 4475 3.1.1.4: %00 is a character, not a terminator
    ("sip:%00@host5.example.com", "sip:%00%00@host5.example.com"),
    ("sip:null-%00-null@example.com", "sip:null-@example.com"),
    # reserved characters are not equal to their escapes
    ("sip:a%3Bb@example.com", "sip:a;b@example.com"),
    ("sip:a%40b@example.com", "sip:a@example.com"),
]


@pytest.mark.parametrize("texts", EQUIVALENT_SETS)
def test_rfc3261_equivalent_uris(texts: list[str]) -> None:
    for a, b in itertools.permutations(texts, 2):
        assert parse_uri(a) == parse_uri(b), (a, b)
        assert hash(parse_uri(a)) == hash(parse_uri(b)), (a, b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT_PAIRS)
def test_rfc3261_different_uris(a: str, b: str) -> None:
    assert parse_uri(a) != parse_uri(b)
    assert parse_uri(b) != parse_uri(a)


def test_escaped_header_and_param_comparison() -> None:
    assert sip("sip:a@b?Subject=project%20x") == sip("sip:a@b?subject=project%20x")
    assert sip("sip:a@b?subject=%70roject") == sip("sip:a@b?subject=project")
    assert sip("sip:a@b;n%61me=v%61lue") == sip("sip:a@b;name=VALUE")
    assert sip("sip:a@b;%6C%72") == sip("sip:a@b;lr")
    assert sip("sip:a@b;transport=%74cp") == sip("sip:a@b;transport=TCP")


def test_comparison_with_other_types() -> None:
    assert sip("sip:a@b") != "sip:a@b"
    assert sip("sip:a@b") != parse_uri("tel:+1234")
    assert sip("sip:a@b") in {sip("sip:a@B"): 1}


# --- construction and copies -----------------------------------------------


def test_build_and_serialise() -> None:
    uri = SipUri(host="example.com", user="alice")
    assert str(uri) == "sip:alice@example.com"
    uri.params["transport"] = "tcp"
    uri.port = 5070
    assert str(uri) == "sip:alice@example.com:5070;transport=tcp"
    assert str(SipUri(host="2001:db8::1", scheme="sips")) == "sips:[2001:db8::1]"
    assert str(TelUri(number="+1-201-555-0123", params={"ext": "7"})) == "tel:+1-201-555-0123;ext=7"
    assert str(AbsoluteUri(scheme="urn", opaque="service:sos")) == "urn:service:sos"


def test_replace_copies() -> None:
    uri = sip("sip:alice@example.com;transport=tcp?x=y")
    other = uri.replace(port=5080)
    assert other.port == 5080 and uri.port is None
    other.params["lr"] = None
    other.headers.append(("a", "b"))
    assert uri.params == {"transport": "tcp"} and uri.headers == [("x", "y")]
    assert uri.replace(host="example.net").host == "example.net"


# --- unescape --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("%75se%72", "user"),
        ("null-%00-null", "null-\x00-null"),
        ("%E2%82%AC", "\u20ac"),
        ("%e2%82%ac", "\u20ac"),
        ("%FF%41", "%FFA"),
        ("%C3", "%C3"),
        ("a%C3%A9%C3", "a\u00e9%C3"),
        ("100%", "100%"),
        ("%zz%4", "%zz%4"),
        ("%25%34%31", "%41"),
    ],
)
def test_unescape(text: str, expected: str) -> None:
    assert unescape(text) == expected


# --- properties ------------------------------------------------------------

UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()"
ESCAPES = st.integers(0, 255).map(lambda b: f"%{b:02X}") | st.integers(0, 255).map(lambda b: f"%{b:02x}")


def _text(extra: str, min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(UNRESERVED + extra) | ESCAPES, min_size=min_size, max_size=max_size).map("".join)


_LABEL = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
_TOPLABEL = st.from_regex(r"[A-Za-z]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
hostnames = st.builds(
    lambda labels, top, dot: "".join(label + "." for label in labels) + top + dot,
    st.lists(_LABEL, max_size=3),
    _TOPLABEL,
    st.sampled_from(["", "", "", "."]),
)
hosts = (
    hostnames
    | st.ip_addresses(v=4).map(str)
    | st.ip_addresses(v=6).map(lambda a: f"[{a}]")
    | st.ip_addresses(v=6).map(lambda a: f"[{a.exploded.upper()}]")
)


def _unique_names(params: dict[str, str | None]) -> bool:
    return len({unescape(name).lower() for name in params}) == len(params)


uri_params = st.dictionaries(_text(r"[]/:&+$"), st.none() | _text(r"[]/:&+$"), max_size=4).filter(_unique_names)
uri_headers = st.lists(st.tuples(_text(r"[]/?:+$"), _text(r"[]/?:+$", min_size=0)), max_size=3)


@st.composite
def sip_uris(draw: st.DrawFn) -> SipUri:
    user = draw(st.none() | _text("&=+$,;?/"))
    password = None if user is None else draw(st.none() | _text("&=+$,", min_size=0))
    return SipUri(
        scheme=draw(st.sampled_from(["sip", "sips"])),
        user=user,
        password=password,
        host=draw(hosts),
        port=draw(st.none() | st.integers(0, 65535)),
        params=draw(uri_params),
        headers=draw(uri_headers),
    )


_PHONEDIGITS = st.lists(st.sampled_from("0123456789-.()"), max_size=10).map("".join)


@st.composite
def tel_uris(draw: st.DrawFn) -> TelUri:
    params: dict[str, str | None] = {}
    if draw(st.booleans()):
        number = "+" + draw(_PHONEDIGITS) + draw(st.sampled_from("0123456789")) + draw(_PHONEDIGITS)
    else:
        number = draw(st.text("0123456789ABCDEFabcdef*#-.()", min_size=0, max_size=8)) + draw(
            st.sampled_from("0123456789ABCDEF*#")
        )
        params["phone-context"] = draw(hostnames | st.builds(lambda d: "+1" + d, _PHONEDIGITS))
    if draw(st.booleans()):
        params["ext"] = draw(_PHONEDIGITS) + "1"
    extra = draw(
        st.dictionaries(
            st.from_regex(r"[a-z0-9-]{1,6}", fullmatch=True).filter(lambda n: n not in ("ext", "phone-context")),
            st.none() | _text(r"[]/:&+$"),
            max_size=3,
        )
    )
    params.update(extra)
    return TelUri(number=number, params=params)


absolute_uris = st.builds(
    lambda scheme, opaque: AbsoluteUri(scheme=scheme, opaque=opaque),
    st.from_regex(r"[A-Za-z][A-Za-z0-9+.\-]{0,8}", fullmatch=True).filter(
        lambda s: s.lower() not in ("sip", "sips", "tel")
    ),
    _text(";/?:@&=+$,[]"),
)

any_uris = sip_uris() | tel_uris() | absolute_uris


@settings(max_examples=300, deadline=None)
@given(any_uris)
def test_generated_uris_round_trip(uri: Uri) -> None:
    text = str(uri)
    again = parse_uri(text)
    assert type(again) is type(uri)
    assert fields(again) == fields(uri)
    assert again == uri
    assert hash(again) == hash(uri)
    assert str(again) == text


def _escape_unreserved(text: str) -> str:
    pieces = re.findall(r"%[0-9A-Fa-f]{2}|.", text)
    return "".join(f"%{ord(p):02x}" if p in UNRESERVED else p for p in pieces)


@settings(max_examples=100, deadline=None)
@given(sip_uris())
def test_escaping_unreserved_characters_keeps_equality(uri: SipUri) -> None:
    if uri.user is None:
        return
    escaped = uri.replace(user=_escape_unreserved(uri.user))
    assert escaped == uri and hash(escaped) == hash(uri)
    assert parse_uri(str(escaped)) == uri


def _check_parse(text: str) -> None:
    try:
        uri = parse_uri(text)
    except SipParseError as exc:
        assert str(exc)
        return
    str(uri)
    hash(uri)
    assert uri == uri
    if isinstance(uri, SipUri):
        for name in ("transport", "lr", "maddr", "user_param", "method", "host_port", "is_ipv6"):
            getattr(uri, name)
        try:
            uri.ttl  # noqa: B018
        except SipParseError:
            pass


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_sip_parse_error(text: str) -> None:
    _check_parse(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="sipte:l+@[]%0123456789abcdef;=?&.-<> \x00\u00e9", max_size=40))
def test_uri_shaped_text_raises_only_sip_parse_error(text: str) -> None:
    _check_parse(text)


MUTATION_CHARS = st.sampled_from(list(':@;=?&%[]<>., \t\r\n"\\\x00\x7f\u00e9+-#*/0aF'))


def mutated(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategies.mutated(base, MUTATION_CHARS)


@settings(max_examples=300, deadline=None)
@given(mutated(any_uris.map(str)))
def test_mutated_uris_raise_only_sip_parse_error(text: str) -> None:
    _check_parse(text)


def test_long_inputs_stay_fast() -> None:
    start = time.perf_counter()
    for text in (
        "sip:" + "a" * 50000 + "!",
        "sip:" + "a;" * 20000,
        "sip:" + "a-" * 20000 + "@b@",
        "sip:" + "a." * 20000 + "-",
        "sip:" + "a" * 20000 + "?" + "a" * 20000,
        "sip:a@b:" + "9" * 10000,
        "sip:a@b;x=" + "%41" * 10000 + "%",
        "sip:[" + ":" * 20000,
        "tel:+" + "1-" * 20000 + "x",
        "x" * 50000 + ":",
    ):
        with pytest.raises(SipParseError):
            parse_uri(text)
    assert unescape("%ff" * 10000) == "%ff" * 10000
    assert time.perf_counter() - start < 2

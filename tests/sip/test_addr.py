"""name-addr / addr-spec values: RFC 3261 20.10 and 25.1, RFC 4475, RFC 5118."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.sip.addr import (
    ContactStar,
    NameAddr,
    parse_contact_list,
    parse_name_addr,
    parse_name_addr_list,
    quote_display_name,
    split_comma_list,
)
from softphone.sip.errors import SipParseError
from softphone.sip.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri
from tests.sip import strategies


def fields(addr: NameAddr) -> tuple[object, ...]:
    uri = addr.uri
    if isinstance(uri, SipUri):
        uri_fields: tuple[object, ...] = (
            uri.scheme,
            uri.user,
            uri.password,
            uri.host,
            uri.port,
            list(uri.params.items()),
            uri.headers,
        )
    elif isinstance(uri, TelUri):
        uri_fields = (uri.number, list(uri.params.items()))
    else:
        uri_fields = (uri.scheme, uri.opaque)
    return (addr.display_name, type(uri), uri_fields, list(addr.params.items()))


def assert_round_trip(addr: NameAddr) -> None:
    again = parse_name_addr(str(addr))
    assert fields(again) == fields(addr)
    assert again == addr
    assert str(again) == str(addr)


# --- RFC 4475 and RFC 5118 values ------------------------------------------


def test_wsinv_to_addr_spec_with_lws_before_params() -> None:
    # RFC 4475 3.1.1.1
    addr = parse_name_addr(" sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n")
    assert addr.display_name is None
    assert addr.uri == parse_uri("sip:vivekg@chair-dnrc.example.com")
    assert addr.params == {"tag": "1918181833n"}
    assert addr.tag == "1918181833n"
    assert_round_trip(addr)


@pytest.mark.parametrize(
    "value",
    [
        '"J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8',
        '"J Rosenberg \\\\\\""       <sip:jdrosen@example.com>    ;   tag    =    98asjd8',
    ],
)
def test_wsinv_from(value: str) -> None:
    addr = parse_name_addr(value)
    assert addr.display_name == 'J Rosenberg \\"'
    assert addr.uri == parse_uri("sip:jdrosen@example.com")
    assert addr.tag == "98asjd8"
    assert str(addr) == '"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>;tag=98asjd8'
    assert_round_trip(addr)


@pytest.mark.parametrize(
    "value",
    [
        '"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33',
        '"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33',
    ],
)
def test_wsinv_contact(value: str) -> None:
    [addr] = parse_contact_list(value)
    assert isinstance(addr, NameAddr)
    assert addr.display_name == 'Quoted string ""'
    assert addr.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert addr.q == 0.33
    assert_round_trip(addr)


def test_wsinv_route() -> None:
    [route] = parse_name_addr_list("\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>")
    uri = route.uri
    assert isinstance(uri, SipUri)
    assert uri.lr
    assert uri.params == {"lr": None, "unknownwith": "value", "unknown-no-value": None}
    assert route.params == {}


def test_intmeth_to_with_quoted_pair_controls() -> None:
    # RFC 4475 3.1.1.2: quoted-pairs escape NUL, BEL and DEL
    value = '"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>'
    addr = parse_name_addr(value)
    assert addr.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    uri = addr.uri
    assert isinstance(uri, SipUri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.host == "example.com"
    assert str(addr) == value
    assert_round_trip(addr)


def test_intmeth_from_with_token_display_name_and_utf8_param() -> None:
    value = (
        "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;"
        "fromParam''~+*_!.-%=\"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439\";tag=_token~1'+`*%!-."
    )
    addr = parse_name_addr(value)
    assert addr.display_name == "token1~` token2'+_ token3*%!.-"
    assert addr.params == {
        "fromParam''~+*_!.-%": '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"',
        "tag": "_token~1'+`*%!-.",
    }
    assert addr.tag == "_token~1'+`*%!-."
    assert str(addr) == value
    assert_round_trip(addr)


def test_esc01_values() -> None:
    # RFC 4475 3.1.1.3
    to = parse_name_addr("sip:%75se%72@example.com")
    assert to.uri == parse_uri("sip:user@example.com")
    sender = parse_name_addr("<sip:I%20have%20spaces@example.net>;tag=938")
    assert isinstance(sender.uri, SipUri) and sender.uri.user == "I%20have%20spaces"
    [contact] = parse_contact_list("\r\n  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>")
    assert isinstance(contact, NameAddr)
    assert contact.uri == parse_uri("sip:caller@host5.example.net;lr;name=value%25%34%31")
    assert contact.params == {}


def test_escnull_contacts_are_distinct() -> None:
    # RFC 4475 3.1.1.4
    first = parse_contact_list("<sip:%00@host5.example.com>")
    second = parse_contact_list("<sip:%00%00@host5.example.com>")
    assert first != second
    assert isinstance(first[0], NameAddr) and isinstance(second[0], NameAddr)
    assert first[0].uri != second[0].uri
    to = parse_name_addr("sip:null-%00-null@example.com")
    assert isinstance(to.uri, SipUri) and to.uri.user == "null-%00-null"


def test_esc02_display_name_is_not_unescaped() -> None:
    # RFC 4475 3.1.1.5
    addr = parse_name_addr('"%Z%45" <sip:resource@example.com>;tag=f232jadfj23')
    assert addr.display_name == "%Z%45"
    assert_round_trip(addr)


def test_lwsdisp_no_space_before_laquot() -> None:
    # RFC 4475 3.1.1.6
    addr = parse_name_addr("caller<sip:caller@example.com>;tag=323")
    assert addr.display_name == "caller"
    assert addr.tag == "323"
    assert str(addr) == "caller <sip:caller@example.com>;tag=323"


def test_longreq_values() -> None:
    # RFC 4475 3.1.1.7
    name = "I have a user name of " + "extreme" * 10 + " proportion"
    to = parse_name_addr(
        f'"{name}"<sip:user@example.com:6000;unknownparam1=very{"long" * 20}value;'
        f"longparam{'name' * 25}=shortvalue;very{'long' * 25}ParameterNameWithNoValue>"
    )
    assert to.display_name == name
    assert isinstance(to.uri, SipUri)
    assert to.uri.port == 6000
    assert list(to.uri.params.values()) == [f"very{'long' * 20}value", "shortvalue", None]
    sender = parse_name_addr(
        f"sip:{'amazinglylongcallername' * 5}@example.net;tag={'12982' * 30}424;"
        f"unknownheaderparam{'name' * 20}=unknowheaderparam{'value' * 15};"
        f"unknownValuelessparam{'paramname' * 10}"
    )
    assert sender.tag == "12982" * 30 + "424"
    assert len(sender.params) == 3
    assert_round_trip(sender)


def test_cparam01_addr_spec_params_belong_to_the_header() -> None:
    # RFC 4475 3.3.12 / RFC 3261 20.10
    [contact] = parse_contact_list("sip:+19725552222@gw1.example.net;unknownparam")
    assert isinstance(contact, NameAddr) and isinstance(contact.uri, SipUri)
    assert contact.uri.params == {}
    assert contact.params == {"unknownparam": None}
    assert str(contact) == "<sip:+19725552222@gw1.example.net>;unknownparam"


def test_cparam02_name_addr_params_belong_to_the_uri() -> None:
    # RFC 4475 3.3.13
    [contact] = parse_contact_list("<sip:+19725552222@gw1.example.net;unknownparam>")
    assert isinstance(contact, NameAddr) and isinstance(contact.uri, SipUri)
    assert contact.uri.params == {"unknownparam": None}
    assert contact.params == {}


def test_regescrt_escaped_route_in_brackets() -> None:
    # RFC 4475 3.3.14
    [contact] = parse_contact_list("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>")
    assert isinstance(contact, NameAddr) and isinstance(contact.uri, SipUri)
    assert contact.uri.headers == [("Route", "%3Csip:sip.example.com%3E")]
    assert str(contact) == "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>"


@pytest.mark.parametrize(
    ("value", "scheme", "opaque", "params"),
    [
        ("isbn:2983792873", "isbn", "2983792873", {}),
        ("<http://www.example.com>;tag=3234233", "http", "//www.example.com", {"tag": "3234233"}),
        ("<name:John_Smith>", "name", "John_Smith", {}),
    ],
)
def test_unksm2_non_sip_schemes(value: str, scheme: str, opaque: str, params: dict[str, str | None]) -> None:
    # RFC 4475 3.3.4
    addr = parse_name_addr(value)
    assert isinstance(addr.uri, AbsoluteUri)
    assert (addr.uri.scheme, addr.uri.opaque) == (scheme, opaque)
    assert addr.params == params
    assert_round_trip(addr)


@pytest.mark.parametrize(
    ("value", "display", "host"),
    [
        ('"Caller" <sip:caller@[2001:db8::1]>', "Caller", "[2001:db8::1]"),
        ('"Caller" <sip:caller@[2001:db8::9:1]>', "Caller", "[2001:db8::9:1]"),
        ('"T. desk phone" <sip:ted@[::ffff:192.0.2.2]>', "T. desk phone", "[::ffff:192.0.2.2]"),
        ("sip:user@[2001:db8::10]", None, "[2001:db8::10]"),
        ("sip:user@[2001:db8::192.0.2.1]", None, "[2001:db8::192.0.2.1]"),
        ("sip:user@[2001:db8:::192.0.2.1]", None, "[2001:db8::192.0.2.1]"),
    ],
)
def test_rfc5118_ipv6_addresses(value: str, display: str | None, host: str) -> None:
    addr = parse_name_addr(value)
    assert addr.display_name == display
    assert isinstance(addr.uri, SipUri)
    assert addr.uri.host == host
    assert addr.uri.is_ipv6
    assert_round_trip(addr)


@pytest.mark.parametrize(
    "value",
    [
        "sip:caller@example.org;tag=33242",
        "sip:j.user@example.com",
        "<sip:user@example.com>;tag=39ansfi3",
        "<sip:+13035551111@ift.client.example.net;user=phone>",
        "sip:+16505552222@ss1.example.net;user=phone",
        "<sip:UserB@example.com;maddr=ss1.example.com>",
        '"Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423',
        "A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe",
        "T. Watson <sip:t.watson@example.org>",
        "<sip:127.0.0.1:5080>",
        "<sip:fluffy@127.0.0.1:5070>",
        "sip:user@example.edu;tag=2229",
        "<tel:+1-201-555-0123>;tag=1",
        '"" <sip:anonymous@anonymous.invalid>;tag=x',
    ],
)
def test_plain_values_parse_and_round_trip(value: str) -> None:
    addr = parse_name_addr(value)
    assert_round_trip(addr)


def test_empty_quoted_display_name_is_kept() -> None:
    assert parse_name_addr('"" <sip:a@b>').display_name == ""
    assert parse_name_addr("<sip:a@b>").display_name is None
    assert str(parse_name_addr('"" <sip:a@b>')) == '"" <sip:a@b>'


def test_display_name_lws_between_tokens_is_one_space() -> None:
    assert parse_name_addr("Alice \t  Smith   <sip:a@b>").display_name == "Alice Smith"
    assert parse_name_addr("Alice\r\n Smith <sip:a@b>").display_name == "Alice Smith"


def test_utf8_quoted_display_name() -> None:
    addr = parse_name_addr('"J\u00f6rg M\u00fcller \u6771\u4eac" <sip:j@example.com>')
    assert addr.display_name == "J\u00f6rg M\u00fcller \u6771\u4eac"
    assert_round_trip(addr)


# --- rejects ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        # RFC 4475 3.1.2.15
        ("Bell, Alexander <sip:a.g.bell@example.com>;tag=43", "'Bell, Alexander'"),
        ("Watson, Thomas <sip:t.watson@example.org>", "'Watson, Thomas'"),
        # RFC 4475 3.1.2.14
        ('"Watson, Thomas" < sip:t.watson@example.org >', "whitespace inside"),
        ("<sip:t.watson@example.org >", "whitespace inside"),
        ("<sip:t.watson @example.org>", "whitespace"),
        # RFC 4475 3.1.2.1
        ('"Joe" <sip:joe@example.org>;;;;', "empty parameter"),
        ("<sip:joe@example.org>;", "empty parameter"),
        ("<sip:joe@example.org>; ;tag=1", "empty parameter"),
        # RFC 4475 3.1.2.6
        ('"Mr. J. User <sip:j.user@example.com>', "unterminated"),
        # RFC 4475 3.1.2.13 / RFC 3261 20.10
        ("sip:user@example.com?Route=%3Csip:sip.example.com%3E", "'<>'"),
        ("sip:a@b,c", "','"),
        ("<sip:a@b>, <sip:c@d>", "','"),
        ("<sip:a@b", "closing '>'"),
        ("<>", "empty URI"),
        ("", "no address"),
        ("   ", "no address"),
        ("*", "no scheme"),
        ("<sip:a@b> junk", "'junk'"),
        ("<sip:a@b>;tag=", "'='"),
        ("<sip:a@b>;tag=a b", "'b'"),
        ('<sip:a@b>;x="unterminated', "'=\"unterminated'"),
        ("<sip:a@b>;tag=1;TAG=2", "'TAG'"),
        ('Joe "Smith" <sip:a@b>', "'Joe \"Smith\"'"),
        ('"a\x00b" <sip:a@b>', "control character"),
        ('"a\r\nb" <sip:a@b>', "line break"),
        ('"a\\\nb" <sip:a@b>', "CR or LF"),
        ('"a" sip:a@b', "expected '<'"),
        ("<<sip:a@b>>", "'<>'"),
        ("<sip:2001:db8::1>", "'[]'"),
        ("<sip:a@b:70000>", "'70000'"),
        ("<tel:1234>", "phone-context"),
    ],
)
def test_invalid_values(value: str, fragment: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_name_addr(value)
    assert fragment in str(info.value)
    assert info.value.status_code == 400


def test_invalid_lists() -> None:
    with pytest.raises(SipParseError, match="'Bell'"):
        parse_name_addr_list("Bell, Alexander <sip:a.g.bell@example.com>;tag=43")
    with pytest.raises(SipParseError, match="empty element"):
        parse_contact_list('"Joe" <sip:joe@example.org>,,')
    with pytest.raises(SipParseError, match="mixed"):
        parse_contact_list("*, <sip:a@b>")


# --- lists -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        ("a", ["a"]),
        (" a ,\tb , c ", ["a", "b", "c"]),
        ('"Bell, Alexander" <sip:a@b>, <sip:c,d@e>', ['"Bell, Alexander" <sip:a@b>', "<sip:c,d@e>"]),
        ('"a \\" , b" <sip:x@y>, z', ['"a \\" , b" <sip:x@y>', "z"]),
        ('"a\\\\", b', ['"a\\\\"', "b"]),
        ("<sip:a@b>;q=0.5,\r\n <sip:c@d>", ["<sip:a@b>;q=0.5", "<sip:c@d>"]),
        ("*", ["*"]),
    ],
)
def test_split_comma_list(value: str, parts: list[str]) -> None:
    assert split_comma_list(value) == parts


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("a,,b", "empty element"),
        ("a,", "empty element"),
        (",a", "empty element"),
        ("", "empty element"),
        (" , ", "empty element"),
        ('"a, b', "unterminated quoted string"),
        ('"a\\"', "unterminated quoted string"),
        ("<sip:a@b, c", "'<' without"),
        ("sip:a@b>, c", "'>' without"),
        ("<a<b>>", "'<' without"),
    ],
)
def test_split_comma_list_errors(value: str, fragment: str) -> None:
    with pytest.raises(SipParseError) as info:
        split_comma_list(value)
    assert fragment in str(info.value)


def test_contact_list_and_star() -> None:
    assert parse_contact_list("*") == [ContactStar()]
    assert parse_contact_list("  *  ") == [ContactStar()]
    assert str(ContactStar()) == "*"
    contacts = parse_contact_list('<sip:alias1@host1.example.com>, "x,y" <sip:a@b>;expires=60, sip:c@d;q=1')
    assert [str(c) for c in contacts] == [
        "<sip:alias1@host1.example.com>",
        '"x,y" <sip:a@b>;expires=60',
        "<sip:c@d>;q=1",
    ]
    assert ContactStar() != contacts[0]


def test_route_list() -> None:
    routes = parse_name_addr_list("<sip:p1.example.com;lr>,<sip:p2.example.com;lr>, <sip:[2001:db8::1]:5070;lr>")
    assert [r.uri.host for r in routes if isinstance(r.uri, SipUri)] == [
        "p1.example.com",
        "p2.example.com",
        "[2001:db8::1]",
    ]
    assert all(isinstance(r.uri, SipUri) and r.uri.lr for r in routes)


def test_everyday_header_values() -> None:
    refer_to = parse_name_addr(
        "<sip:bob@example.com?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>"
    )
    assert isinstance(refer_to.uri, SipUri)
    assert refer_to.uri.headers == [("Replaces", "12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994")]
    identities = parse_name_addr_list('"Cullen Jennings" <sip:fluffy@example.com>, <tel:+14085264000>')
    assert isinstance(identities[1].uri, TelUri)
    [contact] = parse_contact_list(
        '<sip:line1@192.0.2.2;transport=tcp>;reg-id=1;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
    )
    assert isinstance(contact, NameAddr)
    assert contact.params == {"reg-id": "1", "+sip.instance": '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'}
    assert_round_trip(contact)


# --- properties of NameAddr ------------------------------------------------


def test_tag_read_write() -> None:
    addr = parse_name_addr("<sip:a@b>;Tag=abc;x=1")
    assert addr.tag == "abc"
    addr.tag = "def"
    assert addr.params == {"Tag": "def", "x": "1"}
    addr.tag = None
    assert addr.params == {"x": "1"}
    assert addr.tag is None
    addr.tag = "new"
    assert str(addr) == "<sip:a@b>;x=1;tag=new"
    addr.tag = None
    addr.tag = None
    assert addr.params == {"x": "1"}


def test_expires_and_q() -> None:
    addr = parse_name_addr("<sip:a@b>;expires=3600;q=0.7")
    assert addr.expires == 3600
    assert addr.q == 0.7
    assert parse_name_addr("<sip:a@b>").expires is None
    assert parse_name_addr("<sip:a@b>").q is None
    assert parse_name_addr("<sip:a@b>;EXPIRES=0;Q=1.000").expires == 0
    assert parse_name_addr("<sip:a@b>;EXPIRES=0;Q=1.000").q == 1.0
    # RFC 4475 3.1.2.4: an overlarge value is the UA's to judge, so it comes through unclamped
    assert parse_name_addr("<sip:a@b>;expires=280297596632815").expires == 280297596632815
    for bad in ("expires=x", "expires", "expires=-1", "expires=" + "9" * 5000):
        with pytest.raises(SipParseError, match="expires"):
            parse_name_addr(f"<sip:a@b>;{bad}").expires  # noqa: B018
    for bad in ("q=1.5", "q=2", "q", "q=0.1234", "q=.5"):
        with pytest.raises(SipParseError, match="q parameter"):
            parse_name_addr(f"<sip:a@b>;{bad}").q  # noqa: B018


def test_equality() -> None:
    a = parse_name_addr('"Alice" <sip:%61lice@atlanta.com>;TAG=1')
    b = parse_name_addr("Alice <sip:alice@ATLANTA.com>;tag=1")
    assert a == b
    assert a != parse_name_addr("Alice <sip:alice@atlanta.com>;tag=2")
    assert a != parse_name_addr("<sip:alice@atlanta.com>;tag=1")
    assert parse_name_addr('"" <sip:a@b>') != parse_name_addr("<sip:a@b>")
    assert a != "Alice <sip:alice@atlanta.com>;tag=1"


def test_construction() -> None:
    addr = NameAddr(uri=SipUri(host="example.com", user="alice"), display_name="Alice Smith")
    addr.tag = "88sja8x"
    assert str(addr) == "Alice Smith <sip:alice@example.com>;tag=88sja8x"
    addr = NameAddr(SipUri(host="example.com"), display_name='Say "hi"\\')
    assert str(addr) == '"Say \\"hi\\"\\\\" <sip:example.com>'
    assert_round_trip(addr)


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Alice", "Alice"),
        ("Alice Smith", "Alice Smith"),
        ("A. Bell", "A. Bell"),
        ("token1~` token2'+_", "token1~` token2'+_"),
        ("", '""'),
        ("Alice  Smith", '"Alice  Smith"'),
        (" Alice", '" Alice"'),
        ("Bell, Alexander", '"Bell, Alexander"'),
        ('J Rosenberg \\"', '"J Rosenberg \\\\\\""'),
        ("BEL:\x07 NUL:\x00 DEL:\x7f", '"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f"'),
        ("tab\there", '"tab\there"'),
        ("J\u00f6rg", '"J\u00f6rg"'),
        ("<sip:x>", '"<sip:x>"'),
    ],
)
def test_quote_display_name(name: str, written: str) -> None:
    assert quote_display_name(name) == written
    assert parse_name_addr(f"{written} <sip:a@b>").display_name == name


def test_quote_display_name_rejects_line_breaks() -> None:
    with pytest.raises(SipParseError, match="CR or LF"):
        quote_display_name("a\r\nb")


# --- properties ------------------------------------------------------------

TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()"
ESCAPES = st.integers(0, 255).map(lambda b: f"%{b:02X}")
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=8)


def _uri_text(extra: str, min_size: int = 1) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(UNRESERVED + extra) | ESCAPES, min_size=min_size, max_size=8).map("".join)


hosts = (
    st.from_regex(r"([a-z0-9]([a-z0-9-]{0,5}[a-z0-9])?\.){0,2}[a-zA-Z]([a-z0-9-]{0,5}[a-z0-9])?", fullmatch=True)
    | st.ip_addresses(v=4).map(str)
    | st.ip_addresses(v=6).map(lambda a: f"[{a}]")
)


@st.composite
def sip_uris(draw: st.DrawFn) -> SipUri:
    user = draw(st.none() | _uri_text("&=+$,;?/"))
    names = draw(st.lists(_uri_text("[]/:&+$"), max_size=3, unique_by=str.lower))
    params = {name: draw(st.none() | _uri_text("[]/:&+$")) for name in names}
    return SipUri(
        scheme=draw(st.sampled_from(["sip", "sips"])),
        user=user,
        password=None if user is None else draw(st.none() | _uri_text("&=+$,", min_size=0)),
        host=draw(hosts),
        port=draw(st.none() | st.integers(0, 65535)),
        params=params,
        headers=draw(st.lists(st.tuples(_uri_text("[]/?:+$"), _uri_text("[]/?:+$", min_size=0)), max_size=2)),
    )


tel_uris = st.builds(
    lambda digits, ext: TelUri(number="+" + digits, params={} if ext is None else {"ext": ext}),
    st.from_regex(r"[0-9][0-9().\-]{0,10}", fullmatch=True),
    st.none() | st.from_regex(r"[0-9]{1,4}", fullmatch=True),
)
absolute_uris = st.builds(
    lambda scheme, opaque: AbsoluteUri(scheme=scheme, opaque=opaque),
    st.sampled_from(["isbn", "http", "urn", "name", "soap.beep", "mailto"]),
    _uri_text(";/?:@&=+$,[]"),
)
uris: st.SearchStrategy[Uri] = sip_uris() | tel_uris | absolute_uris


def _quoted(content: str) -> str:
    escaped = "".join("\\" + c if c in '"\\' or (c < " " and c != "\t") or c == "\x7f" else c for c in content)
    return f'"{escaped}"'


# Any character a quoted-string can carry: no surrogates, no CR or LF.
TEXT_CHARS = st.characters(codec="utf-8", exclude_characters="\r\n")
display_names = st.none() | st.lists(tokens, min_size=1, max_size=3).map(" ".join) | st.text(TEXT_CHARS, max_size=12)
param_values = (
    st.none() | tokens | st.text(TEXT_CHARS, max_size=8).map(_quoted) | st.ip_addresses(v=6).map(lambda a: f"[{a}]")
)


@st.composite
def name_addrs(draw: st.DrawFn) -> NameAddr:
    names = draw(st.lists(tokens, max_size=4, unique_by=str.lower))
    return NameAddr(
        uri=draw(uris),
        display_name=draw(display_names),
        params={name: draw(param_values) for name in names},
    )


@settings(max_examples=400, deadline=None)
@given(name_addrs())
def test_generated_name_addrs_round_trip(addr: NameAddr) -> None:
    text = str(addr)
    again = parse_name_addr(text)
    assert fields(again) == fields(addr)
    assert again == addr
    assert str(again) == text


@settings(max_examples=100, deadline=None)
@given(st.lists(name_addrs(), min_size=1, max_size=4), st.sampled_from([",", ", ", " ,\t", ",\r\n "]))
def test_generated_lists_round_trip(addrs: list[NameAddr], separator: str) -> None:
    text = separator.join(str(a) for a in addrs)
    parsed = parse_name_addr_list(text)
    assert [fields(a) for a in parsed] == [fields(a) for a in addrs]
    assert parse_contact_list(text) == addrs
    assert len(split_comma_list(text)) == len(addrs)


def _check_all(text: str) -> None:
    try:
        addr = parse_name_addr(text)
    except SipParseError as exc:
        assert str(exc)
    else:
        str(addr)
        assert addr == addr
        for name in ("tag", "expires", "q"):
            try:
                getattr(addr, name)
            except SipParseError:
                pass
    for parse in (split_comma_list, parse_name_addr_list, parse_contact_list):
        try:
            parse(text)
        except SipParseError as exc:
            assert str(exc)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_sip_parse_error(text: str) -> None:
    _check_all(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='sip:@<>";=,\\ \t\r\nab\x00*[]?%2.', max_size=40))
def test_address_shaped_text_raises_only_sip_parse_error(text: str) -> None:
    _check_all(text)


MUTATION_CHARS = st.sampled_from(list(':@;=?&%[]<>., \t\r\n"\\\x00\x7f\u00e9*#'))


def mutated(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategies.mutated(base, MUTATION_CHARS)


TORTURE_VALUES = [
    '"J Rosenberg \\\\\\""       <sip:jdrosen@example.com>    ;   tag    =    98asjd8',
    '"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>',
    "caller<sip:caller@example.com>;tag=323",
    "sip:+19725552222@gw1.example.net;unknownparam",
    "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>",
    '"Caller" <sip:caller@[2001:db8::1]>, <http://www.example.com>;tag=3234233',
]


@settings(max_examples=400, deadline=None)
@given(mutated(name_addrs().map(str) | st.sampled_from(TORTURE_VALUES)))
def test_mutated_values_raise_only_sip_parse_error(text: str) -> None:
    _check_all(text)


def test_long_inputs_stay_fast() -> None:
    start = time.perf_counter()
    for text in (
        "a " * 20000 + "!",
        "a " * 20000 + "<",
        '"' + "a" * 50000,
        '"' + "\\a" * 20000,
        "<sip:a@b>" + " ;x" * 20000 + "=",
        "<sip:a@b>" + ";x=" * 20000,
        '<sip:a@b>;x="' + "\\" * 20001,
        ", " * 20000,
        '"a,' * 20000,
        "<" * 20000,
        "sip:a@b" + ";" * 20000,
        "a\r\n " * 10000 + "<",
    ):
        _check_all(text)
    assert time.perf_counter() - start < 2

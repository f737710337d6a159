from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from softphone.store.uris import normalise_uri, phone_digits, uri_user


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sip:alice@example.com", "sip:alice@example.com"),
        ("SIP:Alice@EXAMPLE.com", "sip:Alice@example.com"),
        ('"Alice Ünicode" <sip:Alice@Example.COM;transport=tcp>;tag=abc', "sip:Alice@example.com"),
        ("Alice <sips:alice@example.com:5061;lr?subject=hi>", "sips:alice@example.com:5061"),
        ("<sip:alice:secret@example.com>", "sip:alice@example.com"),
        ("sip:%61lice@example.com", "sip:alice@example.com"),
        ("sip:a%3bb@example.com", "sip:a%3Bb@example.com"),
        ("sip:example.com;transport=udp", "sip:example.com"),
        ("sip:+442079460000;phone-context=x@example.com;user=phone", "sip:+442079460000;phone-context=x@example.com"),
        ("alice@example.com", "sip:alice@example.com"),
        ("tel:+44-20-7946-0000;ext=12", "tel:+442079460000"),
        ("+44 (20) 7946 0000", "tel:+442079460000"),
        ("sip:[2001:DB8::1]:5060", "sip:[2001:db8::1]:5060"),
        ("  sip:bob@example.org  ", "sip:bob@example.org"),
        ('"a<b" <sip:bob@example.org>', "sip:bob@example.org"),
        ("sip:Grüße@bücher.example", "sip:Grüße@bücher.example"),
    ],
)
def test_normalise_uri(text: str, expected: str) -> None:
    assert normalise_uri(text) == expected


@given(st.text())
def test_normalise_uri_is_idempotent_on_any_text(text: str) -> None:
    once = normalise_uri(text)
    assert normalise_uri(once) == once


_user = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs")), min_size=1, max_size=12)
_host = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}(\.[A-Za-z]{2,5}){1,2}", fullmatch=True)


@given(
    scheme=st.sampled_from(["sip", "SIP", "sips", "Sips"]),
    user=_user.filter(lambda u: not set(u) & set('@:?;<>"%')),
    host=_host,
    port=st.none() | st.integers(1, 65535),
    params=st.lists(st.sampled_from([";transport=tcp", ";lr", ";user=phone", ";maddr=x.example"]), max_size=3),
    display=st.none() | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=8),
)
def test_normalise_uri_of_name_addr(
    scheme: str, user: str, host: str, port: int | None, params: list[str], display: str | None
) -> None:
    hostport = host + (f":{port}" if port else "")
    uri = f"{scheme}:{user}@{hostport}{''.join(params)}"
    text = uri if display is None else '"' + display.replace("\\", "\\\\").replace('"', '\\"') + f'" <{uri}>'
    norm = normalise_uri(text)
    assert norm == f"{scheme.lower()}:{user}@{hostport.lower()}"
    assert normalise_uri(norm) == norm
    assert uri_user(norm) == user


@pytest.mark.parametrize(
    ("number", "digits"),
    [
        ("+44 20 7946 0000", "+442079460000"),
        ("0044 20 79460000", "+442079460000"),
        ("(020) 7946-0000", "02079460000"),
        ("tel:+1-555-0100;ext=2", "+15550100"),
        ("", ""),
    ],
)
def test_phone_digits(number: str, digits: str) -> None:
    assert phone_digits(number) == digits

"""Tests for softphone.sip.auth: Digest challenges, credentials and responses."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.sip import auth
from softphone.sip.auth import (
    SUPPORTED_ALGORITHMS,
    Challenge,
    Credentials,
    DigestClient,
    choose_challenge,
    digest_response,
    parse_challenge,
    parse_credentials,
    verify_credentials,
)
from softphone.sip.errors import SipParseError


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _sha512_256(text: str) -> str:
    return hashlib.new("sha512_256", text.encode()).hexdigest()


_BY_BASE: dict[str, Callable[[str], str]] = {"MD5": _md5, "SHA-256": _sha256, "SHA-512-256": _sha512_256}


def _fixed(*values: str) -> Callable[[], str]:
    queue = list(values)
    return lambda: queue.pop(0)


# --------------------------------------------------------------------------- RFC 7616 3.9.1

RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"


def _rfc7616_challenge(algorithm: str) -> str:
    return (
        'Digest\r\n    realm="http-auth@example.org",\r\n    qop="auth, auth-int",\r\n'
        f"    algorithm={algorithm},\r\n"
        f'    nonce="{RFC7616_NONCE}",\r\n    opaque="{RFC7616_OPAQUE}"'
    )


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        # RFC 7616 3.9.1, the two Authorization header fields of the example.
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_example(algorithm: str, expected: str) -> None:
    challenge = parse_challenge(_rfc7616_challenge(algorithm))
    assert challenge.scheme == "Digest"
    assert challenge.realm == "http-auth@example.org"
    assert challenge.qop == ["auth", "auth-int"]
    assert challenge.algorithm == algorithm

    assert (
        digest_response(
            algorithm=algorithm,
            username="Mufasa",
            realm="http-auth@example.org",
            password="Circle of Life",
            method="GET",
            uri="/dir/index.html",
            nonce=RFC7616_NONCE,
            qop="auth",
            nc="00000001",
            cnonce=RFC7616_CNONCE,
        )
        == expected
    )

    client = DigestClient("Mufasa", "Circle of Life", cnonce_factory=_fixed(RFC7616_CNONCE))
    value = client.authorization(challenge, "GET", "/dir/index.html")
    assert value == (
        'Digest username="Mufasa", realm="http-auth@example.org", '
        f'nonce="{RFC7616_NONCE}", uri="/dir/index.html", response="{expected}", '
        f'algorithm={algorithm}, cnonce="{RFC7616_CNONCE}", opaque="{RFC7616_OPAQUE}", qop=auth, nc=00000001'
    )


def test_rfc7616_authorization_text_verifies() -> None:
    text = (
        'Digest username="Mufasa",\r\n realm="http-auth@example.org",\r\n uri="/dir/index.html",\r\n'
        f' algorithm=SHA-256,\r\n nonce="{RFC7616_NONCE}",\r\n nc=00000001,\r\n'
        f' cnonce="{RFC7616_CNONCE}",\r\n qop=auth,\r\n'
        ' response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",\r\n'
        f' opaque="{RFC7616_OPAQUE}"'
    )
    credentials = parse_credentials(text)
    assert credentials.username == "Mufasa"
    assert credentials.algorithm == "SHA-256"
    assert credentials.nc == "00000001"
    assert credentials.qop == "auth"
    assert verify_credentials(credentials, password="Circle of Life", method="GET")
    assert not verify_credentials(credentials, password="Circle Of Life", method="GET")
    assert not verify_credentials(credentials, password="Circle of Life", method="POST")


# --------------------------------------------------------------------------- RFC 7616 3.9.2

JASON = "J\u00e4s\u00f8n Doe"
RFC7616_USERHASH_CHALLENGE = (
    'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
    'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
    'opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true'
)
RFC7616_USERHASH_CNONCE = "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v"
# The values printed in RFC 7616 3.9.2.
RFC7616_USERHASH = "488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec"
RFC7616_USERHASH_RESPONSE = "ae66e67d6b427bd3f120414a82e4acff38e8ecd9101d6c861229025f607a79dd"


def _truncated_sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()[:64]


def test_rfc7616_userhash_example_as_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    # The printed 3.9.2 values come from SHA-512 cut to 256 bits, not the
    # SHA-512/256 that section 3.2 names (erratum 4897); with that hash
    # swapped in, the message construction reproduces them exactly.
    monkeypatch.setitem(auth._HASHES, "SHA-512-256", _truncated_sha512)
    challenge = parse_challenge(RFC7616_USERHASH_CHALLENGE)
    assert challenge.userhash
    assert challenge.charset == "UTF-8"
    client = DigestClient(JASON, "Secret, or not?", cnonce_factory=_fixed(RFC7616_USERHASH_CNONCE))
    credentials = parse_credentials(client.authorization(challenge, "GET", "/doe.json"))
    assert credentials.username == RFC7616_USERHASH
    assert credentials.response == RFC7616_USERHASH_RESPONSE
    assert credentials.userhash
    assert verify_credentials(credentials, password="Secret, or not?", method="GET", username=JASON)


def test_rfc7616_userhash_example_with_sha512_256() -> None:
    challenge = parse_challenge(RFC7616_USERHASH_CHALLENGE)
    client = DigestClient(JASON, "Secret, or not?", cnonce_factory=_fixed(RFC7616_USERHASH_CNONCE))
    value = client.authorization(challenge, "GET", "/doe.json")
    credentials = parse_credentials(value)

    userhash = _sha512_256(f"{JASON}:api@example.org")
    ha1 = _sha512_256(f"{JASON}:api@example.org:Secret, or not?")
    ha2 = _sha512_256("GET:/doe.json")
    response = _sha512_256(f"{ha1}:{challenge.nonce}:00000001:{RFC7616_USERHASH_CNONCE}:auth:{ha2}")
    assert userhash == "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
    assert credentials.username == userhash
    assert credentials.response == response
    assert value.endswith(", userhash=true")
    assert JASON not in value
    assert verify_credentials(credentials, password="Secret, or not?", method="GET", username=JASON)
    assert not verify_credentials(credentials, password="Secret, or not?", method="GET")
    assert not verify_credentials(credentials, password="Secret, or not?", method="GET", username="Jason Doe")


def test_username_star_for_non_ascii_name() -> None:
    # RFC 7616 3.9.2: without userhash the name goes as username*=UTF-8''...
    challenge = parse_challenge(RFC7616_USERHASH_CHALLENGE.replace(", userhash=true", ""))
    client = DigestClient(JASON, "Secret, or not?", cnonce_factory=_fixed(RFC7616_USERHASH_CNONCE))
    value = client.authorization(challenge, "GET", "/doe.json")
    assert value.startswith("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, ")
    credentials = parse_credentials(value)
    assert credentials.username == JASON
    assert not credentials.userhash
    assert verify_credentials(credentials, password="Secret, or not?", method="GET")


def test_non_ascii_name_without_charset_is_a_quoted_string() -> None:
    challenge = parse_challenge('Digest realm="r", nonce="n", qop="auth"')
    value = DigestClient(JASON, "pw").authorization(challenge, "GET", "sip:r")
    assert value.startswith(f'Digest username="{JASON}", ')
    assert verify_credentials(parse_credentials(value), password="pw", method="GET")


def test_username_star_decoding() -> None:
    credentials = parse_credentials("Digest username*=iso-8859-1'en'J%E4s%F8n%20Doe, realm=r")
    assert credentials.username == JASON
    with pytest.raises(SipParseError, match="both username and username"):
        parse_credentials("Digest username*=UTF-8''a, username=\"a\"")
    with pytest.raises(SipParseError, match="not valid UTF-8"):
        parse_credentials("Digest username*=UTF-8''%FF")
    with pytest.raises(SipParseError, match="charset"):
        parse_credentials("Digest username*=KOI8-R''%FF")


# --------------------------------------------------------------------------- RFC 2617 3.5

RFC2617_CHALLENGE = (
    'Digest\r\n                 realm="testrealm@host.com",\r\n                 qop="auth,auth-int",\r\n'
    '                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",\r\n'
    '                 opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_rfc2617_example() -> None:
    challenge = parse_challenge(RFC2617_CHALLENGE)
    assert challenge.algorithm == "MD5"
    assert challenge.qop == ["auth", "auth-int"]
    client = DigestClient("Mufasa", "Circle Of Life", cnonce_factory=_fixed("0a4f113b"))
    credentials = parse_credentials(client.authorization(challenge, "GET", "/dir/index.html"))
    assert credentials.qop == "auth"
    assert credentials.nc == "00000001"
    assert credentials.cnonce == "0a4f113b"
    assert credentials.opaque == "5ccc069c403ebaf9f0171e9517f40e41"
    # RFC 2617 3.5.
    assert credentials.response == "6629fae49393a05397450978507c4ef1"


def test_rfc2617_authorization_text_verifies() -> None:
    text = (
        'Digest username="Mufasa",\r\n realm="testrealm@host.com",\r\n'
        ' nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",\r\n uri="/dir/index.html",\r\n'
        ' qop=auth,\r\n nc=00000001,\r\n cnonce="0a4f113b",\r\n'
        ' response="6629fae49393a05397450978507c4ef1",\r\n opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    credentials = parse_credentials(text)
    assert verify_credentials(credentials, password="Circle Of Life", method="GET", username="Mufasa")
    assert not verify_credentials(credentials, password="Circle Of Life", method="GET", username="Simba")


# --------------------------------------------------------------------------- SIP cases


def test_sip_challenge_without_qop() -> None:
    # RFC 3261 20.44 example challenge; no qop means the RFC 2069 form.
    challenge = parse_challenge(
        'Digest realm="atlanta.com",\r\n domain="sip:ss1.carrier.com",\r\n'
        ' nonce="f84f1cec41e6cbe5aea9c8e88d359",\r\n opaque="", stale=FALSE, algorithm=MD5'
    )
    assert challenge.domain == "sip:ss1.carrier.com"
    assert challenge.opaque == ""
    assert challenge.stale is False
    assert challenge.qop == []
    client = DigestClient("bob", "zanzibar", cnonce_factory=_fixed())
    value = client.authorization(challenge, "REGISTER", "sip:atlanta.com")
    ha1 = _md5("bob:atlanta.com:zanzibar")
    ha2 = _md5("REGISTER:sip:atlanta.com")
    expected = _md5(f"{ha1}:f84f1cec41e6cbe5aea9c8e88d359:{ha2}")
    assert value == (
        'Digest username="bob", realm="atlanta.com", nonce="f84f1cec41e6cbe5aea9c8e88d359", '
        f'uri="sip:atlanta.com", response="{expected}", algorithm=MD5, opaque=""'
    )
    credentials = parse_credentials(value)
    assert credentials.qop is None and credentials.nc is None and credentials.cnonce is None
    assert verify_credentials(credentials, password="zanzibar", method="REGISTER")
    assert not verify_credentials(credentials, password="zanzibar", method="INVITE")


@pytest.mark.parametrize("algorithm", ["MD5-sess", "SHA-256-sess", "SHA-512-256-sess"])
def test_sess_algorithms_round_trip(algorithm: str) -> None:
    challenge = parse_challenge(f'Digest realm="biloxi.com", nonce="abc123", qop="auth", algorithm={algorithm}')
    client = DigestClient("bob", "zanzibar", cnonce_factory=_fixed("c0ffee"))
    credentials = parse_credentials(client.authorization(challenge, "INVITE", "sip:bob@biloxi.com"))
    assert credentials.algorithm == algorithm
    assert verify_credentials(credentials, password="zanzibar", method="INVITE")
    assert not verify_credentials(credentials, password="zanzibaR", method="INVITE")

    h = _BY_BASE[algorithm.removesuffix("-sess")]
    ha1 = h(f"{h('bob:biloxi.com:zanzibar')}:abc123:c0ffee")
    ha2 = h("INVITE:sip:bob@biloxi.com")
    assert credentials.response == h(f"{ha1}:abc123:00000001:c0ffee:auth:{ha2}")


def test_sha256_sess_by_hand() -> None:
    ha1 = _sha256(f"{_sha256('alice:atlanta.com:secret')}:n0nce:cn0nce")
    ha2 = _sha256("REGISTER:sip:atlanta.com")
    expected = _sha256(f"{ha1}:n0nce:0000002a:cn0nce:auth:{ha2}")
    got = digest_response(
        algorithm="sha-256-SESS",
        username="alice",
        realm="atlanta.com",
        password="secret",
        method="REGISTER",
        uri="sip:atlanta.com",
        nonce="n0nce",
        qop="auth",
        nc="0000002a",
        cnonce="cn0nce",
    )
    assert got == expected


def test_auth_int_when_only_offered() -> None:
    body = b"v=0\r\no=bob 2890844527 2890844527 IN IP4 host.biloxi.com\r\n"
    challenge = parse_challenge('Digest realm="biloxi.com", nonce="n1", qop="auth-int", algorithm=SHA-256')
    client = DigestClient("bob", "zanzibar", cnonce_factory=_fixed("cn1"))
    value = client.authorization(challenge, "INVITE", "sip:bob@biloxi.com", body)
    credentials = parse_credentials(value)
    assert credentials.qop == "auth-int"

    ha1 = _sha256("bob:biloxi.com:zanzibar")
    ha2 = _sha256(f"INVITE:sip:bob@biloxi.com:{hashlib.sha256(body).hexdigest()}")
    assert credentials.response == _sha256(f"{ha1}:n1:00000001:cn1:auth-int:{ha2}")
    assert verify_credentials(credentials, password="zanzibar", method="INVITE", body=body)
    assert not verify_credentials(credentials, password="zanzibar", method="INVITE", body=body + b"a=x\r\n")


def test_auth_preferred_over_auth_int() -> None:
    challenge = parse_challenge('Digest realm="r", nonce="n", qop="auth-int,auth"')
    value = DigestClient("u", "p").authorization(challenge, "MESSAGE", "sip:r", b"hello")
    assert parse_credentials(value).qop == "auth"


def test_nonce_count_per_nonce() -> None:
    client = DigestClient("bob", "zanzibar", cnonce_factory=lambda: "cn")
    first = parse_challenge('Digest realm="r", nonce="one", qop="auth"')
    second = parse_challenge('Digest realm="r", nonce="two", qop="auth", stale=true')
    assert second.stale

    def nc(challenge: Challenge) -> str | None:
        return parse_credentials(client.authorization(challenge, "REGISTER", "sip:r")).nc

    assert nc(first) == "00000001"
    assert nc(first) == "00000002"
    assert nc(second) == "00000001"
    assert nc(first) == "00000003"
    assert client.nonce_count("one") == 3
    assert client.nonce_count("unknown") == 0
    for _ in range(14):
        nc(first)
    assert nc(first) == "00000012"


def test_nonce_counts_are_bounded() -> None:
    client = DigestClient("u", "p", cnonce_factory=lambda: "cn")
    for i in range(DigestClient.max_nonces + 5):
        client.authorization(parse_challenge(f'Digest realm="r", nonce="n{i}", qop="auth"'), "OPTIONS", "sip:r")
    assert client.nonce_count("n0") == 0
    assert client.nonce_count(f"n{DigestClient.max_nonces + 4}") == 1


def test_default_cnonce_is_random() -> None:
    challenge = parse_challenge('Digest realm="r", nonce="n", qop="auth"')
    client = DigestClient("u", "p")
    first = parse_credentials(client.authorization(challenge, "OPTIONS", "sip:r")).cnonce
    second = parse_credentials(client.authorization(challenge, "OPTIONS", "sip:r")).cnonce
    assert first and second and first != second


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ('Basic realm="r"', "not Digest"),
        ('Digest realm="r", nonce="n", algorithm=SHA-1', "unsupported digest algorithm"),
        ('Digest realm="r", qop="auth"', "no nonce"),
        ('Digest nonce="n", qop="auth"', "no realm"),
        ('Digest realm="r", nonce="n", qop="auth-conf"', "no supported qop"),
        ('Digest realm="r", nonce="n", algorithm=MD5-sess', "without qop"),
    ],
)
def test_unanswerable_challenges(header: str, reason: str) -> None:
    challenge = parse_challenge(header)
    with pytest.raises(SipParseError, match=reason):
        DigestClient("u", "p").authorization(challenge, "REGISTER", "sip:r")
    assert choose_challenge([challenge]) is None


def test_crlf_cannot_be_injected() -> None:
    challenge = parse_challenge('Digest realm="r", nonce="n", qop="auth"')
    with pytest.raises(SipParseError, match="uri contains CR or LF"):
        DigestClient("u", "p").authorization(challenge, "REGISTER", "sip:r\r\nX-Evil: 1")


# --------------------------------------------------------------------------- choose_challenge


def _offer(algorithm: str, nonce: str = "n") -> Challenge:
    return parse_challenge(f'Digest realm="r", nonce="{nonce}", qop="auth", algorithm={algorithm}')


def test_choose_strongest() -> None:
    md5, sha256, sha512 = _offer("MD5"), _offer("SHA-256"), _offer("SHA-512-256")
    assert choose_challenge([md5, sha256, sha512]) is sha512
    assert choose_challenge([sha512, md5, sha256]) is sha512
    assert choose_challenge([md5, sha256]) is sha256
    assert choose_challenge([md5]) is md5
    assert choose_challenge([]) is None


def test_choose_ignores_unusable() -> None:
    md5 = _offer("MD5")
    unknown = _offer("SHA-1024")
    basic = parse_challenge('Basic realm="r"')
    other = parse_challenge("NoOneKnowsThisScheme opaque-data=here")
    assert choose_challenge([unknown, basic, other, md5]) is md5
    assert choose_challenge([unknown, basic, other]) is None


def test_choose_sess_ranks_with_its_hash_and_ties_keep_order() -> None:
    sess, plain = _offer("SHA-256-sess", "a"), _offer("SHA-256", "b")
    assert choose_challenge([sess, plain]) is sess
    assert choose_challenge([plain, sess]) is plain
    assert choose_challenge([_offer("MD5"), _offer("MD5-sess"), sess]) is sess


def test_supported_algorithms() -> None:
    assert set(SUPPORTED_ALGORITHMS) == {
        "SHA-512-256",
        "SHA-512-256-sess",
        "SHA-256",
        "SHA-256-sess",
        "MD5",
        "MD5-sess",
    }


# --------------------------------------------------------------------------- parsing


def test_parse_challenge_details() -> None:
    challenge = parse_challenge(
        'dIgEsT  REALM = "a \\"quoted\\" \\\\ realm" ,nonce=tok.en ,\tAlgorithm="sha-512-256-SESS",'
        ' qop="Auth-Int , auth,, ", stale=TRUE, userhash=True, x-unknown=""'
    )
    assert challenge.scheme == "dIgEsT"
    assert challenge.is_digest
    assert challenge.realm == 'a "quoted" \\ realm'
    assert challenge.nonce == "tok.en"
    assert challenge.algorithm == "SHA-512-256-sess"
    assert challenge.qop == ["auth-int", "auth"]
    assert challenge.stale and challenge.userhash
    assert challenge.params["x-unknown"] == ""
    assert set(challenge.params) == {"realm", "nonce", "algorithm", "qop", "stale", "userhash", "x-unknown"}


def test_rfc4475_unknown_scheme() -> None:
    # RFC 4475 3.3.7: Authorization: NoOneKnowsThisScheme opaque-data=here
    credentials = parse_credentials("NoOneKnowsThisScheme opaque-data=here")
    assert credentials.scheme == "NoOneKnowsThisScheme"
    assert not credentials.is_digest
    assert credentials.params == {"opaque-data": "here"}
    assert not verify_credentials(credentials, password="p", method="INVITE")


def test_token68_and_bare_scheme() -> None:
    basic = parse_credentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    assert basic.token68 == "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    assert basic.params == {}
    assert "QWxhZGRp" not in repr(basic)
    assert parse_challenge("Negotiate").params == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected an auth-scheme"),
        ("   ", "expected an auth-scheme"),
        ('"Digest" realm="r"', 'expected an auth-scheme, found """'),
        ("Digest", "Digest without auth-params"),
        ('Digest,realm="r"', 'expected whitespace after the auth-scheme, found ","'),
        ('Digest realm="unterminated', 'unterminated quoted-string in the value of "realm"'),
        ('Digest realm="r\\', 'unterminated quoted-string in the value of "realm"'),
        ("Digest realm", "expected '=' after \"realm\""),
        ('Digest realm "r"', "expected '=' after \"realm\""),
        ("Digest realm=", 'expected a token or quoted-string after "realm="'),
        ('Digest realm="r",', "expected an auth-param name, found end of text"),
        ('Digest realm="r",, nonce="n"', 'expected an auth-param name, found ","'),
        ('Digest realm="r" nonce="n"', 'expected \',\' after the value of "realm", found "nonce"'),
        ('Digest realm="r", REALM="s"', 'auth-param "REALM" appears twice'),
        ('Digest realm="a\x00b"', "control character"),
        ('Digest realm="a\r\nb"', "control character"),
        ('Digest realm="r", nonce="n"\r\nVia: x', "expected ',' after the value of \"nonce\""),
        ("Digest realm=a/b", 'expected \',\' after the value of "realm", found "/b"'),
    ],
)
def test_malformed_challenges(text: str, message: str) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_challenge(text)
    assert message in str(caught.value)
    assert caught.value.status_code == 400
    assert "\r" not in str(caught.value) and "\n" not in str(caught.value)


def test_challenge_errors_quote_the_value() -> None:
    with pytest.raises(SipParseError) as caught:
        parse_challenge('Digest realm="r" nonce="n"')
    assert str(caught.value).endswith('in "Digest realm="r" nonce="n""')


@pytest.mark.parametrize(
    "text",
    [
        'Digest username="u", response="5ec2e7cadd7e8ea0b1cbf5e1a4a2b2ac',
        'Digest username="u", response=5ec2e7cadd7e8ea0b1cbf5e1a4a2b2ac garbage',
        'Digest username="u", response="5ec2e7cadd7e8ea0b1cbf5e1a4a2b2ac"x',
        'Digest response="5ec2e7cadd7e8ea0b1cbf5e1a4a2b2ac", response="5ec2e7cadd7e8ea0b1cbf5e1a4a2b2ac"',
        'Digest username="u" response="5ec2e7cadd7e8ea0b1cbf5e1a4a2b2ac"',
    ],
)
def test_credential_errors_never_show_the_response(text: str) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_credentials(text)
    assert "5ec2e7" not in str(caught.value)


def test_secrets_stay_out_of_reprs() -> None:
    client = DigestClient("bob", "hunter2-secret", cnonce_factory=lambda: "cn")
    assert "hunter2" not in repr(client)
    challenge = parse_challenge('Digest realm="r", nonce="n", qop="auth"')
    credentials = parse_credentials(client.authorization(challenge, "REGISTER", "sip:r"))
    assert credentials.response is not None
    assert credentials.response not in repr(credentials)
    assert "bob" in repr(credentials)


def test_verify_rejects_incomplete_or_tampered() -> None:
    challenge = parse_challenge('Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256')
    value = DigestClient("u", "p", cnonce_factory=lambda: "cn").authorization(challenge, "BYE", "sip:r")
    good = parse_credentials(value)
    assert verify_credentials(good, password="p", method="BYE")
    tampered = parse_credentials(value.replace("nc=00000001", "nc=00000002"))
    assert not verify_credentials(tampered, password="p", method="BYE")
    for missing in ("nonce", "realm", "uri", "response", "username", "cnonce", "nc"):
        fields = {k: v for k, v in good.params.items() if k != missing}
        stripped = Credentials(
            scheme="Digest",
            username=fields.get("username"),
            realm=fields.get("realm"),
            nonce=fields.get("nonce"),
            uri=fields.get("uri"),
            response=fields.get("response"),
            algorithm=good.algorithm,
            cnonce=fields.get("cnonce"),
            nc=fields.get("nc"),
            qop=fields.get("qop"),
        )
        assert not verify_credentials(stripped, password="p", method="BYE"), missing
    unknown = parse_credentials(value.replace("algorithm=SHA-256", "algorithm=SHA-1"))
    assert not verify_credentials(unknown, password="p", method="BYE")


def test_digest_response_rejects_bad_inputs() -> None:
    def response(algorithm: str, qop: str | None, nc: str | None, cnonce: str | None) -> str:
        return digest_response(
            algorithm=algorithm,
            username="u",
            realm="r",
            password="p",
            method="INVITE",
            uri="sip:r",
            nonce="n",
            qop=qop,
            nc=nc,
            cnonce=cnonce,
        )

    with pytest.raises(SipParseError, match='unsupported digest algorithm "SHA-1"'):
        response("SHA-1", None, None, None)
    with pytest.raises(SipParseError, match='unsupported qop "auth-conf"'):
        response("MD5", "auth-conf", "00000001", "c")
    with pytest.raises(SipParseError, match="needs both nc and cnonce"):
        response("MD5", "auth", None, "c")
    with pytest.raises(SipParseError, match="needs a cnonce"):
        response("MD5-sess", None, None, None)


# --------------------------------------------------------------------------- property tests

_FRAGMENTS = st.sampled_from(
    [
        "Digest",
        "Basic",
        " ",
        "\t",
        "\r\n ",
        "\r\n",
        "=",
        '"',
        "\\",
        ",",
        "realm",
        "nonce",
        "qop",
        "username",
        "username*",
        "response",
        "algorithm",
        "userhash",
        "UTF-8''",
        "%C3%A4",
        "%",
        "'",
        "abc",
        "==",
        "\x00",
        "\u00e9",
        "\ud800",
    ]
)
_AUTH_LIKE = st.lists(_FRAGMENTS | st.text(max_size=3), max_size=24).map("".join)
_ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=()), max_size=80)


@settings(max_examples=300, deadline=None)
@given(_AUTH_LIKE | _ANY_TEXT)
def test_parsers_raise_only_sip_parse_error(text: str) -> None:
    for parse in (parse_challenge, parse_credentials):
        try:
            parse(text)
        except SipParseError as error:
            assert "\r" not in str(error) and "\n" not in str(error)


@settings(max_examples=150, deadline=None)
@given(_AUTH_LIKE)
def test_parsed_credentials_never_crash_verify(text: str) -> None:
    try:
        credentials = parse_credentials(text)
    except SipParseError:
        return
    assert verify_credentials(credentials, password="p", method="INVITE") in (True, False)


_NO_CRLF = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=20)
_QOPS = st.sampled_from([[], ["auth"], ["auth-int"], ["auth", "auth-int"], ["auth-int", "token"]])


@settings(max_examples=120, deadline=None)
@given(
    username=_NO_CRLF,
    password=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
    realm=_NO_CRLF,
    nonce=_NO_CRLF.filter(bool),
    opaque=st.none() | _NO_CRLF,
    uri=_NO_CRLF,
    method=st.sampled_from(["INVITE", "REGISTER", "MESSAGE", "SUBSCRIBE"]),
    algorithm=st.sampled_from(SUPPORTED_ALGORITHMS),
    qop=_QOPS,
    userhash=st.booleans(),
    charset=st.sampled_from([None, "UTF-8", "utf-8"]),
    body=st.binary(max_size=40),
    cnonce=_NO_CRLF.filter(bool),
)
def test_authorization_round_trip(
    username: str,
    password: str,
    realm: str,
    nonce: str,
    opaque: str | None,
    uri: str,
    method: str,
    algorithm: str,
    qop: list[str],
    userhash: bool,
    charset: str | None,
    body: bytes,
    cnonce: str,
) -> None:
    if not qop and algorithm.endswith("-sess"):
        qop = ["auth"]
    challenge = Challenge(
        scheme="Digest",
        realm=realm,
        nonce=nonce,
        opaque=opaque,
        algorithm=algorithm,
        qop=qop,
        userhash=userhash,
        charset=charset,
    )
    client = DigestClient(username, password, cnonce_factory=lambda: cnonce)
    value = client.authorization(challenge, method, uri, body)
    assert "\r" not in value and "\n" not in value
    credentials = parse_credentials(value)

    expected_qop = None if not qop else ("auth" if "auth" in qop else "auth-int")
    hashed = _BY_BASE[algorithm.removesuffix("-sess")]
    assert credentials.scheme == "Digest"
    assert credentials.username == (hashed(f"{username}:{realm}") if userhash else username)
    assert credentials.userhash is userhash
    assert credentials.realm == realm
    assert credentials.nonce == nonce
    assert credentials.uri == uri
    assert credentials.opaque == opaque
    assert credentials.algorithm == algorithm
    assert credentials.qop == expected_qop
    assert credentials.nc == (None if expected_qop is None else "00000001")
    assert credentials.cnonce == (None if expected_qop is None else cnonce)
    assert verify_credentials(credentials, password=password, method=method, body=body, username=username)
    assert not verify_credentials(credentials, password=password + "x", method=method, body=body, username=username)

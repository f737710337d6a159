"""RFC 4475 and RFC 5118 torture messages: each parses or is rejected as its manifest row says."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from softphone.sip import (
    AbsoluteUri,
    Request,
    Response,
    SipParseError,
    SipUri,
    parse_message,
    parse_uri,
)
from softphone.sip.sdp import parse_sdp
from tests.conftest import torture_dir

Message = Request | Response


@dataclass(frozen=True)
class Parses:
    """Parses; ``check`` asserts what the RFC says the parse must yield."""

    check: Callable[[Message], None] | None = None


@dataclass(frozen=True)
class Rejected:
    """parse_message raises; ``status`` is the response a request deserves (None: a response, dropped)."""

    status: int | None


@dataclass(frozen=True)
class RejectedOnRead:
    """Frames and parses, but reading ``view`` (a header the UA must read for this method) raises."""

    view: str
    status: int = 400


def _wsinv(m: Message) -> None:
    assert isinstance(m, Request) and m.method == "INVITE"
    assert m.headers["Subject"] == ""
    assert m.max_forwards == 68
    assert (m.cseq.seq, m.cseq.method) == (9, "INVITE")
    assert m.from_.display_name == 'J Rosenberg \\"'
    assert m.from_.tag == "98asjd8"
    assert m.headers["NewFangledHeader"].startswith("newfangled value")
    assert m.headers["UnknownHeaderWithUnusualValue"] == ";;,,;;,;"
    assert [v.branch for v in m.vias] == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"]
    assert m.vias[1].transport == "TCP" and m.vias[1].host == "spindle.example.com"
    (contact,) = m.contacts
    assert contact.display_name == 'Quoted string ""' and contact.q == 0.33
    assert len(m.body) == 150 and parse_sdp(m.body).origin.address == "192.0.2.3"


def _intmeth(m: Message) -> None:
    assert isinstance(m, Request)
    assert m.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert m.to.display_name is not None and "\x00" in m.to.display_name
    assert m.cseq.method == m.method


def _esc01(m: Message) -> None:
    assert m.to.uri == parse_uri("sip:user@example.com")
    assert isinstance(m, Request) and isinstance(m.uri, SipUri)
    assert m.uri.user == "sips%3Auser%40example.com" and m.uri.host == "example.net"
    assert m.contacts[0].uri == parse_uri("sip:caller@host5.example.net;lr;name=value%2541")


def _escnull(m: Message) -> None:
    first, second = m.contacts
    assert first.uri != second.uri


def _esc02(m: Message) -> None:
    assert isinstance(m, Request) and m.method == "RE%47IST%45R"
    assert m.to.display_name == "%Z%45"
    assert len(m.contacts) == 2
    assert m.headers["C%6Fntact"] == "<sip:alias2@host2.example.com>"


def _lwsdisp(m: Message) -> None:
    assert m.from_.display_name == "caller"


def _longreq(m: Message) -> None:
    assert len(m.vias) == 34
    assert m.to.display_name is not None and len(m.to.display_name) > 100


def _dblreq(m: Message) -> None:
    assert isinstance(m, Request) and m.method == "REGISTER" and m.body == b""


def _semiuri(m: Message) -> None:
    assert isinstance(m, Request) and isinstance(m.uri, SipUri)
    assert m.uri.user == "user;par=u%40example.net" and m.uri.host == "example.com"
    assert [str(t) for t in m.accept or []][-1] == "message/sipfrag"


def _transports(m: Message) -> None:
    assert [v.transport for v in m.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def _mpart01(m: Message) -> None:
    assert len(m.body) == 553 and b"\x00" in m.body
    assert m.content_type is not None and m.content_type.mime == "multipart/mixed"


def _unreason(m: Message) -> None:
    assert isinstance(m, Response) and m.status_code == 200
    assert m.reason.endswith("простое")


def _noreason(m: Message) -> None:
    assert isinstance(m, Response) and m.status_code == 100 and m.reason == ""


def _badbranch(m: Message) -> None:
    assert m.via.branch == "z9hG4bK"


def _uri_scheme(scheme: str) -> Callable[[Message], None]:
    def check(m: Message) -> None:
        assert isinstance(m, Request) and isinstance(m.uri, AbsoluteUri) and m.uri.scheme.lower() == scheme

    return check


def _unksm2(m: Message) -> None:
    assert isinstance(m.to.uri, AbsoluteUri) and m.to.uri.scheme == "isbn"
    assert isinstance(m.from_.uri, AbsoluteUri) and m.from_.uri.scheme == "http"
    assert isinstance(m.contacts[0].uri, AbsoluteUri)


def _bext01(m: Message) -> None:
    assert m.require == ["nothingSupportsThis", "nothingSupportsThisEither"]
    assert m.proxy_require == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]


def _invut(m: Message) -> None:
    assert m.content_type is not None and m.content_type.mime == "application/unknownformat"


def _regaut01(m: Message) -> None:
    (credentials,) = m.authorization
    assert credentials.scheme == "NoOneKnowsThisScheme"


def _bcast(m: Message) -> None:
    assert m.vias[1].host == "255.255.255.255"


def _zeromf(m: Message) -> None:
    assert m.max_forwards == 0


def _cparam01(m: Message) -> None:
    (contact,) = m.contacts
    assert "unknownparam" in contact.params
    assert isinstance(contact.uri, SipUri) and "unknownparam" not in contact.uri.params


def _cparam02(m: Message) -> None:
    (contact,) = m.contacts
    assert isinstance(contact.uri, SipUri) and "unknownparam" in contact.uri.params
    assert "unknownparam" not in contact.params


def _regescrt(m: Message) -> None:
    (contact,) = m.contacts
    assert isinstance(contact.uri, SipUri)
    assert [name for name, _ in contact.uri.headers] == ["Route"]


def _sdp01(m: Message) -> None:
    assert [t.mime for t in m.accept or []] == ["text/nobodyknowsthis"]


def _inv2543(m: Message) -> None:
    assert isinstance(m, Request) and m.method == "INVITE"
    assert m.via.branch is None and m.from_.tag is None and m.max_forwards is None
    assert m.body.startswith(b"v=0")
    assert "Content-Length" not in m.headers


def _request_host(host: str, port: int | None = None) -> Callable[[Message], None]:
    def check(m: Message) -> None:
        assert isinstance(m, Request) and isinstance(m.uri, SipUri)
        assert (m.uri.host, m.uri.port) == (host, port)

    return check


def _received(m: Message) -> None:
    assert m.via.received == "2001:db8::9:255"


def _sdp_ipv6(m: Message) -> None:
    sdp = parse_sdp(m.body)
    addresses = [c.address for c in [sdp.connection, *(md.connection for md in sdp.media)] if c is not None]
    assert any(":" in a for a in addresses)


def _mult_ip_in_header(m: Message) -> None:
    assert [v.host for v in m.vias] == ["[2001:db8::9:1]", "192.0.2.1", "[2001:db8::9:255]"]
    assert m.vias[2].received == "192.0.2.200"


def _mult_ip_in_sdp(m: Message) -> None:
    sdp = parse_sdp(m.body)
    kinds = sorted(md.connection.addrtype for md in sdp.media if md.connection is not None)
    assert kinds == ["IP4", "IP6"]


def _ipv4_mapped(m: Message) -> None:
    assert "::ffff:192.0.2.1" in m.via.host.lower() or "::ffff:192.0.2.1" in str(m.contacts[0].uri).lower()
    _sdp_ipv6(m)


EXPECTED: dict[str, Parses | Rejected | RejectedOnRead] = {
    # RFC 4475 3.1.1: valid messages
    "wsinv": Parses(_wsinv),
    "intmeth": Parses(_intmeth),
    "esc01": Parses(_esc01),
    "escnull": Parses(_escnull),
    "esc02": Parses(_esc02),
    "lwsdisp": Parses(_lwsdisp),
    "longreq": Parses(_longreq),
    "dblreq": Parses(_dblreq),
    "semiuri": Parses(_semiuri),
    "transports": Parses(_transports),
    "mpart01": Parses(_mpart01),
    "unreason": Parses(_unreason),
    "noreason": Parses(_noreason),
    # RFC 4475 3.1.2: invalid messages
    "badinv01": Rejected(400),
    "clerr": Rejected(400),
    "ncl": Rejected(400),
    "scalar02": Rejected(400),
    "scalarlg": Rejected(None),
    "quotbal": Rejected(400),
    "ltgtruri": Rejected(400),
    "lwsruri": Rejected(400),
    "lwsstart": Rejected(400),
    "trws": Rejected(400),
    "escruri": Rejected(400),
    "baddate": Parses(),  # Date is never read by a UA; RFC 4475 3.1.2.12 allows ignoring it
    "regbadct": RejectedOnRead("contacts"),
    "badaspec": Rejected(400),
    "baddn": Rejected(400),
    "badvers": Rejected(505),
    "mismatch01": Rejected(400),
    "mismatch02": Rejected(501),
    "bigcode": Rejected(None),
    # RFC 4475 3.2-3.4: transaction, application, backward compatibility
    "badbranch": Parses(_badbranch),
    "insuf": Rejected(400),
    "unkscm": Parses(_uri_scheme("nobodyknowsthisscheme")),
    "novelsc": Parses(_uri_scheme("soap.beep")),
    "unksm2": Parses(_unksm2),
    "bext01": Parses(_bext01),
    "invut": Parses(_invut),
    "regaut01": Parses(_regaut01),
    "multi01": Rejected(400),
    "mcl01": Rejected(400),
    "bcast": Parses(_bcast),
    "zeromf": Parses(_zeromf),
    "cparam01": Parses(_cparam01),
    "cparam02": Parses(_cparam02),
    "regescrt": Parses(_regescrt),
    "sdp01": Parses(_sdp01),
    "inv2543": Parses(_inv2543),
    # RFC 5118
    "ipv6-good": Parses(_request_host("[2001:db8::10]")),
    "ipv6-bad": Rejected(400),
    "port-ambiguous": Parses(_request_host("[2001:db8::10:5070]")),
    "port-unambiguous": Parses(_request_host("[2001:db8::10]", 5070)),
    "via-received-param-with-delim": Parses(_received),
    "via-received-param-no-delim": Parses(_received),
    "ipv6-in-sdp": Parses(_sdp_ipv6),
    "mult-ip-in-header": Parses(_mult_ip_in_header),
    "mult-ip-in-sdp": Parses(_mult_ip_in_sdp),
    "ipv4-mapped-ipv6": Parses(_ipv4_mapped),
    "ipv6-bug-abnf-3-colons": Parses(),
    "ipv6-correct-abnf-2-colons": Parses(),
}


def _manifest() -> list[dict[str, str]]:
    with (torture_dir() / "manifest.tsv").open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _path(name: str) -> Path:
    base = torture_dir()
    for sub in ("rfc4475", "rfc5118"):
        path = base / sub / f"{name}.dat"
        if path.is_file():
            return path
    raise FileNotFoundError(name)


def test_every_manifest_row_has_an_expectation() -> None:
    names = [row["name"] for row in _manifest()]
    assert len(names) == 61
    assert sorted(names) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_torture_message(name: str) -> None:
    row = {r["name"]: r for r in _manifest()}[name]
    data = _path(name).read_bytes()
    expected = EXPECTED[name]
    if isinstance(expected, Rejected):
        with pytest.raises(SipParseError) as info:
            parse_message(data)
        if expected.status is None:
            assert "discard" in row["expectation"] or "drop" in row["expectation"]
        else:
            assert info.value.status_code == expected.status, str(info.value)
        return
    message = parse_message(data)
    if isinstance(expected, RejectedOnRead):
        with pytest.raises(SipParseError) as info:
            getattr(message, expected.view)
        assert info.value.status_code == expected.status
    elif expected.check is not None:
        expected.check(message)
    again = parse_message(bytes(message))
    assert again == message
    assert bytes(again) == bytes(message)


@pytest.mark.parametrize(
    "name",
    ["badvers", "clerr", "ncl", "mcl01", "ltgtruri", "lwsruri", "lwsstart", "trws", "ipv6-bad", "baddn", "escruri",
     "scalar02", "quotbal", "badaspec", "multi01", "mismatch01", "mismatch02", "badinv01"],
)
def test_rejected_requests_carry_what_the_response_needs(name: str) -> None:
    """A rejected request whose headers can be read still yields Via/From/To/Call-ID/CSeq for the answer."""
    with pytest.raises(SipParseError) as info:
        parse_message(_path(name).read_bytes())
    partial = info.value.partial
    assert isinstance(partial, Request)
    for header in ("Via", "From", "To", "Call-ID", "CSeq"):
        assert partial.headers.get(header), header

"""The transport's Via rules, targets and trace redaction, without sockets."""

from __future__ import annotations

import pytest

from softphone.sip.message import Request
from softphone.sip.parser import parse_message
from softphone.transport import VIA_PLACEHOLDER, Target, TransportError
from softphone.transport.base import redacted
from softphone.transport.via import prepare_request, response_address, stamp_received


def options(*vias: tuple[str, str]) -> Request:
    return Request(
        "OPTIONS",
        "sip:bob@example.com",
        [
            ("Call-ID", "x@y"),
            *vias,
            ("From", "<sip:a@example.com>;tag=1"),
            ("To", "<sip:bob@example.com>"),
            ("CSeq", "1 OPTIONS"),
        ],
    )


def test_placeholder_filled_in_place_keeping_the_other_vias() -> None:
    req = options(
        ("v", f"SIP/2.0/UDP {VIA_PLACEHOLDER};branch=z9hG4bK-top, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-2"),
        ("Via", "SIP/2.0/TCP 192.0.2.2:5070;branch=z9hG4bK-3"),
    )
    assert prepare_request(req, "UDP", "::1", 5062) == ("::1", 5062)
    assert req.headers.get_all("via") == [
        "SIP/2.0/UDP [::1]:5062;branch=z9hG4bK-top;rport, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-2",
        "SIP/2.0/TCP 192.0.2.2:5070;branch=z9hG4bK-3",
    ]
    assert [name for name, _ in req.headers][:2] == ["Call-ID", "Via"]
    # A second send changes nothing; a Via naming another transport is corrected (RFC 3261 18.1.1).
    before = bytes(req)
    prepare_request(req, "UDP", "127.0.0.1", 1)
    assert bytes(req) == before
    prepare_request(req, "TCP", "127.0.0.1", 1)
    assert req.via.transport == "TCP" and req.via.host == "[::1]"
    assert parse_message(bytes(req)).via.branch == "z9hG4bK-top"


def test_tcp_placeholder_gets_no_rport() -> None:
    req = options(("Via", f"SIP/2.0/TCP {VIA_PLACEHOLDER};branch=z9hG4bK-t"))
    prepare_request(req, "TCP", "127.0.0.1", 5060)
    assert req.headers["Via"] == "SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-t"


def test_received_and_rport_stamps() -> None:
    req = options(("Via", "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-6;rport"))
    stamp_received(req, "2001:db8::1", 40000)
    assert req.headers["Via"] == "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-6;rport=40000;received=2001:db8::1"
    assert parse_message(bytes(req)).via.received == "2001:db8::1"
    same = options(("Via", "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-7"))
    stamp_received(same, "2001:db8:0::1", 5060)
    assert same.headers["Via"] == "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-7"


def test_response_address_rules() -> None:
    def route(via: str) -> tuple[str, int]:
        return response_address(options(("Via", via)).via)

    assert route("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-a") == ("192.0.2.1", 5060)
    assert route("SIP/2.0/UDP 192.0.2.1:5070;received=198.51.100.1;branch=z9hG4bK-a") == ("198.51.100.1", 5070)
    assert route("SIP/2.0/UDP 10.0.0.1:5070;rport=4000;received=198.51.100.1;branch=z9hG4bK-a") == (
        "198.51.100.1",
        4000,
    )
    # A requested but unfilled rport falls back to the sent-by port.
    assert route("SIP/2.0/UDP 10.0.0.1:5070;rport;received=198.51.100.1;branch=z9hG4bK-a") == ("198.51.100.1", 5070)
    assert route("SIP/2.0/UDP a.example.com;maddr=239.0.0.1;branch=z9hG4bK-a") == ("239.0.0.1", 5060)
    assert route("SIP/2.0/TLS a.example.com;branch=z9hG4bK-a") == ("a.example.com", 5061)


def test_targets_are_resolved_addresses() -> None:
    assert Target("tcp", "[::1]", 5060) == Target("TCP", "::1", 5060, server_name="x")
    assert str(Target("udp", "::1", 5060)) == "UDP [::1]:5060"
    assert Target("TLS", "127.0.0.1", 5061).reliable and not Target("UDP", "127.0.0.1", 5060).reliable
    with pytest.raises(TransportError, match="not an IP address"):
        Target("UDP", "example.com", 5060)
    with pytest.raises(TransportError, match="unsupported transport"):
        Target("SCTP", "127.0.0.1", 5060)
    with pytest.raises(TransportError, match="out of range"):
        Target("UDP", "127.0.0.1", 0)


def test_redaction_of_credentials() -> None:
    data = (
        b'REGISTER sip:x SIP/2.0\r\nAuthorization: Digest username="a",\r\n response="secret"\r\n'
        b'proxy-authorization : Digest response="secret2"\r\nX-Authorization-Note: kept\r\n\r\nAuthorization: body'
    )
    text = redacted(data)
    assert "secret" not in text and "X-Authorization-Note: kept" in text
    assert "Authorization: <redacted>\r\nproxy-authorization : <redacted>\r\n" in text
    assert text.endswith("\r\n\r\nAuthorization: body")


def test_redaction_of_sdes_keys_keeps_the_length() -> None:
    key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk"
    body = f"v=0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^31\r\n"
    data = f"INVITE sip:x SIP/2.0\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()
    text = redacted(data)
    assert key not in text and "inline:" + "*" * len(key) + "|2^31" in text
    assert len(text) == len(data)


def test_an_rport_the_client_wrote_is_replaced_by_the_source_port() -> None:
    """RFC 3581 4: rport is where the request came from; a value of the client's would aim our answers elsewhere."""
    req = options(("Via", f"SIP/2.0/UDP 192.0.2.1:5060;rport={'9' * 5000};branch=z9hG4bK-9"))
    stamp_received(req, "192.0.2.1", 40000)
    assert req.via.rport == 40000 and req.via.received == "192.0.2.1"
    assert response_address(req.via) == ("192.0.2.1", 40000)
    same = options(("Via", "SIP/2.0/UDP 192.0.2.1:5060;rport=40000;branch=z9hG4bK-10"))
    stamp_received(same, "192.0.2.1", 40000)
    assert same.headers["Via"] == "SIP/2.0/UDP 192.0.2.1:5060;rport=40000;branch=z9hG4bK-10"

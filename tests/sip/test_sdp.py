"""SDP parsing and serialization (RFC 8866)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softphone.sip.errors import SipParseError
from softphone.sip.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    Rtcp,
    RtpMap,
    SessionDescription,
    TimeDescription,
    format_fmtp_params,
    parse_fmtp_params,
    parse_sdp,
)


def sdp(*lines: str) -> bytes:
    return "".join(line + "\r\n" for line in lines).encode()


# Bodies of the RFC 5118 and RFC 4475 torture messages, byte for byte.
RFC5118_IPV6_IN_SDP = sdp(
    "v=0",
    "o=assistant 971731711378798081 0 IN IP6 2001:db8::20",
    "s=Live video feed for today's meeting",
    "c=IN IP6 2001:db8::20",
    "t=3338481189 3370017201",
    "m=audio 6000 RTP/AVP 2",
    "a=rtpmap:2 G726-32/8000",
    "m=video 6024 RTP/AVP 107",
    "a=rtpmap:107 H263-1998/90000",
)

RFC5118_MULT_IP_IN_SDP = sdp(
    "v=0",
    "o=bob 280744730 28977631 IN IP4 host.example.com",
    "s=",
    "t=0 0",
    "m=audio 22334 RTP/AVP 0",
    "c=IN IP4 192.0.2.1",
    "m=video 6024 RTP/AVP 107",
    "c=IN IP6 2001:db8::1",
    "a=rtpmap:107 H263-1998/90000",
)

RFC5118_IPV4_MAPPED_IPV6 = sdp(
    "v=0",
    "o=assistant 971731711378798081 0 IN IP6 ::ffff:192.0.2.2",
    "s=Call me soon, please!",
    "c=IN IP6 ::ffff:192.0.2.2",
    "t=3338481189 3370017201",
    "m=audio 6000 RTP/AVP 2",
    "a=rtpmap:2 G726-32/8000",
    "m=video 6024 RTP/AVP 107",
    "a=rtpmap:107 H263-1998/90000",
)

RFC4475_WSINV = sdp(
    "v=0",
    "o=mhandley 29739 7272939 IN IP4 192.0.2.3",
    "s=-",
    "c=IN IP4 192.0.2.4",
    "t=0 0",
    "m=audio 49217 RTP/AVP 0 12",
    "m=video 3227 RTP/AVP 31",
    "a=rtpmap:31 LPC",
)

LINPHONE_OFFER = sdp(
    "v=0",
    "o=alice 2741 1094 IN IP4 192.168.1.20",
    "s=Talk",
    "c=IN IP4 192.168.1.20",
    "t=0 0",
    "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics",
    "a=record:off",
    "m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100",
    "a=rtpmap:96 opus/48000/2",
    "a=fmtp:96 useinbandfec=1",
    "a=rtpmap:97 speex/16000",
    "a=fmtp:97 vbr=on",
    "a=rtpmap:98 speex/8000",
    "a=fmtp:98 vbr=on",
    "a=fmtp:18 annexb=yes",
    "a=rtpmap:101 telephone-event/48000",
    "a=rtpmap:99 telephone-event/16000",
    "a=rtpmap:100 telephone-event/8000",
    "a=rtcp-fb:* trr-int 1000",
    "a=rtcp-fb:* ccm tmmbr",
)

BARESIP_OFFER = sdp(
    "v=0",
    "o=- 1916315925 2052496374 IN IP4 10.0.0.2",
    "s=-",
    "c=IN IP4 10.0.0.2",
    "t=0 0",
    "m=audio 10230 RTP/AVP 96 0 8 101",
    "b=AS:128",
    "a=rtpmap:96 opus/48000/2",
    "a=fmtp:96 stereo=1;sprop-stereo=1;maxaveragebitrate=28000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=rtcp:10231 IN IP4 10.0.0.2",
    "a=rtcp-mux",
    "a=ptime:20",
    "a=maxptime:40",
    "a=sendrecv",
)


class TestTortureBodies:
    def test_ipv6_in_sdp(self) -> None:
        sd = parse_sdp(RFC5118_IPV6_IN_SDP)
        assert sd.origin == Origin("assistant", 971731711378798081, 0, "IN", "IP6", "2001:db8::20")
        assert sd.connection == Connection("IN", "IP6", "2001:db8::20")
        assert sd.times == [TimeDescription(3338481189, 3370017201)]
        assert [(m.media, m.port, m.proto, m.formats) for m in sd.media] == [
            ("audio", 6000, "RTP/AVP", ["2"]),
            ("video", 6024, "RTP/AVP", ["107"]),
        ]
        assert sd.media[0].rtpmap == {2: RtpMap("G726-32", 8000, 1)}
        assert sd.media[1].rtpmap == {107: RtpMap("H263-1998", 90000)}
        assert sd.connection_for(sd.media[1]) == Connection("IN", "IP6", "2001:db8::20")

    def test_multiple_connection_lines(self) -> None:
        sd = parse_sdp(RFC5118_MULT_IP_IN_SDP)
        assert sd.origin.address == "host.example.com"
        assert sd.session_name == ""
        assert sd.connection is None
        assert sd.media[0].connection == Connection("IN", "IP4", "192.0.2.1")
        assert sd.media[1].connection == Connection("IN", "IP6", "2001:db8::1")
        assert sd.connection_for(sd.media[0]) == Connection("IN", "IP4", "192.0.2.1")
        assert sd.media[0].rtpmap == {}
        assert sd.media[0].rtpmap_for(0) == RtpMap("PCMU", 8000)

    def test_ipv4_mapped_ipv6(self) -> None:
        sd = parse_sdp(RFC5118_IPV4_MAPPED_IPV6)
        assert sd.origin.address == "::ffff:192.0.2.2"
        assert sd.connection == Connection("IN", "IP6", "::ffff:192.0.2.2")
        assert sd.session_name == "Call me soon, please!"

    def test_wsinv_body(self) -> None:
        sd = parse_sdp(RFC4475_WSINV)
        assert sd.session_name == "-"
        assert sd.media[0].formats == ["0", "12"]
        # "a=rtpmap:31 LPC" has no clock rate: kept as an attribute, skipped by the rtpmap view.
        assert sd.media[1].attributes == [Attribute("rtpmap", "31 LPC")]
        assert sd.media[1].rtpmap == {}
        assert sd.media[1].rtpmap_for(31) == RtpMap("H261", 90000)

    @pytest.mark.parametrize(
        "body", [RFC5118_IPV6_IN_SDP, RFC5118_MULT_IP_IN_SDP, RFC5118_IPV4_MAPPED_IPV6, RFC4475_WSINV]
    )
    def test_canonical_bodies_serialize_byte_for_byte(self, body: bytes) -> None:
        assert parse_sdp(body).to_bytes() == body

    @pytest.mark.parametrize(
        "body", [RFC5118_IPV6_IN_SDP, RFC5118_MULT_IP_IN_SDP, RFC5118_IPV4_MAPPED_IPV6, RFC4475_WSINV]
    )
    def test_bare_lf_and_str_input(self, body: bytes) -> None:
        expected = parse_sdp(body)
        assert parse_sdp(body.replace(b"\r\n", b"\n")) == expected
        assert parse_sdp(body.decode()) == expected


class TestRealWorldOffers:
    def test_linphone_offer(self) -> None:
        sd = parse_sdp(LINPHONE_OFFER)
        audio = sd.media[0]
        assert audio.payload_types == [96, 97, 98, 0, 8, 18, 101, 99, 100]
        assert audio.rtpmap[96] == RtpMap("opus", 48000, 2)
        assert audio.rtpmap[99] == RtpMap("telephone-event", 16000)
        assert audio.rtpmap_for(18) == RtpMap("G729", 8000)
        assert audio.fmtp == {96: {"useinbandfec": "1"}, 97: {"vbr": "on"}, 98: {"vbr": "on"}, 18: {"annexb": "yes"}}
        assert sd.get_attribute("record") == Attribute("record", "off")
        assert sd.get_attribute("rtcp-xr") is not None
        assert [a.value for a in audio.get_attributes("rtcp-fb")] == ["* trr-int 1000", "* ccm tmmbr"]
        assert audio.direction(sd) == "sendrecv"
        assert audio.ptime is None
        assert not audio.rtcp_mux

    def test_baresip_offer(self) -> None:
        sd = parse_sdp(BARESIP_OFFER)
        audio = sd.media[0]
        assert audio.bandwidths == [Bandwidth("AS", 128)]
        assert audio.fmtp[96] == {"stereo": "1", "sprop-stereo": "1", "maxaveragebitrate": "28000"}
        assert audio.fmtp[101] == "0-15"
        assert audio.ptime == 20
        assert audio.maxptime == 40
        assert audio.rtcp_mux
        assert audio.rtcp == Rtcp(10231, Connection("IN", "IP4", "10.0.0.2"))
        assert audio.direction() == "sendrecv"
        assert parse_sdp(sd.to_bytes()) == sd


class TestFields:
    def test_direction_falls_back_to_session_level(self) -> None:
        body = sdp(
            "v=0",
            "o=- 1 1 IN IP4 192.0.2.1",
            "s=-",
            "c=IN IP4 192.0.2.1",
            "t=0 0",
            "a=sendonly",
            "m=audio 4000 RTP/AVP 0",
            "m=audio 4002 RTP/AVP 0",
            "a=inactive",
        )
        sd = parse_sdp(body)
        assert sd.direction == "sendonly"
        assert sd.media[0].direction(sd) == "sendonly"
        assert sd.media[0].direction() == "sendrecv"
        assert sd.media[1].direction(sd) == "inactive"

    def test_set_direction_replaces_existing(self) -> None:
        media = MediaDescription("audio", 4000, None, "RTP/AVP", ["0"], attributes=[Attribute("sendrecv")])
        media.set_direction("recvonly")
        assert media.attributes == [Attribute("recvonly")]
        with pytest.raises(ValueError):
            media.set_direction("sideways")  # type: ignore[arg-type]

    def test_multicast_connections(self) -> None:
        body = sdp(
            "v=0",
            "o=- 1 1 IN IP4 192.0.2.1",
            "s=Seminar",
            "c=IN IP4 233.252.0.1/127/3",
            "t=0 0",
            "m=audio 49170/2 RTP/AVP 0",
            "m=video 51372 RTP/AVP 99",
            "c=IN IP6 ff15::101/3",
            "a=rtpmap:99 h263-1998/90000",
        )
        sd = parse_sdp(body)
        assert sd.connection == Connection("IN", "IP4", "233.252.0.1", 127, 3)
        assert sd.media[0].port_count == 2
        assert sd.media[1].connection == Connection("IN", "IP6", "ff15::101", None, 3)
        assert sd.to_bytes() == body

    def test_all_session_fields_round_trip_in_canonical_order(self) -> None:
        body = sdp(
            "v=0",
            "o=jdoe 2890844526 2890842807 IN IP4 198.51.100.1",
            "s=SDP Seminar",
            "i=A Seminar on the session description protocol",
            "u=http://www.example.com/seminars/sdp.pdf",
            "e=j.doe@example.com (Jane Doe)",
            "e=other@example.com",
            "p=+1 617 555-6011",
            "c=IN IP4 198.51.100.1",
            "b=CT:128",
            "t=2873397496 2873404696",
            "r=7d 1h 0 25h",
            "t=0 0",
            "z=2882844526 -1h 2898848070 0",
            "k=prompt",
            "a=recvonly",
            "m=audio 49170 RTP/AVP 0",
            "i=voice",
            "c=IN IP4 198.51.100.2",
            "b=AS:64",
            "k=prompt",
            "a=ptime:30",
            "m=application 9 TCP/MSRP *",
            "a=accept-types:text/plain",
        )
        sd = parse_sdp(body)
        assert sd.information == "A Seminar on the session description protocol"
        assert sd.uri == "http://www.example.com/seminars/sdp.pdf"
        assert sd.emails == ["j.doe@example.com (Jane Doe)", "other@example.com"]
        assert sd.phones == ["+1 617 555-6011"]
        assert sd.bandwidths == [("CT", 128)]
        assert sd.times == [TimeDescription(2873397496, 2873404696, ["7d 1h 0 25h"]), TimeDescription(0, 0)]
        assert sd.timezone == "2882844526 -1h 2898848070 0"
        assert sd.key == "prompt"
        assert sd.media[0].information == "voice"
        assert sd.media[0].key == "prompt"
        assert sd.media[1].formats == ["*"]
        assert sd.to_bytes() == body
        assert str(sd) == body.decode()

    def test_liberal_order_and_spacing_serialize_canonically(self) -> None:
        body = "\n".join(
            [
                "",
                "v=0",
                "o=Linphone Softphone  3 4 IN IP4 192.0.2.9",
                "s=Talk",
                "t=0 0",
                "a=sendrecv ",
                "c=IN  IP4\t192.0.2.9",
                "",
                "m=audio  4000   RTP/AVP 0 8",
                "a=rtpmap:0 PCMU/8000",
                "",
            ]
        )
        sd = parse_sdp(body)
        assert sd.origin.username == "Linphone Softphone"
        assert sd.attributes == [Attribute("sendrecv")]
        assert sd.connection == Connection("IN", "IP4", "192.0.2.9")
        assert str(sd).split("\r\n") == [
            "v=0",
            "o=Linphone Softphone 3 4 IN IP4 192.0.2.9",
            "s=Talk",
            "c=IN IP4 192.0.2.9",
            "t=0 0",
            "a=sendrecv",
            "m=audio 4000 RTP/AVP 0 8",
            "a=rtpmap:0 PCMU/8000",
            "",
        ]

    def test_bracketed_ipv6_is_taken_without_brackets(self) -> None:
        sd = parse_sdp(sdp("v=0", "o=- 1 1 IN IP6 [2001:db8::1]", "s=-", "c=IN IP6 [2001:db8::1]", "t=0 0"))
        assert sd.origin.address == "2001:db8::1"
        assert sd.connection == Connection("IN", "IP6", "2001:db8::1")
        assert b"[" not in sd.to_bytes()

    def test_attribute_values(self) -> None:
        sd = parse_sdp(sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "a=flag", "a=empty:", "a=x:a:b c"))
        assert sd.attributes == [Attribute("flag"), Attribute("empty", ""), Attribute("x", "a:b c")]
        assert sd.has_attribute("flag")
        assert not sd.has_attribute("Flag")
        assert sd.get_attribute("missing") is None
        assert parse_sdp(sd.to_bytes()) == sd

    def test_utf8_text(self) -> None:
        body = sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=Réunion café ☎", "t=0 0")
        assert parse_sdp(body).session_name == "Réunion café ☎"
        assert parse_sdp(body).to_bytes() == body

    def test_missing_time_is_tolerated(self) -> None:
        sd = parse_sdp(sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "m=audio 0 RTP/AVP"))
        assert sd.times == []
        assert sd.media[0].formats == []
        assert parse_sdp(sd.to_bytes()) == sd

    def test_rtcp_attribute_forms(self) -> None:
        def media_with(value: str) -> MediaDescription:
            return MediaDescription("audio", 4000, None, "RTP/AVP", ["0"], attributes=[Attribute("rtcp", value)])

        assert media_with("53020").rtcp == Rtcp(53020)
        assert media_with("53020 IN IP6 2001:db8::7").rtcp == Rtcp(53020, Connection("IN", "IP6", "2001:db8::7"))
        assert media_with("99999").rtcp is None
        assert media_with("53020 IN IP4").rtcp is None
        assert media_with("53020 IN IP4 300.1.1.1").rtcp is None

    def test_fmtp_parameter_helpers(self) -> None:
        assert parse_fmtp_params("useinbandfec=1; usedtx=0;") == {"useinbandfec": "1", "usedtx": "0"}
        assert parse_fmtp_params("0-15,66,70") == "0-15,66,70"
        assert parse_fmtp_params("") == {}
        assert format_fmtp_params({"a": "1", "b": "2"}) == "a=1;b=2"
        assert format_fmtp_params("0-16") == "0-16"

    def test_ptime_forms(self) -> None:
        def ptime(value: str) -> int | None:
            return MediaDescription("audio", 1, None, "RTP/AVP", ["0"], attributes=[Attribute("ptime", value)]).ptime

        assert ptime("20") == 20
        assert ptime("22.5") == 22
        assert ptime("0") is None
        assert ptime("x") is None

    def test_built_description_serializes(self) -> None:
        sd = SessionDescription(
            origin=Origin("-", 7, 8, "IN", "IP4", "192.0.2.1"),
            connection=Connection("IN", "IP4", "192.0.2.1"),
            media=[MediaDescription("audio", 4000, None, "RTP/AVP", ["0"], attributes=[Attribute("sendrecv")])],
        )
        assert sd.to_bytes() == sdp(
            "v=0",
            "o=- 7 8 IN IP4 192.0.2.1",
            "s=-",
            "c=IN IP4 192.0.2.1",
            "t=0 0",
            "m=audio 4000 RTP/AVP 0",
            "a=sendrecv",
        )
        assert parse_sdp(sd.to_bytes()) == sd


HEAD = ("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"\r\n\r\n", "empty"),
        (sdp("v=1", *HEAD[1:], "t=0 0"), "line 1"),
        (sdp("o=- 1 1 IN IP4 192.0.2.1", "v=0", "s=-"), "must start with v="),
        (sdp("V=0", *HEAD[1:]), "line 1"),
        (sdp("v=0"), "no o= line"),
        (sdp("v=0", "s=-", "o=- 1 1 IN IP4 192.0.2.1"), "o= must follow v="),
        (sdp(*HEAD[:2], "t=0 0"), "no s= line"),
        (sdp(*HEAD[:2], "t=0 0", "s=-"), "s= must follow o="),
        (sdp(*HEAD, "s=again"), "repeated s="),
        (sdp(*HEAD, "o=- 1 1 IN IP4 192.0.2.1"), "repeated o="),
        (sdp(*HEAD, "v=0"), "repeated v="),
        (sdp("v=0", "o=- 1 IN IP4 192.0.2.1", "s=-"), "line 2"),
        (sdp("v=0", "o=- x 1 IN IP4 192.0.2.1", "s=-"), "sess-id"),
        (sdp("v=0", "o=- 1 ١ IN IP4 192.0.2.1", "s=-"), "sess-version"),
        (sdp("v=0", "o=- 1 1 IN IP4 192.0.2.300", "s=-"), "IPv4"),
        (sdp("v=0", "o=- 1 1 IN IP4 2001:db8::1", "s=-"), "line 2"),
        (sdp(*HEAD, "c=IN IP6 2001:db8:::1"), "IPv6"),
        (sdp(*HEAD, "c=IN IP6 192.0.2.1"), "line 4"),
        (sdp(*HEAD, "c=IN IP4"), "c= needs"),
        (sdp(*HEAD, "c=IN IP4 233.252.0.1/256"), "TTL"),
        (sdp(*HEAD, "c=IN IP4 233.252.0.1/127/0"), "number of addresses"),
        (sdp(*HEAD, "c=IN IP6 ff15::1/2/3"), "at most"),
        (sdp(*HEAD, "c=IN IP4 192.0.2.1", "c=IN IP4 192.0.2.2"), "repeated c="),
        (sdp(*HEAD, "b=AS"), "b= needs"),
        (sdp(*HEAD, "b=AS:fast"), "bandwidth"),
        (sdp(*HEAD, "t=now 0"), "start-time"),
        (sdp(*HEAD, "r=7d 1h 0"), "r= must follow"),
        (sdp(*HEAD, "t=0 0", "r=7d"), "r= needs"),
        (sdp(*HEAD, "x=unknown"), "unknown type letter"),
        (sdp(*HEAD, "garbage"), "not a <type>=<value> line"),
        (sdp(*HEAD, " a=indented"), "line 4"),
        (sdp(*HEAD, "a=:value"), "attribute name"),
        (sdp(*HEAD, "a=bad name"), "attribute name"),
        (sdp(*HEAD, "t=0 0", "m=audio"), "m= needs"),
        (sdp(*HEAD, "t=0 0", "m=audio 70000 RTP/AVP 0"), "out of range 0-65535"),
        (sdp(*HEAD, "t=0 0", "m=audio -1 RTP/AVP 0"), "port"),
        (sdp(*HEAD, "t=0 0", "m=audio 4000/0 RTP/AVP 0"), "number of ports"),
        (sdp(*HEAD, "t=0 0", "m=audio 4000 RTP/AVP 128"), "payload type"),
        (sdp(*HEAD, "t=0 0", "m=audio 4000 RTP/AVP PCMU"), "payload type"),
        (sdp(*HEAD, "t=0 0", "m=audio 4000 RTP//AVP 0"), "transport protocol"),
        (sdp(*HEAD, "t=0 0", "m=audio 4000 RTP/AVP 0", "t=0 0"), "not allowed in a media description"),
        (sdp(*HEAD, "t=0 0", "m=audio 4000 RTP/AVP 0", "s=x"), "not allowed in a media description"),
        (sdp(*HEAD, "t=0 0", "m=audio 4000 RTP/AVP 0", "i=a", "i=b"), "repeated i="),
        (sdp(*HEAD, "t=0 0", "m=audio 4000 RTP/AVP 0", "c=IN IP4 192.0.2.1", "c=IN IP4 192.0.2.2"), "repeated c="),
        (sdp(*HEAD, "t=0 0") + b"a=x\x00y\r\n", "stray CR or NUL"),
        (sdp(*HEAD, "t=0 0") + b"a=x\ry\r\n", "stray CR or NUL"),
        (sdp(*HEAD, "t=0 0") + b"s=\xff\xfe\r\n", "line 5: not valid UTF-8 at byte 45"),
    ],
)
def test_malformed_input_raises_sip_parse_error(body: bytes, fragment: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_sdp(body)
    assert fragment in str(info.value)
    assert info.value.status_code == 400


def test_error_names_line_number_and_text() -> None:
    with pytest.raises(SipParseError, match=r"SDP line 5: port .*'m=audio 99999 RTP/AVP 0'"):
        parse_sdp(sdp(*HEAD, "t=0 0", "m=audio 99999 RTP/AVP 0"))


def test_unencodable_str_raises_sip_parse_error() -> None:
    with pytest.raises(SipParseError, match="UTF-8"):
        parse_sdp("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=\ud800\r\n")


# --- property tests -----------------------------------------------------------------------------

TOKEN_CHARS = "!#$%&'*+-.^_`{|}~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=8)
texts = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"),
    max_size=16,
)
words = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Zs", "Zl", "Zp", "Cc"]),
    min_size=1,
    max_size=8,
)
numbers = st.integers(min_value=0, max_value=2**64)
fqdns = st.from_regex(r"[a-z][a-z0-9\-]{0,8}(\.[a-z][a-z0-9\-]{0,8}){0,2}", fullmatch=True)


@st.composite
def connections(draw: st.DrawFn) -> Connection:
    kind = draw(st.sampled_from(["IP4", "IP6", "other"]))
    if kind == "IP4":
        address = draw(st.one_of(st.ip_addresses(v=4).map(str), fqdns))
        ttl = draw(st.none() | st.integers(0, 255))
        count = draw(st.none() | st.integers(1, 300)) if ttl is not None else None
        return Connection("IN", "IP4", address, ttl, count)
    if kind == "IP6":
        address = draw(st.one_of(st.ip_addresses(v=6).map(str), fqdns))
        return Connection("IN", "IP6", address, None, draw(st.none() | st.integers(1, 300)))
    return Connection(draw(tokens.filter(lambda t: t.upper() != "IN")), draw(tokens), draw(words))


@st.composite
def origins(draw: st.DrawFn) -> Origin:
    connection = draw(connections())
    username = " ".join(draw(st.lists(words, min_size=1, max_size=2)))
    return Origin(username, draw(numbers), draw(numbers), connection.nettype, connection.addrtype, connection.address)


attributes = st.builds(Attribute, tokens, st.none() | texts)
bandwidths = st.builds(Bandwidth, tokens, st.integers(0, 10**9))
repeats = st.lists(st.from_regex(r"[1-9][0-9]{0,5}[dhms]?", fullmatch=True), min_size=3, max_size=4).map(" ".join)
rtp_protos = st.sampled_from(["RTP/AVP", "RTP/SAVP", "RTP/AVPF", "UDP/TLS/RTP/SAVPF"])


@st.composite
def media_descriptions(draw: st.DrawFn) -> MediaDescription:
    if draw(st.booleans()):
        proto = draw(rtp_protos)
        formats = [str(pt) for pt in draw(st.lists(st.integers(0, 127), max_size=5))]
    else:
        proto = draw(st.lists(tokens, min_size=1, max_size=3).map("/".join).filter(lambda p: "RTP/" not in p.upper()))
        formats = draw(st.lists(tokens, max_size=4))
    return MediaDescription(
        media=draw(tokens),
        port=draw(st.integers(0, 65535)),
        port_count=draw(st.none() | st.integers(1, 8)),
        proto=proto,
        formats=formats,
        information=draw(st.none() | texts),
        connection=draw(st.none() | connections()),
        bandwidths=draw(st.lists(bandwidths, max_size=2)),
        key=draw(st.none() | texts),
        attributes=draw(st.lists(attributes, max_size=4)),
    )


session_descriptions = st.builds(
    SessionDescription,
    origin=origins(),
    session_name=texts,
    information=st.none() | texts,
    uri=st.none() | texts,
    emails=st.lists(texts, max_size=2),
    phones=st.lists(texts, max_size=2),
    connection=st.none() | connections(),
    bandwidths=st.lists(bandwidths, max_size=2),
    times=st.lists(
        st.builds(TimeDescription, numbers, numbers, st.lists(repeats, max_size=2)),
        max_size=2,
    ),
    timezone=st.none() | texts,
    key=st.none() | texts,
    attributes=st.lists(attributes, max_size=4),
    media=st.lists(media_descriptions(), max_size=3),
)

PROPERTY_SETTINGS = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(session_descriptions)
def test_generated_descriptions_round_trip(sd: SessionDescription) -> None:
    assert parse_sdp(sd.to_bytes()) == sd
    assert parse_sdp(str(sd)) == sd


def check_liberal(data: bytes | str) -> None:
    try:
        sd = parse_sdp(data)
    except SipParseError:
        return
    assert parse_sdp(sd.to_bytes()) == sd


@PROPERTY_SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_sip_parse_error(data: bytes) -> None:
    check_liberal(data)


@PROPERTY_SETTINGS
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_sip_parse_error(data: str) -> None:
    check_liberal(data)


line_soup = st.lists(
    st.tuples(st.sampled_from("aaaaiieeppuzkbctrmvosx"), st.text(max_size=30)).map(lambda pair: f"{pair[0]}={pair[1]}"),
    max_size=12,
)


@PROPERTY_SETTINGS
@given(line_soup, st.sampled_from(["\r\n", "\n"]))
def test_random_lines_raise_only_sip_parse_error(lines: list[str], eol: str) -> None:
    check_liberal(eol.join(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", *lines]))


SEEDS = [
    RFC5118_IPV6_IN_SDP,
    RFC5118_MULT_IP_IN_SDP,
    RFC5118_IPV4_MAPPED_IPV6,
    RFC4475_WSINV,
    LINPHONE_OFFER,
    BARESIP_OFFER,
]
mutation_alphabet = st.sampled_from([*" \t\r\n:/=.-0123456789aAcmostvx[]%\x00\xff", "IP6 ", "\r\nm=", "\r\na="])


@st.composite
def mutated_seeds(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        piece = draw(mutation_alphabet).encode("utf-8", "surrogatepass")
        if action == "insert":
            data[position:position] = piece
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        elif action == "replace":
            data[position : position + len(piece)] = piece
        else:
            del data[position:]
    return bytes(data)


@PROPERTY_SETTINGS
@given(mutated_seeds())
def test_mutated_bodies_raise_only_sip_parse_error(data: bytes) -> None:
    check_liberal(data)

"""RFC 3264 offer/answer for the audio stream."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softphone.sip.errors import SipParseError
from softphone.sip.offer_answer import (
    AudioConfig,
    Codec,
    NegotiatedMedia,
    create_answer,
    create_offer,
    hold_offer,
    negotiate_answer,
    next_offer,
    opus_codec,
    pcma_codec,
    pcmu_codec,
    resume_offer,
    reverse_direction,
)
from softphone.sip.sdp import Attribute, Connection, Direction, RtpMap, SessionDescription, parse_sdp
from softphone.sip.srtp_sdp import SrtpConfig


def sdp(*lines: str) -> SessionDescription:
    return parse_sdp("".join(line + "\r\n" for line in lines))


def answer_to(
    offer: SessionDescription, local: AudioConfig | None = None, **kwargs: object
) -> tuple[SessionDescription, NegotiatedMedia | None]:
    arguments: dict[str, object] = {"address": "192.0.2.10", "port": 30000, "session_id": 77, "session_version": 1}
    arguments.update(kwargs)
    answer, media = create_answer(offer, local or AudioConfig(), **arguments)  # type: ignore[arg-type]
    # What we hand out must survive the wire.
    assert parse_sdp(answer.to_bytes()) == answer
    return answer, media


def our_offer(local: AudioConfig | None = None, **kwargs: object) -> SessionDescription:
    arguments: dict[str, object] = {"address": "192.0.2.10", "port": 30000, "session_id": 77, "session_version": 1}
    arguments.update(kwargs)
    offer = create_offer(local or AudioConfig(), **arguments)  # type: ignore[arg-type]
    assert parse_sdp(offer.to_bytes()) == offer
    return offer


LINPHONE_OFFER = sdp(
    "v=0",
    "o=alice 2741 1094 IN IP4 192.168.1.20",
    "s=Talk",
    "c=IN IP4 192.168.1.20",
    "t=0 0",
    "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics",
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
)

BARESIP_OFFER = sdp(
    "v=0",
    "o=- 1916315925 2052496374 IN IP4 10.0.0.2",
    "s=-",
    "c=IN IP4 10.0.0.2",
    "t=0 0",
    "m=audio 10230 RTP/AVP 96 0 8 101",
    "a=rtpmap:96 opus/48000/2",
    "a=fmtp:96 stereo=1;sprop-stereo=1;maxaveragebitrate=28000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=rtcp-mux",
    "a=ptime:40",
    "a=sendrecv",
)


def g711_offer(*extra: str, connection: str = "c=IN IP4 198.51.100.7", formats: str = "0 8 101") -> SessionDescription:
    return sdp(
        "v=0",
        "o=- 10 20 IN IP4 198.51.100.7",
        "s=-",
        connection,
        "t=0 0",
        f"m=audio 4000 RTP/AVP {formats}",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        *extra,
    )


def rtpmaps(media_lines: list[Attribute]) -> list[str]:
    return [a.value or "" for a in media_lines if a.name == "rtpmap"]


class TestCreateOffer:
    def test_default_offer(self) -> None:
        offer = our_offer()
        assert str(offer).split("\r\n") == [
            "v=0",
            "o=- 77 1 IN IP4 192.0.2.10",
            "s=-",
            "c=IN IP4 192.0.2.10",
            "t=0 0",
            "m=audio 30000 RTP/AVP 111 9 0 8 96 101",
            "a=rtpmap:111 opus/48000/2",
            "a=fmtp:111 useinbandfec=1",
            "a=rtpmap:9 G722/8000",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:96 telephone-event/48000",
            "a=fmtp:96 0-16",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=sendrecv",
            "",
        ]

    def test_ipv6_address(self) -> None:
        offer = our_offer(address="2001:db8::10")
        assert offer.origin.addrtype == "IP6"
        assert offer.connection == Connection("IN", "IP6", "2001:db8::10")
        assert b"c=IN IP6 2001:db8::10\r\n" in offer.to_bytes()

    def test_g711_only_offers_telephone_event_8000_only(self) -> None:
        offer = our_offer(AudioConfig(codecs=[pcma_codec(), pcmu_codec()], rtcp_mux=True, maxptime=60))
        media = offer.media[0]
        assert media.formats == ["8", "0", "101"]
        assert rtpmaps(media.attributes) == ["8 PCMA/8000", "0 PCMU/8000", "101 telephone-event/8000"]
        assert media.rtcp_mux
        assert media.maxptime == 60

    def test_opus_options_and_direction(self) -> None:
        opus = opus_codec(payload_type=96, usedtx=True, maxaveragebitrate=32000, stereo=True)
        offer = our_offer(AudioConfig(codecs=[opus], telephone_event=False), direction="sendonly", username="bob")
        media = offer.media[0]
        assert offer.origin.username == "bob"
        assert media.formats == ["96"]
        assert media.fmtp[96] == {
            "useinbandfec": "1",
            "usedtx": "1",
            "maxaveragebitrate": "32000",
            "stereo": "1",
            "sprop-stereo": "1",
        }
        assert media.direction(offer) == "sendonly"

    def test_payload_type_clash_is_resolved(self) -> None:
        config = AudioConfig(codecs=[Codec("opus", 48000, 2, 96), Codec("speex", 16000, 1, 96)])
        assert our_offer(config).media[0].formats == ["96", "97", "98", "99"]

    def test_bad_arguments(self) -> None:
        with pytest.raises(ValueError):
            our_offer(port=70000)
        with pytest.raises(ValueError):
            our_offer(direction="upside-down")
        with pytest.raises(ValueError):
            our_offer(AudioConfig(codecs=[]))


class TestCreateAnswer:
    def test_full_match_keeps_offer_payload_types(self) -> None:
        answer, media = answer_to(BARESIP_OFFER, AudioConfig(rtcp_mux=True))
        audio = answer.media[0]
        assert audio.port == 30000
        assert audio.formats == ["96", "0", "8", "101"]
        assert rtpmaps(audio.attributes) == [
            "96 opus/48000/2",
            "0 PCMU/8000",
            "8 PCMA/8000",
            "101 telephone-event/8000",
        ]
        assert audio.direction(answer) == "sendrecv"
        assert audio.rtcp_mux
        assert answer.origin.sess_id == 77
        assert answer.connection == Connection("IN", "IP4", "192.0.2.10")
        assert media is not None
        assert (media.remote_address, media.remote_port, media.remote_rtcp_port) == ("10.0.0.2", 10230, 10230)
        assert media.codec.name == "opus"
        assert media.payload_type == 96
        assert [c.payload_type for c in media.codecs] == [96, 0, 8]
        assert media.telephone_event is None
        assert media.telephone_events == {8000: 101}
        assert sorted(media.receive_codecs) == [0, 8, 96, 101]
        assert media.ptime == 40
        assert media.direction == "sendrecv"
        assert media.send and media.receive
        assert not media.on_hold
        assert media.rtcp_mux

    def test_partial_match_linphone(self) -> None:
        answer, media = answer_to(LINPHONE_OFFER)
        audio = answer.media[0]
        # speex, G729 and telephone-event/16000 are dropped; each telephone-event goes with a codec's rate.
        assert audio.formats == ["96", "0", "8", "101", "100"]
        assert audio.fmtp == {96: {"useinbandfec": "1"}, 101: "0-16", 100: "0-16"}
        assert audio.ptime == 20
        assert media is not None
        assert media.codec == Codec("opus", 48000, 2, 96, {"useinbandfec": "1"})
        assert media.telephone_event == 101
        assert media.telephone_events == {48000: 101, 8000: 100}
        assert media.remote_rtcp_port == 7079
        assert not media.rtcp_mux

    def test_offerer_order_wins_over_our_preference(self) -> None:
        offer = g711_offer(formats="8 0 101")
        answer, media = answer_to(offer, AudioConfig(codecs=[pcmu_codec(), pcma_codec()]))
        assert answer.media[0].formats == ["8", "0", "101"]
        assert media is not None
        assert media.codec.name == "PCMA"
        assert media.payload_type == 8
        assert media.telephone_event == 101

    def test_static_payload_types_without_rtpmap(self) -> None:
        offer = sdp(
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
        answer, media = answer_to(offer)
        assert [(m.media, m.port, m.formats) for m in answer.media] == [
            ("audio", 30000, ["0"]),
            ("video", 0, ["107"]),
        ]
        assert media is not None
        assert media.codec.name == "PCMU"
        assert (media.remote_address, media.remote_addrtype) == ("192.0.2.1", "IP4")
        assert media.telephone_event is None

    def test_no_common_codec_rejects_with_port_zero(self) -> None:
        # RFC 5118 4.6 body: G726-32 audio and H263 video, neither of which we do.
        offer = sdp(
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
        answer, media = answer_to(offer)
        assert media is None
        assert [(m.media, m.port, m.proto, m.formats, m.attributes) for m in answer.media] == [
            ("audio", 0, "RTP/AVP", ["2"], []),
            ("video", 0, "RTP/AVP", ["107"], []),
        ]
        assert answer.times == offer.times

    def test_telephone_event_alone_is_not_a_match(self) -> None:
        offer = g711_offer(formats="18 101")
        answer, media = answer_to(offer)
        assert media is None
        assert answer.media[0].port == 0
        assert answer.media[0].formats == ["18", "101"]

    def test_video_rejected_audio_accepted(self) -> None:
        offer = sdp(
            "v=0",
            "o=- 5 5 IN IP4 203.0.113.4",
            "s=-",
            "c=IN IP4 203.0.113.4",
            "t=0 0",
            "m=video 5006 RTP/AVP 96",
            "a=rtpmap:96 VP8/90000",
            "m=audio 5004 RTP/AVP 0",
            "m=audio 5008 RTP/AVP 8",
        )
        answer, media = answer_to(offer)
        assert [(m.media, m.port, m.formats) for m in answer.media] == [
            ("video", 0, ["96"]),
            ("audio", 30000, ["0"]),
            ("audio", 0, ["8"]),
        ]
        assert media is not None and media.remote_port == 5004

    def test_unknown_transport_and_disabled_stream_are_rejected(self) -> None:
        offer = sdp(
            "v=0",
            "o=- 5 5 IN IP4 203.0.113.4",
            "s=-",
            "c=IN IP4 203.0.113.4",
            "t=0 0",
            "m=audio 5004 RTP/SAVP 0",
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32",
            "m=audio 0 RTP/AVP 0",
            "m=image 5010 udptl t38",
        )
        answer, media = answer_to(offer)
        assert media is None
        assert [(m.port, m.proto, m.formats) for m in answer.media] == [
            (0, "RTP/SAVP", ["0"]),
            (0, "RTP/AVP", ["0"]),
            (0, "udptl", ["t38"]),
        ]

    def test_ipv6_offer_and_answer(self) -> None:
        offer = g711_offer(connection="c=IN IP6 2001:db8::7")
        answer, media = answer_to(offer, address="2001:db8::10")
        assert answer.origin.addrtype == "IP6"
        assert answer.connection == Connection("IN", "IP6", "2001:db8::10")
        assert media is not None
        assert (media.remote_address, media.remote_addrtype) == ("2001:db8::7", "IP6")

    def test_ipv4_mapped_ipv6_remote(self) -> None:
        offer = g711_offer(connection="c=IN IP6 ::ffff:192.0.2.2")
        _, media = answer_to(offer)
        assert media is not None
        assert media.remote_address == "::ffff:192.0.2.2"

    def test_media_level_connection_wins(self) -> None:
        offer = g711_offer("c=IN IP6 2001:db8::99")
        _, media = answer_to(offer)
        assert media is not None
        assert (media.remote_address, media.remote_addrtype) == ("2001:db8::99", "IP6")

    def test_missing_connection_rejects_stream(self) -> None:
        offer = sdp("v=0", "o=- 1 1 IN IP4 198.51.100.7", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0")
        answer, media = answer_to(offer)
        assert media is None
        assert answer.media[0].port == 0

    def test_opus_fmtp_answer_states_our_receive_preferences(self) -> None:
        offer = sdp(
            "v=0",
            "o=- 1 1 IN IP4 198.51.100.7",
            "s=-",
            "c=IN IP4 198.51.100.7",
            "t=0 0",
            "m=audio 4000 RTP/AVP 109",
            "a=rtpmap:109 OPUS/48000/2",
            "a=fmtp:109 maxplaybackrate=16000;stereo=1;useinbandfec=0;usedtx=1",
            "a=ptime:60",
            "a=maxptime:40",
        )
        local = AudioConfig(codecs=[opus_codec(maxaveragebitrate=24000)])
        answer, media = answer_to(offer, local)
        audio = answer.media[0]
        assert audio.rtpmap == {109: RtpMap("OPUS", 48000, 2)}
        assert audio.fmtp == {109: {"useinbandfec": "1", "maxaveragebitrate": "24000"}}
        assert media is not None
        # What we send follows the peer's receive preferences.
        assert media.codec.fmtp == {"maxplaybackrate": "16000", "stereo": "1", "useinbandfec": "0", "usedtx": "1"}
        assert media.ptime == 40

    def test_opus_without_channel_count_is_accepted(self) -> None:
        offer = sdp(
            "v=0",
            "o=- 1 1 IN IP4 198.51.100.7",
            "s=-",
            "c=IN IP4 198.51.100.7",
            "t=0 0",
            "m=audio 4000 RTP/AVP 98",
            "a=rtpmap:98 opus/48000",
        )
        _, media = answer_to(offer)
        assert media is not None and media.codec.name == "opus"

    def test_rtcp_attribute_and_mux_only_when_both_want_it(self) -> None:
        offer = g711_offer("a=rtcp:4005")
        answer, media = answer_to(offer, AudioConfig(rtcp_mux=True))
        assert not answer.media[0].rtcp_mux
        assert media is not None and media.remote_rtcp_port == 4005 and not media.rtcp_mux

    def test_answer_keeps_offer_time(self) -> None:
        offer = g711_offer()
        offer.times[0].start = 3338481189
        answer, _ = answer_to(offer)
        assert answer.times == offer.times


DIRECTION_TABLE: list[tuple[Direction, Direction, Direction, bool]] = [
    # offered, our preference, answered, on hold
    ("sendrecv", "sendrecv", "sendrecv", False),
    ("sendrecv", "sendonly", "sendonly", False),
    ("sendrecv", "recvonly", "recvonly", False),
    ("sendrecv", "inactive", "inactive", False),
    ("sendonly", "sendrecv", "recvonly", True),
    ("sendonly", "sendonly", "inactive", True),
    ("recvonly", "sendrecv", "sendonly", False),
    ("recvonly", "recvonly", "inactive", False),
    ("inactive", "sendrecv", "inactive", True),
]


@pytest.mark.parametrize(("offered", "preference", "answered", "on_hold"), DIRECTION_TABLE)
def test_direction_table(offered: Direction, preference: Direction, answered: Direction, on_hold: bool) -> None:
    answer, media = answer_to(g711_offer(f"a={offered}"), direction=preference)
    assert answer.media[0].direction(answer) == answered
    assert media is not None
    assert media.direction == answered
    assert media.on_hold is on_hold


def test_session_level_direction_of_offer_is_honoured() -> None:
    offer = g711_offer()
    offer.attributes.append(Attribute("sendonly"))
    answer, media = answer_to(offer)
    assert answer.media[0].direction(answer) == "recvonly"
    assert media is not None and media.on_hold


def test_reverse_direction() -> None:
    assert [reverse_direction(d) for d in ("sendrecv", "sendonly", "recvonly", "inactive")] == [
        "sendrecv",
        "recvonly",
        "sendonly",
        "inactive",
    ]


class TestHold:
    def test_legacy_zero_address_hold_from_remote(self) -> None:
        answer, media = answer_to(g711_offer(connection="c=IN IP4 0.0.0.0"))
        assert answer.media[0].direction(answer) == "recvonly"
        assert media is not None
        assert media.on_hold
        assert not media.send
        assert media.remote_address == "0.0.0.0"

    def test_we_hold_and_resume(self) -> None:
        offer = our_offer()
        held = hold_offer(offer)
        assert held.origin.sess_version == offer.origin.sess_version + 1
        assert held.origin.sess_id == offer.origin.sess_id
        assert held.media[0].direction(held) == "sendonly"
        assert offer.media[0].direction(offer) == "sendrecv"

        # The peer answers our hold recvonly, as RFC 3264 6.1 asks.
        peer_answer, _ = create_answer(
            held, AudioConfig(), address="198.51.100.7", port=4000, session_id=1, session_version=2
        )
        assert peer_answer.media[0].direction(peer_answer) == "recvonly"
        media = negotiate_answer(held, parse_sdp(peer_answer.to_bytes()), AudioConfig())
        assert media is not None
        assert media.direction == "sendonly"
        assert not media.on_hold

        resumed = resume_offer(held)
        assert resumed.origin.sess_version == held.origin.sess_version + 1
        assert resumed.media[0].direction(resumed) == "sendrecv"

    def test_hold_while_held_goes_inactive(self) -> None:
        # The peer held us first (its offer was sendonly), so our last SDP said recvonly.
        previous, _ = answer_to(g711_offer("a=sendonly"))
        assert previous.media[0].direction(previous) == "recvonly"
        held = hold_offer(previous)
        assert held.media[0].direction(held) == "inactive"
        assert held.origin.sess_version == previous.origin.sess_version + 1

    def test_hold_moves_session_level_direction_to_media(self) -> None:
        previous = our_offer()
        previous.media[0].attributes = [a for a in previous.media[0].attributes if a.name != "sendrecv"]
        previous.attributes.append(Attribute("recvonly"))
        held = hold_offer(previous)
        assert held.attributes == []
        assert held.media[0].direction(held) == "inactive"

    def test_hold_leaves_rejected_streams_alone(self) -> None:
        previous, _ = answer_to(
            sdp(
                "v=0",
                "o=- 5 5 IN IP4 203.0.113.4",
                "s=-",
                "c=IN IP4 203.0.113.4",
                "t=0 0",
                "m=audio 5004 RTP/AVP 0",
                "m=video 5006 RTP/AVP 31",
            )
        )
        held = hold_offer(previous)
        assert held.media[1] == previous.media[1]
        assert held.media[0].direction(held) == "sendonly"

    def test_hold_of_held_session_keeps_version(self) -> None:
        held = hold_offer(our_offer())
        assert hold_offer(held) == held

    def test_remote_hold_via_answer(self) -> None:
        offer = our_offer()
        answer = g711_offer("a=sendonly")
        media = negotiate_answer(offer, answer, AudioConfig())
        assert media is not None
        assert media.on_hold
        assert media.direction == "recvonly"

    def test_remote_legacy_hold_via_answer(self) -> None:
        media = negotiate_answer(our_offer(), g711_offer(connection="c=IN IP4 0.0.0.0"), AudioConfig())
        assert media is not None
        assert media.on_hold
        assert media.direction == "recvonly"


class TestNextOffer:
    def test_unchanged_sdp_keeps_version(self) -> None:
        previous = our_offer()
        candidate = our_offer(session_version=99)
        assert next_offer(previous, candidate) == previous

    def test_changed_sdp_increments_by_one(self) -> None:
        previous = our_offer()
        candidate = our_offer(port=30002, session_id=5, session_version=42, username="x")
        result = next_offer(previous, candidate)
        assert result.origin.username == "-"
        assert result.origin.sess_id == 77
        assert result.origin.sess_version == 2
        assert result.media[0].port == 30002
        assert candidate.origin.sess_version == 42


class TestNegotiateAnswer:
    def test_plain_answer(self) -> None:
        offer = our_offer(AudioConfig(rtcp_mux=True))
        answer = sdp(
            "v=0",
            "o=- 9 9 IN IP4 198.51.100.7",
            "s=-",
            "c=IN IP4 198.51.100.7",
            "t=0 0",
            "m=audio 4000 RTP/AVP 8 101",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=rtcp-mux",
            "a=ptime:30",
        )
        media = negotiate_answer(offer, answer, AudioConfig(rtcp_mux=True))
        assert media is not None
        assert (media.remote_address, media.remote_port, media.remote_rtcp_port) == ("198.51.100.7", 4000, 4000)
        assert media.codec == Codec("PCMA", 8000, 1, 8)
        assert media.payload_type == 8
        assert media.telephone_event == 101
        assert media.ptime == 30
        assert media.direction == "sendrecv"
        assert media.rtcp_mux
        assert not media.on_hold

    def test_answer_may_renumber_an_offered_codec(self) -> None:
        offer = our_offer()
        answer = sdp(
            "v=0",
            "o=- 9 9 IN IP6 2001:db8::7",
            "s=-",
            "c=IN IP6 2001:db8::7",
            "t=0 0",
            "m=audio 4000 RTP/AVP 120 0",
            "a=rtpmap:120 opus/48000/2",
            "a=fmtp:120 useinbandfec=1;stereo=0",
        )
        media = negotiate_answer(offer, answer, AudioConfig())
        assert media is not None
        assert media.payload_type == 120
        assert media.codec.fmtp == {"useinbandfec": "1", "stereo": "0"}
        assert media.remote_addrtype == "IP6"
        # The peer sends to us with the numbers of our offer.
        assert sorted(media.receive_codecs) == [0, 111]

    def test_rejected_audio_gives_none(self) -> None:
        offer = our_offer()
        answer = sdp("v=0", "o=- 9 9 IN IP4 198.51.100.7", "s=-", "t=0 0", "m=audio 0 RTP/AVP 111 0 8 96 101")
        assert negotiate_answer(offer, answer, AudioConfig()) is None

    def test_round_trip_with_create_answer(self) -> None:
        offer = our_offer()
        answer, answered = answer_to(parse_sdp(offer.to_bytes()), AudioConfig(codecs=[pcmu_codec()]))
        media = negotiate_answer(offer, parse_sdp(answer.to_bytes()), AudioConfig())
        assert media is not None and answered is not None
        assert media.codec.name == answered.codec.name == "PCMU"
        assert media.telephone_event == answered.telephone_event == 101

    @pytest.mark.parametrize(
        ("media_lines", "fragment"),
        [
            ([], "0 m= lines, the offer had 1"),
            (["m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 0"], "2 m= lines"),
            (["m=video 4000 RTP/AVP 0"], "'video'"),
            (["m=audio 4000 RTP/SAVP 0"], "transport"),
            (["m=audio 4000 RTP/AVP 18"], "G729/8000 (payload type 18) was not in the offer"),
            (["m=audio 4000 RTP/AVP 0", "a=rtpmap:0 G722/8000"], "payload type 0 is G722/8000"),
            (["m=audio 4000 RTP/AVP 126"], "payload type 126 has no rtpmap"),
            (["m=audio 4000 RTP/AVP 101"], "no audio codec of the offer"),
        ],
    )
    def test_bad_answers_raise_488(self, media_lines: list[str], fragment: str) -> None:
        answer = sdp("v=0", "o=- 9 9 IN IP4 198.51.100.7", "s=-", "c=IN IP4 198.51.100.7", "t=0 0", *media_lines)
        with pytest.raises(SipParseError) as info:
            negotiate_answer(our_offer(), answer, AudioConfig())
        assert info.value.status_code == 488
        assert fragment in str(info.value)

    def test_answer_without_connection_raises_488(self) -> None:
        answer = sdp("v=0", "o=- 9 9 IN IP4 198.51.100.7", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0")
        with pytest.raises(SipParseError, match="connection") as info:
            negotiate_answer(our_offer(), answer, AudioConfig())
        assert info.value.status_code == 488

    def test_answer_cannot_widen_direction(self) -> None:
        offer = our_offer(direction="sendonly")
        answer = g711_offer("a=sendrecv")
        media = negotiate_answer(offer, answer, AudioConfig())
        assert media is not None
        assert media.direction == "sendonly"

    def test_inputs_are_not_modified(self) -> None:
        offer = our_offer()
        snapshot = copy.deepcopy(offer)
        hold_offer(offer)
        resume_offer(offer)
        answer_to(offer)
        assert offer == snapshot


# --- property tests -----------------------------------------------------------------------------

SEEDS = [LINPHONE_OFFER.to_bytes(), BARESIP_OFFER.to_bytes(), g711_offer("a=sendonly").to_bytes()]


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    lines = draw(st.sampled_from(SEEDS)).split(b"\r\n")
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "duplicate", "edit"]))
        if action == "drop":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        else:
            line = lines[index]
            position = draw(st.integers(0, len(line)))
            piece = draw(st.sampled_from([b"0", b"9", b" ", b"/", b"0.0.0.0", b"sendonly", b"opus", b"::1", b""]))
            lines[index] = line[:position] + piece + line[position + draw(st.integers(0, 3)) :]
    return b"\r\n".join(lines)


def parsed_or_none(data: bytes) -> SessionDescription | None:
    try:
        return parse_sdp(data)
    except SipParseError:
        return None


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bodies())
def test_answering_any_parsable_offer_never_fails(data: bytes) -> None:
    offer = parsed_or_none(data)
    if offer is None:
        return
    answer, media = answer_to(offer)
    assert len(answer.media) == len(offer.media)
    if media is not None:
        assert sum(m.port != 0 for m in answer.media) == 1


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bodies())
def test_checking_any_parsable_answer_raises_only_488(data: bytes) -> None:
    answer = parsed_or_none(data)
    if answer is None:
        return
    try:
        negotiate_answer(our_offer(), answer, AudioConfig())
    except SipParseError as error:
        assert error.status_code == 488


def test_the_peers_declared_ssrc_is_kept_when_it_is_one() -> None:
    """RFC 5576 4.1: one SSRC declared (with several attributes) is the stream's; two, or garbage, are none."""
    from softphone.sip.offer_answer import _remote_ssrc
    from softphone.sip.sdp import Attribute, MediaDescription

    def media(*values: str) -> MediaDescription:
        return MediaDescription(
            "audio", 4000, None, "RTP/AVP", ["0"], attributes=[Attribute("ssrc", v) for v in values]
        )

    assert _remote_ssrc(media("3735928559 cname:x", "3735928559 msid:a b")) == 3735928559
    assert _remote_ssrc(media("1 cname:x", "2 cname:y")) is None
    assert _remote_ssrc(media("99999999999 cname:x", "-1", "x", "")) is None
    assert _remote_ssrc(media()) is None


class TestMulticastOffer:
    """RFC 3264 6.2: a multicast stream is answered with the offer's group, port and direction; we only receive."""

    @pytest.mark.parametrize(
        ("connection", "group"),
        [("c=IN IP4 239.255.30.1/16", "239.255.30.1"), ("c=IN IP6 ff05::30:1", "ff05::30:1")],
    )
    def test_the_group_is_received_and_answered_as_offered(self, connection: str, group: str) -> None:
        answer, media = answer_to(g711_offer("a=sendonly", connection=connection))
        assert media is not None
        assert media.multicast
        assert (media.remote_address, media.remote_port) == (group, 4000)
        assert media.direction == "recvonly"
        assert not media.send
        assert media.telephone_event is None
        answered = answer.media[0]
        assert answered.port == 4000
        assert answered.connection is not None and answered.connection.address == group
        assert answered.connection.ttl == (16 if ":" not in group else None)
        assert answered.direction(answer) == "sendonly"
        assert answered.get_attributes("rtcp-mux") == []

    def test_a_sendrecv_group_is_still_only_received(self) -> None:
        answer, media = answer_to(g711_offer(connection="c=IN IP4 239.255.30.1/1"))
        assert media is not None and media.direction == "recvonly"
        assert answer.media[0].direction(answer) == "sendrecv"

    def test_a_unicast_offer_is_not_multicast(self) -> None:
        _answer, media = answer_to(g711_offer())
        assert media is not None and not media.multicast

    def test_keys_for_a_group_are_refused(self) -> None:
        offer = g711_offer(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
            connection="c=IN IP4 239.255.30.1/1",
        )
        offer.media[0].proto = "RTP/SAVP"
        local = AudioConfig(srtp=SrtpConfig(policy="mandatory", key_exchange="sdes", secure_signalling=True))
        _answer, media = answer_to(offer, local)
        assert media is None
        offer.connection = Connection("IN", "IP4", "198.51.100.7")  # the same offer to a unicast address is taken
        assert answer_to(offer, local)[1] is not None

"""RFC 3264 offer/answer of a video m= line next to the audio one."""

from __future__ import annotations

import pytest

from softphone.sip.offer_answer import AudioConfig, create_answer, create_offer, hold_offer, negotiate_answer
from softphone.sip.sdp import SessionDescription, parse_sdp
from softphone.sip.video_offer_answer import (
    VideoConfig,
    answer_video,
    negotiated_video,
    offer_video,
    video_codecs_named,
    without_video,
)


def wire(sd: SessionDescription) -> SessionDescription:
    return parse_sdp(sd.to_bytes())


def our_offer(video: VideoConfig | None = None, port: int = 30002) -> SessionDescription:
    audio = create_offer(AudioConfig(), address="192.0.2.1", port=30000, session_id=1, session_version=1)
    return wire(offer_video(audio, video or VideoConfig(), port))


def their_answer(
    offer: SessionDescription, video: VideoConfig | None, port: int = 40002, direction: str = "sendrecv"
) -> SessionDescription:
    answer, media = create_answer(
        offer, AudioConfig(), address="192.0.2.2", port=40000, session_id=2, session_version=1
    )
    assert media is not None
    return wire(answer_video(offer, answer, video, port, direction))  # type: ignore[arg-type]


def test_offer_has_video_line_after_audio_with_feedback_and_mux() -> None:
    offer = our_offer()
    assert [m.media for m in offer.media] == ["audio", "video"]
    video = offer.media[1]
    assert video.port == 30002 and video.proto == "RTP/AVP"
    vp8, h264, h264_single = video.payload_types
    assert str(video.rtpmap_for(vp8)) == "VP8/90000" and str(video.rtpmap_for(h264)) == "H264/90000"
    assert video.fmtp[h264] == {
        "profile-level-id": "42e01f",
        "level-asymmetry-allowed": "1",
        "packetization-mode": "1",
    }
    # Mode 0 for peers with nothing else: packetization-mode left out (RFC 6184 8.1: 0 is the default).
    assert video.fmtp[h264_single] == {"profile-level-id": "42e01f", "level-asymmetry-allowed": "1"}
    fb = {a.value for a in video.get_attributes("rtcp-fb")}
    kinds = ("nack", "nack pli", "ccm fir", "ccm tmmbr", "goog-remb")
    assert fb == {f"{pt} {kind}" for pt in (vp8, h264, h264_single) for kind in kinds}
    payload_type = vp8
    assert video.rtcp_mux and video.direction(offer) == "sendrecv"
    # The audio line's payload types are left alone and not reused.
    assert payload_type not in offer.media[0].payload_types


def test_answer_accepts_video_and_both_sides_agree() -> None:
    offer = our_offer()
    answer = their_answer(offer, VideoConfig())
    assert answer.media[1].port == 40002
    assert negotiate_answer(offer, answer, AudioConfig()) is not None
    ours = negotiated_video(offer, answer, VideoConfig())
    theirs = negotiated_video(answer, offer, VideoConfig())
    assert ours is not None and theirs is not None
    assert (ours.remote_address, ours.remote_port, ours.rtcp_mux) == ("192.0.2.2", 40002, True)
    assert (theirs.remote_address, theirs.remote_port) == ("192.0.2.1", 30002)
    assert ours.payload_type == theirs.payload_type == offer.media[1].payload_types[0]
    assert set(ours.receive_codecs) == {offer.media[1].payload_types[0]}  # one codec only: VP8
    assert ours.codec.name == "VP8" and ours.direction == theirs.direction == "sendrecv"
    assert ours.feedback == {"nack", "nack pli", "ccm fir", "ccm tmmbr", "goog-remb"}
    assert ours.remote_rtcp_port == 40002


def test_audio_only_user_declines_video_with_port_zero() -> None:
    offer = our_offer()
    answer = their_answer(offer, None)
    assert [m.media for m in answer.media] == ["audio", "video"]
    assert answer.media[0].port == 40000 and answer.media[1].port == 0
    assert negotiate_answer(offer, answer, AudioConfig()) is not None  # the audio call goes on
    assert negotiated_video(offer, answer, VideoConfig()) is None


def test_declined_video_keeps_formats_so_the_answer_is_valid() -> None:
    offer = our_offer()
    answer = their_answer(offer, None)
    assert answer.media[1].formats == offer.media[1].formats


def test_no_common_video_codec_is_declined() -> None:
    offer = wire(
        parse_sdp(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
            "m=audio 5000 RTP/AVP 0\r\nm=video 5002 RTP/AVP 97\r\na=rtpmap:97 H265/90000\r\n"
        )
    )
    answer = their_answer(offer, VideoConfig())
    assert answer.media[1].port == 0


def test_video_offer_without_audio_we_can_take_stays_declined() -> None:
    offer = parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 18\r\nm=video 5002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
    )
    answer, media = create_answer(
        offer, AudioConfig(), address="192.0.2.2", port=40000, session_id=2, session_version=1
    )
    assert media is None
    assert answer_video(offer, answer, VideoConfig(), 40002).media[1].port == 0


def test_peer_declines_our_video() -> None:
    offer = our_offer()
    answer = their_answer(offer, None)
    assert negotiated_video(offer, answer, VideoConfig()) is None


def test_camera_off_offers_recvonly_and_peer_answers_sendonly() -> None:
    offer = our_offer(VideoConfig(send=False))
    assert offer.media[1].direction(offer) == "recvonly"
    answer = their_answer(offer, VideoConfig())
    assert answer.media[1].direction(answer) == "sendonly"
    ours = negotiated_video(offer, answer, VideoConfig(send=False))
    assert ours is not None and ours.direction == "recvonly" and not ours.send and ours.receive


def test_answerer_without_camera_answers_recvonly() -> None:
    offer = our_offer()
    answer = their_answer(offer, VideoConfig(send=False))
    assert answer.media[1].direction(answer) == "recvonly"
    ours = negotiated_video(offer, answer, VideoConfig())
    assert ours is not None and ours.direction == "sendonly"


def test_hold_re_offer_holds_video_too() -> None:
    offer = hold_offer(our_offer())
    assert [m.direction(offer) for m in offer.media] == ["sendonly", "sendonly"]


def test_dropping_video_by_re_offer_declines_it() -> None:
    offer = without_video(our_offer())
    assert offer.media[1].port == 0 and offer.media[0].port == 30000
    answer = their_answer(offer, VideoConfig())
    assert answer.media[1].port == 0
    assert negotiated_video(offer, answer, VideoConfig()) is None


def test_no_rtcp_mux_sends_rtcp_to_next_port() -> None:
    offer = our_offer()
    answer = their_answer(offer, VideoConfig(rtcp_mux=False))
    assert not answer.media[1].rtcp_mux
    ours = negotiated_video(offer, answer, VideoConfig())
    assert ours is not None and not ours.rtcp_mux and ours.remote_rtcp_port == 40003


def test_peer_payload_type_is_used_for_sending() -> None:
    offer = parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\n"
        "m=video 5002 RTP/AVPF 120 100\r\na=rtpmap:120 H265/90000\r\na=rtpmap:100 vp8/90000\r\n"
        "a=rtcp-fb:* nack\r\na=rtcp-fb:100 nack pli\r\n"
    )
    answer = their_answer(offer, VideoConfig())
    assert answer.media[1].proto == "RTP/AVPF" and answer.media[1].payload_types == [100]
    assert not answer.media[1].rtcp_mux
    video = negotiated_video(answer, offer, VideoConfig())
    assert video is not None and video.payload_type == 100 and video.feedback == {"nack", "nack pli"}
    assert video.remote_rtcp_port == 5003


def test_unknown_transport_or_garbage_lines_are_declined_not_fatal() -> None:
    offer = parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\n"
        "m=video 5002 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96\r\na=rtcp-fb\r\n"
    )
    assert their_answer(offer, VideoConfig()).media[1].port == 0
    garbage = parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\nm=video 5002 RTP/AVP 96 97\r\na=rtpmap:96 VP8\r\na=rtcp-fb:96\r\na=rtcp-fb\r\n"
    )
    assert their_answer(garbage, VideoConfig()).media[1].port == 0


def test_only_the_first_video_line_is_taken() -> None:
    offer = parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\n"
        "m=video 5002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
        "m=video 5004 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
    )
    answer = their_answer(offer, VideoConfig())
    assert [m.port for m in answer.media] == [40000, 40002, 0]


def test_re_adding_video_takes_the_declined_slot() -> None:
    dropped = without_video(our_offer())
    again = wire(offer_video(dropped, VideoConfig(), 30004))
    assert [(m.media, m.port) for m in again.media] == [("audio", 30000), ("video", 30004)]
    assert offer_video(again, VideoConfig(), 30006) is again  # one active video line is enough
    answer = their_answer(again, VideoConfig())
    video = negotiated_video(again, answer, VideoConfig())
    assert video is not None and video.remote_port == 40002


H264_OFFER = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
    "m=audio 5000 RTP/AVP 0\r\n"
    "m=video 5002 RTP/AVP 98 99 100\r\n"
    "a=rtpmap:98 H264/90000\r\na=fmtp:98 profile-level-id=4d001f;packetization-mode=1\r\n"
    "a=rtpmap:99 H264/90000\r\na=fmtp:99 profile-level-id=42e01f;packetization-mode=2\r\n"
    "a=rtpmap:100 H264/90000\r\na=fmtp:100 profile-level-id=42e00d;packetization-mode=0;"
    "sprop-parameter-sets=Z0LADZZSAoPZ,aM4yyA==\r\n"
)


def test_h264_only_a_format_we_can_do_is_answered_keeping_its_mode_and_profile() -> None:
    offer = parse_sdp(H264_OFFER)
    answer = their_answer(offer, VideoConfig())
    video = answer.media[1]
    # Main profile without constraint_set1 and interleaved mode 2 are not ours; Constrained Baseline mode 0 is.
    assert video.port == 40002 and video.payload_types == [100]
    assert video.fmtp[100] == {"profile-level-id": "42e00d"}
    ours = negotiated_video(answer, offer, VideoConfig())
    assert ours is not None and ours.codec.name == "H264" and ours.payload_type == 100
    assert ours.codec.fmtp["packetization-mode"] == "0" and "sprop-parameter-sets" in ours.codec.fmtp


def test_h264_preferred_when_listed_first() -> None:
    offer = our_offer(VideoConfig(codecs=video_codecs_named(["h264", "vp8"])))
    h264, _, vp8 = offer.media[1].payload_types
    assert str(offer.media[1].rtpmap_for(h264)) == "H264/90000"
    answer = their_answer(offer, VideoConfig())
    assert answer.media[1].payload_types == [h264, vp8]
    ours = negotiated_video(offer, answer, VideoConfig())
    assert ours is not None and ours.codec.name == "H264" and ours.codec.fmtp["packetization-mode"] == "1"
    assert h264 in ours.receive_codecs and vp8 not in ours.receive_codecs


def test_unknown_video_codec_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown video codec"):
        video_codecs_named(["vp8", "theora"])


def test_a_peer_doing_only_mode_0_gets_it() -> None:
    offer = our_offer(VideoConfig(codecs=video_codecs_named(["h264"])))
    mode1, mode0 = offer.media[1].payload_types
    answer = parse_sdp(
        "v=0\r\no=- 2 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        f"m=video 40002 RTP/AVP {mode0}\r\na=rtpmap:{mode0} H264/90000\r\n"
        f"a=fmtp:{mode0} packetization-mode=0;profile-level-id=42e01f\r\n"
    )
    ours = negotiated_video(offer, answer, VideoConfig(codecs=video_codecs_named(["h264"])))
    assert ours is not None and ours.payload_type == mode0 and ours.codec.fmtp["packetization-mode"] == "0"
    assert set(ours.receive_codecs) >= {mode0}
    assert mode1 != mode0

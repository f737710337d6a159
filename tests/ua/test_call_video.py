"""A call machine with video: the video m= line in offers and answers, the video in StartMedia/UpdateMedia."""

from __future__ import annotations

import pytest

from softphone.cli import build_parser, video_for
from softphone.ice.candidate import IceDescription, local_candidates
from softphone.sip.ice_sdp import offered_ice
from softphone.sip.offer_answer import AudioConfig
from softphone.sip.sdp import SessionDescription, parse_sdp
from softphone.sip.video_offer_answer import VideoConfig
from softphone.ua import AccountError
from softphone.ua.call_effects import CallEffect, Completed, SendResponse, StartMedia, UpdateMedia
from tests.ua.call_harness import Uac, Uas, acks, of_type, request, sdp

VIDEO = "m=video 42002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=rtcp-mux\r\na=sendrecv\r\n"


def answer_with_video(offer: bytes, port: int = 42002) -> str:
    video = parse_sdp(offer).media[1]
    payload_type = video.payload_types[0]
    return sdp() + VIDEO.replace("42002", str(port)).replace("96", str(payload_type))


def test_outgoing_call_offers_video_and_starts_it_with_the_answer() -> None:
    uac = Uac(video=VideoConfig(), video_port=40002)
    offer = parse_sdp(uac.invite.body)
    assert [(m.media, m.port) for m in offer.media] == [("audio", 40000), ("video", 40002)]
    effects = uac.respond(200, body=answer_with_video(uac.invite.body))
    [start] = of_type(effects, StartMedia)
    assert isinstance(start, StartMedia) and start.video is not None
    assert (start.video.remote_address, start.video.remote_port, start.video.direction) == (
        "192.0.2.20",
        42002,
        "sendrecv",
    )
    assert start.video.feedback == {"nack pli"}


def test_no_video_port_means_no_video_line_whatever_the_configuration() -> None:
    uac = Uac(video=VideoConfig(), video_port=0)
    assert b"m=video" not in uac.invite.body


def test_peer_declining_video_keeps_the_audio_call() -> None:
    uac = Uac(video=VideoConfig(), video_port=40002)
    effects = uac.respond(200, body=sdp() + "m=video 0 RTP/AVP 96\r\n")
    [start] = of_type(effects, StartMedia)
    assert isinstance(start, StartMedia) and start.video is None and start.media.remote_port == 42000
    assert acks(effects)


def test_incoming_video_offer_is_answered_with_video_only_when_we_have_it() -> None:
    offer = sdp() + VIDEO
    with_video = Uas(offer=offer, config={"video": VideoConfig(), "video_port": 40002})
    without = Uas(offer=offer)
    for uas, port in ((with_video, 40002), (without, 0)):
        effects = uas.m.answer()
        [ok] = [r for r in (e.response for e in effects if hasattr(e, "response")) if r.status_code == 200]
        answer = parse_sdp(ok.body)
        assert [(m.media, m.port) for m in answer.media] == [("audio", 40000), ("video", port)]
        starts = of_type(effects, StartMedia) + of_type(effects, UpdateMedia)
        assert starts and all(
            (s.video is not None) == (port != 0) for s in starts if isinstance(s, StartMedia | UpdateMedia)
        )


def test_video_off_and_on_by_re_invite() -> None:
    uac = Uac(video=VideoConfig(), video_port=40002)
    uac.respond(200, body=answer_with_video(uac.invite.body))
    effects = uac.m.set_video(1, False)
    reinvite = request(effects, "INVITE")
    offer = parse_sdp(reinvite.body)
    assert [(m.media, m.port) for m in offer.media] == [("audio", 40000), ("video", 0)]
    effects = uac.respond(200, body=sdp(version=2) + "m=video 0 RTP/AVP 96\r\n", to=reinvite)
    [update] = of_type(effects, UpdateMedia)
    assert isinstance(update, UpdateMedia) and update.video is None
    effects = uac.m.set_video(2, True)
    reinvite = request(effects, "INVITE")
    offer = parse_sdp(reinvite.body)
    assert [(m.media, m.port) for m in offer.media] == [("audio", 40000), ("video", 40002)]
    effects = uac.respond(200, body=answer_with_video(reinvite.body).replace("o=- 7 1", "o=- 7 3"), to=reinvite)
    [update] = of_type(effects, UpdateMedia)
    assert isinstance(update, UpdateMedia) and update.video is not None


def test_video_on_without_a_video_port_is_refused() -> None:
    uac = Uac()
    uac.respond(200, body=sdp())
    effects = uac.m.set_video(1, True)
    assert not [e for e in effects if hasattr(e, "request")]
    [done] = of_type(effects, Completed)
    assert isinstance(done, Completed) and done.error is not None and "cannot have video" in done.error


def test_cli_video_options() -> None:
    parser = build_parser()
    base = ["--account", "sip:a@example.com", "--no-audio"]
    assert video_for(parser.parse_args(base)) is None
    settings = video_for(parser.parse_args([*base, "--video", "--srtp", "off", "--video-codecs", "h264,vp8"]))
    assert settings is not None and settings.codecs == ("H264", "VP8") and settings.source == "pattern"
    assert [c.name for c in settings.sdp().codecs] == ["H264", "H264", "VP8"]
    screen = video_for(parser.parse_args([*base, "--video", "--srtp", "off", "--video-source", "screen::5"]))
    assert screen is not None and screen.source == "screen::5"
    # Video is keyed as the audio is: any SRTP setting will do.
    for policy in ([], ["--srtp", "optional"], ["--srtp", "mandatory"]):
        assert video_for(parser.parse_args([*base, "--video", *policy])) is not None
    for wrong, message in (
        (["--record-video", "x.mkv"], "needs --video"),
        (["--video", "--srtp", "off", "--record-video", "x.wav"], ".mkv"),
        (["--video", "--srtp", "off", "--video-source", "/no/such/file.webm"], "no such file"),
    ):
        with pytest.raises(AccountError, match=message):
            video_for(parser.parse_args([*base, *wrong]))
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--video-codecs", "theora"])
    sized = video_for(
        parser.parse_args([*base, "--video", "--video-size", "640x480", "--video-fps", "30", "--video-bitrate", "1000"])
    )
    assert sized is not None and (sized.width, sized.height, sized.fps, sized.bitrate) == (640, 480, 30, 1_000_000)
    for wrong_option in (
        ["--video-size", "641x480"],
        ["--video-size", "4096x2160"],
        ["--video-size", "640"],
        ["--video-fps", "0"],
        ["--video-fps", "x"],
        ["--video-bitrate", "9"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args([*base, "--video", *wrong_option])


def test_encrypted_call_offers_keyed_video_and_starts_it_with_its_keys() -> None:
    from tests.ua.test_call_machine import answer_line, crypto_sdp, srtp_audio

    uac = Uac(audio=srtp_audio(), video=VideoConfig(), video_port=40002)
    offer = parse_sdp(uac.invite.body)
    audio, video = offer.media
    assert audio.proto == video.proto == "RTP/SAVP" and video.has_attribute("crypto")
    body = uac.invite.body
    video_at = body.index(b"m=video")
    keyed_video = VIDEO.replace("RTP/AVP", "RTP/SAVP").replace("96", str(video.payload_types[0]))
    their_video_line = answer_line(body[video_at:])
    answer = crypto_sdp(answer_line(body[:video_at])) + keyed_video + f"a={their_video_line}\r\n"
    [start] = of_type(uac.respond(200, body=answer), StartMedia)
    assert isinstance(start, StartMedia) and start.video is not None and start.video.crypto is not None
    assert start.crypto is not None and start.video.crypto.local_key != start.crypto.local_key


def test_encrypted_call_ignores_video_answered_in_clear() -> None:
    from tests.ua.test_call_machine import answer_line, crypto_sdp, srtp_audio

    uac = Uac(audio=srtp_audio("optional"), video=VideoConfig(), video_port=40002)
    body = uac.invite.body
    video = parse_sdp(body).media[1]
    answer = crypto_sdp(answer_line(body[: body.index(b"m=video")]), proto="RTP/AVP") + VIDEO.replace(
        "96", str(video.payload_types[0])
    )
    [start] = of_type(uac.respond(200, body=answer), StartMedia)
    assert isinstance(start, StartMedia) and start.crypto is not None and start.video is None


def test_cli_describes_what_video_sends_and_how() -> None:
    from softphone.cli import describe
    from softphone.ua.events import VideoQualityEvent

    figures = dict(
        codec="VP8",
        width=320,
        height=240,
        fps=15.0,
        bitrate_kbps=250.0,
        send_bitrate_kbps=200.0,
        frames_decoded=90,
        frames_sent=90,
        freezes=0,
        loss_percent=0.0,
        keyframes_requested=0,
        keyframes_sent=1,
        nacks_sent=0,
        retransmitted=0,
        packets_dropped=0,
    )
    plain = describe(VideoQualityEvent("c1", **figures))  # type: ignore[arg-type]
    assert plain == "video of c1: VP8 320x240 15 fps, 250 kbit/s, 90 frames, 0 freezes, loss 0.0 %"
    full = VideoQualityEvent(
        "c1",
        **figures,  # type: ignore[arg-type]
        encrypted=True,
        target_bitrate_kbps=99.5,
        send_width=320,
        send_height=240,
        send_fps=7,
        av_offset_ms=-12.0,
    )
    assert describe(full) == (
        "video of c1: VP8 320x240 15 fps, 250 kbit/s, 90 frames, 0 freezes, loss 0.0 %, encrypted,"
        " picture -12 ms from its sound; sending 320x240 7 fps at up to 100 kbit/s"
    )


def test_answering_without_video_declines_the_offered_video_with_port_0() -> None:
    uas = Uas(offer=sdp() + VIDEO, config={"video": VideoConfig(), "video_port": 40002})
    effects = uas.m.answer(video=False)
    [ok] = [r for r in (e.response for e in effects if hasattr(e, "response")) if r.status_code == 200]
    answer = parse_sdp(ok.body)
    # RFC 3264 6: the declined stream keeps its place with port 0; the audio is answered as before.
    assert [(m.media, m.port) for m in answer.media] == [("audio", 40000), ("video", 0)]
    starts = of_type(effects, StartMedia) + of_type(effects, UpdateMedia)
    assert starts and all(s.video is None for s in starts if isinstance(s, StartMedia | UpdateMedia))


def test_answering_an_offerless_invite_without_video_offers_no_video() -> None:
    uas = Uas(offer="", config={"video": VideoConfig(), "video_port": 40002})
    effects = uas.m.answer(video=False)
    [ok] = [r for r in (e.response for e in effects if hasattr(e, "response")) if r.status_code == 200]
    assert b"m=video" not in ok.body


def test_a_call_made_without_video_offers_none_and_refuses_the_peers_until_video_on() -> None:
    uac = Uac(video=VideoConfig(), video_port=40002)
    assert b"m=video" in uac.invite.body
    quiet = Uac(video=VideoConfig(), video_port=40002)
    quiet.m.video_declined = True  # what CallManager.dial(video=False) sets before the INVITE
    offer = quiet.m.with_video(parse_sdp(sdp().encode()))
    assert not [m for m in offer.media if m.media == "video"]
    reoffer = parse_sdp((sdp(version=2) + VIDEO).encode())
    answer = quiet.m.answer_with_video(reoffer, parse_sdp((sdp() + "m=video 0 RTP/AVP 96\r\n").encode()))
    assert [(m.media, m.port) for m in answer.media] == [("audio", 42000), ("video", 0)]


def test_cli_camera_source_without_a_camera_says_so_and_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    from softphone.ua import video_cameras

    parser = build_parser()
    base = ["--account", "sip:a@example.com", "--no-audio", "--video", "--srtp", "off"]
    settings = video_for(parser.parse_args([*base, "--video-source", "camera"]))
    assert settings is not None and settings.source == "camera"
    cameras, problem = video_cameras()
    if not cameras:
        assert problem == "no camera found"
        assert "--video-source camera: no camera found; calls send no picture" in capsys.readouterr().err
    settings = video_for(parser.parse_args([*base, "--video-source", "camera:/dev/no-such-camera"]))
    assert settings is not None
    assert "no camera found at /dev/no-such-camera" in capsys.readouterr().err


def test_camera_off_and_on_by_re_invite_keeps_the_stream_and_survives_hold() -> None:
    uac = Uac(video=VideoConfig(), video_port=40002)
    uac.respond(200, body=answer_with_video(uac.invite.body))

    def video_direction(body: bytes) -> tuple[int, str]:
        video = parse_sdp(body).media[1]
        return video.port, video.direction(parse_sdp(body))

    # RFC 3264 8.4: camera off re-offers the video line recvonly; the port stays (the stream is kept).
    effects = uac.m.set_video_send(1, False)
    reinvite = request(effects, "INVITE")
    assert video_direction(reinvite.body) == (40002, "recvonly")
    assert parse_sdp(reinvite.body).media[0].direction(parse_sdp(reinvite.body)) == "sendrecv"
    answer = answer_with_video(uac.invite.body).replace("a=sendrecv\r\n", "a=sendonly\r\n", 1)
    answer = answer.replace("a=sendrecv\r\n", "a=sendonly\r\n")  # the peer answers recvonly with sendonly
    effects = uac.respond(200, body=answer.replace("o=- 7 1", "o=- 7 2"), to=reinvite)
    [update] = of_type(effects, UpdateMedia)
    assert isinstance(update, UpdateMedia) and update.video is not None and update.video.direction == "recvonly"
    # Hold and resume: the camera stays off (resuming makes the audio sendrecv, the video recvonly).
    effects = uac.m.hold(2, True)
    held = request(effects, "INVITE")
    assert video_direction(held.body) == (40002, "inactive")
    held_answer = sdp(direction="recvonly", version=3) + VIDEO.replace("a=sendrecv", "a=inactive")
    uac.respond(200, body=held_answer.replace("96", str(parse_sdp(held.body).media[1].payload_types[0])), to=held)
    effects = uac.m.hold(3, False)
    resumed = request(effects, "INVITE")
    assert video_direction(resumed.body) == (40002, "recvonly")
    assert parse_sdp(resumed.body).media[0].direction(parse_sdp(resumed.body)) == "sendrecv"
    # Camera on again: sendrecv.
    uac.respond(200, body=answer.replace("o=- 7 1", "o=- 7 4"), to=resumed)
    effects = uac.m.set_video_send(4, True)
    assert video_direction(request(effects, "INVITE").body) == (40002, "sendrecv")


def test_camera_choice_holds_for_the_peers_offers_and_for_video_added_later() -> None:
    from softphone.sip.transaction import TimerSettings
    from softphone.sip.transaction_layer import TransactionLayer

    uac = Uac(video=VideoConfig(), video_port=40002)
    uac.respond(200, body=answer_with_video(uac.invite.body))
    reinvite = request(uac.m.set_video_send(1, False), "INVITE")
    uac.respond(200, body=answer_with_video(uac.invite.body).replace("o=- 7 1", "o=- 7 2"), to=reinvite)
    # The peer re-offers video sendrecv (a refresh, another address): our answer stays recvonly.
    theirs = uac.peer_request("INVITE", 2, body=sdp(version=3) + VIDEO)
    tx = TransactionLayer(TimerSettings()).create_server(theirs, 0.0, reliable=False, destination=None)
    effects = uac.m.receive_request(theirs, tx)
    [ok] = [r for r in (e.response for e in effects if hasattr(e, "response")) if r.status_code == 200]
    answer = parse_sdp(ok.body)
    assert answer.media[1].port == 40002 and answer.media[1].direction(answer) == "recvonly"
    # A call whose camera is off offers a new video line recvonly.
    other = Uac(video=VideoConfig(), video_port=40002)
    other.m.video_send = False
    offer = other.m.with_video(parse_sdp(sdp().encode()))
    assert offer.media[1].direction(offer) == "recvonly"


# --- video behind a NAT: ICE of its own ------------------------------------------------------------------

OUR_AUDIO_ICE = IceDescription("AudUf", "audiopasswordaudiopass", local_candidates(("192.0.2.1", 40000)))
OUR_VIDEO_ICE = IceDescription("VidUf", "videopasswordvideopass", local_candidates(("192.0.2.1", 40002)))


def ice_lines(ufrag: str, pwd: str, port: int) -> str:
    return f"a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\na=candidate:1 1 UDP 2130706431 192.0.2.20 {port} typ host\r\n"


def ice_offer(video_ufrag: str = "PeerV", version: int = 1) -> str:
    audio = sdp(version=version) + "a=rtcp-mux\r\n" + ice_lines("PeerA", "peeraudiopasswordpeera", 42000)
    return audio + VIDEO + ice_lines(video_ufrag, "peervideopasswordpeerv", 42002)


def ok_sdp(effects: list[CallEffect]) -> SessionDescription:
    [ok] = [e.response for e in effects if isinstance(e, SendResponse) and e.response.status_code == 200]
    return parse_sdp(ok.body)


def test_an_incoming_ice_offer_is_answered_with_the_videos_own_ice_and_runs_it_controlled() -> None:
    config = {"audio": AudioConfig(ice=OUR_AUDIO_ICE), "video": VideoConfig(ice=OUR_VIDEO_ICE), "video_port": 40002}
    uas = Uas(offer=ice_offer(), config=config)
    effects = uas.m.answer()
    answer = ok_sdp(effects)
    assert offered_ice(answer) == OUR_AUDIO_ICE and offered_ice(answer, "video") == OUR_VIDEO_ICE
    starts = [e for e in effects if isinstance(e, StartMedia | UpdateMedia)]
    video = starts[-1].video
    assert video is not None and video.ice is not None and not video.ice.controlling
    assert (video.ice.local, video.ice.remote.ufrag) == (OUR_VIDEO_ICE, "PeerV")
    # The peer restarts ICE for the video (new credentials on its video line): ours change too, the audio's stay.
    uas.ack()
    effects = uas.send(uas.request("INVITE", 2, body=ice_offer("PeerW", version=2)))
    answer = ok_sdp(effects)
    renewed = offered_ice(answer, "video")
    assert renewed is not None and renewed.ufrag != OUR_VIDEO_ICE.ufrag
    assert renewed.candidates == OUR_VIDEO_ICE.candidates and offered_ice(answer) == OUR_AUDIO_ICE
    [update] = of_type(effects, UpdateMedia)
    assert isinstance(update, UpdateMedia) and update.video is not None and update.video.ice is not None
    assert (update.video.ice.local.ufrag, update.video.ice.remote.ufrag) == (renewed.ufrag, "PeerW")


def test_a_network_change_moves_the_video_line_with_an_ice_restart_of_its_own() -> None:
    """The re-INVITE after a network change moves both lines, each with its own new credentials and candidates;
    a video relayed at another address than the audio's gets a c= line of its own."""
    config = {"audio": AudioConfig(ice=OUR_AUDIO_ICE), "video": VideoConfig(ice=OUR_VIDEO_ICE), "video_port": 40002}
    uac = Uac(**config)
    offer = parse_sdp(uac.invite.body)
    assert offer.media[1].connection is None and offered_ice(offer, "video") == OUR_VIDEO_ICE
    uac.respond(200, body=ice_offer())
    audio_new = IceDescription("NewAu", "newaudiopasswordnewaud", local_candidates(("192.0.2.9", 40010)))
    video_new = IceDescription("NewVi", "newvideopasswordnewvid", local_candidates(("192.0.2.9", 40012)))
    effects = uac.m.move(1, "192.0.2.9", 40010, audio_new, None, ("203.0.113.3", 49170, video_new))
    moved = parse_sdp(request(effects, "INVITE").body)
    assert (moved.media[0].port, moved.media[1].port) == (40010, 49170)
    assert moved.connection_for(moved.media[1]).address == "203.0.113.3"  # type: ignore[union-attr]
    assert offered_ice(moved) == audio_new and offered_ice(moved, "video") == video_new
    assert uac.m.video_port == 49170 and uac.m.video_host == "203.0.113.3"

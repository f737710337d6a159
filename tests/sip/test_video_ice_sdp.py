"""The video m= line behind a NAT: its own address, its own ICE (RFC 8839), and a move after a network change."""

from __future__ import annotations

from softphone.ice.agent import Credentials
from softphone.ice.candidate import IceDescription, local_candidates
from softphone.sip.ice_sdp import moved_offer, offered_ice, remote_ice
from softphone.sip.offer_answer import AudioConfig, create_answer, create_offer, negotiate_answer
from softphone.sip.sdp import SessionDescription, parse_sdp
from softphone.sip.video_offer_answer import VideoConfig, answer_video, negotiated_video, offer_video

AUDIO_CREDS = Credentials("AudUf", "audiopasswordaudiopass")
VIDEO_CREDS = Credentials("VidUf", "videopasswordvideopass")
THEIR_AUDIO = Credentials("ThAud", "theiraudiopasswordxxxx")
THEIR_VIDEO = Credentials("ThVid", "theirvideopasswordxxxx")


def ice(creds: Credentials, host: tuple[str, int], mapped: tuple[str, int] | None = None) -> IceDescription:
    return IceDescription(creds.ufrag, creds.pwd, local_candidates(host, mapped))


OUR_AUDIO = ice(AUDIO_CREDS, ("192.0.2.10", 30000), ("203.0.113.5", 41000))
OUR_VIDEO = ice(VIDEO_CREDS, ("192.0.2.10", 30002), ("203.0.113.5", 41002))


def wire(sd: SessionDescription) -> SessionDescription:
    return parse_sdp(sd.to_bytes())


def offer(
    audio_ice: IceDescription | None = OUR_AUDIO,
    video_ice: IceDescription | None = OUR_VIDEO,
    video_host: str | None = "203.0.113.5",
    video_port: int = 41002,
) -> SessionDescription:
    audio = create_offer(AudioConfig(ice=audio_ice), address="203.0.113.5", port=41000, session_id=1, session_version=1)
    return wire(offer_video(audio, VideoConfig(ice=video_ice), video_port, host=video_host))


def answer(
    offered: SessionDescription,
    audio_ice: IceDescription | None,
    video_ice: IceDescription | None,
    video_host: str | None = None,
) -> SessionDescription:
    sd, media = create_answer(
        offered, AudioConfig(ice=audio_ice), address="198.51.100.7", port=50000, session_id=2, session_version=1
    )
    assert media is not None
    return wire(answer_video(offered, sd, VideoConfig(ice=video_ice), 50002, host=video_host))


THEIRS_AUDIO = ice(THEIR_AUDIO, ("198.51.100.7", 50000))
THEIRS_VIDEO = ice(THEIR_VIDEO, ("198.51.100.7", 50002))


def test_the_video_line_carries_its_own_credentials_and_candidates_with_rtcp_mux() -> None:
    sd = offer()
    audio, video = sd.media
    assert remote_ice(audio, sd) == OUR_AUDIO
    assert remote_ice(video, sd) == OUR_VIDEO
    assert offered_ice(sd, "video") == OUR_VIDEO and offered_ice(sd) == OUR_AUDIO
    assert all(c.component == 1 for c in OUR_VIDEO.candidates) and video.rtcp_mux
    # Both at the session's address: no c= of the video's own; its port is its own mapping's.
    assert video.connection is None and video.port == 41002
    # Without ICE: no ICE attributes.
    plain = offer(None, None, video_host=None, video_port=30002)
    assert not plain.media[1].has_attribute("ice-ufrag") and not plain.media[1].get_attributes("candidate")


def test_a_video_address_other_than_the_sessions_gets_a_c_line_of_its_own() -> None:
    """A relayed video port (its own TURN allocation) or a mapping on another address names it on its line."""
    sd = offer(video_host="203.0.113.3", video_port=49170)
    video = sd.media[1]
    assert video.connection is not None and str(video.connection) == "IN IP4 203.0.113.3"
    assert sd.connection is not None and sd.connection.address == "203.0.113.5"
    assert sd.connection_for(sd.media[0]).address == "203.0.113.5"  # type: ignore[union-attr]
    theirs = answer(sd, THEIRS_AUDIO, THEIRS_VIDEO, video_host="198.51.100.99")
    agreed = negotiated_video(theirs, sd, VideoConfig(ice=THEIRS_VIDEO), ice_controlling=False)
    assert agreed is not None and (agreed.remote_address, agreed.remote_port) == ("203.0.113.3", 49170)
    ours = negotiated_video(sd, theirs, VideoConfig(ice=OUR_VIDEO), ice_controlling=True)
    assert ours is not None and ours.remote_address == "198.51.100.99"


def test_an_ice_offer_is_answered_with_the_videos_own_ice_and_both_agree() -> None:
    sd = offer()
    theirs = answer(sd, THEIRS_AUDIO, THEIRS_VIDEO)
    video = theirs.media[1]
    assert remote_ice(video, theirs) == THEIRS_VIDEO and video.rtcp_mux
    audio = negotiate_answer(sd, theirs, AudioConfig(ice=OUR_AUDIO))
    assert audio is not None and audio.ice is not None and audio.ice.controlling
    ours = negotiated_video(sd, theirs, VideoConfig(ice=OUR_VIDEO), ice_controlling=audio.ice.controlling)
    assert ours is not None and ours.ice is not None
    assert (ours.ice.local, ours.ice.remote, ours.ice.controlling) == (OUR_VIDEO, THEIRS_VIDEO, True)
    # The answerer's view: the same pair of descriptions, the other role.
    answerer = negotiated_video(theirs, sd, VideoConfig(ice=THEIRS_VIDEO), ice_controlling=False)
    assert answerer is not None and answerer.ice is not None
    assert (answerer.ice.local, answerer.ice.remote, answerer.ice.controlling) == (THEIRS_VIDEO, OUR_VIDEO, False)
    # A call without ICE (the audio agreed none) runs no ICE for the video.
    assert negotiated_video(sd, theirs, VideoConfig(ice=OUR_VIDEO)) is not None
    assert negotiated_video(sd, theirs, VideoConfig(ice=OUR_VIDEO)).ice is None  # type: ignore[union-attr]


def test_an_offer_without_video_ice_is_answered_without_it() -> None:
    """RFC 8839 4.2.2: only an offer with ICE is answered with ICE, line by line."""
    sd = offer(video_ice=None, video_host=None, video_port=30002)
    theirs = answer(sd, THEIRS_AUDIO, THEIRS_VIDEO)
    assert not theirs.media[1].has_attribute("ice-ufrag") and not theirs.media[1].get_attributes("candidate")
    assert theirs.media[0].has_attribute("ice-ufrag")  # the audio still answers with ICE
    agreed = negotiated_video(sd, theirs, VideoConfig(), ice_controlling=True)
    assert agreed is not None and agreed.ice is None and agreed.remote_port == 50002


def test_a_peer_without_ice_on_its_video_line_gets_plain_video() -> None:
    """The peer answers the audio with ICE but the video without (no candidates; session-level credentials
    alone do not make ICE for a line without candidates): the video goes to its c= and port, latching."""
    sd = offer()
    theirs = answer(sd, THEIRS_AUDIO, None)
    assert not theirs.media[1].get_attributes("candidate")
    agreed = negotiated_video(sd, theirs, VideoConfig(ice=OUR_VIDEO), ice_controlling=True)
    assert agreed is not None and agreed.ice is None
    session_level = parse_sdp(
        theirs.to_bytes().replace(b"t=0 0\r\n", b"t=0 0\r\na=ice-ufrag:SessU\r\na=ice-pwd:sessionpasswordsession\r\n")
    )
    agreed = negotiated_video(sd, session_level, VideoConfig(ice=OUR_VIDEO), ice_controlling=True)
    assert agreed is not None and agreed.ice is None


def test_session_level_credentials_serve_a_video_line_with_candidates() -> None:
    """RFC 8839 5.4: ice-ufrag and ice-pwd at the session level apply to every line that has none of its own."""
    sd = offer()
    theirs = answer(sd, THEIRS_AUDIO, THEIRS_VIDEO)
    text = theirs.to_bytes().decode()
    text = text.replace(f"a=ice-ufrag:{THEIR_VIDEO.ufrag}\r\n", "").replace(f"a=ice-pwd:{THEIR_VIDEO.pwd}\r\n", "")
    text = text.replace(f"a=ice-ufrag:{THEIR_AUDIO.ufrag}\r\n", "").replace(f"a=ice-pwd:{THEIR_AUDIO.pwd}\r\n", "")
    text = text.replace("t=0 0\r\n", f"t=0 0\r\na=ice-ufrag:{THEIR_AUDIO.ufrag}\r\na=ice-pwd:{THEIR_AUDIO.pwd}\r\n")
    shared = parse_sdp(text.encode())
    agreed = negotiated_video(sd, shared, VideoConfig(ice=OUR_VIDEO), ice_controlling=True)
    assert agreed is not None and agreed.ice is not None
    assert (agreed.ice.remote.ufrag, agreed.ice.remote.candidates) == (THEIR_AUDIO.ufrag, THEIRS_VIDEO.candidates)


def test_the_offer_after_a_network_change_moves_and_restarts_the_video_too() -> None:
    previous = offer()
    audio_new = ice(Credentials("NewAu", "newaudiopasswordnewaud"), ("192.0.2.20", 30010), ("203.0.113.9", 42000))
    video_new = ice(Credentials("NewVi", "newvideopasswordnewvid"), ("192.0.2.20", 30012), ("203.0.113.9", 42002))
    moved = wire(moved_offer(previous, "203.0.113.9", 42000, audio_new, video=("203.0.113.9", 42002, video_new)))
    audio, video = moved.media
    assert (audio.port, video.port) == (42000, 42002)
    assert moved.connection_for(video).address == "203.0.113.9"  # type: ignore[union-attr]
    assert moved.connection_for(audio).address == "203.0.113.9"  # type: ignore[union-attr]
    assert offered_ice(moved) == audio_new and offered_ice(moved, "video") == video_new
    assert len(video.get_attributes("ice-ufrag")) == 1 and len(video.get_attributes("candidate")) == 2
    assert video.payload_types == previous.media[1].payload_types and video.rtcp_mux
    # A relayed video moves to its new relay's address, on a c= of its own.
    relayed = wire(moved_offer(previous, "203.0.113.9", 42000, audio_new, video=("203.0.113.3", 49200, None)))
    assert relayed.connection_for(relayed.media[1]).address == "203.0.113.3"  # type: ignore[union-attr]
    assert offered_ice(relayed, "video") is None and relayed.media[1].port == 49200
    # Without a video move only the audio's line changes.
    kept = wire(moved_offer(previous, "203.0.113.9", 42000, audio_new))
    assert kept.media[1].port == 41002 and offered_ice(kept, "video") == OUR_VIDEO
    assert kept.connection_for(kept.media[1]).address == "203.0.113.5"  # type: ignore[union-attr]


def test_video_ice_is_answered_only_beside_audio_ice() -> None:
    """A peer that offers ICE on its video line but not on its audio: the call runs no ICE, so neither line is
    answered with it (negotiated_video then runs none either)."""
    sd = offer(audio_ice=None)
    theirs = answer(sd, THEIRS_AUDIO, THEIRS_VIDEO)
    assert not theirs.media[0].has_attribute("ice-ufrag") and not theirs.media[1].has_attribute("ice-ufrag")

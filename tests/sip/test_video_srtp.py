"""The video m= line keyed as the audio one: SDES lines with keys of their own (RFC 4568), DTLS-SRTP with the
same certificate and the audio's role (RFC 5763), never clear video beside encrypted audio."""

from __future__ import annotations

import pytest

from softphone.sip.offer_answer import AudioConfig, create_answer, create_offer, negotiate_answer
from softphone.sip.sdp import SessionDescription, parse_sdp
from softphone.sip.srtp_offer_answer import crypto_lines
from softphone.sip.srtp_sdp import Fingerprint, SrtpConfig
from softphone.sip.video_offer_answer import VideoConfig, answer_video, negotiated_video, offer_video

OURS = Fingerprint("sha-256", ":".join(["AB"] * 32))
THEIRS = Fingerprint("sha-256", ":".join(["CD"] * 32))


def srtp(policy: str = "mandatory", keys: str = "sdes", fingerprint: Fingerprint = OURS) -> SrtpConfig:
    return SrtpConfig(policy, keys, secure_signalling=True, fingerprint=fingerprint)  # type: ignore[arg-type]


def wire(sd: SessionDescription) -> SessionDescription:
    return parse_sdp(sd.to_bytes())


def offer(policy: SrtpConfig) -> SessionDescription:
    audio = create_offer(AudioConfig(srtp=policy), address="192.0.2.1", port=30000, session_id=1, session_version=1)
    return wire(offer_video(audio, VideoConfig(), 30002, policy))


def answer(offered: SessionDescription, policy: SrtpConfig) -> SessionDescription:
    sd, media = create_answer(
        offered, AudioConfig(srtp=policy), address="192.0.2.2", port=40000, session_id=2, session_version=1
    )
    assert media is not None
    return wire(answer_video(offered, sd, VideoConfig(), 40002, "sendrecv", policy))


def test_sdes_video_line_has_keys_of_its_own_and_both_sides_agree_on_them() -> None:
    ours, theirs = srtp(), srtp(fingerprint=THEIRS)
    sent = offer(ours)
    audio, video = sent.media
    assert audio.proto == video.proto == "RTP/SAVP"
    audio_keys = {line.key_salt for line in crypto_lines(audio)[0]}
    video_lines = crypto_lines(video)[0]
    assert [line.suite for line in video_lines] == [line.suite for line in crypto_lines(audio)[0]]
    assert not audio_keys & {line.key_salt for line in video_lines}
    got = answer(sent, theirs)
    assert got.media[1].port == 40002 and len(crypto_lines(got.media[1])[0]) == 1
    assert negotiate_answer(sent, got, AudioConfig(srtp=ours)) is not None
    mine = negotiated_video(sent, got, VideoConfig(), ours)
    peer = negotiated_video(got, sent, VideoConfig(), theirs)
    assert mine is not None and peer is not None
    assert mine.crypto is not None and peer.crypto is not None
    assert mine.crypto.key_exchange == "sdes" and mine.crypto.suite == peer.crypto.suite
    assert (mine.crypto.local_key, mine.crypto.remote_key) == (peer.crypto.remote_key, peer.crypto.local_key)
    assert mine.crypto.local_key != mine.crypto.remote_key


@pytest.mark.parametrize("policy", ["optional", "mandatory"])
def test_dtls_video_takes_the_audio_role_and_the_peer_fingerprint(policy: str) -> None:
    ours, theirs = srtp(policy, "dtls"), srtp(policy, "dtls", THEIRS)
    sent = offer(ours)
    video = sent.media[1]
    assert video.proto == ("UDP/TLS/RTP/SAVP" if policy == "mandatory" else "RTP/AVP")
    assert video.get_attribute("setup").value == "actpass"  # type: ignore[union-attr]
    got = answer(sent, theirs)
    assert got.media[1].port == 40002
    assert got.media[1].get_attribute("setup").value == got.media[0].get_attribute("setup").value == "active"  # type: ignore[union-attr]
    mine = negotiated_video(sent, got, VideoConfig(), ours)
    peer = negotiated_video(got, sent, VideoConfig(), theirs)
    assert mine is not None and peer is not None and mine.crypto is not None and peer.crypto is not None
    assert (mine.crypto.dtls_role, peer.crypto.dtls_role) == ("passive", "active")
    assert mine.crypto.remote_fingerprint == THEIRS and peer.crypto.remote_fingerprint == OURS


def test_plain_video_beside_encrypted_audio_is_declined() -> None:
    """A peer offering SDES for the audio and a plain video line: the video is not taken."""
    keyed = offer(srtp("optional"))
    text = keyed.to_bytes().decode()
    head, video = text.split("m=video", 1)
    plain = head + "m=video" + "\r\n".join(line for line in video.split("\r\n") if not line.startswith("a=crypto"))
    got = answer(parse_sdp(plain.encode()), srtp("optional", fingerprint=THEIRS))
    assert got.media[0].port == 40000 and got.media[0].has_attribute("crypto")
    assert got.media[1].port == 0


def test_video_answered_without_keys_is_not_used_beside_encrypted_audio() -> None:
    ours = srtp("optional")
    sent = offer(ours)
    got = answer(sent, srtp("optional", fingerprint=THEIRS))
    text = got.to_bytes().decode()
    head, video = text.split("m=video", 1)
    stripped = parse_sdp(
        (head + "m=video" + "\r\n".join(x for x in video.split("\r\n") if not x.startswith("a=crypto"))).encode()
    )
    assert negotiated_video(sent, got, VideoConfig(), ours) is not None
    assert negotiated_video(sent, stripped, VideoConfig(), ours) is None


def test_video_answer_naming_a_tag_we_did_not_offer_is_not_used() -> None:
    ours = srtp()
    sent = offer(ours)
    got = answer(sent, srtp(fingerprint=THEIRS)).to_bytes().decode()
    video_at = got.index("m=video")
    forged = got[:video_at] + got[video_at:].replace("a=crypto:1 ", "a=crypto:9 ")
    assert negotiated_video(sent, parse_sdp(forged.encode()), VideoConfig(), ours) is None


def test_broken_keys_on_the_video_line_decline_the_video_only() -> None:
    sent = offer(srtp()).to_bytes().decode()
    video_at = sent.index("m=video")
    broken = sent[:video_at] + sent[video_at:].replace("inline:", "inline:!!")
    got = answer(parse_sdp(broken.encode()), srtp(fingerprint=THEIRS))
    assert got.media[0].port == 40000 and got.media[1].port == 0


def test_srtp_off_takes_keyed_plain_profile_video_plain_and_declines_savp() -> None:
    keyed = offer(srtp("optional"))  # keys inside RTP/AVP: the audio is taken plain
    sd, media = create_answer(keyed, AudioConfig(), address="192.0.2.2", port=40000, session_id=2, session_version=1)
    assert media is not None and media.crypto is None
    got = answer_video(keyed, sd, VideoConfig(), 40002, "sendrecv", SrtpConfig())
    video = got.media[1]
    assert video.port == 40002 and not video.has_attribute("crypto")
    assert negotiated_video(got, keyed, VideoConfig(), SrtpConfig()) is not None
    savp = offer(srtp("mandatory"))
    sd, media = create_answer(savp, AudioConfig(), address="192.0.2.2", port=40000, session_id=2, session_version=1)
    assert media is None and answer_video(savp, sd, VideoConfig(), 40002, "sendrecv", SrtpConfig()).media[1].port == 0


def test_plain_call_keeps_plain_video() -> None:
    sent = offer(SrtpConfig())
    got = answer(sent, SrtpConfig())
    video = negotiated_video(sent, got, VideoConfig(), SrtpConfig())
    assert video is not None and video.crypto is None and sent.media[1].proto == "RTP/AVP"


def test_the_peers_bandwidth_line_is_our_maximum() -> None:
    sent = offer(SrtpConfig())
    got = answer(sent, SrtpConfig())
    assert negotiated_video(sent, got, VideoConfig()).max_bitrate is None  # type: ignore[union-attr]
    text = got.to_bytes().decode()
    at = text.index("\r\n", text.index("m=video")) + 2
    with_as = parse_sdp((text[:at] + "b=AS:128\r\n" + text[at:]).encode())
    assert negotiated_video(sent, with_as, VideoConfig()).max_bitrate == 128_000  # type: ignore[union-attr]
    with_tias = parse_sdp((text[:at] + "b=AS:128\r\nb=TIAS:96000\r\n" + text[at:]).encode())
    assert negotiated_video(sent, with_tias, VideoConfig()).max_bitrate == 96_000  # type: ignore[union-attr]

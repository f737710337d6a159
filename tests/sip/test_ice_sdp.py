"""ICE in offer/answer (RFC 8839): what our SDP carries, and what a peer's gives the media engine."""

from __future__ import annotations

from softphone.ice.agent import Credentials
from softphone.ice.candidate import IceDescription, local_candidates
from softphone.sip.ice_sdp import MAX_CANDIDATE_LINES, moved_offer, offered_ice, remote_ice
from softphone.sip.offer_answer import AudioConfig, negotiate_answer
from softphone.sip.sdp import Attribute, SessionDescription
from tests.sip.test_offer_answer import answer_to, g711_offer, our_offer, sdp

CREDS = Credentials("Ufr4g", "p4ssw0rdp4ssw0rdp4ssw0rd")
OURS = IceDescription(CREDS.ufrag, CREDS.pwd, local_candidates(("192.0.2.10", 30000), ("203.0.113.5", 41000)))
WITH_ICE = AudioConfig(ice=OURS)


def peer_offer(*extra: str) -> SessionDescription:
    return g711_offer(
        "a=ice-ufrag:PeerUfrag",
        "a=ice-pwd:PeerPasswordPeerPassword1",
        "a=candidate:1 1 UDP 2130706431 198.51.100.7 4000 typ host",
        "a=candidate:2 1 UDP 1694498815 203.0.113.70 4500 typ srflx raddr 198.51.100.7 rport 4000",
        "a=candidate:3 2 UDP 2130706430 198.51.100.7 4001 typ host",
        "a=rtcp-mux",
        *extra,
    )


def test_our_offer_carries_credentials_candidates_and_rtcp_mux() -> None:
    offer = our_offer(WITH_ICE)
    media = offer.media[0]
    assert media.get_attribute("ice-ufrag").value == CREDS.ufrag  # type: ignore[union-attr]
    assert media.get_attribute("ice-pwd").value == CREDS.pwd  # type: ignore[union-attr]
    lines = [a.value for a in media.get_attributes("candidate")]
    assert lines == [c.sdp() for c in OURS.candidates] and len(lines) == 2
    assert media.rtcp_mux
    assert not our_offer().media[0].has_attribute("ice-ufrag")


def test_an_ice_offer_is_answered_with_ice_and_we_are_controlled() -> None:
    answer, media = answer_to(peer_offer(), WITH_ICE)
    assert media is not None and media.ice is not None and media.rtcp_mux
    assert media.ice.controlling is False and media.ice.local == OURS
    remote = media.ice.remote
    assert (remote.ufrag, remote.pwd) == ("PeerUfrag", "PeerPasswordPeerPassword1")
    assert [c.address for c in remote.candidates] == [
        ("198.51.100.7", 4000),
        ("203.0.113.70", 4500),
        ("198.51.100.7", 4001),
    ]
    assert answer.media[0].get_attribute("ice-ufrag") is not None


def test_an_offer_without_ice_is_answered_without_it() -> None:
    answer, media = answer_to(g711_offer(), WITH_ICE)
    assert media is not None and media.ice is None
    assert not answer.media[0].has_attribute("ice-ufrag") and not answer.media[0].get_attributes("candidate")


def test_a_lite_offerer_leaves_us_controlling() -> None:
    offer = peer_offer()
    offer.attributes.append(Attribute("ice-lite"))
    _, media = answer_to(offer, WITH_ICE)
    assert media is not None and media.ice is not None and media.ice.remote.lite and media.ice.controlling


def test_the_answer_to_our_offer_makes_us_controlling() -> None:
    offer = our_offer(WITH_ICE)
    answer, _ = answer_to(offer, AudioConfig(ice=IceDescription("Other", "OtherPasswordOtherPass", ())))
    media = negotiate_answer(offer, answer, WITH_ICE)
    assert media is not None and media.ice is not None and media.ice.controlling
    assert media.ice.remote.ufrag == "Other" and media.rtcp_mux


def test_bad_credentials_mismatch_and_bad_lines_mean_no_ice_or_a_skipped_line() -> None:
    base = ["v=0", "o=- 1 1 IN IP4 198.51.100.7", "s=-", "c=IN IP4 198.51.100.7", "t=0 0", "m=audio 4000 RTP/AVP 0"]
    short_pwd = sdp(*base, "a=ice-ufrag:abcd", "a=ice-pwd:tooshort")
    assert remote_ice(short_pwd.media[0], short_pwd) is None
    bad_chars = sdp(*base, "a=ice-ufrag:ab;d", "a=ice-pwd:" + "x" * 22)
    assert remote_ice(bad_chars.media[0], bad_chars) is None
    mismatch = sdp(*base, "a=ice-ufrag:abcd", "a=ice-pwd:" + "x" * 22, "a=ice-mismatch")
    assert remote_ice(mismatch.media[0], mismatch) is None
    # Session-level credentials (RFC 8839 5.4); unusable candidate lines are skipped, the rest kept.
    lines = [
        "a=candidate:1 1 TCP 2130706431 198.51.100.7 9 typ host tcptype active",
        "a=candidate:2 1 UDP 2130706431 peer.local 4000 typ host",
        "a=candidate:3 1 UDP 2130706431 198.51.100.7 4000 typ host",
        *(f"a=candidate:{n} 1 UDP {n} 198.51.100.8 {5000 + n} typ host" for n in range(10, 100)),
    ]
    many = sdp(*base[:5], "a=ice-ufrag:abcd", "a=ice-pwd:" + "x" * 22, base[5], *lines)
    ice = remote_ice(many.media[0], many)
    assert ice is not None and ice.ufrag == "abcd"
    assert ice.candidates[0].address == ("198.51.100.7", 4000)
    assert len(ice.candidates) == MAX_CANDIDATE_LINES - 2


def test_the_offer_after_our_network_moved_restarts_ice_at_the_new_address() -> None:
    """RFC 8445 9 / RFC 8839: new ufrag, pwd and candidates replace the old ones; the m= port and c= follow the
    new default candidate; nothing else of the stream changes."""
    previous = our_offer(WITH_ICE)
    fresh = Credentials("N3wUf", "n3wpassw0rdn3wpassw0rd00")
    moved = IceDescription(fresh.ufrag, fresh.pwd, local_candidates(("192.0.2.10", 30000), ("203.0.113.9", 41000)))
    offer = sdp(moved_offer(previous, "203.0.113.9", 41000, moved).to_bytes().decode())
    media = offer.media[0]
    assert media.port == 41000 and offer.connection_for(media).address == "203.0.113.9"  # type: ignore[union-attr]
    assert offered_ice(offer) == IceDescription(fresh.ufrag, fresh.pwd, moved.candidates)
    assert len(media.get_attributes("ice-ufrag")) == 1 and len(media.get_attributes("candidate")) == 2
    assert media.payload_types == previous.media[0].payload_types and media.rtcp_mux
    assert offer.origin.address == "203.0.113.9" and offered_ice(previous) is not None
    # Without ICE only the address moves.
    plain = moved_offer(our_offer(), "203.0.113.9", 41000, None)
    assert plain.media[0].port == 41000 and offered_ice(plain) is None


def test_offered_ice_reads_the_first_active_audio_stream() -> None:
    assert offered_ice(peer_offer()) == remote_ice(peer_offer().media[0], peer_offer())
    assert offered_ice(g711_offer()) is None

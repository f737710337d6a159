"""Two video sessions on loopback keyed by SDES or DTLS-SRTP: frames arrive in order, nothing forged is decoded."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from softphone.media.dtls import new_identity
from softphone.media.errors import MediaError
from softphone.media.events import EncryptionFailed
from softphone.media.rtp import RtpPacket
from softphone.media.srtp import SrtpTransform
from softphone.media.video import VideoSession
from softphone.media.video_sources import PatternSource
from softphone.sip.srtp_sdp import Fingerprint, MediaCrypto
from tests.media.test_video_session import Watch, bound, params, wait_for
from tests.video_check import PSNR_THRESHOLD_DB

SUITE = "AES_CM_128_HMAC_SHA1_80"
KEY_A, KEY_B = os.urandom(30), os.urandom(30)


def sdes(local: bytes, remote: bytes) -> MediaCrypto:
    return MediaCrypto("sdes", SUITE, suites=(SUITE,), local_key=local, remote_key=remote)


Pair = Callable[..., tuple[VideoSession, VideoSession, Watch]]


@pytest.fixture
def pair() -> Iterator[Pair]:
    sessions: list[VideoSession] = []

    def make(
        a_crypto: MediaCrypto, b_crypto: MediaCrypto, **b_options: object
    ) -> tuple[VideoSession, VideoSession, Watch]:
        a_sock, b_sock = bound(), bound()
        watch = Watch()
        a = VideoSession(
            a_sock,
            replace(params(b_sock.getsockname()[1]), crypto=a_crypto),
            PatternSource(320, 240),
            fps=15,
            dtls_identity=b_options.pop("a_identity", None),  # type: ignore[arg-type]
        )
        b = VideoSession(
            b_sock,
            replace(params(a_sock.getsockname()[1]), crypto=b_crypto),
            None,
            fps=15,
            on_frame=watch.frame,
            on_quality=watch.quality,
            **b_options,  # type: ignore[arg-type]
        )
        sessions.extend([a, b])
        a.start()
        b.start()
        return a, b, watch

    yield make
    for session in sessions:
        session.stop()


def test_sdes_video_arrives_in_order_and_forged_packets_are_counted_never_decoded(pair: Pair) -> None:
    a, b, watch = pair(sdes(KEY_A, KEY_B), sdes(KEY_B, KEY_A))
    wait_for(lambda: len(watch.received.counters) >= 20)
    target = b.local_address
    ssrc = a._sender.ssrc
    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = SrtpTransform(SUITE, KEY_A, KEY_B)
    refused = b._protection.dropped if b._protection is not None else {}
    try:
        for n in range(100):
            header = RtpPacket(96, 60000 + n, n * 6000, ssrc, os.urandom(200), marker=True).to_bytes()
            # A plain VP8-looking packet, random bytes after a good header, and one protected with the right key
            # whose ciphertext was changed on the way.
            attacker.sendto(header, target)
            attacker.sendto(header[:12] + os.urandom(210), target)
            protected = bytearray(sender.protect(header))
            protected[20] ^= 0x01
            attacker.sendto(bytes(protected), target)
            if n % 10 == 9:  # in batches a loopback socket's buffer holds
                wait_for(lambda n=n: sum(refused.values()) >= 3 * (n + 1))  # type: ignore[misc]
    finally:
        attacker.close()
    before = len(watch.received.counters)
    wait_for(lambda: len(watch.received.counters) >= before + 20)
    quality = b.quality()
    assert quality.encrypted and quality.srtp_dropped >= 300, quality
    # libsrtp checks the replay window before the tag: a forged sequence number far behind reads as a replay.
    assert (
        b._protection is not None and b._protection.dropped["srtp_auth"] + b._protection.dropped["srtp_replay"] >= 300
    )
    assert b._decoder.errors == 0 and b._assembler.packets_malformed == 0
    got = watch.received
    assert got.in_order and got.unreadable == 0 and min(got.psnrs) >= PSNR_THRESHOLD_DB


def test_wrong_key_shows_nothing(pair: Pair) -> None:
    _, b, watch = pair(sdes(KEY_A, KEY_B), sdes(KEY_B, os.urandom(30)))
    wait_for(lambda: b._protection is not None and b._protection.dropped["srtp_auth"] >= 30)
    assert b.frames_decoded == 0 and not watch.received.counters


def test_dtls_keys_the_video_and_it_arrives_in_order(pair: Pair) -> None:
    ours, theirs = new_identity(), new_identity()

    def dtls(role: str, peer: str) -> MediaCrypto:
        return MediaCrypto(
            "dtls",
            None,
            suites=(SUITE,),
            dtls_role=role,
            remote_fingerprint=Fingerprint("sha-256", peer),  # type: ignore[arg-type]
        )

    _, b, watch = pair(
        dtls("active", theirs.fingerprint), dtls("passive", ours.fingerprint), a_identity=ours, dtls_identity=theirs
    )
    wait_for(lambda: len(watch.received.counters) >= 30)
    quality = b.quality()
    # The first packets a sent as soon as its side of the handshake was through may come before b has its keys.
    assert quality.encrypted and quality.srtp_dropped <= 3
    assert watch.received.in_order and min(watch.received.psnrs) >= PSNR_THRESHOLD_DB


def test_a_plain_re_offer_cannot_turn_encryption_off(pair: Pair, tmp_path: Path) -> None:
    a, _, _ = pair(sdes(KEY_A, KEY_B), sdes(KEY_B, KEY_A))
    with pytest.raises(MediaError, match="encrypted"):
        a.update(replace(a._params, crypto=None))  # type: ignore[arg-type]
    plain = VideoSession(bound(), params(9), None)
    try:
        with pytest.raises(MediaError, match="plain RTP"):
            plain.update(replace(params(9), crypto=sdes(KEY_A, KEY_B)))
    finally:
        plain.stop()


def test_dtls_peer_with_another_certificate_gets_no_video_and_nothing_leaves_in_clear(pair: Pair) -> None:
    """The peer's certificate is not the one its SDP's fingerprint named: b's handshake fails and says so, b
    takes no keys, and what a sends (under keys b never agreed to) is refused, never decoded."""
    ours, theirs, impostor = new_identity(), new_identity(), new_identity()
    events: list[object] = []

    def dtls(role: str, peer: str) -> MediaCrypto:
        fingerprint = Fingerprint("sha-256", peer)
        return MediaCrypto("dtls", None, suites=(SUITE,), dtls_role=role, remote_fingerprint=fingerprint)  # type: ignore[arg-type]

    _, b, watch = pair(
        dtls("active", theirs.fingerprint),
        dtls("passive", ours.fingerprint),
        a_identity=impostor,  # a shows a certificate b was not told of
        dtls_identity=theirs,
        on_event=events.append,
    )
    wait_for(lambda: any(isinstance(e, EncryptionFailed) for e in events))
    assert b._protection is not None
    protection = b._protection
    wait_for(lambda: protection.dropped["srtp_not_ready"] > 10)
    assert not b.quality().encrypted and protection.protected == 0
    assert b.frames_decoded == 0 and not watch.received.counters

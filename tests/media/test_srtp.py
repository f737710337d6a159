"""SRTP in the media engine: SDES keys and DTLS-SRTP handshakes between two sessions on loopback."""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections.abc import Iterator

import pytest

from softphone.media.dtls import DtlsSrtp, load_or_create_identity, new_identity
from softphone.media.engine import ArraySink, EncryptionFailed, EncryptionReady, MediaEvent, MediaSession, ToneSource
from softphone.media.errors import MediaError
from softphone.media.rtp import RtpPacket
from softphone.media.srtp import SrtpTransform, is_dtls
from softphone.sip.offer_answer import pcmu_codec
from softphone.sip.srtp_sdp import SUITES, MediaCrypto, parse_fingerprint
from tests.media.test_engine import Side, dominant_frequency, even_socket, hears, negotiated, wait_until

SUITE_NAMES = list(SUITES)


def sdes_pair(suite: str) -> tuple[MediaCrypto, MediaCrypto]:
    length = SUITES[suite].key_salt_length
    key_a, key_b = os.urandom(length), os.urandom(length)
    return (
        MediaCrypto("sdes", suite, (suite,), local_key=key_a, remote_key=key_b),
        MediaCrypto("sdes", suite, (suite,), local_key=key_b, remote_key=key_a),
    )


def dtls_pair(suites: tuple[str, ...] = tuple(SUITES), *, wrong_fingerprint: bool = False):  # type: ignore[no-untyped-def]
    id_a, id_b = new_identity(), new_identity()
    fp_a = parse_fingerprint("sha-256 " + id_a.fingerprint)
    fp_b = parse_fingerprint("sha-256 " + (new_identity() if wrong_fingerprint else id_b).fingerprint)
    return (
        (MediaCrypto("dtls", None, suites, dtls_role="passive", remote_fingerprint=fp_b), id_a),
        (MediaCrypto("dtls", None, suites, dtls_role="active", remote_fingerprint=fp_a), id_b),
    )


@pytest.fixture
def sessions() -> Iterator[list[MediaSession]]:
    made: list[MediaSession] = []
    yield made
    for session in made:
        session.stop()


def pair(sessions: list[MediaSession], crypto_a, crypto_b, *, id_a=None, id_b=None, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    sock_a, sock_b = even_socket(), even_socket()
    addr_a, addr_b = sock_a.getsockname(), sock_b.getsockname()
    sides = []
    for sock, tone, remote, crypto, identity in (
        (sock_a, 1000.0, addr_b, crypto_a, id_a),
        (sock_b, 600.0, addr_a, crypto_b, id_b),
    ):
        sink = ArraySink()
        events: list[MediaEvent] = []
        session = MediaSession(
            sock,
            negotiated(pcmu_codec(), remote, rtcp_mux=True),
            ToneSource(tone),
            sink,
            on_event=events.append,
            rtcp_min_interval=0.2,
            crypto=crypto,
            dtls_identity=identity,
            dtls_timeout=timeout,
        )
        sessions.append(session)
        sides.append(Side(session, sink, events))
    for side in sides:
        side.session.start()
    return sides[0], sides[1], addr_a, addr_b


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_sdes_keys_carry_tones_both_ways(suite: str, sessions: list[MediaSession]) -> None:
    crypto_a, crypto_b = sdes_pair(suite)
    a, b, _, _ = pair(sessions, crypto_a, crypto_b)
    assert wait_until(lambda: hears(a, 600.0) and hears(b, 1000.0), 5.0), dominant_frequency(b.sink.samples(19200))
    stats = b.session.stats()
    assert stats.encryption is not None and stats.encryption.suite == suite and stats.encryption.ready
    assert stats.extra["srtp_unprotected"] > 20
    assert stats.dropped["srtp_auth"] == 0


def test_wrong_key_is_never_heard(sessions: list[MediaSession]) -> None:
    crypto_a, crypto_b = sdes_pair("AES_CM_128_HMAC_SHA1_80")
    wrong = dataclasses.replace(crypto_b, remote_key=os.urandom(30))
    a, b, _, _ = pair(sessions, crypto_a, wrong)
    assert wait_until(lambda: b.session.stats().dropped["srtp_auth"] > 20, 5.0)
    assert b.session.stats().packets_received == 0
    assert not hears(b, 1000.0)
    assert wait_until(lambda: hears(a, 600.0), 5.0)  # the other way still works


def test_plain_forged_and_replayed_packets_are_dropped_and_counted(sessions: list[MediaSession]) -> None:
    crypto_a, crypto_b = sdes_pair("AEAD_AES_128_GCM")
    a, b, _addr_a, addr_b = pair(sessions, crypto_a, crypto_b)
    assert wait_until(lambda: hears(b, 1000.0), 5.0)
    a.session.stop()  # from now on only what the test sends reaches b
    received = b.session.stats().packets_received
    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        plain = RtpPacket(0, 40000, 1_000_000, 0x1234, payload=b"\xff" * 160).to_bytes()
        forger = SrtpTransform("AEAD_AES_128_GCM", os.urandom(28), os.urandom(28))
        valid = SrtpTransform("AEAD_AES_128_GCM", crypto_a.local_key, crypto_a.remote_key)
        genuine = valid.protect(RtpPacket(0, 50000, 2_000_000, 0x4321, payload=b"\x01" * 160).to_bytes())
        attacker.sendto(plain, addr_b)
        attacker.sendto(forger.protect(plain), addr_b)
        attacker.sendto(genuine, addr_b)
        attacker.sendto(genuine, addr_b)  # the same packet again: a replay
        assert wait_until(lambda: b.session.stats().dropped["srtp_replay"] >= 1, 5.0)
        dropped = b.session.stats().dropped
        assert dropped["srtp_auth"] >= 2
        assert dropped["srtp_replay"] == 1
        # The one genuine packet came from the wrong address: refused after decryption, never played.
        assert b.session.stats().packets_received == received
    finally:
        attacker.close()


def test_new_sdes_keys_mid_call(sessions: list[MediaSession]) -> None:
    crypto_a, crypto_b = sdes_pair("AES_CM_128_HMAC_SHA1_32")
    a, b, addr_a, addr_b = pair(sessions, crypto_a, crypto_b)
    assert wait_until(lambda: hears(b, 1000.0) and hears(a, 600.0), 5.0)
    new_a, new_b = sdes_pair("AEAD_AES_256_GCM")
    a.session.update(negotiated(pcmu_codec(), addr_b, rtcp_mux=True), new_a)
    b.session.update(negotiated(pcmu_codec(), addr_a, rtcp_mux=True), new_b)
    assert wait_until(lambda: b.session.stats().encryption.suite == "AEAD_AES_256_GCM", 5.0)  # type: ignore[union-attr]
    before = b.session.stats().extra["srtp_unprotected"]
    assert wait_until(lambda: b.session.stats().extra["srtp_unprotected"] > before + 25, 5.0)
    assert wait_until(lambda: hears(b, 1000.0) and hears(a, 600.0), 5.0)


def test_plain_update_cannot_turn_encryption_off(sessions: list[MediaSession]) -> None:
    crypto_a, crypto_b = sdes_pair("AES_CM_128_HMAC_SHA1_80")
    a, _, _, addr_b = pair(sessions, crypto_a, crypto_b)
    with pytest.raises(MediaError, match="encrypted"):
        a.session.update(negotiated(pcmu_codec(), addr_b, rtcp_mux=True))
    short = dataclasses.replace(crypto_a, local_key=b"short")
    with pytest.raises(MediaError, match="keys must be 30 bytes"):
        a.session.update(negotiated(pcmu_codec(), addr_b, rtcp_mux=True), short)
    with pytest.raises(MediaError, match="unknown SRTP suite"):
        MediaSession(
            even_socket(),
            negotiated(pcmu_codec(), addr_b),
            ToneSource(),
            ArraySink(),
            crypto=dataclasses.replace(crypto_a, suite="NULL"),
        )


@pytest.mark.parametrize("suites", [tuple(SUITES), ("AES_CM_128_HMAC_SHA1_80",), ("AEAD_AES_128_GCM",)])
def test_dtls_handshake_keys_srtp(suites: tuple[str, ...], sessions: list[MediaSession]) -> None:
    (crypto_a, id_a), (crypto_b, id_b) = dtls_pair(suites)
    a, b, _, _ = pair(sessions, crypto_a, crypto_b, id_a=id_a, id_b=id_b)
    assert wait_until(lambda: hears(a, 600.0) and hears(b, 1000.0), 8.0)
    ready = [e for e in a.events if isinstance(e, EncryptionReady)]
    assert ready and ready[0].suite == suites[0] and ready[0].verified and ready[0].key_exchange == "dtls"
    assert b.session.encryption is not None and b.session.encryption.verified


def test_dtls_fingerprint_mismatch_fails_the_media(sessions: list[MediaSession]) -> None:
    (crypto_a, id_a), (crypto_b, id_b) = dtls_pair(wrong_fingerprint=True)
    a, _b, _, _ = pair(sessions, crypto_a, crypto_b, id_a=id_a, id_b=id_b)
    assert wait_until(lambda: any(isinstance(e, EncryptionFailed) for e in a.events), 8.0)
    failure = next(e for e in a.events if isinstance(e, EncryptionFailed))
    assert "does not match the fingerprint" in failure.reason
    assert not hears(a, 600.0)
    assert a.session.stats().packets_received == 0


def test_dtls_handshake_that_never_finishes_fails_within_its_timeout(sessions: list[MediaSession]) -> None:
    (crypto_a, id_a), _ = dtls_pair()
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        sink = ArraySink()
        events: list[MediaEvent] = []
        active = dataclasses.replace(crypto_a, dtls_role="active")
        session = MediaSession(
            even_socket(),
            negotiated(pcmu_codec(), silent.getsockname(), rtcp_mux=True),
            ToneSource(440.0),
            sink,
            on_event=events.append,
            crypto=active,
            dtls_identity=id_a,
            dtls_timeout=1.5,
        )
        sessions.append(session)
        started = time.monotonic()
        session.start()
        assert wait_until(lambda: any(isinstance(e, EncryptionFailed) for e in events), 6.0)
        assert time.monotonic() - started < 5.0
        failure = next(e for e in events if isinstance(e, EncryptionFailed))
        assert "did not finish within 1.5 s" in failure.reason
        # Only DTLS left for the silent peer: the tone never went out in clear.
        silent.setblocking(False)
        while True:
            try:
                data = silent.recv(4096)
            except BlockingIOError:
                break
            assert is_dtls(data)
    finally:
        silent.close()


def test_dtls_rejects_a_peer_with_no_common_profile() -> None:
    id_a, id_b = new_identity(), new_identity()
    fp_a = parse_fingerprint("sha-256 " + id_a.fingerprint)
    fp_b = parse_fingerprint("sha-256 " + id_b.fingerprint)
    client = DtlsSrtp(id_a, "active", fp_b, ("AEAD_AES_256_GCM",))
    server = DtlsSrtp(id_b, "passive", fp_a, ("AES_CM_128_HMAC_SHA1_32",))
    out = client.start(0.0)
    server.start(0.0)
    for _ in range(6):
        back = [d for data in out for d in server.handle(data, 0.0)]
        out = [d for data in back for d in client.handle(data, 0.0)]
    assert not (client.connected and server.connected)
    assert client.failure or server.failure


def test_identity_is_kept_per_installation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "dtls.pem"
    first = load_or_create_identity(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_or_create_identity(path) == first
    path.write_bytes(b"garbage")
    assert load_or_create_identity(path) != first

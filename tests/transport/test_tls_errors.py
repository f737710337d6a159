"""TLS failures say what is wrong: untrusted, misnamed or expired certificates, with the SHA-256 fingerprint."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from softphone.transport import (
    VIA_PLACEHOLDER,
    Target,
    TlsError,
    TlsReason,
    TlsSettings,
    TransportError,
    TransportManager,
)
from tests.transport.conftest import sha256_fingerprint
from tests.transport.test_manager import request, run


async def tls_server(cert: Path, key: Path) -> TransportManager:
    server = TransportManager([("tls", "127.0.0.1", 0)], tls=TlsSettings(str(cert), str(key)))
    await server.start()
    return server


async def failure(server: TransportManager, client: TlsSettings, server_name: str | None = None) -> TlsError:
    host, port = server.local_address("tls")
    manager = TransportManager([("udp", "127.0.0.1", 0)], tls=client)
    await manager.start()
    try:
        via = f"SIP/2.0/TLS {VIA_PLACEHOLDER};branch=z9hG4bK-tls"
        with pytest.raises(TlsError) as caught:
            await manager.send(request(via=via), Target("TLS", host, port, server_name=server_name))
        # connect() is how the UA asks before it sends: the same error.
        with pytest.raises(TlsError) as again:
            await manager.connect(Target("TLS", host, port, server_name=server_name))
        assert again.value.reason is caught.value.reason and not manager.connections
        return caught.value
    finally:
        await manager.close()


def test_untrusted_certificate_names_its_fingerprint(pki: dict[str, Path]) -> None:
    async def scenario() -> None:
        server = await tls_server(pki["cert"], pki["key"])
        try:
            error = await failure(server, TlsSettings(cafile=str(pki["other_ca"])))
            assert error.reason is TlsReason.UNTRUSTED and str(error.reason) == "untrusted"
            assert error.fingerprint == sha256_fingerprint(pki["cert"])
            assert error.fingerprint in str(error) and "not trusted: no authority we trust signed it" in str(error)
            assert isinstance(error, TransportError) and error.target is not None and error.target.port > 0
        finally:
            await server.close()

    run(scenario())


def test_self_signed_certificate(pki: dict[str, Path]) -> None:
    async def scenario() -> None:
        server = await tls_server(pki["self_signed"], pki["self_signed_key"])
        try:
            error = await failure(server, TlsSettings(cafile=str(pki["ca"])))
            assert error.reason is TlsReason.UNTRUSTED and "self-signed and not trusted" in str(error)
            assert error.fingerprint == sha256_fingerprint(pki["self_signed"])
        finally:
            await server.close()

    run(scenario())


def test_name_mismatch(pki: dict[str, Path]) -> None:
    async def scenario() -> None:
        server = await tls_server(pki["cert"], pki["key"])
        try:
            error = await failure(server, TlsSettings(cafile=str(pki["ca"])), server_name="elsewhere.test")
            assert error.reason is TlsReason.NAME_MISMATCH and error.server_name == "elsewhere.test"
            assert "did not verify for 'elsewhere.test'" in str(error) and "names another host" in str(error)
            assert error.fingerprint == sha256_fingerprint(pki["cert"])
        finally:
            await server.close()

    run(scenario())


def test_expired_certificate(pki: dict[str, Path]) -> None:
    async def scenario() -> None:
        server = await tls_server(pki["expired"], pki["expired_key"])
        try:
            error = await failure(server, TlsSettings(cafile=str(pki["ca"])))
            assert error.reason is TlsReason.EXPIRED and "expired" in str(error)
            assert error.fingerprint == sha256_fingerprint(pki["expired"])
        finally:
            await server.close()

    run(scenario())


def test_a_server_that_does_not_speak_tls_is_a_handshake_error(pki: dict[str, Path]) -> None:
    async def scenario() -> None:
        async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(100)
            writer.write(b"SIP/2.0 400 Bad Request\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(plain, "127.0.0.1", 0)
        manager = TransportManager([("udp", "127.0.0.1", 0)], tls=TlsSettings(cafile=str(pki["ca"])))
        await manager.start()
        try:
            host, port = server.sockets[0].getsockname()[:2]
            with pytest.raises(TlsError) as caught:
                await manager.connect(Target("TLS", host, port))
            assert caught.value.reason is TlsReason.HANDSHAKE and caught.value.fingerprint is None
        finally:
            await manager.close()
            server.close()
            await server.wait_closed()

    run(scenario())


def test_connect_to_a_verified_server_is_reused_by_send(pki: dict[str, Path]) -> None:
    async def scenario() -> None:
        server = await tls_server(pki["cert"], pki["key"])
        manager = TransportManager([("udp", "127.0.0.1", 0)], tls=TlsSettings(cafile=str(pki["ca"])))
        await manager.start()
        try:
            target = Target("TLS", *server.local_address("tls"))
            await manager.connect(target)
            await manager.connect(Target("UDP", "127.0.0.1", 5060))  # nothing to open
            await manager.send(request(via=f"SIP/2.0/TLS {VIA_PLACEHOLDER};branch=z9hG4bK-re"), target)
            assert len(manager.connections) == 1
        finally:
            await manager.close()
            await server.close()

    run(scenario())

"""Quitting is bounded: a server that falls silent, or a notifier whose Contact never answers, does not
hold ``ua.stop()`` for the transaction timeouts (Timer F, 32 s, for the un-REGISTER; a TLS handshake
that never ends for the un-SUBSCRIBE).

The server here is a raw UDP socket that answers the first REGISTER and the MWI SUBSCRIBE, sends the
first NOTIFY with a Contact on a TCP port that accepts and never says a word, and then answers
nothing. The phone runs with the standard timers.
"""

from __future__ import annotations

import asyncio
import secrets

from softphone.sip.message import Request
from softphone.sip.parser import parse_message
from softphone.sip.transaction import make_response
from softphone.ua import Account, MwiEvent, UserAgent
from tests.ua import FAST_RETRY, Recorder

SUMMARY = b"Messages-Waiting: yes\r\nVoice-Message: 1/0\r\n"


class SilentServer(asyncio.DatagramProtocol):
    """Registrar and voicemail notifier until ``fall_silent()``; it records every request."""

    def __init__(self, silent_tls_port: int) -> None:
        self.silent_tls_port = silent_tls_port
        self.requests: list[Request] = []
        self.silent = False
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = parse_message(data)
        if not isinstance(message, Request):
            return
        self.requests.append(message)
        if self.silent or self.transport is None:
            return
        tag = secrets.token_hex(4)
        if message.method == "REGISTER":
            contact = message.headers.get("Contact") or ""
            response = make_response(message, 200, to_tag=tag, headers=[("Contact", f"{contact};expires=600")])
            self.transport.sendto(bytes(response), addr)
        elif message.method == "SUBSCRIBE":
            contact = f"<sip:127.0.0.1:{self.silent_tls_port};transport=tls>"
            response = make_response(message, 200, to_tag=tag, headers=[("Contact", contact), ("Expires", "600")])
            self.transport.sendto(bytes(response), addr)
            self.transport.sendto(self._notify(message, tag, contact), addr)

    def _notify(self, subscribe: Request, tag: str, contact: str) -> bytes:
        host, port = self.transport.get_extra_info("sockname")[:2] if self.transport else ("127.0.0.1", 0)
        target = (subscribe.headers.get("Contact") or "").strip("<>").split(">")[0]
        return (
            f"NOTIFY {target} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{secrets.token_hex(8)}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: {subscribe.headers.get('To')};tag={tag}\r\n"
            f"To: {subscribe.headers.get('From')}\r\n"
            f"Call-ID: {subscribe.headers.get('Call-ID')}\r\n"
            "CSeq: 1 NOTIFY\r\n"
            f"Contact: {contact}\r\n"
            "Event: message-summary\r\n"
            "Subscription-State: active;expires=600\r\n"
            "Content-Type: application/simple-message-summary\r\n"
            f"Content-Length: {len(SUMMARY)}\r\n\r\n"
        ).encode() + SUMMARY


def test_stop_is_bounded_when_the_server_and_the_notifier_fall_silent() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        accepted: list[asyncio.StreamWriter] = []

        async def never_speak(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)

        silent_peer = await asyncio.start_server(never_speak, "127.0.0.1", 0)
        silent_port = silent_peer.sockets[0].getsockname()[1]
        transport, server = await loop.create_datagram_endpoint(
            lambda: SilentServer(silent_port), local_addr=("127.0.0.1", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        phone = UserAgent(
            [Account("sip:alice@127.0.0.1", "secret", registrar=f"sip:127.0.0.1:{port}")],
            listen=[("UDP", "127.0.0.1", 0)],
            retry=FAST_RETRY,
        )
        events = Recorder(phone)
        await phone.start()
        try:
            await phone.register()
            mwi = await events.wait(lambda e: isinstance(e, MwiEvent))
            assert isinstance(mwi, MwiEvent) and mwi.new == 1
            server.silent = True
            # Unbounded, this would take Timer F (32 s) for the un-REGISTER alone.
            await asyncio.wait_for(phone.stop(), 20)
        finally:
            transport.close()
            silent_peer.close()
            for writer in accepted:
                writer.close()
        unregister = [r for r in server.requests if r.method == "REGISTER" and r.headers.get("Expires") == "0"]
        assert unregister, "the phone did not try to unregister"
        assert accepted, "the phone did not try to unSUBSCRIBE at the notifier's Contact"

    asyncio.run(main())

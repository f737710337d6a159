"""The SIP trace of a user agent: records of each message, credentials redacted, pcap export."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from softphone.ua import Account
from softphone.ua.trace import TraceRecord, make_record, write_pcap
from tests.ua import make_ua
from tests.ua.test_media_wiring import direct_call, is_state


def test_trace_follows_a_call_and_exports_pcap(tmp_path: Path) -> None:
    async def main() -> tuple[list[TraceRecord], list[TraceRecord]]:
        alice = make_ua(Account("sip:alice@127.0.0.1", register=False))
        bob = make_ua(Account("sip:bob@127.0.0.1", register=False))
        seen: list[TraceRecord] = []
        alice.trace.enable()
        alice.trace.listeners.append(seen.append)
        try:
            _, b_events, a_call, _ = await direct_call(alice, bob)
            await alice.hangup(a_call)
            await b_events.wait(is_state("ended"))
            call = alice.trace.call_ids()[0]
            return seen, alice.trace.for_call(call)
        finally:
            alice.trace.disable()
            await alice.stop()
            await bob.stop()

    seen, ladder = asyncio.run(main())
    labels = [(r.direction, r.label) for r in ladder]
    assert labels[0] == ("sent", "INVITE")
    assert ("received", "200 OK") in labels and ("sent", "ACK") in labels and ("sent", "BYE") in labels
    assert all(r.call_id == ladder[0].call_id for r in ladder) and len(seen) >= len(ladder)
    assert ladder[0].peer_host == "127.0.0.1" and ladder[0].local_port > 0
    path = tmp_path / "call.pcap"
    assert write_pcap(path, ladder) == len(ladder)
    data = path.read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    assert magic == 0xA1B2C3D4 and linktype == 101
    _, _, caplen, _ = struct.unpack("<IIII", data[24:40])
    packet = data[40 : 40 + caplen]
    assert packet[0] >> 4 == 4 and packet[9] == 17  # IPv4, UDP
    assert packet[28:].startswith(b"INVITE sip:bob@127.0.0.1")


def test_credentials_are_redacted_and_garbage_is_kept_as_text() -> None:
    message = (
        b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
        b"Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
        b"Call-ID: x1\r\nCSeq: 2 REGISTER\r\n"
        b'Authorization: Digest username="a", response="0123456789abcdef"\r\nContent-Length: 0\r\n\r\n'
    )
    record = make_record("sent", "UDP 127.0.0.1:5060", message, ("127.0.0.1", 40000))
    assert "0123456789abcdef" not in record.text and "<redacted>" in record.text
    assert (record.method, record.call_id, record.cseq, record.label) == ("REGISTER", "x1", "2 REGISTER", "REGISTER")
    junk = make_record("received", "TCP [::1]:5061", b"\x00\xffnot sip", ("::1", 5062))
    assert junk.call_id is None and junk.peer_host == "::1" and junk.peer_port == 5061

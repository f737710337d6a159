"""Events, accounts, media ports, session-timer rules and the CLI's pieces, without a network."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from softphone import cli
from softphone.sip.message import Request
from softphone.ua import (
    Account,
    AccountError,
    CallEvent,
    DtmfEvent,
    ErrorEvent,
    IncomingCallEvent,
    RegistrationEvent,
    TransferEvent,
    password_from_env,
    password_from_file,
)
from softphone.ua.media import MediaPort
from softphone.ua.session_timer import SessionTimer, uas_decide


def test_events_to_json() -> None:
    cases = [
        (RegistrationEvent("sip:a@b", "registered", 200, "OK", 600), "registration"),
        (CallEvent("c1", "outgoing", "sip:b@c", None, "ringing"), "call"),
        (IncomingCallEvent("c2", "sip:b@c", "Bob", "https://x/p.png", None), "incoming_call"),
        (TransferEvent("c1", "succeeded", 200, "sip:c@d"), "transfer"),
        (DtmfEvent("c1", "5", "info"), "dtmf"),
        (ErrorEvent("oops"), "error"),
    ]
    for event, kind in cases:
        data = event.to_json()
        assert data["event"] == kind
        assert json.loads(json.dumps(data)) == data
    assert CallEvent("c1", "incoming", "sip:b@c", "Bob", "ended", 486, "Busy Here").to_json() == {
        "event": "call",
        "call_id": "c1",
        "direction": "incoming",
        "remote_uri": "sip:b@c",
        "remote_display_name": "Bob",
        "state": "ended",
        "code": 486,
        "reason": "Busy Here",
        "photo_url": None,
        "asserted_identity": None,
    }


def test_account_defaults_and_next_hop() -> None:
    account = Account("sip:alice@example.com", "pw")
    assert account.username == "alice"
    assert str(account.registrar_uri) == "sip:example.com"
    assert str(account.next_hop) == "sip:example.com"
    assert account.expires == 600
    tcp = Account("sip:alice@example.com", transport="tcp", outbound_proxy="sip:proxy.example.com", auth_user="a1")
    assert str(tcp.next_hop) == "sip:proxy.example.com;transport=tcp"
    assert tcp.username == "a1"
    assert "pw" not in repr(account)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"aor": "tel:+123"},
        {"aor": "sip:example.com"},
        {"aor": "sip:a@example.com", "transport": "sctp"},
        {"aor": "sip:a@example.com", "registrar": "mailto:x@y"},
    ],
)
def test_bad_accounts(kwargs: dict[str, str]) -> None:
    with pytest.raises(AccountError):
        Account(**kwargs)  # type: ignore[arg-type]


def test_passwords(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFTPHONE_PW", "s3cret")
    assert password_from_env("SOFTPHONE_PW") == "s3cret"
    with pytest.raises(AccountError):
        password_from_env("SOFTPHONE_NO_SUCH_VARIABLE")
    secret = tmp_path / "pw"
    secret.write_text("line one\nline two\n")
    assert password_from_file(secret) == "line one"
    with pytest.raises(AccountError):
        password_from_file(tmp_path / "missing")


def test_media_port_is_even_and_held() -> None:
    port = MediaPort("127.0.0.1")
    try:
        assert port.port % 2 == 0
        assert port.socket is not None and port.socket.getsockname()[1] == port.port
    finally:
        port.close()
    assert port.closed


def _field(line: str) -> tuple[str, str]:
    name, _, value = line.partition(": ")
    return name, value


def _invite(extra: str) -> Request:
    return Request(
        "INVITE",
        "sip:bob@example.com",
        [
            ("Via", "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx"),
            ("From", "<sip:a@example.com>;tag=1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "x"),
            ("CSeq", "1 INVITE"),
            *[_field(line) for line in extra.splitlines() if line],
        ],
    )


def test_session_timer_decisions() -> None:
    too_small = uas_decide(_invite("Session-Expires: 60\nSupported: timer"), preferred=1800, minimum=90)
    assert too_small.too_small == 90 and ("Min-SE", "90") in too_small.headers
    uac_refreshes = uas_decide(_invite("Session-Expires: 600\nSupported: timer"), preferred=None, minimum=90)
    assert uac_refreshes.timer == SessionTimer(600, we_refresh=False)
    assert ("Require", "timer") in uac_refreshes.headers
    old_peer = uas_decide(_invite("Session-Expires: 600"), preferred=None, minimum=90)
    assert old_peer.timer == SessionTimer(600, we_refresh=True)
    assert old_peer.headers == [("Session-Expires", "600;refresher=uas")]
    assert uas_decide(_invite(""), preferred=1800, minimum=90).timer is None
    assert uas_decide(_invite("Supported: timer"), preferred=1800, minimum=90).timer == SessionTimer(1800, False)
    assert SessionTimer(1800, True).refresh_after == 900
    assert SessionTimer(90, False).expire_after == 60


def test_cli_arguments() -> None:
    args = cli.build_parser().parse_args(
        ["--account", "sip:a@example.com", "--auto-answer", "--json", "--no-audio", "--listen", "[::1]:5070"]
    )
    assert args.auto_answer == 0.0 and args.json and args.no_audio
    assert cli.listen_addresses(args.listen) == [("::1", 5070)]
    args = cli.build_parser().parse_args(
        ["--account", "sip:a@example.com", "--listen", "0.0.0.0:5060", "--listen", "[::]:5060"]
    )
    assert cli.listen_addresses(args.listen) == [("0.0.0.0", 5060), ("::", 5060)]
    assert cli.listen_addresses(None) == [("0.0.0.0", 0)]
    pair = cli.listen_addresses(None, lan=True)  # one port for IPv4 and IPv6: one DNS-SD record names it
    assert [host for host, _ in pair] in (["0.0.0.0"], ["0.0.0.0", "::"]) and len({port for _, port in pair}) == 1
    with pytest.raises(ValueError, match="at most twice"):
        cli.listen_addresses(["0.0.0.0:1", "[::]:1", "127.0.0.1:2"])
    args = cli.build_parser().parse_args(["--account", "sip:a@example.com", "--auto-answer=2.5"])
    assert args.auto_answer == 2.5 and args.codecs is None
    args = cli.build_parser().parse_args(["--account", "sip:a@example.com", "--codecs", "g722, PCMU,g722"])
    assert [(c.name, c.clock_rate, c.payload_type) for c in args.codecs] == [("G722", 8000, 9), ("PCMU", 8000, 0)]
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--account", "sip:a@example.com", "--codecs", "g729"])
    with pytest.raises(ValueError):
        cli.parse_listen("nohost")
    args = cli.build_parser().parse_args(
        ["--account", "sip:a@example.com", "--forward", "sip:c@example.com", "--forward-on", "no-answer"]
    )
    account = cli.make_account(args)
    assert account.forwarding is not None and account.forwarding.no_answer == 20.0
    assert not account.forwarding.always and not account.busy
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--version"])


def test_cli_readable_lines() -> None:
    assert cli.describe(RegistrationEvent("sip:a@b", "registered", 200, "OK", 600)) == (
        "registration sip:a@b: registered 200 OK (expires 600 s)"
    )
    assert cli.describe(CallEvent("c1", "outgoing", "sip:b@c", None, "ended", 486, "Busy Here")) == (
        "call c1 to sip:b@c: ended (486 Busy Here)"
    )
    assert cli.describe(IncomingCallEvent("c2", "sip:b@c", "Bob")) == 'incoming call c2 from "Bob" <sip:b@c>'
    assert cli.describe(ErrorEvent("oops")) == "error: oops"


def test_cli_unknown_and_bad_commands_are_errors() -> None:
    import asyncio

    from tests.ua import make_ua

    async def scenario() -> list[dict[str, object]]:
        ua = make_ua(Account("sip:a@127.0.0.1"), listen=[("UDP", "127.0.0.1", 0)])
        out = io.StringIO()
        shell = cli.Cli(ua, out, as_json=True)
        await ua.start()
        try:
            assert await shell.run_line("frobnicate\n")
            assert await shell.run_line("hangup c9\n")
            assert await shell.run_line('call "unterminated\n')
            assert await shell.run_line("dtmf\n")
            assert await shell.run_line("\n")
            assert not await shell.run_line("quit\n")
        finally:
            await ua.stop()
        return [json.loads(line) for line in out.getvalue().splitlines()]

    lines = asyncio.run(scenario())
    assert [line["event"] for line in lines] == ["error"] * 4

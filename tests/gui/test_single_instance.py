"""One instance per user: a second start hands its sip:/tel: link to the running one and exits 0."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from softphone.gui.app import Softphone
from softphone.gui.single_instance import SingleInstance, send_to_running, server_name
from softphone.store import AccountSettings, Settings, Store, save_settings
from softphone.ua import Account, CallEvent, silence_media
from tests.conftest import ROOT
from tests.gui.harness import WAIT_MS, Peer, new_account
from tests.kamailio_server import Kamailio
from tests.ua import make_ua


def app_command(instance: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "softphone.gui.app", "--instance-name", instance, "--no-tray", "--no-ring", *args]


def app_env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.pop("SOFTPHONE_INSTANCE", None)
    return env


def wait_exit(qtbot: QtBot, proc: subprocess.Popen[bytes], timeout: int = WAIT_MS) -> int:
    """Wait for a process while the Qt event loop keeps running (the in-process server must answer it)."""
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def test_server_name_is_per_user_and_overridable(monkeypatch: object) -> None:
    assert server_name("mine") == "mine"
    assert server_name().startswith("softphone-")


def test_a_second_start_hands_over_its_link(qtbot: QtBot) -> None:
    name = f"softphone-test-{secrets.token_hex(4)}"
    instance = SingleInstance(name)
    dialled: list[str] = []
    shown: list[bool] = []
    instance.dial.connect(dialled.append)
    instance.activate.connect(lambda: shown.append(True))
    assert instance.listen()
    try:
        proc = subprocess.Popen(app_command(name, "tel:+1-555-0100"), env=app_env(), cwd=ROOT)
        assert wait_exit(qtbot, proc) == 0
        qtbot.waitUntil(lambda: dialled == ["tel:+1-555-0100"], timeout=WAIT_MS)
        assert shown
    finally:
        instance.close()
    assert not send_to_running(name, "SHOW", timeout_ms=200)


def test_url_handler_dials_in_the_running_instance(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path) -> None:
    account = new_account(kamailio)
    bob = Peer(qtbot, new_account(kamailio))
    settings_path = tmp_path / "settings.json"
    save_settings(Settings(accounts=[AccountSettings(account.aor, registrar=account.registrar)]), settings_path)
    name = f"softphone-test-{secrets.token_hex(4)}"

    def ua_factory(accounts: list[Account], store: Store) -> object:
        # The keyring of the test machine holds no password: the test gives the UA its account.
        assert [a.aor for a in accounts] == [account.aor]
        return make_ua(account, media=silence_media(), store=store)

    phone = Softphone(
        settings_path=settings_path,
        db_path=tmp_path / "phone.db",
        instance_name=name,
        use_tray=False,
        ring=False,
        run_wizard=False,
        ua_factory=ua_factory,
    )
    try:
        row = phone.window.account_rows[account.aor]
        qtbot.waitUntil(lambda: row.state == "registered", timeout=WAIT_MS)
        bob.wait_registered()
        proc = subprocess.Popen(app_command(name, bob.aor), env=app_env(), cwd=ROOT)
        assert wait_exit(qtbot, proc) == 0
        incoming = bob.wait_incoming()
        assert incoming.remote_uri == account.aor
        qtbot.waitUntil(lambda: len(phone.window.call_window.rows) == 1, timeout=WAIT_MS)
    finally:
        phone.close()
        bob.stop()


def test_first_start_dials_then_later_starts_dial_in_it(qtbot: QtBot, tmp_path: Path) -> None:
    """The real application process: started with a link it dials; a second start hands over a second link."""
    bob = Peer(qtbot, Account(f"sip:bob{secrets.token_hex(2)}@127.0.0.1", register=False))
    settings_path = tmp_path / "settings.json"
    # A LAN-only account: no server, no password; the calls go straight to bob's port.
    save_settings(Settings(accounts=[AccountSettings("sip:alice@127.0.0.1", register=False)]), settings_path)
    name = f"softphone-test-{secrets.token_hex(4)}"
    qtbot.waitUntil(lambda: bob.bridge.is_started, timeout=WAIT_MS)
    bob_uri = f"sip:{bob.account.user}@127.0.0.1:{bob.ua.stack.transport.local_address('UDP')[1]}"
    first = subprocess.Popen(
        app_command(
            name, "--config", str(settings_path), "--db", str(tmp_path / "app.db"), "--listen", "127.0.0.1", bob_uri
        ),
        env=app_env(),
        cwd=ROOT,
    )
    try:
        first_call = bob.wait_incoming()
        assert first_call.remote_uri == "sip:alice@127.0.0.1"
        mark = bob.mark()
        second = subprocess.Popen(app_command(name, bob_uri), env=app_env(), cwd=ROOT)
        assert wait_exit(qtbot, second) == 0
        second_call = bob.wait_incoming(mark)
        assert second_call.call_id != first_call.call_id
        assert first.poll() is None  # the first instance goes on running
        # SIGTERM ends it cleanly: bob's call is cancelled, the process exits 0.
        first.terminate()
        assert wait_exit(qtbot, first) == 0
        bob.wait(lambda e: isinstance(e, CallEvent) and e.call_id == first_call.call_id and e.state == "ended")
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
        bob.stop()

"""Problems stay where the user can read them, in one plain-words style: a banner per account with the
reason, the next retry and what to do; our presence offline while unregistered; failed calls' reasons in
the History. The real widgets against the Kamailio fixture."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from softphone.gui.main_window import MainWindow
from softphone.gui.text import plain_tooltip
from softphone.store import CallOutcome
from softphone.ua import Account, RetryPolicy, silence_media
from tests.gui.harness import GuiPhone, Peer, new_account
from tests.kamailio_server import Kamailio
from tests.ua import make_ua

SLOW_RETRY = RetryPolicy(first=30.0, maximum=60.0)


def presence_shown(window: MainWindow) -> str:
    return window.presence_combo.currentText()


def test_an_unreachable_registrar_keeps_a_banner_with_the_next_retry_and_a_retry_button(
    qtbot: QtBot, tmp_path: Path
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens there now: each REGISTER ends at once with ICMP port unreachable.
    account = Account("sip:nobody@127.0.0.1", "x", registrar=f"sip:127.0.0.1:{port}")
    gui = GuiPhone(qtbot, account, tmp_path, ua=make_ua(account, retry=SLOW_RETRY, media=silence_media()))
    try:
        window = gui.window
        banner = window.accounts_area.banners[account.aor]
        gui.wait(lambda: banner.isVisible() and "Retrying in" in banner.text())
        text = banner.text()
        match = re.fullmatch(r"Cannot register nobody@127\.0\.0\.1: .+\. Retrying in (\d+) s\.", text)
        assert match is not None and 0 < int(match.group(1)) <= 30, text
        assert "failed" not in text and "malformed" not in text
        assert banner.retry_button.isVisible() and not banner.password_button.isVisible()
        # Our presence is not what others see while nothing is registered.
        assert presence_shown(window) == "Offline (not registered)"
        # It stays: another event (a message, a missed call) does not take it away.
        window.show_error("something else")
        assert banner.isVisible()
        # Retry now: the banner says so and comes back with the next failure.
        marker = len(gui.events)
        qtbot.mouseClick(banner.retry_button, Qt.MouseButton.LeftButton)
        assert banner.text().endswith("Trying again now …")
        gui.wait(lambda: any(getattr(e, "state", "") == "failed" for e in gui.events[marker:]))
        gui.wait(lambda: "Retrying in" in banner.text())
    finally:
        gui.close()


def test_a_refused_password_is_said_in_plain_words_and_asked_for_and_presence_follows_registration(
    qtbot: QtBot, kamailio: Kamailio, tmp_path: Path
) -> None:
    good = new_account(kamailio)
    account = Account(good.aor, "not-the-password", registrar=good.registrar)
    gui = GuiPhone(qtbot, account, tmp_path, ua=make_ua(account, retry=SLOW_RETRY, media=silence_media()))
    try:
        window = gui.window
        who = account.aor.removeprefix("sip:")
        banner = window.accounts_area.banners[account.aor]
        gui.wait(lambda: account.aor in window.passwords.prompts and banner.isVisible())
        assert banner.text().startswith(f"Cannot register {who}: the password was not accepted (401). Retrying in ")
        assert banner.password_button.isVisible()
        prompt = window.passwords.prompts[account.aor]
        assert prompt.problem.text() == f"Cannot register {who}: the password was not accepted (401)."
        assert presence_shown(window) == "Offline (not registered)"
        # The user chose Busy meanwhile: shown once registered, not before.
        window.presence_combo.setCurrentIndex(window.presence_combo.findData("busy"))
        window.apply_presence()
        assert presence_shown(window) == "Offline (not registered)"
        prompt.password.setText(good.password)
        prompt.storage.session.setChecked(True)
        prompt.buttons.accepted.emit()
        gui.wait_registered()
        assert not banner.isVisible() and not window.passwords.prompts
        assert presence_shown(window) == "Busy"
        # The prompt comes back from the banner when wanted, and Later closes it.
        window.ask_password(account.aor)
        assert window.passwords.prompts[account.aor].isVisible()
        window.passwords.prompts[account.aor].reject()
        assert not window.passwords.prompts
    finally:
        gui.close()


def test_a_failed_call_keeps_its_reason_in_the_history(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path) -> None:
    from softphone.ua import why

    gui = GuiPhone(qtbot, new_account(kamailio), tmp_path)
    try:
        gui.wait_registered()
        nobody = kamailio.aor("nobody-here")
        gui.window.dial(nobody)
        gui.wait(lambda: gui.window.history_list.count() == 1)
        (record,) = gui.store.history.list()
        assert record.outcome == CallOutcome.FAILED and record.sip_code in (404, 480)
        item = gui.window.history_list.item(0)
        reason = why(record.sip_code, record.reason or "")
        assert item.text().endswith(f"failed — {reason}"), item.text()
        if record.sip_code == 404:
            assert reason == "there is no such user (404)"
        sentence = f"Cannot call nobody-here@127.0.0.1: {reason}."
        assert item.toolTip() == plain_tooltip(f"{sentence} Double-click to call back.")
        assert gui.window.statusBar().currentMessage() == f"Cannot call nobody-here@127.0.0.1: {reason}."
        # Still there once the call window has let the call go, and after a reload.
        gui.wait(lambda: not gui.window.call_window.rows)
        gui.window.refresh_history()
        assert gui.window.history_list.item(0).text().endswith(reason)
    finally:
        gui.close()


def test_an_account_row_and_a_call_row_say_why_in_words(qtbot: QtBot, kamailio: Kamailio, tmp_path: Path) -> None:
    gui = GuiPhone(qtbot, new_account(kamailio), tmp_path)
    bob = Peer(qtbot, new_account(kamailio))
    try:
        gui.wait_registered()
        bob.wait_registered()
        done: list[object] = []
        bob.bridge.call(setattr, bob.ua, "busy", True, on_done=done.append)  # 486 to every call
        gui.wait(lambda: bool(done))
        gui.window.dial(bob.aor)
        gui.wait(lambda: bool(gui.window.call_window.rows))
        row = next(iter(gui.window.call_window.rows.values()))
        gui.wait(lambda: row.call_event.state == "ended")
        assert row.state_label.text() == "ended: busy (486)"
        gui.wait(lambda: gui.window.history_list.count() == 1)
        text = gui.window.history_list.item(0).text()
        assert text.endswith("  busy (486)") and "busy — busy" not in text, text
    finally:
        bob.stop()
        gui.close()

"""What people who set up other softphones reach for: menus, About, the History's menu, the title,
windows that stay where they were put, and a choice of ringtone."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, QPoint, QUrl, Slot, qVersion
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from softphone import __version__
from softphone.gui.bridge import UaBridge
from softphone.gui.contact_dialog import ContactDialog
from softphone.gui.main_window import MainWindow
from softphone.gui.ringer import Ringer, sounds_dir, tone_path
from softphone.gui.settings_audio import AudioPage
from softphone.store import CallOutcome, CallRecord, Contact, Direction, Settings, Store, load_settings
from softphone.ua import Account, opus_version
from tests.pulse_server import PulseAudio
from tests.ua import make_ua

ALICE = "sip:alice@127.0.0.1"


class Window:
    """A main window over a started UA with a LAN-only account, its settings in a file of its own."""

    def __init__(self, qtbot: QtBot, tmp_path: Path, settings: Settings | None = None) -> None:
        self.store = Store(tmp_path / "desk.db")
        self.settings_path = tmp_path / "desk.json"
        account = Account(ALICE, register=False)
        self.bridge = UaBridge()
        self.window = MainWindow(
            self.bridge,
            self.store,
            settings if settings is not None else Settings(),
            accounts=[account],
            settings_path=self.settings_path,
            use_tray=False,
        )
        self.bridge.start(make_ua(account))
        qtbot.addWidget(self.window)
        self.window.show()
        qtbot.waitUntil(lambda: self.bridge.is_started, timeout=10000)

    def close(self) -> None:
        self.window.quitting = True
        self.window.close()
        self.bridge.stop()
        self.store.close()


@pytest.fixture
def desk(qtbot: QtBot, tmp_path: Path) -> Iterator[Window]:
    made = Window(qtbot, tmp_path)
    yield made
    made.close()


class UrlCatcher(QObject):
    """Takes the URLs the application asks the desktop to open (QDesktopServices' handler for a scheme)."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url)


def menu_actions(window: MainWindow, title: str) -> dict[str, object]:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == title)
    assert isinstance(menu, QMenu)
    return {a.text(): a for a in menu.actions() if a.text()}


def test_file_menu_quits_and_help_shows_the_versions_and_the_docs(qtbot: QtBot, desk: Window) -> None:
    window = desk.window
    assert [a.text() for a in window.menuBar().actions()] == ["&File", "&Tools", "&Help"]
    assert list(menu_actions(window, "&File")) == ["&Quit"]
    assert set(menu_actions(window, "&Help")) == {"&Documentation", "&About Softphone"}
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    QDesktopServices.setUrlHandler("https", catcher, "open")
    try:
        window.docs_action.trigger()
        assert len(catcher.opened) == 1 and catcher.opened[0].toString().endswith("README.md")
        window.about_action.trigger()
        about = window.about_dialog
        assert about is not None and about.isVisible()
        shown = {name: label.text() for name, label in about.version_labels.items()}
        assert shown["Softphone"] == f"Softphone {__version__}"
        assert shown["Qt"] == f"Qt {qVersion()}"
        opus = opus_version()
        assert opus is not None and shown["Opus"] == f"Opus {opus.removeprefix('libopus ')}"
        link = about.docs_link.text()
        assert "README.md" in link
        about.docs_link.linkActivated.emit(link.split('"')[1])
        assert len(catcher.opened) == 2
        about.reject()
    finally:
        QDesktopServices.unsetUrlHandler("file")
        QDesktopServices.unsetUrlHandler("https")
    with qtbot.waitSignal(window.quit_requested, timeout=5000):
        menu_actions(window, "&File")["&Quit"].trigger()  # type: ignore[attr-defined]
    assert not window.isVisible()


def shown_title(title: str, display_name: str) -> str:
    """The title the desktop shows: Qt appends the application's display name unless the title ends with it."""
    return title if title.endswith(display_name) else f"{title} — {display_name}"


def test_the_title_says_the_app_name_once(qtbot: QtBot, desk: Window) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.applicationDisplayName()
    app.setApplicationDisplayName("Softphone")
    try:
        window = desk.window
        assert shown_title(window.windowTitle(), "Softphone") == "Softphone"
        for peer in ("sip:bob@127.0.0.1", "sip:carol@127.0.0.1"):
            desk.store.history.add_call(CallRecord(ALICE, Direction.IN, peer, 1000.0, CallOutcome.MISSED))
            window.refresh_history()
        title = shown_title(window.windowTitle(), "Softphone")
        assert title == "2 missed calls — Softphone" and title.count("Softphone") == 1
        desk.store.history.clear()
        desk.store.history.add_call(CallRecord(ALICE, Direction.IN, "sip:bob@127.0.0.1", 1000.0, CallOutcome.MISSED))
        window.refresh_history()
        assert shown_title(window.windowTitle(), "Softphone") == "1 missed call — Softphone"
        for other in (window.call_window, window.chat_window):
            assert shown_title(other.windowTitle(), "Softphone").count("Softphone") == 1
    finally:
        app.setApplicationDisplayName(before)


def test_the_history_menu_calls_back_writes_adds_copies_and_deletes(qtbot: QtBot, desk: Window) -> None:
    window = desk.window
    bob = "sip:bob@127.0.0.1"
    desk.store.history.add_call(CallRecord(ALICE, Direction.IN, bob, 1000.0, CallOutcome.MISSED, "Bob"))
    desk.store.history.add_call(
        CallRecord(ALICE, Direction.OUT, "sip:carol@127.0.0.1", 2000.0, CallOutcome.ANSWERED, answered=2001, ended=2060)
    )
    window.refresh_history()
    window.tabs.setCurrentIndex(window.history_index)
    item = window.history_list.item(1)
    assert item.data(0x0100) == bob  # Qt.ItemDataRole.UserRole
    # A right click opens the menu over the row.
    rect = window.history_list.visualItemRect(item)
    window.history_list.customContextMenuRequested.emit(rect.center())
    assert window.history_menu is not None and window.history_menu.isVisible()
    window.history_menu.close()
    actions = {a.text(): a for a in window.history_menu_for(item).actions() if a.text()}
    assert list(actions) == [
        "&Call back",
        "Send a &message",
        "&Add to contacts…",
        "C&opy address",
        "&Delete from history",
    ]
    actions["C&opy address"].trigger()
    assert QGuiApplication.clipboard().text() == bob
    actions["Send a &message"].trigger()
    assert window.chat_window.conversation(bob) is not None and window.chat_window.isVisible()
    window.chat_window.hide()
    actions["&Call back"].trigger()
    assert "Calling bob@127.0.0.1" in window.statusBar().currentMessage()
    actions["&Add to contacts…"].trigger()
    dialog = window.buddy_list.dialog
    assert isinstance(dialog, ContactDialog) and dialog.isVisible()
    assert dialog.name.text() == "Bob" and dialog.uris.toPlainText() == bob
    dialog.accept()
    assert [c.name for c in desk.store.contacts.list()] == ["Bob"]
    again = {a.text(): a for a in window.history_menu_for(window.history_list.item(1)).actions() if a.text()}
    assert "In your contacts" in again and not again["In your contacts"].isEnabled()
    again["&Delete from history"].trigger()
    assert [r.peer for r in desk.store.history.list()] == ["sip:carol@127.0.0.1"]
    assert window.history_list.count() == 1
    assert window.history_list.itemAt(QPoint(-5, -5)) is None  # a click beside the rows opens nothing


def test_windows_open_where_they_were_left(qtbot: QtBot, tmp_path: Path) -> None:
    first = Window(qtbot, tmp_path)
    try:
        first.window.resize(402, 611)
        first.window.move(37, 21)
        first.window.chat_window.show()
        first.window.chat_window.resize(533, 377)
        first.window.chat_window.hide()
        first.window.open_trace()
        trace = first.window._trace_window  # type: ignore[attr-defined]
        assert trace is not None
        trace.resize(761, 512)  # within the offscreen screen (800 × 600): restoring keeps windows on it
        trace.close()
        main_size = first.window.size()
    finally:
        first.close()  # quitting keeps the main window's place
    kept = load_settings(tmp_path / "desk.json").windows
    assert set(kept) >= {"main", "chat", "trace"}
    again = Window(qtbot, tmp_path, load_settings(tmp_path / "desk.json"))
    try:
        assert again.window.size() == main_size
        again.window.chat_window.show()
        assert (again.window.chat_window.width(), again.window.chat_window.height()) == (533, 377)
        again.window.open_trace()
        trace = again.window._trace_window  # type: ignore[attr-defined]
        assert trace is not None and (trace.width(), trace.height()) == (761, 512)
        trace.close()
    finally:
        again.close()


def write_wav(path: Path, seconds: float = 0.5, rate: int = 22050) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    data = (np.sin(2 * np.pi * 700 * t) * 12000).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data.tobytes())
    return path


def test_a_ringtone_is_chosen_bundled_or_from_a_file_and_saved(qtbot: QtBot, tmp_path: Path) -> None:
    assert sorted(p.stem for p in sounds_dir().glob("*.wav")) == ["bells", "chime", "digital", "marimba"]
    page = AudioPage(Settings(), enabled=False)
    qtbot.addWidget(page)
    combo = page.ringtone_combo
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names == ["Classic ring", "Marimba", "Bells", "Chime", "Digital", "A WAV file…"]
    combo.setCurrentIndex(combo.findData("chime"))
    settings = Settings()
    page.collect_into(settings)
    assert settings.audio.ringtone == "chime" and tone_path("chime") == sounds_dir() / "chime.wav"
    # "A WAV file…" asks for one; a file that is not a WAV is refused, a WAV is taken.
    combo.activated.emit(combo.findData("choose-file"))
    dialog = page.file_dialog
    assert dialog is not None and dialog.isVisible()
    assert combo.currentData() == "chime"  # unchanged until a file is chosen
    dialog.reject()
    bad = tmp_path / "not-a-tone.wav"
    bad.write_text("hello")
    page.use_tone_file(str(bad))
    qtbot.waitUntil(lambda: page.audio_status.text().startswith("Cannot use not-a-tone.wav"), timeout=10000)
    good = write_wav(tmp_path / "my tone.wav")
    page.use_tone_file(str(good))
    qtbot.waitUntil(lambda: combo.currentData() == str(good), timeout=10000)
    assert combo.currentText() == "my tone.wav"
    page.collect_into(settings)
    assert settings.audio.ringtone == str(good)
    # Opened again, the page shows the file as the choice.
    again = AudioPage(settings, enabled=False)
    qtbot.addWidget(again)
    assert again.ringtone_combo.currentData() == str(good)


def test_the_ringer_rings_with_the_chosen_tone_and_falls_back_to_its_own(
    qtbot: QtBot, tmp_path: Path, pulse: PulseAudio
) -> None:
    ringer = Ringer(tone="marimba")
    ringer.start()
    assert ringer._worker is not None
    ringer._worker.join(10)
    assert ringer.last_error is None and ringer.playing_tone == sounds_dir() / "marimba.wav"
    ringer.stop()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF")
    ringer.tone = str(broken)
    ringer.start()
    ringer._worker.join(10)
    assert ringer.playing_tone is None and ringer.ringing  # the built-in ring instead
    assert ringer.last_error is not None and "broken.wav" in ringer.last_error
    ringer.close()
    assert not ringer.ringing


def test_settings_hand_the_ringtone_to_the_ringer(qtbot: QtBot, desk: Window) -> None:
    from softphone.gui.settings_dialog import show_settings

    dialog = show_settings(desk.window)
    page = dialog.audio_page
    page.ringtone_combo.setCurrentIndex(page.ringtone_combo.findData("bells"))
    dialog.accept()
    assert desk.window.ringer.tone == "bells"
    assert load_settings(desk.settings_path).audio.ringtone == "bells"
    if page.closer is not None:
        page.closer.join(10.0)


def test_contact_name_for_history_rows(qtbot: QtBot, desk: Window) -> None:
    desk.store.contacts.add(Contact("Dora", uris=["sip:dora@127.0.0.1"]))
    desk.store.history.add_call(CallRecord(ALICE, Direction.IN, "sip:dora@127.0.0.1", 1000.0, CallOutcome.ANSWERED))
    desk.window.refresh_history()
    actions = [a.text() for a in desk.window.history_menu_for(desk.window.history_list.item(0)).actions()]
    assert "In your contacts" in actions


def test_an_empty_ladder_shows_its_hint_alone_without_party_lines(qtbot: QtBot) -> None:
    from PySide6.QtGui import QColor, QPalette

    from softphone.gui.trace import LadderView

    ladder = LadderView()
    qtbot.addWidget(ladder)
    ladder.resize(600, 300)
    image = ladder.grab().toImage()
    mid = ladder.palette().color(QPalette.ColorRole.Mid)
    x = int(ladder.column_x(0))
    line = sum(1 for y in range(image.height()) if QColor(image.pixel(x, y)) == mid)
    assert line < 10, f"a party line is drawn behind the empty-state text ({line} pixels)"
    assert ladder.empty_text().startswith("Choose a dialog")


def test_history_rows_name_contacts_and_say_how_the_call_went(qtbot: QtBot, desk: Window) -> None:
    from softphone.gui.history_view import DETAIL_ROLE, MISSED_ROLE, WHO_ROLE

    window = desk.window
    assert window.history_list.count() == 0 and "No calls yet" in window.history_list.placeholder
    desk.store.contacts.add(Contact("Dora Explorer", uris=["sip:dora@127.0.0.1"]))
    desk.store.history.add_call(
        CallRecord(ALICE, Direction.OUT, "sip:dora@127.0.0.1", 1000.0, CallOutcome.ANSWERED, answered=1001, ended=1066)
    )
    desk.store.history.add_call(CallRecord(ALICE, Direction.IN, "sip:eve@127.0.0.1", 2000.0, CallOutcome.MISSED))
    window.refresh_history()
    missed, answered = window.history_list.item(0), window.history_list.item(1)
    assert answered.data(WHO_ROLE) == "Dora Explorer"  # the contact's name, not the address
    assert answered.data(DETAIL_ROLE) == "→ Outgoing · answered · 1:05"
    assert missed.data(WHO_ROLE) == "eve@127.0.0.1" and missed.data(MISSED_ROLE) is True
    assert not window.history_list.grab().isNull()

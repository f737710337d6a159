"""The settings dialog: accounts, audio devices, codec order, call handling and start at login.

:class:`SettingsDialog` edits a copy of :class:`~softphone.store.Settings`;
*OK* or *Apply* writes it with :func:`~softphone.store.save_settings`, puts
new passwords in the OS keyring (never in the settings file), writes or
removes the XDG autostart entry, and hands what the running user agent can
change at once (do-not-disturb, auto-answer, forwarding, codec order) to the
core loop through the bridge (:func:`apply_to_ua`). Account changes take
effect at the next start: the facade has no way to replace an account of a
running UA.

Nothing here waits on the GUI thread: "Test connection" registers a
temporary :class:`~softphone.ua.UserAgent` on the core loop (or, without a
running core, on a short-lived thread of its own) and reports the outcome
through a queued signal; audio devices are listed, the test tone played and
the microphone meter's stream opened and closed on worker threads.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import math
import os
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.accounts import KEYRING_SERVICE, account_from_settings
from softphone.store import AccountSettings, ForwardingRule, Settings, save_settings
from softphone.ua import (
    Account,
    AccountError,
    Forwarding,
    RegistrationEvent,
    UserAgent,
    device_media,
    password_from_keyring,
    password_to_keyring,
)

if TYPE_CHECKING:
    from softphone.gui.bridge import UaBridge
    from softphone.gui.main_window import MainWindow

log = logging.getLogger("softphone.gui.settings")

TEST_TIMEOUT = 15.0
TRANSPORTS = ("udp", "tcp", "tls")
CODEC_TEXT = {
    "opus": "Opus — wideband, robust to loss",
    "PCMU": "G.711 µ-law (PCMU) — narrowband, everywhere",
    "PCMA": "G.711 A-law (PCMA) — narrowband, everywhere",
}
FORWARD_KINDS = (("always", "Always"), ("busy", "When busy"), ("no_answer", "When not answered"))
ECHO_HELP = (
    "Echo cancellation and noise suppression come from the sound system, which sees the real playback "
    "and capture clocks: load its echo-cancel module (PulseAudio or PipeWire: "
    "<code>pactl load-module module-echo-cancel aec_method=webrtc</code>) and choose the "
    "echo-cancelled devices above, or leave them on the system default. A headset needs none of this."
)
AUTOSTART_NAME = "softphone.desktop"

UaFactory = Callable[[Account], UserAgent]


# --- start at login -------------------------------------------------------------------------------


def autostart_path() -> Path:
    """``$XDG_CONFIG_HOME/autostart/softphone.desktop`` (``~/.config`` when the variable is unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    config = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return config / "autostart" / AUTOSTART_NAME


def _exec_line() -> str:
    installed = shutil.which("softphone")
    if installed:
        return f"{installed}"
    return f"{sys.executable} -m softphone.gui.app"


def desktop_entry() -> str:
    """The autostart entry (XDG Desktop Application Autostart Specification)."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Softphone\n"
        "Comment=SIP softphone, started at login\n"
        f"Exec={_exec_line()}\n"
        "Icon=softphone\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def autostart_enabled() -> bool:
    return autostart_path().is_file()


def set_autostart(enabled: bool) -> Path:
    """Write or remove the autostart entry; returns its path. Raises OSError when that is impossible."""
    path = autostart_path()
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(desktop_entry(), encoding="utf-8")
    else:
        path.unlink(missing_ok=True)
    return path


# --- what the running UA can take -----------------------------------------------------------------


def forwarding_for(settings: Settings, aor: str) -> tuple[Forwarding | None, str | None]:
    """The UA's forwarding for ``aor`` from the enabled rules, and a note when rules had to be merged.

    The UA forwards to one target per account: "always" wins; "busy" and "no answer" share a target
    when both are set (the busy rule's, when they differ).
    """
    rules = [r for r in settings.forwarding if r.enabled and r.target.strip() and r.account in (None, aor)]
    always = next((r for r in rules if r.always), None)
    if always is not None:
        return Forwarding(always.target.strip(), always=True), None
    busy = next((r for r in rules if r.busy), None)
    late = next((r for r in rules if r.no_answer is not None), None)
    if busy is None and late is None:
        return None, None
    target = (busy or late).target.strip()  # type: ignore[union-attr]
    note = None
    if busy is not None and late is not None and late.target.strip() != target:
        note = f"calls not answered go to {target} too: the phone forwards to one address at a time"
    return Forwarding(target, busy=busy is not None, no_answer=late.no_answer if late is not None else None), note


def apply_to_ua(settings: Settings, ua: UserAgent, *, only_set: bool = False) -> list[str]:
    """Give ``ua`` do-not-disturb, auto-answer, forwarding and the codec order of ``settings``.

    Call it on the UA's loop thread (or before the UA starts). ``only_set`` (at start-up) leaves what
    the settings do not ask for as the UA has it. Returns notes on what could not be applied exactly.
    """
    notes: list[str] = []
    if settings.do_not_disturb or not only_set:
        ua.busy = settings.do_not_disturb
    for account in ua.accounts:
        if settings.auto_answer is not None or not only_set:
            account.auto_answer = settings.auto_answer
        forwarding, note = forwarding_for(settings, account.aor)
        if forwarding is not None or not only_set:
            account.forwarding = forwarding
        if note:
            notes.append(note)
    order = [name.lower() for name in settings.codecs]

    def rank(codec: Any) -> int:
        name = str(getattr(codec, "name", "")).lower()
        return order.index(name) if name in order else len(order)

    codecs = getattr(getattr(ua, "audio", None), "codecs", None)
    if isinstance(codecs, list):
        codecs.sort(key=rank)
    return notes


async def test_registration(account: Account, factory: UaFactory, timeout: float = TEST_TIMEOUT) -> str:
    """Register ``account`` with a temporary UA made by ``factory``; ``"registered"`` or ``"failed: …"``."""
    ua = factory(account)
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[RegistrationEvent] = loop.create_future()

    def on_event(event: object) -> None:
        if isinstance(event, RegistrationEvent) and event.state in ("registered", "failed") and not outcome.done():
            outcome.set_result(event)

    ua.subscribe(on_event)
    try:
        await ua.start()
        await ua.register(account.aor)
        try:
            event = await asyncio.wait_for(outcome, timeout)
        except TimeoutError:
            return f"failed: no answer within {timeout:.0f} s"
    except Exception as exc:
        return f"failed: {exc or type(exc).__name__}"
    finally:
        try:
            await asyncio.wait_for(ua.stop(), 10.0)
        except Exception as exc:
            log.info("stopping the test user agent: %s", exc)
    if event.state == "registered":
        return "registered"
    why = f"{event.code} {event.reason}".strip() if event.code is not None else (event.reason or "no reason given")
    return f"failed: {why}"


def default_ua_factory(account: Account) -> UserAgent:
    return UserAgent([account])


class _Relay(QObject):
    """Carries results from worker threads to the GUI thread: its slot's object lives there, so the
    connection is queued when a worker emits."""

    done = Signal(object, object)  # callback, value

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.done.connect(self._run)

    @Slot(object, object)
    def _run(self, callback: Callable[[Any], None], value: object) -> None:
        callback(value)


def _deliver(relay: _Relay, callback: Callable[[Any], None], value: object) -> None:
    try:
        relay.done.emit(callback, value)
    except RuntimeError:
        pass  # the dialog is gone


class ConnectionTester:
    """Runs :func:`test_registration` without blocking: on the core loop when ``bridge`` runs, else on a thread."""

    def __init__(self, bridge: UaBridge | None, factory: UaFactory | None = None) -> None:
        self.bridge = bridge
        self.factory = factory or default_ua_factory
        self._relay = _Relay()
        self._threads: list[threading.Thread] = []

    def start(self, account: Account, on_result: Callable[[str], None]) -> None:
        bridge = self.bridge
        factory = self.factory
        if bridge is not None and bridge.loop is not None and bridge.running:
            bridge.run(
                lambda: test_registration(account, factory),
                on_done=on_result,
                on_error=lambda exc: on_result(f"failed: {exc}"),
            )
            return
        relay = self._relay

        def work() -> None:
            try:
                text = asyncio.run(test_registration(account, factory))
            except Exception as exc:
                text = f"failed: {exc}"
            _deliver(relay, on_result, text)

        thread = threading.Thread(target=work, name="softphone-core-test", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def join(self, timeout: float = 20.0) -> None:
        """Wait for private test threads (tests and shutdown only)."""
        for thread in self._threads:
            thread.join(timeout)


# --- the account editor -------------------------------------------------------------------------


class AccountEditor(QDialog):
    """Add or edit one account; the password goes to the keyring when the settings are applied."""

    def __init__(
        self,
        entry: AccountSettings | None,
        tester: ConnectionTester,
        parent: QWidget | None = None,
        *,
        has_password: bool = False,
    ) -> None:
        super().__init__(parent)
        self.tester = tester
        self.setWindowTitle("Edit account" if entry is not None else "Add account")
        self.setAccessibleName("Account editor")
        self.setMinimumWidth(480)
        entry = entry or AccountSettings(aor="")
        self.original = entry
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.aor = QLineEdit(entry.aor)
        self.aor.setPlaceholderText("sip:alice@example.com")
        self.aor.setAccessibleName("Address of record")
        self.display_name = QLineEdit(entry.display_name or "")
        self.display_name.setAccessibleName("Display name")
        self.auth_user = QLineEdit(entry.auth_user or "")
        self.auth_user.setPlaceholderText("optional: the user part of the address")
        self.auth_user.setAccessibleName("Authentication user")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("unchanged (kept in the system keyring)" if has_password else "")
        self.password.setAccessibleName("Password")
        self.registrar = QLineEdit(entry.registrar or "")
        self.registrar.setPlaceholderText("optional: the address's domain")
        self.registrar.setAccessibleName("Registrar")
        self.proxy = QLineEdit(entry.outbound_proxy or "")
        self.proxy.setPlaceholderText("optional")
        self.proxy.setAccessibleName("Outbound proxy")
        self.transport = QComboBox()
        self.transport.addItems(list(TRANSPORTS))
        self.transport.setCurrentText(entry.transport if entry.transport in TRANSPORTS else "udp")
        self.transport.setAccessibleName("Transport")
        self.register = QCheckBox("&Register with the server")
        self.register.setChecked(entry.register)
        self.register.setAccessibleName("Register with the server")
        self.register.setToolTip("Off: no server, calls and messages go straight to other phones on the LAN")
        form.addRow("&Address:", self.aor)
        form.addRow("&Display name:", self.display_name)
        form.addRow("A&uth user:", self.auth_user)
        form.addRow("&Password:", self.password)
        form.addRow("Re&gistrar:", self.registrar)
        form.addRow("&Outbound proxy:", self.proxy)
        form.addRow("&Transport:", self.transport)
        form.addRow("", self.register)
        layout.addLayout(form)

        test_row = QHBoxLayout()
        self.test_button = QPushButton("Test &connection")
        self.test_button.setAccessibleName("Test connection")
        self.test_button.setToolTip("Register once with these settings and say what the server answered")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = QLabel("")
        self.test_result.setWordWrap(True)
        self.test_result.setAccessibleName("Connection test result")
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        layout.addLayout(test_row)

        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setAccessibleName("Problem")
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setAccessibleName("OK")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.result_settings: AccountSettings | None = None
        self.result_password: str | None = None
        self.testing = False

    def build(self) -> tuple[AccountSettings, Account]:
        """The account the form describes (settings and a UA account); raises AccountError with what is wrong."""
        aor = self.aor.text().strip()
        if not aor:
            raise AccountError("the address is missing")
        if not aor.lower().startswith(("sip:", "sips:")):
            aor = f"sip:{aor}"
        entry = dataclasses.replace(
            self.original,
            aor=aor,
            display_name=self.display_name.text().strip() or None,
            auth_user=self.auth_user.text().strip() or None,
            registrar=self.registrar.text().strip() or None,
            outbound_proxy=self.proxy.text().strip() or None,
            transport=self.transport.currentText(),
            register=self.register.isChecked(),
            extra=dict(self.original.extra),
        )
        password = self.password.text()
        if not password and self.original.aor:
            password = password_from_keyring(self.original.aor, KEYRING_SERVICE) or ""
        return entry, account_from_settings(entry, password, register=True)

    def test_connection(self) -> None:
        try:
            _entry, account = self.build()
        except AccountError as exc:
            self.test_result.setText(f"failed: {exc}")
            return
        self.testing = True
        self.test_button.setEnabled(False)
        self.test_result.setText("testing …")
        self.test_result.setAccessibleName("Connection test result: testing")
        self.tester.start(account, self._tested)

    def _tested(self, text: str) -> None:
        self.testing = False
        self.test_button.setEnabled(True)
        self.test_result.setText(text)
        self.test_result.setAccessibleName(f"Connection test result: {text}")

    def accept(self) -> None:
        try:
            entry, _account = self.build()
        except AccountError as exc:
            self.problem.setText(str(exc))
            return
        self.result_settings = entry
        self.result_password = self.password.text() or None
        super().accept()


# --- the level meter and the test tone ----------------------------------------------------------


def _level_percent(level: float) -> int:
    """A linear 0..1 amplitude shown on a -60..0 dBFS scale."""
    if level <= 1e-6:
        return 0
    db = 20 * math.log10(min(level, 1.0))
    return max(0, min(100, round((db + 60) / 60 * 100)))


def test_tone(seconds: float = 1.0) -> Any:
    """A short two-note chime (float32, 48 kHz) from the tone generator."""
    import numpy as np

    from softphone.media.tones import ToneGenerator, ToneSpec

    rate = 48000
    half = int(seconds * rate / 2)
    first = ToneGenerator(ToneSpec((660.0,), level_dbfs=-14.0), rate).read_float(half)
    second = ToneGenerator(ToneSpec((880.0,), level_dbfs=-14.0), rate).read_float(half)
    return np.concatenate([first, second])


class AudioWorker:
    """Device listing, the test tone and the meter's stream, each on a daemon worker thread."""

    def __init__(self, relay: _Relay) -> None:
        self._relay = relay
        self._lock = threading.Lock()
        self._stream: Any = None
        self._generation = 0

    def list_devices(self, on_result: Callable[[object], None]) -> None:
        def work() -> None:
            try:
                from softphone.media.audio import list_devices

                result: object = list_devices()
            except Exception as exc:
                result = exc
            _deliver(self._relay, on_result, result)

        threading.Thread(target=work, name="softphone-audio-list", daemon=True).start()

    def play_tone(self, device: str | None, on_result: Callable[[object], None]) -> None:
        def work() -> None:
            try:
                from softphone.media.audio import BufferPlayer

                player = BufferPlayer(test_tone(), device, loop=False)
                player.start()
                try:
                    player.wait(5.0)
                finally:
                    player.stop()
                result: object = f"played on {player.device.name if player.device else 'the default output'}"
            except Exception as exc:
                result = exc
            _deliver(self._relay, on_result, result)

        threading.Thread(target=work, name="softphone-audio-tone", daemon=True).start()

    def open_meter(
        self, input_device: str | None, output_device: str | None, on_error: Callable[[object], None]
    ) -> None:
        """(Re)open the meter's stream on ``input_device``; the previous one is closed first."""
        self._generation += 1
        generation = self._generation

        def work() -> None:
            with self._lock:
                self._close_locked()
                if generation != self._generation:
                    return
                try:
                    from softphone.media.audio import AudioStream

                    stream = AudioStream(input_device, output_device, blocksize=960)
                    stream.start()
                    self._stream = stream
                except Exception as exc:
                    _deliver(self._relay, on_error, exc)

        threading.Thread(target=work, name="softphone-audio-meter", daemon=True).start()

    def level(self) -> float | None:
        stream = self._stream
        if stream is None:
            return None
        try:
            return float(stream.input_level("peak"))
        except Exception:
            return None

    def close(self) -> threading.Thread:
        self._generation += 1

        def work() -> None:
            with self._lock:
                self._close_locked()

        thread = threading.Thread(target=work, name="softphone-audio-close", daemon=True)
        thread.start()
        return thread

    def _close_locked(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except Exception as exc:
                log.info("closing the meter's audio stream: %s", exc)


# --- the dialog -----------------------------------------------------------------------------------


class SettingsDialog(QDialog):
    """Edits the settings; see the module documentation. ``applied(Settings)`` after each save."""

    applied = Signal(object)

    def __init__(
        self,
        settings: Settings,
        settings_path: Path | None,
        bridge: UaBridge | None = None,
        parent: QWidget | None = None,
        *,
        ua_factory: UaFactory | None = None,
        audio: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self.original = settings
        self.settings = copy.deepcopy(settings)
        self.settings_path = settings_path
        self.bridge = bridge
        self.tester = ConnectionTester(bridge, ua_factory)
        self.pending_passwords: dict[str, str] = {}
        self.notes: list[str] = []
        self._relay = _Relay(self)
        self.audio_enabled = audio
        self.audio = AudioWorker(self._relay)
        self.devices: list[Any] | None = None
        self._meter_open = False
        self.closer: threading.Thread | None = None
        self.resize(560, 520)

        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Settings sections")
        self.tabs.addTab(self._make_accounts_tab(), "Accounts")
        self.tabs.addTab(self._make_audio_tab(), "Audio")
        self.tabs.addTab(self._make_codecs_tab(), "Codecs")
        self.tabs.addTab(self._make_calls_tab(), "Calls")
        self.tabs.addTab(self._make_general_tab(), "General")
        layout.addWidget(self.tabs, 1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Settings status")
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel
        )
        for which, name in (
            (QDialogButtonBox.StandardButton.Ok, "OK"),
            (QDialogButtonBox.StandardButton.Apply, "Apply"),
            (QDialogButtonBox.StandardButton.Cancel, "Cancel"),
        ):
            buttons.button(which).setAccessibleName(name)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        layout.addWidget(buttons)

        for spin in self.findChildren(QAbstractSpinBox):
            for editor in spin.findChildren(QLineEdit):
                editor.setAccessibleName(spin.accessibleName())  # screen readers land on the spin box's editor
        self.meter_timer = QTimer(self)
        self.meter_timer.setInterval(100)
        self.meter_timer.timeout.connect(self._update_meter)
        if audio:
            self.audio.list_devices(self._devices_listed)
        else:
            self._devices_listed(RuntimeError("audio devices are not used here"))

    # --- accounts ---------------------------------------------------------------------------

    def _make_accounts_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.account_list = QListWidget()
        self.account_list.setAccessibleName("Accounts")
        self.account_list.itemActivated.connect(lambda _item: self.edit_account())
        layout.addWidget(self.account_list, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton("&Add…")
        self.add_button.setAccessibleName("Add account")
        self.add_button.clicked.connect(lambda: self.edit_account(new=True))
        self.edit_button = QPushButton("&Edit…")
        self.edit_button.setAccessibleName("Edit account")
        self.edit_button.clicked.connect(lambda: self.edit_account())
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setAccessibleName("Remove account")
        self.remove_button.clicked.connect(self.remove_account)
        for button in (self.add_button, self.edit_button, self.remove_button):
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        note = QLabel(
            "Passwords are kept in the system keyring, never in the settings file. "
            "Account changes take effect when the softphone starts again."
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        self.refresh_accounts()
        return page

    def refresh_accounts(self) -> None:
        current = self.account_list.currentRow()
        self.account_list.clear()
        for entry in self.settings.accounts:
            server = (entry.registrar or entry.aor.split("@")[-1]).split(";", 1)[0].removeprefix("sip:")
            how = f"registers at {server}" if entry.register else "LAN only"
            name = f"{entry.display_name} " if entry.display_name else ""
            disabled = "" if entry.enabled else " (disabled)"
            item = QListWidgetItem(f"{name}<{entry.aor}> — {how}, {entry.transport.upper()}{disabled}")
            item.setData(Qt.ItemDataRole.UserRole, entry.aor)
            self.account_list.addItem(item)
        if self.settings.accounts:
            self.account_list.setCurrentRow(min(max(current, 0), len(self.settings.accounts) - 1))
        has = bool(self.settings.accounts)
        self.edit_button.setEnabled(has)
        self.remove_button.setEnabled(has)

    def account_editor(self, index: int | None) -> AccountEditor:
        """The editor for account ``index`` (None: a new one), not yet shown."""
        entry = self.settings.accounts[index] if index is not None else None
        has_password = entry is not None and (
            entry.aor in self.pending_passwords or password_from_keyring(entry.aor, KEYRING_SERVICE) is not None
        )
        return AccountEditor(entry, self.tester, self, has_password=has_password)

    def edit_account(self, new: bool = False) -> AccountEditor | None:
        index = None if new else self.account_list.currentRow()
        if index is not None and not 0 <= index < len(self.settings.accounts):
            return None
        editor = self.account_editor(index)
        editor.finished.connect(lambda _code: self.take_account(editor, index))
        editor.open()
        return editor

    def take_account(self, editor: AccountEditor, index: int | None) -> None:
        """Keep what an accepted editor describes (called when it closes)."""
        entry = editor.result_settings
        if editor.result() != QDialog.DialogCode.Accepted or entry is None:
            return
        if index is None:
            self.settings.accounts.append(entry)
        else:
            old = self.settings.accounts[index]
            if old.aor != entry.aor and old.aor in self.pending_passwords:
                self.pending_passwords[entry.aor] = self.pending_passwords.pop(old.aor)
            self.settings.accounts[index] = entry
        if editor.result_password:
            self.pending_passwords[entry.aor] = editor.result_password
        elif index is not None and self.settings.accounts[index].aor != editor.original.aor:
            kept = password_from_keyring(editor.original.aor, KEYRING_SERVICE)
            if kept:
                self.pending_passwords[entry.aor] = kept  # the address changed: the password moves with it
        self.refresh_accounts()
        self.account_list.setCurrentRow(len(self.settings.accounts) - 1 if index is None else index)

    def remove_account(self) -> None:
        index = self.account_list.currentRow()
        if 0 <= index < len(self.settings.accounts):
            entry = self.settings.accounts.pop(index)
            self.pending_passwords.pop(entry.aor, None)
            self.refresh_accounts()

    # --- audio ------------------------------------------------------------------------------

    def _make_audio_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        form = QFormLayout()
        self.input_combo = QComboBox()
        self.input_combo.setAccessibleName("Microphone")
        self.output_combo = QComboBox()
        self.output_combo.setAccessibleName("Speaker")
        self.ringing_combo = QComboBox()
        self.ringing_combo.setAccessibleName("Ringing device")
        for combo in (self.input_combo, self.output_combo, self.ringing_combo):
            combo.addItem("System default", None)
            combo.setEnabled(False)
        self.input_combo.currentIndexChanged.connect(lambda _i: self._reopen_meter())
        out_row = QHBoxLayout()
        out_row.addWidget(self.output_combo, 1)
        self.tone_button = QPushButton("&Test")
        self.tone_button.setAccessibleName("Play a test tone on the speaker")
        self.tone_button.setToolTip("Play a short chime on the chosen speaker")
        self.tone_button.setEnabled(False)
        self.tone_button.clicked.connect(self.play_test_tone)
        out_row.addWidget(self.tone_button)
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.meter.setAccessibleName("Microphone level")
        self.meter.setToolTip("What the chosen microphone hears now (-60 to 0 dBFS)")
        form.addRow("&Microphone:", self.input_combo)
        form.addRow("Level:", self.meter)
        speaker_label = QLabel("&Speaker:")
        speaker_label.setBuddy(self.output_combo)
        form.addRow(speaker_label, out_row)
        form.addRow("&Ringing on:", self.ringing_combo)
        layout.addLayout(form)
        self.audio_status = QLabel("Looking for audio devices …")
        self.audio_status.setWordWrap(True)
        self.audio_status.setAccessibleName("Audio status")
        layout.addWidget(self.audio_status)
        echo = QGroupBox("Echo cancellation")
        echo_layout = QVBoxLayout(echo)
        self.echo_check = QCheckBox("Use the sound system's &echo cancellation")
        self.echo_check.setAccessibleName("Echo cancellation")
        self.echo_check.setChecked(self.settings.audio.echo_cancellation)
        explanation = QLabel(ECHO_HELP)
        explanation.setWordWrap(True)
        explanation.setTextFormat(Qt.TextFormat.RichText)
        explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        echo_layout.addWidget(self.echo_check)
        echo_layout.addWidget(explanation)
        layout.addWidget(echo)
        layout.addStretch(1)
        return page

    def _devices_listed(self, result: object) -> None:
        audio = self.settings.audio
        if isinstance(result, BaseException) or not isinstance(result, list):
            self.devices = []
            self.audio_status.setText(f"No audio devices: {result}")
        else:
            self.devices = result
            inputs = [d.name for d in result if d.max_input_channels > 0]
            outputs = [d.name for d in result if d.max_output_channels > 0]
            self._fill(self.input_combo, inputs, audio.input_device)
            self._fill(self.output_combo, outputs, audio.output_device)
            self._fill(self.ringing_combo, outputs, audio.ringing_device)
            if not inputs and not outputs:
                self.audio_status.setText("No audio devices found: calls have no sound on this computer.")
            else:
                self.audio_status.setText(
                    f"{len(inputs)} microphone{'s' if len(inputs) != 1 else ''}, "
                    f"{len(outputs)} speaker{'s' if len(outputs) != 1 else ''} found."
                )
            self.tone_button.setEnabled(bool(outputs))
        self._reopen_meter()

    @staticmethod
    def _fill(combo: QComboBox, names: Sequence[str], chosen: str | None) -> None:
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("System default", None)
        for name in dict.fromkeys(names):
            combo.addItem(name, name)
        if chosen is not None and chosen not in names:
            combo.addItem(f"{chosen} (not connected)", chosen)
        index = combo.findData(chosen)
        combo.setCurrentIndex(max(index, 0))
        combo.setEnabled(bool(names))
        combo.blockSignals(False)

    def _has_inputs(self) -> bool:
        return bool(self.devices) and any(d.max_input_channels > 0 for d in self.devices or [])

    def _reopen_meter(self) -> None:
        if not self.isVisible() or not self._has_inputs():
            return
        device = self.input_combo.currentData()
        output = self.output_combo.currentData()
        self._meter_open = True
        self.audio.open_meter(device, output, self._meter_failed)
        self.meter_timer.start()

    def _meter_failed(self, exc: object) -> None:
        self.audio_status.setText(f"The microphone cannot be opened: {exc}")

    def _update_meter(self) -> None:
        level = self.audio.level()
        percent = _level_percent(level) if level is not None else 0
        self.meter.setValue(percent)
        self.meter.setAccessibleDescription(f"{percent} percent")

    def play_test_tone(self) -> None:
        if not self.devices or not any(d.max_output_channels > 0 for d in self.devices):
            self.audio_status.setText("No speaker to play a test tone on.")
            return
        self.tone_button.setEnabled(False)
        self.audio_status.setText("Playing a test tone …")
        self.audio.play_tone(self.output_combo.currentData(), self._tone_done)

    def _tone_done(self, result: object) -> None:
        self.tone_button.setEnabled(True)
        if isinstance(result, BaseException):
            self.audio_status.setText(f"The test tone could not be played: {result}")
        else:
            self.audio_status.setText(f"Test tone {result}.")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._meter_open:
            self._reopen_meter()

    def done(self, result: int) -> None:
        self.close_audio()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.close_audio()
        super().closeEvent(event)

    def close_audio(self) -> threading.Thread | None:
        """Close the meter's stream (on a worker thread); returns that thread (None: nothing was open)."""
        self.meter_timer.stop()
        if not self._meter_open:
            return self.closer
        self._meter_open = False
        self.closer = self.audio.close()
        return self.closer

    # --- codecs -----------------------------------------------------------------------------

    def _make_codecs_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel("Offered in this order (the first one the other phone has is used):"))
        row = QHBoxLayout()
        self.codec_list = QListWidget()
        self.codec_list.setAccessibleName("Codec order")
        known = [c for c in self.settings.codecs if c in CODEC_TEXT]
        known += [c for c in CODEC_TEXT if c not in known]
        for name in known:
            item = QListWidgetItem(CODEC_TEXT[name])
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.codec_list.addItem(item)
        self.codec_list.setCurrentRow(0)
        row.addWidget(self.codec_list, 1)
        buttons = QVBoxLayout()
        self.codec_up = QPushButton("&Up")
        self.codec_up.setAccessibleName("Move codec up")
        self.codec_up.clicked.connect(lambda: self.move_codec(-1))
        self.codec_down = QPushButton("&Down")
        self.codec_down.setAccessibleName("Move codec down")
        self.codec_down.clicked.connect(lambda: self.move_codec(1))
        buttons.addWidget(self.codec_up)
        buttons.addWidget(self.codec_down)
        buttons.addStretch(1)
        row.addLayout(buttons)
        layout.addLayout(row)
        info = QLabel("Telephone events (DTMF, RFC 4733) are always offered with each codec.")
        info.setWordWrap(True)
        layout.addWidget(info)
        return page

    def move_codec(self, step: int) -> None:
        row = self.codec_list.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.codec_list.count():
            return
        item = self.codec_list.takeItem(row)
        self.codec_list.insertItem(target, item)
        self.codec_list.setCurrentRow(target)

    def codec_order(self) -> list[str]:
        return [str(self.codec_list.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.codec_list.count())]

    # --- calls ------------------------------------------------------------------------------

    def _make_calls_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        answer = QGroupBox("Answering")
        grid = QGridLayout(answer)
        self.auto_answer = QCheckBox("&Answer calls automatically after")
        self.auto_answer.setAccessibleName("Auto-answer")
        self.auto_answer.setChecked(self.settings.auto_answer is not None)
        self.auto_answer_delay = QDoubleSpinBox()
        self.auto_answer_delay.setRange(0.0, 60.0)
        self.auto_answer_delay.setDecimals(1)
        self.auto_answer_delay.setSingleStep(0.5)
        self.auto_answer_delay.setSuffix(" s")
        self.auto_answer_delay.setValue(self.settings.auto_answer or 0.0)
        self.auto_answer_delay.setAccessibleName("Auto-answer delay in seconds")
        self.auto_answer.toggled.connect(self.auto_answer_delay.setEnabled)
        self.auto_answer_delay.setEnabled(self.auto_answer.isChecked())
        self.dnd = QCheckBox("Do &not disturb: callers hear busy (or are forwarded when busy)")
        self.dnd.setAccessibleName("Do not disturb")
        self.dnd.setChecked(self.settings.do_not_disturb)
        grid.addWidget(self.auto_answer, 0, 0)
        grid.addWidget(self.auto_answer_delay, 0, 1)
        grid.addWidget(self.dnd, 1, 0, 1, 2)
        layout.addWidget(answer)

        forward = QGroupBox("Forwarding")
        fgrid = QGridLayout(forward)
        self.forward_checks: dict[str, QCheckBox] = {}
        self.forward_targets: dict[str, QLineEdit] = {}
        rules = {kind: self._rule(kind) for kind, _text in FORWARD_KINDS}
        for row, (kind, text) in enumerate(FORWARD_KINDS):
            check = QCheckBox(text)
            check.setAccessibleName(f"Forward {text.lower()}")
            target = QLineEdit()
            target.setPlaceholderText("sip:voicemail@example.com or a number")
            target.setAccessibleName(f"Forward {text.lower()} to")
            rule = rules[kind]
            if rule is not None:
                check.setChecked(rule.enabled)
                target.setText(rule.target)
            target.setEnabled(check.isChecked())
            check.toggled.connect(target.setEnabled)
            self.forward_checks[kind] = check
            self.forward_targets[kind] = target
            fgrid.addWidget(check, row, 0)
            fgrid.addWidget(target, row, 1)
        late = rules["no_answer"]
        self.no_answer_delay = QSpinBox()
        self.no_answer_delay.setRange(1, 300)
        self.no_answer_delay.setSuffix(" s")
        self.no_answer_delay.setValue(int(late.no_answer) if late is not None and late.no_answer else 20)
        self.no_answer_delay.setAccessibleName("Forward when not answered after, seconds")
        self.no_answer_delay.setEnabled(self.forward_checks["no_answer"].isChecked())
        self.forward_checks["no_answer"].toggled.connect(self.no_answer_delay.setEnabled)
        fgrid.addWidget(QLabel("after"), len(FORWARD_KINDS), 0, Qt.AlignmentFlag.AlignRight)
        fgrid.addWidget(self.no_answer_delay, len(FORWARD_KINDS), 1, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(forward)
        hint = QLabel("Forwarded callers are redirected (302) to the target; their phone calls it.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addStretch(1)
        return page

    def _rule(self, kind: str) -> ForwardingRule | None:
        for rule in self.settings.forwarding:
            if rule.account is None and (
                (kind == "always" and rule.always)
                or (kind == "busy" and rule.busy)
                or (kind == "no_answer" and rule.no_answer is not None)
            ):
                return rule
        return None

    def forwarding_rules(self) -> list[ForwardingRule]:
        kept = [r for r in self.settings.forwarding if r.account is not None]
        for kind, _text in FORWARD_KINDS:
            target = self.forward_targets[kind].text().strip()
            enabled = self.forward_checks[kind].isChecked()
            if not target:
                continue
            old = self._rule(kind)
            extra = dict(old.extra) if old is not None else {}
            kept.append(
                ForwardingRule(
                    target,
                    always=kind == "always",
                    busy=kind == "busy",
                    no_answer=float(self.no_answer_delay.value()) if kind == "no_answer" else None,
                    enabled=enabled,
                    extra=extra,
                )
            )
        return kept

    # --- general ----------------------------------------------------------------------------

    def _make_general_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.autostart = QCheckBox("&Start the softphone when I log in")
        self.autostart.setAccessibleName("Start at login")
        self.autostart.setChecked(autostart_enabled())
        layout.addWidget(self.autostart)
        path = autostart_path()
        shown = f"~/{path.relative_to(Path.home())}" if path.is_relative_to(Path.home()) else str(path)
        where = QLabel(f"Adds {shown} (the desktop's autostart folder).")
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(where)
        if self.settings_path is not None:
            saved = QLabel(f"Settings file: {self.settings_path}")
            saved.setWordWrap(True)
            saved.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(saved)
        layout.addStretch(1)
        return page

    # --- applying ---------------------------------------------------------------------------

    def collect(self) -> Settings:
        """The settings as the form shows them (accounts as edited)."""
        settings = self.settings
        audio = settings.audio
        if self.input_combo.isEnabled() or self.devices:
            audio.input_device = self.input_combo.currentData()
            audio.output_device = self.output_combo.currentData()
            audio.ringing_device = self.ringing_combo.currentData()
        audio.echo_cancellation = self.echo_check.isChecked()
        others = [c for c in settings.codecs if c not in CODEC_TEXT]
        settings.codecs = self.codec_order() + others
        settings.auto_answer = float(self.auto_answer_delay.value()) if self.auto_answer.isChecked() else None
        settings.do_not_disturb = self.dnd.isChecked()
        settings.forwarding = self.forwarding_rules()
        return settings

    def apply(self) -> bool:
        """Save, store passwords, set autostart and hand the call settings to the UA; False on a problem."""
        settings = self.collect()
        problems: list[str] = []
        for aor, password in list(self.pending_passwords.items()):
            try:
                password_to_keyring(aor, password, KEYRING_SERVICE)
            except AccountError as exc:
                problems.append(f"The password of {aor} could not be kept in the system keyring: {exc}")
            else:
                del self.pending_passwords[aor]
        before = (self.original.audio.input_device, self.original.audio.output_device)
        devices_changed = before != (settings.audio.input_device, settings.audio.output_device)
        for f in dataclasses.fields(Settings):
            setattr(self.original, f.name, copy.deepcopy(getattr(settings, f.name)))
        if self.settings_path is not None:
            try:
                save_settings(self.original, self.settings_path)
            except OSError as exc:
                problems.append(f"The settings could not be saved: {exc}")
        try:
            set_autostart(self.autostart.isChecked())
        except OSError as exc:
            problems.append(f"Start at login could not be changed: {exc}")
        self.notes = self._apply_to_running_ua(settings, devices_changed)
        text = " ".join(problems + [n[0].upper() + n[1:] + "." for n in self.notes])
        self.status.setText(text or "Saved.")
        self.applied.emit(self.original)
        return not problems

    def _apply_to_running_ua(self, settings: Settings, devices_changed: bool = False) -> list[str]:
        bridge = self.bridge
        ua = bridge.ua if bridge is not None else None
        if bridge is None or ua is None or bridge.loop is None:
            return []
        snapshot = copy.deepcopy(settings)
        notes: list[str] = []
        for account in ua.accounts:
            _forwarding, note = forwarding_for(snapshot, account.aor)
            if note:
                notes.append(note)
        bridge.call(apply_to_ua, snapshot, ua, on_error=lambda exc: self.status.setText(f"Not applied: {exc}"))
        if devices_changed:
            # The next call opens the chosen microphone and speaker; a call in progress keeps its devices.
            media = device_media(snapshot.audio.input_device, snapshot.audio.output_device)
            bridge.call(setattr, ua, "media", media)
        return list(dict.fromkeys(notes))

    def accept(self) -> None:
        if self.apply():
            super().accept()


def show_settings(window: MainWindow) -> SettingsDialog:
    """Open the settings dialog for the main window (non-modal to the phone: calls keep working)."""
    existing = getattr(window, "_settings_dialog", None)
    try:
        if isinstance(existing, SettingsDialog) and existing.isVisible():
            existing.raise_()
            existing.activateWindow()
            return existing
    except RuntimeError:
        pass  # closed: deleted with its window (WA_DeleteOnClose)
    dialog = SettingsDialog(window.settings, window.settings_path, window.bridge, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window._settings_dialog = dialog  # type: ignore[attr-defined]

    def applied(settings: Settings) -> None:
        window.ringer.device = settings.audio.ringing_device or settings.audio.output_device

    dialog.applied.connect(applied)
    dialog.show()
    return dialog

"""The settings dialog: accounts, audio devices, codec order, call handling and start at login.

:class:`SettingsDialog` edits a copy of :class:`~softphone.store.Settings`
on seven pages, each a module of its own (:mod:`~softphone.gui.settings_accounts`,
:mod:`~softphone.gui.settings_audio`, :mod:`~softphone.gui.settings_calls`
for codecs and calls, :mod:`~softphone.gui.settings_video`, :mod:`~softphone.gui.paging`,
:mod:`~softphone.gui.settings_general`). *OK* or
*Apply* writes it with :func:`~softphone.store.save_settings`, keeps new
passwords where the user chose (keyring, a file only the user may read, or
nowhere; never the settings file), writes or removes the XDG autostart
entry, and hands what the running user agent can change at once
(do-not-disturb, auto-answer, forwarding, codec order) to the core loop
through the bridge (:func:`~softphone.gui.settings_calls.apply_to_ua`).
Accounts added, edited, disabled or removed take effect at once too:
``accounts_applied(passwords)`` tells the main window, which hands them to
the running UA (:meth:`~softphone.gui.main_window.MainWindow.apply_accounts`).

Nothing here waits on the GUI thread: "Test connection" registers a
temporary :class:`~softphone.ua.UserAgent` on the core loop (or, without a
running core, on a short-lived thread of its own) and audio devices are
listed, the test tone played and the microphone meter's stream opened and
closed on worker threads; their outcomes come back through queued signals.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.paging import PagingPage, apply_paging
from softphone.gui.settings_accounts import AccountsPage, ConnectionTester, UaFactory
from softphone.gui.settings_audio import AudioPage, processing_from
from softphone.gui.settings_calls import CallsPage, CodecsPage, apply_to_ua, forwarding_for
from softphone.gui.settings_general import GeneralPage
from softphone.gui.settings_video import VideoPage, video_settings
from softphone.store import Settings, save_settings
from softphone.ua import cannot, device_media

if TYPE_CHECKING:
    from softphone.gui.bridge import UaBridge
    from softphone.gui.main_window import MainWindow


class SettingsDialog(QDialog):
    """Edits the settings; see the module documentation. ``applied(Settings)`` after each save, and
    ``accounts_applied(dict)`` with the passwords typed since the last one (by address)."""

    applied = Signal(object)
    accounts_applied = Signal(object)

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
        self.setWindowTitle(self.tr("Settings"))
        self.setAccessibleName(self.tr("Settings"))
        self.original = settings
        self.settings = copy.deepcopy(settings)
        self.settings_path = settings_path
        self.bridge = bridge
        self.tester = ConnectionTester(bridge, ua_factory, self)
        self.notes: list[str] = []
        self.resize(560, 520)

        layout = QVBoxLayout(self)
        self.accounts_page = AccountsPage(self.settings, self.tester)
        self.audio_page = AudioPage(self.settings, enabled=audio)
        self.codecs_page = CodecsPage(self.settings)
        self.calls_page = CallsPage(self.settings)
        self.paging_page = PagingPage(self.settings)
        self.video_page = VideoPage(self.settings)
        self.general_page = GeneralPage(settings_path)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName(self.tr("Settings sections"))
        self.tabs.addTab(self.accounts_page, self.tr("Accounts"))
        self.tabs.addTab(self.audio_page, self.tr("Audio"))
        self.tabs.addTab(self.codecs_page, self.tr("Codecs"))
        self.tabs.addTab(self.calls_page, self.tr("Calls"))
        self.tabs.addTab(self.video_page, self.tr("Video"))
        self.tabs.addTab(self.paging_page, self.tr("Paging"))
        self.tabs.addTab(self.general_page, self.tr("General"))
        layout.addWidget(self.tabs, 1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setAccessibleName(self.tr("Settings status"))
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

    # --- the meter's stream follows the dialog --------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.audio_page.start_meter()

    def done(self, result: int) -> None:
        self.audio_page.close_audio()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.audio_page.close_audio()
        super().closeEvent(event)

    # --- applying ---------------------------------------------------------------------------

    def collect(self) -> Settings:
        """The settings as the form shows them (accounts as edited)."""
        settings = self.settings
        self.audio_page.collect_into(settings)
        self.codecs_page.collect_into(settings)
        self.calls_page.collect_into(settings)
        self.paging_page.collect_into(settings)
        self.video_page.collect_into(settings)
        return settings

    def apply(self) -> bool:
        """Save, keep passwords, set autostart and hand the call settings to the UA; False on a problem.

        A password that could not go where it was meant to is a note, not a problem: the account is
        saved and used all the same."""
        settings = self.collect()
        typed, password_notes = self.accounts_page.store_passwords()
        problems: list[str] = []
        before = (
            self.original.audio.input_device,
            self.original.audio.output_device,
            processing_from(self.original.audio),
        )
        devices_changed = before != (
            settings.audio.input_device,
            settings.audio.output_device,
            processing_from(settings.audio),
        )
        for f in dataclasses.fields(Settings):
            if f.name == "windows":
                continue  # where the windows are moved on while the dialog was open
            setattr(self.original, f.name, copy.deepcopy(getattr(settings, f.name)))
        if self.settings_path is not None:
            try:
                save_settings(self.original, self.settings_path)
            except OSError as exc:
                problems.append(self.tr("The settings could not be saved: {error}").format(error=exc))
        problems += self.general_page.apply()
        self.notes = self._apply_to_running_ua(settings, devices_changed)
        text = " ".join(problems + password_notes + [n[0].upper() + n[1:] + "." for n in self.notes])
        self.status.setText(text or self.tr("Saved."))
        self.applied.emit(self.original)
        self.accounts_applied.emit(typed)
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
        bridge.call(
            apply_to_ua,
            snapshot,
            ua,
            on_error=lambda exc: self.status.setText(cannot("apply the call settings", str(exc))),
        )
        if devices_changed:
            # The next call opens the chosen microphone and speaker; a call in progress keeps its devices.
            media = device_media(
                snapshot.audio.input_device, snapshot.audio.output_device, processing_from(snapshot.audio)
            )
            bridge.call(setattr, ua, "media", media)
        # Calls from now on; a call in progress keeps what it has.
        bridge.call(setattr, ua, "video", video_settings(snapshot.video))
        notes += apply_paging(bridge, snapshot.paging, self.status.setText)
        return list(dict.fromkeys(notes))

    def accept(self) -> None:
        if self.apply():
            super().accept()


def show_settings(window: MainWindow) -> SettingsDialog:
    """Open the settings dialog for the main window (non-modal to the phone: calls keep working)."""
    existing = window._settings_dialog
    try:
        if existing is not None and existing.isVisible():
            existing.raise_()
            existing.activateWindow()
            return existing
    except RuntimeError:
        pass  # closed: deleted with its window (WA_DeleteOnClose)
    dialog = SettingsDialog(window.settings, window.settings_path, window.bridge, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window._settings_dialog = dialog

    def applied(settings: Settings) -> None:
        window.ringer.device = settings.audio.ringing_device or settings.audio.output_device
        window.ringer.tone = settings.audio.ringtone
        window.call_window.video_source = None if settings.video.source == "none" else settings.video.source

    dialog.applied.connect(applied)
    dialog.accounts_applied.connect(window.apply_accounts)
    dialog.show()
    return dialog

"""The main window: accounts, presence, the dial field and pad, contacts and call history.

It reacts to UA events (through :class:`~softphone.gui.bridge.UaBridge`, on
the GUI thread) and owns the other windows: the call window, one
incoming-call window per ringing call, and the tray icon. It reads the store
directly (contacts, history: quick SQLite reads) and sends every UA command
through the bridge, which never blocks.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QPoint, QStringListModel, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSystemTrayIcon,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from softphone import __version__
from softphone.desktop_files import icons_dir
from softphone.gui.account_status import AccountRow, AccountsArea
from softphone.gui.accounts import AccountChanges, account_changes, apply_account_changes
from softphone.gui.bridge import UaBridge
from softphone.gui.buddies import BuddyList
from softphone.gui.call_window import CallWindow
from softphone.gui.certificate import ask_to_trust
from softphone.gui.chat import ChatWindow
from softphone.gui.contact_dialog import ContactDialog
from softphone.gui.dial_pad import DialPad
from softphone.gui.dialing import dial_target
from softphone.gui.history_view import (
    PEER_NAME_ROLE,
    RECORD_ID_ROLE,
    HistoryDelegate,
    completions,
    contact_names,
    history_item,
)
from softphone.gui.i18n import translate
from softphone.gui.icons import app_icon, badge_icon, icon
from softphone.gui.incoming import IncomingCallWindow
from softphone.gui.incoming_calls import IncomingCalls
from softphone.gui.notifications import Notifications
from softphone.gui.paging import PageButton, apply_paging
from softphone.gui.passwords import PasswordAsker
from softphone.gui.presence_selector import PRESENCE_RPID, PresenceSelector
from softphone.gui.ringer import Ringer
from softphone.gui.style import ACCEPT, PlaceholderList, accent
from softphone.gui.text import notification_text
from softphone.gui.window_places import WindowPlaces
from softphone.store import AccountSettings, Contact, Settings, Store, save_settings
from softphone.ua import (
    Account,
    CallEvent,
    ErrorEvent,
    IncomingCallEvent,
    MwiEvent,
    NetworkChangeEvent,
    PageEndedEvent,
    PageStartedEvent,
    RegistrationEvent,
    address_shown,
    call_problem,
    cannot,
    registration_problem,
)

if TYPE_CHECKING:
    from softphone.gui.about import AboutDialog
    from softphone.gui.settings_dialog import SettingsDialog
    from softphone.gui.trace import TraceWindow

log = logging.getLogger("softphone.gui")

HISTORY_LIMIT = 200
SEEN_KEY = "history_seen"
__all__ = ["AccountRow", "MainWindow", "window_title"]


def window_title(missed: int) -> str:
    """The main window's title. It ends with the application's name, so Qt does not add that name again
    (it appends the display name to every title that does not already end with it)."""
    if missed:
        return translate("MainWindow", "%n missed call(s) — Softphone", "", missed)
    return "Softphone"


class MainWindow(QMainWindow):
    """The application's main window. ``bridge`` must be started (or about to be) with the UA."""

    missed_changed = Signal(int)
    quit_requested = Signal()

    def __init__(
        self,
        bridge: UaBridge,
        store: Store | None,
        settings: Settings | None = None,
        *,
        accounts: Sequence[Account] | None = None,
        settings_path: Path | None = None,
        recordings_dir: Path | None = None,
        ringer: Ringer | None = None,
        use_tray: bool = True,
        desktop_notifications: bool = False,
        problems: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.bridge = bridge
        self.store = store
        self.settings = settings if settings is not None else Settings()
        self.settings_path = settings_path
        # Certificates already offered for trust in this run (a refused one is not asked again).
        self._trust_asked: set[str] = set()
        self.trust_box: QMessageBox | None = None
        self.recordings_dir = recordings_dir if recordings_dir is not None else Path.cwd()
        self.ringer = ringer if ringer is not None else Ringer(enabled=False)
        if accounts is None:
            accounts = list(bridge.ua.accounts) if bridge.ua is not None else []
        self.accounts = list(accounts)
        self.tray: QSystemTrayIcon | None = None
        self.notifications = Notifications(
            bridge,
            self._tray_message,
            enabled=desktop_notifications,
            icon_path=str(icons_dir() / "softphone.svg"),
            parent=self,
        )
        self.incoming_calls = IncomingCalls(bridge, store, lambda: self.ringer, self.notifications, self.show_error)
        self.voicemail_uri: str | None = None
        self.mwi_count = 0
        self.quitting = False
        self._settings_dialog: SettingsDialog | None = None
        self._trace_window: TraceWindow | None = None
        self.about_dialog: AboutDialog | None = None
        self.places = WindowPlaces(self.settings, self._save_settings, self)
        # Passwords typed in a prompt and kept nowhere: needed again when the account is edited.
        self.session_passwords: dict[str, str] = {}
        self.passwords = PasswordAsker(
            self, self._account_entry, self._save_settings, self._use_password, self.show_error
        )

        self.setWindowTitle(self.tr("Softphone"))
        self.setWindowIcon(app_icon())
        self.setAccessibleName(self.tr("Softphone main window"))
        self.resize(380, 600)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(self._make_account_area())
        self.presence_selector = PresenceSelector(self.settings.presence_note)
        self.presence_combo = self.presence_selector.combo
        self.presence_note = self.presence_selector.note
        self.presence_selector.edited.connect(self.apply_presence)
        layout.addWidget(self.presence_selector)
        layout.addLayout(self._make_dial_area())
        self.dialpad = DialPad(self.dialpad_pressed, self.tr("Dial pad"))
        self.dialpad.setVisible(False)
        layout.addWidget(self.dialpad)
        self.mwi_button = QPushButton(icon("voicemail"), "")
        self.mwi_button.setFlat(True)
        self.mwi_button.setAccessibleName(self.tr("Voice messages"))
        self.mwi_button.setVisible(False)
        self.mwi_button.clicked.connect(self.call_voicemail)
        layout.addWidget(self.mwi_button)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName(self.tr("Contacts and history"))
        self.contacts_tab = self._make_contacts_tab()
        self.tabs.addTab(self.contacts_tab, self.tr("Contacts"))
        self.history_list = self._make_history_tab()
        self.history_index = self.tabs.addTab(self.history_list, self.tr("History"))
        self.tabs.currentChanged.connect(self._tab_changed)
        layout.addWidget(self.tabs, 1)
        self.version_label = QLabel(self.tr("Softphone {version}").format(version=__version__))
        self.version_label.setAccessibleName(self.tr("Version"))
        self.statusBar().addPermanentWidget(self.version_label)
        self.setCentralWidget(central)

        self.call_window = CallWindow(bridge, store, self.recordings_dir)
        video_source = self.settings.video.source
        self.call_window.video_source = None if video_source == "none" else video_source
        if use_tray and QSystemTrayIcon.isSystemTrayAvailable():
            self._make_tray()

        self._make_menus()
        QShortcut(QKeySequence("Ctrl+L"), self, self.focus_dial)
        QShortcut(QKeySequence("Ctrl+K"), self, self.toggle_dialpad)
        self.places.watch(self, "main")
        self.places.watch(self.call_window, "calls")
        self.places.watch(self.chat_window, "chat")

        self._pending_dials: list[str] = []
        bridge.event.connect(self.on_event)
        bridge.started.connect(self._core_started)
        bridge.error.connect(self.show_error)
        for problem in problems:
            self.show_error(problem)
        self.refresh_contacts()
        self.refresh_history()
        self._show_presence()

    # --- building -------------------------------------------------------------------------------

    def _make_menus(self) -> None:
        """File (Quit), Tools (Settings, SIP trace) and Help (Documentation, About), as other phones have."""
        bar = self.menuBar()
        file_menu = bar.addMenu(self.tr("&File"))
        self.quit_action = QAction(self.tr("&Quit"), self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.setToolTip(self.tr("Hang up, sign out and close the softphone"))
        self.quit_action.triggered.connect(self.quit)
        file_menu.addAction(self.quit_action)
        self.addAction(self.quit_action)  # Ctrl+Q works with the menu bar hidden too
        tools = bar.addMenu(self.tr("&Tools"))
        self.settings_action = tools.addAction(self.tr("&Settings…"))
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.open_settings)
        self.trace_action = tools.addAction(self.tr("SIP &trace"))
        self.trace_action.triggered.connect(self.open_trace)
        help_menu = bar.addMenu(self.tr("&Help"))
        self.docs_action = help_menu.addAction(self.tr("&Documentation"))
        self.docs_action.setShortcut(QKeySequence.StandardKey.HelpContents)
        self.docs_action.triggered.connect(self.open_docs)
        help_menu.addSeparator()
        self.about_action = help_menu.addAction(self.tr("&About Softphone"))
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.open_about)
        self.menus = {"file": file_menu, "tools": tools, "help": help_menu}
        for overflow in bar.findChildren(QToolButton):
            overflow.setAccessibleName(self.tr("More menus"))  # the menu bar's extension button

    def open_about(self) -> AboutDialog:
        from softphone.gui.about import AboutDialog

        if self.about_dialog is None:
            self.about_dialog = AboutDialog(self)
        self.about_dialog.show()
        self.about_dialog.raise_()
        self.about_dialog.activateWindow()
        return self.about_dialog

    def open_docs(self) -> None:
        from softphone.gui.about import open_docs

        if not open_docs():
            self.show_error(self.tr("The documentation could not be opened."))

    def _make_account_area(self) -> QVBoxLayout:
        box = QVBoxLayout()
        self.accounts_area = AccountsArea(self.accounts, self.retry_registration, self.ask_password)
        self.account_rows: dict[str, AccountRow] = self.accounts_area.rows
        self.no_account_label = self.accounts_area.no_account_label
        box.addWidget(self.accounts_area)
        return box

    def _make_dial_area(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.dial_field = QLineEdit()
        self.dial_field.setPlaceholderText(self.tr("Name, number or sip: address"))
        self.dial_field.setAccessibleName(self.tr("Number or address to call"))
        self.dial_field.setClearButtonEnabled(True)
        self.completion_model = QStringListModel(self)
        completer = QCompleter(self.completion_model, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.dial_field.setCompleter(completer)
        self.dial_field.textEdited.connect(self.update_completions)
        self.dial_field.returnPressed.connect(self.dial_from_field)
        self.call_button = QPushButton(icon("phone"), self.tr("&Call"))
        self.call_button.setAccessibleName(self.tr("Call"))
        self.call_button.setToolTip(self.tr("Call the number or address (Enter)"))
        self.call_button.clicked.connect(self.dial_from_field)
        accent(self.call_button, ACCEPT)
        self.pad_button = QToolButton()
        self.pad_button.setIcon(icon("dialpad"))
        self.pad_button.setText(self.tr("Pad"))
        self.pad_button.setCheckable(True)
        self.pad_button.setAccessibleName(self.tr("Show dial pad"))
        self.pad_button.setToolTip(self.tr("Dial pad (Ctrl+K); digits are sent as DTMF during a call"))
        self.pad_button.clicked.connect(self.toggle_dialpad)
        self.page_button = PageButton(self.bridge, self.settings, self.show_error)
        row.addWidget(self.dial_field, 1)
        row.addWidget(self.page_button)
        row.addWidget(self.pad_button)
        row.addWidget(self.call_button)
        return row

    def _make_contacts_tab(self) -> QWidget:
        """The Contacts tab: the buddy list (double-click calls); also the chat window, opened by the
        Chat button in the tabs' corner, Ctrl+M, or a contact's chat button."""
        self.chat_window = ChatWindow(
            self.bridge,
            self.store,
            on_call=self.dial,
            notify=self._chat_notify,
            on_add_contact=self._add_contact,
            accounts=self.accounts,
        )
        self.buddy_list = BuddyList(
            self.bridge,
            self.store,
            on_call=self.dial,
            on_chat=self.chat_window.open_conversation,
            accounts=self.accounts,
        )
        self.chat_button = QToolButton()
        self.chat_button.setIcon(icon("chat"))
        self.chat_button.setText(self.tr("Chat"))
        self.chat_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.chat_button.setAccessibleName(self.tr("Chat"))
        self.chat_button.setToolTip(self.tr("Open the chat window (Ctrl+M)"))
        self.chat_button.clicked.connect(self.chat_window.show_window)
        self.chat_window.unread_changed.connect(self._chat_unread)
        self.tabs.setCornerWidget(self.chat_button, Qt.Corner.TopRightCorner)
        QShortcut(QKeySequence("Ctrl+M"), self, self.chat_window.show_window)
        return self.buddy_list

    def _add_contact(self, uri: str) -> ContactDialog:
        """The contact dialog for a new contact with ``uri`` (a message request's sender)."""
        user = uri.split(":", 1)[-1].split("@", 1)[0]
        return self.buddy_list.add_contact(Contact(user or uri, uris=[uri]))

    def _chat_unread(self, count: int) -> None:
        self.chat_button.setText(self.tr("Chat ({count})").format(count=count) if count else self.tr("Chat"))
        self.chat_button.setAccessibleName(
            self.tr("Chat, {count} unread").format(count=count) if count else self.tr("Chat")
        )

    def _chat_notify(self, title: str, text: str) -> bool:
        return self.notifications.notify(title, text)

    def _tray_message(self, title: str, text: str, milliseconds: int) -> bool:
        """Notifications where the desktop has no notification server: the tray's message, if there is a tray."""
        if self.tray is None:
            return False
        self.tray.showMessage(
            notification_text(title), notification_text(text), QSystemTrayIcon.MessageIcon.Information, milliseconds
        )
        return True

    def _make_history_tab(self) -> QListWidget:
        history = PlaceholderList(
            self.tr(
                "No calls yet. Calls you make and take are listed here: double-click one to call back, "
                "or right-click it to write, add the caller to your contacts or delete it."
            )
        )
        history.setAccessibleName(self.tr("Call history"))
        history.setItemDelegate(HistoryDelegate(history))
        history.setUniformItemSizes(True)
        history.itemActivated.connect(self._call_item)
        history.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        history.customContextMenuRequested.connect(self._history_menu_at)
        self.history_menu: QMenu | None = None
        return history

    def history_menu_for(self, item: QListWidgetItem) -> QMenu:
        """The History row's menu: call back, send a message, add to contacts, copy the address, delete."""
        address = str(item.data(Qt.ItemDataRole.UserRole) or "")
        record_id = item.data(RECORD_ID_ROLE)
        menu = QMenu(self.history_list)
        menu.setAccessibleName(self.tr("Call history entry"))
        call = menu.addAction(icon("phone"), self.tr("&Call back"))
        call.triggered.connect(lambda: self.dial(address))
        message = menu.addAction(icon("chat"), self.tr("Send a &message"))
        message.setEnabled(address.lower().startswith(("sip:", "sips:")))
        message.triggered.connect(lambda: self.chat_window.open_conversation(address))
        known = None
        if self.store is not None:
            try:
                known = self.store.contacts.find_by_uri(address)
            except Exception as exc:
                log.info("contact lookup failed: %s", exc)
        add = menu.addAction(self.tr("&Add to contacts…") if known is None else self.tr("In your contacts"))
        add.setEnabled(known is None)
        add.triggered.connect(lambda: self.add_history_contact(item))
        copy_ = menu.addAction(self.tr("C&opy address"))
        copy_.triggered.connect(lambda: QGuiApplication.clipboard().setText(address))
        menu.addSeparator()
        delete = menu.addAction(self.tr("&Delete from history"))
        delete.setEnabled(isinstance(record_id, int))
        delete.triggered.connect(lambda: self.delete_history(item))
        self.history_menu = menu
        return menu

    def _history_menu_at(self, pos: QPoint) -> None:
        item = self.history_list.itemAt(pos)
        if item is not None:
            self.history_menu_for(item).popup(self.history_list.viewport().mapToGlobal(pos))

    def add_history_contact(self, item: QListWidgetItem) -> ContactDialog:
        """The contact dialog, filled in with the History row's name and address."""
        address = str(item.data(Qt.ItemDataRole.UserRole) or "")
        name = str(item.data(PEER_NAME_ROLE) or "")
        return self.buddy_list.add_contact(Contact(name or address_shown(address), uris=[address]))

    def delete_history(self, item: QListWidgetItem) -> None:
        record_id = item.data(RECORD_ID_ROLE)
        if self.store is None or not isinstance(record_id, int):
            return
        try:
            self.store.history.remove(record_id)
        except Exception as exc:
            self.show_error(cannot("delete the call from the history", str(exc)))
            return
        self.refresh_history()

    def _make_tray(self) -> None:
        tray = QSystemTrayIcon(app_icon(), self)
        tray.setToolTip(self.tr("Softphone"))
        menu = QMenu(self)
        show = menu.addAction(self.tr("Show / hide"))
        show.triggered.connect(self.toggle_visible)
        quit_ = menu.addAction(self.tr("Quit"))
        quit_.triggered.connect(self.quit)
        tray.setContextMenu(menu)
        tray.activated.connect(self._tray_activated)
        tray.messageClicked.connect(self.answer_from_notification)
        tray.show()
        self.tray = tray

    # --- accounts and presence ------------------------------------------------------------------

    def retry_registration(self, aor: str) -> None:
        ua = self.bridge.ua
        row = self.account_rows.get(aor)
        if ua is None or row is None:
            return
        if not row.registers:
            return
        self.accounts_area.registering(aor)
        self.bridge.run(
            lambda: ua.register(aor),
            on_error=lambda exc: self.show_error(cannot(f"register {address_shown(aor)}", str(exc))),
        )

    def apply_accounts(self, typed_passwords: Mapping[str, str] | None = None) -> AccountChanges:
        """Make the running phone use the accounts of :attr:`settings` now: accounts removed or disabled
        unregister, edited ones register anew, new ones register; calls in progress go on. The rows,
        buddy list and chat follow at once; the UA's part runs on its loop."""
        self.session_passwords.update(typed_passwords or {})
        changes = account_changes(self.settings.accounts, self.accounts, self.session_passwords)
        for problem in changes.problems:
            self.show_error(problem)
        if not changes:
            return changes
        for aor in changes.removed:
            self.passwords.dismiss(aor)
        self.accounts[:] = changes.accounts
        self.accounts_area.set_accounts(self.accounts)
        self.chat_window.set_accounts(self.accounts)
        self.buddy_list.set_accounts(self.accounts)
        self._show_presence()
        self._update_tray_state()
        ua = self.bridge.ua
        if ua is not None and self.bridge.loop is not None:
            snapshot = copy.deepcopy(self.settings)
            self.bridge.run(
                lambda: apply_account_changes(ua, changes, snapshot),
                on_done=self._show_errors,
                on_error=lambda exc: self.show_error(cannot("change the accounts", str(exc))),
            )
        self._dial_pending()
        return changes

    def _show_errors(self, problems: Sequence[str]) -> None:
        for problem in problems:
            self.show_error(problem)

    # --- passwords ----------------------------------------------------------------------------

    def _account_entry(self, aor: str) -> AccountSettings | None:
        return next((entry for entry in self.settings.accounts if entry.aor == aor), None)

    def ask_password(self, aor: str, problem: str | None = None) -> None:
        """Ask for ``aor``'s password (without blocking); the answer registers the account with it."""
        banner = self.accounts_area.banners.get(aor)
        text = problem or (banner.problem if banner is not None and banner.problem else "")
        self.passwords.ask(
            aor, text or self.tr("{address} needs its password to register.").format(address=address_shown(aor))
        )

    def _use_password(self, aor: str, password: str) -> None:
        self.session_passwords[aor] = password
        for account in self.accounts:
            if account.aor == aor:
                account.password = password
        ua = self.bridge.ua
        if ua is None:
            return
        self.accounts_area.registering(aor)
        self.bridge.call(
            ua.set_password,
            aor,
            password,
            on_error=lambda exc: self.show_error(cannot(f"register {address_shown(aor)}", str(exc))),
        )

    def offer_trust(self, aor: str, problem: str, fingerprint: str) -> None:
        """The registrar's certificate did not verify: show its fingerprint and let the user trust it."""
        if fingerprint in self._trust_asked:
            return
        self._trust_asked.add(fingerprint)
        self.trust_box = ask_to_trust(
            self, aor, problem, fingerprint, lambda trusted: self._trust_decided(aor, fingerprint, trusted)
        )

    def _trust_decided(self, aor: str, fingerprint: str, trusted: bool) -> None:
        self.trust_box = None
        if not trusted:
            return
        for entry in self.settings.accounts:
            if entry.aor == aor and fingerprint not in entry.tls_fingerprints:
                entry.tls_fingerprints.append(fingerprint)
        for account in self.accounts:
            if account.aor == aor and fingerprint not in account.tls_fingerprints:
                account.tls_fingerprints = (*account.tls_fingerprints, fingerprint)
        self._save_settings()
        ua = self.bridge.ua
        if ua is not None:
            self.bridge.call(
                lambda: ua.trust_certificate(aor, fingerprint),
                on_error=lambda exc: self.show_error(cannot("trust the certificate", str(exc))),
            )

    def apply_presence(self) -> None:
        """Publish our presence through the UA's presence service, when it has one (the one place that calls it)."""
        state = self.presence_selector.take_choice()
        note = self.presence_note.text().strip()
        ua = self.bridge.ua
        if ua is None or not hasattr(ua, "presence"):
            self.statusBar().showMessage(self.tr("Presence is not available in this version"), 4000)
            return
        basic, activity = PRESENCE_RPID.get(state, ("open", None))
        self.bridge.call(
            lambda: ua.presence.set_status(basic, activity, note or None),
            on_error=lambda exc: self.show_error(cannot("change your presence", str(exc))),
        )
        if note != self.settings.presence_note:
            self.settings.presence_note = note
            self._save_settings()

    def presence_online(self) -> bool:
        """Whether others can see our presence: an account is registered, or one needs no server (LAN)."""
        states = [row.state for row in self.account_rows.values()]
        return any(state in ("registered", "lan") for state in states)

    def _show_presence(self) -> None:
        self.presence_selector.show_online(self.presence_online())

    # --- dialling ---------------------------------------------------------------------------------

    def focus_dial(self) -> None:
        self.dial_field.setFocus()
        self.dial_field.selectAll()

    def update_completions(self, text: str) -> None:
        if self.store is not None:
            self.completion_model.setStringList(completions(self.store, text))

    def dial_from_field(self) -> None:
        text = self.dial_field.text()
        if "<" in text and text.rstrip().endswith(">"):
            text = text[text.rindex("<") + 1 : -1]
        self.dial(text)

    def dial(self, text: str) -> None:
        """Call ``text`` (sip:, sips:, tel:, callto:, a number, host:port or a name at the account's domain)."""
        ua = self.bridge.ua
        try:
            target = dial_target(text)
        except ValueError as exc:
            self.show_error(cannot(f"call “{' '.join(text.split())[:80]}”", str(exc)))
            return
        if ua is None:
            self.show_error(cannot(f"call {address_shown(target)}", "the phone core is not running"))
            return
        if not self.accounts or not self.bridge.is_started:
            # Started from a link before there is an account (first start) or while the core opens its
            # sockets: the call is made once both are there.
            self._pending_dials.append(target)
            if not self.accounts:
                self.show_error(
                    self.tr("{address} will be called once an account is set up.").format(address=address_shown(target))
                )
            return
        self.statusBar().showMessage(self.tr("Calling {address} …").format(address=address_shown(target)), 5000)
        self.bridge.run(
            lambda: ua.call(target, video=self.settings.video.enabled),
            on_error=lambda exc: self.show_error(cannot(f"call {address_shown(target)}", str(exc))),
        )

    def _core_started(self) -> None:
        for problem in apply_paging(self.bridge, self.settings.paging, self.show_error):
            self.show_error(problem)
        self.notifications.start()
        self._dial_pending()

    def _dial_pending(self) -> None:
        if not self.accounts or not self.bridge.is_started:
            return
        pending, self._pending_dials = self._pending_dials, []
        for target in pending:
            self.dial(target)

    def toggle_dialpad(self) -> None:
        visible = not self.dialpad.isVisible()
        self.dialpad.setVisible(visible)
        self.pad_button.setChecked(visible)

    def dialpad_pressed(self, digit: str) -> None:
        row = self.call_window.current()
        if row is not None and row.established:
            row.send_dtmf(digit)
        else:
            self.dial_field.insert(digit)

    def _call_item(self, item: QListWidgetItem) -> None:
        address = item.data(Qt.ItemDataRole.UserRole)
        if address:
            self.dial(str(address))

    def call_voicemail(self) -> None:
        if self.voicemail_uri:
            self.dial(self.voicemail_uri)
        else:
            self.statusBar().showMessage(self.tr("The server did not say where the voicemail is"), 4000)

    # --- lists --------------------------------------------------------------------------------------

    def refresh_contacts(self) -> None:
        self.buddy_list.reload()

    def refresh_history(self) -> None:
        self.history_list.clear()
        if self.store is None:
            self._update_missed()
            return
        names = contact_names(self.store)
        for record in self.store.history.list(limit=HISTORY_LIMIT):
            self.history_list.addItem(history_item(record, names))
        self._update_missed()

    # --- missed calls badge ----------------------------------------------------------------------------

    def missed_count(self) -> int:
        if self.store is None:
            return 0
        since = self.settings.extra.get(SEEN_KEY)
        return self.store.history.missed_count(since=float(since) if isinstance(since, int | float) else None)

    def _update_missed(self) -> None:
        count = self.missed_count()
        self.tabs.setTabText(
            self.history_index, self.tr("History ({count})").format(count=count) if count else self.tr("History")
        )
        self.tabs.setTabIcon(self.history_index, icon("hangup") if count else QIcon())
        self.setWindowTitle(window_title(count))
        self._update_tray_state()
        self.missed_changed.emit(count)

    def mark_history_seen(self) -> None:
        self.settings.extra[SEEN_KEY] = time.time()
        self._save_settings()
        self._update_missed()

    def _save_settings(self) -> None:
        if self.settings_path is not None:
            try:
                save_settings(self.settings, self.settings_path)
            except OSError as exc:
                log.warning("cannot save the settings: %s", exc)

    def _tab_changed(self, index: int) -> None:
        if index == self.history_index and self.isVisible() and self.missed_count():
            self.mark_history_seen()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # Coming back to the window with the history in front counts as having looked at it.
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            if self.tabs.currentIndex() == self.history_index and self.missed_count():
                self.mark_history_seen()

    # --- events ------------------------------------------------------------------------------------------

    def on_event(self, event: object) -> None:
        if isinstance(event, RegistrationEvent):
            self.accounts_area.on_registration(event)
            self._update_tray_state()
            self._show_presence()
            if event.state == "failed" and event.fingerprint:
                self.offer_trust(event.account, event.tls_problem or "untrusted", event.fingerprint)
            if event.state == "failed" and event.needs_password and event.account in self.account_rows:
                self.ask_password(event.account, registration_problem(event.account, event.code, event.reason))
            elif event.state == "registered":
                self.passwords.dismiss(event.account)
        elif isinstance(event, IncomingCallEvent):
            self.incoming_calls.on_incoming(event)
        elif isinstance(event, CallEvent):
            self.on_call(event)
        elif isinstance(event, MwiEvent):
            self.on_mwi(event)
        elif isinstance(event, ErrorEvent):
            self.show_error(event.message)
        elif isinstance(event, PageStartedEvent | PageEndedEvent):
            self.page_button.on_event(event)
        elif isinstance(event, NetworkChangeEvent):
            text = self.tr("The network changed: registered again from the new address")
            if event.calls:
                text += self.tr("; moving %n call(s) there", "", len(event.calls))
            self.statusBar().showMessage(text, 10000)
        else:
            self.call_window.on_event(event)

    def on_call(self, event: CallEvent) -> None:
        self.incoming_calls.on_call(event)
        self.call_window.on_call(event)
        if event.state == "ended":
            self.refresh_history()
            if event.direction == "outgoing" and event.code is not None and event.code >= 300 and event.code != 487:
                self.show_error(call_problem(event.remote_uri, event.code, event.reason))

    @property
    def incoming(self) -> dict[str, IncomingCallWindow]:
        """The incoming-call window on screen (one at most), by call id."""
        return self.incoming_calls.windows

    def answer_from_notification(self) -> None:
        """The desktop notification was clicked: answer the newest ringing call."""
        if not self.incoming_calls.answer_newest():
            self.show_and_raise()

    def on_mwi(self, event: MwiEvent) -> None:
        self.mwi_count = event.new
        if event.voicemail_uri:
            self.voicemail_uri = event.voicemail_uri
        waiting = event.waiting or event.new > 0
        new = event.new
        text = translate("MainWindow", "%n new voice message(s)", "", new)
        if event.old:
            text += " " + self.tr("({count} old)").format(count=event.old)
        self.mwi_button.setText(text if waiting else self.tr("No new voice messages"))
        self.mwi_button.setAccessibleName(self.tr("Voice messages: {text}").format(text=text))
        self.mwi_button.setToolTip(self.tr("Click to call the voicemail") if self.voicemail_uri else "")
        self.mwi_button.setVisible(True)

    def phone_state(self) -> tuple[str, str]:
        """The phone's overall state for the tray: (presence dot, words)."""
        states = [row.state for row in self.account_rows.values()]
        if not states:
            return "offline", self.tr("no account")
        if any(state == "failed" for state in states):
            return "busy", self.tr("registration failed")
        if all(state in ("registered", "lan") for state in states):
            return "available", self.tr("ready")
        return "away", self.tr("connecting")

    def _update_tray_state(self) -> None:
        if self.tray is None:
            return
        dot, summary = self.phone_state()
        count = self.missed_count()
        self.tray.setIcon(badge_icon(app_icon(), count, state=dot))
        missed = ", " + translate("MainWindow", "%n missed call(s)", "", count) if count else ""
        self.tray.setToolTip(notification_text(f"Softphone: {summary}{missed}"))

    # --- errors, window life ----------------------------------------------------------------------------

    def open_settings(self) -> None:
        from softphone.gui.settings_dialog import show_settings

        show_settings(self)

    def open_trace(self) -> None:
        from softphone.gui.trace import show_trace

        show_trace(self)

    def show_error(self, message: str) -> None:
        log.info("%s", message)
        self.statusBar().showMessage(message, 10000)

    def show_and_raise(self) -> None:
        self.show()
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.raise_()
        self.activateWindow()

    def toggle_visible(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.show_and_raise()

    def _tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_visible()

    def quit(self) -> None:
        """Close everything; the application connects ``quit_requested`` to its own quit."""
        self.quitting = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.tray is not None and self.tray.isVisible() and not self.quitting and event.spontaneous():
            # The user closed the window: with a tray icon the phone keeps running (and ringing) in the
            # background. A close that is not the user's (the application quitting) goes through.
            self.hide()
            event.ignore()
            return
        self.places.remember_all()
        self.incoming_calls.close_all()
        self.passwords.close_all()
        self.call_window.videos.close_all()
        self.call_window.close()
        self.chat_window.close()
        if self.tray is not None:
            self.tray.hide()
        event.accept()
        self.quitting = True
        self.quit_requested.emit()

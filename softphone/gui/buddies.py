"""The buddy list: contacts by group with live presence and busy lamps, watcher requests, vCard.

:class:`BuddyList` is the main window's Contacts tab. Contacts come from the
store (quick SQLite reads on the GUI thread); presence and busy lamps come
from the UA's ``PresenceEvent`` / ``SubscriptionEvent`` / ``DialogStateEvent``
through the bridge; every command (watch, unwatch, allow, block, load) goes
through :meth:`~softphone.gui.bridge.UaBridge.call` and never waits.

The rows and the live state behind them are a
:class:`~softphone.gui.buddy_model.BuddyModel` (which coalesces bursts of
events), drawn by :class:`~softphone.gui.buddy_delegate.BuddyDelegate`;
contacts are added and edited in a
:class:`~softphone.gui.contact_dialog.ContactDialog`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.bridge import UaBridge
from softphone.gui.buddy_delegate import BuddyDelegate
from softphone.gui.buddy_model import (
    ADDRESS_ROLE,
    AVATAR_SIZE,
    CONTACT_ID_ROLE,
    GROUP_ROLE,
    LINE_COLUMN,
    NAME_COLUMN,
    NEARBY_GROUP,
    PRESENCE_COLUMN,
    BuddyModel,
    address_of,
    sip_uris,
)
from softphone.gui.contact_dialog import ContactDialog
from softphone.gui.i18n import translate
from softphone.gui.icons import icon
from softphone.gui.text import PlainToolTips, plain_label
from softphone.store import Contact, ImportResult, Store, StoreError, normalise_uri
from softphone.ua import Account, LanAnnounceEvent, LanPeerEvent, WatcherEvent, cannot

log = logging.getLogger("softphone.gui.buddies")

NEARBY_MS = 150
"""Changes of the Nearby group (phones coming and going) are collected this long before the list is rebuilt."""
LAMP_BATCH = 8
LAMP_INTERVAL_MS = 250
MAX_START_LAMPS = 200
"""Busy lamps subscribed at start (paced, :data:`LAMP_BATCH` every :data:`LAMP_INTERVAL_MS`)."""


class WatcherRow(QWidget):
    """One pending presence request: who (and whether that is only claimed), Allow, Block."""

    def __init__(
        self, uri: str, account: str, on_decide: Callable[[str, str, bool], None], verified: bool = True
    ) -> None:
        super().__init__()
        self.uri = uri
        self.account = account
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = plain_label(uri if verified else self.tr("{uri} (identity not verified)").format(uri=uri))
        self.label.setAccessibleName(self.tr("Presence request from {uri}").format(uri=uri))
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.allow_button = QPushButton(self.tr("Allow"))
        self.allow_button.setAccessibleName(self.tr("Allow {uri} to see your presence").format(uri=uri))
        self.allow_button.clicked.connect(lambda: on_decide(uri, account, True))
        self.block_button = QPushButton(self.tr("Block"))
        self.block_button.setAccessibleName(self.tr("Block {uri} from seeing your presence").format(uri=uri))
        self.block_button.clicked.connect(lambda: on_decide(uri, account, False))
        layout.addWidget(self.label, 1)
        layout.addWidget(self.allow_button)
        layout.addWidget(self.block_button)


class WatcherBar(QFrame):
    """The pending presence requests, a :class:`WatcherRow` each; hidden while there are none."""

    def __init__(self, on_decide: Callable[[str, str, bool], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.on_decide = on_decide
        self.rows: dict[tuple[str, str], WatcherRow] = {}
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(self.tr("Presence requests"))
        box = QVBoxLayout(self)
        self.title = plain_label()
        self.title.setWordWrap(True)
        self.title.setAccessibleName(self.tr("Presence requests"))
        box.addWidget(self.title)
        self.row_box = QVBoxLayout()
        box.addLayout(self.row_box)
        self.setVisible(False)

    def add(self, uri: str, account: str = "", verified: bool = True) -> None:
        key = (normalise_uri(uri), account)
        if key in self.rows:
            return
        row = WatcherRow(key[0], account, self.on_decide, verified)
        self.rows[key] = row
        self.row_box.addWidget(row)
        self._update()

    def drop(self, uri: str, account: str = "") -> None:
        """Remove the requests of ``uri``: for ``account``, or for every account when it is empty."""
        key = normalise_uri(uri)
        for (watcher, acc), row in list(self.rows.items()):
            if watcher == key and (not account or not acc or acc == account):
                del self.rows[(watcher, acc)]
                row.setParent(None)
                row.deleteLater()
        self._update()

    def _update(self) -> None:
        count = len(self.rows)
        self.title.setText(
            self.tr("Someone wants to see your presence:")
            if count == 1
            else self.tr("{count} people want to see your presence:").format(count=count)
        )
        self.setVisible(count > 0)


class BuddyList(QWidget):
    """Contacts grouped and searchable, with presence, busy lamps, watcher requests and vCard import/export.

    ``on_call(address)`` dials (the main window's dial path); ``on_chat(uri)`` opens the chat window
    on that conversation.
    """

    def __init__(
        self,
        bridge: UaBridge,
        store: Store | None,
        *,
        on_call: Callable[[str], None] | None = None,
        on_chat: Callable[[str], object] | None = None,
        accounts: Sequence[Account] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.store = store
        self.on_call = on_call
        self.on_chat = on_chat
        self.account_aors = [a.aor for a in accounts]
        self.lan_wanted = _lan_wanted(accounts)
        # Phones found on the LAN, by instance name (lower case), and the negative ids their rows keep.
        self.nearby: dict[str, LanPeerEvent] = {}
        self._nearby_ids: dict[str, int] = {}
        self.setAccessibleName(self.tr("Buddy list"))
        self.buddy_model = BuddyModel((normalise_uri(a.aor) for a in accounts), self)
        self.proxy = self.buddy_model.proxy
        self._collapsed: set[str] = set()
        self._lamp_queue: list[str] = []
        self.dialog: ContactDialog | None = None
        self.file_dialog: QFileDialog | None = None
        self.message_box: QMessageBox | None = None

        self._nearby_timer = QTimer(self)
        self._nearby_timer.setSingleShot(True)
        self._nearby_timer.setInterval(NEARBY_MS)
        self._nearby_timer.timeout.connect(self.reload)

        self._lamp_timer = QTimer(self)
        self._lamp_timer.setInterval(LAMP_INTERVAL_MS)
        self._lamp_timer.timeout.connect(self._watch_next_lamps)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.watcher_bar = WatcherBar(self.decide_watcher)
        layout.addWidget(self.watcher_bar)
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search contacts"))
        self.search.setAccessibleName(self.tr("Search contacts"))
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.apply_search)
        layout.addWidget(self.search)
        layout.addLayout(self._make_buttons())
        self.view = QTreeView()
        self.view.setAccessibleName(self.tr("Contacts"))
        self.view.setModel(self.proxy)
        self.view.setUniformRowHeights(True)
        self.view.setIconSize(QSize(AVATAR_SIZE, AVATAR_SIZE))
        self.view.setItemDelegate(PlainToolTips(self.view))
        self.view.setItemDelegateForColumn(NAME_COLUMN, BuddyDelegate(self.view))
        self.view.setHeaderHidden(True)
        self.view.setIndentation(14)
        self.view.setRootIsDecorated(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.activated.connect(self._activated)
        self.view.collapsed.connect(lambda index: self._collapsed.add(str(index.data(GROUP_ROLE))))
        self.view.expanded.connect(lambda index: self._collapsed.discard(str(index.data(GROUP_ROLE))))
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        # One visible column drawn by BuddyDelegate (photo, name, line; presence under the name); the
        # presence and line columns stay in the model for the delegate, screen readers and tests.
        self.view.setColumnHidden(PRESENCE_COLUMN, True)
        self.view.setColumnHidden(LINE_COLUMN, True)
        self.view.header().setSectionResizeMode(NAME_COLUMN, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.view, 1)
        self.status = plain_label()
        self.status.setAccessibleName(self.tr("Contacts status"))
        self.status.setWordWrap(True)
        self.status.setVisible(False)
        layout.addWidget(self.status)
        QShortcut(
            QKeySequence(QKeySequence.StandardKey.Delete),
            self.view,
            self.remove_selected,
            Qt.ShortcutContext.WidgetShortcut,
        )

        bridge.event.connect(self.on_event)
        bridge.started.connect(self._core_started)
        self.reload()
        self._update_buttons()
        if bridge.is_started:
            self._core_started()

    # --- building ------------------------------------------------------------------------------

    def _tool(
        self, text: str, name: str, tip: str, slot: Callable[[], object], icon_name: str | None = None
    ) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setAccessibleName(name)
        button.setToolTip(tip)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setAutoRaise(True)  # a toolbar's flat buttons, framed when pointed at
        if icon_name is not None:
            button.setIcon(icon(icon_name))
        button.clicked.connect(lambda: slot())
        return button

    def _make_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.add_button = self._tool(self.tr("Add"), self.tr("Add contact"), self.tr("Add a contact"), self.add_contact)
        self.edit_button = self._tool(
            self.tr("Edit"), self.tr("Edit contact"), self.tr("Edit the selected contact"), self.edit_selected
        )
        self.remove_button = self._tool(
            self.tr("Remove"),
            self.tr("Remove contact"),
            self.tr("Remove the selected contact (Delete)"),
            self.remove_selected,
        )
        self.chat_button = self._tool(
            self.tr("Chat"),
            self.tr("Chat with contact"),
            self.tr("Write to the selected contact"),
            self.chat_selected,
            "chat",
        )
        self.call_button = self._tool(
            self.tr("Call"),
            self.tr("Call contact"),
            self.tr("Call the selected contact (Enter, double-click)"),
            self.call_selected,
            "phone",
        )
        self.vcard_button = QToolButton()
        self.vcard_button.setText(self.tr("vCard"))
        self.vcard_button.setAccessibleName(self.tr("Import or export vCard"))
        self.vcard_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.vcard_button.setAutoRaise(True)
        menu = QMenu(self.vcard_button)
        menu.addAction(self.tr("Import vCard…"), self.import_vcard)
        menu.addAction(self.tr("Export vCard…"), self.export_vcard)
        self.vcard_button.setMenu(menu)
        for button in (self.call_button, self.chat_button, self.add_button, self.edit_button, self.remove_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.vcard_button)
        return row

    def _update_buttons(self) -> None:
        contact = self.selected_contact()
        for button in (self.edit_button, self.remove_button):
            button.setEnabled(contact is not None and not _is_nearby(contact))
        self.call_button.setEnabled(contact is not None and address_of(contact) is not None)
        self.chat_button.setEnabled(contact is not None and bool(sip_uris(contact)))

    # --- the model -------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the contacts from the store again and rebuild the rows (presence kept)."""
        contacts: list[Contact] = []
        if self.store is not None:
            try:
                contacts = self.store.contacts.list()
            except StoreError as exc:
                self._show_status(self.tr("Cannot read the contacts: {exc}").format(exc=exc))
        selected = self.selected_contact()
        nearby = self.nearby_contacts()
        self.buddy_model.no_calls = {
            c.id for c in nearby if c.id is not None and not self.nearby[c.name.lower()].accepts_calls
        }
        self.buddy_model.set_contacts([*contacts, *nearby], self.palette(), self.font())
        self._restore_expansion()
        if selected is not None and selected.id in self.buddy_model.rows:
            self.select_contact(selected.id)
        self._update_buttons()

    def nearby_contacts(self) -> list[Contact]:
        """The phones found on the LAN as rows of the Nearby group (not in the store: negative ids)."""
        found = []
        for key, peer in sorted(self.nearby.items()):
            contact_id = self._nearby_ids.setdefault(key, -(len(self._nearby_ids) + 1))
            about = [peer.display_name] if peer.display_name != peer.name else []
            if peer.aor:
                about.append(peer.aor)
            found.append(
                Contact(
                    peer.name,
                    uris=[peer.uri],
                    groups=[NEARBY_GROUP],
                    notes=" — ".join(about),
                    subscribe_presence=True,
                    id=contact_id,
                )
            )
        return found

    @property
    def contacts(self) -> dict[int, Contact]:
        return self.buddy_model.contacts

    def row_text(self, contact_id: int) -> str:
        """What the contact's first row says (name, presence, line), as one line — for tests and screen readers."""
        return self.buddy_model.row_text(contact_id)

    def contact_ids(self) -> list[int]:
        return self.buddy_model.contact_ids()

    def visible_contact_ids(self) -> list[int]:
        """The contacts the filter shows, in display order (a contact in two groups once)."""
        found: list[int] = []
        for group_row in range(self.proxy.rowCount()):
            group = self.proxy.index(group_row, 0)
            for row in range(self.proxy.rowCount(group)):
                contact_id = self.proxy.index(row, 0, group).data(CONTACT_ID_ROLE)
                if contact_id is not None and int(contact_id) not in found:
                    found.append(int(contact_id))
        return found

    def group_names(self) -> list[str]:
        return self.buddy_model.group_names()

    # --- events ------------------------------------------------------------------------------------

    def on_event(self, event: object) -> None:
        if isinstance(event, LanPeerEvent):
            key = event.name.lower()
            if event.state == "up":
                self.nearby[key] = event
            else:
                self.nearby.pop(key, None)
            if not self._nearby_timer.isActive():
                self._nearby_timer.start()
        elif isinstance(event, LanAnnounceEvent):
            if event.state == "announced" and event.name != event.requested:
                self._show_status(
                    self.tr("On the LAN this phone is “{name}”: “{requested}” was taken by another phone.").format(
                        name=event.name, requested=event.requested
                    )
                )
            elif event.state == "failed":
                self._show_status(
                    self.tr("Cannot announce this phone on the LAN: {reason}").format(reason=event.reason)
                )
        elif isinstance(event, WatcherEvent):
            if event.state == "pending":
                self.watcher_bar.add(event.uri, event.account, event.verified)
            elif event.state != "active":  # a verified buddy's subscription leaves a forged one's request
                self.watcher_bar.drop(event.uri, event.account)
        else:
            self.buddy_model.on_event(event)

    def set_accounts(self, accounts: Sequence[Account]) -> None:
        """Our own addresses changed (an account added, edited or removed in the settings)."""
        self.account_aors = [a.aor for a in accounts]
        self.buddy_model.own_aors = {normalise_uri(a.aor) for a in accounts}
        wanted, self.lan_wanted = self.lan_wanted, _lan_wanted(accounts)
        if self.lan_wanted and not wanted and self.bridge.is_started:
            self._start_lan()

    def _core_started(self) -> None:
        """The UA runs: watch the buddies with presence on, their busy lamps, and list pending watchers."""
        ua = self.bridge.ua
        if ua is None:
            return
        if self.lan_wanted:
            self._start_lan()
        presence = getattr(ua, "presence", None)
        if presence is not None:
            self.bridge.call(presence.load_buddies, on_error=self._reporter("load the buddy list"))
            aors: list[str | None] = list(self.account_aors) or [None]
            for aor in aors:
                self.bridge.call(
                    presence.pending_watchers,
                    aor,
                    on_done=self._pending_loader(aor or ""),
                    on_error=lambda exc: log.info("pending watchers: %s", exc),
                )
        queue: list[str] = []
        for contact in self.contacts.values():
            if contact.subscribe_presence:
                queue.extend(sip_uris(contact)[:1])
        self._lamp_queue = queue[:MAX_START_LAMPS]
        if self._lamp_queue:
            self._lamp_timer.start()

    def _start_lan(self) -> None:
        """LAN discovery: the accounts that announce are announced, and the phones found fill Nearby."""
        lan = getattr(self.bridge.ua, "lan", None)
        if lan is not None:
            self.bridge.call(lan.start, on_error=self._reporter("start LAN discovery"))

    def _watch_next_lamps(self) -> None:
        batch, self._lamp_queue = self._lamp_queue[:LAMP_BATCH], self._lamp_queue[LAMP_BATCH:]
        for uri in batch:
            self._watch_lamp(uri)
        if not self._lamp_queue:
            self._lamp_timer.stop()

    def _watch_lamp(self, uri: str) -> None:
        ua = self.bridge.ua
        service = getattr(ua, "dialog_state", None)
        if service is not None:
            self.bridge.call(service.watch, uri, on_error=lambda exc: log.info("busy lamp of %s: %s", uri, exc))

    def _pending_loader(self, account: str) -> Callable[[list[str]], None]:
        def loaded(uris: list[str]) -> None:
            for uri in uris:
                self.watcher_bar.add(uri, account)

        return loaded

    # --- watcher requests --------------------------------------------------------------------------

    def decide_watcher(self, uri: str, account: str, allow: bool) -> None:
        """Allow or block a watcher (through the UA); the row goes when the UA confirms with a WatcherEvent."""
        ua = self.bridge.ua
        presence = getattr(ua, "presence", None)
        if presence is None:
            self._show_status(self.tr("Presence is not available"))
            return
        row = self.watcher_bar.rows.get((normalise_uri(uri), account))
        if row is not None:
            row.setEnabled(False)
        method = presence.allow if allow else presence.block

        def failed(exc: BaseException) -> None:
            if row is not None:
                row.setEnabled(True)
            self._show_status(f"Cannot {'allow' if allow else 'block'} {uri}: {exc}")

        self.bridge.call(method, uri, account or None, on_error=failed)

    # --- search, selection, activation -------------------------------------------------------------

    def apply_search(self, text: str) -> None:
        matches: list[int] = []
        if text.strip() and self.store is not None:
            try:
                matches = [c.id for c in self.store.contacts.search(text, limit=len(self.contacts) + 1) if c.id]
            except StoreError as exc:
                log.info("search failed: %s", exc)
        self.proxy.set_search(text, matches)
        self.view.expandAll() if text.strip() else self._restore_expansion()

    def _restore_expansion(self) -> None:
        for group_row in range(self.proxy.rowCount()):
            index = self.proxy.index(group_row, 0)
            self.view.setFirstColumnSpanned(group_row, QModelIndex(), True)
            self.view.setExpanded(index, str(index.data(GROUP_ROLE)) not in self._collapsed)

    def selected_contact(self) -> Contact | None:
        if not hasattr(self, "view"):
            return None
        index = self.view.currentIndex()
        if not index.isValid() or not self.view.selectionModel().isSelected(index):
            return None
        contact_id = index.data(CONTACT_ID_ROLE)
        return self.contacts.get(int(contact_id)) if contact_id is not None else None

    def select_contact(self, contact_id: int) -> bool:
        """Make the contact's first visible row current and selected."""
        for group_row in range(self.proxy.rowCount()):
            group = self.proxy.index(group_row, 0)
            for row in range(self.proxy.rowCount(group)):
                index = self.proxy.index(row, 0, group)
                if index.data(CONTACT_ID_ROLE) == contact_id:
                    self.view.setCurrentIndex(index)
                    self.view.selectionModel().select(
                        index,
                        self.view.selectionModel().SelectionFlag.ClearAndSelect
                        | self.view.selectionModel().SelectionFlag.Rows,
                    )
                    self._update_buttons()
                    return True
        return False

    def _activated(self, index: QModelIndex) -> None:
        address = index.data(ADDRESS_ROLE)
        if address and self.on_call is not None:
            self.on_call(str(address))

    def call_selected(self) -> None:
        contact = self.selected_contact()
        address = address_of(contact) if contact is not None else None
        if address and self.on_call is not None:
            self.on_call(address)

    def chat_selected(self) -> None:
        contact = self.selected_contact()
        if contact is not None:
            self.chat_with(contact)

    def chat_with(self, contact: Contact) -> None:
        uris = sip_uris(contact)
        if not uris:
            self._show_status(self.tr("{name} has no SIP address to write to").format(name=contact.name))
            return
        if self.on_chat is not None:
            self.on_chat(uris[0])

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        contact_id = index.data(CONTACT_ID_ROLE) if index.isValid() else None
        menu = QMenu(self)
        if contact_id is not None:
            contact = self.contacts.get(int(contact_id))
            self.select_contact(int(contact_id))
            if contact is not None:
                address = address_of(contact)
                if address:
                    menu.addAction(
                        icon("phone"),
                        self.tr("Call {address}").format(address=address),
                        lambda: self.on_call and self.on_call(address),
                    )
                if sip_uris(contact):
                    menu.addAction(icon("chat"), self.tr("Chat"), lambda: self.chat_with(contact))
                if _is_nearby(contact):
                    prefill = Contact(contact.name, uris=list(contact.uris))
                    menu.addAction(self.tr("Add to contacts…"), lambda: self.add_contact(prefill))
                else:
                    menu.addAction(self.tr("Edit…"), lambda: self.edit_contact(contact))
                    menu.addAction(self.tr("Remove…"), lambda: self.remove_contact(contact))
                menu.addSeparator()
        menu.addAction(self.tr("Add contact…"), self.add_contact)
        menu.popup(self.view.viewport().mapToGlobal(pos))

    # --- add, edit, remove -----------------------------------------------------------------------------

    def add_contact(self, prefill: Contact | None = None) -> ContactDialog:
        """Open the contact dialog for a new contact (``prefill`` fills it in); saved when accepted."""
        dialog = ContactDialog(None, self)
        if prefill is not None:
            dialog.name.setText(prefill.name)
            dialog.uris.setPlainText("\n".join(prefill.uris))
        return self._open_dialog(dialog)

    def edit_selected(self) -> None:
        contact = self.selected_contact()
        if contact is not None and not _is_nearby(contact):
            self.edit_contact(contact)

    def edit_contact(self, contact: Contact) -> ContactDialog:
        return self._open_dialog(ContactDialog(contact, self))

    def _open_dialog(self, dialog: ContactDialog) -> ContactDialog:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.accepted.connect(lambda: self.save_contact(dialog.original, dialog.contact()))
        dialog.open()
        return dialog

    def save_contact(self, old: Contact | None, new: Contact) -> Contact | None:
        """Store an added or edited contact and follow its presence flag (watch / unwatch)."""
        if self.store is None:
            self._show_status(self.tr("No contact store"))
            return None
        try:
            saved = self.store.contacts.add(new) if old is None else self.store.contacts.update(new)
        except StoreError as exc:
            self._show_status(self.tr("Cannot save the contact: {exc}").format(exc=exc))
            return None
        before = set(sip_uris(old)) if old is not None and old.subscribe_presence else set()
        after = set(sip_uris(saved)) if saved.subscribe_presence else set()
        self._follow(added=[u for u in sip_uris(saved) if u in after - before], removed=sorted(before - after))
        self.reload()
        if saved.id is not None:
            self.select_contact(saved.id)
        self._show_status(self.tr("Saved {name}").format(name=saved.name))
        return saved

    def remove_selected(self) -> None:
        contact = self.selected_contact()
        if contact is not None and not _is_nearby(contact):
            self.remove_contact(contact)

    def remove_contact(self, contact: Contact) -> QMessageBox:
        """Ask, then remove the contact (and stop watching it)."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            self.tr("Remove contact"),
            self.tr("Remove {name} from your contacts?").format(name=contact.name),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setAccessibleName(self.tr("Remove contact"))
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.button(QMessageBox.StandardButton.Yes).setAccessibleName(self.tr("Yes, remove"))
        box.button(QMessageBox.StandardButton.No).setAccessibleName(self.tr("No, keep"))
        box.setDefaultButton(QMessageBox.StandardButton.No)

        def done(result: int) -> None:
            if result == QMessageBox.StandardButton.Yes:
                self.delete_contact(contact)

        box.finished.connect(done)
        self.message_box = box
        box.open()
        return box

    def delete_contact(self, contact: Contact) -> bool:
        if self.store is None or contact.id is None:
            return False
        try:
            removed = self.store.contacts.remove(contact.id)
        except StoreError as exc:
            self._show_status(self.tr("Cannot remove the contact: {exc}").format(exc=exc))
            return False
        if contact.subscribe_presence:
            self._follow(added=[], removed=sip_uris(contact))
        self.buddy_model.forget(contact)
        self.reload()
        self._show_status(self.tr("Removed {name}").format(name=contact.name))
        return removed

    def _follow(self, added: Sequence[str], removed: Sequence[str]) -> None:
        """Watch presence and busy lamps of ``added`` URIs, stop watching ``removed`` ones (through the UA)."""
        ua = self.bridge.ua
        if ua is None:
            return
        presence = getattr(ua, "presence", None)
        lamps = getattr(ua, "dialog_state", None)
        for uri in added:
            if presence is not None:
                self.bridge.call(presence.watch, uri, on_error=self._reporter(f"watch the presence of {uri}"))
            if lamps is not None:
                self.bridge.call(lamps.watch, uri, on_error=self._reporter(f"watch the busy lamp of {uri}"))
        for uri in removed:
            if presence is not None:
                self.bridge.call(presence.unwatch, uri, on_error=self._reporter(f"stop watching the presence of {uri}"))
            if lamps is not None:
                self.bridge.call(lamps.unwatch, uri, on_error=self._reporter(f"stop watching the busy lamp of {uri}"))

    def _reporter(self, what: str) -> Callable[[BaseException], None]:
        def report(exc: BaseException) -> None:
            self._show_status(cannot(what, str(exc)))

        return report

    # --- vCard ---------------------------------------------------------------------------------------

    def import_vcard(self) -> QFileDialog:
        dialog = QFileDialog(self, self.tr("Import contacts"), "", "vCard files (*.vcf *.vcard);;All files (*)")
        dialog.setAccessibleName(self.tr("Import contacts"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.import_vcard_file)
        return self._open_file_dialog(dialog)

    def export_vcard(self) -> QFileDialog:
        dialog = QFileDialog(self, self.tr("Export contacts"), "contacts.vcf", "vCard files (*.vcf);;All files (*)")
        dialog.setAccessibleName(self.tr("Export contacts"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("vcf")
        dialog.fileSelected.connect(self.export_vcard_file)
        return self._open_file_dialog(dialog)

    def _open_file_dialog(self, dialog: QFileDialog) -> QFileDialog:
        if self.file_dialog is not None:
            self.file_dialog.close()
            self.file_dialog.deleteLater()
        self.file_dialog = dialog
        dialog.open()
        return dialog

    def import_vcard_file(self, path: str) -> ImportResult | None:
        """Import a vCard file into the store and say what happened (added, updated, unchanged, skipped)."""
        if self.store is None or not path:
            return None
        try:
            data = Path(path).read_bytes()
            result = self.store.contacts.import_vcard(data)
        except (OSError, StoreError) as exc:
            self._inform(
                self.tr("Import contacts"),
                self.tr("Cannot import {path}: {exc}").format(path=path, exc=exc),
                QMessageBox.Icon.Warning,
            )
            return None
        self.reload()
        ua = self.bridge.ua
        presence = getattr(ua, "presence", None)
        if presence is not None and self.bridge.is_started:
            self.bridge.call(presence.load_buddies, on_error=lambda exc: log.info("load buddies: %s", exc))
        self._inform(self.tr("Import contacts"), import_summary(result), QMessageBox.Icon.Information)
        return result

    def export_vcard_file(self, path: str) -> int:
        """Write every contact to ``path`` as vCard 3.0; returns how many."""
        if self.store is None or not path:
            return 0
        try:
            contacts = self.store.contacts.list()
            Path(path).write_text(self.store.contacts.export_vcard(contacts), encoding="utf-8")
        except (OSError, StoreError) as exc:
            self._inform(
                self.tr("Export contacts"),
                self.tr("Cannot export to {path}: {exc}").format(path=path, exc=exc),
                QMessageBox.Icon.Warning,
            )
            return 0
        n = len(contacts)  # a plain name: lupdate reads literals and names only
        self._show_status(translate("BuddyList", "Exported %n contact(s) to {path}", "", n).format(path=path))
        return len(contacts)

    def _inform(self, title: str, text: str, kind: QMessageBox.Icon) -> None:
        self._show_status(text)
        box = QMessageBox(kind, title, text, QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setAccessibleName(title)
        box.button(QMessageBox.StandardButton.Ok).setAccessibleName(self.tr("OK"))
        if self.message_box is not None:
            self.message_box.close()
        self.message_box = box
        box.open()

    def _show_status(self, text: str) -> None:
        log.info("%s", text)
        self.status.setText(text)
        self.status.setVisible(bool(text))


def _is_nearby(contact: Contact) -> bool:
    """A row of the Nearby group: a phone found on the LAN, not a contact of the store."""
    return contact.id is not None and contact.id < 0


def _lan_wanted(accounts: Sequence[Account]) -> bool:
    """Whether LAN discovery runs: an account is announced (a LAN-only account unless the user said no)."""
    return any(a.announces_on_lan for a in accounts)


def import_summary(result: ImportResult) -> str:
    """``ImportResult`` in words: counts, then the first skipped cards with their reasons."""
    parts = [
        translate("BuddyList", "{count} added").format(count=result.added),
        translate("BuddyList", "{count} updated").format(count=result.updated),
        translate("BuddyList", "{count} unchanged").format(count=result.unchanged),
    ]
    if result.skipped:
        parts.append(translate("BuddyList", "{count} skipped").format(count=len(result.skipped)))
    n = result.total
    text = translate("BuddyList", "%n card(s) read:", "", n) + " " + ", ".join(parts) + "."
    for number, reason in result.skipped[:5]:
        text += "\n" + translate("BuddyList", "Card {number}: {reason}").format(number=number, reason=reason)
    if len(result.skipped) > 5:
        text += "\n" + translate("BuddyList", "… and {count} more skipped").format(count=len(result.skipped) - 5)
    return text

"""The buddy list: contacts by group with live presence and busy lamps, watcher requests, vCard.

:class:`BuddyList` is the main window's Contacts tab. Contacts come from the
store (quick SQLite reads on the GUI thread); presence and busy lamps come
from the UA's ``PresenceEvent`` / ``SubscriptionEvent`` / ``DialogStateEvent``
through the bridge; every command (watch, unwatch, allow, block, load) goes
through :meth:`~softphone.gui.bridge.UaBridge.call` and never waits.

Performance: the rows live in a :class:`QStandardItemModel` (groups as
top-level rows, a contact under each of its groups) behind a
:class:`QSortFilterProxyModel` that does the search-as-you-type filtering.
Events only record what changed (URIs in a set); a single-shot timer
(:data:`FLUSH_MS`) then refreshes the affected rows, at most
:data:`FLUSH_BATCH` contacts per turn of the event loop, so a burst of a
thousand NOTIFYs costs a few short slices of the GUI thread instead of a
thousand repaints.

Presence is shown by an icon whose *shape* differs per state (check, clock,
bar, handset, cross), its colour, and words ("Available", "Away", "Busy",
"On the phone", "Offline", with the RFC 4480 activity and the note).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QKeySequence,
    QPainter,
    QPalette,
    QPixmap,
    QShortcut,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from softphone.gui.bridge import UaBridge
from softphone.gui.icons import icon, presence_icon
from softphone.store import Contact, ImportResult, Store, StoreError, normalise_uri
from softphone.ua import (
    Account,
    DialogStateEvent,
    PresenceEvent,
    SubscriptionEvent,
    WatcherEvent,
)

log = logging.getLogger("softphone.gui.buddies")

FLUSH_MS = 75
"""Presence and busy-lamp changes are collected this long before the rows are refreshed."""
FLUSH_BATCH = 250
"""Contacts refreshed per turn of the event loop; the rest follow on the next turn."""
LAMP_BATCH = 8
LAMP_INTERVAL_MS = 250
MAX_START_LAMPS = 200
"""Busy lamps subscribed at start (paced, :data:`LAMP_BATCH` every :data:`LAMP_INTERVAL_MS`)."""
AVATAR_SIZE = 32
MAX_PHOTO_BYTES = 2_000_000
NO_GROUP = "Contacts"

CONTACT_ID_ROLE = Qt.ItemDataRole.UserRole + 1
ADDRESS_ROLE = Qt.ItemDataRole.UserRole + 2
STATE_ROLE = Qt.ItemDataRole.UserRole + 3
GROUP_ROLE = Qt.ItemDataRole.UserRole + 4

NAME_COLUMN, PRESENCE_COLUMN, LINE_COLUMN = 0, 1, 2

# RFC 4480 activities, by the word the list shows for an "open" buddy.
BUSY_ACTIVITIES = frozenset({"busy", "meeting", "performance", "presentation", "spectator", "steering", "worship"})
AVAILABLE_ACTIVITIES = frozenset({"unknown", "working", "other"})
ON_THE_PHONE = "on-the-phone"

LAMP_TEXT = {"idle": "Line free", "ringing": "Ringing", "busy": "On a call", "unknown": "Line unknown"}


@dataclass(frozen=True, slots=True)
class PresenceView:
    """How one presence state is shown: a state word, the icon's name and the words of the row."""

    state: str
    icon: str
    text: str


def presence_view(basic: str, activity: str | None = None, note: str | None = None) -> PresenceView:
    """The state word, icon and text for a PIDF basic status with an RFC 4480 activity and a note.

    >>> presence_view("open", "meeting", "till 3").text
    'Busy (meeting) — till 3'
    """
    act = (activity or "").strip().lower() or None
    if basic == "closed":
        state, name, label = "offline", "presence-offline", "Offline"
    elif basic != "open":
        state, name, label = "unknown", "presence-offline", "Unknown"
    elif act == ON_THE_PHONE:
        state, name, label = "on-the-phone", "presence-onphone", "On the phone"
    elif act in BUSY_ACTIVITIES:
        state, name, label = "busy", "presence-busy", "Busy"
    elif act is None or act in AVAILABLE_ACTIVITIES:
        state, name, label = "available", "presence-available", "Available"
    else:
        state, name, label = "away", "presence-away", "Away"
    text = label
    if act is not None and act not in (ON_THE_PHONE, state, "unknown", "other") and basic == "open":
        text += f" ({act.replace('-', ' ')})"
    if note:
        text += f" — {note.strip()}"
    return PresenceView(state, name, text)


_PRESENCE_RANK = {"available": 5, "on-the-phone": 4, "busy": 3, "away": 2, "offline": 1, "unknown": 0}


def _presence_icon(name: str) -> QIcon:
    if name.startswith("presence-") and name[9:] in ("available", "away", "busy", "offline"):
        return presence_icon(name[9:])
    found = icon(name)
    return found if not found.isNull() else presence_icon("busy")


def initials(name: str) -> str:
    """One or two capital letters for an avatar: first letters of the first and last word."""
    text = name.strip()
    if text.lower().startswith(("sip:", "sips:", "tel:")):
        text = text.split(":", 1)[1]
    text = text.split("@", 1)[0] if " " not in text else text
    words = [w for w in text.replace(".", " ").replace("_", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    first = words[0][0]
    last = words[-1][0] if len(words) > 1 else ""
    return (first + last).upper()


def avatar(contact: Contact, palette: QPalette, size: int = AVATAR_SIZE) -> QPixmap:
    """The contact's photo scaled to ``size``, or its initials on a disc in the palette's highlight colour."""
    if contact.photo:
        pixmap = QPixmap()
        if pixmap.loadFromData(contact.photo):
            return pixmap.scaled(
                size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
    return _initials_pixmap(initials(contact.name), palette.color(QPalette.ColorRole.Highlight).name(), size)


_INITIALS_CACHE: dict[tuple[str, str, int], QPixmap] = {}


def _initials_pixmap(text: str, colour: str, size: int) -> QPixmap:
    key = (text, colour, size)
    cached = _INITIALS_CACHE.get(key)
    if cached is not None:
        return cached
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    background = QColor(colour)
    painter.setBrush(background)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(0, 0, size, size)
    # Text colour by the disc's lightness, so initials stay readable in light and dark palettes.
    painter.setPen(QColor("#000000") if background.lightnessF() > 0.6 else QColor("#ffffff"))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(size * 0.4))
    painter.setFont(font)
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    if len(_INITIALS_CACHE) < 2048:
        _INITIALS_CACHE[key] = pixmap
    return pixmap


def sip_uris(contact: Contact) -> list[str]:
    return [u for u in contact.uris if u.lower().startswith(("sip:", "sips:"))]


def _address(contact: Contact) -> str | None:
    """What a double-click calls: the first URI, else the first number."""
    if contact.uris:
        return contact.uris[0]
    return contact.phones[0] if contact.phones else None


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _complete_uri(text: str) -> str:
    text = text.strip().strip("<>")
    if text and ":" not in text.split("@")[0] and "@" in text:
        return f"sip:{text}"
    return text


PHOTO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}


class BuddyDelegate(QStyledItemDelegate):
    """Draws a contact row: photo or initials, the name with the busy lamp at the right, and under the
    name the presence icon (its shape tells the state) with the presence words. Group rows are drawn
    as usual. Every row has the same height, so the view can keep uniform row heights (fast with a
    thousand contacts)."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        lines = option.fontMetrics.lineSpacing() * 2 + 6
        return QSize(200, max(AVATAR_SIZE + 6, lines))

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        if index.data(CONTACT_ID_ROLE) is None:
            super().paint(painter, option, index)  # a group
            return
        style_option = QStyleOptionViewItem(option)
        self.initStyleOption(style_option, index)
        widget = style_option.widget
        style = widget.style() if widget is not None else QApplication.style()
        # The background (selection, hover, alternate rows) the style's way, then our content on top.
        style_option.text = ""
        style_option.icon = QIcon()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, style_option, painter, widget)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_colour = palette.highlightedText().color() if selected else palette.text().color()
        dim = QColor(text_colour)
        dim.setAlphaF(0.75)
        rect = option.rect.adjusted(3, 3, -4, -3)
        painter.save()
        picture = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(picture, QIcon):
            top = rect.top() + (rect.height() - AVATAR_SIZE) // 2
            picture.paint(painter, QRect(rect.left(), top, AVATAR_SIZE, AVATAR_SIZE))
        left = rect.left() + AVATAR_SIZE + 8
        line_height = option.fontMetrics.lineSpacing()
        first = QRect(left, rect.top(), rect.right() - left, line_height)
        second = QRect(left, rect.top() + line_height + 2, rect.right() - left, line_height)
        lamp_index = index.sibling(index.row(), LINE_COLUMN)
        lamp_text = str(lamp_index.data(Qt.ItemDataRole.DisplayRole) or "")
        lamp_icon = lamp_index.data(Qt.ItemDataRole.DecorationRole)
        small = QFont(option.font)
        if small.pointSizeF() > 0:
            small.setPointSizeF(small.pointSizeF() * 0.9)
        if lamp_text:
            metrics = QFontMetrics(small)
            width = metrics.horizontalAdvance(lamp_text) + 20
            lamp_rect = QRect(first.right() - width, first.top(), width, line_height)
            if isinstance(lamp_icon, QIcon):
                lamp_icon.paint(painter, QRect(lamp_rect.left(), lamp_rect.top() + (line_height - 14) // 2, 14, 14))
            painter.setFont(small)
            painter.setPen(dim)
            painter.drawText(lamp_rect.adjusted(18, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, lamp_text)
            first.setRight(lamp_rect.left() - 6)
        name_font = QFont(option.font)
        name_font.setBold(True)
        painter.setFont(name_font)
        painter.setPen(text_colour)
        name = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        painter.drawText(
            first,
            Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(name_font).elidedText(name, Qt.TextElideMode.ElideRight, first.width()),
        )
        presence_index = index.sibling(index.row(), PRESENCE_COLUMN)
        presence_text = str(presence_index.data(Qt.ItemDataRole.DisplayRole) or "")
        presence_icon_ = presence_index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(presence_icon_, QIcon) and not presence_icon_.isNull():
            presence_icon_.paint(painter, QRect(second.left(), second.top() + (line_height - 14) // 2, 14, 14))
            second.setLeft(second.left() + 18)
        painter.setFont(small)
        painter.setPen(dim)
        painter.drawText(
            second,
            Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(small).elidedText(presence_text, Qt.TextElideMode.ElideRight, second.width()),
        )
        painter.restore()


class ContactDialog(QDialog):
    """Add or edit one contact: name, SIP URIs, numbers, groups, notes, photo and "show presence".

    Opened with ``open()`` (never a blocking ``exec()``); ``accepted`` fires only with valid input,
    and :meth:`contact` gives the edited contact.
    """

    def __init__(self, contact: Contact | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.original = contact
        self.setWindowTitle("Edit contact" if contact is not None else "Add contact")
        self.setAccessibleName(self.windowTitle())
        base = contact if contact is not None else Contact("")
        self._photo: bytes | None = base.photo
        self._photo_type: str | None = base.photo_type
        self.file_dialog: QFileDialog | None = None

        self.name = QLineEdit(base.name)
        self.name.setAccessibleName("Name")
        self.uris = QPlainTextEdit("\n".join(base.uris))
        self.uris.setAccessibleName("SIP addresses, one per line")
        self.uris.setPlaceholderText("sip:alice@example.com")
        self.uris.setTabChangesFocus(True)
        self.uris.setFixedHeight(60)
        self.phones = QPlainTextEdit("\n".join(base.phones))
        self.phones.setAccessibleName("Phone numbers, one per line")
        self.phones.setTabChangesFocus(True)
        self.phones.setFixedHeight(60)
        self.groups = QLineEdit(", ".join(base.groups))
        self.groups.setAccessibleName("Groups, separated by commas")
        self.groups.setPlaceholderText("Friends, Work")
        self.notes = QPlainTextEdit(base.notes)
        self.notes.setAccessibleName("Notes")
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(60)
        self.presence = QCheckBox("Show presence and busy lamp")
        self.presence.setAccessibleName("Show presence and busy lamp")
        self.presence.setChecked(base.subscribe_presence if contact is not None else True)

        self.photo_preview = QLabel()
        self.photo_preview.setFixedSize(48, 48)
        self.photo_preview.setAccessibleName("Photo")
        self.photo_path = QLineEdit()
        self.photo_path.setAccessibleName("Photo file")
        self.photo_path.setPlaceholderText("image file (PNG, JPEG)")
        self.photo_path.editingFinished.connect(lambda: self.load_photo(self.photo_path.text()))
        choose = QPushButton("Choose…")
        choose.setAccessibleName("Choose a photo file")
        choose.clicked.connect(self.choose_photo)
        clear = QPushButton("No photo")
        clear.setAccessibleName("Remove the photo")
        clear.clicked.connect(self.clear_photo)
        photo_row = QHBoxLayout()
        photo_row.addWidget(self.photo_preview)
        photo_row.addWidget(self.photo_path, 1)
        photo_row.addWidget(choose)
        photo_row.addWidget(clear)

        self.problem = QLabel()
        self.problem.setAccessibleName("Problem")
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)

        form = QFormLayout()
        form.addRow("&Name:", self.name)
        form.addRow("SIP &addresses:", self.uris)
        form.addRow("&Numbers:", self.phones)
        form.addRow("&Groups:", self.groups)
        form.addRow("N&otes:", self.notes)
        form.addRow("Photo:", photo_row)
        form.addRow("", self.presence)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        for button in self.buttons.buttons():
            button.setAccessibleName(button.text().replace("&", ""))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._show_photo()

    def choose_photo(self) -> None:
        dialog = QFileDialog(self, "Choose a photo", "", "Images (*.png *.jpg *.jpeg *.gif);;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAccessibleName("Choose a photo")
        dialog.fileSelected.connect(self.load_photo)
        self.file_dialog = dialog
        dialog.open()

    def load_photo(self, path: str) -> bool:
        """Take the image at ``path`` as the photo; False (with the problem shown) when it is not one."""
        path = path.strip()
        if not path:
            return False
        self.photo_path.setText(path)
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as exc:
            self._show_problem(f"Cannot read the photo: {exc.strerror or exc}")
            return False
        pixmap = QPixmap()
        if len(data) > MAX_PHOTO_BYTES or not pixmap.loadFromData(data):
            self._show_problem("The photo is not an image this program can read (or larger than 2 MB)")
            return False
        self._photo = data
        self._photo_type = PHOTO_TYPES.get(file.suffix.lower(), "image/png")
        self.problem.setVisible(False)
        self._show_photo()
        return True

    def clear_photo(self) -> None:
        self._photo = None
        self._photo_type = None
        self.photo_path.clear()
        self._show_photo()

    def _show_photo(self) -> None:
        shown = Contact(self.name.text() or "?", photo=self._photo)
        self.photo_preview.setPixmap(avatar(shown, self.palette(), 48))

    def _show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(True)

    def contact(self) -> Contact:
        """The contact as edited (keeps the original's id and UID)."""
        base = self.original if self.original is not None else Contact("")
        groups = [g.strip() for g in self.groups.text().split(",") if g.strip()]
        return replace(
            base,
            name=self.name.text().strip(),
            uris=[_complete_uri(u) for u in _lines(self.uris.toPlainText())],
            phones=_lines(self.phones.toPlainText()),
            groups=groups,
            notes=self.notes.toPlainText().strip(),
            photo=self._photo,
            photo_type=self._photo_type if self._photo is not None else None,
            subscribe_presence=self.presence.isChecked(),
        )

    def validate(self) -> str | None:
        contact = self.contact()
        if not (contact.name or contact.uris or contact.phones):
            return "Give a name, a SIP address or a number"
        for uri in contact.uris:
            if ":" not in uri or uri.endswith(":") or " " in uri:
                return f"{uri!r} is not an address (write sip:user@host or user@host)"
        return None

    def accept(self) -> None:
        problem = self.validate()
        if problem is not None:
            self._show_problem(problem)
            return
        super().accept()


class _BuddyFilter(QSortFilterProxyModel):
    """Search as you type: contacts found by the store's prefix search or containing the text; groups
    are shown when one of their contacts is (recursive filtering)."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.matches: set[int] = set()
        self.setRecursiveFilteringEnabled(True)
        self.setDynamicSortFilter(False)  # a presence change must not re-filter a thousand rows

    def set_search(self, text: str, matches: Iterable[int]) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9 and later
            self.beginFilterChange()
            self.text = text.casefold().strip()
            self.matches = set(matches)
            self.endFilterChange()
        else:
            self.text = text.casefold().strip()
            self.matches = set(matches)
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self.text:
            return True
        model = self.sourceModel()
        index = model.index(source_row, NAME_COLUMN, source_parent)
        contact_id = index.data(CONTACT_ID_ROLE)
        if contact_id is None:
            return False  # a group: shown only for the contacts in it that match
        if int(contact_id) in self.matches:
            return True
        haystack = str(index.data(Qt.ItemDataRole.ToolTipRole) or index.data() or "").casefold()
        return self.text in haystack


class WatcherRow(QWidget):
    """One pending presence request: who, Allow, Block."""

    def __init__(self, uri: str, account: str, on_decide: Callable[[str, str, bool], None]) -> None:
        super().__init__()
        self.uri = uri
        self.account = account
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(uri)
        self.label.setAccessibleName(f"Presence request from {uri}")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.allow_button = QPushButton("Allow")
        self.allow_button.setAccessibleName(f"Allow {uri} to see your presence")
        self.allow_button.clicked.connect(lambda: on_decide(uri, account, True))
        self.block_button = QPushButton("Block")
        self.block_button.setAccessibleName(f"Block {uri} from seeing your presence")
        self.block_button.clicked.connect(lambda: on_decide(uri, account, False))
        layout.addWidget(self.label, 1)
        layout.addWidget(self.allow_button)
        layout.addWidget(self.block_button)


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
        self.own_aors = {normalise_uri(a.aor) for a in accounts}
        self.account_aors = [a.aor for a in accounts]
        self.setAccessibleName("Buddy list")

        # Live state, keyed by normalised URI.
        self.presence: dict[str, tuple[str, str | None, str | None]] = {}
        self.subscriptions: dict[str, tuple[str, str | None]] = {}
        self.lamps: dict[str, str] = {}
        self.contacts: dict[int, Contact] = {}
        self._rows: dict[int, list[tuple[QStandardItem, QStandardItem, QStandardItem]]] = {}
        self._uri_contacts: dict[str, set[int]] = {}
        self._dirty: set[str] = set()
        self._dirty_contacts: set[int] = set()
        self._collapsed: set[str] = set()
        self._lamp_queue: list[str] = []
        self.watcher_rows: dict[tuple[str, str], WatcherRow] = {}
        self.dialog: ContactDialog | None = None
        self.file_dialog: QFileDialog | None = None
        self.message_box: QMessageBox | None = None
        self.flushes = 0

        self.model = QStandardItemModel(0, 3, self)
        self.proxy = _BuddyFilter()
        self.proxy.setParent(self)
        self.proxy.setSourceModel(self.model)

        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._lamp_timer = QTimer(self)
        self._lamp_timer.setInterval(LAMP_INTERVAL_MS)
        self._lamp_timer.timeout.connect(self._watch_next_lamps)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._make_watcher_bar())
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search contacts")
        self.search.setAccessibleName("Search contacts")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.apply_search)
        layout.addWidget(self.search)
        layout.addLayout(self._make_buttons())
        self.view = QTreeView()
        self.view.setAccessibleName("Contacts")
        self.view.setModel(self.proxy)
        self.view.setUniformRowHeights(True)
        self.view.setIconSize(QSize(AVATAR_SIZE, AVATAR_SIZE))
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
        self.status = QLabel()
        self.status.setAccessibleName("Contacts status")
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

    def _make_watcher_bar(self) -> QFrame:
        bar = QFrame()
        bar.setFrameShape(QFrame.Shape.StyledPanel)
        bar.setAccessibleName("Presence requests")
        box = QVBoxLayout(bar)
        self.watcher_title = QLabel()
        self.watcher_title.setWordWrap(True)
        self.watcher_title.setAccessibleName("Presence requests")
        box.addWidget(self.watcher_title)
        self.watcher_box = QVBoxLayout()
        box.addLayout(self.watcher_box)
        bar.setVisible(False)
        self.watcher_bar = bar
        return bar

    def _tool(
        self, text: str, name: str, tip: str, slot: Callable[[], object], icon_name: str | None = None
    ) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setAccessibleName(name)
        button.setToolTip(tip)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        if icon_name is not None:
            button.setIcon(icon(icon_name))
        button.clicked.connect(lambda: slot())
        return button

    def _make_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.add_button = self._tool("Add", "Add contact", "Add a contact", self.add_contact)
        self.edit_button = self._tool("Edit", "Edit contact", "Edit the selected contact", self.edit_selected)
        self.remove_button = self._tool(
            "Remove", "Remove contact", "Remove the selected contact (Delete)", self.remove_selected
        )
        self.chat_button = self._tool(
            "Chat", "Chat with contact", "Write to the selected contact", self.chat_selected, "chat"
        )
        self.call_button = self._tool(
            "Call", "Call contact", "Call the selected contact (Enter, double-click)", self.call_selected, "phone"
        )
        self.vcard_button = QToolButton()
        self.vcard_button.setText("vCard")
        self.vcard_button.setAccessibleName("Import or export vCard")
        self.vcard_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.vcard_button)
        menu.addAction("Import vCard…", self.import_vcard)
        menu.addAction("Export vCard…", self.export_vcard)
        self.vcard_button.setMenu(menu)
        for button in (self.call_button, self.chat_button, self.add_button, self.edit_button, self.remove_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.vcard_button)
        return row

    def _update_buttons(self) -> None:
        contact = self.selected_contact()
        for button in (self.edit_button, self.remove_button):
            button.setEnabled(contact is not None)
        self.call_button.setEnabled(contact is not None and _address(contact) is not None)
        self.chat_button.setEnabled(contact is not None and bool(sip_uris(contact)))

    # --- the model -------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the contacts from the store again and rebuild the rows (presence kept).

        The rows are built in a new model, not yet shown, which then replaces the old one in one
        step: the view resets once instead of following thousands of insertions.
        """
        contacts: list[Contact] = []
        if self.store is not None:
            try:
                contacts = self.store.contacts.list()
            except StoreError as exc:
                self._show_status(f"Cannot read the contacts: {exc}")
        selected = self.selected_contact()
        self.contacts = {c.id: c for c in contacts if c.id is not None}
        self._rows.clear()
        self._uri_contacts.clear()
        groups: dict[str, list[Contact]] = {}
        for contact in contacts:
            for group in contact.groups or [NO_GROUP]:
                groups.setdefault(group, []).append(contact)
            if contact.id is not None:
                for uri in contact.uris:
                    self._uri_contacts.setdefault(normalise_uri(uri), set()).add(contact.id)
        model = QStandardItemModel(0, 3, self)
        model.setHorizontalHeaderLabels(["Name", "Presence", "Line"])
        palette = self.palette()
        avatars: dict[int, QIcon] = {}
        bold = QFont(self.font())
        bold.setBold(True)
        names = sorted(groups, key=lambda g: (g == NO_GROUP, g.casefold()))
        for group in names:
            members = groups[group]
            header = QStandardItem(f"{group} ({len(members)})")
            filler = [QStandardItem(), QStandardItem()]
            for item in (header, *filler):
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            model.appendRow([header, *filler])
            model.setItemData(
                header.index(),
                {
                    Qt.ItemDataRole.DisplayRole: header.text(),
                    GROUP_ROLE: group,
                    Qt.ItemDataRole.AccessibleTextRole: f"Group {group}, {len(members)} contacts",
                    Qt.ItemDataRole.FontRole: bold,
                },
            )
            for contact in members:
                assert contact.id is not None
                if contact.id not in avatars:
                    avatars[contact.id] = QIcon(avatar(contact, palette))
                row = self._make_row(model, header, contact, avatars[contact.id])
                self._rows.setdefault(contact.id, []).append(row)
        self.model = model
        self._refresh_contacts(list(self._rows), notify=False)
        old = self.proxy.sourceModel()
        self.proxy.setSourceModel(model)
        if old is not None:
            old.deleteLater()
        self._restore_expansion()
        if selected is not None and selected.id in self._rows:
            self.select_contact(selected.id)
        self._update_buttons()

    def _make_row(
        self, model: QStandardItemModel, header: QStandardItem, contact: Contact, picture: QIcon
    ) -> tuple[QStandardItem, QStandardItem, QStandardItem]:
        assert contact.id is not None
        name, presence, lamp = QStandardItem(), QStandardItem(), QStandardItem()
        header.appendRow([name, presence, lamp])
        details = [contact.name, *contact.uris, *contact.phones, *([contact.notes] if contact.notes else [])]
        common = {CONTACT_ID_ROLE: contact.id, ADDRESS_ROLE: _address(contact) or ""}
        model.setItemData(
            name.index(),
            {
                Qt.ItemDataRole.DisplayRole: contact.name,
                Qt.ItemDataRole.DecorationRole: picture,
                Qt.ItemDataRole.ToolTipRole: "\n".join(details),
                **common,
            },
        )
        model.setItemData(presence.index(), dict(common))
        model.setItemData(lamp.index(), dict(common))
        return name, presence, lamp

    def _contact_presence(self, contact: Contact) -> PresenceView | None:
        best: PresenceView | None = None
        for uri in contact.uris:
            known = self.presence.get(normalise_uri(uri))
            if known is None:
                continue
            view = presence_view(*known)
            if best is None or _PRESENCE_RANK[view.state] > _PRESENCE_RANK[best.state]:
                best = view
        if best is not None and best.state != "unknown":
            return best
        for uri in contact.uris:
            sub = self.subscriptions.get(normalise_uri(uri))
            if sub is None:
                continue
            state, reason = sub
            if state == "pending":
                return PresenceView("unknown", "presence-offline", "Waiting for authorisation")
            if state == "terminated" and reason in ("rejected", "noresource", "invariant"):
                words = {"rejected": "Presence refused", "noresource": "Unknown address"}
                return PresenceView("unknown", "presence-offline", words.get(reason, "Presence unavailable"))
        if best is not None:
            return best
        if contact.subscribe_presence and sip_uris(contact):
            return PresenceView("unknown", "presence-offline", "Unknown")
        return None

    def _contact_lamp(self, contact: Contact) -> str | None:
        for uri in contact.uris:
            lamp = self.lamps.get(normalise_uri(uri))
            if lamp is not None:
                return lamp
        return None

    def _refresh_contacts(self, contact_ids: Iterable[int], *, notify: bool = True) -> None:
        """Bring the rows of these contacts up to date: the items change with the model's signals
        blocked, then one ``dataChanged`` per group tells the proxy and the view (a thousand
        changes cost a dozen signals, not thousands)."""
        model = self.model
        changed = False
        blocked = model.blockSignals(True)
        try:
            for contact_id in contact_ids:
                changed = self._refresh_contact(contact_id) or changed
        finally:
            model.blockSignals(blocked)
        if not changed or not notify:
            return
        for group_row in range(model.rowCount()):
            group = model.index(group_row, NAME_COLUMN)
            rows = model.rowCount(group)
            if rows:
                first, last = model.index(0, NAME_COLUMN, group), model.index(rows - 1, LINE_COLUMN, group)
                model.dataChanged.emit(first, last, [])

    def _refresh_contact(self, contact_id: int) -> bool:
        """Set the items of one contact (signals are the caller's business); True when anything changed."""
        contact = self.contacts.get(contact_id)
        rows = self._rows.get(contact_id)
        if contact is None or not rows:
            return False
        view = self._contact_presence(contact)
        lamp = self._contact_lamp(contact) or ""
        state = view.state if view is not None else ""
        presence_text = view.text if view is not None else "Presence not shown"
        lamp_text = LAMP_TEXT.get(lamp, lamp)
        spoken = f"{contact.name}, {presence_text}" + (f", {lamp_text}" if lamp_text else "")
        model = self.model
        changed = False
        for name_item, presence_item, lamp_item in rows:
            common = {CONTACT_ID_ROLE: contact_id, ADDRESS_ROLE: name_item.data(ADDRESS_ROLE)}
            if presence_item.text() != presence_text or presence_item.data(STATE_ROLE) != state:
                model.setItemData(
                    presence_item.index(),
                    {
                        Qt.ItemDataRole.DisplayRole: presence_text,
                        Qt.ItemDataRole.DecorationRole: _presence_icon(view.icon) if view is not None else QIcon(),
                        Qt.ItemDataRole.ToolTipRole: presence_text,
                        Qt.ItemDataRole.AccessibleTextRole: f"Presence of {contact.name}: {presence_text}",
                        STATE_ROLE: state,
                        **common,
                    },
                )
                changed = True
            if lamp_item.text() != lamp_text or lamp_item.data(STATE_ROLE) != lamp:
                model.setItemData(
                    lamp_item.index(),
                    {
                        Qt.ItemDataRole.DisplayRole: lamp_text,
                        Qt.ItemDataRole.DecorationRole: icon(f"lamp-{lamp}") if lamp else QIcon(),
                        Qt.ItemDataRole.AccessibleTextRole: f"Line of {contact.name}: {lamp_text or 'not watched'}",
                        STATE_ROLE: lamp,
                        **common,
                    },
                )
                changed = True
            if name_item.data(Qt.ItemDataRole.AccessibleTextRole) != spoken:
                model.setData(name_item.index(), spoken, Qt.ItemDataRole.AccessibleTextRole)
                changed = True
        return changed

    def row_text(self, contact_id: int) -> str:
        """What the contact's first row says (name, presence, line), as one line — for tests and screen readers."""
        rows = self._rows.get(contact_id)
        if not rows:
            return ""
        name, presence, lamp = rows[0]
        return " | ".join(part for part in (name.text(), presence.text(), lamp.text()) if part)

    def contact_ids(self) -> list[int]:
        return list(self._rows)

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
        return [str(self.model.item(r, 0).data(GROUP_ROLE)) for r in range(self.model.rowCount())]

    # --- coalesced updates -------------------------------------------------------------------------

    def _mark(self, key: str) -> None:
        self._dirty.add(key)
        if not self._flush_timer.isActive():
            self._flush_timer.start(FLUSH_MS)

    def _flush(self) -> None:
        if self._dirty:
            for key in self._dirty:
                self._dirty_contacts.update(self._uri_contacts.get(key, ()))
            self._dirty.clear()
        batch: list[int] = []
        while self._dirty_contacts and len(batch) < FLUSH_BATCH:
            batch.append(self._dirty_contacts.pop())
        self._refresh_contacts(batch)
        self.flushes += 1
        if self._dirty_contacts:
            self._flush_timer.start(0)  # the rest on the next turn: input and painting go first

    @property
    def pending_updates(self) -> int:
        return len(self._dirty) + len(self._dirty_contacts)

    # --- events ------------------------------------------------------------------------------------

    def on_event(self, event: object) -> None:
        if isinstance(event, PresenceEvent):
            key = normalise_uri(event.uri)
            if key in self.own_aors:
                return
            self.presence[key] = (event.basic, event.activity, event.note)
            self._mark(key)
        elif isinstance(event, SubscriptionEvent):
            if event.event != "presence":
                return
            key = normalise_uri(event.uri)
            self.subscriptions[key] = (event.state, event.reason)
            self._mark(key)
        elif isinstance(event, DialogStateEvent):
            key = normalise_uri(event.uri)
            self.lamps[key] = event.state
            self._mark(key)
        elif isinstance(event, WatcherEvent):
            if event.state == "pending":
                self.add_watcher_request(event.uri, event.account)
            else:
                self.drop_watcher_request(event.uri, event.account)

    def _core_started(self) -> None:
        """The UA runs: watch the buddies with presence on, their busy lamps, and list pending watchers."""
        ua = self.bridge.ua
        if ua is None:
            return
        presence = getattr(ua, "presence", None)
        if presence is not None:
            self.bridge.call(presence.load_buddies, on_error=lambda exc: self._show_status(f"Presence: {exc}"))
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
                self.add_watcher_request(uri, account)

        return loaded

    # --- watcher requests --------------------------------------------------------------------------

    def add_watcher_request(self, uri: str, account: str = "") -> None:
        key = (normalise_uri(uri), account)
        if key in self.watcher_rows:
            return
        row = WatcherRow(key[0], account, self.decide_watcher)
        self.watcher_rows[key] = row
        self.watcher_box.addWidget(row)
        self._update_watcher_bar()

    def drop_watcher_request(self, uri: str, account: str = "") -> None:
        key = normalise_uri(uri)
        for (watcher, acc), row in list(self.watcher_rows.items()):
            if watcher == key and (not account or not acc or acc == account):
                del self.watcher_rows[(watcher, acc)]
                row.setParent(None)
                row.deleteLater()
        self._update_watcher_bar()

    def _update_watcher_bar(self) -> None:
        count = len(self.watcher_rows)
        self.watcher_title.setText(
            "Someone wants to see your presence:" if count == 1 else f"{count} people want to see your presence:"
        )
        self.watcher_bar.setVisible(count > 0)

    def decide_watcher(self, uri: str, account: str, allow: bool) -> None:
        """Allow or block a watcher (through the UA); the row goes when the UA confirms with a WatcherEvent."""
        ua = self.bridge.ua
        presence = getattr(ua, "presence", None)
        if presence is None:
            self._show_status("Presence is not available")
            return
        row = self.watcher_rows.get((normalise_uri(uri), account))
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
        address = _address(contact) if contact is not None else None
        if address and self.on_call is not None:
            self.on_call(address)

    def chat_selected(self) -> None:
        contact = self.selected_contact()
        if contact is not None:
            self.chat_with(contact)

    def chat_with(self, contact: Contact) -> None:
        uris = sip_uris(contact)
        if not uris:
            self._show_status(f"{contact.name} has no SIP address to write to")
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
                address = _address(contact)
                if address:
                    menu.addAction(icon("phone"), f"Call {address}", lambda: self.on_call and self.on_call(address))
                if sip_uris(contact):
                    menu.addAction(icon("chat"), "Chat", lambda: self.chat_with(contact))
                menu.addAction("Edit…", lambda: self.edit_contact(contact))
                menu.addAction("Remove…", lambda: self.remove_contact(contact))
                menu.addSeparator()
        menu.addAction("Add contact…", self.add_contact)
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
        if contact is not None:
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
            self._show_status("No contact store")
            return None
        try:
            saved = self.store.contacts.add(new) if old is None else self.store.contacts.update(new)
        except StoreError as exc:
            self._show_status(f"Cannot save the contact: {exc}")
            return None
        before = set(sip_uris(old)) if old is not None and old.subscribe_presence else set()
        after = set(sip_uris(saved)) if saved.subscribe_presence else set()
        self._follow(added=[u for u in sip_uris(saved) if u in after - before], removed=sorted(before - after))
        self.reload()
        if saved.id is not None:
            self.select_contact(saved.id)
        self._show_status(f"Saved {saved.name}")
        return saved

    def remove_selected(self) -> None:
        contact = self.selected_contact()
        if contact is not None:
            self.remove_contact(contact)

    def remove_contact(self, contact: Contact) -> QMessageBox:
        """Ask, then remove the contact (and stop watching it)."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove contact",
            f"Remove {contact.name} from your contacts?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setAccessibleName("Remove contact")
        box.button(QMessageBox.StandardButton.Yes).setAccessibleName("Yes, remove")
        box.button(QMessageBox.StandardButton.No).setAccessibleName("No, keep")
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
            self._show_status(f"Cannot remove the contact: {exc}")
            return False
        if contact.subscribe_presence:
            self._follow(added=[], removed=sip_uris(contact))
        for uri in contact.uris:
            key = normalise_uri(uri)
            self.presence.pop(key, None)
            self.lamps.pop(key, None)
            self.subscriptions.pop(key, None)
        self.reload()
        self._show_status(f"Removed {contact.name}")
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
                self.bridge.call(presence.watch, uri, on_error=self._reporter(f"Presence of {uri}"))
            if lamps is not None:
                self.bridge.call(lamps.watch, uri, on_error=self._reporter(f"Busy lamp of {uri}"))
        for uri in removed:
            if presence is not None:
                self.bridge.call(presence.unwatch, uri, on_error=self._reporter(f"Presence of {uri}"))
            if lamps is not None:
                self.bridge.call(lamps.unwatch, uri, on_error=self._reporter(f"Busy lamp of {uri}"))

    def _reporter(self, what: str) -> Callable[[BaseException], None]:
        def report(exc: BaseException) -> None:
            self._show_status(f"{what}: {exc}")

        return report

    # --- vCard ---------------------------------------------------------------------------------------

    def import_vcard(self) -> QFileDialog:
        dialog = QFileDialog(self, "Import contacts", "", "vCard files (*.vcf *.vcard);;All files (*)")
        dialog.setAccessibleName("Import contacts")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.import_vcard_file)
        return self._open_file_dialog(dialog)

    def export_vcard(self) -> QFileDialog:
        dialog = QFileDialog(self, "Export contacts", "contacts.vcf", "vCard files (*.vcf);;All files (*)")
        dialog.setAccessibleName("Export contacts")
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
            self._inform("Import contacts", f"Cannot import {path}: {exc}", QMessageBox.Icon.Warning)
            return None
        self.reload()
        ua = self.bridge.ua
        presence = getattr(ua, "presence", None)
        if presence is not None and self.bridge.is_started:
            self.bridge.call(presence.load_buddies, on_error=lambda exc: log.info("load buddies: %s", exc))
        self._inform("Import contacts", import_summary(result), QMessageBox.Icon.Information)
        return result

    def export_vcard_file(self, path: str) -> int:
        """Write every contact to ``path`` as vCard 3.0; returns how many."""
        if self.store is None or not path:
            return 0
        try:
            contacts = self.store.contacts.list()
            Path(path).write_text(self.store.contacts.export_vcard(contacts), encoding="utf-8")
        except (OSError, StoreError) as exc:
            self._inform("Export contacts", f"Cannot export to {path}: {exc}", QMessageBox.Icon.Warning)
            return 0
        self._show_status(f"Exported {len(contacts)} contact{'s' if len(contacts) != 1 else ''} to {path}")
        return len(contacts)

    def _inform(self, title: str, text: str, kind: QMessageBox.Icon) -> None:
        self._show_status(text)
        box = QMessageBox(kind, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAccessibleName(title)
        box.button(QMessageBox.StandardButton.Ok).setAccessibleName("OK")
        if self.message_box is not None:
            self.message_box.close()
        self.message_box = box
        box.open()

    def _show_status(self, text: str) -> None:
        log.info("%s", text)
        self.status.setText(text)
        self.status.setVisible(bool(text))


def import_summary(result: ImportResult) -> str:
    """``ImportResult`` in words: counts, then the first skipped cards with their reasons."""
    parts = [f"{result.added} added", f"{result.updated} updated", f"{result.unchanged} unchanged"]
    if result.skipped:
        parts.append(f"{len(result.skipped)} skipped")
    text = f"{result.total} card{'s' if result.total != 1 else ''} read: " + ", ".join(parts) + "."
    for number, reason in result.skipped[:5]:
        text += f"\nCard {number}: {reason}"
    if len(result.skipped) > 5:
        text += f"\n… and {len(result.skipped) - 5} more skipped"
    return text

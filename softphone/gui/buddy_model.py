"""The buddy list's rows: contacts by group, their live presence and busy lamps, and what each row shows.

:class:`BuddyModel` keeps the rows in a :class:`QStandardItemModel` (groups as
top-level rows, a contact under each of its groups, three columns: name,
presence, line) behind a :class:`BuddyFilter` that does the search-as-you-type
filtering. Presence, subscription and busy-lamp events only record what
changed (URIs in a set); a single-shot timer (:data:`FLUSH_MS`) then
refreshes the affected rows, at most :data:`FLUSH_BATCH` contacts per turn of
the event loop, with the model's signals blocked and one ``dataChanged`` per
group, so a burst of a thousand NOTIFYs costs a few short slices of the GUI
thread instead of a thousand repaints.

Presence is shown by an icon whose *shape* differs per state (check, clock,
bar, handset, cross), its colour, and words ("Available", "Away", "Busy",
"On the phone", "Offline", with the RFC 4480 activity and the note).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPalette, QPixmap, QStandardItem, QStandardItemModel

from softphone.gui.i18n import QT_TRANSLATE_NOOP, translate
from softphone.gui.icons import icon, presence_icon
from softphone.store import Contact, normalise_uri
from softphone.ua import DialogStateEvent, PresenceEvent, SubscriptionEvent

FLUSH_MS = 75
"""Presence and busy-lamp changes are collected this long before the rows are refreshed."""
FLUSH_BATCH = 50
"""Contacts refreshed per turn of the event loop; the rest follow on the next turn."""
AVATAR_SIZE = 32
NO_GROUP = QT_TRANSLATE_NOOP("BuddyModel", "Contacts")  # the group of contacts in none (shown translated)
NEARBY_TEXT = QT_TRANSLATE_NOOP("BuddyModel", "Nearby")
NEARBY_GROUP = "\x00nearby"
"""The group of the phones found on the LAN (negative contact ids, not in the store); no user group can be named so."""

CONTACT_ID_ROLE = Qt.ItemDataRole.UserRole + 1
ADDRESS_ROLE = Qt.ItemDataRole.UserRole + 2
STATE_ROLE = Qt.ItemDataRole.UserRole + 3
GROUP_ROLE = Qt.ItemDataRole.UserRole + 4

NAME_COLUMN, PRESENCE_COLUMN, LINE_COLUMN = 0, 1, 2

# RFC 4480 activities, by the word the list shows for an "open" buddy.
BUSY_ACTIVITIES = frozenset({"busy", "meeting", "performance", "presentation", "spectator", "steering", "worship"})
AVAILABLE_ACTIVITIES = frozenset({"unknown", "working", "other"})
ON_THE_PHONE = "on-the-phone"

LAMP_TEXT = {
    "idle": QT_TRANSLATE_NOOP("BuddyModel", "Line free"),
    "ringing": QT_TRANSLATE_NOOP("BuddyModel", "Ringing"),
    "busy": QT_TRANSLATE_NOOP("BuddyModel", "On a call"),
    "unknown": QT_TRANSLATE_NOOP("BuddyModel", "Line unknown"),
}


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
        state, name, label = "offline", "presence-offline", translate("BuddyModel", "Offline")
    elif basic != "open":
        state, name, label = "unknown", "presence-offline", translate("BuddyModel", "Unknown")
    elif act == ON_THE_PHONE:
        state, name, label = "on-the-phone", "presence-onphone", translate("BuddyModel", "On the phone")
    elif act in BUSY_ACTIVITIES:
        state, name, label = "busy", "presence-busy", translate("BuddyModel", "Busy")
    elif act is None or act in AVAILABLE_ACTIVITIES:
        state, name, label = "available", "presence-available", translate("BuddyModel", "Available")
    else:
        state, name, label = "away", "presence-away", translate("BuddyModel", "Away")
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


def address_of(contact: Contact) -> str | None:
    """What a double-click calls: the first URI, else the first number."""
    if contact.uris:
        return contact.uris[0]
    return contact.phones[0] if contact.phones else None


class BuddyFilter(QSortFilterProxyModel):
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


class BuddyModel(QObject):
    """The rows of the buddy list and the live state behind them, keyed by normalised URI.

    ``proxy`` is what a view shows. :meth:`set_contacts` rebuilds the rows (presence kept);
    :meth:`on_event` takes presence, subscription and busy-lamp events, ignoring those about
    ``own_aors``.
    """

    def __init__(self, own_aors: Iterable[str] = (), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.own_aors = set(own_aors)
        self.presence: dict[str, tuple[str, str | None, str | None]] = {}
        self.subscriptions: dict[str, tuple[str, str | None]] = {}
        self.lamps: dict[str, str] = {}
        self.contacts: dict[int, Contact] = {}
        self.rows: dict[int, list[tuple[QStandardItem, QStandardItem, QStandardItem]]] = {}
        self._uri_contacts: dict[str, set[int]] = {}
        self._dirty: set[str] = set()
        self._dirty_contacts: set[int] = set()
        self.flushes = 0
        # Nearby peers (contact id < 0) that say they take no direct calls.
        self.no_calls: set[int] = set()

        self.model = QStandardItemModel(0, 3, self)
        self.proxy = BuddyFilter()
        self.proxy.setParent(self)
        self.proxy.setSourceModel(self.model)
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)

    # --- the rows ------------------------------------------------------------------------------

    def set_contacts(self, contacts: Sequence[Contact], palette: QPalette, font: QFont) -> None:
        """Rebuild the rows for ``contacts`` (presence kept), drawn for ``palette`` and ``font``.

        The rows are built in a new model, not yet shown, which then replaces the old one in one
        step: the view resets once instead of following thousands of insertions.
        """
        self.contacts = {c.id: c for c in contacts if c.id is not None}
        self.rows.clear()
        self._uri_contacts.clear()
        groups: dict[str, list[Contact]] = {}
        for contact in contacts:
            for group in contact.groups or [NO_GROUP]:
                groups.setdefault(group, []).append(contact)
            if contact.id is not None:
                for uri in contact.uris:
                    self._uri_contacts.setdefault(normalise_uri(uri), set()).add(contact.id)
        model = QStandardItemModel(0, 3, self)
        model.setHorizontalHeaderLabels([self.tr("Name"), self.tr("Presence"), self.tr("Line")])
        avatars: dict[int, QIcon] = {}
        bold = QFont(font)
        bold.setBold(True)
        names = sorted(groups, key=lambda g: (g == NEARBY_GROUP, g == NO_GROUP, g.casefold()))
        for group in names:
            members = groups[group]
            count = len(members)
            shown = {
                NO_GROUP: translate("BuddyModel", NO_GROUP),
                NEARBY_GROUP: translate("BuddyModel", NEARBY_TEXT),
            }.get(group, group)
            header = QStandardItem(f"{shown} ({count})")
            filler = [QStandardItem(), QStandardItem()]
            for item in (header, *filler):
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            model.appendRow([header, *filler])
            model.setItemData(
                header.index(),
                {
                    Qt.ItemDataRole.DisplayRole: header.text(),
                    GROUP_ROLE: group,
                    Qt.ItemDataRole.AccessibleTextRole: translate(
                        "BuddyModel", "Group {group}, %n contact(s)", "", count
                    ).format(group=shown),
                    Qt.ItemDataRole.FontRole: bold,
                },
            )
            for contact in members:
                assert contact.id is not None
                if contact.id not in avatars:
                    avatars[contact.id] = QIcon(avatar(contact, palette))
                row = self._make_row(model, header, contact, avatars[contact.id])
                self.rows.setdefault(contact.id, []).append(row)
        self.model = model
        self._refresh_contacts(list(self.rows), notify=False)
        old = self.proxy.sourceModel()
        self.proxy.setSourceModel(model)
        if old is not None:
            old.deleteLater()

    def _make_row(
        self, model: QStandardItemModel, header: QStandardItem, contact: Contact, picture: QIcon
    ) -> tuple[QStandardItem, QStandardItem, QStandardItem]:
        assert contact.id is not None
        name, presence, lamp = QStandardItem(), QStandardItem(), QStandardItem()
        header.appendRow([name, presence, lamp])
        details = [contact.name, *contact.uris, *contact.phones, *([contact.notes] if contact.notes else [])]
        common = {CONTACT_ID_ROLE: contact.id, ADDRESS_ROLE: address_of(contact) or ""}
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
        if contact.id is not None and contact.id < 0:
            # A phone found on the LAN: there, whatever its presence says (or does not say yet).
            if contact.id in self.no_calls:
                return PresenceView("available", "presence-available", self.tr("On this network, takes no calls"))
            return PresenceView("available", "presence-available", self.tr("On this network"))
        for uri in contact.uris:
            sub = self.subscriptions.get(normalise_uri(uri))
            if sub is None:
                continue
            state, reason = sub
            if state == "pending":
                return PresenceView("unknown", "presence-offline", self.tr("Waiting for authorisation"))
            if state == "terminated" and reason in ("rejected", "noresource", "invariant"):
                words = {"rejected": self.tr("Presence refused"), "noresource": self.tr("Unknown address")}
                return PresenceView("unknown", "presence-offline", words.get(reason, self.tr("Presence unavailable")))
        if best is not None:
            return best
        if contact.subscribe_presence and sip_uris(contact):
            return PresenceView("unknown", "presence-offline", self.tr("Unknown"))
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
        rows = self.rows.get(contact_id)
        if contact is None or not rows:
            return False
        view = self._contact_presence(contact)
        lamp = self._contact_lamp(contact) or ""
        state = view.state if view is not None else ""
        presence_text = view.text if view is not None else self.tr("Presence not shown")
        lamp_text = translate("BuddyModel", LAMP_TEXT[lamp]) if lamp in LAMP_TEXT else lamp
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
                        Qt.ItemDataRole.AccessibleTextRole: self.tr("Presence of {name}: {presence}").format(
                            name=contact.name, presence=presence_text
                        ),
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
                        Qt.ItemDataRole.AccessibleTextRole: self.tr("Line of {name}: {line}").format(
                            name=contact.name, line=lamp_text or self.tr("not watched")
                        ),
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
        rows = self.rows.get(contact_id)
        if not rows:
            return ""
        name, presence, lamp = rows[0]
        return " | ".join(part for part in (name.text(), presence.text(), lamp.text()) if part)

    def contact_ids(self) -> list[int]:
        return list(self.rows)

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
        """Take a presence, subscription or busy-lamp event; the rows follow at the next flush."""
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

    def forget(self, contact: Contact) -> None:
        """Drop what is known of a removed contact's addresses."""
        for uri in contact.uris:
            key = normalise_uri(uri)
            self.presence.pop(key, None)
            self.lamps.pop(key, None)
            self.subscriptions.pop(key, None)

"""The buddy list: contacts with SIP URIs, phone numbers, groups and a photo; vCard 3.0/4.0 import and export.

A contact's URIs are kept as written and also in
:func:`~softphone.store.uris.normalise_uri` form, its numbers also as
:func:`~softphone.store.uris.phone_digits` and their last nine digits, so that
:meth:`Contacts.find_by_uri` recognises an incoming ``From`` whatever its
display name, parameters or number format. Search-as-you-type runs on an
index of case-folded prefixes (name words, URI user parts, numbers).

vCard import is liberal: SIP addresses come from ``IMPP``, ``X-SIP`` (and
other ``X-…SIP…`` properties), ``URL`` or ``TEL`` values with a ``sip:``
scheme; a bad card is skipped and reported, the rest of the file still
imported. A card updates the contact with its ``UID``; a card without a
``UID`` updates the contact sharing one of its SIP URIs; otherwise it is added.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import re
import sqlite3
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import vobject  # type: ignore[import-untyped]

from softphone.store.db import Database, StoreError, casefold
from softphone.store.uris import normalise_uri, phone_digits, uri_user

__all__ = ["Contact", "Contacts", "ImportResult", "export_vcards", "parse_vcards"]

TAIL_DIGITS = 9
_MAX_IN_IDS = 500
_PHONE_LIKE_RE = re.compile(r"\+?[\d\s\-.()/]*\d[\d\s\-.()/]*")
_WORD_SPLIT_RE = re.compile(r"[\s,;.()\"'/\-_]+")
_SIP_RE = re.compile(r"(?i)^sips?:")
_IM_URI_RE = re.compile(r"(?i)^(?:sips?|tel):")
_DATA_URI_RE = re.compile(r"(?is)^data:([^;,]*)((?:;[^;,]*)*),(.*)$")
_FOLD_RE = re.compile(r"\r?\n[ \t]")
_PHOTO_LINE_RE = re.compile(r"(?im)^(?:[\w-]+\.)?PHOTO(?:;[^:\r\n]*)?:(.*)$")
PRESENCE_PROPERTY = "X-SOFTPHONE-PRESENCE"


@dataclass
class Contact:
    """One buddy. ``uris`` are SIP (or tel) URIs, ``phones`` dialable numbers as written."""

    name: str
    uris: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    photo: bytes | None = field(default=None, repr=False)
    photo_type: str | None = None
    notes: str = ""
    subscribe_presence: bool = False
    uid: str | None = None
    id: int | None = None

    @property
    def display_uri(self) -> str | None:
        return self.uris[0] if self.uris else None


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    """``(card number from 1, reason)`` for each card not imported."""

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged + len(self.skipped)


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        item = item.strip()
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out


def sort_key(name: str) -> str:
    """Names sort by their letters without accents first (é with e), then by the accents, case-insensitively."""
    folded = casefold(name.strip())
    base = "".join(ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch))
    return f"{base}\x00{folded}"


def _tail(digits: str) -> str:
    bare = digits.lstrip("+")
    return bare[-TAIL_DIGITS:] if len(bare) >= TAIL_DIGITS else ""


def _search_keys(contact: Contact) -> set[str]:
    keys: set[str] = set()
    name = casefold(contact.name.strip())
    if name:
        keys.add(name)
        keys.update(word for word in _WORD_SPLIT_RE.split(name) if word)
    for uri in contact.uris:
        norm = casefold(normalise_uri(uri))
        keys.add(norm)
        keys.add(norm.partition(":")[2])
        user = uri_user(norm)
        if user:
            keys.add(user)
    for number in contact.phones:
        digits = phone_digits(number)
        if not digits:
            continue
        keys.add(digits)
        bare = digits.lstrip("+")
        keys.add(bare)
        if digits.startswith("+"):
            keys.update("0" + bare[k:] for k in (1, 2, 3) if len(bare) > k)
    keys.discard("")
    return keys


def _check(contact: Contact) -> Contact:
    name = contact.name.strip()
    uris = _unique(contact.uris)
    phones = _unique(contact.phones)
    if not name:
        name = uris[0] if uris else phones[0] if phones else ""
    if not name:
        raise StoreError("a contact needs a name, a URI or a number")
    photo_type = contact.photo_type if contact.photo is not None else None
    return replace(
        contact,
        name=name,
        uris=uris,
        phones=phones,
        groups=_unique(contact.groups),
        photo_type=photo_type,
        notes=contact.notes or "",
    )


class Contacts:
    """The buddy list over a :class:`~softphone.store.db.Database`; reached as ``Store.contacts``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _write_children(self, con: sqlite3.Connection, contact_id: int, contact: Contact) -> None:
        for table in ("contact_uris", "contact_phones", "contact_groups", "contact_keys"):
            con.execute(f"DELETE FROM {table} WHERE contact_id = ?", (contact_id,))
        con.executemany(
            "INSERT INTO contact_uris (contact_id, position, uri, norm) VALUES (?, ?, ?, ?)",
            [(contact_id, i, uri, normalise_uri(uri)) for i, uri in enumerate(contact.uris)],
        )
        phones = []
        for i, number in enumerate(contact.phones):
            digits = phone_digits(number)
            phones.append((contact_id, i, number, digits, _tail(digits)))
        con.executemany(
            "INSERT INTO contact_phones (contact_id, position, number, digits, tail) VALUES (?, ?, ?, ?, ?)", phones
        )
        con.executemany(
            "INSERT INTO contact_groups (contact_id, position, name) VALUES (?, ?, ?)",
            [(contact_id, i, group) for i, group in enumerate(contact.groups)],
        )
        con.executemany(
            "INSERT INTO contact_keys (contact_id, key) VALUES (?, ?)",
            [(contact_id, key) for key in sorted(_search_keys(contact))],
        )

    def _insert(self, con: sqlite3.Connection, contact: Contact) -> Contact:
        contact = _check(contact)
        if contact.uid is None:
            contact = replace(contact, uid=f"urn:uuid:{uuid.uuid4()}")
        try:
            cursor = con.execute(
                "INSERT INTO contacts (name, sort_key, notes, photo, photo_type, subscribe_presence, uid)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    contact.name,
                    sort_key(contact.name),
                    contact.notes,
                    contact.photo,
                    contact.photo_type,
                    int(contact.subscribe_presence),
                    contact.uid,
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"a contact with UID {contact.uid!r} already exists") from exc
        contact_id = cursor.lastrowid
        assert contact_id is not None
        self._write_children(con, contact_id, contact)
        return replace(contact, id=contact_id)

    def _update(self, con: sqlite3.Connection, contact: Contact) -> Contact:
        contact_id = contact.id
        if contact_id is None:
            raise StoreError("update() needs a contact with an id; use add() for a new one")
        contact = _check(contact)
        cursor = con.execute(
            "UPDATE contacts SET name = ?, sort_key = ?, notes = ?, photo = ?, photo_type = ?,"
            " subscribe_presence = ?, uid = coalesce(?, uid) WHERE id = ?",
            (
                contact.name,
                sort_key(contact.name),
                contact.notes,
                contact.photo,
                contact.photo_type,
                int(contact.subscribe_presence),
                contact.uid,
                contact.id,
            ),
        )
        if cursor.rowcount != 1:
            raise StoreError(f"no contact with id {contact.id}")
        self._write_children(con, contact_id, contact)
        return contact

    def add(self, contact: Contact) -> Contact:
        """Store a new contact (its ``id`` is ignored); returns it with its id and UID."""
        with self._db.transaction() as con:
            return self._insert(con, replace(contact, id=None))

    def update(self, contact: Contact) -> Contact:
        with self._db.transaction() as con:
            return self._update(con, contact)

    def remove(self, contact_id: int) -> bool:
        with self._db.transaction() as con:
            return con.execute("DELETE FROM contacts WHERE id = ?", (contact_id,)).rowcount == 1

    def get(self, contact_id: int) -> Contact | None:
        found = self._load("WHERE c.id = ?", (contact_id,))
        return found[0] if found else None

    def list(self, group: str | None = None) -> builtins.list[Contact]:
        """All contacts, or those in ``group``, sorted by name (case-folded)."""
        if group is None:
            return self._load("", ())
        return self._load(
            "WHERE c.id IN (SELECT contact_id FROM contact_groups WHERE name = ?)",
            (group,),
        )

    def groups(self) -> builtins.list[str]:
        rows = self._db.query("SELECT DISTINCT name FROM contact_groups")
        return sorted((row[0] for row in rows), key=casefold)

    def count(self) -> int:
        row = self._db.query_one("SELECT count(*) FROM contacts")
        return int(row[0]) if row is not None else 0

    def has_uri(self, uri: str) -> bool:
        """Whether a contact has exactly this SIP URI (normalised; no number matching)."""
        return self._db.query_one("SELECT 1 FROM contact_uris WHERE norm = ?", (normalise_uri(uri),)) is not None

    def find_by_uri(self, uri: str) -> Contact | None:
        """The contact with this SIP URI (normalised match), or with this number (tel: or a numeric user part)."""
        norm = normalise_uri(uri)
        row = self._db.query_one("SELECT contact_id FROM contact_uris WHERE norm = ? ORDER BY contact_id", (norm,))
        if row is None:
            user = uri_user(norm)
            digits = phone_digits(user) if _PHONE_LIKE_RE.fullmatch(user) else ""
            if not digits:
                return None
            row = self._db.query_one(
                "SELECT contact_id FROM contact_phones WHERE digits = ? ORDER BY contact_id", (digits,)
            )
            if row is None and _tail(digits):
                rows = self._db.query(
                    "SELECT DISTINCT contact_id FROM contact_phones WHERE tail = ? LIMIT 2", (_tail(digits),)
                )
                row = rows[0] if len(rows) == 1 else None
        return None if row is None else self.get(row[0])

    def search(self, prefix: str, limit: int = 20) -> builtins.list[Contact]:
        """Contacts whose name (any word), SIP URI, user part or number starts with ``prefix``; by name."""
        text = casefold(prefix.strip())
        if not text:
            return []
        probes = {text}
        if _PHONE_LIKE_RE.fullmatch(text):
            digits = phone_digits(text)
            probes.update({digits, digits.lstrip("+")} - {""})
        clauses = " OR ".join("(k.key >= ? AND k.key < ?)" for _ in probes)
        params: list[Any] = []
        for probe in sorted(probes):
            params += [probe, probe + "\U0010ffff"]
        return self._load(
            f"WHERE c.id IN (SELECT k.contact_id FROM contact_keys k WHERE {clauses})", params, limit=limit
        )

    def _load(self, where: str, params: Sequence[Any], limit: int | None = None) -> builtins.list[Contact]:
        sql = f"SELECT c.* FROM contacts c {where} ORDER BY c.sort_key, c.id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._db.lock:
            rows = self._db.query(sql, params)
            if not rows:
                return []
            ids = [row["id"] for row in rows]
            uris: dict[int, builtins.list[str]] = {i: [] for i in ids}
            phones: dict[int, builtins.list[str]] = {i: [] for i in ids}
            groups: dict[int, builtins.list[str]] = {i: [] for i in ids}
            children = (("contact_uris", "uri", uris), ("contact_phones", "number", phones))
            for table, column, target in (*children, ("contact_groups", "name", groups)):
                if len(ids) <= _MAX_IN_IDS:
                    marks = ", ".join("?" * len(ids))
                    child_rows = self._db.query(
                        f"SELECT contact_id, {column} FROM {table} WHERE contact_id IN ({marks})"
                        " ORDER BY contact_id, position",
                        ids,
                    )
                else:
                    child_rows = self._db.query(
                        f"SELECT contact_id, {column} FROM {table} ORDER BY contact_id, position"
                    )
                for contact_id, value in child_rows:
                    if contact_id in target:
                        target[contact_id].append(value)
        return [
            Contact(
                id=row["id"],
                name=row["name"],
                uris=uris[row["id"]],
                phones=phones[row["id"]],
                groups=groups[row["id"]],
                photo=row["photo"],
                photo_type=row["photo_type"],
                notes=row["notes"],
                subscribe_presence=bool(row["subscribe_presence"]),
                uid=row["uid"],
            )
            for row in rows
        ]

    def import_vcard(self, data: str | bytes) -> ImportResult:
        """Import every card of a vCard file (3.0 or 4.0, liberally); never raises for a bad card.

        All of the file's changes commit together, durably, when the import ends.
        """
        result = ImportResult()
        parsed = parse_vcards(data)
        with self._db.transaction() as con:
            for number, card in parsed:
                if isinstance(card, str):
                    result.skipped.append((number, card))
                    continue
                existing = self._match(con, card)
                if existing is None:
                    self._insert(con, card)
                    result.added += 1
                    continue
                merged = _merge(existing, card)
                if merged == existing:
                    result.unchanged += 1
                else:
                    self._update(con, merged)
                    result.updated += 1
        return result

    def _match(self, con: sqlite3.Connection, card: Contact) -> Contact | None:
        if card.uid is not None:
            row = con.execute("SELECT id FROM contacts WHERE uid = ?", (card.uid,)).fetchone()
            return None if row is None else self.get(row[0])
        for uri in card.uris:
            row = con.execute(
                "SELECT contact_id FROM contact_uris WHERE norm = ? ORDER BY contact_id", (normalise_uri(uri),)
            ).fetchone()
            if row is not None:
                return self.get(row[0])
        return None

    def export_vcard(self, contacts: Iterable[Contact] | None = None, version: str = "3.0") -> str:
        """The contacts (all of them by default) as one vCard file of the given version (3.0 or 4.0)."""
        return export_vcards(self.list() if contacts is None else contacts, version)


def _merge(existing: Contact, card: Contact) -> Contact:
    return replace(
        existing,
        name=card.name or existing.name,
        uris=_unique([*existing.uris, *card.uris]),
        phones=_unique([*existing.phones, *card.phones]),
        groups=_unique([*existing.groups, *card.groups]),
        photo=card.photo if card.photo is not None else existing.photo,
        photo_type=card.photo_type if card.photo is not None else existing.photo_type,
        notes=card.notes or existing.notes,
        subscribe_presence=existing.subscribe_presence or card.subscribe_presence,
    )


def _decode(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _split_cards(text: str) -> list[tuple[int, str | None]]:
    """Each ``BEGIN:VCARD`` … ``END:VCARD`` block of the text, None for one that is not terminated."""
    cards: list[tuple[int, str | None]] = []
    current: builtins.list[str] | None = None
    depth = 0
    for line in text.splitlines():
        keyword = line.strip().upper()
        if keyword == "BEGIN:VCARD":
            if current is None:
                current, depth = [], 0
            depth += 1
        if current is not None:
            current.append(line)
            if keyword == "END:VCARD":
                depth -= 1
                if depth == 0:
                    cards.append((len(cards) + 1, "\r\n".join(current) + "\r\n"))
                    current = None
    if current is not None:
        cards.append((len(cards) + 1, None))
    return cards


def _params(prop: Any, name: str) -> builtins.list[str]:
    values: builtins.list[str] = []
    for value in prop.params.get(name.upper(), []):
        values.extend(part.strip() for part in str(value).split(","))
    return [v for v in values if v]


def _text(prop: Any) -> str:
    value = prop.value
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value).strip()


def _photo_mime(kind: str | None) -> str | None:
    if not kind:
        return None
    kind = kind.strip().lower()
    return kind if "/" in kind else f"image/{kind}"


def _raw_photo(card_text: str) -> str | None:
    match = _PHOTO_LINE_RE.search(_FOLD_RE.sub("", card_text))
    return match.group(1).strip() if match else None


def _card_to_contact(card: Any, card_text: str) -> Contact:
    if getattr(card, "name", "").upper() != "VCARD":
        raise ValueError("not a vCard")
    name = ""
    uris: builtins.list[str] = []
    phones: builtins.list[str] = []
    groups: builtins.list[str] = []
    notes: builtins.list[str] = []
    photo: bytes | None = None
    photo_type: str | None = None
    uid: str | None = None
    presence = False
    structured = ""
    org = ""
    for prop in card.getChildren():
        key = prop.name.upper()
        if key == "FN":
            name = name or _text(prop)
        elif key == "N":
            value = prop.value
            parts = [getattr(value, part, "") for part in ("prefix", "given", "additional", "family", "suffix")]
            flat = [" ".join(p) if isinstance(p, list) else str(p) for p in parts]
            structured = structured or " ".join(p.strip() for p in flat if p and p.strip())
        elif key == "ORG":
            org = org or _text(prop).replace(",", " ").strip()
        elif key == "TEL":
            value = _text(prop)
            if _SIP_RE.match(value):
                uris.append(value)
            elif any(ch.isdigit() for ch in value):
                phones.append(value[4:] if value.lower().startswith("tel:") else value)
        elif key in ("IMPP", "URL") or (key.startswith("X-") and "SIP" in key):
            value = _text(prop)
            if _IM_URI_RE.match(value):
                uris.append(value)
            elif key.startswith("X-") and value and ":" not in value.split("@", 1)[0]:
                uris.append("sip:" + value)
        elif key == "CATEGORIES":
            value = prop.value
            groups.extend(str(v) for v in (value if isinstance(value, list) else [value]))
        elif key == "NOTE":
            notes.append(_text(prop))
        elif key == "UID":
            uid = _text(prop) or None
        elif key == PRESENCE_PROPERTY:
            presence = _text(prop).lower() in ("1", "true", "yes", "on")
        elif key == "PHOTO" and photo is None:
            photo, photo_type = _photo(prop, card_text)
    name = name or structured or org
    contact = Contact(
        name=name,
        uris=uris,
        phones=phones,
        groups=groups,
        photo=photo,
        photo_type=photo_type if photo is not None else None,
        notes="\n".join(notes),
        subscribe_presence=presence,
        uid=uid,
    )
    try:
        return _check(contact)
    except StoreError:
        raise ValueError("the card has no name, SIP address or number") from None


def _photo(prop: Any, card_text: str) -> tuple[bytes | None, str | None]:
    if isinstance(prop.value, bytes):
        if not prop.value:
            return None, None
        kinds = _params(prop, "TYPE")
        return prop.value, _photo_mime(kinds[0] if kinds else None)
    raw = _raw_photo(card_text) or ""
    match = _DATA_URI_RE.match(raw)
    if match is None:
        return None, None
    mime, attributes, payload = match.groups()
    if ";base64" not in attributes.lower():
        return None, None
    try:
        return base64.b64decode("".join(payload.split()), validate=True), _photo_mime(mime or None)
    except (binascii.Error, ValueError):
        return None, None


def parse_vcards(data: str | bytes) -> builtins.list[tuple[int, Contact | str]]:
    """Each card of a vCard file as a :class:`Contact`, or as the reason it cannot be imported."""
    results: builtins.list[tuple[int, Contact | str]] = []
    for number, card_text in _split_cards(_decode(data)):
        if card_text is None:
            results.append((number, "no END:VCARD"))
            continue
        try:
            card = vobject.readOne(card_text, ignoreUnreadable=True)
            results.append((number, _card_to_contact(card, card_text)))
        except Exception as exc:
            label = re.search(r"(?im)^FN[^:\r\n]*:(.*)$", card_text)
            who = f" ({label.group(1).strip()})" if label else ""
            results.append((number, f"unreadable card{who}: {exc}".strip()))
    return results


def _fold(line: str) -> str:
    chunks = [line[i : i + 74] for i in range(0, len(line), 74)] or [""]
    return "\r\n ".join(chunks)


def export_vcards(contacts: Iterable[Contact], version: str = "3.0") -> str:
    """Contacts as vCard ``version`` ("3.0" or "4.0"): FN, N, TEL, IMPP (sip:), CATEGORIES, PHOTO, NOTE, UID."""
    if version not in ("3.0", "4.0"):
        raise StoreError(f"vCard version 3.0 or 4.0, not {version!r}")
    out: builtins.list[str] = []
    for contact in contacts:
        card = vobject.vCard()
        card.add("version").value = version
        card.add("fn").value = contact.name
        words = contact.name.split()
        family = words[-1] if len(words) > 1 else contact.name
        given = " ".join(words[:-1]) if len(words) > 1 else ""
        card.add("n").value = vobject.vcard.Name(family=family, given=given)
        for number in contact.phones:
            card.add("tel").value = number
        for uri in contact.uris:
            card.add("impp").value = uri if _IM_URI_RE.match(uri) else normalise_uri(uri)
        if contact.groups:
            card.add("categories").value = list(contact.groups)
        if contact.notes:
            card.add("note").value = contact.notes
        if contact.uid:
            card.add("uid").value = contact.uid
        if contact.subscribe_presence:
            card.add(PRESENCE_PROPERTY.lower()).value = "1"
        photo_line = None
        if contact.photo is not None:
            mime = contact.photo_type or "image/jpeg"
            if version == "3.0":
                prop = card.add("photo")
                prop.value = contact.photo
                prop.encoding_param = "b"
                prop.type_param = mime.split("/", 1)[-1].upper()
            else:
                photo_line = _fold(f"PHOTO:data:{mime};base64,{base64.b64encode(contact.photo).decode('ascii')}")
        text = card.serialize()
        if photo_line is not None:
            end = text.rstrip("\r\n").rfind("END:VCARD")
            text = text[:end] + photo_line + "\r\n" + text[end:]
        out.append(text)
    return "".join(out)

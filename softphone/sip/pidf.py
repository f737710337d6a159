"""Presence documents: PIDF (RFC 3863) with the RPID extensions (RFC 4480).

:func:`parse_pidf` reads ``application/pidf+xml`` bodies from any server or
client (Kamailio's aggregated documents, Linphone, Blink, Jitsi, baresip ...):
elements are matched by local name whatever their namespace prefix, unknown
elements are ignored, and a malformed, oversized or hostile body raises
:class:`BodyError`. :func:`build_pidf` writes the one-tuple document a
softphone publishes; :func:`build_presence` serialises a whole
:class:`Presence`.

XML goes through the hardened front end of :mod:`softphone.sip.xmlbody`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from softphone.sip.errors import BodyError
from softphone.sip.xmlbody import (
    MAX_BODY_SIZE,
    XML_LANG,
    check_xml_id,
    child_text,
    children,
    element_text,
    escape_attr,
    escape_text,
    first_child,
    format_datetime,
    local_name,
    parse_datetime,
    parse_xml,
)

PIDF_CONTENT_TYPE = "application/pidf+xml"
PIDF_NS = "urn:ietf:params:xml:ns:pidf"
DATA_MODEL_NS = "urn:ietf:params:xml:ns:pidf:data-model"
RPID_NS = "urn:ietf:params:xml:ns:pidf:rpid"

# --- The PIDF/RPID model ----------------------------------------------------

# The activities RFC 4480 defines for <rpid:activities>.
RPID_ACTIVITIES = frozenset(
    {
        "appointment", "away", "breakfast", "busy", "dinner", "holiday", "in-transit", "looking-for-work",
        "lunch", "meal", "meeting", "on-the-phone", "performance", "permanent-absence", "playing",
        "presentation", "shopping", "sleeping", "spectator", "steering", "travel", "tv", "unknown", "vacation",
        "working", "worship", "other",
    }
)  # fmt: skip

# The moods RFC 4480 defines for <rpid:mood>.
RPID_MOODS = frozenset(
    {
        "afraid", "amazed", "angry", "annoyed", "anxious", "ashamed", "bored", "brave", "calm", "cold",
        "confused", "contented", "cranky", "curious", "depressed", "disappointed", "disgusted", "distracted",
        "embarrassed", "excited", "flirtatious", "frustrated", "grumpy", "guilty", "happy", "hot", "humbled",
        "humiliated", "hungry", "hurt", "impressed", "in_awe", "in_love", "indignant", "interested",
        "invincible", "jealous", "lonely", "mean", "moody", "nervous", "neutral", "offended", "playful",
        "proud", "relieved", "remorseful", "restless", "sad", "sarcastic", "serious", "shocked", "shy", "sick",
        "sleepy", "stressed", "surprised", "thirsty", "worried", "unknown", "other",
    }
)  # fmt: skip

Basic = Literal["open", "closed"]


@dataclass(slots=True, frozen=True)
class Note:
    text: str
    lang: str | None = None


@dataclass(slots=True, frozen=True)
class Activity:
    """One RPID activity (RFC 4480); ``text`` only for ``other``."""

    name: str
    text: str | None = None

    @property
    def display(self) -> str:
        return self.text if self.name == "other" and self.text else self.name


@dataclass(slots=True, frozen=True)
class Mood:
    """One RPID mood (RFC 4480); ``text`` only for ``other``."""

    name: str
    text: str | None = None

    @property
    def display(self) -> str:
        return self.text if self.name == "other" and self.text else self.name


@dataclass(slots=True, frozen=True)
class Contact:
    uri: str
    priority: float | None = None


@dataclass(slots=True)
class PresenceTuple:
    """One RFC 3863 ``<tuple>``.

    ``activities`` holds RPID activities found inside the tuple's status, as
    some older clients publish them there rather than in a person element.
    """

    id: str
    basic: Basic | None = None
    contact: Contact | None = None
    notes: list[Note] = field(default_factory=list)
    timestamp: datetime | None = None
    activities: list[Activity] = field(default_factory=list)


@dataclass(slots=True)
class Person:
    """RFC 4479 ``<dm:person>`` with its RPID activities and mood."""

    id: str | None = None
    activities: list[Activity] = field(default_factory=list)
    mood: list[Mood] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    timestamp: datetime | None = None


@dataclass(slots=True)
class Presence:
    entity: str
    tuples: list[PresenceTuple] = field(default_factory=list)
    persons: list[Person] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def basic(self) -> Basic:
        """``open`` when any tuple is open, else ``closed``."""
        return "open" if any(t.basic == "open" for t in self.tuples) else "closed"

    @property
    def activity(self) -> str | None:
        """The first known activity for display (``other`` shows its text); ``unknown`` counts as none."""
        candidates = [a for p in self.persons for a in p.activities]
        candidates += [a for t in self.tuples for a in t.activities]
        for item in candidates:
            if item.name != "unknown":
                return item.display
        return None

    @property
    def mood(self) -> str | None:
        for person in self.persons:
            for item in person.mood:
                if item.name != "unknown":
                    return item.display
        return None

    @property
    def note(self) -> str | None:
        """The first non-empty note: person notes, then open tuples', then other tuples', then the document's."""
        notes = [n for p in self.persons for n in p.notes]
        notes += [n for t in self.tuples if t.basic == "open" for n in t.notes]
        notes += [n for t in self.tuples if t.basic != "open" for n in t.notes]
        notes += self.notes
        return next((n.text for n in notes if n.text), None)


# --- Parsing ------------------------------------------------------------------


def _notes(element: ET.Element) -> list[Note]:
    return [Note(element_text(n), n.get(XML_LANG)) for n in children(element, "note")]


def _priority(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


def _rpid_values(container: ET.Element, into: list[Note] | None) -> list[tuple[str, str | None]]:
    """The empty-element choices of an RPID enumeration (``<rpid:away/>``, ``<rpid:other>text</rpid:other>``)."""
    values: list[tuple[str, str | None]] = []
    for child in container:
        name = local_name(child.tag)
        if name == "note":
            if into is not None:
                into.append(Note(element_text(child), child.get(XML_LANG)))
            continue
        text = element_text(child)
        if name == "activity" and text:
            # The pre-RFC 4480 form: <activity>away</activity>.
            values.append((text.lower(), None))
        else:
            values.append((name, text or None))
    return values


def _activities(element: ET.Element, notes: list[Note] | None) -> list[Activity]:
    return [Activity(n, t) for a in children(element, "activities") for n, t in _rpid_values(a, notes)]


def _parse_tuple(element: ET.Element) -> PresenceTuple:
    basic: Basic | None = None
    activities: list[Activity] = []
    status = first_child(element, "status")
    if status is not None:
        text = (child_text(status, "basic") or "").lower()
        if text in ("open", "closed"):
            basic = "open" if text == "open" else "closed"
        activities = _activities(status, None)
    activities += _activities(element, None)
    contact = None
    contact_element = first_child(element, "contact")
    if contact_element is not None and (uri := element_text(contact_element)):
        contact = Contact(uri, _priority(contact_element.get("priority")))
    return PresenceTuple(
        id=element.get("id", ""),
        basic=basic,
        contact=contact,
        notes=_notes(element),
        timestamp=parse_datetime(child_text(element, "timestamp")),
        activities=activities,
    )


def _parse_person(element: ET.Element) -> Person:
    notes = _notes(element)
    activity_notes: list[Note] = []
    activities = _activities(element, activity_notes)
    mood = [Mood(n, t) for m in children(element, "mood") for n, t in _rpid_values(m, activity_notes)]
    return Person(
        id=element.get("id"),
        activities=activities,
        mood=mood,
        notes=notes + activity_notes,
        timestamp=parse_datetime(child_text(element, "timestamp")),
    )


def parse_pidf(data: bytes, charset: str | None = None, *, max_size: int = MAX_BODY_SIZE) -> Presence:
    """Parse an ``application/pidf+xml`` body (RFC 3863) with RPID extensions (RFC 4480)."""
    root = parse_xml(data, charset, what="PIDF body", max_size=max_size)
    if local_name(root.tag) != "presence":
        raise BodyError(f"PIDF body: root element is <{local_name(root.tag)}>, not <presence>")
    return Presence(
        entity=(root.get("entity") or "").strip(),
        tuples=[_parse_tuple(t) for t in children(root, "tuple")],
        persons=[_parse_person(p) for p in children(root, "person")],
        notes=_notes(root),
    )


# --- Building -----------------------------------------------------------------


def _format_priority(value: float) -> str:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"contact priority must be between 0 and 1, got {value!r}")
    # RFC 3863 schema: the contact priority is a qvalue with at most three decimals.
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _note_xml(tag: str, note: Note) -> str:
    lang = "" if note.lang is None else f' xml:lang="{escape_attr(note.lang)}"'
    return f"<{tag}{lang}>{escape_text(note.text)}</{tag}>"


def _rpid_xml(tag: str, values: Iterable[Activity | Mood], known: frozenset[str]) -> str:
    items = []
    for value in values:
        name = value.name if value.name in known else "other"
        text = value.text if value.name in known else (value.text or value.name)
        if name == "other" and text:
            items.append(f"<rpid:other>{escape_text(text)}</rpid:other>")
        else:
            items.append(f"<rpid:{name}/>")
    return f"<rpid:{tag}>{''.join(items)}</rpid:{tag}>" if items else ""


def _tuple_xml(item: PresenceTuple) -> str:
    parts = [f'<tuple id="{escape_attr(check_xml_id(item.id, "tuple id"))}">', "<status>"]
    if item.basic is not None:
        if item.basic not in ("open", "closed"):
            raise ValueError(f"basic status must be 'open' or 'closed', got {item.basic!r}")
        parts.append(f"<basic>{item.basic}</basic>")
    parts.append(_rpid_xml("activities", item.activities, RPID_ACTIVITIES))
    parts.append("</status>")
    if item.contact is not None:
        priority = "" if item.contact.priority is None else f' priority="{_format_priority(item.contact.priority)}"'
        parts.append(f"<contact{priority}>{escape_text(item.contact.uri)}</contact>")
    parts += [_note_xml("note", n) for n in item.notes]
    if item.timestamp is not None:
        parts.append(f"<timestamp>{format_datetime(item.timestamp)}</timestamp>")
    parts.append("</tuple>")
    return "".join(parts)


def _person_xml(person: Person) -> str:
    person_id = "" if person.id is None else f' id="{escape_attr(check_xml_id(person.id, "person id"))}"'
    parts = [
        f"<dm:person{person_id}>",
        _rpid_xml("activities", person.activities, RPID_ACTIVITIES),
        _rpid_xml("mood", person.mood, RPID_MOODS),
    ]
    # RFC 4479 schema: extension elements, then notes, then the timestamp.
    parts += [_note_xml("dm:note", n) for n in person.notes]
    if person.timestamp is not None:
        parts.append(f"<dm:timestamp>{format_datetime(person.timestamp)}</dm:timestamp>")
    parts.append("</dm:person>")
    return "".join(parts)


def build_presence(presence: Presence) -> bytes:
    """Serialise a :class:`Presence` as an RFC 3863 document (UTF-8)."""
    if not presence.entity:
        raise ValueError("a PIDF document needs an entity URI")
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<presence xmlns="{PIDF_NS}" xmlns:dm="{DATA_MODEL_NS}" xmlns:rpid="{RPID_NS}"',
        f' entity="{escape_attr(presence.entity)}">\n',
    ]
    parts += [_tuple_xml(t) + "\n" for t in presence.tuples]
    # RFC 3863 schema: document notes follow the tuples, extension elements come last.
    parts += [_note_xml("note", n) + "\n" for n in presence.notes]
    parts += [_person_xml(p) + "\n" for p in presence.persons]
    parts.append("</presence>\n")
    return "".join(parts).encode("utf-8")


def build_pidf(
    entity: str,
    basic: Basic,
    activity: str | None = None,
    note: str | None = None,
    tuple_id: str = "t1",
    contact: str | None = None,
    timestamp: datetime | None = None,
    *,
    priority: float | None = None,
    person_id: str = "p1",
    mood: str | None = None,
    lang: str | None = None,
) -> bytes:
    """The document a softphone publishes: one tuple and, with an activity, mood or note, one person.

    An ``activity`` or ``mood`` that RFC 4480 does not name is sent as
    ``<rpid:other>`` with that text.
    """
    if basic not in ("open", "closed"):
        raise ValueError(f"basic status must be 'open' or 'closed', got {basic!r}")
    notes = [Note(note, lang)] if note else []
    presence = Presence(
        entity=entity,
        tuples=[
            PresenceTuple(
                id=tuple_id,
                basic=basic,
                contact=None if contact is None else Contact(contact, priority),
                timestamp=timestamp,
            )
        ],
    )
    if activity or mood or notes:
        presence.persons.append(
            Person(
                id=person_id,
                activities=[Activity(activity)] if activity else [],
                mood=[Mood(mood)] if mood else [],
                notes=notes,
            )
        )
    return build_presence(presence)


def merge_presence(documents: Iterable[Presence], entity: str | None = None) -> Presence:
    """Aggregate several publications for one entity into one document (as a presence server does).

    Tuples and persons keep their order; a later one replaces an earlier one
    with the same id.
    """
    merged = Presence(entity=entity or "")
    tuples: dict[str, PresenceTuple] = {}
    persons: dict[str, Person] = {}
    anonymous: list[Person] = []
    for document in documents:
        merged.entity = merged.entity or document.entity
        for item in document.tuples:
            tuples.pop(item.id, None)
            tuples[item.id] = item
        for person in document.persons:
            if person.id is None:
                anonymous.append(person)
            else:
                persons.pop(person.id, None)
                persons[person.id] = person
        merged.notes += document.notes
    merged.tuples = list(tuples.values())
    merged.persons = list(persons.values()) + anonymous
    return merged

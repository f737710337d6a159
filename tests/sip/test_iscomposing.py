"""Message composition indication (RFC 3994 application/im-iscomposing+xml)."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softphone.sip.errors import BodyError
from softphone.sip.iscomposing import ACTIVE_TIMEOUT, IsComposing, build_iscomposing, parse_iscomposing
from tests.sip.strategies import mutated

# RFC 3994 example: an idle indication after an audio message was being recorded.
RFC3994_IDLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing iscomposing.xsd">
  <state>idle</state>
  <lastactive>2003-01-27T10:43:00Z</lastactive>
  <contenttype>audio</contenttype>
</isComposing>
"""

# RFC 3994 example: an active indication with a refresh interval.
RFC3994_ACTIVE = b"""<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing iscomposing.xsd">
  <state>active</state>
  <contenttype>text/plain</contenttype>
  <refresh>90</refresh>
</isComposing>
"""

# Linphone: one line, refresh before contenttype.
LINPHONE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><state>active</state><refresh>60</refresh>'
    b"<contenttype>text/plain</contenttype></isComposing>\n"
)

VALID = [RFC3994_IDLE, RFC3994_ACTIVE, LINPHONE]


def test_rfc3994_idle() -> None:
    status = parse_iscomposing(RFC3994_IDLE)
    assert status == IsComposing("idle", datetime(2003, 1, 27, 10, 43, tzinfo=UTC), "audio", None)
    assert not status.active


def test_rfc3994_active() -> None:
    status = parse_iscomposing(RFC3994_ACTIVE)
    assert status == IsComposing("active", None, "text/plain", 90)
    assert status.active and status.expires_after == 90


def test_linphone() -> None:
    assert parse_iscomposing(LINPHONE) == IsComposing("active", None, "text/plain", 60)


def test_default_expiry() -> None:
    assert IsComposing("active").expires_after == ACTIVE_TIMEOUT == 120


def test_liberal_parsing() -> None:
    doc = b"""<c:iscomposing xmlns:c="urn:ietf:params:xml:ns:im-iscomposing">
      <c:state> Active </c:state><c:refresh>0</c:refresh><c:lastactive>soon</c:lastactive>
      <c:contenttype>  </c:contenttype><c:vendor-thing/></c:iscomposing>"""
    assert parse_iscomposing(doc) == IsComposing("active")
    unqualified = b"<isComposing><state>idle</state><refresh>\xc2\xb2</refresh></isComposing>"
    assert parse_iscomposing(unqualified) == IsComposing("idle")


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"<isComposing>",
        b"<isComposing/>",
        b"<isComposing><state>typing</state></isComposing>",
        b"<presence><state>active</state></presence>",
        b"\xfe\xff<isComposing/>",
        b'<!DOCTYPE isComposing [<!ENTITY a "b">]><isComposing><state>&a;</state></isComposing>',
        b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><isComposing><state>&xxe;</state></isComposing>',
    ],
)
def test_malformed_rejected(document: bytes) -> None:
    with pytest.raises(BodyError):
        parse_iscomposing(document)


def test_hostile_documents_rejected_lean() -> None:
    laughs = (
        b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            b"<!ENTITY " + bytes([ord("b") + i]) + b' "' + (b"&" + bytes([ord("a") + i]) + b";") * 10 + b'">'
            for i in range(9)
        )
        + b"]><isComposing><state>&j;</state></isComposing>"
    )
    deep = b"<isComposing>" + b"<x>" * 100_000 + b"</x>" * 100_000 + b"</isComposing>"
    huge = b"<isComposing><state>active</state><contenttype>" + b"a" * 10_000_000 + b"</contenttype></isComposing>"
    for document, max_size, message in [
        (laughs, 65536, "document type declaration"),
        (deep, 65536, "limit"),
        (deep, len(deep), "deeper"),
        (huge, 65536, "limit"),
    ]:
        tracemalloc.start()
        try:
            with pytest.raises(BodyError, match=message):
                parse_iscomposing(document, max_size=max_size)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 20_000_000


def test_build_shape() -> None:
    body = build_iscomposing(
        "active", lastactive=datetime(2026, 4, 1, 12, 0, tzinfo=UTC), contenttype="text/plain", refresh=60
    )
    assert body == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">\n'
        b"<state>active</state>\n"
        b"<lastactive>2026-04-01T12:00:00Z</lastactive>\n"
        b"<contenttype>text/plain</contenttype>\n"
        b"<refresh>60</refresh>\n"
        b"</isComposing>\n"
    )
    assert build_iscomposing("idle") == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">\n<state>idle</state>\n</isComposing>\n'
    )


@pytest.mark.parametrize(
    ("state", "refresh"),
    [("typing", None), ("idle", 60), ("active", 0), ("active", -5), ("active", 10**10)],
)
def test_build_rejects(state: str, refresh: int | None) -> None:
    with pytest.raises(ValueError):
        build_iscomposing(state, refresh=refresh)  # type: ignore[arg-type]


@settings(deadline=None, max_examples=200)
@given(
    state=st.sampled_from(["active", "idle"]),
    lastactive=st.none()
    | st.datetimes(
        min_value=datetime(1970, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=9, minutes=30))]),
    ),
    contenttype=st.none()
    | st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool),
    refresh=st.none() | st.integers(1, 999_999_999),
)
def test_round_trip(state: str, lastactive: datetime | None, contenttype: str | None, refresh: int | None) -> None:
    if state == "idle":
        refresh = None
    body = build_iscomposing(state, lastactive=lastactive, contenttype=contenttype, refresh=refresh)  # type: ignore[arg-type]
    assert parse_iscomposing(body) == IsComposing(state, lastactive, contenttype, refresh)  # type: ignore[arg-type]


def _parses_or_body_error(data: bytes) -> None:
    try:
        result = parse_iscomposing(data)
    except BodyError as exc:
        assert str(exc)
    else:
        assert result.state in ("active", "idle")


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    _parses_or_body_error(data)


@settings(deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(st.sampled_from([d.decode() for d in VALID]), st.characters(codec="utf-8")))
def test_fuzz_mutated(text: str) -> None:
    _parses_or_body_error(text.encode("utf-8"))

"""Message-waiting bodies (RFC 3842 application/simple-message-summary)."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softphone.sip.errors import BodyError
from softphone.sip.message_summary import (
    MESSAGE_CONTEXT_CLASSES,
    MessageCounts,
    MessageSummary,
    build_message_summary,
    parse_message_summary,
)
from tests.sip.strategies import mutated

# RFC 3842 5.2: the NOTIFY body of the example flow.
RFC3842_NOTIFY = (
    b"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 2/8 (0/2)\r\n"
)

# RFC 3842 3.5: a summary followed by the optional message headers of each new message.
RFC3842_WITH_HEADERS = (
    b"Messages-Waiting: yes\r\n"
    b"Message-Account: sip:alice@vmail.example.com\r\n"
    b"Voice-Message: 4/8 (1/2)\r\n"
    b"\r\n"
    b"To: <alice@atlanta.example.com>\r\n"
    b"From: <bob@biloxi.example.com>\r\n"
    b"Subject: carpool tomorrow?\r\n"
    b"Date: Sun, 09 May 2004 03:25:08 -0000 (GMT)\r\n"
    b"Priority: normal\r\n"
    b"Message-ID: 13784434989@vmail.example.com\r\n"
    b"\r\n"
    b"To: <alice@atlanta.example.com>\r\n"
    b"From: <vmail.example.com>\r\n"
    b"Subject: Voice-Message: 1/2 is not a count here\r\n"
    b"Priority: urgent\r\n"
)

# Asterisk: the mailbox as account, no urgent counts.
ASTERISK = b"Messages-Waiting: no\r\nMessage-Account: sip:*97@pbx.example.com\r\nVoice-Message: 0/3 (0/0)\r\n\r\n"

# FreeSWITCH, with LF line ends.
FREESWITCH = b"Messages-Waiting: yes\nMessage-Account: sip:1000@192.0.2.10\nVoice-Message: 1/0 (0/0)\n"

VALID = [RFC3842_NOTIFY, RFC3842_WITH_HEADERS, ASTERISK, FREESWITCH, b"Messages-Waiting: no\r\n"]


def test_rfc3842_notify_body() -> None:
    summary = parse_message_summary(RFC3842_NOTIFY)
    assert summary.messages_waiting is True
    assert summary.account == "sip:alice@vmail.example.com"
    assert summary.counts == {"voice-message": MessageCounts(2, 8, 0, 2)}
    assert summary.voice == MessageCounts(2, 8, 0, 2)
    assert (summary.new_messages, summary.old_messages) == (2, 8)


def test_rfc3842_optional_headers_ignored() -> None:
    summary = parse_message_summary(RFC3842_WITH_HEADERS)
    assert summary.counts == {"voice-message": MessageCounts(4, 8, 1, 2)}


def test_asterisk_and_freeswitch() -> None:
    asterisk = parse_message_summary(ASTERISK)
    assert asterisk.messages_waiting is False
    assert asterisk.account == "sip:*97@pbx.example.com"
    assert asterisk.voice == MessageCounts(0, 3, 0, 0)
    freeswitch = parse_message_summary(FREESWITCH)
    assert freeswitch.messages_waiting is True and freeswitch.voice == MessageCounts(1, 0, 0, 0)


def test_status_only() -> None:
    summary = parse_message_summary(b"Messages-Waiting: no\r\n")
    assert summary == MessageSummary(False)
    assert summary.voice is None and summary.new_messages == 0


def test_liberal_spelling() -> None:
    body = (
        b"\r\n\xef\xbb\xbfmessages-waiting :  YES \r\n"
        b"MESSAGE-ACCOUNT:sip:bob@vm.example.com\n"
        b"fax-message:3 / 1\r"
        b"Text-Message: 0/0 ( 1 / 0 )\n"
        b"X-Vendor-Thing: whatever it likes\n"
        b"  folded continuation\n"
        b"Pager-Message: 5/6\n"
    )
    summary = parse_message_summary(body.replace(b"\xef\xbb\xbf", b""))
    assert summary.messages_waiting is True
    assert summary.account == "sip:bob@vm.example.com"
    assert summary.counts == {
        "fax-message": MessageCounts(3, 1),
        "text-message": MessageCounts(0, 0, 1, 0),
        "pager-message": MessageCounts(5, 6),
    }
    assert parse_message_summary("\ufeffMessages-Waiting: yes\n".encode()).messages_waiting is True


def test_status_line_not_first() -> None:
    summary = parse_message_summary(b"Voice-Message: 1/2\r\nMessages-Waiting: yes\r\n")
    assert summary.messages_waiting and summary.voice == MessageCounts(1, 2)


def test_unregistered_class_with_counts_kept() -> None:
    summary = parse_message_summary(b"Messages-Waiting: yes\r\nVideo-Message: 1/0\r\n")
    assert summary.counts == {"video-message": MessageCounts(1, 0)}


def test_charset() -> None:
    body = "Messages-Waiting: yes\r\nMessage-Account: sip:jörg@vm.example.com\r\n".encode("latin-1")
    with pytest.raises(BodyError):
        parse_message_summary(body)
    assert parse_message_summary(body, "iso-8859-1").account == "sip:jörg@vm.example.com"
    with pytest.raises(BodyError):
        parse_message_summary(body, "no-such-charset")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\r\n\r\n",
        b"not a message summary at all",
        b"Messages-Waiting yes\r\n",
        b"Messages-Waiting: maybe\r\n",
        b"Messages-Waiting:\r\n",
        b"Voice-Message: 1/0\r\n",
        b"Messages-Waiting: yes\r\nVoice-Message: 1\r\n",
        b"Messages-Waiting: yes\r\nVoice-Message: a/b\r\n",
        b"Messages-Waiting: yes\r\nVoice-Message: 1/2 (0\r\n",
        b"Messages-Waiting: yes\r\nVoice-Message: -1/2\r\n",
        b"Messages-Waiting: yes\r\nVoice-Message: 99999999999/0\r\n",
        b"Messages-Waiting: yes\r\nVoice-Message: " + b"9" * 5000 + b"/0\r\n",
        b"Messages-Waiting: yes\r\n: 1/2\r\n",
        b"Messages-Waiting: yes\r\n\xff\xfe\r\n",
        b"\r\nMessage-Account: sip:a@b\r\n\r\nMessages-Waiting: yes\r\n",
    ],
)
def test_malformed_rejected(body: bytes) -> None:
    with pytest.raises(BodyError):
        parse_message_summary(body)


def test_oversize_rejected_lean() -> None:
    body = b"Messages-Waiting: yes\r\n" + b"X-Pad: " + b"x" * 10_000_000 + b"\r\n"
    tracemalloc.start()
    try:
        with pytest.raises(BodyError, match="limit"):
            parse_message_summary(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_not_bytes_rejected() -> None:
    with pytest.raises(BodyError):
        parse_message_summary("Messages-Waiting: yes")  # type: ignore[arg-type]


# --- Building -------------------------------------------------------------------


def test_build_rfc_shape() -> None:
    body = build_message_summary(True, "sip:alice@vmail.example.com", {"voice-message": MessageCounts(2, 8, 0, 2)})
    assert body == RFC3842_NOTIFY


def test_build_from_summary_and_canonical_names() -> None:
    summary = MessageSummary(
        False,
        None,
        {"fax-message": MessageCounts(0, 1), "none": MessageCounts(1, 1), "x-custom": MessageCounts(2, 0, 1, None)},
    )
    body = build_message_summary(summary)
    assert body == b"Messages-Waiting: no\r\nFax-Message: 0/1\r\nNone: 1/1\r\nx-custom: 2/0 (1/0)\r\n"
    assert parse_message_summary(body).counts["fax-message"] == MessageCounts(0, 1)


@pytest.mark.parametrize(
    "args",
    [
        (True, "sip:a@b\r\nVoice-Message: 9/9", None),
        (True, None, {"Voice Message": MessageCounts()}),
        (True, None, {"messages-waiting": MessageCounts()}),
        (True, None, {"voice-message": MessageCounts(-1, 0)}),
        (True, None, {"voice-message": MessageCounts(10**10, 0)}),
    ],
)
def test_build_rejects(args: tuple[bool, str | None, dict[str, MessageCounts] | None]) -> None:
    with pytest.raises(ValueError):
        build_message_summary(*args)


_counts = st.integers(0, 999_999_999)
_summaries = st.builds(
    MessageSummary,
    st.booleans(),
    st.none() | st.from_regex(r"sips?:[a-z0-9*]{1,10}@[a-z0-9.]{1,20}", fullmatch=True),
    st.dictionaries(
        st.sampled_from(MESSAGE_CONTEXT_CLASSES),
        st.one_of(
            st.builds(MessageCounts, _counts, _counts),
            st.builds(MessageCounts, _counts, _counts, _counts, _counts),
        ),
        max_size=6,
    ),
)


@settings(deadline=None, max_examples=300)
@given(_summaries)
def test_round_trip(summary: MessageSummary) -> None:
    assert parse_message_summary(build_message_summary(summary)) == summary


def _parses_or_body_error(data: bytes) -> None:
    try:
        result = parse_message_summary(data)
    except BodyError as exc:
        assert str(exc)
    else:
        assert isinstance(result, MessageSummary)


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    _parses_or_body_error(data)


@settings(deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(st.sampled_from([v.decode() for v in VALID]), st.characters(codec="utf-8")))
def test_fuzz_mutated(text: str) -> None:
    _parses_or_body_error(text.encode("utf-8"))

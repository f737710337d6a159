"""RFC 3261 section 12 dialogs: creation, in-dialog requests, sequence numbers, forking, lookup."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.sip import NameAddr, Request, Response, SipParseError, parse_message, parse_uri
from softphone.sip.dialog import (
    MAX_FORWARDS,
    VIA_PLACEHOLDER_HOST,
    Dialog,
    DialogId,
    DialogSet,
    DialogState,
    DialogTable,
    ForkedAnswer,
    dialog_id_for_request,
    dialog_id_for_response,
    error_response,
    needs_481,
    new_tag,
    via_placeholder,
)
from softphone.sip.transaction import MAGIC_COOKIE, make_cancel, make_response

CALL_ID = "3848276298220188511@atlanta.example.com"
ALICE = "Alice <sip:alice@atlanta.example.com>"
BOB = "Bob <sip:bob@biloxi.example.com>"
ALICE_CONTACT = "<sip:alice@192.0.2.101:5060>"
BOB_CONTACT = "<sip:bob@192.0.2.4:5062>"
BRANCH = "z9hG4bKtest1"


def invite(
    *,
    method: str = "INVITE",
    uri: str = "sip:bob@biloxi.example.com",
    seq: int = 314159,
    contact: str | None = ALICE_CONTACT,
    record_routes: tuple[str, ...] = (),
    from_tag: str | None = "a1",
) -> Request:
    fields = [
        ("Via", "SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKinv"),
        *[("Record-Route", rr) for rr in record_routes],
        ("Max-Forwards", "70"),
        ("From", ALICE + (f";tag={from_tag}" if from_tag else "")),
        ("To", BOB),
        ("Call-ID", CALL_ID),
        ("CSeq", f"{seq} {method}"),
    ]
    if contact is not None:
        fields.append(("Contact", contact))
    return Request(method, uri, fields)


def answer(
    request: Request,
    code: int,
    to_tag: str | None = "b1",
    *,
    contact: str | None = BOB_CONTACT,
    record_routes: tuple[str, ...] = (),
) -> Response:
    headers = [("Record-Route", rr) for rr in record_routes]
    if contact is not None:
        headers.append(("Contact", contact))
    return make_response(request, code, to_tag=to_tag, headers=headers)


RR = ("<sip:p2.biloxi.example.com;lr>", "<sip:p1.atlanta.example.com;lr>")


def uac_dialog(code: int = 200, record_routes: tuple[str, ...] = RR) -> tuple[Request, Dialog]:
    req = invite()
    return req, Dialog.from_uac(req, answer(req, code, record_routes=record_routes))


def in_dialog(
    method: str,
    seq: int,
    *,
    from_tag: str = "b1",
    to_tag: str | None = "a1",
    contact: str | None = None,
    call_id: str = CALL_ID,
) -> Request:
    """A request Bob sends to Alice in the dialog of :func:`uac_dialog`."""
    fields = [
        ("Via", f"SIP/2.0/UDP 192.0.2.4:5062;branch=z9hG4bKb{seq}{method}"),
        ("Max-Forwards", "70"),
        ("From", f"{BOB};tag={from_tag}"),
        ("To", ALICE + (f";tag={to_tag}" if to_tag else "")),
        ("Call-ID", call_id),
        ("CSeq", f"{seq} {method}"),
    ]
    if contact is not None:
        fields.append(("Contact", contact))
    return Request(method, "sip:alice@192.0.2.101:5060", fields)


def response_to(request: Request, code: int, *, contact: str | None = None) -> Response:
    """A response from Bob to a request Alice sent in the dialog."""
    headers = [] if contact is None else [("Contact", contact)]
    return make_response(request, code, headers=headers)


def roundtrip(request: Request) -> Request:
    parsed = parse_message(bytes(request))
    assert isinstance(parsed, Request)
    assert parsed == request
    return parsed


# --- tags, ids, placeholders -----------------------------------------------


def test_new_tag_uses_64_random_bits() -> None:
    assert new_tag(lambda n: bytes(range(n))) == "0001020304050607"
    tags = {new_tag() for _ in range(50)}
    assert len(tags) == 50
    assert all(len(tag) == 16 for tag in tags)


def test_dialog_id_is_hashable_and_frozen() -> None:
    a = DialogId("c", "l", "r")
    assert a == DialogId("c", "l", "r")
    assert {a: 1}[DialogId("c", "l", "r")] == 1
    with pytest.raises(AttributeError):
        a.call_id = "x"  # type: ignore[misc]


def test_dialog_ids_of_requests_and_responses() -> None:
    req = in_dialog("BYE", 1)
    assert dialog_id_for_request(req) == DialogId(CALL_ID, "a1", "b1")
    assert dialog_id_for_request(invite()) is None
    resp = answer(invite(), 200)
    assert dialog_id_for_response(resp) == DialogId(CALL_ID, "a1", "b1")
    assert dialog_id_for_response(make_response(invite(), 100)) is None
    # RFC 2543 peers send no From tag.
    untagged = Request(
        "BYE",
        "sip:alice@192.0.2.101",
        [
            ("Via", "SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKx"),
            ("From", BOB),
            ("To", ALICE + ";tag=a1"),
            ("Call-ID", CALL_ID),
            ("CSeq", "1 BYE"),
        ],
    )
    assert dialog_id_for_request(untagged) == DialogId(CALL_ID, "a1", "")


def test_via_placeholder() -> None:
    assert via_placeholder(BRANCH) == f"SIP/2.0/UDP {VIA_PLACEHOLDER_HOST};branch={BRANCH}"


# --- creation ------------------------------------------------------------------


def test_uac_dialog_from_provisional_is_early_with_reversed_route_set() -> None:
    req, dialog = uac_dialog(180)
    assert dialog.state is DialogState.EARLY
    assert dialog.id == DialogId(CALL_ID, "a1", "b1")
    assert (dialog.call_id, dialog.local_tag, dialog.remote_tag) == (CALL_ID, "a1", "b1")
    assert [str(r) for r in dialog.route_set] == ["<sip:p1.atlanta.example.com;lr>", "<sip:p2.biloxi.example.com;lr>"]
    assert str(dialog.remote_target) == "sip:bob@192.0.2.4:5062"
    assert dialog.local_seq == 314159
    assert dialog.remote_seq is None
    assert str(dialog.local_uri) == ALICE
    assert str(dialog.remote_uri) == BOB
    assert str(dialog.local_contact) == ALICE_CONTACT
    assert dialog.initial_cseq == req.cseq
    assert dialog.secure is False


def test_uac_dialog_from_2xx_is_confirmed() -> None:
    _, dialog = uac_dialog(200)
    assert dialog.state is DialogState.CONFIRMED


def test_uac_dialog_from_parsed_response_with_comma_separated_record_route() -> None:
    req = invite()
    raw = (
        "SIP/2.0 200 OK\r\n"
        "Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKinv\r\n"
        "Record-Route: <sip:p3.example.net;lr>, <sip:p2.example.net;lr>\r\n"
        "Record-Route: <sip:p1.example.net;lr;ftag=a1>\r\n"
        f"f: {ALICE};tag=a1\r\n"
        f"t: {BOB};tag=b9\r\n"
        f"i: {CALL_ID}\r\n"
        "CSeq: 314159 INVITE\r\n"
        "m: <sips:bob@192.0.2.4>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    resp = parse_message(raw)
    assert isinstance(resp, Response)
    dialog = Dialog.from_uac(req, resp)
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:p1.example.net;lr;ftag=a1",
        "sip:p2.example.net;lr",
        "sip:p3.example.net;lr",
    ]
    assert str(dialog.remote_target) == "sips:bob@192.0.2.4"
    assert dialog.remote_tag == "b9"


def test_uac_dialog_without_contact_in_provisional_targets_request_uri() -> None:
    req = invite()
    dialog = Dialog.from_uac(req, answer(req, 183, contact=None))
    assert str(dialog.remote_target) == "sip:bob@biloxi.example.com"


def test_uac_dialog_secure_for_sips_request_uri() -> None:
    req = invite(uri="sips:bob@biloxi.example.com", contact="<sips:alice@192.0.2.101>")
    assert Dialog.from_uac(req, answer(req, 200, contact="<sips:bob@192.0.2.4>")).secure is True


@pytest.mark.parametrize(
    ("request_", "response"),
    [
        (invite(), answer(invite(), 100, to_tag=None)),
        (invite(), answer(invite(), 180, to_tag=None)),
        (invite(), answer(invite(), 486)),
        (invite(method="OPTIONS"), answer(invite(method="OPTIONS"), 200)),
        (invite(contact=None), answer(invite(), 200)),
        (invite(seq=1), answer(invite(seq=2), 200)),
    ],
)
def test_uac_dialog_refuses_what_does_not_create_one(request_: Request, response: Response) -> None:
    with pytest.raises(ValueError):
        Dialog.from_uac(request_, response)


def test_uas_dialog_keeps_record_route_order() -> None:
    req = invite(record_routes=RR)
    dialog = Dialog.from_uas(req, "b1", parse_uri("sip:bob@192.0.2.4:5062"))
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.id == DialogId(CALL_ID, "b1", "a1")
    assert [str(r) for r in dialog.route_set] == list(RR)
    assert str(dialog.remote_target) == "sip:alice@192.0.2.101:5060"
    assert dialog.remote_seq == 314159
    assert dialog.local_seq is None
    assert str(dialog.local_uri) == BOB
    assert str(dialog.remote_uri) == ALICE
    assert str(dialog.local_contact) == "<sip:bob@192.0.2.4:5062>"
    assert Dialog.from_uas(req, "b1", NameAddr(parse_uri("sip:b@h")), early=True).state is DialogState.EARLY


def test_uas_dialog_needs_contact_and_no_to_tag() -> None:
    with pytest.raises(SipParseError) as info:
        Dialog.from_uas(invite(contact=None), "b1", parse_uri("sip:bob@192.0.2.4"))
    assert info.value.status_code == 400
    with pytest.raises(ValueError):
        Dialog.from_uas(in_dialog("INVITE", 2, contact=BOB_CONTACT), "x", parse_uri("sip:bob@192.0.2.4"))


def test_uas_dialog_first_request_and_refusal_of_early_dialog() -> None:
    req = invite(record_routes=RR)
    dialog = Dialog.from_uas(req, "b1", parse_uri("sip:bob@192.0.2.4:5062"), early=True)
    dialog.send_response(make_response(req, 486, to_tag="b1"))
    assert dialog.state is DialogState.TERMINATED
    dialog = Dialog.from_uas(req, "b1", parse_uri("sip:bob@192.0.2.4:5062"), early=True)
    dialog.send_response(make_response(req, 200, to_tag="b1"))
    assert dialog.state is DialogState.CONFIRMED
    bye = dialog.create_request("BYE", branch=BRANCH)
    assert list(bye.headers) == [
        ("Via", f"SIP/2.0/UDP placeholder.invalid;branch={BRANCH}"),
        ("Route", RR[0]),
        ("Route", RR[1]),
        ("Max-Forwards", "70"),
        ("From", f"{BOB};tag=b1"),
        ("To", f"{ALICE};tag=a1"),
        ("Call-ID", CALL_ID),
        ("CSeq", "1 BYE"),
    ]
    assert str(bye.uri) == "sip:alice@192.0.2.101:5060"


# --- building requests -----------------------------------------------------------


def test_loose_routing_request_headers_exactly() -> None:
    _, dialog = uac_dialog()
    req = dialog.create_request("INVITE", body=b"v=0\r\n", content_type="application/sdp", branch=BRANCH)
    assert req.method == "INVITE"
    assert str(req.uri) == "sip:bob@192.0.2.4:5062"
    assert list(req.headers) == [
        ("Via", f"SIP/2.0/UDP placeholder.invalid;branch={BRANCH}"),
        ("Route", "<sip:p1.atlanta.example.com;lr>"),
        ("Route", "<sip:p2.biloxi.example.com;lr>"),
        ("Max-Forwards", str(MAX_FORWARDS)),
        ("From", f"{ALICE};tag=a1"),
        ("To", f"{BOB};tag=b1"),
        ("Call-ID", CALL_ID),
        ("CSeq", "314160 INVITE"),
        ("Contact", ALICE_CONTACT),
        ("Content-Type", "application/sdp"),
    ]
    assert req.body == b"v=0\r\n"
    parsed = roundtrip(req)
    assert parsed.headers["Content-Length"] == "5"


def test_strict_routing_request_headers_exactly() -> None:
    # Record-Route in the response: the strict router nearest to us is last.
    _, dialog = uac_dialog(
        record_routes=("<sip:p2.biloxi.example.com;lr>", "<sip:p1.atlanta.example.com;method=INVITE>")
    )
    req = dialog.create_request("BYE", branch=BRANCH, extra_headers=[("Reason", "SIP;cause=200")])
    assert str(req.uri) == "sip:p1.atlanta.example.com"
    assert list(req.headers) == [
        ("Via", f"SIP/2.0/UDP placeholder.invalid;branch={BRANCH}"),
        ("Route", "<sip:p2.biloxi.example.com;lr>"),
        ("Route", "<sip:bob@192.0.2.4:5062>"),
        ("Max-Forwards", "70"),
        ("From", f"{ALICE};tag=a1"),
        ("To", f"{BOB};tag=b1"),
        ("Call-ID", CALL_ID),
        ("CSeq", "314160 BYE"),
        ("Reason", "SIP;cause=200"),
    ]
    roundtrip(req)


def test_no_route_set_targets_remote_target_without_route() -> None:
    req = invite()
    dialog = Dialog.from_uac(req, answer(req, 200, contact="<sip:bob@192.0.2.4;transport=tcp?Subject=x>"))
    options = dialog.create_request("OPTIONS")
    assert str(options.uri) == "sip:bob@192.0.2.4;transport=tcp"
    assert "Route" not in options.headers
    assert options.headers["Contact"] == ALICE_CONTACT
    assert options.via.host == VIA_PLACEHOLDER_HOST
    assert options.via.branch is not None and options.via.branch.startswith(MAGIC_COOKIE)
    roundtrip(options)


def test_each_request_takes_the_next_cseq_and_a_new_branch() -> None:
    _, dialog = uac_dialog()
    first = dialog.create_request("INFO", body=b"x", content_type="application/dtmf-relay")
    second = dialog.create_request("BYE")
    assert (first.cseq.seq, second.cseq.seq) == (314160, 314161)
    assert dialog.local_seq == 314161
    assert first.via.branch != second.via.branch
    assert "Contact" not in second.headers


def test_ack_reuses_invite_cseq_and_keeps_local_seq() -> None:
    req, dialog = uac_dialog()
    ack = dialog.create_ack(req.cseq.seq, branch="z9hG4bKack")
    assert ack.method == "ACK"
    assert str(ack.uri) == "sip:bob@192.0.2.4:5062"
    assert list(ack.headers) == [
        ("Via", "SIP/2.0/UDP placeholder.invalid;branch=z9hG4bKack"),
        ("Route", "<sip:p1.atlanta.example.com;lr>"),
        ("Route", "<sip:p2.biloxi.example.com;lr>"),
        ("Max-Forwards", "70"),
        ("From", f"{ALICE};tag=a1"),
        ("To", f"{BOB};tag=b1"),
        ("Call-ID", CALL_ID),
        ("CSeq", "314159 ACK"),
    ]
    assert dialog.local_seq == 314159
    other = dialog.create_ack(req.cseq.seq)
    assert other.via.branch != ack.via.branch != req.via.branch
    roundtrip(ack)


def test_ack_and_cancel_are_not_built_by_create_request() -> None:
    _, dialog = uac_dialog()
    with pytest.raises(ValueError, match="create_ack"):
        dialog.create_request("ACK")
    with pytest.raises(ValueError, match="make_cancel"):
        dialog.create_request("CANCEL")
    reinvite = dialog.create_request("INVITE")
    cancel = make_cancel(reinvite)
    assert cancel.cseq.seq == reinvite.cseq.seq == dialog.local_seq
    assert cancel.via.branch == reinvite.via.branch
    assert cancel.headers.get_all("Route") == reinvite.headers.get_all("Route")


def test_body_needs_content_type_and_terminated_dialog_sends_nothing() -> None:
    _, dialog = uac_dialog()
    with pytest.raises(ValueError):
        dialog.create_request("INFO", body=b"x")
    assert dialog.local_seq == 314159
    dialog.terminate()
    with pytest.raises(RuntimeError):
        dialog.create_request("BYE")


def test_created_requests_round_trip_through_the_parser() -> None:
    _, dialog = uac_dialog()
    for method in ("INVITE", "UPDATE", "INFO", "REFER", "NOTIFY", "MESSAGE", "PRACK", "BYE"):
        parsed = roundtrip(dialog.create_request(method, extra_headers=[("Event", "refer")]))
        assert parsed.to.tag == "b1"
        assert parsed.from_.tag == "a1"
        assert [str(r) for r in parsed.routes] == [str(r) for r in dialog.route_set]
    roundtrip(dialog.create_ack(314159, body=b"v=0\r\n", content_type="application/sdp"))


# --- requests we receive -----------------------------------------------------------


def test_first_request_sets_remote_seq_and_lower_cseq_gets_500() -> None:
    _, dialog = uac_dialog()
    assert dialog.receive_request(in_dialog("INFO", 10)) is None
    assert dialog.remote_seq == 10
    assert dialog.receive_request(in_dialog("INFO", 10)) is None
    assert dialog.receive_request(in_dialog("INFO", 9)) == 500
    assert dialog.remote_seq == 10
    assert dialog.receive_request(in_dialog("INFO", 12)) is None
    assert dialog.remote_seq == 12


def test_error_response_for_500_carries_retry_after() -> None:
    req = in_dialog("INFO", 9)
    resp = error_response(req, 500, random_bytes=lambda n: b"\x07" * n)
    assert resp.status_code == 500
    assert resp.headers["Retry-After"] == "7"
    assert resp.to.tag == "a1"
    assert 0 <= (error_response(req, 500).retry_after or 0) <= 10
    assert "Retry-After" not in error_response(req, 481).headers


def test_uas_lower_cseq_than_creating_request_gets_500() -> None:
    dialog = Dialog.from_uas(invite(seq=5), "b1", parse_uri("sip:bob@192.0.2.4"))
    bye = in_dialog("BYE", 4, from_tag="a1", to_tag="b1")
    assert dialog.receive_request(bye) == 500
    assert dialog.state is DialogState.CONFIRMED


def test_ack_and_cancel_are_not_sequence_checked() -> None:
    _, dialog = uac_dialog()
    dialog.receive_request(in_dialog("INVITE", 20, contact=BOB_CONTACT))
    assert dialog.receive_request(in_dialog("ACK", 20)) is None
    assert dialog.receive_request(in_dialog("CANCEL", 20)) is None
    assert dialog.receive_request(in_dialog("ACK", 3)) is None
    assert dialog.remote_seq == 20


def test_target_refresh_on_reinvite_update_and_notify_only() -> None:
    _, dialog = uac_dialog()
    dialog.receive_request(in_dialog("INVITE", 2, contact="<sip:bob@198.51.100.9:5070>"))
    assert str(dialog.remote_target) == "sip:bob@198.51.100.9:5070"
    dialog.receive_request(in_dialog("INFO", 3, contact="<sip:bob@203.0.113.1>"))
    assert str(dialog.remote_target) == "sip:bob@198.51.100.9:5070"
    dialog.receive_request(in_dialog("INVITE", 4))
    assert str(dialog.remote_target) == "sip:bob@198.51.100.9:5070"
    dialog.receive_request(in_dialog("UPDATE", 5, contact="<sip:bob@203.0.113.2>"))
    assert str(dialog.remote_target) == "sip:bob@203.0.113.2"
    dialog.receive_request(in_dialog("NOTIFY", 6, contact="<sip:bob@203.0.113.3>"))
    assert str(dialog.remote_target) == "sip:bob@203.0.113.3"
    assert dialog.receive_request(in_dialog("INVITE", 1, contact="<sip:bob@203.0.113.4>")) == 500
    assert str(dialog.remote_target) == "sip:bob@203.0.113.3"
    assert dialog.create_request("BYE").uri == parse_uri("sip:bob@203.0.113.3")


def test_bye_terminates_and_later_requests_get_481() -> None:
    _, dialog = uac_dialog()
    assert dialog.receive_request(in_dialog("BYE", 7)) is None
    assert dialog.state is DialogState.TERMINATED
    assert dialog.receive_request(in_dialog("INFO", 8)) == 481


def test_request_of_another_dialog_is_an_error() -> None:
    _, dialog = uac_dialog()
    with pytest.raises(ValueError):
        dialog.receive_request(in_dialog("INFO", 8, from_tag="other"))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=1, max_size=20))
def test_only_lower_cseqs_are_rejected(seqs: list[int]) -> None:
    _, dialog = uac_dialog()
    highest: int | None = None
    for seq in seqs:
        result = dialog.receive_request(in_dialog("INFO", seq))
        if highest is not None and seq < highest:
            assert result == 500
        else:
            assert result is None
            highest = seq
        assert dialog.remote_seq == highest


# --- responses we receive ---------------------------------------------------------------


def test_2xx_to_reinvite_refreshes_target() -> None:
    _, dialog = uac_dialog()
    reinvite = dialog.create_request("INVITE")
    dialog.receive_response(response_to(reinvite, 180, contact="<sip:bob@203.0.113.7>"))
    assert str(dialog.remote_target) == "sip:bob@192.0.2.4:5062"
    dialog.receive_response(response_to(reinvite, 200, contact="<sip:bob@203.0.113.7>"))
    assert str(dialog.remote_target) == "sip:bob@203.0.113.7"
    info = dialog.create_request("INFO")
    dialog.receive_response(response_to(info, 200, contact="<sip:bob@203.0.113.8>"))
    assert str(dialog.remote_target) == "sip:bob@203.0.113.7"
    assert dialog.state is DialogState.CONFIRMED


@pytest.mark.parametrize(("code", "state"), [(481, "terminated"), (408, "terminated"), (491, "confirmed")])
def test_481_and_408_terminate(code: int, state: str) -> None:
    _, dialog = uac_dialog()
    dialog.receive_response(response_to(dialog.create_request("INVITE"), code))
    assert dialog.state is DialogState(state)


def test_final_response_to_bye_terminates() -> None:
    _, dialog = uac_dialog()
    bye = dialog.create_request("BYE")
    dialog.receive_response(response_to(bye, 401))
    assert dialog.state is DialogState.CONFIRMED
    dialog.receive_response(response_to(bye, 200))
    assert dialog.terminated


def test_2xx_confirms_early_dialog_and_recomputes_route_set() -> None:
    req = invite()
    dialog = Dialog.from_uac(req, answer(req, 180, record_routes=RR))
    dialog.receive_response(answer(req, 200, record_routes=RR[:1], contact="<sip:bob@203.0.113.5>"))
    assert dialog.state is DialogState.CONFIRMED
    assert [str(r) for r in dialog.route_set] == [RR[0]]
    assert str(dialog.remote_target) == "sip:bob@203.0.113.5"


@pytest.mark.parametrize("code", [486, 199])
def test_failure_of_creating_request_terminates_early_dialog(code: int) -> None:
    req = invite()
    dialog = Dialog.from_uac(req, answer(req, 180))
    dialog.receive_response(answer(req, code))
    assert dialog.state is DialogState.TERMINATED


def test_response_of_another_dialog_is_an_error() -> None:
    req, dialog = uac_dialog()
    with pytest.raises(ValueError):
        dialog.receive_response(answer(req, 200, to_tag="b2"))


# --- forking ---------------------------------------------------------------------------------

B1_RR = ("<sip:p1.atlanta.example.com;lr>",)
B2_RR = ("<sip:edge2.biloxi.example.com;lr>", "<sip:p1.atlanta.example.com;lr>")
B2_CONTACT = "<sip:bob@198.51.100.22:5060>"


def test_forked_invite_two_early_dialogs_first_2xx_wins_second_gets_ack_and_bye() -> None:
    req = invite()
    forks = DialogSet(req)
    assert forks.receive_response(make_response(req, 100)) is None
    early1 = forks.receive_response(answer(req, 180, "b1", record_routes=B1_RR))
    early2 = forks.receive_response(answer(req, 183, "b2", contact=B2_CONTACT, record_routes=B2_RR))
    assert isinstance(early1, Dialog) and isinstance(early2, Dialog)
    assert early1 is not early2
    assert early1.state is early2.state is DialogState.EARLY
    assert set(forks.dialogs) == {"b1", "b2"}
    assert forks.receive_response(answer(req, 180, "b1", record_routes=B1_RR)) is early1

    winner = forks.receive_response(answer(req, 200, "b1", record_routes=B1_RR))
    assert winner is early1 and forks.confirmed is early1
    assert forks.confirmed.state is DialogState.CONFIRMED
    assert early2.terminated

    late = forks.receive_response(answer(req, 200, "b2", contact=B2_CONTACT, record_routes=B2_RR))
    assert isinstance(late, ForkedAnswer)
    assert late.dialog.id == DialogId(CALL_ID, "a1", "b2")
    assert late.dialog is forks.dialogs["b2"]
    ack, bye = late.ack, late.bye
    assert bye is not None
    assert str(ack.uri) == str(bye.uri) == "sip:bob@198.51.100.22:5060"
    common = [
        ("Route", "<sip:p1.atlanta.example.com;lr>"),
        ("Route", "<sip:edge2.biloxi.example.com;lr>"),
        ("Max-Forwards", "70"),
        ("From", f"{ALICE};tag=a1"),
        ("To", f"{BOB};tag=b2"),
        ("Call-ID", CALL_ID),
    ]
    assert list(ack.headers)[1:] == [*common, ("CSeq", "314159 ACK")]
    assert list(bye.headers)[1:] == [*common, ("CSeq", "314160 BYE")]
    assert ack.via.host == bye.via.host == VIA_PLACEHOLDER_HOST
    assert ack.via.branch != bye.via.branch
    roundtrip(ack)
    roundtrip(bye)

    again = forks.receive_response(answer(req, 200, "b2", contact=B2_CONTACT, record_routes=B2_RR))
    assert isinstance(again, ForkedAnswer)
    assert again.ack is ack and again.bye is None
    assert forks.receive_response(answer(req, 200, "b1", record_routes=B1_RR)) is early1
    assert forks.receive_response(answer(req, 180, "b3")) is None

    late.dialog.receive_response(response_to(bye, 200))
    assert late.dialog.terminated
    assert not early1.terminated


def test_2xx_from_unknown_fork_creates_confirmed_dialog() -> None:
    req = invite()
    forks = DialogSet(req)
    forks.receive_response(answer(req, 180, "b1"))
    winner = forks.receive_response(answer(req, 200, "b2", contact=B2_CONTACT))
    assert isinstance(winner, Dialog)
    assert winner.remote_tag == "b2" and winner.state is DialogState.CONFIRMED
    assert forks.dialogs["b1"].terminated


def test_failure_response_terminates_every_early_dialog() -> None:
    req = invite()
    forks = DialogSet(req)
    forks.receive_response(answer(req, 180, "b1"))
    forks.receive_response(answer(req, 180, "b2"))
    assert forks.live
    assert forks.receive_response(answer(req, 486, "b3")) is None
    assert all(d.terminated for d in forks.dialogs.values())
    assert forks.finished and not forks.live
    assert forks.receive_response(answer(req, 180, "b4")) is None


def test_dialog_set_checks_its_responses() -> None:
    req = invite()
    forks = DialogSet(req)
    with pytest.raises(ValueError):
        forks.receive_response(answer(invite(seq=2), 200))
    with pytest.raises(ValueError):
        DialogSet(invite(method="OPTIONS"))


def test_notify_before_200_creates_the_subscription_dialog() -> None:
    subscribe = invite(method="SUBSCRIBE", seq=1)
    table = DialogTable()
    forks = DialogSet(subscribe)
    table.add_set(forks)
    notify = in_dialog("NOTIFY", 1, contact="<sip:bob@192.0.2.4:5062>")
    assert table.match_request(notify) is None
    assert needs_481(notify, table) is False
    assert needs_481(in_dialog("INFO", 1), table) is True
    dialog = forks.receive_notify(notify)
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.id == DialogId(CALL_ID, "a1", "b1")
    assert dialog.remote_seq == 1 and dialog.local_seq == 1
    assert dialog.receive_request(notify) is None
    assert table.match_request(notify) is dialog
    assert forks.receive_notify(notify) is dialog
    assert forks.receive_response(answer(subscribe, 200, "b1")) is dialog
    assert forks.confirmed is dialog
    other = forks.receive_response(answer(subscribe, 200, "b2", contact=B2_CONTACT))
    assert isinstance(other, Dialog) and other is not dialog


# --- the dialog table -----------------------------------------------------------------------


def test_table_matches_requests_and_responses() -> None:
    table = DialogTable()
    uas = Dialog.from_uas(invite(), "b7", parse_uri("sip:bob@192.0.2.4"))
    table.add(uas)
    req, uac = uac_dialog()
    table.add(uac)
    assert len(table) == 2
    assert set(map(id, table)) == {id(uas), id(uac)}
    assert DialogId(CALL_ID, "b7", "a1") in table
    bye_to_uas = in_dialog("BYE", 314160, from_tag="a1", to_tag="b7")
    assert table.match_request(bye_to_uas) is uas
    assert table.match_request(in_dialog("BYE", 5)) is uac
    assert table.match_response(response_to(uac.create_request("INFO"), 200)) is uac
    assert table.match_request(invite()) is None
    with pytest.raises(ValueError):
        table.add(Dialog.from_uac(req, answer(req, 200)))
    table.discard(uac.id)
    assert table.match_request(in_dialog("BYE", 5)) is None


def test_table_forgets_terminated_dialogs() -> None:
    table = DialogTable()
    _, dialog = uac_dialog()
    table.add(dialog)
    dialog.receive_request(in_dialog("BYE", 9))
    assert table.match_request(in_dialog("INFO", 10)) is None
    assert len(table) == 0
    table.add(dialog)
    assert dialog.id not in table


def test_table_finds_dialogs_of_a_set() -> None:
    req = invite()
    table = DialogTable()
    forks = DialogSet(req)
    table.add_set(forks)
    early = forks.receive_response(answer(req, 180, "b1"))
    assert table.match_request(in_dialog("UPDATE", 1)) is early
    forks.receive_response(answer(req, 200, "b2"))
    assert table.match_request(in_dialog("UPDATE", 1)) is None
    assert table.match_request(in_dialog("BYE", 1, from_tag="b2")) is forks.confirmed
    assert table.find_set(CALL_ID, "a1") is forks
    with pytest.raises(ValueError):
        table.add_set(DialogSet(req))
    table.discard_set(forks)
    assert table.find_set(CALL_ID, "a1") is None


def test_needs_481() -> None:
    table = DialogTable()
    _, dialog = uac_dialog()
    table.add(dialog)
    assert needs_481(in_dialog("BYE", 1), table) is False
    assert needs_481(in_dialog("BYE", 1, from_tag="zz"), table) is True
    assert needs_481(in_dialog("BYE", 1, call_id="other@x"), table) is True
    assert needs_481(in_dialog("INVITE", 1, to_tag=None), table) is False
    assert needs_481(in_dialog("ACK", 1, from_tag="zz"), table) is False
    assert needs_481(in_dialog("CANCEL", 1, from_tag="zz"), table) is False
    assert needs_481(in_dialog("NOTIFY", 1, from_tag="zz"), table) is True
    resp = error_response(in_dialog("BYE", 1, from_tag="zz"), 481)
    assert (resp.status_code, resp.reason) == (481, "Call/Transaction Does Not Exist")

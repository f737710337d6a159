"""SIP dialogs (RFC 3261 section 12), sans-I/O.

A :class:`Dialog` holds the state RFC 3261 12 keeps for one peer-to-peer
relationship (identifier, sequence numbers, remote target, route set) and
turns it into in-dialog requests (:meth:`Dialog.create_request`,
:meth:`Dialog.create_ack`). It is told about the requests and responses of
the dialog (:meth:`Dialog.receive_request`, :meth:`Dialog.receive_response`,
:meth:`Dialog.send_response`) and updates itself; it never sends anything.

A :class:`DialogSet` follows one dialog-creating request of ours (INVITE,
SUBSCRIBE, REFER) through forking: one dialog per To tag, the first 2xx
wins, and a later 2xx from another fork of an INVITE comes back as a
:class:`ForkedAnswer` carrying the ACK and BYE that end it.

A :class:`DialogTable` finds the dialog of an incoming message;
:func:`needs_481` says when a request names a dialog that does not exist.

Requests built here carry a top Via whose branch is final but whose
sent-protocol and sent-by are placeholders (``SIP/2.0/UDP``
:data:`VIA_PLACEHOLDER_HOST`): the transport that sends the request
rewrites them to its own transport, address and port and keeps the
parameters.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from softphone.sip.addr import NameAddr
from softphone.sip.errors import SipParseError
from softphone.sip.headers import CSeq
from softphone.sip.message import Request, Response
from softphone.sip.transaction import make_response, new_branch
from softphone.sip.uri import SipUri, Uri

__all__ = [
    "DIALOG_CREATING_METHODS",
    "MAX_FORWARDS",
    "TARGET_REFRESH_METHODS",
    "VIA_PLACEHOLDER_HOST",
    "Dialog",
    "DialogId",
    "DialogSet",
    "DialogState",
    "DialogTable",
    "ForkedAnswer",
    "RouteSet",
    "dialog_id_for_request",
    "dialog_id_for_response",
    "error_response",
    "needs_481",
    "new_tag",
    "via_placeholder",
]

# RFC 2606: ".invalid" never resolves, so a request the transport forgot to rewrite cannot reach anyone.
VIA_PLACEHOLDER_HOST = "placeholder.invalid"
MAX_FORWARDS = 70

DIALOG_CREATING_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER"})
# RFC 3261 12.2, RFC 3311 (UPDATE) and RFC 6665 (SUBSCRIBE, NOTIFY): requests whose Contact replaces the remote target.
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY"})
# RFC 3261 20, table 2: Contact is not applicable to BYE and CANCEL.
_NO_CONTACT_METHODS = frozenset({"BYE", "CANCEL"})
_EVENT_DIALOG_METHODS = frozenset({"SUBSCRIBE", "REFER"})
# RFC 3261 14.2: Retry-After between 0 and 10 seconds with a 500 for a request that cannot be taken now.
_MAX_RETRY_AFTER = 10

RouteSet = list[NameAddr]


class DialogState(enum.Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class DialogId:
    """RFC 3261 12: Call-ID, local tag and remote tag; a tag an RFC 2543 peer left out is ``""``."""

    call_id: str
    local_tag: str
    remote_tag: str


def new_tag(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A fresh From or To tag: 64 random bits (RFC 3261 19.3 asks for at least 32)."""
    return random_bytes(8).hex()


def via_placeholder(branch: str) -> str:
    """The top Via of a request built here, for the transport to rewrite (see the module docstring)."""
    return f"SIP/2.0/UDP {VIA_PLACEHOLDER_HOST};branch={branch}"


def dialog_id_for_request(request: Request) -> DialogId | None:
    """The id of the dialog an incoming request belongs to at the UAS; None without a To tag."""
    local_tag = request.to.tag
    if local_tag is None:
        return None
    return DialogId(request.call_id, local_tag, request.from_.tag or "")


def dialog_id_for_response(response: Response) -> DialogId | None:
    """The id of the dialog a response belongs to at the UAC; None without both tags."""
    local_tag = response.from_.tag
    remote_tag = response.to.tag
    if local_tag is None or remote_tag is None:
        return None
    return DialogId(response.call_id, local_tag, remote_tag)


def error_response(
    request: Request,
    status_code: int,
    *,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> Response:
    """The response to a request :meth:`Dialog.receive_request` or :func:`needs_481` turned down.

    A 500 gets a Retry-After of 0 to 10 seconds.
    """
    headers: list[tuple[str, str]] = []
    if status_code == 500:
        headers.append(("Retry-After", str(random_bytes(1)[0] % (_MAX_RETRY_AFTER + 1))))
    return make_response(request, status_code, headers=headers)


def _without_tag(address: NameAddr) -> NameAddr:
    params = {name: value for name, value in address.params.items() if name.lower() != "tag"}
    return NameAddr(uri=address.uri, display_name=address.display_name, params=params)


def _with_tag(address: NameAddr, tag: str) -> NameAddr:
    out = NameAddr(uri=address.uri, display_name=address.display_name, params=dict(address.params))
    if tag:
        out.tag = tag
    return out


def _copy_routes(routes: Iterable[NameAddr]) -> RouteSet:
    return [NameAddr(uri=r.uri, display_name=r.display_name, params=dict(r.params)) for r in routes]


def _request_uri(uri: Uri) -> Uri:
    """``uri`` without what RFC 3261 19.1.1 table 1 bars from a Request-URI (the method parameter, headers)."""
    if not isinstance(uri, SipUri):
        return uri
    params = {name: value for name, value in uri.params.items() if name.lower() != "method"}
    if len(params) == len(uri.params) and not uri.headers:
        return uri
    return uri.replace(params=params, headers=[])


def _is_loose(route: NameAddr) -> bool:
    return isinstance(route.uri, SipUri) and route.uri.lr


def _is_sips(uri: Uri) -> bool:
    return isinstance(uri, SipUri) and uri.scheme == "sips"


def _contact_uri(message: Request | Response) -> Uri | None:
    contacts = message.contacts
    return contacts[0].uri if contacts else None


def _required_tag(address: NameAddr, what: str) -> str:
    tag = address.tag
    if tag is None:
        raise ValueError(f"{what} has no tag")
    return tag


@dataclass(eq=False)
class Dialog:
    """The dialog state of RFC 3261 12, from our side.

    ``local_uri`` and ``remote_uri`` are the From and To of our requests
    without their tags (the tags live in ``id``). ``local_seq`` is the
    CSeq number of our last request (None while we have sent none, as a
    UAS); ``remote_seq`` the peer's (None until its first request).
    ``initial_cseq`` is the CSeq of the request that created the dialog.
    ``secure`` is RFC 3261 12.1's flag as far as messages show it (a SIPS
    Request-URI); the transport must also have used TLS for it to hold.
    """

    id: DialogId
    state: DialogState
    local_uri: NameAddr
    remote_uri: NameAddr
    remote_target: Uri
    route_set: RouteSet
    local_contact: NameAddr
    local_seq: int | None = None
    remote_seq: int | None = None
    secure: bool = False
    initial_cseq: CSeq | None = None
    is_uac: bool = field(default=True, repr=False)

    # --- construction -----------------------------------------------------

    @classmethod
    def from_uac(cls, request: Request, response: Response) -> Dialog:
        """RFC 3261 12.1.2: the dialog a 1xx with a To tag or a 2xx to our ``request`` creates.

        A response without Contact (which a 2xx must not be, but a 1xx
        sometimes is) leaves the Request-URI as the remote target.
        """
        if request.method not in DIALOG_CREATING_METHODS:
            raise ValueError(f"{request.method} does not create dialogs")
        code = response.status_code
        if not 101 <= code < 300:
            raise ValueError(f"a {code} response does not create a dialog")
        if response.call_id != request.call_id or response.cseq != request.cseq:
            raise ValueError("the response does not answer this request")
        contacts = request.contacts
        if not contacts:
            raise ValueError(f"our {request.method} has no Contact")
        local_tag = _required_tag(request.from_, "the From of our request")
        remote_tag = _required_tag(response.to, "the To of the response")
        return cls(
            id=DialogId(request.call_id, local_tag, remote_tag),
            state=DialogState.CONFIRMED if code >= 200 else DialogState.EARLY,
            local_uri=_without_tag(request.from_),
            remote_uri=_without_tag(response.to),
            remote_target=_contact_uri(response) or request.uri,
            route_set=_copy_routes(reversed(response.record_routes)),
            local_contact=contacts[0],
            local_seq=request.cseq.seq,
            secure=_is_sips(request.uri),
            initial_cseq=request.cseq,
            is_uac=True,
        )

    @classmethod
    def from_uas(
        cls,
        request: Request,
        response_to_tag: str,
        local_contact: NameAddr | Uri,
        *,
        early: bool = False,
    ) -> Dialog:
        """RFC 3261 12.1.1: the dialog we create by answering ``request`` with To tag ``response_to_tag``.

        ``early`` for a dialog made by a 1xx (then :meth:`send_response` with
        the 2xx confirms it). Raises :class:`SipParseError` (status 400) when
        the request has no Contact.
        """
        if request.method not in DIALOG_CREATING_METHODS:
            raise ValueError(f"{request.method} does not create dialogs")
        if request.to.tag is not None:
            raise ValueError("a request with a To tag is inside a dialog already")
        if not response_to_tag:
            raise ValueError("the To tag of the response must not be empty")
        remote_target = _contact_uri(request)
        if remote_target is None:
            raise SipParseError(f"missing Contact header in {request.method}", 400, request)
        if not isinstance(local_contact, NameAddr):
            local_contact = NameAddr(uri=local_contact)
        return cls(
            id=DialogId(request.call_id, response_to_tag, request.from_.tag or ""),
            state=DialogState.EARLY if early else DialogState.CONFIRMED,
            local_uri=_without_tag(request.to),
            remote_uri=_without_tag(request.from_),
            remote_target=remote_target,
            route_set=_copy_routes(request.record_routes),
            local_contact=local_contact,
            remote_seq=request.cseq.seq,
            secure=_is_sips(request.uri),
            initial_cseq=request.cseq,
            is_uac=False,
        )

    @classmethod
    def from_notify(cls, subscribe: Request, notify: Request) -> Dialog:
        """RFC 6665 4.1.2.4: the dialog a NOTIFY creates for our SUBSCRIBE (or REFER) before or instead of its 2xx.

        The subscriber takes the NOTIFY's side as a UAS would (route set in
        Record-Route order, remote target from its Contact).
        """
        if subscribe.method not in _EVENT_DIALOG_METHODS:
            raise ValueError(f"a NOTIFY does not create a dialog for a {subscribe.method}")
        if notify.method != "NOTIFY":
            raise ValueError(f"not a NOTIFY: {notify.method}")
        local_tag = _required_tag(subscribe.from_, f"the From of our {subscribe.method}")
        if notify.call_id != subscribe.call_id or notify.to.tag != local_tag:
            raise ValueError(f"the NOTIFY is not for this {subscribe.method}")
        contacts = subscribe.contacts
        if not contacts:
            raise ValueError(f"our {subscribe.method} has no Contact")
        remote_target = _contact_uri(notify)
        if remote_target is None:
            raise SipParseError("missing Contact header in NOTIFY", 400, notify)
        return cls(
            id=DialogId(subscribe.call_id, local_tag, _required_tag(notify.from_, "the From of the NOTIFY")),
            state=DialogState.CONFIRMED,
            local_uri=_without_tag(subscribe.from_),
            remote_uri=_without_tag(notify.from_),
            remote_target=remote_target,
            route_set=_copy_routes(notify.record_routes),
            local_contact=contacts[0],
            local_seq=subscribe.cseq.seq,
            remote_seq=notify.cseq.seq,
            secure=_is_sips(subscribe.uri),
            initial_cseq=subscribe.cseq,
            is_uac=True,
        )

    # --- identity -----------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self.id.call_id

    @property
    def local_tag(self) -> str:
        return self.id.local_tag

    @property
    def remote_tag(self) -> str:
        return self.id.remote_tag

    @property
    def terminated(self) -> bool:
        return self.state is DialogState.TERMINATED

    def terminate(self) -> None:
        self.state = DialogState.TERMINATED

    # --- requests we send -----------------------------------------------------

    def create_request(
        self,
        method: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
        branch: str | None = None,
    ) -> Request:
        """RFC 3261 12.2.1.1: the next request of the dialog; takes the next local CSeq number.

        ACK for a 2xx comes from :meth:`create_ack`; CANCEL from
        :func:`softphone.sip.transaction.make_cancel` on the request it cancels.
        ``extra_headers`` go after the dialog's own; a non-empty body needs a
        ``content_type``.
        """
        if method == "ACK":
            raise ValueError("an ACK reuses the INVITE's CSeq: use create_ack")
        if method == "CANCEL":
            raise ValueError("a CANCEL copies the request it cancels: use make_cancel")
        if self.state is DialogState.TERMINATED:
            raise RuntimeError(f"dialog {self.id} is terminated")
        # RFC 3261 8.1.1.5 lets a UAS start its own numbering anywhere below 2**31.
        seq = 1 if self.local_seq is None else self.local_seq + 1
        request = self._build(method, seq, body, content_type, extra_headers, branch)
        self.local_seq = seq
        return request

    def create_ack(
        self,
        invite_cseq: int,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
        branch: str | None = None,
    ) -> Request:
        """RFC 3261 13.2.2.4: the ACK for a 2xx to the INVITE numbered ``invite_cseq``.

        Built like any in-dialog request, in a new transaction, with the
        INVITE's CSeq number; the INVITE's credentials, if any, go in
        ``extra_headers``.
        """
        return self._build("ACK", invite_cseq, body, content_type, extra_headers, branch, cseq_method="ACK")

    def _build(
        self,
        method: str,
        seq: int,
        body: bytes,
        content_type: str | None,
        extra_headers: Iterable[tuple[str, str]],
        branch: str | None,
        cseq_method: str | None = None,
    ) -> Request:
        if body and content_type is None:
            raise ValueError("a body needs a Content-Type (RFC 3261 7.4.1)")
        uri, routes = self.request_target()
        fields = [("Via", via_placeholder(branch or new_branch()))]
        fields += [("Route", str(route)) for route in routes]
        fields += [
            ("Max-Forwards", str(MAX_FORWARDS)),
            ("From", str(_with_tag(self.local_uri, self.local_tag))),
            ("To", str(_with_tag(self.remote_uri, self.remote_tag))),
            ("Call-ID", self.call_id),
            ("CSeq", f"{seq} {cseq_method or method}"),
        ]
        if method not in _NO_CONTACT_METHODS and method != "ACK":
            fields.append(("Contact", str(self.local_contact)))
        fields += list(extra_headers)
        if content_type is not None:
            fields.append(("Content-Type", content_type))
        return Request(method, uri, fields, body)

    def request_target(self) -> tuple[Uri, RouteSet]:
        """RFC 3261 12.2.1.1: the Request-URI and the Route values of the next request."""
        routes = self.route_set
        if not routes or _is_loose(routes[0]):
            return _request_uri(self.remote_target), _copy_routes(routes)
        # Strict routing: the first route becomes the Request-URI, the remote target the last Route.
        return _request_uri(routes[0].uri), [*_copy_routes(routes[1:]), NameAddr(uri=self.remote_target)]

    # --- messages we receive or send ------------------------------------------

    def receive_request(self, request: Request) -> int | None:
        """RFC 3261 12.2.2: take an in-dialog request; the status to reject it with, or None.

        Returns 500 for a CSeq number below the remote one (answer it with
        :func:`error_response`) and 481 once the dialog is terminated. An
        accepted request moves ``remote_seq`` and, for a target refresh
        request with a Contact, the remote target; a BYE terminates the
        dialog. ACK and CANCEL are neither checked nor counted: an ACK
        carries its INVITE's number and a CANCEL belongs to the transaction
        it cancels.
        """
        if dialog_id_for_request(request) != self.id:
            raise ValueError(f"the request is not in dialog {self.id}")
        if request.method in ("ACK", "CANCEL"):
            return None
        if self.state is DialogState.TERMINATED:
            return 481
        seq = request.cseq.seq
        if self.remote_seq is not None and seq < self.remote_seq:
            return 500
        self.remote_seq = seq
        if request.method in TARGET_REFRESH_METHODS:
            target = _contact_uri(request)
            if target is not None:
                self.remote_target = target
        if request.method == "BYE":
            self.state = DialogState.TERMINATED
        return None

    def receive_response(self, response: Response) -> None:
        """RFC 3261 12.2.1.2 and 13.2.2.4: a response to a request we sent in this dialog (or that created it).

        A 2xx to the creating request confirms an early dialog (route set
        recomputed from its Record-Route); a 2xx to a target refresh request
        takes its Contact as the remote target; a 481 or 408 (also one the
        UA makes up when the transaction timed out) terminates the dialog,
        as do any 2xx to a BYE and a non-2xx final response to the creating
        request of an early dialog (12.3).
        """
        if dialog_id_for_response(response) != self.id:
            raise ValueError(f"the response is not in dialog {self.id}")
        if self.state is DialogState.TERMINATED:
            return
        code = response.status_code
        creating = response.cseq == self.initial_cseq and self.is_uac
        method = response.cseq.method
        if code < 200:
            # RFC 6228: 199 Early Dialog Terminated.
            if code == 199 and creating and self.state is DialogState.EARLY:
                self.state = DialogState.TERMINATED
            return
        if code < 300:
            if creating and self.state is DialogState.EARLY:
                self.state = DialogState.CONFIRMED
                self.route_set = _copy_routes(reversed(response.record_routes))
                self._refresh_target(response)
            elif method in TARGET_REFRESH_METHODS:
                self._refresh_target(response)
            if method == "BYE":
                self.state = DialogState.TERMINATED
            return
        if creating and self.state is DialogState.EARLY:
            self.state = DialogState.TERMINATED
        elif code in (408, 481):
            self.state = DialogState.TERMINATED

    def send_response(self, response: Response) -> None:
        """As the UAS: a 2xx to the creating request confirms an early dialog, a 300-699 ends it (12.3)."""
        if self.is_uac or response.cseq != self.initial_cseq or self.state is not DialogState.EARLY:
            return
        code = response.status_code
        if 200 <= code < 300:
            self.state = DialogState.CONFIRMED
        elif code >= 300:
            self.state = DialogState.TERMINATED

    def _refresh_target(self, response: Response) -> None:
        target = _contact_uri(response)
        if target is not None:
            self.remote_target = target


@dataclass(frozen=True, slots=True)
class ForkedAnswer:
    """A 2xx to our INVITE from another fork after the first 2xx won (RFC 3261 13.2.2.4).

    The UA sends ``ack`` and then ``bye`` (in a client transaction) to end
    ``dialog``. For a retransmission of that 2xx, ``ack`` is the same ACK
    to send again and ``bye`` is None.
    """

    dialog: Dialog
    ack: Request
    bye: Request | None


class DialogSet:
    """The dialogs of one dialog-creating request we sent, one per To tag (RFC 3261 12.1.2, 13.2.2.4).

    Feed it every response to ``request`` with :meth:`receive_response`
    (and, for SUBSCRIBE and REFER, NOTIFYs that match no dialog yet with
    :meth:`receive_notify`). For an INVITE the first 2xx wins: its dialog
    becomes ``confirmed`` and the early dialogs of the other forks are
    terminated at once, since the proxies cancel those branches; a 2xx that
    arrives later on another To tag makes a :class:`ForkedAnswer`. A 300-699
    response terminates every early dialog (12.3).
    """

    def __init__(self, request: Request) -> None:
        if request.method not in DIALOG_CREATING_METHODS:
            raise ValueError(f"{request.method} does not create dialogs")
        self.request = request
        self.call_id = request.call_id
        self.local_tag = _required_tag(request.from_, f"the From of our {request.method}")
        self.dialogs: dict[str, Dialog] = {}
        self.confirmed: Dialog | None = None
        self.finished = False
        self._forked: dict[str, ForkedAnswer] = {}

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def live(self) -> bool:
        """True while a final response may still come or a dialog of the set is not terminated."""
        return not self.finished or any(not d.terminated for d in self.dialogs.values())

    def _live_dialog(self, remote_tag: str) -> Dialog | None:
        dialog = self.dialogs.get(remote_tag)
        return None if dialog is None or dialog.terminated else dialog

    def receive_response(self, response: Response) -> Dialog | ForkedAnswer | None:
        """The dialog a response creates or concerns; a :class:`ForkedAnswer`; None when it concerns none."""
        if (
            response.call_id != self.call_id
            or response.from_.tag != self.local_tag
            or response.cseq != self.request.cseq
        ):
            raise ValueError(f"the response does not answer this {self.method}")
        code = response.status_code
        if code >= 300:
            self.finished = True
            for dialog in self.dialogs.values():
                if dialog.state is DialogState.EARLY:
                    dialog.terminate()
            return None
        remote_tag = response.to.tag
        if remote_tag is None:
            return None
        existing = self._live_dialog(remote_tag)
        if code < 200:
            if existing is not None:
                existing.receive_response(response)
                return existing
            if self.finished or code == 100:
                return None
            dialog = Dialog.from_uac(self.request, response)
            self.dialogs[remote_tag] = dialog
            return dialog
        self.finished = True
        if self.confirmed is None:
            if existing is not None:
                existing.receive_response(response)
                dialog = existing
            else:
                dialog = Dialog.from_uac(self.request, response)
                self.dialogs[remote_tag] = dialog
            self.confirmed = dialog
            if self.method == "INVITE":
                for other in self.dialogs.values():
                    if other is not dialog and other.state is DialogState.EARLY:
                        other.terminate()
            return dialog
        if self.confirmed.remote_tag == remote_tag:
            self.confirmed.receive_response(response)
            return self.confirmed
        if self.method != "INVITE":
            # RFC 6665 4.1.2.4: each fork of a subscription is a dialog of its own.
            if existing is not None:
                existing.receive_response(response)
                return existing
            dialog = Dialog.from_uac(self.request, response)
            self.dialogs[remote_tag] = dialog
            return dialog
        previous = self._forked.get(remote_tag)
        if previous is not None:
            return ForkedAnswer(previous.dialog, previous.ack, None)
        dialog = Dialog.from_uac(self.request, response)
        self.dialogs[remote_tag] = dialog
        answer = ForkedAnswer(dialog, dialog.create_ack(self.request.cseq.seq), dialog.create_request("BYE"))
        self._forked[remote_tag] = answer
        return answer

    def receive_notify(self, notify: Request) -> Dialog:
        """The dialog of a NOTIFY for our SUBSCRIBE or REFER, created by it if need be (RFC 6665 4.1.2.4).

        Then pass the NOTIFY to :meth:`Dialog.receive_request` as usual.
        """
        remote_tag = _required_tag(notify.from_, "the From of the NOTIFY")
        existing = self._live_dialog(remote_tag)
        if existing is not None:
            return existing
        dialog = Dialog.from_notify(self.request, notify)
        self.dialogs[remote_tag] = dialog
        return dialog


class DialogTable:
    """Live dialogs by :class:`DialogId`, including those of registered :class:`DialogSet` s.

    Terminated dialogs are not found and are forgotten when looked up; a
    set is forgotten once it is no longer :attr:`DialogSet.live`.
    """

    def __init__(self) -> None:
        self._dialogs: dict[DialogId, Dialog] = {}
        self._sets: dict[tuple[str, str], DialogSet] = {}

    def add(self, dialog: Dialog) -> None:
        """Keep ``dialog``; another live dialog with the same id is an error."""
        existing = self.get(dialog.id)
        if existing is not None and existing is not dialog:
            raise ValueError(f"dialog {dialog.id} exists")
        self._dialogs[dialog.id] = dialog

    def add_set(self, dialog_set: DialogSet) -> None:
        key = (dialog_set.call_id, dialog_set.local_tag)
        existing = self._sets.get(key)
        if existing is not None and existing is not dialog_set and existing.live:
            raise ValueError(f"a dialog set for Call-ID {key[0]!r} and tag {key[1]!r} exists")
        self._sets[key] = dialog_set

    def discard(self, dialog_id: DialogId) -> None:
        self._dialogs.pop(dialog_id, None)

    def discard_set(self, dialog_set: DialogSet) -> None:
        key = (dialog_set.call_id, dialog_set.local_tag)
        if self._sets.get(key) is dialog_set:
            del self._sets[key]

    def find_set(self, call_id: str, local_tag: str) -> DialogSet | None:
        key = (call_id, local_tag)
        dialog_set = self._sets.get(key)
        if dialog_set is not None and not dialog_set.live:
            del self._sets[key]
            return None
        return dialog_set

    def get(self, dialog_id: DialogId) -> Dialog | None:
        dialog = self._dialogs.get(dialog_id)
        if dialog is not None:
            if not dialog.terminated:
                return dialog
            del self._dialogs[dialog_id]
        dialog_set = self.find_set(dialog_id.call_id, dialog_id.local_tag)
        if dialog_set is not None:
            return dialog_set._live_dialog(dialog_id.remote_tag)
        return None

    def __contains__(self, dialog_id: object) -> bool:
        return isinstance(dialog_id, DialogId) and self.get(dialog_id) is not None

    def __iter__(self) -> Iterator[Dialog]:
        seen: set[int] = set()
        candidates = [*self._dialogs.values()]
        for dialog_set in self._sets.values():
            candidates += dialog_set.dialogs.values()
        for dialog in candidates:
            if not dialog.terminated and id(dialog) not in seen:
                seen.add(id(dialog))
                yield dialog

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def match_request(self, request: Request) -> Dialog | None:
        """The live dialog an incoming request belongs to (local tag = To tag, remote tag = From tag)."""
        dialog_id = dialog_id_for_request(request)
        return None if dialog_id is None else self.get(dialog_id)

    def match_response(self, response: Response) -> Dialog | None:
        """The live dialog a response belongs to (local tag = From tag, remote tag = To tag)."""
        dialog_id = dialog_id_for_response(response)
        return None if dialog_id is None else self.get(dialog_id)


def needs_481(request: Request, table: DialogTable) -> bool:
    """RFC 3261 12.2.2: True when ``request`` names a dialog (To tag) that ``table`` does not hold.

    Never for an ACK (one that matches nothing is dropped) or a CANCEL (the
    transaction layer matches it, RFC 3261 9.2), nor for a NOTIFY for a
    SUBSCRIBE or REFER of a live :class:`DialogSet`, which may create its
    dialog (RFC 6665 4.1.2.4).
    """
    to_tag = request.to.tag
    if to_tag is None or request.method in ("ACK", "CANCEL"):
        return False
    if table.match_request(request) is not None:
        return False
    if request.method == "NOTIFY":
        dialog_set = table.find_set(request.call_id, to_tag)
        if dialog_set is not None and dialog_set.method in _EVENT_DIALOG_METHODS:
            return False
    return True

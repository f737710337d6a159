"""The dialog event package body: ``application/dialog-info+xml`` (RFC 4235).

:func:`parse_dialog_info` reads documents from any notifier (Kamailio's
presence_dialoginfo, Asterisk, FreeSWITCH, phones) with the same hardened XML
front end as PIDF; :class:`DialogInfoTracker` applies full and partial
notifications in version order (RFC 4235 4.3); :func:`busy_lamp_state` turns a
set of dialogs into what a busy-lamp field shows; :func:`build_dialog_info`
writes a document.
"""

from __future__ import annotations

import enum
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from softphone.sip.errors import BodyError
from softphone.sip.xmlbody import (
    MAX_BODY_SIZE,
    child_text,
    children,
    element_text,
    escape_attr,
    escape_text,
    first_child,
    local_name,
    parse_xml,
)

DIALOG_INFO_CONTENT_TYPE = "application/dialog-info+xml"
DIALOG_INFO_NS = "urn:ietf:params:xml:ns:dialog-info"

Direction = Literal["initiator", "recipient"]
DocumentState = Literal["full", "partial"]
LampState = Literal["idle", "ringing", "busy"]

# RFC 4235 4.1: a version is a non-negative integer; keep it to what a notifier can count.
_VERSION_RE = re.compile(r"[0-9]{1,20}")
_INT_RE = re.compile(r"[0-9]{1,10}")


class DialogState(enum.StrEnum):
    """RFC 4235 3.7.1: the dialog's state machine."""

    TRYING = "trying"
    PROCEEDING = "proceeding"
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(slots=True)
class Participant:
    """RFC 4235 4.1.6: the ``<local>`` or ``<remote>`` side of a dialog."""

    identity: str | None = None
    display: str | None = None
    target: str | None = None
    target_params: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Replaces:
    """RFC 4235 4.1.4: the dialog this one replaces (RFC 3891)."""

    call_id: str
    local_tag: str
    remote_tag: str


@dataclass(slots=True)
class DialogEntry:
    """One ``<dialog>`` element (RFC 4235 4.1.1)."""

    id: str
    state: DialogState
    call_id: str | None = None
    local_tag: str | None = None
    remote_tag: str | None = None
    direction: Direction | None = None
    event: str | None = None
    """Why the dialog terminated or moved (``cancelled``, ``rejected``, ``replaced``, ``local-bye`` ...)."""
    code: int | None = None
    """The response code with ``event="rejected"`` and early states."""
    duration: int | None = None
    replaces: Replaces | None = None
    referred_by: str | None = None
    referred_by_display: str | None = None
    local: Participant | None = None
    remote: Participant | None = None


@dataclass(slots=True)
class DialogInfo:
    entity: str
    version: int
    state: DocumentState = "full"
    dialogs: list[DialogEntry] = field(default_factory=list)

    def busy_lamp_state(self) -> LampState:
        return busy_lamp_state(self.dialogs)


def busy_lamp_state(dialogs: Iterable[DialogEntry]) -> LampState:
    """What a busy-lamp field shows for the watched entity.

    ``busy`` when any dialog is confirmed or the entity is placing a call (an
    early dialog it initiated: its line is in use); ``ringing`` when a call to
    it is trying, proceeding or early (direction ``recipient``, or not given,
    as some notifiers leave it out); ``idle`` otherwise.
    """
    ringing = False
    for dialog in dialogs:
        if dialog.state is DialogState.CONFIRMED:
            return "busy"
        if dialog.state is not DialogState.TERMINATED:
            if dialog.direction == "initiator":
                return "busy"
            ringing = True
    return "ringing" if ringing else "idle"


# --- Parsing --------------------------------------------------------------------


def _optional_int(text: str | None, low: int, high: int) -> int | None:
    if text is None or _INT_RE.fullmatch(text.strip()) is None:
        return None
    value = int(text.strip())
    return value if low <= value <= high else None


def _parse_participant(element: ET.Element | None) -> Participant | None:
    if element is None:
        return None
    participant = Participant()
    identity = first_child(element, "identity")
    if identity is not None:
        participant.identity = element_text(identity) or None
        participant.display = identity.get("display")
    target = first_child(element, "target")
    if target is not None:
        # RFC 4235 4.1.6.2: the target URI is the uri attribute; some notifiers put it in the text.
        participant.target = (target.get("uri") or element_text(target)).strip() or None
        for param in children(target, "param"):
            name = param.get("pname")
            if name:
                participant.target_params[name] = param.get("pval", "")
    return participant


def _parse_replaces(element: ET.Element | None) -> Replaces | None:
    if element is None:
        return None
    call_id, local_tag, remote_tag = (element.get(a) for a in ("call-id", "local-tag", "remote-tag"))
    if call_id is None or local_tag is None or remote_tag is None:
        return None
    return Replaces(call_id, local_tag, remote_tag)


def _parse_dialog(element: ET.Element) -> DialogEntry:
    dialog_id = element.get("id")
    if not dialog_id:
        raise BodyError("dialog-info body: a <dialog> has no id")
    state_element = first_child(element, "state")
    if state_element is None:
        raise BodyError(f"dialog-info body: dialog {dialog_id!r} has no <state>")
    state_text = element_text(state_element).lower()
    try:
        state = DialogState(state_text)
    except ValueError:
        raise BodyError(f"dialog-info body: dialog {dialog_id!r} has unknown state {state_text[:40]!r}") from None
    direction_text = (element.get("direction") or "").strip().lower()
    direction: Direction | None = None
    if direction_text in ("initiator", "recipient"):
        direction = "initiator" if direction_text == "initiator" else "recipient"
    referred_by = first_child(element, "referred-by")
    return DialogEntry(
        id=dialog_id,
        state=state,
        call_id=element.get("call-id"),
        local_tag=element.get("local-tag"),
        remote_tag=element.get("remote-tag"),
        direction=direction,
        event=(state_element.get("event") or "").strip().lower() or None,
        code=_optional_int(state_element.get("code"), 100, 699),
        duration=_optional_int(child_text(element, "duration"), 0, 2**32 - 1),
        replaces=_parse_replaces(first_child(element, "replaces")),
        referred_by=None if referred_by is None else element_text(referred_by) or None,
        referred_by_display=None if referred_by is None else referred_by.get("display"),
        local=_parse_participant(first_child(element, "local")),
        remote=_parse_participant(first_child(element, "remote")),
    )


def parse_dialog_info(data: bytes, charset: str | None = None, *, max_size: int = MAX_BODY_SIZE) -> DialogInfo:
    """Parse an ``application/dialog-info+xml`` body (RFC 4235 4)."""
    root = parse_xml(data, charset, what="dialog-info body", max_size=max_size)
    if local_name(root.tag) != "dialog-info":
        raise BodyError(f"dialog-info body: root element is <{local_name(root.tag)}>, not <dialog-info>")
    version_text = (root.get("version") or "").strip()
    if _VERSION_RE.fullmatch(version_text) is None:
        raise BodyError(f"dialog-info body: version must be a non-negative integer, got {version_text[:40]!r}")
    state_text = (root.get("state") or "full").strip().lower()
    if state_text not in ("full", "partial"):
        raise BodyError(f"dialog-info body: state must be full or partial, got {state_text[:40]!r}")
    return DialogInfo(
        entity=(root.get("entity") or "").strip(),
        version=int(version_text),
        state="full" if state_text == "full" else "partial",
        dialogs=[_parse_dialog(d) for d in children(root, "dialog")],
    )


# --- Tracking notifications ---------------------------------------------------


@dataclass(slots=True, frozen=True)
class DialogInfoUpdate:
    """What :meth:`DialogInfoTracker.apply` made of one document."""

    applied: bool
    """False when the document was not newer than the last one and was discarded."""
    needs_full_state: bool = False
    """A partial document arrived after a gap (or first): refresh the subscription to get full state."""
    changed: tuple[DialogEntry, ...] = ()
    """The dialogs the document reported, terminated ones included."""


class DialogInfoTracker:
    """The dialog state of one subscription, fed with every NOTIFY body in arrival order.

    Terminated dialogs are reported in the update and then forgotten. Call
    :meth:`reset` when a new subscription starts, as its versions start over.
    """

    def __init__(self) -> None:
        self.entity: str | None = None
        self.version: int | None = None
        self.dialogs: dict[str, DialogEntry] = {}

    def reset(self) -> None:
        self.entity = None
        self.version = None
        self.dialogs = {}

    def apply(self, info: DialogInfo) -> DialogInfoUpdate:
        # RFC 4235 4.3: a document whose version is not above the local version is discarded.
        if self.version is not None and info.version <= self.version:
            return DialogInfoUpdate(applied=False)
        # RFC 4235 4.3: after a gap the document is still processed, but partial state calls for a refresh.
        gap = self.version is None or info.version != self.version + 1
        if info.state == "full":
            self.dialogs = {}
        for dialog in info.dialogs:
            if dialog.state is DialogState.TERMINATED:
                self.dialogs.pop(dialog.id, None)
            else:
                self.dialogs[dialog.id] = dialog
        self.version = info.version
        self.entity = info.entity or self.entity
        return DialogInfoUpdate(True, gap and info.state == "partial", tuple(info.dialogs))

    def busy_lamp_state(self) -> LampState:
        return busy_lamp_state(self.dialogs.values())


# --- Building -------------------------------------------------------------------


def _participant_xml(tag: str, participant: Participant | None) -> str:
    if participant is None:
        return ""
    parts = [f"<{tag}>"]
    if participant.identity is not None:
        display = "" if participant.display is None else f' display="{escape_attr(participant.display)}"'
        parts.append(f"<identity{display}>{escape_text(participant.identity)}</identity>")
    if participant.target is not None:
        params = "".join(
            f'<param pname="{escape_attr(k)}" pval="{escape_attr(v)}"/>' for k, v in participant.target_params.items()
        )
        parts.append(f'<target uri="{escape_attr(participant.target)}">{params}</target>')
    parts.append(f"</{tag}>")
    return "".join(parts)


def _dialog_xml(dialog: DialogEntry) -> str:
    if not dialog.id:
        raise ValueError("a dialog needs an id")
    attrs = [f'id="{escape_attr(dialog.id)}"']
    for name, value in (
        ("call-id", dialog.call_id),
        ("local-tag", dialog.local_tag),
        ("remote-tag", dialog.remote_tag),
        ("direction", dialog.direction),
    ):
        if value is not None:
            attrs.append(f'{name}="{escape_attr(value)}"')
    state_attrs = "" if dialog.event is None else f' event="{escape_attr(dialog.event)}"'
    if dialog.code is not None:
        state_attrs += f' code="{int(dialog.code)}"'
    # RFC 4235 4.1.1 schema order: state, duration, replaces, referred-by, route-set, local, remote.
    parts = [f"<dialog {' '.join(attrs)}>", f"<state{state_attrs}>{DialogState(dialog.state).value}</state>"]
    if dialog.duration is not None:
        parts.append(f"<duration>{int(dialog.duration)}</duration>")
    if dialog.replaces is not None:
        r = dialog.replaces
        parts.append(
            f'<replaces call-id="{escape_attr(r.call_id)}" local-tag="{escape_attr(r.local_tag)}"'
            f' remote-tag="{escape_attr(r.remote_tag)}"/>'
        )
    if dialog.referred_by is not None:
        display = "" if dialog.referred_by_display is None else f' display="{escape_attr(dialog.referred_by_display)}"'
        parts.append(f"<referred-by{display}>{escape_text(dialog.referred_by)}</referred-by>")
    parts.append(_participant_xml("local", dialog.local))
    parts.append(_participant_xml("remote", dialog.remote))
    parts.append("</dialog>")
    return "".join(parts)


def build_dialog_info(
    entity: str, version: int, dialogs: Iterable[DialogEntry], state: DocumentState = "full"
) -> bytes:
    """An RFC 4235 document (UTF-8)."""
    if not entity:
        raise ValueError("a dialog-info document needs an entity URI")
    if version < 0:
        raise ValueError(f"version must not be negative, got {version}")
    if state not in ("full", "partial"):
        raise ValueError(f"state must be 'full' or 'partial', got {state!r}")
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<dialog-info xmlns="{DIALOG_INFO_NS}" version="{int(version)}" state="{state}"',
        f' entity="{escape_attr(entity)}">\n',
    ]
    parts += [_dialog_xml(d) + "\n" for d in dialogs]
    parts.append("</dialog-info>\n")
    return "".join(parts).encode("utf-8")

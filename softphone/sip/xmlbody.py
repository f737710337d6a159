"""The hardened XML front end of the event-package bodies (PIDF, dialog-info, is-composing).

:func:`parse_xml` refuses oversized input before parsing, forbids DTDs,
entities and external references (defusedxml), and bounds depth and element
count while parsing; everything wrong raises :class:`BodyError`. The helpers
match elements by local name whatever their namespace prefix, and escape what
the builders write.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime

from defusedxml.common import (  # type: ignore[import-untyped]
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped]

from softphone.sip.errors import BodyError

XML_NS = "http://www.w3.org/XML/1998/namespace"

MAX_BODY_SIZE = 64 * 1024
MAX_ELEMENTS = 10_000
MAX_DEPTH = 64

XML_LANG = f"{{{XML_NS}}}lang"


class _LimitedTreeBuilder:
    """An ElementTree target that refuses documents too deep or with too many elements."""

    def __init__(self, max_elements: int, max_depth: int) -> None:
        self._builder = ET.TreeBuilder()
        self._max_elements = max_elements
        self._max_depth = max_depth
        self._count = 0
        self._depth = 0

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        self._count += 1
        self._depth += 1
        if self._depth > self._max_depth:
            raise BodyError(f"nests deeper than {self._max_depth} elements")
        if self._count > self._max_elements:
            raise BodyError(f"has more than {self._max_elements} elements")
        return self._builder.start(tag, attrs)

    def end(self, tag: str) -> ET.Element:
        self._depth -= 1
        return self._builder.end(tag)

    def data(self, data: str) -> None:
        self._builder.data(data)

    def close(self) -> ET.Element:
        return self._builder.close()


def parse_xml(
    data: bytes,
    charset: str | None = None,
    *,
    what: str = "XML body",
    max_size: int = MAX_BODY_SIZE,
    max_elements: int = MAX_ELEMENTS,
    max_depth: int = MAX_DEPTH,
) -> ET.Element:
    """Parse an XML body with no DTD, no entity declarations and no external references.

    ``charset`` (from the Content-Type) overrides the document's own
    declaration (RFC 7303). Oversized input is refused before parsing;
    depth and element count are checked while parsing.
    """
    if not isinstance(data, bytes | bytearray):
        raise BodyError(f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) > max_size:
        raise BodyError(f"{what} is {len(data)} bytes, more than the limit of {max_size}")
    raw = bytes(data)
    if not raw.strip():
        raise BodyError(f"{what} is empty")
    if charset is not None:
        # Expat knows only a few encodings by itself; any Python codec goes through UTF-8.
        try:
            raw = raw.decode(charset).removeprefix("\ufeff").encode("utf-8")
        except (LookupError, UnicodeError, ValueError) as exc:
            raise BodyError(f"{what} cannot be decoded as {charset!r}: {exc}") from None
    target = _LimitedTreeBuilder(max_elements, max_depth)
    try:
        parser = DefusedXMLParser(
            target=target,
            encoding=None if charset is None else "utf-8",
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        parser.feed(raw)
        root: ET.Element = parser.close()
    except BodyError as exc:
        raise BodyError(f"{what}: {exc}") from None
    except DTDForbidden:
        raise BodyError(f"{what} has a document type declaration (DTD), which is not accepted") from None
    except EntitiesForbidden:
        raise BodyError(f"{what} declares entities, which are not accepted") from None
    except ExternalReferenceForbidden:
        raise BodyError(f"{what} refers to an external entity, which is not accepted") from None
    # Whatever else expat or a codec raises on hostile bytes (ParseError, LookupError ...) is a bad body.
    except Exception as exc:
        raise BodyError(f"{what} is not acceptable XML: {type(exc).__name__}: {exc}") from None
    return root


def local_name(tag: str) -> str:
    """``{namespace}name`` → ``name``."""
    return tag.rpartition("}")[2]


def children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    """Direct children with local name ``name``, in any namespace."""
    for child in element:
        if local_name(child.tag) == name:
            yield child


def first_child(element: ET.Element, name: str) -> ET.Element | None:
    return next(children(element, name), None)


def element_text(element: ET.Element) -> str:
    """All character data inside ``element``, stripped."""
    return "".join(element.itertext()).strip()


def child_text(element: ET.Element, name: str) -> str | None:
    child = first_child(element, name)
    return None if child is None else element_text(child)


_INVALID_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def escape_text(text: str) -> str:
    """Character data for XML 1.0: markup escaped, characters XML cannot carry removed."""
    text = _INVALID_XML_CHARS.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def escape_attr(text: str) -> str:
    """A double-quoted attribute value; whitespace kept as character references."""
    return escape_text(text).replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")


def parse_datetime(text: str | None) -> datetime | None:
    """An xs:dateTime (RFC 3339) or None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def format_datetime(value: datetime) -> str:
    """RFC 3339 with ``Z`` for UTC; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9._\-]*")


def check_xml_id(value: str, what: str) -> str:
    """An xs:ID must be an NCName (used for tuple and person ids)."""
    if _NCNAME.fullmatch(value) is None:
        raise ValueError(f"{what} must be an XML NCName, got {value!r}")
    return value

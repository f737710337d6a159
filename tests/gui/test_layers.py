"""The GUI is a client of the user agent's facade: no module of softphone/gui imports the SIP core,
the transports or the media engine, not even lazily inside a function or for type checking."""

from __future__ import annotations

import ast
from pathlib import Path

import softphone.gui

FORBIDDEN = ("softphone.sip", "softphone.transport", "softphone.media")
GUI_DIR = Path(softphone.gui.__file__).parent


def imported_modules(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """Every module an ``import`` or ``from … import`` statement anywhere in ``source`` names, with its line.

    ``from softphone import media`` names ``softphone.media`` too; relative imports are resolved
    against the ``softphone.gui`` package.
    """
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = "softphone.gui".split(".")
                parent = package[: len(package) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            found.append((node.lineno, base))
            if base == "softphone":
                found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    return [
        f"{filename}:{line}: {module}"
        for line, module in imported_modules(source, filename)
        if any(module == layer or module.startswith(layer + ".") for layer in FORBIDDEN)
    ]


def test_no_gui_module_imports_sip_transport_or_media() -> None:
    modules = sorted(GUI_DIR.rglob("*.py"))
    assert len(modules) >= 20, f"only {len(modules)} modules found in {GUI_DIR}"
    problems = [
        problem
        for path in modules
        for problem in forbidden_imports(path.read_text(encoding="utf-8"), str(path.relative_to(GUI_DIR)))
    ]
    assert problems == [], "the GUI reaches past the UA facade:\n" + "\n".join(problems)


def test_the_check_sees_every_form_of_import() -> None:
    source = """
import softphone.sip.uri
from softphone.transport import TransportManager
from softphone import media
from . import bridge
from ..media.audio import list_devices
import softphone.ua, softphone.media.tones as tones

def later() -> None:
    from softphone.media.audio import BufferPlayer

if TYPE_CHECKING:
    from softphone.sip.message import Request
"""
    assert sorted(line.split(": ", 1)[1] for line in forbidden_imports(source)) == sorted(
        [
            "softphone.sip.uri",
            "softphone.transport",
            "softphone.media",
            "softphone.media.audio",
            "softphone.media.tones",
            "softphone.media.audio",
            "softphone.sip.message",
        ]
    )
    assert forbidden_imports("from softphone.ua import LevelMeter\nimport softphone.store\nimport numpy\n") == []

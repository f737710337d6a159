"""Brings the translation sources up to date with the GUI's texts: ``make update-translations``.

1. ``pyside6-lupdate`` collects every ``self.tr("…")``, ``translate("Context", "…")`` and
   ``QT_TRANSLATE_NOOP("Context", "…")`` of ``softphone/gui`` into ``softphone_<lang>.ts`` (new texts
   are added unfinished, texts no longer used are dropped).
2. lupdate's Python reader takes a count only when it is a number literal, so texts with ``%n`` are
   marked as plural forms here (``numerus="yes"``), with the plural forms translated so far (lupdate
   drops all but the first: they are read before it runs and put back).
3. Every text the sources pass to those functions literally must be in the file: lupdate's reader
   silently skips a call whose other arguments are not plain names or literals, so this step reads
   the sources itself and fails, naming the place, when lupdate missed one.

Then translate the unfinished entries (Qt Linguist: ``pyside6-linguist FILE``, or any editor) and
run ``make translations``, which compiles the ``.qm`` files the application loads.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SOURCES = sorted((ROOT / "softphone" / "gui").glob("*.py"))
LANGUAGES = ("de",)


def texts_in_sources() -> dict[tuple[str, str], str]:
    """(context, source text) -> where, for every literal tr/translate/QT_TRANSLATE_NOOP in the GUI."""
    found: dict[tuple[str, str], str] = {}
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for cls in [None, *[n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]]:
            body = tree if cls is None else cls
            for node in ast.walk(body):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                args = node.args
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                literal = [isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args]
                if isinstance(func, ast.Attribute) and func.attr == "tr" and cls is not None and args and literal[0]:
                    found.setdefault((cls.name, args[0].value), where)  # type: ignore[attr-defined]
                elif isinstance(func, ast.Name) and func.id in ("translate", "QT_TRANSLATE_NOOP") and len(args) >= 2:
                    if literal[0] and literal[1]:
                        found.setdefault((args[0].value, args[1].value), where)  # type: ignore[attr-defined]
    return found


def plural_forms(ts: Path) -> dict[tuple[str, str], list[str | None]]:
    """The plural forms translated so far, by (context, source)."""
    if not ts.is_file():
        return {}
    forms: dict[tuple[str, str], list[str | None]] = {}
    for context in ET.parse(ts).iter("context"):
        for message in context.iter("message"):
            found = [form.text for form in message.iter("numerusform")]
            if found:
                forms[(context.findtext("name") or "", message.findtext("source") or "")] = found
    return forms


def mark_plurals(ts: Path, kept: dict[tuple[str, str], list[str | None]]) -> int:
    """``numerus="yes"`` on every message whose source has ``%n``, with the forms ``kept``; returns how many."""
    tree = ET.parse(ts)
    names = {message: context.findtext("name") or "" for context in tree.iter("context") for message in context}
    changed = 0
    for message in tree.iter("message"):
        source = message.findtext("source") or ""
        if "%n" not in source or message.get("numerus") == "yes":
            continue
        message.set("numerus", "yes")
        translation = message.find("translation")
        if translation is None:
            translation = ET.SubElement(message, "translation", type="unfinished")
        text = translation.text or ""
        translation.text = None
        for child in list(translation):
            translation.remove(child)
        forms = kept.get((names.get(message, ""), source)) or [text or None] * 2  # de, fr, en: one and other
        for value in forms:
            form = ET.SubElement(translation, "numerusform")
            form.text = value
        if all(forms):
            translation.attrib.pop("type", None)
        changed += 1
    if changed:
        ET.indent(tree, space="    ")
        tree.write(ts, encoding="utf-8", xml_declaration=True)
        body = ts.read_text(encoding="utf-8").replace("<?xml version='1.0' encoding='utf-8'?>\n", "")
        ts.write_text('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n' + body + "\n", encoding="utf-8")
    return changed


def ts_messages(ts: Path) -> set[tuple[str, str]]:
    tree = ET.parse(ts)
    return {
        (context.findtext("name") or "", message.findtext("source") or "")
        for context in tree.iter("context")
        for message in context.iter("message")
    }


def main() -> int:
    lupdate = Path(sys.executable).parent / "pyside6-lupdate"
    problems = 0
    wanted = texts_in_sources()
    for language in LANGUAGES:
        ts = HERE / f"softphone_{language}.ts"
        kept = plural_forms(ts)
        subprocess.run(
            [
                str(lupdate),
                "-locations",
                "none",
                "-no-obsolete",
                "-source-language",
                "en",
                "-target-language",
                language,
                *map(str, SOURCES),
                "-ts",
                str(ts),
            ],
            check=True,
        )
        print(f"{ts.name}: {mark_plurals(ts, kept)} plural texts marked")
        missing = set(wanted) - ts_messages(ts)
        for context, text in sorted(missing):
            print(
                f"{wanted[(context, text)]}: lupdate missed {text!r} (context {context}); "
                "pass the other arguments as plain names",
                file=sys.stderr,
            )
        problems += len(missing)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

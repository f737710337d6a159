"""SIP parser benchmark: softphone's parser against the pure-Python alternatives.

Run from the repository root::

    python benchmarks/parse_bench.py            # full run, about 5-10 s
    python benchmarks/parse_bench.py --quick    # smoke test, a second or two
    python benchmarks/parse_bench.py --json     # machine-readable output

The competitors are optional, bench-only dependencies
(``pip install -r benchmarks/requirements.txt``); a package that is not
installed is listed as such and the rest still runs.

Every parser is driven through its public parsing API on the 11 messages of
:mod:`benchmarks.corpus`, in two workloads, both reported in messages per
second over the whole corpus:

plain
    parse the bytes; read the method (requests) or status code (responses),
    the Call-ID and the CSeq number and method.
deep
    plain, plus the From tag, the top Via's branch, the To URI and tag and the
    first Contact URI (where there is a Contact).

The timed functions only hand back what the library gives (its own URI
objects, its own strings); turning those into comparable values happens
outside the timing, in each adapter's ``normalise``:

* URIs are compared as strings: the library's own string form (``str()`` of
  its URI object; pyVoIP, which has no URI object, see below), with one pair
  of enclosing angle brackets and surrounding blanks removed and the
  ``;param`` list sorted, since RFC 3261 19.1.4 makes parameter order
  insignificant. The expected values go through the same function.
* pyVoIP keeps From/To as dicts: the To URI is ``"sip:" + to["address"]``
  (pyVoIP cuts the scheme off), an empty tag ``""`` is its way of saying
  "no tag" and counts as ``None``, and the CSeq number is a string it leaves
  unconverted. It does not parse Contact at all: the raw header value is
  taken the way pyVoIP itself does (``.strip("<").strip(">")``, which the
  bracket removal above amounts to).

Correctness comes first: each parser's deep (and plain) result for each
message is checked against ``EXPECTED``; a message it fails on (exception or
a wrong value) is reported, and that parser's speed is measured on the
messages it got right only (marked ``*`` in the table). For such a parser the
softphone parser is timed again on the same subset so the two can be compared
like for like.

Timing is ``timeit.repeat`` (best of N repetitions; timeit turns the garbage
collector off while timing, for every parser alike), with the iteration count
calibrated so that one cell (parser x workload) takes about ``--seconds``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import sys
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make both the repository root (softphone) and this
    # directory (corpus) importable.
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(_HERE))
    from corpus import CORPUS, EXPECTED, FIELDS  # type: ignore[import-not-found]
else:
    from .corpus import CORPUS, EXPECTED, FIELDS

Result = tuple[Any, ...]

# ---------------------------------------------------------------------------
# Normalisation (outside the timed code)
# ---------------------------------------------------------------------------


def norm_uri(value: object) -> str | None:
    """A URI's string form, compared without enclosing <> and param order."""
    if value is None:
        return None
    text = str(value).strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    base, sep, rest = text.partition(";")
    if not sep:
        return base
    return ";".join([base, *sorted(p for p in rest.split(";") if p)])


def _as_dict(values: Result) -> dict[str, object]:
    return dict(zip(FIELDS[: len(values)], values, strict=True))


def _default_normalise(r: Result) -> dict[str, object]:
    """(method, status, call_id, cseq_num, cseq_method[, from_tag, branch, to_uri, to_tag, contact])."""
    out = list(r)
    if len(out) > 5:
        out[7] = norm_uri(out[7])
        out[9] = norm_uri(out[9])
    return _as_dict(tuple(out))


# ---------------------------------------------------------------------------
# Adapters
# ---------------------------------------------------------------------------


@dataclass
class Adapter:
    name: str
    version: str
    plain: Callable[[bytes], Result]
    deep: Callable[[bytes], Result]
    normalise: Callable[[Result], dict[str, object]] = _default_normalise
    how: str = ""


def _dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def adapter_softphone() -> Adapter:
    import softphone
    from softphone.sip import Request, parse_message

    def plain(data: bytes) -> Result:
        m = parse_message(data)
        cseq = m.cseq
        if isinstance(m, Request):
            return (m.method, None, m.call_id, cseq.seq, cseq.method)
        return (None, m.status_code, m.call_id, cseq.seq, cseq.method)

    def deep(data: bytes) -> Result:
        m = parse_message(data)
        cseq = m.cseq
        to = m.to
        contacts = m.contacts
        contact = contacts[0].uri if contacts else None
        if isinstance(m, Request):
            head: Result = (m.method, None)
        else:
            head = (None, m.status_code)
        return (
            *head,
            m.call_id,
            cseq.seq,
            cseq.method,
            m.from_.tag,
            m.via.branch,
            to.uri,
            to.tag,
            contact,
        )

    return Adapter(
        "softphone",
        getattr(softphone, "__version__", "?"),
        plain,
        deep,
        how="softphone.sip.parse_message(bytes)",
    )


def adapter_sipmessage() -> Adapter:
    import sipmessage
    from sipmessage import Message, Request

    parse = Message.parse

    def plain(data: bytes) -> Result:
        m = parse(data)
        cseq = m.cseq
        if isinstance(m, Request):
            return (m.method, None, m.call_id, cseq.sequence, cseq.method)
        return (None, m.code, m.call_id, cseq.sequence, cseq.method)

    def deep(data: bytes) -> Result:
        m = parse(data)
        cseq = m.cseq
        to = m.to_address
        contacts = m.contact
        contact = contacts[0].uri if contacts else None
        if isinstance(m, Request):
            head: Result = (m.method, None)
        else:
            head = (None, m.code)
        return (
            *head,
            m.call_id,
            cseq.sequence,
            cseq.method,
            m.from_address.parameters.get("tag"),
            m.via[0].parameters.get("branch"),
            to.uri,
            to.parameters.get("tag"),
            contact,
        )

    return Adapter(
        "sipmessage",
        getattr(sipmessage, "__version__", _dist_version("sipmessage")),
        plain,
        deep,
        how="sipmessage.Message.parse(bytes); .cseq, .from_address, .via, .to_address, .contact",
    )


def adapter_sippy() -> Adapter:
    from sippy.SipRequest import SipRequest  # type: ignore[import-untyped]
    from sippy.SipResponse import SipResponse  # type: ignore[import-untyped]

    # Mirrors sippy.SipTransactionManager.handleIncoming: decode, then pick
    # the class by the start line.
    def plain(data: bytes) -> Result:
        text = data.decode()
        if text.startswith("SIP/2.0 "):
            m = SipResponse(text)
            head: Result = (None, m.scode)
        else:
            m = SipRequest(text)
            head = (m.method, None)
        num, method = m.getHFBody("cseq").getCSeq()
        return (*head, str(m.getHFBody("call-id")), num, method)

    def deep(data: bytes) -> Result:
        text = data.decode()
        if text.startswith("SIP/2.0 "):
            m = SipResponse(text)
            head: Result = (None, m.scode)
        else:
            m = SipRequest(text)
            head = (m.method, None)
        num, method = m.getHFBody("cseq").getCSeq()
        to = m.getHFBody("to")
        contacts = m.getHFBodys("contact")
        contact = contacts[0].getUrl() if contacts else None
        return (
            *head,
            str(m.getHFBody("call-id")),
            num,
            method,
            m.getHFBody("from").getTag(),
            m.getHFBody("via").getBranch(),
            to.getUrl(),
            to.getTag(),
            contact,
        )

    return Adapter(
        "sippy",
        _dist_version("sippy"),
        plain,
        deep,
        how="sippy.SipRequest/SipResponse(str) chosen by start line, as "
        "SipTransactionManager does; getHFBody()/getHFBodys()",
    )


def adapter_pyvoip() -> Adapter:
    import pyVoIP

    # pyVoIP 1.6.x cannot import pyVoIP.SIP first (circular import through
    # pyVoIP.VoIP); its documented entry point, pyVoIP.VoIP, loads both.
    import pyVoIP.VoIP
    from pyVoIP.SIP import SIPMessage, SIPMessageType

    REQUEST = SIPMessageType.MESSAGE

    def plain(data: bytes) -> Result:
        m = SIPMessage(data)
        h = m.headers
        cseq = h["CSeq"]
        if m.type == REQUEST:
            head: Result = (m.method, None)
        else:
            head = (None, m.status)
        return (*head, h["Call-ID"], cseq["check"], cseq["method"])

    def deep(data: bytes) -> Result:
        m = SIPMessage(data)
        h = m.headers
        cseq = h["CSeq"]
        if m.type == REQUEST:
            head: Result = (m.method, None)
        else:
            head = (None, m.status)
        to = h["To"]
        return (
            *head,
            h["Call-ID"],
            cseq["check"],
            cseq["method"],
            h["From"]["tag"],
            h["Via"][0].get("branch"),
            to["address"],
            to["tag"],
            h.get("Contact"),
        )

    def normalise(r: Result) -> dict[str, object]:
        out = list(r)
        if out[1] is not None:
            out[1] = int(out[1])  # SIPStatus enum
        out[3] = int(out[3])
        if len(out) > 5:
            out[5] = out[5] or None
            out[7] = "sip:" + out[7]
            out[8] = out[8] or None
        return _default_normalise(tuple(out))

    return Adapter(
        "pyVoIP",
        getattr(pyVoIP, "__version__", _dist_version("pyVoIP")),
        plain,
        deep,
        normalise,
        how="pyVoIP.SIP.SIPMessage(bytes); .headers dict",
    )


# (display name, top-level module, factory)
PARSERS: list[tuple[str, str, Callable[[], Adapter]]] = [
    ("softphone", "softphone", adapter_softphone),
    ("sipmessage", "sipmessage", adapter_sipmessage),
    ("sippy", "sippy", adapter_sippy),
    ("pyVoIP", "pyVoIP", adapter_pyvoip),
]


# ---------------------------------------------------------------------------
# Correctness
# ---------------------------------------------------------------------------

_EXPECTED_NORM = {
    name: {k: (norm_uri(v) if k in ("to_uri", "contact_uri") else v) for k, v in exp.items()}
    for name, exp in EXPECTED.items()
}


def _short(exc: BaseException, limit: int = 70) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check(adapter: Adapter) -> dict[str, str]:
    """Return {message name: reason} for every message the adapter gets wrong."""
    failures: dict[str, str] = {}
    for name, data in CORPUS.items():
        want = _EXPECTED_NORM[name]
        for workload, fn in (("deep", adapter.deep), ("plain", adapter.plain)):
            try:
                got = adapter.normalise(fn(data))
            except Exception as exc:  # any failure is a result
                failures[name] = f"{workload}: {_short(exc)}"
                break
            wrong = [k for k, v in got.items() if v != want[k]]
            if wrong:
                k = wrong[0]
                failures[name] = f"{workload}: {k} = {got[k]!r}, expected {want[k]!r}"
                break
    return failures


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def measure(fn: Callable[[bytes], Result], msgs: list[bytes], seconds: float, repeat: int) -> float:
    """Best-of-``repeat`` messages/second of ``fn`` over ``msgs``."""
    if not msgs:
        return float("nan")

    def loop() -> None:
        for data in msgs:
            fn(data)

    timer = timeit.Timer(loop)
    # Calibrate: grow the count until one run takes a measurable time.
    number = 1
    while True:
        t = timer.timeit(number)
        if t >= 0.02 or number >= 1 << 20:
            break
        number *= 4 if t < 0.005 else 2
    per_loop = t / number
    number = max(1, math.ceil(seconds / repeat / per_loop))
    best = min(timer.repeat(repeat=repeat, number=number))
    return len(msgs) * number / best


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    package: str
    version: str | None = None
    status: str = "ok"  # ok | not installed | import failed
    error: str | None = None
    how: str = ""
    correct: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    plain: float | None = None
    deep: float | None = None
    # softphone on this parser's subset, when the subset is not the corpus
    ours_plain_same: float | None = None
    ours_deep_same: float | None = None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def environment() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.machine()}",
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
    }


def run(
    names: list[str] | None, seconds: float, repeat: int, progress: Callable[[str], None]
) -> tuple[list[Row], Adapter | None]:
    rows: list[Row] = []
    adapters: dict[str, Adapter] = {}
    for display, module, factory in PARSERS:
        if names and display.lower() not in names:
            continue
        row = Row(display, module)
        rows.append(row)
        # Only the package itself missing is "not installed"; anything else
        # going wrong on import (a missing dependency ...) is a broken install.
        if importlib.util.find_spec(module) is None:
            row.status = "not installed"
            continue
        try:
            adapter = factory()
        except Exception as exc:
            row.status = "import failed"
            row.error = _short(exc)
            continue
        adapters[display] = adapter
        row.version = adapter.version
        row.how = adapter.how
        row.failures = check(adapter)
        row.correct = [n for n in CORPUS if n not in row.failures]

    ours = adapters.get("softphone")
    for row in rows:
        timed = adapters.get(row.name)
        if timed is None or not row.correct:
            continue
        msgs = [CORPUS[n] for n in row.correct]
        progress(f"timing {row.name} ({len(msgs)} messages)")
        row.plain = measure(timed.plain, msgs, seconds, repeat)
        row.deep = measure(timed.deep, msgs, seconds, repeat)
        gc.collect()
    if ours is not None:
        ours_row = next(r for r in rows if r.name == "softphone")
        for row in rows:
            if row is ours_row or row.plain is None:
                continue
            if len(row.correct) == len(CORPUS) or not set(row.correct) <= set(ours_row.correct):
                continue
            msgs = [CORPUS[n] for n in row.correct]
            progress(f"timing softphone on {row.name}'s {len(msgs)} messages")
            row.ours_plain_same = measure(ours.plain, msgs, seconds, repeat)
            row.ours_deep_same = measure(ours.deep, msgs, seconds, repeat)
    return rows, ours


def speedups(rows: list[Row]) -> dict[str, Any]:
    """softphone against the fastest other fully-correct parser, per workload."""
    ours = next((r for r in rows if r.name == "softphone" and r.plain), None)
    if ours is None or len(ours.correct) != len(CORPUS):
        return {}
    result: dict[str, Any] = {}
    full = [r for r in rows if r is not ours and r.plain and len(r.correct) == len(CORPUS)]
    for workload in ("plain", "deep"):
        if not full:
            break
        best = max(full, key=lambda r: getattr(r, workload))
        result[workload] = {
            "vs": best.name,
            "factor": getattr(ours, workload) / getattr(best, workload),
        }
    same = {}
    for r in rows:
        if r.ours_plain_same and r.plain and r.deep and r.ours_deep_same:
            same[r.name] = {
                "messages": len(r.correct),
                "plain": r.ours_plain_same / r.plain,
                "deep": r.ours_deep_same / r.deep,
            }
    if same:
        result["same_subset"] = same
    return result


def _rate(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def render(env: dict[str, object], rows: list[Row], ups: dict[str, Any], seconds: float, repeat: int) -> str:
    n = len(CORPUS)
    lines = [
        f"Python {env['python']} ({env['implementation']}), {env['system']}",
        f"CPU: {env['cpu']} ({env['logical_cpus']} logical CPUs)",
        f"Corpus: {n} SIP messages; best of {repeat} repetitions, ~{seconds:g} s per cell",
        "",
    ]
    header = ("parser", "version", "correct", "plain msg/s", "deep msg/s")
    table = [header]
    partial = False
    for r in rows:
        if r.status != "ok":
            table.append((r.name, "-", r.status, "", ""))
            continue
        mark = ""
        if len(r.correct) != n:
            mark = " *"
            partial = True
        table.append((r.name, r.version or "?", f"{len(r.correct)}/{n}{mark}", _rate(r.plain), _rate(r.deep)))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = [
            row[0].ljust(widths[0]),
            row[1].ljust(widths[1]),
            row[2].ljust(widths[2]),
            row[3].rjust(widths[3]),
            row[4].rjust(widths[4]),
        ]
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    if partial:
        lines.append("* speed measured on the messages that parser got right only")
    for r in rows:
        if r.status == "import failed":
            lines.append(f"{r.name}: import failed ({r.error})")
        for msg, why in r.failures.items():
            lines.append(f"{r.name} fails {msg}: {why}")
    if partial or any(r.failures or r.status == "import failed" for r in rows):
        lines.append("")
    if "plain" in ups:
        lines.append(
            "softphone speed-up vs fastest other: "
            f"plain {ups['plain']['factor']:.1f}x ({ups['plain']['vs']}), "
            f"deep {ups['deep']['factor']:.1f}x ({ups['deep']['vs']})"
        )
    for name, s in ups.get("same_subset", {}).items():
        lines.append(
            f"softphone vs {name} on the same {s['messages']} messages: plain {s['plain']:.1f}x, deep {s['deep']:.1f}x"
        )
    return "\n".join(lines).rstrip() + "\n"


def to_json(
    env: dict[str, object], rows: list[Row], ups: dict[str, Any], seconds: float, repeat: int
) -> dict[str, Any]:
    return {
        "environment": env,
        "corpus": list(CORPUS),
        "seconds_per_cell": seconds,
        "repeat": repeat,
        "parsers": [
            {
                "name": r.name,
                "package": r.package,
                "status": r.status,
                "error": r.error,
                "version": r.version,
                "driven_by": r.how,
                "correct": len(r.correct),
                "total": len(CORPUS),
                "failures": r.failures,
                "plain_msgs_per_s": r.plain,
                "deep_msgs_per_s": r.deep,
                "measured_on": r.correct if r.plain is not None else [],
            }
            for r in rows
        ],
        "speedup": ups,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few iterations, for a smoke test")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--seconds", type=float, default=None, help="target time per cell (default 0.5, 0.02 with --quick)")
    ap.add_argument(
        "--repeat", type=int, default=None, help="repetitions per cell, best taken (default 5, 2 with --quick)"
    )
    ap.add_argument("--parsers", default="", help="comma-separated subset, e.g. softphone,sipmessage")
    args = ap.parse_args(argv)

    seconds = args.seconds if args.seconds is not None else (0.02 if args.quick else 0.5)
    repeat = args.repeat if args.repeat is not None else (2 if args.quick else 5)
    if seconds <= 0 or repeat < 1:
        ap.error("--seconds must be > 0 and --repeat >= 1")
    names = [p.strip().lower() for p in args.parsers.split(",") if p.strip()] or None

    def progress(msg: str) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"  {msg} ...", file=sys.stderr, flush=True)

    env = environment()
    start = time.perf_counter()
    rows, _ = run(names, seconds, repeat, progress)
    ups = speedups(rows)
    if args.json:
        out = to_json(env, rows, ups, seconds, repeat)
        out["elapsed_s"] = round(time.perf_counter() - start, 2)
        print(json.dumps(out, indent=2))
    else:
        print(render(env, rows, ups, seconds, repeat), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

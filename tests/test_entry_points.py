"""The installed commands and the benchmark scripts start and say what they are."""

from __future__ import annotations

import json
import subprocess
import sys

from softphone import __version__
from tests.conftest import ROOT


def test_cli_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "softphone.cli", "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == f"softphone-cli {__version__}"


def test_cli_help_lists_its_options() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "softphone.cli", "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    assert "softphone-cli" in out.stdout and "--version" in out.stdout


def test_parse_benchmark_runs_and_our_parser_gets_the_corpus_right() -> None:
    out = subprocess.run(
        [sys.executable, "benchmarks/parse_bench.py", "--quick", "--json", "--parsers", "softphone"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=ROOT,
    )
    report = json.loads(out.stdout)
    (ours,) = report["parsers"]
    assert (ours["name"], ours["correct"], ours["total"]) == ("softphone", 11, 11)
    assert ours["plain_msgs_per_s"] > 0 and ours["deep_msgs_per_s"] > 0

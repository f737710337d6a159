"""Shared test set-up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent


def torture_dir() -> Path:
    """The RFC 4475/5118 message set, kept beside the project in ../shared."""
    path = Path(os.environ.get("SIP_TORTURE_DIR", ROOT.parent / "shared" / "sip-torture"))
    if not (path / "manifest.tsv").is_file():
        pytest.fail(f"SIP torture messages not found at {path} (set SIP_TORTURE_DIR)", pytrace=False)
    return path

"""The security tests run against real phones on loopback, and through the Kamailio fixture where a
registered account matters; the fixtures of ``tests/integration/conftest.py`` are imported here."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.integration.conftest import kamailio, pytest_runtest_makereport

__all__ = ["kamailio", "pytest_runtest_makereport"]

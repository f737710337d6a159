"""Passwords from the desktop keyring, through the keyring package's real API."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend

from softphone.ua.account import password_from_keyring


class MemoryKeyring(KeyringBackend):
    """A keyring backend kept in memory, standing in for the desktop's secret service."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def test_password_is_read_from_the_keyring(memory_keyring: MemoryKeyring) -> None:
    keyring.set_password("softphone", "sip:alice@example.com", "s3cret")
    assert password_from_keyring("sip:alice@example.com") == "s3cret"
    assert password_from_keyring("sip:bob@example.com") is None

"""Passwords from the desktop keyring, through the keyring package's real API."""

from __future__ import annotations

import keyring

from softphone.ua.account import password_from_keyring
from tests.keyring_memory import MemoryKeyring


def test_password_is_read_from_the_keyring(memory_keyring: MemoryKeyring) -> None:
    keyring.set_password("softphone", "sip:alice@example.com", "s3cret")
    assert password_from_keyring("sip:alice@example.com") == "s3cret"
    assert password_from_keyring("sip:bob@example.com") is None

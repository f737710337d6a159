"""Persistence: message and call history, contacts, watcher decisions (SQLite) and settings (JSON).

``Store`` is the facade over the database; ``load_settings``/``save_settings``
handle the settings file. Nothing here imports asyncio, Qt or the UA: the
store sits below them and is shared by the UA's loop thread and the GUI thread.
"""

from softphone.store.contacts import Contact, Contacts, ImportResult, export_vcards, parse_vcards
from softphone.store.db import SCHEMA_VERSION, Database, Store, StoreError, default_database_path
from softphone.store.history import CallHistory, CallOutcome, CallRecord, QualitySummary, RecentPeer
from softphone.store.messages import (
    Conversation,
    Direction,
    Message,
    MessageState,
    MessageStore,
    RequestsFull,
    incoming_dedupe_key,
)
from softphone.store.settings import (
    AccountSettings,
    AudioSettings,
    ForwardingRule,
    PageGroupSettings,
    PagingSettings,
    Settings,
    VideoPreferences,
    default_password_path,
    default_settings_path,
    load_settings,
    save_settings,
    with_default_codecs,
)
from softphone.store.uris import normalise_uri, phone_digits
from softphone.store.watchers import Authorization, WatcherDecision, Watchers

__all__ = [
    "SCHEMA_VERSION",
    "AccountSettings",
    "AudioSettings",
    "Authorization",
    "CallHistory",
    "CallOutcome",
    "CallRecord",
    "Contact",
    "Contacts",
    "Conversation",
    "Database",
    "Direction",
    "ForwardingRule",
    "ImportResult",
    "Message",
    "MessageState",
    "MessageStore",
    "PageGroupSettings",
    "PagingSettings",
    "QualitySummary",
    "RecentPeer",
    "RequestsFull",
    "Settings",
    "Store",
    "StoreError",
    "VideoPreferences",
    "WatcherDecision",
    "Watchers",
    "default_database_path",
    "default_password_path",
    "default_settings_path",
    "export_vcards",
    "incoming_dedupe_key",
    "load_settings",
    "normalise_uri",
    "parse_vcards",
    "phone_digits",
    "save_settings",
    "with_default_codecs",
]

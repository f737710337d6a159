"""Application settings: typed dataclasses kept as a JSON file in the platform's user config directory.

:func:`load_settings` never fails on content: a value of the wrong type falls
back to its default (with a warning), keys this version does not know are
kept in ``extra`` and written back, and a file that is not JSON at all is
moved aside to ``<name>.bak`` and replaced by defaults, with a warning saying
where it went. :func:`save_settings` writes a temporary file in the same
directory, syncs it and renames it over the old one (``os.replace``), so a
crash leaves either the old or the new file, never half of one.

Passwords are not settings: they live in the OS keyring (see
``softphone.ua.account.password_from_keyring``) or, where there is none and
the user chose it, in a file of their own readable only by the user
(:func:`default_password_path`); an account names that file
(``password_file``), never the password.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from softphone.store.db import APP_NAME

__all__ = [
    "DEFAULT_CODECS",
    "AccountSettings",
    "AudioSettings",
    "ForwardingRule",
    "PageGroupSettings",
    "PagingSettings",
    "Settings",
    "default_password_path",
    "default_settings_path",
    "load_settings",
    "save_settings",
    "with_default_codecs",
]

log = logging.getLogger(__name__)

SETTINGS_NAME = "settings.json"
FORMAT_VERSION = 1
# Wideband first (Opus, then G.722), G.711 last: the one every peer has.
DEFAULT_CODECS = ("opus", "G722", "PCMU", "PCMA", "telephone-event")


def with_default_codecs(saved: list[str]) -> list[str]:
    """``saved`` with each default codec it does not name (one added since it was saved) just after the
    codec before it in :data:`DEFAULT_CODECS` (first when none of those is there)."""
    order = list(saved)
    for index, name in enumerate(DEFAULT_CODECS):
        lowered = [n.lower() for n in order]
        if name.lower() in lowered:
            continue
        before = [lowered.index(d.lower()) for d in DEFAULT_CODECS[:index] if d.lower() in lowered]
        order.insert(max(before) + 1 if before else 0, name)
    return order


@dataclass
class ForwardingRule:
    """Forward calls for ``account`` (all accounts when None) to ``target``: ``always``, on ``busy``, or
    after ``no_answer`` seconds (RFC 3261 21.3.3, answered with 302)."""

    target: str
    account: str | None = None
    always: bool = False
    busy: bool = False
    no_answer: float | None = None
    enabled: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class AccountSettings:
    """One SIP account as the user configured it; no password (that is in the keyring)."""

    aor: str
    display_name: str | None = None
    auth_user: str | None = None
    registrar: str | None = None
    outbound_proxy: str | None = None
    # HOST[:PORT] of a STUN server; behind a NAT the SDP names the media's public address.
    stun_server: str | None = None
    # HOST[:PORT] of a TURN server and the user name there (its password is in the keyring): calls relay media.
    turn_server: str | None = None
    turn_user: str | None = None
    # How the TURN server is reached: "udp", "tcp" or "tls".
    turn_transport: str = "udp"
    # ICE for calls: None on when a STUN or TURN server is set, False off.
    ice: bool | None = None
    transport: str = "udp"
    register: bool = True
    expires: int = 600
    enabled: bool = True
    ca_file: str | None = None
    # Take calls straight from any address (None: only for an account without a server).
    direct_calls: bool | None = None
    # Announce the account to the LAN by mDNS/DNS-SD (None: only an account without a server).
    lan_announce: bool | None = None
    # SHA-256 fingerprints of server certificates the user trusts although they do not verify.
    tls_fingerprints: list[str] = field(default_factory=list)
    # Where the password is kept when the user chose a file over the keyring (mode 0600).
    password_file: str | None = None
    # Media encryption: "off", "optional" or "mandatory" (None: mandatory over TLS, else optional), and the
    # key exchanges taken: "sdes", "dtls" or "any".
    srtp: str | None = None
    srtp_keys: str = "any"
    # A client certificate for TLS to the account's servers (PEM with its key, or the key apart).
    tls_certificate: str | None = None
    tls_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class AudioSettings:
    """Device names as sounddevice reports them; None means the system default."""

    input_device: str | None = None
    output_device: str | None = None
    ringing_device: str | None = None
    echo_cancellation: bool = True
    # The microphone processing of calls (softphone/media/processing.py): on for a laptop or a desk,
    # off for a studio microphone. noise_suppression_level: "low", "moderate" or "high".
    noise_suppression: bool = True
    noise_suppression_level: str = "moderate"
    high_pass_filter: bool = True
    auto_gain_control: bool = True
    # The ringtone: None for the built-in ring, a bundled tone's name (resources/sounds/<name>.wav) or a WAV file.
    ringtone: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PageGroupSettings:
    """A multicast group pages are heard on: ``group`` as ``ADDRESS:PORT`` (``[ff05::1]:5004`` for IPv6),
    its priority (1-255, higher interrupts lower), the sender addresses taken (empty: anyone) and codecs."""

    group: str
    priority: int = 10
    sources: list[str] = field(default_factory=list)
    # The codecs taken ("g722", "opus", "pcmu", "pcma"); empty: all of them.
    codecs: list[str] = field(default_factory=list)
    enabled: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PagingSettings:
    """Multicast paging: groups heard, groups the Page button sends to, the TTL and codec of pages sent, the
    network interface (None: by route) and what a page does to a call: "hold" it, or "mix" beside it."""

    listen: list[PageGroupSettings] = field(default_factory=list)
    send_groups: list[str] = field(default_factory=list)
    ttl: int = 1
    codec: str = "g722"
    interface: str | None = None
    during_call: str = "hold"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class VideoPreferences:
    """Video calls: ``enabled`` offers video in the calls we make (off: they start audio only, the Video
    button adds it; an offered video can always be taken or declined); ``source`` what we send (``camera``,
    ``pattern``, ``screen``, a file; ``none``: nothing); ``codecs`` in order of preference ("VP8", "H264")."""

    enabled: bool = False
    source: str = "camera"
    codecs: list[str] = field(default_factory=lambda: ["VP8", "H264"])
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Settings:
    accounts: list[AccountSettings] = field(default_factory=list)
    audio: AudioSettings = field(default_factory=AudioSettings)
    codecs: list[str] = field(default_factory=lambda: list(DEFAULT_CODECS))
    auto_answer: float | None = None
    do_not_disturb: bool = False
    forwarding: list[ForwardingRule] = field(default_factory=list)
    presence_note: str = ""
    # Where each window was last (Qt's saveGeometry(), base64), by window: "main", "calls", "chat", "trace".
    windows: dict[str, str] = field(default_factory=dict)
    paging: PagingSettings = field(default_factory=PagingSettings)
    video: VideoPreferences = field(default_factory=VideoPreferences)
    extra: dict[str, Any] = field(default_factory=dict)


def default_settings_path() -> Path:
    """``settings.json`` in the platform's user config directory for the application."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / SETTINGS_NAME


def default_password_path(aor: str) -> Path:
    """The file for ``aor``'s password when there is no keyring: ``passwords/<address>`` in the user config
    directory, a name made of the address's safe characters and a hash that keeps two addresses apart."""
    safe = re.sub(r"[^A-Za-z0-9@._-]+", "_", aor.removeprefix("sip:").removeprefix("sips:"))[:80]
    digest = hashlib.sha256(aor.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "passwords" / f"{safe}-{digest}"


T = TypeVar("T")


class _Invalid(Exception):
    pass


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except _Invalid:
                continue
        raise _Invalid(f"{where}: {value!r} is not {tp}")
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise _Invalid(f"{where}: expected a list, not {type(value).__name__}")
        items = []
        for i, item in enumerate(value):
            try:
                items.append(_convert(item_type, item, f"{where}[{i}]"))
            except _Invalid as exc:
                log.warning("settings: %s; entry dropped", exc)
        return items
    if origin is dict:
        if not isinstance(value, dict):
            raise _Invalid(f"{where}: expected an object")
        return dict(value)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise _Invalid(f"{where}: expected an object, not {type(value).__name__}")
        return _from_dict(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is Any:
        return value
    raise _Invalid(f"{where}: {value!r} is not {getattr(tp, '__name__', tp)}")


def _from_dict(cls: type[T], data: dict[str, Any], where: str) -> T:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known or key == "extra":
            extra[key] = value
            continue
        try:
            kwargs[key] = _convert(hints[key], value, f"{where}.{key}")
        except _Invalid as exc:
            log.warning("settings: %s; using the default", exc)
    if "extra" in known:
        kwargs["extra"] = extra
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise _Invalid(f"{where}: {exc}") from exc


def _to_dict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            if f.name == "extra":
                extra = dict(getattr(obj, f.name))
            else:
                out[f.name] = _to_dict(getattr(obj, f.name))
        for key, value in extra.items():
            out.setdefault(key, value)
        return out
    if isinstance(obj, list):
        return [_to_dict(item) for item in obj]
    return obj


def settings_from_dict(data: dict[str, Any]) -> Settings:
    """Settings from parsed JSON; wrong values fall back to defaults, unknown keys go to ``extra``."""
    body = {key: value for key, value in data.items() if key != "version"}
    return _from_dict(Settings, body, "settings")


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    data: dict[str, Any] = {"version": FORMAT_VERSION}
    data.update(_to_dict(settings))
    return data


def _set_aside(path: Path, why: str) -> None:
    backup = path.with_name(path.name + ".bak")
    try:
        os.replace(path, backup)
    except OSError as exc:
        log.warning(
            "settings file %s is unusable (%s) and could not be moved aside: %s; using defaults", path, why, exc
        )
        return
    log.warning("settings file %s is unusable (%s); kept it as %s and started from defaults", path, why, backup)


def load_settings(path: str | Path | None = None) -> Settings:
    """The settings in ``path`` (default :func:`default_settings_path`); defaults when there is no file."""
    path = Path(path) if path is not None else default_settings_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        log.warning("cannot read the settings file %s: %s; using defaults", path, exc)
        return Settings()
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _set_aside(path, str(exc))
        return Settings()
    if not isinstance(data, dict):
        _set_aside(path, f"top level is a JSON {type(data).__name__}, not an object")
        return Settings()
    version = data.get("version", FORMAT_VERSION)
    if isinstance(version, int) and version > FORMAT_VERSION:
        log.warning(
            "settings file %s is format version %s, newer than %d; reading what is known", path, version, FORMAT_VERSION
        )
    return settings_from_dict(data)


def save_settings(settings: Settings, path: str | Path | None = None) -> Path:
    """Write the settings atomically (temporary file, fsync, ``os.replace``); returns the path written."""
    path = Path(path) if path is not None else default_settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(settings_to_dict(settings), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path

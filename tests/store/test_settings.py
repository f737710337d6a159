from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import platformdirs
import pytest

from softphone.store import (
    AccountSettings,
    AudioSettings,
    ForwardingRule,
    Settings,
    default_settings_path,
    load_settings,
    save_settings,
    with_default_codecs,
)
from softphone.store.settings import DEFAULT_CODECS


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "none.json")
    assert settings == Settings()
    assert settings.audio.echo_cancellation
    assert settings.codecs[0] == "opus"


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "settings.json"
    settings = Settings(
        accounts=[
            AccountSettings(aor="sip:zoë@example.com", display_name="Zoë 🎉", auth_user="z", transport="tls"),
            AccountSettings(aor="sip:lan@192.0.2.1", register=False),
        ],
        audio=AudioSettings(input_device="USB Headset Mikrofon", output_device=None, echo_cancellation=False),
        codecs=["PCMA", "opus"],
        auto_answer=2.5,
        do_not_disturb=True,
        forwarding=[ForwardingRule(target="sip:voicemail@example.com", no_answer=20.0)],
        presence_note="Im Büro ☕",
    )
    assert save_settings(settings, path) == path
    assert load_settings(path) == settings
    assert "Zoë 🎉" in path.read_text(encoding="utf-8")
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]


def test_no_password_field() -> None:
    assert "password" not in {name for name in AccountSettings.__dataclass_fields__}


def test_unknown_keys_are_preserved(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "theme": "dark",
                "audio": {"input_device": "Mic", "future_agc": {"level": 3}},
                "accounts": [{"aor": "sip:a@example.com", "zrtp": "sas"}],
            }
        ),
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings.audio.input_device == "Mic"
    assert settings.extra == {"theme": "dark"}
    assert settings.audio.extra == {"future_agc": {"level": 3}}
    assert settings.accounts[0].extra == {"zrtp": "sas"}
    settings.do_not_disturb = True
    save_settings(settings, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["theme"] == "dark"
    assert data["audio"]["future_agc"] == {"level": 3}
    assert data["accounts"][0]["zrtp"] == "sas"
    assert data["do_not_disturb"] is True


def test_wrong_types_fall_back_to_defaults(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "codecs": "opus",
                "auto_answer": "soon",
                "do_not_disturb": 1,
                "audio": [],
                "accounts": [{"aor": "sip:ok@example.com", "expires": "60"}, {"display_name": "no aor"}, 7],
                "forwarding": [{"target": "sip:x@example.com", "no_answer": 15}],
            }
        ),
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="softphone.store.settings"):
        settings = load_settings(path)
    assert settings.codecs == Settings().codecs
    assert settings.auto_answer is None
    assert settings.do_not_disturb is False
    assert settings.audio == AudioSettings()
    assert [a.aor for a in settings.accounts] == ["sip:ok@example.com"]
    assert settings.accounts[0].expires == 600
    assert settings.forwarding[0].no_answer == 15.0
    assert "codecs" in caplog.text and "accounts[1]" in caplog.text


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\xfa", b"[1, 2, 3]", b""])
def test_corrupt_file_is_kept_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="softphone.store.settings"):
        settings = load_settings(path)
    assert settings == Settings()
    backup = tmp_path / "settings.json.bak"
    assert backup.read_bytes() == content
    assert not path.exists()
    assert str(backup) in caplog.text
    save_settings(settings, path)
    assert load_settings(path) == Settings()


def test_atomic_write_leaves_old_file_when_writing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "settings.json"
    save_settings(Settings(presence_note="old"), path)

    def fail(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        save_settings(Settings(presence_note="new"), path)
    monkeypatch.undo()
    assert load_settings(path).presence_note == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_default_path_is_platform_config_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(platformdirs, "user_config_path", lambda *a, **k: tmp_path / "cfg" / a[0])
    assert default_settings_path() == tmp_path / "cfg" / "softphone" / "settings.json"
    save_settings(Settings(presence_note="here"))
    assert load_settings().presence_note == "here"


def test_an_account_names_its_password_file_never_the_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from softphone.store import default_password_path

    monkeypatch.setattr(platformdirs, "user_config_path", lambda *a, **k: tmp_path / "cfg" / a[0])
    path = default_password_path("sip:alice@example.com")
    assert path.parent == tmp_path / "cfg" / "softphone" / "passwords"
    assert path.name.startswith("alice@example.com-")
    assert default_password_path("sip:a/../b@x") != default_password_path("sip:a_.._b@x")
    assert "/" not in default_password_path("sip:a/../b@x").name
    settings = Settings(accounts=[AccountSettings("sip:alice@example.com", password_file=str(path))])
    save_settings(settings, tmp_path / "s.json")
    assert load_settings(tmp_path / "s.json").accounts[0].password_file == str(path)


def test_codecs_added_since_the_settings_were_saved_take_their_default_place() -> None:
    assert Settings().codecs == list(DEFAULT_CODECS) == ["opus", "G722", "PCMU", "PCMA", "telephone-event"]
    assert with_default_codecs(["opus", "PCMU", "PCMA", "telephone-event"]) == list(DEFAULT_CODECS)
    assert with_default_codecs(["PCMA", "opus", "PCMU"]) == ["PCMA", "opus", "G722", "PCMU", "telephone-event"]
    assert with_default_codecs(["PCMU", "PCMA"]) == ["opus", "G722", "PCMU", "PCMA", "telephone-event"]
    assert with_default_codecs(["g722", "OPUS", "pcmu", "pcma", "telephone-event"]) == [
        "g722",
        "OPUS",
        "pcmu",
        "pcma",
        "telephone-event",
    ]

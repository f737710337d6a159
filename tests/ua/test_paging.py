"""Paging settings as users type them: groups, priorities, senders, and saved settings that are wrong."""

from __future__ import annotations

import pytest

from softphone.store import PageGroupSettings, PagingSettings
from softphone.ua.paging import DEFAULT_PRIORITY, PageGroup, config_from, parse_group, parse_listen


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("239.1.2.3:5004", PageGroup("239.1.2.3", 5004)),
        ("239.1.2.3:5004/40", PageGroup("239.1.2.3", 5004, 40)),
        ("[ff05::1:3]:6000/2=2001:db8:1::1", PageGroup("ff05::1:3", 6000, 2, ("2001:db8:1::1",))),
        ("239.1.2.3:5004+PCMU,g722", PageGroup("239.1.2.3", 5004, DEFAULT_PRIORITY, (), ("pcmu", "g722"))),
        (
            "[ff05::9]:5004/7=2001:db8:1::4+opus",
            PageGroup("ff05::9", 5004, 7, ("2001:db8:1::4",), ("opus",)),
        ),
        (
            "239.1.2.3:5004=192.0.2.1, 192.0.2.2",
            PageGroup("239.1.2.3", 5004, DEFAULT_PRIORITY, ("192.0.2.1", "192.0.2.2")),
        ),
    ],
)
def test_groups_to_listen_on(text: str, group: PageGroup) -> None:
    assert parse_listen(text) == group


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("192.0.2.1:5004", "not a multicast address"),
        ("239.1.2.3", "GROUP:PORT"),
        ("239.1.2.3:0", "port out of range"),
        ("239.1.2.3:70000", "port out of range"),
        ("239.1.2.3:x", "bad port"),
        ("pager.example.com:5004", "not an IP address"),
        ("239.1.2.3:5004/0", "priority out of range"),
        ("239.1.2.3:5004/999", "priority out of range"),
        ("239.1.2.3:5004/high", "not a number"),
        ("239.1.2.3:5004=somebody", "not an IP address"),
        ("239.1.2.3:5004+speex", "unknown paging codec"),
        ("239.1.2.3:5004+", "at least one codec"),
        ("239.1.2.3:5004=" + ",".join(f"192.0.2.{n}" for n in range(1, 70)), "at most 64"),
    ],
)
def test_bad_groups_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_listen(text)


def test_a_group_to_page_is_address_and_port() -> None:
    assert parse_group("[ff05::2]:5004") == ("ff05::2", 5004)
    assert PageGroup("ff05::2", 5004).label == "[ff05::2]:5004"


def test_saved_settings_become_the_config_and_bad_entries_are_left_out_with_a_reason() -> None:
    settings = PagingSettings(
        listen=[
            PageGroupSettings("239.0.1.20:5004", 30, ["192.0.2.7"]),
            PageGroupSettings("10.0.0.1:5004"),
            PageGroupSettings("239.0.1.21:5004", 0),
            PageGroupSettings("239.0.1.22:5004", enabled=False),
            PageGroupSettings("239.0.1.23:5004", codecs=["G722", "ilbc"]),
            PageGroupSettings("239.0.1.24:5004", codecs=["PCMA"]),
        ],
        ttl=300,
        codec="speex",
        during_call="sing",
        interface="",
    )
    config, problems = config_from(settings)
    assert config.listen == (
        PageGroup("239.0.1.20", 5004, 30, ("192.0.2.7",)),
        PageGroup("239.0.1.24", 5004, codecs=("pcma",)),
    )
    assert (config.ttl, config.codec, config.during_call, config.interface) == (1, "g722", "hold", None)
    assert len(problems) == 3
    assert "10.0.0.1:5004" in problems[0] and "not a multicast address" in problems[0]
    assert "out of range" in problems[1]
    assert "ilbc" in problems[2]

"""softphone.desktop_files without building anything: where the package data is, and what
``softphone --install-desktop-files`` writes under $XDG_DATA_HOME. Part of ``make test`` too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from softphone import desktop_files
from softphone.gui.app import main
from tests.conftest import ROOT


def test_source_tree_resources() -> None:
    assert desktop_files.icons_dir() == ROOT / "resources" / "icons"
    assert (desktop_files.icons_dir() / "softphone.svg").is_file()
    assert desktop_files.desktop_dir() == ROOT / "packaging" / "desktop"
    assert (desktop_files.desktop_dir() / "softphone.desktop").is_file()


def test_resources_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOFTPHONE_RESOURCES", str(tmp_path))
    assert desktop_files.icons_dir() == tmp_path / "icons"


def test_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert desktop_files.data_home() == tmp_path
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/ignored")
    assert desktop_files.data_home() == Path.home() / ".local" / "share"


def test_install_and_uninstall(tmp_path: Path) -> None:
    written = desktop_files.install(tmp_path, ["/opt/my phone/softphone"])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "applications/softphone.desktop",
        "icons/hicolor/scalable/apps/softphone.svg",
        "metainfo/io.github.softphone.metainfo.xml",
    ]
    entry = (tmp_path / "applications" / "softphone.desktop").read_text(encoding="utf-8").splitlines()
    assert 'Exec="/opt/my phone/softphone" %u' in entry
    assert 'TryExec="/opt/my phone/softphone"' in entry
    assert "MimeType=x-scheme-handler/sip;x-scheme-handler/sips;x-scheme-handler/tel;x-scheme-handler/callto;" in entry
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "softphone.svg"
    assert icon.read_bytes() == (ROOT / "resources" / "icons" / "softphone.svg").read_bytes()
    assert sorted(desktop_files.uninstall(tmp_path)) == sorted(written)
    assert not any(path.exists() for path in written)
    assert desktop_files.uninstall(tmp_path) == []


@pytest.mark.parametrize(
    ("arg", "quoted"),
    [
        ("/usr/bin/softphone", "/usr/bin/softphone"),
        ("/home/a b/softphone", '"/home/a b/softphone"'),
        ('/x/"q"', '"/x/\\\\"q\\\\""'),
        ("/x/100%", "/x/100%%"),
        ("/x/$HOME", '"/x/\\\\$HOME"'),
    ],
)
def test_exec_quoting(arg: str, quoted: str) -> None:
    """Desktop Entry spec: reserved characters need double quotes, in which ", `, $ and \\ are escaped
    with a backslash; then the value is a string, whose backslashes are doubled; % is written %%."""
    assert desktop_files._exec_quote(arg) == quoted


def test_launcher_of_a_module_run() -> None:
    command = desktop_files.launcher()
    assert command[0] == sys.executable or Path(command[0]).stem == "softphone"


def test_flags_work_without_a_display(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    run = [sys.executable, "-m", "softphone.gui.app"]
    out = subprocess.run(
        [*run, "--install-desktop-files"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    entry = (tmp_path / "data" / "applications" / "softphone.desktop").read_text(encoding="utf-8")
    assert f"Exec={sys.executable} -m softphone.gui.app %u" in entry.splitlines()
    out = subprocess.run(
        [*run, "--uninstall-desktop-files"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "removed" in out.stdout
    assert not (tmp_path / "data" / "applications" / "softphone.desktop").exists()


def test_both_flags_at_once_is_an_error() -> None:
    with pytest.raises(SystemExit):
        main(["--install-desktop-files", "--uninstall-desktop-files"])

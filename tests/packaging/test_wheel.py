"""The wheel and the sdist: what they hold, and a pipx install of each the way a user makes it.

pipx runs with a throw-away PIPX_HOME and PIPX_BIN_DIR (nothing of the user's), installs from the
artefact with its dependencies from the package index, and the commands it puts on PATH must run
without the project's virtual environment. ``softphone --install-desktop-files`` then writes the menu
entry, icon and AppStream file under a throw-away $XDG_DATA_HOME, where xdg-mime finds the softphone
as the handler of sip: links.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from softphone import __version__
from tests.conftest import ROOT
from tests.packaging.conftest import SYSTEM_PATH, Artefacts, clean_env, need_tools

ICONS = sorted(path.name for path in (ROOT / "resources" / "icons").glob("*.svg"))
DESKTOP_FILES = ("softphone.desktop", "io.github.softphone.metainfo.xml")


def source_modules() -> set[str]:
    """Every module of the package in the source tree, as ``softphone/...py``."""
    return {
        str(path.relative_to(ROOT)) for path in (ROOT / "softphone").rglob("*.py") if "__pycache__" not in path.parts
    }


def test_wheel_holds_every_module_and_the_package_data(artefacts: Artefacts) -> None:
    with zipfile.ZipFile(artefacts.wheel) as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read(f"softphone-{__version__}.dist-info/entry_points.txt").decode()
    missing = sorted(source_modules() - names)
    assert not missing, f"modules of softphone/ not in the wheel (a package missing in pyproject.toml?): {missing}"
    for icon in ICONS:
        assert f"softphone/resources/icons/{icon}" in names, icon
    for name in DESKTOP_FILES:
        assert f"softphone/resources/desktop/{name}" in names, name
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "resources/", "packaging/"))]
    scripts = configparser.ConfigParser()
    scripts.read_string(entry_points)
    assert scripts["console_scripts"]["softphone-cli"] == "softphone.cli:main"
    assert scripts["gui_scripts"]["softphone"] == "softphone.gui.app:main"


def test_sdist_holds_what_the_wheel_is_built_from(artefacts: Artefacts) -> None:
    prefix = f"softphone-{__version__}/"
    with tarfile.open(artefacts.sdist) as sdist:
        names = {name.removeprefix(prefix) for name in sdist.getnames()}
    wanted = {"pyproject.toml", "README.md", *source_modules()}
    wanted |= {f"resources/icons/{icon}" for icon in ICONS}
    wanted |= {f"packaging/desktop/{name}" for name in DESKTOP_FILES}
    missing = sorted(wanted - names)
    assert not missing, f"not in the sdist: {missing}"


def pip_cache() -> str:
    """The pip cache of whoever runs the tests, so that the installs need not fetch PySide6 again."""
    out = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else ""


@pytest.mark.timeout(1200)  # pipx fetches PySide6 and numpy from the package index
@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_pipx_install_runs_and_puts_the_phone_on_the_desktop(kind: str, artefacts: Artefacts, tmp_path: Path) -> None:
    need_tools("desktop-file-validate", "update-desktop-database", "xdg-mime")
    artefact = artefacts.wheel if kind == "wheel" else artefacts.sdist
    home = tmp_path / "home"
    pipx_home, bin_dir, data = tmp_path / "pipx", tmp_path / "bin", tmp_path / "data"
    home.mkdir()
    env = clean_env(
        home,
        PIPX_HOME=str(pipx_home),
        PIPX_BIN_DIR=str(bin_dir),
        PIPX_MAN_DIR=str(tmp_path / "man"),
        PATH=f"{bin_dir}:{SYSTEM_PATH}",
    )
    if cache := pip_cache():
        env["PIP_CACHE_DIR"] = cache
    done = subprocess.run(
        [sys.executable, "-m", "pipx", "install", str(artefact)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, f"pipx install {artefact.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    def run(*args: str, **extra: str) -> str:
        out = subprocess.run(
            args, env={**env, **extra}, cwd=home, capture_output=True, text=True, timeout=120, check=False
        )  # not the source tree: "python -c" would import the package from there
        assert out.returncode == 0, f"{' '.join(args)}: {out.stderr[-2000:]}"
        return out.stdout

    assert run("softphone-cli", "--version").strip() == f"softphone-cli {__version__}"
    assert run("softphone", "--version").strip() == f"softphone {__version__}"

    venv_python = pipx_home / "venvs" / "softphone" / "bin" / "python"
    where = run(
        str(venv_python), "-c", "from softphone import desktop_files as d; print(d.icons_dir()); print(d.desktop_dir())"
    ).split()
    for folder, names in zip(where, (ICONS, DESKTOP_FILES), strict=True):
        path = Path(folder)
        assert path.is_relative_to(pipx_home / "venvs" / "softphone"), f"package data found outside the install: {path}"
        assert all((path / name).is_file() for name in names), f"{path} lacks some of {names}"

    report = run("softphone", "--install-desktop-files", XDG_DATA_HOME=str(data))
    desktop = data / "applications" / "softphone.desktop"
    for path in (desktop, data / "icons/hicolor/scalable/apps/softphone.svg", data / "metainfo" / DESKTOP_FILES[1]):
        assert path.is_file() and str(path) in report, f"{path} was not written"
    entry = desktop.read_text(encoding="utf-8")
    assert f"Exec={bin_dir}/softphone %u" in entry.splitlines(), entry
    run("desktop-file-validate", str(desktop))
    empty = tmp_path / "no-system-data"
    empty.mkdir()
    handler = run(
        "xdg-mime", "query", "default", "x-scheme-handler/sip", XDG_DATA_HOME=str(data), XDG_DATA_DIRS=str(empty)
    )
    assert handler.strip() == "softphone.desktop"

    run("softphone", "--uninstall-desktop-files", XDG_DATA_HOME=str(data))
    assert not desktop.exists() and not (data / "icons/hicolor/scalable/apps/softphone.svg").exists()
    run(sys.executable, "-m", "pipx", "uninstall", "softphone")
    assert not (bin_dir / "softphone").exists()

"""Build the .deb from the PyInstaller bundle, with dpkg-deb (no debhelper, no network).

    python packaging/deb/build_deb.py --bundle dist/bundle/softphone --out dist

What goes where:

- the bundle in ``/opt/softphone`` (``softphone``, ``softphone-cli`` and ``_internal/``), with
  ``/usr/bin/softphone`` and ``/usr/bin/softphone-cli`` as links to its executables;
- ``/usr/share/applications/softphone.desktop`` (the menu entry and the ``sip:``, ``sips:``, ``tel:``
  and ``callto:`` handlers), ``/usr/share/icons/hicolor/scalable/apps/softphone.svg``,
  ``/usr/share/metainfo/io.github.softphone.metainfo.xml``, ``/usr/share/doc/softphone/copyright``;
- ``postinst``/``postrm`` refresh the desktop database and the icon cache when those tools exist.

Libraries: the bundle carries every shared library PyInstaller found, so that it runs on systems that
lack them. A Debian system has most of them, and there they should come from Debian, which ships
their security fixes: libopus decodes what strangers send in calls, OpenSSL carries TLS, and so on.
So every library of the bundle that is byte for byte a file of an installed Debian package of the build
machine is left out of the .deb, and ``dpkg-shlibdeps`` computes ``Depends`` from what the remaining
ELF files link to. PortAudio and libopus are loaded with ``dlopen`` (ctypes, cffi), which
``dpkg-shlibdeps`` cannot see: their packages are added by name. What stays in ``/opt/softphone`` is
what Debian 12 does not have in that version: Qt 6 and PySide6 from their wheels, the Python
runtime, numpy with its OpenBLAS.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DESKTOP = ROOT / "packaging" / "desktop"
HERE = Path(__file__).resolve().parent
PREFIX = "opt/softphone"
EXECUTABLES = ("softphone", "softphone-cli")

# Loaded with dlopen by name: no ELF file of the bundle names them, so dpkg-shlibdeps would miss them.
DLOPENED = {"libopus.so.0": "libopus0", "libportaudio.so.2": "libportaudio2"}


@dataclass
class Report:
    left_out: dict[str, str] = field(default_factory=dict)  # bundled library -> the package that has it
    depends: str = ""


def run(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"build_deb: {' '.join(args[:3])} … failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def version() -> str:
    text = (ROOT / "softphone" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise SystemExit("build_deb: no __version__ in softphone/__init__.py")
    return match.group(1)


def is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def system_libraries() -> dict[str, list[Path]]:
    """soname -> the files the dynamic linker's cache has for it (``ldconfig -p``)."""
    found: dict[str, list[Path]] = {}
    for line in run("/sbin/ldconfig", "-p").splitlines()[1:]:
        name, sep, path = line.strip().partition(" => ")
        if sep:
            found.setdefault(name.split(" (", 1)[0], []).append(Path(path))
    return found


def owning_package(path: Path) -> str | None:
    """The installed package that has ``path`` (tried as given and with /usr toggled: merged /usr)."""
    text = str(path)
    candidates = [text, text.removeprefix("/usr") if text.startswith("/usr/") else "/usr" + text]
    for candidate in candidates:
        done = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            line = done.stdout.splitlines()[0]
            return line.split(":", 1)[0].split(",")[0].strip()
    return None


def leave_out_system_copies(internal: Path, report: Report) -> None:
    """Delete the top-level libraries of the bundle that are identical to a packaged file of this system."""
    system = system_libraries()
    for path in sorted(internal.iterdir()):
        if path.is_symlink() or not path.is_file() or ".so" not in path.name or not is_elf(path):
            continue
        for candidate in system.get(path.name, []):
            real = candidate.resolve()
            if real.is_file() and filecmp.cmp(real, path, shallow=False):
                package = owning_package(candidate) or owning_package(real)
                if package is not None:
                    report.left_out[path.name] = package
                    path.unlink()
                    break
    for link in internal.iterdir():  # links to what was deleted
        if link.is_symlink() and not link.exists():
            link.unlink()


def shlibdeps(tree: Path, files: list[Path]) -> str:
    """``dpkg-shlibdeps`` over ``files``; libraries inside the tree are the package's own."""
    if not files:
        return ""
    private = sorted({f"-l{path.parent}" for path in tree.rglob("*.so*") if path.is_file()})
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "debian").mkdir()
        (Path(scratch) / "debian" / "control").write_text(
            "Source: softphone\n\nPackage: softphone\nArchitecture: any\n", encoding="utf-8"
        )
        out = run(
            "dpkg-shlibdeps",
            "-O",
            "--ignore-missing-info",
            "--warnings=0",
            *private,
            *(str(path) for path in files),
            cwd=Path(scratch),
        )
    for line in out.splitlines():
        if line.startswith("shlibs:Depends="):
            return line.split("=", 1)[1].strip()
    return ""


def merge(*lists: str) -> str:
    """Comma-separated dependency lists merged, without repeating a package."""
    seen: dict[str, str] = {}
    for text in lists:
        for item in (part.strip() for part in text.split(",")):
            if item:
                seen.setdefault(item.split(" ", 1)[0], item)
    return ", ".join(seen[name] for name in sorted(seen))


def desktop_entry() -> str:
    """The packaged .desktop file; ``Exec=softphone`` finds /usr/bin/softphone."""
    return (DESKTOP / "softphone.desktop").read_text(encoding="utf-8")


def control(version_text: str, arch: str, installed_kib: int, report: Report) -> str:
    fields = [
        ("Package", "softphone"),
        ("Version", version_text),
        ("Architecture", arch),
        ("Maintainer", "The Softphone developers <softphone@example.org>"),
        ("Installed-Size", str(installed_kib)),
        ("Depends", report.depends),
        ("Suggests", "pulseaudio | pipewire-pulse, gnome-keyring"),
        ("Section", "comm"),
        ("Priority", "optional"),
    ]
    lines = [f"{name}: {value}" for name, value in fields if value]
    lines.append("Description: desktop SIP softphone: calls, presence and chat")
    for paragraph in (
        "Make and take calls, see your buddies' presence and chat against any standards-compliant "
        "SIP service (Kamailio, Asterisk, FreeSWITCH, hosted PBXs) or with no server at all on a LAN. "
        "Opus and G.711 audio, several calls with hold, transfer, conference and recording.",
        "This package has the desktop application (softphone), the headless client for scripts "
        "(softphone-cli), and opens sip:, sips:, tel: and callto: links. It carries its own Python, "
        "Qt 6 and numpy in /opt/softphone.",
    ):
        words, line = paragraph.split(), ""
        for word in words:
            if line and len(line) + 1 + len(word) > 78:
                lines.append(f" {line}")
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(f" {line}")
        lines.append(" .")
    return "\n".join(lines[:-1]) + "\n"


def copy_tree(bundle: Path, target: Path) -> None:
    shutil.copytree(bundle, target, symlinks=True)
    for path in target.rglob("*"):
        if path.is_symlink():
            continue
        mode = 0o755 if path.is_dir() or (path.is_file() and (is_elf(path) or os.access(path, os.X_OK))) else 0o644
        path.chmod(mode)


def build(bundle: Path, out: Path, work: Path) -> tuple[Path, Report]:
    if not all((bundle / name).is_file() for name in EXECUTABLES):
        raise SystemExit(f"build_deb: {bundle} is not the PyInstaller bundle (no {' and '.join(EXECUTABLES)})")
    report = Report()
    tree = work / "root"
    if tree.exists():
        shutil.rmtree(tree)
    opt = tree / PREFIX
    copy_tree(bundle, opt)
    leave_out_system_copies(opt / "_internal", report)

    elf = [path for path in opt.rglob("*") if path.is_file() and not path.is_symlink() and is_elf(path)]
    dlopened = ", ".join(package for lib, package in DLOPENED.items() if lib in report.left_out)
    report.depends = merge(shlibdeps(tree, elf), dlopened)

    usr = tree / "usr"
    (usr / "bin").mkdir(parents=True)
    for name in EXECUTABLES:
        (usr / "bin" / name).symlink_to(f"/{PREFIX}/{name}")
    share = usr / "share"
    files = {
        share / "applications" / "softphone.desktop": desktop_entry().encode(),
        share / "icons" / "hicolor" / "scalable" / "apps" / "softphone.svg": (
            ROOT / "resources" / "icons" / "softphone.svg"
        ).read_bytes(),
        share / "metainfo" / "io.github.softphone.metainfo.xml": (
            DESKTOP / "io.github.softphone.metainfo.xml"
        ).read_bytes(),
        share / "doc" / "softphone" / "copyright": (HERE / "copyright").read_bytes(),
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)

    debian = tree / "DEBIAN"
    debian.mkdir()
    for script in ("postinst", "postrm"):
        shutil.copyfile(HERE / script, debian / script)
        (debian / script).chmod(0o755)
    installed = sum(path.stat().st_size for path in tree.rglob("*") if path.is_file() and not path.is_symlink())
    arch = run("dpkg", "--print-architecture").strip()
    (debian / "control").write_text(control(version(), arch, (installed + 1023) // 1024, report), encoding="utf-8")
    for path in [tree, *(p for p in tree.rglob("*") if p.is_dir())]:
        path.chmod(0o755)

    out.mkdir(parents=True, exist_ok=True)
    deb = out / f"softphone_{version()}_{arch}.deb"
    run("dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(deb))
    shutil.rmtree(tree)
    return deb, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--bundle", type=Path, required=True, help="the PyInstaller folder (dist/bundle/softphone)")
    parser.add_argument("--out", type=Path, required=True, help="where the .deb goes")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "deb", help="scratch folder")
    args = parser.parse_args(argv)
    deb, report = build(args.bundle.resolve(), args.out.resolve(), args.work.resolve())
    print(f"{deb} ({deb.stat().st_size / 1e6:.1f} MB)")
    print(f"left out, from Debian instead: {len(report.left_out)} libraries ({', '.join(sorted(report.left_out))})")
    print(f"Depends: {report.depends}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

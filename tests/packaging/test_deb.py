"""The .deb: its control data and files, a clean Debian root, and a real install on this machine.

- The clean root is a minimal Debian of this machine's release made by ``debootstrap`` (from the
  Debian mirror this machine's apt uses); the .deb is installed there with ``apt-get`` and
  ``--no-install-recommends``, so nothing but its declared dependencies comes along. Then
  ``dpkg -L`` must show the files where they belong, ``softphone-cli --version`` must run there,
  and the desktop application must open its main window there, on the tests' X server.
- The real install is ``dpkg -i`` on this machine (whose dependencies ``make test-dist`` installs
  first), then ``xdg-mime`` must name the softphone as the handler of sip:, sips:, tel: and callto:
  links; ``dpkg --purge`` removes it again, whatever happened.

Everything started is stopped by PID; the clean root is unmounted and deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from softphone import __version__
from tests.packaging.conftest import (
    Artefacts,
    assert_shows_a_window,
    clean_env,
    gui_running,
    mapped_files,
    need_tools,
    screenshot,
)

SCHEMES = ("sip", "sips", "tel", "callto")
CHROOT = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/chroot"
#: Packages the bundle needs from the system, whatever else dpkg-shlibdeps finds: Opus and PortAudio
#: (dlopened), and what Qt's xcb platform links to.
KEY_DEPENDS = (
    "libopus0",
    "libportaudio2",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-image0",
    "libxkbcommon-x11-0",
    "libfontconfig1",
    "libdbus-1-3",
    "libegl1",
    "libgl1",
    "libssl3",
)
FILES = (
    "/opt/softphone/softphone",
    "/opt/softphone/softphone-cli",
    "/opt/softphone/_internal/PySide6/Qt/plugins/platforms/libqxcb.so",
    "/usr/bin/softphone",
    "/usr/bin/softphone-cli",
    "/usr/share/applications/softphone.desktop",
    "/usr/share/icons/hicolor/scalable/apps/softphone.svg",
    "/usr/share/metainfo/io.github.softphone.metainfo.xml",
    "/usr/share/doc/softphone/copyright",
)


def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, env=env)


def must(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> str:
    done = run(*args, timeout=timeout, env=env)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def field(deb: Path, name: str) -> str:
    return must("dpkg-deb", "-f", str(deb), name).strip()


def depends(deb: Path) -> set[str]:
    """Package names in Depends (every alternative)."""
    return {re.split(r"[ (]", alt.strip(), maxsplit=1)[0] for alt in re.split(r"[,|]", field(deb, "Depends"))}


def test_control_data(artefacts: Artefacts) -> None:
    deb = artefacts.deb
    assert field(deb, "Package") == "softphone"
    assert field(deb, "Version") == __version__
    assert field(deb, "Architecture") == must("dpkg", "--print-architecture").strip()
    assert field(deb, "Maintainer") and field(deb, "Description").startswith("desktop SIP softphone")
    missing = [name for name in KEY_DEPENDS if name not in depends(deb)]
    assert not missing, f"Depends lacks {missing}: {field(deb, 'Depends')}"
    with tarfile.open(fileobj=_ctrl_tar(deb)) as control:
        scripts = {member.name.lstrip("./"): member for member in control.getmembers() if member.isfile()}
    for script in ("postinst", "postrm"):
        assert script in scripts and scripts[script].mode & 0o111, f"{script} missing or not executable"


def _ctrl_tar(deb: Path) -> object:
    import io

    return io.BytesIO(subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(deb)], capture_output=True, check=True).stdout)


def test_files_and_where_they_go(artefacts: Artefacts) -> None:
    listing = must("dpkg-deb", "-c", str(artefacts.deb))
    entries = {}
    for line in listing.splitlines():
        parts = line.split(None, 5)
        name = parts[5].split(" -> ")
        entries[name[0].removeprefix(".").rstrip("/") or "/"] = name[1] if len(name) > 1 else None
    for path in FILES:
        assert path in entries, f"{path} is not in the package"
    assert entries["/usr/bin/softphone"] == "/opt/softphone/softphone"
    assert entries["/usr/bin/softphone-cli"] == "/opt/softphone/softphone-cli"
    outside = [p for p in entries if p not in ("/", "/usr") and not p.startswith(("/opt", "/usr/bin", "/usr/share"))]
    assert not outside, f"files outside /opt/softphone and /usr: {outside}"
    # The libraries Debian has are Debian's: the .deb leaves its copies out.
    for library in ("libopus.so.0", "libportaudio.so.2", "libssl.so.3", "libxcb-cursor.so.0"):
        assert f"/opt/softphone/_internal/{library}" not in entries, f"{library} should come from Debian"


def test_desktop_entry_and_appstream_file_validate(artefacts: Artefacts, tmp_path: Path) -> None:
    need_tools("desktop-file-validate", "appstreamcli")
    must("dpkg-deb", "-x", str(artefacts.deb), str(tmp_path))
    desktop = tmp_path / "usr/share/applications/softphone.desktop"
    must("desktop-file-validate", str(desktop))
    entry = desktop.read_text(encoding="utf-8")
    mime = next(line for line in entry.splitlines() if line.startswith("MimeType="))
    for scheme in SCHEMES:
        assert f"x-scheme-handler/{scheme};" in mime
    assert re.search(r"^Exec=softphone %u$", entry, re.MULTILINE)
    must("appstreamcli", "validate", "--no-net", str(tmp_path / "usr/share/metainfo/io.github.softphone.metainfo.xml"))


def test_every_dependency_is_in_the_archive(artefacts: Artefacts) -> None:
    """apt resolves the .deb's Depends from this machine's package sources (a simulation: nothing changes)."""
    out = must("apt-get", "install", "--simulate", "--no-install-recommends", str(artefacts.deb), timeout=300)
    assert re.search(r"^Inst softphone ", out, re.MULTILINE), out[-2000:]


# --- a clean Debian root -----------------------------------------------------------------------------


def debian_release() -> tuple[str, str]:
    """This machine's Debian release and the mirror its apt uses ($SOFTPHONE_DEBIAN_MIRROR overrides)."""
    osr = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    suite = osr.get("VERSION_CODENAME", "").strip('"')
    if osr.get("ID") != "debian" or not suite:
        pytest.fail("the clean-root test builds a root of this machine's Debian release; this is not Debian")
    mirror = os.environ.get("SOFTPHONE_DEBIAN_MIRROR", "")
    sources = [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]
    for path in sources if not mirror else []:
        if not path.is_file():
            continue
        text = path.read_text()
        match = re.search(r"^URIs:\s*(\S+)", text, re.MULTILINE) or re.search(
            rf"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{suite}\s", text, re.MULTILINE
        )
        if match:
            mirror = match.group(1)
            break
    return suite, mirror or "http://deb.debian.org/debian"


def mounts_under(root: Path) -> list[str]:
    mounted = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    prefix = str(root.resolve())
    return [point for point in mounted if point == prefix or point.startswith(prefix + "/")]


def remove_root(root: Path) -> None:
    for point in sorted(mounts_under(root), key=len, reverse=True):
        done = run("umount", point)
        if done.returncode != 0:
            run("umount", "-l", point)
    left = mounts_under(root)
    if left:  # never delete through a mount point (the X socket folder is bound in)
        pytest.fail(f"still mounted, {root} is left in place: {left}")
    run("rm", "-rf", "--one-file-system", str(root), timeout=300)


@pytest.fixture(scope="module")
def clean_root(artefacts: Artefacts) -> Iterator[Path]:
    """A minimal Debian root with the .deb installed by apt with its declared dependencies only."""
    need_tools("debootstrap")
    suite, mirror = debian_release()
    base = Path(tempfile.mkdtemp(prefix="softphone-debroot-"))
    root = base / "root"
    try:
        done = run("debootstrap", "--variant=minbase", suite, str(root), mirror, timeout=900)
        if done.returncode != 0:
            pytest.fail(
                f"debootstrap {suite} from {mirror} failed (it needs the Debian mirror):\n{done.stdout[-3000:]}",
                pytrace=False,
            )
        shutil.copyfile("/etc/resolv.conf", root / "etc" / "resolv.conf")
        must("mount", "-t", "proc", "proc", str(root / "proc"))
        shutil.copyfile(artefacts.deb, root / "tmp" / artefacts.deb.name)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8"}
        must(CHROOT, str(root), "apt-get", "update", "-q", timeout=600, env=env)
        must(
            CHROOT, str(root), "apt-get", "install", "-y", "-q", "--no-install-recommends",
            f"/tmp/{artefacts.deb.name}", timeout=900, env=env,
        )  # fmt: skip
        yield root
    finally:
        remove_root(root)
        shutil.rmtree(base, ignore_errors=True)


# debootstrap and apt fetch from the Debian mirror: more than the default 300 s on a slow line.
@pytest.mark.timeout(1200)
def test_clean_root_has_the_files_where_they_belong(clean_root: Path) -> None:
    listed = set(must(CHROOT, str(clean_root), "dpkg", "-L", "softphone").splitlines())
    for path in FILES:
        assert path in listed, f"dpkg -L softphone does not list {path}"
    status = must(CHROOT, str(clean_root), "dpkg-query", "-W", "-f=${Status}", "softphone")
    assert status == "install ok installed"


def test_clean_root_runs_the_client(clean_root: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
    out = must(CHROOT, str(clean_root), "softphone-cli", "--version", env=env)
    assert out.strip() == f"softphone-cli {__version__}"


def test_clean_root_opens_the_main_window(clean_root: Path, xvfb: str, output: Path) -> None:
    """The application from /usr/bin in the clean root, on the tests' X server (its socket bound in):
    the dependencies the .deb declares are all Qt needs to show a window."""
    sockets = clean_root / "tmp" / ".X11-unix"
    sockets.mkdir(exist_ok=True)
    must("mount", "--bind", "/tmp/.X11-unix", str(sockets))
    workdir = clean_root / "tmp" / "gui"
    workdir.mkdir()
    runtime = clean_root / "tmp" / "runtime"
    runtime.mkdir(mode=0o700)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DISPLAY": xvfb,
        "XDG_RUNTIME_DIR": "/tmp/runtime",
    }
    try:
        with gui_running([CHROOT, str(clean_root), "/usr/bin/softphone"], env, workdir, root=clean_root) as proc:
            shot = screenshot(xvfb, output / "deb-clean-root-main-window.png")
            loaded = mapped_files(proc.pid)
    finally:
        run("umount", str(sockets))
    assert_shows_a_window(shot)
    # /proc shows the files with the root's own path in front: all of them come from the clean root.
    assert str(clean_root / "opt/softphone/_internal/PySide6/Qt/plugins/platforms/libqxcb.so") in loaded
    assert any(name.startswith(str(clean_root / "usr/lib")) and "/libxcb-cursor.so" in name for name in loaded), (
        "Qt's xcb platform did not load the clean root's libxcb-cursor (a Debian package the .deb depends on)"
    )
    outside = sorted(name for name in loaded if not name.startswith((str(clean_root), "/memfd:", "/dev/")))
    assert not outside, f"loaded from outside the clean root: {outside}"


# --- a real install on this machine ------------------------------------------------------------------


def installed() -> bool:
    done = run("dpkg-query", "-W", "-f=${Status}", "softphone")
    return done.returncode == 0 and "installed" in done.stdout and "not-installed" not in done.stdout


def dpkg(*args: str) -> subprocess.CompletedProcess[str]:
    """dpkg, waiting (bounded) while another package manager holds the lock."""
    deadline = time.monotonic() + 300
    while True:
        done = run("dpkg", *args, timeout=300)
        if done.returncode == 0 or "lock" not in done.stderr or time.monotonic() > deadline:
            return done
        time.sleep(1)


def test_real_install_handles_sip_links(artefacts: Artefacts, tmp_path: Path) -> None:
    need_tools("xdg-mime", "update-desktop-database")
    if installed():
        pytest.fail("softphone is installed on this machine; this test installs and removes it: dpkg --purge it first")
    home = tmp_path / "home"
    home.mkdir()
    try:
        done = dpkg("-i", str(artefacts.deb))
        assert done.returncode == 0, (
            f"dpkg -i failed (are the Depends installed? make test-dist does it):\n{done.stderr}"
        )
        listed = set(must("dpkg", "-L", "softphone").splitlines())
        assert all(path in listed for path in FILES), sorted(set(FILES) - listed)
        out = must("/usr/bin/softphone-cli", "--version", env=clean_env(home))
        assert out.strip() == f"softphone-cli {__version__}"
        cache = Path("/usr/share/applications/mimeinfo.cache").read_text(encoding="utf-8")
        for scheme in SCHEMES:
            assert re.search(rf"^x-scheme-handler/{scheme}=.*softphone\.desktop;", cache, re.MULTILINE), scheme
            handler = must("xdg-mime", "query", "default", f"x-scheme-handler/{scheme}", env=clean_env(home))
            assert handler.strip() == "softphone.desktop", f"{scheme}: links go to {handler.strip()!r}"
    finally:
        purged = dpkg("--purge", "softphone")
    assert purged.returncode == 0, purged.stderr
    assert not installed()
    for path in ("/opt/softphone", "/usr/bin/softphone", "/usr/share/applications/softphone.desktop"):
        assert not os.path.lexists(path), f"{path} is left after dpkg --purge"
    cache = Path("/usr/share/applications/mimeinfo.cache")
    assert not cache.exists() or "softphone.desktop" not in cache.read_text(encoding="utf-8")

"""The Nearby group of the buddy list, from real LAN discovery: ``docs/screenshots/nearby.png``.

Run from the repository root, as root (it builds network namespaces)::

    python docs/nearby_screenshot.py                  # writes docs/screenshots/nearby.png
    python docs/nearby_screenshot.py --out /tmp/shots

Nothing is staged. The script builds the bridged LAN lab of ``tests/netns_lab.py`` (hosts on one bridge,
multicast flooded, no way out to any other network) and starts ``softphone-cli --lan`` with no server as
Bob (host h2), and Carol and Dave (both on host h3; Dave takes no direct calls). Bob lets Alice see his
presence when she asks and is away for lunch. Alice's phone is the real main window (a LAN-only account,
Qt's offscreen platform) in host h1: it finds the others by mDNS/DNS-SD, watches their presence, and its
window is grabbed (``QWidget.grab()``) once the Nearby group shows all three and Bob's presence.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ALICE = "sip:alice@192.0.2.1"


def alice_window(out: Path) -> int:
    """In host h1: Alice's main window, grabbed once the three peers and Bob's presence are shown."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from softphone.gui.bridge import UaBridge
    from softphone.gui.main_window import MainWindow
    from softphone.store import Settings, Store
    from softphone.ua import Account, UserAgent, silence_media

    app = QApplication.instance() or QApplication([])
    work = Path(tempfile.mkdtemp(prefix="nearby-shot-"))
    store = Store(work / "alice.db")
    account = Account(ALICE, register=False, display_name="Alice")
    ua = UserAgent([account], media=silence_media(), store=store)
    bridge = UaBridge()
    window = MainWindow(
        bridge,
        store,
        Settings(),
        accounts=[account],
        settings_path=work / "settings.json",
        recordings_dir=work / "recordings",
        use_tray=False,
    )
    window.resize(420, 640)
    bridge.start(ua)
    window.show()
    buddies = window.buddy_list

    def ready() -> bool:
        rows = {c.name: buddies.row_text(c.id) for c in buddies.contacts.values() if c.id is not None and c.id < 0}
        return {"Bob", "Carol", "Dave"} <= set(rows) and "Away" in rows["Bob"]

    deadline = time.monotonic() + 60
    while not ready():
        if time.monotonic() > deadline:
            print("the Nearby group never showed Bob, Carol and Dave", file=sys.stderr)
            return 1
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.02)
    end = time.monotonic() + 0.6
    while time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    window.repaint()
    ok = window.grab().save(str(out))
    window.quitting = True
    window.close()
    bridge.stop()
    store.close()
    print(out if ok else f"cannot save {out}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="folder of the PNG")
    parser.add_argument("--inside", type=Path, help=argparse.SUPPRESS)  # Alice's window, run in host h1
    args = parser.parse_args(argv)
    if args.inside is not None:
        return alice_window(args.inside)

    from tests.integration.test_lan_discovery import LanPhone
    from tests.netns_lab import LanLab

    out = args.out.resolve() / "nearby.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    lab = LanLab(hosts=3).start()
    work = Path(tempfile.mkdtemp(prefix="nearby-peers-"))
    try:
        bob = LanPhone(lab, "h2", "bob", work, name="Bob", listen=("0.0.0.0:5060",))
        LanPhone(lab, "h3", "carol", work, name="Carol", listen=("0.0.0.0:5060",))
        LanPhone(lab, "h3", "dave", work, "--direct-calls", "off", name="Dave", listen=("0.0.0.0:5070",))
        bob.wait_for(event="lan_announce", state="announced")
        bob.send("status away lunch")
        alice = lab.popen("h1", [sys.executable, str(Path(__file__).resolve()), "--inside", str(out)])
        bob.wait_for(event="watcher", state="pending", uri=ALICE, timeout=60)
        bob.send(f"allow {ALICE}")
        code = alice.wait(timeout=90)
    finally:
        lab.stop()
    print(f"{out}: {'written' if code == 0 else 'not written'}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())

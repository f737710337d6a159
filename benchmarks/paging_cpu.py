"""CPU of multicast paging: a listening phone idle, hearing a page, and under a flood of garbage; a sender.

Run from the repository root, as root (it builds tests/netns_lab.py's bridged LAN)::

    python benchmarks/paging_cpu.py            # 10 s per row
    python benchmarks/paging_cpu.py --quick    # 3 s per row

Each row is one softphone-cli process (``--no-audio``: pages are decoded, nothing is played) whose
user + system CPU is read from ``/proc/PID/stat`` before and after the interval, in seconds of CPU per
10 s. The flood is a raw socket in another host sending as fast as it can (200 datagrams every 10 ms at
most): a third random bytes
to a group whose allow-list leaves that host out; to a group open to anyone, a third RTP of a payload
type the group does not take and a third RTP of PCMU with a new SSRC in every packet (no source ever
passes probation).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.test_cli import CliProcess
from tests.netns_lab import LanLab
from tests.ua.test_media_wiring import write_tone

GROUP = "239.255.40.1:5004"
OPEN_GROUP = "239.255.40.2:5004"
FLOOD = (
    "import os, socket, struct, sys, time\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "end = time.monotonic() + float(sys.argv[1]); n = 0\n"
    "while time.monotonic() < end:\n"
    "    for _ in range(200):\n"
    "        n += 1\n"
    "        kind = n % 3\n"
    "        if kind == 0:\n"
    "            s.sendto(os.urandom(100), ('239.255.40.1', 5004))\n"
    "            continue\n"
    "        header = struct.pack('!BBHII', 0x80, 96 if kind == 1 else 0, n & 0xFFFF, n * 160, n)\n"
    "        s.sendto(header + bytes(160), ('239.255.40.2', 5004))\n"
    "    time.sleep(0.01)\n"
    "print(n)\n"
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phone(lab: LanLab, host: str, *extra: str) -> CliProcess:
    address = f"{lab.address(host)}:5060"
    cli = CliProcess(None, *extra, audio=("--no-audio",), prefix=lab.command(host, []), listen=address)
    lab.processes.append(cli.proc)
    cli.send("ping")
    cli.wait_for(event="error")
    return cli


def measure(cli: CliProcess, seconds: float) -> float:
    before = cpu_seconds(cli.proc.pid)
    time.sleep(seconds)
    return (cpu_seconds(cli.proc.pid) - before) * 10.0 / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    seconds = 3.0 if parser.parse_args().quick else 10.0
    lab = LanLab(hosts=3).start()
    rows: list[tuple[str, float]] = []
    try:
        allowed = lab.address("h1")
        listener = phone(lab, "h2", "--page-listen", f"{GROUP}/10={allowed}", "--page-listen", OPEN_GROUP)
        tone = write_tone(lab.workdir / "tone.wav", 800.0, seconds=2.0)
        sender = CliProcess(None, "--play", str(tone), audio=(), prefix=lab.command("h1", []), listen=f"{allowed}:5060")
        lab.processes.append(sender.proc)
        sender.send("ping")
        sender.wait_for(event="error")
        rows.append(("listening, no page", measure(listener, seconds)))
        for codec in ("g722", "pcmu", "opus"):
            sender.send(f"page {GROUP} {codec}")
            name = {"g722": "G722", "pcmu": "PCMU"}.get(codec, codec)
            started = listener.wait_for(event="page_started", codec=name)
            time.sleep(0.5)
            sender_before = cpu_seconds(sender.proc.pid)
            rows.append((f"hearing a {codec} page", measure(listener, seconds)))
            rows.append((f"sending a {codec} page", (cpu_seconds(sender.proc.pid) - sender_before) * 10.0 / seconds))
            sender.send("endpage")
            listener.wait_for(event="page_ended", page_id=started["page_id"])
        flood = lab.popen("h3", [sys.executable, "-c", FLOOD, str(seconds + 1)], stdout=-1, stderr=-1)
        time.sleep(0.5)
        flood_cpu = measure(listener, seconds)
        out, _err = flood.communicate(timeout=seconds + 30)
        listener.send("pages")
        refused = {g["group"]: g["dropped"] for g in listener.wait_for(event="pages")["groups"]}
        sent = int(out.strip() or 0)
        flooder = lab.address("h3")
        flood_pages = [e for e in listener.events if e.get("event") == "page_started" and e["source"] == flooder]
        rows.append((f"listening, {sent / (seconds + 1):,.0f} garbage datagrams/s", flood_cpu))
        for cli in (listener, sender):
            cli.close()
    finally:
        lab.stop()
    print(f"{'what':<42} {'CPU s per 10 s':>15}")
    for name, cpu in rows:
        print(f"{name:<42} {cpu:>15.3f}")
    print(f"flood: {sent} datagrams sent, refused by the listener: {refused}; pages it started: {len(flood_pages)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""SRTP interop with linphonec (Debian's linphone-cli), both directions: SDES and DTLS-SRTP.

linphonec and softphone-cli run together in a private network namespace (``tests/linphone_interop.py``
under ``unshare -n``): each plays a tone and records what it hears; the call must be encrypted with
the key exchange asked for (DTLS: linphonec's certificate matched its fingerprint) and each tone must
be heard at the other end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.linphone_interop import OUR_TONE, PACKETS, THEIR_TONE

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize("keys", ["sdes", "dtls"])
@pytest.mark.parametrize("caller", ["softphone", "linphone"])
def test_encrypted_call_with_linphonec(keys: str, caller: str, tmp_path: Path) -> None:
    if shutil.which("linphonec") is None or shutil.which("unshare") is None:
        pytest.fail("linphonec or unshare is missing: apt-get install -y linphone-cli util-linux", pytrace=False)
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tests.linphone_interop", keys, caller, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    logs = "".join(
        f"\n--- {name}:\n{(tmp_path / name).read_text(errors='replace')[-2500:]}"
        for name in ("softphone.log", "linphonec.log")
        if (tmp_path / name).exists()
    )
    assert done.returncode == 0, f"{done.stderr[-3000:]}{logs}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (encryption,) = result["encryption"][-1:]
    assert encryption["encrypted"] and encryption["key_exchange"] == keys, result
    if keys == "dtls":
        assert encryption["verified"], result
    assert result["packets_received"] >= PACKETS, result
    for side, tone in (("softphone_heard", THEIR_TONE), ("linphone_heard", OUR_TONE)):
        assert result[side]["rms"] > 0.05 and abs(result[side]["hz"] - tone) < 20.0, (side, result)

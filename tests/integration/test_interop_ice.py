"""ICE interop with baresip's ice module (Debian package), both directions, in a private network namespace.

tests/ice_interop.py runs the call under ``unshare -n`` with one veth interface (baresip would otherwise
offer candidates on every interface of the machine); both sides' tones are checked by FFT, and our side
must have chosen the host pair, with the roles RFC 8445 6.1.1 gives (the offerer controls) and no check of
either side refused.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ice_interop import HOST, OUR_TONE, SETUP

# Own servers, ports or namespaces and no sound devices: make test runs these two at a time.
pytestmark = pytest.mark.parallel

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("caller", ["softphone", "baresip"])
def test_ice_call_with_baresip(caller: str, tmp_path: Path) -> None:
    if shutil.which("unshare") is None or shutil.which("baresip") is None:
        pytest.fail("unshare or baresip is missing: apt-get install -y util-linux baresip", pytrace=False)
    script = f"{SETUP} && exec {sys.executable} -m tests.ice_interop {caller} {tmp_path}"
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ice"] and result["rtcp_mux"], result
    assert result["controlling"] is (caller == "softphone"), result
    assert result["remote_candidates"] and all(f" {HOST} " in c for c in result["remote_candidates"]), result
    assert result["path"] == "host" and result["remote"].startswith(f"{HOST}:"), result
    counters = result["counters"]
    assert counters["ice_answered"] >= 1 and not [k for k in counters if k.startswith("ice_dropped")], result
    assert abs(result["baresip_heard"] - OUR_TONE) < 20.0, result


@pytest.mark.parametrize("caller", ["softphone", "baresip"])
def test_ice_video_call_with_baresip(caller: str, tmp_path: Path) -> None:
    """baresip's ice module runs ICE on every stream: its video line's candidates and checks meet ours on the
    video port, the video's ICE selects its host pair, and the pictures go both ways after it."""
    if shutil.which("unshare") is None or shutil.which("baresip") is None:
        pytest.fail("unshare or baresip is missing: apt-get install -y util-linux baresip", pytrace=False)
    script = f"{SETUP} && exec {sys.executable} -m tests.ice_interop {caller} {tmp_path} video"
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["path"] == "host" and result["video_ice"], result
    assert result["video_path"] == "host" and result["video_remote"].startswith(f"{HOST}:"), result
    assert result["video_remote"] != result["remote"] and result["video_local"] != result["local"], result
    assert result["video_remote_candidates"] and all(f" {HOST} " in c for c in result["video_remote_candidates"])
    # baresip gives its credentials once, at the session level, for both streams (RFC 8839 5.4).
    assert result["video_remote_ufrag"] == result["audio_remote_ufrag"], result
    assert result["frames_decoded"] >= 45 and result["frames_sent"] >= 45, result
    assert abs(result["baresip_heard"] - OUR_TONE) < 20.0, result

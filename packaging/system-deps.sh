#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the softphone needs that are missing.
# Usage: packaging/system-deps.sh PACKAGE...   (as root it installs; otherwise
# it prints the exact command to run and fails). Quiet and quick when nothing
# is missing.
set -euo pipefail

missing=()
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
# A Python without the venv module (Debian's python3 without python3-venv).
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    missing+=("python3-venv")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing system packages: ${missing[*]} (install them with your package manager)" >&2
    exit 1
fi
cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages. Run:" >&2
    echo "  sudo apt-get update && sudo ${cmd[*]}" >&2
    exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
"${cmd[@]}"

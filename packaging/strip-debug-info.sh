#!/usr/bin/env bash
# Remove debug information from the ELF files of a bundle that carry it (a Python built from source
# brings tens of megabytes of it). Only those files are touched: the libraries of wheels are already
# stripped, and running strip over them can break them (auditwheel's patched OpenBLAS).
# Usage: packaging/strip-debug-info.sh DIR
set -euo pipefail
dir=${1:?usage: strip-debug-info.sh DIR}
find "$dir" -type f \( -name '*.so' -o -name '*.so.*' \) -print0 |
    while IFS= read -r -d '' file; do
        sections=$(readelf -S "$file" 2>/dev/null || true)
        if [[ $sections == *.debug_info* ]]; then
            strip --strip-debug "$file"
        fi
    done

#!/usr/bin/env bash
# The README's main command on a fresh clone must measure the LD_PRELOAD shim: clone the
# committed tree into an empty directory (its own target/, nothing prebuilt), run
# `cargo run --release -p nemo-bench` there (restricted to the preload_cond row and --quick to
# keep it short; the build is the same), and fail unless every preload_cond row was measured
# and names the shared object it loaded.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone --quiet --no-hardlinks "$repo" "$work/nemo"
cd "$work/nemo"
unset NEMO_PRELOAD_LIB
cargo run --release -p nemo-bench -- unicast --quick --mechanisms preload_cond --json "$work/out.json"
python3 - "$work/out.json" <<'PY'
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))["results"] if r["mechanism"] == "preload_cond"]
assert rows, "no preload_cond row"
for r in rows:
    assert "skipped" not in r and "error" not in r, r
    assert "libnemo_preload.so" in r.get("note", ""), r
    print(f"preload_cond {r['regime']}: p50 {r['p50']} ns, {r['note']}")
PY

#!/usr/bin/env bash
# Report rendering at scale: writes a synthetic run store of N samples (default 1 000 000),
# then renders its full report (PNG, SVG, HTML, Markdown, CSV) under `atlasperf profile`,
# which prints the renderer's wall time and peak memory. Goal: < 5 s and < 500 MB at 1 M.
#
# Usage: scripts/bench-report.sh [SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
samples="${1:-1000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atlasperf-target}"
cargo build --release -q -p atlasperf-harness
cargo build --release -q -p atlasperf-reports --example synthetic_store
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$CARGO_TARGET_DIR/release/examples/synthetic_store" "$work/store" "$samples"
du -sh "$work/store/samples.parquet"
"$CARGO_TARGET_DIR/release/atlasperf" profile --out "$work/profile" -- \
  "$CARGO_TARGET_DIR/release/atlasperf" report "$work/store" --out "$work/report" > /dev/null
du -sh "$work/report"

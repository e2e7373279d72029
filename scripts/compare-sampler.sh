#!/usr/bin/env bash
# Sampler overhead, side by side: the CPU time `atlasperf agent` spends monitoring a job at
# 10 Hz versus psrecord (--include-children --include-io) on the same calibrated workload,
# each monitor's own CPU read from /proc the same way, plus tick lateness.
# Usage: scripts/compare-sampler.sh [CPU_SECONDS_PER_PROCESS] [RUNS]
#        (psrecord goes into a venv at $ATLASPERF_PSRECORD or ~/.cache/atlasperf-psrecord)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atlasperf-target}"
venv="${ATLASPERF_PSRECORD:-$HOME/.cache/atlasperf-psrecord}"
if [ ! -x "$venv/bin/psrecord" ]; then
  echo "installing psrecord into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet psrecord
fi
cargo build --release --quiet --bin atlasperf
python3 scripts/sampler/monitor_cost.py --atlasperf "$CARGO_TARGET_DIR/release/atlasperf" \
  --psrecord "$venv/bin/psrecord" --cpu-seconds "${1:-10}" --reps "${2:-2}"

#!/usr/bin/env bash
# Measures whether `atlasperf compare` can be trusted as a CI gate on this machine:
#   A/A  identical code compared with `--max-ratio 1.10`: how often the gate cries wolf, for
#        single runs (consecutive runs of one scenario) and for interleaved groups of 3;
#   A/B  the same scenario with 30 % and 10 % more registration iterations (the fast preset's
#        100/50/10), interleaved groups of 3: how often the registration stage is called
#        "higher".
# Prints one line per comparison — registration mean job time and CPU-hours, each B / A with
# its interval and verdict; the exit code of the default gate (work, memory, I/O) and of the
# gate with --gate-time; each side's largest foreign load — and a summary.
#
# usage: scripts/noise-gate.sh [--out DIR] [--scenario FILE] [--pairs N] [--skip-ab] [--side-by-side] [--rejudge]
# Defaults: scenarios/quick.toml, 20 comparisons of each kind; about 35 minutes on 2 cores.
# --side-by-side runs each group's A and B repetitions at the same time (`run --side-by-side`;
# compare pairs them) and skips the single-run series; about 25 minutes.
# --rejudge compares the runs already in --out again (after a change to compare) without
# running anything. Nothing else should run meanwhile (each run's conditions say if it did).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out="" scenario="" pairs=20 skip_ab=0 rejudge=0 side_by_side=0
parse_options "out scenario pairs" "skip-ab side-by-side rejudge" "$@"
positive_ints pairs
build_atlasperf
output_dir
scenario="${scenario:-$root/scenarios/quick.toml}"

# The fast preset's registration iterations scaled by FACTOR, as a --set value.
iterations() {
  python3 -c "import sys; f=float(sys.argv[1]); print('stages.registration.iterations=[%s]' % ', '.join(str(round(i*f)) for i in (100, 50, 10)))" "$1"
}

# A row of the registration section of a comparison: "ratio [CI] | verdict".
row() { # MARKDOWN QUANTITY
  printf '%s\n' "$1" | awk -v q="$2" '/^### Image Registration/{s=1} s && index($0, "| " q " |") == 1 {
    split($0, f, "|"); gsub(/^ +| +$/, "", f[5]); gsub(/^ +| +$/, "", f[6]); printf "%s %s", f[5], f[6]; exit }'
}

judge() { # LABEL A B
  local md code=0 timed=0
  md="$("$ap" compare "$2" "$3" --max-ratio 1.10 2>/dev/null)" || code=$?
  "$ap" compare "$2" "$3" --max-ratio 1.10 --gate-time >/dev/null 2>&1 || timed=$?
  printf '%-10s time %-36s cpu %-36s gate %s timed-gate %s foreign %s / %s\n' "$1" \
    "$(row "$md" "mean job time")" "$(row "$md" "CPU-hours")" "$code" "$timed" "$(foreign "$2")" "$(foreign "$3")"
}

foreign() { # RUN_OR_GROUP
  python3 - "$1" <<'PY'
import json, os, sys
p = sys.argv[1]
runs = [p]
g = os.path.join(p, "group.json")
if os.path.exists(g):
    runs = [os.path.join(p, r) for r in json.load(open(g))["runs"]]
v = [json.load(open(os.path.join(r, "run.json"))).get("conditions", {}).get("foreign_cpu_cores_mean") for r in runs]
v = [x for x in v if x is not None]
print("%.2f" % max(v) if v else "-")
PY
}

group() { # DIR [--interleave-set VALUE]
  [ "$rejudge" = 1 ] && return 0
  local sbs=()
  [ "$side_by_side" = 1 ] && sbs=(--side-by-side)
  "$ap" run "$scenario" --repeat 3 --interleave "$scenario" "${sbs[@]}" "${@:2}" --out "$1" >/dev/null 2>"$1.log"
}

if [ "$side_by_side" = 0 ]; then
  echo "== A/A, single runs: $((pairs + 1)) runs of $(basename "$scenario"), each against the next"
  if [ "$rejudge" = 0 ]; then
    "$ap" run "$scenario" --repeat $((pairs + 1)) --out "$out/aa-single" >/dev/null 2>"$out/aa-single.log"
  fi
  for i in $(seq 1 "$pairs"); do
    a="$(printf 'r%02d' "$i")" b="$(printf 'r%02d' $((i + 1)))"
    judge "$a-$b" "$out/aa-single/$a" "$out/aa-single/$b"
  done | tee "$out/aa-single.txt"
fi

how="interleaved ABBA"
[ "$side_by_side" = 1 ] && how="side by side"
echo "== A/A, groups of 3, $how"
for i in $(seq 1 "$pairs"); do
  group "$out/aa-group-$i"
  judge "group $i" "$out/aa-group-$i/a" "$out/aa-group-$i/b"
done | tee "$out/aa-group.txt"

if [ "$skip_ab" = 0 ]; then
  for f in 1.3 1.1; do
    echo "== A/B, registration iterations x$f, groups of 3, $how"
    for i in $(seq 1 "$pairs"); do
      group "$out/ab-$f-$i" --interleave-set "$(iterations "$f")"
      judge "x$f $i" "$out/ab-$f-$i/a" "$out/ab-$f-$i/b"
    done | tee "$out/ab-$f.txt"
  done
fi

echo "== summary"
count() { grep -c -- "$2" "$1" || true; }
for k in single group; do
  f="$out/aa-$k.txt"
  [ -f "$f" ] || continue
  echo "A/A $k: false alarms $(count "$f" ' gate 1') of $pairs (default gate), $(count "$f" 'timed-gate 1') with --gate-time"
done
if [ "$skip_ab" = 0 ]; then
  for f in 1.3 1.1; do
    t="$out/ab-$f.txt"
    echo "A/B x$f iterations: registration CPU-hours higher in $(grep -c 'cpu [^|]*\*\*higher\*\*' "$t" || true), mean job time higher in $(grep -c 'time [^|]*\*\*higher\*\* *cpu' "$t" || true), default gate failed in $(count "$t" ' gate 1') of $pairs"
  done
fi

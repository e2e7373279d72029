#!/usr/bin/env bash
# Measures whether `atlasperf compare` can be trusted as a CI gate on this machine:
#   A/A  identical code compared with `--max-ratio 1.10`: how often the gate cries wolf,
#        for single runs (consecutive runs of one scenario) and for interleaved groups of 3;
#   A/B  the same scenario with 30 % and 10 % more registration iterations, interleaved
#        groups of 3: how often the registration stage is called "higher".
# Prints one line per comparison (ratio of registration mean job time with its interval, the
# verdict, the gate's exit code, each side's largest foreign load) and a summary.
#
# usage: scripts/noise-gate.sh [--out DIR] [--scenario FILE] [--pairs N] [--skip-ab]
# Defaults: scenarios/quick.toml, 20 comparisons of each kind; about 40 minutes on 2 cores.
# Nothing else should run meanwhile (the conditions of each run say whether something did).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="" scenario="$root/scenarios/quick.toml" pairs=20 ab=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --scenario) scenario="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    --skip-ab) ab=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atlasperf-target}"
(cd "$root" && cargo build --release --quiet --bin atlasperf)
ap="$CARGO_TARGET_DIR/release/atlasperf"
if [ -z "$out" ]; then out="$(mktemp -d)"; fi
mkdir -p "$out"
echo "runs in $out" >&2

# The registration scale of the fast and paper presets' iterations, as a --set value.
iterations() { # FACTOR
  python3 -c "import sys; f=float(sys.argv[1]); print('stages.registration.iterations=[%s]' % ', '.join(str(round(i*f)) for i in (100, 50, 10)))" "$1"
}

# One comparison's line: label, registration mean job time ratio [CI], verdict, gate code.
judge() { # LABEL A B
  local md code=0
  md="$("$ap" compare "$2" "$3" --max-ratio 1.10 2>/dev/null)" || code=$?
  local row
  row="$(printf '%s\n' "$md" | awk '/^### Image Registration/{s=1} s && /^\| mean job time /{print; exit}')"
  local ratio verdict
  ratio="$(printf '%s' "$row" | awk -F'|' '{gsub(/^ +| +$/, "", $5); print $5}')"
  verdict="$(printf '%s' "$row" | awk -F'|' '{gsub(/^ +| +$/, "", $6); print $6}')"
  local fa fb
  fa="$(foreign "$2")" fb="$(foreign "$3")"
  printf '%-14s %-26s %-14s gate %s  foreign %s / %s\n' "$1" "$ratio" "$verdict" "$code" "$fa" "$fb"
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

echo "== A/A, single runs: $((pairs + 1)) runs of $(basename "$scenario"), each against the next"
"$ap" run "$scenario" --repeat $((pairs + 1)) --out "$out/aa-single" >/dev/null 2>"$out/aa-single.log"
for i in $(seq 1 "$pairs"); do
  a="$(printf 'r%02d' "$i")" b="$(printf 'r%02d' $((i + 1)))"
  judge "$a-$b" "$out/aa-single/$a" "$out/aa-single/$b"
done | tee "$out/aa-single.txt"

echo "== A/A, groups of 3, interleaved ABBA"
for i in $(seq 1 "$pairs"); do
  d="$out/aa-group-$i"
  "$ap" run "$scenario" --repeat 3 --interleave "$scenario" --out "$d" >/dev/null 2>"$d.log"
  judge "group $i" "$d/a" "$d/b"
done | tee "$out/aa-group.txt"

if [ "$ab" = 1 ]; then
  for f in 1.3 1.1; do
    echo "== A/B, registration iterations x$f, groups of 3, interleaved ABBA"
    for i in $(seq 1 "$pairs"); do
      d="$out/ab-$f-$i"
      "$ap" run "$scenario" --repeat 3 --interleave "$scenario" --interleave-set "$(iterations "$f")" \
        --out "$d" >/dev/null 2>"$d.log"
      judge "x$f $i" "$d/a" "$d/b"
    done | tee "$out/ab-$f.txt"
  done
fi

echo "== summary"
count() { grep -c "$2" "$1" || true; }
echo "A/A single runs: $(count "$out/aa-single.txt" 'gate 1') false alarms in $pairs (gate --max-ratio 1.10)"
echo "A/A groups of 3: $(count "$out/aa-group.txt" 'gate 1') false alarms in $pairs"
if [ "$ab" = 1 ]; then
  for f in 1.3 1.1; do
    echo "A/B x$f iterations: registration called higher in $(count "$out/ab-$f.txt" 'higher') of $pairs"
  done
fi

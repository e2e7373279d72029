#!/usr/bin/env bash
# Registers the same phantom pair with ANTs (paper parameters), greedy (its usual settings)
# and atlasperf (paper settings and the fast preset), each as its own process with wall time
# and peak RSS taken the same way (GNU time), and prints Dice, time, memory and ratios.
# With --runs N every method runs N times, interleaved (ANTs, greedy, atlasperf, then again),
# and the table gives medians with the range over the runs.
#
# usage: scripts/compare-anchors.sh [--shape X,Y,Z] [--spacing MM] [--threads N] [--seed S]
#                                   [--runs N] [--skip-ants]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
shape=80,100,80 spacing=2 threads=2 seed=1 skip_ants=0 runs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --shape) shape="$2"; shift 2 ;;
    --spacing) spacing="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --skip-ants) skip_ants=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$runs" in ''|*[!0-9]*|0) echo "--runs takes a positive integer, got '$runs'" >&2; exit 2 ;; esac
command -v /usr/bin/time >/dev/null || { echo "GNU time is needed: apt-get install -y time" >&2; exit 2; }
"$here/install-anchors.sh" >/dev/null
py="${ATLASPERF_ANCHORS:-$HOME/.cache/atlasperf-anchors}/bin/python"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atlasperf-target}"
(cd "$root" && cargo build --release --quiet --bin atlasperf)
ap="$CARGO_TARGET_DIR/release/atlasperf"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$ap" phantom --out "$work/c" --subjects 2 --shape "$shape" --spacing "$spacing" --seed "$seed" >/dev/null
fixed="$work/c/sub01_t1.nii.gz" moving="$work/c/sub02_t1.nii.gz"
labels="$work/c/sub02_labels.nii.gz" truth="$work/c/sub01_labels.nii.gz"
export ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="$threads" OMP_NUM_THREADS="$threads"

results="$work/results.tsv"
: > "$results"
# Smallest Jacobian determinant of a deformable map: from atlasperf's summary, or computed
# by ANTs from an ITK displacement field (ANTs' and greedy's warps).
min_jacobian() { # output prefix, warp file or "summary"
  if [ "$2" = summary ]; then
    "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["stages"]["min_jacobian"])' "${1}summary.json"
  else
    "$py" -c 'import sys, ants; f = ants.image_read(sys.argv[1]); print(ants.create_jacobian_determinant_image(f, sys.argv[2]).numpy().min())' "$fixed" "$2"
  fi
}

measure() { # name, output prefix, warp file or "summary", command...
  local name="$1" prefix="$2" warp="$3"; shift 3
  echo "running $name (run $run of $runs) ..." >&2
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$work/$name.log" 2>&1 \
    || { echo "$name failed; log:" >&2; tail -20 "$work/$name.log" >&2; return 1; }
  local dice jac
  dice=$("$ap" eval dice --json "$truth" "${prefix}warped_labels.nii.gz" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["mean_dice"])')
  jac=$(min_jacobian "$prefix" "$warp")
  read -r wall rss_kb < "$work/$name.time"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$dice" "$wall" "$rss_kb" "$jac" >> "$results"
}

unreg=$("$ap" eval dice --json "$truth" "$labels" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["mean_dice"])')
for run in $(seq 1 "$runs"); do
[ "$skip_ants" = 1 ] || measure ants "$work/ants_" "$work/ants_1Warp.nii.gz" "$py" "$here/anchors/ants_register.py" "$fixed" "$moving" "$labels" "$work/ants_" genericLabel
measure greedy "$work/greedy_" "$work/greedy_warp.nii.gz" "$py" "$here/anchors/greedy_register.py" "$fixed" "$moving" "$labels" "$work/greedy_" "$threads"
measure atlasperf-paper "$work/ap_" summary "$ap" kernel register --label-interpolation linear --threads "$threads" --fixed "$fixed" --moving "$moving" --moving-labels "$labels" --out "$work/ap_"
measure atlasperf-fast "$work/apf_" summary "$ap" kernel register --label-interpolation linear --preset fast --threads "$threads" --fixed "$fixed" --moving "$moving" --moving-labels "$labels" --out "$work/apf_"
done

voxels=$("$py" -c "import math, sys; print(math.prod(int(v) for v in sys.argv[1].split(',')))" "$shape")
"$py" - "$results" "$unreg" "$voxels" "$shape" "$spacing" "$threads" <<'PY'
import sys
path, unreg, voxels, shape, spacing, threads = sys.argv[1:7]
rows = [l.split("\t") for l in open(path).read().splitlines() if l]
runs = {}
for r in rows:
    runs.setdefault(r[0], []).append((float(r[1]), float(r[2]), int(r[3]) * 1024, float(r[4])))
median = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else sum(sorted(v)[len(v) // 2 - 1:len(v) // 2 + 1]) / 2
col = lambda name, i: [run[i] for run in runs[name]]
data = {name: tuple(median(col(name, i)) for i in range(4)) for name in runs}
n = max(len(v) for v in runs.values())
print(f"phantom pair {shape} voxels at {spacing} mm, {threads} threads; unregistered mean Dice {float(unreg):.4f}")
print("labels: ANTs genericLabel, greedy LABEL 0.2vox, atlasperf linear (per-label interpolation)")
if n > 1:
    print(f"medians of {n} runs; ranges below the table")
print(f"{'method':<16} {'Dice':>7} {'wall s':>8} {'peak MB':>8} {'B/voxel':>8} {'min Jac':>8} {'time vs ANTs':>12} {'time vs greedy':>14} {'Dice-ANTs':>9}")
for name, (dice, wall, rss, jac) in data.items():
    vs = lambda ref: f"{data[ref][1] / wall:.2f}x faster" if ref in data else "-"
    dd = f"{dice - data['ants'][0]:+.4f}" if "ants" in data else "-"
    print(f"{name:<16} {dice:7.4f} {wall:8.1f} {rss / 1e6:8.0f} {rss / int(voxels):8.0f} {jac:8.3f} {vs('ants'):>12} {vs('greedy'):>14} {dd:>9}")
if n > 1:
    for name in runs:
        d, w = col(name, 0), col(name, 1)
        line = f"{name:<16} Dice {min(d):.4f}-{max(d):.4f}, wall {min(w):.1f}-{max(w):.1f} s"
        for ref in ("ants", "greedy"):
            if ref in runs and ref != name:
                # Ratio per run: the runs are interleaved, so run k of both saw the same load.
                ratios = [a / b for a, b in zip(col(ref, 1), w)]
                line += f", {min(ratios):.2f}-{max(ratios):.2f}x faster than {ref}"
        print(line)
PY

#!/usr/bin/env bash
# Registers the same pairs with ANTs (paper parameters), greedy (its usual settings) and
# atlasperf (paper settings and the fast preset), each as its own process with wall time and
# peak RSS taken the same way (GNU time), and prints Dice, time, memory, the smallest Jacobian
# determinant and folded voxels of each method's warp, and ratios.
#
# --cohort phantom (default): our analytic phantom. --cohort real: subjects made from a real
# brain MRI template (the MNI ICBM 2009a template, fetched from PyPI by
# scripts/fetch-template.sh) with our own random warps, bias and noise; the grid is the head's
# bounding box at --spacing. --cohort colin: the same from a second real head, Colin 27
# (scripts/fetch-colin.sh), each subject's grid then turned to an oblique orientation of its
# own (scripts/anchors/oblique.py). --pairs N registers sub02..sub(N+1) to sub01.
# With --runs N every method runs N times, interleaved (ANTs, greedy, atlasperf, then again),
# and the table gives medians over runs and pairs with the range below it.
# With real ANTs at hand, atlasperf's transforms in ITK form (0GenericAffine.mat, 1Warp,
# 1InverseWarp) are applied by antsApplyTransforms and compared with atlasperf's own output.
#
# usage: scripts/compare-anchors.sh [--cohort phantom|real|colin] [--shape X,Y,Z] [--spacing MM]
#                                   [--pairs N] [--threads N] [--seed S] [--runs N] [--skip-ants]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cohort=phantom shape=80,100,80 spacing=2 threads=2 seed=1 skip_ants=0 runs=1 pairs=1
parse_options "cohort shape spacing pairs threads seed runs" "skip-ants" "$@"
positive_ints runs pairs threads
one_of cohort phantom real colin
need_gnu_time
anchors
build_atlasperf

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
subjects=$((pairs + 1))
if [ "$cohort" = real ]; then
  template="$("$here/fetch-template.sh")"
  "$ap" phantom --template "$template" --out "$work/c" --subjects "$subjects" --spacing "$spacing" --seed "$seed" >&2
elif [ "$cohort" = colin ]; then
  template="$("$here/fetch-colin.sh")"
  "$ap" phantom --template "$template" --out "$work/c" --subjects "$subjects" --spacing "$spacing" --seed "$seed" >&2
  "$py" "$here/anchors/oblique.py" "$work/c"
else
  "$ap" phantom --out "$work/c" --subjects "$subjects" --shape "$shape" --spacing "$spacing" --seed "$seed" >/dev/null
fi
fixed="$work/c/sub01_t1.nii.gz" truth="$work/c/sub01_labels.nii.gz"
export ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="$threads" OMP_NUM_THREADS="$threads"
dice_of() { "$ap" eval dice --json "$truth" "$1" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["mean_dice"])'; }

results="$work/results.tsv" itk="$work/itk.tsv"
: > "$results"; : > "$itk"
measure() { # name, output prefix, warp file or "summary", command...
  local name="$1" prefix="$2" warp="$3"; shift 3
  echo "running $name on pair $pair (run $run of $runs) ..." >&2
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$work/$name.log" 2>&1 \
    || { echo "$name failed; log:" >&2; tail -20 "$work/$name.log" >&2; return 1; }
  local dice jac
  dice=$(dice_of "${prefix}warped_labels.nii.gz")
  if [ "$warp" = summary ]; then
    jac=$("$py" -c 'import json,sys; s=json.load(open(sys.argv[1]))["stages"]; print(s["min_jacobian"], s["folded_voxels"])' "${prefix}summary.json")
  else
    jac=$("$py" "$here/anchors/jacobian.py" "$fixed" "$warp")
  fi
  read -r wall rss_kb < "$work/$name.time"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$dice" "$wall" "$rss_kb" "${jac% *}" "${jac#* }" "$pair" >> "$results"
}

voxels=$("$py" -c 'import gzip,struct,sys; h=gzip.open(sys.argv[1]).read(56); d=struct.unpack("<8h",h[40:56]); print(d[1]*d[2]*d[3])' "$fixed")
grid=$("$py" -c 'import gzip,struct,sys; h=gzip.open(sys.argv[1]).read(56); d=struct.unpack("<8h",h[40:56]); print(f"{d[1]}x{d[2]}x{d[3]}")' "$fixed")
unreg=""
for pair in $(seq 2 "$subjects"); do
  s=$(printf 'sub%02d' "$pair")
  moving="$work/c/${s}_t1.nii.gz" labels="$work/c/${s}_labels.nii.gz"
  # Oblique grids of their own (--cohort colin) have no voxelwise Dice before registration.
  unreg="$unreg $(dice_of "$labels" 2>/dev/null || echo nan)"
  for run in $(seq 1 "$runs"); do
    [ "$skip_ants" = 1 ] || measure ants "$work/ants_" "$work/ants_1Warp.nii.gz" "$py" "$here/anchors/ants_register.py" "$fixed" "$moving" "$labels" "$work/ants_" genericLabel
    measure greedy "$work/greedy_" "$work/greedy_warp.nii.gz" "$py" "$here/anchors/greedy_register.py" "$fixed" "$moving" "$labels" "$work/greedy_" "$threads"
    measure atlasperf-paper "$work/ap_" summary "$ap" kernel register --label-interpolation linear --threads "$threads" --fixed "$fixed" --moving "$moving" --moving-labels "$labels" --out "$work/ap_"
    measure atlasperf-fast "$work/apf_" summary "$ap" kernel register --label-interpolation linear --preset fast --threads "$threads" --fixed "$fixed" --moving "$moving" --moving-labels "$labels" --out "$work/apf_"
  done
  # The last run's transforms in ITK form, applied by real ANTs.
  for p in ap apf; do
    printf '%s\t%s\t%s\n' "$p" "$pair" "$("$py" "$here/anchors/check_itk_transforms.py" "$fixed" "$moving" "$labels" "$work/${p}_")" >> "$itk"
  done
done

"$py" - "$results" "$itk" "$unreg" "$voxels" "$grid" "$spacing" "$threads" "$cohort" <<'PY'
import sys
path, itk, unreg, voxels, grid, spacing, threads, cohort = sys.argv[1:9]
rows = [l.split("\t") for l in open(path).read().splitlines() if l]
runs = {}
for r in rows:
    runs.setdefault(r[0], []).append((float(r[1]), float(r[2]), int(r[3]) * 1024, float(r[4]), int(r[5]), r[6]))
median = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else sum(sorted(v)[len(v) // 2 - 1:len(v) // 2 + 1]) / 2
col = lambda name, i: [run[i] for run in runs[name]]
data = {name: tuple(median(col(name, i)) for i in range(3)) for name in runs}
unreg = [float(v) for v in unreg.split()]
what = {"real": "real-anatomy (MNI ICBM 2009a template, our warps)",
        "colin": "real-anatomy (Colin 27, our warps, oblique grids)"}.get(cohort, "phantom")
before = f"{sum(unreg) / len(unreg):.4f}" if all(u == u for u in unreg) else "n/a (each subject on a grid of its own)"
print(f"{what} pairs, {grid} voxels at {spacing} mm, {threads} threads; {len(unreg)} pair(s); unregistered mean Dice {before}")
print("labels: ANTs genericLabel, greedy LABEL 0.2vox, atlasperf linear (per-label interpolation)")
n = max(len(v) for v in runs.values())
print(f"medians of {n} registrations per method (runs x pairs); min Jacobian and folded voxels: the worst of them")
print(f"{'method':<16} {'Dice':>7} {'wall s':>8} {'peak MB':>8} {'B/voxel':>8} {'min Jac':>8} {'folded':>7} {'time vs ANTs':>12} {'time vs greedy':>14} {'Dice-ANTs':>9} {'Dice-greedy':>11}")
for name, (dice, wall, rss) in data.items():
    vs = lambda ref: f"{wall / data[ref][1]:.2f}x" if ref in data else "-"
    dd = lambda ref: f"{dice - data[ref][0]:+.4f}" if ref in data else "-"
    print(f"{name:<16} {dice:7.4f} {wall:8.1f} {rss / 1e6:8.0f} {rss / int(voxels):8.0f} {min(col(name, 3)):8.3f} {max(col(name, 4)):7d} {vs('ants'):>12} {vs('greedy'):>14} {dd('ants'):>9} {dd('greedy'):>11}")
if n > 1:
    for name in runs:
        d, w = col(name, 0), col(name, 1)
        line = f"{name:<16} Dice {min(d):.4f}-{max(d):.4f}, wall {min(w):.1f}-{max(w):.1f} s"
        for ref in ("ants", "greedy"):
            if ref in runs and ref != name:
                # Ratio per registration: interleaved, so registration k of both saw the same load.
                ratios = [b / a for a, b in zip(col(ref, 1), w)]
                line += f", {min(ratios):.2f}-{max(ratios):.2f}x of {ref}'s time"
        print(line)
print("atlasperf's transforms in ITK form applied by antsApplyTransforms (last run of each pair):")
for l in open(itk).read().splitlines():
    p, pair, fc, ld, ic, ac = l.split()
    name = {"ap": "atlasperf-paper", "apf": "atlasperf-fast"}[p]
    print(f"  {name:<16} pair {pair}: forward image correlation {fc} inside the head, smallest per-label Dice {ld} (genericLabel vs ours); inverse pair maps the fixed image back with correlation {ic} (inverse affine alone {ac})")
PY

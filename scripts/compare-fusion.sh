#!/usr/bin/env bash
# Fuses the same registered atlases with antsJointFusion (command-line defaults, passed
# explicitly), atlasperf's joint label fusion and majority vote, each as its own process with
# wall time and peak RSS taken by GNU time, and prints Dice, time, memory and ratios.
#
# --cohort real makes the subjects from the MNI ICBM 2009a template (scripts/fetch-template.sh)
# with our own warps; --mask fuses only inside the target's foreground (intensity above 10 % of
# its peak), the same mask file for antsJointFusion (-x) and atlasperf (--mask).
#
# usage: scripts/compare-fusion.sh [--cohort phantom|real] [--mask] [--shape X,Y,Z] [--spacing MM]
#                                  [--atlases N] [--threads N] [--seed S]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
shape=64,80,64 spacing=2.5 atlases=5 threads=2 seed=7 cohort=phantom mask=0
parse_options "cohort shape spacing atlases threads seed" "mask" "$@"
positive_ints atlases threads
one_of cohort phantom real
need_gnu_time
anchors
build_atlasperf
export ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="$threads" OMP_NUM_THREADS="$threads"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
case "$cohort" in
  real) "$ap" phantom --template "$("$here/fetch-template.sh")" --out "$work/c" --subjects $((atlases + 1)) --spacing "$spacing" --seed "$seed" >/dev/null ;;
  phantom) "$ap" phantom --out "$work/c" --subjects $((atlases + 1)) --shape "$shape" --spacing "$spacing" --seed "$seed" >/dev/null ;;
esac
target="$work/c/sub01_t1.nii.gz" truth="$work/c/sub01_labels.nii.gz"
ants_mask=() ap_mask=() mask_note="no mask"
if [ "$mask" = 1 ]; then
  mask_note=$("$py" - "$target" "$work/mask.nii.gz" <<'PY'
import sys, ants
t = ants.image_read(sys.argv[1])
m = ants.threshold_image(t, 0.1 * t.max(), t.max() + 1, 1, 0)
ants.image_write(m, sys.argv[2])
print(f"mask: the target's foreground, {m.numpy().mean() * 100:.0f} % of the grid")
PY
)
  ants_mask=(--mask "$work/mask.nii.gz") ap_mask=(--mask "$work/mask.nii.gz")
fi
images=() labels=()
for n in $(seq 2 $((atlases + 1))); do
  s=$(printf 'sub%02d' "$n")
  echo "registering $s to sub01 (atlasperf, fast preset, labels interpolated per label) ..." >&2
  "$ap" kernel register --preset fast --label-interpolation linear --threads "$threads" --fixed "$target" --moving "$work/c/${s}_t1.nii.gz" \
    --moving-labels "$work/c/${s}_labels.nii.gz" --out "$work/${s}_" >/dev/null
  images+=("$work/${s}_warped.nii.gz"); labels+=("$work/${s}_warped_labels.nii.gz")
done

dice_of() { "$ap" eval dice --json "$truth" "$1" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["mean_dice"])'; }
results="$work/results.tsv"
: > "$results"
measure() { # name, output, command...
  local name="$1" out="$2"; shift 2
  echo "running $name ..." >&2
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$work/$name.log" 2>&1 \
    || { echo "$name failed; log:" >&2; tail -20 "$work/$name.log" >&2; return 1; }
  read -r wall rss_kb < "$work/$name.time"
  printf '%s\t%s\t%s\t%s\n' "$name" "$(dice_of "$out")" "$wall" "$rss_kb" >> "$results"
}
best=0
for l in "${labels[@]}"; do best=$("$py" -c "print(max($best, $(dice_of "$l")))"); done
measure antsJointFusion "$work/ants_seg.nii.gz" "$py" "$here/anchors/ants_fuse.py" "$target" "$work/ants_seg.nii.gz" --images "${images[@]}" --labels "${labels[@]}" "${ants_mask[@]}"
measure atlasperf-jlf "$work/jlf.nii.gz" "$ap" kernel fuse --threads "$threads" --target "$target" \
  --atlas-images "${images[@]}" --atlas-labels "${labels[@]}" "${ap_mask[@]}" --out "$work/jlf.nii.gz"
measure atlasperf-majority "$work/mv.nii.gz" "$ap" kernel fuse --method majority --threads "$threads" --target "$target" \
  --atlas-labels "${labels[@]}" --out "$work/mv.nii.gz"

grid=$("$py" -c 'import gzip,struct,sys; h=gzip.open(sys.argv[1]).read(56); d=struct.unpack("<8h",h[40:56]); print(f"{d[1]}x{d[2]}x{d[3]}")' "$target")
"$py" - "$results" "$best" "$grid" "$spacing" "$atlases" "$threads" "$cohort" "$mask_note" <<'PY'
import sys
path, best, shape, spacing, atlases, threads, cohort, mask_note = sys.argv[1:9]
rows = [l.split("\t") for l in open(path).read().splitlines() if l]
data = {r[0]: (float(r[1]), float(r[2]), int(r[3]) * 1024) for r in rows}
print(f"{cohort} target {shape} voxels at {spacing} mm, {atlases} atlases, {threads} threads, {mask_note}; best single atlas Dice {float(best):.4f}")
print(f"{'method':<20} {'Dice':>7} {'wall s':>8} {'peak MB':>8} {'vs antsJointFusion':>20} {'Dice-ANTs':>9}")
ref = data.get("antsJointFusion")
for name, (dice, wall, rss) in data.items():
    ratio = f"{ref[1] / wall:.2f}x faster" if ref else "-"
    dd = f"{dice - ref[0]:+.4f}" if ref else "-"
    print(f"{name:<20} {dice:7.4f} {wall:8.1f} {rss / 1e6:8.0f} {ratio:>20} {dd:>9}")
PY

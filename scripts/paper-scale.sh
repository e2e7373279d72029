#!/usr/bin/env bash
# The paper's study at its own scale, predicted: real ANTs jobs measured alone at two image
# sizes (scenarios/calibrate-ants.toml at 3 mm and 2 mm: antsRegistration with the paper's
# settings and antsJointFusion, via antspyx), then `atlasperf simulate` of
# scenarios/paper-scale.toml (2 nodes × 8 cores × 32 GB, 3 slots, m = 4, n = 3, 1 mm) and two
# variants (4 slots per node; no limit). Prints each simulation's bands; the simulated run
# stores and their reports are in the output folder.
#
# usage: scripts/paper-scale.sh [--out DIR] [--samples K]
# About 10 minutes on 2 cores (the 2 mm fusion is most of it); calibrations already complete
# in DIR are kept.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out="runs/paper-scale" samples=50
parse_options "out samples" "" "$@"
positive_ints samples
anchors
build_atlasperf
output_dir
cals=()
for size in "[53, 67, 53]:3.0" "[80, 100, 80]:2.0"; do
  mm="${size##*:}" dir="$out/calibrate-${size##*:}mm"
  cals+=("$dir")
  if [ -f "$dir/run.json" ] && grep -q '"status": "complete"' "$dir/run.json"; then continue; fi
  rm -rf "$dir"
  echo "calibrating with ANTs at $mm mm ..." >&2
  "$ap" run "$root/scenarios/calibrate-ants.toml" --set "dataset.phantom.shape=${size%%:*}" \
    --set "dataset.phantom.spacing=$mm" --out "$dir" > "$dir.log" 2>&1 \
    || { tail -20 "$dir.log" >&2; exit 1; }
done
simulate() { # NAME, extra --set arguments...
  local name="$1"; shift
  rm -rf "${out:?}/$name"
  echo "== $name" >&2
  "$ap" simulate "$root/scenarios/paper-scale.toml" --profiles "${cals[@]}" --samples "$samples" \
    --out "$out/$name" "$@"
}
simulate paper-scale-3-slots
simulate paper-scale-4-slots --set 'cluster.nodes[0].slots=4' --set 'cluster.nodes[1].slots=4'
simulate paper-scale-unlimited --set scheduling.policy=unlimited

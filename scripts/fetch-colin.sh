#!/usr/bin/env bash
# Fetches a second real head for `atlasperf phantom --template`, not the MNI average: Colin 27
# (one man's head, 27 T1 scans averaged; Holmes et al., J Comput Assist Tomogr 1998), 1 mm,
# 181×217×181, skull, scalp and face kept, as Debian's mricron-data package carries it
# (ch2.nii.gz, and its brain, ch2bet.nii.gz). The package is downloaded with apt-get, never
# installed; its two files are checked against pinned SHA-256 sums. Grey- and white-matter
# probability maps are made from it here by ANTs' Atropos (k-means, 3 classes, inside the
# brain), from the anchors' antspyx (scripts/install-anchors.sh), so the folder holds what
# `phantom --template` reads: t1.nii.gz, gm.nii.gz, wm.nii.gz.
#
# usage: scripts/fetch-colin.sh [DIR]    (default: ~/.cache/atlasperf-colin)
# prints DIR on stdout when done.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$HOME/.cache/atlasperf-colin}"
declare -A sums=(
  [ch2]=a009051127f64dc3dd554d5f5b589870ea72106d9642c21b4e7093e478cfc309
  [ch2bet]=592a2d20abdf36eefcb540ca8958428040edffc1bc1a18ba1dcfbabac77c5dd1
)
if [ -f "$dir/t1.nii.gz" ] && [ -f "$dir/gm.nii.gz" ] && [ -f "$dir/wm.nii.gz" ]; then
  echo "$dir"
  exit 0
fi
mkdir -p "$dir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "downloading Debian's mricron-data (16 MB) for Colin 27 ..." >&2
if ! (cd "$tmp" && apt-get download mricron-data >/dev/null 2>&1); then
  echo "apt-get download failed; updating the package lists and trying again" >&2
  apt-get update -qq >&2
  (cd "$tmp" && apt-get download mricron-data >&2)
fi
dpkg-deb -x "$tmp"/mricron-data_*.deb "$tmp/x"
for n in ch2 ch2bet; do
  f="$tmp/x/usr/share/mricron/templates/$n.nii.gz"
  got="$(sha256sum "$f" | cut -d' ' -f1)"
  [ "$got" = "${sums[$n]}" ] || { echo "$f: SHA-256 $got, expected ${sums[$n]}" >&2; exit 1; }
done
py="${ATLASPERF_ANCHORS:-$HOME/.cache/atlasperf-anchors}/bin/python"
[ -x "$py" ] || "$here/install-anchors.sh" >&2
echo "segmenting grey and white matter with ANTs' Atropos (about a minute) ..." >&2
"$py" - "$tmp/x/usr/share/mricron/templates" "$dir" <<'PY'
import sys
import ants
src, out = sys.argv[1], sys.argv[2]
t1 = ants.image_read(f"{src}/ch2.nii.gz", pixeltype="float")
brain = ants.image_read(f"{src}/ch2bet.nii.gz", pixeltype="float")
mask = ants.threshold_image(brain, 1e-3, 1e9)
seg = ants.atropos(a=t1, x=mask, i="kmeans[3]", m="[0.1,1x1x1]", c="[5,0]")
csf, gm, wm = seg["probabilityimages"]  # classes in order of mean intensity
ants.image_write(t1, f"{out}/t1.nii.gz")
ants.image_write(gm, f"{out}/gm.nii.gz")
ants.image_write(wm, f"{out}/wm.nii.gz")
PY
echo "$dir"

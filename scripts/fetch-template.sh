#!/usr/bin/env bash
# Fetches a real brain MRI template for `atlasperf phantom --template`: the MNI ICBM 2009a
# symmetric T1 template and its grey- and white-matter probability maps (1 mm, 197×233×189),
# as the nilearn wheel on PyPI carries them. Only pip and Python's standard library are used;
# nothing is installed. The three files are checked against pinned SHA-256 sums.
#
# The template is © McConnell Brain Imaging Centre, Montreal Neurological Institute, McGill
# University (Fonov et al., NeuroImage 2011; Collins et al. 1999), under the MNI's permissive
# licence (use, copy, modify and distribute, keeping the copyright notice). atlasperf never
# commits or redistributes it.
#
# usage: scripts/fetch-template.sh [DIR]    (default: $ATLASPERF_TEMPLATE or ~/.cache/atlasperf-template)
# prints DIR on stdout when done.
set -euo pipefail
dir="${1:-${ATLASPERF_TEMPLATE:-$HOME/.cache/atlasperf-template}}"
wheel_version=0.14.1
declare -A sums=(
  [t1]=421a10e872fd6cadae7f61d358dffbcc1795a497d61ee76c5dda2503e1a1e9e6
  [gm]=97a5ca69bd24db37a9cb7b32525e1733a209af904129bf1cd36da06d24243bed
  [wm]=382d92812de4744f9c86c7a0e4f680dc317a0a50e4da1f0153618a6798c7b7db
)
ok() { for n in t1 gm wm; do
         [ -f "$dir/$n.nii.gz" ] || return 1
         [ "$(sha256sum "$dir/$n.nii.gz" | cut -d' ' -f1)" = "${sums[$n]}" ] || return 1
       done; }
if ok; then echo "$dir"; exit 0; fi
mkdir -p "$dir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "downloading nilearn $wheel_version (11.5 MB) from PyPI for its MNI template ..." >&2
python3 -m pip download --quiet --no-deps "nilearn==$wheel_version" -d "$tmp" >&2
python3 - "$tmp"/nilearn-*.whl "$tmp" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for n in ("t1", "gm", "wm"):
        name = f"nilearn/datasets/data/mni_icbm152_{n}_tal_nlin_sym_09a_converted.nii.gz"
        with open(f"{out}/{n}.nii.gz", "wb") as f:
            f.write(z.read(name))
PY
for n in t1 gm wm; do
  got="$(sha256sum "$tmp/$n.nii.gz" | cut -d' ' -f1)"
  if [ "$got" != "${sums[$n]}" ]; then
    echo "fetch-template: $n.nii.gz from nilearn $wheel_version has SHA-256 $got, expected ${sums[$n]}" >&2
    exit 1
  fi
  mv "$tmp/$n.nii.gz" "$dir/$n.nii.gz"
done
echo "$dir"

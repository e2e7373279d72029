#!/usr/bin/env bash
# Runs one of the anchor scripts in this folder with the anchors' Python (the venv made by
# scripts/install-anchors.sh), with ANTs/ITK limited to THREADS threads. Used by
# scenarios/paper-ants.toml as the registration and fusion commands.
#
# usage: scripts/anchors/run.sh THREADS SCRIPT.py ARGS...
#        scripts/anchors/run.sh --check        exit 0 when the anchors are installed
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${ATLASPERF_ANCHORS:-$HOME/.cache/atlasperf-anchors}"
py="$venv/bin/python"
missing() {
  echo "the ANTs anchors are not installed in $venv (no $py with antspyx)." >&2
  echo "install them with: scripts/install-anchors.sh   (or set ATLASPERF_ANCHORS to the venv)" >&2
  exit 2
}
if [ "${1:-}" = "--check" ]; then
  [ -x "$py" ] && "$py" -c 'import ants' 2>/dev/null || missing
  "$py" -c 'import ants; print("antspyx", ants.__version__, "in", "'"$venv"'")'
  exit 0
fi
[ $# -ge 2 ] || { echo "usage: $0 THREADS SCRIPT.py ARGS..." >&2; exit 2; }
threads="$1" script="$2"
shift 2
[ -x "$py" ] || missing
export ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="$threads" OMP_NUM_THREADS="$threads"
exec "$py" "$here/$script" "$@"

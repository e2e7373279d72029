#!/usr/bin/env bash
# Installs the optional anchors — real ANTs (antspyx) and greedy (picsl-greedy) — into a
# throwaway virtual environment, so atlasperf can be compared side by side with them.
# Usage: scripts/install-anchors.sh            (venv at $ATLASPERF_ANCHORS or ~/.cache/atlasperf-anchors)
set -euo pipefail
venv="${ATLASPERF_ANCHORS:-$HOME/.cache/atlasperf-anchors}"
if [ ! -x "$venv/bin/python" ]; then
  echo "creating venv $venv"
  python3 -m venv "$venv"
fi
if "$venv/bin/python" -c 'import ants, picsl_greedy' 2>/dev/null; then
  echo "anchors already installed in $venv"
else
  echo "installing antspyx and picsl-greedy into $venv (a few hundred MB)"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet antspyx picsl-greedy
fi
"$venv/bin/python" -c 'import ants, picsl_greedy; print("antspyx", ants.__version__)'

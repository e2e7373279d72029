#!/usr/bin/env bash
# Screenshots a run's report.html as a browser shows it (headless Chromium), for the README
# and for checking the rendering by eye.
#   scripts/screenshot-report.sh RUN_OR_REPORT_HTML [OUT.png] [WIDTHxHEIGHT]
# Installs Debian's chromium when it is missing and this shell may (root, apt-get).
set -euo pipefail

usage() { echo "usage: $0 RUN_DIR|REPORT.html [OUT.png] [WIDTHxHEIGHT]" >&2; exit 2; }
[ $# -ge 1 ] || usage
src="$1"
if [ -d "$src" ]; then src="$src/report/report.html"; fi
[ -f "$src" ] || { echo "$0: $src: no such report (run \`atlasperf report RUN\` first)" >&2; exit 2; }
out="${2:-$(dirname "$src")/report-screenshot.png}"
size="${3:-1280x2400}"
[[ "$size" =~ ^[0-9]+x[0-9]+$ ]] || { echo "$0: size must be WIDTHxHEIGHT, got $size" >&2; exit 2; }

browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser="$b"; break; fi
done
if [ -z "$browser" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium (Debian package)..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
    browser=chromium
  else
    echo "$0: no chromium found; install it (apt-get install chromium)" >&2
    exit 1
  fi
fi

abs="$(cd "$(dirname "$src")" && pwd)/$(basename "$src")"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$profile" --window-size="${size/x/,}" \
  --screenshot="$out" "file://$abs" >/dev/null 2>&1
test -s "$out" || { echo "$0: chromium wrote no screenshot" >&2; exit 1; }
echo "$out"

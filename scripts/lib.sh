# Shared by the measurement scripts: `. "$(dirname "$0")/lib.sh"` after their own argument
# parsing. Builds the release binary into the target directory CI reuses, sets `ap` to it and
# `root` to the checkout, and makes the output folder (a fresh temporary one when `out` is
# empty), printing where it is.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atlasperf-target}"
(cd "$root" && cargo build --release --quiet --bin atlasperf)
ap="$CARGO_TARGET_DIR/release/atlasperf"
if [ -z "${out:-}" ]; then out="$(mktemp -d)"; fi
mkdir -p "$out"
echo "runs in $out" >&2

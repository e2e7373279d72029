#!/usr/bin/env bash
# The first hour: after the README's run command has built atlasperf, the README's test
# command must reuse every polars artifact instead of compiling polars again (dev-dependencies
# that switch on extra features of shared dependencies would force that rebuild). Compares the
# artifact files cargo reports for each polars crate in both builds; works on a warm target
# directory too, since a rebuilt crate gets a new file name.
set -euo pipefail
cd "$(dirname "$0")/.."

artifacts() {
  python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m["target"]["name"].startswith("polars"):
        for f in m["filenames"]:
            if f.endswith(".rlib"):
                print(f)
' | sort -u
}

# First, without building: every crate both builds share must get the same features in both
# (cargo tree resolves features as the build would; a difference means a rebuild).
features() {
  cargo tree "$@" --prefix none -f '{p} [{f}]' | sed 's/ (\*)//' | sort -u
}
run_features="$(mktemp)"
test_features="$(mktemp)"
run_build="$(mktemp)"
test_build="$(mktemp)"
trap 'rm -f "$run_features" "$test_features" "$run_build" "$test_build"' EXIT
features -p atlasperf-harness -e normal > "$run_features"
features --workspace -e normal,dev > "$test_features"
python3 - "$run_features" "$test_features" <<'PY'
import sys
def load(path):
    return {line.split(" [")[0]: line.strip() for line in open(path) if line.strip()}
run, test = load(sys.argv[1]), load(sys.argv[2])
diff = [(run[k], test[k]) for k in run if k in test and run[k] != test[k]]
for a, b in diff:
    print(f"check-test-build: features differ: {a}  ->  {b}", file=sys.stderr)
if diff:
    print("check-test-build: pin these features in the crate that uses them (see harness/Cargo.toml, store/Cargo.toml)", file=sys.stderr)
    sys.exit(1)
print(f"check-test-build: the {len(run)} crates of the release build get the same features in the test build")
PY

# What `cargo run --release --bin atlasperf` builds, then what `cargo test --workspace --release` builds.
cargo build --release --bin atlasperf --message-format=json | artifacts > "$run_build"
cargo test --workspace --release --no-run --message-format=json | artifacts > "$test_build"
if [ ! -s "$run_build" ]; then
  echo "check-test-build: no polars artifact reported by the release build" >&2
  exit 1
fi
if ! diff -u "$run_build" "$test_build"; then
  echo "check-test-build: the test build compiles polars crates again (their features differ from the release build's; see the feature pins in store/Cargo.toml)" >&2
  exit 1
fi
echo "check-test-build: the test build reuses all $(wc -l < "$run_build") polars artifacts of the release build"

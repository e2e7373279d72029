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

run_build="$(mktemp)"
test_build="$(mktemp)"
trap 'rm -f "$run_build" "$test_build"' EXIT
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

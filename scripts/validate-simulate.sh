#!/usr/bin/env bash
# Checks `atlasperf simulate` against real runs on this machine. Five calibration runs give the
# profiles: four of jobs alone (two image sizes, three atlas counts, one and two threads) and
# one of three jobs time-sharing one core (how co-runners slow each other beyond processor
# sharing, fitted as the simulator's co-running law); then nine
# configurations none of them ran (slots 1–4, m and n, threads 1–2, two image sizes, slots vs
# the memory policy, a node too small for its jobs so the watchdog kills) are each run for real
# and predicted by `simulate --validate` from the calibrations only. Prints one row per
# configuration (predicted P50 / measured / error for makespan, largest node peak Σ RSS,
# CPU-hours and OOM-killed attempts; whether the P10–P90 band holds the real makespan) and the
# summary the goals are stated in.
#
# With --repeats K every calibration and configuration is run K times, in rounds of their own
# shuffled order (seeded by the round), so the machine's drift falls on calibrations and
# configurations alike; each configuration is then a group, validated against the median of
# its K runs beside their spread.
#
# usage: scripts/validate-simulate.sh [--out DIR] [--samples K] [--repeats K]
# Takes about 6 minutes per repeat on 2 cores. Nothing else should run meanwhile: the real runs are the
# truth, and a busy machine slows them where the calibrations were not slowed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out="" samples=20 repeats=1
parse_options "out samples repeats" "" "$@"
positive_ints samples repeats
build_atlasperf
output_dir

# scenario NAME NODES CORES MEMORY SLOTS SHAPE SPACING TARGETS ATLASES THREADS POLICY [REG_MEMORY]
scenario() {
  local f="$out/$1.toml"
  {
    echo "name = \"$1\""
    echo "interval_ms = 100"
    echo "[cluster]"
    echo "executor = \"local\""
    for n in $(seq 1 "$2"); do
      printf '[[cluster.nodes]]\nname = "node%s"\ncores = %s\nmemory = "%s"\nslots = %s\n' "$n" "$3" "$4" "$5"
    done
    printf '[dataset.phantom]\nshape = %s\nspacing = %s\n' "$6" "$7"
    printf '[workload]\ntargets = %s\natlases = %s\n' "$8" "$9"
    printf '[stages.registration]\npreset = "fast"\nthreads = %s\n' "${10}"
    if [ -n "${12:-}" ]; then printf 'memory = "%s"\n' "${12}"; fi
    printf '[stages.fusion]\nthreads = %s\n' "${10}"
    if [ -n "${12:-}" ]; then printf 'memory = "%s"\n' "${12}"; fi
    printf '[scheduling]\npolicy = "%s"\nretries = 2\n' "${11}"
  } > "$f"
  echo "$f"
}

A="[56, 70, 56]" A_MM=2.86 B="[40, 50, 40]" B_MM=4.0
run() { # NAME K: the K-th repetition of $out/NAME.toml into the group $out/NAME (kept if complete)
  echo "running $1 (repetition $2) ..." >&2
  "$ap" run "$out/$1.toml" --repeat "$2" --out "$out/$1" > "$out/$1.log" 2>&1 || {
    # A run whose jobs failed beyond their retries is still a measurement.
    grep -q '"status"' "$out/$1/$(printf 'r%02d' "$2")/run.json" 2>/dev/null || { tail -20 "$out/$1.log" >&2; exit 1; }
  }
}

# Calibrations: every job alone on its node; two targets where it is cheap, so no size or
# atlas count rests on a single fusion.
scenario cal-a 1 1 "4 GiB" 1 "$A" "$A_MM" 2 4 1 slots >/dev/null
scenario cal-b 1 1 "4 GiB" 1 "$B" "$B_MM" 2 3 1 slots >/dev/null
scenario cal-a5 1 1 "4 GiB" 1 "$A" "$A_MM" 1 5 1 slots >/dev/null
scenario cal-t2 1 2 "4 GiB" 1 "$A" "$A_MM" 2 2 2 slots >/dev/null
# Co-running: three one-thread jobs on one core, a share no configuration below has.
scenario cal-corun 1 1 "4 GiB" 3 "$B" "$B_MM" 2 3 1 slots >/dev/null
# Configurations to predict.
scenario v1-slots1 2 1 "4 GiB" 1 "$A" "$A_MM" 2 3 1 slots >/dev/null
scenario v2-slots2 2 1 "4 GiB" 2 "$A" "$A_MM" 2 3 1 slots >/dev/null
scenario v3-slots3-m4 2 1 "4 GiB" 3 "$A" "$A_MM" 4 3 1 slots >/dev/null
scenario v4-slots4-1node 1 2 "4 GiB" 4 "$A" "$A_MM" 2 3 1 slots >/dev/null
scenario v5-threads2 1 2 "4 GiB" 2 "$A" "$A_MM" 2 3 2 slots >/dev/null
scenario v6-size-b-n4 2 1 "4 GiB" 2 "$B" "$B_MM" 3 4 1 slots >/dev/null
scenario v7-memory-policy 2 1 "130 MiB" 4 "$A" "$A_MM" 2 3 1 memory "60 MiB" >/dev/null
scenario v8-oom 1 2 "100 MiB" 3 "$A" "$A_MM" 2 3 1 slots >/dev/null
scenario v9-m3-n2 2 1 "4 GiB" 2 "$A" "$A_MM" 3 2 1 slots >/dev/null

cals=(cal-a cal-b cal-a5 cal-t2 cal-corun)
configs=(v1-slots1 v2-slots2 v3-slots3-m4 v4-slots4-1node v5-threads2 v6-size-b-n4 v7-memory-policy v8-oom v9-m3-n2)
all=("${cals[@]}" "${configs[@]}")
for k in $(seq 1 "$repeats"); do
  # Round k's order: a shuffle seeded by k (random interleaving), so a slow spell of the
  # machine falls on calibrations and configurations alike, and not always on the same
  # neighbours (reversed rounds put the last configurations of one round next to the first
  # of the next).
  mapfile -t order < <(python3 -c 'import random, sys; k = int(sys.argv[1]); v = sys.argv[2:]; random.Random(k).shuffle(v); print("\n".join(v))' "$k" "${all[@]}")
  for c in "${order[@]}"; do run "$c" "$k"; done
done

profiles=()
for c in "${cals[@]}"; do
  for k in $(seq 1 "$repeats"); do profiles+=("$out/$c/$(printf 'r%02d' "$k")"); done
done
table="$out/validation.tsv"
: > "$table"
for c in "${configs[@]}"; do
  "$ap" simulate --validate "$out/$c" --profiles "${profiles[@]}" --samples "$samples" \
    > "$out/$c.validate" 2> "$out/$c.validate.log"
  # quantity predicted measured error holds
  # quantity predicted measured error holds [spread-low … spread-high inside]
  awk -v c="$c" 'NR > 1 { gsub("%", "", $4); gsub("%", "", $6); gsub("%", "", $8);
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c, $1, $2, $3, $4, $5, ($6 == "" ? "0" : $6), ($8 == "" ? "0" : $8), ($9 == "" ? "-" : $9) }' "$out/$c.validate" >> "$table"
done

python3 - "$table" <<'PY'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = {}
for c, q, pred, meas, err, holds, lo, hi, inside in rows:
    by.setdefault(c, {})[q] = (float(pred), float(meas), err, holds, float(lo), float(hi), inside)
print("| configuration | makespan pred / real (err) | repeat spread | node peak pred / real (err) | CPU-h err | OOM kills pred / real | P10–P90 holds makespan |")
print("|---|---|---|---|---|---|---|")
mk, pk, cpu, oom_ok, held, judged = [], [], [], 0, 0, 0
for c, d in by.items():
    m, p, h, o = d["makespan_s"], d["node_peak_rss"], d["cpu_hours"], d["oom_killed"]
    e = lambda t: float(t[2]) if t[2] not in ("inf", "+inf") else float("inf")
    mk.append(abs(e(m))); pk.append(abs(e(p))); cpu.append(abs(e(h)))
    oom_ok += o[0] == o[1]; held += m[3] == "yes"
    # Judged against max(10 %, the measured repeat spread).
    bound = max(10.0, abs(m[4]), abs(m[5]))
    judged += abs(e(m)) <= bound
    print(f"| {c} | {m[0]:.1f} / {m[1]:.1f} s ({e(m):+.1f} %) | {m[4]:+.1f} … {m[5]:+.1f} % | {p[0]/2**20:.0f} / {p[1]/2**20:.0f} MiB ({e(p):+.1f} %) | {e(h):+.1f} % | {o[0]:.0f} / {o[1]:.0f} | {m[3]} |")
n = len(by)
print()
signs = [1 if float(d["makespan_s"][2]) > 0 else -1 for d in by.values()]
print(f"makespan errors: {signs.count(-1)} low, {signs.count(1)} high; within max(10 %, repeat spread) in {judged}/{n}")
print(f"{n} configurations: |makespan error| median {statistics.median(mk):.1f} %, max {max(mk):.1f} %; "
      f"node peak |error| median {statistics.median(pk):.1f} %, max {max(pk):.1f} %; "
      f"CPU-hours |error| median {statistics.median(cpu):.1f} %, max {max(cpu):.1f} %; "
      f"OOM kills exact in {oom_ok}/{n}; P10–P90 holds the real makespan in {held}/{n}")
PY

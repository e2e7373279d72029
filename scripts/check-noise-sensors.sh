#!/usr/bin/env bash
# Checks the noise sensors against a load whose CPU is known. Three runs of the quick scenario
# on one emulated 1-core node (its jobs pinned to CPU 0):
#   quiet     nothing else running: foreign CPU should be < 0.1 cores and the report quiet;
#   pinned    a busy loop pinned to CPU 1, the CPU the run does not use: about 1 core foreign;
#   shared    a busy loop free to run anywhere, competing with the run: the foreign CPU is
#             compared with the loop's own CPU time (/proc/PID/stat) over the same seconds.
# Prints conditions.foreign_cpu_cores_mean per run, the loop's own figure, and the report's
# warning line. usage: scripts/check-noise-sensors.sh [--out DIR]   (about 1 minute)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out=""
parse_options "out" "" "$@"
build_atlasperf
output_dir
one_node='cluster.nodes=[{name = "node1", cores = 1, memory = "2 GiB", slots = 2}]'

foreign() { python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['conditions']; print('%.3f' % c['foreign_cpu_cores_mean'], '%.1f' % c['window_s'])" "$1/run.json"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
loop_run() { # NAME TASKSET_CPUS(or "")
  local pid t0 c0 t1 c1
  if [ -n "$2" ]; then taskset -c "$2" sh -c 'while :; do :; done' & else sh -c 'while :; do :; done' & fi
  pid=$!
  sleep 1
  t0=$(date +%s.%N) c0=$(ticks "$pid")
  "$ap" run "$root/scenarios/quick.toml" --set "$one_node" --out "$out/$1" >/dev/null 2>&1
  t1=$(date +%s.%N) c1=$(ticks "$pid")
  kill "$pid"
  python3 -c "import os,sys; t=os.sysconf('SC_CLK_TCK'); print('%.3f' % ((float(sys.argv[3])-float(sys.argv[2]))/t/(float(sys.argv[5])-float(sys.argv[4]))))" "$1" "$c0" "$c1" "$t0" "$t1"
}

"$ap" run "$root/scenarios/quick.toml" --set "$one_node" --out "$out/quiet" >/dev/null 2>&1
echo "quiet:  foreign $(foreign "$out/quiet" | cut -d' ' -f1) cores over $(foreign "$out/quiet" | cut -d' ' -f2) s; $(grep -m1 'Measurement conditions' "$out/quiet/report/summary.md")"
own="$(loop_run pinned 1)"
echo "pinned: foreign $(foreign "$out/pinned" | cut -d' ' -f1) cores; the loop's own CPU $own cores; $(grep -m1 'Measurement conditions' "$out/pinned/report/summary.md")"
own="$(loop_run shared "")"
echo "shared: foreign $(foreign "$out/shared" | cut -d' ' -f1) cores; the loop's own CPU $own cores; $(grep -m1 'Measurement conditions' "$out/shared/report/summary.md")"

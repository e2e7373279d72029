#!/usr/bin/env bash
# Times `atlasperf import --format sacct` on a generated accounting file: --jobs allocations
# (each with its .batch and .extern steps, so three lines a job) over 16 nodes, with GNU time's
# wall time and peak RSS, --runs times. Prints one line per run and the median.
#
# usage: scripts/bench-import.sh [--jobs N] [--runs N] [--out DIR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
jobs=10000 runs=5 out=""
parse_options "jobs runs out" "" "$@"
positive_ints jobs runs
need_gnu_time
build_atlasperf
output_dir
python3 - "$jobs" "$out/sacct.txt" <<'PY'
import random, sys, datetime
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(1)
t0 = datetime.datetime(2026, 1, 1)
ts = lambda s: (t0 + datetime.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S")
dur = lambda s: "%02d:%02d:%02d" % (s // 3600, (s // 60) % 60, s % 60)
def cpu(s):  # sacct's TotalCPU: [DD-][HH:]MM:SS.mmm
    h, m, sec = int(s // 3600), int(s // 60) % 60, s % 60
    days, h = divmod(h, 24)
    t = "%02d:%06.3f" % (m, sec) if h == 0 and days == 0 else "%02d:%02d:%02d" % (h, m, int(sec))
    return "%d-%s" % (days, t) if days else t
states = ["COMPLETED"] * 95 + ["FAILED", "OUT_OF_MEMORY", "TIMEOUT", "CANCELLED by 0", "NODE_FAIL"]
with open(path, "w") as f:
    f.write("JobID|JobName|State|ExitCode|NodeList|Start|End|Elapsed|TotalCPU|UserCPU|SystemCPU|AllocCPUS|ReqMem|MaxRSS|AveDiskRead|AveDiskWrite|NTasks\n")
    for j in range(n):
        start = rng.randrange(0, 30 * 86400); wall = rng.randrange(30, 4 * 3600)
        u = wall * rng.uniform(0.5, 1.9); s = wall * 0.02
        node = "node%02d" % rng.randrange(16); state = rng.choice(states)
        name = rng.choice(["antsRegistration", "antsJointFusion"]) + "-%d" % j
        common = [node, ts(start), ts(start + wall), dur(wall)]
        f.write("|".join([str(1000 + j), name, state, "0:0"] + common + [cpu(u + s), cpu(u), cpu(s), "2", "8G", "", "", "", ""]) + "\n")
        f.write("|".join(["%d.batch" % (1000 + j), "batch", state, "0:0"] + common + [cpu(u + s), cpu(u), cpu(s), "2", "", "%dK" % rng.randrange(200_000, 6_000_000), "%.2fM" % rng.uniform(10, 900), "%.2fM" % rng.uniform(1, 300), "1"]) + "\n")
        f.write("|".join(["%d.extern" % (1000 + j), "extern", "COMPLETED", "0:0"] + common + ["00:00:00", "00:00:00", "00:00:00", "2", "", "1024K", "0", "0", "1"]) + "\n")
PY
echo "$(wc -l < "$out/sacct.txt") lines, $jobs jobs, $(du -h "$out/sacct.txt" | cut -f1)"
for i in $(seq 1 "$runs"); do
  rm -rf "$out/run"
  /usr/bin/time -f "%e %M" -o "$out/time.txt" "$ap" import --format sacct "$out/sacct.txt" \
    --stage 'antsReg*=registration' --stage 'antsJoint*=fusion' --out "$out/run" > /dev/null 2> "$out/import.log" \
    || { cat "$out/import.log" >&2; exit 1; }
  read -r wall kib < "$out/time.txt"
  echo "run $i: ${wall} s, peak RSS $((kib / 1024)) MiB"
  echo "$wall $kib" >> "$out/times.txt"
done
sort -n "$out/times.txt" | awk '{ w[NR] = $1; m[NR] = $2 } END { i = int((NR + 1) / 2); printf "median of %d: %.2f s (peak RSS of that run %d MiB; slowest %.2f s)\n", NR, w[i], m[i] / 1024, w[NR] }'

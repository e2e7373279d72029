"""Side-by-side cost of two process monitors on the same calibrated workload.

Each monitor runs the workload as its child at 10 Hz with children included. While it runs,
this script reads the monitor's *own* CPU time (utime + stime of its process, children
excluded) from /proc/<pid>/stat every 20 ms; the last reading is its cost. Tick lateness is
measured against the 10 Hz grid from each monitor's own timestamps.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import tempfile
import time

TICK = os.sysconf("SC_CLK_TCK")


def self_cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def watch(argv):
    start = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = 0.0
    while p.poll() is None:
        c = self_cpu(p.pid)
        if c is not None:
            last = c
        time.sleep(0.02)
    return time.monotonic() - start, last, p.returncode


def pct(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--atlasperf", required=True)
    ap.add_argument("--psrecord", required=True)
    ap.add_argument("--cpu-seconds", type=float, default=10.0)
    ap.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()
    rows = {"atlasperf agent": [], "psrecord": []}
    with tempfile.TemporaryDirectory() as tmp:
        job = [a.atlasperf, "calibrated-load", "--cpu-seconds", str(a.cpu_seconds), "--children", "2",
               "--rss-mib", "100", "--io-bytes", "50000000", "--dir", tmp, "--hold-ms", "500"]
        for rep in range(a.reps):
            samples, result = f"{tmp}/s{rep}.csv", f"{tmp}/r{rep}.json"
            wall, cpu, rc = watch([a.atlasperf, "agent", "--attempt", "j", "--interval", "100",
                                   "--samples", samples, "--result", result, "--"] + job)
            assert rc == 0, f"agent exited {rc}"
            r = json.load(open(result))
            rows["atlasperf agent"].append(dict(wall=wall, cpu=cpu, samples=r["samples"],
                                                p50=r["tick_late_p50_ms"], p99=r["tick_late_p99_ms"],
                                                self_report=r["agent_cpu_s"]))
            log = f"{tmp}/p{rep}.txt"
            wall, cpu, rc = watch([a.psrecord, shlex.join(job), "--interval", "0.1", "--include-children",
                                   "--include-io", "--log", log])
            assert rc == 0, f"psrecord exited {rc}"
            t = [float(l.split()[0]) for l in open(log) if l.strip() and not l.startswith("#")]
            late = [max(0.0, (ti - i * 0.1) * 1e3) for i, ti in enumerate(t)]
            rows["psrecord"].append(dict(wall=wall, cpu=cpu, samples=len(t), p50=pct(late, 0.5),
                                         p99=pct(late, 0.99), self_report=None))
    print(f"workload: calibrated load, 3 processes x {a.cpu_seconds:g} s CPU, 300 MiB, 300 MB I/O; 10 Hz; {a.reps} runs each\n")
    print(f"{'monitor':<16} {'wall s':>7} {'own CPU s':>10} {'% of a core':>12} {'samples':>8} {'late p50 ms':>12} {'late p99 ms':>12}")
    mean = {}
    for name, rs in rows.items():
        m = {k: statistics.mean(r[k] for r in rs) for k in ("wall", "cpu", "samples", "p50", "p99")}
        mean[name] = m
        print(f"{name:<16} {m['wall']:7.1f} {m['cpu']:10.3f} {100 * m['cpu'] / m['wall']:11.3f}% {m['samples']:8.0f} {m['p50']:12.2f} {m['p99']:12.2f}")
    ours, theirs = mean["atlasperf agent"], mean["psrecord"]
    selfrep = statistics.mean(r["self_report"] for r in rows["atlasperf agent"])
    print(f"\natlasperf agent CPU / psrecord CPU = {ours['cpu'] / theirs['cpu']:.3f}  (goal <= 0.1)")
    print(f"atlasperf agent share of a core = {100 * ours['cpu'] / ours['wall']:.3f} %  (goal <= 0.2 %)")
    print(f"agent's own rusage report: {selfrep:.3f} s (the /proc reading above: {ours['cpu']:.3f} s)")


if __name__ == "__main__":
    main()

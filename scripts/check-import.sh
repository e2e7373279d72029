#!/usr/bin/env bash
# Checks `atlasperf import` against the real tools: a small phantom cohort's registrations and
# fusion run
#   - under psrecord (`--include-io --include-children`, from PyPI) and, alternately, under
#     `atlasperf profile`: the same command measured by both, their CPU and peak compared;
#   - as a real Snakemake workflow (from PyPI) with `benchmark:` directives, imported and
#     reported;
#   - with --slurm, as a Slurm run of the quick scenario on the local cluster with accounting
#     (scripts/slurm-local.sh up), whose real sacct answer (kept by the run) is imported: per
#     job, sacct's TotalCPU and MaxRSS beside atlasperf's own measurement.
# Prints one row per comparison. Writes the recorded logs under --out (the test fixtures in
# harness/tests/fixtures/import were recorded this way).
#
# usage: scripts/check-import.sh [--out DIR] [--runs N] [--slurm]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out="" runs=3 slurm=0
parse_options "out runs" "slurm" "$@"
positive_ints runs
build_atlasperf
output_dir
venv="${ATLASPERF_IMPORT_TOOLS:-$HOME/.cache/atlasperf-import-tools}"
if [ ! -x "$venv/bin/snakemake" ] || [ ! -x "$venv/bin/psrecord" ]; then
  echo "installing psrecord and snakemake into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet psrecord snakemake
fi
export PATH="$venv/bin:$PATH"
"$ap" phantom --out "$out/cohort" --subjects 4 --shape 48,56,48 --spacing 3.5 --seed 3 >/dev/null
c="$out/cohort"
register() { # ATLAS OUT_PREFIX
  echo "$ap" kernel register --fixed "$c/sub01_t1.nii.gz" --moving "$c/$1_t1.nii.gz" \
    --moving-labels "$c/$1_labels.nii.gz" --preset fast --threads 1 --out "$2"
}

echo "== psrecord and atlasperf profile, the same registration, alternating ($runs runs each)"
printf '%-4s %-9s %9s %9s %11s\n' run tool wall_s cpu_s peak_MiB
for i in $(seq 1 "$runs"); do
  for tool in psrecord atlasperf; do
    if [ "$tool" = psrecord ]; then
      psrecord "$(register sub02 "$out/psr$i/")" --interval 0.1 --include-children --include-io \
        --log "$out/psrecord-$i.txt" >/dev/null
      "$ap" import --format psrecord "$out/psrecord-$i.txt" --out "$out/psr-run$i" >/dev/null 2>&1
      run="$out/psr-run$i"
    else
      # shellcheck disable=SC2046
      "$ap" profile --interval 100 --out "$out/prof-run$i" -- $(register sub02 "$out/prof$i/") >/dev/null 2>&1
      run="$out/prof-run$i"
    fi
    python3 - "$run" "$i" "$tool" <<'PY'
import json, sys
import csv
run, i, tool = sys.argv[1:]
rows = list(csv.DictReader(open(f"{run}/jobs.csv")))
r = rows[0]
cpu = float(r["cpu_user_s"]) + float(r["cpu_sys_s"])
print(f"{i:<4} {tool:<9} {float(r['wall_s']):9.2f} {cpu:9.2f} {int(r['peak_rss'])/2**20:11.1f}")
PY
  done
done

echo "== Snakemake: 3 registrations and a fusion with benchmark: directives"
mkdir -p "$out/smk"
cat > "$out/smk/Snakefile" <<EOF
ATLASES = ["sub02", "sub03", "sub04"]
rule all:
    input: "fused/sub01_seg.nii.gz"
rule register:
    input: moving="$c/{atlas}_t1.nii.gz"
    output: "reg/{atlas}_warped_labels.nii.gz", "reg/{atlas}_warped.nii.gz"
    benchmark: "benchmarks/register/{atlas}.tsv"
    shell: "$(register '{wildcards.atlas}' 'reg/{wildcards.atlas}_')"
rule fuse:
    input: images=expand("reg/{a}_warped.nii.gz", a=ATLASES), labels=expand("reg/{a}_warped_labels.nii.gz", a=ATLASES)
    output: "fused/sub01_seg.nii.gz"
    benchmark: "benchmarks/fuse/sub01.tsv"
    shell: "$ap kernel fuse --target $c/sub01_t1.nii.gz --atlas-images {input.images} --atlas-labels {input.labels} --threads 1 --out {output}"
EOF
(cd "$out/smk" && snakemake --cores 2 --quiet all >/dev/null 2>&1)
"$ap" import --format snakemake "$out"/smk/benchmarks/*/*.tsv --out "$out/smk-run"
"$ap" report "$out/smk-run" --out "$out/smk-report" >/dev/null
sed -n '/### Table I/,/### Diagnosis/p' "$out/smk-report/summary.md" | grep '^|'
grep -q '^| register | 3 (3) |' "$out/smk-report/table1.md" && grep -q '^| fuse | 1 (1) |' "$out/smk-report/table1.md" \
  || { echo "check-import: the Snakemake rules are not the stages of the imported run" >&2; exit 1; }
ls "$out"/smk-report/fig*.png >/dev/null || { echo "check-import: no figure for the Snakemake run" >&2; exit 1; }

if [ "$slurm" = 1 ]; then
  echo "== Slurm accounting against atlasperf's own measurement (quick scenario)"
  eval "$("$here/slurm-local.sh" env)"
  "$ap" run "$root/scenarios/quick-slurm.toml" --out "$out/slurm-run" >/dev/null 2>&1
  # The run asked the real sacct for its jobs when it ended, and kept the answer.
  cp "$out/slurm-run/slurm/sacct.txt" "$out/sacct.txt"
  "$ap" import --format sacct "$out/sacct.txt" --out "$out/sacct-run" >/dev/null
  python3 - "$out/slurm-run/jobs.csv" "$out/sacct-run/jobs.csv" <<'PY'
import csv, sys
own = {r["attempt_id"]: r for r in csv.DictReader(open(sys.argv[1]))}
acct = {r["attempt_id"]: r for r in csv.DictReader(open(sys.argv[2]))}
print(f"{'attempt':<28} {'cpu own':>8} {'sacct':>8} {'ratio':>6} {'peak own':>9} {'MaxRSS':>9} {'ratio':>6}")
for k in sorted(own):
    if k not in acct:
        continue
    a, b = own[k], acct[k]
    ca = float(a["cpu_user_s"]) + float(a["cpu_sys_s"]); cb = float(b["cpu_user_s"]) + float(b["cpu_sys_s"])
    pa, pb = int(a["peak_rss"]) / 2**20, int(b["peak_rss"]) / 2**20
    print(f"{k:<28} {ca:8.2f} {cb:8.2f} {cb/max(ca,1e-9):6.3f} {pa:9.1f} {pb:9.1f} {pb/max(pa,1e-9):6.3f}")
PY
fi

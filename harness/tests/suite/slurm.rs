//! The Slurm executor against a real Slurm cluster: the local two-node cluster of
//! `scripts/slurm-local.sh up` (nodea, nodeb; 1 CPU and 2048 MB each). The tests that need it
//! are `#[ignore]`d so a plain `cargo test` does not depend on it; `.ci/run` starts the cluster
//! and runs them with `--ignored`, where a missing cluster fails them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

use atlasperf_reports::accounting::{cpu_explained, rss_explained};

use crate::common::repo;

/// SLURM_CONF of the environment, else the local cluster's.
fn slurm_conf() -> String {
    std::env::var("SLURM_CONF")
        .unwrap_or_else(|_| "/var/tmp/atlasperf-slurm/slurm.conf".to_string())
}

fn records(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("jobs.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `atlasperf run` of the quick Slurm scenario into `run`, to its end.
fn run_quick(run: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("atlasperf")
        .unwrap()
        .env("SLURM_CONF", slurm_conf())
        .arg("run")
        .arg(repo().join("scenarios/quick-slurm.toml"))
        .arg("--out")
        .arg(run)
        .args(extra)
        .timeout(Duration::from_secs(300))
        .assert()
}

/// Starts `atlasperf run` of the quick Slurm scenario into `run` in the background.
fn spawn_quick(run: &Path, extra: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("atlasperf"))
        .env("SLURM_CONF", slurm_conf())
        .arg("run")
        .arg(repo().join("scenarios/quick-slurm.toml"))
        .arg("--out")
        .arg(run)
        .args(extra)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Slurm jobs of this run still queued or running (their batch scripts live in the run).
fn our_slurm_jobs(run: &Path) -> Vec<String> {
    let out = std::process::Command::new("squeue")
        .env("SLURM_CONF", slurm_conf())
        .args(["-h", "-o", "%i %T %o"])
        .output()
        .unwrap();
    let scripts = run.join("slurm").display().to_string();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&scripts))
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "needs the local Slurm cluster: scripts/slurm-local.sh up"]
fn quick_scenario_runs_on_both_slurm_nodes_with_fusion_after_registration() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run with space");
    run_quick(&run, &[])
        .success()
        .stderr(predicate::str::contains("complete: 8 of 8 jobs done"));
    let recs = records(&run);
    assert_eq!(recs.len(), 8);
    assert!(recs.iter().all(|r| r["status"] == "ok"), "{recs:?}");
    let nodes: HashSet<&str> = recs.iter().map(|r| r["node"].as_str().unwrap()).collect();
    assert_eq!(nodes, HashSet::from(["nodea", "nodeb"]));
    let slurm_ids: HashSet<&str> = recs
        .iter()
        .map(|r| r["executor_job_id"].as_str().expect("a Slurm job id"))
        .collect();
    assert_eq!(slurm_ids.len(), 8);
    // Each fusion's agent started after every registration of its target had ended.
    let mut reg_end: HashMap<&str, f64> = HashMap::new();
    for r in recs.iter().filter(|r| r["stage"] == "registration") {
        let e = reg_end.entry(r["target"].as_str().unwrap()).or_insert(0.0);
        *e = e.max(r["end_unix"].as_f64().unwrap());
    }
    for f in recs.iter().filter(|r| r["stage"] == "fusion") {
        let target = f["target"].as_str().unwrap();
        assert!(
            f["start_unix"].as_f64().unwrap() >= reg_end[target],
            "fusion of {target} started before its registrations ended"
        );
        let script = std::fs::read_to_string(
            run.join("slurm")
                .join(format!("{}.sh", f["attempt_id"].as_str().unwrap())),
        )
        .unwrap();
        assert!(script.contains("'--dependency=afterok:"), "{script}");
    }
    // The report renders per-node figures for both Slurm nodes.
    for fig in [
        "fig2-registration-nodea.png",
        "fig2-registration-nodeb.png",
        "fig3-fusion-nodea.png",
        "fig3-fusion-nodeb.png",
    ] {
        let len = std::fs::metadata(run.join("report").join(fig))
            .unwrap()
            .len();
        assert!(len > 20_000, "{fig}: {len} bytes");
    }
}

#[test]
#[ignore = "needs the local Slurm cluster: scripts/slurm-local.sh up"]
fn a_job_over_its_mem_is_recorded_as_killed_for_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // Registration takes ~21 MiB here; an 8 MiB request makes Slurm kill it. The paper
    // preset runs long enough for Slurm's once-a-second memory accounting to see it.
    Command::cargo_bin("atlasperf")
        .unwrap()
        .env("SLURM_CONF", slurm_conf())
        .arg("run")
        .arg(repo().join("scenarios/quick-slurm.toml"))
        .arg("--out")
        .arg(&run)
        .args([
            "--set",
            "workload.targets=1",
            "--set",
            "workload.atlases=2",
            "--set",
            "scheduling.policy=memory",
            "--set",
            "stages.registration.memory=\"8 MiB\"",
            "--set",
            "stages.fusion.memory=\"64 MiB\"",
            "--set",
            "stages.registration.preset=\"paper\"",
            "--set",
            "scheduling.retries=0",
        ])
        .timeout(Duration::from_secs(300))
        .assert()
        .code(1);
    let recs = records(&run);
    let killed: Vec<&Value> = recs
        .iter()
        .filter(|r| r["status"] == "oom_killed")
        .collect();
    assert_eq!(killed.len(), 2, "{recs:?}");
    for k in &killed {
        assert_eq!(k["signal"], 9);
        assert_eq!(k["mem_request"], 8 * 1024 * 1024);
        let stderr = std::fs::read_to_string(
            run.join("logs")
                .join(format!("{}.stderr", k["attempt_id"].as_str().unwrap())),
        )
        .unwrap();
        assert!(stderr.contains("exceeded memory limit"), "{stderr}");
        assert!(k["peak_rss"].as_u64().unwrap() > 0, "peak from the samples");
    }
    let fusion: Vec<&Value> = recs.iter().filter(|r| r["stage"] == "fusion").collect();
    assert!(
        fusion.iter().all(|r| r["status"] == "skipped"),
        "{fusion:?}"
    );
    // The report shows the kills.
    let table = std::fs::read_to_string(run.join("report/table1.md")).unwrap();
    assert!(table.contains("| 2 / 2 |"), "{table}");
}

#[test]
#[ignore = "needs the local Slurm cluster: scripts/slurm-local.sh up"]
fn interrupting_cancels_the_slurm_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut child = spawn_quick(&run, &["--set", "stages.registration.preset=\"paper\""]);
    // Wait until jobs are running under Slurm.
    let t0 = Instant::now();
    while our_slurm_jobs(&run).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no Slurm job appeared"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: kill only sends a signal to our own child.
    unsafe {
        libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["status"], "interrupted");
    let recs = records(&run);
    assert!(recs.iter().any(|r| r["status"] == "terminated"), "{recs:?}");
    let left = our_slurm_jobs(&run);
    assert!(left.is_empty(), "still queued or running: {left:?}");
}

#[test]
fn an_unreachable_slurm_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // An empty configuration: Slurm's commands fail at once (a missing file makes them retry
    // for a minute).
    let conf = tmp.path().join("empty-slurm.conf");
    std::fs::write(&conf, "").unwrap();
    Command::cargo_bin("atlasperf")
        .unwrap()
        .env("SLURM_CONF", &conf)
        .arg("run")
        .arg(repo().join("scenarios/quick-slurm.toml"))
        .arg("--out")
        .arg(&run)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("the Slurm cluster is not reachable")
                .and(predicate::str::contains("sinfo")),
        );
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["status"], "failed");
}

#[test]
#[ignore = "needs the local Slurm cluster: scripts/slurm-local.sh up"]
fn a_killed_harness_is_resumed_without_its_slurm_jobs_running_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut child = spawn_quick(&run, &[]);
    let until = Instant::now() + Duration::from_secs(300);
    while records(&run).len() < 2 {
        assert!(Instant::now() < until, "no 2 records");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    Command::cargo_bin("atlasperf")
        .unwrap()
        .env("SLURM_CONF", slurm_conf())
        .args(["run", "--resume"])
        .arg(&run)
        .timeout(Duration::from_secs(300))
        .assert()
        .success();
    assert!(
        our_slurm_jobs(&run).is_empty(),
        "{:?}",
        our_slurm_jobs(&run)
    );
    let recs = records(&run);
    let ids: Vec<&str> = recs
        .iter()
        .map(|r| r["attempt_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "{ids:?}"
    );
    let ok: HashSet<&str> = recs
        .iter()
        .filter(|r| r["status"] == "ok")
        .map(|r| r["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ok.len(), 8);
    assert_eq!(
        recs.iter().filter(|r| r["status"] == "ok").count(),
        8,
        "a job succeeded twice: {recs:?}"
    );
    // Every attempt that left samples is in the journal: none ran unrecorded beside the resume.
    for e in std::fs::read_dir(run.join("samples")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".csv").filter(|n| !n.ends_with(".node")) {
            assert!(ids.contains(&id), "{id} has samples but no record");
        }
    }
}

#[test]
#[ignore = "needs the local Slurm cluster with accounting: scripts/slurm-local.sh up"]
fn slurm_accounting_imports_and_agrees_with_atlasperf() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // Jobs of several seconds, so that Slurm's 1 s accounting poll sees every step even on a
    // fast host: on 2026-12-03 afternoon the quick scenario's jobs took 0.6-0.8 s of CPU and
    // all 8 steps ended before the first poll (MaxRSS 0 for every one).
    let longer = [
        "--set",
        "stages.registration.iterations=[400, 200, 40]",
        "--set",
        "stages.fusion.search_radius=5",
    ];
    run_quick(&run, &longer)
        .success()
        .stderr(predicate::str::contains(
            "accounting: sacct's figures for 8 attempt(s)",
        ));
    // What the real sacct answered after the run, as the run kept it.
    let acct = run.join("slurm/sacct.txt");
    let imported = tmp.path().join("imported");
    Command::cargo_bin("atlasperf")
        .unwrap()
        .args(["import", "--format", "sacct"])
        .arg(&acct)
        .arg("--out")
        .arg(&imported)
        .assert()
        .success();
    let own: HashMap<String, Value> = records(&run)
        .into_iter()
        .map(|r| (r["attempt_id"].as_str().unwrap().to_string(), r))
        .collect();
    let jobs = std::fs::read_to_string(imported.join("jobs.csv")).unwrap();
    let mut lines = jobs.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let mut compared = 0;
    // Stages with at least one attempt whose MaxRSS Slurm measured.
    let mut polled: HashSet<String> = HashSet::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let a = &own[f[col("attempt_id")]];
        let cpu = |v: &Value| v["cpu_user_s"].as_f64().unwrap() + v["cpu_sys_s"].as_f64().unwrap();
        let (own_cpu, own_peak) = (cpu(a), a["peak_rss"].as_f64().unwrap());
        let acct_cpu = f[col("cpu_user_s")].parse::<f64>().unwrap()
            + f[col("cpu_sys_s")].parse::<f64>().unwrap();
        let acct_peak = f[col("peak_rss")].parse::<f64>().unwrap();
        eprintln!(
            "{}: CPU {own_cpu:.3} s (atlasperf) vs {acct_cpu:.3} s (TotalCPU) = {:.3}; peak {:.1} MiB vs MaxRSS {:.1} MiB = {:.3}",
            f[col("attempt_id")],
            acct_cpu / own_cpu,
            own_peak / 1048576.0,
            acct_peak / 1048576.0,
            acct_peak / own_peak
        );
        // TotalCPU covers the whole batch step: the job, its agent and the batch shell.
        let agent = a["agent_cpu_s"].as_f64().unwrap();
        assert!(
            cpu_explained(acct_cpu, own_cpu, agent),
            "{}: TotalCPU {acct_cpu:.3} s is not the job's {own_cpu:.3} s plus its agent's {agent:.3} s",
            f[col("attempt_id")]
        );
        // MaxRSS is the largest sum over the step's processes at Slurm's 1 s polls: at most the
        // job's peak plus the agent (about 8.5 MiB resident) and the batch shell (about 2 MiB),
        // at least what the job held at a poll; 0 when the step ended before the first poll.
        if acct_peak > 0.0 {
            polled.insert(a["stage"].as_str().unwrap().to_string());
        }
        assert!(
            acct_peak == 0.0 || rss_explained(acct_peak, own_peak),
            "{}: MaxRSS {acct_peak} is not the job's peak {own_peak} plus the agent and shell",
            f[col("attempt_id")]
        );
        compared += 1;
    }
    assert_eq!(compared, own.len());
    // How many steps end before Slurm's first 1 s poll depends on the machine's speed (with the
    // quick scenario's own settings, 0 to 3 of these 8 in five runs on 2026-12-03 morning and
    // all 8 in the afternoon); each stage must have MaxRSS measured and compared.
    assert_eq!(
        polled,
        HashSet::from(["registration".to_string(), "fusion".to_string()]),
        "stages with a measured MaxRSS"
    );
    // The run checked itself: sacct's figures beside atlasperf's in its jobs table, and the
    // report's section saying whether they agree.
    let table = std::fs::read_to_string(run.join("jobs.csv")).unwrap();
    let mut rows = table.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let acct = header.iter().position(|h| *h == "acct_cpu_s").unwrap();
    for row in rows {
        let v: f64 = row.split(',').nth(acct).unwrap().parse().unwrap();
        assert!(v > 0.0, "{row}");
    }
    let summary = std::fs::read_to_string(run.join("report/summary.md")).unwrap();
    assert!(summary.contains("### Slurm accounting"), "{summary}");
    assert!(
        summary.contains("Every attempt agrees within what those definitions explain."),
        "{summary}"
    );
}

//! Helpers shared by the harness's integration tests: the binary, the store as a test reads
//! it, and a fast scenario of calibrated loads.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The checkout under test. Read at run time: cargo keeps a workspace member's fingerprint
/// independent of where the checkout lives, so a test binary built in another checkout that
/// shares the target directory is reused, and `env!("CARGO_MANIFEST_DIR")` would name that
/// one.
pub fn repo() -> PathBuf {
    Path::new(
        &std::env::var_os("CARGO_MANIFEST_DIR")
            .expect("cargo sets CARGO_MANIFEST_DIR when it runs tests"),
    )
    .join("..")
}

pub fn atlasperf() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("atlasperf").unwrap()
}

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("atlasperf")
}

/// Every complete journal line (a torn last line is left out, as the store's readers do).
pub fn journal(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("jobs.jsonl"))
        .unwrap_or_default()
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n') && !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn run_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

pub fn ok_jobs(records: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .filter(|r| r["status"] == "ok")
        .map(|r| r["job_id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

pub fn assert_complete_store(dir: &Path, jobs: usize) {
    let info = run_json(dir);
    assert_eq!(info["status"], "complete", "{info}");
    assert_eq!(info["schema_version"], 3);
    let records = journal(dir);
    let ok = ok_jobs(&records);
    let mut unique = ok.clone();
    unique.dedup();
    assert_eq!(ok.len(), jobs, "each job succeeds exactly once: {ok:?}");
    assert_eq!(unique.len(), jobs);
    for f in [
        "jobs.parquet",
        "jobs.csv",
        "samples.parquet",
        "samples.csv",
        "nodes.parquet",
        "nodes.csv",
        "machine.parquet",
    ] {
        let len = std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{f} missing or empty in {}", dir.display());
    }
    let jobs_csv = std::fs::read_to_string(dir.join("jobs.csv")).unwrap();
    assert_eq!(jobs_csv.lines().count(), records.len() + 1);
}

/// A scenario whose jobs are calibrated loads (known memory, a fixed duration) on a tiny
/// phantom: fast, deterministic, and no imaging needed.
pub fn load_scenario(
    dir: &Path,
    node_memory: &str,
    policy: &str,
    slots: usize,
    atlases: usize,
    rss_mib: usize,
    hold_ms: u64,
) -> PathBuf {
    let cmd = format!(
        "[\"{{atlasperf}}\", \"calibrated-load\", \"--rss-mib\", \"{rss_mib}\", \"--hold-ms\", \"{hold_ms}\", \"--dir\", \"{}\"]",
        dir.join("scratch").display()
    );
    let text = format!(
        r#"name = "loads"
interval_ms = 50
[cluster]
[[cluster.nodes]]
name = "n1"
cores = 2
memory = "{node_memory}"
slots = {slots}
[dataset.phantom]
shape = [8, 8, 8]
[workload]
targets = 2
atlases = {atlases}
[stages.registration]
command = {cmd}
[stages.fusion]
command = {cmd}
[scheduling]
policy = "{policy}"
retries = 2
"#
    );
    let path = dir.join("loads.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits until the journal holds `n` complete records.
pub fn wait_for_records(dir: &Path, n: usize, limit: Duration) {
    wait_for(limit, &format!("{n} records in {}", dir.display()), || {
        journal(dir).len() >= n
    });
}

/// Waits until `cond` holds, failing the test after `limit`.
pub fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < until, "no {what} after {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Live processes whose command line mentions `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    procfs::process::all_processes()
        .unwrap()
        .flatten()
        .filter(|p| {
            p.cmdline()
                .is_ok_and(|c| c.iter().any(|a| a.contains(needle)))
        })
        .map(|p| p.pid)
        .collect()
}

/// Writes a two-subject phantom cohort into `dir` through the CLI.
pub fn phantom(dir: &std::path::Path, shape: &str, spacing: &str, seed: &str) {
    atlasperf()
        .args([
            "phantom",
            "--subjects",
            "2",
            "--shape",
            shape,
            "--spacing",
            spacing,
            "--seed",
            seed,
            "--out",
        ])
        .arg(dir)
        .assert()
        .success()
        .stdout(predicates::str::contains("wrote 2 subjects"));
}

//! Measurement accuracy: `atlasperf profile` on calibrated loads whose CPU time, memory and
//! I/O are known in advance (`atlasperf calibrated-load`, spawning children of its own).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const MIB: f64 = 1048576.0;

struct Profiled {
    job: Value,
    /// The samples file's rows, as name → value maps (numbers only).
    samples: Vec<std::collections::HashMap<String, f64>>,
}

impl Profiled {
    fn num(&self, key: &str) -> f64 {
        self.job[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {}", self.job))
    }
    fn last(&self, key: &str) -> f64 {
        self.samples.last().expect("samples")[key]
    }
    fn max(&self, key: &str) -> f64 {
        self.samples.iter().map(|r| r[key]).fold(0.0, f64::max)
    }
}

fn profile(dir: &Path, name: &str, load: &[&str]) -> Profiled {
    let out = dir.join(name);
    let exe = assert_cmd::cargo::cargo_bin("atlasperf");
    Command::cargo_bin("atlasperf")
        .unwrap()
        .args(["profile", "--interval", "50", "--out"])
        .arg(&out)
        .arg("--")
        .arg(&exe)
        .arg("calibrated-load")
        .args(load)
        .arg("--dir")
        .arg(dir.join(format!("{name}-scratch")))
        .assert()
        .success();
    let journal = std::fs::read_to_string(out.join("jobs.jsonl")).unwrap();
    let job: Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    let csv = std::fs::read_to_string(out.join("samples/profile.1.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let samples = lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .filter_map(|(h, v)| Some((h.to_string(), v.parse::<f64>().ok()?)))
                .collect()
        })
        .collect();
    // The compacted tables exist next to the journal.
    for f in [
        "jobs.parquet",
        "jobs.csv",
        "samples.parquet",
        "samples.csv",
        "run.json",
    ] {
        assert!(
            out.join(f).is_file(),
            "{f} missing from the profile run store"
        );
    }
    Profiled { job, samples }
}

fn within(measured: f64, expected: f64, rel: f64) -> bool {
    (measured - expected).abs() <= rel * expected
}

#[test]
fn calibrated_loads_are_measured_to_their_known_values() {
    let dir = tempfile::tempdir().unwrap();
    let children = 2.0;
    let processes = children + 1.0;
    let (cpu, rss_mib, io) = (1.0, 256.0, 8_000_000.0);
    // The same binary and process tree doing nothing: its resident floor and startup reads.
    let base = profile(dir.path(), "base", &["--children", "2", "--hold-ms", "600"]);
    let load = profile(
        dir.path(),
        "load",
        &[
            "--children",
            "2",
            "--cpu-seconds",
            "1",
            "--rss-mib",
            "256",
            "--io-bytes",
            "8000000",
            "--hold-ms",
            "1000",
            "--tail-ms",
            "300",
        ],
    );

    // The whole tree was seen: parent and both children at once.
    assert_eq!(load.max("processes"), processes);

    // CPU: every process burned `cpu` seconds (children included), and the agent's total is
    // the tree's own account of itself (written by the load just before it exits; how much
    // the page faults and I/O around the burn cost depends on the machine's load, so that
    // is what is compared, not a fixed allowance).
    let cpu_total = load.num("cpu_user_s") + load.num("cpu_sys_s");
    let own: f64 = std::fs::read_to_string(dir.path().join("load-scratch/tree-cpu.txt"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(own >= processes * cpu, "the tree burned {own:.3} s");
    assert!(
        cpu_total >= own && cpu_total < own + 0.05,
        "agent's rusage {cpu_total:.3} s, the tree's own account {own:.3} s"
    );
    let cpu_sampled = load.last("cpu_s");
    assert!(
        within(cpu_sampled, cpu_total, 0.02),
        "sampled CPU {cpu_sampled:.3} s vs rusage {cpu_total:.3} s"
    );

    // Memory: the peak Σ RSS is the known allocation over the idle tree's floor.
    let expected = processes * rss_mib * MIB;
    let peak = load.num("peak_rss") - base.num("peak_rss");
    assert!(
        within(peak, expected, 0.02),
        "peak Σ RSS above the floor {:.1} MiB, allocated {:.1} MiB",
        peak / MIB,
        expected / MIB
    );
    let anon = load.num("peak_rss_anon") - base.num("peak_rss_anon");
    assert!(
        within(anon, expected, 0.02),
        "peak Σ RssAnon {:.1} MiB",
        anon / MIB
    );
    // ru_maxrss is one process's peak, not the job's: about a third of the sum here.
    let largest = load.num("max_rss_largest_process");
    assert!(
        largest < 0.5 * load.num("peak_rss"),
        "largest process {largest}"
    );

    // I/O: exact byte totals, children's included, and the samples end on the same numbers.
    // Besides its scratch files each process writes only its CPU account (tree-cpu.txt).
    let accounts = |name: &str| -> f64 {
        let d = dir.path().join(format!("{name}-scratch"));
        ["tree-cpu.txt", "child0/tree-cpu.txt", "child1/tree-cpu.txt"]
            .iter()
            .map(|f| std::fs::metadata(d.join(f)).unwrap().len() as f64)
            .sum()
    };
    assert_eq!(
        base.num("wchar"),
        accounts("base"),
        "the idle tree writes only its account"
    );
    assert_eq!(load.num("wchar"), processes * io + accounts("load"));
    assert_eq!(load.num("rchar") - base.num("rchar"), processes * io);
    assert_eq!(load.last("wchar"), load.num("wchar"));
    assert_eq!(load.last("rchar"), load.num("rchar"));
    // Storage writes: the scratch files reached the page cache; at most the written bytes
    // plus filesystem metadata are accounted (never less than was written).
    let wb = load.num("write_bytes");
    assert!(
        wb >= processes * io && wb < processes * io + 1048576.0,
        "write_bytes {wb}"
    );

    // The agent's own cost is recorded.
    assert!(load.num("agent_cpu_s") > 0.0);
    assert!(load.num("samples") >= 20.0);
}

#[test]
fn a_failing_command_is_recorded_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fail");
    Command::cargo_bin("atlasperf")
        .unwrap()
        .args(["profile", "--out"])
        .arg(&out)
        .args(["--", "sh", "-c", "exit 3"])
        .assert()
        .code(3);
    let journal = std::fs::read_to_string(out.join("jobs.jsonl")).unwrap();
    let job: Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert_eq!(job["status"], "failed");
    assert_eq!(job["exit_code"], 3);
}

#[test]
fn a_missing_program_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("atlasperf")
        .unwrap()
        .args(["profile", "--out"])
        .arg(dir.path().join("missing"))
        .args(["--", "/nonexistent/program"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("/nonexistent/program"), "{err}");
}

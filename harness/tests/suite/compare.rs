//! `atlasperf compare` on two synthetic run stores: the ratio table on stdout, the Markdown
//! file, and the regression gate's exit codes (0 within the bound, 1 above it, 2 for usage).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use atlasperf_store::synthetic::{write_store, Job, Node};
use predicates::prelude::*;

fn store(dir: &std::path::Path, wall: f64) {
    let nodes = [Node {
        name: "node1",
        cores: 2.0,
        memory: 4e9,
    }];
    let jobs = [
        Job::ok("reg-1", "registration", "node1", 0.0, wall, wall * 0.9, 1e8),
        Job::ok("fuse", "fusion", "node1", wall, wall + 2.0, 1.5, 2e7),
    ];
    write_store(dir, &nodes, &jobs, 0.5).unwrap();
}

#[test]
fn compare_prints_ratios_and_gates_regressions() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    store(&a, 10.0);
    store(&b, 20.0);
    let md = tmp.path().join("cmp.md");
    let ok = Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("compare")
        .args([&a, &b])
        .arg("--out")
        .arg(&md)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "| mean job time | 10.0 s | 20.0 s | 2.00× [1.56, 2.57] | **higher** |",
        ));
    let printed = String::from_utf8_lossy(&ok.get_output().stdout).to_string();
    assert_eq!(std::fs::read_to_string(&md).unwrap(), printed);

    Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("compare")
        .args([&a, &b])
        .args(["--max-ratio", "1.1"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("Image Registration CPU-hours")
                .and(predicate::str::contains("Image Registration mean job time").not()),
        );
    Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("compare")
        .args([&a, &b])
        .args(["--max-ratio", "1.1", "--gate-time"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Image Registration mean job time: 10.0 s → 20.0 s (2.00× [1.56, 2.57])",
        ));
    // One run a side: 2× could be the machine's drift between runs as far as a 1.6 bound goes
    // (the interval, widened by each run's 9 % drift, reaches 1.56), so the gate holds.
    Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("compare")
        .args([&a, &b])
        .args(["--max-ratio", "1.6"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "no CPU, memory or I/O quantity grew above 1.60× beyond the noise",
        ));
    Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("compare")
        .args([&a, &b])
        .arg("--max-ratio=0")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--max-ratio must be a positive number",
        ));
    Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("compare")
        .args([&a, &b])
        .args(["--noise-threshold", "1.5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--noise-threshold must be a fraction",
        ));
}

/// Writes a group file over the given member folders.
fn group(dir: &std::path::Path, members: &[&str]) {
    let runs: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
    std::fs::write(
        dir.join("group.json"),
        format!(
            r#"{{"kind":"atlasperf-group","scenario_name":"s","scenario_file":"s.toml","runs":[{}]}}"#,
            runs.join(",")
        ),
    )
    .unwrap();
}

#[test]
fn groups_are_compared_and_reported_as_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (i, w) in [10.0, 10.6, 9.5].into_iter().enumerate() {
        store(&a.join(format!("r0{}", i + 1)), w);
        store(
            &b.join(format!("r0{}", i + 1)),
            1.3 * w * [1.02, 0.97, 1.0][i],
        );
    }
    group(&a, &["r01", "r02", "r03"]);
    group(&b, &["r01", "r02", "r03"]);
    let out = Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("compare")
        .args([&a, &b])
        .args(["--max-ratio", "1.1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Image Registration CPU-hours"));
    let md = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(md.contains("(3 runs)") && md.contains("**higher**"), "{md}");
    // A group against itself: nothing beyond the noise.
    Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("compare")
        .args([&a, &a])
        .args(["--max-ratio", "1.1"])
        .assert()
        .success();
    // Its report: Table I over the three runs, and the representative run's figures.
    let rep = tmp.path().join("rep");
    Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("report")
        .arg(&a)
        .arg("--out")
        .arg(&rep)
        .assert()
        .success();
    let summary = std::fs::read_to_string(rep.join("summary.md")).unwrap();
    assert!(
        summary.contains("A group of 3 repetitions")
            && summary.contains("`r01`, the run with the median makespan"),
        "{summary}"
    );
    assert!(
        summary.contains("#### Table I over 3 repetitions"),
        "{summary}"
    );
    let csv = std::fs::read_to_string(rep.join("table1-group.csv")).unwrap();
    assert!(
        csv.starts_with("stage,runs,quantity,median,ci_low,ci_high\n"),
        "{csv}"
    );
    assert!(csv.contains("registration,3,mean job time,10,"), "{csv}");
    // A hostile group file is refused with its name, as a usage error.
    std::fs::write(
        a.join("group.json"),
        r#"{"kind":"atlasperf-group","scenario_name":"s","scenario_file":"s.toml","runs":["../b"]}"#,
    )
    .unwrap();
    Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("report")
        .arg(&a)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("group.json")
                .and(predicate::str::contains("not a folder name")),
        );
}

//! `atlasperf compare` on two synthetic run stores: the ratio table on stdout, the Markdown
//! file, and the regression gate's exit codes (0 within the bound, 1 above it, 2 for usage).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../reports/tests/common/mod.rs"]
mod common;

use assert_cmd::Command;
use common::{write_store, Job, Node};
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
    write_store(dir, &nodes, &jobs, 0.5);
}

#[test]
fn compare_prints_ratios_and_gates_regressions() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    store(&a, 10.0);
    store(&b, 13.0);
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
            "| mean job time | 10.0 s | 13.0 s | 1.30× |",
        ));
    let printed = String::from_utf8_lossy(&ok.get_output().stdout).to_string();
    assert_eq!(std::fs::read_to_string(&md).unwrap(), printed);

    Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("compare")
        .args([&a, &b])
        .args(["--max-ratio", "1.2"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Image Registration mean job time: 10.0 s → 13.0 s (1.30×)",
        ));
    Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("compare")
        .args([&a, &b])
        .args(["--max-ratio", "1.35"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no quantity grew above 1.35×"));
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
}

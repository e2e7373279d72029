//! `atlasperf sweep` end to end on a two-point grid of a tiny scenario: every point is a
//! complete run store, the sweep report is written, re-running keeps complete points and
//! resumes an interrupted one, and a different grid in the same folder is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

use crate::common;

fn quick() -> PathBuf {
    common::repo().join("scenarios/quick.toml")
}

fn sweep_file(dir: &Path, values: &str) -> PathBuf {
    let f = dir.join("tiny.toml");
    std::fs::write(
        &f,
        format!(
            "name = \"tiny\"\nbase = {:?}\n\
             set = [\"workload.targets=1\", \"dataset.phantom.shape=[24, 28, 24]\", \"dataset.phantom.spacing=6.0\"]\n\
             [[axes]]\nkey = \"workload.atlases\"\nlabel = \"atlases per target (n)\"\nvalues = {values}\n",
            quick().display().to_string()
        ),
    )
    .unwrap();
    f
}

fn status(run: &Path) -> String {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    v["status"].as_str().unwrap().to_string()
}

#[test]
fn sweep_runs_every_point_resumes_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), "[2, 3]");
    let out = tmp.path().join("sweep");
    let atlasperf = || Command::cargo_bin("atlasperf").unwrap();
    atlasperf()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .timeout(std::time::Duration::from_secs(300))
        .assert()
        .success()
        .stderr(predicate::str::contains("[1/2] p01-atlases=2: running"));
    for p in ["p01-atlases=2", "p02-atlases=3"] {
        assert_eq!(status(&out.join(p)), "complete", "{p}");
        assert!(out.join(p).join("report/summary.md").is_file(), "{p}");
    }
    let csv = std::fs::read_to_string(out.join("report/sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let md = std::fs::read_to_string(out.join("report/sweep.md")).unwrap();
    assert!(md.contains("2 of 2 points measured"), "{md}");
    assert!(md.contains("| makespan | all | 2 |"), "{md}");
    assert!(
        std::fs::metadata(out.join("report/sweep-atlases.png"))
            .unwrap()
            .len()
            > 20_000
    );

    // Mark the second point interrupted: re-running keeps the first and resumes the second.
    let info = out.join("p02-atlases=3/run.json");
    let text = std::fs::read_to_string(&info).unwrap();
    std::fs::write(&info, text.replace("\"complete\"", "\"interrupted\"")).unwrap();
    atlasperf()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .timeout(std::time::Duration::from_secs(300))
        .assert()
        .success()
        .stderr(
            predicate::str::contains("[1/2] p01-atlases=2: complete, kept").and(
                predicate::str::contains("[2/2] p02-atlases=3: interrupted, resuming"),
            ),
        );
    assert_eq!(status(&out.join("p02-atlases=3")), "complete");

    // Another grid in the same folder is refused before anything runs.
    let other = sweep_file(tmp.path(), "[2, 4]");
    atlasperf()
        .arg("sweep")
        .arg(&other)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("holds a different sweep"));
}

#[test]
fn invalid_sweeps_exit_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), "[0]");
    Command::cargo_bin("atlasperf")
        .unwrap()
        .arg("sweep")
        .arg(&file)
        .arg("--dry-run")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("tiny.toml")
                .and(predicate::str::contains("point p01-atlases=0")),
        );
    Command::cargo_bin("atlasperf")
        .unwrap()
        .args(["sweep", "no/such/sweep.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such/sweep.toml: cannot read"));
}

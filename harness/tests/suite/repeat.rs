//! `atlasperf run --repeat K [--interleave OTHER]`: K complete run stores and a group file;
//! two scenarios alternate ABBA into `a/` and `b/` and are compared; running the same command
//! again keeps what is complete; every run records its measurement conditions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{atlasperf, repo, run_json};
use predicates::prelude::*;

#[test]
fn interleaved_repetitions_make_two_groups_and_a_comparison() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ab");
    let quick = repo().join("scenarios/quick.toml");
    let cmd = || {
        let mut c = atlasperf();
        c.arg("run")
            .arg(&quick)
            .args(["--repeat", "2", "--out"])
            .arg(&dir)
            .arg("--interleave")
            .arg(&quick)
            .args([
                "--set",
                "workload.targets=1",
                "--interleave-set",
                "workload.targets=1",
            ])
            .args([
                "--interleave-set",
                "stages.registration.iterations=[130, 65, 13]",
            ]);
        c
    };
    let out = cmd().assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    // ABBA: a/r01, b/r01, b/r02, a/r02.
    let order: Vec<&str> = stderr
        .lines()
        .filter(|l| l.ends_with(": running"))
        .map(|l| {
            l.split_whitespace()
                .nth(1)
                .unwrap_or("")
                .trim_end_matches(':')
        })
        .collect();
    assert_eq!(order, ["a/r01", "b/r01", "b/r02", "a/r02"], "{stderr}");
    for side in ["a", "b"] {
        let g: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(side).join("group.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(g["kind"], "atlasperf-group");
        assert_eq!(g["runs"], serde_json::json!(["r01", "r02"]));
        for r in ["r01", "r02"] {
            let info = run_json(&dir.join(side).join(r));
            assert_eq!(info["status"], "complete", "{info}");
            let c = &info["conditions"];
            assert!(c["window_s"].as_f64().unwrap() > 0.0, "{info}");
            assert!(c["foreign_cpu_cores_mean"].as_f64().is_some(), "{info}");
        }
        assert!(dir.join(side).join("report/summary.md").is_file());
    }
    let md = std::fs::read_to_string(dir.join("compare.md")).unwrap();
    assert!(md.contains("A = `a` (2 runs), B = `b` (2 runs)"), "{md}");
    // The same command again keeps all four runs.
    let again = cmd().assert().success();
    let stderr = String::from_utf8_lossy(&again.get_output().stderr).to_string();
    assert_eq!(stderr.matches("complete, kept").count(), 4, "{stderr}");
    // A different scenario into the same folder is refused.
    atlasperf()
        .arg("run")
        .arg(&quick)
        .args(["--repeat", "2", "--set", "workload.targets=2", "--out"])
        .arg(dir.join("a"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "holds repetitions of another scenario",
        ));
}

//! `atlasperf run --repeat K [--interleave OTHER [--side-by-side]]`: K complete run stores and
//! a group file; two scenarios alternate ABBA (or run side by side) into `a/` and `b/` and are
//! compared; running the same command again keeps what is complete; every run records its
//! measurement conditions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{atlasperf, repo, run_json};
use predicates::prelude::*;

/// A phantom small enough that a run takes about a second.
const SMALL_IMAGES: [&str; 2] = [
    "dataset.phantom.shape=[20, 24, 20]",
    "dataset.phantom.spacing=8.0",
];

/// The members in the order the progress lines (`[i/n] a/r01: running…`) started them.
fn started<'a>(stderr: &'a str, marker: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.contains(marker))
        .map(|l| {
            l.split_whitespace()
                .nth(1)
                .unwrap_or("")
                .trim_end_matches(':')
        })
        .collect()
}

fn group_json(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("group.json")).unwrap()).unwrap()
}

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
            .args(
                SMALL_IMAGES
                    .iter()
                    .flat_map(|s| ["--set", s, "--interleave-set", s]),
            )
            .args([
                "--interleave-set",
                "stages.registration.iterations=[130, 65, 13]",
            ]);
        c
    };
    let out = cmd().assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    // ABBA: a/r01, b/r01, b/r02, a/r02.
    assert_eq!(
        started(&stderr, ": running"),
        ["a/r01", "b/r01", "b/r02", "a/r02"],
        "{stderr}"
    );
    for side in ["a", "b"] {
        let g = group_json(&dir.join(side));
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

#[test]
fn side_by_side_repetitions_run_at_the_same_time_and_are_compared_in_pairs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sbs");
    let quick = repo().join("scenarios/quick.toml");
    let small = [
        "workload.targets=1",
        SMALL_IMAGES[0],
        SMALL_IMAGES[1],
        "stages.registration.iterations=[4, 2, 1]",
    ];
    let cmd = |side_by_side: bool| {
        let mut c = atlasperf();
        c.arg("run")
            .arg(&quick)
            .args(["--repeat", "2", "--out"])
            .arg(&dir)
            .arg("--interleave")
            .arg(&quick);
        for s in small {
            c.args(["--set", s, "--interleave-set", s]);
        }
        if side_by_side {
            c.arg("--side-by-side");
        }
        c
    };
    let out = cmd(true).assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    // Both sides of a repetition start before either is waited for; B starts first in the
    // second repetition.
    assert_eq!(
        started(&stderr, ": running (output in "),
        ["a/r01", "b/r01", "b/r02", "a/r02"],
        "{stderr}"
    );
    for side in ["a", "b"] {
        let g = group_json(&dir.join(side));
        assert_eq!(g["side_by_side"], true, "{g}");
        for r in ["r01", "r02"] {
            assert_eq!(run_json(&dir.join(side).join(r))["status"], "complete");
            let log = std::fs::read_to_string(dir.join(side).join(format!("{r}.log"))).unwrap();
            assert!(log.contains("run store:"), "{log}");
        }
    }
    // The two runs of each repetition overlapped in time.
    for r in ["r01", "r02"] {
        let (a, b) = (
            run_json(&dir.join("a").join(r)),
            run_json(&dir.join("b").join(r)),
        );
        let t = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
        assert!(
            t(&a, "start_unix") < t(&b, "end_unix") && t(&b, "start_unix") < t(&a, "end_unix"),
            "{r} did not overlap: {a} {b}"
        );
    }
    let paired = "The runs ran side by side";
    let md = std::fs::read_to_string(dir.join("compare.md")).unwrap();
    assert!(md.contains(paired), "{md}");
    // `compare` of the two folders pairs them too; the same runs given another way do not.
    let out = atlasperf()
        .arg("compare")
        .arg(dir.join("a"))
        .arg(dir.join("b"))
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains(paired));
    let out = atlasperf()
        .arg("compare")
        .arg(dir.join("a"))
        .arg(dir.join("b/r01"))
        .assert()
        .success();
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains(paired));
    // Resuming without --side-by-side would mix two designs in one group: refused.
    cmd(false)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("side by side (--side-by-side)"));
    // The same command again keeps all four runs.
    let again = cmd(true).assert().success();
    let stderr = String::from_utf8_lossy(&again.get_output().stderr).to_string();
    assert_eq!(stderr.matches("complete, kept").count(), 4, "{stderr}");
}

#[test]
fn compare_side_by_side_needs_two_groups_of_one_size() {
    // Two single runs cannot be paired: a usage error naming both and their sizes.
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("one");
    atlasperf()
        .args(["profile", "--out"])
        .arg(&run)
        .args(["--", "true"])
        .assert()
        .success();
    atlasperf()
        .arg("compare")
        .arg(&run)
        .arg(&run)
        .arg("--side-by-side")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("holds 1 and"));
}

//! Drives the real `atlasperf` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use predicates::prelude::*;

fn atlasperf() -> Command {
    Command::cargo_bin("atlasperf").expect("binary built by cargo")
}

#[test]
fn help_describes_every_subcommand() {
    let out = atlasperf().arg("--help").assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for cmd in [
        "run", "sweep", "report", "compare", "profile", "agent", "kernel", "phantom", "eval",
    ] {
        assert!(text.contains(cmd), "--help does not list `{cmd}`:\n{text}");
    }
    for cmd in [
        vec!["run"],
        vec!["sweep"],
        vec!["report"],
        vec!["compare"],
        vec!["profile"],
        vec!["agent"],
        vec!["kernel", "register"],
        vec!["kernel", "fuse"],
        vec!["phantom"],
        vec!["eval", "dice"],
    ] {
        atlasperf()
            .args(&cmd)
            .arg("--help")
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: atlasperf"));
    }
}

#[test]
fn phantom_then_dice() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("c");
    atlasperf()
        .args([
            "phantom",
            "--subjects",
            "2",
            "--shape",
            "32,40,32",
            "--spacing",
            "5",
            "--seed",
            "3",
            "--out",
        ])
        .arg(&cohort)
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote 2 subjects"));
    for f in [
        "sub01_t1.nii.gz",
        "sub01_labels.nii.gz",
        "sub02_t1.nii.gz",
        "sub02_labels.nii.gz",
        "manifest.toml",
    ] {
        assert!(cohort.join(f).is_file(), "{f} missing");
    }
    let a = cohort.join("sub01_labels.nii.gz");
    let b = cohort.join("sub02_labels.nii.gz");
    atlasperf()
        .args(["eval", "dice"])
        .arg(&a)
        .arg(&a)
        .assert()
        .success()
        .stdout(predicate::str::contains("mean Dice over 15 labels: 1.0000"));
    let out = atlasperf()
        .args(["eval", "dice", "--json"])
        .arg(&a)
        .arg(&b)
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let mean = json["mean_dice"].as_f64().unwrap();
    assert!(mean > 0.0 && mean < 1.0, "mean Dice {mean}");
}

#[test]
fn bad_input_is_a_usage_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.nii.gz");
    std::fs::write(&bad, b"definitely not gzip").unwrap();
    atlasperf()
        .args(["eval", "dice"])
        .arg(&bad)
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.nii.gz"));
    atlasperf()
        .args(["eval", "dice", "/nonexistent/a.nii", "/nonexistent/b.nii"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/a.nii"));
    atlasperf()
        .args(["phantom", "--shape", "4,4"])
        .arg("--out")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("X,Y,Z"));
    atlasperf()
        .args(["phantom", "--shape", "4,40,40", "--out"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("shape"));
}

#[test]
fn unimplemented_commands_exit_2() {
    atlasperf()
        .args(["run", "scenarios/quick.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not implemented yet"));
}

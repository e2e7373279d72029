//! The door: scenario values and kernel arguments out of bounds, and inputs on other grids,
//! are refused with exit code 2 before any job starts or any file is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use predicates::prelude::*;

mod common;
use common::{atlasperf, phantom};

#[test]
fn unknown_registration_choices_in_a_scenario_are_usage_errors() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/quick.toml");
    let dir = tempfile::tempdir().unwrap();
    for (key, value, expected) in [
        (
            "preset",
            "slow",
            "unknown variant `slow`, expected `paper` or `fast`",
        ),
        (
            "metric",
            "mi",
            "unknown variant `mi`, expected `mattes` or `cc`",
        ),
        (
            "label_interpolation",
            "cubic",
            "unknown variant `cubic`, expected `nearest` or `linear`",
        ),
        (
            "iterations",
            "200x100",
            "200x100 has 2 levels but shrink (4x2x1) has 3",
        ),
    ] {
        let out = dir.path().join(key);
        atlasperf()
            .arg("run")
            .arg(scenario)
            .args(["--set", &format!("stages.registration.{key}=\"{value}\"")])
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "stages.registration.{key} (set by --set): {expected}"
            )));
        assert!(
            !out.exists(),
            "a run folder was made for a refused scenario"
        );
    }
}

#[test]
fn inputs_on_another_grid_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // Same shape, different spacing: the same voxel index is a different place.
    phantom(&a, "24,28,24", "4", "1");
    phantom(&b, "24,28,24", "3", "1");
    let (la, lb) = (a.join("sub01_labels.nii.gz"), b.join("sub01_labels.nii.gz"));
    atlasperf()
        .args(["eval", "dice"])
        .arg(&la)
        .arg(&lb)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("different grids"));
    atlasperf()
        .args(["kernel", "fuse", "--method", "majority", "--target"])
        .arg(a.join("sub01_t1.nii.gz"))
        .arg("--atlas-labels")
        .arg(&la)
        .arg("--atlas-labels")
        .arg(&lb)
        .arg("--out")
        .arg(dir.path().join("fused.nii.gz"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("sub01_labels.nii.gz")
                .and(predicate::str::contains("not on the grid of")),
        );
    atlasperf()
        .args(["kernel", "register", "--fixed"])
        .arg(a.join("sub01_t1.nii.gz"))
        .arg("--moving")
        .arg(a.join("sub02_t1.nii.gz"))
        .arg("--moving-labels")
        .arg(a.join("sub02_labels.nii.gz"))
        .arg("--fixed-labels")
        .arg(&lb)
        .arg("--out")
        .arg(dir.path().join("reg_"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not on the grid of"));
    assert!(!dir.path().join("reg_warped.nii.gz").exists());
}

#[test]
fn threads_no_node_can_give_are_refused_and_oversubscribed_slots_are_stated() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/quick.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    atlasperf()
        .arg("run")
        .arg(scenario)
        .args(["--set", "stages.registration.threads=2", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "stages.registration.threads (set by --set): 2 threads per job, but the largest node has 1 core:",
        ));
    assert!(
        !out.exists(),
        "a run folder was made for a refused scenario"
    );
    // quick.toml runs 2 single-thread slots on 1-core nodes on purpose: stated, not refused.
    atlasperf()
        .arg("run")
        .arg(scenario)
        .arg("--dry-run")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "note: node node1: 2 slots × 1 thread per job = 2 threads on 1 core (2.0× oversubscribed",
        ));
}

#[test]
fn fusion_radii_are_bounded_before_any_atlas_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c");
    phantom(&c, "24,28,24", "4", "1");
    for (flag, value, expected) in [
        (
            "--patch-radius",
            "1000000",
            "--patch-radius: 1000000: at most 8 voxels",
        ),
        (
            "--search-radius",
            "100",
            "--search-radius: 100: at most 8 voxels",
        ),
    ] {
        let mut cmd = atlasperf();
        cmd.args(["kernel", "fuse", "--target"])
            .arg(c.join("sub01_t1.nii.gz"))
            .arg("--atlas-images")
            .arg(c.join("sub02_t1.nii.gz"))
            .arg("--atlas-labels")
            // A missing file: the radius must be refused before it is opened.
            .arg(dir.path().join("absent_labels.nii.gz"))
            .arg("--out")
            .arg(dir.path().join("fused.nii.gz"))
            .args([flag, value]);
        cmd.assert()
            .code(2)
            .stderr(predicate::str::contains(expected));
    }
    assert!(!dir.path().join("fused.nii.gz").exists());
}

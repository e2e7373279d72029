//! The door: invalid scenarios and overrides, scenario values and kernel arguments out of
//! bounds, inputs on other grids and symlinks planted in a run store are refused with exit
//! code 2 before any job starts or any file is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use predicates::prelude::*;

use crate::common;
use crate::common::*;

#[test]
fn unknown_registration_choices_in_a_scenario_are_usage_errors() {
    let scenario = common::repo().join("scenarios/quick.toml");
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
            .arg(&scenario)
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
    let scenario = common::repo().join("scenarios/quick.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    atlasperf()
        .arg("run")
        .arg(&scenario)
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
        .arg(&scenario)
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

#[test]
fn planted_symlinks_are_refused_and_their_targets_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = load_scenario(tmp.path(), "4 GiB", "slots", 2, 1, 10, 100);
    let target = tmp.path().join("precious");
    std::fs::write(&target, "precious\n").unwrap();
    let unchanged = || assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");

    // A journal symlink planted in a new run folder.
    let dir = tmp.path().join("run");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&target, dir.join("jobs.jsonl")).unwrap();
    atlasperf()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&dir)
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("jobs.jsonl").and(predicate::str::contains("symbolic link")),
        );
    unchanged();

    // A report folder, and a summary inside one, planted in a finished run.
    let ok = tmp.path().join("ok");
    atlasperf()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&ok)
        .assert()
        .success();
    std::fs::remove_dir_all(ok.join("report")).unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, ok.join("report")).unwrap();
    atlasperf()
        .arg("report")
        .arg(&ok)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("symbolic link"));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    std::fs::remove_file(ok.join("report")).unwrap();
    std::fs::create_dir_all(ok.join("report")).unwrap();
    std::os::unix::fs::symlink(&target, ok.join("report/summary.md")).unwrap();
    atlasperf()
        .arg("report")
        .arg(&ok)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("summary.md"));
    unchanged();
}

#[test]
fn invalid_scenarios_give_file_line_column_and_exit_2() {
    let dir = common::repo().join("harness/tests/fixtures/invalid");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# expect: ")
            .unwrap();
        let out = atlasperf()
            .current_dir(&dir)
            .arg("run")
            .arg(path.file_name().unwrap())
            .arg("--dry-run")
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(
            err.contains(expect),
            "{}:\nexpected: {expect}\ngot: {err}",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 10);
}

#[test]
fn overrides_apply_and_bad_overrides_are_reported() {
    let quick = repo().join("scenarios/quick.toml");
    let out = atlasperf()
        .arg("run")
        .arg(&quick)
        .args([
            "--dry-run",
            "--set",
            "workload.atlases=2",
            "--set",
            "cluster.nodes[1].slots=5",
        ])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("4 registration jobs"), "{text}");
    assert!(
        text.contains("node node2: 1 cores, 2.0 GiB, 5 slots"),
        "{text}"
    );
    let out = atlasperf()
        .arg("run")
        .arg(&quick)
        .args(["--dry-run", "--set", "workload.targets=0"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("workload.targets (set by --set): must be at least 1"),
        "{err}"
    );
    let out = atlasperf()
        .arg("run")
        .arg(&quick)
        .args(["--dry-run", "--set", "workload.tragets=2"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("workload.tragets (set by --set): unknown field `tragets`"),
        "{err}"
    );
}

//! Label fusion on a registered phantom cohort, through the CLI as the pipeline runs it: a
//! target and 5 atlases registered to it with our kernel (fast preset), then joint label
//! fusion and majority vote. JLF must reach at least majority vote's Dice − 0.005 and the best
//! single atlas's Dice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn atlasperf() -> Command {
    Command::cargo_bin("atlasperf").unwrap()
}

fn dice(truth: &Path, seg: &Path) -> f64 {
    let out = atlasperf()
        .args(["eval", "dice", "--json"])
        .args([truth, seg])
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    v["mean_dice"].as_f64().unwrap()
}

#[test]
fn jlf_beats_the_best_atlas_and_matches_majority_vote_on_a_registered_cohort() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    atlasperf()
        .args([
            "phantom",
            "--subjects",
            "6",
            "--shape",
            "48,56,48",
            "--spacing",
            "3.5",
        ])
        .args(["--seed", "7", "--out"])
        .arg(&c)
        .assert()
        .success();
    let target = c.join("sub01_t1.nii.gz");
    let truth = c.join("sub01_labels.nii.gz");
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for n in 2..=6 {
        let s = format!("sub{n:02}");
        let prefix = tmp.path().join(format!("{s}_"));
        atlasperf()
            .args([
                "kernel",
                "register",
                "--preset",
                "fast",
                "--label-interpolation",
                "linear",
                "--threads",
                "2",
                "--fixed",
            ])
            .arg(&target)
            .arg("--moving")
            .arg(c.join(format!("{s}_t1.nii.gz")))
            .arg("--moving-labels")
            .arg(c.join(format!("{s}_labels.nii.gz")))
            .arg("--out")
            .arg(&prefix)
            .assert()
            .success();
        images.push(tmp.path().join(format!("{s}_warped.nii.gz")));
        labels.push(tmp.path().join(format!("{s}_warped_labels.nii.gz")));
    }
    let best_single = labels.iter().map(|l| dice(&truth, l)).fold(0.0, f64::max);
    let fuse = |method: &str| {
        let out = tmp.path().join(format!("{method}.nii.gz"));
        atlasperf()
            .args([
                "kernel",
                "fuse",
                "--threads",
                "2",
                "--method",
                method,
                "--target",
            ])
            .arg(&target)
            .arg("--atlas-images")
            .args(&images)
            .arg("--atlas-labels")
            .args(&labels)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        dice(&truth, &out)
    };
    let (jlf, majority) = (fuse("jlf"), fuse("majority"));
    println!(
        "mean Dice: JLF {jlf:.4}, majority vote {majority:.4}, best single atlas {best_single:.4}"
    );
    assert!(
        jlf >= majority - 0.005,
        "JLF {jlf:.4} < majority {majority:.4} − 0.005"
    );
    assert!(
        jlf >= best_single,
        "JLF {jlf:.4} < best single atlas {best_single:.4}"
    );
}

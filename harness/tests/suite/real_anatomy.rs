//! Registration on real anatomy: subjects made from the MNI ICBM 2009a brain template (real
//! cortical folding, ventricles and cerebellum) with our own random warps, bias and noise, at
//! 3 mm. Both presets must give maps that never fold, improve the overlap, and write their
//! transforms in ITK form.
//!
//! The template comes from PyPI, so this test is ignored by the plain test command; CI runs
//! it after `scripts/fetch-template.sh`, with `ATLASPERF_TEMPLATE` naming the folder:
//!
//! ```sh
//! ATLASPERF_TEMPLATE="$(scripts/fetch-template.sh)" \
//!   cargo test --release -p atlasperf-harness --test suite -- --ignored real_anatomy::
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use crate::common::atlasperf;

fn template() -> PathBuf {
    let dir = std::env::var_os("ATLASPERF_TEMPLATE").expect(
        "ATLASPERF_TEMPLATE must name the folder scripts/fetch-template.sh wrote (this test is \
         run on purpose, with --ignored, so a missing template is a failure, not a skip)",
    );
    PathBuf::from(dir)
}

fn summary(prefix: &Path) -> serde_json::Value {
    let mut s = prefix.as_os_str().to_owned();
    s.push("summary.json");
    serde_json::from_slice(&std::fs::read(PathBuf::from(s)).unwrap()).unwrap()
}

#[test]
#[ignore = "needs the MNI template: ATLASPERF_TEMPLATE=$(scripts/fetch-template.sh)"]
fn neither_preset_folds_on_real_anatomy_at_3_mm() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c");
    atlasperf()
        .args([
            "phantom",
            "--subjects",
            "3",
            "--spacing",
            "3",
            "--seed",
            "5",
            "--template",
        ])
        .arg(template())
        .arg("--out")
        .arg(&c)
        .assert()
        .success();
    for moving in ["sub02", "sub03"] {
        for preset in ["paper", "fast"] {
            let prefix = dir.path().join(format!("{moving}_{preset}_"));
            let out = atlasperf()
                .args(["kernel", "register", "--threads", "2", "--preset", preset])
                .args(["--label-interpolation", "linear"])
                .arg("--fixed")
                .arg(c.join("sub01_t1.nii.gz"))
                .arg("--moving")
                .arg(c.join(format!("{moving}_t1.nii.gz")))
                .arg("--moving-labels")
                .arg(c.join(format!("{moving}_labels.nii.gz")))
                .arg("--fixed-labels")
                .arg(c.join("sub01_labels.nii.gz"))
                .arg("--out")
                .arg(&prefix)
                .assert()
                .success();
            let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
            let s = summary(&prefix);
            let stages = &s["stages"];
            let jac = stages["min_jacobian"].as_f64().unwrap();
            let (before, after) = (
                s["dice"]["before"].as_f64().unwrap(),
                s["dice"]["after"].as_f64().unwrap(),
            );
            println!(
                "{moving} {preset}: Dice {before:.4} -> {after:.4}, min Jacobian {jac:.3}, \
                 folded {}",
                stages["folded_voxels"]
            );
            assert!(jac > 0.0, "{moving} {preset} folds: min Jacobian {jac}");
            assert_eq!(stages["folded_voxels"], 0, "{moving} {preset}");
            assert!(stdout.contains("folded voxels 0"), "{stdout}");
            assert!(
                after > before + 0.15,
                "{moving} {preset}: {before} -> {after}"
            );
            for f in ["0GenericAffine.mat", "1Warp.nii.gz", "1InverseWarp.nii.gz"] {
                let mut p = prefix.as_os_str().to_owned();
                p.push(f);
                assert!(PathBuf::from(p).is_file(), "{f} missing");
            }
        }
    }
}

//! Drives the real `atlasperf` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use predicates::prelude::*;

use crate::common::{atlasperf, phantom};

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
    phantom(&cohort, "32,40,32", "5", "3");
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
fn kernel_register_writes_its_outputs_and_improves_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c");
    phantom(&c, "40,48,40", "4", "9");
    let prefix = dir.path().join("out").join("r_");
    let run = register_pair(&c, &prefix, &["--iterations", "40x20x10", "--step", "0.25"]);
    assert!(run.stdout.contains("mean Dice"), "{}", run.stdout);
    // 40×48×40 shrunk by 4 is 10×12×10: small for SyN on MI, but the paper preset's inverse
    // round trips on levels under 30 voxels cover it, so no warning.
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    for f in [
        "warped.nii.gz",
        "warped_labels.nii.gz",
        "warp.nii.gz",
        "affine.json",
        "summary.json",
    ] {
        let mut name = prefix.as_os_str().to_owned();
        name.push(f);
        assert!(std::path::Path::new(&name).is_file(), "{f} missing");
    }
    let s = &run.summary;
    let (before, after) = (
        s["dice"]["before"].as_f64().unwrap(),
        s["dice"]["after"].as_f64().unwrap(),
    );
    assert!(after > before + 0.2, "Dice {before} -> {after}");
    assert_eq!(s["stages"]["syn_levels"].as_array().unwrap().len(), 3);
    assert!(s["stages"]["min_jacobian"].as_f64().unwrap() > 0.0);
    assert!(s["peak_rss_bytes"].as_u64().unwrap() > 1_000_000);
    // The paper preset's SyN: Mattes MI, variances 3 and 0; the step given on the line.
    let syn = &s["parameters"]["syn"];
    assert_eq!(syn["metric"]["Mattes"]["bins"], 32, "{syn}");
    assert_eq!(syn["step"], 0.25);
    assert_eq!(syn["update_variance"], 3.0);
    assert_eq!(syn["total_variance"], 0.0);
    assert_eq!(
        syn["schedule"]["iterations"],
        serde_json::json!([40, 20, 10])
    );
    assert_eq!(s["label_interpolation"], "nearest");
    assert_eq!(s["warnings"], serde_json::json!([]));

    // The fast preset: CC, step 0.5, variances 3 and 0.5; per-label linear interpolation on
    // request.
    let fast = register_pair(
        &c,
        &dir.path().join("fast_"),
        &[
            "--preset",
            "fast",
            "--iterations",
            "10x5x2",
            "--label-interpolation",
            "linear",
        ],
    );
    let s = &fast.summary;
    let syn = &s["parameters"]["syn"];
    assert_eq!(syn["metric"]["Cc"]["radius"], 2, "{syn}");
    assert_eq!(syn["step"], 0.5);
    assert_eq!(syn["update_variance"], 3.0);
    assert_eq!(syn["total_variance"], 0.5);
    assert_eq!(s["label_interpolation"], "linear");
    // CC on the same grid: no small-grid warning.
    assert_eq!(s["warnings"], serde_json::json!([]));

    atlasperf()
        .args(["kernel", "register", "--iterations", "10x5", "--out", "x"])
        .arg("--fixed")
        .arg(c.join("sub01_t1.nii.gz"))
        .arg("--moving")
        .arg(c.join("sub02_t1.nii.gz"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--iterations: 10x5 has 2 levels but shrink (4x2x1) has 3",
        ));
}

#[test]
fn kernel_fuse_majority_vote() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c");
    phantom(&c, "32,40,32", "5", "4");
    let (l1, l2) = (c.join("sub01_labels.nii.gz"), c.join("sub02_labels.nii.gz"));
    let out = dir.path().join("seg.nii.gz");
    // Two copies of sub01 outvote sub02: the result is sub01's labels exactly.
    atlasperf()
        .args(["kernel", "fuse", "--method", "majority", "--target"])
        .arg(c.join("sub01_t1.nii.gz"))
        .arg("--atlas-labels")
        .args([&l1, &l2, &l1])
        .arg("--truth")
        .arg(&l1)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("mean Dice 1.0000"));
    atlasperf()
        .args(["kernel", "fuse", "--method", "jlf", "--target"])
        .arg(c.join("sub01_t1.nii.gz"))
        .arg("--atlas-labels")
        .arg(&l1)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--atlas-images"));
    // JLF with the target itself among the atlases reproduces its labels.
    let (i1, i2) = (c.join("sub01_t1.nii.gz"), c.join("sub02_t1.nii.gz"));
    atlasperf()
        .args(["kernel", "fuse", "--search-radius", "1", "--target"])
        .arg(&i1)
        .arg("--atlas-images")
        .args([&i1, &i2])
        .arg("--atlas-labels")
        .args([&l1, &l2])
        .arg("--truth")
        .arg(&l1)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("joint label fusion"));
    let fused = std::fs::read(&out).unwrap();
    assert!(!fused.is_empty());
    // A mask and the posteriors: one probability image per label.
    let post = dir.path().join("post");
    atlasperf()
        .args(["kernel", "fuse", "--search-radius", "1", "--target"])
        .arg(&i1)
        .arg("--atlas-images")
        .args([&i1, &i2])
        .arg("--atlas-labels")
        .args([&l1, &l2])
        .arg("--mask")
        .arg(&l1)
        .arg("--posteriors")
        .arg(&post)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let written = std::fs::read_dir(&post).unwrap().count();
    assert!(written >= 2, "{written} posterior images");
    assert!(post.join("posterior_0.nii.gz").is_file());
    atlasperf()
        .args(["kernel", "fuse", "--method", "majority", "--target"])
        .arg(&i1)
        .arg("--atlas-labels")
        .args([&l1, &l2])
        .arg("--mask")
        .arg(&l1)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("joint label fusion only"));
}

#[test]
fn missing_run_stores_and_scenarios_exit_2() {
    atlasperf()
        .args(["compare", "runs/x", "runs/y"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("runs/x: not a run store"));
    atlasperf()
        .args(["report", "no/such/run"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such/run: not a run store"));
    atlasperf()
        .args(["run", "no/such/scenario.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no/such/scenario.toml: cannot read",
        ));
}

/// Runs `kernel register` (paper preset) on a cohort's pair; returns the summary and stderr.
fn register_pair(c: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> Registered {
    let done = atlasperf()
        .args(["kernel", "register", "--threads", "2"])
        .args(extra)
        .arg("--fixed")
        .arg(c.join("sub01_t1.nii.gz"))
        .arg("--moving")
        .arg(c.join("sub02_t1.nii.gz"))
        .arg("--moving-labels")
        .arg(c.join("sub02_labels.nii.gz"))
        .arg("--fixed-labels")
        .arg(c.join("sub01_labels.nii.gz"))
        .arg("--out")
        .arg(out)
        .assert()
        .success();
    let mut summary = out.as_os_str().to_owned();
    summary.push("summary.json");
    let output = done.get_output();
    Registered {
        summary: serde_json::from_slice(&std::fs::read(summary).unwrap()).unwrap(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// What one `kernel register` run left: its summary and what it printed.
struct Registered {
    summary: serde_json::Value,
    stdout: String,
    stderr: String,
}

#[test]
fn mi_syn_does_not_fold_on_a_small_grid() {
    // 40×50×40 at 2 mm: the coarsest level is 10×13×10, where SyN on Mattes MI without the
    // inverse round trips folded (Dice 0.38).
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c");
    phantom(&c, "40,50,40", "2", "1");
    let r = register_pair(&c, &dir.path().join("rt_"), &[]);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let s = r.summary;
    let dice = s["dice"]["after"].as_f64().unwrap();
    let jac = s["stages"]["min_jacobian"].as_f64().unwrap();
    println!("Dice {dice:.4}, min Jacobian {jac:.3}");
    assert!(jac > 0.0, "folds: {jac}");
    assert_eq!(s["stages"]["folded_voxels"], 0);
    assert!(dice > 0.75, "Dice {dice}");
}

#[test]
fn kernel_register_refuses_an_image_with_nan_voxels() {
    use atlasperf_kernels::volume::{write_image, Geometry, Volume};
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c");
    phantom(&c, "16,16,16", "4", "3");
    let mut data = vec![1.0f32; 16 * 16 * 16];
    data[17] = f32::NAN;
    let bad = dir.path().join("masked.nii.gz");
    let volume = Volume::from_vec(
        [16, 16, 16],
        data,
        Geometry::centered([16, 16, 16], [4.0; 3]),
    )
    .unwrap();
    write_image(&bad, &volume).unwrap();
    atlasperf()
        .args(["kernel", "register", "--out"])
        .arg(dir.path().join("r_"))
        .arg("--fixed")
        .arg(&bad)
        .arg("--moving")
        .arg(c.join("sub02_t1.nii.gz"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("masked.nii.gz"))
        .stderr(predicate::str::contains("1 voxels are not finite"));
}

//! `atlasperf run` end to end with the local executor: the quick scenario, shipped and invalid
//! scenarios, interrupting and resuming, and the OOM watchdog on real processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

#[test]
fn every_shipped_scenario_parses_and_plans() {
    let mut n = 0;
    for e in std::fs::read_dir(repo().join("scenarios")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            // Sweep files are validated point by point by `sweep --dry-run`.
            let sweep = path
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with("sweep-"));
            let out = atlasperf()
                .arg(if sweep { "sweep" } else { "run" })
                .arg(&path)
                .arg("--dry-run")
                .assert()
                .success();
            let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
            assert!(
                text.contains(if sweep {
                    "points over"
                } else {
                    "registration jobs"
                }),
                "{}: {text}",
                path.display()
            );
            n += 1;
        }
    }
    assert!(
        n >= 6,
        "expected quick, paper, oom, quick-slurm and the two sweeps"
    );
}

#[test]
fn quick_scenario_produces_a_complete_run_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("quick");
    atlasperf()
        .arg("run")
        .arg(repo().join("scenarios/quick.toml"))
        .arg("--out")
        .arg(&dir)
        .assert()
        .success();
    assert_complete_store(&dir, 8);
    for t in ["sub01", "sub02"] {
        assert!(dir.join(format!("outputs/fusion/{t}_seg.nii.gz")).is_file());
    }
    // The run renders its report: Fig 2 and Fig 3 per node, Table I, the summary with Dice.
    for f in [
        "fig2-registration-node1.png",
        "fig2-registration-node2.svg",
        "table1.csv",
        "report.html",
    ] {
        assert!(dir.join("report").join(f).is_file(), "report/{f} missing");
    }
    // Where the two fusions land depends on timing; each node that ran one has its Fig 3.
    let fusion_nodes: std::collections::BTreeSet<String> = journal(&dir)
        .iter()
        .filter(|r| r["stage"] == "fusion")
        .map(|r| r["node"].as_str().unwrap().to_string())
        .collect();
    assert!(!fusion_nodes.is_empty());
    for n in &fusion_nodes {
        let f = dir.join(format!("report/fig3-fusion-{n}.png"));
        assert!(f.is_file(), "{} missing", f.display());
    }
    let summary = std::fs::read_to_string(dir.join("report/summary.md")).unwrap();
    assert!(
        summary.contains("| Image Registration | 6 (6)"),
        "{summary}"
    );
    assert!(
        summary.contains("Mean Dice of the fused segmentations"),
        "{summary}"
    );
    let info = run_json(&dir);
    assert_eq!(info["nodes"].as_array().unwrap().len(), 2);
    assert!(
        info["notes"]["memory_forecast"]["registration"]["measured_max_peak"]
            .as_u64()
            .unwrap()
            > 1 << 20
    );
    // Refuses to overwrite a run.
    atlasperf()
        .arg("run")
        .arg(repo().join("scenarios/quick.toml"))
        .arg("--out")
        .arg(&dir)
        .assert()
        .code(2);
}

#[test]
fn an_interrupted_run_is_kept_and_resume_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = load_scenario(tmp.path(), "4 GiB", "slots", 2, 3, 10, 700);
    let dir = tmp.path().join("run");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("atlasperf"))
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&dir)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_records(&dir, 2, Duration::from_secs(60));
    // Interrupt while later jobs run (on a loaded machine the next jobs may not have been
    // launched the moment the first two records appear).
    let scratch = tmp.path().join("scratch").display().to_string();
    let until = Instant::now() + Duration::from_secs(60);
    while processes_mentioning(&scratch).is_empty() {
        assert!(Instant::now() < until, "no job started after the first two");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill only sends a signal to our own child.
    unsafe {
        libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let info = run_json(&dir);
    assert_eq!(info["status"], "interrupted");
    let before = journal(&dir);
    assert!(
        before.iter().any(|r| r["status"] == "terminated"),
        "{before:?}"
    );
    assert!(dir.join("jobs.parquet").is_file() && dir.join("samples.parquet").is_file());
    assert!(
        processes_mentioning(&tmp.path().join("scratch").display().to_string()).is_empty(),
        "jobs outlived the run"
    );
    let done_before = ok_jobs(&before);
    assert!(done_before.len() >= 2 && done_before.len() < 8);

    // The same store as an older atlasperf wrote it (schema 1) is reported, not resumed.
    let path = dir.join("run.json");
    let current = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        current.replace("\"schema_version\": 3", "\"schema_version\": 1"),
    )
    .unwrap();
    atlasperf()
        .args(["run", "--resume"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "written by an older atlasperf (store schema 1): it can be reported and compared, not resumed",
        ));
    atlasperf()
        .arg("report")
        .arg(&dir)
        .args(["--out"])
        .arg(tmp.path().join("old-report"))
        .assert()
        .success();
    std::fs::write(&path, current).unwrap();

    atlasperf()
        .args(["run", "--resume"])
        .arg(&dir)
        .assert()
        .success();
    assert_complete_store(&dir, 8);
    // Jobs done before the interrupt were not run again.
    let after = journal(&dir);
    for id in &done_before {
        assert_eq!(
            after.iter().filter(|r| &r["job_id"] == id).count(),
            1,
            "{id} ran again"
        );
    }
    // A complete run cannot be resumed.
    atlasperf()
        .args(["run", "--resume"])
        .arg(&dir)
        .assert()
        .code(2);
}

#[test]
fn a_killed_harness_leaves_a_readable_store_that_resume_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = load_scenario(tmp.path(), "4 GiB", "slots", 2, 3, 10, 700);
    let dir = tmp.path().join("run");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("atlasperf"))
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&dir)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_records(&dir, 2, Duration::from_secs(60));
    child.kill().unwrap();
    child.wait().unwrap();
    // What was written is readable: run.json (still "running") and every journal line.
    assert_eq!(run_json(&dir)["status"], "running");
    let before = ok_jobs(&journal(&dir));
    assert!(before.len() >= 2);
    atlasperf()
        .args(["run", "--resume"])
        .arg(&dir)
        .assert()
        .success();
    assert_complete_store(&dir, 8);
}

#[test]
fn the_watchdog_kills_the_largest_job_on_a_full_node_and_the_retry_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    // Two 120 MiB loads at once on a 200 MiB node.
    let scenario = load_scenario(tmp.path(), "200 MiB", "unlimited", 8, 2, 120, 1200);
    let dir = tmp.path().join("run");
    atlasperf()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&dir)
        .assert()
        .success();
    assert_complete_store(&dir, 6);
    let records = journal(&dir);
    let killed: Vec<&Value> = records
        .iter()
        .filter(|r| r["status"] == "oom_killed")
        .collect();
    assert!(!killed.is_empty(), "no OOM kill: {records:?}");
    for k in &killed {
        assert_eq!(k["signal"], 9);
        let retried = records.iter().any(|r| {
            r["job_id"] == k["job_id"]
                && r["status"] == "ok"
                && r["attempt"].as_u64() > k["attempt"].as_u64()
        });
        assert!(retried, "{} was not retried", k["job_id"]);
    }
    // The report shows the kills: Table I's last column and the diagnosis.
    let out = tmp.path().join("md");
    atlasperf()
        .args(["report", "--format", "md"])
        .arg(&dir)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains(&format!("| 0 / {} |", killed.len())),
        "{summary}"
    );
    assert!(summary.contains("**memory-bound**"), "{summary}");
    assert!(!out.join("report.html").exists());
}

#[test]
fn auto_memory_requests_come_from_a_calibration_job_or_earlier_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let base = load_scenario(tmp.path(), "1 GiB", "memory", 8, 2, 40, 300);
    let text = std::fs::read_to_string(&base)
        .unwrap()
        .replace("command = ", "memory = \"auto\"\ncommand = ");
    std::fs::write(&base, &text).unwrap();
    let first = tmp.path().join("first");
    atlasperf()
        .arg("run")
        .arg(&base)
        .arg("--out")
        .arg(&first)
        .assert()
        .success();
    assert_complete_store(&first, 6);
    let forecast = &run_json(&first)["notes"]["memory_forecast"]["registration"];
    assert_eq!(forecast["source"], "calibration", "{forecast}");
    let measured = forecast["measured_max_peak"].as_f64().unwrap();
    let predicted = forecast["forecast_peak"].as_f64().unwrap();
    assert!((predicted / measured - 1.0).abs() < 0.25, "{forecast}");
    // The calibration job ran alone; the others were admitted with the forecast + 15 %.
    let records = journal(&first);
    let requests: Vec<u64> = records
        .iter()
        .filter(|r| r["stage"] == "registration")
        .filter_map(|r| r["mem_request"].as_u64())
        .collect();
    assert_eq!(requests.len(), 3, "{records:?}");

    let second_file = tmp.path().join("second.toml");
    std::fs::write(
        &second_file,
        format!("{text}forecast_from = [\"{}\"]\n", first.display()),
    )
    .unwrap();
    let second = tmp.path().join("second");
    atlasperf()
        .arg("run")
        .arg(&second_file)
        .arg("--out")
        .arg(&second)
        .assert()
        .success();
    let forecast = &run_json(&second)["notes"]["memory_forecast"]["registration"];
    assert_eq!(forecast["source"], "earlier runs", "{forecast}");
    // With a model from the start, every registration was admitted with a request.
    let requests = journal(&second)
        .iter()
        .filter(|r| r["stage"] == "registration" && r["mem_request"].as_u64().is_some())
        .count();
    assert_eq!(requests, 4);
}

#[test]
fn a_failing_preflight_stops_the_run_before_anything_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    atlasperf()
        .env("ATLASPERF_ANCHORS", tmp.path().join("no-venv"))
        .arg("run")
        .arg(repo().join("scenarios/paper-ants.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("paper-ants.toml: preflight")
                .and(predicate::str::contains(
                    "the ANTs anchors are not installed",
                ))
                .and(predicate::str::contains("scripts/install-anchors.sh")),
        );
    assert!(!out.exists(), "no run folder for a run that cannot start");
}

#[test]
fn leave_one_out_is_explicit_and_never_registers_a_target_to_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("loo.toml");
    std::fs::write(
        &path,
        r#"name = "loo"
[cluster]
[[cluster.nodes]]
name = "n1"
cores = 1
memory = "1 GiB"
[dataset.phantom]
shape = [8, 8, 8]
subjects = 3
[workload]
targets = 2
atlases = 3
target_ids = ["sub01", "sub02"]
atlas_ids = ["sub01", "sub02", "sub03"]
leave_one_out = true
"#,
    )
    .unwrap();
    let out = atlasperf()
        .arg("run")
        .arg(&path)
        .arg("--dry-run")
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for job in [
        "reg-sub01-sub02",
        "reg-sub01-sub03",
        "reg-sub02-sub01",
        "reg-sub02-sub03",
    ] {
        assert!(
            text.contains(&format!("  {job} [")),
            "{job} missing:\n{text}"
        );
    }
    for own in ["reg-sub01-sub01", "reg-sub02-sub02"] {
        assert!(!text.contains(own), "{own} planned:\n{text}");
    }
}

//! Faults injected into real runs, and what the run store must still promise afterwards
//! (`docs/run-store.md`): every planned job has exactly one successful attempt, attempt ids
//! are unique, each attempt's samples are its own and in order, and no sample written before
//! the fault is lost. Faults: the harness killed (SIGKILL) at several moments and resumed,
//! two resumes at once, an agent killed, a torn journal tail, a full disk (planted symlinks: door.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::*;
use predicates::prelude::*;

/// 2 targets × 3 atlases + 2 fusions of 0.5 s loads, 2 at a time.
const JOBS: usize = 8;
const LIMIT: Duration = Duration::from_secs(120);

fn start(scenario: &Path, dir: &Path) -> Child {
    std::process::Command::new(bin())
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn kill9(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn resume(dir: &Path) -> assert_cmd::assert::Assert {
    atlasperf().args(["run", "--resume"]).arg(dir).assert()
}

/// Complete rows of every samples file of the store, per attempt.
fn sample_rows(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("samples")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".csv") else {
            continue;
        };
        if id.ends_with(".node") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        let rows: Vec<String> = text
            .split_inclusive('\n')
            .skip(1)
            .filter(|l| l.ends_with('\n'))
            .map(|l| l.trim_end().to_string())
            .collect();
        out.insert(id.to_string(), rows);
    }
    out
}

/// The promises of the store after a fault and a resume (see the module docs). `before` is
/// what the samples files held right after the fault.
fn assert_whole(dir: &Path, before: &BTreeMap<String, Vec<String>>) {
    assert_complete_store(dir, JOBS);
    let records = journal(dir);
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r["attempt_id"].as_str().unwrap())
        .collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "attempt ids reused: {ids:?}");
    let after = sample_rows(dir);
    for (id, rows) in &after {
        assert!(
            unique.contains(id.as_str()),
            "{id} has samples but no journal record"
        );
        let mut last_t = -1.0;
        for row in rows {
            let f: Vec<&str> = row.split(',').collect();
            assert_eq!(f[0], id, "a row of another attempt in {id}'s samples");
            let t: f64 = f[1].parse().unwrap();
            // Two ticks can share a printed time when a late tick catches up at once.
            assert!(t >= last_t, "{id}: t goes back from {last_t} to {t}");
            last_t = t;
        }
    }
    for (id, rows) in before {
        let now = after.get(id).map_or(&[][..], Vec::as_slice);
        assert!(
            now.len() >= rows.len() && now[..rows.len()] == rows[..],
            "{id}: samples written before the fault were lost ({} then, {} now)",
            rows.len(),
            now.len()
        );
    }
    // The compacted table holds every sample of every file.
    let csv = std::fs::read_to_string(dir.join("samples.csv")).unwrap();
    let total: usize = after.values().map(Vec::len).sum();
    assert_eq!(csv.lines().count() - 1, total);
    eprintln!(
        "store whole: {} attempts, {total} samples; {} samples written before the fault, all kept",
        ids.len(),
        before.values().map(Vec::len).sum::<usize>()
    );
}

/// Kills the harness at one moment (given as a condition on the store), resumes, checks.
fn kill_then_resume(name: &str, moment: impl Fn(&Path) -> bool) {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = load_scenario(tmp.path(), "4 GiB", "slots", 2, 3, 10, 500);
    let dir = tmp.path().join("run");
    let mut child = start(&scenario, &dir);
    wait_for(LIMIT, name, || moment(&dir));
    kill9(&mut child);
    let before = sample_rows(&dir);
    resume(&dir).success();
    assert_whole(&dir, &before);
    let info = run_json(&dir);
    assert_eq!(
        info["segments"].as_array().map(Vec::len),
        Some(2),
        "{name}: {info}"
    );
}

fn launched(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("logs")).map_or(0, |d| {
        d.flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".launch.json"))
            .count()
    })
}

#[test]
fn harness_killed_during_setup() {
    kill_then_resume("run.json written", |d| d.join("run.json").exists());
}

#[test]
fn harness_killed_while_the_first_jobs_run() {
    kill_then_resume("first launch", |d| {
        launched(d) >= 1 && journal(d).is_empty()
    });
}

#[test]
fn harness_killed_after_some_records() {
    kill_then_resume("2 records", |d| journal(d).len() >= 2);
}

#[test]
fn harness_killed_late_in_the_registrations() {
    kill_then_resume("5 records", |d| journal(d).len() >= 5);
}

#[test]
fn harness_killed_during_fusion() {
    kill_then_resume("a fusion launch", |d| {
        std::fs::read_dir(d.join("logs")).is_ok_and(|e| {
            e.flatten()
                .any(|f| f.file_name().to_string_lossy().starts_with("fuse-"))
        })
    });
}

#[test]
fn harness_killed_twice_including_during_its_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = load_scenario(tmp.path(), "4 GiB", "slots", 2, 3, 10, 500);
    let dir = tmp.path().join("run");
    let mut child = start(&scenario, &dir);
    wait_for_records(&dir, 2, LIMIT);
    kill9(&mut child);
    let mut again = std::process::Command::new(bin())
        .args(["run", "--resume"])
        .arg(&dir)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_records(&dir, 4, LIMIT);
    kill9(&mut again);
    let before = sample_rows(&dir);
    std::thread::sleep(Duration::from_millis(1500));
    resume(&dir).success();
    assert_whole(&dir, &before);
    // Active time only: the idle gaps are recorded, not counted in the makespan.
    let info = run_json(&dir);
    let gaps: f64 = info["segments"]
        .as_array()
        .unwrap()
        .windows(2)
        .map(|w| w[1]["start_unix"].as_f64().unwrap() - w[0]["end_unix"].as_f64().unwrap())
        .sum();
    assert!(gaps >= 1.0, "{info}");
    let makespan = journal(&dir)
        .iter()
        .map(|r| r["end_s"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let wall = info["end_unix"].as_f64().unwrap() - info["start_unix"].as_f64().unwrap();
    assert!(
        makespan <= wall - gaps + 0.5,
        "makespan {makespan} wall {wall} gaps {gaps}"
    );
}

#[test]
fn two_resumes_at_once_and_a_resume_of_a_running_run_are_refused_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = load_scenario(tmp.path(), "4 GiB", "slots", 2, 3, 10, 500);
    let dir = tmp.path().join("run");
    let mut child = start(&scenario, &dir);
    wait_for_records(&dir, 1, LIMIT);
    // The run is still going: a resume is refused with its pid.
    resume(&dir)
        .code(2)
        .stderr(predicate::str::contains(format!("pid {}", child.id())));
    kill9(&mut child);
    let spawn = || {
        std::process::Command::new(bin())
            .args(["run", "--resume"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(
        codes.contains(&Some(0)) && codes.contains(&Some(2)),
        "one resume runs, the other is refused: {codes:?}"
    );
    let refused = if a.status.code() == Some(2) { &a } else { &b };
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("in use by another atlasperf process"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_whole(&dir, &BTreeMap::new());
}

#[test]
fn a_killed_agent_is_a_failed_attempt_with_its_samples_and_is_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = load_scenario(tmp.path(), "4 GiB", "slots", 2, 3, 10, 1500);
    let dir = tmp.path().join("run");
    let mut child = start(&scenario, &dir);
    let needle = format!("{}/samples/reg-", dir.display());
    // The agent to kill is one whose own samples file already holds 5 rows (another agent
    // running beside it may have just started).
    let mut agent = None;
    wait_for(LIMIT, "an agent with 5 samples", || {
        agent = processes_mentioning(&needle).into_iter().find(|&pid| {
            let cmdline = procfs::process::Process::new(pid).and_then(|p| p.cmdline());
            cmdline.is_ok_and(|c| {
                c.iter()
                    .filter(|a| a.contains(&needle))
                    .any(|path| std::fs::read_to_string(path).is_ok_and(|t| t.lines().count() > 5))
            })
        });
        agent.is_some()
    });
    // SAFETY: kill only sends a signal.
    unsafe {
        libc::kill(agent.unwrap(), libc::SIGKILL);
    }
    assert!(child.wait().unwrap().success());
    assert_whole(&dir, &BTreeMap::new());
    let records = journal(&dir);
    let failed: Vec<_> = records.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{records:?}");
    let f = failed[0];
    assert!(f["samples"].as_u64().unwrap() >= 5, "{f}");
    assert_eq!(f["totals_from_samples"], true, "{f}");
    assert!(f["peak_rss"].as_u64().unwrap() > 10 << 20, "{f}");
    assert!(records
        .iter()
        .any(|r| r["job_id"] == f["job_id"] && r["status"] == "ok"));
}

#[test]
fn a_torn_journal_tail_is_moved_aside_and_the_run_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = load_scenario(tmp.path(), "4 GiB", "slots", 2, 3, 10, 500);
    let dir = tmp.path().join("run");
    let mut child = start(&scenario, &dir);
    wait_for_records(&dir, 3, LIMIT);
    kill9(&mut child);
    let text = std::fs::read_to_string(dir.join("jobs.jsonl")).unwrap();
    let last = text.lines().last().unwrap();
    // Tear a copy of the last record in half, as a kill mid-write would.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("jobs.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, &last.as_bytes()[..last.len() / 2]).unwrap();
    drop(f);
    // A report renders what was measured in the meantime.
    atlasperf()
        .args(["report", "--format", "md"])
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains("--resume"));
    let before = sample_rows(&dir);
    resume(&dir)
        .success()
        .stderr(predicate::str::contains("torn journal line"));
    assert_whole(&dir, &before);
    let torn = std::fs::read_to_string(dir.join("jobs.jsonl.torn")).unwrap();
    assert_eq!(torn.trim_end(), &last[..last.len() / 2]);
}

/// Mounts a small tmpfs at `dir`; `None` (with a message) where this machine does not allow it.
fn small_tmpfs(dir: &Path, size: &str) -> Option<Mount> {
    std::fs::create_dir_all(dir).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(Mount(dir.to_path_buf()))
    } else {
        eprintln!(
            "skipped: cannot mount a tmpfs here (needs root); the disk-full case is not tested"
        );
        None
    }
}

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_stops_the_run_as_failed_keeps_every_measurement_and_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = load_scenario(tmp.path(), "4 GiB", "slots", 2, 3, 10, 800);
    let Some(mount) = small_tmpfs(&tmp.path().join("disk"), "8m") else {
        return;
    };
    let dir = mount.0.join("run");
    let mut child = start(&scenario, &dir);
    wait_for_records(&dir, 2, LIMIT);
    // Fill the disk.
    let filler = mount.0.join("filler");
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .stderr(Stdio::null())
        .status();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "a full disk fails the run");
    let info = run_json(&dir);
    assert_eq!(info["status"], "failed", "{info}");
    let failure = info["notes"]["failure"].as_str().unwrap_or_default();
    assert!(
        failure.contains("filled up") && failure.contains("--resume"),
        "{failure}"
    );
    let before = sample_rows(&dir);
    // No room: the resume is refused, not half done.
    resume(&dir).failure();
    std::fs::remove_file(&filler).unwrap();
    resume(&dir).success();
    assert_whole(&dir, &before);
    drop(mount);
}

#[test]
fn an_early_interrupt_leaves_the_run_interrupted_not_running() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = load_scenario(tmp.path(), "4 GiB", "slots", 2, 3, 10, 500);
    let dir = tmp.path().join("run");
    let mut child = start(&scenario, &dir);
    wait_for(LIMIT, "run.json", || dir.join("run.json").exists());
    // SAFETY: kill only sends a signal to our own child.
    unsafe {
        libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGINT);
    }
    let code = child.wait().unwrap().code();
    let info = run_json(&dir);
    assert_ne!(info["status"], "running", "{info}");
    assert!(code == Some(130) || code == Some(0), "{code:?}");
    if info["status"] != "complete" {
        resume(&dir).success();
    }
    assert_whole(&dir, &BTreeMap::new());
}

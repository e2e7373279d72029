//! `atlasperf simulate` and `atlasperf export`: k identical jobs with a known profile give the
//! analytic makespan and peak (processor sharing, waves, the OOM rule); a measured run's
//! profiles replayed give back its own makespan, node peak and CPU time; a seed gives the
//! same simulation every time; SWF and WfFormat carry every attempt and the dependencies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use atlasperf_store::synthetic::{write_store, Job, Node};
use atlasperf_store::{read_jobs_table, read_nodes_table, AttemptStatus};
use serde_json::Value;

fn atlasperf() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("atlasperf").unwrap()
}

const MB: f64 = 1e6;
/// Voxels of the 20×20×20 phantom the scenarios below plan.
const VOXELS: u64 = 8000;

/// A profile run measured alone on one 1-core node: a registration of 10 s (one core busy,
/// 100 MB throughout) and then a fusion of one atlas, 4 s and 50 MB.
fn profile_store(dir: &Path) {
    let nodes = [Node {
        name: "p1",
        cores: 1.0,
        memory: 8e9,
    }];
    let reg = Job {
        voxels: Some(VOXELS),
        target: "t".into(),
        atlas: Some("a1".into()),
        ..Job::ok(
            "reg-t-a1",
            "registration",
            "p1",
            0.0,
            10.0,
            10.0,
            100.0 * MB,
        )
    };
    let fuse = Job {
        voxels: Some(VOXELS),
        target: "t".into(),
        ..Job::ok("fuse-t", "fusion", "p1", 10.0, 14.0, 4.0, 50.0 * MB)
    };
    write_store(dir, &nodes, &[reg, fuse], 0.25).unwrap();
}

/// One target and three atlases on one node.
fn scenario(dir: &Path, cores: usize, slots: usize, memory: &str) -> std::path::PathBuf {
    let p = dir.join(format!(
        "k3-{cores}-{slots}-{}.toml",
        memory.replace(' ', "")
    ));
    std::fs::write(
        &p,
        format!(
            r#"name = "k3"
[cluster]
executor = "local"
[[cluster.nodes]]
name = "n1"
cores = {cores}
memory = "{memory}"
slots = {slots}
[dataset.phantom]
shape = [20, 20, 20]
spacing = 4.0
[workload]
targets = 1
atlases = 3
[stages.registration]
threads = 1
[stages.fusion]
threads = 1
[scheduling]
policy = "slots"
retries = 1
"#
        ),
    )
    .unwrap();
    p
}

fn simulate(scenario: &Path, profiles: &Path, out: &Path, seed: u64) -> Value {
    atlasperf()
        .arg("simulate")
        .arg(scenario)
        .arg("--profiles")
        .arg(profiles)
        .arg("--out")
        .arg(out)
        .args(["--samples", "5", "--seed", &seed.to_string()])
        .assert()
        .success();
    serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap()
}

fn makespan(dir: &Path) -> f64 {
    read_jobs_table(&dir.join("jobs.parquet"))
        .unwrap()
        .iter()
        .map(|j| j.end_s)
        .fold(0.0, f64::max)
}

fn node_peak(dir: &Path) -> f64 {
    read_nodes_table(&dir.join("nodes.parquet"))
        .unwrap()
        .iter()
        .map(|n| n.rss)
        .max()
        .unwrap() as f64
}

fn band(info: &Value, q: &str) -> [f64; 3] {
    let b = info["notes"]["simulation"]["bands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["quantity"] == q)
        .unwrap();
    ["p10", "p50", "p90"].map(|k| b[k].as_f64().unwrap())
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-9)
}

#[test]
fn identical_jobs_give_the_analytic_makespan_and_peak() {
    let tmp = tempfile::tempdir().unwrap();
    let prof = tmp.path().join("profile");
    profile_store(&prof);
    // The fusion of 3 atlases: 3 × 4 s and 3 × 50 MB (linear in the atlases with one count
    // profiled).
    let fusion = 12.0;
    let cases = [
        // Three 1-thread jobs share one core: each runs at 1/3 and all end at 30 s.
        (1, 3, "8 GiB", 30.0 + fusion, 300.0 * MB, 0.0),
        // Three cores: no sharing.
        (3, 3, "8 GiB", 10.0 + fusion, 300.0 * MB, 0.0),
        // Two slots on two cores: two waves.
        (2, 2, "8 GiB", 20.0 + fusion, 200.0 * MB, 0.0),
    ];
    for (k, (cores, slots, memory, want_makespan, want_peak, want_oom)) in
        cases.into_iter().enumerate()
    {
        let s = scenario(tmp.path(), cores, slots, memory);
        let out = tmp.path().join(format!("sim{k}"));
        let info = simulate(&s, &prof, &out, 1);
        assert_eq!(info["status"], "complete");
        assert!(info["notes"]["simulation"]["samples"] == 5, "{info}");
        let got = makespan(&out);
        assert!(
            close(got, want_makespan, 1e-6),
            "case {k}: makespan {got} want {want_makespan}"
        );
        let peak = band(&info, "node_peak_rss")[1];
        assert!(
            close(peak, want_peak, 1e-3),
            "case {k}: peak {peak} want {want_peak}"
        );
        assert_eq!(band(&info, "oom_killed"), [want_oom; 3]);
        // One profile per stage: every sample is the same.
        let m = band(&info, "makespan_s");
        assert!(close(m[0], m[2], 1e-9) && close(m[1], want_makespan, 1e-6));
        // The nodes table is the store's own aggregation of the written series.
        assert!(close(node_peak(&out), want_peak, 1e-3), "case {k}");
        // CPU time is conserved: 3 × 10 s + 12 s.
        let cpu: f64 = read_jobs_table(&out.join("jobs.parquet"))
            .unwrap()
            .iter()
            .map(|j| j.totals.cpu_s())
            .sum();
        assert!(close(cpu, 42.0, 1e-6), "case {k}: cpu {cpu}");
    }
}

#[test]
fn past_the_nodes_memory_the_largest_job_is_killed_and_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let prof = tmp.path().join("profile");
    profile_store(&prof);
    // 250 MB holds two of the three 100 MB registrations: one is killed at launch and
    // retried when the two before it have ended, as the emulated nodes' watchdog does.
    let s = scenario(tmp.path(), 3, 3, "250 MB");
    let out = tmp.path().join("oom");
    let info = simulate(&s, &prof, &out, 1);
    let jobs = read_jobs_table(&out.join("jobs.parquet")).unwrap();
    let killed: Vec<_> = jobs
        .iter()
        .filter(|j| j.status == AttemptStatus::OomKilled)
        .collect();
    assert_eq!(killed.len(), 1, "{jobs:#?}");
    assert_eq!(killed[0].end_s, 0.0);
    assert_eq!(info["status"], "complete");
    assert!(close(makespan(&out), 10.0 + 10.0 + 12.0, 1e-6));
    assert!(node_peak(&out) <= 250.0 * MB);
}

#[test]
fn a_seed_gives_the_same_simulation_and_exports_carry_every_attempt() {
    let tmp = tempfile::tempdir().unwrap();
    let prof = tmp.path().join("profile");
    profile_store(&prof);
    let s = scenario(tmp.path(), 1, 3, "8 GiB");
    let swf = |dir: &Path| {
        let out = atlasperf()
            .arg("export")
            .arg(dir)
            .args(["--format", "swf"])
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    simulate(&s, &prof, &a, 7);
    simulate(&s, &prof, &b, 7);
    let body = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with(';'))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (sa, sb) = (swf(&a), swf(&b));
    assert_eq!(body(&sa), body(&sb));
    // Four attempts, 18 fields each; the fusion (executable 2) follows the last
    // registration (its preceding job) with no think time.
    let lines = body(&sa);
    assert_eq!(lines.len(), 4, "{sa}");
    for l in &lines {
        assert_eq!(l.split_whitespace().count(), 18, "{l}");
    }
    let fuse: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(fuse[13], "2");
    assert_eq!(fuse[16], "3");
    assert_eq!(fuse[17], "0");

    let wf = atlasperf()
        .arg("export")
        .arg(&a)
        .args(["--format", "wfformat"])
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&wf.get_output().stdout).unwrap();
    assert_eq!(v["schemaVersion"], "1.5");
    let spec = v["workflow"]["specification"]["tasks"].as_array().unwrap();
    assert_eq!(spec.len(), 4);
    let fuse = spec.iter().find(|t| t["name"] == "fusion").unwrap();
    assert_eq!(fuse["parents"].as_array().unwrap().len(), 3);
    let exec = v["workflow"]["execution"]["tasks"].as_array().unwrap();
    assert!(exec.iter().all(|t| !t["atlasperfMemorySeries"]["rssBytes"]
        .as_array()
        .unwrap()
        .is_empty()));
}

#[test]
fn simulating_from_a_simulated_run_or_a_missing_profile_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let prof = tmp.path().join("profile");
    profile_store(&prof);
    let s = scenario(tmp.path(), 1, 3, "8 GiB");
    let sim = tmp.path().join("sim");
    simulate(&s, &prof, &sim, 1);
    atlasperf()
        .arg("simulate")
        .arg(&s)
        .arg("--profiles")
        .arg(&sim)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is a simulated run"));
    atlasperf()
        .arg("simulate")
        .arg(&s)
        .arg("--profiles")
        .arg(tmp.path().join("nowhere"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nowhere"));
    // Writing over a run is refused.
    atlasperf()
        .arg("simulate")
        .arg(&s)
        .arg("--profiles")
        .arg(&prof)
        .arg("--out")
        .arg(&sim)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("already holds a run"));
}

#[test]
fn a_measured_runs_profiles_replayed_give_back_its_makespan_peak_and_cpu() {
    // One job at a time on one node: the simulation of the same scenario from its own
    // attempts must reproduce it (up to the driver's polling between jobs).
    let tmp = tempfile::tempdir().unwrap();
    let s = tmp.path().join("alone.toml");
    std::fs::write(
        &s,
        r#"name = "alone"
interval_ms = 50
[cluster]
executor = "local"
[[cluster.nodes]]
name = "n1"
cores = 1
memory = "4 GiB"
slots = 1
[dataset.phantom]
shape = [28, 32, 28]
spacing = 5.0
[workload]
targets = 1
atlases = 2
[stages.registration]
preset = "fast"
threads = 1
[stages.fusion]
threads = 1
[scheduling]
policy = "slots"
"#,
    )
    .unwrap();
    let real = tmp.path().join("real");
    atlasperf()
        .arg("run")
        .arg(&s)
        .arg("--out")
        .arg(&real)
        .assert()
        .success();
    // Two more runs as a group: validated against their median, beside their spread; a
    // member of the group given as a profile is refused.
    let group = tmp.path().join("group");
    atlasperf()
        .arg("run")
        .arg(&s)
        .args(["--repeat", "2", "--out"])
        .arg(&group)
        .assert()
        .success();
    let out = atlasperf()
        .args(["simulate", "--samples", "3", "--validate"])
        .arg(&group)
        .arg("--profiles")
        .arg(&real)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("repeat spread over 2 runs"), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("makespan_s"))
        .unwrap_or("");
    assert_eq!(row.split_whitespace().count(), 9, "{text}");
    atlasperf()
        .args(["simulate", "--validate"])
        .arg(&group)
        .arg("--profiles")
        .arg(group.join("r01"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot also be a profile"));
    let sim = tmp.path().join("sim");
    let info = simulate(&s, &real, &sim, 1);
    assert_eq!(info["status"], "complete");
    let (rm, sm) = (makespan(&real), makespan(&sim));
    // Each job replays its own wall time and the time the harness held its slot around it
    // (agent start-up, the driver's poll), as measured in the same run.
    assert!(
        (rm - sm).abs() < 0.05 * rm + 0.2,
        "makespan real {rm} sim {sm}"
    );
    // One job at a time: the node's true peak is its largest job's. The node's sampled series
    // can miss a job's short peaks (the kernels return freed buffers at once), which the
    // job's own high-water mark still holds; the replay holds them too.
    let (rp, sp) = (node_peak(&real), node_peak(&sim));
    let largest = read_jobs_table(&real.join("jobs.parquet"))
        .unwrap()
        .iter()
        .map(|j| j.totals.peak_rss)
        .max()
        .unwrap() as f64;
    assert!(
        sp >= rp * 0.95 && sp <= largest * 1.05,
        "node peak real {rp} (largest job {largest}) sim {sp}"
    );
    let cpu = |d: &Path| -> f64 {
        read_jobs_table(&d.join("jobs.parquet"))
            .unwrap()
            .iter()
            .map(|j| j.totals.cpu_s())
            .sum()
    };
    // Every attempt's CPU time comes back, as far as its threads could burn it in its wall
    // time: a short job can read a little more (its wall and its CPU time are not taken by
    // the same clock), and a replay runs no job above its threads.
    let within: f64 = read_jobs_table(&real.join("jobs.parquet"))
        .unwrap()
        .iter()
        .map(|j| {
            j.totals
                .cpu_s()
                .min(j.threads.max(1) as f64 * j.totals.wall_s)
        })
        .sum();
    let (cs, cr) = (cpu(&sim), cpu(&real));
    assert!(
        close(cs, within, 1e-6),
        "CPU: sim {cs}, real {cr}, within the threads {within}"
    );
}

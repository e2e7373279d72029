//! Scheduling with the mock executor (virtual time): waves under `slots`, capacity under
//! `memory`, the OOM watchdog and retries under `unlimited`, dependencies, placement.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use atlasperf_harness::driver::{drive, Ending, Event};
use atlasperf_harness::executor::mock::MockExecutor;
use atlasperf_harness::plan::{expand, Plan, PlannedJob, Stage};
use atlasperf_harness::scenario::{validate, Scenario};
use atlasperf_harness::scheduler::Scheduler;
use atlasperf_harness::store::{AttemptStatus, JobRecord};

const GB: u64 = 1_000_000_000;

fn plan(toml_text: &str) -> Plan {
    let s: Scenario = toml::from_str(toml_text).unwrap();
    validate(&s).unwrap();
    expand(
        &s,
        Path::new("."),
        Path::new("/run"),
        Path::new("atlasperf"),
    )
    .unwrap()
}

fn scenario(nodes: &str, policy: &str, targets: usize, atlases: usize, extra: &str) -> String {
    format!(
        "name = \"t\"\n{extra_top}\n[cluster]\n{nodes}\n[workload]\ntargets = {targets}\natlases = {atlases}\n[scheduling]\npolicy = \"{policy}\"\n{extra}",
        extra_top = "",
    )
}

fn node(name: &str, memory: &str, slots: usize) -> String {
    format!(
        "[[cluster.nodes]]\nname = \"{name}\"\ncores = 8\nmemory = \"{memory}\"\nslots = {slots}\n"
    )
}

struct Outcome {
    records: Vec<JobRecord>,
    kills: Vec<(String, usize, u64)>,
    /// (attempt id, node, start) of every launch.
    launches: Vec<(String, usize, f64)>,
    ending: Ending,
    /// Largest Σ of running jobs' memory per node, seen at every launch.
    max_node_memory: Vec<u64>,
}

/// Runs a plan on the mock: registration takes `reg` seconds holding `reg_mem`, fusion `fuse`
/// seconds holding `fuse_mem`.
fn run(plan: &Plan, reg: (f64, u64), fuse: (f64, u64), fail: &'static [&'static str]) -> Outcome {
    let profile = move |j: &PlannedJob, attempt: &str| {
        let exit = i32::from(fail.contains(&attempt));
        match j.stage {
            Stage::Registration => (reg.0, reg.1, exit),
            Stage::Fusion => (fuse.0, fuse.1, exit),
        }
    };
    let mut exec = MockExecutor::new(Box::new(profile));
    let mut sched = Scheduler::new(plan, [None, None]);
    let mut records = Vec::new();
    let mut kills = Vec::new();
    let mut running: Vec<(String, usize, u64)> = Vec::new();
    let mut max_node_memory = vec![0u64; plan.nodes.len()];
    let stop = AtomicBool::new(false);
    let ending = drive(
        plan,
        &mut sched,
        &mut exec,
        &stop,
        Duration::ZERO,
        &mut |e| {
            match e {
                Event::Launching { .. } => {}
                Event::Launched {
                    job,
                    attempt_id,
                    node,
                } => {
                    let mem = match plan.jobs[job].stage {
                        Stage::Registration => reg.1,
                        Stage::Fusion => fuse.1,
                    };
                    running.push((attempt_id.to_string(), node, mem));
                    let on_node: u64 = running.iter().filter(|r| r.1 == node).map(|r| r.2).sum();
                    max_node_memory[node] = max_node_memory[node].max(on_node);
                }
                Event::Recorded { record, .. } => {
                    running.retain(|r| r.0 != record.attempt_id);
                    records.push(record.clone());
                }
                Event::OomKill {
                    attempt_id,
                    node,
                    node_rss,
                } => {
                    kills.push((attempt_id.to_string(), node, node_rss));
                }
            }
            Ok(())
        },
    )
    .unwrap();
    Outcome {
        records,
        kills,
        launches: exec.launches.clone(),
        ending,
        max_node_memory,
    }
}

fn starts(o: &Outcome, stage: &str) -> Vec<f64> {
    let mut s: Vec<f64> = o
        .records
        .iter()
        .filter(|r| r.stage == stage)
        .map(|r| r.start_s)
        .collect();
    s.sort_by(f64::total_cmp);
    s.dedup();
    s
}

fn all_ok(o: &Outcome, plan: &Plan) {
    for j in &plan.jobs {
        assert!(
            o.records
                .iter()
                .any(|r| r.job_id == j.id && r.status == AttemptStatus::Ok),
            "{} never succeeded: {:?}",
            j.id,
            o.records
                .iter()
                .filter(|r| r.job_id == j.id)
                .map(|r| r.status)
                .collect::<Vec<_>>()
        );
    }
}

fn fusion_after_its_registrations(o: &Outcome) {
    for f in o.records.iter().filter(|r| r.stage == "fusion") {
        let last_reg = o
            .records
            .iter()
            .filter(|r| {
                r.stage == "registration" && r.target == f.target && r.status == AttemptStatus::Ok
            })
            .map(|r| r.end_s)
            .fold(f64::MIN, f64::max);
        assert!(
            f.start_s >= last_reg,
            "{} started at {} before {}",
            f.job_id,
            f.start_s,
            last_reg
        );
    }
}

#[test]
fn slots_policy_runs_the_papers_waves() {
    // The paper: 2 nodes, 3 concurrent registrations per node, m = 4 targets, n = 3 atlases:
    // 12 registrations in 6 slots → 2 waves.
    let p = plan(&scenario(
        &(node("a", "32 GB", 3) + &node("b", "32 GB", 3)),
        "slots",
        4,
        3,
        "",
    ));
    let o = run(&p, (100.0, 8 * GB), (10.0, GB), &[]);
    assert_eq!(o.ending, Ending::Complete);
    all_ok(&o, &p);
    assert_eq!(starts(&o, "registration"), vec![0.0, 100.0]);
    fusion_after_its_registrations(&o);
    // One node, 3 slots, 9 registrations: 3 waves.
    let p = plan(&scenario(&node("a", "32 GB", 3), "slots", 1, 9, ""));
    let o = run(&p, (100.0, 8 * GB), (10.0, GB), &[]);
    assert_eq!(starts(&o, "registration"), vec![0.0, 100.0, 200.0]);
    assert_eq!(starts(&o, "fusion"), vec![300.0]);
}

#[test]
fn memory_policy_never_exceeds_capacity() {
    let extra = "[stages.registration]\nmemory = \"3 GB\"\n[stages.fusion]\nmemory = \"1 GB\"\n";
    let s = scenario(
        &(node("a", "10 GB", 100) + &node("b", "7 GB", 100)),
        "memory",
        4,
        5,
        "",
    )
    .replace("[scheduling]", &format!("{extra}[scheduling]"));
    let p = plan(&s);
    let o = run(&p, (50.0, 3 * GB), (5.0, GB), &[]);
    all_ok(&o, &p);
    assert!(o.kills.is_empty());
    assert!(
        o.max_node_memory[0] <= 10 * GB && o.max_node_memory[1] <= 7 * GB,
        "{:?}",
        o.max_node_memory
    );
    // 3 + 2 registrations fit at once: 20 registrations take 4 waves.
    assert_eq!(
        starts(&o, "registration").len(),
        4,
        "{:?}",
        starts(&o, "registration")
    );
    fusion_after_its_registrations(&o);
}

#[test]
fn auto_requests_calibrate_on_one_job_then_pack_by_the_forecast() {
    let extra = "[stages.registration]\nmemory = \"auto\"\n[stages.fusion]\nmemory = \"auto\"\n";
    let s = scenario(
        &node("a", "10 GB", 100),
        "memory",
        2,
        6,
        "forecast_margin = 0.1\n",
    )
    .replace("[scheduling]", &format!("{extra}[scheduling]"));
    let p = plan(&s);
    let o = run(&p, (50.0, 3 * GB), (5.0, GB), &[]);
    all_ok(&o, &p);
    assert!(o.kills.is_empty());
    let reg = starts(&o, "registration");
    // The calibration job runs alone; then 3.3 GB requests → 3 at a time on 10 GB.
    assert_eq!(reg[0], 0.0);
    assert_eq!(reg[1], 50.0);
    let second_wave = o
        .records
        .iter()
        .filter(|r| r.stage == "registration" && r.start_s == 50.0)
        .count();
    assert_eq!(second_wave, 3);
    assert!(o.max_node_memory[0] <= 10 * GB);
    let forecast = o
        .records
        .iter()
        .filter_map(|r| r.mem_request)
        .max()
        .unwrap();
    assert_eq!(forecast, (3.0 * GB as f64 * 1.1) as u64);
}

#[test]
fn unlimited_policy_over_capacity_is_killed_by_the_watchdog_and_the_retry_succeeds() {
    // Four 3 GB registrations at once on a 10 GB node: the paper's crash.
    let p = plan(&scenario(
        &node("a", "10 GB", 1),
        "unlimited",
        1,
        4,
        "retries = 1\n",
    ));
    let o = run(&p, (100.0, 3 * GB), (10.0, GB), &[]);
    assert_eq!(o.kills.len(), 1, "{:?}", o.kills);
    assert_eq!(o.kills[0].2, 12 * GB);
    let killed = o
        .records
        .iter()
        .find(|r| r.status == AttemptStatus::OomKilled)
        .unwrap();
    assert_eq!(killed.attempt, 1);
    // The retry waits until the node has room for the peak it was killed at.
    let retry = o
        .records
        .iter()
        .find(|r| r.job_id == killed.job_id && r.attempt == 2)
        .unwrap();
    assert_eq!(retry.status, AttemptStatus::Ok);
    assert_eq!(retry.start_s, 100.0);
    assert!(o.max_node_memory[0] <= 12 * GB);
    all_ok(&o, &p);
    fusion_after_its_registrations(&o);
}

#[test]
fn failures_are_retried_then_their_dependents_skipped() {
    let p = plan(&scenario(
        &node("a", "10 GB", 4),
        "slots",
        2,
        2,
        "retries = 1\n",
    ));
    // reg-sub01-sub03 fails twice (no retries left); reg-sub02-sub03 fails once.
    let o = run(
        &p,
        (10.0, GB),
        (1.0, GB),
        &[
            "reg-sub01-sub03.1",
            "reg-sub01-sub03.2",
            "reg-sub02-sub03.1",
        ],
    );
    assert_eq!(o.ending, Ending::Complete);
    let status = |id: &str| {
        o.records
            .iter()
            .filter(|r| r.job_id == id)
            .map(|r| r.status)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        status("reg-sub01-sub03"),
        vec![AttemptStatus::Failed, AttemptStatus::Failed]
    );
    assert_eq!(status("fuse-sub01"), vec![AttemptStatus::Skipped]);
    assert_eq!(
        status("reg-sub02-sub03"),
        vec![AttemptStatus::Failed, AttemptStatus::Ok]
    );
    assert_eq!(status("fuse-sub02"), vec![AttemptStatus::Ok]);
}

#[test]
fn balanced_placement_spreads_and_packed_fills_the_first_node() {
    let nodes = node("a", "10 GB", 4) + &node("b", "10 GB", 4) + &node("c", "10 GB", 4);
    let count = |o: &Outcome| {
        let mut c = [0; 3];
        for (_, n, t) in &o.launches {
            if *t == 0.0 {
                c[*n] += 1;
            }
        }
        c
    };
    let p = plan(&scenario(
        &nodes,
        "slots",
        2,
        3,
        "placement = \"balanced\"\n",
    ));
    assert_eq!(count(&run(&p, (10.0, GB), (1.0, GB), &[])), [2, 2, 2]);
    let p = plan(&scenario(&nodes, "slots", 2, 3, "placement = \"packed\"\n"));
    assert_eq!(count(&run(&p, (10.0, GB), (1.0, GB), &[])), [4, 2, 0]);
}

#[test]
fn a_job_that_fits_nowhere_is_skipped_instead_of_hanging() {
    // Calibration shows 12 GB per registration on a 10 GB node: killed, and its retry can
    // never fit, so it and its fusion are skipped; the run still ends.
    let extra = "[stages.registration]\nmemory = \"auto\"\n[stages.fusion]\nmemory = \"1 GB\"\n";
    let s = scenario(&node("a", "10 GB", 4), "memory", 1, 2, "")
        .replace("[scheduling]", &format!("{extra}[scheduling]"));
    let p = plan(&s);
    let o = run(&p, (10.0, 12 * GB), (1.0, GB), &[]);
    assert_eq!(o.ending, Ending::Complete);
    assert!(o
        .records
        .iter()
        .any(|r| r.status == AttemptStatus::OomKilled));
    assert!(o
        .records
        .iter()
        .any(|r| r.job_id == "fuse-sub01" && r.status == AttemptStatus::Skipped));
}

//! `compare`: per-stage ratios B / A equal the ratios built into two synthetic run stores, and
//! the regression gate names exactly the quantities that grew past the bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use atlasperf_reports::compare::{compare, markdown, regressions};
use atlasperf_reports::run::RunData;
use common::{write_store, Job, Node};

const MB: f64 = 1e6;

/// Two registrations then one fusion; registration time and CPU scaled by `slow`, its peak
/// memory by `mem`.
fn store(dir: &std::path::Path, slow: f64, mem: f64) {
    let nodes = [Node {
        name: "node1",
        cores: 2.0,
        memory: 4e9,
    }];
    let reg = |id: &str| {
        let mut j = Job::ok(
            id,
            "registration",
            "node1",
            0.0,
            10.0 * slow,
            9.0 * slow,
            200.0 * MB * mem,
        );
        j.rchar = 8.0 * MB;
        j
    };
    let mut f = Job::ok(
        "fuse",
        "fusion",
        "node1",
        10.0 * slow,
        10.0 * slow + 4.0,
        3.0,
        50.0 * MB,
    );
    f.wchar = 2.0 * MB;
    write_store(dir, &nodes, &[reg("reg-1"), reg("reg-2"), f], 0.5);
}

#[test]
fn ratios_are_the_ones_built_in() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    store(a.path(), 1.0, 1.0);
    store(b.path(), 2.0, 1.5);
    let c = compare(
        &RunData::load(a.path()).unwrap(),
        &RunData::load(b.path()).unwrap(),
    );
    let ratio = |stage: &str, metric: &str| {
        c.changes
            .iter()
            .find(|ch| ch.stage == stage && ch.metric == metric)
            .and_then(|ch| ch.ratio)
            .unwrap()
    };
    let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
    assert!(close(ratio("registration", "mean job time"), 2.0));
    assert!(close(ratio("registration", "CPU-hours"), 2.0));
    assert!(close(ratio("registration", "max peak RSS"), 1.5));
    assert!(close(ratio("registration", "syscall read"), 1.0));
    assert!(close(ratio("fusion", "mean job time"), 1.0));
    // Total makespan: 24 s against 14 s.
    assert!(close(ratio("total", "stage makespan"), 24.0 / 14.0));
    assert!(c.unmatched.is_empty());

    let md = markdown(&c, "A", "B");
    assert!(
        md.contains("| mean job time | 10.0 s | 20.0 s | 2.00× |"),
        "{md}"
    );
    assert!(md.contains("### Table I — A") && md.contains("### Table I — B"));

    let found = regressions(&c, 1.6);
    assert_eq!(found.len(), 6, "{found:?}");
    assert!(found.iter().all(|f| !f.contains("peak RSS")), "{found:?}");
    assert!(found
        .iter()
        .any(|f| f.starts_with("Image Registration mean job time: 10.0 s → 20.0 s (2.00×)")));
    assert_eq!(regressions(&c, 2.0 + 1e-9), Vec::<String>::new());
    // The same run against itself: every ratio is 1.
    let same = compare(
        &RunData::load(a.path()).unwrap(),
        &RunData::load(a.path()).unwrap(),
    );
    assert!(same
        .changes
        .iter()
        .all(|ch| ch.ratio.is_none_or(|r| close(r, 1.0))));
}

#[test]
fn a_stage_in_one_run_only_is_named() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    store(a.path(), 1.0, 1.0);
    let nodes = [Node {
        name: "node1",
        cores: 2.0,
        memory: 4e9,
    }];
    let only = Job::ok("reg-1", "registration", "node1", 0.0, 5.0, 4.0, 10.0 * MB);
    write_store(b.path(), &nodes, &[only], 0.5);
    let c = compare(
        &RunData::load(a.path()).unwrap(),
        &RunData::load(b.path()).unwrap(),
    );
    assert_eq!(c.unmatched, vec![("fusion".to_string(), "A")]);
    assert!(markdown(&c, "A", "B").contains("Label Fusion ran only in run A."));
}

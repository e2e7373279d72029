//! `compare`: per-stage ratios B / A equal the ratios built into synthetic run stores, their
//! intervals hold the truth and widen with run-to-run drift, the verdicts read them, and the
//! regression gate names exactly the quantities whose whole interval lies past the bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use atlasperf_reports::compare::{compare, markdown, regressions, Gate, Options};
use atlasperf_reports::run::RunData;
use atlasperf_store::stats::Verdict;
use atlasperf_store::synthetic::{write_store, Job, Node};

const MB: f64 = 1e6;

/// Two registrations then one fusion; registration time and CPU scaled by `slow` (and the
/// second registration by `slow * skew`), its peak memory by `mem`.
fn store_skewed(dir: &std::path::Path, slow: f64, mem: f64, skew: f64) {
    let nodes = [Node {
        name: "node1",
        cores: 2.0,
        memory: 4e9,
    }];
    let reg = |id: &str, s: f64| {
        let mut j = Job::ok(
            id,
            "registration",
            "node1",
            0.0,
            10.0 * s,
            9.0 * s,
            200.0 * MB * mem,
        );
        j.rchar = 8.0 * MB;
        j
    };
    let end = 10.0 * slow * skew.max(1.0);
    let mut f = Job::ok("fuse", "fusion", "node1", end, end + 4.0, 3.0, 50.0 * MB);
    f.wchar = 2.0 * MB;
    write_store(
        dir,
        &nodes,
        &[reg("reg-1", slow), reg("reg-2", slow * skew), f],
        0.5,
    )
    .unwrap();
}

fn store(dir: &std::path::Path, slow: f64, mem: f64) {
    store_skewed(dir, slow, mem, 1.0);
}

/// The gate over every quantity, wall time and makespan included.
fn timed(max_ratio: f64) -> Gate {
    Gate {
        max_ratio,
        with_time: true,
    }
}

fn load(dir: &std::path::Path) -> Vec<RunData> {
    vec![RunData::load(dir).unwrap()]
}

#[test]
fn ratios_are_the_ones_built_in() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    store(a.path(), 1.0, 1.0);
    store(b.path(), 2.0, 1.5);
    let c = compare(&load(a.path()), &load(b.path()), &Options::default());
    let ratio = |stage: &str, metric: &str| {
        c.changes
            .iter()
            .find(|ch| ch.stage == stage && ch.metric == metric)
            .and_then(|ch| ch.ratio)
            .unwrap()
    };
    let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
    assert!(close(ratio("registration", "mean job time").value, 2.0));
    assert!(close(ratio("registration", "CPU-hours").value, 2.0));
    assert!(close(ratio("registration", "max peak RSS").value, 1.5));
    assert!(close(ratio("registration", "syscall read").value, 1.0));
    assert!(close(ratio("fusion", "mean job time").value, 1.0));
    // Total makespan: 24 s against 14 s.
    assert!(close(ratio("total", "stage makespan").value, 24.0 / 14.0));
    assert!(c.unmatched.is_empty());
    // Both registrations slowed exactly 2×: the paired interval is the point, and it is
    // higher; the unchanged fusion is within noise.
    let wall = ratio("registration", "mean job time");
    assert!(wall.resampled && wall.lo < 2.0 && wall.hi > 2.0, "{wall:?}");
    let exact = Options {
        bootstrap: atlasperf_store::stats::Bootstrap::default(),
        ..Options::default()
    };
    let tight = compare(&load(a.path()), &load(b.path()), &exact);
    let w = tight.changes[0].ratio.unwrap();
    assert!(close(w.lo, 2.0) && close(w.hi, 2.0), "{w:?}");
    let verdict = |stage: &str, metric: &str| {
        c.changes
            .iter()
            .find(|ch| ch.stage == stage && ch.metric == metric)
            .unwrap()
            .verdict
    };
    assert_eq!(verdict("registration", "mean job time"), Verdict::Higher);
    assert_eq!(
        verdict("registration", "syscall read"),
        Verdict::WithinNoise
    );

    let md = markdown(&c, "A", "B");
    assert!(
        md.contains("| mean job time | 10.0 s | 20.0 s | 2.00× [1.56, 2.57] | **higher** |"),
        "{md}"
    );
    assert!(md.contains("One run per side"), "{md}");
    assert!(md.contains("### Table I — A") && md.contains("### Table I — B"));

    // The registration's time, makespan and CPU doubled beyond doubt (one run a side: the
    // interval holds a 9 % drift of each run, 2 × e^±0.25); the total mixes jobs that doubled
    // with one that did not, so its interval reaches below 1.52. Memory grew 1.5× exactly, not
    // above 1.52.
    let found = regressions(&c, timed(1.52));
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found.iter().all(|f| f.starts_with("Image Registration")),
        "{found:?}"
    );
    assert!(ratio("total", "mean job time").lo < 1.52);
    // By default the gate judges work, memory and I/O only: here the CPU-hours.
    let work = regressions(
        &c,
        Gate {
            max_ratio: 1.52,
            with_time: false,
        },
    );
    assert_eq!(work.len(), 1, "{work:?}");
    assert!(
        work[0].starts_with("Image Registration CPU-hours"),
        "{work:?}"
    );
    assert!(found.iter().all(|f| !f.contains("peak RSS")), "{found:?}");
    assert!(found.iter().any(
        |f| f.starts_with("Image Registration mean job time: 10.0 s → 20.0 s (2.00× [1.56, 2.57])")
    ));
    assert_eq!(regressions(&c, timed(2.0 + 1e-9)), Vec::<String>::new());
    // The same run against itself: every ratio is 1, and nothing is a regression.
    let same = compare(&load(a.path()), &load(a.path()), &Options::default());
    assert!(same
        .changes
        .iter()
        .all(|ch| ch.ratio.is_none_or(|r| close(r.value, 1.0))));
    assert!(regressions(&same, timed(1.0001)).is_empty());
}

#[test]
fn jobs_that_disagree_give_an_interval_and_the_gate_waits_for_its_lower_bound() {
    // B's two registrations took 1.05× and 1.35× A's: the point ratio is 1.2, but the jobs
    // disagree, so the interval spans both and a 1.10 gate holds.
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    store(a.path(), 1.0, 1.0);
    store_skewed(b.path(), 1.05, 1.0, 1.35 / 1.05);
    let c = compare(&load(a.path()), &load(b.path()), &Options::default());
    let ch = c
        .changes
        .iter()
        .find(|ch| ch.stage == "registration" && ch.metric == "mean job time")
        .unwrap();
    let r = ch.ratio.unwrap();
    assert!((r.value - 1.2).abs() < 1e-9, "{r:?}");
    assert!(r.lo <= 1.05 + 1e-9 && r.hi >= 1.35 - 1e-9, "{r:?}");
    assert_eq!(r.jobs, 2);
    assert!(regressions(&c, timed(1.10))
        .iter()
        .all(|f| !f.contains("Image Registration mean job time")));
    // The makespan has one value per run: its interval is borrowed from the job times.
    let mk = c
        .changes
        .iter()
        .find(|ch| ch.stage == "registration" && ch.metric == "stage makespan")
        .unwrap();
    assert!(mk.borrowed && mk.ratio.unwrap().lo < mk.ratio.unwrap().value);
    assert!(markdown(&c, "A", "B").contains("¹ One makespan per side"));
}

#[test]
fn groups_carry_run_drift_into_the_interval() {
    // Three runs a side; A drifts 0.92–1.08 between runs, B is A slowed 30 %.
    let tmp = tempfile::tempdir().unwrap();
    let mut a = Vec::new();
    let mut b = Vec::new();
    for (i, drift) in [0.92, 1.0, 1.08].into_iter().enumerate() {
        let da = tmp.path().join(format!("a{i}"));
        let db = tmp.path().join(format!("b{i}"));
        store(&da, drift, 1.0);
        store(&db, 1.3 * [1.05, 0.95, 1.0][i], 1.0);
        a.push(RunData::load(&da).unwrap());
        b.push(RunData::load(&db).unwrap());
    }
    let c = compare(&a, &b, &Options::default());
    let get = |metric: &str| {
        c.changes
            .iter()
            .find(|ch| ch.stage == "registration" && ch.metric == metric)
            .unwrap()
            .clone()
    };
    let wall = get("mean job time");
    let r = wall.ratio.unwrap();
    assert_eq!((r.runs, r.jobs, c.runs), (3, 2, (3, 3)));
    assert!(r.lo < 1.3 && r.hi > 1.3 && r.hi - r.lo > 0.1, "{r:?}");
    assert_eq!(wall.verdict, Verdict::Higher);
    // Memory did not change in any run: within noise, and a tight interval.
    let mem = get("mean peak RSS");
    assert_eq!(mem.verdict, Verdict::WithinNoise);
    assert!(mem.ratio.unwrap().hi - mem.ratio.unwrap().lo < 1e-9);
    // A against itself as two groups: no regression at 1.10.
    assert!(regressions(&compare(&a, &a, &Options::default()), timed(1.10)).is_empty());
    let md = markdown(&c, "A", "B");
    assert!(
        md.contains("(3 runs)") && !md.contains("One run per side"),
        "{md}"
    );
    assert!(
        md.contains("Within noise:") && md.contains("mean peak RSS"),
        "{md}"
    );
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
    write_store(b.path(), &nodes, &[only], 0.5).unwrap();
    let c = compare(&load(a.path()), &load(b.path()), &Options::default());
    assert_eq!(c.unmatched, vec![("fusion".to_string(), "A")]);
    assert!(markdown(&c, "A", "B").contains("Label Fusion ran only in A."));
}

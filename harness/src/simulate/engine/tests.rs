//! The node rule waits for the watchdog's look, as the measured driver does.

use std::sync::Arc;
use std::time::Duration;

use super::{JobShape, MemoryRule, SimExecutor, BINS};
use crate::executor::Executor;
use crate::plan::{JobSpec, PlannedJob, Stage};
use crate::scenario::Node;
use crate::simulate::profiles::Curve;
use bytesize::ByteSize;

const MB: u64 = 1_000_000;

fn job(id: &str, ordinal: usize) -> PlannedJob {
    PlannedJob {
        id: id.into(),
        stage: Stage::Registration,
        target: "t".into(),
        atlas: Some(id.into()),
        deps: Vec::new(),
        spec: JobSpec::External(Vec::new()),
        voxels: 1,
        threads: 1,
        memory: None,
        ordinal,
    }
}

/// `flat`: 60 MB for 10 s; `step`: 50 MB for the first half of its 10.1 s, 100 MB after.
fn shape(j: &PlannedJob) -> JobShape {
    let (wall_s, peak, rss) = if j.id == "flat" {
        (10.0, 60 * MB, vec![1.0; BINS])
    } else {
        let mut r = vec![0.5; BINS];
        r[BINS / 2..].iter_mut().for_each(|v| *v = 1.0);
        (10.1, 100 * MB, r)
    };
    one_thread(wall_s, wall_s, peak, rss, vec![1.0; BINS])
}

/// A one-thread job of `cpu_s` over `wall_s`, its curves as given (cores filled as the
/// simulator fills them).
fn one_thread(wall_s: f64, cpu_s: f64, peak: u64, rss: Vec<f64>, cores: Vec<f64>) -> JobShape {
    JobShape {
        wall_s,
        cpu_s,
        peak,
        io: [0; 4],
        cores: crate::simulate::shape::fill_cores(&cores, cpu_s, wall_s, 1.0),
        curve: Arc::new(Curve {
            top: rss.iter().copied().fold(0.0, f64::max),
            rss,
            cores,
        }),
        threads: 1.0,
        per_share_lost: 0.0,
    }
}

/// One node of `cores`, `memory_mb` MB and `slots`.
fn node(cores: usize, memory_mb: u64, slots: usize) -> [Node; 1] {
    [Node {
        name: "n1".into(),
        cores,
        memory: ByteSize(memory_mb * MB),
        slots,
    }]
}

#[test]
fn a_node_past_its_capacity_holds_it_until_the_watchdogs_next_look() {
    let nodes = node(2, 120, 2);
    let mut exec = SimExecutor::new(&nodes, MemoryRule::Node, Box::new(shape), false);
    exec.launch(&job("flat", 0), 0, "flat.1", None).unwrap();
    exec.launch(&job("step", 1), 0, "step.1", None).unwrap();
    // 110 MB until the step at 10.1 × 16/32 = 5.05 s: 160 MB, over 120 MB, until the
    // watchdog's look at 5.2 s kills the larger job.
    let ended = exec.wait(Duration::ZERO);
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].attempt_id, "step.1");
    assert!(ended[0].oom_killed);
    assert!((exec.now() - 5.2).abs() < 1e-9, "killed at {}", exec.now());
    assert_eq!(exec.node_peaks(), vec![160 * MB]);
    let ended = exec.wait(Duration::ZERO);
    assert_eq!(ended[0].attempt_id, "flat.1");
    assert!(!ended[0].oom_killed);
    assert!((exec.now() - 10.0).abs() < 1e-9);
}

#[test]
fn jobs_sharing_a_core_burn_their_cpu_time_after_the_lead_in() {
    let nodes = node(1, 1000, 2);
    // Sampled above one core in every other bin (jitter), 4.75 s of CPU over 5 s each.
    let jittery = |_: &PlannedJob| {
        let cores = (0..BINS)
            .map(|b| if b % 2 == 0 { 1.3 } else { 0.7 })
            .collect();
        one_thread(5.0, 4.75, MB, vec![1.0; BINS], cores)
    };
    let mut exec =
        SimExecutor::new(&nodes, MemoryRule::Node, Box::new(jittery), false).starting_at(0.5);
    exec.launch(&job("a", 0), 0, "a.1", None).unwrap();
    exec.launch(&job("b", 1), 0, "b.1", None).unwrap();
    let mut ended = Vec::new();
    while ended.len() < 2 {
        let e = exec.wait(Duration::ZERO);
        if e.is_empty() {
            break;
        }
        ended.extend(e);
    }
    assert_eq!(ended.len(), 2);
    // Both start after the lead-in; one core burns their 9.5 s of CPU in 9.5 s. With the
    // jitter clipped instead of filled they ended at 8.8 s, having burnt 8.3 s.
    for f in &ended {
        assert!((f.totals.start_unix - 0.5).abs() < 1e-9);
        assert!(
            (f.totals.end_unix - 10.0).abs() < 1e-6,
            "{}",
            f.totals.end_unix
        );
    }
}

/// A job whose samples saw half of its 100 MB high-water mark (its peak fell between them).
fn spiky(_: &PlannedJob) -> JobShape {
    one_thread(4.0, 4.0, 100 * MB, vec![0.5; BINS], vec![1.0; BINS])
}

/// Runs one `spiky` job on a node of `memory_mb` under `rule` with `limit_mb`.
fn one_spiky(memory_mb: u64, rule: MemoryRule, limit_mb: Option<u64>) -> (bool, u64, Vec<u64>) {
    let nodes = node(1, memory_mb, 1);
    let mut exec = SimExecutor::new(&nodes, rule, Box::new(spiky), false);
    exec.launch(&job("s", 0), 0, "s.1", limit_mb.map(|m| m * MB))
        .unwrap();
    let ended = exec.wait(Duration::ZERO);
    (
        ended[0].oom_killed,
        ended[0].totals.peak_rss,
        exec.node_peaks(),
    )
}

#[test]
fn the_node_holds_what_samples_saw_and_a_limit_judges_the_job_peak() {
    // The node's series and watchdog see the samples: 50 MB fits 70 MB, and the job's own
    // peak is its high-water mark.
    assert_eq!(
        one_spiky(70, MemoryRule::Node, None),
        (false, 100 * MB, vec![50 * MB])
    );
    // A per-job limit (a cgroup) sees every page: 80 MB kills the 100 MB peak at once.
    let (killed, _, _) = one_spiky(1000, MemoryRule::PerJob, Some(80));
    assert!(killed);
    assert!(!one_spiky(1000, MemoryRule::PerJob, Some(120)).0);
}

#[test]
fn jobs_time_sharing_a_core_burn_more_cpu_for_the_same_work() {
    let nodes = node(1, 1000, 2);
    // 5 s of CPU alone each, 10 % more CPU per unit of share lost: at half a core each,
    // 5.25 s each, so the core is done at 10.5 s.
    let slowed = |_: &PlannedJob| JobShape {
        per_share_lost: 0.1,
        ..one_thread(5.0, 5.0, MB, vec![1.0; BINS], vec![1.0; BINS])
    };
    let mut exec = SimExecutor::new(&nodes, MemoryRule::Node, Box::new(slowed), false);
    exec.launch(&job("a", 0), 0, "a.1", None).unwrap();
    exec.launch(&job("b", 1), 0, "b.1", None).unwrap();
    let mut ended = exec.wait(Duration::ZERO);
    ended.extend(exec.wait(Duration::ZERO));
    assert_eq!(ended.len(), 2);
    for f in &ended {
        assert!(
            (f.totals.end_unix - 10.5).abs() < 1e-6,
            "{}",
            f.totals.end_unix
        );
        assert!(
            (f.totals.cpu_user_s - 5.25).abs() < 1e-6,
            "{}",
            f.totals.cpu_user_s
        );
    }
    // Alone it runs at its own speed.
    let mut exec = SimExecutor::new(&nodes, MemoryRule::Node, Box::new(slowed), false);
    exec.launch(&job("a", 0), 0, "a.1", None).unwrap();
    let ended = exec.wait(Duration::ZERO);
    assert!((ended[0].totals.end_unix - 5.0).abs() < 1e-6);
    assert!((ended[0].totals.cpu_user_s - 5.0).abs() < 1e-6);
}

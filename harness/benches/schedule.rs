//! Planning and scheduling 10 000 jobs (100 targets × 99 atlases + 100 fusions) on 8 emulated
//! nodes with the mock executor, under each policy (`unlimited` on 32 GB nodes is the worst
//! case: nearly every job is OOM-killed and retried). Goal: < 1 s for plan + schedule.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use atlasperf_harness::driver::drive;
use atlasperf_harness::executor::mock::MockExecutor;
use atlasperf_harness::plan::{expand, Stage};
use atlasperf_harness::scenario::Scenario;
use atlasperf_harness::scheduler::Scheduler;
use criterion::{criterion_group, criterion_main, Criterion};

fn scenario(policy: &str) -> Scenario {
    let mut text = String::from("name = \"bench\"\n[cluster]\n");
    for i in 0..8 {
        text += &format!(
            "[[cluster.nodes]]\nname = \"n{i}\"\ncores = 8\nmemory = \"32 GB\"\nslots = 3\n"
        );
    }
    text += "[workload]\ntargets = 100\natlases = 99\n";
    text += "[stages.registration]\nmemory = \"9 GB\"\n[stages.fusion]\nmemory = \"2 GB\"\n";
    text += &format!("[scheduling]\npolicy = \"{policy}\"\n");
    toml::from_str(&text).unwrap()
}

fn plan_and_schedule(policy: &str) -> usize {
    let s = scenario(policy);
    let plan = expand(
        &s,
        Path::new("."),
        Path::new("/run"),
        Path::new("atlasperf"),
    )
    .unwrap();
    assert_eq!(plan.jobs.len(), 10_000);
    let mut sched = Scheduler::new(&plan, [None, None]);
    let mut exec = MockExecutor::new(Box::new(|j, _| match j.stage {
        Stage::Registration => (9600.0, 8_500_000_000, 0),
        Stage::Fusion => (720.0, 1_500_000_000, 0),
    }));
    let stop = AtomicBool::new(false);
    let mut records = 0;
    drive(
        &plan,
        &mut sched,
        &mut exec,
        &stop,
        Duration::ZERO,
        &mut |e| {
            if let atlasperf_harness::driver::Event::Recorded { .. } = e {
                records += 1;
            }
            Ok(())
        },
    )
    .unwrap();
    records
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan+schedule 10000 jobs, 8 nodes, mock executor");
    g.sample_size(10);
    for policy in ["slots", "memory", "unlimited"] {
        g.bench_function(policy, |b| {
            b.iter(|| assert!(plan_and_schedule(policy) >= 10_000))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

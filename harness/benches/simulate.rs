//! Simulating 1 000 000 jobs (50 000 targets × 19 atlases + 50 000 fusions) on 1 000 nodes
//! (8 cores, 32 GB, 3 slots) with the driver, scheduler and simulated executor, each job
//! replaying a 32-bin memory/CPU curve. Goal: ≤ 10 s and ≤ 1 GB. The peak RSS of the process
//! is printed after the first iteration.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use atlasperf_harness::plan::{expand_graph, Stage};
use atlasperf_harness::scenario::Scenario;
use atlasperf_harness::simulate::engine::MemoryRule;
use atlasperf_harness::simulate::model::{CoRunLaw, Models};
use atlasperf_harness::simulate::profiles::{Curve, Profile, BINS};
use atlasperf_harness::simulate::{simulate_once, Setup, Spread};
use criterion::{criterion_group, criterion_main, Criterion};

fn scenario() -> Scenario {
    let mut text = String::from("name = \"bench\"\n[cluster]\n");
    for i in 0..1000 {
        text += &format!(
            "[[cluster.nodes]]\nname = \"n{i}\"\ncores = 8\nmemory = \"32 GB\"\nslots = 3\n"
        );
    }
    text += "[dataset.phantom]\nshape = [160, 200, 160]\nspacing = 1.0\n";
    text += "[workload]\ntargets = 50000\natlases = 19\n";
    text += "[stages.registration]\nthreads = 2\n[stages.fusion]\nthreads = 2\n";
    text += "[scheduling]\npolicy = \"slots\"\n";
    toml::from_str(&text).unwrap()
}

/// A registration that ramps to 9 GB and a fusion that holds 2 GB, both measured at the
/// planned image size (one profile each).
fn profiles(voxels: u64) -> Vec<Profile> {
    let ramp = Curve {
        rss: (0..BINS)
            .map(|b| 0.3 + 0.7 * b as f64 / (BINS - 1) as f64)
            .collect(),
        top: 1.0,
        cores: (0..BINS)
            .map(|b| if b % 4 == 0 { 1.0 } else { 2.0 })
            .collect(),
    };
    let make = |stage, wall, peak, atlases| Profile {
        run: PathBuf::from("bench"),
        attempt_id: "bench.1".into(),
        stage,
        threads: 2,
        voxels,
        atlases,
        wall_s: wall,
        measured_wall_s: wall,
        cpu_s: wall * 1.75,
        peak,
        io: [1 << 30, 1 << 28, 1 << 30, 1 << 28],
        curve: Arc::new(ramp.clone()),
        share: 1.0,
        overhead_s: 0.0,
    };
    vec![
        make(Stage::Registration, 9600.0, 9_000_000_000, 1),
        make(Stage::Fusion, 720.0, 2_000_000_000, 19),
    ]
}

fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn bench(c: &mut Criterion) {
    let plan = expand_graph(&scenario(), Path::new("."), Path::new("/run")).unwrap();
    assert_eq!(plan.jobs.len(), 1_000_000);
    eprintln!("peak RSS after planning {} MB", peak_rss_mb());
    let profiles = profiles(160 * 200 * 160);
    let models = Models::fit(&profiles);
    let spread = Spread::of(&profiles, &models);
    let mut g = c.benchmark_group("simulate 1 000 000 jobs on 1 000 nodes");
    g.sample_size(10);
    let mut printed = false;
    g.bench_function("slots, 32-bin curves", |b| {
        b.iter(|| {
            let setup = Setup {
                profiles: &profiles,
                models: &models,
                spread: &spread,
                rule: MemoryRule::Node,
                memory_models: [None, None],
                seed: 1,
                lead_in_s: 0.0,
                corun: CoRunLaw::default(),
            };
            let s = simulate_once(&plan, &setup, 0, false).unwrap();
            assert_eq!(s.ok_jobs, 1_000_000);
            if !printed {
                printed = true;
                eprintln!(
                    "makespan {:.0} s, {} OOM kills, peak RSS of this process {} MB",
                    s.makespan_s,
                    s.oom_killed,
                    peak_rss_mb()
                );
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! What the noise sensors cost on top of the machine sampler. Before them a machine sample
//! was sysinfo's CPU and memory refresh plus `/proc/diskstats`; now `/proc/stat` is read once
//! through procfs for both the CPU % and the busy/steal counters, the harness's rusage is
//! read every tick, and PSI and `/proc/vmstat` once a second. Timed side by side in one run,
//! the difference per tick at the shipped scenarios' 100 ms period is the sensors' share of a
//! core. Goal: at most 0.05 %.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use atlasperf_harness::sampler::node::NodeSampler;
use atlasperf_harness::sampler::sensors;
use criterion::{criterion_group, criterion_main, Criterion};
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, System};

/// Ticks per second at the shipped scenarios' period.
const PER_SECOND: u64 = 10;

/// The machine sample as it was before the sensors.
fn before(sys: &mut System) -> u64 {
    sys.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
    sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
    let disks = procfs::diskstats().map(|d| d.len()).unwrap_or(0);
    sys.available_memory() + disks as u64 + u64::from(sys.global_cpu_usage() > 0.0)
}

fn bench(c: &mut Criterion) {
    let mut sys = System::new().unwrap();
    let mut node = NodeSampler::new().unwrap().slow_sensors_every(PER_SECOND);
    let mut g = c.benchmark_group("machine sample");
    g.bench_function("before the sensors", |b| b.iter(|| before(&mut sys)));
    g.bench_function("with the sensors (one second of ticks / 10)", |b| {
        b.iter(|| {
            for _ in 0..PER_SECOND {
                std::hint::black_box(node.sample());
            }
        })
    });
    g.bench_function("every sensor read at once", |b| b.iter(sensors::read));
    g.finish();

    // The same as CPU time, measured in turn (ABAB) so drift falls on both.
    let (mut old, mut new) = (0.0, 0.0);
    let n = 200;
    for _ in 0..5 {
        let c0 = sensors::own_cpu_s();
        for _ in 0..n * PER_SECOND {
            std::hint::black_box(before(&mut sys));
        }
        let c1 = sensors::own_cpu_s();
        for _ in 0..n * PER_SECOND {
            std::hint::black_box(node.sample());
        }
        let c2 = sensors::own_cpu_s();
        old += c1 - c0;
        new += c2 - c1;
    }
    let ticks = (5 * n * PER_SECOND) as f64;
    let (old_us, new_us) = (1e6 * old / ticks, 1e6 * new / ticks);
    println!(
        "machine sample CPU per tick: before the sensors {old_us:.1} µs, with them {new_us:.1} µs; \
         the sensors add {:.4} % of a core at {PER_SECOND} ticks/s (goal <= 0.05 %)",
        100.0 * (new_us - old_us) * 1e-6 * PER_SECOND as f64
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);

//! One small whole SyN run (48×56×48, 20/10/5 iterations, 2 threads); its pieces, each beside
//! the machine's memory bandwidth, are in the `roofline` bench. Speed goals are read from
//! these numbers, never from unit tests.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use atlasperf_kernels::phantom::{generate_subject, PhantomSpec};
use atlasperf_kernels::registration::syn::{syn, SynParams};
use atlasperf_kernels::registration::Schedule;
use criterion::{criterion_group, criterion_main, Criterion};

fn whole_syn(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let small = PhantomSpec {
        subjects: 2,
        shape: [48, 56, 48],
        spacing: 3.0,
        ..PhantomSpec::default()
    };
    let (f, m) = (generate_subject(&small, 0), generate_subject(&small, 1));
    let p = SynParams {
        schedule: Schedule::with_iterations(vec![20, 10, 5]),
        ..SynParams::default()
    };
    let mut g = c.benchmark_group("syn 48x56x48 20x10x5");
    g.sample_size(10);
    g.bench_function("whole registration", |bench| {
        bench
            .iter(|| pool.install(|| syn(f.image.as_slice(), m.image.as_slice(), small.shape, &p)));
    });
    g.finish();
}

criterion_group!(benches, whole_syn);
criterion_main!(benches);

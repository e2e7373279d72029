//! Hot building blocks of registration on a phantom-sized grid (80×100×80, 2 threads), and one
//! small whole SyN run. Speed goals are read from these numbers, never from unit tests.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use atlasperf_kernels::filter::smooth;
use atlasperf_kernels::phantom::{generate_subject, PhantomSpec};
use atlasperf_kernels::registration::cc::{cc_derivatives, CcWorkspace};
use atlasperf_kernels::registration::field::Field;
use atlasperf_kernels::registration::mattes::{BinRange, SymmetricMattes};
use atlasperf_kernels::registration::syn::{syn, SynParams};
use atlasperf_kernels::registration::Schedule;
use criterion::{criterion_group, criterion_main, Criterion};

fn building_blocks(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let spec = PhantomSpec {
        subjects: 2,
        ..PhantomSpec::default()
    };
    let (a, b) = (generate_subject(&spec, 0), generate_subject(&spec, 1));
    let dims = spec.shape;
    let n = a.image.len();
    let mut g = c.benchmark_group("80x100x80");
    g.sample_size(10);
    g.bench_function("gaussian smooth sigma=sqrt(3)", |bench| {
        let mut v = a.image.as_slice().to_vec();
        let mut scratch = Vec::new();
        bench.iter(|| {
            pool.install(|| smooth(black_box(&mut v), dims, [3f32.sqrt(); 3], &mut scratch))
        });
    });
    g.bench_function("cc derivatives r=2", |bench| {
        let mut ws = CcWorkspace::default();
        let (mut df, mut dm) = (vec![0.0; n], vec![0.0; n]);
        bench.iter(|| {
            pool.install(|| {
                cc_derivatives(
                    a.image.as_slice(),
                    b.image.as_slice(),
                    dims,
                    2,
                    &mut ws,
                    &mut df,
                    &mut dm,
                )
            })
        });
    });
    g.bench_function("mattes MI derivatives both ways (32 bins)", |bench| {
        let ranges = [
            BinRange::of(a.image.as_slice(), 32),
            BinRange::of(b.image.as_slice(), 32),
        ];
        let mut mi = SymmetricMattes::new(32);
        let (mut df, mut dm) = (vec![0.0; n], vec![0.0; n]);
        bench.iter(|| {
            pool.install(|| {
                mi.derivatives(
                    a.image.as_slice(),
                    b.image.as_slice(),
                    ranges,
                    &mut df,
                    &mut dm,
                )
            })
        });
    });
    let mut u = Field::zeros(dims);
    for (i, v) in u.c[0].iter_mut().enumerate() {
        *v = ((i % 97) as f32 * 0.05).sin();
    }
    g.bench_function("field compose", |bench| {
        let mut out = Field::zeros(dims);
        bench.iter(|| pool.install(|| u.compose_into(black_box(&u), &mut out)));
    });
    g.bench_function("field invert (one damped pass)", |bench| {
        let (mut inv, mut work) = (Field::zeros(dims), Field::zeros(dims));
        bench.iter(|| pool.install(|| u.invert_damped(&mut inv, &mut work, 1, 0.0, 0.0)));
    });
    g.finish();

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

criterion_group!(benches, building_blocks);
criterion_main!(benches);

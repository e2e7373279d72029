//! A roofline of SyN: every piece of one iteration timed on the finest level of a real head
//! (112×128×100, 1.43 M voxels, 2 threads), each with the bytes it must move at the least
//! (every array it reads or writes passed once, a field or image it samples counted once), so
//! criterion prints its achieved bandwidth (`thrpt`) beside this machine's memory bandwidth,
//! measured in the same run by a STREAM-triad loop over arrays far larger than the caches.
//! A piece far below the triad moves less than it computes: compute-bound, or latency-bound on
//! its gathers. `docs/kernels.md` has the table and how to read it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use atlasperf_kernels::phantom::{generate_subject, PhantomSpec};
use atlasperf_kernels::registration::cc::{cc_derivatives, CcWorkspace};
use atlasperf_kernels::registration::field::Field;
use atlasperf_kernels::registration::interp::weighted_gradient;
use atlasperf_kernels::registration::mattes::{BinRange, SymmetricMattes};
use atlasperf_kernels::registration::syn::warp;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;

/// Bytes of one f32 volume of `n` voxels, and of a vector field.
const fn volume(n: usize) -> u64 {
    4 * n as u64
}
const fn field(n: usize) -> u64 {
    3 * volume(n)
}

/// A smooth displacement of up to 2 voxels, like a registration's: samples stay local.
fn smooth_field(dims: [usize; 3], phase: f32) -> Field {
    let mut u = Field::zeros(dims);
    let [nx, ny, _] = dims;
    for (a, comp) in u.c.iter_mut().enumerate() {
        for (n, v) in comp.iter_mut().enumerate() {
            let (i, j, k) = (n % nx, (n / nx) % ny, n / (nx * ny));
            let t = 0.07 * i as f32 + 0.05 * j as f32 + 0.06 * k as f32 + phase + a as f32;
            *v = 2.0 * t.sin();
        }
    }
    u
}

fn roofline(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let spec = PhantomSpec {
        subjects: 2,
        shape: [112, 128, 100],
        spacing: 1.5,
        ..PhantomSpec::default()
    };
    let dims = spec.shape;
    let (a, b) = (generate_subject(&spec, 0), generate_subject(&spec, 1));
    let n = a.image.len();
    let mut g = c.benchmark_group("roofline 112x128x100");
    g.sample_size(10);

    // The machine's bandwidth: a[i] = b[i] + s·c[i] over 3 × 128 MiB, counted as STREAM counts
    // it (two arrays read, one written; no write-allocate).
    let len = 32 << 20;
    let (mut x, y, z) = (vec![0.0f32; len], vec![1.0f32; len], vec![2.0f32; len]);
    g.throughput(Throughput::Bytes(3 * volume(len)));
    g.bench_function("stream triad (memory bandwidth)", |bench| {
        bench.iter(|| {
            pool.install(|| {
                x.par_chunks_mut(1 << 16)
                    .zip(y.par_chunks(1 << 16).zip(z.par_chunks(1 << 16)))
                    .for_each(|(x, (y, z))| {
                        for ((x, y), z) in x.iter_mut().zip(y).zip(z) {
                            *x = y + 0.5 * z;
                        }
                    });
            });
            black_box(&x);
        });
    });
    drop((x, y, z));

    // Metric: both images read once to fill both histograms; the derivatives are computed
    // where the forces use them (below).
    let ranges = [
        BinRange::of(a.image.as_slice(), 32),
        BinRange::of(b.image.as_slice(), 32),
    ];
    let mut mi = SymmetricMattes::new(32);
    let (mut df, mut dm) = (vec![0.0; n], vec![0.0; n]);
    g.throughput(Throughput::Bytes(2 * volume(n)));
    g.bench_function("mattes MI histograms, both ways", |bench| {
        bench.iter(|| pool.install(|| mi.fit(a.image.as_slice(), b.image.as_slice(), ranges)));
    });

    // The other metric: both images read, both derivatives written (its window sums stay
    // in cache slab by slab).
    let mut ws = CcWorkspace::default();
    g.throughput(Throughput::Bytes(4 * volume(n)));
    g.bench_function("cc derivatives r=2, both ways", |bench| {
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

    // Force: the warped image and its derivative read, a field written (the CC metric's
    // stored derivative).
    let mut force = Field::zeros(dims);
    g.throughput(Throughput::Bytes(2 * volume(n) + field(n)));
    g.bench_function("force (weighted gradient)", |bench| {
        bench.iter(|| {
            let [fx, fy, fz] = &mut force.c;
            pool.install(|| weighted_gradient(a.image.as_slice(), |v| df[v], dims, [fx, fy, fz]))
        });
    });

    // Force with the Mattes derivative computed in place, as SyN runs it: both warped images
    // read, a field written.
    mi.fit(a.image.as_slice(), b.image.as_slice(), ranges);
    g.throughput(Throughput::Bytes(2 * volume(n) + field(n)));
    g.bench_function("force, Mattes derivative inline", |bench| {
        bench.iter(|| {
            let [fx, fy, fz] = &mut force.c;
            let (x, y) = (a.image.as_slice(), b.image.as_slice());
            pool.install(|| weighted_gradient(x, |v| mi.d_x(x[v], y[v]), dims, [fx, fy, fz]))
        });
    });

    // Smoothing σ = √3: three separable passes per component, each reading and writing it.
    let mut update = smooth_field(dims, 0.3);
    g.throughput(Throughput::Bytes(3 * 2 * field(n)));
    g.bench_function("smooth a field (sigma sqrt 3)", |bench| {
        bench.iter(|| pool.install(|| update.smooth(3f32.sqrt())));
    });

    // Composition v ← v + s·δ(x + v): v read and written, δ sampled.
    let mut v = smooth_field(dims, 0.0);
    g.throughput(Throughput::Bytes(3 * field(n)));
    g.bench_function("compose update after field", |bench| {
        bench.iter(|| pool.install(|| v.compose_then_scaled(&update, 1e-6)));
    });

    // One damped inversion pass as SyN runs it (one pass asked for = a measuring sweep then
    // a moving sweep): the inverse read twice and written once, the residuals written and
    // read, the field sampled.
    let u = smooth_field(dims, 0.0);
    let (mut inv, mut work) = (Field::zeros(dims), Field::zeros(dims));
    g.throughput(Throughput::Bytes(6 * field(n)));
    g.bench_function("inversion, one damped pass", |bench| {
        bench.iter(|| pool.install(|| u.invert_damped(&mut inv, &mut work, 1, 0.0, 0.0)));
    });

    // Warping an image: the field read, the image sampled, the result written.
    let mut out = vec![0.0; n];
    g.throughput(Throughput::Bytes(field(n) + 2 * volume(n)));
    g.bench_function("warp an image", |bench| {
        bench.iter(|| pool.install(|| warp(a.image.as_slice(), dims, &u, &mut out)));
    });
    g.finish();
}

criterion_group!(benches, roofline);
criterion_main!(benches);

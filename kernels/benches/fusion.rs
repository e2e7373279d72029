//! Label fusion on a phantom-sized grid (64×80×64, 5 atlases, 2 threads): joint label fusion
//! at antsJointFusion's defaults and majority vote. Speed goals are read from these numbers
//! and from `scripts/compare-fusion.sh`, never from unit tests.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use atlasperf_kernels::fusion::{joint_label_fusion, majority_vote, JlfInputs, JlfParams};
use atlasperf_kernels::phantom::{generate_subject, PhantomSpec};
use criterion::{criterion_group, criterion_main, Criterion};

fn fusion(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let spec = PhantomSpec {
        subjects: 6,
        shape: [64, 80, 64],
        spacing: 2.5,
        ..PhantomSpec::default()
    };
    // Unregistered subjects stand in for warped atlases: the work per voxel is the same.
    let subjects: Vec<_> = (0..6).map(|i| generate_subject(&spec, i)).collect();
    let inp = JlfInputs {
        dims: spec.shape,
        target: subjects[0].image.as_slice(),
        images: subjects[1..].iter().map(|s| s.image.as_slice()).collect(),
        labels: subjects[1..].iter().map(|s| s.labels.as_slice()).collect(),
    };
    let mut g = c.benchmark_group("64x80x64, 5 atlases");
    g.sample_size(10);
    g.bench_function("joint label fusion r=2 R=3", |b| {
        b.iter(|| {
            pool.install(|| joint_label_fusion(black_box(&inp), &JlfParams::default()).unwrap())
        });
    });
    let labels: Vec<_> = subjects[1..].iter().map(|s| &s.labels).collect();
    g.bench_function("majority vote", |b| {
        b.iter(|| pool.install(|| majority_vote(black_box(&labels)).unwrap()));
    });
    g.finish();
}

criterion_group!(benches, fusion);
criterion_main!(benches);

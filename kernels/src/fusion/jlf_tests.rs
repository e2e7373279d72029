use super::*;
use rand::{Rng, SeedableRng};

fn random_case(
    seed: u64,
    dims: [usize; 3],
    atlases: usize,
) -> (Vec<f32>, Vec<Vec<f32>>, Vec<Vec<u16>>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n = dims.iter().product();
    // Smooth-ish target: blocks of labels with intensities per label plus noise.
    let truth: Vec<u16> = (0..n)
        .map(|v| ((v % dims[0]) / 4 + (v / (dims[0] * dims[1])) / 5) as u16 % 3)
        .collect();
    let target = truth
        .iter()
        .map(|&l| f32::from(l) * 30.0 + rng.random_range(0.0..5.0))
        .collect();
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..atlases {
        let lab: Vec<u16> = truth
            .iter()
            .map(|&l| {
                if rng.random_range(0.0..1.0) < 0.15 {
                    (l + 1) % 3
                } else {
                    l
                }
            })
            .collect();
        images.push(
            lab.iter()
                .map(|&l| f32::from(l) * 30.0 + rng.random_range(0.0..5.0))
                .collect(),
        );
        labels.push(lab);
    }
    (target, images, labels)
}

#[test]
fn masked_parallel_version_equals_reference() {
    let seed = 17;
    let dims = [14, 12, 10];
    let (target, images, labels) = random_case(seed, dims, 3);
    let inp = JlfInputs {
        dims,
        target: &target,
        images: images.iter().map(Vec::as_slice).collect(),
        labels: labels.iter().map(Vec::as_slice).collect(),
    };
    let p = JlfParams {
        patch_radius: 1,
        search_radius: 1,
        ..JlfParams::default()
    };
    let want = jlf_reference(&inp, &p).unwrap();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let got = pool.install(|| joint_label_fusion(&inp, &p).unwrap());
        assert_eq!(got, want, "seed {seed}, {threads} threads");
    }
}

#[test]
fn an_atlas_equal_to_the_target_dominates() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let d: Vec<f64> = (0..3 * 27)
        .map(|k| {
            if k < 27 {
                0.0
            } else {
                rng.random_range(-2.0..2.0)
            }
        })
        .collect();
    let w = weights(&d, 3, 0.1, 2.0);
    assert!(w[0] > 0.9, "weights {w:?}");
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn fusion_beats_single_noisy_atlases() {
    let dims = [16, 14, 12];
    let (target, images, labels) = random_case(3, dims, 5);
    let truth: Vec<u16> = (0..target.len())
        .map(|v| ((v % dims[0]) / 4 + (v / (dims[0] * dims[1])) / 5) as u16 % 3)
        .collect();
    let inp = JlfInputs {
        dims,
        target: &target,
        images: images.iter().map(Vec::as_slice).collect(),
        labels: labels.iter().map(Vec::as_slice).collect(),
    };
    let fused = joint_label_fusion(&inp, &JlfParams::default()).unwrap();
    let acc = |l: &[u16]| {
        l.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
    };
    let best_single = labels.iter().map(|l| acc(l)).fold(0.0, f64::max);
    println!(
        "voxel accuracy: fused {:.3}, best single atlas {best_single:.3}",
        acc(&fused)
    );
    assert!(acc(&fused) > best_single);
}

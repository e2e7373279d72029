use super::search::valid_box;
use super::*;
use rand::{Rng, SeedableRng};

/// The inputs of a [`random_case`].
fn inputs<'a>(
    dims: [usize; 3],
    target: &'a [f32],
    images: &'a [Vec<f32>],
    labels: &'a [Vec<u16>],
) -> JlfInputs<'a> {
    JlfInputs {
        dims,
        target,
        images: images.iter().map(Vec::as_slice).collect(),
        labels: labels.iter().map(Vec::as_slice).collect(),
    }
}

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
fn parallel_box_sum_version_equals_reference() {
    let seed = 17;
    let dims = [14, 12, 10];
    let (target, images, labels) = random_case(seed, dims, 3);
    let inp = inputs(dims, &target, &images, &labels);
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
    let inp = inputs(dims, &target, &images, &labels);
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

#[test]
fn valid_box_sums_equal_brute_force() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let d = [9, 7, 6];
    let src: Vec<f64> = (0..d.iter().product::<usize>())
        .map(|_| rng.random_range(-3.0..3.0))
        .collect();
    for w in [1, 3, 5] {
        let (mut t1, mut t2, mut out) = (Vec::new(), Vec::new(), Vec::new());
        valid_box(&src, d, w, &mut t1, &mut t2, &mut out);
        let o = d.map(|v| v + 1 - w);
        assert_eq!(out.len(), o.iter().product::<usize>());
        for k in 0..o[2] {
            for j in 0..o[1] {
                for i in 0..o[0] {
                    let mut s = 0.0;
                    for c in 0..w {
                        for b in 0..w {
                            for a in 0..w {
                                s += src[(i + a) + d[0] * ((j + b) + d[1] * (k + c))];
                            }
                        }
                    }
                    let got = out[i + o[0] * (j + o[1] * k)];
                    assert!((got - s).abs() < 1e-9, "w {w} at {i},{j},{k}: {got} vs {s}");
                }
            }
        }
    }
}

#[test]
fn box_sum_version_equals_reference_at_the_default_radii() {
    // Patch radius 2 and search radius 3 on a grid smaller than the search window in z:
    // every border path (clamped patches, candidates past the edge) is exercised.
    let dims = [12, 10, 5];
    let (target, images, labels) = random_case(29, dims, 4);
    let inp = inputs(dims, &target, &images, &labels);
    let p = JlfParams::default();
    let want = jlf_reference(&inp, &p).unwrap();
    let got = joint_label_fusion(&inp, &p).unwrap();
    assert_eq!(got, want);
}

#[test]
fn flat_regions_and_negative_weights_are_handled() {
    // Constant images (every patch flat) fall back to uniform weights: the result is the
    // majority vote of the atlases at each voxel's patch.
    let dims = [6, 5, 4];
    let n = dims.iter().product::<usize>();
    let target = vec![7.0f32; n];
    let imgs = [vec![7.0f32; n], vec![7.0f32; n], vec![7.0f32; n]];
    let labs = [vec![1u16; n], vec![2u16; n], vec![2u16; n]];
    let inp = JlfInputs {
        dims,
        target: &target,
        images: imgs.iter().map(Vec::as_slice).collect(),
        labels: labs.iter().map(Vec::as_slice).collect(),
    };
    assert_eq!(
        joint_label_fusion(&inp, &JlfParams::default()).unwrap(),
        vec![2u16; n]
    );
    // Strongly correlated errors can make the solved weights negative; they are clipped.
    let d: Vec<f64> = (0..2 * 27)
        .map(|k| if k < 27 { 1.0 } else { 1.2 })
        .collect();
    let w = weights(&d, 2, 0.01, 1.0);
    assert_eq!(w[1], 0.0, "{w:?}");
    assert!(
        w.iter().all(|v| *v >= 0.0) && (w.iter().sum::<f64>() - 1.0).abs() < 1e-12,
        "{w:?}"
    );
}

#[test]
fn mask_and_posteriors() {
    let dims = [12, 10, 8];
    let (target, images, labels) = random_case(41, dims, 3);
    let inp = inputs(dims, &target, &images, &labels);
    let p = JlfParams {
        patch_radius: 1,
        search_radius: 1,
        ..JlfParams::default()
    };
    let plain = joint_label_fusion(&inp, &p).unwrap();
    // A mask of ones changes nothing.
    let ones = vec![1u16; plain.len()];
    let opts = JlfOptions {
        mask: Some(&ones),
        posteriors: None,
    };
    assert_eq!(joint_label_fusion_with(&inp, &p, opts).unwrap(), plain);
    // Posteriors: one image per label present, summing to 1 at every voxel, whose argmax
    // (ties to the smaller label) is the fused label.
    let mut post: Vec<(u16, Vec<f32>)> = Vec::new();
    let mut keep = |l: u16, v: Vec<f32>| -> crate::Result<()> {
        post.push((l, v));
        Ok(())
    };
    let opts = JlfOptions {
        mask: None,
        posteriors: Some(&mut keep),
    };
    assert_eq!(joint_label_fusion_with(&inp, &p, opts).unwrap(), plain);
    assert_eq!(post.iter().map(|p| p.0).collect::<Vec<_>>(), vec![0, 1, 2]);
    for v in 0..plain.len() {
        let sum: f32 = post.iter().map(|p| p.1[v]).sum();
        assert!((sum - 1.0).abs() < 1e-5, "voxel {v}: {sum}");
        let best = post.iter().fold((0u16, -1.0f32), |b, p| {
            if p.1[v] > b.1 + 1e-6 {
                (p.0, p.1[v])
            } else {
                b
            }
        });
        assert_eq!(best.0, plain[v], "voxel {v}");
    }
    // Outside a half mask: label 0; inside, voxels far from the mask's edge keep their label.
    let half: Vec<u16> = (0..plain.len())
        .map(|v| u16::from(v % dims[0] < dims[0] / 2))
        .collect();
    let opts = JlfOptions {
        mask: Some(&half),
        posteriors: None,
    };
    let masked = joint_label_fusion_with(&inp, &p, opts).unwrap();
    for v in 0..plain.len() {
        let i = v % dims[0];
        if half[v] == 0 {
            assert_eq!(masked[v], 0);
        } else if i + 2 < dims[0] / 2 {
            assert_eq!(masked[v], plain[v], "voxel {v}");
        }
    }
    let bad = vec![1u16; 3];
    let opts = JlfOptions {
        mask: Some(&bad),
        posteriors: None,
    };
    assert!(joint_label_fusion_with(&inp, &p, opts).is_err());
}

#[test]
fn a_masked_fusion_works_on_the_masks_box_and_gives_the_full_grids_labels() {
    let dims = [30, 28, 26];
    let (target, images, labels) = random_case(17, dims, 3);
    let inp = inputs(dims, &target, &images, &labels);
    let p = JlfParams {
        patch_radius: 1,
        search_radius: 2,
        ..JlfParams::default()
    };
    // An irregular blob well inside the grid.
    let [nx, ny, _] = dims;
    let mask: Vec<u16> = (0..target.len())
        .map(|v| {
            let x = [v % nx, (v / nx) % ny, v / (nx * ny)].map(|c| c as f32);
            let d = (x[0] - 14.0).powi(2) / 30.0
                + (x[1] - 12.0).powi(2) / 12.0
                + (x[2] - 13.0).powi(2) / 20.0;
            u16::from(d < 1.0)
        })
        .collect();
    let b = mask_box(&mask, dims, 2 * p.patch_radius + p.search_radius).unwrap();
    assert!(b.dims.iter().product::<usize>() < target.len() / 3, "{b:?}");
    let boxed = joint_label_fusion_with(
        &inp,
        &p,
        JlfOptions {
            mask: Some(&mask),
            posteriors: None,
        },
    )
    .unwrap();
    // Asking for posteriors keeps the fusion on the whole grid.
    let mut ignore = |_: u16, _: Vec<f32>| -> crate::Result<()> { Ok(()) };
    let whole = joint_label_fusion_with(
        &inp,
        &p,
        JlfOptions {
            mask: Some(&mask),
            posteriors: Some(&mut ignore),
        },
    )
    .unwrap();
    assert_eq!(boxed, whole);
    assert!(boxed.iter().zip(&mask).all(|(l, m)| *m != 0 || *l == 0));
    assert!(boxed.iter().any(|&l| l != 0));
    // The box-sum search covers the mask's row spans only; the labels are the reference's.
    assert_eq!(boxed, jlf_reference_masked(&inp, &p, Some(&mask)).unwrap());
    // An empty mask fuses nothing.
    let none = vec![0u16; target.len()];
    let opts = JlfOptions {
        mask: Some(&none),
        posteriors: None,
    };
    assert!(joint_label_fusion_with(&inp, &p, opts)
        .unwrap()
        .iter()
        .all(|&l| l == 0));
}

#[test]
fn a_mask_with_holes_and_two_parts_per_row_gives_the_reference_labels() {
    // Row spans are hulls: a row crossing both parts spans the gap between them, and the
    // holes are inside spans. Every voxel outside the mask must still be 0 and every voxel
    // inside must have the reference's label, with the default radii.
    let dims = [26, 18, 16];
    let (target, images, labels) = random_case(23, dims, 3);
    let inp = inputs(dims, &target, &images, &labels);
    let p = JlfParams::default();
    let [nx, ny, _] = dims;
    let mask: Vec<u16> = (0..target.len())
        .map(|v| {
            let (i, j, k) = (v % nx, (v / nx) % ny, v / (nx * ny));
            let part = (3..9).contains(&i) || (15..24).contains(&i);
            let hole = (j + k) % 5 == 0 && i % 3 == 0;
            u16::from(part && (2..15).contains(&j) && (3..13).contains(&k) && !hole)
        })
        .collect();
    let opts = JlfOptions {
        mask: Some(&mask),
        posteriors: None,
    };
    let got = joint_label_fusion_with(&inp, &p, opts).unwrap();
    assert_eq!(got, jlf_reference_masked(&inp, &p, Some(&mask)).unwrap());
    assert!(got.iter().zip(&mask).all(|(l, m)| *m != 0 || *l == 0));
}

#[test]
fn radii_wider_than_the_image_are_refused_before_any_work() {
    let dims = [14, 12, 6];
    let (target, images, labels) = random_case(3, dims, 2);
    let inp = inputs(dims, &target, &images, &labels);
    for (patch_radius, search_radius, name, why) in [
        (1_000_000, 3, "patch_radius", "at most 8 voxels"),
        (2, 6, "search_radius", "shortest axis (6 voxels"),
    ] {
        let p = JlfParams {
            patch_radius,
            search_radius,
            ..JlfParams::default()
        };
        let e = joint_label_fusion(&inp, &p).unwrap_err().to_string();
        assert!(e.contains(&format!("{name}: ")) && e.contains(why), "{e}");
    }
}

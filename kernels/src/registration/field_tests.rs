use super::*;

/// A smooth test field: u(x) = a·sin(2π x_k / L).
fn smooth_field(dims: [usize; 3], amp: f32) -> Field {
    let mut f = Field::zeros(dims);
    let [nx, ny, _] = dims;
    for n in 0..f.len() {
        let (i, j, k) = (
            (n % nx) as f32,
            ((n / nx) % ny) as f32,
            (n / (nx * ny)) as f32,
        );
        f.c[0][n] = amp * (0.2 * j + 0.1 * k).sin();
        f.c[1][n] = amp * (0.15 * i + 0.3).cos();
        f.c[2][n] = amp * 0.5 * (0.12 * i + 0.2 * j).sin();
    }
    f
}

#[test]
fn compose_with_identity_and_translations() {
    let dims = [12, 10, 8];
    let u = smooth_field(dims, 1.0);
    let mut out = Field::zeros(dims);
    u.compose_into(&Field::zeros(dims), &mut out);
    assert_eq!(out, u);
    // Two constant shifts add up.
    let mut a = Field::zeros(dims);
    a.c[0].fill(0.5);
    let mut b = Field::zeros(dims);
    b.c[1].fill(-0.25);
    a.compose_into(&b, &mut out);
    assert!(out.c[0].iter().all(|v| (v - 0.5).abs() < 1e-6));
    assert!(out.c[1].iter().all(|v| (v + 0.25).abs() < 1e-6));
}

#[test]
fn compose_matches_pointwise_reference() {
    let dims = [16, 14, 12];
    let u = smooth_field(dims, 1.2);
    let w = smooth_field(dims, -0.7);
    let mut out = Field::zeros(dims);
    u.compose_into(&w, &mut out);
    // Reference: evaluate the maps one after the other at each voxel.
    let [nx, ny, _] = dims;
    for n in (0..u.len()).step_by(37) {
        let x = [
            (n % nx) as f32,
            ((n / nx) % ny) as f32,
            (n / (nx * ny)) as f32,
        ];
        let wx = w.at(n);
        let y = [x[0] + wx[0], x[1] + wx[1], x[2] + wx[2]];
        let uy = u.sample(y);
        for a in 0..3 {
            assert!((out.c[a][n] - (wx[a] + uy[a])).abs() < 1e-5);
        }
    }
}

#[test]
fn inverse_composes_to_identity() {
    let dims = [24, 22, 20];
    let u = smooth_field(dims, 1.5);
    let mut inv = Field::zeros(dims);
    let stats = u.invert_into(&mut inv, 20, 0.01);
    assert!(stats.max_error < 0.05, "{stats:?}");
    let mut id = Field::zeros(dims);
    u.compose_into(&inv, &mut id);
    // Interior voxels (the clamp at the border breaks invertibility there).
    let [nx, ny, nz] = dims;
    let mut worst = 0.0f32;
    for k in 3..nz - 3 {
        for j in 3..ny - 3 {
            for i in 3..nx - 3 {
                let d = id.at(i + nx * (j + ny * k));
                worst = worst.max((d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt());
            }
        }
    }
    assert!(
        worst < 0.05,
        "u∘u⁻¹ differs from identity by {worst} voxels"
    );
}

#[test]
fn parallel_equals_serial() {
    let dims = [20, 18, 16];
    let u = smooth_field(dims, 1.0);
    let w = smooth_field(dims, 0.4);
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut out = Field::zeros(dims);
            u.compose_into(&w, &mut out);
            let mut inv = Field::zeros(dims);
            u.invert_into(&mut inv, 5, 0.0);
            (out, inv, u.min_jacobian(), u.resample_to([30, 27, 24]))
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn jacobian_of_identity_and_upsampled_field() {
    assert_eq!(Field::zeros([5, 5, 5]).min_jacobian(), 1.0);
    let mut shift = Field::zeros([6, 6, 6]);
    shift.c[2].fill(2.0);
    let up = shift.resample_to([11, 11, 11]);
    assert!(up.c[2].iter().all(|v| (v - 4.0).abs() < 1e-5));
}

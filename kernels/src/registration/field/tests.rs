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

/// [`smooth_field`] tapered to zero on the grid's boundary (as SyN's fields are).
fn interior_field(dims: [usize; 3], amp: f32) -> Field {
    let mut f = smooth_field(dims, amp);
    let [nx, ny, _] = dims;
    let bump = |t: usize, n: usize| (std::f32::consts::PI * t as f32 / (n - 1) as f32).sin();
    for n in 0..f.len() {
        let w = bump(n % nx, nx) * bump((n / nx) % ny, ny) * bump(n / (nx * ny), dims[2]);
        for c in &mut f.c {
            c[n] *= w;
        }
    }
    f
}

#[test]
fn damped_inverse_composes_to_identity() {
    let dims = [24, 22, 20];
    let u = interior_field(dims, 1.5);
    let mut inv = Field::zeros(dims);
    let stats = u.invert_damped(&mut inv, &mut Field::zeros(dims), 100, 0.01, 0.0);
    assert!(stats.max_error < 0.05, "{stats:?}");
    let mut id = Field::zeros(dims);
    u.compose_into(&inv, &mut id);
    let worst = (0..id.len())
        .map(|n| {
            let d = id.at(n);
            (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
        })
        .fold(0.0f32, f32::max);
    assert!(
        worst < 0.05,
        "u∘u⁻¹ differs from identity by {worst} voxels"
    );
}

#[test]
fn damped_inversion_stops_at_either_tolerance_after_at_least_one_move() {
    let dims = [16, 16, 16];
    let u = interior_field(dims, 1.0);
    // From the exact inverse's neighbourhood: one move, then the residual is below tolerance.
    let mut inv = Field::zeros(dims);
    u.invert_damped(&mut inv, &mut Field::zeros(dims), 100, 1e-4, 0.0);
    let again = u.invert_damped(&mut inv, &mut Field::zeros(dims), 20, 0.1, 0.001);
    assert_eq!(again.passes, 1, "{again:?}");
    // From zero, the mean tolerance alone ends it before the largest residual is small.
    let mut inv = Field::zeros(dims);
    let s = u.invert_damped(&mut inv, &mut Field::zeros(dims), 20, 0.0, 0.05);
    assert!(s.mean_error <= 0.05 && s.passes < 20, "{s:?}");
    // A cap on passes is a cap.
    let mut inv = Field::zeros(dims);
    assert_eq!(
        u.invert_damped(&mut inv, &mut Field::zeros(dims), 3, 0.0, 0.0)
            .passes,
        3
    );
}

#[test]
fn an_inverse_round_trip_removes_a_fold() {
    // A local compression along i strong enough to fold: ∂u_i/∂i = −1.6 at the centre.
    let dims = [32, 32, 32];
    let mut u = Field::zeros(dims);
    let [nx, ny, _] = dims;
    let c = 15.5f32;
    for n in 0..u.len() {
        let p = [
            (n % nx) as f32,
            ((n / nx) % ny) as f32,
            (n / (nx * ny)) as f32,
        ];
        let r2: f32 = p.iter().map(|x| (x - c) * (x - c)).sum();
        u.c[0][n] = -1.6 * (p[0] - c) * (-r2 / (2.0 * 3.0 * 3.0)).exp();
    }
    let before = u.jacobian();
    assert!(before.folded_voxels > 0, "{before:?}");
    let mut v = Field::zeros(dims);
    let mut work = Field::zeros(dims);
    u.invert_damped(&mut v, &mut work, 20, 0.1, 0.001);
    v.invert_damped(&mut u, &mut work, 20, 0.1, 0.001);
    let after = u.jacobian();
    println!("before {before:?}, after one round trip {after:?}");
    assert_eq!(after.folded_voxels, 0, "{after:?}");
    assert!(after.min_det > 0.0);
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
            u.invert_damped(&mut inv, &mut Field::zeros(dims), 5, 0.0, 0.0);
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

#[test]
fn compositions_in_place_equal_the_ones_written_out() {
    let dims = [16, 14, 12];
    let u = smooth_field(dims, 1.2);
    let w = smooth_field(dims, -0.7);
    let mut out = Field::zeros(dims);
    u.compose_into(&w, &mut out);
    let mut onto = w.clone();
    u.compose_onto(&mut onto);
    assert_eq!(onto, out);
    // u + s·w(x + u(x)), against the pointwise formula.
    let mut then = u.clone();
    then.compose_then_scaled(&w, 0.3);
    let [nx, ny, _] = dims;
    for n in (0..u.len()).step_by(29) {
        let x = [
            (n % nx) as f32,
            ((n / nx) % ny) as f32,
            (n / (nx * ny)) as f32,
        ];
        let a = u.at(n);
        let b = w.sample([x[0] + a[0], x[1] + a[1], x[2] + a[2]]);
        for c in 0..3 {
            assert!((then.c[c][n] - (a[c] + 0.3 * b[c])).abs() < 1e-6);
        }
    }
}

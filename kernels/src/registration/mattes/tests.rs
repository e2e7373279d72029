use super::*;

/// Cubic B-spline β³ and its derivative at `u`.
#[inline]
fn bspline3(u: f64) -> (f64, f64) {
    let a = u.abs();
    let s = u.signum();
    if a < 1.0 {
        (
            2.0 / 3.0 - a * a + 0.5 * a * a * a,
            s * (-2.0 * a + 1.5 * a * a),
        )
    } else if a < 2.0 {
        let t = 2.0 - a;
        (t * t * t / 6.0, -s * 0.5 * t * t)
    } else {
        (0.0, 0.0)
    }
}

use rand::{Rng, SeedableRng};

fn pairs(seed: u64, n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let r: Vec<f32> = (0..n).map(|_| rng.random_range(0.0..100.0)).collect();
    let m = r
        .iter()
        .map(|v| (v * 0.01 * 3.0).sin() * 40.0 + 50.0 + rng.random_range(-5.0..5.0))
        .collect();
    (r, m)
}

#[test]
fn bspline_is_a_partition_of_unity_with_matching_derivative() {
    for t in [0.0, 0.3, 0.77] {
        let s: f64 = (-2..=2).map(|k| bspline3(f64::from(k) - t).0).sum();
        assert!((s - 1.0).abs() < 1e-12);
        let h = 1e-6;
        let fd = (bspline3(t + h).0 - bspline3(t - h).0) / (2.0 * h);
        assert!((fd - bspline3(t).1).abs() < 1e-6);
    }
}

#[test]
fn cubic_taps_match_the_bspline() {
    for t in [0.0f32, 0.1, 0.5, 0.77, 0.999] {
        let (w, dw) = cubic_taps(t);
        for (k, (w, dw)) in w.iter().zip(dw).enumerate() {
            let (want, dwant) = bspline3(k as f64 - 1.0 - f64::from(t));
            assert!((f64::from(*w) - want).abs() < 1e-6, "t {t} tap {k}");
            assert!(
                (f64::from(dw) - dwant).abs() < 1e-6,
                "t {t} tap {k} derivative"
            );
        }
    }
}

#[test]
fn derivative_matches_finite_differences() {
    let seed = 12;
    let (r, mut m) = pairs(seed, 3000);
    let (rr, mr) = (
        BinRange::new(-1.0, 101.0, 32),
        BinRange::new(-10.0, 110.0, 32),
    );
    let mut metric = Mattes::new(32);
    metric.evaluate(r.iter().copied().zip(m.iter().copied()), rr, mr);
    for x in [0usize, 17, 999, 2500] {
        let analytic = metric.derivative(r[x], m[x], rr, mr);
        let orig = m[x];
        let h = 0.05f32;
        let mut probe = Mattes::new(32);
        m[x] = orig + h;
        let up = probe.evaluate(r.iter().copied().zip(m.iter().copied()), rr, mr);
        m[x] = orig - h;
        let down = probe.evaluate(r.iter().copied().zip(m.iter().copied()), rr, mr);
        m[x] = orig;
        let fd = (up - down) / (2.0 * f64::from(h));
        assert!(
            (fd - analytic).abs() < 1e-3 * analytic.abs().max(1e-6) + 1e-9,
            "seed {seed}, sample {x}: finite difference {fd:e}, analytic {analytic:e}"
        );
    }
}

#[test]
fn parallel_histogram_matches_serial_for_any_thread_count() {
    let (r, m) = pairs(5, 70_000);
    let (rr, mr) = (BinRange::of(&r, 32), BinRange::of(&m, 32));
    let mut serial = Mattes::new(32);
    let want = serial.evaluate(r.iter().copied().zip(m.iter().copied()).step_by(2), rr, mr);
    let values: Vec<f64> = [1, 3]
        .into_iter()
        .map(|threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut par = Mattes::new(32);
            // Odd samples skipped, as the affine stage skips points mapped outside.
            let v = pool.install(|| {
                par.evaluate_par(r.len(), |s| (s % 2 == 0).then(|| (r[s], m[s])), rr, mr)
            });
            assert_eq!(par.samples, serial.samples);
            let d = par.derivative(r[10], m[10], rr, mr);
            let ds = serial.derivative(r[10], m[10], rr, mr);
            assert!((d - ds).abs() <= 1e-9 * ds.abs().max(1e-12), "{d} vs {ds}");
            v
        })
        .collect();
    assert!((values[0] - want).abs() < 1e-10, "{} vs {want}", values[0]);
    assert_eq!(values[0].to_bits(), values[1].to_bits());
}

#[test]
fn symmetric_pass_matches_two_one_way_evaluations() {
    let (x, y) = pairs(9, 40_000);
    let ranges = [BinRange::of(&x, 32), BinRange::of(&y, 32)];
    let (mut dx, mut dy) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
    let value = SymmetricMattes::new(32).derivatives(&x, &y, ranges, &mut dx, &mut dy);
    let pairs_of = |a: &[f32], b: &[f32]| -> Vec<(f32, f32)> {
        a.iter().copied().zip(b.iter().copied()).collect()
    };
    let mut xy = Mattes::new(32);
    let want = xy.evaluate(pairs_of(&x, &y).into_iter(), ranges[0], ranges[1]);
    let mut yx = Mattes::new(32);
    yx.evaluate(pairs_of(&y, &x).into_iter(), ranges[1], ranges[0]);
    assert!((value - want).abs() < 1e-10, "{value} vs {want}");
    for s in [0, 1, 777, 39_999] {
        let want_y = xy.derivative(x[s], y[s], ranges[0], ranges[1]) as f32;
        let want_x = yx.derivative(y[s], x[s], ranges[1], ranges[0]) as f32;
        assert!(
            (dy[s] - want_y).abs() <= 1e-6 * want_y.abs().max(1e-9),
            "d_y at {s}"
        );
        assert!(
            (dx[s] - want_x).abs() <= 1e-6 * want_x.abs().max(1e-9),
            "d_x at {s}"
        );
    }
}

#[test]
fn dependent_images_share_more_information() {
    let (r, m) = pairs(3, 5000);
    let mut metric = Mattes::new(32);
    let (rr, mr) = (BinRange::of(&r, 32), BinRange::of(&m, 32));
    let related = metric.evaluate(r.iter().copied().zip(m.iter().copied()), rr, mr);
    let shuffled: Vec<f32> = m.iter().rev().copied().collect();
    let unrelated = metric.evaluate(r.iter().copied().zip(shuffled.iter().copied()), rr, mr);
    assert!(
        related > 1.0 && unrelated < 0.2,
        "MI related {related}, unrelated {unrelated}"
    );
}

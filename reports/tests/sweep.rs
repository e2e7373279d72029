//! Sweep analysis: the fits recover known lines and power laws, and a sweep over synthetic run
//! stores whose cost grows linearly with the number of atlases is reported as linear (slope,
//! exponent ≈ 1, R² ≈ 1) with a figure and a CSV row per point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use atlasperf_reports::render::Formats;
use atlasperf_reports::sweep::{render_sweep, Axis, Point};
use atlasperf_store::stats::fit::{fit_linear, fit_power, Fit};
use atlasperf_store::synthetic::{write_store, Job, Node};

#[test]
fn a_known_line_is_fitted_exactly() {
    let x = [2.0, 3.0, 5.0, 8.0, 13.0];
    let y: Vec<f64> = x.iter().map(|v| 3.0 + 2.0 * v).collect();
    let Some(Fit::Linear {
        intercept,
        slope,
        r2,
    }) = fit_linear(&x, &y)
    else {
        panic!("no fit")
    };
    assert!((slope - 2.0).abs() < 1e-12 && (intercept - 3.0).abs() < 1e-12);
    assert!((r2 - 1.0).abs() < 1e-12, "{r2}");
    // Proportional cost is a power law with exponent 1.
    let y: Vec<f64> = x.iter().map(|v| 7.0 * v).collect();
    let Some(Fit::Power { exponent, r2, .. }) = fit_power(&x, &y) else {
        panic!("no fit")
    };
    assert!((exponent - 1.0).abs() < 1e-12 && (r2 - 1.0).abs() < 1e-12);
}

#[test]
fn inverse_scaling_has_exponent_minus_one_and_noise_lowers_r2() {
    let x = [1.0, 2.0, 4.0, 8.0];
    let y: Vec<f64> = x.iter().map(|v| 120.0 / v).collect();
    let Some(Fit::Power {
        scale,
        exponent,
        r2,
    }) = fit_power(&x, &y)
    else {
        panic!("no fit")
    };
    assert!((exponent + 1.0).abs() < 1e-12 && (scale - 120.0).abs() < 1e-9 && r2 > 0.999_999);
    // The same points are far from a line.
    assert!(fit_linear(&x, &y).unwrap().r2() < 0.9);
    // A line with alternating ±5 % noise: R² below 1 but still high.
    let y: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| 10.0 * v * if i % 2 == 0 { 1.05 } else { 0.95 })
        .collect();
    let r2 = fit_linear(&x, &y).unwrap().r2();
    assert!(r2 < 1.0 - 1e-6 && r2 > 0.95, "{r2}");
    // Degenerate inputs give no fit rather than nonsense.
    assert!(fit_linear(&[3.0, 3.0], &[1.0, 2.0]).is_none());
    assert!(fit_linear(&[3.0], &[1.0]).is_none());
    assert!(fit_power(&[0.0, 1.0], &[1.0, 2.0]).is_none());
}

#[test]
fn a_linear_sweep_is_reported_linear() {
    let tmp = tempfile::tempdir().unwrap();
    let nodes = [Node {
        name: "node1",
        cores: 1.0,
        memory: 8e9,
    }];
    let ns = [2usize, 3, 4, 6];
    let mut points = Vec::new();
    for (k, &n) in ns.iter().enumerate() {
        // n registrations of 4 s each, one after another, then a fusion of 1 + 0.5 n s.
        let mut jobs: Vec<Job> = (0..n)
            .map(|i| {
                let t = 4.0 * i as f64;
                let mut j = Job::ok(
                    &format!("reg-{i}"),
                    "registration",
                    "node1",
                    t,
                    t + 4.0,
                    3.8,
                    1e8,
                );
                j.rchar = 2e6;
                j
            })
            .collect();
        let t = 4.0 * n as f64;
        jobs.push(Job::ok(
            "fuse",
            "fusion",
            "node1",
            t,
            t + 1.0 + 0.5 * n as f64,
            1.0,
            3e7,
        ));
        let dir = tmp.path().join(format!("p{k}-atlases={n}"));
        write_store(&dir, &nodes, &jobs, 0.5).unwrap();
        points.push(Point {
            name: format!("p{k}-atlases={n}"),
            coords: vec![k],
            dir,
        });
    }
    points.push(Point {
        name: "p9-atlases=9".into(),
        coords: vec![0],
        dir: tmp.path().join("never-ran"),
    });
    let axes = [Axis {
        name: "atlases".into(),
        label: "atlases per target (n)".into(),
        values: ns.iter().map(|n| n.to_string()).collect(),
        x: Some(ns.iter().map(|&n| n as f64).collect()),
    }];
    let out = tmp.path().join("report");
    let r = render_sweep("synthetic", &axes, &points, &out, Formats::ALL).unwrap();
    // Makespan = 4.5 n + 1: a line with slope 4.5, exponent near 1.
    assert!(
        r.summary
            .contains("| makespan | all | 4 | y = 4.5000 x + 1.000, R² 1.000 |"),
        "{}",
        r.summary
    );
    assert!(r.summary.contains("4 of 5 points measured"));
    assert!(r.summary.contains("Not measured: p9-atlases=9"));
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + ns.len(), "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("p0-atlases=2,\"2\",10.000,"),
        "{csv}"
    );
    let png = std::fs::metadata(out.join("sweep-atlases.png"))
        .unwrap()
        .len();
    assert!(png > 20_000, "{png} bytes");
    let svg = std::fs::read_to_string(out.join("sweep-atlases.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("R²"));
}

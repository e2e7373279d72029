//! Writes a synthetic run store of a given number of samples for the report's performance
//! check (`scripts/bench-report.sh`): two nodes with three slots each, registration jobs in
//! waves, then fusion jobs, sampled every 0.1 s.
//!
//! Usage: `cargo run --release -p atlasperf-reports --example synthetic_store -- DIR SAMPLES`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use atlasperf_store::synthetic::{write_store, Job, Node};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(samples)) = (args.get(1), args.get(2).and_then(|s| s.parse::<f64>().ok()))
    else {
        eprintln!("usage: synthetic_store DIR SAMPLES");
        std::process::exit(2);
    };
    const INTERVAL: f64 = 0.1;
    let nodes = [
        Node {
            name: "node1",
            cores: 3.0,
            memory: 32e9,
        },
        Node {
            name: "node2",
            cores: 3.0,
            memory: 32e9,
        },
    ];
    // 60 registrations of 800 s and 12 fusions of 400 s: 60·8000 + 12·4000 samples = 528 000
    // at scale 1; job lengths scale so the total matches SAMPLES.
    let scale = samples / (60.0 * 8000.0 + 12.0 * 4000.0);
    let (reg_s, fus_s) = (800.0 * scale, 400.0 * scale);
    let mut jobs = Vec::new();
    for i in 0..60 {
        let node = if i % 2 == 0 { "node1" } else { "node2" };
        let wave = (i / 6) as f64;
        let start = wave * reg_s;
        let mut j = Job::ok(
            &format!("reg-{i:03}"),
            "registration",
            node,
            start,
            start + reg_s,
            0.97 * reg_s,
            8e9 + 1e7 * i as f64,
        );
        (j.rchar, j.wchar) = (2e9, 5e8);
        jobs.push(j);
    }
    let t0 = 10.0 * reg_s;
    for i in 0..12 {
        let node = if i % 2 == 0 { "node1" } else { "node2" };
        let start = t0 + (i / 6) as f64 * fus_s;
        let mut j = Job::ok(
            &format!("fuse-{i:02}"),
            "fusion",
            node,
            start,
            start + fus_s,
            0.2 * fus_s,
            2.5e9,
        );
        (j.rchar, j.wchar) = (1e9, 1e8);
        jobs.push(j);
    }
    write_store(std::path::Path::new(dir), &nodes, &jobs, INTERVAL).unwrap();
    let n: f64 = jobs
        .iter()
        .map(|j| (j.wall() / INTERVAL).floor() + 1.0)
        .sum();
    println!("{dir}: {} attempts, {n:.0} samples", jobs.len());
}

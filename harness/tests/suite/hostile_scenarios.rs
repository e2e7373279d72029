//! Generated hostile scenarios: a valid scenario with values replaced, lines dropped or
//! repeated, keys invented and `--set` overrides thrown at it. Whatever the text, loading and
//! planning return a scenario or an error naming the file (a usage error, exit code 2) —
//! never a panic. 50 000 cases per run in two halves (fixed seeds; proptest prints a failing case).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use atlasperf_harness::plan::expand;
use atlasperf_harness::scenario::load;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

const BASE: &str = r#"name = "quick"
description = "smoke"
seed = 1
interval_ms = 100
repetitions = 1
[cluster]
executor = "local"
[[cluster.nodes]]
name = "node1"
cores = 1
memory = "2 GiB"
slots = 2
[[cluster.nodes]]
name = "node2"
cores = 2
memory = 3000000000
slots = 1
[dataset.phantom]
shape = [40, 48, 40]
spacing = 4.0
subjects = 6
[workload]
targets = 2
atlases = 3
target_ids = ["sub01", "sub02"]
atlas_ids = ["sub03", "sub04", "sub05"]
[stages.registration]
preset = "fast"
metric = "cc"
iterations = "20x10x5"
threads = 1
memory = "auto"
[stages.fusion]
method = "jlf"
threads = 1
memory = "1 GiB"
patch_radius = 2
search_radius = 3
[scheduling]
policy = "memory"
placement = "balanced"
retries = 1
forecast_margin = 0.15
"#;

/// Values that have broken tools before: wrong types, extremes, path and shell characters.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999",
    "1e308",
    "-0.0",
    "nan",
    "inf",
    "0.5",
    "true",
    "\"\"",
    "\" \"",
    "\"auto\"",
    "\"99999999999 TiB\"",
    "\"-3 GiB\"",
    "\"1 PiB\"",
    "\"../../../ESCAPE\"",
    "\"a\\nb\"",
    "\"$(reboot)\"",
    "\"x\\u0000y\"",
    "\"é\"",
    "[]",
    "[0, 0, 0]",
    "[100000, 100000, 100000]",
    "[4294967296, 1, 1]",
    "[1, 2]",
    "[\"sub01\", \"sub01\"]",
    "[\"sub01\", \"../x\"]",
    "{}",
    "{ a = 1 }",
    "\"paper\"",
    "\"mattes\"",
    "\"linear\"",
    "\"200x100\"",
    "[200, 100]",
    "\"slots\"",
    "\"unlimited\"",
    "\"packed\"",
    "\"slurm\"",
    "1000000",
];

const KEYS: &[&str] = &[
    "name",
    "seed",
    "interval_ms",
    "repetitions",
    "executor",
    "cores",
    "memory",
    "slots",
    "shape",
    "spacing",
    "subjects",
    "targets",
    "atlases",
    "target_ids",
    "atlas_ids",
    "leave_one_out",
    "preset",
    "metric",
    "iterations",
    "threads",
    "method",
    "patch_radius",
    "search_radius",
    "policy",
    "placement",
    "retries",
    "forecast_margin",
    "bogus",
];

#[derive(Debug, Clone)]
enum Edit {
    /// Line `l % lines`: keep its key, replace its value.
    Value(usize, usize),
    Drop(usize),
    Repeat(usize),
    /// A new `key = value` line after line `l % lines`.
    Insert(usize, usize, usize),
    /// Random printable bytes over line `l % lines`.
    Garble(usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 0..VALUES.len()).prop_map(|(l, v)| Edit::Value(l, v)),
        1 => any::<usize>().prop_map(Edit::Drop),
        1 => any::<usize>().prop_map(Edit::Repeat),
        2 => (any::<usize>(), 0..KEYS.len(), 0..VALUES.len())
            .prop_map(|(l, k, v)| Edit::Insert(l, k, v)),
        1 => (any::<usize>(), "[ -~]{0,12}").prop_map(|(l, s)| Edit::Garble(l, s)),
    ]
}

fn apply(edits: &[Edit]) -> String {
    let mut lines: Vec<String> = BASE.lines().map(str::to_string).collect();
    for e in edits {
        let n = lines.len().max(1);
        match e {
            Edit::Value(l, v) => {
                let line = &mut lines[l % n];
                if let Some((key, _)) = line.split_once(" = ") {
                    *line = format!("{key} = {}", VALUES[*v]);
                }
            }
            Edit::Drop(l) if !lines.is_empty() => {
                lines.remove(l % n);
            }
            Edit::Repeat(l) if !lines.is_empty() => {
                let line = lines[l % n].clone();
                lines.insert(l % n, line);
            }
            Edit::Insert(l, k, v) => {
                lines.insert(
                    (l % n) + 1.min(lines.len()),
                    format!("{} = {}", KEYS[*k], VALUES[*v]),
                );
            }
            Edit::Garble(l, s) if !lines.is_empty() => lines[l % n] = s.clone(),
            _ => {}
        }
    }
    lines.join("\n")
}

fn overrides() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        (
            0..KEYS.len(),
            0..VALUES.len(),
            prop_oneof![
                Just(""),
                Just("workload."),
                Just("stages.registration."),
                Just("stages.fusion."),
                Just("cluster.nodes[1]."),
                Just("cluster.nodes[7]."),
                Just("scheduling."),
            ],
        )
            .prop_map(|(k, v, prefix)| format!("{prefix}{}={}", KEYS[k], VALUES[v])),
        0..2,
    )
}

// Two halves of 25 000 cases each, with their own seeds, so both test threads work on them.
#[test]
fn hostile_scenarios_never_panic_and_every_rejection_names_the_file() {
    hostile_scenarios(11);
}

#[test]
fn hostile_scenarios_never_panic_and_every_rejection_names_the_file_second_half() {
    hostile_scenarios(12);
}

fn hostile_scenarios(seed: u8) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.toml");
    let run_dir = dir.path().join("run");
    let exe = Path::new("/bin/atlasperf");
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 25_000,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    );
    let (planned, refused) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    let result = runner.run(
        &(prop::collection::vec(edit(), 0..5), overrides()),
        |(edits, sets)| {
            std::fs::write(&file, apply(&edits)).unwrap();
            match load(&file, &sets) {
                Ok(l) => match expand(&l.scenario, &l.base, &run_dir, exe) {
                    Ok(_) => planned.set(planned.get() + 1),
                    Err(_) => refused.set(refused.get() + 1),
                },
                Err(e) => {
                    refused.set(refused.get() + 1);
                    let text = e.to_string();
                    prop_assert!(text.contains("hostile.toml"), "{text}");
                }
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    let (planned, refused) = (planned.get(), refused.get());
    eprintln!("hostile scenarios: {planned} planned, {refused} refused");
    assert!(
        planned > 500 && refused > 500,
        "{planned} planned, {refused} refused"
    );
}

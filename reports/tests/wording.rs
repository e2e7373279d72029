//! What the report says depends on what was run: only a phantom's labels are called ground
//! truth, and a figure of one profiled command is scaled to the command, not to the machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use atlasperf_reports::render::{render, Formats};
use atlasperf_store::synthetic::{write_store, Job, Node};

const MB: f64 = 1e6;

/// One fusion job whose log reports a Dice, in a store whose scenario names `dataset`.
fn store_with_dice(dir: &Path, dataset: serde_json::Value) {
    let nodes = [Node {
        name: "node1",
        cores: 2.0,
        memory: 1e9,
    }];
    let jobs = [Job::ok(
        "fuse-a",
        "fusion",
        "node1",
        0.0,
        4.0,
        3.0,
        100.0 * MB,
    )];
    write_store(dir, &nodes, &jobs, 0.5).unwrap();
    std::fs::write(dir.join("logs/fuse-a.1.stdout"), "mean Dice 0.9123\n").unwrap();
    let path = dir.join("run.json");
    let mut info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    info["scenario"] = serde_json::json!({ "dataset": dataset });
    std::fs::write(&path, serde_json::to_string_pretty(&info).unwrap()).unwrap();
}

fn summary(dir: &Path) -> String {
    let out = dir.join("report");
    render(dir, &out, Formats::parse("md").unwrap()).unwrap();
    std::fs::read_to_string(out.join("summary.md")).unwrap()
}

#[test]
fn only_a_phantom_has_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    store_with_dice(
        dir.path(),
        serde_json::json!({ "manifest": "cohort/manifest.toml" }),
    );
    let md = summary(dir.path());
    assert!(
        md.contains(
            "against the reference labels of the dataset manifest `cohort/manifest.toml`: 0.9123"
        ),
        "{md}"
    );
    assert!(!md.contains("ground truth"), "{md}");

    let dir = tempfile::tempdir().unwrap();
    store_with_dice(
        dir.path(),
        serde_json::json!({ "phantom": { "spacing": 4.0 } }),
    );
    let md = summary(dir.path());
    assert!(md.contains("against the phantom's ground truth"), "{md}");
}

#[test]
fn a_job_far_below_its_node_is_drawn_to_its_own_scale() {
    let dir = tempfile::tempdir().unwrap();
    // A 200 MB job on a 25 GB node, and a 200 MB job on a 250 MB node.
    for (name, memory, capacity_drawn) in [("big", 25e9, false), ("small", 250e6, true)] {
        let store = dir.path().join(name);
        let nodes = [Node {
            name: "node1",
            cores: 2.0,
            memory,
        }];
        let jobs = [Job::ok(
            "reg-a",
            "registration",
            "node1",
            0.0,
            4.0,
            3.0,
            200.0 * MB,
        )];
        write_store(&store, &nodes, &jobs, 0.5).unwrap();
        let out = store.join("report");
        render(&store, &out, Formats::parse("svg").unwrap()).unwrap();
        let svg = std::fs::read_to_string(out.join("fig2-registration-node1.svg")).unwrap();
        assert_eq!(svg.contains("capacity "), capacity_drawn, "{name}");
        let title = svg
            .split("analog")
            .nth(1)
            .unwrap_or("")
            .split('<')
            .next()
            .unwrap_or("");
        assert!(
            title.trim_end().ends_with(": 1 attempt"),
            "{name}: {title:?}"
        );
        assert!(!svg.contains("1 attempts"), "{name}");
    }
}

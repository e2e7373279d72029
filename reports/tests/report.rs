//! Reports against synthetic run stores whose answers are known: Table I equals an independent
//! computation from the jobs written, the diagnosis names the bottleneck that was built in, and
//! every figure and report file is written with the expected size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use atlasperf_reports::diagnosis::{diagnose, Bound};
use atlasperf_reports::render::{render, Formats};
use atlasperf_reports::run::RunData;
use atlasperf_reports::table::{self, table_one, StageRow};
use atlasperf_store::synthetic::{write_store, Job, Node};

const MB: f64 = 1e6;

fn cohort() -> (Vec<Node>, Vec<Job>) {
    let nodes = vec![
        Node {
            name: "node1",
            cores: 2.0,
            memory: 1e9,
        },
        Node {
            name: "node2",
            cores: 2.0,
            memory: 1e9,
        },
    ];
    let mut a = Job::ok("reg-a", "registration", "node1", 0.0, 10.0, 9.5, 200.0 * MB);
    (a.rchar, a.wchar, a.read_bytes, a.write_bytes) = (10.0 * MB, 5.0 * MB, 1.0 * MB, 5.0 * MB);
    let mut b1 = Job::ok("reg-b", "registration", "node2", 0.0, 4.0, 3.9, 600.0 * MB);
    b1.status = "oom_killed";
    let mut b2 = Job::ok(
        "reg-b",
        "registration",
        "node2",
        4.0,
        16.0,
        11.0,
        300.0 * MB,
    );
    b2.attempt_id = "reg-b.2".into();
    b2.rchar = 12.0 * MB;
    let c = Job::ok(
        "reg-c",
        "registration",
        "node1",
        0.0,
        12.0,
        11.0,
        250.0 * MB,
    );
    let mut f = Job::ok("fuse-a", "fusion", "node1", 16.0, 46.0, 29.0, 50.0 * MB);
    (f.rchar, f.wchar) = (30.0 * MB, 1.0 * MB);
    let mut g = Job::ok("fuse-b", "fusion", "node2", 16.0, 18.0, 1.0, 20.0 * MB);
    g.status = "failed";
    (nodes, vec![a, b1, b2, c, f, g])
}

/// Table I computed directly from the jobs as written, without the report code.
fn expected(stage: &str, jobs: &[&Job]) -> StageRow {
    let ok: Vec<&&Job> = jobs.iter().filter(|j| j.status == "ok").collect();
    let walls: Vec<f64> = ok.iter().map(|j| j.wall()).collect();
    let mean = walls.iter().sum::<f64>() / walls.len() as f64;
    let var =
        walls.iter().map(|w| (w - mean) * (w - mean)).sum::<f64>() / (walls.len() as f64 - 1.0);
    let mut ids: Vec<&str> = jobs.iter().map(|j| j.job_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let sum = |f: fn(&Job) -> f64| jobs.iter().map(|j| f(j)).sum::<f64>();
    StageRow {
        stage: stage.into(),
        jobs: ids.len(),
        attempts: jobs.len(),
        mean_s: mean,
        sd_s: if walls.len() > 1 { var.sqrt() } else { 0.0 },
        makespan_s: jobs.iter().map(|j| j.end).fold(0.0, f64::max)
            - jobs.iter().map(|j| j.start).fold(f64::MAX, f64::min),
        cpu_hours: sum(|j| j.cpu_s) / 3600.0,
        mean_peak: ok.iter().map(|j| j.peak).sum::<f64>() / ok.len() as f64,
        max_peak: jobs.iter().map(|j| j.peak).fold(0.0, f64::max),
        rchar: sum(|j| j.rchar),
        wchar: sum(|j| j.wchar),
        read_bytes: sum(|j| j.read_bytes),
        write_bytes: sum(|j| j.write_bytes),
        failed: ids
            .iter()
            .filter(|id| !ok.iter().any(|j| j.job_id == **id))
            .count(),
        oom_killed: jobs.iter().filter(|j| j.status == "oom_killed").count(),
    }
}

fn assert_row(got: &StageRow, want: &StageRow) {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert_eq!(
        (
            &got.stage,
            got.jobs,
            got.attempts,
            got.failed,
            got.oom_killed
        ),
        (
            &want.stage,
            want.jobs,
            want.attempts,
            want.failed,
            want.oom_killed
        )
    );
    for (name, g, w) in [
        ("mean_s", got.mean_s, want.mean_s),
        ("sd_s", got.sd_s, want.sd_s),
        ("makespan_s", got.makespan_s, want.makespan_s),
        ("cpu_hours", got.cpu_hours, want.cpu_hours),
        ("mean_peak", got.mean_peak, want.mean_peak),
        ("max_peak", got.max_peak, want.max_peak),
        ("rchar", got.rchar, want.rchar),
        ("wchar", got.wchar, want.wchar),
        ("read_bytes", got.read_bytes, want.read_bytes),
        ("write_bytes", got.write_bytes, want.write_bytes),
    ] {
        assert!(close(g, w), "{}: {name} = {g}, expected {w}", want.stage);
    }
}

#[test]
fn table_one_equals_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let (nodes, jobs) = cohort();
    write_store(dir.path(), &nodes, &jobs, 0.5).unwrap();
    let run = RunData::load(dir.path()).unwrap();
    let rows = table_one(&run);
    let of = |s: &str| jobs.iter().filter(|j| j.stage == s).collect::<Vec<_>>();
    assert_eq!(rows.len(), 3);
    assert_row(&rows[0], &expected("registration", &of("registration")));
    assert_row(&rows[1], &expected("fusion", &of("fusion")));
    assert_row(
        &rows[2],
        &expected("total", &jobs.iter().collect::<Vec<_>>()),
    );
    // Spot values, by hand: registration mean over 10, 12, 12 s; one OOM kill; fuse-b failed.
    assert!((rows[0].mean_s - 34.0 / 3.0).abs() < 1e-12);
    assert_eq!((rows[0].oom_killed, rows[1].failed), (1, 1));
    insta::assert_snapshot!("table_one_markdown", table::markdown(&rows));
}

fn diagnosis_of(nodes: &[Node], jobs: &[Job]) -> Vec<Bound> {
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path(), nodes, jobs, 0.2).unwrap();
    let run = RunData::load(dir.path()).unwrap();
    let d = diagnose(&run);
    assert_eq!(d.len(), 1);
    d[0].bounds.clone()
}

#[test]
fn diagnosis_names_memory_when_the_node_is_full() {
    let nodes = [Node {
        name: "n",
        cores: 4.0,
        memory: 1e9,
    }];
    let jobs: Vec<Job> = (0..3)
        .map(|i| {
            Job::ok(
                &format!("reg-{i}"),
                "registration",
                "n",
                0.0,
                10.0,
                6.0,
                310.0 * MB,
            )
        })
        .collect();
    assert_eq!(diagnosis_of(&nodes, &jobs), vec![Bound::Memory]);
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path(), &nodes, &jobs, 0.2).unwrap();
    let d = diagnose(&RunData::load(dir.path()).unwrap());
    let n = &d[0].nodes[0];
    assert!((n.memory_share - 0.93).abs() < 1e-9, "{}", n.memory_share);
    assert_eq!((n.max_concurrent, n.safe_concurrency), (3, 3));
}

#[test]
fn diagnosis_names_cpu_when_the_cores_are_busy() {
    let nodes = [Node {
        name: "n",
        cores: 2.0,
        memory: 4e9,
    }];
    let jobs: Vec<Job> = (0..2)
        .map(|i| {
            Job::ok(
                &format!("fuse-{i}"),
                "fusion",
                "n",
                0.0,
                10.0,
                9.8,
                100.0 * MB,
            )
        })
        .collect();
    assert_eq!(diagnosis_of(&nodes, &jobs), vec![Bound::Cpu]);
}

#[test]
fn diagnosis_names_io_when_data_moves_and_cores_idle() {
    let nodes = [Node {
        name: "n",
        cores: 2.0,
        memory: 4e9,
    }];
    let jobs: Vec<Job> = (0..2)
        .map(|i| {
            let mut j = Job::ok(
                &format!("reg-{i}"),
                "registration",
                "n",
                0.0,
                10.0,
                2.0,
                100.0 * MB,
            );
            j.rchar = 500.0 * MB;
            j
        })
        .collect();
    assert_eq!(diagnosis_of(&nodes, &jobs), vec![Bound::Io]);
}

#[test]
fn diagnosis_says_unsaturated_when_nothing_is_full() {
    let nodes = [Node {
        name: "n",
        cores: 2.0,
        memory: 4e9,
    }];
    let jobs = vec![Job::ok(
        "reg-0",
        "registration",
        "n",
        0.0,
        10.0,
        3.0,
        100.0 * MB,
    )];
    assert_eq!(diagnosis_of(&nodes, &jobs), vec![Bound::Unsaturated]);
}

fn png_size(path: &std::path::Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let be = |o: usize| u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    (be(16), be(20))
}

#[test]
fn every_report_file_is_written_and_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let (nodes, jobs) = cohort();
    write_store(dir.path(), &nodes, &jobs, 0.5).unwrap();
    let out = dir.path().join("report");
    let r = render(dir.path(), &out, Formats::ALL).unwrap();
    for name in [
        "fig2-registration-node1",
        "fig2-registration-node2",
        "fig3-fusion-node1",
        "fig3-fusion-node2",
    ] {
        let png = out.join(format!("{name}.png"));
        assert_eq!(png_size(&png), atlasperf_reports::figures::SIZE, "{name}");
        assert!(
            std::fs::metadata(&png).unwrap().len() > 20_000,
            "{name}.png looks empty"
        );
        let svg = std::fs::read_to_string(out.join(format!("{name}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("width=\"1200\"") && svg.contains("<polyline")
        );
    }
    for f in [
        "summary.md",
        "table1.md",
        "jobs.md",
        "table1.csv",
        "table1.html",
        "report.html",
    ] {
        assert!(r.files.contains(&out.join(f)), "{f} not reported");
        assert!(
            std::fs::metadata(out.join(f)).unwrap().len() > 0,
            "{f} empty"
        );
    }
    let csv = std::fs::read_to_string(out.join("table1.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        4,
        "header + registration, fusion, total:\n{csv}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 4, "figures inline");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no network"
    );
    // As a browser shows it: no Markdown left outside figures and code, emphasis and tables
    // rendered.
    let mut text = html.clone();
    for (open, close) in [
        ("<svg", "</svg>"),
        ("<code>", "</code>"),
        ("<pre", "</pre>"),
    ] {
        while let Some(a) = text.find(open) {
            let b = text[a..]
                .find(close)
                .map_or(text.len(), |b| a + b + close.len());
            text.replace_range(a..b, "");
        }
    }
    for marker in ["**", "### ", "## ", "| --- ", "|---", "`"] {
        assert!(
            !text.contains(marker),
            "raw Markdown `{marker}` in report.html"
        );
    }
    assert!(
        html.contains("<strong>") && html.contains("<td>"),
        "no emphasis or table"
    );
    let jobs_md = std::fs::read_to_string(out.join("jobs.md")).unwrap();
    assert!(jobs_md.contains("reg-b.1") && jobs_md.contains("oom_killed"));
    assert!(
        r.summary.contains("**memory-bound**") || r.summary.contains("OOM"),
        "{}",
        r.summary
    );
}

#[test]
fn only_the_asked_formats_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (nodes, jobs) = cohort();
    write_store(dir.path(), &nodes, &jobs, 0.5).unwrap();
    let out = dir.path().join("r");
    let r = render(dir.path(), &out, Formats::parse("md,csv").unwrap()).unwrap();
    assert!(r
        .files
        .iter()
        .all(|f| f.extension().is_some_and(|e| e == "md" || e == "csv")));
    assert!(Formats::parse("png,gif").is_err());
}

#[test]
fn a_missing_or_foreign_store_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = RunData::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("run.json"), "{e}");
    std::fs::write(dir.path().join("run.json"), r#"{"schema_version": 9}"#).unwrap();
    let e = RunData::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("schema_version"), "{e}");
}

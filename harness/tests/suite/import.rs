//! `atlasperf import`: other tools' records into run stores that report and simulate read,
//! and hostile files refused with exit code 2, naming file, line and column, leaving nothing
//! in `--out`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use atlasperf_harness::import::{parse_sources, Format, Source};
use predicates::prelude::*;
use proptest::prelude::*;

use crate::common::*;

fn fixture(name: &str) -> PathBuf {
    repo().join("harness/tests/fixtures/import").join(name)
}

fn import(format: &str, files: &[PathBuf], out: &Path) -> assert_cmd::assert::Assert {
    let mut cmd = atlasperf();
    cmd.args(["import", "--format", format])
        .args(files)
        .arg("--out")
        .arg(out);
    cmd.assert()
}

fn table1(run: &Path, dir: &Path) -> String {
    atlasperf()
        .arg("report")
        .arg(run)
        .arg("--out")
        .arg(dir)
        .assert()
        .success();
    std::fs::read_to_string(dir.join("table1.md")).unwrap()
}

#[test]
fn sacct_output_becomes_a_store_that_report_and_simulate_read() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("acct");
    import("sacct", &[fixture("sacct.txt")], &run)
        .success()
        .stderr(predicate::str::contains("9 attempt(s) from 1 file(s)"));
    let info = run_json(&run);
    assert_eq!(info["notes"]["import"]["format"], "sacct");
    assert!(info["notes"]["import"]["columns"]["peak_rss"]
        .as_str()
        .unwrap()
        .starts_with("sampled: MaxRSS"));
    let t = table1(&run, &dir.path().join("report"));
    assert!(t.contains("| Image Registration | 6 (6) |"), "{t}");
    assert!(t.contains("| Label Fusion | 3 (3) |"), "{t}");
    let summary = std::fs::read_to_string(dir.path().join("report/summary.md")).unwrap();
    assert!(summary.contains("**Imported** run"), "{summary}");
    assert!(summary.contains("flat profile"), "{summary}");
    // The imported jobs are the simulator's profiles once their image size is known.
    let simulate = |profiles: &Path, out: &str| {
        atlasperf()
            .arg("simulate")
            .arg(repo().join("scenarios/quick.toml"))
            .arg("--profiles")
            .arg(profiles)
            .args(["--samples", "2", "--out"])
            .arg(dir.path().join(out))
            .assert()
    };
    simulate(&run, "sim0")
        .code(2)
        .stderr(predicate::str::contains("import it again with --voxels N"));
    let sized = dir.path().join("acct-sized");
    let mut cmd = atlasperf();
    cmd.args(["import", "--format", "sacct", "--voxels", "76800"])
        .arg(fixture("sacct.txt"))
        .arg("--out")
        .arg(&sized);
    cmd.assert().success();
    simulate(&sized, "sim").success();
    assert_eq!(run_json(&dir.path().join("sim"))["status"], "complete");
}

#[test]
fn a_recorded_slurm_run_imports_with_its_stages_and_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("acct");
    import("sacct", &[fixture("sacct-slurm-quick.txt")], &run)
        .success()
        .stderr(predicate::str::contains("8 attempt(s) from 1 file(s)"));
    let t = table1(&run, &dir.path().join("report"));
    assert!(t.contains("| Image Registration | 6 (6) |"), "{t}");
    assert!(t.contains("| Label Fusion | 2 (2) |"), "{t}");
    let nodes: Vec<String> = run_json(&run)["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(nodes, ["nodea", "nodeb"]);
    // compare reads imported stores as any run.
    atlasperf()
        .arg("compare")
        .arg(&run)
        .arg(&run)
        .assert()
        .success()
        .stdout(predicate::str::contains("within noise"));
}

#[test]
fn series_sources_draw_figures_and_snakemake_rules_are_stages() {
    let dir = tempfile::tempdir().unwrap();
    for (format, files, stage) in [
        (
            "psrecord",
            vec![fixture("psrecord-register.txt")],
            "| psrecord-register |",
        ),
        (
            "prmon",
            vec![
                fixture("prmon/reg-sub01/prmon.txt"),
                fixture("prmon/reg-sub01/prmon.json"),
            ],
            "| Image Registration |",
        ),
        (
            "snakemake",
            std::fs::read_dir(fixture("snakemake"))
                .unwrap()
                .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
                .map(|f| f.unwrap().path())
                .collect(),
            "| register |",
        ),
    ] {
        let run = dir.path().join(format);
        import(format, &files, &run).success();
        let report = dir.path().join(format!("{format}-report"));
        let t = table1(&run, &report);
        assert!(t.contains(stage), "{format}: {t}");
        let figures = std::fs::read_dir(&report)
            .unwrap()
            .filter(|f| {
                f.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".png")
            })
            .count();
        assert!(figures >= 1, "{format}: no figure");
    }
}

#[test]
fn hostile_files_are_refused_with_file_line_and_column_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let sacct = std::fs::read_to_string(fixture("sacct.txt")).unwrap();
    let huge = sacct.replacen("61000K", "99999999999999999999P", 1);
    let truncated = &sacct[..sacct.len() / 2 - 3];
    for (format, file, expected) in [
        (
            "sacct",
            write("empty.txt", b""),
            "empty.txt:1:1: empty file",
        ),
        (
            "sacct",
            write("bin.txt", &[0xff, 0xfe, 0, 1]),
            "bin.txt: not UTF-8",
        ),
        ("sacct", write("huge.txt", huge.as_bytes()), "huge.txt:3:"),
        ("sacct", write("cut.txt", truncated.as_bytes()), "cut.txt:"),
        (
            "psrecord",
            write(
                "neg.log",
                b"# Elapsed time CPU (%) Real (MB) Virtual (MB)\n-1 0 1 1\n",
            ),
            "neg.log:2:1:",
        ),
        (
            "snakemake",
            write("x.tsv", b"s\tmax_rss\n1\tinf\n"),
            "x.tsv:2:3:",
        ),
        (
            "prmon",
            write("prmon.json", b"{\"Max\": {}}"),
            "needs its prmon.txt",
        ),
        ("sacct", dir.path().to_path_buf(), "not a regular file"),
    ] {
        let out = dir.path().join(format!(
            "out-{}",
            file.file_name().unwrap().to_string_lossy()
        ));
        import(format, std::slice::from_ref(&file), &out)
            .code(2)
            .stderr(predicate::str::contains(expected));
        assert!(!out.exists(), "{} left {}", file.display(), out.display());
    }
    // An existing --out is never written into.
    let taken = dir.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    import("sacct", &[fixture("sacct.txt")], &taken)
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(std::fs::read_dir(&taken).unwrap().count(), 0);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Text that looks like each format, with hostile values spliced in.
fn hostile(format: Format) -> impl Strategy<Value = String> {
    let header = match format {
        Format::Sacct => "JobID|JobName|State|ExitCode|NodeList|Start|End|Elapsed|TotalCPU|AllocCPUS|ReqMem|MaxRSS|AveDiskRead|NTasks\n",
        Format::Snakemake => "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n",
        Format::Psrecord => "# Elapsed time   CPU (%)     Real (MB)   Virtual (MB)\n",
        Format::Prmon => "Time\tnprocs\tnthreads\twtime\tstime\tutime\tpss\trss\tswap\tvmem\trchar\twchar\n",
    };
    let sep = match format {
        Format::Sacct => "|",
        Format::Snakemake | Format::Prmon => "\t",
        Format::Psrecord => " ",
    };
    let value = prop_oneof![
        Just(String::new()),
        Just("NaN".to_string()),
        Just("-1".to_string()),
        Just("1e308".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("18446744073709551616".to_string()),
        Just("COMPLETED".to_string()),
        Just("OUT_OF_MEMORY".to_string()),
        Just("CANCELLED by 0".to_string()),
        Just("2026-12-03T08:00:00".to_string()),
        Just("1-00:00:00".to_string()),
        Just("00:99:00".to_string()),
        Just("12.5Q".to_string()),
        Just("1024K".to_string()),
        Just("../../etc/passwd".to_string()),
        Just("123_[1-3]".to_string()),
        Just("17.batch".to_string()),
        Just("0:0".to_string()),
        Just("node[1-".to_string()),
        Just("ü\u{0}\u{202e}".to_string()),
        (0u64..2_000_000_000).prop_map(|v| v.to_string()),
        (0.0f64..1e6).prop_map(|v| format!("{v:.3}")),
        "[ -~]{0,12}",
    ];
    let row = proptest::collection::vec(value, 0..16).prop_map(move |v| v.join(sep));
    (
        any::<bool>(),
        proptest::collection::vec(row, 0..6),
        "[ -~\t\n]{0,40}",
    )
        .prop_map(move |(with_header, rows, tail)| {
            let mut s = if with_header {
                header.to_string()
            } else {
                String::new()
            };
            for r in rows {
                s.push_str(&r);
                s.push('\n');
            }
            s.push_str(&tail);
            s
        })
}

fn check(format: Format, text: String) -> Result<(), TestCaseError> {
    let src = Source::new("in.txt", text, 1.8e9);
    if let Err(e) = parse_sources(format, &[src]) {
        prop_assert!(
            e.0.starts_with("in.txt:"),
            "an error that names no line: {}",
            e.0
        );
    }
    Ok(())
}

proptest! {
    // 5000 generated files per format, 20 000 in all, per test run: none may panic, and every
    // refusal names the file and its line.
    #![proptest_config(ProptestConfig { cases: 5000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_sacct_files_never_panic(text in hostile(Format::Sacct)) { check(Format::Sacct, text)?; }

    #[test]
    fn generated_snakemake_files_never_panic(text in hostile(Format::Snakemake)) { check(Format::Snakemake, text)?; }

    #[test]
    fn generated_psrecord_files_never_panic(text in hostile(Format::Psrecord)) { check(Format::Psrecord, text)?; }

    #[test]
    fn generated_prmon_files_never_panic(text in hostile(Format::Prmon)) { check(Format::Prmon, text)?; }
}

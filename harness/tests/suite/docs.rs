//! The README's and the guide's examples cannot rot.
//!
//! - Every ```` ```console ```` block is run by trycmd, page by page, each page in its own
//!   sandbox that holds a copy of `scenarios/`: the commands run in order, their exit codes must
//!   match (`? 2` for a usage error) and their output must match what the page shows (`...`
//!   stands for any lines).
//! - Every `atlasperf` command in a ```` ```sh ```` block — the ones shown without output (the
//!   paper's study, sweeps, repetitions) — runs in a sandbox on small work; those that need a
//!   Slurm cluster, ANTs or the reader's own files must parse with the real command line, and
//!   every script such a block names must exist and be executable.
//! - Every guide page is linked from the README, and every relative link resolves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use atlasperf_harness::cli::Cli;
use clap::Parser;

use crate::common;
use crate::common::repo;

/// README.md and every page of the guide.
fn pages() -> Vec<PathBuf> {
    let mut out = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

/// The fenced code blocks of a Markdown page: (info string, body, line of the fence).
fn blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match (&mut open, fence) {
            (None, true) => {
                let info = line.trim_start().trim_start_matches('`').trim().to_string();
                open = Some((info, String::new(), i + 1));
            }
            (Some(_), true) => out.push(open.take().unwrap()),
            (Some((_, body, _)), false) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, false) => {}
        }
    }
    out
}

#[test]
fn console_examples_run_as_shown() {
    let bin = common::bin();
    let work = tempfile::tempdir().unwrap();
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("atlasperf", bin)
        .timeout(std::time::Duration::from_secs(300));
    let mut n = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        if !blocks(&text).iter().any(|(info, _, _)| info == "console") {
            continue;
        }
        let stem = page.file_stem().unwrap().to_string_lossy().to_string();
        // A sandbox per page: `<stem>.in/` is copied into a fresh folder where the page's
        // commands run in order; `<stem>.out/` switches the sandbox on.
        let case = work.path().join(format!("{stem}.md"));
        std::fs::write(&case, &text).unwrap();
        let input = work.path().join(format!("{stem}.in"));
        copy_dir(&repo().join("scenarios"), &input.join("scenarios"));
        // The recorded sacct, Snakemake, psrecord and prmon files, at their path in a clone.
        let records = "harness/tests/fixtures/import";
        copy_dir(&repo().join(records), &input.join(records));
        std::fs::create_dir_all(work.path().join(format!("{stem}.out"))).unwrap();
        cases.case(&case);
        n += 1;
    }
    assert!(n >= 5, "only {n} pages have console examples");
    cases.run();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let kind = e.file_type().unwrap();
        if kind.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        } else if kind.is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        }
    }
}

/// The words of one shell command line, without a trailing `# comment`.
fn words(line: &str) -> Vec<String> {
    let code = line.split(" #").next().unwrap_or(line).trim();
    shlex::split(code).unwrap_or_else(|| panic!("cannot split `{line}`"))
}

/// What shrinks a local scenario's work to seconds, after the example's own values (so a
/// page's `--interleave-set` of iterations is shrunk too): a small phantom and a few
/// iterations per level. The commands, their flags and their files are the page's.
const SMALL: [&str; 3] = [
    "dataset.phantom.shape=[20, 24, 20]",
    "dataset.phantom.spacing=8.0",
    "stages.registration.iterations=[4, 2, 1]",
];

/// The variable that lets scenarios calling the anchors (ANTs) run too: CI sets it after
/// `scripts/install-anchors.sh`, in a step of its own, so the README's test command needs no
/// download.
const WITH_ANCHORS: &str = "ATLASPERF_DOCS_ANCHORS";

/// Why a scenario cannot run inside the test command: it runs on Slurm or calls an external
/// tool (CI's Slurm step runs `quick-slurm.toml`; with [`WITH_ANCHORS`] set, a scenario that
/// calls the anchors runs here).
fn needs_outside(scenario: &Path) -> Option<&'static str> {
    let text = std::fs::read_to_string(scenario).ok()?;
    let value: toml::Value = toml::from_str(&text).ok()?;
    if value
        .get("cluster")
        .and_then(|c| c.get("executor"))
        .and_then(|e| e.as_str())
        == Some("slurm")
    {
        return Some("a Slurm cluster");
    }
    let commands = value
        .get("stages")
        .and_then(|s| s.as_table())
        .is_some_and(|t| t.values().any(|st| st.get("command").is_some()));
    if (commands || value.get("preflight").is_some()) && std::env::var_os(WITH_ANCHORS).is_none() {
        return Some("an external tool");
    }
    None
}

/// The sweep file `path` with [`SMALL`] after its own `set` values.
fn shrink_sweep(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut value: toml::Value = toml::from_str(&text).unwrap();
    let table = value.as_table_mut().unwrap();
    let set = table
        .entry("set")
        .or_insert_with(|| toml::Value::Array(Vec::new()))
        .as_array_mut()
        .unwrap();
    set.extend(SMALL.iter().map(|s| toml::Value::String((*s).to_string())));
    std::fs::write(path, toml::to_string(&value).unwrap()).unwrap();
}

/// The `atlasperf` argv of a shell line (`atlasperf ARGS` or `cargo run … --bin atlasperf --
/// ARGS`), or `None` for another program.
fn atlasperf_args(w: &[String]) -> Option<Vec<String>> {
    match w.first().map(String::as_str) {
        Some("atlasperf") => Some(w[1..].to_vec()),
        Some("cargo") if w.iter().any(|a| a == "--bin") => Some(
            w.iter()
                .skip_while(|a| *a != "--")
                .skip(1)
                .cloned()
                .collect(),
        ),
        _ => None,
    }
}

/// Every command of a ```` ```sh ```` block runs, in the pages' order in one sandbox holding a
/// copy of `scenarios/`:
/// - `run` and `sweep` on local scenarios run to completion with [`SMALL`] work;
/// - scenarios on Slurm or with external tools, and lines that read what the reader brings
///   (a `$(…)` substitution, a file absent from the sandbox), must parse; CI's Slurm,
///   real-anatomy and import steps run those;
/// - any other `atlasperf` command runs and must succeed;
/// - scripts built on `scripts/lib.sh` check their arguments (`ATLASPERF_ARGS_ONLY=1`).
#[test]
fn every_other_command_shown_runs_on_small_work() {
    let bin = common::bin();
    let (mut ran, mut parsed) = (0, 0);
    // One sandbox for every page, as one clone is: a command shown on two pages runs once.
    let sandbox = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("scenarios"), &sandbox.path().join("scenarios"));
    // The anchors' wrapper and scripts, where `paper-ants.toml` finds them.
    copy_dir(
        &repo().join("scripts/anchors"),
        &sandbox.path().join("scripts/anchors"),
    );
    let mut done = std::collections::HashSet::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let sh = blocks(&text)
            .into_iter()
            .filter(|(info, _, _)| info == "sh" || info == "bash");
        for (_, body, at) in sh {
            // A line ending in `\` continues on the next.
            let joined = body.replace("\\\n", " ");
            for line in joined.lines().filter(|l| !l.trim().is_empty()) {
                let w = words(line);
                let place = format!("{}:{at}: `{line}`", page.display());
                if let Some(args) = atlasperf_args(&w) {
                    let argv = std::iter::once("atlasperf".to_string()).chain(args.clone());
                    if let Err(e) = Cli::try_parse_from(argv) {
                        panic!("{place} does not parse:\n{e}");
                    }
                    if done.contains(&args) {
                        continue;
                    }
                    match example_argv(sandbox.path(), &args) {
                        Some(argv) => {
                            done.insert(args.clone());
                            let started = std::time::Instant::now();
                            let out = std::process::Command::new(&bin)
                                .args(&argv)
                                .current_dir(sandbox.path())
                                .output()
                                .unwrap();
                            eprintln!("{place}: {:.1} s", started.elapsed().as_secs_f64());
                            assert!(
                                out.status.success(),
                                "{place} failed (run as {argv:?}):\n{}",
                                String::from_utf8_lossy(&out.stderr)
                            );
                            ran += 1;
                        }
                        None => parsed += 1,
                    }
                } else if let Some(first) = w.first().filter(|f| f.starts_with("scripts/")) {
                    check_script(&place, first, &w[1..]);
                    parsed += 1;
                }
            }
        }
    }
    eprintln!("{ran} shell examples ran, {parsed} were checked");
    assert!(ran >= 6, "only {ran} shell examples ran");
    assert!(parsed >= 10, "only {parsed} shell examples checked");
}

/// The argv an example runs with in `sandbox`, or `None` when it needs what the test command
/// cannot give it (see [`every_other_command_shown_runs_on_small_work`]).
fn example_argv(sandbox: &Path, args: &[String]) -> Option<Vec<String>> {
    if args.iter().any(|a| a.contains("$(")) {
        return None;
    }
    let (sub, rest) = args.split_first()?;
    match sub.as_str() {
        "run" => {
            let scenario = sandbox.join(rest.first()?);
            if needs_outside(&scenario).is_some() {
                return None;
            }
            let mut argv = args.to_vec();
            for s in SMALL {
                argv.extend(["--set".to_string(), s.to_string()]);
                if rest.iter().any(|a| a == "--interleave") {
                    argv.extend(["--interleave-set".to_string(), s.to_string()]);
                }
            }
            Some(argv)
        }
        "sweep" => {
            shrink_sweep(&sandbox.join(rest.first()?));
            Some(args.to_vec())
        }
        // Reads the reader's files: every argument that names one must exist here.
        _ => {
            let inputs = rest
                .iter()
                .filter(|a| !a.starts_with('-') && !a.contains('='));
            let missing = inputs
                .filter(|a| a.contains('/') || a.contains('.'))
                .any(|a| !sandbox.join(a).exists() && !is_output(rest, a));
            (!missing).then(|| args.to_vec())
        }
    }
}

/// True when `arg` is the value of `--out` (a folder the command makes).
fn is_output(args: &[String], arg: &str) -> bool {
    args.windows(2).any(|p| p[0] == "--out" && p[1] == arg)
}

/// A script a page names exists, is executable, and (when built on `scripts/lib.sh`) accepts
/// the arguments shown.
fn check_script(place: &str, script: &str, args: &[String]) {
    let script = repo().join(script);
    let mode = std::fs::metadata(&script)
        .unwrap_or_else(|e| panic!("{place}: {}: {e}", script.display()))
        .permissions()
        .mode();
    assert!(mode & 0o111 != 0, "{place}: the script is not executable");
    if std::fs::read_to_string(&script)
        .unwrap()
        .contains("/lib.sh\"")
    {
        let out = std::process::Command::new(&script)
            .args(args)
            .env("ATLASPERF_ARGS_ONLY", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{place}: the script refuses these arguments:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_readme_links_every_guide_page_and_every_link_resolves() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for page in pages().iter().skip(1) {
        let name = page.file_name().unwrap().to_string_lossy();
        assert!(
            readme.contains(&format!("(docs/{name}")),
            "README.md does not link docs/{name}"
        );
    }
    assert!(
        readme.len() <= 15_000,
        "README.md has {} characters (at most 15 000)",
        readme.len()
    );
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        for link in text.split("](").skip(1) {
            let target = link.split(')').next().unwrap_or("");
            let path = target.split('#').next().unwrap_or("");
            if path.is_empty() || path.contains("://") {
                continue;
            }
            assert!(
                dir.join(path).exists(),
                "{}: link `{target}` does not resolve",
                page.display()
            );
        }
    }
}

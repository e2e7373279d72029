//! The README's and the guide's examples cannot rot.
//!
//! - Every ```` ```console ```` block is run by trycmd, page by page, each page in its own
//!   sandbox that holds a copy of `scenarios/`: the commands run in order, their exit codes must
//!   match (`? 2` for a usage error) and their output must match what the page shows (`...`
//!   stands for any lines).
//! - Every `atlasperf` command in a ```` ```sh ```` block — the ones too long for the suite
//!   (the paper's study, ANTs, a Slurm cluster) — must parse with the real command line, and
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

#[test]
fn every_other_command_shown_parses() {
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (info, body, at) in blocks(&text) {
            if !(info == "sh" || info == "bash") {
                continue;
            }
            // A line ending in `\` continues on the next.
            let joined = body.replace("\\\n", " ");
            for line in joined.lines().filter(|l| !l.trim().is_empty()) {
                let w = words(line);
                let Some(first) = w.first() else { continue };
                let place = format!("{}:{at}: `{line}`", page.display());
                if first == "atlasperf" {
                    if let Err(e) = Cli::try_parse_from(&w) {
                        panic!("{place} does not parse:\n{e}");
                    }
                    checked += 1;
                } else if first == "cargo" && w.iter().any(|a| a == "--bin") {
                    // `cargo run --release --bin atlasperf -- ARGS`: the ARGS must parse.
                    let args = w.iter().skip_while(|a| *a != "--").skip(1);
                    let argv: Vec<&str> = std::iter::once("atlasperf")
                        .chain(args.map(String::as_str))
                        .collect();
                    if let Err(e) = Cli::try_parse_from(&argv) {
                        panic!("{place} does not parse:\n{e}");
                    }
                    checked += 1;
                } else if first.starts_with("scripts/") {
                    let script = repo().join(first);
                    let mode = std::fs::metadata(&script)
                        .unwrap_or_else(|e| panic!("{place}: {}: {e}", script.display()))
                        .permissions()
                        .mode();
                    assert!(mode & 0o111 != 0, "{place}: the script is not executable");
                    // Scripts built on scripts/lib.sh check their arguments and stop there.
                    if std::fs::read_to_string(&script)
                        .unwrap()
                        .contains("/lib.sh\"")
                    {
                        let out = std::process::Command::new(&script)
                            .args(&w[1..])
                            .env("ATLASPERF_ARGS_ONLY", "1")
                            .output()
                            .unwrap();
                        assert!(
                            out.status.success(),
                            "{place}: the script refuses these arguments:\n{}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 15, "only {checked} commands checked");
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

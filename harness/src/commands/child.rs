//! One `atlasperf run` as its own process — a sweep's point or a repetition — so that no run's
//! memory or threads leak into the next; a folder that holds a complete run is kept, one that
//! holds an unfinished run is resumed.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context;

/// Exit code of an interrupted run (as a shell reports Ctrl-C).
pub(crate) const INTERRUPTED: u8 = 130;

/// How one child run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The folder already held a complete run.
    Kept,
    /// The run completed.
    Complete,
    /// The run ended with failed jobs or failed itself.
    Failed,
    /// The run was interrupted (Ctrl-C or SIGTERM).
    Interrupted,
}

/// `run.json`'s status of a run folder, if it has one.
pub(crate) fn run_status(dir: &Path) -> Option<String> {
    let store = crate::store::RunStore::open(dir).ok()?;
    Some(store.read_info().map_or_else(
        |_| "unreadable".to_string(),
        |i| i.status.as_str().to_string(),
    ))
}

/// Runs `scenario` with `overrides` into `dir` (or resumes or keeps what is there), printing
/// `[i/n] label: …` on stderr.
///
/// # Errors
/// When the atlasperf binary cannot be started.
pub(crate) fn run_into(
    dir: &Path,
    scenario: &Path,
    overrides: &[String],
    label: &str,
    (i, n): (usize, usize),
    stop: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<Ended> {
    let exe = std::env::current_exe().context("locating the atlasperf binary")?;
    let mut cmd = Command::new(&exe);
    match run_status(dir).as_deref() {
        Some("complete") => {
            eprintln!("[{i}/{n}] {label}: complete, kept");
            return Ok(Ended::Kept);
        }
        Some(st) => {
            eprintln!("[{i}/{n}] {label}: {st}, resuming");
            cmd.arg("run").arg("--resume").arg(dir);
        }
        None => {
            eprintln!("[{i}/{n}] {label}: running");
            cmd.arg("run").arg(scenario).arg("--out").arg(dir);
            for o in overrides {
                cmd.arg("--set").arg(o);
            }
        }
    }
    let code = cmd
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("starting {}", exe.display()))?;
    if stop.load(std::sync::atomic::Ordering::SeqCst) || code.code() == Some(i32::from(INTERRUPTED))
    {
        return Ok(Ended::Interrupted);
    }
    if !code.success() {
        eprintln!("[{i}/{n}] {label}: atlasperf run ended with {code}");
        return Ok(Ended::Failed);
    }
    Ok(Ended::Complete)
}

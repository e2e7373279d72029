//! One `atlasperf run` as its own process — a sweep's point or a repetition — so that no run's
//! memory or threads leak into the next; a folder that holds a complete run is kept, one that
//! holds an unfinished run is resumed.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

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
    step: (usize, usize),
    stop: &AtomicBool,
) -> anyhow::Result<Ended> {
    match start(dir, scenario, overrides, label, step, None)? {
        Started::Kept => Ok(Ended::Kept),
        Started::Child(child) => finish(child, label, step, stop),
    }
}

/// A child run started by [`start`].
pub(crate) enum Started {
    /// The folder already held a complete run: nothing was started.
    Kept,
    /// The running `atlasperf run`.
    Child(Child),
}

/// Starts `atlasperf run` into `dir` (or `--resume` of what is there) without waiting for it;
/// with `log`, its output goes to that file instead of this process's.
///
/// # Errors
/// When the atlasperf binary cannot be started or the log cannot be created.
pub(crate) fn start(
    dir: &Path,
    scenario: &Path,
    overrides: &[String],
    label: &str,
    (i, n): (usize, usize),
    log: Option<&Path>,
) -> anyhow::Result<Started> {
    let exe = std::env::current_exe().context("locating the atlasperf binary")?;
    let mut cmd = Command::new(&exe);
    let to = log.map_or(String::new(), |l| format!(" (output in {})", l.display()));
    match run_status(dir).as_deref() {
        Some("complete") => {
            eprintln!("[{i}/{n}] {label}: complete, kept");
            return Ok(Started::Kept);
        }
        Some(st) => {
            eprintln!("[{i}/{n}] {label}: {st}, resuming{to}");
            cmd.arg("run").arg("--resume").arg(dir);
        }
        None => {
            eprintln!("[{i}/{n}] {label}: running{to}");
            cmd.arg("run").arg(scenario).arg("--out").arg(dir);
            for o in overrides {
                cmd.arg("--set").arg(o);
            }
        }
    }
    cmd.stdin(Stdio::null());
    if let Some(l) = log {
        let f = std::fs::File::create(l).with_context(|| format!("creating {}", l.display()))?;
        cmd.stdout(
            f.try_clone()
                .with_context(|| format!("opening {}", l.display()))?,
        );
        cmd.stderr(f);
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    Ok(Started::Child(child))
}

/// Waits for a child run and says how it ended.
///
/// # Errors
/// When waiting for the child fails.
pub(crate) fn finish(
    mut child: Child,
    label: &str,
    (i, n): (usize, usize),
    stop: &AtomicBool,
) -> anyhow::Result<Ended> {
    let code = child
        .wait()
        .with_context(|| format!("waiting for the run {label}"))?;
    if stop.load(Ordering::SeqCst) || code.code() == Some(i32::from(INTERRUPTED)) {
        return Ok(Ended::Interrupted);
    }
    if !code.success() {
        eprintln!("[{i}/{n}] {label}: atlasperf run ended with {code}");
        return Ok(Ended::Failed);
    }
    Ok(Ended::Complete)
}

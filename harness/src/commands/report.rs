//! `atlasperf report RUN`: figures, Table I, diagnosis and an HTML/Markdown report.

use std::path::Path;

use anyhow::Context;
use atlasperf_reports::render::{render, Formats, Rendered};

use crate::cli::ReportArgs;
use crate::error::UsageError;
use crate::store::{compact, RunLock, RunStatus, RunStore, StoreError};

pub(crate) fn run(a: &ReportArgs) -> anyhow::Result<()> {
    let formats = Formats::parse(&a.format).map_err(|e| UsageError(e.to_string()))?;
    require_store(&a.run)?;
    let out = a.out.clone().unwrap_or_else(|| a.run.join("report"));
    let r = report(&a.run, &out, formats)?;
    for f in &r.files {
        println!("{}", f.display());
    }
    eprintln!("report: {} files in {}", r.files.len(), out.display());
    Ok(())
}

/// A usage error unless `path` holds a run store or a group of them (`run --repeat`). A
/// store whose tables are missing or older than its journal (a harness killed before
/// compacting) is compacted first, under the run's lock; one that a harness is still writing
/// is refused with its pid.
pub(crate) fn require_store(path: &Path) -> anyhow::Result<()> {
    let members =
        crate::store::Group::members(path).map_err(|e| UsageError(crate::store::describe(&e)))?;
    for dir in &members {
        require_one(dir)?;
    }
    Ok(())
}

fn require_one(dir: &Path) -> anyhow::Result<()> {
    let store = RunStore::open(dir).map_err(|e| UsageError(e.to_string()))?;
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let oldest_table = ["jobs", "samples", "nodes", "machine"]
        .iter()
        .map(|t| modified(&dir.join(format!("{t}.parquet"))))
        .collect::<Option<Vec<_>>>()
        .and_then(|v| v.into_iter().min());
    let journal = modified(&store.journal_path());
    let stale = match (oldest_table, journal) {
        (None, _) => true,
        (Some(t), Some(j)) => j > t,
        (Some(_), None) => false,
    };
    if !stale {
        return Ok(());
    }
    let _lock = RunLock::acquire(dir).map_err(|e| match e {
        StoreError::Locked { pid, .. } => UsageError(format!(
            "{} is still being run (atlasperf pid {pid}); its report is written when it ends, or run `atlasperf report {}` then",
            dir.display(),
            dir.display()
        )),
        e => UsageError(crate::store::describe(&e)),
    })?;
    let info = store.read_info()?;
    compact(&store).with_context(|| format!("compacting the tables of {}", dir.display()))?;
    if info.status == RunStatus::Running {
        eprintln!(
            "note: {} was stopped before it ended (its harness was killed); this report shows what it measured. Finish it with: atlasperf run --resume {}",
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Renders the report of `run` into `out`.
pub(crate) fn report(run: &Path, out: &Path, formats: Formats) -> anyhow::Result<Rendered> {
    render(run, out, formats).with_context(|| format!("rendering the report of {}", run.display()))
}

//! `atlasperf report RUN`: figures, Table I, diagnosis and an HTML/Markdown report.

use std::path::Path;

use anyhow::Context;
use atlasperf_reports::render::{render, Formats, Rendered};

use crate::cli::{ReportArgs, UsageError};

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

/// A usage error unless `dir` holds a run store.
pub(crate) fn require_store(dir: &Path) -> anyhow::Result<()> {
    if dir.join("run.json").is_file() {
        Ok(())
    } else {
        Err(UsageError(format!("{}: not a run store (no run.json)", dir.display())).into())
    }
}

/// Renders the report of `run` into `out`.
pub(crate) fn report(run: &Path, out: &Path, formats: Formats) -> anyhow::Result<Rendered> {
    render(run, out, formats).with_context(|| format!("rendering the report of {}", run.display()))
}

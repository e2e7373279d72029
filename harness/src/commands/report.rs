//! `atlasperf report RUN`: figures, Table I, diagnosis and an HTML/Markdown report.

use std::path::Path;

use anyhow::Context;
use atlasperf_reports::render::{render, Formats, Rendered};

use crate::cli::{ReportArgs, UsageError};

pub(crate) fn run(a: &ReportArgs) -> anyhow::Result<()> {
    let formats = Formats::parse(&a.format).map_err(|e| UsageError(e.to_string()))?;
    if !a.run.join("run.json").is_file() {
        return Err(UsageError(format!(
            "{}: not a run store (no run.json)",
            a.run.display()
        ))
        .into());
    }
    let out = a.out.clone().unwrap_or_else(|| a.run.join("report"));
    let r = report(&a.run, &out, formats)?;
    for f in &r.files {
        println!("{}", f.display());
    }
    eprintln!("report: {} files in {}", r.files.len(), out.display());
    Ok(())
}

/// Renders the report of `run` into `out`.
pub(crate) fn report(run: &Path, out: &Path, formats: Formats) -> anyhow::Result<Rendered> {
    render(run, out, formats).with_context(|| format!("rendering the report of {}", run.display()))
}

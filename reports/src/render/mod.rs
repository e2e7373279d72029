//! A whole report of one run: figures, Table I, the per-job table, the sampler's overhead,
//! segmentation Dice when ground truth exists, the diagnosis; as files (PNG, SVG, Markdown,
//! CSV) and one self-contained HTML page (figures inline as SVG, no network).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::diagnosis::{diagnose, markdown as diagnosis_md};
use crate::figures::{stage_figures, write as write_figure};
use crate::run::RunData;
use crate::table::{self, bytes, duration, table_one};
use crate::{ReportError, Result};

mod header;
mod html;

use header::full_header;
use html::Html;

/// Which outputs to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// Figures as PNG.
    pub png: bool,
    /// Figures as SVG.
    pub svg: bool,
    /// The self-contained HTML report.
    pub html: bool,
    /// Markdown (summary and Table I).
    pub md: bool,
    /// CSV tables.
    pub csv: bool,
}

impl Formats {
    /// Everything.
    pub const ALL: Formats = Formats {
        png: true,
        svg: true,
        html: true,
        md: true,
        csv: true,
    };

    /// Parses `png,svg,html,md,csv`.
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(list: &str) -> Result<Self> {
        let mut f = Formats {
            png: false,
            svg: false,
            html: false,
            md: false,
            csv: false,
        };
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "png" => f.png = true,
                "svg" => f.svg = true,
                "html" => f.html = true,
                "md" => f.md = true,
                "csv" => f.csv = true,
                other => {
                    return Err(ReportError::Input(format!(
                        "unknown format `{other}` (known: png, svg, html, md, csv)"
                    )))
                }
            }
        }
        Ok(f)
    }
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// Every file written.
    pub files: Vec<PathBuf>,
    /// The Markdown summary (also written as `summary.md` when Markdown is asked for).
    pub summary: String,
}

/// Writes `text` to `path` and records it in `files`.
/// Never through a symlink or into a non-regular file.
pub(crate) fn write(path: PathBuf, text: &str, files: &mut Vec<PathBuf>) -> Result<()> {
    atlasperf_store::fsio::write_atomic(&path, text.as_bytes())?;
    files.push(path);
    Ok(())
}

/// Mean Dice of each fused segmentation, from the fusion jobs' logs (`--truth` prints it).
pub fn fusion_dice(run: &RunData) -> Vec<(String, f64)> {
    crate::folds::job_lines(run, "mean Dice")
        .into_iter()
        .filter(|(stage, _, _)| stage == "fusion")
        .filter_map(|(_, job, rest)| Some((job, rest.split_whitespace().last()?.parse().ok()?)))
        .collect()
}

/// Per-job table rows (Markdown).
fn jobs_markdown(run: &RunData) -> String {
    let mut s = String::from(
        "| attempt | stage | node | status | start | wall | CPU | peak RSS | read (syscall) | written (syscall) | agent CPU |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for a in &run.attempts {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} s | {} | {:.1} s | {} | {} | {} | {:.3} s |",
            a.attempt_id,
            a.stage,
            a.node,
            if a.status == "oom_killed" {
                "**oom_killed**".to_string()
            } else {
                a.status.clone()
            },
            a.start_s,
            duration(a.wall_s),
            a.cpu_s,
            bytes(a.peak_rss),
            bytes(a.rchar),
            bytes(a.wchar),
            a.agent_cpu_s
        );
    }
    s
}

fn overhead(run: &RunData) -> String {
    let ran: Vec<_> = run.attempts.iter().filter(|a| a.samples > 0.0).collect();
    if ran.is_empty() {
        return "No samples were taken.".into();
    }
    let agent: f64 = ran.iter().map(|a| a.agent_cpu_s).sum();
    let wall: f64 = ran.iter().map(|a| a.wall_s).sum();
    let samples: f64 = ran.iter().map(|a| a.samples).sum();
    let p99 = ran.iter().map(|a| a.late_p99_ms).fold(0.0, f64::max);
    let p50 = {
        let mut v: Vec<f64> = ran.iter().map(|a| a.late_p50_ms).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    format!(
        "The sampling agents took {samples:.0} samples and used {agent:.3} s of CPU over {} of supervised job time ({:.3} % of a core); tick lateness: median of the jobs' p50 {p50:.2} ms, worst p99 {p99:.2} ms.",
        duration(wall),
        100.0 * agent / wall.max(1e-9)
    )
}

/// Renders the report of the run in `run_dir` into `out`.
///
/// # Errors
/// An unreadable run store or an unwritable output folder.
pub fn render(run_dir: &Path, out: &Path, formats: Formats) -> Result<Rendered> {
    let runs = crate::group::load(run_dir)?;
    let rep = crate::group::representative(&runs);
    let run = &runs[rep.min(runs.len() - 1)];
    atlasperf_store::fsio::ensure_dir(out)?;
    let mut files = Vec::new();
    let rows = table_one(run);
    let mut diags = diagnose(run);
    let over = GroupSection::of(&runs, rep, &mut diags);
    let figures = stage_figures(run);
    let mut figure_files = Vec::new();
    for (name, _, fig) in &figures {
        let written = write_figure(fig, &out.join(name), formats.png, formats.svg)?;
        figure_files.extend(written.iter().cloned());
        files.extend(written);
    }
    let info = &run.info;
    let name = info.scenario_name.clone();
    let header = full_header(run, &over.header);
    let dice_md = accuracy_md(run);
    let forecast = forecast_md(run);
    // Reads every registration job's log: once per report.
    let folds_md = crate::folds::markdown(run);
    let conditions_md = crate::conditions::markdown(info);
    let accounting_md = crate::accounting::markdown(run);
    let mut summary = format!(
        "## atlasperf report: {name}\n\n{header}\n\n### Table I\n\n{}{}\n### Diagnosis\n\n{}{forecast}{dice_md}{conditions_md}{accounting_md}\n### Sampler overhead\n\n{}\n",
        table::markdown(&rows),
        over.markdown,
        diagnosis_md(run, &diags) + &folds_md,
        overhead(run)
    );
    if !figure_files.is_empty() {
        summary.push_str("\n### Figures\n\n");
        for f in figure_files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "png"))
        {
            if let Some(n) = f.file_name() {
                let n = n.to_string_lossy();
                let _ = writeln!(summary, "![{n}]({n})");
            }
        }
    }
    if formats.md {
        write(out.join("summary.md"), &summary, &mut files)?;
        write(out.join("table1.md"), &table::markdown(&rows), &mut files)?;
        write(out.join("jobs.md"), &jobs_markdown(run), &mut files)?;
        if !over.markdown.is_empty() {
            write(out.join("table1-group.md"), &over.table_md, &mut files)?;
        }
    }
    if formats.csv {
        write(out.join("table1.csv"), &table::csv(&rows), &mut files)?;
        if !over.csv.is_empty() {
            write(out.join("table1-group.csv"), &over.csv, &mut files)?;
        }
    }
    if formats.html {
        write(out.join("table1.html"), &table::html(&rows), &mut files)?;
        let diagnosis = format!(
            "{}{}\n{forecast}\n{dice_md}\n{accounting_md}",
            diagnosis_md(run, &diags),
            folds_md
        );
        let sections = Html {
            header: &header,
            rows: &rows,
            group: &over.markdown,
            diagnosis: &diagnosis,
            conditions: &conditions_md,
        };
        let html = sections.page(run, &figures, out)?;
        write(out.join("report.html"), &html, &mut files)?;
    }
    Ok(Rendered { files, summary })
}

/// The segmentation accuracy section: mean Dice of the fused segmentations against the
/// targets' labels, saying what those labels are; empty when no fusion scored.
fn accuracy_md(run: &RunData) -> String {
    let dice = fusion_dice(run);
    if dice.is_empty() {
        return String::new();
    }
    let mean = dice.iter().map(|d| d.1).sum::<f64>() / dice.len() as f64;
    // Only a phantom's labels are ground truth; a manifest's are somebody's reference.
    let scenario = &run.info.scenario;
    let reference = match scenario
        .pointer("/dataset/manifest")
        .and_then(|v| v.as_str())
    {
        Some(m) => format!("the reference labels of the dataset manifest `{m}`"),
        None if scenario.pointer("/dataset/phantom").is_some() => {
            "the phantom's ground truth (the generated anatomy's exact labels)".to_string()
        }
        None => "the targets' reference labels".to_string(),
    };
    format!(
        "\n### Segmentation accuracy\n\nMean Dice of the fused segmentations against {reference}: {mean:.4} ({}).\n",
        dice.iter().map(|(j, d)| format!("{j} {d:.4}")).collect::<Vec<_>>().join(", ")
    )
}

/// What a group of repetitions adds to the report of its representative run.
#[derive(Debug, Default)]
struct GroupSection {
    /// A sentence for the header.
    header: String,
    /// The section under Table I.
    markdown: String,
    /// Table I over the group alone.
    table_md: String,
    /// Table I over the group as CSV.
    csv: String,
}

impl GroupSection {
    /// For more than one run: Table I over them, and the diagnosis' "N jobs fit" judged by the
    /// upper bound of each stage's largest peak.
    fn of(runs: &[RunData], rep: usize, diags: &mut [crate::diagnosis::StageDiagnosis]) -> Self {
        if runs.len() < 2 {
            return Self::default();
        }
        let boot = atlasperf_store::stats::Bootstrap::default();
        let rows = crate::group::table_over(runs, &boot);
        let names = crate::group::quantity_names();
        let max_peak = names.iter().position(|n| *n == "max peak RSS");
        for d in diags.iter_mut() {
            let bound = rows
                .iter()
                .find(|r| r.stage == d.stage)
                .and_then(|r| r.values.get(max_peak?))
                .map(|e| e.hi);
            if let Some(hi) = bound {
                d.fit_by(
                    hi,
                    format!(
                        "the upper 95 % bound of the largest peak over {} runs",
                        runs.len()
                    ),
                    &runs[rep],
                );
            }
        }
        let table_md = crate::group::markdown(&rows);
        let member = runs[rep]
            .dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        Self {
            header: format!(
                ". A group of {} repetitions: figures, Table I and jobs show `{member}`, the run with the median makespan; Table I over all runs follows it",
                runs.len()
            ),
            markdown: format!(
                "\n#### Table I over {} repetitions (median [95 % bootstrap interval])\n\n{table_md}",
                runs.len()
            ),
            table_md,
            csv: crate::group::csv(&rows),
        }
    }
}

fn forecast_md(run: &RunData) -> String {
    let mut s = String::new();
    for (stage, f) in &run.info.notes.memory_forecast {
        if let (Some(fc), Some(meas)) = (f.forecast_peak, f.measured_max_peak) {
            let (fc, meas) = (fc as f64, meas as f64);
            let _ = writeln!(
                s,
                "- Memory forecast for {} ({}): {} per job; measured peak {} ({:+.1} %).",
                table::stage_label(stage),
                f.source,
                bytes(fc),
                bytes(meas),
                100.0 * (fc / meas.max(1.0) - 1.0)
            );
        }
    }
    s
}

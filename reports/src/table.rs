//! Table I analog: per stage (Image Registration, Label Fusion) and in total — mean job time,
//! stage makespan, CPU-hours, peak memory per job, bytes read and written at both layers,
//! failures — computed from the `jobs` table.

use std::fmt::Write as _;

use crate::run::{Attempt, RunData};

/// One row of Table I.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRow {
    /// `registration`, `fusion` or `total`.
    pub stage: String,
    /// Jobs of the stage (distinct job ids).
    pub jobs: usize,
    /// Attempts (retries included).
    pub attempts: usize,
    /// Mean wall time of successful attempts, s.
    pub mean_s: f64,
    /// Sample standard deviation of the same, s (0 with fewer than two).
    pub sd_s: f64,
    /// First start to last end over the stage's attempts, s.
    pub makespan_s: f64,
    /// Σ CPU over all attempts, hours.
    pub cpu_hours: f64,
    /// Mean peak Σ RSS of successful attempts, bytes.
    pub mean_peak: f64,
    /// Largest peak Σ RSS of any attempt, bytes.
    pub max_peak: f64,
    /// Σ syscall bytes read.
    pub rchar: f64,
    /// Σ syscall bytes written.
    pub wchar: f64,
    /// Σ storage bytes read.
    pub read_bytes: f64,
    /// Σ storage bytes written.
    pub write_bytes: f64,
    /// Jobs that never succeeded (failed for good, skipped, or not run yet).
    pub failed: usize,
    /// Attempts killed by the OOM watchdog.
    pub oom_killed: usize,
}

/// How a quantity's values are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A duration.
    Seconds,
    /// CPU-hours.
    Hours,
    /// Bytes.
    Bytes,
}

/// The quantities of a stage that comparisons and repetitions judge, in table order, with
/// their units ([`StageRow::quantity`] gives each).
pub const QUANTITIES: [(&str, Unit); 7] = [
    ("mean job time", Unit::Seconds),
    ("stage makespan", Unit::Seconds),
    ("CPU-hours", Unit::Hours),
    ("mean peak RSS", Unit::Bytes),
    ("max peak RSS", Unit::Bytes),
    ("syscall read", Unit::Bytes),
    ("syscall written", Unit::Bytes),
];

impl StageRow {
    /// Quantity `i` of [`QUANTITIES`] (seconds, hours or bytes).
    pub fn quantity(&self, i: usize) -> f64 {
        [
            self.mean_s,
            self.makespan_s,
            self.cpu_hours,
            self.mean_peak,
            self.max_peak,
            self.rchar,
            self.wchar,
        ][i.min(6)]
    }
}

/// A value of a quantity in its unit, as the tables print it.
pub fn show(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds => duration(v),
        Unit::Hours => format!("{v:.4} h"),
        Unit::Bytes => bytes(v),
    }
}

/// Row label as in the paper.
pub fn stage_label(stage: &str) -> String {
    match stage {
        "registration" => "Image Registration".into(),
        "fusion" => "Label Fusion".into(),
        "total" => "Total".into(),
        other => other.to_string(),
    }
}

fn row(stage: &str, atts: &[&Attempt]) -> StageRow {
    let ran: Vec<&&Attempt> = atts.iter().filter(|a| a.status != "skipped").collect();
    let ok: Vec<&&Attempt> = ran.iter().copied().filter(|a| a.status == "ok").collect();
    let n = ok.len() as f64;
    let mean = if ok.is_empty() {
        0.0
    } else {
        ok.iter().map(|a| a.wall_s).sum::<f64>() / n
    };
    let sd = if ok.len() < 2 {
        0.0
    } else {
        (ok.iter().map(|a| (a.wall_s - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    let start = ran.iter().map(|a| a.start_s).fold(f64::INFINITY, f64::min);
    let end = ran
        .iter()
        .map(|a| a.end_s)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut job_ids: Vec<&str> = atts.iter().map(|a| a.job_id.as_str()).collect();
    job_ids.sort_unstable();
    job_ids.dedup();
    let failed = job_ids
        .iter()
        .filter(|id| !ok.iter().any(|a| a.job_id == **id))
        .count();
    let sum = |f: &dyn Fn(&Attempt) -> f64| ran.iter().map(|a| f(a)).sum::<f64>();
    StageRow {
        stage: stage.to_string(),
        jobs: job_ids.len(),
        attempts: ran.len(),
        mean_s: mean,
        sd_s: sd,
        makespan_s: if ran.is_empty() { 0.0 } else { end - start },
        cpu_hours: sum(&|a| a.cpu_s) / 3600.0,
        mean_peak: if ok.is_empty() {
            0.0
        } else {
            ok.iter().map(|a| a.peak_rss).sum::<f64>() / n
        },
        max_peak: ran.iter().map(|a| a.peak_rss).fold(0.0, f64::max),
        rchar: sum(&|a| a.rchar),
        wchar: sum(&|a| a.wchar),
        read_bytes: sum(&|a| a.read_bytes),
        write_bytes: sum(&|a| a.write_bytes),
        failed,
        oom_killed: ran.iter().filter(|a| a.status == "oom_killed").count(),
    }
}

/// Table I: one row per stage present, then the total.
pub fn table_one(run: &RunData) -> Vec<StageRow> {
    let mut rows: Vec<StageRow> = run
        .stages()
        .iter()
        .map(|s| {
            let atts: Vec<&Attempt> = run.attempts.iter().filter(|a| &a.stage == s).collect();
            row(s, &atts)
        })
        .collect();
    let all: Vec<&Attempt> = run.attempts.iter().collect();
    rows.push(row("total", &all));
    rows
}

/// Seconds in the unit that reads best.
pub fn duration(s: f64) -> String {
    if !s.is_finite() {
        "–".into()
    } else if s >= 7200.0 {
        format!("{:.2} h", s / 3600.0)
    } else if s >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// Bytes in binary units.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

const HEADERS: [&str; 9] = [
    "Stage",
    "Jobs (attempts)",
    "Mean job time ± sd",
    "Stage makespan",
    "CPU-hours",
    "Peak RSS per job, mean / max",
    "Read: syscall / storage",
    "Written: syscall / storage",
    "Failed jobs / OOM-killed attempts",
];

fn cells(r: &StageRow) -> [String; 9] {
    [
        stage_label(&r.stage),
        format!("{} ({})", r.jobs, r.attempts),
        format!("{} ± {}", duration(r.mean_s), duration(r.sd_s)),
        duration(r.makespan_s),
        format!("{:.4}", r.cpu_hours),
        format!("{} / {}", bytes(r.mean_peak), bytes(r.max_peak)),
        format!("{} / {}", bytes(r.rchar), bytes(r.read_bytes)),
        format!("{} / {}", bytes(r.wchar), bytes(r.write_bytes)),
        format!("{} / {}", r.failed, r.oom_killed),
    ]
}

/// Markdown table.
pub fn markdown(rows: &[StageRow]) -> String {
    let mut s = format!(
        "| {} |\n|{}\n",
        HEADERS.join(" | "),
        "---|".repeat(HEADERS.len())
    );
    for r in rows {
        let _ = writeln!(s, "| {} |", cells(r).join(" | "));
    }
    s
}

/// CSV with raw numbers (seconds, hours, bytes).
pub fn csv(rows: &[StageRow]) -> String {
    let mut s = String::from(
        "stage,jobs,attempts,mean_job_s,sd_job_s,makespan_s,cpu_hours,mean_peak_rss_bytes,max_peak_rss_bytes,rchar_bytes,wchar_bytes,read_bytes,write_bytes,failed_jobs,oom_killed_attempts\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{:.3},{:.3},{:.3},{:.6},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{},{}",
            r.stage,
            r.jobs,
            r.attempts,
            r.mean_s,
            r.sd_s,
            r.makespan_s,
            r.cpu_hours,
            r.mean_peak,
            r.max_peak,
            r.rchar,
            r.wchar,
            r.read_bytes,
            r.write_bytes,
            r.failed,
            r.oom_killed
        );
    }
    s
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// HTML table.
pub fn html(rows: &[StageRow]) -> String {
    let mut s = String::from("<table>\n<tr>");
    for h in HEADERS {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>\n");
    for r in rows {
        s.push_str("<tr>");
        for c in cells(r) {
            let _ = write!(s, "<td>{}</td>", esc(&c));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}

//! Two runs, or two groups of repeated runs, side by side: per stage and quantity the ratio
//! B / A with a 95 % confidence interval and a verdict — higher, lower, or within the noise —
//! and a regression gate for CI that fails only when a whole interval lies above its bound.
//!
//! Every pairing the data allow is used: a job id present in every run of both groups is a
//! pair (its value in B against its value in A), and repetitions add runs; the interval comes
//! from [`atlasperf_store::stats::paired_ratio`], which resamples runs and jobs. Quantities
//! with one value per run (a stage's makespan, its largest peak) are resampled over runs. With
//! one run per side the machine's drift between runs is not in the data: the Markdown says so.

use std::collections::BTreeMap;

use atlasperf_store::stats::{
    self, matched_ratio, paired_ratio, run_ratio, Bootstrap, Estimate, Verdict,
};

use crate::render::fusion_dice;
use crate::run::{Attempt, RunData};
use crate::table::{self, show, stage_label, StageRow, Unit};

mod markdown;

pub use markdown::markdown;
use markdown::ratio_text;

/// Where a quantity's pairs come from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Per job: its value in each run (paired across runs by job id).
    Job(fn(&[&Attempt]) -> f64),
    /// Per run only.
    Run,
}

/// The per-stage quantities compared, in table order. For every one of them growth is a
/// regression: more time, CPU, memory or I/O.
const METRICS: [(&str, Unit, Source); 7] = [
    ("mean job time", Unit::Seconds, Source::Job(ok_wall)),
    ("stage makespan", Unit::Seconds, Source::Run),
    ("CPU-hours", Unit::Hours, Source::Job(cpu_hours)),
    ("mean peak RSS", Unit::Bytes, Source::Job(ok_peak)),
    ("max peak RSS", Unit::Bytes, Source::Run),
    ("syscall read", Unit::Bytes, Source::Job(rchar)),
    ("syscall written", Unit::Bytes, Source::Job(wchar)),
];

/// The job's successful attempt (the last one that succeeded).
fn ok_attempt<'a>(atts: &[&'a Attempt]) -> Option<&'a Attempt> {
    atts.iter().rev().copied().find(|a| a.status == "ok")
}
fn ok_wall(atts: &[&Attempt]) -> f64 {
    ok_attempt(atts).map_or(f64::NAN, |a| a.wall_s)
}
fn ok_peak(atts: &[&Attempt]) -> f64 {
    ok_attempt(atts).map_or(f64::NAN, |a| a.peak_rss)
}
fn cpu_hours(atts: &[&Attempt]) -> f64 {
    atts.iter().map(|a| a.cpu_s).sum::<f64>() / 3600.0
}
fn rchar(atts: &[&Attempt]) -> f64 {
    atts.iter().map(|a| a.rchar).sum()
}
fn wchar(atts: &[&Attempt]) -> f64 {
    atts.iter().map(|a| a.wchar).sum()
}

fn per_run(r: &StageRow, metric: &str) -> f64 {
    let i = table::QUANTITIES.iter().position(|(n, _)| *n == metric);
    i.map_or(0.0, |i| r.quantity(i))
}

/// How the comparison decides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// A ratio whose interval stays within `1 ± noise` is "within noise" (criterion's noise
    /// threshold).
    pub noise: f64,
    /// The bootstrap's draws.
    pub bootstrap: Bootstrap,
    /// The k-th runs of A and B ran at the same time (`run --side-by-side`): each quantity's
    /// interval is then Student's t over the K per-pair ratios
    /// ([`atlasperf_store::stats::matched_ratio`]), in which the machine's speed of the
    /// moment cancels.
    pub matched: bool,
}

/// The run-to-run coefficient of variation of time and CPU assumed when each side holds one
/// run, which one run cannot show. Measured on this project's 2-core machines (docs/noise.md):
/// the standard deviation of the log of a run's mean registration CPU was 0.098 over 21
/// consecutive quick runs on 2026-12-03 and 0.094 on 2026-12-02, 0.078 between neighbours.
/// Memory and I/O do not drift so (their intervals get none).
pub const DRIFT_PRIOR: f64 = 0.09;

impl Default for Options {
    fn default() -> Self {
        Self {
            noise: 0.02,
            bootstrap: Bootstrap {
                drift_prior: DRIFT_PRIOR,
                ..Bootstrap::default()
            },
            matched: false,
        }
    }
}

/// One compared quantity of one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Stage (`registration`, `fusion`, `total`, …).
    pub stage: String,
    /// Quantity, e.g. "mean job time".
    pub metric: &'static str,
    /// Median over group A's runs.
    pub a: f64,
    /// Median over group B's runs.
    pub b: f64,
    /// B / A with its interval; `None` when A is zero.
    pub ratio: Option<Estimate>,
    /// True when the interval comes from the stage's paired job times because each group
    /// holds one run (a makespan has one value per run).
    pub borrowed: bool,
    /// The reading of the interval.
    pub verdict: Verdict,
}

/// Two groups of runs compared.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Table I of A's first run.
    pub a: Vec<StageRow>,
    /// Table I of B's first run.
    pub b: Vec<StageRow>,
    /// Runs in A and in B.
    pub runs: (usize, usize),
    /// Every quantity of every stage present in both.
    pub changes: Vec<Change>,
    /// Stages present in only one group: (stage, "A" or "B").
    pub unmatched: Vec<(String, &'static str)>,
    /// Mean Dice of the fused segmentations, when the runs have ground truth.
    pub dice: (Option<f64>, Option<f64>),
    /// The most foreign CPU any run of A and of B saw, cores (none without sensors).
    pub foreign: (Option<f64>, Option<f64>),
    /// The options the verdicts were reached with.
    pub options: Options,
}

fn mean_dice(run: &RunData) -> Option<f64> {
    let d = fusion_dice(run);
    (!d.is_empty()).then(|| d.iter().map(|(_, v)| v).sum::<f64>() / d.len() as f64)
}

/// A stage's attempts per job id in one run.
type JobsOf<'a> = BTreeMap<&'a str, Vec<&'a Attempt>>;

/// A stage's attempts per job id in one run (`total`: every stage).
fn jobs_of<'a>(run: &'a RunData, stage: &str) -> JobsOf<'a> {
    let mut m: BTreeMap<&str, Vec<&Attempt>> = BTreeMap::new();
    for a in run
        .attempts
        .iter()
        .filter(|a| a.status != "skipped" && (stage == "total" || a.stage == stage))
    {
        m.entry(a.job_id.as_str()).or_default().push(a);
    }
    m
}

/// A group's values of one quantity: `[run][job]`.
type Matrix = Vec<Vec<f64>>;

/// The `runs × jobs` matrices of a per-job quantity over the jobs that succeeded in every run
/// of both groups; `None` when no job did.
fn paired(
    ja: &[JobsOf<'_>],
    jb: &[JobsOf<'_>],
    f: fn(&[&Attempt]) -> f64,
) -> Option<(Matrix, Matrix)> {
    let first = ja.first()?;
    let ids: Vec<&str> = first
        .keys()
        .copied()
        .filter(|id| {
            ja.iter()
                .chain(jb)
                .all(|m| m.get(id).is_some_and(|atts| ok_attempt(atts).is_some()))
        })
        .collect();
    if ids.is_empty() {
        return None;
    }
    let matrix = |g: &[JobsOf<'_>]| -> Matrix {
        g.iter()
            .map(|m| {
                ids.iter()
                    .map(|id| m.get(id).map_or(f64::NAN, |v| f(v)))
                    .collect()
            })
            .collect()
    };
    Some((matrix(ja), matrix(jb)))
}

/// One stage's row of each run's Table I.
fn stage_rows(tables: &[Vec<StageRow>], stage: &str) -> Vec<StageRow> {
    tables
        .iter()
        .filter_map(|t| t.iter().find(|row| row.stage == stage).cloned())
        .collect()
}

fn foreign_max(g: &[RunData]) -> Option<f64> {
    g.iter()
        .filter_map(|r| r.info.conditions.as_ref()?.foreign_cpu_cores_mean)
        .reduce(f64::max)
}

/// Compares group B against group A (a single run is a group of one).
pub fn compare(a: &[RunData], b: &[RunData], opts: &Options) -> Comparison {
    let tables_a: Vec<Vec<StageRow>> = a.iter().map(table::table_one).collect();
    let tables_b: Vec<Vec<StageRow>> = b.iter().map(table::table_one).collect();
    let ta = tables_a.first().cloned().unwrap_or_default();
    let tb = tables_b.first().cloned().unwrap_or_default();
    let mut changes = Vec::new();
    let mut unmatched = Vec::new();
    let single = a.len() < 2 && b.len() < 2;
    for ra in &ta {
        if !tb.iter().any(|r| r.stage == ra.stage) {
            unmatched.push((ra.stage.clone(), "A"));
            continue;
        }
        let (rows_a, rows_b) = (
            stage_rows(&tables_a, &ra.stage),
            stage_rows(&tables_b, &ra.stage),
        );
        let ja: Vec<JobsOf<'_>> = a.iter().map(|r| jobs_of(r, &ra.stage)).collect();
        let jb: Vec<JobsOf<'_>> = b.iter().map(|r| jobs_of(r, &ra.stage)).collect();
        let mut wall: Option<Estimate> = None;
        for (metric, unit, source) in METRICS {
            let va: Vec<f64> = rows_a.iter().map(|r| per_run(r, metric)).collect();
            let vb: Vec<f64> = rows_b.iter().map(|r| per_run(r, metric)).collect();
            let pairs = match source {
                Source::Job(f) => paired(&ja, &jb, f),
                Source::Run => None,
            };
            // Whole runs drift in time and CPU, not in bytes.
            let boot = Bootstrap {
                drift_prior: match unit {
                    Unit::Bytes => 0.0,
                    Unit::Seconds | Unit::Hours => opts.bootstrap.drift_prior,
                },
                ..opts.bootstrap
            };
            let matched = if opts.matched {
                matched_ratio(&va, &vb)
            } else {
                None
            };
            let mut ratio = match (matched, pairs) {
                (Some(m), _) => Some(m),
                (None, Some((ma, mb))) => paired_ratio(&ma, &mb, &boot),
                (None, None) => run_ratio(&va, &vb),
            };
            if metric == "mean job time" {
                wall = ratio;
            }
            // One value per run on each side: the makespan moves with its jobs' times, so it
            // borrows their relative interval rather than claim none.
            let mut borrowed = false;
            if let (Some(r), Some(w), true) = (ratio.as_mut(), wall, single) {
                if r.spread_unknown() && metric == "stage makespan" && w.resampled && w.value > 0.0
                {
                    r.lo = r.value * w.lo / w.value;
                    r.hi = r.value * w.hi / w.value;
                    r.resampled = true;
                    borrowed = true;
                }
            }
            let verdict = ratio.map_or(Verdict::WithinNoise, |r| r.verdict(opts.noise));
            let med = |v: &[f64]| stats::median(v).unwrap_or(0.0);
            let (ma, mb) = (med(&va), med(&vb));
            let verdict = if ratio.is_none() && mb > 0.0 {
                Verdict::Higher
            } else {
                verdict
            };
            changes.push(Change {
                stage: ra.stage.clone(),
                metric,
                a: ma,
                b: mb,
                ratio,
                borrowed,
                verdict,
            });
        }
    }
    for rb in &tb {
        if !ta.iter().any(|r| r.stage == rb.stage) {
            unmatched.push((rb.stage.clone(), "B"));
        }
    }
    Comparison {
        a: ta,
        b: tb,
        runs: (a.len(), b.len()),
        changes,
        unmatched,
        dice: (a.first().and_then(mean_dice), b.first().and_then(mean_dice)),
        foreign: (foreign_max(a), foreign_max(b)),
        options: *opts,
    }
}

/// The quantities of time on the clock: a job's wall time and a stage's makespan depend on
/// where the scheduler's races put each job (on the shipped scenarios a fusion that lands
/// beside a registration takes 1.8 s, alone 1.0 s), so with few runs a flip of placement looks
/// like a change. The gate leaves them out unless asked ([`Gate::with_time`]).
pub const TIME_METRICS: [&str; 2] = ["mean job time", "stage makespan"];

/// What the regression gate judges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    /// The bound: a quantity fails when its whole interval lies above it.
    pub max_ratio: f64,
    /// Also judge wall time and makespan, not only the work (CPU), memory and I/O.
    pub with_time: bool,
}

/// The quantities the gate judges whose whole interval lies above the bound (a quantity that
/// grew from zero counts too), and stages where more jobs failed, as sentences naming the
/// stage, the quantity, both values and the interval.
pub fn regressions(c: &Comparison, gate: Gate) -> Vec<String> {
    let max_ratio = gate.max_ratio;
    c.changes
        .iter()
        .filter(|ch| gate.with_time || !TIME_METRICS.contains(&ch.metric))
        .filter(|ch| match ch.ratio {
            Some(r) => r.lo > max_ratio,
            None => ch.b > 0.0,
        })
        .map(|ch| {
            let unit = unit_of(ch.metric);
            format!(
                "{} {}: {} → {} ({})",
                stage_label(&ch.stage),
                ch.metric,
                show(ch.a, unit),
                show(ch.b, unit),
                ratio_text(ch.ratio)
            )
        })
        .chain(c.b.iter().filter_map(|rb| {
            let fa =
                c.a.iter()
                    .find(|r| r.stage == rb.stage)
                    .map_or(0, |r| r.failed);
            (rb.failed > fa).then(|| {
                format!(
                    "{} failed jobs: {fa} → {}",
                    stage_label(&rb.stage),
                    rb.failed
                )
            })
        }))
        .collect()
}

pub(crate) fn unit_of(metric: &str) -> Unit {
    METRICS
        .iter()
        .find(|(n, _, _)| *n == metric)
        .map_or(Unit::Seconds, |(_, u, _)| *u)
}

//! Two runs side by side: both Table I, then per stage what changed and by how much (B / A),
//! and a regression check for CI (any ratio above a bound).

use std::fmt::Write as _;

use crate::render::fusion_dice;
use crate::run::RunData;
use crate::table::{self, bytes, duration, stage_label, StageRow};

/// How a metric's values are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Hours,
    Bytes,
}

/// The per-stage quantities compared, in table order, with their units. For every one of them
/// growth is a regression: more time, CPU, memory or I/O.
const METRICS: [(&str, Unit); 7] = [
    ("mean job time", Unit::Seconds),
    ("stage makespan", Unit::Seconds),
    ("CPU-hours", Unit::Hours),
    ("mean peak RSS", Unit::Bytes),
    ("max peak RSS", Unit::Bytes),
    ("syscall read", Unit::Bytes),
    ("syscall written", Unit::Bytes),
];

fn values(r: &StageRow) -> [f64; 7] {
    [
        r.mean_s,
        r.makespan_s,
        r.cpu_hours,
        r.mean_peak,
        r.max_peak,
        r.rchar,
        r.wchar,
    ]
}

fn show(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds => duration(v),
        Unit::Hours => format!("{v:.4} h"),
        Unit::Bytes => bytes(v),
    }
}

/// One compared quantity of one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Stage (`registration`, `fusion`, `total`, …).
    pub stage: String,
    /// Quantity, e.g. "mean job time".
    pub metric: &'static str,
    /// Value in run A.
    pub a: f64,
    /// Value in run B.
    pub b: f64,
    /// B / A; `None` when A is zero.
    pub ratio: Option<f64>,
}

/// Two runs compared.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Table I of run A.
    pub a: Vec<StageRow>,
    /// Table I of run B.
    pub b: Vec<StageRow>,
    /// Every quantity of every stage present in both runs.
    pub changes: Vec<Change>,
    /// Stages present in only one run: (stage, "A" or "B").
    pub unmatched: Vec<(String, &'static str)>,
    /// Mean Dice of the fused segmentations, when the runs have ground truth.
    pub dice: (Option<f64>, Option<f64>),
}

fn mean_dice(run: &RunData) -> Option<f64> {
    let d = fusion_dice(run);
    (!d.is_empty()).then(|| d.iter().map(|(_, v)| v).sum::<f64>() / d.len() as f64)
}

/// Compares run B against run A.
pub fn compare(a: &RunData, b: &RunData) -> Comparison {
    let ta = table::table_one(a);
    let tb = table::table_one(b);
    let mut changes = Vec::new();
    let mut unmatched = Vec::new();
    for ra in &ta {
        let Some(rb) = tb.iter().find(|r| r.stage == ra.stage) else {
            unmatched.push((ra.stage.clone(), "A"));
            continue;
        };
        for ((name, _), (va, vb)) in METRICS.iter().zip(values(ra).into_iter().zip(values(rb))) {
            changes.push(Change {
                stage: ra.stage.clone(),
                metric: name,
                a: va,
                b: vb,
                ratio: (va > 0.0).then(|| vb / va),
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
        changes,
        unmatched,
        dice: (mean_dice(a), mean_dice(b)),
    }
}

/// The changes whose ratio exceeds `max_ratio` (a quantity that grew from zero counts too),
/// as sentences naming the stage, the quantity and both values.
pub fn regressions(c: &Comparison, max_ratio: f64) -> Vec<String> {
    c.changes
        .iter()
        .filter(|ch| match ch.ratio {
            Some(r) => r > max_ratio,
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

fn unit_of(metric: &str) -> Unit {
    METRICS
        .iter()
        .find(|(n, _)| *n == metric)
        .map_or(Unit::Seconds, |(_, u)| *u)
}

fn ratio_text(r: Option<f64>) -> String {
    match r {
        Some(r) => format!("{r:.2}×"),
        None => "new".into(),
    }
}

/// The comparison as Markdown: per-stage ratios first (what a reviewer wants), then both
/// Table I.
pub fn markdown(c: &Comparison, name_a: &str, name_b: &str) -> String {
    let mut s = format!("## Comparison\n\nA = `{name_a}`, B = `{name_b}`; ratios are B / A.\n\n");
    let stages: Vec<&str> =
        c.a.iter()
            .map(|r| r.stage.as_str())
            .filter(|st| c.changes.iter().any(|ch| ch.stage == *st))
            .collect();
    s.push_str("| Quantity |");
    for st in &stages {
        let _ = write!(s, " {} A | B | B / A |", stage_label(st));
    }
    s.push_str("\n|---|");
    s.push_str(&"---|---|---|".repeat(stages.len()));
    s.push('\n');
    for (name, unit) in METRICS {
        let _ = write!(s, "| {name} |");
        for st in &stages {
            if let Some(ch) = c
                .changes
                .iter()
                .find(|ch| ch.stage == *st && ch.metric == name)
            {
                let _ = write!(
                    s,
                    " {} | {} | {} |",
                    show(ch.a, unit),
                    show(ch.b, unit),
                    ratio_text(ch.ratio)
                );
            }
        }
        s.push('\n');
    }
    let _ = write!(s, "| failed jobs / OOM-killed attempts |");
    for st in &stages {
        let ra = c.a.iter().find(|r| r.stage == *st);
        let rb = c.b.iter().find(|r| r.stage == *st);
        if let (Some(ra), Some(rb)) = (ra, rb) {
            let _ = write!(
                s,
                " {} / {} | {} / {} | |",
                ra.failed, ra.oom_killed, rb.failed, rb.oom_killed
            );
        }
    }
    s.push('\n');
    for (stage, only) in &c.unmatched {
        let _ = writeln!(s, "\n{} ran only in run {only}.", stage_label(stage));
    }
    match c.dice {
        (Some(a), Some(b)) => {
            let _ = writeln!(
                s,
                "\nMean Dice of the fused segmentations: A {a:.4}, B {b:.4} (B − A = {:+.4}).",
                b - a
            );
        }
        (Some(a), None) => {
            let _ = writeln!(s, "\nMean Dice: A {a:.4}; B has no ground truth.");
        }
        (None, Some(b)) => {
            let _ = writeln!(s, "\nMean Dice: B {b:.4}; A has no ground truth.");
        }
        (None, None) => {}
    }
    let _ = write!(
        s,
        "\n### Table I — A\n\n{}\n### Table I — B\n\n{}",
        table::markdown(&c.a),
        table::markdown(&c.b)
    );
    s
}

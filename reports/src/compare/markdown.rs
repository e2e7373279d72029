//! `compare`'s Markdown: how many runs stand behind the comparison and how they were paired,
//! per stage the ratios with their intervals and verdicts, then both Table I.

use std::fmt::Write as _;

use atlasperf_store::stats::{Estimate, Verdict};

use super::{unit_of, Change, Comparison};
use crate::table::{self, show, stage_label};

/// `1.13× [1.05, 1.21]`, or `new` for a quantity that grew from zero.
pub(crate) fn ratio_text(r: Option<Estimate>) -> String {
    match r {
        Some(r) if r.spread_unknown() => format!("{:.2}×", r.value),
        Some(r) => format!("{:.2}× [{:.2}, {:.2}]", r.value, r.lo, r.hi),
        None => "new".into(),
    }
}

fn verdict_text(ch: &Change) -> &'static str {
    match (ch.verdict, ch.ratio) {
        (_, Some(r)) if r.spread_unknown() && r.value == 1.0 => "no change",
        (_, Some(r)) if r.spread_unknown() => "one value each: no interval",
        (Verdict::Higher, _) => "**higher**",
        (Verdict::Lower, _) => "lower",
        (Verdict::WithinNoise, _) => "within noise",
    }
}

/// The comparison as Markdown: how many runs and pairs stand behind it, per stage the ratios
/// with their intervals and verdicts, then both Table I.
pub fn markdown(c: &Comparison, name_a: &str, name_b: &str) -> String {
    let (ka, kb) = c.runs;
    let mut s = format!(
        "## Comparison\n\nA = `{name_a}` ({ka} run{}), B = `{name_b}` ({kb} run{}); ratios are B / A with 95 % intervals; \"within noise\" means the interval overlaps 1 ± {:.0} %.\n",
        if ka == 1 { "" } else { "s" },
        if kb == 1 { "" } else { "s" },
        100.0 * c.options.noise
    );
    let side_by_side = c.options.matched && ka == kb && ka >= 2;
    if side_by_side {
        let _ = writeln!(
            s,
            "\nThe runs ran side by side, A's k-th beside B's k-th: each interval is Student's t over the {ka} pairs' ratios, in which the machine's speed of the moment cancels. Each run saw the other as foreign load, so absolute times are those of a shared machine; the ratios are what to read."
        );
    } else if ka < 2 && kb < 2 {
        s.push_str("\nOne run per side: the intervals hold the jobs' spread within a run, not the machine's drift between runs (whole runs drift by ±10 % or more on a shared machine). Repeat both (`atlasperf run --repeat 3 --interleave`) before trusting a change of that size.\n");
    }
    for (side, f) in [("A", c.foreign.0), ("B", c.foreign.1)]
        .into_iter()
        .filter(|_| !side_by_side)
    {
        if let Some(f) = f.filter(|f| *f >= crate::conditions::FOREIGN_WARN_CORES) {
            let _ = writeln!(
                s,
                "\nRun(s) {side} shared the machine: up to {f:.2} cores of CPU went to processes outside them; their times are inflated."
            );
        }
    }
    let stages: Vec<&str> =
        c.a.iter()
            .map(|r| r.stage.as_str())
            .filter(|st| c.changes.iter().any(|ch| ch.stage == *st))
            .collect();
    for st in &stages {
        let _ = write!(
            s,
            "\n### {}\n\n| Quantity | A | B | B / A [95 % CI] | Verdict |\n|---|---|---|---|---|\n",
            stage_label(st)
        );
        for ch in c.changes.iter().filter(|ch| ch.stage == *st) {
            let unit = unit_of(ch.metric);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {}{} | {} |",
                ch.metric,
                show(ch.a, unit),
                show(ch.b, unit),
                ratio_text(ch.ratio),
                if ch.borrowed { " ¹" } else { "" },
                verdict_text(ch)
            );
        }
        let ra = c.a.iter().find(|r| r.stage == *st);
        let rb = c.b.iter().find(|r| r.stage == *st);
        if let (Some(ra), Some(rb)) = (ra, rb) {
            let _ = writeln!(
                s,
                "| failed jobs / OOM-killed attempts | {} / {} | {} / {} | | |",
                ra.failed, ra.oom_killed, rb.failed, rb.oom_killed
            );
        }
    }
    if c.changes.iter().any(|ch| ch.borrowed) {
        s.push_str("\n¹ One makespan per side: its interval is the stage's paired job-time interval, scaled.\n");
    }
    let within: Vec<String> = c
        .changes
        .iter()
        .filter(|ch| {
            ch.verdict == Verdict::WithinNoise && ch.ratio.is_some_and(|r| !r.spread_unknown())
        })
        .map(|ch| format!("{} {}", stage_label(&ch.stage), ch.metric))
        .collect();
    if !within.is_empty() {
        let _ = writeln!(s, "\nWithin noise: {}.", within.join(", "));
    }
    for (stage, only) in &c.unmatched {
        let _ = writeln!(s, "\n{} ran only in {only}.", stage_label(stage));
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
        "\n### Table I — A (first run)\n\n{}\n### Table I — B (first run)\n\n{}",
        table::markdown(&c.a),
        table::markdown(&c.b)
    );
    s
}

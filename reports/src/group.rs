//! A group of repeated runs (`atlasperf run --repeat K`) read as one: Table I over the runs as
//! the median with a 95 % bootstrap interval per quantity, and the run that stands for the
//! group in figures (the one with the median makespan).

use std::fmt::Write as _;
use std::path::Path;

use atlasperf_store::stats::{median_ci, Bootstrap, Estimate};
use atlasperf_store::Group;

use crate::run::RunData;
use crate::table::{show, stage_label, table_one, StageRow, QUANTITIES};
use crate::Result;

/// Every run store a path names: a group's members in the order they ran, or the one run.
///
/// # Errors
/// A path that is neither a group nor a run store, or a member that cannot be read.
pub fn load(path: &Path) -> Result<Vec<RunData>> {
    Group::members(path)?
        .iter()
        .map(|d| RunData::load(d))
        .collect()
}

/// Index of the run whose total makespan is the median of the group's (the lower middle for
/// an even count).
pub fn representative(runs: &[RunData]) -> usize {
    let mut m: Vec<(f64, usize)> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let total = table_one(r)
                .into_iter()
                .find(|row| row.stage == "total")
                .map_or(0.0, |row| row.makespan_s);
            (total, i)
        })
        .collect();
    m.sort_by(|a, b| a.0.total_cmp(&b.0));
    m.get((m.len().max(1) - 1) / 2).map_or(0, |x| x.1)
}

/// One stage of Table I over a group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    /// Stage.
    pub stage: String,
    /// Runs the stage appears in.
    pub runs: usize,
    /// Per quantity (in [`quantity_names`] order): the median over runs and its interval.
    pub values: Vec<Estimate>,
}

/// Names of [`GroupRow::values`], in order.
pub fn quantity_names() -> [&'static str; 7] {
    QUANTITIES.map(|(n, _)| n)
}

/// Table I over a group: per stage of the first run, each quantity's median over the runs.
pub fn table_over(runs: &[RunData], boot: &Bootstrap) -> Vec<GroupRow> {
    let tables: Vec<Vec<StageRow>> = runs.iter().map(table_one).collect();
    let Some(first) = tables.first() else {
        return Vec::new();
    };
    first
        .iter()
        .map(|row| {
            let rows: Vec<&StageRow> = tables
                .iter()
                .filter_map(|t| t.iter().find(|r| r.stage == row.stage))
                .collect();
            let values = (0..QUANTITIES.len())
                .filter_map(|i| {
                    let v: Vec<f64> = rows.iter().map(|r| r.quantity(i)).collect();
                    median_ci(&v, boot)
                })
                .collect();
            GroupRow {
                stage: row.stage.clone(),
                runs: rows.len(),
                values,
            }
        })
        .collect()
}

/// Table I over a group as Markdown: `median [low, high]` per cell.
pub fn markdown(rows: &[GroupRow]) -> String {
    let mut s = String::from("| Stage | Runs |");
    for (n, _) in QUANTITIES {
        let _ = write!(s, " {n} |");
    }
    let _ = writeln!(s, "\n|{}", "---|".repeat(QUANTITIES.len() + 2));
    for r in rows {
        let _ = write!(s, "| {} | {} |", stage_label(&r.stage), r.runs);
        for (e, (_, u)) in r.values.iter().zip(QUANTITIES) {
            if e.spread_unknown() {
                let _ = write!(s, " {} |", show(e.value, u));
            } else {
                let _ = write!(
                    s,
                    " {} [{}, {}] |",
                    show(e.value, u),
                    show(e.lo, u),
                    show(e.hi, u)
                );
            }
        }
        s.push('\n');
    }
    s
}

/// Table I over a group as CSV: per stage and quantity the median and its interval.
pub fn csv(rows: &[GroupRow]) -> String {
    let mut s = String::from("stage,runs,quantity,median,ci_low,ci_high\n");
    for r in rows {
        for (e, n) in r.values.iter().zip(quantity_names()) {
            let _ = writeln!(
                s,
                "{},{},{n},{},{},{}",
                r.stage, r.runs, e.value, e.lo, e.hi
            );
        }
    }
    s
}

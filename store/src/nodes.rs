//! The node series — the one node aggregation every reader uses: on a grid of the sampling
//! period over the run clock, each node's value is the sum over its running attempts of their
//! latest sample (cumulative I/O counters of finished attempts carry their final totals
//! forward, so node counters never drop); rates are differences of the summed counters over
//! the grid step.

use std::collections::BTreeMap;

use crate::{JobRecord, NodeRow, RunInfo, SampleRow};

/// Every node's series (see the module docs), on the run clock.
pub fn nodes_of(info: &RunInfo, jobs: &[JobRecord], rows: &[SampleRow]) -> Vec<NodeRow> {
    let step = (info.interval_ms.max(1) as f64) / 1e3;
    let mut by_attempt: BTreeMap<&str, Vec<(f64, &SampleRow)>> = BTreeMap::new();
    for r in rows {
        by_attempt
            .entry(r.attempt_id.as_str())
            .or_default()
            .push((info.run_clock(r.unix), r));
    }
    for v in by_attempt.values_mut() {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let end = jobs.iter().map(|j| j.end_s).fold(0.0, f64::max);
    let mut names: Vec<&str> = jobs
        .iter()
        .map(|j| j.node.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let cores = info.node(name).map_or(1.0, |n| n.cores as f64);
        let attempts: Vec<(&JobRecord, &[(f64, &SampleRow)])> = jobs
            .iter()
            .filter(|j| j.node == name)
            .map(|j| {
                let s = by_attempt
                    .get(j.attempt_id.as_str())
                    .map_or(&[][..], Vec::as_slice);
                (j, s)
            })
            .collect();
        out.extend(node_series(name, cores, &attempts, step, end));
    }
    out
}

/// One node's series on a grid of `step` seconds from 0 to `end` on the run clock: each
/// attempt contributes its latest sample at or before a grid time while it runs
/// (`start_s ≤ t ≤ end_s`), and its final I/O totals after it ended. `samples` are each
/// attempt's rows with their run-clock times, sorted.
pub fn node_series(
    node: &str,
    cores: f64,
    attempts: &[(&JobRecord, &[(f64, &SampleRow)])],
    step: f64,
    end: f64,
) -> Vec<NodeRow> {
    let steps = (end / step).ceil().max(0.0) as usize + 1;
    let cores = cores.max(1.0);
    let mut cursor = vec![0usize; attempts.len()];
    let mut prev_io: Option<[u64; 4]> = None;
    let mut out = Vec::with_capacity(steps);
    for k in 0..steps {
        let t = k as f64 * step;
        let mut row = NodeRow {
            node: node.to_string(),
            t,
            ..NodeRow::default()
        };
        for (a, (j, series)) in attempts.iter().enumerate() {
            while cursor[a] < series.len() && series[cursor[a]].0 <= t + 1e-9 {
                cursor[a] += 1;
            }
            let latest = cursor[a].checked_sub(1).map(|i| series[i].1);
            if j.start_s <= t && t <= j.end_s {
                row.jobs_running += 1;
                if let Some(s) = latest {
                    row.cpu_node_pct += s.cpu_core_pct / cores;
                    row.rss += s.rss;
                    row.rss_anon += s.rss_anon;
                }
            }
            let counters = if t > j.end_s {
                let tt = &j.totals;
                [tt.rchar, tt.wchar, tt.read_bytes, tt.write_bytes]
            } else {
                latest.map_or([0; 4], |s| [s.rchar, s.wchar, s.read_bytes, s.write_bytes])
            };
            for c in 0..4 {
                row.io[c] += counters[c];
            }
        }
        if let Some(p) = prev_io {
            row.rates = [0, 1, 2, 3].map(|c| row.io[c].saturating_sub(p[c]) as f64 / step);
        }
        prev_io = Some(row.io);
        out.push(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Totals;

    fn rec(id: &str, start: f64, end: f64, wchar: u64) -> JobRecord {
        JobRecord::ok_for_test(
            id,
            start,
            end,
            Totals {
                wchar,
                ..Totals::default()
            },
        )
    }

    fn sample(id: &str, t: f64, rss: u64, wchar: u64) -> SampleRow {
        SampleRow {
            attempt_id: id.into(),
            t,
            unix: t,
            cpu_core_pct: 100.0,
            rss,
            wchar,
            ..SampleRow::default()
        }
    }

    #[test]
    fn the_node_total_is_the_sum_of_each_attempts_step_function() {
        let (a, b) = (rec("a", 0.0, 2.0, 50), rec("b", 1.0, 3.0, 70));
        let sa = [sample("a", 0.0, 10, 0), sample("a", 1.5, 30, 40)];
        let sb = [sample("b", 1.0, 5, 0), sample("b", 2.5, 7, 60)];
        let ta: Vec<(f64, &SampleRow)> = sa.iter().map(|s| (s.t, s)).collect();
        let tb: Vec<(f64, &SampleRow)> = sb.iter().map(|s| (s.t, s)).collect();
        let rows = node_series("n", 2.0, &[(&a, &ta), (&b, &tb)], 0.5, 3.0);
        let rss: Vec<u64> = rows.iter().map(|r| r.rss).collect();
        // t = 0, .5, 1, 1.5, 2, 2.5, 3
        assert_eq!(rss, [10, 10, 15, 35, 35, 7, 7]);
        let running: Vec<u64> = rows.iter().map(|r| r.jobs_running).collect();
        assert_eq!(running, [1, 1, 2, 2, 2, 1, 1]);
        // After `a` ends its final total (50) carries forward; `b`'s last sample says 60.
        assert_eq!(rows[6].io[1], 50 + 60);
        assert_eq!(rows[2].cpu_node_pct, 100.0);
        assert!(rows.windows(2).all(|w| w[1].io[1] >= w[0].io[1]));
    }
}

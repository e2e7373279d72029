//! The series a stage figure plots: per-node totals, rates from cumulative counters, and
//! decimation to the figure's width.

use super::{NodeSeries, StageFigure, SIZE};

/// Rates (per second) of a cumulative series, at each sample (the rate since the previous).
pub(super) fn rates(t: &[f64], cum: &[f64]) -> Vec<f64> {
    (0..t.len())
        .map(|i| {
            if i == 0 {
                0.0
            } else {
                let dt = t[i] - t[i - 1];
                if dt > 0.0 {
                    (cum[i] - cum[i - 1]).max(0.0) / dt
                } else {
                    0.0
                }
            }
        })
        .collect()
}

/// The node total of one quantity over the figure's window, from the node's series.
pub(super) fn total(
    fig: &StageFigure<'_>,
    value: &dyn Fn(&NodeSeries, usize) -> f64,
) -> Vec<(f64, f64)> {
    let Some(n) = fig.totals else {
        return Vec::new();
    };
    n.within(fig.window.0, fig.window.1)
        .map(|i| (n.t[i], value(n, i)))
        .collect()
}

/// Thins a trace to what `columns` pixel columns can show: per column the first, lowest,
/// highest and last point, in time order, so peaks and troughs survive.
pub(super) fn decimate(pts: Vec<(f64, f64)>, x0: f64, x1: f64, columns: usize) -> Vec<(f64, f64)> {
    if pts.len() <= 4 * columns || x1 <= x0 {
        return pts;
    }
    let col = |x: f64| ((x - x0) / (x1 - x0) * columns as f64).floor() as i64;
    let mut out = Vec::with_capacity(4 * columns);
    let mut start = 0;
    while start < pts.len() {
        let c = col(pts[start].0);
        let mut end = start + 1;
        while end < pts.len() && col(pts[end].0) == c {
            end += 1;
        }
        let run = &pts[start..end];
        let (mut lo, mut hi) = (0, 0);
        for (j, p) in run.iter().enumerate() {
            if p.1 < run[lo].1 {
                lo = j;
            }
            if p.1 > run[hi].1 {
                hi = j;
            }
        }
        let mut keep = [0, lo, hi, run.len() - 1];
        keep.sort_unstable();
        let mut prev = usize::MAX;
        for j in keep {
            if j != prev {
                out.push(run[j]);
                prev = j;
            }
        }
        start = end;
    }
    out
}

/// Every series the three panels draw, in plot units.
pub(super) struct Panels {
    pub(super) mem: Vec<Vec<(f64, f64)>>,
    pub(super) cpu: Vec<Vec<(f64, f64)>>,
    pub(super) io: Vec<Vec<(f64, f64)>>,
    pub(super) mem_total: Vec<(f64, f64)>,
    pub(super) cpu_total: Vec<(f64, f64)>,
    pub(super) read_total: Vec<(f64, f64)>,
    pub(super) write_total: Vec<(f64, f64)>,
}

pub(super) fn panels(fig: &StageFigure<'_>) -> Panels {
    const GB: f64 = 1e9;
    const MB: f64 = 1e6;
    let cores = (fig.node.cores as f64).max(1.0);
    let (x0, x1) = fig.window;
    let thin = |pts: Vec<(f64, f64)>| decimate(pts, x0, x1, SIZE.0 as usize);
    let zip = |t: &[f64], v: Vec<f64>| thin(t.iter().copied().zip(v).collect::<Vec<_>>());
    Panels {
        mem: fig
            .jobs
            .iter()
            .map(|(_, s)| zip(&s.t, s.rss.iter().map(|v| v / GB).collect()))
            .collect(),
        cpu: fig
            .jobs
            .iter()
            .map(|(_, s)| zip(&s.t, s.cpu_core_pct.iter().map(|v| v / cores).collect()))
            .collect(),
        io: fig
            .jobs
            .iter()
            .map(|(_, s)| {
                let r = rates(&s.t, &s.rchar);
                let w = rates(&s.t, &s.wchar);
                zip(&s.t, r.iter().zip(&w).map(|(a, b)| (a + b) / MB).collect())
            })
            .collect(),
        mem_total: thin(total(fig, &|n, i| n.rss[i] / GB)),
        cpu_total: thin(total(fig, &|n, i| n.cpu_node_pct[i])),
        read_total: thin(total(fig, &|n, i| n.rchar_per_s[i] / MB)),
        write_total: thin(total(fig, &|n, i| n.wchar_per_s[i] / MB)),
    }
}

pub(super) fn ymax(series: &[&[(f64, f64)]], floor: f64) -> f64 {
    let m = series
        .iter()
        .flat_map(|s| s.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(floor, f64::max);
    m * 1.08
}

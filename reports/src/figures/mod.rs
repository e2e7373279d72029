//! Fig 2 / Fig 3 analogs: for one node and one stage, three stacked panels against time —
//! memory (GB, with the node's capacity), CPU (% of the node's cores), I/O read and write
//! (MB/s of syscall bytes, `rchar`/`wchar`: page-cache hits included) — one trace per job attempt plus the node total. OOM-killed attempts end in a red ×.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::run::{Attempt, NodeInfo, NodeSeries, RunData, Series};
use crate::{ReportError, Result};

mod series;
use series::{panels, ymax};

/// Figure size in pixels.
pub const SIZE: (u32, u32) = (1200, 960);

static FONT: Once = Once::new();

static EMPTY: Series = Series {
    t: Vec::new(),
    cpu_core_pct: Vec::new(),
    rss: Vec::new(),
    rchar: Vec::new(),
    wchar: Vec::new(),
};

/// Registers the embedded DejaVu Sans for bitmap text (once per process).
pub(crate) fn register_font() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// What one figure shows.
pub struct StageFigure<'a> {
    /// Title.
    pub title: String,
    /// The node.
    pub node: &'a NodeInfo,
    /// The stage's attempts on that node, with their samples.
    pub jobs: Vec<(&'a Attempt, &'a Series)>,
    /// Time window, s on the run clock.
    pub window: (f64, f64),
    /// The node's totals (the store's `nodes` table: every job on the node, of any stage).
    pub totals: Option<&'a NodeSeries>,
}

/// What a legend entry shows beside its label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mark {
    /// A line of this colour and width.
    Line(RGBAColor, u32),
    /// A dashed line (the capacity).
    Dashed(RGBAColor),
    /// A cross (an OOM kill).
    Cross(RGBAColor),
    /// A filled dot (a measured point).
    Dot(RGBAColor),
    /// A filled box (a band between the lowest and highest repeat).
    Band(RGBAColor),
}

/// Width of the column right of each panel that holds its legend, pixels: legends sit beside
/// the data, never over it.
const LEGEND_W: u32 = 260;

/// Draws a legend into its own area, one row per entry; entries that do not fit are counted
/// in a last row.
pub(crate) fn side_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Mark)],
) -> DrawResult<DB> {
    const ROW: i32 = 18;
    const TOP: i32 = 16;
    let font = ("sans-serif", 13).into_font();
    let rows = ((area.dim_in_pixel().1 as i32 - TOP) / ROW).max(1) as usize;
    let shown = if entries.len() > rows {
        rows - 1
    } else {
        entries.len()
    };
    for (i, (label, mark)) in entries.iter().take(shown).enumerate() {
        let y = TOP + i as i32 * ROW;
        match *mark {
            Mark::Line(c, w) => {
                area.draw(&PathElement::new(vec![(8, y), (32, y)], c.stroke_width(w)))?;
            }
            Mark::Dashed(c) => {
                area.draw(&PathElement::new(vec![(8, y), (16, y)], c.stroke_width(2)))?;
                area.draw(&PathElement::new(vec![(22, y), (32, y)], c.stroke_width(2)))?;
            }
            Mark::Cross(c) => area.draw(&Cross::new((20, y), 6, c.stroke_width(3)))?,
            Mark::Dot(c) => area.draw(&Circle::new((20, y), 5, c.filled()))?,
            Mark::Band(c) => area.draw(&Rectangle::new([(8, y - 5), (32, y + 5)], c.filled()))?,
        }
        area.draw(&Text::new(label.clone(), (40, y - 7), font.clone()))?;
    }
    if shown < entries.len() {
        let y = TOP + shown as i32 * ROW;
        let more = format!("… and {} more", entries.len() - shown);
        area.draw(&Text::new(more, (40, y - 7), font))?;
    }
    Ok(())
}

/// The panel's plotting part and its legend column.
pub(crate) fn with_legend_column<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let w = area.dim_in_pixel().0;
    area.split_horizontally(w.saturating_sub(LEGEND_W))
}

pub(crate) type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draws the figure on any plotters backend (the HTML report draws into an SVG string).
///
/// # Errors
/// The backend's.
pub fn draw_into<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    fig: &StageFigure<'_>,
) -> DrawResult<DB> {
    register_font();
    let p = panels(fig);
    root.fill(&WHITE)?;
    let root = root.titled(&fig.title, ("sans-serif", 24))?;
    let areas = root.split_evenly((3, 1));
    let (x0, x1) = fig.window;
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    let colour = |i: usize| Palette99::pick(i).to_rgba();
    let capacity_gb = fig.node.memory as f64 / 1e9;

    // Memory.
    let mut all: Vec<&[(f64, f64)]> = p.mem.iter().map(Vec::as_slice).collect();
    all.push(&p.mem_total);
    // The capacity line is drawn when it is within sight of the data; a job far below it (a
    // 200 MB job profiled on a 25 GB machine) is scaled to itself, and the title gives the
    // capacity.
    let data_max = ymax(&all, 1e-3);
    let show_capacity = capacity_gb <= 4.0 * data_max;
    let y = if show_capacity {
        data_max.max(ymax(&[], capacity_gb))
    } else {
        data_max
    };
    let (plot, side) = with_legend_column(&areas[0]);
    let mut entries: Vec<(String, Mark)> = Vec::new();
    let mut c = ChartBuilder::on(&plot)
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, 0.0..y)?;
    c.configure_mesh()
        .y_desc("memory (GB)")
        .x_desc("time (s)")
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, s) in p.mem.iter().enumerate() {
        let label = fig.jobs[i].0.attempt_id.clone();
        let col = colour(i);
        c.draw_series(LineSeries::new(s.iter().copied(), col.stroke_width(1)))?;
        entries.push((label, Mark::Line(col, 2)));
    }
    c.draw_series(LineSeries::new(
        p.mem_total.iter().copied(),
        BLACK.stroke_width(3),
    ))?;
    entries.push((
        "node total (every job on it)".into(),
        Mark::Line(BLACK.to_rgba(), 3),
    ));
    if show_capacity {
        c.draw_series(DashedLineSeries::new(
            [(x0, capacity_gb), (x1, capacity_gb)],
            8,
            5,
            RED.stroke_width(2),
        ))?;
        entries.push((
            format!("capacity {capacity_gb:.2} GB"),
            Mark::Dashed(RED.to_rgba()),
        ));
    }
    let killed: Vec<(f64, f64)> = fig
        .jobs
        .iter()
        .zip(&p.mem)
        .filter(|((a, _), _)| a.status == "oom_killed")
        .map(|((a, _), s)| (a.end_s, s.iter().map(|q| q.1).fold(0.0, f64::max)))
        .collect();
    if !killed.is_empty() {
        c.draw_series(
            killed
                .iter()
                .map(|&pt| Cross::new(pt, 8, RED.stroke_width(3))),
        )?;
        entries.push(("OOM-killed".into(), Mark::Cross(RED.to_rgba())));
    }
    side_legend(&side, &entries)?;

    // CPU.
    let mut all: Vec<&[(f64, f64)]> = p.cpu.iter().map(Vec::as_slice).collect();
    all.push(&p.cpu_total);
    let y = ymax(&all, 100.0);
    let (plot, side) = with_legend_column(&areas[1]);
    let mut c = ChartBuilder::on(&plot)
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, 0.0..y)?;
    c.configure_mesh()
        .y_desc(format!("CPU (% of {})", cores_label(fig.node.cores as f64)))
        .x_desc("time (s)")
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, s) in p.cpu.iter().enumerate() {
        c.draw_series(LineSeries::new(
            s.iter().copied(),
            colour(i).stroke_width(1),
        ))?;
    }
    c.draw_series(LineSeries::new(
        p.cpu_total.iter().copied(),
        BLACK.stroke_width(3),
    ))?;
    side_legend(
        &side,
        &[
            (
                "each job: its colour above".into(),
                Mark::Line(colour(0), 1),
            ),
            ("node total".into(), Mark::Line(BLACK.to_rgba(), 3)),
        ],
    )?;

    // I/O.
    let mut all: Vec<&[(f64, f64)]> = p.io.iter().map(Vec::as_slice).collect();
    all.push(&p.read_total);
    all.push(&p.write_total);
    let y = ymax(&all, 0.1);
    let (plot, side) = with_legend_column(&areas[2]);
    let mut c = ChartBuilder::on(&plot)
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, 0.0..y)?;
    c.configure_mesh()
        .y_desc("I/O, syscall bytes (MB/s)")
        .x_desc("time since the run started (s)")
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, s) in p.io.iter().enumerate() {
        c.draw_series(LineSeries::new(
            s.iter().copied(),
            colour(i).mix(0.6).stroke_width(1),
        ))?;
    }
    c.draw_series(LineSeries::new(
        p.read_total.iter().copied(),
        BLUE.stroke_width(3),
    ))?;
    c.draw_series(LineSeries::new(
        p.write_total.iter().copied(),
        RED.stroke_width(3),
    ))?;
    side_legend(
        &side,
        &[
            (
                "each job: read + written".into(),
                Mark::Line(colour(0).mix(0.6), 1),
            ),
            ("node read (rchar)".into(), Mark::Line(BLUE.to_rgba(), 3)),
            ("node written (wchar)".into(), Mark::Line(RED.to_rgba(), 3)),
        ],
    )?;
    root.present()?;
    Ok(())
}

/// Writes the figure as PNG and/or SVG next to `stem` (`stem.png`, `stem.svg`).
///
/// # Errors
/// When drawing or writing fails.
pub fn write(fig: &StageFigure<'_>, stem: &Path, png: bool, svg: bool) -> Result<Vec<PathBuf>> {
    register_font();
    let mut out = Vec::new();
    if png {
        let path = stem.with_extension("png");
        atlasperf_store::fsio::ensure_writable(&path)?;
        draw_into(BitMapBackend::new(&path, SIZE).into_drawing_area(), fig)
            .map_err(|e| ReportError::draw(&path, e))?;
        out.push(path);
    }
    if svg {
        let path = stem.with_extension("svg");
        atlasperf_store::fsio::ensure_writable(&path)?;
        draw_into(SVGBackend::new(&path, SIZE).into_drawing_area(), fig)
            .map_err(|e| ReportError::draw(&path, e))?;
        out.push(path);
    }
    Ok(out)
}

/// The figures of a run: one per stage and node that ran attempts of the stage.
pub fn stage_figures(run: &RunData) -> Vec<(String, String, StageFigure<'_>)> {
    let mut out = Vec::new();
    for (k, stage) in run.stages().iter().enumerate() {
        for node in &run.nodes {
            let jobs: Vec<(&Attempt, &Series)> = run
                .attempts
                .iter()
                .filter(|a| &a.stage == stage && a.node == node.name && a.status != "skipped")
                .map(|a| (a, run.series.get(&a.attempt_id).unwrap_or(&EMPTY)))
                .collect();
            if jobs.is_empty() {
                continue;
            }
            let start = jobs
                .iter()
                .map(|(a, _)| a.start_s)
                .fold(f64::INFINITY, f64::min);
            let end = jobs
                .iter()
                .map(|(a, _)| a.end_s)
                .fold(f64::NEG_INFINITY, f64::max);
            let fig_no = match stage.as_str() {
                "registration" => "Fig 2".to_string(),
                "fusion" => "Fig 3".to_string(),
                _ => format!("Fig {}", k + 2),
            };
            let title = if stage == "profile" {
                format!(
                    "Profile — {} on {} ({}, {:.2} GB of memory)",
                    jobs.first().map_or("", |(a, _)| a.attempt_id.as_str()),
                    node.name,
                    cores_label(node.cores as f64),
                    node.memory as f64 / 1e9,
                )
            } else {
                format!(
                    "{fig_no} analog — {} on {} ({}, {:.2} GB): {} attempt{}",
                    crate::table::stage_label(stage),
                    node.name,
                    cores_label(node.cores as f64),
                    node.memory as f64 / 1e9,
                    jobs.len(),
                    if jobs.len() == 1 { "" } else { "s" }
                )
            };
            let name = format!(
                "{}-{}-{}",
                fig_no.to_lowercase().replace(' ', ""),
                stage,
                node.name
            );
            out.push((
                name,
                stage.clone(),
                StageFigure {
                    title,
                    node,
                    jobs,
                    window: (start.max(0.0), end),
                    totals: run.node_totals.get(&node.name),
                },
            ));
        }
    }
    out
}

/// "1 core", "4 cores".
fn cores_label(cores: f64) -> String {
    if cores == 1.0 {
        "1 core".to_string()
    } else {
        format!("{cores} cores")
    }
}

#[cfg(test)]
mod tests {
    use super::series::decimate;

    #[test]
    fn decimation_keeps_extremes_and_order() {
        let pts: Vec<(f64, f64)> = (0..100_000)
            .map(|i| {
                let t = i as f64 * 0.01;
                (t, (t * 7.3).sin() + if i == 54_321 { 9.0 } else { 0.0 })
            })
            .collect();
        let thin = decimate(pts.clone(), 0.0, 1000.0, 500);
        assert!(thin.len() <= 4 * 500 && thin.len() > 500, "{}", thin.len());
        assert!(thin.windows(2).all(|w| w[0].0 < w[1].0));
        let max = |p: &[(f64, f64)]| p.iter().map(|q| q.1).fold(f64::MIN, f64::max);
        let min = |p: &[(f64, f64)]| p.iter().map(|q| q.1).fold(f64::MAX, f64::min);
        assert_eq!(max(&thin), max(&pts));
        assert_eq!(min(&thin), min(&pts));
        assert_eq!(
            (thin[0], thin[thin.len() - 1]),
            (pts[0], pts[pts.len() - 1])
        );
        // Short traces are left alone.
        assert_eq!(
            decimate(pts[..100].to_vec(), 0.0, 1.0, 500),
            pts[..100].to_vec()
        );
    }
}

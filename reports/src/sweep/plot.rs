//! Drawing one sweep figure: a panel per quantity, each point series with its fitted line and
//! power law.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Axis, Series, QUANTITIES};
use crate::figures::{side_legend, with_legend_column, Mark};
use atlasperf_store::stats::fit::{fit_linear, fit_power, Fit};

/// Scaling figure size in pixels.
pub(super) const SIZE: (u32, u32) = (1600, 900);

pub(super) fn colour(i: usize) -> RGBColor {
    const P: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(23, 190, 207),
    ];
    P[i % P.len()]
}

/// Four panels (makespan, registration job, peak RSS, I/O) against one axis: measured points,
/// the fitted line (solid) and power law (dashed) per series.
pub(super) fn draw_axis<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    axis: &Axis,
    series: &[Series],
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!("{title}: scaling against {}", axis.label),
        ("sans-serif", 24),
    )?;
    let panels = root.split_evenly((2, 2));
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let (x0, x1) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min),
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let pad = ((x1 - x0) * 0.08).max(x1.abs() * 0.05).max(1e-9);
    let (x0, x1) = (x0 - pad, x1 + pad);
    for (area, q) in panels.iter().zip([0usize, 1, 3, 4]) {
        let ymax = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1[q]))
            .fold(0.0, f64::max)
            .max(1e-9)
            * 1.15;
        let (plot, legend) = with_legend_column(area);
        let mut entries: Vec<(String, Mark)> = Vec::new();
        let mut c = ChartBuilder::on(&plot)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, 0.0..ymax)?;
        c.configure_mesh()
            .x_desc(axis.label.as_str())
            .y_desc(QUANTITIES[q].1)
            .label_style(("sans-serif", 14))
            .draw()?;
        for (i, s) in series.iter().enumerate() {
            let col = colour(i);
            let x: Vec<f64> = s.points.iter().map(|p| p.0).collect();
            let y: Vec<f64> = s.points.iter().map(|p| p.1[q]).collect();
            let name = if s.others.is_empty() {
                String::new()
            } else {
                format!("{}: ", s.others)
            };
            // Repeats: a band from the lowest to the highest value at each x.
            let mut at: Vec<(f64, f64, f64)> = Vec::new();
            for (&a, &b) in x.iter().zip(&y) {
                match at.iter_mut().find(|p| p.0 == a) {
                    Some(p) => (p.1, p.2) = (p.1.min(b), p.2.max(b)),
                    None => at.push((a, b, b)),
                }
            }
            if at.len() >= 2 && at.len() < x.len() {
                let band: Vec<(f64, f64)> = at
                    .iter()
                    .map(|p| (p.0, p.1))
                    .chain(at.iter().rev().map(|p| (p.0, p.2)))
                    .collect();
                c.draw_series(std::iter::once(Polygon::new(band, col.mix(0.15).filled())))?;
                entries.push((
                    format!("{name}range over repeats"),
                    Mark::Band(col.mix(0.15)),
                ));
            }
            c.draw_series(
                x.iter()
                    .zip(&y)
                    .map(|(&a, &b)| Circle::new((a, b), 5, col.filled())),
            )?;
            entries.push((format!("{name}measured"), Mark::Dot(col.to_rgba())));
            let grid: Vec<f64> = (0..=60).map(|k| x0 + (x1 - x0) * k as f64 / 60.0).collect();
            if let Some(f) = fit_linear(&x, &y) {
                c.draw_series(LineSeries::new(
                    grid.iter().map(|&g| (g, f.at(g))),
                    col.stroke_width(2),
                ))?;
                entries.push((
                    format!("{name}linear, R² {:.3}", f.r2()),
                    Mark::Line(col.to_rgba(), 2),
                ));
            }
            if let Some(f @ Fit::Power { exponent, .. }) = fit_power(&x, &y) {
                let curve: Vec<(f64, f64)> = grid
                    .iter()
                    .filter(|&&g| g > 0.0)
                    .map(|&g| (g, f.at(g)))
                    .collect();
                c.draw_series(DashedLineSeries::new(
                    curve,
                    6,
                    4,
                    col.mix(0.6).stroke_width(2),
                ))?;
                entries.push((
                    format!("{name}x^{exponent:.2}, R² {:.3}", f.r2()),
                    Mark::Dashed(col.mix(0.6)),
                ));
            }
        }
        side_legend(&legend, &entries)?;
    }
    root.present()?;
    Ok(())
}

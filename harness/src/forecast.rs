//! Memory forecasts for `memory = "auto"`: peak Σ RSS against image voxels, fitted on earlier
//! runs' job tables (or taken from a calibration job by the scheduler).

use std::path::Path;

use crate::plan::Stage;
use crate::scenario::Scenario;
use crate::scheduler::MemoryModel;
use crate::store::{AttemptStatus, RunStore};

/// Fits `peak = a + b·voxels` as an upper envelope of the points: least squares when there
/// are at least two distinct image sizes, shifted up so no measured peak lies above the line;
/// with one size, the largest bytes-per-voxel ratio through the origin.
pub fn fit(points: &[(u64, u64)], source: &'static str) -> Option<MemoryModel> {
    if points.is_empty() {
        return None;
    }
    let xs: Vec<f64> = points.iter().map(|p| p.0 as f64).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.1 as f64).collect();
    let Some((mut intercept, slope)) = crate::store::stats::fit::least_squares(&xs, &ys) else {
        let slope = points
            .iter()
            .map(|&(v, p)| p as f64 / v.max(1) as f64)
            .fold(0.0, f64::max);
        return Some(MemoryModel {
            intercept: 0.0,
            slope,
            source,
        });
    };
    let worst = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| y - (intercept + slope * x))
        .fold(0.0, f64::max);
    intercept += worst;
    Some(MemoryModel {
        intercept,
        slope,
        source,
    })
}

/// The models a scenario's `scheduling.forecast_from` runs give (paths against `base`, the
/// scenario's folder).
///
/// # Errors
/// As [`from_runs`].
pub fn for_scenario(s: &Scenario, base: &Path) -> crate::Result<[Option<MemoryModel>; 2]> {
    from_runs(
        &s.scheduling
            .forecast_from
            .iter()
            .map(|p| base.join(p))
            .collect::<Vec<_>>(),
    )
}

/// Models per stage from the successful jobs of earlier runs.
///
/// # Errors
/// A run folder that cannot be read, named.
pub fn from_runs(runs: &[impl AsRef<Path>]) -> crate::Result<[Option<MemoryModel>; 2]> {
    let mut points: [Vec<(u64, u64)>; 2] = [Vec::new(), Vec::new()];
    for dir in runs {
        let dir = dir.as_ref();
        let store = RunStore::open(dir).map_err(|e| {
            crate::Error::usage(format!(
                "scheduling.forecast_from: {}: {}",
                dir.display(),
                crate::store::describe(&e)
            ))
        })?;
        for r in store.read_jobs()? {
            let stage = match r.stage.as_str() {
                "registration" => Stage::Registration,
                "fusion" => Stage::Fusion,
                _ => continue,
            };
            if r.status == AttemptStatus::Ok && r.totals.peak_rss > 0 {
                if let Some(v) = r.voxels {
                    points[stage.index()].push((v, r.totals.peak_rss));
                }
            }
        }
    }
    Ok([
        fit(&points[0], "earlier runs"),
        fit(&points[1], "earlier runs"),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_linear_series_is_recovered_and_bounds_every_point() {
        let pts: Vec<(u64, u64)> = (1..=5)
            .map(|k| (k * 1000, 5_000_000 + 150 * k * 1000))
            .collect();
        let m = fit(&pts, "t").unwrap();
        assert!((m.slope - 150.0).abs() < 1e-6, "{m:?}");
        assert!((m.intercept - 5_000_000.0).abs() < 1e-3, "{m:?}");
        let noisy = [(1000, 1_200_000), (2000, 1_900_000), (3000, 3_300_000)];
        let m = fit(&noisy, "t").unwrap();
        for (v, p) in noisy {
            assert!(m.predict(v) + 1 >= p, "{v}: {} < {p}", m.predict(v));
        }
    }

    #[test]
    fn one_image_size_scales_through_the_origin() {
        let m = fit(&[(1000, 100_000), (1000, 120_000)], "t").unwrap();
        assert_eq!(m.predict(2000), 240_000);
        assert!(fit(&[], "t").is_none());
    }
}

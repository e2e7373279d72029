//! Deformations that fold. `atlasperf kernel register` prints
//! `deformation: min Jacobian X, folded voxels N` for every map it writes; the report reads
//! that line from each finished registration job's log and lists, per stage, the jobs whose
//! map folded, so a broken registration is seen in the run's report and not only in one
//! job's `summary.json`.

use std::fmt::Write as _;

use crate::run::RunData;
use crate::table::stage_label;

/// The line a registration job prints about its map.
pub const LINE_PREFIX: &str = "deformation: min Jacobian ";

/// One finished job's map.
#[derive(Debug, Clone, PartialEq)]
pub struct Deformation {
    /// Stage of the job.
    pub stage: String,
    /// Job id.
    pub job_id: String,
    /// Smallest Jacobian determinant.
    pub min_det: f64,
    /// Voxels with a determinant ≤ 0.
    pub folded_voxels: u64,
}

/// Each finished (`ok`) attempt's stdout lines starting with `prefix`, with the attempt's
/// stage and job id.
pub(crate) fn job_lines(run: &RunData, prefix: &str) -> Vec<(String, String, String)> {
    run.attempts
        .iter()
        .filter(|a| a.status == "ok")
        .filter_map(|a| {
            let log = run
                .dir
                .join("logs")
                .join(format!("{}.stdout", a.attempt_id));
            let text = std::fs::read_to_string(log).ok()?;
            let line = text.lines().find(|l| l.starts_with(prefix))?;
            Some((
                a.stage.clone(),
                a.job_id.clone(),
                line[prefix.len()..].to_string(),
            ))
        })
        .collect()
}

/// The maps of every finished job that printed one.
pub fn deformations(run: &RunData) -> Vec<Deformation> {
    job_lines(run, LINE_PREFIX)
        .into_iter()
        .filter_map(|(stage, job_id, rest)| {
            // "X, folded voxels N"
            let (det, folded) = rest.split_once(", folded voxels ")?;
            Some(Deformation {
                stage,
                job_id,
                min_det: det.trim().parse().ok()?,
                folded_voxels: folded.trim().parse().ok()?,
            })
        })
        .collect()
}

/// Markdown list items, one per stage with maps: how many folded, which, and how badly.
pub fn markdown(run: &RunData) -> String {
    markdown_of(&deformations(run))
}

fn markdown_of(all: &[Deformation]) -> String {
    let mut stages: Vec<&str> = all.iter().map(|d| d.stage.as_str()).collect();
    stages.dedup();
    let mut s = String::new();
    for stage in stages {
        let maps: Vec<&Deformation> = all.iter().filter(|d| d.stage == stage).collect();
        let worst = maps.iter().map(|d| d.min_det).fold(f64::INFINITY, f64::min);
        let folded: Vec<&&Deformation> = maps.iter().filter(|d| d.folded_voxels > 0).collect();
        let label = stage_label(stage);
        if folded.is_empty() {
            let _ = writeln!(
                s,
                "- {label}: none of the {} maps folds (smallest Jacobian determinant {worst:.3}).",
                maps.len()
            );
        } else {
            let list: Vec<String> = folded
                .iter()
                .map(|d| {
                    format!(
                        "`{}` (min Jacobian {:.3}, {} voxels)",
                        d.job_id, d.min_det, d.folded_voxels
                    )
                })
                .collect();
            let _ = writeln!(
                s,
                "- {label}: **{} of {} maps fold**, and images and labels warped through them are unreliable there: {}.",
                folded.len(),
                maps.len(),
                list.join(", ")
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(job: &str, min_det: f64, folded_voxels: u64) -> Deformation {
        Deformation {
            stage: "registration".into(),
            job_id: job.into(),
            min_det,
            folded_voxels,
        }
    }

    #[test]
    fn folded_maps_are_listed_with_their_min_jacobian_and_clean_stages_say_so() {
        let s = markdown_of(&[map("reg-a-b", 0.31, 0), map("reg-c-b", -0.54, 12)]);
        assert!(s.contains("**1 of 2 maps fold**"), "{s}");
        assert!(
            s.contains("`reg-c-b` (min Jacobian -0.540, 12 voxels)"),
            "{s}"
        );
        assert!(!s.contains("reg-a-b"), "{s}");
        let s = markdown_of(&[map("reg-a-b", 0.31, 0), map("reg-c-b", 0.22, 0)]);
        assert!(
            s.contains("none of the 2 maps folds (smallest Jacobian determinant 0.220)"),
            "{s}"
        );
        assert_eq!(markdown_of(&[]), "");
    }
}
